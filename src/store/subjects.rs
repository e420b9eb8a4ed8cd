//! Data subjects: restrictions, erasures, and everything held of a person.
//!
//! Tree owned: `subjects` (`r`, 0, person u64 → JSON [`Restriction`]: the
//! person's records are not used in decisions; `e`, 0, person u64 → JSON
//! [`Erasure`]: the person was erased, and why).
//!
//! In: stored person ids (every id merged into the person: the caller
//! passes the matcher's `members`). Out: a person's held events (in
//! effect or hidden by a later extract), restrictions, and [`Store::erase`],
//! which deletes a person's events, identity-log entries, links, review
//! items and case memberships through the write path.
//!
//! Promises:
//! * an erasure leaves no value naming the person in any tree except its
//!   own `e` record (person numbers, who, when, why: no identifier) and the
//!   identity log's new-person entry with its birth blanked, which keeps
//!   the number from being given to someone else;
//! * an erasure is made physically true by the store's rewrite
//!   ([`super::rewrite`]): it sets `rewrite_pending` before it returns, and
//!   the next open copies every live value into a fresh database and
//!   deletes the old files (sled keeps overwritten values in its log
//!   segments until they are reclaimed, so a removal alone is not enough);
//! * restrictions and erasure records are flushed before their call returns.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::EVENT_LEN;
use super::links::{NARROW_LEN, PACKED, RUNNER_LEN};
use super::{read_u32, CaseRecord, ReviewDecision, Store, StoreError, StoredEvent, TreeId, Write};
use crate::ingest::matching::PersonId;

/// A restriction of processing (UK GDPR Article 18) on one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// The record an erasure leaves: no identifier, only that it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// What [`Store::erase`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub events: u64,
    /// Identity-log entries dropped (strong-id tokens, births, spellings,
    /// household links, merges) and new-person entries blanked.
    pub identity_entries: u64,
    pub links: u64,
    pub review_items: u64,
    pub review_decisions: u64,
    /// Case versions the person was removed from.
    pub case_versions: u64,
    /// The cases they were a member of (their claims are re-decided).
    pub cases: Vec<String>,
}

/// A held event, and whether a later extract of its feed hides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldEvent {
    pub stored: StoredEvent,
    pub in_effect: bool,
}

fn key(tag: u8, p: PersonId) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = tag;
    k[2..].copy_from_slice(&p.to_be_bytes());
    k
}

/// The meta key that says a rewrite is owed (see [`super::rewrite`]).
pub(super) const REWRITE_PENDING: &[u8] = b"rewrite_pending";

impl Store {
    /// Restricts processing of `person`'s records (replacing an earlier
    /// restriction of the same person), flushed.
    pub fn restrict(&self, person: PersonId, r: &Restriction) -> Result<(), StoreError> {
        let v = serde_json::to_vec(r).expect("restriction serialises");
        self.trees
            .write(TreeId::Subjects, Write::Insert(&key(b'r', person), &v))?;
        self.flush()
    }

    /// Lifts a restriction; `false` if there was none.
    pub fn unrestrict(&self, person: PersonId) -> Result<bool, StoreError> {
        let k = key(b'r', person);
        if self.trees.get(TreeId::Subjects, &k)?.is_none() {
            return Ok(false);
        }
        self.trees.write(TreeId::Subjects, Write::Remove(&k))?;
        self.flush()?;
        Ok(true)
    }

    fn subject_records<T: serde::de::DeserializeOwned>(
        &self,
        tag: u8,
    ) -> Result<BTreeMap<PersonId, T>, StoreError> {
        let mut out = BTreeMap::new();
        for item in self.trees.scan_prefix(TreeId::Subjects, &[tag, 0]) {
            let (k, v) = item?;
            if k.len() != 10 {
                return Err(self.corrupt("a subject record key is malformed"));
            }
            let p = u64::from_be_bytes(k[2..].try_into().expect("8 bytes"));
            let r = serde_json::from_slice(&v)
                .map_err(|e| self.corrupt(format!("subject record: {e}")))?;
            out.insert(p, r);
        }
        Ok(out)
    }

