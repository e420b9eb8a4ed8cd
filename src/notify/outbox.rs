//! The durable outbox: every (notice, sink) pair until it is delivered.
//!
//! In: notices to send, the sinks' answers. Out: the (notice, sink) pairs
//! due now, earliest first, and counts by state. Here is what to send when
//! (fan-out to sinks, retry schedule with [`backoff_delay`], first
//! acknowledgement kept); the store's outbox tree ([`OutboxStore`]) keeps
//! it, atomically and flushed before each call returns.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::net::{Backoff, Jitter};

use super::{Notice, NoticeError};
pub use crate::store::DeliveryState;
use crate::store::{OutboxStore, StoreError};

/// First retry delay (before jitter).
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay.
pub const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// Longest `last_error` kept in the outbox.
const MAX_ERROR_LEN: usize = 300;

/// Deliveries by state, over all (notice, sink) pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Not delivered, never failed.
    pub pending: usize,
    /// Acknowledged by the sink.
    pub delivered: usize,
    /// Not delivered, failed at least once (still being retried).
    pub failing: usize,
}

/// One (notice, sink) delivery as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxEntry {
    pub notice: String,
    pub sink: String,
    /// Whether the config still names the sink (a removed sink's
    /// deliveries stay stored but are not attempted).
    pub configured: bool,
    #[serde(flatten)]
    pub state: DeliveryState,
}

/// Outbox failures.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("outbox encoding")]
    Encode(#[from] serde_json::Error),
    #[error("notice refused")]
    Notice(#[from] NoticeError),
    #[error("sink name {0:?} is empty, repeated or contains NUL")]
    SinkName(String),
    #[error("no delivery of {id} to sink {sink:?} in the outbox")]
    UnknownDelivery { id: String, sink: String },
}

/// A durable outbox of notices, one delivery state per (notice, sink),
/// kept by the store's outbox tree ([`OutboxStore`]). Every write is
/// flushed before the call returns.
#[derive(Clone)]
pub struct Outbox {
    store: OutboxStore,
    sinks: Arc<Vec<String>>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("sinks", &self.sinks)
            .finish_non_exhaustive()
    }
}

/// The notice backoff: 5 s doubled per attempt, capped at 1 h, with equal
/// jitter (see [`crate::net::backoff`] for why it differs from pulls').
pub const BACKOFF: Backoff = Backoff {
    base: BACKOFF_BASE,
    max: BACKOFF_CAP,
    jitter: Jitter::Equal,
};

/// The delay before retry number `attempts` (1 = first retry): 5 s doubled
/// per attempt, capped at 1 h, then jittered uniformly into [half, full].
pub fn backoff_delay(attempts: u32) -> Duration {
    BACKOFF.delay(attempts)
}

/// The un-jittered delay for `attempts`: `min(5 s * 2^(attempts-1), 1 h)`.
pub fn backoff_ceiling(attempts: u32) -> Duration {
    BACKOFF.ceiling(attempts)
}

impl Outbox {
    /// An outbox on the store's outbox tree delivering to the named sinks.
    /// Names must be unique, non-empty and free of NUL.
    pub fn new(store: OutboxStore, sink_names: Vec<String>) -> Result<Self, OutboxError> {
        let mut seen = BTreeSet::new();
        for n in &sink_names {
            if n.is_empty() || n.contains('\0') || !seen.insert(n.as_str()) {
                return Err(OutboxError::SinkName(n.clone()));
            }
        }
        Ok(Self {
            store,
            sinks: Arc::new(sink_names),
        })
    }

    /// The store tree this outbox keeps its deliveries in (receipts share
    /// it: src/notify/receipt.rs).
    pub fn store(&self) -> OutboxStore {
        self.store.clone()
    }

    /// The sink names this outbox fans out to.
    pub fn sink_names(&self) -> &[String] {
        &self.sinks
    }

    /// Stores the notice and one fresh delivery state per sink, atomically,
    /// and flushes to disk before returning. Returns `false` (and changes
    /// nothing) if a notice with this id was already enqueued.
    pub fn enqueue(&self, notice: &Notice) -> Result<bool, OutboxError> {
        self.enqueue_at(notice, Utc::now())
    }

    /// [`Outbox::enqueue`] with the first attempt due at `now`.
    pub fn enqueue_at(&self, notice: &Notice, now: DateTime<Utc>) -> Result<bool, OutboxError> {
        self.insert(None, notice, now)
    }

    /// Queues `notice` as the latest for its claim (`claim`, a key naming
    /// the claim), atomically with its states; `false` if it was queued
    /// before. Not flushed: the caller flushes ([`Outbox::flush`]) once it
    /// has queued a batch, and re-queues after a crash (notices follow
    /// stored verdicts: `crate::notify::reconcile`).
    pub fn enqueue_for_claim(
        &self,
        claim: &str,
        notice: &Notice,
        now: DateTime<Utc>,
    ) -> Result<bool, OutboxError> {
        self.insert(Some(claim), notice, now)
    }

