//! The store: every tree outcomesd keeps on disk, in one sled database.
//!
//! In: the rows and matching deltas of one delivery, the decisions on
//! claims, the notice outbox's states, each feed's fetch validators. Out:
//! queries for the triangulation stage (all events of a set of people, by
//! kind, within a date window; the coverage of each source; cases and
//! claims), the stored decisions, the outbox, the validators.
//!
//! The store owns every tree: other modules see typed accessors only, never
//! a `sled` handle or a tree name, and every write (insert, remove,
//! transaction) on any tree passes through one function here, `db::Trees`'s
//! write path, so an audit log or an erasure hooks in at one place.
//!
//! Promises:
//! * **atomic deliveries.** sled batches grow slow and memory-hungry with
//!   size, so a delivery is not one batch. Every row is written under the
//!   delivery's sequence number after a `pending` marker; the delivery record
//!   written last, then a flush, is the commit. Rows of a delivery without a
//!   commit are invisible to queries and swept at the next open (or at once
//!   on an error), so a crash or kill at any point leaves either all of a
//!   delivery or none of it;
//! * **append-only.** No delivery row is ever overwritten, so rollback is
//!   deletion;
//! * **a delivery counts once.** The same bytes for the same feed are found
//!   by content hash and stored nothing the second time;
//! * **one key.** Tokens are only comparable under one key: the store records
//!   the key id it was built with and refuses another;
//! * **acknowledged means durable.** Outbox and fetch-state writes are
//!   flushed before their call returns;
//! * the schema version is checked at open; a newer store is refused.
//!
//! Trees (all integers big-endian so keys sort numerically):
//!
//! | tree | file | key | value |
//! |---|---|---|---|
//! | `events` | `events.rs` | person bucket u64 (person / 8), seq u32 | packed (person mod 8, event) entries |
//! | `identity` | `identity.rs` | seq u32, chunk u32 | encoded matching [`Delta`](crate::ingest::matching::Delta) (the identity log) |
//! | `cases` | `cases.rs` | case ref, 0, seq u32 | JSON [`CaseRecord`] |
//! | `claims` | `cases.rs` | case ref, 0, outcome, 0, date | JSON [`ClaimRecord`] |
//! | `deliveries` | `deliveries.rs` | seq u32 | JSON [`DeliveryRecord`] (the commit) |
//! | `content` | `deliveries.rs` | feed, 0, sha256 | seq u32 |
//! | `pending` | `deliveries.rs` | seq u32 | feed name |
//! | `holds` | `holds.rs` | seq u32 | JSON [`HoldRecord`] (a held delivery: metadata only) |
//! | `meta` | `mod.rs`, `audit_mark.rs`, `rewrite.rs` | name (`schema`, `key_id`, `evaluated_through`, `redecide_pending`, `audit_head`, `rewrite_pending`) | schema u32 / key id / seq u32 / `1` / `SEQ:HASH` of the audit log / why |
//! | `verdicts` | `verdicts.rs` | case ref, 0, outcome, 0, date | JSON decision (triangulate's `VerdictRecord`) |
//! | `outbox` | `outbox.rs` | `n`, 0, notice id / `d`, 0, notice id, 0, sink / `c`, 0, claim | notice JSON / JSON [`DeliveryState`] / notice id |
//! | `pull_state` | `pull_state.rs` | feed name | JSON [`Validators`](crate::pull::Validators) |
//! | `links` | `links.rs` | seq u32, chunk u32 | packed [`LinkRecord`]s |
//! | `runners` | `links.rs` | seq u32, chunk u32 | packed [`RunnerUp`]s |
//! | `narrow` | `links.rs` | seq u32, chunk u32 | packed [`NarrowLink`]s (uncertain links) |
//! | `reviews` | `reviews.rs` | seq u32, row u32, n u8 | packed [`ReviewRecord`] (a doubt) |
//! | `review_decisions` | `reviews.rs` | item id | JSON [`ReviewDecision`] |
//! | `subjects` | `subjects.rs` | `r`/`e`, 0, person u64 | JSON [`Restriction`] / [`Erasure`] |
//!
//! Why these shapes: the matcher's index is rebuilt in memory from the
//! identity log at open (replaying a few hundred large values is far cheaper
//! than millions of per-key inserts at ingest), and events are grouped by
//! person bucket per delivery so one delivery of a million rows is tens of
//! thousands of inserts while a family's events are still a handful of
//! prefix scans.

