//! Reviews: the doubts matching left, and reviewers' decisions on them.
//!
//! Trees owned: `reviews` (seq u32, row u32, n u8 → packed
//! [`ReviewRecord`]: a row left unlinked with a candidate it may belong to)
//! and `review_decisions` (item id → JSON [`ReviewDecision`]).
//!
//! Promises: a doubt is written with its delivery and swept with it; a
//! decision is flushed before its call returns (acknowledged means
//! durable), is never overwritten, and records who made it, when, and the
//! newest delivery at the time, so replay applies it at the same point of
//! the identity log. Neither holds an identifier value: people are internal
//! numbers, fields are comparison levels and weights.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::links::{StoredCandidate, CANDIDATE_LEN};
use super::{read_u32, seq_bytes, Store, StoreError, TreeId, Write};
use crate::ingest::matching::{DoubtKind, PersonId};

/// One doubt: row `row` of delivery `seq` became person `person`, and may
/// be the candidate's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReviewRecord {
    pub seq: u32,
    pub row: u64,
    /// 0 for the best doubt, 1 for an ambiguous row's second.
    pub n: u8,
    pub kind: DoubtKind,
    /// The person the row was given (itself, as it was not linked).
    pub person: PersonId,
    pub candidate: StoredCandidate,
}

pub(super) const VALUE_LEN: usize = 1 + 8 + CANDIDATE_LEN;

impl ReviewRecord {
    /// The item id reviewers use: `SEQ-ROW-N` (N from 1).
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.seq, self.row, self.n + 1)
    }

    /// Parses an item id into its key parts.
    pub fn parse_id(id: &str) -> Option<(u32, u64, u8)> {
        let mut it = id.split('-');
        let seq = it.next()?.parse().ok()?;
        let row = it.next()?.parse().ok()?;
        let n: u8 = it.next()?.parse().ok()?;
        (it.next().is_none() && (1..=2).contains(&n)).then(|| (seq, row, n - 1))
    }

    fn key(seq: u32, row: u64, n: u8) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[..4].copy_from_slice(&seq_bytes(seq));
        k[4..8].copy_from_slice(&(row as u32).to_be_bytes());
        k[8] = n;
        k
    }

    fn pack(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(VALUE_LEN);
        v.push(match self.kind {
            DoubtKind::Weak => 1,
            DoubtKind::Ambiguous => 2,
            DoubtKind::Guarded => 3,
            DoubtKind::Sparse => 4,
            DoubtKind::IdConflict => 5,
            DoubtKind::NearMember => 6,
            DoubtKind::RenamedBesideMember => 7,
        });
        v.extend_from_slice(&self.person.to_be_bytes());
        self.candidate.pack(&mut v);
        v
    }

    fn unpack(k: &[u8], v: &[u8]) -> Option<ReviewRecord> {
        if k.len() != 9 || v.len() != VALUE_LEN {
            return None;
        }
        Some(ReviewRecord {
            seq: read_u32(&k[..4]),
            row: u64::from(read_u32(&k[4..8])),
            n: k[8],
            kind: match v[0] {
                1 => DoubtKind::Weak,
                2 => DoubtKind::Ambiguous,
                3 => DoubtKind::Guarded,
                4 => DoubtKind::Sparse,
                5 => DoubtKind::IdConflict,
                6 => DoubtKind::NearMember,
                7 => DoubtKind::RenamedBesideMember,
                _ => return None,
            },
            person: u64::from_be_bytes(v[1..9].try_into().ok()?),
            candidate: StoredCandidate::unpack(&v[9..]),
        })
    }
}

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    Same,
    Different,
}

/// A reviewer's decision on one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    pub item: String,
    pub decision: ReviewVerdict,
    /// The row's person and the candidate, as the item named them.
    pub person: PersonId,
    pub candidate: PersonId,
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The newest committed delivery when it was made: replay applies it
    /// after that delivery's matching changes.
    pub after_seq: u32,
}

impl Store {
    pub(super) fn put_reviews(&self, seq: u32, items: &[ReviewRecord]) -> Result<(), StoreError> {
        for r in items {
            debug_assert_eq!(r.seq, seq);
            self.trees.write(
                TreeId::Reviews,
                Write::Insert(&ReviewRecord::key(seq, r.row, r.n), &r.pack()),
            )?;
        }
        Ok(())
    }

