//! Events: every dated fact a partner delivered, packed per person bucket.
//!
//! Tree owned: `events` (person bucket u64, seq u32 → packed entries of
//! (person mod 8, 26-byte event)).
//!
//! Promises: a query sees only committed deliveries; an event of an older
//! delivery of a feed is hidden where a later committed delivery of the same
//! feed covers its dates (the later full extract replaces it); the packed
//! form round-trips every [`Event`].

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{read_u32, seq_bytes, DeliveryRecord, Store, StoreError, TreeId, Write};
use crate::ingest::matching::PersonId;
use crate::records::{Event, EventKind, Measure};

/// An event as stored, with the delivery it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEvent {
    pub person: PersonId,
    pub seq: u32,
    pub event: Event,
}

pub(super) const EVENT_LEN: usize = 26;
const NO_DATE: i32 = i32::MIN;

fn days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce()
}
fn from_days(v: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(v)
}

/// Packs an event into its fixed 26-byte stored form.
pub fn pack_event(e: &Event, out: &mut Vec<u8>) {
    out.push(e.kind as u8);
    out.push(e.code);
    out.extend_from_slice(&days(e.start).to_be_bytes());
    out.extend_from_slice(&e.end.map_or(NO_DATE, days).to_be_bytes());
    // The typed measure packs into the four numbers the format has always had.
    for v in e.measure.raw() {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub(super) fn unpack_events(bytes: &[u8]) -> Option<Vec<Event>> {
    if bytes.len() % EVENT_LEN != 0 {
        return None;
    }
    let i32at = |b: &[u8], i: usize| i32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    bytes
        .chunks_exact(EVENT_LEN)
        .map(|b| {
            let end = i32at(b, 6);
            let kind = EventKind::from_u8(b[0])?;
            Some(Event {
                kind,
                code: b[1],
                start: from_days(i32at(b, 2))?,
                end: if end == NO_DATE {
                    None
                } else {
                    Some(from_days(end)?)
                },
                measure: Measure::from_raw(
                    kind,
                    [i32at(b, 10), i32at(b, 14), i32at(b, 18), i32at(b, 22)],
                ),
            })
        })
        .collect()
}

/// A delivery's events, packed per person bucket as they are matched.
#[derive(Debug, Default)]
pub struct EventBuffer {
    buckets: BTreeMap<u64, Vec<u8>>,
    len: usize,
}

impl EventBuffer {
    pub fn push(&mut self, person: PersonId, e: &Event) {
        let b = self.buckets.entry(person >> 3).or_default();
        b.push((person & 7) as u8);
        pack_event(e, b);
        self.len += 1;
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Store {
    /// Writes a delivery's events: `groups` maps a person bucket to its
    /// packed entries (see [`EventBuffer`]).
    pub(super) fn put_events(&self, seq: u32, buffer: &EventBuffer) -> Result<(), StoreError> {
        for (bucket, packed) in &buffer.buckets {
            let mut k = [0u8; 12];
            k[..8].copy_from_slice(&bucket.to_be_bytes());
            k[8..].copy_from_slice(&seq_bytes(seq));
            self.trees
                .write(TreeId::Events, Write::Insert(&k, packed.as_slice()))?;
        }
        Ok(())
    }

    /// Removes the events written under `seq` (part of a sweep).
    pub(super) fn sweep_events(&self, seq: u32) -> Result<(), StoreError> {
        let s4 = seq_bytes(seq);
        for item in self.trees.iter(TreeId::Events) {
            let (k, _) = item?;
            if k.len() == 12 && k[8..] == s4 {
                self.trees.write(TreeId::Events, Write::Remove(&k))?;
            }
        }
        Ok(())
    }

    /// Visible events of the given people (pass every id merged into them)
    /// and kinds, overlapping `[from, to]`. An event from an older delivery
    /// of a feed is hidden where a later committed delivery of the same feed
    /// covers its dates (the later full extract replaces it).
    pub fn events(
        &self,
        persons: &[PersonId],
        kinds: &[EventKind],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        let mut buckets: Vec<u64> = persons.iter().map(|p| p >> 3).collect();
        buckets.sort_unstable();
        buckets.dedup();
        let kind_set: u128 = kinds.iter().fold(0, |a, k| a | (1u128 << (*k as u8)));
        for bucket in buckets {
            for item in self
                .trees
                .scan_prefix(TreeId::Events, &bucket.to_be_bytes())
            {
                let (k, v) = item?;
                let seq = read_u32(&k[8..]);
                let Some(rec) = self.committed.get(&seq) else {
                    continue;
                };
                if v.len() % (EVENT_LEN + 1) != 0 {
                    return Err(self.corrupt("event record length"));
                }
                let open_until = rec.period.map_or(to, |p| p.to);
                for entry in v.chunks_exact(EVENT_LEN + 1) {
                    let person = (bucket << 3) | u64::from(entry[0]);
                    if kind_set & (1u128 << entry[1]) == 0 || !persons.contains(&person) {
                        continue;
                    }
                    let ev = unpack_events(&entry[1..])
                        .and_then(|mut v| v.pop())
                        .ok_or_else(|| self.corrupt("event record"))?;
                    let last = ev.last_day(open_until);
                    if ev.start > to || last < from || self.superseded(rec, ev.start, last) {
                        continue;
                    }
                    out.push(StoredEvent {
                        person,
                        seq,
                        event: ev,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Every committed event of `persons` (ids as stored: pass every id
    /// merged into a person), hidden or not, in the order its delivery
    /// stored them. Ingest stores a row's event and its link together, row
    /// by row, so the n-th event of a person in a delivery is the event of
    /// that person's n-th linked row in it (how an evidence pack names the
    /// row an event came from).
    pub fn stored_events_in_order(
        &self,
        persons: &[PersonId],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        let mut buckets: Vec<u64> = persons.iter().map(|p| p >> 3).collect();
        buckets.sort_unstable();
        buckets.dedup();
        for bucket in buckets {
            for item in self
                .trees
                .scan_prefix(TreeId::Events, &bucket.to_be_bytes())
            {
                let (k, v) = item?;
                let seq = read_u32(&k[8..]);
                if !self.committed.contains_key(&seq) {
                    continue;
                }
                if v.len() % (EVENT_LEN + 1) != 0 {
                    return Err(self.corrupt("event record length"));
                }
                for entry in v.chunks_exact(EVENT_LEN + 1) {
                    let person = (bucket << 3) | u64::from(entry[0]);
                    if !persons.contains(&person) {
                        continue;
                    }
                    let event = unpack_events(&entry[1..])
                        .and_then(|mut v| v.pop())
                        .ok_or_else(|| self.corrupt("event record"))?;
                    out.push(StoredEvent { person, seq, event });
                }
            }
        }
        Ok(out)
    }

    /// Events in effect per delivery: those no later delivery of the same
    /// feed hides (for `status`; reads every event).
    pub fn events_in_effect(&self) -> Result<BTreeMap<u32, u64>, StoreError> {
        let mut out: BTreeMap<u32, u64> = BTreeMap::new();
        for item in self.trees.iter(TreeId::Events) {
            let (k, v) = item?;
            let seq = read_u32(&k[8..]);
            let Some(rec) = self.committed.get(&seq) else {
                continue;
            };
            if v.len() % (EVENT_LEN + 1) != 0 {
                return Err(self.corrupt("event record length"));
            }
            let later = self
                .committed
                .range(seq + 1..)
                .any(|(_, l)| l.feed == rec.feed && l.period.is_some());
            let open_until = rec.period.map_or(NaiveDate::MAX, |p| p.to);
            let mut n = 0;
            for entry in v.chunks_exact(EVENT_LEN + 1) {
                if later {
                    let ev = unpack_events(&entry[1..])
                        .and_then(|mut v| v.pop())
                        .ok_or_else(|| self.corrupt("event record"))?;
                    if self.superseded(rec, ev.start, ev.last_day(open_until)) {
                        continue;
                    }
                }
                n += 1;
            }
            *out.entry(seq).or_default() += n;
        }
        Ok(out)
    }

    pub(super) fn superseded(&self, rec: &DeliveryRecord, from: NaiveDate, to: NaiveDate) -> bool {
        self.committed.range(rec.seq + 1..).any(|(_, later)| {
            later.feed == rec.feed && later.period.is_some_and(|p| p.overlaps(from, to))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Period, SourceKind};
    use crate::store::deliveries::tests::{d, ev, record};
    use crate::store::Begin;

    #[test]
    fn pack_round_trip() {
        let mut e = ev(EventKind::Attendance, "2015-09-01");
        e.end = Some(d("2015-12-31"));
        let mut buf = Vec::new();
        pack_event(&e, &mut buf);
        pack_event(&ev(EventKind::Offence, "2016-01-01"), &mut buf);
        let back = unpack_events(&buf).unwrap();
        assert_eq!(back[0], e);
        assert_eq!(back.len(), 2);
        assert!(unpack_events(&buf[1..]).is_none());
    }

    #[test]
    fn later_delivery_supersedes_overlapping_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        for (hash, period, date) in [
            (1u8, "2015-01-01..2015-12-31", "2015-05-05"),
            (2, "2015-04-01..2016-03-31", "2016-01-01"),
        ] {
            let Begin::Started(seq) = s.begin("police", &[hash; 32]).unwrap() else {
                panic!()
            };
            let mut buf = EventBuffer::default();
            buf.push(7, &ev(EventKind::Offence, date));
            s.put_events(seq, &buf).unwrap();
            s.commit(record(seq, "police", period), &[hash; 32])
                .unwrap();
        }
        // The 2015-05-05 offence was in the first delivery only; the second
        // covers that date and does not list it: it was withdrawn.
        let got = s
            .events(
                &[7],
                &[EventKind::Offence],
                d("2015-01-01"),
                d("2016-12-31"),
            )
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event.start, d("2016-01-01"));
        assert_eq!(
            s.coverage(SourceKind::Police),
            vec![Period::parse("2015-01-01..2016-03-31").unwrap()]
        );
    }
}
