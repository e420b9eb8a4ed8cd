//! The Fellegi-Sunter model: how much each field's level says for or
//! against two records being one person.
//!
//! In: comparison [`Comparison`]s, the council's own token counts (for
//! term-frequency adjustment) and the number of people known. Out: a match
//! weight in bits (log2 of the Bayes factor) per field and in total, and the
//! link threshold.
//!
//! Promises:
//! * m (how often a level occurs between records of one person) is estimated
//!   by expectation-maximisation on the council's own candidate pairs,
//!   starting from, and shrunk towards, documented priors, so a small or odd
//!   delivery cannot swing it far;
//! * u (how often a level occurs between records of different people) is
//!   fixed: for exact agreement on a name or postcode it is the token's own
//!   frequency among the people known (equal tokens have equal frequencies,
//!   so this works on pseudonyms), otherwise a documented prior;
//! * the link threshold rises with the number of people known (the prior
//!   odds that a row is any one given person fall as the register grows), so
//!   a register of a million needs more evidence than one of a thousand;
//! * weights depend only on the model and counts, never on timing.

use std::collections::HashMap;

use super::blocking::FastMap;
use super::compare::{Comparison, Field, Level, FIELDS, LEVELS};

/// Bits of evidence above the prior odds a link needs: 2^4 = 16:1 on top of
/// "one in N".
pub const MARGIN_BITS: f64 = 4.0;
/// Given one side's forename is an initial only: how often the initials
/// agree for a match (a typo aside), and for two strangers (the sum of the
/// squared shares of English forename initials).
const INITIAL_AGREES_M: f64 = 0.97;
const INITIAL_AGREES_U: f64 = 0.08;
/// Households on a street, for the u of "same street" given the postcode.
const STREET_HOUSEHOLDS: f64 = 30.0;
/// Below this many people, term frequencies are too noisy to use.
const TF_MIN_PEOPLE: usize = 1000;
/// Pseudo-count of the priors in EM: the priors count as this many pairs.
const PRIOR_PAIRS: f64 = 200.0;
const EM_ROUNDS: usize = 25;

/// m and u per field and level ([`Level`] order). Missing is never used.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub m: [[f64; LEVELS]; FIELDS],
    pub u: [[f64; LEVELS]; FIELDS],
}

// Priors from the record-linkage literature for administrative data (a few
// per cent of true matches carry each kind of error) and from UK name, date
// and postcode frequencies.
//                 missing exact close one_edit phon initial differ swapped
const M_PRIOR: [[f64; LEVELS]; FIELDS] = [
    [0.0, 0.85, 0.03, 0.05, 0.02, 0.02, 0.02, 0.01], // forename
    [0.0, 0.87, 0.0, 0.05, 0.02, 0.0, 0.05, 0.01],   // surname (differ: name change)
    [0.0, 0.90, 0.02, 0.06, 0.0, 0.0, 0.02, 0.0],    // dob
    [0.0, 0.80, 0.05, 0.0, 0.0, 0.0, 0.15, 0.0],     // postcode (moves)
    [0.0, 0.70, 0.06, 0.04, 0.0, 0.0, 0.20, 0.0],    // address (one_edit: same street)
    [0.0, 0.96, 0.0, 0.015, 0.0, 0.0, 0.025, 0.0],   // strong id (NI typo'd; replaced)
];
// Swapped names: u is set no lower than exact agreement's prior, on purpose.
// Two strangers with each other's names are rarer than that, but a swap
// should only stop a row being refused as "another forename", not count as
// evidence on its own: dob, address and ids must carry the link.
const U_PRIOR: [[f64; LEVELS]; FIELDS] = [
    [0.0, 0.01, 0.002, 0.004, 0.01, 0.05, 0.92, 0.01],
    [0.0, 0.002, 0.0, 0.002, 0.004, 0.0, 0.99, 0.002],
    // exact: 1 in 365 x 80 birth dates; two of three parts: ~1 in 200
    [0.0, 3.4e-5, 3.4e-5, 5.0e-3, 0.0, 0.0, 0.99, 0.0],
    [0.0, 1e-4, 0.01, 0.0, 0.0, 0.0, 0.99, 0.0],
    // exact, same house number, same street in the district (some 30
    // households of ~10^4):
    // given the postcode agrees, see `score`
    [0.0, 1e-4, 1e-5, 3e-3, 0.0, 0.0, 0.9969, 0.0],
    // exact: set per register size in `weight` (a shared id is an error);
    // one edit: two people's NI numbers a typo apart (about 90 neighbours
    // in some 10^8 numbers issued), rounded up
    [0.0, 1e-9, 0.0, 1e-6, 0.0, 0.0, 0.999, 0.0],
];