mod audit_mark;
mod backup;
mod cases;
mod check;
mod deliveries;
mod events;
mod holds;
mod identity;
mod links;
mod outbox;
mod pull_state;
mod purge;
mod reviews;
mod rewrite;
mod seal;
mod subjects;
mod verdicts;

pub use audit_mark::AuditMark;
pub use backup::{is_empty_dir, restore, Copied, Restored};
pub use cases::{CaseMember, CaseRecord, ClaimRecord};
pub(crate) use check::guard;
pub use check::{CheckReport, Damage};
pub use deliveries::{Begin, DeliveryRecord, DeliveryRows};
pub use events::{pack_event, EventBuffer, StoredEvent};
pub use holds::{HoldDecision, HoldRecord, HoldState};
pub use identity::apply_decision;
pub use links::{
    centibits, LinkRecord, NarrowLink, RowsAhead, RunnerUp, StoredCandidate, StoredLink,
};
pub use outbox::{DeliveryState, OutboxStore};
pub use pull_state::PullState;
pub use purge::Purged;
pub use reviews::{ReviewDecision, ReviewRecord, ReviewVerdict};
pub use rewrite::{dir_bytes, Rewritten};
pub use subjects::{Erased, Erasure, HeldEvent, Restriction};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use db::{Trees, Write};

/// Bump when the layout changes; older binaries refuse newer stores.
/// 2: the identity log holds person variants and the linkage model
/// (issue 11); version 1 stores held exact match keys and cannot be read.
/// 3: spellings carry a street token (identity-log tag 13), which a version
/// 2 binary cannot decode; a version 2 store is read as it is and marked 3
/// at open, so an older binary then refuses it cleanly instead of failing
/// on the first new spelling.
pub const SCHEMA_VERSION: u32 = 3;
/// The oldest schema this binary reads (and upgrades in place).
const OLDEST_READABLE: u32 = 2;

/// The most bytes one value of packed records holds (identity-log chunks,
/// links, runners-up, uncertain links). sled 0.34 writes a page serialised
/// to more than a quarter of a log segment (128 KiB) as a blob of its own,
/// and its cache charges such a page only the few bytes of the blob's
/// pointer, so it is never paged out: with ~1 MiB values every one written
/// or read stayed resident (106 MB of them at the peak of `bench
/// --families 15000 --noise realistic`, by heaptrack). A
/// leaf splits past 16 entries, so 17 values of 4 KiB stay inline and are
/// charged, and evicted, like any other page.
pub(crate) const VALUE_BYTES: usize = 4 << 10;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}")]
    Sled {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("store at {path} has schema version {found}, older than this outcomesd reads ({OLDEST_READABLE}): its identity index was built by the exact-key matcher; move it aside and re-ingest the partner files")]
    OlderSchema { path: PathBuf, found: u32 },
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
    #[error("store at {path} is damaged: {what}. Stop outcomesd, run `outcomesd store check` to see what is damaged, and restore the last good backup (`outcomesd store restore BACKUP_DIR --force`, docs/operations.md \"After a crash\")")]
    Corrupt { path: PathBuf, what: String },
}

/// Every tree of the store. The on-disk names are [`TreeId::name`]; no other
/// name is ever opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum TreeId {
    Events,
    Identity,
    Cases,
    Claims,
    Deliveries,
    Content,
    Pending,
    Meta,
    Verdicts,
    Outbox,
    PullState,
    Links,
    Runners,
    Reviews,
    ReviewDecisions,
    Narrow,
    Holds,
    Subjects,
}

