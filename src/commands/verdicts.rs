//! `claims` and `verify`: what was decided, and why.

use std::path::Path;

use super::{framework_of, load_config, open_engine};
use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, NaiveTime};

use crate::framework::Framework;
use crate::ingest::matching::PersonId;
use crate::ingest::Engine;
use crate::store::CaseRecord;
use crate::triangulate::{self, Selection, Verdict, VerdictRecord};

pub fn verdict_counts(c: &std::collections::HashMap<Verdict, usize>) -> String {
    let mut v: Vec<_> = c.iter().collect();
    v.sort();
    v.iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lists claims with their latest decision.
pub fn claims(
    config: &Path,
    verdict: Option<&str>,
    case: Option<&str>,
    json: bool,
    reason: Option<&str>,
) -> Result<()> {
    let cfg = load_config(config)?;
    let fw = framework_of(&cfg)?;
    // `not-applicable`: the insufficient verdicts whose rule had no one in
    // scope, apart from those waiting on data.
    let want = verdict
        .map(|v| {
            if v == "not-applicable" {
                return Ok((Verdict::Insufficient, Some(true)));
            }
            Verdict::parse(v).map(|w| (w, None)).with_context(|| {
                format!(
                    "--verdict must be verified, contradicted, insufficient, attested or not-applicable, not '{v}'"
                )
            })
        })
        .transpose()?;
    let engine = open_engine(&cfg)?;
    let asked: Vec<String> = [
        case.map(|c| format!("case:{c}")),
        verdict.map(|v| format!("verdict:{v}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    super::audit::read(&engine, reason, "claims", &asked)?;
    // Decide anything not yet decided, so the list is complete, and queue
    // what that changed.
    let now = chrono::Utc::now();
    let notices = super::notices_of(&cfg, &engine)?;
    let (store, matcher) = (&engine.store, engine.matcher());
    let empty = std::collections::HashSet::new();
    let waiting = Selection::AfterDelivery(&empty);
    crate::notify::reconcile::catch_up(store, matcher, fw, &notices, Some(waiting), now)?;
    let mut rows: Vec<VerdictRecord> = triangulate::stored_verdicts(&engine.store)?
        .into_iter()
        .filter(|v| {
            want.is_none_or(|(w, na)| {
                v.verdict == w && na.is_none_or(|na| v.decision.not_applicable == na)
            })
        })
        .filter(|v| case.is_none_or(|c| v.case_ref == c))
        .collect();
    rows.sort_by(|a, b| {
        (&a.case_ref, &a.outcome_id, a.claim_date).cmp(&(&b.case_ref, &b.outcome_id, b.claim_date))
    });
    if json {
        // writeln, not println: a closed pipe (`| head`) is an error the
        // exit point recognises, not a panic.
        use std::io::Write as _;
        writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&rows)?
        )?;
        return Ok(());
    }
    for v in &rows {
        let note = match (v.verdict, v.decision.earliest_decidable) {
            _ if v.decision.not_applicable => " (not applicable: no one in scope)".to_string(),
            (Verdict::Insufficient, Some(d)) => format!(" (decidable from {d})"),
            _ => String::new(),
        };
        outln!(
            "{:<12} {:<10} {} {}{note}",
            v.case_ref,
            v.outcome_id,
            v.claim_date,
            v.verdict
        );
    }
    let mut counts = std::collections::HashMap::new();
    for v in &rows {
        *counts.entry(v.verdict).or_insert(0usize) += 1;
    }
    outln!("{} claims: {}", rows.len(), verdict_counts(&counts));
    Ok(())
}

/// Decides a case's claims now and prints the evidence, eligibility and
/// whether the family is claimable. With `as_of`, re-decides the case's
/// claims as of that date instead (storing nothing) and shows, for each
/// stored verdict, whether the re-decision reproduces it.
pub fn verify(
    config: &Path,
    case_ref: &str,
    json: bool,
    as_of: Option<NaiveDate>,
    reason: Option<&str>,
) -> Result<()> {
    let cfg = load_config(config)?;
    let fw = framework_of(&cfg)?;
    let engine = open_engine(&cfg)?;
    let case = engine
        .store
        .case(case_ref)?
        .with_context(|| format!("no case '{case_ref}' in the store"))?;
    super::audit::read(&engine, reason, "verify", &[format!("case:{case_ref}")])?;
    if let Some(date) = as_of {
        return verify_as_of(&engine, fw, case, date, json);
    }
    crate::notify::reconcile::decide(
        &engine.store,
        engine.matcher(),
        fw,
        &super::notices_of(&cfg, &engine)?,
        Selection::Case(case_ref),
        None,
        chrono::Utc::now(),
    )?;
    let verdicts: Vec<VerdictRecord> = triangulate::stored_verdicts(&engine.store)?
        .into_iter()
        .filter(|v| v.case_ref == case_ref)
        .collect();
    let doubts = crate::review::Doubts::load(&engine.store, engine.matcher())?;
    let data = triangulate::CaseData::load(&engine.store, engine.matcher(), &doubts, case.clone())?;
    let linked = reached(&engine, data.members.iter().map(|m| m.person))?;
    let indicators = triangulate::check_indicators(fw, &data);
    let claim = claimability(&engine, fw, &case, &verdicts)?;
    if json {
        let out = serde_json::json!({
            "case_ref": case_ref,
            "framework": fw.framework.id,
            "framework_version": fw.framework.version,
            "claims": verdicts
                .iter()
                .map(|v| {
                    let mut j = serde_json::to_value(v).unwrap_or_default();
                    if let Some(o) = fw.outcome(&v.outcome_id) {
                        j["rule"] = serde_json::json!(o.rule.explain(fw).trim_end());
                    }
                    j
                })
                .collect::<Vec<_>>(),
            "indicators": indicators,
            "claimable": claim.claimable,
            "problems_without_outcome": claim.problems_without_outcome,
            "claimability": claim,
            "links": linked
                .iter()
                .map(|(p, v)| (p.clone(), v.iter().map(|(k, h)| serde_json::json!({"source": k, "rows": h.rows, "rules": h.rules, "lowest_score": h.lowest})).collect::<Vec<_>>()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        });
        use std::io::Write as _;
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(());
    }
    outln!(
        "case {case_ref}: started {}{}, {} members (people: {}), problems: {}",
        case.start,
        case.end
            .map(|e| format!(", closed {e}"))
            .unwrap_or_default(),
        data.members.len(),
        data.members
            .iter()
            .map(|m| triangulate::pseudonym(m.person))
            .collect::<Vec<_>>()
            .join(", "),
        case.problems().join(", ")
    );
    outln!("eligibility (identification indicators at the case start, checked against data where the plan allows):");
    for i in &indicators {
        // An indicator is a fact at the start, not a claim: say it plainly.
        let shown = match i.verdict {
            Verdict::Verified => "shown",
            Verdict::Contradicted => "not shown",
            Verdict::Insufficient => "undecided",
            Verdict::Attested => "attested",
        };
        outln!("  {:<8} {:<10} {}", i.indicator, shown, i.finding);
    }
    for v in &verdicts {
        print_verdict(fw, v, &linked)?;
        for h in &v.history {
            outln!(
                "  earlier: {} (framework {}, data to delivery {}, {})",
                h.verdict,
                h.framework_version,
                h.as_of_delivery,
                h.decided_at.format("%Y-%m-%d %H:%M")
            );
        }
    }
    out!("{}", claim.text());
    Ok(())
}

/// The case's claimability under the framework's claim rule, from every
/// committed version of the case (when each need was first identified).
fn claimability(
    engine: &Engine,
    fw: &Framework,
    case: &CaseRecord,
    verdicts: &[VerdictRecord],
) -> Result<triangulate::claim::Claimability> {
    let mut records = engine.store.case_versions(&case.case_ref)?;
    if records.last() != Some(case) {
        records.push(case.clone());
    }
    let versions: Vec<triangulate::claim::CaseVersion<'_>> = records
        .iter()
        .map(|r| triangulate::claim::CaseVersion {
            record: r,
            delivered_on: engine
                .store
                .delivery(r.seq)
                .map(|d| d.received_at.date_naive()),
        })
        .collect();
    Ok(triangulate::claim::assess(fw, &versions, verdicts))
}

/// How a person's stored rows reached them, per source: for `verify`.
#[derive(Debug, Default)]
struct Linked {
    rows: u64,
    rules: std::collections::BTreeMap<&'static str, u64>,
    lowest: f32,
}

impl std::fmt::Display for Linked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rules: Vec<String> = self.rules.iter().map(|(r, n)| format!("{r} {n}")).collect();
        write!(
            f,
            "{} row{} (by {}; lowest score {:.1} bits)",
            self.rows,
            if self.rows == 1 { "" } else { "s" },
            rules.join(", "),
            self.lowest
        )
    }
}

/// Pseudonym -> source -> how that person's rows were linked.
type Reached = std::collections::BTreeMap<String, Vec<(crate::records::SourceKind, Linked)>>;

/// Scans the links once for the rows of `persons` (canonical ids).
fn reached(engine: &Engine, persons: impl Iterator<Item = PersonId>) -> Result<Reached> {
    let want: std::collections::HashSet<PersonId> = persons.collect();
    let mut by: std::collections::BTreeMap<(PersonId, crate::records::SourceKind), Linked> =
        Default::default();
    for l in engine.store.links() {
        let l = l?;
        let p = engine.matcher().canonical(l.link.person);
        if !want.contains(&p) {
            continue;
        }
        let Some(d) = engine.store.delivery(l.seq) else {
            continue;
        };
        let e = by.entry((p, d.kind)).or_insert(Linked {
            lowest: f32::INFINITY,
            ..Default::default()
        });
        e.rows += 1;
        let rule = crate::ingest::matching::Rule::from_u8(l.link.rule)
            .map_or("unknown", crate::ingest::matching::Rule::name);
        // A row first given another person reached this one by a merge (or
        // a reviewer's `same`): its score is against the candidate it had.
        let merged = l.link.person != p;
        let label = if merged { "merged" } else { rule };
        *e.rules.entry(label).or_default() += 1;
        if merged || !rule.starts_with("new") {
            e.lowest = e.lowest.min(l.link.score);
        }
    }
    let mut out = Reached::new();
    for ((p, k), mut h) in by {
        if !h.lowest.is_finite() {
            h.lowest = 0.0;
        }
        out.entry(triangulate::pseudonym(p))
            .or_default()
            .push((k, h));
    }
    Ok(out)
}

/// One claim's decision: verdict, the plan's wording, evidence, missing
/// coverage, the earliest date to look again and what it also evidences.
fn print_verdict(fw: &Framework, v: &VerdictRecord, reached: &Reached) -> std::io::Result<()> {
    // No one in scope awaits no delivery: say so, never "insufficient" alone.
    let shown = if v.decision.not_applicable {
        format!(
            "NOT APPLICABLE ({}: no one in this rule's scope)",
            v.verdict.name()
        )
    } else {
        v.verdict.name().to_uppercase()
    };
    outln!("claim {} dated {}: {shown}", v.outcome_id, v.claim_date);
    if let Some(o) = fw.outcome(&v.outcome_id) {
        outln!("  the plan says: {}", o.wording);
        for (i, line) in o.rule.explain(fw).lines().enumerate() {
            outln!(
                "  {} {line}",
                if i == 0 { "the rule:" } else { "         " }
            );
        }
    }
    for e in &v.decision.evidence {
        let srcs: Vec<&str> = e.sources.iter().map(|s| s.name()).collect();
        let window = e
            .window
            .map(|w| format!(" window {w};"))
            .unwrap_or_default();
        let cov: Vec<String> = e.coverage.iter().map(|c| c.to_string()).collect();
        outln!(
            "  evidence [{}]{window} coverage {}; {}",
            if srcs.is_empty() {
                "practitioner".to_string()
            } else {
                srcs.join(", ")
            },
            if cov.is_empty() {
                "none".into()
            } else {
                cov.join(", ")
            },
            e.finding
        );
        if !e.dates.is_empty() {
            let d: Vec<String> = e.dates.iter().map(|d| d.to_string()).collect();
            outln!("    dates: {}", d.join(", "));
        }
        // Each feed's own coverage of the window: the kind is covered only
        // where every one of them is.
        for f in &e.feeds {
            outln!(
                "    feed {} ({}): covers {}{}",
                f.feed,
                f.source,
                periods(&f.covered),
                if f.missing.is_empty() {
                    String::new()
                } else {
                    format!("; missing {}", periods(&f.missing))
                }
            );
        }
        // How the evidence's records reached each person it names.
        for p in &e.persons {
            for (kind, h) in reached.get(p).into_iter().flatten() {
                if e.sources.contains(kind) {
                    outln!("    {p}'s {kind} records: {h}");
                }
            }
        }
    }
    if !v.decision.missing.is_empty() {
        outln!("  missing coverage: {}", periods(&v.decision.missing));
        let blocking: Vec<String> = v
            .decision
            .evidence
            .iter()
            .flat_map(|e| &e.feeds)
            .filter(|f| !f.missing.is_empty())
            .map(|f| format!("{} (missing {})", f.feed, periods(&f.missing)))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !blocking.is_empty() {
            outln!("  blocked by the gap of feed {}", blocking.join(", "));
        }
    }
    if let Some(d) = v.decision.earliest_decidable {
        outln!("  earliest date it could be decided: {d}");
    }
    if matches!(v.verdict, Verdict::Verified | Verdict::Attested) && !v.also_evidences.is_empty() {
        outln!("  also evidences: {}", v.also_evidences.join(", "));
    }
    Ok(())
}

fn periods(ps: &[crate::records::Period]) -> String {
    if ps.is_empty() {
        return "nothing".into();
    }
    ps.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What differs between a stored decision and its re-decision (empty when
/// the re-decision reproduces it).
fn differences(stored: &VerdictRecord, again: &VerdictRecord) -> Vec<&'static str> {
    let (a, b) = (&stored.decision, &again.decision);
    [
        (stored.verdict != again.verdict, "verdict"),
        (a.evidence != b.evidence, "evidence"),
        (a.missing != b.missing, "missing periods"),
        (
            a.earliest_decidable != b.earliest_decidable,
            "earliest date",
        ),
        (a.not_applicable != b.not_applicable, "scope"),
        (
            stored.also_evidences != again.also_evidences,
            "also evidences",
        ),
    ]
    .into_iter()
    .filter_map(|(differs, what)| differs.then_some(what))
    .collect()
}

/// `verify --as-of DATE`: re-decides every claim of the case as of `date`
/// on the stored data, storing nothing, and compares each with its stored
/// verdict. Fails if a stored verdict is not reproduced.
fn verify_as_of(
    engine: &Engine,
    fw: &Framework,
    case: CaseRecord,
    date: NaiveDate,
    json: bool,
) -> Result<()> {
    let case_ref = case.case_ref.clone();
    let now = date.and_time(NaiveTime::MIN).and_utc();
    let last = engine.store.last_seq();
    let doubts = crate::review::Doubts::load(&engine.store, engine.matcher())?;
    let data = triangulate::CaseData::load(&engine.store, engine.matcher(), &doubts, case)?;
    let mut rows = Vec::new();
    let mut failed = 0usize;
    for claim in engine
        .store
        .claims()?
        .iter()
        .filter(|c| c.case_ref == case_ref)
    {
        let restricted =
            triangulate::restrict::restricted_set(engine.matcher(), &engine.store.restrictions()?);
        let again = triangulate::restrict::decide(fw, Some(&data), claim, last, now, &restricted);
        // The claim's own stored decision, read by its key.
        let old: Option<VerdictRecord> = engine
            .store
            .verdict(&case_ref, &claim.outcome_id, claim.claim_date)?
            .and_then(|v| serde_json::from_slice(&v).ok());
        let old = old.as_ref();
        let diff = old.map(|o| differences(o, &again));
        if diff.as_ref().is_some_and(|d| !d.is_empty()) {
            failed += 1;
        }
        if !json {
            print_verdict(fw, &again, &Reached::new())?;
            match (old, &diff) {
                (None, _) => outln!("  no stored verdict to compare"),
                (Some(o), Some(d)) if d.is_empty() => outln!(
                    "  reproduces the stored verdict decided {} (data to delivery {})",
                    o.decided_at.format("%Y-%m-%d %H:%M"),
                    o.as_of_delivery
                ),
                (Some(o), d) => outln!(
                    "  differs from the stored verdict decided {} in: {}{}",
                    o.decided_at.format("%Y-%m-%d %H:%M"),
                    d.as_deref().unwrap_or_default().join(", "),
                    changed_since(o, fw, last)
                ),
            }
        }
        rows.push(serde_json::json!({
            "outcome_id": claim.outcome_id,
            "claim_date": claim.claim_date,
            "decision": again,
            "stored": old,
            "reproduced": diff.map(|d| d.is_empty()),
        }));
    }
    if json {
        let out = serde_json::json!({
            "case_ref": case_ref,
            "as_of": date,
            "framework": fw.framework.id,
            "framework_version": fw.framework.version,
            "claims": rows,
        });
        use std::io::Write as _;
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&out)?)?;
    }
    if failed > 0 {
        bail!("{failed} stored verdicts of case {case_ref} were not reproduced as of {date}");
    }
    Ok(())
}

/// Why a re-decision may differ: the framework or the data changed since.
fn changed_since(o: &VerdictRecord, fw: &Framework, last: u32) -> String {
    let mut why = Vec::new();
    if o.framework_version != fw.framework.version {
        why.push(format!(
            "framework version {} then, {} now",
            o.framework_version, fw.framework.version
        ));
    }
    if o.as_of_delivery != last {
        why.push(format!(
            "data to delivery {} then, {last} now",
            o.as_of_delivery
        ));
    }
    if why.is_empty() {
        String::new()
    } else {
        format!(" ({})", why.join("; "))
    }
}
