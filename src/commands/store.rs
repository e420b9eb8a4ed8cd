//! `store check`, `store backup DIR` and `store restore DIR`: the store's
//! integrity and its copies, from the command line.
//!
//! In: a config (for the data dir and the key id) and a directory. Out: a
//! report on stdout; an error (exit 1) for damage found, a store in use,
//! or a refused restore. Promises: these never print a stored value, only
//! trees, keys and counts; the store is opened the ordinary way, so while
//! the daemon holds it they refuse and say to stop it.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::load_config;
use crate::keys::HmacKey;
use crate::store::Store;

const STOP_FIRST: &str =
    "the daemon holds the store: stop it first (systemctl stop outcomesd), then run this again";

fn open_store(config: &Path) -> Result<(Store, String)> {
    let cfg = load_config(config)?;
    let key = HmacKey::load(&cfg.key_file).context("loading the HMAC key")?;
    let dir = cfg.data_dir.join("store");
    match Store::open(&dir, key.id()) {
        Ok(s) => Ok((s, key.id().to_string())),
        Err(e @ crate::store::StoreError::InUse { .. }) => {
            Err(anyhow::Error::new(e).context(STOP_FIRST))
        }
        Err(e) => Err(anyhow::Error::new(e).context("opening the store")),
    }
}

/// `outcomesd store check`: every value of every tree read and decoded.
pub fn store_check(config: &Path, json: bool) -> Result<()> {
    let (store, _) = open_store(config)?;
    let report = store.check()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(out, "store {}: {report}", store.path().display())?;
    }
    if !report.is_clean() {
        bail!(
            "store {} is damaged ({} values): restore the last good backup (outcomesd store restore BACKUP_DIR --force)",
            store.path().display(),
            report.damaged.len()
        );
    }
    Ok(())
}

/// `outcomesd store backup DIR`: a consistent, checked copy, made here or,
/// while the daemon holds the store, by the daemon through its control
/// socket.
pub fn store_backup(config: &Path, dir: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let key = HmacKey::load(&cfg.key_file).context("loading the HMAC key")?;
    let store_dir = cfg.data_dir.join("store");
    let (values, bytes, report, by) = match Store::open(&store_dir, key.id()) {
        Ok(store) => {
            let (copied, report) = store
                .backup(dir)
                .with_context(|| format!("backing up to {}", dir.display()))?;
            record_copy(
                &cfg,
                &store,
                "backup",
                dir,
                copied.values,
                report.is_clean(),
            )?;
            if !report.is_clean() {
                bail!(
                    "the copy in {} did not check clean: {report}",
                    dir.display()
                );
            }
            (copied.values, copied.bytes, report.to_string(), "")
        }
        Err(crate::store::StoreError::InUse { .. }) => {
            let reply = backup_through_daemon(&cfg.data_dir, dir)?;
            (
                reply.values,
                reply.bytes,
                reply.message,
                " by the running daemon",
            )
        }
        Err(e) => return Err(anyhow::Error::new(e).context("opening the store")),
    };
    writeln!(
        std::io::stdout().lock(),
        "backed up {values} values ({:.1} MiB) to {}{by} (0700/0600); checked: {report}",
        bytes as f64 / 1048576.0,
        dir.display()
    )?;
    Ok(())
}

/// The audit entry for a copy made or put in place here (the daemon
/// records its own); written before the command reports success.
fn record_copy(
    cfg: &crate::config::Config,
    store: &Store,
    operation: &str,
    dir: &Path,
    values: u64,
    clean: bool,
) -> Result<()> {
    super::audit::open_audit(cfg, Some(store))?
        .record(crate::audit::Action::StoreCopied {
            operation: operation.to_string(),
            dir: std::path::absolute(dir)
                .unwrap_or_else(|_| dir.to_path_buf())
                .display()
                .to_string(),
            values,
            clean,
        })
        .with_context(|| format!("recording the {operation} in the audit log"))?;
    Ok(())
}

/// Asks the daemon holding the store for the backup (its control socket).
fn backup_through_daemon(data_dir: &Path, dir: &Path) -> Result<crate::daemon::control::Reply> {
    use crate::daemon::control::{request, Request};
    // The daemon resolves paths from its own working directory.
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let reply = request(data_dir, &Request::Backup { dir: dir.clone() }).context(
        "the store is held by the daemon, and it could not be asked for the backup: \
         stop it (systemctl stop outcomesd) and run this again",
    )?;
    if !reply.ok {
        bail!("the daemon refused the backup: {}", reply.message);
    }
    if !reply.clean {
        bail!(
            "the copy in {} did not check clean: {}",
            dir.display(),
            reply.message
        );
    }
    Ok(reply)
}

/// `outcomesd store restore DIR [--force]`: the backup checked, then
/// copied in; a non-empty store is moved aside only with `force`.
pub fn store_restore(config: &Path, dir: &Path, force: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let key = HmacKey::load(&cfg.key_file).context("loading the HMAC key")?;
    let target = cfg.data_dir.join("store");
    let r = crate::store::restore(dir, &target, key.id(), force).map_err(|e| match e {
        e @ crate::store::StoreError::InUse { .. } => anyhow::Error::new(e).context(STOP_FIRST),
        e => anyhow::Error::new(e).context(format!("restoring {}", dir.display())),
    })?;
    let store = Store::open(&target, key.id()).context("opening the restored store")?;
    record_copy(
        &cfg,
        &store,
        "restore",
        dir,
        r.copied.values,
        r.report.is_clean(),
    )?;
    drop(store);
    let mut out = std::io::stdout().lock();
    if let Some(p) = &r.moved_aside {
        writeln!(
            out,
            "the store it replaced is kept in {} (delete it once the restore is confirmed)",
            p.display()
        )?;
    }
    writeln!(
        out,
        "restored {} values from {} into {}; checked: {}",
        r.copied.values,
        dir.display(),
        target.display(),
        r.report
    )?;
    Ok(())
}
