//! The `[checks]` table of a scenario file: counts, ids and wording of the
//! framework as a whole, and the meta-checks that attested and unavailable
//! outcomes are never verified.
//!
//! In: a [`ScenarioFile`] and its framework. Out: one [`ScenarioResult`] per
//! check given. Promises: each check counts what it compared.

use super::run::{with_settings, Case};
use super::*;
use crate::triangulate::rules;

impl ScenarioFile {
    /// The `[checks]` table: one result per check given.
    pub(super) fn run_checks(&self, fw: &Framework) -> Vec<ScenarioResult> {
        let mut out = self.count_checks(fw);
        out.extend(self.content_checks(fw));
        if let Some(nv) = &self.checks.never_verified {
            out.push(self.never_verified(fw, nv));
        }
        if let Some(pa) = &self.checks.partly_attested {
            out.push(self.partly_attested(fw, pa));
        }
        out
    }

    /// Counts and ids.
    fn count_checks(&self, fw: &Framework) -> Vec<ScenarioResult> {
        let c = &self.checks;
        let mut out = Vec::new();
        let mut add = |name: &str, failures: Vec<String>, checks: usize| {
            out.push(check_result(name, failures, checks))
        };
        if let Some(v) = &c.version {
            add(
                "version",
                eq("version", fw.framework.version.clone(), v.clone()),
                1,
            );
        }
        if let Some(n) = c.problems {
            add(
                "problems",
                eq("problems", fw.problems.len().to_string(), n.to_string()),
                1,
            );
        }
        if let Some(ids) = &c.problem_ids {
            let got: Vec<&String> = fw.problems.iter().map(|p| &p.id).collect();
            add(
                "problem ids",
                eq(
                    "problem ids",
                    format!("{got:?}"),
                    format!("{:?}", ids.iter().collect::<Vec<_>>()),
                ),
                1,
            );
        }
        if let Some(n) = c.outcomes {
            add(
                "outcomes",
                eq("outcomes", fw.outcomes.len().to_string(), n.to_string()),
                1,
            );
        }
        let indicators: Vec<&str> = fw
            .problems
            .iter()
            .flat_map(|p| p.indicators.iter().map(|i| i.id.as_str()))
            .collect();
        if let Some(n) = c.indicators {
            add(
                "indicators",
                eq("indicators", indicators.len().to_string(), n.to_string()),
                1,
            );
        }
        if let Some(want) = &c.indicators_per_problem {
            let got: Vec<usize> = fw.problems.iter().map(|p| p.indicators.len()).collect();
            add(
                "indicators per problem",
                eq(
                    "indicators per problem",
                    format!("{got:?}"),
                    format!("{want:?}"),
                ),
                1,
            );
        }
        if let Some(want) = &c.outcomes_per_problem {
            let got: Vec<usize> = fw
                .problems
                .iter()
                .map(|p| fw.outcomes.iter().filter(|o| o.problem == p.id).count())
                .collect();
            add(
                "outcomes per problem",
                eq(
                    "outcomes per problem",
                    format!("{got:?}"),
                    format!("{want:?}"),
                ),
                1,
            );
        }
        if let Some(n) = c.data_verifiable {
            let got = fw
                .outcomes
                .iter()
                .filter(|o| o.rule.class() == RuleClass::DataVerifiable)
                .count();
            add(
                "data-verifiable outcomes",
                eq("data-verifiable outcomes", got.to_string(), n.to_string()),
                1,
            );
        }
        out
    }

