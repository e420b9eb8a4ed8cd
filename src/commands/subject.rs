//! `outcomesd subject lookup|unlink|restrict|unrestrict|erase` and
//! `outcomesd store purge`: data subjects' rights and retention.
//!
//! In: the config (store and key); identifiers on standard input or a
//! prompt (never an argument: argv reaches shell history and the process
//! list), or person pseudonyms a lookup printed. Out: what is held about
//! the person (text or JSON), or what was changed, with the claims
//! re-decided and notices queued as every other path does
//! (`notify::reconcile`). Run with the daemon stopped (the store's lock).
//!
//! Promises: nothing typed in is printed, logged or stored; every change
//! is flushed before the command reports it; an erasure is only reported
//! done once the store has been rewritten without the erased values.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::{load_config, notices_of, open_engine};
use crate::config::Config;
use crate::ingest::matching::{pseudonym, DoubtKind, PersonId};
use crate::ingest::Engine;
use crate::subjects::{self, input, Lookup, PersonReport};

/// Records a subject-rights operation on `persons` (internal person
/// numbers only: never an identifier) in the audit log.
fn audited(
    engine: &Engine,
    reason: Option<&str>,
    operation: &str,
    persons: &[PersonId],
    claims_affected: u64,
) -> Result<()> {
    crate::audit::note_why(
        engine.audit.as_ref(),
        reason,
        crate::audit::Action::Subject {
            operation: operation.to_string(),
            persons: persons.to_vec(),
            claims_affected,
        },
    )
    .with_context(|| format!("recording the {operation} in the audit log"))
}

fn operator(by: Option<&str>) -> String {
    by.map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_default()
}

/// The people `pseudonyms` name (canonical), or, with none, those the
/// identities on standard input match.
fn select(engine: &Engine, pseudonyms: &[String]) -> Result<(Vec<PersonId>, Option<Lookup>)> {
    if !pseudonyms.is_empty() {
        let mut v = pseudonyms
            .iter()
            .map(|s| subjects::person_of(engine.matcher(), s))
            .collect::<Result<Vec<_>, _>>()?;
        v.sort_unstable();
        v.dedup();
        return Ok((v, None));
    }
    let ids = input::read_stdin()?;
    let found = subjects::find(&engine.pseudo, engine.matcher(), &ids)?;
    let persons = found.persons(engine.matcher());
    if persons.is_empty() {
        bail!(subjects::SubjectError::NoMatch);
    }
    Ok((persons, Some(found)))
}

/// Marks the store before a change, so that a stop before [`redecide`]
/// leaves every claim to be decided again at the next start; `earlier`:
/// whether a previous change was still waiting.
fn mark(engine: &Engine) -> Result<bool> {
    Ok(crate::notify::reconcile::mark_change(&engine.store)?)
}

/// Re-decides the claims of `cases` (every claim, if `earlier`) and queues
/// the notices due, then clears [`mark`]'s mark.
fn redecide(
    cfg: &Config,
    engine: &Engine,
    cases: &[String],
    earlier: bool,
) -> Result<(usize, usize, usize)> {
    let Some(fw) = &cfg.framework else {
        engine.store.set_redecide_pending(false)?;
        return Ok((0, 0, 0));
    };
    let set: HashSet<String> = cases.iter().cloned().collect();
    let (r, q) = crate::notify::reconcile::decide_after_change(
        &engine.store,
        engine.matcher(),
        fw,
        &notices_of(cfg, engine)?,
        &set,
        earlier,
        chrono::Utc::now(),
    )?;
    Ok((r.claims, r.changed.len(), q.queued))
}

/// `subject lookup`: everything held about the person the identities on
/// standard input match.
pub fn subject_lookup(config: &Path, reason: Option<&str>, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let ids = input::read_stdin()?;
    let found = subjects::find(&engine.pseudo, engine.matcher(), &ids)?;
    let persons = found.persons(engine.matcher());
    let reports = persons
        .iter()
        .map(|p| subjects::gather(&engine.store, engine.matcher(), *p))
        .collect::<Result<Vec<_>, _>>()?;
    // Recorded before anything is shown: no audit entry, no disclosure.
    audited(&engine, reason, "lookup", &persons, 0)?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "key_id": engine.pseudo.key_id(),
                "lookup": found,
                "persons": reports,
            }))?
        );
        return Ok(());
    }
    print_lookup(&found)?;
    for r in &reports {
        print_person(r)?;
    }
    Ok(())
}

