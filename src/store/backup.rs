//! Backup and restore: a whole store copied, tree by tree, to a new one.
//!
//! In: an open [`Store`] (so this process holds its lock: nothing else
//! writes while it is copied) and a directory. Out: a store in that
//! directory with every key of every tree, checked with
//! [`Store::check`] before it is reported good.
//!
//! Promises:
//! * consistent: the source is held open for the whole copy, and a store
//!   held by the daemon cannot be opened (the CLI says to stop it);
//! * private: the directory is made 0700 and every file in it 0600,
//!   whatever the umask;
//! * a backup is written only into a missing or empty directory, and a
//!   restore replaces a non-empty store only when told to (the old one is
//!   moved aside, not deleted).

use std::path::{Path, PathBuf};

use super::db::{Trees, Write};
use super::{CheckReport, Store, StoreError, TreeId};

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Sled {
        path: path.to_path_buf(),
        source: sled::Error::Io(e),
    }
}

/// True if `dir` is missing or has no entries.
pub fn is_empty_dir(dir: &Path) -> Result<bool, StoreError> {
    match std::fs::read_dir(dir) {
        Ok(mut it) => Ok(it.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io(dir, e)),
    }
}

/// Makes `dir` 0700 (and its files 0600), recursively.
pub(super) fn make_private(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io(dir, e))?;
    for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let entry = entry.map_err(|e| io(dir, e))?;
        let p = entry.path();
        if entry.file_type().map_err(|e| io(&p, e))?.is_dir() {
            make_private(&p)?;
        } else {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(&p, e))?;
        }
    }
    Ok(())
}

/// Keys and bytes copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    pub values: u64,
    pub bytes: u64,
}

impl Store {
    /// Copies every tree into a new store at `dest` (missing or empty),
    /// flushes it, makes it private, and checks it.
    pub fn backup(&self, dest: &Path) -> Result<(Copied, CheckReport), StoreError> {
        if !is_empty_dir(dest)? {
            return Err(io(
                dest,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "is not empty: a backup is written to a new or empty directory",
                ),
            ));
        }
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dest)
                .map_err(|e| io(dest, e))?;
        }
        let copied = self.copy_to(dest)?;
        super::seal::write_seal(dest, self.durable_seq()?).map_err(|e| io(dest, e))?;
        make_private(dest)?;
        let key_id = self.key_id()?;
        let report = Store::open(dest, &key_id)?.check()?;
        Ok((copied, report))
    }

    fn copy_to(&self, dest: &Path) -> Result<Copied, StoreError> {
        let out = Trees::open(dest)?;
        let mut c = Copied::default();
        super::guard(self.path(), || {
            for t in TreeId::ALL {
                for item in self.trees.iter(t) {
                    let (k, v) = item?;
                    out.write(t, Write::Insert(&k, &v))?;
                    c.values += 1;
                    c.bytes += (k.len() + v.len()) as u64;
                }
            }
            out.flush()
        })?;
        Ok(c)
    }

    /// The HMAC key id the store was built with.
    pub fn key_id(&self) -> Result<String, StoreError> {
        Ok(self
            .trees
            .get(TreeId::Meta, b"key_id")?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default())
    }
}

/// What [`restore`] did.
#[derive(Debug)]
pub struct Restored {
    pub copied: Copied,
    /// Where the store it replaced was moved, if there was one.
    pub moved_aside: Option<PathBuf>,
    pub report: CheckReport,
}

/// Restores the backup at `from` into `store_dir`: the backup is opened
/// with `key_id` (a backup under another key is refused) and checked
/// first; damage refuses it. A non-empty `store_dir` is refused unless
/// `force`, and then moved aside to `store_dir.replaced-TIME`.
pub fn restore(
    from: &Path,
    store_dir: &Path,
    key_id: &str,
    force: bool,
) -> Result<Restored, StoreError> {
    if !from.join("db").is_file() {
        return Err(io(
            from,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "is not a store backup (no db file)",
            ),
        ));
    }
    let backup = Store::open(from, key_id)?;
    let report = backup.check()?;
    if !report.is_clean() {
        return Err(StoreError::Corrupt {
            path: from.to_path_buf(),
            what: format!("the backup is damaged, nothing restored: {report}"),
        });
    }
    let mut moved_aside = None;
    if !is_empty_dir(store_dir)? {
        if !force {
            return Err(io(
                store_dir,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "holds a store; restore replaces it only with --force (it is moved aside, not deleted)",
                ),
            ));
        }
        let mut aside = store_dir.as_os_str().to_owned();
        aside.push(format!(
            ".replaced-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        let aside = PathBuf::from(aside);
        std::fs::rename(store_dir, &aside).map_err(|e| io(store_dir, e))?;
        moved_aside = Some(aside);
    }
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(store_dir)
            .map_err(|e| io(store_dir, e))?;
    }
    let copied = backup.copy_to(store_dir)?;
    // The restored store is older than the seal of the one it replaced.
    super::seal::write_seal(store_dir, backup.durable_seq()?).map_err(|e| io(store_dir, e))?;
    drop(backup);
    make_private(store_dir)?;
    let report = Store::open(store_dir, key_id)?.check()?;
    Ok(Restored {
        copied,
        moved_aside,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn backup_is_private_and_whole_and_restore_refuses_to_overwrite_unless_forced() {
        let root = tempfile::tempdir().unwrap();
        let live = root.path().join("store");
        let bak = root.path().join("bak");
        let s = Store::open(&live, "k1").unwrap();
        s.put_verdict("C1", "o", chrono::NaiveDate::MIN, b"{\"v\":1}")
            .unwrap();
        let (copied, report) = s.backup(&bak).unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(copied.values, report.values);
        assert_eq!(mode(&bak), 0o700);
        assert_eq!(mode(&bak.join("db")), 0o600);
        assert!(s.backup(&bak).is_err(), "a non-empty directory is refused");
        s.put_verdict("C2", "o", chrono::NaiveDate::MIN, b"{\"v\":2}")
            .unwrap();
        drop(s);

        let err = crate::error::chain(&restore(&bak, &live, "k1", false).unwrap_err());
        assert!(err.contains("--force"), "{err}");
        assert!(restore(&bak, &live, "k2", true).is_err(), "another key");
        let r = restore(&bak, &live, "k1", true).unwrap();
        assert!(r.report.is_clean());
        assert!(r.moved_aside.as_ref().unwrap().join("db").is_file());
        let back = Store::open(&live, "k1").unwrap();
        assert_eq!(back.trees.len(TreeId::Verdicts), 1, "the backup's state");
        assert_eq!(mode(&live), 0o700);
    }

    #[test]
    fn a_damaged_backup_is_not_restored() {
        let root = tempfile::tempdir().unwrap();
        let bak = root.path().join("bak");
        let s = Store::open(&root.path().join("store"), "k1").unwrap();
        s.backup(&bak).unwrap();
        drop(s);
        {
            let b = Store::open(&bak, "k1").unwrap();
            b.trees
                .write(TreeId::Deliveries, Write::Insert(&[0, 0, 0, 9], b"{"))
                .unwrap();
            b.flush().unwrap();
        }
        let target = root.path().join("fresh");
        // The damaged record stops even the open (deliveries are read then).
        let err = restore(&bak, &target, "k1", false).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(is_empty_dir(&target).unwrap(), "nothing restored");
    }
}
