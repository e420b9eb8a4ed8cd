//! `frameworks` and `explain`: the rules as an auditor reads them.

use std::path::Path;

use super::load_config;
use anyhow::{bail, Context, Result};

use crate::config::Config;
use crate::framework::scenario::ScenarioFile;
use crate::framework::{Framework, RuleClass};
use crate::records::SourceKind;
pub fn framework_of(cfg: &Config) -> Result<&Framework> {
    cfg.framework.as_ref().with_context(|| {
        format!(
            "{} names no framework (set framework = \"sunderland\" or a path)",
            cfg.path.display()
        )
    })
}

/// Lists the shipped frameworks (and the configured one) with their outcomes.
pub fn frameworks(config: Option<&Path>, json: bool) -> Result<()> {
    let mut list = Framework::all_builtin();
    let mut configured = None;
    if let Some(c) = config {
        let cfg = load_config(c)?;
        if let Some(fw) = cfg.framework {
            configured = Some(fw.framework.id.clone());
            if !list.iter().any(|f| {
                f.framework.id == fw.framework.id && f.framework.version == fw.framework.version
            }) {
                list.push(fw);
            }
        }
    }
    if json {
        let out: Vec<serde_json::Value> = list
            .iter()
            .map(|fw| {
                serde_json::json!({
                    "id": fw.framework.id,
                    "council": fw.framework.council,
                    "version": fw.framework.version,
                    "configured": configured.as_deref() == Some(fw.framework.id.as_str()),
                    "problems": fw.problems.len(),
                    "outcomes": fw.outcomes.iter().map(|o| serde_json::json!({
                        "id": o.id,
                        "problem": o.problem,
                        "class": class_name(o.rule.class()),
                        "wording": o.wording,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for fw in &list {
        let class = |c| fw.outcomes.iter().filter(|o| o.rule.class() == c).count();
        outln!(
            "{} ({}, version {}){}: {} problems, {} outcomes ({} data-verifiable, {} attested, {} unavailable)",
            fw.framework.id,
            fw.framework.council,
            fw.framework.version,
            if configured.as_deref() == Some(fw.framework.id.as_str()) { " [configured]" } else { "" },
            fw.problems.len(),
            fw.outcomes.len(),
            class(RuleClass::DataVerifiable),
            class(RuleClass::Attested),
            class(RuleClass::Unavailable)
        );
        let mut kinds: Vec<SourceKind> = fw
            .outcomes
            .iter()
            .flat_map(|o| o.rule.sources())
            .chain(
                fw.problems
                    .iter()
                    .flat_map(|p| p.indicators.iter().flat_map(|i| i.rule.sources())),
            )
            .collect();
        kinds.push(SourceKind::Case);
        kinds.push(SourceKind::Claims);
        kinds.sort();
        kinds.dedup();
        let mut events: Vec<&str> = fw
            .outcomes
            .iter()
            .flat_map(|o| o.rule.event_kinds())
            .map(|k| k.name())
            .collect();
        events.sort();
        events.dedup();
        outln!(
            "  feeds it needs: {}",
            kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        outln!("  record types its outcomes read: {}", events.join(", "));
        for o in &fw.outcomes {
            let class = class_name(o.rule.class());
            let mut w: String = o.wording.chars().take(90).collect();
            if o.wording.chars().count() > 90 {
                w.push_str("...");
            }
            outln!("  {:<10} {:<12} {:<11} {w}", o.id, o.problem, class);
        }
    }
    Ok(())
}

fn class_name(c: RuleClass) -> &'static str {
    match c {
        RuleClass::DataVerifiable => "data",
        RuleClass::Attested => "attested",
        RuleClass::Unavailable => "unavailable",
    }
}

/// Prints an outcome's rule in plain English, with its sources: what an
/// auditor reads.
pub fn explain(outcome: &str, config: Option<&Path>) -> Result<()> {
    let mut list = Framework::all_builtin();
    if let Some(c) = config {
        if let Some(fw) = load_config(c)?.framework {
            list.insert(0, fw);
        }
    }
    let (fw, o) = list
        .iter()
        .find_map(|fw| fw.outcome(outcome).map(|o| (fw, o)))
        .with_context(|| {
            format!("no framework has an outcome '{outcome}' (see `outcomesd frameworks`)")
        })?;
    let problem = fw
        .problem(&o.problem)
        .map_or(o.problem.clone(), |p| format!("{} {}", p.number, p.title));
    outln!(
        "{} ({} {}, version {})",
        o.id,
        fw.framework.council,
        fw.framework.title,
        fw.framework.version
    );
    outln!("problem: {problem}");
    outln!("the plan says: {}", o.wording);
    outln!(
        "sources the plan names: {}",
        if o.sources.is_empty() {
            "none".into()
        } else {
            o.sources.join("; ")
        }
    );
    let feeds: Vec<&str> = o.rule.sources().iter().map(|s| s.name()).collect();
    outln!(
        "feeds outcomesd reads: {}",
        if feeds.is_empty() {
            "none (practitioner-evidenced)".into()
        } else {
            feeds.join(", ")
        }
    );
    if !o.also_evidences.is_empty() {
        let also: Vec<String> = o
            .also_evidences
            .iter()
            .map(|a| {
                fw.problem(a)
                    .map_or(a.clone(), |p| format!("{} {}", p.number, p.title))
            })
            .collect();
        outln!("also evidences: {}", also.join("; "));
    }
    if let Some(i) = &o.interpretation {
        outln!("how outcomesd reads it: {i}");
    }
    outln!("rule:");
    out!("{}", o.rule.explain(fw));
    outln!("absence of events verifies only where the feeds' deliveries cover the whole window; otherwise the claim is insufficient.");
    Ok(())
}

/// `frameworks test FRAMEWORK SCENARIOS`: runs a scenario file against a
/// framework (a file or a shipped id), printing a line per scenario and a
/// summary. Returns the exit status: 0 if every scenario passes, 1 if any
/// fails, [`EXIT_CONFIG`](super::EXIT_CONFIG) if either file is unreadable
/// or invalid.
pub fn frameworks_test(framework: &Path, scenarios: &Path) -> Result<()> {
    // An unreadable or invalid file is refused as a config is (exit 78):
    // see `super::exit_status`.
    let fw = Framework::resolve(framework)?;
    let report = ScenarioFile::load(scenarios).and_then(|f| f.run(&fw))?;
    for r in &report.results {
        if r.passed() {
            outln!("ok    {}", r.name);
        } else {
            outln!("FAIL  {}", r.name);
            for f in &r.failures {
                outln!("        {f}");
            }
        }
    }
    outln!(
        "{} scenarios and checks: {} passed, {} failed ({} expectations) against {} version {}",
        report.results.len(),
        report.results.len() - report.failed(),
        report.failed(),
        report.checks(),
        fw.framework.id,
        fw.framework.version
    );
    if !report.passed() {
        bail!(
            "{} of {} scenarios and checks failed",
            report.failed(),
            report.results.len()
        );
    }
    Ok(())
}
