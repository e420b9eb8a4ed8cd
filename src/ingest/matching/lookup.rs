//! Lookup: which stored people a set of identifiers belongs to, changing
//! nothing (a subject access request, an erasure).
//!
//! In: [`PersonTokens`] from the same pseudonymiser ingest uses. Out: every
//! candidate the blocking keys find, scored exactly as `resolve` scores a
//! row, with whether a row like it would link. Promises: the matcher is not
//! changed (no person created, no spelling learnt, no merge); the result is
//! the canonical people, best first, ties by person number.

use super::{Candidate, Matcher, AMBIGUITY_BITS};
use crate::ingest::pseudonymise::PersonTokens;

/// One person a lookup found, and how strongly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub candidate: Candidate,
    /// The blocking key that found it (as `links export` names rules).
    pub found_by: &'static str,
    /// At or above the link threshold and not ruled out by the household
    /// guard: a row with these identifiers would link to this person.
    pub links: bool,
    /// Within the review band below the threshold (and not ruled out): a
    /// row would go to the review queue naming this person.
    pub possible: bool,
    /// Another linking person scored within [`AMBIGUITY_BITS`]: ingest
    /// would have left the row unlinked rather than choose.
    pub ambiguous: bool,
}

impl Matcher {
    /// Scores `t` against every person its blocking keys find, as
    /// `resolve` does, without changing anything.
    pub fn lookup(&self, t: &PersonTokens) -> Vec<Found> {
        let v = super::Variant::of(t);
        let ids = Self::row_ids(t);
        let seen = self.found_under(&v, &ids.keys, &mut Vec::new());
        let threshold = self.threshold();
        let floor = threshold - self.review_band();
        let mut out: Vec<Found> = seen
            .into_iter()
            .map(|(person, kind)| {
                let levels = self.levels(&v, &ids, person);
                let (weights, total) = self.score(&v, &levels);
                let ruled_out = Self::ruled_out(&levels);
                let id_conflict = self.id_conflict(&levels, total, threshold);
                // Too little to link by itself (see `resolve`), or a
                // differing strong id near the threshold: at most possible.
                let held = levels.too_sparse() || id_conflict;
                Found {
                    candidate: Candidate {
                        person,
                        score: total as f32,
                        levels,
                        weights: weights.map(|w| w as f32),
                        ruled_out,
                        id_conflict,
                    },
                    found_by: kind.name(),
                    links: !held && !ruled_out && total >= threshold,
                    possible: !ruled_out && (held || total < threshold) && total >= floor,
                    ambiguous: false,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.candidate
                .score
                .total_cmp(&a.candidate.score)
                .then(a.candidate.person.cmp(&b.candidate.person))
        });
        let linking: Vec<f32> = out
            .iter()
            .filter(|f| f.links)
            .map(|f| f.candidate.score)
            .collect();
        for f in out.iter_mut().filter(|f| f.links) {
            f.ambiguous = linking
                .iter()
                .filter(|s| (f64::from(**s) - f64::from(f.candidate.score)).abs() < AMBIGUITY_BITS)
                .count()
                > 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::ingest::matching::{Delta, Matcher};
    use crate::ingest::pseudonymise::{Pseudonymiser, RawIdentity};
    use crate::keys::HmacKey;

    fn tok(f: &str, s: &str, dob: &str, pc: &str) -> crate::ingest::pseudonymise::PersonTokens {
        let p = Pseudonymiser::new(&HmacKey::from_bytes("t", [9u8; 32]));
        let raw = RawIdentity {
            forename: f,
            surname: s,
            dob,
            postcode: pc,
            address: "1 High Street",
            ..Default::default()
        };
        p.pseudonymise(&raw, &mut String::new()).unwrap()
    }

    #[test]
    fn lookup_finds_the_person_not_the_namesake_and_changes_nothing() {
        let mut m = Matcher::new();
        let mut d = Delta::default();
        let rob = m.resolve(&tok("Robert", "Smith", "2001-02-03", "SR1 3AA"), &mut d);
        let other = m.resolve(&tok("Robert", "Smith", "1970-07-08", "NE2 2BB"), &mut d);
        assert_ne!(rob.person, other.person);
        let before = (m.person_count(), m.key_count());
        let found = m.lookup(&tok("Robert", "Smith", "2001-02-03", "SR1 3AA"));
        let linking: Vec<_> = found.iter().filter(|f| f.links).collect();
        assert_eq!(linking.len(), 1, "{found:?}");
        assert_eq!(linking[0].candidate.person, rob.person);
        assert!(found
            .iter()
            .all(|f| f.candidate.person != other.person || !f.links));
        assert_eq!((m.person_count(), m.key_count()), before);
        // An initial and surname at the address: possibly Robert, never
        // enough to say so (ingest would not link such a row either).
        let found = m.lookup(&tok("R", "Smith", "", "SR1 3AA"));
        assert!(found.iter().all(|f| !f.links), "{found:?}");
        assert!(found
            .iter()
            .any(|f| f.possible && f.candidate.person == rob.person));
    }
}
