//! `count`: events of some kinds (and codes) in a window, per person or
//! together, between a minimum and a maximum; or days of them (`sum_days`).
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;
use super::Counted;

/// Count events of some kinds (and codes) in a window, per person or
/// together; pass if `min <= count <= max`. `sum_days` counts days
/// (e.g. suspension days) instead of events.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Count {
    pub events: Vec<EventKind>,
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub min: Option<u32>,
    #[serde(default)]
    pub max: Option<u32>,
    /// Events, or their days (written `sum_days = true`).
    #[serde(default, rename = "sum_days", with = "super::reduction::sum_days")]
    pub counted: Counted,
    pub window: Window,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub quantifier: Quantifier,
}

impl RuleKind for Count {
    fn kinds(&self) -> Vec<EventKind> {
        self.events.clone()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        let Count {
            events,
            codes,
            min,
            max,
            window,
            scope,
            ..
        } = self;
        if events.is_empty() {
            c.bad("count needs events".into());
        }
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                c.bad("min is above max".into());
            }
        }
        if min.is_none() && max.is_none() {
            c.bad("count needs min or max".into());
        }
        c.codes(events, codes);
        c.window(window);
        c.scope(scope);
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let Count {
            events,
            codes,
            min,
            max,
            counted,
            window,
            scope,
            quantifier,
        } = self;
        let _ = {
            let what = if *counted == Counted::Days {
                format!("days of {}", kinds_text(events, codes))
            } else {
                kinds_text(events, codes)
            };
            let bound = match (min, max) {
                (None, Some(0)) => format!("no {what}"),
                (None, Some(m)) => format!("at most {m} {what}"),
                (Some(n), None) => format!("at least {n} {what}"),
                (Some(n), Some(m)) => format!("between {n} and {m} {what}"),
                (None, None) => format!("any number of {what}"),
            };
            writeln!(
                out,
                "{pad}{} {} has {bound} {}.",
                quant(*quantifier),
                scope_text(scope),
                window_text(window)
            )
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        let Count {
            events,
            codes,
            min,
            max,
            counted,
            window,
            scope,
            quantifier,
        } = self;
        count_rule(
            ctx,
            events,
            codes,
            *min,
            *max,
            *counted,
            window,
            scope,
            *quantifier,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn count_rule(
    ctx: &Ctx,
    events: &[EventKind],
    codes: &[String],
    min: Option<u32>,
    max: Option<u32>,
    counted: Counted,
    window: &Window,
    scope: &Scope,
    q: Quantifier,
) -> Decision {
    let Ok(w) = ctx.window(window) else {
        return no_window(ctx, events);
    };
    let members = ctx.scope(scope, w.to);
    let complete = sources_of(events)
        .iter()
        .all(|s| ctx.missing(*s, w).is_empty());
    let open_until = sources_of(events)
        .iter()
        .filter_map(|s| ctx.covered_until(*s))
        .max()
        .unwrap_or(w.to);
    let mut dates = Vec::new();
    let count_for = |m: &Member, dates: &mut Vec<NaiveDate>| -> i64 {
        let mut n = 0i64;
        for e in ctx.data.events_of(m.person) {
            if events.contains(&e.kind) && code_matches(e, codes) && in_window(e, w, open_until) {
                n += match counted {
                    Counted::Days => e.measure.days(),
                    Counted::Events => 1,
                };
                dates.push(e.start);
            }
        }
        n
    };
    let judge = |n: i64| -> Part {
        let above_max = max.is_some_and(|m| n > i64::from(m));
        let meets_min = min.is_none_or(|m| n >= i64::from(m));
        if above_max {
            Part::Fail
        } else if min.is_some() && meets_min {
            // Events present decide a minimum whatever the coverage.
            Part::Pass
        } else if complete {
            if meets_min {
                Part::Pass
            } else {
                Part::Fail
            }
        } else {
            Part::Unknown
        }
    };
    let (verdict, total) = if q == Quantifier::Together {
        let n: i64 = members.iter().map(|m| count_for(m, &mut dates)).sum();
        let part = if members.is_empty() {
            vec![]
        } else {
            vec![judge(n)]
        };
        (combine(&part, Quantifier::Each), n)
    } else {
        let mut total = 0;
        let parts: Vec<Part> = members
            .iter()
            .map(|m| {
                let n = count_for(m, &mut dates);
                total += n;
                judge(n)
            })
            .collect();
        (combine(&parts, q), total)
    };
    let what = match counted {
        Counted::Days => "days",
        Counted::Events => "events",
    };
    let bound = match (min, max) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        _ => "any".into(),
    };
    let finding = if members.is_empty() {
        "no one in the family is in this rule's scope".to_string()
    } else {
        format!(
            "{total} {what} in the window across {} people in scope (needed {bound} {}){}",
            members.len(),
            match q {
                Quantifier::Each => "for each",
                Quantifier::Any => "for at least one",
                Quantifier::Together => "together",
            },
            if complete {
                ""
            } else {
                "; the window is not fully covered by deliveries"
            }
        )
    };
    finish(
        verdict,
        events,
        w,
        ctx,
        &members,
        Some(total),
        dates,
        finding,
    )
}
