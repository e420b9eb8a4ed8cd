//! Free space: a delivery is refused before anything of it is written when
//! the store's file system has no room for it.
//!
//! In: the store's path, a delivery's size and the reserve. Out: `Ok`, or
//! [`IngestError::LowSpace`] naming free and needed MiB. Promises: checked
//! with `statvfs` (blocks available to an unprivileged process), never by
//! writing.

use std::path::Path;

use super::IngestError;

/// Free space a delivery of `bytes` needs on top of the reserve. An
/// estimate, not a measured bound: a delivery's rows are a fraction of its
/// bytes once pseudonymised, while sled's log keeps old copies until it
/// compacts (4-6x the raw bytes over a store's life); the reserve covers
/// the rest.
pub const SPACE_FACTOR: u64 = 3;

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
    bytes: usize,
    reserve: u64,
) -> Result<(), IngestError> {
    let free = free_bytes(path).map_err(|e| IngestError::FreeSpace {
        path: path.to_path_buf(),
        source: e,
    })?;
    let needed = (bytes as u64)
        .saturating_mul(SPACE_FACTOR)
        .saturating_add(reserve);
    if free < needed {
        let mib = |b: u64| b.div_ceil(1024 * 1024);
        return Err(IngestError::LowSpace {
            feed: feed.to_string(),
            path: path.to_path_buf(),
            free_mib: free / (1024 * 1024),
            needed_mib: mib(needed),
            bytes_mib: mib(bytes as u64),
            reserve_mib: mib(reserve),
        });
    }
    Ok(())
}
