//! Deliveries: the commit protocol that makes a delivery all or nothing.
//!
//! Trees owned: `pending` (seq → feed: a delivery begun, not committed),
//! `deliveries` (seq → JSON [`DeliveryRecord`]: the commit) and `content`
//! (feed, 0, sha256 → seq: what was already stored).
//!
//! Promises: [`Store::begin`] makes its pending marker durable before any
//! row is written; [`Store::write_delivery`] writes the record last and flushes
//! before it returns; a delivery without a commit is swept (every row of its
//! seq, from every tree) at the next open or by [`Store::sweep`]; the same
//! bytes for the same feed begin as [`Begin::Duplicate`].

use serde::{Deserialize, Serialize};

use super::links::{LinkRecord, RunnerUp};
use super::reviews::ReviewRecord;
use super::{
    read_u32, seq_bytes, CaseRecord, ClaimRecord, EventBuffer, Store, StoreError, TreeId, Write,
};
use crate::ingest::matching::Delta;
use crate::records::{Period, SourceKind};

/// What a committed delivery was and did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub seq: u32,
    pub feed: String,
    pub kind: SourceKind,
    pub period: Option<Period>,
    pub content_hash: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub persons_new: u64,
    pub records_matched: u64,
    pub families_touched: u64,
}

/// Everything one delivery stores, written under its sequence number.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryRows<'a> {
    /// The matcher's changes (appended to the identity log).
    pub delta: &'a Delta,
    pub events: &'a EventBuffer,
    pub cases: &'a [&'a CaseRecord],
    pub claims: &'a [ClaimRecord],
    /// Where each accepted row with a person went.
    pub links: &'a [LinkRecord],
    /// Each such row's best other candidate, where it had one.
    pub runners: &'a [RunnerUp],
    /// The rows left in doubt, for review.
    pub reviews: &'a [ReviewRecord],
}

/// What `begin` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// Write the delivery's rows under this sequence number.
    Started(u32),
    /// The same bytes were already stored as this delivery.
    Duplicate(u32),
}

fn content_key(feed: &str, hash: &[u8; 32]) -> Vec<u8> {
    let mut k = feed.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(hash);
    k
}

impl Store {
    /// At open: loads the committed records and sweeps every delivery that
    /// was begun and not committed.
    pub(super) fn recover(&mut self) -> Result<(), StoreError> {
        for item in self.trees.iter(TreeId::Deliveries) {
            let (_, v) = item?;
            let rec: DeliveryRecord = serde_json::from_slice(&v)
                .map_err(|x| self.corrupt(format!("delivery record: {x}")))?;
            self.committed.insert(rec.seq, rec);
        }
        // A held delivery keeps the seq it began with: none is reused.
        let mut max_seq = self.last_seq().max(self.last_hold_seq()?);
        let mut sweep = Vec::new();
        for item in self.trees.iter(TreeId::Pending) {
            let (k, _) = item?;
            let seq = read_u32(&k);
            max_seq = max_seq.max(seq);
            sweep.push(seq);
        }
        self.next_seq = max_seq + 1;
        for seq in sweep {
            if self.committed.contains_key(&seq)
                || self.trees.contains_key(TreeId::Holds, &seq_bytes(seq))?
            {
                self.trees
                    .write(TreeId::Pending, Write::Remove(&seq_bytes(seq)))?;
            } else {
                tracing::warn!(seq, "sweeping a delivery that was not committed");
                self.sweep(seq)?;
            }
        }
        self.trees.flush()
    }

