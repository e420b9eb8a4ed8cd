//! Not applicable: a decision with no one in the rule's scope, settled so
//! it never reads as waiting for data.
//!
//! In: a rule's [`Decision`] whose scope came out empty
//! ([`Decision::not_applicable`]), the rule and its context. Out: the same
//! decision, either
//! * **not applicable**: the verdict stays `insufficient` (the notice
//!   format's four verdicts are a contract), but with no missing periods and
//!   no earliest date, and a finding that says no delivery is awaited; or
//! * **awaiting data**: when the scope itself rests on records (`met`: the
//!   people who had a JSA claim, a missing episode ...) that the deliveries
//!   do not cover, "no one" is not known yet, so the decision is an ordinary
//!   `insufficient` naming the scope's uncovered periods. The same when
//!   the rule narrows its scope by its own records (an episode to close, a
//!   first event, a baseline) and its window is not fully delivered.
//!
//! Promises: a not-applicable decision has `missing` empty and
//! `earliest_decidable` `None`; one that is not has at least one missing
//! period.

use chrono::{Months, NaiveDate};

use super::context::{sources_of, Ctx};
use super::{Decision, Evidence, Verdict};
use crate::framework::{Condition, Rule, Scope};
use crate::records::{Period, SourceKind};

/// What the rule kinds say of an empty scope.
const NO_ONE: &str = "no one in the family is in this rule's scope";

/// The finding a not-applicable decision carries, for readers and tests.
pub const NOT_APPLICABLE: &str =
    "not applicable: no one in the family is in this rule's scope, so no delivery is awaited";

/// Settles a decision with no one in scope (see the module doc); any other
/// decision is returned unchanged.
pub(crate) fn settle(ctx: &Ctx, rule: &Rule, mut d: Decision) -> Decision {
    if !d.not_applicable {
        return d;
    }
    if rule.kind().scope_rests_on_records() && !d.missing.is_empty() {
        // The rule's own records decide who is in scope, and some are not
        // delivered: wait for them, gaps and earliest date as the rule said.
        d.not_applicable = false;
        return d;
    }
    let mut gaps: Vec<Period> = Vec::new();
    let mut last_day: Option<NaiveDate> = None;
    let mut sources = Vec::new();
    let mut coverage = Vec::new();
    for c in conditions(rule) {
        let w = condition_window(ctx, c);
        for s in sources_of(&c.events) {
            let missing = ctx.missing(s, w);
            if !missing.is_empty() {
                sources.push(s);
                coverage.extend(ctx.coverage_in(s, w));
                last_day = last_day.max(Some(w.to));
            }
            gaps.extend(missing);
        }
    }
    if gaps.is_empty() {
        d.missing.clear();
        d.earliest_decidable = None;
        match d.evidence.last_mut() {
            // Said once: the rules' own "no one ... in scope" becomes it.
            Some(e) if e.finding.contains(NO_ONE) => {
                e.finding = e.finding.replacen(NO_ONE, NOT_APPLICABLE, 1);
            }
            Some(e) => {
                e.finding.push_str("; ");
                e.finding.push_str(NOT_APPLICABLE);
            }
            None => d.evidence.push(note(vec![], vec![], NOT_APPLICABLE.into())),
        }
        return d;
    }
    // Who is in scope is itself undelivered: wait for it like any gap.
    d.not_applicable = false;
    gaps.sort();
    gaps.dedup();
    let shown: Vec<String> = gaps.iter().map(Period::to_string).collect();
    sources.sort();
    sources.dedup();
    d.evidence.push(note(
        sources,
        coverage,
        format!(
            "no one is in this rule's scope on the data so far, but the records that decide who is are not covered for {}",
            shown.join(", ")
        ),
    ));
    d.missing.extend(gaps);
    d.missing.sort();
    d.missing.dedup();
    let to = last_day.unwrap_or(ctx.today);
    let after = if to >= ctx.today {
        to.succ_opt().unwrap_or(to)
    } else {
        ctx.today
    };
    d.earliest_decidable = Some(d.earliest_decidable.map_or(after, |e| e.max(after)));
    d
}

/// A note as evidence, built through [`Decision::noted`] so it carries
/// whatever else evidence holds.
fn note(sources: Vec<SourceKind>, coverage: Vec<Period>, finding: String) -> Evidence {
    let mut d = Decision::noted(Verdict::Insufficient, &[], sources, finding);
    let mut e = d.evidence.remove(0);
    e.coverage = coverage;
    e
}

/// The days a `met` condition looks at: from `months` before the case
/// start to the start (or, `through_claim`, to the claim date).
fn condition_window(ctx: &Ctx, c: &Condition) -> Period {
    let start = ctx.data.case.start;
    let from = start
        .checked_sub_months(Months::new(c.months))
        .unwrap_or(start);
    let to = if c.through_claim {
        ctx.claim_date.max(start)
    } else {
        start
    };
    Period { from, to }
}

