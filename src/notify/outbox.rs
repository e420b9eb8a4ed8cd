//! The durable outbox: every (notice, sink) pair until it is delivered.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::net::{Backoff, Jitter};
use serde::{Deserialize, Serialize};

use super::{Notice, NoticeError};

/// First retry delay (before jitter).
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay.
pub const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// Longest `last_error` kept in the outbox.
const MAX_ERROR_LEN: usize = 300;

/// Delivery state of one (notice, sink) pair, as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before this.
    pub next_attempt_at: DateTime<Utc>,
    /// The last failure, named (status, timeout, TLS error): no notice data.
    pub last_error: Option<String>,
    /// Set once the sink acknowledged (2xx / rename done).
    pub delivered_at: Option<DateTime<Utc>>,
}

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

/// Outbox failures.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox storage")]
    Db(#[from] sled::Error),
    #[error("outbox encoding")]
    Encode(#[from] serde_json::Error),
    #[error("notice refused")]
    Notice(#[from] NoticeError),
    #[error("sink name {0:?} is empty, repeated or contains NUL")]
    SinkName(String),
    #[error("no delivery of {id} to sink {sink:?} in the outbox")]
    UnknownDelivery { id: String, sink: String },
}

/// A durable outbox of notices on a `sled::Tree`, one delivery state per
/// (notice, sink).
///
/// Keys: `n\0<id>` holds the notice JSON; `d\0<id>\0<sink>` holds its
/// [`DeliveryState`] for that sink. Every write is flushed before the call
/// returns.
#[derive(Clone)]
pub struct Outbox {
    tree: sled::Tree,
    sinks: Arc<Vec<String>>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("sinks", &self.sinks)
            .finish_non_exhaustive()
    }
}

pub(crate) fn notice_key(id: &str) -> Vec<u8> {
    let mut k = b"n\0".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

pub(crate) fn delivery_key(id: &str, sink: &str) -> Vec<u8> {
    let mut k = b"d\0".to_vec();
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(sink.as_bytes());
    k
}

pub(crate) fn split_delivery_key(k: &[u8]) -> Option<(String, String)> {
    let rest = k.strip_prefix(b"d\0")?;
    let pos = rest.iter().position(|b| *b == 0)?;
    let id = std::str::from_utf8(&rest[..pos]).ok()?;
    let sink = std::str::from_utf8(&rest[pos + 1..]).ok()?;
    Some((id.to_owned(), sink.to_owned()))
}

pub(crate) fn tx_err(e: sled::transaction::TransactionError<OutboxError>) -> OutboxError {
    match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => OutboxError::Db(e),
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
    /// An outbox on `tree` delivering to the named sinks. Names must be
    /// unique, non-empty and free of NUL.
    pub fn new(tree: sled::Tree, sink_names: Vec<String>) -> Result<Self, OutboxError> {
        let mut seen = BTreeSet::new();
        for n in &sink_names {
            if n.is_empty() || n.contains('\0') || !seen.insert(n.as_str()) {
                return Err(OutboxError::SinkName(n.clone()));
            }
        }
        Ok(Self {
            tree,
            sinks: Arc::new(sink_names),
        })
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
        notice.validate()?;
        let body = serde_json::to_vec(notice)?;
        let state = serde_json::to_vec(&DeliveryState {
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        })?;
        let nkey = notice_key(&notice.id);
        let sinks = Arc::clone(&self.sinks);
        let inserted = self
            .tree
            .transaction(|tx| {
                if tx.get(&nkey)?.is_some() {
                    return Ok(false);
                }
                tx.insert(nkey.as_slice(), body.as_slice())?;
                for s in sinks.iter() {
                    tx.insert(delivery_key(&notice.id, s), state.as_slice())?;
                }
                Ok(true)
            })
            .map_err(tx_err)?;
        self.tree.flush()?;
        Ok(inserted)
    }

    /// The stored notice with this id.
    pub fn notice(&self, id: &str) -> Result<Option<Notice>, OutboxError> {
        match self.tree.get(notice_key(id))? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// The delivery state of `id` to `sink`.
    pub fn state(&self, id: &str, sink: &str) -> Result<Option<DeliveryState>, OutboxError> {
        match self.tree.get(delivery_key(id, sink))? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Undelivered (notice, sink) pairs due at `now`, earliest first. Only
    /// sinks this outbox was created with are listed.
    pub fn pending(&self, now: DateTime<Utc>) -> Result<Vec<(Notice, String)>, OutboxError> {
        let mut due = Vec::new();
        for kv in self.tree.scan_prefix(b"d\0") {
            let (k, v) = kv?;
            let Some((id, sink)) = split_delivery_key(&k) else {
                continue;
            };
            if !self.sinks.contains(&sink) {
                continue;
            }
            let st: DeliveryState = serde_json::from_slice(&v)?;
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
        let key = delivery_key(id, sink);
        let new = self
            .tree
            .transaction(|tx| {
                let Some(old) = tx.get(&key)? else {
                    return sled::transaction::abort(OutboxError::UnknownDelivery {
                        id: id.to_owned(),
                        sink: sink.to_owned(),
                    });
                };
                let old: DeliveryState = serde_json::from_slice(&old).map_err(|e| {
                    sled::transaction::ConflictableTransactionError::Abort(e.into())
                })?;
                let new = f(old);
                let bytes = serde_json::to_vec(&new).map_err(|e| {
                    sled::transaction::ConflictableTransactionError::Abort(e.into())
                })?;
                tx.insert(key.as_slice(), bytes)?;
                Ok(new)
            })
            .map_err(tx_err)?;
        self.tree.flush()?;
        Ok(new)
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
        let err: String = err.chars().take(MAX_ERROR_LEN).collect();
        self.update(id, sink, |mut st| {
            if st.delivered_at.is_some() {
                return st;
            }
            st.attempts = st.attempts.saturating_add(1);
            let delay = chrono::Duration::from_std(backoff_delay(st.attempts))
                .unwrap_or(chrono::Duration::hours(1));
            st.next_attempt_at = now + delay;
            st.last_error = Some(err.clone());
            st
        })
    }

    /// Deliveries by state, over every (notice, sink) pair stored.
    pub fn counts(&self) -> Result<OutboxCounts, OutboxError> {
        let mut c = OutboxCounts::default();
        for kv in self.tree.scan_prefix(b"d\0") {
            let (_, v) = kv?;
            let st: DeliveryState = serde_json::from_slice(&v)?;
            match (st.delivered_at, st.attempts) {
                (Some(_), _) => c.delivered += 1,
                (None, 0) => c.pending += 1,
                (None, _) => c.failing += 1,
            }
        }
        Ok(c)
    }
}
