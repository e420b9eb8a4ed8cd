//! `ingest`: apply one delivery by hand (the correction route).

use std::io::Write as _;
use std::path::Path;

use super::{
    init_logging, load_config, open_engine, progress_spinner, read_delivery, verdict_counts,
};

use anyhow::{Context, Result};

use crate::ingest::IngestOptions;
use crate::records::Period;
pub fn ingest(
    config: &Path,
    feed: &str,
    file: &Path,
    period: Option<&str>,
    json: bool,
) -> Result<()> {
    let cfg = load_config(config)?;
    init_logging(cfg.log_format, &cfg.log_level);
    let fc = cfg.feed(feed).with_context(|| {
        let names: Vec<_> = cfg.feeds.keys().cloned().collect();
        format!(
            "no feed '{feed}' in {} (feeds: {})",
            config.display(),
            names.join(", ")
        )
    })?;
    let period = period
        .map(|p| Period::parse(p).with_context(|| "--period must be YYYY-MM-DD..YYYY-MM-DD"))
        .transpose()?;
    let mut engine = open_engine(&cfg)?;
    let bytes = read_delivery(file)?;
    let spinner = progress_spinner(&format!("ingesting {}", file.display()));
    let opts = IngestOptions {
        period,
        ..Default::default()
    };
    let summary = engine.ingest(&fc.spec, &bytes, &opts);
    spinner.finish_and_clear();
    if let Err(e) = &summary {
        // Refused whole: the partner hears why, as from a pull.
        let sinks: Vec<_> = (cfg.feeds.iter())
            .map(|(n, f)| (n.clone(), f.receipts.clone()))
            .collect();
        crate::notify::receipt::Receipts::new(engine.store.outbox(), &cfg.data_dir, &sinks)
            .after_refusal(feed, &bytes, e, chrono::Utc::now());
    }
    let summary =
        summary.with_context(|| format!("ingesting {} as feed {feed}", file.display()))?;
    print_and_decide(&cfg, &engine, &summary, json)
}

/// Prints an ingest summary and re-decides the claims of the families the
/// delivery touched (nothing when it was a duplicate or held).
pub(super) fn print_and_decide(
    cfg: &crate::config::Config,
    engine: &crate::ingest::Engine,
    summary: &crate::ingest::IngestSummary,
    json: bool,
) -> Result<()> {
    // The delivery is committed: a closed stdout (`| head`) must not stop
    // its claims being decided, so write errors are returned at the end.
    let mut out = std::io::stdout().lock();
    let shown = if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)
    } else {
        writeln!(out, "{summary}")
    };
    let applied = summary.duplicate_of.is_none() && summary.hold.is_none();
    if let Some(fw) = &cfg.framework {
        let notices = super::notices_of(cfg, engine)?;
        let now = chrono::Utc::now();
        if applied {
            let touched: std::collections::HashSet<String> =
                summary.touched_cases.iter().cloned().collect();
            let (r, q) = crate::notify::reconcile::after_delivery(
                &engine.store,
                engine.matcher(),
                fw,
                &notices,
                &touched,
                now,
            )?;
            if !json && shown.is_ok() {
                writeln!(
                    out,
                    "re-evaluated {} claims of {} families: {}; {} notices queued (the daemon sends them)",
                    r.claims,
                    r.cases,
                    verdict_counts(&r.counts),
                    q.queued
                )?;
            }
        } else {
            // Nothing new, but a stop after an earlier delivery committed
            // may have left its claims undecided: the retry mends that.
            crate::notify::reconcile::catch_up(
                &engine.store,
                engine.matcher(),
                fw,
                &notices,
                None,
                now,
            )?;
        }
    }
    shown?;
    Ok(())
}
