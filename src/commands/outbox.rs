//! `outbox list|retry`: the deliveries of notices and receipts per sink,
//! and a nudge for those waiting on their backoff.
//!
//! In: the config's sinks and the store's outbox. Out: per sink counts and
//! each undelivered (notice, sink) with its attempts, next attempt and last
//! error (named failures, never notice data). Promises: `retry` changes
//! only when an undelivered delivery is next due; nothing is sent here (the
//! daemon sends); while the daemon runs, `retry` asks it through the
//! control socket (`daemon::control`).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{load_config, open_engine};
use crate::notify::{Outbox, OutboxEntry};

/// One sink's deliveries by state.
#[derive(Debug, Default, Serialize)]
struct SinkCounts {
    sink: String,
    configured: bool,
    pending: usize,
    failing: usize,
    delivered: usize,
}

/// `outbox list [--sink NAME] [--all] [--json]`: counts per sink, then the
/// undelivered deliveries (every one with `--all`), soonest due first.
pub fn outbox_list(config: &Path, sink: Option<&str>, all: bool, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let outbox = Outbox::new(engine.store.outbox(), all_sinks(&cfg))?;
    let mut entries: Vec<OutboxEntry> = outbox
        .entries()?
        .into_iter()
        .filter(|e| sink.is_none_or(|s| s == e.sink))
        .collect();
    let mut sinks: Vec<SinkCounts> = outbox
        .sink_names()
        .iter()
        .filter(|s| sink.is_none_or(|x| x == s.as_str()))
        .map(|s| SinkCounts {
            sink: s.clone(),
            configured: true,
            ..Default::default()
        })
        .collect();
    for e in &entries {
        let i = match sinks.iter().position(|s| s.sink == e.sink) {
            Some(i) => i,
            None => {
                sinks.push(SinkCounts {
                    sink: e.sink.clone(),
                    configured: e.configured,
                    ..Default::default()
                });
                sinks.len() - 1
            }
        };
        let c = &mut sinks[i];
        match (e.state.delivered_at, e.state.attempts) {
            (Some(_), _) => c.delivered += 1,
            (None, 0) => c.pending += 1,
            (None, _) => c.failing += 1,
        }
    }
    if !all {
        entries.retain(|e| e.state.delivered_at.is_none());
    }
    entries.sort_by(|a, b| {
        (
            a.state.delivered_at.is_some(),
            a.state.next_attempt_at,
            &a.sink,
        )
            .cmp(&(
                b.state.delivered_at.is_some(),
                b.state.next_attempt_at,
                &b.sink,
            ))
    });
    if json {
        let out = serde_json::json!({"sinks": sinks, "deliveries": entries});
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for s in &sinks {
        outln!(
            "sink {}{}: {} pending, {} failing, {} delivered",
            s.sink,
            if s.configured {
                ""
            } else {
                " (no longer configured: not attempted)"
            },
            s.pending,
            s.failing,
            s.delivered
        );
    }
    for e in &entries {
        let st = &e.state;
        let state = match st.delivered_at {
            Some(at) => format!("delivered {}", at.format("%Y-%m-%d %H:%M:%SZ")),
            None => format!(
                "{} attempts failed, next {}",
                st.attempts,
                st.next_attempt_at.format("%Y-%m-%d %H:%M:%SZ")
            ),
        };
        let err = st
            .last_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        outln!("  {} -> {}: {state}{err}", e.notice, e.sink);
    }
    Ok(())
}

/// `outbox retry [--sink NAME] [NOTICE]`: makes undelivered deliveries due
/// now, so they are tried on the next round rather than at the end of
/// their backoff. With the daemon stopped, here (it sends them when it
/// starts); while it runs and holds the store, by the daemon through its
/// control socket.
pub fn outbox_retry(config: &Path, sink: Option<&str>, notice: Option<&str>) -> Result<()> {
    let cfg = load_config(config)?;
    let sinks = all_sinks(&cfg);
    if let Some(s) = sink {
        if !sinks.iter().any(|n| n == s) {
            bail!("the config has no sink {s:?} (see `outcomesd outbox list`)");
        }
    }
    let (n, by) = match open_engine(&cfg) {
        Ok(engine) => {
            let outbox = Outbox::new(engine.store.outbox(), sinks)?;
            (outbox.retry_now(sink, notice, chrono::Utc::now())?, "")
        }
        Err(e) if store_in_use(&e) => {
            use crate::daemon::control::{request, Request};
            let req = Request::OutboxRetry {
                sink: sink.map(str::to_string),
                notice: notice.map(str::to_string),
            };
            let reply = request(&cfg.data_dir, &req).context(
                "the store is held by the daemon, and it could not be asked to retry: \
                 stop it (systemctl stop outcomesd) and run this again",
            )?;
            if !reply.ok {
                bail!("the daemon refused the retry: {}", reply.message);
            }
            (reply.retried as usize, " by the running daemon")
        }
        Err(e) => return Err(e),
    };
    if n == 0 && notice.is_some() {
        bail!(
            "no undelivered delivery of that notice{}",
            sink.map(|s| format!(" to sink {s:?}")).unwrap_or_default()
        );
    }
    outln!("{n} undelivered deliveries are due now{by}; the daemon sends them on its next round");
    Ok(())
}

/// Every sink the daemon delivers to: the notices' and the feeds' receipts'.
fn all_sinks(cfg: &crate::config::Config) -> Vec<String> {
    let notices = cfg.sinks.iter().map(|s| s.name().to_string());
    let receipts = (cfg.feeds.values())
        .flat_map(|f| f.receipts.iter())
        .map(|s| s.name().to_string());
    notices.chain(receipts).collect()
}

/// Whether opening the store failed because another process (the daemon)
/// holds it.
fn store_in_use(e: &anyhow::Error) -> bool {
    use crate::ingest::IngestError;
    use crate::store::StoreError;
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<StoreError>(),
            Some(StoreError::InUse { .. })
        ) || matches!(
            c.downcast_ref::<IngestError>(),
            Some(IngestError::Store(StoreError::InUse { .. }))
        )
    })
}
