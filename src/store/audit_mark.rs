//! The audit chain's checkpoint in the store, and a store's key id read
//! without a key.
//!
//! Tree owned: none; two `meta` keys: `audit_head` (the audit log's newest
//! entry the store has seen, `SEQ:HASH`) and `key_id` (read only).
//!
//! Promises: the checkpoint lives in a different file from the audit log,
//! so cutting entries off the end of the log (which leaves every remaining
//! entry valid) is still seen: the log then ends before the checkpoint. It
//! is a lower bound: written after the entries it names are on disk, never
//! before, so a crash leaves it behind the log, never ahead of it.

use std::path::Path;

use super::{Store, StoreError, TreeId, Trees, Write};

/// A handle on the audit checkpoint (cheap to clone; shares the store's
/// trees, so it may be written while the store is held elsewhere).
#[derive(Clone)]
pub struct AuditMark {
    trees: Trees,
}

impl Store {
    /// The audit-checkpoint handle.
    pub fn audit_mark(&self) -> AuditMark {
        AuditMark {
            trees: self.trees.clone(),
        }
    }

    /// The matching key id the store at `dir` was built with (`None` for a
    /// new store), without checking it against a key: `store compare`
    /// reads a store made under another key.
    pub fn key_id_at(dir: &Path) -> Result<Option<String>, StoreError> {
        super::guard(dir, || {
            let trees = Trees::open(dir)?;
            Ok(trees
                .get(TreeId::Meta, b"key_id")?
                .map(|v| String::from_utf8_lossy(&v).into_owned()))
        })
    }
}

impl AuditMark {
    /// The checkpoint: (sequence number, hash hex) of the newest entry.
    pub fn get(&self) -> Result<Option<(u64, String)>, StoreError> {
        let Some(v) = self.trees.get(TreeId::Meta, b"audit_head")? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&v);
        let parsed = text
            .split_once(':')
            .and_then(|(s, h)| Some((s.parse().ok()?, h.to_string())));
        parsed.map(Some).ok_or_else(|| StoreError::Corrupt {
            path: self.trees.path().to_path_buf(),
            what: "the audit checkpoint is not SEQ:HASH".into(),
        })
    }

    /// Moves the checkpoint to `seq` and `hash`. Not flushed on its own: it
    /// is a lower bound, and rides on the store's next flush.
    pub fn set(&self, seq: u64, hash: &str) -> Result<(), StoreError> {
        let v = format!("{seq}:{hash}");
        self.trees
            .write(TreeId::Meta, Write::Insert(b"audit_head", v.as_bytes()))
    }

    /// Makes the checkpoint durable now.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.trees.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_key_id_reads_without_a_key() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path(), "k-old").unwrap();
            let m = s.audit_mark();
            assert_eq!(m.get().unwrap(), None);
            m.set(7, "ab12").unwrap();
            m.flush().unwrap();
            assert_eq!(m.get().unwrap(), Some((7, "ab12".into())));
        }
        assert_eq!(
            Store::key_id_at(dir.path()).unwrap().as_deref(),
            Some("k-old")
        );
        let s = Store::open(dir.path(), "k-old").unwrap();
        assert_eq!(s.audit_mark().get().unwrap(), Some((7, "ab12".into())));
    }
}