    /// Every restriction, by the person number it was placed on.
    pub fn restrictions(&self) -> Result<BTreeMap<PersonId, Restriction>, StoreError> {
        self.subject_records(b'r')
    }

    /// Every erasure, by person number.
    pub fn erasures(&self) -> Result<BTreeMap<PersonId, Erasure>, StoreError> {
        self.subject_records(b'e')
    }

    /// When the last retention purge ran (`None`: never).
    pub fn last_purge(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(v) = self.trees.get(TreeId::Meta, b"last_purge")? else {
            return Ok(None);
        };
        let t = std::str::from_utf8(&v)
            .ok()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| self.corrupt("last_purge is not a time"))?;
        Ok(Some(t.with_timezone(&Utc)))
    }

    /// Records when a retention purge ran, flushed.
    pub fn set_last_purge(&self, t: DateTime<Utc>) -> Result<(), StoreError> {
        self.trees.write(
            TreeId::Meta,
            Write::Insert(b"last_purge", t.to_rfc3339().as_bytes()),
        )?;
        self.flush()
    }

    /// Every committed event stored under `ids`, hidden or not, each with
    /// whether a later delivery replaced it.
    pub fn events_held(&self, ids: &[PersonId]) -> Result<Vec<HeldEvent>, StoreError> {
        Ok(self
            .stored_events_in_order(ids)?
            .into_iter()
            .map(|stored| {
                // Only committed deliveries' events are returned.
                let rec = &self.committed[&stored.seq];
                let open_until = rec.period.map_or(chrono::NaiveDate::MAX, |p| p.to);
                let ev = &stored.event;
                let in_effect = !self.superseded(rec, ev.start, ev.last_day(open_until));
                HeldEvent { stored, in_effect }
            })
            .collect())
    }

    /// Deletes everything stored of the people `ids` (pass every id merged
    /// into each), records the erasure under each id, and marks the store
    /// for a rewrite, flushed. The caller reloads the matcher, re-decides
    /// the returned cases' claims, then reopens the store (which rewrites
    /// it).
    pub fn erase(&mut self, ids: &HashSet<PersonId>, why: &Erasure) -> Result<Erased, StoreError> {
        let mut e = Erased::default();
        self.erase_events(ids, &mut e)?;
        self.erase_identity(ids, &mut e)?;
        let rows = self.erase_packed(ids, &mut e)?;
        self.erase_reviews(ids, &rows, &mut e)?;
        e.cases = self.erase_memberships(ids, &mut e)?.into_iter().collect();
        let v = serde_json::to_vec(why).expect("erasure serialises");
        for &p in ids {
            self.trees
                .write(TreeId::Subjects, Write::Remove(&key(b'r', p)))?;
            self.trees
                .write(TreeId::Subjects, Write::Insert(&key(b'e', p), &v))?;
        }
        self.mark_for_rewrite("erasure")?;
        Ok(e)
    }

    fn erase_events(&self, ids: &HashSet<PersonId>, e: &mut Erased) -> Result<(), StoreError> {
        let buckets: BTreeSet<u64> = ids.iter().map(|p| p >> 3).collect();
        for bucket in buckets {
            let items: Vec<_> = self
                .trees
                .scan_prefix(TreeId::Events, &bucket.to_be_bytes())
                .collect::<Result<_, _>>()?;
            for (k, v) in items {
                let mut kept = Vec::with_capacity(v.len());
                for entry in v.chunks_exact(EVENT_LEN + 1) {
                    if ids.contains(&((bucket << 3) | u64::from(entry[0]))) {
                        e.events += 1;
                    } else {
                        kept.extend_from_slice(entry);
                    }
                }
                if kept.len() == v.len() {
                    continue;
                }
                self.replace(TreeId::Events, &k, &kept)?;
            }
        }
        Ok(())
    }

    /// Writes `v` under `k`, or removes `k` when `v` is empty.
    fn replace(&self, t: TreeId, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        if v.is_empty() {
            self.trees.write(t, Write::Remove(k))
        } else {
            self.trees.write(t, Write::Insert(k, v))
        }
    }

    fn erase_identity(&self, ids: &HashSet<PersonId>, e: &mut Erased) -> Result<(), StoreError> {
        let items: Vec<_> = self
            .trees
            .iter(TreeId::Identity)
            .collect::<Result<_, _>>()?;
        for (k, v) in items {
            let erased = crate::ingest::matching::erase_persons(&v, ids)
                .map_err(|x| self.corrupt(x.to_string()))?;
            if let Some((kept, n)) = erased {
                e.identity_entries += (n.entries + n.blanked) as u64;
                self.replace(TreeId::Identity, &k, &kept)?;
            }
        }
        Ok(())
    }

    /// Links, runners-up and uncertain links: every packed record starts
    /// with its row (4 bytes) and then a person (8). Returns the (delivery,
    /// row) of the erased people's rows.
    fn erase_packed(
        &self,
        ids: &HashSet<PersonId>,
        e: &mut Erased,
    ) -> Result<HashSet<(u32, u32)>, StoreError> {
        let person = |b: &[u8]| u64::from_be_bytes(b[4..12].try_into().expect("8 bytes"));
        let mut rows = HashSet::new();
        for (tree, len) in [
            (TreeId::Links, PACKED),
            (TreeId::Narrow, NARROW_LEN),
            (TreeId::Runners, RUNNER_LEN),
        ] {
            let items: Vec<_> = self.trees.iter(tree).collect::<Result<_, _>>()?;
            for (k, v) in items {
                let seq = read_u32(&k);
                let mut kept = Vec::with_capacity(v.len());
                for b in v.chunks(len) {
                    let row = read_u32(&b[..4]);
                    let theirs = b.len() == len
                        && (ids.contains(&person(b))
                            || (tree == TreeId::Runners && rows.contains(&(seq, row))));
                    if theirs {
                        if tree == TreeId::Links {
                            rows.insert((seq, row));
                            e.links += 1;
                        }
                    } else {
                        kept.extend_from_slice(b);
                    }
                }
                if kept.len() != v.len() {
                    self.replace(tree, &k, &kept)?;
                }
            }
        }
        Ok(rows)
    }

    fn erase_reviews(
        &self,
        ids: &HashSet<PersonId>,
        rows: &HashSet<(u32, u32)>,
        e: &mut Erased,
    ) -> Result<(), StoreError> {
        let p = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
        let items: Vec<_> = self.trees.iter(TreeId::Reviews).collect::<Result<_, _>>()?;
        for (k, v) in items {
            let theirs = v.len() >= 17
                && (ids.contains(&p(&v[1..9]))
                    || ids.contains(&p(&v[9..17]))
                    || rows.contains(&(read_u32(&k[..4]), read_u32(&k[4..8]))));
            if theirs {
                self.trees.write(TreeId::Reviews, Write::Remove(&k))?;
                e.review_items += 1;
            }
        }
        let items: Vec<_> = self
            .trees
            .iter(TreeId::ReviewDecisions)
            .collect::<Result<_, _>>()?;
        for (k, v) in items {
            let d: ReviewDecision = serde_json::from_slice(&v)
                .map_err(|x| self.corrupt(format!("review decision: {x}")))?;
            if ids.contains(&d.person) || ids.contains(&d.candidate) {
                self.trees
                    .write(TreeId::ReviewDecisions, Write::Remove(&k))?;
                e.review_decisions += 1;
            }
        }
        Ok(())
    }

    fn erase_memberships(
        &self,
        ids: &HashSet<PersonId>,
        e: &mut Erased,
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut cases = BTreeSet::new();
        let items: Vec<_> = self.trees.iter(TreeId::Cases).collect::<Result<_, _>>()?;
        for (k, v) in items {
            let mut c: CaseRecord = serde_json::from_slice(&v)
                .map_err(|x| self.corrupt(format!("case record: {x}")))?;
            let before = c.members.len();
            c.members.retain(|m| !ids.contains(&m.person));
            if c.members.len() != before {
                let v = serde_json::to_vec(&c).expect("case serialises");
                self.trees.write(TreeId::Cases, Write::Insert(&k, &v))?;
                e.case_versions += 1;
                cases.insert(c.case_ref);
            }
        }
        Ok(cases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::matching::Delta;
    use crate::records::{EventKind, Period, SourceKind};
    use crate::store::deliveries::tests::{d, ev};
    use crate::store::{Begin, CaseMember, DeliveryRecord, DeliveryRows, EventBuffer};

    #[test]
    fn erase_removes_every_value_naming_the_person_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        let Begin::Started(seq) = s.begin("cases", &[1; 32]).unwrap() else {
            panic!()
        };
        let mut buf = EventBuffer::default();
        // 9 and 10 share a bucket with nobody; 8 shares 9's (8 >> 3 == 1).
        for p in [8, 9, 10] {
            buf.push(p, &ev(EventKind::Offence, "2015-05-05"));
        }
        let mut delta = Delta::default();
        for p in [8, 9, 10] {
            delta.new_persons.push((p, Some((1990, 1))));
        }
        delta.merges.push((10, 9));
        delta.addresses.push(([7; 16], 9));
        delta.addresses.push(([7; 16], 8));
        let member = |p| CaseMember {
            person: p,
            role: crate::records::Role::Adult,
            problems: vec!["crime".into()],
            address: Some(hex::encode([7u8; 16])),
        };
        let case = CaseRecord {
            case_ref: "C1".into(),
            seq,
            start: d("2015-01-01"),
            end: None,
            members: vec![member(8), member(9)],
        };
        let rows = DeliveryRows {
            delta: &delta,
            events: &buf,
            cases: &[&case],
            claims: &[],
            reviews: &[],
            narrow: &[],
        };
        let rec = DeliveryRecord {
            seq,
            feed: "cases".into(),
            kind: SourceKind::Police,
            period: Period::parse("2015-01-01..2015-12-31"),
            content_hash: String::new(),
            received_at: Utc::now(),
            rows: 3,
            accepted: 3,
            rejected: 0,
            persons_new: 3,
            records_matched: 0,
            families_touched: 1,
        };
        s.write_delivery(rows, rec, &[1; 32]).unwrap();
        s.restrict(
            9,
            &Restriction {
                by: "t".into(),
                at: Utc::now(),
                reason: "r".into(),
            },
        )
        .unwrap();
        let ids: HashSet<PersonId> = [9, 10].into_iter().collect();
        let why = Erasure {
            by: "t".into(),
            at: Utc::now(),
            reason: "article 17".into(),
        };
        let e = s.erase(&ids, &why).unwrap();
        assert_eq!(e.events, 2);
        assert_eq!(e.cases, ["C1"]);
        assert_eq!(e.case_versions, 1);
        // Two births blanked, one merge and one address dropped.
        assert_eq!(e.identity_entries, 4);
        assert_eq!(s.events_held(&[8, 9, 10]).unwrap().len(), 1);
        assert_eq!(s.case("C1").unwrap().unwrap().members, vec![member(8)]);
        assert!(s.restrictions().unwrap().is_empty());
        assert_eq!(s.erasures().unwrap().len(), 2);
        assert!(s.rewrite_pending().unwrap());
        let m = s.load_matcher().unwrap();
        assert_eq!(m.person_count(), 11, "numbers stay taken");
        assert_eq!(m.person(9).unwrap().birth, None);
        assert_eq!(m.person(8).unwrap().birth, Some((1990, 1)));
        assert_eq!(m.household(&[7; 16]), &[8]);
        assert_ne!(m.canonical(10), 9, "the merge is gone");
        assert!(s.check().unwrap().is_clean());
    }
}