fn print_lookup(l: &Lookup) -> Result<()> {
    outln!(
        "{} identit{} given; {} match{}",
        l.identities,
        if l.identities == 1 { "y" } else { "ies" },
        l.matched.len(),
        if l.matched.len() == 1 { "" } else { "es" }
    );
    for m in &l.matched {
        outln!(
            "  identity {}: {} score {:.2} bits (threshold {:.2}), found by {}{}",
            m.identity,
            m.person,
            m.score,
            m.threshold,
            m.found_by,
            if m.ambiguous {
                "; AMBIGUOUS: another person scored as well, check both are the subject"
            } else {
                ""
            }
        );
        let fields: Vec<String> = m
            .fields
            .iter()
            .map(|f| format!("{} {} {:+.1}", f.field, f.level, f.weight))
            .collect();
        outln!("    {}", fields.join(", "));
    }
    for m in &l.possible {
        outln!(
            "  identity {}: {} is possible only (score {:.2}, threshold {:.2}: {}): not included; check by hand",
            m.identity,
            m.person,
            m.score,
            m.threshold,
            m.held_because.unwrap_or(DoubtKind::Weak).explain()
        );
    }
    Ok(())
}

fn print_person(r: &PersonReport) -> Result<()> {
    outln!(
        "\nperson {} (stored as {})",
        r.person,
        r.stored_as.join(", ")
    );
    outln!(
        "  born {}; keyed identifiers: {}; spellings kept: {}",
        r.born.as_deref().unwrap_or("not known"),
        if r.keyed_ids.is_empty() {
            "none".to_string()
        } else {
            r.keyed_ids.join(", ")
        },
        r.spellings
    );
    if let Some(x) = &r.restricted {
        outln!(
            "  RESTRICTED since {} by {}: {}",
            x.at.format("%Y-%m-%d"),
            x.by,
            x.reason
        );
    }
    outln!("  deliveries ({}):", r.deliveries.len());
    for d in &r.deliveries {
        outln!(
            "    {} delivery {} ({}), period {}, received {}",
            d.feed,
            d.delivery,
            d.kind,
            d.period.as_deref().unwrap_or("-"),
            d.received_at.format("%Y-%m-%d")
        );
    }
    outln!("  rows ({}):", r.rows.len());
    for x in &r.rows {
        outln!(
            "    {} delivery {} row {}: {} ({:.2} bits){}",
            x.feed,
            x.delivery,
            x.row,
            x.rule,
            x.score,
            x.household
                .as_deref()
                .map(|h| format!(", household {h}"))
                .unwrap_or_default()
        );
    }
    outln!("  events ({}):", r.events.len());
    for e in &r.events {
        outln!(
            "    {} {}{} from {} delivery {}{}",
            e.start,
            e.kind,
            e.end.map(|d| format!(" to {d}")).unwrap_or_default(),
            e.feed,
            e.delivery,
            if e.in_effect {
                ""
            } else {
                " (replaced by a later extract)"
            }
        );
    }
    outln!("  cases ({}):", r.cases.len());
    for c in &r.cases {
        outln!(
            "    {} as {:?}, problems [{}], {}..{}",
            c.case_ref,
            c.role,
            c.problems.join(", "),
            c.start,
            c.end.map_or_else(|| "open".to_string(), |d| d.to_string())
        );
    }
    outln!("  claims of those cases ({}):", r.claims.len());
    for c in &r.claims {
        outln!(
            "    {} {} {}: {}{}",
            c.case_ref,
            c.outcome_id,
            c.claim_date,
            c.verdict.as_deref().unwrap_or("not decided"),
            if c.history.is_empty() {
                String::new()
            } else {
                format!(" (before: {})", c.history.join(", "))
            }
        );
    }
    outln!("  notices ({}):", r.notices.len());
    for n in &r.notices {
        let sinks: Vec<String> = n
            .sinks
            .iter()
            .map(|(s, t)| match t {
                Some(t) => format!("{s} {}", t.format("%Y-%m-%d")),
                None => format!("{s} pending"),
            })
            .collect();
        outln!(
            "    {} {} {}: {} [{}]",
            n.id,
            n.case_ref,
            n.outcome_id,
            n.verdict,
            sinks.join(", ")
        );
    }
    outln!(
        "  review items: {}; review decisions: {}",
        if r.review_items.is_empty() {
            "none".to_string()
        } else {
            r.review_items.join(", ")
        },
        r.review_decisions.len()
    );
    Ok(())
}

