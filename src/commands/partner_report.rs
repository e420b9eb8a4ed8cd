//! `partner-report`: what a partner's feed evidenced, in aggregate, with
//! small numbers suppressed so nothing identifies a family.
//!
//! In: the config, a feed and a period of claim dates. Out: the claims its
//! records helped decide (a stored verdict whose evidence consulted the
//! feed: its coverage is in the evidence, or for a case or claims feed,
//! every claim), by outcome and verdict, as text or JSON.
//!
//! Promises: only counts leave, never a case, person or date, suppressed
//! as [`crate::notify::feedback`] promises (the daemon's scheduled report
//! is the same aggregate).

use std::path::Path;

use anyhow::{Context, Result};

use super::{load_config, open_engine};
use crate::notify::feedback::{report_of, THRESHOLD};
use crate::records::Period;
use crate::triangulate;

pub fn partner_report(config: &Path, feed: &str, period: &str, json: bool) -> Result<()> {
    let period = Period::parse(period).context("--period must be YYYY-MM-DD..YYYY-MM-DD")?;
    let cfg = load_config(config)?;
    let fc = cfg.feed(feed).with_context(|| {
        let names: Vec<_> = cfg.feeds.keys().cloned().collect();
        format!(
            "no feed '{feed}' in {} (feeds: {})",
            config.display(),
            names.join(", ")
        )
    })?;
    let engine = open_engine(&cfg)?;
    let verdicts = triangulate::stored_verdicts(&engine.store)?;
    let r = report_of(&verdicts, feed, fc.spec.kind, period);
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    outln!(
        "feed {} ({}): claims dated {} its records helped decide (counts under {} shown as <5)",
        r.feed,
        r.kind,
        r.period,
        THRESHOLD
    );
    outln!(
        "{:<16} {:>9} {:>12} {:>12} {:>9} {:>7}",
        "outcome",
        "verified",
        "contradicted",
        "insufficient",
        "attested",
        "total"
    );
    for l in r.by_outcome.iter().chain(std::iter::once(&r.totals)) {
        outln!(
            "{:<16} {:>9} {:>12} {:>12} {:>9} {:>7}",
            l.outcome_id,
            l.verified.to_string(),
            l.contradicted.to_string(),
            l.insufficient.to_string(),
            l.attested.to_string(),
            l.total.to_string()
        );
    }
    Ok(())
}
