//! `outcomesd review list|show|decide`: the blind clerical-review queue.
//!
//! In: the config (store and key), an item id, a reviewer's decision. Out:
//! the queue as text or JSON (records named by feed, delivery and row, the
//! agreement pattern as levels and weights: never a value); a decision
//! recorded durably, the affected families' claims re-decided, and notices
//! queued for every verdict that changed (delivered by the daemon's
//! outbox).
//!
//! Promises: a decision is made once per item and is honoured from then on
//! (see `crate::review`); the command refuses an unknown, decided or
//! settled item with the reason.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::{load_config, open_engine};
use crate::audit::Action;
use crate::review::{self, Item, Status};
use crate::store::ReviewVerdict;
use crate::triangulate::Verdict;

/// `review list`: open items (all with `all`), those affecting claims first.
pub fn review_list(config: &Path, all: bool, json: bool, reason: Option<&str>) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    super::audit::read(&engine, reason, "review list", &[])?;
    let items = review::queue(&engine.store, engine.matcher(), !all)?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(());
    }
    if items.is_empty() {
        writeln!(out, "no {}review items", if all { "" } else { "open " })?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<14} {:<15} {:<8} {:>7} {:>6}  {:<34} families",
        "id", "kind", "state", "score", "claims", "record"
    )?;
    for i in &items {
        writeln!(
            out,
            "{:<14} {:<15} {:<8} {:>7.2} {:>6}  {:<34} {}",
            i.id,
            i.kind,
            state_name(&i.status),
            i.score,
            i.claims,
            i.record.to_string(),
            if i.cases.is_empty() {
                "-".to_string()
            } else {
                i.cases.join(" ")
            }
        )?;
    }
    let open = items.iter().filter(|i| i.status == Status::Open).count();
    writeln!(
        out,
        "{} items, {open} open; `outcomesd review show ID` for the agreement pattern",
        items.len()
    )?;
    Ok(())
}

fn state_name(s: &Status) -> &'static str {
    match s {
        Status::Open => "open",
        Status::Decided { decision } => match decision.decision {
            ReviewVerdict::Same => "same",
            ReviewVerdict::Different => "diff",
        },
        Status::Settled { .. } => "settled",
    }
}

fn find(items: Vec<Item>, id: &str) -> Result<Item> {
    items.into_iter().find(|i| i.id == id).with_context(|| {
        format!("no review item {id}: ids look like 12-345-1 (delivery, row, candidate); see `outcomesd review list --all`")
    })
}

/// `review show ID`.
pub fn review_show(config: &Path, id: &str, json: bool, reason: Option<&str>) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let item = find(review::queue(&engine.store, engine.matcher(), false)?, id)?;
    super::audit::read(&engine, reason, "review show", &[format!("item:{id}")])?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&item)?)?;
        return Ok(());
    }
    write!(out, "{}", show_text(&item))?;
    Ok(())
}

/// An item as a reviewer reads it.
pub fn show_text(i: &Item) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "review item {} ({})", i.id, i.kind);
    let _ = writeln!(s, "  record:    {} (person {})", i.record, i.person);
    let _ = writeln!(
        s,
        "  candidate: {} (person {})",
        i.candidate_record
            .as_ref()
            .map_or_else(|| "no stored row found".to_string(), ToString::to_string),
        i.candidate
    );
    let _ = writeln!(
        s,
        "  score {:.2} bits; link threshold now {:.2}",
        i.score, i.threshold
    );
    let _ = writeln!(s, "  {:<10} {:<26} {:>7}", "field", "level", "weight");
    for f in &i.fields {
        let _ = writeln!(s, "  {:<10} {:<26} {:>+7.2}", f.field, f.level, f.weight);
    }
    let _ = writeln!(
        s,
        "  families: {}; claims: {}",
        if i.cases.is_empty() {
            "none".to_string()
        } else {
            i.cases.join(", ")
        },
        i.claims
    );
    match &i.status {
        Status::Open => {
            let _ = writeln!(
                s,
                "  open: compare the two rows in the data owner's systems, then\n  `outcomesd review decide {} same|different --note TEXT`",
                i.id
            );
        }
        Status::Decided { decision } => {
            let _ = writeln!(
                s,
                "  decided {:?} by {} at {}{}",
                decision.decision,
                decision.by,
                decision.at.format("%Y-%m-%d %H:%M UTC"),
                decision
                    .note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            );
        }
        Status::Settled { why } => {
            let _ = writeln!(s, "  settled: {why}");
        }
    }
    s
}

/// What `review decide` did.
#[derive(Debug, serde::Serialize)]
pub struct DecideReport {
    pub item: String,
    pub decision: ReviewVerdict,
    pub cases: Vec<String>,
    pub claims_redecided: usize,
    pub verdicts_changed: Vec<(String, String, Verdict)>,
    pub notices_queued: usize,
}

/// `review decide ID same|different`: records, applies, re-decides.
pub fn review_decide(
    config: &Path,
    id: &str,
    decision: ReviewVerdict,
    by: Option<&str>,
    note: Option<String>,
) -> Result<DecideReport> {
    let cfg = load_config(config)?;
    let mut engine = open_engine(&cfg)?;
    let by = by
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_default();
    let now = chrono::Utc::now();
    // A stop after the decision is written and before its claims are
    // decided again leaves the mark: the next start decides every claim.
    let earlier = crate::notify::reconcile::mark_change(&engine.store)?;
    let (store, matcher) = engine.store_and_matcher_mut();
    let decided = review::decide(store, matcher, id, decision, &by, note, now);
    let (d, cases) = match decided {
        Ok(x) => x,
        Err(e) => {
            // Nothing was written: the mark goes back to what it was.
            engine.store.set_redecide_pending(earlier)?;
            return Err(e.into());
        }
    };
    crate::audit::note_why(
        engine.audit.as_ref(),
        d.note.as_deref(),
        Action::ReviewDecided {
            item: d.item.clone(),
            decision: format!("{:?}", d.decision).to_lowercase(),
            by: by.clone(),
            persons: vec![d.person, d.candidate],
        },
    )?;
    let mut report = DecideReport {
        item: d.item.clone(),
        decision: d.decision,
        cases: cases.clone(),
        claims_redecided: 0,
        verdicts_changed: vec![],
        notices_queued: 0,
    };
    if let Some(fw) = &cfg.framework {
        let set: HashSet<String> = cases.into_iter().collect();
        let (r, q) = crate::notify::reconcile::decide_after_change(
            &engine.store,
            engine.matcher(),
            fw,
            &super::notices_of(&cfg, &engine)?,
            &set,
            earlier,
            now,
        )?;
        report.claims_redecided = r.claims;
        report.notices_queued = q.queued;
        for rec in &r.changed {
            report.verdicts_changed.push((
                rec.case_ref.clone(),
                rec.outcome_id.clone(),
                rec.verdict,
            ));
        }
    } else {
        engine.store.set_redecide_pending(false)?;
    }
    Ok(report)
}