    /// What the outcomes say, and the meta-checks.
    fn content_checks(&self, fw: &Framework) -> Vec<ScenarioResult> {
        let c = &self.checks;
        let mut out = Vec::new();
        let mut add = |name: &str, failures: Vec<String>, checks: usize| {
            out.push(check_result(name, failures, checks))
        };
        if let Some(p) = &c.id_prefix {
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| !o.id.starts_with(p.as_str()))
                .map(|o| format!("{} does not start with {p}", o.id))
                .collect();
            add("outcome id prefix", bad, fw.outcomes.len());
        }
        if c.outcomes_name_sources {
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| o.sources.is_empty())
                .map(|o| format!("{} names no source", o.id))
                .collect();
            add("every outcome names a source", bad, fw.outcomes.len());
        }
        if c.problems_have_indicators_and_outcomes {
            let mut bad = Vec::new();
            for p in &fw.problems {
                if p.indicators.is_empty() {
                    bad.push(format!("{} has no indicator", p.id));
                }
                if !fw.outcomes.iter().any(|o| o.problem == p.id) {
                    bad.push(format!("{} has no outcome", p.id));
                }
            }
            add(
                "every problem has indicators and outcomes",
                bad,
                2 * fw.problems.len(),
            );
        }
        if let Some(r) = &c.indicator_per_outcome {
            let indicators: Vec<&str> = fw
                .problems
                .iter()
                .flat_map(|p| p.indicators.iter().map(|i| i.id.as_str()))
                .collect();
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| !indicators.contains(&o.id.replace(&r.replace, &r.with).as_str()))
                .map(|o| format!("no indicator for {}", o.id))
                .collect();
            add("an indicator for every outcome", bad, fw.outcomes.len());
        }
        if let Some(p) = c.significant_reduction_percent {
            let got = fw.settings.significant_reduction_percent;
            add(
                "significant_reduction_percent",
                eq(
                    "significant_reduction_percent",
                    format!("{got:?}"),
                    format!("{:?}", Some(p)),
                ),
                1,
            );
        }
        if c.setting_readers_interpret {
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| o.rule.explain(fw).contains("significant reduction"))
                .filter(|o| {
                    !o.interpretation
                        .as_deref()
                        .unwrap_or("")
                        .contains("significant_reduction_percent")
                })
                .map(|o| format!("{}: the interpretation does not name the setting", o.id))
                .collect();
            add("rules reading the setting say so", bad, fw.outcomes.len());
        }
        for e in &c.explain {
            let changed = e.settings.as_ref().map(|s| with_settings(fw, s));
            let fw = changed.as_ref().unwrap_or(fw);
            let text = fw
                .outcome(&e.outcome)
                .map(|o| o.rule.explain(fw))
                .unwrap_or_default();
            let bad: Vec<String> = e
                .contains
                .list()
                .into_iter()
                .filter(|t| !text.contains(t))
                .map(|t| format!("the explanation does not contain '{t}': {text}"))
                .collect();
            add(
                &format!("explain {}", e.outcome),
                bad,
                e.contains.list().len(),
            );
        }
        for s in &c.attested_steps {
            add(
                &format!("steps of {}", s.outcome),
                steps_check(fw, s),
                2 + usize::from(s.step_contains.is_some()),
            );
        }
        out
    }

    fn never_verified(&self, fw: &Framework, nv: &NeverVerified) -> ScenarioResult {
        let mut res = ScenarioResult {
            name: "check: attested and unavailable outcomes are never verified".into(),
            checks: 0,
            failures: vec![],
        };
        let claims = if nv.claims.is_empty() {
            self.claim.into_iter().collect()
        } else {
            nv.claims.clone()
        };
        let cases: Vec<(&String, Case)> = nv
            .families
            .iter()
            .map(|f| (f, self.family_case(f)))
            .collect();
        let mut checked = Vec::new();
        for o in fw
            .outcomes
            .iter()
            .filter(|o| o.rule.class() != RuleClass::DataVerifiable)
        {
            for (name, case) in &cases {
                for claim in &claims {
                    res.checks += 1;
                    let dec = decide(fw, &case.data, &o.rule, &o.problem, *claim);
                    if dec.verdict != Verdict::Attested {
                        res.failures.push(format!(
                            "{} on family {name} at {claim}: expected attested, got {}",
                            o.id, dec.verdict
                        ));
                    }
                }
            }
            checked.push(o.id.clone());
        }
        if let Some(want) = &nv.outcomes {
            res.checks += 1;
            if &checked != want {
                res.failures
                    .push(format!("expected the outcomes {want:?}, got {checked:?}"));
            }
        }
        if let Some(n) = nv.count {
            res.checks += 1;
            if checked.len() != n {
                res.failures.push(format!(
                    "expected {n} such outcomes, got {}: {checked:?}",
                    checked.len()
                ));
            }
        }
        res
    }

    fn partly_attested(&self, fw: &Framework, pa: &PartlyAttested) -> ScenarioResult {
        let mut res = ScenarioResult {
            name: "check: partly attested outcomes are at best attested".into(),
            checks: 0,
            failures: vec![],
        };
        let case = self.family_case(&pa.family);
        let claim = pa.claim.or(self.claim).unwrap_or_default();
        let mut found = Vec::new();
        for o in &fw.outcomes {
            let Rule::AllOf(rules::AllOf { rules }) = &o.rule else {
                continue;
            };
            if !rules.iter().any(|r| matches!(r, Rule::Attested { .. })) {
                continue;
            }
            res.checks += 1;
            let dec = decide(fw, &case.data, &o.rule, &o.problem, claim);
            if dec.verdict != Verdict::Attested {
                res.failures
                    .push(format!("{}: expected attested, got {}", o.id, dec.verdict));
            }
            found.push(o.id.clone());
        }
        res.checks += 1;
        if found != pa.outcomes {
            res.failures.push(format!(
                "expected the outcomes {:?}, got {found:?}",
                pa.outcomes
            ));
        }
        res
    }
}

fn steps_check(fw: &Framework, s: &StepsCheck) -> Vec<String> {
    let Some(Rule::Attested(rules::Attested {
        steps,
        min_steps,
        extra_steps,
        max_extra_steps,
        ..
    })) = fw.outcome(&s.outcome).map(|o| &o.rule)
    else {
        return vec![format!("{} is not an attested outcome", s.outcome)];
    };
    let mut bad = Vec::new();
    if (steps.len(), *min_steps) != (s.steps, s.min_steps) {
        bad.push(format!(
            "expected {} steps (at least {:?}), got {} ({min_steps:?})",
            s.steps,
            s.min_steps,
            steps.len()
        ));
    }
    if (extra_steps.len(), *max_extra_steps) != (s.extra_steps, s.max_extra_steps) {
        bad.push(format!(
            "expected {} extra steps (at most {:?}), got {} ({max_extra_steps:?})",
            s.extra_steps,
            s.max_extra_steps,
            extra_steps.len()
        ));
    }
    if let Some(t) = &s.step_contains {
        if !steps.iter().any(|x| x.contains(t.as_str())) {
            bad.push(format!("no step contains '{t}'"));
        }
    }
    bad
}

/// A framework check's result, named as the report lists it.
fn check_result(name: &str, failures: Vec<String>, checks: usize) -> ScenarioResult {
    ScenarioResult {
        name: format!("check: {name}"),
        checks,
        failures,
    }
}

/// No failure if `got` is `want`, else one naming both.
fn eq(name: &str, got: String, want: String) -> Vec<String> {
    if got == want {
        vec![]
    } else {
        vec![format!("{name}: expected {want}, got {got}")]
    }
}
