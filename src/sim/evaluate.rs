//! Evaluate: how well the matcher did, against synthetic ground truth.
//!
//! In: the (feed, row) -> person assignments an ingest recorded, and the
//! `truth.csv` that `synth` wrote beside its feeds. Out: pairwise precision
//! and recall of record linkage, and the two figures an audit cares about:
//! how many of a family member's records reached the family (recall that
//! keeps "no incidents" honest), and how many records a family was wrongly
//! given (a stranger's offence attributed to it). With `truth_noise.csv`
//! (written by `synth --noise realistic`): per noise kind, how many rows of
//! that kind reached their person's records.
//!
//! Recall counts every truth row, so a row the ingest rejected counts as a
//! missed link, not as a row that never existed.

use std::collections::HashMap;
use std::path::Path;

use crate::ingest::matching::{Matcher, PersonId};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkageQuality {
    pub records: u64,
    /// Truth rows that no assignment covers (rejected by the ingest).
    pub unassigned: u64,
    pub pairwise_precision: f64,
    pub pairwise_recall: f64,
    /// Records of case members that were attributed to that member.
    pub member_records: u64,
    pub member_records_linked: u64,
    /// Records attributed to a case member that belong to someone else.
    pub records_attributed_to_members: u64,
    pub records_wrongly_attributed: u64,
}

impl LinkageQuality {
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.pairwise_precision, self.pairwise_recall);
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    pub fn member_recall(&self) -> f64 {
        ratio(self.member_records_linked, self.member_records)
    }
    pub fn false_attribution_rate(&self) -> f64 {
        ratio(
            self.records_wrongly_attributed,
            self.records_attributed_to_members,
        )
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Truth rows: (feed, row) -> (true person, family case ref or empty).
pub fn read_truth(path: &Path) -> anyhow::Result<HashMap<(String, u64), (u64, String)>> {
    let mut rdr = csv::Reader::from_path(path)?;
    let mut out = HashMap::new();
    for rec in rdr.records() {
        let rec = rec?;
        out.insert(
            (rec[0].to_string(), rec[1].parse()?),
            (rec[2].parse()?, rec[3].to_string()),
        );
    }
    Ok(out)
}

/// Scores assignments against truth. `assigned` holds (feed, row, person);
/// case-feed rows define which person ids are family members.
pub fn score(
    truth: &HashMap<(String, u64), (u64, String)>,
    assigned: &[(String, u64, PersonId)],
    matcher: &Matcher,
) -> LinkageQuality {
    let mut q = LinkageQuality::default();
    let mut cell: HashMap<(PersonId, u64), u64> = HashMap::new();
    let mut pred: HashMap<PersonId, u64> = HashMap::new();
    // Which predicted person each true case member became, via the case feed.
    let mut member_of: HashMap<u64, PersonId> = HashMap::new();
    let mut predicted_members: HashMap<PersonId, u64> = HashMap::new();
    for (feed, row, p) in assigned {
        if feed == "case" {
            if let Some((t, _)) = truth.get(&(feed.clone(), *row)) {
                let c = matcher.canonical(*p);
                member_of.insert(*t, c);
                predicted_members.insert(c, *t);
            }
        }
    }
    for (feed, row, p) in assigned {
        let Some((t, family)) = truth.get(&(feed.clone(), *row)) else {
            continue;
        };
        let c = matcher.canonical(*p);
        q.records += 1;
        *cell.entry((c, *t)).or_default() += 1;
        *pred.entry(c).or_default() += 1;
        if feed == "case" {
            continue;
        }
        if !family.is_empty() {
            if let Some(m) = member_of.get(t) {
                q.member_records += 1;
                if *m == c {
                    q.member_records_linked += 1;
                }
            }
        }
        if let Some(true_member) = predicted_members.get(&c) {
            q.records_attributed_to_members += 1;
            if true_member != t {
                q.records_wrongly_attributed += 1;
            }
        }
    }
    // Every truth row counts towards the true pairs, assigned or not.
    let mut real: HashMap<u64, u64> = HashMap::new();
    for (t, _) in truth.values() {
        *real.entry(*t).or_default() += 1;
    }
    q.unassigned = (truth.len() as u64).saturating_sub(q.records);
    let tp: u64 = cell.values().map(|&n| pairs(n)).sum();
    let pp: u64 = pred.values().map(|&n| pairs(n)).sum();
    let rp: u64 = real.values().map(|&n| pairs(n)).sum();
    q.pairwise_precision = ratio(tp, pp);
    q.pairwise_recall = ratio(tp, rp);
    q
}

/// Noise rows: (feed, row) -> the kinds of error the row carries.
pub fn read_noise(path: &Path) -> anyhow::Result<HashMap<(String, u64), Vec<String>>> {
    let mut rdr = csv::Reader::from_path(path)?;
    let mut out = HashMap::new();
    for rec in rdr.records() {
        let rec = rec?;
        let kinds = rec[2].split(';').map(String::from).collect();
        out.insert((rec[0].to_string(), rec[1].parse()?), kinds);
    }
    Ok(out)
}

/// How the rows of one noise kind fared.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct KindRecall {
    pub kind: String,
    /// Rows of this kind whose true person has at least two rows (a single
    /// row has nothing to be linked to).
    pub rows: u64,
    /// ... that sit with their person's records: the matched person holding
    /// the person's case row, or else most of the person's rows.
    pub linked: u64,
    /// ... that sit with records mostly of another true person.
    pub with_other: u64,
    /// ... that the ingest rejected.
    pub unassigned: u64,
}