/// `subject unlink A B`: split a wrong merge of two stored people.
pub fn subject_unlink(
    config: &Path,
    a: &str,
    b: &str,
    by: Option<&str>,
    note: Option<String>,
) -> Result<()> {
    let cfg = load_config(config)?;
    let mut engine = open_engine(&cfg)?;
    let parse = |s: &str| {
        subjects::parse_pseudonym(s.trim())
            .filter(|p| (*p as usize) < engine.matcher().person_count())
            .ok_or_else(|| subjects::SubjectError::BadPseudonym(s.into()))
    };
    let (pa, pb) = (parse(a)?, parse(b)?);
    let by = operator(by);
    if by.trim().is_empty() {
        bail!("who decides is required (--by, or the USER environment variable)");
    }
    let earlier = mark(&engine)?;
    let (d, cases) = subjects::unlink(
        &engine.store,
        engine.matcher(),
        pa,
        pb,
        &by,
        note,
        chrono::Utc::now(),
    )?;
    engine.reload_matcher()?;
    let (claims, changed, queued) = redecide(&cfg, &engine, &cases, earlier)?;
    audited(
        &engine,
        d.note.as_deref(),
        "unlink",
        &[pa, pb],
        changed as u64,
    )?;
    outln!(
        "{}: {} and {} are kept apart from now on (recorded as review decision {}); now {} and {}; {claims} claims of {} cases re-decided, {changed} verdicts changed, {queued} notices queued",
        d.item,
        pseudonym(pa),
        pseudonym(pb),
        d.item,
        pseudonym(engine.matcher().canonical(pa)),
        pseudonym(engine.matcher().canonical(pb)),
        cases.len()
    );
    Ok(())
}

/// `subject restrict [PSEUDONYM...] --reason TEXT` (identifiers on stdin
/// when no pseudonym is given).
pub fn subject_restrict(
    config: &Path,
    persons: &[String],
    reason: &str,
    by: Option<&str>,
) -> Result<()> {
    if reason.trim().is_empty() {
        bail!("a reason is required (--reason)");
    }
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let (ps, _) = select(&engine, persons)?;
    let r = crate::store::Restriction {
        by: operator(by),
        at: chrono::Utc::now(),
        reason: reason.trim().to_string(),
    };
    let earlier = mark(&engine)?;
    for p in &ps {
        engine.store.restrict(*p, &r)?;
    }
    let cases = subjects::cases_of(&engine.store, engine.matcher(), &ps)?;
    let (claims, changed, queued) = redecide(&cfg, &engine, &cases, earlier)?;
    audited(&engine, Some(&r.reason), "restrict", &ps, changed as u64)?;
    let names: Vec<String> = ps.iter().map(|p| pseudonym(*p)).collect();
    outln!(
        "restricted {}: their records are no longer used in decisions; {claims} claims of {} cases re-decided, {changed} verdicts changed, {queued} notices queued",
        names.join(", "),
        cases.len()
    );
    Ok(())
}

/// `subject unrestrict [PSEUDONYM...]`.
pub fn subject_unrestrict(config: &Path, persons: &[String], by: Option<&str>) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let (ps, _) = select(&engine, persons)?;
    let restrictions = engine.store.restrictions()?;
    let mut lifted = Vec::new();
    let earlier = mark(&engine)?;
    for p in &ps {
        for id in engine.matcher().members(*p) {
            if restrictions.contains_key(&id) && engine.store.unrestrict(id)? {
                lifted.push(*p);
            }
        }
    }
    let _ = operator(by);
    if lifted.is_empty() {
        engine.store.set_redecide_pending(earlier)?;
        bail!("none of them is restricted");
    }
    let cases = subjects::cases_of(&engine.store, engine.matcher(), &lifted)?;
    let (claims, changed, queued) = redecide(&cfg, &engine, &cases, earlier)?;
    audited(&engine, None, "unrestrict", &lifted, changed as u64)?;
    let names: Vec<String> = lifted.iter().map(|p| pseudonym(*p)).collect();
    outln!(
        "restriction lifted on {}; {claims} claims of {} cases re-decided, {changed} verdicts changed, {queued} notices queued",
        names.join(", "),
        cases.len()
    );
    Ok(())
}

/// Closes `engine` and opens the store again, which rewrites a store
/// marked `rewrite_pending` (after an erasure or a purge), so the removed
/// values leave its files; refused if the mark is still there after.
fn rewrite_by_reopening(
    cfg: &Config,
    engine: Engine,
    after: &str,
) -> Result<crate::subjects::retention::RewriteFigures> {
    let store_dir = engine.store.path().to_path_buf();
    let bytes_before = crate::store::dir_bytes(&store_dir);
    drop(engine);
    let t = std::time::Instant::now();
    let engine =
        open_engine(cfg).with_context(|| format!("rewriting the store after the {after}"))?;
    let seconds = t.elapsed().as_secs_f64();
    if engine.store.rewrite_pending()? {
        bail!("the store was not rewritten; run any command to retry");
    }
    Ok(crate::subjects::retention::RewriteFigures {
        bytes_before,
        bytes_after: crate::store::dir_bytes(&store_dir),
        seconds,
    })
}

