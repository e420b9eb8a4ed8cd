//! Doubts: which of a row's candidates become review items, and why.
//!
//! In: a row as [`Matcher::resolve_apart`] placed it (its rule, the
//! candidate it went to, every candidate scored, those eligible to link)
//! and the threshold. Out: at most [`MAX_DOUBTS`] candidates named as
//! doubts (up to [`MAX_SPARSE_DOUBTS`] for a row too sparse to link, one
//! per household member it fits alike), and each one's [`DoubtKind`] for
//! the review queue.
//!
//! Promises: a doubt names a candidate the row may belong to and did not go
//! to; with a review band of 0 only ambiguity is a doubt; forename and dob
//! both differing is another person, never a doubt.

use super::{
    Candidate, Comparison, Field, Level, Matcher, Rule, Scored, AMBIGUITY_BITS, MAX_DOUBTS,
    MAX_SPARSE_DOUBTS,
};

/// How far below the threshold, in review bands, a member who married and
/// moved is still named beside a row linked elsewhere (9 bits with the
/// default band of 6).
const MARRIED_BAND: f64 = 1.5;

/// Why a row is in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoubtKind {
    /// Left unlinked: its best candidate scored below the threshold but
    /// within the review band.
    Weak,
    /// Left unlinked: two candidates too close to choose between.
    Ambiguous,
    /// Left unlinked: its best candidate scored at the threshold, but the
    /// household guard refused it (one of forename and dob differs
    /// outright): a twin, or a nickname the table lacks.
    Guarded,
    /// Left unlinked: too little in common to link by itself (no strong
    /// id, no forename beyond an initial, no dob agreeing whole, on the
    /// row's side or the candidate's; see `Comparison::too_sparse`): a
    /// candidate scored at the threshold or within the band below it.
    Sparse,
    /// Left unlinked: its best candidate scored at the threshold, but by
    /// less than the review band above it, with a strong id that differs
    /// outright: another person's number (a namesake) as often as a
    /// replaced one.
    IdConflict,
    /// Linked, but to someone no case lists, while a case member scored
    /// within the review band below the threshold: the person the row went
    /// to may be the member's records, kept apart by a partner's own error
    /// (an initial and a shifted dob in every row of one feed). `same`
    /// joins that person, all their rows, to the member.
    NearMember,
    /// Linked to a case member, while a person no case lists, refused by
    /// the household guard for the forename alone (the whole dob agreeing),
    /// fits the row better: that person may be the member's own rows under
    /// a forename the diminutive table lacks, moved as well, which came in
    /// before any row bridged the two. `same` joins that person, all their
    /// rows, to the member.
    RenamedBesideMember,
}

impl DoubtKind {
    pub fn name(self) -> &'static str {
        match self {
            DoubtKind::Weak => "below_threshold",
            DoubtKind::Ambiguous => "ambiguous",
            DoubtKind::Guarded => "refused_by_household_guard",
            DoubtKind::Sparse => "too_little_to_link",
            DoubtKind::IdConflict => "strong_id_differs",
            DoubtKind::NearMember => "linked_elsewhere_near_a_member",
            DoubtKind::RenamedBesideMember => "renamed_record_beside_a_member",
        }
    }

    /// What the kind means, in a phrase for people.
    pub fn explain(self) -> &'static str {
        match self {
            DoubtKind::Weak => "below the threshold",
            DoubtKind::Ambiguous => "another person scored as well",
            DoubtKind::Guarded => "refused by the household guard (forename or dob differs outright)",
            DoubtKind::Sparse => {
                "too little to link alone: no strong id, no forename beyond an initial, no whole dob"
            }
            DoubtKind::IdConflict => {
                "a strong id differs outright, and the score is within the review band above the threshold"
            }
            DoubtKind::NearMember => "linked to someone else, with a case member close by",
            DoubtKind::RenamedBesideMember => {
                "linked to a case member, while a person with the same dob under another forename fits better"
            }
        }
    }

    /// The kind of a doubt `resolve` named for a row placed by `rule`.
    pub fn of(rule: Rule, c: &Candidate) -> DoubtKind {
        if rule == Rule::Ambiguous {
            DoubtKind::Ambiguous
        } else if !rule.is_new() && c.ruled_out {
            DoubtKind::RenamedBesideMember
        } else if !rule.is_new() {
            DoubtKind::NearMember
        } else if c.levels.too_sparse() && !c.ruled_out {
            DoubtKind::Sparse
        } else if c.ruled_out {
            DoubtKind::Guarded
        } else if c.id_conflict {
            DoubtKind::IdConflict
        } else {
            DoubtKind::Weak
        }
    }
}

