//! Free space: a delivery is refused before anything of it is written when
//! the store's file system has no room for it.
//!
//! In: the store's path, a delivery's size and the reserve. Out: `Ok`, or
//! [`IngestError::LowSpace`] naming free and needed MiB. Promises: checked
//! with `statvfs` (blocks available to an unprivileged process), never by
//! writing.

use std::path::Path;

use super::IngestError;

/// How many times its own size a delivery of `kind` can grow the store by,
/// decisions and notices included. Measured (`du -sb` of the store around
/// each `ingest` of a 5,000-family realistic synth set, one after another in
/// dependency order): case 5.8x (every member's tokens and the identity
/// log), claims 134x (each claim row is a few dozen bytes but its decision,
/// evidence and notice are kilobytes), event feeds 1.8-3.2x. Rounded up
/// with room: an estimate, so the reserve still covers sled's compaction.
pub fn space_factor(kind: crate::records::SourceKind) -> u64 {
    use crate::records::SourceKind as K;
    match kind {
        K::Claims => 160,
        K::Case => 8,
        _ => 4,
    }
}

/// The default `[store] reserve_megabytes`: room left for the outbox, the
/// verdicts and sled's own compaction after any delivery.
pub const DEFAULT_RESERVE: u64 = 256 * 1024 * 1024;

/// Bytes available to this (unprivileged) process on `path`'s file system.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(path)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Refuses a delivery of `bytes` the store's file system has no room
/// for. Checked before anything of it is written (a sled write that
/// meets a full disk can leave the store unreadable), so a refusal
/// leaves the store as it was and nothing is acknowledged.
pub(super) fn check_space(
    path: &Path,
    feed: &str,
    factor: u64,
    bytes: usize,
    reserve: u64,
) -> Result<(), IngestError> {
    let free = free_bytes(path).map_err(|e| IngestError::FreeSpace {
        path: path.to_path_buf(),
        source: e,
    })?;
    let needed = needed(factor, bytes, reserve);
    if free < needed {
        let mib = |b: u64| b.div_ceil(1024 * 1024);
        return Err(IngestError::LowSpace {
            feed: feed.to_string(),
            path: path.to_path_buf(),
            free_mib: free / (1024 * 1024),
            needed_mib: mib(needed),
            factor,
            bytes_mib: mib(bytes as u64),
            reserve_mib: mib(reserve),
        });
    }
    Ok(())
}

/// Free bytes a delivery of `kind` and `bytes` needs, reserve included.
pub fn needed_bytes(kind: crate::records::SourceKind, bytes: usize, reserve: u64) -> u64 {
    needed(space_factor(kind), bytes, reserve)
}

fn needed(factor: u64, bytes: usize, reserve: u64) -> u64 {
    (bytes as u64)
        .saturating_mul(factor)
        .saturating_add(reserve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SourceKind;

    /// Claims need room for their decisions, not for their own bytes; a
    /// case file for every member's tokens; and no event feed less than
    /// the 3.2x the largest was measured at.
    #[test]
    fn each_kind_needs_room_for_what_it_makes() {
        let mib = 1024 * 1024;
        assert_eq!(needed_bytes(SourceKind::Claims, mib, 0), 160 * mib as u64);
        assert!(needed_bytes(SourceKind::Case, mib, 0) >= 6 * mib as u64);
        for k in [
            SourceKind::Police,
            SourceKind::Education,
            SourceKind::Services,
        ] {
            assert!(needed_bytes(k, mib, 0) as f64 >= 3.2 * mib as f64, "{k:?}");
            assert_eq!(space_factor(k), 4, "{k:?}");
        }
        assert_eq!(needed_bytes(SourceKind::Police, 10, 7), 47);
        assert_eq!(needed_bytes(SourceKind::Claims, usize::MAX, 1), u64::MAX);
    }
}