impl TreeId {
    pub(crate) const ALL: [TreeId; 18] = [
        TreeId::Events,
        TreeId::Identity,
        TreeId::Cases,
        TreeId::Claims,
        TreeId::Deliveries,
        TreeId::Content,
        TreeId::Pending,
        TreeId::Meta,
        TreeId::Verdicts,
        TreeId::Outbox,
        TreeId::PullState,
        TreeId::Links,
        TreeId::Runners,
        TreeId::Reviews,
        TreeId::ReviewDecisions,
        TreeId::Narrow,
        TreeId::Holds,
        TreeId::Subjects,
    ];

    /// The sled tree name (part of the on-disk format).
    pub(crate) const fn name(self) -> &'static str {
        match self {
            TreeId::Events => "events",
            TreeId::Identity => "identity",
            TreeId::Cases => "cases",
            TreeId::Claims => "claims",
            TreeId::Deliveries => "deliveries",
            TreeId::Content => "content",
            TreeId::Pending => "pending",
            TreeId::Meta => "meta",
            TreeId::Verdicts => "verdicts",
            TreeId::Outbox => "outbox",
            TreeId::PullState => "pull_state",
            TreeId::Links => "links",
            TreeId::Runners => "runners",
            TreeId::Reviews => "reviews",
            TreeId::ReviewDecisions => "review_decisions",
            TreeId::Narrow => "narrow",
            TreeId::Holds => "holds",
            TreeId::Subjects => "subjects",
        }
    }
}

/// The sled database and its trees. Only this module touches sled's
/// mutating calls: siblings read through [`Trees`]'s read accessors and
/// write through [`Trees::write`] and [`Trees::transact`].
mod db {
    use std::cell::RefCell;
    use std::path::{Path, PathBuf};

    use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
    use sled::IVec;

    use super::{StoreError, TreeId};

