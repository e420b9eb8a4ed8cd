//! The outbox's persistence: every notice, and its delivery state per sink.
//!
//! Tree owned: `outbox` (`n`, 0, notice id → the notice's JSON; `d`, 0,
//! notice id, 0, sink → JSON [`DeliveryState`]; `c`, 0, claim key → the id
//! of the claim's latest notice).
//!
//! Promises: a notice, its states and its claim's latest-notice entry are
//! stored together or not at all; a
//! state is changed by a read-modify-write that cannot interleave with
//! another; every write is flushed before its call returns. What to send
//! when is notify's business (`crate::notify::Outbox`): this file only keeps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::db::Tx;
use super::{Store, StoreError, TreeId, Trees};

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

/// A handle on the outbox tree (cheap to clone; shares the store's trees,
/// so it may be used while the store itself is locked for ingest).
#[derive(Clone)]
pub struct OutboxStore {
    trees: Trees,
}

impl Store {
    /// The outbox handle.
    pub fn outbox(&self) -> OutboxStore {
        OutboxStore {
            trees: self.trees.clone(),
        }
    }
}

fn notice_key(id: &str) -> Vec<u8> {
    let mut k = b"n\0".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

fn delivery_key(id: &str, sink: &str) -> Vec<u8> {
    let mut k = b"d\0".to_vec();
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(sink.as_bytes());
    k
}

fn claim_key(claim: &str) -> Vec<u8> {
    let mut k = b"c\0".to_vec();
    k.extend_from_slice(claim.as_bytes());
    k
}

fn split_delivery_key(k: &[u8]) -> Option<(String, String)> {
    let rest = k.strip_prefix(b"d\0")?;
    let pos = rest.iter().position(|b| *b == 0)?;
    let id = std::str::from_utf8(&rest[..pos]).ok()?;
    let sink = std::str::from_utf8(&rest[pos + 1..]).ok()?;
    Some((id.to_owned(), sink.to_owned()))
}

impl OutboxStore {
    fn corrupt(&self, what: String) -> StoreError {
        StoreError::Corrupt {
            path: self.trees.path().to_path_buf(),
            what,
        }
    }

    fn decode_state(&self, v: &[u8]) -> Result<DeliveryState, StoreError> {
        serde_json::from_slice(v).map_err(|x| self.corrupt(format!("outbox delivery state: {x}")))
    }

    /// Stores the notice's JSON and `state` for every sink, atomically, and
    /// flushes. Returns `false` (and changes nothing) if a notice with this
    /// id is already stored.
    pub fn enqueue(
        &self,
        id: &str,
        notice_json: &[u8],
        sinks: &[String],
        state: &DeliveryState,
    ) -> Result<bool, StoreError> {
        self.insert(None, id, notice_json, sinks, state, true)
    }

    /// As [`OutboxStore::enqueue`], and in the same transaction records the
    /// notice as `claim`'s latest. Returns `false` if the notice was stored
    /// already (its claim entry is still set to it).
    pub fn enqueue_for_claim(
        &self,
        claim: &str,
        id: &str,
        notice_json: &[u8],
        sinks: &[String],
        state: &DeliveryState,
    ) -> Result<bool, StoreError> {
        self.insert(Some(claim), id, notice_json, sinks, state, false)
    }

    /// Flushes the outbox (and every other tree) to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.trees.flush()
    }

    fn insert(
        &self,
        claim: Option<&str>,
        id: &str,
        notice_json: &[u8],
        sinks: &[String],
        state: &DeliveryState,
        flush: bool,
    ) -> Result<bool, StoreError> {
        let state = serde_json::to_vec(state).expect("state serialises");
        let nkey = notice_key(id);
        let ckey = claim.map(claim_key);
        let inserted = self.trees.transact(TreeId::Outbox, |tx| {
            if let Some(k) = &ckey {
                tx.insert(k, id.as_bytes())?;
            }
            if tx.get(&nkey)?.is_some() {
                return Ok(false);
            }
            tx.insert(&nkey, notice_json)?;
            for s in sinks {
                tx.insert(&delivery_key(id, s), &state)?;
            }
            Ok(true)
        })?;
        if flush {
            self.trees.flush()?;
        }
        Ok(inserted)
    }

    /// The id of the latest notice queued for `claim`.
    pub fn latest_for_claim(&self, claim: &str) -> Result<Option<String>, StoreError> {
        self.trees
            .get(TreeId::Outbox, &claim_key(claim))?
            .map(|v| {
                String::from_utf8(v.to_vec())
                    .map_err(|_| self.corrupt(format!("outbox claim entry {claim:?}")))
            })
            .transpose()
    }

    /// The stored JSON of the notice with this id.
    pub fn notice_json(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .trees
            .get(TreeId::Outbox, &notice_key(id))?
            .map(|v| v.to_vec()))
    }

    /// Every stored notice's id and JSON, in id order.
    pub fn notices(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.trees.scan_prefix(TreeId::Outbox, b"n\0") {
            let (k, v) = kv?;
            let id = String::from_utf8(k[2..].to_vec())
                .map_err(|_| self.corrupt("outbox notice key".into()))?;
            out.push((id, v.to_vec()));
        }
        Ok(out)
    }

    /// How many notices are stored.
    pub fn notice_count(&self) -> usize {
        self.trees.scan_prefix(TreeId::Outbox, b"n\0").count()
    }

    /// The delivery state of `id` to `sink`.
    pub fn state(&self, id: &str, sink: &str) -> Result<Option<DeliveryState>, StoreError> {
        self.trees
            .get(TreeId::Outbox, &delivery_key(id, sink))?
            .map(|v| self.decode_state(&v))
            .transpose()
    }

    /// Every stored (notice id, sink, state), in key order.
    pub fn states(&self) -> Result<Vec<(String, String, DeliveryState)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.trees.scan_prefix(TreeId::Outbox, b"d\0") {
            let (k, v) = kv?;
            let Some((id, sink)) = split_delivery_key(&k) else {
                continue;
            };
            out.push((id, sink, self.decode_state(&v)?));
        }
        Ok(out)
    }

    /// Replaces the state of `id` to `sink` by `f` of it, atomically, and
    /// flushes. `None` (and nothing written) if there is no such delivery.
    pub fn update_state(
        &self,
        id: &str,
        sink: &str,
        f: impl Fn(DeliveryState) -> DeliveryState,
    ) -> Result<Option<DeliveryState>, StoreError> {
        let key = delivery_key(id, sink);
        let new = self.trees.transact(TreeId::Outbox, |tx| {
            let Some(old) = tx.get(&key)? else {
                return Ok(None);
            };
            let old = match self.decode_state(&old) {
                Ok(s) => s,
                Err(e) => return Tx::abort(e),
            };
            let new = f(old);
            tx.insert(&key, &serde_json::to_vec(&new).expect("state serialises"))?;
            Ok(Some(new))
        })?;
        self.trees.flush()?;
        Ok(new)
    }
}

impl OutboxStore {
    /// Removes a notice and its state for every sink (a retention purge).
    pub(super) fn remove_notice(&self, id: &str) -> Result<(), StoreError> {
        let mut prefix = b"d\0".to_vec();
        prefix.extend_from_slice(id.as_bytes());
        prefix.push(0);
        let keys: Vec<_> = self
            .trees
            .scan_prefix(TreeId::Outbox, &prefix)
            .map(|kv| kv.map(|(k, _)| k))
            .collect::<Result<_, _>>()?;
        for k in keys {
            self.trees.write(TreeId::Outbox, super::Write::Remove(&k))?;
        }
        self.trees
            .write(TreeId::Outbox, super::Write::Remove(&notice_key(id)))
    }

    /// Removes a claim's latest-notice entry (its claim was purged).
    pub(super) fn remove_claim_entry(&self, claim: &str) -> Result<(), StoreError> {
        self.trees
            .write(TreeId::Outbox, super::Write::Remove(&claim_key(claim)))
    }
}
