//! The seal: the newest durable delivery number, kept beside the store in
//! a small file of its own (`outcomesd.seal` in the store's directory,
//! which sled does not read), outside sled's log.
//!
//! In: the sequence number of each delivery committed or held. Out, at
//! open: [`StoreError::Corrupt`] when the store holds less than the seal
//! says. Why: sled 0.34, finding a bad checksum at open, may roll its log
//! back to the last good entry (or to empty) and open without an error,
//! silently losing everything after it; its files alone cannot tell.
//!
//! Promises: the seal is written after the store's own flush (so it never
//! runs ahead of a healthy store), by write-to-temporary, fsync and
//! rename; a seal that cannot be written is logged, never fails a
//! committed delivery (it only weakens the check).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Store, StoreError};

/// The seal file of the store in `dir`.
pub(crate) fn seal_path(dir: &Path) -> PathBuf {
    dir.join("outcomesd.seal")
}

/// The sealed sequence number, if a readable seal exists.
pub(crate) fn read_seal(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(seal_path(dir)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("seq "))
        .and_then(|v| v.trim().parse().ok())
}

/// Writes the seal of the store in `dir` as `seq`.
pub(crate) fn write_seal(dir: &Path, seq: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = seal_path(dir);
    let tmp = path.with_extension("seal.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    writeln!(
        f,
        "outcomesd store seal 1: the newest delivery this store must hold\nseq {seq}"
    )?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)
}

impl Store {
    /// The newest delivery number on disk: committed or held.
    pub(super) fn durable_seq(&self) -> Result<u32, StoreError> {
        Ok(self.last_seq().max(self.last_hold_seq()?))
    }

    /// At open, after recovery: refuses a store older than its seal, and
    /// brings the seal up to the store (a new store, or a stop between a
    /// commit and its seal).
    pub(super) fn check_seal(&self) -> Result<(), StoreError> {
        let have = self.durable_seq()?;
        match read_seal(self.path()) {
            Some(sealed) if sealed > have => Err(StoreError::Corrupt {
                path: self.path().to_path_buf(),
                what: format!(
                    "it holds deliveries up to {have} but delivery {sealed} was committed (seal {}): sled rolled its log back past damage and deliveries are missing",
                    seal_path(self.path()).display()
                ),
            }),
            Some(sealed) if sealed == have => Ok(()),
            _ => {
                self.seal(have);
                Ok(())
            }
        }
    }

    /// Seals `seq` after a commit or hold was flushed.
    pub(super) fn seal(&self, seq: u32) {
        if let Err(e) = write_seal(self.path(), seq) {
            tracing::warn!(seq, error = %e, path = %seal_path(self.path()).display(), "cannot write the store's seal");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store rolled back (here: a whole older copy put in its place, as
    /// sled does to itself after a bad checksum) is refused at open.
    #[test]
    fn a_store_older_than_its_seal_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("store");
        let mut s = Store::open(&dir, "k1").unwrap();
        let old = root.path().join("old");
        s.backup(&old).unwrap();
        let rec = crate::store::deliveries::tests::record(1, "police", "2015-01-01..2015-12-31");
        let crate::store::Begin::Started(seq) = s.begin("police", &[1; 32]).unwrap() else {
            panic!()
        };
        assert_eq!(seq, 1);
        s.commit(rec, &[1; 32]).unwrap();
        drop(s);
        assert_eq!(read_seal(&dir), Some(1));
        // sled's rollback leaves the files beside its log as they were.
        let seal = std::fs::read(seal_path(&dir)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::rename(&old, &dir).unwrap();
        std::fs::write(seal_path(&dir), seal).unwrap();
        let err = Store::open(&dir, "k1").err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("deliveries are missing"), "{err}");
    }
}
