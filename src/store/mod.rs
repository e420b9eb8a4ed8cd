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
//! | `events` | person bucket u64 (person / 8), seq u32 | packed (person mod 8, event) entries |
//! | `identity` | seq u32, chunk u32 | encoded matching [`Delta`] (the identity log) |
//! | `cases` | case ref, 0, seq u32 | JSON [`CaseRecord`] |
//! | `claims` | case ref, 0, outcome, 0, date | JSON [`ClaimRecord`] |
//! | `deliveries` | seq u32 | JSON [`DeliveryRecord`] (the commit) |
//! | `content` | feed, 0, sha256 | seq u32 |
//! | `pending` | seq u32 | feed name |
//! | `meta` | name | value |
//!
//! Why these shapes: the matcher's index is rebuilt in memory from the
//! identity log at open (replaying a few hundred large values is far cheaper
//! than millions of per-key inserts at ingest), and events are grouped by
//! person bucket per delivery so one delivery of a million rows is tens of
//! thousands of inserts while a family's events are still a handful of
//! prefix scans.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ingest::matching::{Delta, Matcher, PersonId};
use crate::records::{Event, EventKind, Measure, Period, Role, SourceKind};

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
    #[error("store at {path} is in use by another outcomesd process (is the daemon running? stop it, or read /healthz and /metrics instead)")]
    InUse { path: PathBuf },
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
        let mut p: Vec<String> = self
            .members
            .iter()
            .flat_map(|m| m.problems.clone())
            .collect();
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
    // The typed measure packs into the four numbers the format has always had.
    for v in e.measure.raw() {
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

fn seq_bytes(seq: u32) -> [u8; 4] {
    seq.to_be_bytes()
}
fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
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
    identity: sled::Tree,
    cases: sled::Tree,
    claims: sled::Tree,
    deliveries: sled::Tree,
    content: sled::Tree,
    pending: sled::Tree,
    meta: sled::Tree,
    committed: BTreeMap<u32, DeliveryRecord>,
    next_seq: u32,
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
        // sled's background flusher can hold the file lock for a moment
        // after a previous handle (or a just-stopped process) is dropped, so
        // a busy lock is retried briefly before it is reported as in use.
        let mut attempt = 0;
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(256 * 1024 * 1024)
                .open()
            {
                Ok(db) => break db,
                Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                    attempt += 1;
                    if attempt >= 60 {
                        return Err(StoreError::InUse { path });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(err) => return Err(e(err)),
            }
        };
        let t = |name: &str| db.open_tree(name).map_err(e);
        let mut store = Store {
            events: t("events")?,
            identity: t("identity")?,
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
        };
        store.check_meta(key_id)?;
        for item in store.deliveries.iter() {
            let (_, v) = item.map_err(e)?;
            let rec: DeliveryRecord =
                serde_json::from_slice(&v).map_err(|x| StoreError::Corrupt {
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

    /// Rebuilds the matcher's state by replaying the identity log.
    pub fn load_matcher(&self) -> Result<Matcher, StoreError> {
        let mut m = Matcher::new();
        for item in self.identity.iter() {
            let (k, v) = item.map_err(|s| self.err(s))?;
            if !self.committed.contains_key(&read_u32(&k)) {
                continue;
            }
            m.apply_encoded(&v).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                what: e.to_string(),
            })?;
        }
        Ok(m)
    }

    /// Starts a delivery: a duplicate is reported, otherwise a pending marker
    /// is made durable before any row is written.
    pub fn begin(&mut self, feed: &str, hash: &[u8; 32]) -> Result<Begin, StoreError> {
        if let Some(v) = self
            .content
            .get(content_key(feed, hash))
            .map_err(|s| self.err(s))?
        {
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

    /// Writes a delivery's events: `groups` maps a person bucket to its
    /// packed entries (see [`EventBuffer`]).
    pub fn put_events(&self, seq: u32, buffer: &EventBuffer) -> Result<(), StoreError> {
        for (bucket, packed) in &buffer.buckets {
            let mut k = [0u8; 12];
            k[..8].copy_from_slice(&bucket.to_be_bytes());
            k[8..].copy_from_slice(&seq_bytes(seq));
            self.events
                .insert(k, packed.as_slice())
                .map_err(|s| self.err(s))?;
        }
        Ok(())
    }

    /// Appends the matcher's changes for a delivery to the identity log.
    pub fn put_delta(&self, seq: u32, d: &Delta) -> Result<(), StoreError> {
        let bytes = d.encode();
        // Values of ~1 MiB keep sled's pages reasonable.
        for (i, chunk) in chunk_entries(&bytes, 1 << 20).enumerate() {
            let mut k = [0u8; 8];
            k[..4].copy_from_slice(&seq_bytes(seq));
            k[4..].copy_from_slice(&(i as u32).to_be_bytes());
            self.identity.insert(k, chunk).map_err(|s| self.err(s))?;
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
        for item in self.events.iter() {
            let (k, _) = item.map_err(e)?;
            if k.len() == 12 && k[8..] == s4 {
                self.events.remove(k).map_err(e)?;
            }
        }
        for item in self.cases.iter() {
            let (k, _) = item.map_err(e)?;
            if k.len() >= 4 && k[k.len() - 4..] == s4 {
                self.cases.remove(k).map_err(e)?;
            }
        }
        for item in self.identity.scan_prefix(s4) {
            let (k, _) = item.map_err(e)?;
            self.identity.remove(k).map_err(e)?;
        }
        for item in self.claims.iter() {
            let (k, v) = item.map_err(e)?;
            if serde_json::from_slice::<ClaimRecord>(&v).is_ok_and(|c| c.seq == seq) {
                self.claims.remove(k).map_err(e)?;
            }
        }
        self.db.flush().map_err(e)?;
        self.pending.remove(s4).map_err(e)?;
        self.db.flush().map_err(e)?;
        Ok(())
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
            for item in self.events.scan_prefix(bucket.to_be_bytes()) {
                let (k, v) = item.map_err(|s| self.err(s))?;
                let seq = read_u32(&k[8..]);
                let Some(rec) = self.committed.get(&seq) else {
                    continue;
                };
                if v.len() % (EVENT_LEN + 1) != 0 {
                    return Err(StoreError::Corrupt {
                        path: self.path.clone(),
                        what: "event record length".into(),
                    });
                }
                let open_until = rec.period.map_or(to, |p| p.to);
                for entry in v.chunks_exact(EVENT_LEN + 1) {
                    let person = (bucket << 3) | u64::from(entry[0]);
                    if kind_set & (1u128 << entry[1]) == 0 || !persons.contains(&person) {
                        continue;
                    }
                    let ev = unpack_events(&entry[1..])
                        .and_then(|mut v| v.pop())
                        .ok_or_else(|| StoreError::Corrupt {
                            path: self.path.clone(),
                            what: "event record".into(),
                        })?;
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

    fn superseded(&self, rec: &DeliveryRecord, from: NaiveDate, to: NaiveDate) -> bool {
        self.committed.range(rec.seq + 1..).any(|(_, later)| {
            later.feed == rec.feed && later.period.is_some_and(|p| p.overlaps(from, to))
        })
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

    /// Counts for `status`: rows per tree.
    pub fn counts(&self) -> HashMap<&'static str, usize> {
        let mut m = HashMap::new();
        m.insert("event buckets", self.events.len());
        m.insert("identity log chunks", self.identity.len());
        m.insert("case versions", self.cases.len());
        m.insert("claims", self.claims.len());
        m
    }

    /// Bytes on disk (approximate, from sled).
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// The stored decision on a claim, if any.
    pub fn verdict(
        &self,
        case_ref: &str,
        outcome: &str,
        date: NaiveDate,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.tree("verdicts")?;
        Ok(t.get(claim_key(case_ref, outcome, date))
            .map_err(|s| self.err(s))?
            .map(|v| v.to_vec()))
    }

    /// Stores a claim's decision (derived data: recomputable from the
    /// deliveries, so not part of a delivery's commit).
    pub fn put_verdict(
        &self,
        case_ref: &str,
        outcome: &str,
        date: NaiveDate,
        json: &[u8],
    ) -> Result<(), StoreError> {
        let t = self.tree("verdicts")?;
        t.insert(claim_key(case_ref, outcome, date), json)
            .map_err(|s| self.err(s))?;
        Ok(())
    }

    /// Every stored decision, as JSON.
    pub fn verdicts(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let t = self.tree("verdicts")?;
        t.iter()
            .values()
            .map(|v| v.map(|v| v.to_vec()).map_err(|s| self.err(s)))
            .collect()
    }

    /// The newest committed delivery: the data state a decision was made on.
    pub fn last_seq(&self) -> u32 {
        self.committed.keys().next_back().copied().unwrap_or(0)
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

/// Splits an encoded delta at entry boundaries into pieces of about `max`.
fn chunk_entries(bytes: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    // Entries are at most 26 bytes; cutting at a tag boundary needs a walk.
    let mut cuts = vec![0usize];
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        let len = 1 + match bytes[i] {
            1 | 5 => 11,
            2 | 7 => 24,
            3 | 6 => 16,
            _ => 25,
        };
        if i + len - start > max {
            cuts.push(i);
            start = i;
        }
        i += len;
    }
    cuts.push(bytes.len());
    let cuts2 = cuts.clone();
    cuts.into_iter()
        .zip(cuts2.into_iter().skip(1))
        .filter(|(a, b)| b > a)
        .map(move |(a, b)| &bytes[a..b])
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
            measure: Measure::from_raw(kind, [1, 2, 3, -4]),
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
        assert_eq!(s.events.len(), 0, "swept at open");
        assert_eq!(s.identity.len(), 0, "swept at open");
        assert_eq!(s.pending.len(), 0);
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

    #[test]
    fn delta_chunks_cut_at_entry_boundaries() {
        let mut d = Delta::default();
        for p in 0..1000u64 {
            d.new_persons.push((p, Some((2000, 1))));
            d.new_keys.push(([p as u8; 16], p));
        }
        let bytes = d.encode();
        let chunks: Vec<&[u8]> = chunk_entries(&bytes, 1000).collect();
        assert!(chunks.len() > 30);
        let mut m = Matcher::new();
        for c in &chunks {
            assert!(c.len() <= 1000);
            m.apply_encoded(c).unwrap();
        }
        assert_eq!(m.person_count(), 1000);
    }

    #[test]
    fn a_store_in_use_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Store::open(dir.path(), "k1").unwrap();
        let err = Store::open(dir.path(), "k1").err().unwrap();
        assert!(matches!(err, StoreError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("is the daemon running"));
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