    /// A sled error as a store error: sled's failed checksums are damage.
    pub(crate) fn from_sled(path: &Path, source: sled::Error) -> StoreError {
        match source {
            sled::Error::Corruption { .. } => StoreError::Corrupt {
                path: path.to_path_buf(),
                what: "sled found data whose checksum fails".into(),
            },
            source => StoreError::Sled {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// One mutation of one key.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Write<'a> {
        Insert(&'a [u8], &'a [u8]),
        Remove(&'a [u8]),
    }

    /// What a transaction's closure returns; `?` works on [`Tx`]'s calls,
    /// and [`Tx::abort`] gives up with a store error.
    pub(crate) type TxResult<R> = Result<R, ConflictableTransactionError<StoreError>>;

    /// A transaction on one tree: reads see its own writes; the writes are
    /// applied together or not at all.
    pub(crate) struct Tx<'a> {
        tx: &'a TransactionalTree,
        done: Vec<(Vec<u8>, Option<Vec<u8>>, bool)>,
    }

    impl Tx<'_> {
        pub(crate) fn get(&self, key: &[u8]) -> TxResult<Option<IVec>> {
            Ok(self.tx.get(key)?)
        }
        pub(crate) fn insert(&mut self, key: &[u8], value: &[u8]) -> TxResult<()> {
            let old = self.tx.insert(key, value)?;
            self.done
                .push((key.to_vec(), Some(value.to_vec()), old.is_some()));
            Ok(())
        }
        pub(crate) fn abort<R>(e: StoreError) -> TxResult<R> {
            Err(ConflictableTransactionError::Abort(e))
        }
    }

    /// Counts what passed the write path (tests check every family's writes
    /// arrive here, and that nothing else changed a tree).
    #[cfg(test)]
    #[derive(Debug, Default)]
    pub(crate) struct Tally {
        ops: [std::sync::atomic::AtomicU64; TreeId::ALL.len()],
        net: [std::sync::atomic::AtomicI64; TreeId::ALL.len()],
    }

    #[derive(Clone)]
    pub(crate) struct Trees {
        path: PathBuf,
        db: sled::Db,
        trees: Vec<sled::Tree>,
        #[cfg(test)]
        tally: std::sync::Arc<Tally>,
    }

    impl Trees {
        /// Opens the database (retrying briefly while another handle lets
        /// go of its lock) and every tree in [`TreeId::ALL`].
        pub(crate) fn open(dir: &Path) -> Result<Trees, StoreError> {
            let path = dir.to_path_buf();
            let e = |source| from_sled(dir, source);
            std::fs::create_dir_all(dir).map_err(|x| e(sled::Error::Io(x)))?;
            // sled's background flusher can hold the file lock for a moment
            // after a previous handle (or a just-stopped process) is dropped,
            // so a busy lock is retried briefly before it is reported as in
            // use.
            let mut attempt = 0;
            let db = loop {
                // 64 MiB: at 60,000 families (1M people) 256 MiB of page
                // cache raised peak memory by ~440 MiB for ~10% of speed.
                match sled::Config::new()
                    .path(dir)
                    .cache_capacity(64 * 1024 * 1024)
                    .open()
                {
                    Ok(db) => break db,
                    Err(sled::Error::Io(io))
                        if io.to_string().contains("could not acquire lock") =>
                    {
                        attempt += 1;
                        if attempt >= 60 {
                            return Err(StoreError::InUse { path });
                        }
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    Err(err) => return Err(e(err)),
                }
            };
            let trees = TreeId::ALL
                .iter()
                .map(|t| db.open_tree(t.name()).map_err(e))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Trees {
                path,
                db,
                trees,
                #[cfg(test)]
                tally: Default::default(),
            })
        }

        pub(crate) fn path(&self) -> &Path {
            &self.path
        }

        pub(crate) fn err(&self, source: sled::Error) -> StoreError {
            from_sled(&self.path, source)
        }

        fn tree(&self, t: TreeId) -> &sled::Tree {
            &self.trees[t as usize]
        }

        // ---- the write path ----

        /// Every single-key write on every tree.
        pub(crate) fn write(&self, t: TreeId, op: Write<'_>) -> Result<(), StoreError> {
            let tree = self.tree(t);
            let old = match op {
                Write::Insert(k, v) => tree.insert(k, v),
                Write::Remove(k) => tree.remove(k),
            }
            .map_err(|s| self.err(s))?;
            self.observe(t, op, old.is_some());
            Ok(())
        }

        /// Every multi-key write: `f` runs (perhaps more than once, on
        /// conflict) in a transaction on one tree; its writes are observed
        /// once, after the transaction committed.
        pub(crate) fn transact<R>(
            &self,
            t: TreeId,
            f: impl Fn(&mut Tx<'_>) -> TxResult<R>,
        ) -> Result<R, StoreError> {
            let done = RefCell::new(Vec::new());
            let r = self
                .tree(t)
                .transaction(|tx| {
                    let mut tx = Tx {
                        tx,
                        done: Vec::new(),
                    };
                    let r = f(&mut tx)?;
                    *done.borrow_mut() = tx.done;
                    Ok(r)
                })
                .map_err(|e| match e {
                    TransactionError::Abort(e) => e,
                    TransactionError::Storage(s) => self.err(s),
                })?;
            for (k, v, existed) in done.into_inner() {
                let op = match &v {
                    Some(v) => Write::Insert(&k, v),
                    None => Write::Remove(&k),
                };
                self.observe(t, op, existed);
            }
            Ok(r)
        }

        /// Makes every write so far durable.
        pub(crate) fn flush(&self) -> Result<(), StoreError> {
            self.db.flush().map_err(|s| self.err(s))?;
            Ok(())
        }

        /// The one place each applied write is seen: the hook for an audit
        /// log or an erasure. `existed`: the key had a value before.
        fn observe(&self, t: TreeId, op: Write<'_>, existed: bool) {
            #[cfg(test)]
            {
                use std::sync::atomic::Ordering::Relaxed;
                self.tally.ops[t as usize].fetch_add(1, Relaxed);
                let delta = match (op, existed) {
                    (Write::Insert(..), false) => 1,
                    (Write::Remove(_), true) => -1,
                    _ => 0,
                };
                self.tally.net[t as usize].fetch_add(delta, Relaxed);
            }
            #[cfg(not(test))]
            let _ = (t, op, existed);
        }

        /// (writes seen, keys added minus keys removed) on `t` by this
        /// handle and its clones.
        #[cfg(test)]
        pub(crate) fn tally(&self, t: TreeId) -> (u64, i64) {
            use std::sync::atomic::Ordering::Relaxed;
            (
                self.tally.ops[t as usize].load(Relaxed),
                self.tally.net[t as usize].load(Relaxed),
            )
        }

        // ---- reads ----

        pub(crate) fn get(&self, t: TreeId, key: &[u8]) -> Result<Option<IVec>, StoreError> {
            self.tree(t).get(key).map_err(|s| self.err(s))
        }

        pub(crate) fn contains_key(&self, t: TreeId, key: &[u8]) -> Result<bool, StoreError> {
            self.tree(t).contains_key(key).map_err(|s| self.err(s))
        }

        pub(crate) fn iter(
            &self,
            t: TreeId,
        ) -> impl Iterator<Item = Result<(IVec, IVec), StoreError>> + '_ {
            self.tree(t).iter().map(|r| r.map_err(|s| self.err(s)))
        }

        pub(crate) fn scan_prefix(
            &self,
            t: TreeId,
            prefix: &[u8],
        ) -> impl Iterator<Item = Result<(IVec, IVec), StoreError>> + '_ {
            self.tree(t)
                .scan_prefix(prefix)
                .map(|r| r.map_err(|s| self.err(s)))
        }

        pub(crate) fn len(&self, t: TreeId) -> usize {
            self.tree(t).len()
        }

        pub(crate) fn size_on_disk(&self) -> u64 {
            self.db.size_on_disk().unwrap_or(0)
        }
    }
}