/// Serialised as its [`DoubtKind::name`].
impl serde::Serialize for DoubtKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Matcher {
    /// Refused for the forename alone, the whole dob agreeing: a nickname
    /// outside the table, or a twin. Such a candidate is a doubt within the
    /// band below the threshold too, not only at it: moved as well, a
    /// member's row "Kit" scored a few bits under, and the absence it
    /// hid read verified.
    fn renamed(c: &Comparison) -> bool {
        c.level(Field::Forename) == Level::Differ && c.level(Field::Dob) == Level::Exact
    }

    /// Forename and dob exact, surname and postcode differing outright: a
    /// member after a marriage and a move, as a partner records her.
    fn married_and_moved(c: &Comparison) -> bool {
        c.level(Field::Forename) == Level::Exact
            && c.level(Field::Dob) == Level::Exact
            && c.level(Field::Surname) == Level::Differ
            && c.level(Field::Postcode) == Level::Differ
    }

    /// The candidates a row placed by `rule` names as doubts.
    pub(super) fn doubts(
        &self,
        rule: Rule,
        chosen: Option<&Scored>,
        scored: &[Scored],
        eligible: &[&Scored],
        threshold: f64,
    ) -> Vec<Candidate> {
        let band = self.review_band();
        match rule {
            Rule::Ambiguous => eligible
                .iter()
                .take(MAX_DOUBTS)
                .map(|s| Self::candidate(s))
                .collect(),
            Rule::Weak => {
                // A candidate the household guard refused is still a doubt
                // when everything else would have linked it: a forename
                // outside the diminutive table (Kit, Christopher) looks like
                // a twin, and left silent it would make an absence verified.
                let floor = threshold - band;
                let mut near = scored.iter().filter(|s| match Self::ruled_out(&s.levels) {
                    // A band of 0 turns review off, these doubts too;
                    // forename and dob both differing is another person.
                    true => {
                        band > 0.0
                            && !Self::both_differ(&s.levels)
                            && (s.total >= threshold
                                || s.total >= floor && Self::renamed(&s.levels))
                    }
                    false => s.total >= floor,
                });
                let Some(first) = near.next() else {
                    return Vec::new();
                };
                let mut out = vec![Candidate {
                    id_conflict: self.id_conflict(&first.levels, first.total, threshold),
                    ..Self::candidate(first)
                }];
                // A row too sparse to link (a surname at a postcode) fits
                // every member of the household alike, and the one that
                // scored first by a token's frequency is no likelier than
                // the rest: naming only it left a sibling's exclusion
                // silent and their claim verified. So each candidate it
                // fits as well is named too.
                if first.levels.too_sparse() && !Self::ruled_out(&first.levels) {
                    out.extend(
                        near.filter(|s| {
                            s.levels.too_sparse()
                                && !Self::ruled_out(&s.levels)
                                && first.total - s.total < AMBIGUITY_BITS
                        })
                        .take(MAX_SPARSE_DOUBTS - 1)
                        .map(Self::candidate),
                    );
                }
                out
            }
            Rule::Linked(_) => match chosen {
                // A partner's rows can agree more among themselves (one
                // initial, one shifted dob in every row) than with the case
                // file, and become a person of their own beside the member.
                // Left silent, the member's events are missing and an
                // absence reads verified; as a doubt, the claims wait.
                Some(c) if band > 0.0 && !self.is_case_member(c.person) => {
                    let floor = threshold - band;
                    // A member who married and moved (forename and dob
                    // exact; surname, postcode differing) scores lower
                    // still: the rows she makes after that agree with one
                    // another, not with the case file, and an absence read
                    // verified 8.4 bits under the threshold in `bench`.
                    let married_floor = threshold - band * MARRIED_BAND;
                    let linked = self.canonical(c.person);
                    scored
                        .iter()
                        .filter(|s| {
                            (s.total >= floor
                                || s.total >= married_floor && Self::married_and_moved(&s.levels))
                                && !Self::ruled_out(&s.levels)
                                && self.canonical(s.person) != linked
                                && self.is_case_member(s.person)
                        })
                        .take(1)
                        .map(Self::candidate)
                        .collect()
                }
                // Linked to a member. The member's own row under a
                // forename the table lacks, at an address they moved to,
                // made a person of its own (the guard refused the member);
                // a later row that fits both came to the member, scoring
                // higher against that person. Left silent, that person's
                // events are missing from the member and an absence reads
                // verified (a renamed and moved ASB row did, in `bench`).
                Some(c) if band > 0.0 => {
                    let linked = self.canonical(c.person);
                    scored
                        .iter()
                        .filter(|s| {
                            Self::ruled_out(&s.levels)
                                && Self::renamed(&s.levels)
                                && s.total >= threshold
                                && s.total > c.total
                                && self.canonical(s.person) != linked
                                && !self.is_case_member(s.person)
                        })
                        .take(1)
                        .map(Self::candidate)
                        .collect()
                }
                _ => Vec::new(),
            },
            Rule::New => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(f: Level, d: Level) -> Comparison {
        let mut c = Comparison::default();
        c.levels[Field::Forename as usize] = f as u8;
        c.levels[Field::Dob as usize] = d as u8;
        c.levels[Field::Surname as usize] = Level::Exact as u8;
        c
    }

    #[test]
    fn married_and_moved_needs_forename_and_dob_exact_and_surname_and_postcode_changed() {
        let mut c = levels(Level::Exact, Level::Exact);
        c.levels[Field::Surname as usize] = Level::Differ as u8;
        c.levels[Field::Postcode as usize] = Level::Differ as u8;
        assert!(Matcher::married_and_moved(&c));
        // Her surname kept, or her postcode, or a dob a typo out: the band
        // as usual.
        let mut kept = c;
        kept.levels[Field::Surname as usize] = Level::Exact as u8;
        assert!(!Matcher::married_and_moved(&kept));
        let mut stayed = c;
        stayed.levels[Field::Postcode as usize] = Level::Exact as u8;
        assert!(!Matcher::married_and_moved(&stayed));
        let mut typo = c;
        typo.levels[Field::Dob as usize] = Level::OneEdit as u8;
        assert!(!Matcher::married_and_moved(&typo));
        let mut nick = c;
        nick.levels[Field::Forename as usize] = Level::Close as u8;
        assert!(!Matcher::married_and_moved(&nick));
    }

    #[test]
    fn only_a_forename_refused_with_the_whole_dob_agreeing_is_renamed() {
        assert!(Matcher::renamed(&levels(Level::Differ, Level::Exact)));
        // A dob a typo away, or swapped, or differing, is not "the whole
        // dob agreeing"; a forename that agrees is no refusal by forename.
        for d in [Level::Close, Level::OneEdit, Level::Differ, Level::Missing] {
            assert!(!Matcher::renamed(&levels(Level::Differ, d)), "{d:?}");
        }
        assert!(!Matcher::renamed(&levels(Level::Exact, Level::Differ)));
    }
}