/// What `subject erase` did.
#[derive(Debug, serde::Serialize)]
pub struct EraseReport {
    pub persons: Vec<String>,
    pub erased: crate::store::Erased,
    pub claims_redecided: usize,
    pub verdicts_changed: usize,
    pub notices_queued: usize,
    pub store_bytes_before: u64,
    pub store_bytes_after: u64,
    pub rewrite_seconds: f64,
    /// Other copies of the store under the data directory (moved aside by
    /// a restore): they still hold the person.
    pub other_copies: Vec<String>,
}

/// `subject erase [PSEUDONYM...] --reason TEXT`.
pub fn subject_erase(
    config: &Path,
    persons: &[String],
    reason: &str,
    by: Option<&str>,
    json: bool,
) -> Result<()> {
    if reason.trim().is_empty() {
        bail!("a reason is required (--reason)");
    }
    let cfg = load_config(config)?;
    let mut engine = open_engine(&cfg)?;
    let (ps, _) = select(&engine, persons)?;
    let ids: HashSet<PersonId> = ps
        .iter()
        .flat_map(|p| engine.matcher().members(*p))
        .collect();
    let why = crate::store::Erasure {
        by: operator(by),
        at: chrono::Utc::now(),
        reason: reason.trim().to_string(),
    };
    let earlier = mark(&engine)?;
    let erased = engine.store.erase(&ids, &why)?;
    engine.reload_matcher()?;
    let (claims, changed, queued) = redecide(&cfg, &engine, &erased.cases, earlier)?;
    audited(&engine, Some(&why.reason), "erase", &ps, changed as u64)?;
    let w = rewrite_by_reopening(&cfg, engine, "erasure")?;
    let report = EraseReport {
        persons: ps.iter().map(|p| pseudonym(*p)).collect(),
        erased,
        claims_redecided: claims,
        verdicts_changed: changed,
        notices_queued: queued,
        store_bytes_before: w.bytes_before,
        store_bytes_after: w.bytes_after,
        rewrite_seconds: w.seconds,
        other_copies: other_copies(&cfg.data_dir),
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let e = &report.erased;
    outln!(
        "erased {}: {} events, {} identity-log entries, {} row links, {} review items and {} decisions, {} case versions",
        report.persons.join(", "),
        e.events,
        e.identity_entries,
        e.links,
        e.review_items,
        e.review_decisions,
        e.case_versions
    );
    outln!(
        "{claims} claims of {} cases re-decided, {changed} verdicts changed, {queued} notices queued",
        e.cases.len()
    );
    outln!(
        "store rewritten in {:.1} s ({} -> {} bytes): the erased values are gone from its files",
        report.rewrite_seconds,
        report.store_bytes_before,
        report.store_bytes_after
    );
    for c in &report.other_copies {
        outln!("warning: {c} is an older copy of the store and still holds the person: delete it");
    }
    outln!(
        "backups made before now still hold the person until they expire (docs/subject-rights.md)"
    );
    Ok(())
}

/// Store copies beside the store (`store.replaced-*` from a restore).
fn other_copies(data_dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(data_dir) else {
        return vec![];
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("store.") && e.path().join("db").is_file()
        })
        .map(|e| e.path().display().to_string())
        .collect();
    v.sort();
    v
}

/// `store purge [--dry-run]`: what retention says goes.
pub fn store_purge(config: &Path, dry_run: bool, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let now = chrono::Utc::now();
    let mut r = crate::subjects::retention::purge(
        &engine.store,
        engine.matcher(),
        &cfg.retention,
        &cfg.data_dir.join("reports"),
        now,
        dry_run,
    )?;
    if !dry_run {
        engine.store.set_last_purge(now)?;
    }
    crate::audit::note(
        engine.audit.as_ref(),
        crate::audit::Action::Purge {
            dry_run,
            removed: r.counts(),
        },
    )
    .context("recording the purge in the audit log")?;
    if r.rewrite_pending {
        r.rewritten = Some(rewrite_by_reopening(&cfg, engine, "purge")?);
        r.rewrite_pending = false;
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let verb = if dry_run { "would go" } else { "went" };
    let p = &r.store;
    outln!(
        "retention as of {}: {} events, {} uncertain links, {} claims with their verdicts, {} cases, {} delivered notices, {} rejection reports {verb}",
        r.today,
        p.events,
        p.uncertain_links,
        p.claims.len(),
        p.cases.len(),
        p.notices,
        r.reports.len()
    );
    for c in &p.claims {
        outln!("  claim {} {} {}", c.0, c.1, c.2);
    }
    for c in &p.cases {
        outln!("  case {c}");
    }
    for f in &r.reports {
        outln!("  report {f}");
    }
    if let Some(w) = &r.rewritten {
        outln!(
            "store rewritten in {:.1} s ({} -> {} bytes): the purged values are gone from its files",
            w.seconds,
            w.bytes_before,
            w.bytes_after
        );
    }
    Ok(())
}