fn seq_bytes(seq: u32) -> [u8; 4] {
    seq.to_be_bytes()
}
fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

/// The open store: its trees, and the committed deliveries (kept in memory,
/// since every query filters on them).
pub struct Store {
    trees: Trees,
    committed: BTreeMap<u32, DeliveryRecord>,
    next_seq: u32,
    /// The feeds the config names, with their kinds (see
    /// [`Store::expect_feeds`]); `None` until told.
    expected: Option<BTreeMap<String, crate::records::SourceKind>>,
}

impl Store {
    /// Opens (or creates) the store, checks schema and key, and sweeps any
    /// delivery that was not committed.
    ///
    /// A damaged file is [`StoreError::Corrupt`], never a panic: sled's
    /// recovery (CRCs on its log) and these first reads run under
    /// [`guard`]; the meta, delivery and hold records are decoded here and
    /// the identity log by [`Store::load_matcher`]. The full scan is
    /// [`Store::check`] (`outcomesd store check`): at 15,000 families it
    /// reads every value, too slow for every start.
    ///
    /// A store an erasure left marked `rewrite_pending` is rewritten here
    /// (see `rewrite.rs`), so an erasure interrupted anywhere is finished
    /// by the next open.
    pub fn open(dir: &Path, key_id: &str) -> Result<Store, StoreError> {
        let store = Store::open_once(dir, key_id)?;
        if store.rewrite_pending()? {
            let (store, r) = store.rewrite(key_id)?;
            tracing::info!(
                values = r.values,
                bytes_before = r.bytes_before,
                bytes_after = r.bytes_after,
                "store rewritten: erased data removed from its files"
            );
            return Ok(store);
        }
        Ok(store)
    }

    fn open_once(dir: &Path, key_id: &str) -> Result<Store, StoreError> {
        guard(dir, || {
            let trees = Trees::open(dir)?;
            // Holding the lock now: nothing else is rewriting this store.
            rewrite::clear_leftover(dir)?;
            let mut store = Store {
                trees,
                committed: BTreeMap::new(),
                next_seq: 1,
                expected: None,
            };
            store.check_meta(key_id)?;
            store.recover()?;
            store.check_seal()?;
            Ok(store)
        })
    }

    fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.trees.path().to_path_buf(),
            what: what.into(),
        }
    }

    fn check_meta(&self, key_id: &str) -> Result<(), StoreError> {
        let found = self
            .trees
            .get(TreeId::Meta, b"schema")?
            .map(|v| read_u32(&v));
        if let Some(found) = found {
            let path = self.trees.path().to_path_buf();
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema { path, found });
            }
            if found < OLDEST_READABLE {
                return Err(StoreError::OlderSchema { path, found });
            }
        }
        // A new store, or an older one this binary reads as written.
        if found != Some(SCHEMA_VERSION) {
            self.trees.write(
                TreeId::Meta,
                Write::Insert(b"schema", &SCHEMA_VERSION.to_be_bytes()),
            )?;
        }
        match self.trees.get(TreeId::Meta, b"key_id")? {
            Some(v) if v.as_ref() != key_id.as_bytes() => Err(StoreError::WrongKey {
                path: self.trees.path().to_path_buf(),
                stored: String::from_utf8_lossy(&v).into_owned(),
                given: key_id.to_string(),
            }),
            Some(_) => Ok(()),
            None => self
                .trees
                .write(TreeId::Meta, Write::Insert(b"key_id", key_id.as_bytes())),
        }
    }

    pub fn path(&self) -> &Path {
        self.trees.path()
    }

    /// The newest delivery after which every claim was decided and its
    /// notices queued (0 for none, or a store older than this record).
    pub fn evaluated_through(&self) -> Result<u32, StoreError> {
        Ok(self
            .trees
            .get(TreeId::Meta, b"evaluated_through")?
            .map_or(0, |v| read_u32(&v)))
    }

    /// Records [`Store::evaluated_through`], flushed.
    pub fn set_evaluated_through(&self, seq: u32) -> Result<(), StoreError> {
        self.trees.write(
            TreeId::Meta,
            Write::Insert(b"evaluated_through", &seq.to_be_bytes()),
        )?;
        self.trees.flush()
    }

    /// Whether a change that is not a delivery (a review decision, a
    /// subject operation) may have been written without its claims being
    /// decided again: set before the change, cleared once they are.
    pub fn redecide_pending(&self) -> Result<bool, StoreError> {
        Ok(self.trees.get(TreeId::Meta, b"redecide_pending")?.is_some())
    }

    /// Sets or clears [`Store::redecide_pending`], flushed.
    pub fn set_redecide_pending(&self, pending: bool) -> Result<(), StoreError> {
        if pending {
            self.trees
                .write(TreeId::Meta, Write::Insert(b"redecide_pending", b"1"))?;
        } else {
            self.trees
                .write(TreeId::Meta, Write::Remove(b"redecide_pending"))?;
        }
        self.trees.flush()
    }

    /// Counts for `status`: rows per tree.
    pub fn counts(&self) -> HashMap<&'static str, usize> {
        let mut m = HashMap::new();
        m.insert("event buckets", self.trees.len(TreeId::Events));
        m.insert("identity log chunks", self.trees.len(TreeId::Identity));
        m.insert("case versions", self.trees.len(TreeId::Cases));
        m.insert("claims", self.trees.len(TreeId::Claims));
        m
    }

    /// Bytes on disk (approximate, from sled).
    pub fn size_on_disk(&self) -> u64 {
        self.trees.size_on_disk()
    }

    pub fn flush(&self) -> Result<(), StoreError> {
        self.trees.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::matching::Delta;
    use crate::records::Measure;
    use crate::records::{Event, EventKind, Period, SourceKind};
    use chrono::NaiveDate;

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
            s.trees
                .write(TreeId::Meta, Write::Insert(b"schema", &99u32.to_be_bytes()))
                .unwrap();
            s.flush().unwrap();
        }
        let err = Store::open(dir.path(), "k1").err().unwrap();
        assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }));
    }

    /// A version 2 store (before the street token) opens and is marked 3;
    /// a version 1 store (exact keys) is refused.
    #[test]
    fn a_version_2_store_is_upgraded_and_a_version_1_refused() {
        let set = |dir: &Path, v: u32| {
            let s = Store::open(dir, "k1").unwrap();
            s.trees
                .write(TreeId::Meta, Write::Insert(b"schema", &v.to_be_bytes()))
                .unwrap();
            s.flush().unwrap();
        };
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), "k1").unwrap());
        set(dir.path(), 2);
        let s = Store::open(dir.path(), "k1").unwrap();
        let v = s.trees.get(TreeId::Meta, b"schema").unwrap().unwrap();
        assert_eq!(read_u32(&v), SCHEMA_VERSION);
        drop(s);
        set(dir.path(), 1);
        let err = Store::open(dir.path(), "k1").err().unwrap();
        assert!(
            matches!(err, StoreError::OlderSchema { found: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn tree_names_are_the_on_disk_names() {
        let names: Vec<&str> = TreeId::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(
            names,
            [
                "events",
                "identity",
                "cases",
                "claims",
                "deliveries",
                "content",
                "pending",
                "meta",
                "verdicts",
                "outbox",
                "pull_state",
                "links",
                "runners",
                "reviews",
                "review_decisions",
                "narrow",
                "holds",
                "subjects"
            ]
        );
        for (i, t) in TreeId::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i, "ALL is in declaration order");
        }
    }

    /// Writes of every family (a delivery as ingest makes it, a swept one,
    /// a decision, the outbox, the fetch state) all pass the one write path:
    /// for every tree, the keys the path saw added minus removed are exactly
    /// the tree's size, so no write went around it.
    #[test]
    fn every_write_passes_the_one_write_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        let d = |v: &str| NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap();
        let event = Event {
            kind: EventKind::Offence,
            start: d("2015-05-05"),
            end: None,
            code: 0,
            measure: Measure::None,
        };
        // A committed delivery, with every kind of row.
        let Begin::Started(seq) = s.begin("cases", &[1; 32]).unwrap() else {
            panic!()
        };
        let mut buf = EventBuffer::default();
        buf.push(7, &event);
        let mut delta = Delta::default();
        delta.new_persons.push((7, None));
        let case = CaseRecord {
            case_ref: "C1".into(),
            seq,
            start: d("2015-01-01"),
            end: None,
            members: vec![],
        };
        let claim = ClaimRecord {
            seq,
            case_ref: "C1".into(),
            outcome_id: "o".into(),
            claim_date: d("2016-01-01"),
            keyworker_ref: None,
            team: None,
        };
        let rec = DeliveryRecord {
            seq,
            feed: "cases".into(),
            kind: SourceKind::Police,
            period: Period::parse("2015-01-01..2015-12-31"),
            content_hash: String::new(),
            received_at: chrono::Utc::now(),
            rows: 1,
            accepted: 1,
            rejected: 0,
            persons_new: 1,
            records_matched: 0,
            families_touched: 1,
        };
        let cand = StoredCandidate {
            person: 5,
            score: 9.5,
            levels: Default::default(),
            weights: [0; crate::ingest::matching::FIELDS],
            ruled_out: false,
        };
        let narrow = NarrowLink {
            row: 3,
            person: 7,
            margin: 250,
            event,
        };
        let rows = DeliveryRows {
            delta: &delta,
            events: &buf,
            cases: &[&case],
            claims: std::slice::from_ref(&claim),
            reviews: &[ReviewRecord {
                seq,
                row: 2,
                n: 0,
                kind: crate::ingest::matching::DoubtKind::Weak,
                person: 0,
                candidate: cand,
            }],
            narrow: &[narrow],
        };
        // Links and runners-up go ahead of the delivery, as ingest writes them.
        let mut ahead = s.rows_ahead(seq);
        ahead.link(LinkRecord {
            row: 2,
            person: 0,
            rule: 0,
            score: 0.0,
            levels: Default::default(),
            weights: [0; crate::ingest::matching::FIELDS],
            repairs: 0,
            dropped: 0,
            household: None,
        });
        ahead.runner(RunnerUp {
            row: 2,
            candidate: cand,
        });
        ahead.finish().unwrap();
        s.write_delivery(rows, rec, &[1; 32]).unwrap();
        assert_eq!(s.narrow_links().unwrap(), vec![(seq, narrow)]);
        assert_eq!(s.links().count(), 1);
        let (_, runner) = s.link_of_row(seq, 2).unwrap().expect("row 2's link");
        assert_eq!(runner, Some(cand));
        assert_eq!(s.reviews().unwrap().len(), 1);
        let id = format!("{seq}-2-1");
        assert!(s.review(&id).unwrap().is_some());
        let decision = ReviewDecision {
            item: id.clone(),
            decision: ReviewVerdict::Different,
            person: 0,
            candidate: 5,
            by: "a".into(),
            at: chrono::Utc::now(),
            note: None,
            after_seq: seq,
        };
        assert!(s.put_review_decision(&decision).unwrap());
        assert!(
            !s.put_review_decision(&decision).unwrap(),
            "a decision is never replaced"
        );
        assert_eq!(s.review_decisions().unwrap(), vec![decision]);
        // A delivery that fails part-way and is swept.
        let Begin::Started(seq2) = s.begin("police", &[2; 32]).unwrap() else {
            panic!()
        };
        s.put_events(seq2, &buf).unwrap();
        s.put_narrow(seq2, &[narrow]).unwrap();
        s.sweep(seq2).unwrap();
        assert_eq!(
            s.narrow_links().unwrap().len(),
            1,
            "only committed ones are read"
        );
        // A held delivery, then its decision.
        let Begin::Started(seq3) = s.begin("police", &[3; 32]).unwrap() else {
            panic!()
        };
        let mut hold = holds::tests::hold_rec(seq3);
        hold.content_hash = hex::encode([3u8; 32]);
        s.hold(&hold).unwrap();
        let by = HoldDecision {
            by: "t".into(),
            at: chrono::Utc::now(),
        };
        s.decide_hold(seq3, HoldState::Rejected, by).unwrap();
        // A decision, decided again.
        s.put_verdict("C1", "o", d("2016-01-01"), b"{}").unwrap();
        s.put_verdict("C1", "o", d("2016-01-01"), b"{\"a\":1}")
            .unwrap();
        // The outbox and the fetch state, through their handles.
        let ob = s.outbox();
        let state = DeliveryState {
            attempts: 0,
            next_attempt_at: chrono::Utc::now(),
            last_error: None,
            delivered_at: None,
        };
        let sinks = vec!["a".to_string(), "b".to_string()];
        assert!(ob.enqueue("ntc_1", b"{}", &sinks, &state).unwrap());
        ob.update_state("ntc_1", "a", |mut st| {
            st.attempts += 1;
            st
        })
        .unwrap()
        .unwrap();
        let pulls = s.pull_state();
        let v = crate::pull::Validators {
            etag: Some("\"x\"".into()),
            last_modified: None,
        };
        pulls.acknowledge("police", &v).unwrap();
        pulls.acknowledge("police", &v).unwrap();
        let r = Restriction {
            by: "t".into(),
            at: chrono::Utc::now(),
            reason: "objection".into(),
        };
        s.restrict(7, &r).unwrap();

        for t in TreeId::ALL {
            let (ops, net) = s.trees.tally(t);
            assert_eq!(net, s.trees.len(t) as i64, "tree {}", t.name());
            assert!(ops > 0, "no write to {} passed the path", t.name());
        }
        assert_eq!(s.trees.tally(TreeId::Verdicts), (2, 1));
        assert_eq!(s.trees.tally(TreeId::Outbox), (4, 3));
        assert_eq!(s.trees.tally(TreeId::PullState), (2, 1));
        assert_eq!(s.trees.tally(TreeId::Pending).1, 0, "every marker gone");
        assert_eq!(s.trees.tally(TreeId::Holds), (2, 1));
    }
}