impl Default for Model {
    fn default() -> Self {
        Model {
            m: M_PRIOR,
            u: U_PRIOR,
        }
    }
}

/// Frequencies of name and postcode tokens among the people known.
#[derive(Debug, Clone, Default)]
pub struct TokenCounts {
    pub forename: FastMap<u32, u32>,
    pub surname: FastMap<u32, u32>,
    pub postcode: FastMap<u32, u32>,
}

impl TokenCounts {
    pub fn add(&mut self, f: u32, s: u32, pc: u32) {
        for (map, t) in [
            (&mut self.forename, f),
            (&mut self.surname, s),
            (&mut self.postcode, pc),
        ] {
            if t != 0 {
                *map.entry(t).or_default() += 1;
            }
        }
    }

    fn of(&self, f: Field, t: u32) -> Option<u32> {
        let map = match f {
            Field::Forename => &self.forename,
            Field::Surname => &self.surname,
            Field::Postcode => &self.postcode,
            _ => return None,
        };
        map.get(&t).copied()
    }
}

/// The exact tokens a comparison agreed on, for term frequencies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Agreed {
    pub forename: u32,
    pub surname: u32,
    pub postcode: u32,
}

impl Model {
    /// The weight of one field's level, in bits.
    pub fn weight(
        &self,
        f: Field,
        l: Level,
        agreed: u32,
        counts: &TokenCounts,
        people: usize,
    ) -> f64 {
        if l == Level::Missing {
            return 0.0;
        }
        let (fi, li) = (f as usize, l as usize);
        let m = self.m[fi][li].max(1e-4);
        let mut u = self.u_of(f, l).max(1e-12);
        if l == Level::Exact {
            if f == Field::Id {
                // A strong id shared by two different people is a recording
                // error, far rarer than one in the register.
                u = 1e-3 / people.max(1000) as f64;
            } else if people >= TF_MIN_PEOPLE {
                if let Some(c) = counts.of(f, agreed) {
                    // At least the floor: a token seen once is not proof.
                    u = (f64::from(c) / people as f64)
                        .max(1.0 / people as f64)
                        .max(u * 0.1);
                }
            }
        }
        (m / u).log2()
    }

    /// u of a field's level. A forename given as an initial only is a
    /// forename half missing: a partner writes "J" as often for a stranger
    /// as for the person, so the share of pairs with an initial-only side
    /// is the same among matches and non-matches, and only whether the
    /// initials agree tells them apart (a match's nearly always do, a
    /// stranger's about one time in twelve). So u of "initial agrees" is m
    /// of it scaled by those two rates, and its weight is their ratio
    /// (about 3.6 bits) whatever EM learns of how often partners write
    /// initials. Taken as a fixed u, the rate of initial-only rows counted
    /// against matches alone and "J Smith" weighed below nothing.
    fn u_of(&self, f: Field, l: Level) -> f64 {
        if f == Field::Forename && l == Level::Initial {
            self.m[f as usize][l as usize] * INITIAL_AGREES_U / INITIAL_AGREES_M
        } else {
            self.u[f as usize][l as usize]
        }
    }