    fn insert(
        &self,
        claim: Option<&str>,
        notice: &Notice,
        now: DateTime<Utc>,
    ) -> Result<bool, OutboxError> {
        notice.validate()?;
        let body = serde_json::to_vec(notice)?;
        let state = DeliveryState {
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        };
        Ok(match claim {
            Some(c) => self
                .store
                .enqueue_for_claim(c, &notice.id, &body, &self.sinks, &state)?,
            None => self.store.enqueue(&notice.id, &body, &self.sinks, &state)?,
        })
    }

    /// Makes everything queued so far durable.
    pub fn flush(&self) -> Result<(), OutboxError> {
        Ok(self.store.flush()?)
    }

    /// The id of the latest notice queued for `claim`.
    pub fn latest_for_claim(&self, claim: &str) -> Result<Option<String>, OutboxError> {
        Ok(self.store.latest_for_claim(claim)?)
    }

    /// The stored notice with this id.
    pub fn notice(&self, id: &str) -> Result<Option<Notice>, OutboxError> {
        match self.store.notice_json(id)? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// The delivery state of `id` to `sink`.
    pub fn state(&self, id: &str, sink: &str) -> Result<Option<DeliveryState>, OutboxError> {
        Ok(self.store.state(id, sink)?)
    }

    /// Undelivered (notice, sink) pairs due at `now`, earliest first. Only
    /// sinks this outbox was created with are listed.
    pub fn pending(&self, now: DateTime<Utc>) -> Result<Vec<(Notice, String)>, OutboxError> {
        let mut due = Vec::new();
        for (id, sink, st) in self.store.states()? {
            if !self.sinks.contains(&sink) {
                continue;
            }
            if st.delivered_at.is_none() && st.next_attempt_at <= now {
                due.push((st.next_attempt_at, id, sink));
            }
        }
        due.sort();
        let mut cache: HashMap<String, Notice> = HashMap::new();
        let mut out = Vec::with_capacity(due.len());
        for (_, id, sink) in due {
            if !cache.contains_key(&id) {
                match self.notice(&id)? {
                    Some(n) => {
                        cache.insert(id.clone(), n);
                    }
                    None => continue,
                }
            }
            out.push((cache[&id].clone(), sink));
        }
        Ok(out)
    }

    pub(crate) fn update(
        &self,
        id: &str,
        sink: &str,
        f: impl Fn(DeliveryState) -> DeliveryState,
    ) -> Result<DeliveryState, OutboxError> {
        self.store
            .update_state(id, sink, f)?
            .ok_or_else(|| OutboxError::UnknownDelivery {
                id: id.to_owned(),
                sink: sink.to_owned(),
            })
    }

    /// Records the sink's acknowledgement (flushed). Marking an already
    /// delivered pair again keeps the first `delivered_at`.
    pub fn mark_delivered(
        &self,
        id: &str,
        sink: &str,
        now: DateTime<Utc>,
    ) -> Result<DeliveryState, OutboxError> {
        self.update(id, sink, |mut st| {
            if st.delivered_at.is_none() {
                st.delivered_at = Some(now);
                st.last_error = None;
            }
            st
        })
    }

    /// Records a failed attempt (flushed): `attempts + 1`, the error (cut to
    /// 300 characters), and the next attempt at `now + backoff_delay`.
    /// Returns the new state. A delivered pair is left as it is.
    pub fn mark_failed(
        &self,
        id: &str,
        sink: &str,
        err: &str,
        now: DateTime<Utc>,
    ) -> Result<DeliveryState, OutboxError> {
        self.mark_failed_after(id, sink, err, now, None)
    }

    /// [`Outbox::mark_failed`] when the sink asked to wait `hint`
    /// (`Retry-After`): the next attempt is no sooner than that (up to
    /// [`crate::net::backoff::RETRY_AFTER_CAP`]).
    pub fn mark_failed_after(
        &self,
        id: &str,
        sink: &str,
        err: &str,
        now: DateTime<Utc>,
        hint: Option<Duration>,
    ) -> Result<DeliveryState, OutboxError> {
        let err: String = err.chars().take(MAX_ERROR_LEN).collect();
        self.update(id, sink, |mut st| {
            if st.delivered_at.is_some() {
                return st;
            }
            st.attempts = st.attempts.saturating_add(1);
            let delay = chrono::Duration::from_std(BACKOFF.delay_with_hint(st.attempts, hint))
                .unwrap_or(chrono::Duration::hours(1));
            st.next_attempt_at = now + delay;
            st.last_error = Some(err.clone());
            st
        })
    }

    /// Every stored (notice, sink) delivery, in key order, for `outbox
    /// list`: states of sinks no longer configured too.
    pub fn entries(&self) -> Result<Vec<OutboxEntry>, OutboxError> {
        Ok(self
            .store
            .states()?
            .into_iter()
            .map(|(notice, sink, state)| OutboxEntry {
                configured: self.sinks.contains(&sink),
                notice,
                sink,
                state,
            })
            .collect())
    }

    /// Makes undelivered deliveries due at `now` (flushed): all of them,
    /// or those to `sink`, or of `notice`. Attempts and the last error are
    /// kept, so the backoff goes on from where it was if the next attempt
    /// fails too. Returns how many were made due.
    pub fn retry_now(
        &self,
        sink: Option<&str>,
        notice: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize, OutboxError> {
        let mut n = 0;
        for (id, s, st) in self.store.states()? {
            let wanted = sink.is_none_or(|x| x == s) && notice.is_none_or(|x| x == id);
            if !wanted || st.delivered_at.is_some() || !self.sinks.contains(&s) {
                continue;
            }
            self.update(&id, &s, |mut st| {
                if st.delivered_at.is_none() {
                    st.next_attempt_at = st.next_attempt_at.min(now);
                }
                st
            })?;
            n += 1;
        }
        Ok(n)
    }

    /// Deliveries by state, over every (notice, sink) pair stored.
    pub fn counts(&self) -> Result<OutboxCounts, OutboxError> {
        let mut c = OutboxCounts::default();
        for (_, _, st) in self.store.states()? {
            match (st.delivered_at, st.attempts) {
                (Some(_), _) => c.delivered += 1,
                (None, 0) => c.pending += 1,
                (None, _) => c.failing += 1,
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::{sample_notice, temp_tree};
    use crate::notify::{DeliveryRound, Notifier, SinkConfig};
    use crate::store::Store;
    use std::io::{self, Write};
    use std::path::Path;

    const ABORT_CHILD_ENV: &str = "OUTCOMESD_NOTIFY_ABORT_CHILD_DIR";

    #[test]
    fn retry_now_makes_a_failing_delivery_due_and_keeps_its_attempts() {
        let (_d, _db, tree) = temp_tree();
        let ob = Outbox::new(tree.clone(), vec!["a".into(), "b".into()]).unwrap();
        let n = sample_notice("verified");
        let t0: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        ob.enqueue_at(&n, t0).unwrap();
        ob.mark_failed(&n.id, "a", "HTTP 503", t0).unwrap();
        ob.mark_delivered(&n.id, "b", t0).unwrap();
        assert!(ob.pending(t0).unwrap().is_empty(), "a backs off, b is done");
        assert_eq!(ob.retry_now(Some("b"), None, t0).unwrap(), 0, "delivered");
        assert_eq!(ob.retry_now(None, Some("ntc_other"), t0).unwrap(), 0);
        assert_eq!(ob.retry_now(Some("a"), None, t0).unwrap(), 1);
        let due = ob.pending(t0).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1, "a");
        let st = ob.state(&n.id, "a").unwrap().unwrap();
        assert_eq!((st.attempts, st.next_attempt_at), (1, t0));
        assert_eq!(st.last_error.as_deref(), Some("HTTP 503"));
        let e = ob.entries().unwrap();
        assert_eq!(e.len(), 2);
        assert!(e.iter().all(|e| e.configured && e.notice == n.id));
    }

    #[test]
    fn enqueue_is_idempotent() {
        let (_d, _db, tree) = temp_tree();
        let ob = Outbox::new(tree.clone(), vec!["a".into(), "b".into()]).unwrap();
        let n = sample_notice("verified");
        assert!(ob.enqueue(&n).unwrap());
        let mut again = n.clone();
        again.issued_at = Utc::now();
        assert!(!ob.enqueue(&again).unwrap());
        assert_eq!(ob.notice(&n.id).unwrap().unwrap(), n, "first copy kept");
        assert_eq!(
            ob.counts().unwrap(),
            OutboxCounts {
                pending: 2,
                delivered: 0,
                failing: 0
            }
        );
        assert_eq!(tree.notice_count(), 1);
        assert_eq!(ob.pending(Utc::now()).unwrap().len(), 2);
        // A changed verdict is a different notice.
        assert!(ob.enqueue(&sample_notice("contradicted")).unwrap());
        assert_eq!(tree.notice_count(), 2);
        // Refused notices are not stored.
        let mut bad = sample_notice("verified");
        bad.id = "ntc_00000000000000000000000000000000".into();
        assert!(matches!(ob.enqueue(&bad), Err(OutboxError::Notice(_))));
        assert!(Outbox::new(tree.clone(), vec!["a".into(), "a".into()]).is_err());
    }

    #[tokio::test]
    async fn outbox_survives_restart_and_delivers_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        let dbpath = dir.path().join("db");
        let n = sample_notice("contradicted");
        let t0 = Utc::now();
        let before;
        {
            let db = Store::open(&dbpath, "k").unwrap();
            let ob = Outbox::new(db.outbox(), vec!["s".into()]).unwrap();
            assert!(ob.enqueue_at(&n, t0).unwrap());
            before = ob.mark_failed(&n.id, "s", "HTTP status 503", t0).unwrap();
            assert_eq!(before.attempts, 1);
            // Dropped here: a clean restart (see acknowledged_writes_survive_abort
            // for a process that dies without dropping anything).
        }
        let db = Store::open(&dbpath, "k").unwrap();
        let ob = Outbox::new(db.outbox(), vec!["s".into()]).unwrap();
        assert_eq!(
            ob.state(&n.id, "s").unwrap().unwrap(),
            before,
            "schedule persisted"
        );
        assert_eq!(ob.notice(&n.id).unwrap().unwrap(), n);
        assert!(!ob.enqueue(&n).unwrap(), "still known after restart");
        assert_eq!(
            ob.counts().unwrap(),
            OutboxCounts {
                pending: 0,
                delivered: 0,
                failing: 1
            }
        );
        assert!(ob.pending(t0).unwrap().is_empty(), "backoff respected");
        let notifier = Notifier::new(
            ob.clone(),
            vec![SinkConfig::Spool {
                name: "s".into(),
                dir: spool.clone(),
            }],
        )
        .unwrap();
        let r = notifier.deliver_due_at(before.next_attempt_at).await;
        assert_eq!(
            r,
            DeliveryRound {
                delivered: 1,
                failed: 0,
                ..Default::default()
            }
        );
        let written: Notice =
            serde_json::from_slice(&std::fs::read(spool.join(format!("{}.json", n.id))).unwrap())
                .unwrap();
        assert_eq!(written, n);
        drop(notifier);
        drop(ob);
        drop(db);
        let db = Store::open(&dbpath, "k").unwrap();
        let ob = Outbox::new(db.outbox(), vec!["s".into()]).unwrap();
        assert_eq!(
            ob.counts().unwrap(),
            OutboxCounts {
                pending: 0,
                delivered: 1,
                failing: 0
            }
        );
    }

    /// Runs only as the child of `acknowledged_writes_survive_abort`: writes,
    /// reports what was acknowledged, then is killed (SIGKILL) without
    /// unwinding or dropping the database.
    #[test]
    fn abort_child() {
        let Ok(dir) = std::env::var(ABORT_CHILD_ENV) else {
            return;
        };
        let db = Store::open(&Path::new(&dir).join("db"), "k").unwrap();
        let ob = Outbox::new(db.outbox(), vec!["s".into()]).unwrap();
        let t0: DateTime<Utc> = "2025-04-02T10:00:00Z".parse().unwrap();
        let failing = sample_notice("verified");
        let done = sample_notice("attested");
        ob.enqueue_at(&failing, t0).unwrap();
        let st = ob
            .mark_failed(&failing.id, "s", "HTTP status 503", t0)
            .unwrap();
        ob.enqueue_at(&done, t0).unwrap();
        ob.mark_delivered(&done.id, "s", t0).unwrap();
        println!("ACKED {}", serde_json::to_string(&st).unwrap());
        io::stdout().flush().unwrap();
        // SIGKILL ourselves: no unwinding, no Drop, no flush-on-drop, no core.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::thread::sleep(Duration::from_secs(5));
        std::process::exit(86); // only if `kill` is unavailable
    }

    #[test]
    fn acknowledged_writes_survive_abort() {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "notify::outbox::tests::abort_child",
                "--nocapture",
            ])
            .arg("--test-threads=1")
            .env(ABORT_CHILD_ENV, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        {
            use std::os::unix::process::ExitStatusExt;
            let killed = out.status.signal() == Some(9) || out.status.code() == Some(86);
            assert!(killed, "child should have been killed: {:?}", out.status);
        }
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("ACKED ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("child did not acknowledge: {stdout}"));
        let acked: DeliveryState = serde_json::from_str(line).unwrap();

        let db = Store::open(&dir.path().join("db"), "k").unwrap();
        let ob = Outbox::new(db.outbox(), vec!["s".into()]).unwrap();
        let failing = sample_notice("verified");
        let done = sample_notice("attested");
        assert_eq!(ob.state(&failing.id, "s").unwrap().unwrap(), acked);
        assert!(ob
            .state(&done.id, "s")
            .unwrap()
            .unwrap()
            .delivered_at
            .is_some());
        assert_eq!(ob.notice(&failing.id).unwrap().unwrap(), failing);
        assert_eq!(
            ob.counts().unwrap(),
            OutboxCounts {
                pending: 0,
                delivered: 1,
                failing: 1
            }
        );
    }
}
