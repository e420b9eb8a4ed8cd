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

use super::links::NarrowLink;
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
    /// The rows left in doubt, for review.
    pub reviews: &'a [ReviewRecord],
    /// Event rows linked by a narrow margin (uncertain links).
    pub narrow: &'a [NarrowLink],
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
    /// is made durable before any row is written. Only the same bytes as the
    /// feed's newest delivery are a duplicate: an older extract sent again
    /// (a correction taken back) is applied again, since a later delivery
    /// replaced what it said.
    pub fn begin(&mut self, feed: &str, hash: &[u8; 32]) -> Result<Begin, StoreError> {
        if let Some(v) = self.trees.get(TreeId::Content, &content_key(feed, hash))? {
            let seq = read_u32(&v);
            let newest = self
                .committed
                .values()
                .rev()
                .find(|d| d.feed == feed)
                .map(|d| d.seq);
            if newest == Some(seq) {
                return Ok(Begin::Duplicate(seq));
            }
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
        // The rows go to disjoint trees from two threads (sled takes
        // concurrent writers), so a large delivery's writes use both cores;
        // the commit record still goes last, after both have finished.
        let this = &*self;
        std::thread::scope(|sc| {
            let other = sc.spawn(|| -> Result<(), StoreError> {
                this.put_delta(seq, rows.delta)?;
                this.put_events(seq, rows.events)?;
                for c in rows.claims {
                    this.put_claim(c)?;
                }
                Ok(())
            });
            let mine = (|| -> Result<(), StoreError> {
                this.put_narrow(seq, rows.narrow)?;
                this.put_reviews(seq, rows.reviews)?;
                for case in rows.cases {
                    this.put_case(case)?;
                }
                Ok(())
            })();
            let theirs = other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            mine.and(theirs)
        })?;
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
        self.seal(self.durable_seq()?);
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

    /// The feed a committed delivery came from (empty for an unknown one).
    pub fn feed_of(&self, seq: u32) -> String {
        self.committed
            .get(&seq)
            .map_or_else(String::new, |d| d.feed.clone())
    }

    /// The newest committed delivery before `seq` (0 for none).
    pub fn seq_before(&self, seq: u32) -> u32 {
        self.committed
            .range(..seq)
            .next_back()
            .map_or(0, |(s, _)| *s)
    }

    /// The newest committed delivery: the data state a decision was made on.
    pub fn last_seq(&self) -> u32 {
        self.committed.keys().next_back().copied().unwrap_or(0)
    }

    /// Names the feeds the config has, so that a configured feed that has
    /// not delivered yet counts as covering nothing (rather than not
    /// counting at all).
    pub fn expect_feeds(&mut self, feeds: impl IntoIterator<Item = (String, SourceKind)>) {
        self.expected = Some(feeds.into_iter().collect());
    }

    /// The feeds whose coverage counts for a source kind: those the config
    /// names, when it named them; otherwise every feed that delivered.
    pub fn feeds_of(&self, kind: SourceKind) -> Vec<String> {
        let mut out: Vec<String> = match &self.expected {
            Some(e) => e
                .iter()
                .filter(|(_, k)| **k == kind)
                .map(|(f, _)| f.clone())
                .collect(),
            None => self
                .committed
                .values()
                .filter(|d| d.kind == kind)
                .map(|d| d.feed.clone())
                .collect(),
        };
        out.sort();
        out.dedup();
        out
    }

    /// The periods one feed's committed deliveries cover, merged into
    /// disjoint ranges.
    pub fn feed_coverage(&self, feed: &str) -> Vec<Period> {
        merge(
            self.committed
                .values()
                .filter(|d| d.feed == feed)
                .filter_map(|d| d.period)
                .collect(),
        )
    }

    /// The periods covered for a source kind: where *every* feed of that
    /// kind ([`Store::feeds_of`]) covers. With two police forces, one
    /// force's delivery says nothing about the other's people.
    pub fn coverage(&self, kind: SourceKind) -> Vec<Period> {
        let mut feeds = self.feeds_of(kind).into_iter();
        let Some(first) = feeds.next() else {
            return Vec::new();
        };
        feeds.fold(self.feed_coverage(&first), |acc, f| {
            intersect(&acc, &self.feed_coverage(&f))
        })
    }
}

/// Sorted, disjoint ranges covering the same days as `ps`.
fn merge(mut ps: Vec<Period>) -> Vec<Period> {
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

/// The days both sorted, disjoint range lists cover.
fn intersect(a: &[Period], b: &[Period]) -> Vec<Period> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let from = a[i].from.max(b[j].from);
        let to = a[i].to.min(b[j].to);
        if from <= to {
            out.push(Period { from, to });
        }
        if a[i].to < b[j].to {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
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

    #[test]
    fn an_older_extract_sent_again_is_applied_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        commit_empty(&mut s, "police", "2015-01-01..2015-12-31", 1);
        commit_empty(&mut s, "police", "2015-01-01..2015-12-31", 2);
        // The first extract again, after the second replaced it: a
        // correction taken back, not a duplicate.
        assert!(matches!(
            s.begin("police", &[1; 32]).unwrap(),
            Begin::Started(_)
        ));
        // The newest one again is.
        assert_eq!(s.begin("police", &[2; 32]).unwrap(), Begin::Duplicate(2));
    }

    fn commit_empty(s: &mut Store, feed: &str, period: &str, hash: u8) {
        let Begin::Started(seq) = s.begin(feed, &[hash; 32]).unwrap() else {
            panic!()
        };
        s.commit(record(seq, feed, period), &[hash; 32]).unwrap();
    }

    #[test]
    fn a_kind_is_covered_only_where_every_feed_of_it_covers() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        commit_empty(&mut s, "police-north", "2015-01-01..2015-12-31", 1);
        // Only the feeds that delivered are known: north covers police.
        assert_eq!(
            s.coverage(SourceKind::Police),
            vec![Period::parse("2015-01-01..2015-12-31").unwrap()]
        );
        // The config names a second force that has not delivered: nothing
        // is covered, since the south's people may have offended.
        s.expect_feeds([
            ("police-north".to_string(), SourceKind::Police),
            ("police-south".to_string(), SourceKind::Police),
        ]);
        assert_eq!(
            s.feeds_of(SourceKind::Police),
            ["police-north", "police-south"]
        );
        assert!(s.coverage(SourceKind::Police).is_empty());
        // The south delivers part of the year (in two pieces): the kind is
        // covered where both are.
        commit_empty(&mut s, "police-south", "2015-03-01..2015-06-30", 2);
        commit_empty(&mut s, "police-south", "2015-07-01..2016-06-30", 3);
        assert_eq!(
            s.coverage(SourceKind::Police),
            vec![Period::parse("2015-03-01..2015-12-31").unwrap()]
        );
        assert_eq!(
            s.feed_coverage("police-south"),
            vec![Period::parse("2015-03-01..2016-06-30").unwrap()]
        );
        assert!(s.coverage(SourceKind::Education).is_empty());
    }

    #[test]
    fn intersecting_range_lists() {
        let p = |v: &str| Period::parse(v).unwrap();
        let a = [p("2015-01-01..2015-01-31"), p("2015-03-01..2015-03-31")];
        let b = [p("2015-01-15..2015-03-10")];
        assert_eq!(
            intersect(&a, &b),
            vec![p("2015-01-15..2015-01-31"), p("2015-03-01..2015-03-10")]
        );
        assert!(intersect(&a, &[]).is_empty());
    }
}