    /// Per-field weights and their sum.
    pub fn score(
        &self,
        c: &Comparison,
        agreed: &Agreed,
        counts: &TokenCounts,
        people: usize,
    ) -> ([f64; FIELDS], f64) {
        let mut w = [0.0; FIELDS];
        for f in Field::ALL {
            let tok = match f {
                Field::Forename => agreed.forename,
                Field::Surname => agreed.surname,
                Field::Postcode => agreed.postcode,
                _ => 0,
            };
            w[f as usize] = self.weight(f, c.level(f), tok, counts, people);
        }
        // Address and postcode are not independent: two people at one
        // postcode share an address far more often than two at random. When
        // the postcode agrees, the address's u is one over the households
        // there (people known at the postcode over a household of 2.4).
        let addr = c.level(Field::Address);
        if c.level(Field::Postcode) == Level::Exact
            && matches!(addr, Level::Exact | Level::Close | Level::OneEdit)
        {
            if let Some(n) = counts.of(Field::Postcode, agreed.postcode) {
                // At least a typical UK postcode (15 households).
                let one_household = 2.4 / f64::from(n.max(36));
                // A street of some 30 households: in a UK postcode (one
                // street, or part of one) nearly every neighbour is on it.
                let u = match addr {
                    Level::OneEdit => (STREET_HOUSEHOLDS * one_household).min(1.0),
                    _ => one_household,
                };
                let m = self.m[Field::Address as usize][addr as usize].max(1e-4);
                w[Field::Address as usize] = (m / u).log2();
            }
        }
        // The same street never counts against a pair more than another
        // street would: it is the nearer of the two.
        if addr == Level::OneEdit {
            let differ = self.weight(Field::Address, Level::Differ, 0, counts, people);
            w[Field::Address as usize] = w[Field::Address as usize].max(differ);
        }
        (w, w.iter().sum())
    }

    /// The total weight a link needs with `people` known.
    pub fn threshold(people: usize) -> f64 {
        (people.max(1000) as f64).log2() + MARGIN_BITS
    }

    /// Re-estimates m by EM over candidate pairs' level patterns (with their
    /// counts), u held fixed, starting from and shrunk towards the priors.
    /// Returns the estimated share of candidate pairs that are matches.
    ///
    /// Pairs the household guard rules out (`ruled_out`) are taken as
    /// non-matches rather than left to EM: in blocked pairs, household
    /// members agree on surname and address far more often than random pairs
    /// do, and EM would otherwise learn that a different forename is common
    /// between records of one person. And m of "differs" stays at its prior
    /// for every field: u is the random-pair prior, but candidate pairs are
    /// chosen by blocking keys that make strangers agree on the keyed fields
    /// (on a file without dob in a one-postcode town, forename + postcode
    /// finds everyone who shares a forename), and EM left free took those
    /// strangers for the matches, learning that a match's surname and
    /// address usually differ (surname "differs" weighed -0.06 bits instead
    /// of -4.3). EM shares out the rest of m among the other levels.
    pub fn train(
        &mut self,
        patterns: &HashMap<Comparison, u32>,
        ruled_out: fn(&Comparison) -> bool,
    ) -> Option<f64> {
        let total: f64 = patterns.values().map(|&n| f64::from(n)).sum();
        if total < 100.0 {
            return None; // too little to learn from
        }
        // In a fixed order: float sums depend on it, and a HashMap's order
        // changes from process to process, which would flip borderline rows.
        let mut ordered: Vec<(&Comparison, &u32)> = patterns.iter().collect();
        ordered.sort_unstable_by_key(|(c, _)| c.levels);
        let mut lambda = 0.5;
        for _ in 0..EM_ROUNDS {
            let mut m_sum = [[0.0; LEVELS]; FIELDS];
            let mut match_pairs = 0.0;
            for &(c, &n) in &ordered {
                if ruled_out(c) {
                    continue;
                }
                let (mut pm, mut pu) = (lambda, 1.0 - lambda);
                for f in Field::ALL {
                    let l = c.level(f);
                    if l == Level::Missing {
                        continue;
                    }
                    pm *= self.m[f as usize][l as usize].max(1e-6);
                    pu *= self.u_of(f, l).max(1e-12);
                }
                let post = pm / (pm + pu);
                let w = post * f64::from(n);
                match_pairs += w;
                for f in Field::ALL {
                    m_sum[f as usize][c.levels[f as usize] as usize] += w;
                }
            }
            lambda = (match_pairs / total).clamp(1e-6, 1.0 - 1e-6);
            for f in 0..FIELDS {
                let frozen = M_PRIOR[f][Level::Differ as usize];
                let free: Vec<usize> = (1..LEVELS)
                    .filter(|&l| l != Level::Differ as usize)
                    .collect();
                let present: f64 = free.iter().map(|&l| m_sum[f][l]).sum();
                let prior: f64 = free.iter().map(|&l| M_PRIOR[f][l]).sum();
                for &l in &free {
                    let est = (m_sum[f][l] + PRIOR_PAIRS * M_PRIOR[f][l] / prior)
                        / (present + PRIOR_PAIRS);
                    self.m[f][l] = est * (1.0 - frozen);
                }
                self.m[f][Level::Differ as usize] = frozen;
            }
        }
        // As stored: a rebuilt matcher must weigh exactly the same.
        for row in &mut self.m {
            for v in row.iter_mut() {
                *v = f64::from(*v as f32);
            }
        }
        Some(lambda)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for row in &self.m {
            for v in row {
                out.extend_from_slice(&(*v as f32).to_be_bytes());
            }
        }
    }

