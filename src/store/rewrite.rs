//! The rewrite: the store copied into a fresh database that replaces it, so
//! that deleted values are gone from the files, not only from the trees.
//!
//! In: a store whose meta says `rewrite_pending` (an erasure sets it). Out:
//! the same trees and keys, in new files; the old files deleted.
//!
//! Why: sled 0.34 is log-structured. A removed or overwritten value stays
//! in its segment of the `db` file (and a large one in `blobs/`) until sled
//! reuses the segment, which it does when it likes. A fresh database holds
//! only what was copied into it.
//!
//! Promises:
//! * crash-safe: the copy is written beside the store (`DIR.rewrite`),
//!   flushed and sealed, then the two directories are swapped in one
//!   `renameat2(RENAME_EXCHANGE)` and the old one deleted. Whatever is
//!   found at the next open is completed: a leftover `DIR.rewrite` (a copy
//!   cut short, or the old files after the swap) is deleted, and a store
//!   still marked pending is rewritten again;
//! * the new files are private (0700 / 0600) and pass [`Store::check`]'s
//!   format reading at the next open like any store.

use std::path::{Path, PathBuf};

use super::db::{Trees, Write};
use super::subjects::REWRITE_PENDING;
use super::{Store, StoreError, TreeId};

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Sled {
        path: path.to_path_buf(),
        source: sled::Error::Io(e),
    }
}

/// Where the copy of the store in `dir` is written.
pub(super) fn beside(dir: &Path) -> PathBuf {
    let mut p = dir.as_os_str().to_owned();
    p.push(".rewrite");
    PathBuf::from(p)
}

/// Before an open: deletes what a rewrite cut short left beside the store.
pub(super) fn clear_leftover(dir: &Path) -> Result<(), StoreError> {
    let b = beside(dir);
    if b.exists() {
        tracing::warn!(path = %b.display(), "deleting what an interrupted store rewrite left");
        std::fs::remove_dir_all(&b).map_err(|e| io(&b, e))?;
    }
    Ok(())
}

/// What a rewrite did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rewritten {
    pub values: u64,
    /// Bytes of the store's files before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Bytes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

impl Store {
    /// Marks the store to be rewritten at its next open (`why`: what
    /// removed values, kept in meta until then), flushed.
    pub fn mark_for_rewrite(&self, why: &str) -> Result<(), StoreError> {
        self.trees
            .write(TreeId::Meta, Write::Insert(REWRITE_PENDING, why.as_bytes()))?;
        self.flush()
    }

    /// Whether an erasure or a purge is waiting for its rewrite.
    pub fn rewrite_pending(&self) -> Result<bool, StoreError> {
        Ok(self.trees.get(TreeId::Meta, REWRITE_PENDING)?.is_some())
    }

    /// Copies every live value into a fresh database beside this one,
    /// swaps the two, deletes the old files and opens the new store.
    pub(super) fn rewrite(self, key_id: &str) -> Result<(Store, Rewritten), StoreError> {
        let dir = self.path().to_path_buf();
        let dest = beside(&dir);
        clear_leftover(&dir)?;
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dest)
                .map_err(|e| io(&dest, e))?;
        }
        let mut r = Rewritten {
            bytes_before: dir_bytes(&dir),
            ..Default::default()
        };
        {
            let out = Trees::open(&dest)?;
            super::guard(&dir, || {
                for t in TreeId::ALL {
                    for item in self.trees.iter(t) {
                        let (k, v) = item?;
                        if t == TreeId::Meta && k.as_ref() == REWRITE_PENDING {
                            continue;
                        }
                        out.write(t, Write::Insert(&k, &v))?;
                        r.values += 1;
                    }
                }
                out.flush()
            })?;
        }
        super::seal::write_seal(&dest, self.durable_seq()?).map_err(|e| io(&dest, e))?;
        super::backup::make_private(&dest)?;
        drop(self);
        // Both exist: one atomic swap, so the store's path always holds a
        // whole store.
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &dest,
            rustix::fs::CWD,
            &dir,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| io(&dir, e.into()))?;
        std::fs::remove_dir_all(&dest).map_err(|e| io(&dest, e))?;
        let store = Store::open_once(&dir, key_id)?;
        r.bytes_after = dir_bytes(&dir);
        Ok((store, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An erasure cut short anywhere is finished by the next open: a
    /// leftover copy beside the store is deleted and a store still marked
    /// pending is rewritten, with every live value kept.
    #[test]
    fn an_interrupted_rewrite_is_finished_at_the_next_open() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("store");
        {
            let s = Store::open(&dir, "k1").unwrap();
            s.put_verdict("C1", "o", chrono::NaiveDate::MIN, b"{\"v\":1}")
                .unwrap();
            s.put_verdict(
                "C2",
                "o",
                chrono::NaiveDate::MIN,
                b"{\"gone\":\"needle-4711\"}",
            )
            .unwrap();
            s.trees
                .write(
                    TreeId::Verdicts,
                    Write::Remove(&super::super::cases::claim_key(
                        "C2",
                        "o",
                        chrono::NaiveDate::MIN,
                    )),
                )
                .unwrap();
            s.trees
                .write(TreeId::Meta, Write::Insert(REWRITE_PENDING, b"erasure"))
                .unwrap();
            s.flush().unwrap();
        }
        // A copy cut short by a crash.
        std::fs::create_dir_all(beside(&dir)).unwrap();
        std::fs::write(beside(&dir).join("db"), b"partial").unwrap();
        let needle = b"needle-4711";
        let bytes = |d: &Path| {
            let mut all = Vec::new();
            for e in walk(d) {
                all.extend(std::fs::read(e).unwrap());
            }
            all
        };
        let s = Store::open(&dir, "k1").unwrap();
        assert!(!s.rewrite_pending().unwrap());
        assert!(!beside(&dir).exists(), "the leftover copy is deleted");
        assert_eq!(s.trees.len(TreeId::Verdicts), 1, "live values kept");
        assert!(s.check().unwrap().is_clean());
        drop(s);
        assert!(
            !bytes(&dir).windows(needle.len()).any(|w| w == needle),
            "the removed value is gone from the files"
        );
    }

    fn walk(d: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }
}