impl KindRecall {
    pub fn recall(&self) -> f64 {
        ratio(self.linked, self.rows)
    }
}

/// Per noise kind (and `clean`, for rows with none), how many rows reached
/// their true person's records. Kinds in order of first appearance in
/// `kinds_order`, then any others alphabetically.
pub fn per_kind(
    truth: &HashMap<(String, u64), (u64, String)>,
    noise: &HashMap<(String, u64), Vec<String>>,
    assigned: &[(String, u64, PersonId)],
    matcher: &Matcher,
) -> Vec<KindRecall> {
    let mut at: HashMap<(&str, u64), PersonId> = HashMap::new();
    let mut cell: HashMap<(PersonId, u64), u64> = HashMap::new();
    let mut home: HashMap<u64, PersonId> = HashMap::new();
    for (feed, row, p) in assigned {
        let Some((t, _)) = truth.get(&(feed.clone(), *row)) else {
            continue;
        };
        let c = matcher.canonical(*p);
        at.insert((feed.as_str(), *row), c);
        *cell.entry((c, *t)).or_default() += 1;
        if feed == "case" {
            home.insert(*t, c);
        }
    }
    // The true owner of a matched person: who has most rows in it. Home of
    // a person without a case row: the matched person with most of its
    // rows, preferring one it owns.
    let mut owner: HashMap<PersonId, (u64, u64)> = HashMap::new();
    for (&(c, t), &n) in &cell {
        let o = owner.entry(c).or_insert((0, t));
        if (n, std::cmp::Reverse(t)) > (o.0, std::cmp::Reverse(o.1)) {
            *o = (n, t);
        }
    }
    let mut best_of_true: HashMap<u64, (bool, u64, PersonId)> = HashMap::new();
    for (&(c, t), &n) in &cell {
        let owns = owner.get(&c).is_some_and(|o| o.1 == t);
        let b = best_of_true.entry(t).or_insert((owns, n, c));
        if (owns, n, std::cmp::Reverse(c)) > (b.0, b.1, std::cmp::Reverse(b.2)) {
            *b = (owns, n, c);
        }
    }
    for (t, (_, _, c)) in best_of_true {
        home.entry(t).or_insert(c);
    }
    let mut rows_of: HashMap<u64, u64> = HashMap::new();
    for (t, _) in truth.values() {
        *rows_of.entry(*t).or_default() += 1;
    }
    let mut out: std::collections::BTreeMap<String, KindRecall> = Default::default();
    let clean = vec!["clean".to_string()];
    for (key, (t, _)) in truth {
        if key.0 == "case" || rows_of[t] < 2 {
            continue;
        }
        let kinds = noise.get(key).unwrap_or(&clean);
        let c = at.get(&(key.0.as_str(), key.1));
        for k in kinds {
            let e = out.entry(k.clone()).or_insert_with(|| KindRecall {
                kind: k.clone(),
                ..Default::default()
            });
            e.rows += 1;
            match c {
                None => e.unassigned += 1,
                Some(c) => {
                    if home.get(t) == Some(c) {
                        e.linked += 1;
                    }
                    if owner.get(c).is_some_and(|o| o.1 != *t) {
                        e.with_other += 1;
                    }
                }
            }
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_split_and_a_false_merge() {
        let mut truth = HashMap::new();
        // true person 1 (family F): case row + 2 police rows; person 2: 1 police row
        truth.insert(("case".to_string(), 2), (1, "F".to_string()));
        truth.insert(("police".to_string(), 2), (1, "F".to_string()));
        truth.insert(("police".to_string(), 3), (1, "F".to_string()));
        truth.insert(("police".to_string(), 4), (2, String::new()));
        let mut m = Matcher::new();
        for p in 0..3 {
            m.load_person(p, None);
        }
        // predicted: case row -> 0, police 2 -> 0, police 3 -> 1 (split), police 4 -> 0 (false merge)
        let assigned = vec![
            ("case".to_string(), 2, 0),
            ("police".to_string(), 2, 0),
            ("police".to_string(), 3, 1),
            ("police".to_string(), 4, 0),
        ];
        let q = score(&truth, &assigned, &m);
        assert_eq!(q.member_records, 2);
        assert_eq!(q.member_records_linked, 1);
        assert_eq!(q.records_attributed_to_members, 2);
        assert_eq!(q.records_wrongly_attributed, 1);
        // true pairs: person 1 has 3 records -> 3 pairs; predicted 0 has 3 -> 3 pairs;
        // shared: (case2, police2) only -> tp = 1
        assert!((q.pairwise_precision - 1.0 / 3.0).abs() < 1e-9);
        assert!((q.pairwise_recall - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn rejected_rows_count_as_missed_and_kinds_are_scored() {
        let mut truth = HashMap::new();
        truth.insert(("case".to_string(), 2), (1, "F".to_string()));
        truth.insert(("police".to_string(), 2), (1, "F".to_string()));
        truth.insert(("police".to_string(), 3), (1, "F".to_string()));
        truth.insert(("police".to_string(), 4), (1, "F".to_string()));
        truth.insert(("police".to_string(), 5), (2, String::new()));
        truth.insert(("police".to_string(), 6), (2, String::new()));
        truth.insert(("police".to_string(), 7), (2, String::new()));
        let mut noise = HashMap::new();
        noise.insert(("police".to_string(), 3), vec!["ocr".to_string()]);
        noise.insert(
            ("police".to_string(), 4),
            vec!["ocr".to_string(), "twin".to_string()],
        );
        noise.insert(("police".to_string(), 6), vec!["twin".to_string()]);
        let mut m = Matcher::new();
        for p in 0..3 {
            m.load_person(p, None);
        }
        // police 3 (ocr) rejected; police 4 (ocr, twin) linked right;
        // police 6 (twin) merged into person 1's records.
        let assigned = vec![
            ("case".to_string(), 2, 0),
            ("police".to_string(), 2, 0),
            ("police".to_string(), 4, 0),
            ("police".to_string(), 5, 1),
            ("police".to_string(), 6, 0),
            ("police".to_string(), 7, 1),
        ];
        let q = score(&truth, &assigned, &m);
        assert_eq!(q.unassigned, 1);
        // true pairs: 4 rows of person 1 -> 6, 3 of person 2 -> 3;
        // tp = 3 (case2, p2, p4 together) + 1 (p5, p7)
        assert!((q.pairwise_recall - 4.0 / 9.0).abs() < 1e-9);
        let k = per_kind(&truth, &noise, &assigned, &m);
        let get = |n: &str| k.iter().find(|x| x.kind == n).unwrap().clone();
        let ocr = get("ocr");
        assert_eq!((ocr.rows, ocr.linked, ocr.unassigned), (2, 1, 1));
        let twin = get("twin");
        assert_eq!((twin.rows, twin.linked, twin.with_other), (2, 1, 1));
        let clean = get("clean");
        assert_eq!((clean.rows, clean.linked), (3, 3));
    }
}

/// Doubts (the review queue) against the truth: per band of distance below
/// the link threshold, how many there are and how many are truly the
/// candidate's records.
#[derive(Debug, Default, Clone)]
pub struct DoubtQuality {
    /// (bits below the threshold from, to, doubts, truly the same person)
    pub bands: Vec<(f64, f64, u64, u64)>,
    /// Doubts whose candidate the household guard refused although it
    /// scored at the threshold: (doubts, truly the same person). Not in
    /// `bands`.
    pub guarded: (u64, u64),
    /// Doubts whose row or candidate truth does not know.
    pub unknown: u64,
}

/// Scores the store's doubts: a doubt is right when its row's true person
/// is the true person most of the candidate's rows belong to.
pub fn doubts(
    truth: &HashMap<(String, u64), (u64, String)>,
    assigned: &[(String, u64, PersonId)],
    reviews: &[(String, crate::store::ReviewRecord)],
    matcher: &Matcher,
    threshold: f64,
    band: f64,
) -> DoubtQuality {
    let majority = majorities(truth, assigned, matcher);
    let step = 2.0;
    let n = (band / step).ceil().max(1.0) as usize;
    let mut q = DoubtQuality {
        bands: (0..n)
            .map(|i| (i as f64 * step, ((i + 1) as f64 * step).min(band), 0, 0))
            .collect(),
        guarded: (0, 0),
        unknown: 0,
    };
    for (feed, r) in reviews {
        let (Some((t, _)), Some(c)) = (
            truth.get(&(feed.clone(), r.row)),
            majority(r.candidate.person),
        ) else {
            q.unknown += 1;
            continue;
        };
        if r.candidate.ruled_out {
            q.guarded.0 += 1;
            q.guarded.1 += u64::from(*t == c);
            continue;
        }
        let below = (threshold - f64::from(r.candidate.score)).max(0.0);
        let i = ((below / step) as usize).min(n - 1);
        q.bands[i].2 += 1;
        if *t == c {
            q.bands[i].3 += 1;
        }
    }
    q
}

/// The true person most of each (canonical) person's rows belong to.
fn majorities<'a>(
    truth: &HashMap<(String, u64), (u64, String)>,
    assigned: &[(String, u64, PersonId)],
    matcher: &'a Matcher,
) -> impl Fn(PersonId) -> Option<u64> + 'a {
    let mut votes: HashMap<PersonId, HashMap<u64, u64>> = HashMap::new();
    for (feed, row, p) in assigned {
        if let Some((t, _)) = truth.get(&(feed.clone(), *row)) {
            *votes
                .entry(matcher.canonical(*p))
                .or_default()
                .entry(*t)
                .or_default() += 1;
        }
    }
    move |p: PersonId| -> Option<u64> {
        votes
            .get(&matcher.canonical(p))
            .and_then(|v| v.iter().max_by_key(|(t, n)| (**n, std::cmp::Reverse(**t))))
            .map(|(t, _)| *t)
    }
}

/// Uncertain links `(feed, row, person)` against the truth: how many there
/// are, and how many went to the right person (the true person most of
/// the person's rows belong to).
pub fn uncertain(
    truth: &HashMap<(String, u64), (u64, String)>,
    assigned: &[(String, u64, PersonId)],
    narrow: &[(String, u64, PersonId)],
    matcher: &Matcher,
) -> (u64, u64) {
    let majority = majorities(truth, assigned, matcher);
    let right = narrow
        .iter()
        .filter(|(feed, row, p)| {
            truth
                .get(&(feed.clone(), *row))
                .is_some_and(|(t, _)| majority(*p) == Some(*t))
        })
        .count();
    (narrow.len() as u64, right as u64)
}

/// What the review gate did to the claims, against the truth's verdicts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GateFigures {
    pub claims: u64,
    /// Claims held `insufficient` awaiting review.
    pub held: u64,
    /// Held claims the truth says are contradicted: false verifieds the
    /// gate prevented.
    pub prevented: u64,
    /// Held claims the truth says are verified: true verifieds delayed.
    pub delayed: u64,
    /// `verified` claims the truth says are contradicted: false verifieds
    /// left.
    pub false_verified: u64,
    /// Claims marked as resting on an uncertain link.
    pub marked: u64,
    /// Marked claims whose verdict the truth disagrees with.
    pub marked_wrong: u64,
    /// Verified or contradicted claims the truth disagrees with.
    pub wrong: u64,
}

/// Compares stored verdicts with `truth_claims.csv`.
pub fn gate(
    truth_claims: &Path,
    verdicts: &[crate::triangulate::VerdictRecord],
) -> anyhow::Result<GateFigures> {
    use crate::triangulate::Verdict;
    let mut expected: HashMap<(String, String, String), String> = HashMap::new();
    let mut rdr = csv::Reader::from_path(truth_claims)?;
    for rec in rdr.records() {
        let rec = rec?;
        expected.insert(
            (rec[0].to_string(), rec[1].to_string(), rec[2].to_string()),
            rec[4].to_string(),
        );
    }
    let mut g = GateFigures::default();
    for v in verdicts {
        g.claims += 1;
        let want = expected
            .get(&(
                v.case_ref.clone(),
                v.outcome_id.clone(),
                v.claim_date.to_string(),
            ))
            .map(String::as_str);
        if !v.decision.awaiting_review.is_empty() {
            g.held += 1;
            match want {
                Some("contradicted") => g.prevented += 1,
                Some("verified") => g.delayed += 1,
                _ => {}
            }
        } else if v.verdict == Verdict::Verified && want == Some("contradicted") {
            g.false_verified += 1;
        }
        let decided = matches!(v.verdict, Verdict::Verified | Verdict::Contradicted);
        let wrong = decided && want.is_some_and(|w| w != v.verdict.name());
        g.wrong += u64::from(wrong);
        if !v.decision.uncertain_links.is_empty() {
            g.marked += 1;
            g.marked_wrong += u64::from(wrong);
        }
    }
    Ok(g)
}
