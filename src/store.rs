//! The store: pseudonymised people, families, events and claims in sled.
//!
//! In: the rows and matching deltas of one delivery. Out: queries for the
//! triangulation stage (all events of a set of people, by kind, within a date
//! window; the coverage of each source; cases and claims).
//!
//! Promises:
//! * **atomic deliveries.** sled batches grow slow and memory-hungry with
//!   size, so a delivery is not one batch. Every row is written under the
//!   delivery's sequence number after a `pending` marker; the delivery record
//!   written last, then a flush, is the commit. Rows of a delivery without a
//!   commit are invisible to queries and swept at the next open (or at once
//!   on an error), so a crash or kill at any point leaves either all of a
//!   delivery or none of it;
//! * **append-only.** No row is ever overwritten, so rollback is deletion;
//! * **a delivery counts once.** The same bytes for the same feed are found
//!   by content hash and stored nothing the second time;
//! * **one key.** Tokens are only comparable under one key: the store records
//!   the key id it was built with and refuses another;
//! * the schema version is checked at open; a newer store is refused.
//!
//! Trees (all integers big-endian so keys sort numerically):
//!
//! | tree | key | value |
//! |---|---|---|
//! | `events` | person u64, kind u8, seq u32 | packed events |
//! | `idx` | match token (16) | person u64, seq u32 |
//! | `amb` | match token (16) | seq u32 |
//! | `persons` | person u64 | seq u32, birth year i16, month u8 |
//! | `person_ids` | person u64, id kind u8 | token (16), seq u32 |
//! | `births` | person u64 | seq u32, year i16, month u8 |
//! | `alias` | person u64 | into u64, seq u32 |
//! | `addr` | address token (16), person u64 | seq u32 |
//! | `cases` | case ref, 0, seq u32 | JSON [`CaseRecord`] |
//! | `claims` | case ref, 0, outcome, 0, date | JSON [`ClaimRecord`] |
//! | `deliveries` | seq u32 | JSON [`DeliveryRecord`] (the commit) |
//! | `content` | feed, 0, sha256 | seq u32 |
//! | `pending` | seq u32 | feed name |
//! | `meta` | name | value |

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::feeds::{Event, EventKind, Period, Role, SourceKind};
use crate::matching::{Delta, IdKind, Matcher, PersonId};
use crate::pseudonymise::Token;

/// Bump when the layout changes; older binaries refuse newer stores.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {source}")]
    Sled {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("store at {path} has schema version {found}, newer than this outcomesd understands ({SCHEMA_VERSION}); upgrade outcomesd")]
    NewerSchema { path: PathBuf, found: u32 },
    #[error("store at {path} was built with HMAC key '{stored}' but key '{given}' is loaded; pseudonyms under different keys never match (see keys/README.md on rotation)")]
    WrongKey {
        path: PathBuf,
        stored: String,
        given: String,
    },
    #[error("store at {path} is damaged: {what}")]
    Corrupt { path: PathBuf, what: String },
}

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

/// One member of a keyworker case, pseudonymised.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaseMember {
    pub person: PersonId,
    pub role: Role,
    pub problems: Vec<String>,
    /// Household token (hex), if the case system gave an address.
    pub address: Option<String>,
}

/// A keyworker case as its latest delivery described it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaseRecord {
    pub case_ref: String,
    pub seq: u32,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub members: Vec<CaseMember>,
}

impl CaseRecord {
    /// The case's identified problems: the union over members.
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = self.members.iter().flat_map(|m| m.problems.clone()).collect();
        p.sort();
        p.dedup();
        p
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClaimRecord {
    pub seq: u32,
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub keyworker_ref: Option<String>,
}

/// An event as stored, with the delivery it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEvent {
    pub person: PersonId,
    pub seq: u32,
    pub event: Event,
}

const EVENT_LEN: usize = 26;
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
    for v in e.values {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn unpack_events(bytes: &[u8]) -> Option<Vec<Event>> {
    if bytes.len() % EVENT_LEN != 0 {
        return None;
    }
    let i32at = |b: &[u8], i: usize| i32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    bytes
        .chunks_exact(EVENT_LEN)
        .map(|b| {
            let end = i32at(b, 6);
            Some(Event {
                kind: EventKind::from_u8(b[0])?,
                code: b[1],
                start: from_days(i32at(b, 2))?,
                end: if end == NO_DATE { None } else { Some(from_days(end)?) },
                values: [i32at(b, 10), i32at(b, 14), i32at(b, 18), i32at(b, 22)],
            })
        })
        .collect()
}

fn seq_bytes(seq: u32) -> [u8; 4] {
    seq.to_be_bytes()
}
fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}
fn read_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// What `begin` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// Write the delivery's rows under this sequence number.
    Started(u32),
    /// The same bytes were already stored as this delivery.
    Duplicate(u32),
}

