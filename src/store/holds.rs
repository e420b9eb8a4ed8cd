//! Held deliveries: what a guard stopped, and what an operator decided.
//!
//! Tree owned: `holds` (seq u32 → JSON [`HoldRecord`]).
//!
//! In: the record of a delivery a guard held (its feed, period, content
//! hash, row counts and the reason), then an operator's decision on it. Out:
//! the holds, newest last, and lookups by content.
//!
//! Promises: a hold is its metadata only, never a row, token or identifier
//! of the delivery (the partner's bytes are needed again to apply it, and
//! are checked against the hash); a hold takes the sequence number its
//! delivery began with, so `deliveries accept ID` names one thing; a hold
//! and a decision are flushed before their call returns; a held delivery
//! is never committed, so no query sees anything of it.

use serde::{Deserialize, Serialize};

use super::{read_u32, seq_bytes, Store, StoreError, TreeId, Write};
use crate::records::{Period, SourceKind};

/// Where a held delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    /// Waiting for `deliveries accept` or `deliveries reject`.
    Held,
    /// Accepted: applied when these bytes arrive again (see `applied_as`).
    Accepted,
    /// Rejected: the same bytes are never applied.
    Rejected,
}

impl HoldState {
    pub fn name(self) -> &'static str {
        match self {
            HoldState::Held => "held",
            HoldState::Accepted => "accepted",
            HoldState::Rejected => "rejected",
        }
    }
}

/// Who decided a hold, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldDecision {
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A delivery a guard held instead of applying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    pub seq: u32,
    pub feed: String,
    pub kind: SourceKind,
    pub period: Option<Period>,
    /// SHA-256 of the delivery's bytes (hex).
    pub content_hash: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Why it was held, in words (no values).
    pub reason: String,
    pub state: HoldState,
    pub decision: Option<HoldDecision>,
    /// The delivery it was applied as, once accepted and delivered again.
    pub applied_as: Option<u32>,
}

impl Store {
    /// Records a begun delivery as held: nothing of it is committed, its
    /// pending marker goes, the record is flushed.
    pub fn hold(&mut self, rec: &HoldRecord) -> Result<(), StoreError> {
        self.put_hold(rec)?;
        self.trees
            .write(TreeId::Pending, Write::Remove(&seq_bytes(rec.seq)))?;
        self.trees.flush()?;
        self.seal(self.durable_seq()?);
        Ok(())
    }

    fn put_hold(&self, rec: &HoldRecord) -> Result<(), StoreError> {
        let v = serde_json::to_vec(rec).expect("hold serialises");
        self.trees
            .write(TreeId::Holds, Write::Insert(&seq_bytes(rec.seq), &v))?;
        self.trees.flush()
    }

    /// Every hold, oldest first.
    pub fn holds(&self) -> Result<Vec<HoldRecord>, StoreError> {
        self.trees
            .iter(TreeId::Holds)
            .map(|item| {
                let (_, v) = item?;
                serde_json::from_slice(&v).map_err(|x| self.corrupt(format!("hold record: {x}")))
            })
            .collect()
    }

    pub fn held(&self, seq: u32) -> Result<Option<HoldRecord>, StoreError> {
        match self.trees.get(TreeId::Holds, &seq_bytes(seq))? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|x| self.corrupt(format!("hold record: {x}"))),
            None => Ok(None),
        }
    }

    /// The newest hold of these bytes for this feed (holds are few: a scan).
    pub fn hold_of(&self, feed: &str, hash: &[u8; 32]) -> Result<Option<HoldRecord>, StoreError> {
        let hex = hex::encode(hash);
        Ok(self
            .holds()?
            .into_iter()
            .rfind(|h| h.feed == feed && h.content_hash == hex))
    }

    /// Records an operator's decision on a held delivery.
    pub fn decide_hold(
        &self,
        seq: u32,
        state: HoldState,
        decision: HoldDecision,
    ) -> Result<HoldRecord, StoreError> {
        let mut h = self
            .held(seq)?
            .ok_or_else(|| self.corrupt(format!("no held delivery {seq}")))?;
        h.state = state;
        h.decision = Some(decision);
        self.put_hold(&h)?;
        Ok(h)
    }

    /// Records that an accepted hold was applied as delivery `applied`.
    pub fn hold_applied(&self, seq: u32, applied: u32) -> Result<(), StoreError> {
        if let Some(mut h) = self.held(seq)? {
            h.applied_as = Some(applied);
            self.put_hold(&h)?;
        }
        Ok(())
    }

    /// The highest sequence number a hold took (so none is reused).
    pub(super) fn last_hold_seq(&self) -> Result<u32, StoreError> {
        match self.trees.iter(TreeId::Holds).last() {
            Some(item) => Ok(read_u32(&item?.0)),
            None => Ok(0),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::Begin;

    pub(crate) fn hold_rec(seq: u32) -> HoldRecord {
        HoldRecord {
            seq,
            feed: "police".into(),
            kind: SourceKind::Police,
            period: Period::parse("2015-01-01..2015-12-31"),
            content_hash: hex::encode([5u8; 32]),
            received_at: chrono::Utc::now(),
            rows: 0,
            accepted: 0,
            rejected: 0,
            reason: "no rows".into(),
            state: HoldState::Held,
            decision: None,
            applied_as: None,
        }
    }

    #[test]
    fn a_hold_survives_reopen_keeps_its_seq_and_is_never_committed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path(), "k1").unwrap();
            let Begin::Started(seq) = s.begin("police", &[5; 32]).unwrap() else {
                panic!()
            };
            s.hold(&hold_rec(seq)).unwrap();
        }
        let mut s = Store::open(dir.path(), "k1").unwrap();
        assert_eq!(s.deliveries().count(), 0, "a hold is not a delivery");
        assert_eq!(s.trees.len(TreeId::Pending), 0);
        let h = s.hold_of("police", &[5; 32]).unwrap().unwrap();
        assert_eq!((h.seq, h.state), (1, HoldState::Held));
        assert!(matches!(
            s.begin("police", &[6; 32]).unwrap(),
            Begin::Started(2)
        ));
        let at = chrono::Utc::now();
        let h = s
            .decide_hold(
                1,
                HoldState::Rejected,
                HoldDecision {
                    by: "ana".into(),
                    at,
                },
            )
            .unwrap();
        assert_eq!(h.decision.unwrap().by, "ana");
        assert_eq!(s.held(1).unwrap().unwrap().state, HoldState::Rejected);
    }
}
