//! Evaluate: how well the matcher did, against synthetic ground truth.
//!
//! In: the (feed, row) -> person assignments an ingest recorded, and the
//! `truth.csv` that `synth` wrote beside its feeds. Out: pairwise precision
//! and recall of record linkage, and the two figures an audit cares about:
//! how many of a family member's records reached the family (recall that
//! keeps "no incidents" honest), and how many records a family was wrongly
//! given (a stranger's offence attributed to it).

use std::collections::HashMap;
use std::path::Path;

use crate::ingest::matching::{Matcher, PersonId};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkageQuality {
    pub records: u64,
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
    let mut real: HashMap<u64, u64> = HashMap::new();
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
        *real.entry(*t).or_default() += 1;
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
    let tp: u64 = cell.values().map(|&n| pairs(n)).sum();
    let pp: u64 = pred.values().map(|&n| pairs(n)).sum();
    let rp: u64 = real.values().map(|&n| pairs(n)).sum();
    q.pairwise_precision = ratio(tp, pp);
    q.pairwise_recall = ratio(tp, rp);
    q
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
}