pub struct Store {
    path: PathBuf,
    db: sled::Db,
    events: sled::Tree,
    idx: sled::Tree,
    amb: sled::Tree,
    persons: sled::Tree,
    person_ids: sled::Tree,
    births: sled::Tree,
    alias: sled::Tree,
    addr: sled::Tree,
    cases: sled::Tree,
    claims: sled::Tree,
    deliveries: sled::Tree,
    content: sled::Tree,
    pending: sled::Tree,
    meta: sled::Tree,
    committed: BTreeMap<u32, DeliveryRecord>,
    next_seq: u32,
    known_addr: HashSet<(Token, PersonId)>,
}

impl Store {
    /// Opens (or creates) the store, checks schema and key, and sweeps any
    /// delivery that was not committed.
    pub fn open(dir: &Path, key_id: &str) -> Result<Store, StoreError> {
        let path = dir.to_path_buf();
        let e = |source| StoreError::Sled {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|x| e(sled::Error::Io(x)))?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(256 * 1024 * 1024)
            .open()
            .map_err(e)?;
        let t = |name: &str| db.open_tree(name).map_err(e);
        let mut store = Store {
            events: t("events")?,
            idx: t("idx")?,
            amb: t("amb")?,
            persons: t("persons")?,
            person_ids: t("person_ids")?,
            births: t("births")?,
            alias: t("alias")?,
            addr: t("addr")?,
            cases: t("cases")?,
            claims: t("claims")?,
            deliveries: t("deliveries")?,
            content: t("content")?,
            pending: t("pending")?,
            meta: t("meta")?,
            path,
            db,
            committed: BTreeMap::new(),
            next_seq: 1,
            known_addr: HashSet::new(),
        };
        store.check_meta(key_id)?;
        for item in store.deliveries.iter() {
            let (_, v) = item.map_err(e)?;
            let rec: DeliveryRecord = serde_json::from_slice(&v).map_err(|x| StoreError::Corrupt {
                path: store.path.clone(),
                what: format!("delivery record: {x}"),
            })?;
            store.committed.insert(rec.seq, rec);
        }
        let mut max_seq = store.committed.keys().next_back().copied().unwrap_or(0);
        let mut sweep = Vec::new();
        for item in store.pending.iter() {
            let (k, _) = item.map_err(e)?;
            let seq = read_u32(&k);
            max_seq = max_seq.max(seq);
            sweep.push(seq);
        }
        store.next_seq = max_seq + 1;
        for seq in sweep {
            if store.committed.contains_key(&seq) {
                store.pending.remove(seq_bytes(seq)).map_err(e)?;
            } else {
                tracing::warn!(seq, "sweeping a delivery that was not committed");
                store.sweep(seq)?;
            }
        }
        store.known_addr = store.load_addr()?;
        store.db.flush().map_err(e)?;
        Ok(store)
    }