    /// Starts a delivery: a duplicate is reported, otherwise a pending marker
    /// is made durable before any row is written.
    pub fn begin(&mut self, feed: &str, hash: &[u8; 32]) -> Result<Begin, StoreError> {
        if let Some(v) = self.trees.get(TreeId::Content, &content_key(feed, hash))? {
            return Ok(Begin::Duplicate(read_u32(&v)));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.trees.write(
            TreeId::Pending,
            Write::Insert(&seq_bytes(seq), feed.as_bytes()),
        )?;
        self.trees.flush()?;
        Ok(Begin::Started(seq))
    }

    /// Writes a begun delivery's rows under `rec.seq`, then commits it: the
    /// delivery record written last and flushed, so this returns `Ok` only
    /// once the delivery is durable. On an error the delivery is left uncommitted: the
    /// caller sweeps it (or the next open does).
    pub fn write_delivery(
        &mut self,
        rows: DeliveryRows<'_>,
        rec: DeliveryRecord,
        hash: &[u8; 32],
    ) -> Result<(), StoreError> {
        let seq = rec.seq;
        self.put_delta(seq, rows.delta)?;
        self.put_events(seq, rows.events)?;
        self.put_links(seq, rows.links)?;
        self.put_runners(seq, rows.runners)?;
        self.put_reviews(seq, rows.reviews)?;
        for case in rows.cases {
            self.put_case(case)?;
        }
        for c in rows.claims {
            self.put_claim(c)?;
        }
        self.commit(rec, hash)
    }

    /// Commits a delivery: the record is written last and flushed; only then
    /// is the delivery acknowledged.
    pub(super) fn commit(
        &mut self,
        rec: DeliveryRecord,
        hash: &[u8; 32],
    ) -> Result<(), StoreError> {
        let seq = rec.seq;
        self.trees.write(
            TreeId::Content,
            Write::Insert(&content_key(&rec.feed, hash), &seq_bytes(seq)),
        )?;
        let v = serde_json::to_vec(&rec).expect("record serialises");
        self.trees
            .write(TreeId::Deliveries, Write::Insert(&seq_bytes(seq), &v))?;
        self.trees.flush()?;
        self.trees
            .write(TreeId::Pending, Write::Remove(&seq_bytes(seq)))?;
        self.committed.insert(seq, rec);
        Ok(())
    }

    /// Removes every row written under `seq` (an uncommitted delivery).
    pub fn sweep(&mut self, seq: u32) -> Result<(), StoreError> {
        self.sweep_events(seq)?;
        self.sweep_cases(seq)?;
        self.sweep_identity(seq)?;
        self.sweep_links(seq)?;
        self.sweep_reviews(seq)?;
        self.sweep_claims(seq)?;
        self.trees.flush()?;
        self.trees
            .write(TreeId::Pending, Write::Remove(&seq_bytes(seq)))?;
        self.trees.flush()
    }

    pub fn deliveries(&self) -> impl Iterator<Item = &DeliveryRecord> {
        self.committed.values()
    }

    pub fn delivery(&self, seq: u32) -> Option<&DeliveryRecord> {
        self.committed.get(&seq)
    }

    /// The newest committed delivery: the data state a decision was made on.
    pub fn last_seq(&self) -> u32 {
        self.committed.keys().next_back().copied().unwrap_or(0)
    }

    /// The periods covered by committed deliveries of a source kind, merged
    /// into disjoint ranges.
    pub fn coverage(&self, kind: SourceKind) -> Vec<Period> {
        let mut ps: Vec<Period> = self
            .committed
            .values()
            .filter(|d| d.kind == kind)
            .filter_map(|d| d.period)
            .collect();
        ps.sort();
        let mut out: Vec<Period> = Vec::new();
        for p in ps {
            match out.last_mut() {
                Some(last) if p.from <= last.to.succ_opt().unwrap_or(last.to) => {
                    last.to = last.to.max(p.to)
                }
                _ => out.push(p),
            }
        }
        out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::ingest::matching::Delta;
    use crate::records::Measure;
    use crate::records::{Event, EventKind};
    use crate::store::EventBuffer;
    use chrono::NaiveDate;

    pub(in crate::store) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    pub(in crate::store) fn ev(kind: EventKind, start: &str) -> Event {
        Event {
            kind,
            start: d(start),
            end: None,
            code: 0,
            measure: Measure::from_raw(kind, [1, 2, 3, -4]),
        }
    }

    pub(in crate::store) fn record(seq: u32, feed: &str, period: &str) -> DeliveryRecord {
        DeliveryRecord {
            seq,
            feed: feed.into(),
            kind: SourceKind::Police,
            period: Period::parse(period),
            content_hash: String::new(),
            received_at: chrono::Utc::now(),
            rows: 1,
            accepted: 1,
            rejected: 0,
            persons_new: 0,
            records_matched: 0,
            families_touched: 0,
        }
    }

    #[test]
    fn uncommitted_rows_are_invisible_and_swept_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path(), "k1").unwrap();
            let Begin::Started(seq) = s.begin("police", &[1; 32]).unwrap() else {
                panic!()
            };
            let mut buf = EventBuffer::default();
            buf.push(7, &ev(EventKind::Offence, "2015-05-05"));
            s.put_events(seq, &buf).unwrap();
            let mut delta = Delta::default();
            delta.new_persons.push((7, None));
            s.put_delta(seq, &delta).unwrap();
            let got = s
                .events(
                    &[7],
                    &[EventKind::Offence],
                    d("2015-01-01"),
                    d("2015-12-31"),
                )
                .unwrap();
            assert!(got.is_empty(), "uncommitted rows must not be visible");
            s.flush().unwrap();
            // dropped without commit: a crash
        }
        let s = Store::open(dir.path(), "k1").unwrap();
        assert_eq!(s.trees.len(TreeId::Events), 0, "swept at open");
        assert_eq!(s.trees.len(TreeId::Identity), 0, "swept at open");
        assert_eq!(s.trees.len(TreeId::Pending), 0);
    }

    #[test]
    fn committed_rows_survive_reopen_and_duplicates_are_found() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path(), "k1").unwrap();
            let Begin::Started(seq) = s.begin("police", &[1; 32]).unwrap() else {
                panic!()
            };
            let mut buf = EventBuffer::default();
            buf.push(7, &ev(EventKind::Offence, "2015-05-05"));
            buf.push(6, &ev(EventKind::Offence, "2015-05-06"));
            buf.push(9, &ev(EventKind::Offence, "2015-05-07"));
            s.put_events(seq, &buf).unwrap();
            s.commit(record(seq, "police", "2015-01-01..2015-12-31"), &[1; 32])
                .unwrap();
        }
        let mut s = Store::open(dir.path(), "k1").unwrap();
        let got = s
            .events(
                &[7],
                &[EventKind::Offence],
                d("2015-01-01"),
                d("2015-12-31"),
            )
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event.start, d("2015-05-05"));
        let got = s
            .events(
                &[6, 9],
                &[EventKind::Offence],
                d("2015-01-01"),
                d("2015-12-31"),
            )
            .unwrap();
        assert_eq!(got.len(), 2);
        assert!(s
            .events(&[7], &[EventKind::Arrest], d("2015-01-01"), d("2015-12-31"))
            .unwrap()
            .is_empty());
        assert_eq!(s.begin("police", &[1; 32]).unwrap(), Begin::Duplicate(1));
        assert!(matches!(
            s.begin("police", &[2; 32]).unwrap(),
            Begin::Started(2)
        ));
    }
}
