//! `assurance`: the stored claims and decisions run through
//! [`crate::assurance`]'s tests, printed as flags (or JSON).
//!
//! In: the store. Out: the report on stdout. Promises: read-only (it
//! decides nothing: claims not decided yet count in volumes, not in
//! verified shares); the output names claims, staff refs, teams and
//! outcomes, never a person.

use std::path::Path;

use anyhow::Result;

use super::{load_config, open_engine};
use crate::assurance::{assess, Input, Thresholds};

pub fn assurance(config: &Path, json: bool, reason: Option<&str>) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let claims = engine.store.claims()?;
    let verdicts = crate::triangulate::stored_verdicts(&engine.store)?;
    let deliveries: Vec<_> = engine.store.deliveries().cloned().collect();
    super::audit::read(&engine, reason, "assurance", &[])?;
    let report = assess(
        &Input {
            claims: &claims,
            verdicts: &verdicts,
            deliveries: &deliveries,
        },
        &Thresholds::default(),
    );
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let t = &report.thresholds;
    outln!(
        "{} claims; {} flags (robust z beyond {}, at least {} peers; verified share p < {} Bonferroni, at least {} decided; edge {} days; flips within {} days)",
        report.claims,
        report.flags.len(),
        t.robust_z,
        t.min_peers,
        t.alpha,
        t.min_decided,
        t.edge_days,
        t.flip_days
    );
    for f in &report.flags {
        outln!("{}: {}", f.kind.name(), f.subject);
        outln!("  why: {}", f.why);
        outln!("  test: {}", f.test);
        let figs: Vec<String> = f
            .figures
            .iter()
            .map(|(k, v)| format!("{k} {}", fig(*v)))
            .collect();
        outln!("  figures: {}", figs.join(", "));
        let shown: Vec<String> = f.claims.iter().take(20).map(|c| c.to_string()).collect();
        let more = f.claims.len().saturating_sub(shown.len());
        outln!(
            "  claims ({}): {}{}",
            f.claims.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more (--json lists all)")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// A figure as a person reads it: whole numbers whole, small p-values in
/// scientific notation.
fn fig(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() < 1e-3 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}
