//! `deliveries list|accept|reject`: the deliveries stored and held, and an
//! operator's decision on a held one.
//!
//! In: the config, a delivery id (the number `ingest` and `/healthz`
//! print), for `accept` optionally the partner's file again, and who
//! decides. Out: the decision recorded (who, when) and, when the file is
//! given, the delivery applied exactly as `ingest` would apply it now.
//!
//! Promises: a held delivery is applied only from bytes whose SHA-256 is the
//! held one's (a hold keeps no rows, so the bytes are needed again); a
//! decision is made once (an accepted or rejected hold is not decided
//! again); run with the daemon stopped, like every command that writes.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ingest::print_and_decide;
use super::{load_config, open_engine, read_delivery};
use crate::audit::Action;
use crate::ingest::IngestOptions;
use crate::records::{Period, SourceKind};
use crate::store::{HoldDecision, HoldState};

/// One line of `deliveries list`.
#[derive(Debug, Serialize)]
struct Listed {
    id: u32,
    feed: String,
    kind: SourceKind,
    period: Option<Period>,
    received_at: chrono::DateTime<chrono::Utc>,
    rows: u64,
    accepted: u64,
    rejected: u64,
    /// `applied`, `held`, `accepted` (waiting for its bytes) or `rejected`.
    state: &'static str,
    reason: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<chrono::DateTime<chrono::Utc>>,
    /// For an accepted hold: the delivery it was applied as.
    applied_as: Option<u32>,
}

/// The operator: `--by`, else the login name.
fn operator(by: Option<&str>) -> String {
    by.map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

pub fn deliveries_list(config: &Path, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let store = &engine.store;
    let mut out: Vec<Listed> = store
        .deliveries()
        .map(|d| Listed {
            id: d.seq,
            feed: d.feed.clone(),
            kind: d.kind,
            period: d.period,
            received_at: d.received_at,
            rows: d.rows,
            accepted: d.accepted,
            rejected: d.rejected,
            state: "applied",
            reason: None,
            decided_by: None,
            decided_at: None,
            applied_as: None,
        })
        .collect();
    for h in store.holds()? {
        out.push(Listed {
            id: h.seq,
            feed: h.feed,
            kind: h.kind,
            period: h.period,
            received_at: h.received_at,
            rows: h.rows,
            accepted: h.accepted,
            rejected: h.rejected,
            state: h.state.name(),
            reason: Some(h.reason),
            decided_by: h.decision.as_ref().map(|d| d.by.clone()),
            decided_at: h.decision.as_ref().map(|d| d.at),
            applied_as: h.applied_as,
        });
    }
    out.sort_by_key(|l| l.id);
    if json {
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if out.is_empty() {
        outln!("no deliveries stored or held");
    }
    for l in &out {
        let period = l.period.map_or("-".to_string(), |p| p.to_string());
        out!(
            "{:>5}  {:<10} {:<12} {:<23} {:>8} rows {:>8} accepted  {}",
            l.id,
            l.state,
            l.feed,
            period,
            l.rows,
            l.accepted,
            l.received_at.format("%Y-%m-%d %H:%M:%SZ")
        );
        if let (Some(by), Some(at)) = (&l.decided_by, l.decided_at) {
            out!("  decided by {by} at {}", at.format("%Y-%m-%d %H:%M:%SZ"));
        }
        if let Some(a) = l.applied_as {
            out!("  applied as {a}");
        }
        outln!();
        if let Some(r) = &l.reason {
            outln!("       why held: {r}");
        }
    }
    Ok(())
}

/// `deliveries accept ID [--file F]`: records the decision; with the file
/// (checked against the held hash) applies it now, else the next arrival
/// of the same bytes (`ingest` or the feed's pull) applies it.
pub fn deliveries_accept(
    config: &Path,
    id: u32,
    file: Option<&Path>,
    by: Option<&str>,
) -> Result<()> {
    let cfg = load_config(config)?;
    let mut engine = open_engine(&cfg)?;
    let Some(h) = engine.store.held(id)? else {
        bail!("delivery {id} is not a held delivery (see `outcomesd deliveries list`)");
    };
    let bytes = file.map(read_delivery).transpose()?;
    if let (Some(b), Some(f)) = (&bytes, file) {
        if hex::encode(Sha256::digest(b)) != h.content_hash {
            bail!(
                "{} is not held delivery {id} of feed {}: its SHA-256 differs (a corrected file is a new delivery: ingest it)",
                f.display(),
                h.feed
            );
        }
    }
    match h.state {
        HoldState::Held => {
            let d = HoldDecision {
                by: operator(by),
                at: chrono::Utc::now(),
            };
            let by = d.by.clone();
            engine.store.decide_hold(id, HoldState::Accepted, d)?;
            crate::audit::note(
                engine.audit.as_ref(),
                Action::DeliveryAccepted { delivery: id, by },
            )?;
        }
        HoldState::Accepted if h.applied_as.is_none() && bytes.is_some() => {}
        s => bail!(
            "delivery {id} was already {}{}",
            s.name(),
            h.decision
                .as_ref()
                .map_or(String::new(), |d| format!(" by {} at {}", d.by, d.at))
        ),
    }
    let Some(bytes) = bytes else {
        outln!(
            "delivery {id} of feed {} accepted; it is applied when its bytes come again: `outcomesd deliveries accept {id} --file FILE`, `outcomesd ingest`, or the feed's next pull",
            h.feed
        );
        return Ok(());
    };
    let fc = cfg
        .feed(&h.feed)
        .with_context(|| format!("feed {} of delivery {id} is no longer configured", h.feed))?;
    let opts = IngestOptions {
        period: h.period,
        ..Default::default()
    };
    let summary = engine
        .ingest(&fc.spec, &bytes, &opts)
        .with_context(|| format!("applying held delivery {id} of feed {}", h.feed))?;
    outln!("delivery {id} accepted and applied:");
    print_and_decide(&cfg, &engine, &summary, false)
}

pub fn deliveries_reject(config: &Path, id: u32, by: Option<&str>) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let Some(h) = engine.store.held(id)? else {
        bail!("delivery {id} is not a held delivery (see `outcomesd deliveries list`)");
    };
    if h.state != HoldState::Held {
        bail!("delivery {id} was already {}", h.state.name());
    }
    let d = HoldDecision {
        by: operator(by),
        at: chrono::Utc::now(),
    };
    let by = d.by.clone();
    let h = engine.store.decide_hold(id, HoldState::Rejected, d)?;
    crate::audit::note(
        engine.audit.as_ref(),
        Action::DeliveryRejected { delivery: id, by },
    )?;
    outln!(
        "delivery {id} of feed {} rejected by {}; nothing of it was applied, and the same bytes never will be",
        h.feed,
        h.decision.map(|d| d.by).unwrap_or_default()
    );
    Ok(())
}