    pub(super) fn sweep_reviews(&self, seq: u32) -> Result<(), StoreError> {
        for item in self.trees.scan_prefix(TreeId::Reviews, &seq_bytes(seq)) {
            let (k, _) = item?;
            self.trees.write(TreeId::Reviews, Write::Remove(&k))?;
        }
        Ok(())
    }

    /// Every committed delivery's doubts, in delivery and row order.
    pub fn reviews(&self) -> Result<Vec<ReviewRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.iter(TreeId::Reviews) {
            let (k, v) = item?;
            if !self.committed.contains_key(&read_u32(&k)) {
                continue;
            }
            out.push(
                ReviewRecord::unpack(&k, &v)
                    .ok_or_else(|| self.corrupt("a review item is malformed"))?,
            );
        }
        Ok(out)
    }

    /// One doubt by its id, if committed.
    pub fn review(&self, id: &str) -> Result<Option<ReviewRecord>, StoreError> {
        let Some((seq, row, n)) = ReviewRecord::parse_id(id) else {
            return Ok(None);
        };
        if !self.committed.contains_key(&seq) {
            return Ok(None);
        }
        let k = ReviewRecord::key(seq, row, n);
        match self.trees.get(TreeId::Reviews, &k)? {
            None => Ok(None),
            Some(v) => {
                Ok(Some(ReviewRecord::unpack(&k, &v).ok_or_else(|| {
                    self.corrupt("a review item is malformed")
                })?))
            }
        }
    }

    /// Records a decision durably. A decision is never replaced: a second
    /// one on the same item is refused (`Ok(false)`).
    pub fn put_review_decision(&self, d: &ReviewDecision) -> Result<bool, StoreError> {
        if self
            .trees
            .get(TreeId::ReviewDecisions, d.item.as_bytes())?
            .is_some()
        {
            return Ok(false);
        }
        let v = serde_json::to_vec(d).expect("decision serialises");
        self.trees.write(
            TreeId::ReviewDecisions,
            Write::Insert(d.item.as_bytes(), &v),
        )?;
        self.flush()?;
        Ok(true)
    }

    /// Every decision, in the order replay applies them (after which
    /// delivery, then when).
    pub fn review_decisions(&self) -> Result<Vec<ReviewDecision>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.iter(TreeId::ReviewDecisions) {
            let (_, v) = item?;
            out.push(
                serde_json::from_slice::<ReviewDecision>(&v)
                    .map_err(|e| self.corrupt(format!("review decision: {e}")))?,
            );
        }
        out.sort_by(|a, b| a.after_seq.cmp(&b.after_seq).then(a.at.cmp(&b.at)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::matching::Comparison;

    #[test]
    fn ids_parse_back_and_bad_ids_do_not() {
        assert_eq!(ReviewRecord::parse_id("12-345-1"), Some((12, 345, 0)));
        assert_eq!(ReviewRecord::parse_id("12-345-2"), Some((12, 345, 1)));
        for bad in ["12-345-0", "12-345-3", "12-345", "a-1-1", "1-2-1-4", ""] {
            assert_eq!(ReviewRecord::parse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn records_round_trip() {
        let r = ReviewRecord {
            seq: 7,
            row: 4242,
            n: 1,
            kind: DoubtKind::Ambiguous,
            person: 77,
            candidate: StoredCandidate {
                person: 5,
                score: 14.5,
                levels: Comparison::default(),
                weights: [1, 2, 3, 4, 5, 6],
                ruled_out: false,
            },
        };
        let k = ReviewRecord::key(r.seq, r.row, r.n);
        assert_eq!(ReviewRecord::unpack(&k, &r.pack()), Some(r));
        assert_eq!(ReviewRecord::parse_id(&r.id()), Some((7, 4242, 1)));
        for kind in [
            DoubtKind::Weak,
            DoubtKind::Guarded,
            DoubtKind::Sparse,
            DoubtKind::IdConflict,
            DoubtKind::NearMember,
        ] {
            let r = ReviewRecord { kind, ..r };
            assert_eq!(ReviewRecord::unpack(&k, &r.pack()), Some(r));
        }
    }
}
