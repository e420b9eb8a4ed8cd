//! `score_reduction`: a DASH-style score falling below a high mark, or by a
//! percentage, throughout the months up to the claim.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// A DASH-style score (the event's `Measure::Score`) falling: from a start
/// at or above `high` to at most `high - 1` for `months`, or from below
/// `high` reduced by `percent` for `months`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreReduction {
    pub events: Vec<EventKind>,
    pub high: i32,
    pub percent: f64,
    pub months: u32,
    /// With no assessment on or before the case start, the first one
    /// after it (by the claim date) is the starting score.
    #[serde(default)]
    pub baseline_after_start: bool,
    /// A score that started at `high` or above also passes when no
    /// assessment at all was needed in the `months` before the claim.
    #[serde(default)]
    pub no_reassessment_passes: bool,
    #[serde(default)]
    pub scope: Scope,
}

impl RuleKind for ScoreReduction {
    fn scope_rests_on_records(&self) -> bool {
        true
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.events.clone()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        let ScoreReduction {
            events,
            percent,
            months,
            scope,
            ..
        } = self;
        if events.is_empty() || *months == 0 || !(0.0..=100.0).contains(percent) {
            c.bad("score_reduction needs events, months and a percentage".into());
        }
        c.scope(scope);
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let ScoreReduction {
            events,
            high,
            percent,
            months,
            baseline_after_start,
            no_reassessment_passes,
            scope,
        } = self;
        let _ = {
            let what = kinds_text(events, &[]);
            writeln!(
                out,
                "{pad}{}: the {what} score at the case start{} is the starting score; one that started at {high} or above is below {high} throughout the {months} months up to the claim date{}, or one that started below {high} is at least {percent}% lower throughout those {months} months.",
                scope_text(scope),
                if *baseline_after_start { " (or, if none, the first one after it)" } else { "" },
                if *no_reassessment_passes { format!(", or no {what} was needed in those {months} months") } else { String::new() }
            )
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &ScoreReduction) -> Decision {
    let ScoreReduction {
        events,
        high,
        percent,
        months,
        baseline_after_start,
        no_reassessment_passes,
        scope,
    } = rule;
    let at = ctx.claim_date;
    let w = Period {
        from: at
            .checked_sub_months(Months::new(*months))
            .and_then(|d| d.succ_opt())
            .unwrap_or(at),
        to: at,
    };
    let start = ctx.data.case.start;
    let sources = sources_of(events);
    let members = ctx.scope(scope, at);
    let mut notes = Vec::new();
    let mut dates = Vec::new();
    let mut parts = Vec::new();
    let mut needed_from = w.from;
    for m in &members {
        let mut evs: Vec<_> = ctx
            .data
            .events_of(m.person)
            .iter()
            .filter(|e| events.contains(&e.kind) && e.start <= at)
            .collect();
        evs.sort_by_key(|e| e.start);
        // The starting score: the last assessment on or before the case
        // start (or, if allowed, the first one after it).
        let base = evs.iter().rev().find(|e| e.start <= start).or_else(|| {
            if *baseline_after_start {
                evs.iter().find(|e| e.start > start)
            } else {
                None
            }
        });
        let Some(base) = base.copied() else {
            continue; // no starting assessment: not in scope
        };
        let b = base.measure.score();
        let good = |s: i32| {
            if b >= *high {
                s < *high
            } else {
                f64::from(s) <= f64::from(b) * (1.0 - percent / 100.0)
            }
        };
        let since_base: Vec<_> = evs.iter().filter(|e| e.start >= base.start).collect();
        // The score in force on the window's first day, and every one in it.
        let in_force = since_base.iter().rev().find(|e| e.start <= w.from);
        let inside: Vec<_> = since_base.iter().filter(|e| w.contains(e.start)).collect();
        // Which score is in force rests on there being no assessment we
        // have not been sent: the sources must cover the start to the claim.
        let from = base.start.min(w.from);
        needed_from = needed_from.min(from);
        let complete = sources
            .iter()
            .all(|s| ctx.missing(*s, Period { from, to: at }).is_empty());
        dates.push(base.start);
        dates.extend(in_force.iter().map(|e| e.start));
        dates.extend(inside.iter().map(|e| e.start));
        let scores: Vec<i32> = in_force
            .iter()
            .chain(inside.iter().filter(|e| Some(**e) != in_force))
            .map(|e| e.measure.score())
            .collect();
        let part = if inside.iter().any(|e| !good(e.measure.score())) {
            // a score in the window that is not low enough decides at once
            Part::Fail
        } else if !complete {
            Part::Unknown
        } else {
            let fell = in_force.is_some_and(|e| good(e.measure.score()));
            let none_needed = b >= *high && *no_reassessment_passes && inside.is_empty();
            if fell || none_needed {
                Part::Pass
            } else {
                Part::Fail
            }
        };
        notes.push(format!(
            "{}: {b} at the start ({}), then {:?} over the {months} months up to the claim{}",
            pseudonym(m.person),
            base.start,
            scores,
            if inside.is_empty() {
                "; no assessment in those months"
            } else {
                ""
            }
        ));
        parts.push(part);
    }
    let verdict = combine(&parts, Quantifier::Each);
    let finding = if parts.is_empty() {
        "no one in scope had a starting assessment".into()
    } else {
        notes.join("; ")
    };
    let full = Period {
        from: needed_from,
        to: at,
    };
    let mut d = finish(verdict, events, full, ctx, &members, None, dates, finding);
    d.not_applicable = parts.is_empty();
    d
}