/// The `met` conditions that decide who is in a rule's scope, its parts'
/// included. `not_met` needs none: an empty complement means everyone met
/// the condition, which records present show.
fn conditions(rule: &Rule) -> Vec<&Condition> {
    fn of_scope<'a>(s: &'a Scope, out: &mut Vec<&'a Condition>) {
        match s {
            Scope::Met(c) => out.push(c),
            Scope::All(v) => v.iter().for_each(|x| of_scope(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match rule {
        Rule::AllOf(r) => r.rules.iter().for_each(|x| out.extend(conditions(x))),
        Rule::AnyOf(r) => r.rules.iter().for_each(|x| out.extend(conditions(x))),
        _ => {
            if let Some(s) = rule.kind().scope() {
                of_scope(s, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{EventKind, Role};
    use crate::triangulate::decide_as_of;
    use crate::triangulate::tests::{case_with, d, ev, fw, rule};

    const TODAY: &str = "2026-12-01";

    fn decide(data: &crate::triangulate::CaseData, r: &str) -> Decision {
        decide_as_of(&fw(), data, &rule(r), "p", d("2017-09-15"), d(TODAY))
    }

    /// An adult-only family: no child in scope.
    #[test]
    fn no_one_in_scope_awaits_no_delivery() {
        let data = case_with(
            "2017-01-09",
            &[(Role::Adult, (1980, 1))],
            vec![],
            ("2000-01-01", "2030-12-31"),
        );
        let r = "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 6 }\nscope = \"children\"\n";
        let dec = decide(&data, r);
        assert_eq!(dec.verdict, Verdict::Insufficient);
        assert!(dec.not_applicable, "{dec:?}");
        assert!(dec.missing.is_empty(), "{dec:?}");
        assert_eq!(dec.earliest_decidable, None, "{dec:?}");
        assert!(dec
            .evidence
            .iter()
            .any(|e| e.finding.contains(NOT_APPLICABLE)));
        // the same with police data stopping short: who is a child needs no data
        let short = case_with(
            "2017-01-09",
            &[(Role::Adult, (1980, 1))],
            vec![],
            ("2000-01-01", "2017-06-30"),
        );
        let dec = decide(&short, r);
        assert!(dec.not_applicable && dec.missing.is_empty(), "{dec:?}");
        assert_eq!(dec.earliest_decidable, None);
    }

    /// "The adults on JSA at the start": no one, but the DWP data does not
    /// reach the start, so it is not known that no one was.
    #[test]
    fn an_uncovered_condition_is_awaiting_data_not_no_one() {
        let r = "type = \"spell\"\nevents = [\"employment_spell\"]\nweeks = 13\nscope = { met = { events = [\"benefit_spell\"], codes = [\"jsa\"], months = 0, adults_only = true } }\n";
        let job = (1, ev(EventKind::EmploymentSpell, "2017-02-01", None, "", 0));
        let mut data = case_with(
            "2017-01-09",
            &[(Role::Adult, (1980, 1))],
            vec![job],
            ("2000-01-01", "2030-12-31"),
        );
        assert!(decide(&data, r).not_applicable);
        data.coverage.insert(
            SourceKind::Dwp,
            vec![Period {
                from: d("2017-02-01"),
                to: d("2030-12-31"),
            }],
        );
        let dec = decide(&data, r);
        assert_eq!(dec.verdict, Verdict::Insufficient);
        assert!(!dec.not_applicable, "{dec:?}");
        assert!(
            dec.missing.contains(&Period {
                from: d("2017-01-09"),
                to: d("2017-01-09")
            }),
            "{dec:?}"
        );
        assert_eq!(dec.earliest_decidable, Some(d(TODAY)));
    }

    /// "The children who had a plan to close": none, but the social care
    /// data stops before the claim, so a plan may yet be delivered.
    #[test]
    fn a_scope_read_from_the_rules_own_records_waits_for_them() {
        let r = "type = \"closed_not_reopened\"\nevents = [\"child_protection\"]\nreopen = [\"referral\"]\nmonths = 6\nscope = \"children\"\n";
        let child = |to: &str| {
            case_with(
                "2017-01-09",
                &[(Role::Child, (2010, 1))],
                vec![],
                ("2000-01-01", to),
            )
        };
        let dec = decide(&child("2030-12-31"), r);
        assert!(dec.not_applicable && dec.missing.is_empty(), "{dec:?}");
        let dec = decide(&child("2017-06-30"), r);
        assert_eq!(dec.verdict, Verdict::Insufficient);
        assert!(!dec.not_applicable, "{dec:?}");
        assert!(!dec.missing.is_empty() && dec.earliest_decidable.is_some());
    }

    /// Beside an applicable alternative, a part with no one in scope is
    /// ignored, and the whole is not "not applicable".
    #[test]
    fn any_of_with_one_applicable_part_is_decided() {
        let data = case_with(
            "2017-01-09",
            &[(Role::Adult, (1980, 1))],
            vec![],
            ("2000-01-01", "2030-12-31"),
        );
        let r = "type = \"any_of\"\nrules = [{ type = \"count\", events = [\"offence\"], max = 0, window = { months = 6 }, scope = \"children\" }, { type = \"count\", events = [\"offence\"], max = 0, window = { months = 6 }, scope = \"adults\" }]\n";
        let dec = decide(&data, r);
        assert_eq!(dec.verdict, Verdict::Verified, "{dec:?}");
        assert!(!dec.not_applicable);
    }
}