    /// Decodes [`Model::encode`]'s bytes, or a model stored before the
    /// swapped level ([`Model::LEGACY_LEN`] bytes), whose swapped m is then
    /// the prior.
    pub fn decode(b: &[u8]) -> Option<Model> {
        let levels = match b.len() {
            Self::ENCODED_LEN => LEVELS,
            Self::LEGACY_LEN => LEVELS - 1,
            _ => return None,
        };
        let mut m = Model::default();
        for f in 0..FIELDS {
            for l in 0..levels {
                let i = (f * levels + l) * 4;
                m.m[f][l] = f64::from(f32::from_be_bytes(b[i..i + 4].try_into().ok()?));
            }
        }
        Some(m)
    }

    pub const ENCODED_LEN: usize = FIELDS * LEVELS * 4;
    /// A model of seven levels, before [`Level::Swapped`].
    pub const LEGACY_LEN: usize = FIELDS * (LEVELS - 1) * 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(levels: [Level; FIELDS]) -> Comparison {
        Comparison {
            levels: levels.map(|l| l as u8),
        }
    }

    #[test]
    fn rare_names_weigh_more_than_common_ones() {
        let m = Model::default();
        let mut counts = TokenCounts::default();
        for _ in 0..500 {
            counts.add(7, 0, 0); // a common forename token
        }
        counts.add(9, 0, 0);
        let common = m.weight(Field::Forename, Level::Exact, 7, &counts, 10_000);
        let rare = m.weight(Field::Forename, Level::Exact, 9, &counts, 10_000);
        assert!(rare > common + 5.0, "{rare} vs {common}");
        assert!(m.weight(Field::Forename, Level::Differ, 0, &counts, 10_000) < -4.0);
    }

    /// "Same street" at an agreeing postcode says what the postcode's size
    /// lets it: nothing beyond "differs" in a UK postcode of 15 households,
    /// a lot in a postcode that spans a town; elsewhere in the district, its
    /// prior. Never below "differs".
    #[test]
    fn the_same_street_weighs_by_the_postcodes_size_and_never_below_differs() {
        let m = Model::default();
        let street_at = |people_at_pc: u32, pc: Level| {
            let mut counts = TokenCounts::default();
            for _ in 0..people_at_pc {
                counts.add(0, 0, 5);
            }
            let mut l = [Level::Missing; FIELDS];
            l[Field::Postcode as usize] = pc;
            l[Field::Address as usize] = Level::OneEdit;
            let agreed = Agreed {
                postcode: 5,
                ..Agreed::default()
            };
            m.score(&cmp(l), &agreed, &counts, 20_000).0[Field::Address as usize]
        };
        let counts = TokenCounts::default();
        let differ = m.weight(Field::Address, Level::Differ, 0, &counts, 20_000);
        assert_eq!(street_at(36, Level::Exact), differ, "a UK postcode");
        let town = street_at(10_000, Level::Exact);
        assert!(town > 2.0, "{town}");
        let district = street_at(36, Level::Close);
        assert!(district > 3.0 && district > differ, "{district}");
    }

