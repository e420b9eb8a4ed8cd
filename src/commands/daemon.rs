//! `run`, `check-config`, `status` and `keygen`: starting the daemon and
//! checking what it would start with.

use std::path::Path;

use super::{init_logging, load_config, open_engine};
use anyhow::{Context, Result};

use crate::keys::HmacKey;
pub fn keygen(out: &Path) -> Result<()> {
    let key = HmacKey::generate()?;
    key.write_new(out)?;
    outln!("wrote key {} to {} (mode 0600)", key.id(), out.display());
    outln!("keep it secret and back it up offline: see keys/README.md");
    Ok(())
}

/// `outcomesd check-config`: runs exactly the loader `run` uses
/// ([`crate::config::Config::load`]: every TLS client and sink built, the key loaded,
/// schedules and spool directories checked) and says what it found. A
/// refused config is returned as the [`crate::config::ConfigError`], which
/// `main` prints and turns into exit status 78.
pub fn check_config(path: &Path, json: bool) -> Result<()> {
    if json {
        return check_config_json(path);
    }
    let c = load_config(path)?;
    outln!("{}: ok", path.display());
    outln!("  data_dir: {}", c.data_dir.display());
    outln!("  key_file: {}", c.key_file.display());
    outln!("  audit_key_file: {}", c.audit_key_file.display());
    outln!("  pack_key_file: {}", c.pack_key_file.display());
    for (name, f) in &c.feeds {
        let pull = f
            .pull
            .as_ref()
            .map_or("ingest only".to_string(), |p| p.url.clone());
        outln!("  feed {name}: {} ({pull})", f.spec.kind);
    }
    for sink in &c.sinks {
        outln!("  sink {}", sink.name());
    }
    Ok(())
}

/// `outcomesd run`: the daemon, until SIGTERM or SIGINT. A config the
/// loader refuses is an error before anything starts (exit 78).
pub fn run(config: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    init_logging(cfg.log_format, &cfg.log_level);
    let engine = open_engine(&cfg)?;
    super::audit::record_start(&cfg, &engine)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let r = rt.block_on(crate::daemon::run(cfg, engine));
    // A blocking task stuck in a write (a full disk) must not keep the
    // process past the drain deadline: the runtime is not waited on.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    r?;
    Ok(())
}

/// `outcomesd status [--json]`: what is stored, per feed.
pub fn status(config: &Path, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    if json {
        let s = super::status::status_report(&engine);
        outln!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        super::status::print_status(&engine)?;
    }
    Ok(())
}

/// `check-config --json`: `{"ok": true, ...}` with what was found, or
/// `{"ok": false, "issues": [...]}` (and the error, so exit 78) for a
/// config the loader refuses.
fn check_config_json(path: &Path) -> Result<()> {
    let c = match crate::config::Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            let issues: Vec<serde_json::Value> = e
                .issues
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "line": i.line,
                        "key": i.key,
                        "message": i.message,
                        "hint": i.hint,
                    })
                })
                .collect();
            let out = serde_json::json!({"path": path, "ok": false, "issues": issues});
            outln!("{}", serde_json::to_string_pretty(&out)?);
            return Err(e.into());
        }
    };
    let feeds: Vec<serde_json::Value> = c
        .feeds
        .iter()
        .map(|(name, f)| {
            serde_json::json!({
                "name": name,
                "kind": f.spec.kind,
                "pull_url": f.pull.as_ref().map(|p| p.url.clone()),
            })
        })
        .collect();
    let sinks: Vec<&str> = c.sinks.iter().map(|s| s.name()).collect();
    let out = serde_json::json!({
        "path": path,
        "ok": true,
        "data_dir": c.data_dir,
        "key_file": c.key_file,
        "framework": c.framework.as_ref().map(|f| serde_json::json!({"id": f.framework.id, "version": f.framework.version})),
        "feeds": feeds,
        "sinks": sinks,
    });
    outln!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
