//! `earnings`: earnings at or above an age-dependent threshold in enough of
//! the last weeks before an anchor.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// Earnings at or above an age-dependent threshold in at least `weeks`
/// of the last `of_last_weeks` before the anchor.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Earnings {
    pub events: Vec<EventKind>,
    pub thresholds: Vec<AgeThreshold>,
    pub weeks: u32,
    pub of_last_weeks: u32,
    #[serde(default)]
    pub anchor: Anchor,
    #[serde(default = "super::adults")]
    pub scope: Scope,
    #[serde(default = "super::any")]
    pub quantifier: Quantifier,
}

impl RuleKind for Earnings {
    fn kinds(&self) -> Vec<EventKind> {
        self.events.clone()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        let Earnings {
            thresholds,
            weeks,
            of_last_weeks,
            scope,
            ..
        } = self;
        if thresholds.is_empty() || weeks > of_last_weeks {
            c.bad("earnings needs thresholds and weeks <= of_last_weeks".into());
        }
        c.scope(scope);
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let Earnings {
            events,
            thresholds,
            weeks,
            of_last_weeks,
            anchor,
            scope,
            quantifier,
        } = self;
        let _ = {
            let th: Vec<String> = thresholds
                .iter()
                .map(|t| match (t.min_age, t.max_age) {
                    (Some(a), None) => format!("£{:.2} if aged {a} or over", t.pounds),
                    (None, Some(b)) => format!("£{:.2} if aged under {}", t.pounds, b + 1),
                    (Some(a), Some(b)) => format!("£{:.2} if aged {a} to {b}", t.pounds),
                    (None, None) => format!("£{:.2}", t.pounds),
                })
                .collect();
            writeln!(out, "{pad}{} {} has {} at or above {} in at least {weeks} of the last {of_last_weeks} weeks before {}.", quant(*quantifier), scope_text(scope), kinds_text(events, &[]), th.join(" or "), anchor_name(*anchor))
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &Earnings) -> Decision {
    let Earnings {
        events,
        thresholds,
        weeks,
        of_last_weeks,
        anchor,
        scope,
        quantifier,
    } = rule;
    let Ok(at) = ctx.anchor(*anchor) else {
        return no_window(ctx, events);
    };
    let w = last_weeks(at, *of_last_weeks);
    let complete = sources_of(events)
        .iter()
        .all(|s| ctx.missing(*s, w).is_empty());
    let members = ctx.scope(scope, at);
    let mut notes = Vec::new();
    let mut dates = Vec::new();
    let parts: Vec<Part> = members
        .iter()
        .map(|m| {
            let age = m.birth.map(|b| age_at(b, at));
            let th = thresholds.iter().find(|t| {
                age.is_some_and(|a| {
                    t.min_age.is_none_or(|x| a >= x as i32)
                        && t.max_age.is_none_or(|x| a <= x as i32)
                })
            });
            let Some(th) = th else {
                notes.push(format!(
                    "{}: age unknown, no threshold applies",
                    pseudonym(m.person)
                ));
                return Part::Unknown;
            };
            let pence = (th.pounds * 100.0).round() as i32;
            let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
            for e in ctx.data.events_of(m.person) {
                if events.contains(&e.kind) && e.measure.pence() >= pence {
                    let (a, b) = (e.start.max(w.from), e.end.unwrap_or(e.start).min(w.to));
                    if a <= b {
                        dates.push(e.start);
                        for d in a.iter_days().take_while(|d| *d <= b) {
                            days.insert(d);
                        }
                    }
                }
            }
            let got = days.len() as u32 / 7;
            notes.push(format!(
                "{}: {got} weeks at or above £{:.2}",
                pseudonym(m.person),
                th.pounds
            ));
            if got >= *weeks {
                Part::Pass
            } else if complete {
                Part::Fail
            } else {
                Part::Unknown
            }
        })
        .collect();
    let verdict = combine(&parts, *quantifier);
    let finding = if members.is_empty() {
        "no one in the family is in this rule's scope".to_string()
    } else {
        format!(
            "needed {weeks} of the last {of_last_weeks} weeks: {}",
            notes.join("; ")
        )
    };
    finish(verdict, events, w, ctx, &members, None, dates, finding)
}