    #[test]
    fn an_initial_that_agrees_weighs_for_the_link_however_rare_initials_are() {
        let counts = TokenCounts::default();
        let expected = (INITIAL_AGREES_M / INITIAL_AGREES_U).log2();
        // Whatever share of pairs EM finds with an initial-only side, the
        // weight is what agreeing initials say: for, a few bits.
        for share in [0.001, 0.02, 0.3] {
            let mut m = Model::default();
            m.m[Field::Forename as usize][Level::Initial as usize] = share;
            let w = m.weight(Field::Forename, Level::Initial, 0, &counts, 10_000);
            assert!((w - expected).abs() < 1e-9 && w > 3.0, "{share}: {w}");
        }
        // Less than a whole forename that agrees, more than nothing.
        let m = Model::default();
        let exact = m.weight(Field::Forename, Level::Exact, 0, &counts, 10_000);
        assert!(exact > expected, "{exact}");
    }

    #[test]
    fn strangers_blocked_on_a_forename_do_not_teach_that_surnames_differ() {
        use Level::*;
        // A file without dob in a town with one postcode: blocking on
        // forename + postcode finds thousands of strangers who share a
        // forename, and the priors' u (random pairs) calls that agreement
        // rare. Left free, EM took them for the matches and learned that a
        // match's surname and address usually differ.
        let mut patterns = HashMap::new();
        patterns.insert(cmp([Exact, Exact, Missing, Exact, Exact, Missing]), 300);
        patterns.insert(cmp([Exact, Exact, Missing, Exact, Differ, Missing]), 60);
        patterns.insert(
            cmp([Exact, Differ, Missing, Exact, Differ, Missing]),
            20_000,
        );
        let mut m = Model::default();
        m.train(&patterns, |_| false).unwrap();
        for f in Field::ALL {
            let (fi, d) = (f as usize, Differ as usize);
            assert_eq!(m.m[fi][d], M_PRIOR[fi][d] as f32 as f64, "{f:?}");
        }
        let exact = m.m[Field::Surname as usize][Exact as usize];
        assert!(exact > 0.8, "surname exact m {exact}");
        let counts = TokenCounts::default();
        let s_differ = m.weight(Field::Surname, Differ, 0, &counts, 10_000);
        assert!(
            s_differ < -4.0,
            "a different surname still counts against: {s_differ}"
        );
    }

    #[test]
    fn threshold_rises_with_the_register() {
        assert!(Model::threshold(1_000_000) > Model::threshold(10_000) + 6.0);
    }

    #[test]
    fn em_learns_m_from_pairs_and_stays_near_priors_when_unsure() {
        use Level::*;
        let mut patterns = HashMap::new();
        // matches: mostly exact, with many surname one-edits in this data
        patterns.insert(cmp([Exact, Exact, Exact, Exact, Exact, Missing]), 600);
        patterns.insert(cmp([Exact, OneEdit, Exact, Exact, Exact, Missing]), 300);
        // non-matches: household members
        patterns.insert(cmp([Differ, Exact, Differ, Exact, Exact, Missing]), 900);
        let mut m = Model::default();
        let ruled_out = |c: &Comparison| c.level(Field::Forename) == Differ;
        let lambda = m.train(&patterns, ruled_out).unwrap();
        let f_differ = m.m[Field::Forename as usize][Differ as usize];
        assert_eq!(f_differ, M_PRIOR[0][Differ as usize] as f32 as f64);
        assert!(
            (0.4..0.6).contains(&lambda),
            "share of all candidate pairs: {lambda}"
        );
        let one_edit = m.m[Field::Surname as usize][OneEdit as usize];
        assert!(one_edit > 0.2, "learned {one_edit}");
        assert!(Model::default().train(&HashMap::new(), ruled_out).is_none());
        let sum: f64 = m.m[Field::Surname as usize].iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        let mut b = Vec::new();
        m.encode(&mut b);
        let back = Model::decode(&b).unwrap();
        assert!((back.m[1][3] - m.m[1][3]).abs() < 1e-6);
        // A model stored before the swapped level: its levels, then the prior.
        let legacy: Vec<u8> = b
            .chunks(4)
            .enumerate()
            .filter(|(i, _)| i % LEVELS != Level::Swapped as usize)
            .flat_map(|(_, c)| c.to_vec())
            .collect();
        assert_eq!(legacy.len(), Model::LEGACY_LEN);
        let old = Model::decode(&legacy).unwrap();
        assert!((old.m[1][3] - m.m[1][3]).abs() < 1e-6);
        assert_eq!(
            old.m[0][Level::Swapped as usize],
            M_PRIOR[0][Level::Swapped as usize]
        );
    }
}
