//! `run`, `check-config`, `status` and `keygen`: starting the daemon and
//! checking what it would start with.

use std::path::Path;

use super::{init_logging, load_config, open_engine};
use anyhow::{Context, Result};

use crate::ingest::Engine;
use crate::keys::HmacKey;
use crate::records::SourceKind;
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
pub fn check_config(path: &Path) -> Result<()> {
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

pub fn status(config: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    print_status(&engine)?;
    Ok(())
}

/// Prints what is stored; fails only if stdout does.
pub fn print_status(engine: &Engine) -> std::io::Result<()> {
    let store = &engine.store;
    outln!(
        "store: {} ({:.1} MiB on disk)",
        store.path().display(),
        store.size_on_disk() as f64 / 1048576.0
    );
    outln!(
        "persons: {} records' people, {} distinct after merges",
        engine.matcher.person_count(),
        engine.matcher.canonical_count()
    );
    let mut feeds: std::collections::BTreeMap<&str, Vec<_>> = Default::default();
    for d in store.deliveries() {
        feeds.entry(d.feed.as_str()).or_default().push(d);
    }
    if feeds.is_empty() {
        outln!("no deliveries stored yet");
    }
    // What is in effect, not what was ever received: events no later full
    // extract of the feed hid, the latest version of each case, the claims.
    let mut effect: std::collections::HashMap<&str, u64> = Default::default();
    let seq_feed = |seq: u32| store.delivery(seq).map(|d| d.feed.as_str());
    if let Ok(per_seq) = store.events_in_effect() {
        for (seq, n) in per_seq {
            if let Some(f) = seq_feed(seq) {
                *effect.entry(f).or_default() += n;
            }
        }
    }
    let cases = store.cases().ok();
    for c in cases.iter().flatten() {
        if let Some(f) = seq_feed(c.seq) {
            *effect.entry(f).or_default() += c.members.len() as u64;
        }
    }
    for c in store.claims().ok().iter().flatten() {
        if let Some(f) = seq_feed(c.seq) {
            *effect.entry(f).or_default() += 1;
        }
    }
    for (feed, ds) in feeds {
        let last = ds.last().expect("non-empty");
        let rows: u64 = ds.iter().map(|d| d.accepted).sum();
        let rejected: u64 = ds.iter().map(|d| d.rejected).sum();
        let now = effect.get(feed).copied().unwrap_or(0);
        outln!(
            "feed {feed} ({}): {now} rows in effect ({rows} accepted over {} deliveries, {rejected} rejected); last delivery {} at {}",
            last.kind,
            ds.len(),
            last.seq,
            last.received_at.format("%Y-%m-%d %H:%M:%SZ")
        );
    }
    for h in store.holds().unwrap_or_default() {
        let waiting = h.state == crate::store::HoldState::Held
            || (h.state == crate::store::HoldState::Accepted && h.applied_as.is_none());
        if waiting {
            outln!(
                "HELD delivery {} of feed {} ({}, {} rows): {}; nothing of it is in effect (`outcomesd deliveries accept|reject {}`)",
                h.seq,
                h.feed,
                h.state.name(),
                h.rows,
                h.reason,
                h.seq
            );
        }
    }
    for kind in SourceKind::ALL.into_iter().filter(|k| k.carries_events()) {
        let cov = store.coverage(kind);
        if !cov.is_empty() {
            let list: Vec<String> = cov.iter().map(|p| p.to_string()).collect();
            outln!("coverage {kind}: {}", list.join(", "));
        }
    }
    if let Some(cases) = cases {
        outln!("cases: {}", cases.len());
    }
    let mut counts: Vec<_> = store.counts().into_iter().collect();
    counts.sort();
    let c: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    outln!("rows: {}", c.join(", "));
    Ok(())
}