    fn err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.path.clone(),
            source,
        }
    }

    fn check_meta(&self, key_id: &str) -> Result<(), StoreError> {
        let e = |s| self.err(s);
        match self.meta.get("schema").map_err(e)? {
            Some(v) => {
                let found = read_u32(&v);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path: self.path.clone(),
                        found,
                    });
                }
            }
            None => {
                self.meta
                    .insert("schema", &SCHEMA_VERSION.to_be_bytes())
                    .map_err(e)?;
            }
        }
        match self.meta.get("key_id").map_err(e)? {
            Some(v) if v.as_ref() != key_id.as_bytes() => Err(StoreError::WrongKey {
                path: self.path.clone(),
                stored: String::from_utf8_lossy(&v).into_owned(),
                given: key_id.to_string(),
            }),
            Some(_) => Ok(()),
            None => {
                self.meta.insert("key_id", key_id.as_bytes()).map_err(e)?;
                Ok(())
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rebuilds the matcher's state from the identity trees.
    pub fn load_matcher(&self) -> Result<Matcher, StoreError> {
        let e = |s| self.err(s);
        let mut m = Matcher::new();
        let birth = |v: &[u8]| -> Option<(i32, u32)> {
            let y = i16::from_be_bytes([v[4], v[5]]);
            (y != 0).then_some((i32::from(y), u32::from(v[6])))
        };
        for item in self.persons.iter() {
            let (k, v) = item.map_err(e)?;
            m.load_person(read_u64(&k), birth(&v));
        }
        for item in self.births.iter() {
            let (k, v) = item.map_err(e)?;
            m.load_person(read_u64(&k), birth(&v));
        }
        for item in self.idx.iter() {
            let (k, v) = item.map_err(e)?;
            m.load_key(k.as_ref().try_into().expect("16-byte token"), read_u64(&v));
        }
        for item in self.amb.iter() {
            let (k, _) = item.map_err(e)?;
            m.load_ambiguous(k.as_ref().try_into().expect("16-byte token"));
        }
        for item in self.person_ids.iter() {
            let (k, v) = item.map_err(e)?;
            let kind = IdKind::from_u8(k[8]).ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                what: "unknown identifier kind".into(),
            })?;
            m.load_id(read_u64(&k), kind, v[..16].try_into().expect("token"));
        }
        for item in self.alias.iter() {
            let (k, v) = item.map_err(e)?;
            m.load_merge(read_u64(&k), read_u64(&v));
        }
        Ok(m)
    }

    /// Starts a delivery: a duplicate is reported, otherwise a pending marker
    /// is made durable before any row is written.
    pub fn begin(&mut self, feed: &str, hash: &[u8; 32]) -> Result<Begin, StoreError> {
        if let Some(v) = self.content.get(content_key(feed, hash)).map_err(|s| self.err(s))? {
            return Ok(Begin::Duplicate(read_u32(&v)));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending
            .insert(seq_bytes(seq), feed.as_bytes())
            .map_err(|s| self.err(s))?;
        self.db.flush().map_err(|s| self.err(s))?;
        Ok(Begin::Started(seq))
    }

    /// Writes one person's events of one kind for a delivery.
    pub fn put_events(&self, seq: u32, person: PersonId, kind: EventKind, packed: &[u8]) -> Result<(), StoreError> {
        let mut k = [0u8; 13];
        k[..8].copy_from_slice(&person.to_be_bytes());
        k[8] = kind as u8;
        k[9..].copy_from_slice(&seq_bytes(seq));
        self.events.insert(k, packed).map_err(|s| self.err(s))?;
        Ok(())
    }

    /// Persists the matcher's changes for a delivery.
    pub fn put_delta(&self, seq: u32, d: &Delta) -> Result<(), StoreError> {
        let e = |s| self.err(s);
        let s4 = seq_bytes(seq);
        let birth_val = |b: Option<(i32, u32)>| {
            let mut v = [0u8; 7];
            v[..4].copy_from_slice(&s4);
            if let Some((y, m)) = b {
                v[4..6].copy_from_slice(&(y as i16).to_be_bytes());
                v[6] = m as u8;
            }
            v
        };
        for (p, b) in &d.new_persons {
            self.persons.insert(p.to_be_bytes(), &birth_val(*b)).map_err(e)?;
        }
        for (p, b) in &d.births {
            // first wins: a later delivery never overwrites (rollback is deletion)
            let _ = self
                .births
                .compare_and_swap(p.to_be_bytes(), None as Option<&[u8]>, Some(&birth_val(Some(*b))[..]))
                .map_err(e)?;
        }
        for (t, p) in &d.new_keys {
            let mut v = [0u8; 12];
            v[..8].copy_from_slice(&p.to_be_bytes());
            v[8..].copy_from_slice(&s4);
            self.idx.insert(t, &v).map_err(e)?;
        }
        for t in &d.new_ambiguous {
            self.amb.insert(t, &s4).map_err(e)?;
        }
        for (p, kind, t) in &d.new_ids {
            let mut k = [0u8; 9];
            k[..8].copy_from_slice(&p.to_be_bytes());
            k[8] = *kind as u8;
            let mut v = [0u8; 20];
            v[..16].copy_from_slice(t);
            v[16..].copy_from_slice(&s4);
            self.person_ids.insert(k, &v).map_err(e)?;
        }
        for (from, into) in &d.merges {
            let mut v = [0u8; 12];
            v[..8].copy_from_slice(&into.to_be_bytes());
            v[8..].copy_from_slice(&s4);
            self.alias.insert(from.to_be_bytes(), &v).map_err(e)?;
        }
        Ok(())
    }

    /// Links a person to a household address (once).
    pub fn put_address(&mut self, seq: u32, addr: Token, person: PersonId) -> Result<(), StoreError> {
        if self.known_addr.insert((addr, person)) {
            let mut k = [0u8; 24];
            k[..16].copy_from_slice(&addr);
            k[16..].copy_from_slice(&person.to_be_bytes());
            self.addr.insert(k, &seq_bytes(seq)).map_err(|s| self.err(s))?;
        }
        Ok(())
    }

    pub fn put_case(&self, case: &CaseRecord) -> Result<(), StoreError> {
        let mut k = case.case_ref.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&seq_bytes(case.seq));
        let v = serde_json::to_vec(case).expect("case serialises");
        self.cases.insert(k, v).map_err(|s| self.err(s))?;
        Ok(())
    }

    /// Stores a claim unless the same (case, outcome, date) is stored.
    /// Returns whether it was new.
    pub fn put_claim(&self, claim: &ClaimRecord) -> Result<bool, StoreError> {
        let k = claim_key(&claim.case_ref, &claim.outcome_id, claim.claim_date);
        if self.claims.contains_key(&k).map_err(|s| self.err(s))? {
            return Ok(false);
        }
        let v = serde_json::to_vec(claim).expect("claim serialises");
        self.claims.insert(k, v).map_err(|s| self.err(s))?;
        Ok(true)
    }

    /// Commits a delivery: the record is written last and flushed; only then
    /// is the delivery acknowledged.
    pub fn commit(&mut self, rec: DeliveryRecord, hash: &[u8; 32]) -> Result<(), StoreError> {
        let e = |s| self.err(s);
        let seq = rec.seq;
        self.content
            .insert(content_key(&rec.feed, hash), &seq_bytes(seq))
            .map_err(e)?;
        let v = serde_json::to_vec(&rec).expect("record serialises");
        self.deliveries.insert(seq_bytes(seq), v).map_err(e)?;
        self.db.flush().map_err(e)?;
        self.pending.remove(seq_bytes(seq)).map_err(e)?;
        self.committed.insert(seq, rec);
        Ok(())
    }

    /// Removes every row written under `seq` (an uncommitted delivery).
    pub fn sweep(&mut self, seq: u32) -> Result<(), StoreError> {
        let e = |s| self.err(s);
        let s4 = seq_bytes(seq);
        let by_key_tail = |tree: &sled::Tree| -> Result<(), sled::Error> {
            for item in tree.iter() {
                let (k, _) = item?;
                if k.len() >= 4 && k[k.len() - 4..] == s4 {
                    tree.remove(k)?;
                }
            }
            Ok(())
        };
        by_key_tail(&self.events).map_err(e)?;
        by_key_tail(&self.cases).map_err(e)?;
        let by_value = |tree: &sled::Tree, at: usize| -> Result<(), sled::Error> {
            for item in tree.iter() {
                let (k, v) = item?;
                if v.len() >= at + 4 && v[at..at + 4] == s4 {
                    tree.remove(k)?;
                }
            }
            Ok(())
        };
        by_value(&self.idx, 8).map_err(e)?;
        by_value(&self.amb, 0).map_err(e)?;
        by_value(&self.persons, 0).map_err(e)?;
        by_value(&self.births, 0).map_err(e)?;
        by_value(&self.person_ids, 16).map_err(e)?;
        by_value(&self.alias, 8).map_err(e)?;
        by_value(&self.addr, 0).map_err(e)?;
        for item in self.claims.iter() {
            let (k, v) = item.map_err(e)?;
            if serde_json::from_slice::<ClaimRecord>(&v).is_ok_and(|c| c.seq == seq) {
                self.claims.remove(k).map_err(e)?;
            }
        }
        self.db.flush().map_err(e)?;
        self.pending.remove(s4).map_err(e)?;
        self.db.flush().map_err(e)?;
        self.known_addr = self.load_addr()?;
        Ok(())
    }

    fn load_addr(&self) -> Result<HashSet<(Token, PersonId)>, StoreError> {
        let mut set = HashSet::new();
        for item in self.addr.iter() {
            let (k, _) = item.map_err(|s| self.err(s))?;
            let mut t = [0u8; 16];
            t.copy_from_slice(&k[..16]);
            set.insert((t, read_u64(&k[16..])));
        }
        Ok(set)
    }

    // ---- queries ----

    pub fn deliveries(&self) -> impl Iterator<Item = &DeliveryRecord> {
        self.committed.values()
    }

    pub fn delivery(&self, seq: u32) -> Option<&DeliveryRecord> {
        self.committed.get(&seq)
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

    /// Visible events of the given people (all ids merged into them) and
    /// kinds, overlapping `[from, to]`. An event from an older delivery of a
    /// feed is hidden where a later committed delivery of the same feed
    /// covers its dates (the later full extract replaces it).
    pub fn events(
        &self,
        persons: &[PersonId],
        kinds: &[EventKind],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        for &p in persons {
            for &kind in kinds {
                let mut prefix = [0u8; 9];
                prefix[..8].copy_from_slice(&p.to_be_bytes());
                prefix[8] = kind as u8;
                for item in self.events.scan_prefix(prefix) {
                    let (k, v) = item.map_err(|s| self.err(s))?;
                    let seq = read_u32(&k[9..]);
                    let Some(rec) = self.committed.get(&seq) else { continue };
                    let evs = unpack_events(&v).ok_or_else(|| StoreError::Corrupt {
                        path: self.path.clone(),
                        what: "event record".into(),
                    })?;
                    let open_until = rec.period.map_or(to, |p| p.to);
                    for ev in evs {
                        let last = ev.last_day(open_until);
                        if ev.start > to || last < from {
                            continue;
                        }
                        if self.superseded(rec, ev.start, last) {
                            continue;
                        }
                        out.push(StoredEvent {
                            person: p,
                            seq,
                            event: ev,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    fn superseded(&self, rec: &DeliveryRecord, from: NaiveDate, to: NaiveDate) -> bool {
        self.committed
            .range(rec.seq + 1..)
            .any(|(_, later)| later.feed == rec.feed && later.period.is_some_and(|p| p.overlaps(from, to)))
    }

    /// The latest committed record of every case.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        let mut latest: BTreeMap<String, CaseRecord> = BTreeMap::new();
        for item in self.cases.iter() {
            let (_, v) = item.map_err(|s| self.err(s))?;
            let c: CaseRecord = serde_json::from_slice(&v).map_err(|x| StoreError::Corrupt {
                path: self.path.clone(),
                what: format!("case record: {x}"),
            })?;
            if !self.committed.contains_key(&c.seq) {
                continue;
            }
            latest.insert(c.case_ref.clone(), c); // keys sort by seq within a case
        }
        Ok(latest.into_values().collect())
    }

    pub fn case(&self, case_ref: &str) -> Result<Option<CaseRecord>, StoreError> {
        let mut prefix = case_ref.as_bytes().to_vec();
        prefix.push(0);
        let mut best = None;
        for item in self.cases.scan_prefix(prefix) {
            let (_, v) = item.map_err(|s| self.err(s))?;
            let c: CaseRecord = serde_json::from_slice(&v).map_err(|x| StoreError::Corrupt {
                path: self.path.clone(),
                what: format!("case record: {x}"),
            })?;
            if self.committed.contains_key(&c.seq) {
                best = Some(c);
            }
        }
        Ok(best)
    }

    pub fn claims(&self) -> Result<Vec<ClaimRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.claims.iter() {
            let (_, v) = item.map_err(|s| self.err(s))?;
            let c: ClaimRecord = serde_json::from_slice(&v).map_err(|x| StoreError::Corrupt {
                path: self.path.clone(),
                what: format!("claim record: {x}"),
            })?;
            if self.committed.contains_key(&c.seq) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// People linked to a household address.
    pub fn household(&self, addr: &Token) -> Result<Vec<PersonId>, StoreError> {
        let mut out = Vec::new();
        for item in self.addr.scan_prefix(addr) {
            let (k, v) = item.map_err(|s| self.err(s))?;
            if self.committed.contains_key(&read_u32(&v)) {
                out.push(read_u64(&k[16..]));
            }
        }
        Ok(out)
    }

    /// Counts for `status`: rows per tree.
    pub fn counts(&self) -> HashMap<&'static str, usize> {
        let mut m = HashMap::new();
        m.insert("event groups", self.events.len());
        m.insert("persons", self.persons.len());
        m.insert("merges", self.alias.len());
        m.insert("household links", self.addr.len());
        m.insert("case versions", self.cases.len());
        m.insert("claims", self.claims.len());
        m
    }

    /// Bytes on disk (approximate, from sled).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// A general-purpose tree for later stages (verdicts, outbox).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.db.open_tree(name).map_err(|s| self.err(s))
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(|s| self.err(s))?;
        Ok(())
    }
}

fn content_key(feed: &str, hash: &[u8; 32]) -> Vec<u8> {
    let mut k = feed.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(hash);
    k
}

fn claim_key(case_ref: &str, outcome: &str, date: NaiveDate) -> Vec<u8> {
    let mut k = case_ref.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(outcome.as_bytes());
    k.push(0);
    k.extend_from_slice(date.to_string().as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn ev(kind: EventKind, start: &str) -> Event {
        Event {
            kind,
            start: d(start),
            end: None,
            code: 0,
            values: [1, 2, 3, -4],
        }
    }

    fn record(seq: u32, feed: &str, period: &str) -> DeliveryRecord {
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
    fn uncommitted_rows_are_invisible_and_swept_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path(), "k1").unwrap();
            let Begin::Started(seq) = s.begin("police", &[1; 32]).unwrap() else { panic!() };
            let mut buf = Vec::new();
            pack_event(&ev(EventKind::Offence, "2015-05-05"), &mut buf);
            s.put_events(seq, 7, EventKind::Offence, &buf).unwrap();
            let got = s.events(&[7], &[EventKind::Offence], d("2015-01-01"), d("2015-12-31")).unwrap();
            assert!(got.is_empty(), "uncommitted rows must not be visible");
            s.flush().unwrap();
            // dropped without commit: a crash
        }
        let s = Store::open(dir.path(), "k1").unwrap();
        assert_eq!(s.events.len(), 0, "swept at open");
        assert_eq!(s.pending.len(), 0);
    }

    #[test]
    fn committed_rows_survive_reopen_and_duplicates_are_found() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path(), "k1").unwrap();
            let Begin::Started(seq) = s.begin("police", &[1; 32]).unwrap() else { panic!() };
            let mut buf = Vec::new();
            pack_event(&ev(EventKind::Offence, "2015-05-05"), &mut buf);
            s.put_events(seq, 7, EventKind::Offence, &buf).unwrap();
            s.commit(record(seq, "police", "2015-01-01..2015-12-31"), &[1; 32]).unwrap();
        }
        let mut s = Store::open(dir.path(), "k1").unwrap();
        let got = s.events(&[7], &[EventKind::Offence], d("2015-01-01"), d("2015-12-31")).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(s.begin("police", &[1; 32]).unwrap(), Begin::Duplicate(1));
        assert!(matches!(s.begin("police", &[2; 32]).unwrap(), Begin::Started(2)));
    }

    #[test]
    fn later_delivery_supersedes_overlapping_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        for (hash, period, date) in [(1u8, "2015-01-01..2015-12-31", "2015-05-05"), (2, "2015-04-01..2016-03-31", "2016-01-01")] {
            let Begin::Started(seq) = s.begin("police", &[hash; 32]).unwrap() else { panic!() };
            let mut buf = Vec::new();
            pack_event(&ev(EventKind::Offence, date), &mut buf);
            s.put_events(seq, 7, EventKind::Offence, &buf).unwrap();
            s.commit(record(seq, "police", period), &[hash; 32]).unwrap();
        }
        // The 2015-05-05 offence was in the first delivery only; the second
        // covers that date and does not list it: it was withdrawn.
        let got = s.events(&[7], &[EventKind::Offence], d("2015-01-01"), d("2016-12-31")).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event.start, d("2016-01-01"));
        assert_eq!(s.coverage(SourceKind::Police), vec![Period::parse("2015-01-01..2016-03-31").unwrap()]);
    }

    #[test]
    fn wrong_key_and_newer_schema_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), "k1").unwrap());
        let err = Store::open(dir.path(), "k2").err().unwrap().to_string();
        assert!(err.contains("'k1'") && err.contains("'k2'"), "{err}");
        {
            let s = Store::open(dir.path(), "k1").unwrap();
            s.meta.insert("schema", &99u32.to_be_bytes()).unwrap();
            s.flush().unwrap();
        }
        let err = Store::open(dir.path(), "k1").err().unwrap();
        assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }));
    }
}
