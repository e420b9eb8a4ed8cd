//! `regular`: at least some events in each of the last months.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// At least `min_each` events in each month of the last `months`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Regular {
    pub events: Vec<EventKind>,
    pub months: u32,
    #[serde(default = "super::one")]
    pub min_each: u32,
    #[serde(default)]
    pub anchor: Anchor,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default = "super::any")]
    pub quantifier: Quantifier,
}

impl RuleKind for Regular {
    fn kinds(&self) -> Vec<EventKind> {
        self.events.clone()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        let Regular { months, scope, .. } = self;
        if *months == 0 {
            c.bad("regular needs months".into());
        }
        c.scope(scope);
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let Regular {
            events,
            months,
            min_each,
            anchor,
            scope,
            quantifier,
        } = self;
        let _ = {
            writeln!(
                out,
                "{pad}{} {} has at least {min_each} {} in each of the {months} months before {}.",
                quant(*quantifier),
                scope_text(scope),
                kinds_text(events, &[]),
                anchor_name(*anchor)
            )
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &Regular) -> Decision {
    let Regular {
        events,
        months,
        min_each,
        anchor,
        scope,
        quantifier,
    } = rule;
    let Ok(at) = ctx.anchor(*anchor) else {
        return no_window(ctx, events);
    };
    let slices: Vec<Period> = (0..*months)
        .rev()
        .map(|i| {
            let to = at.checked_sub_months(Months::new(i)).unwrap_or(at);
            let from = to
                .checked_sub_months(Months::new(1))
                .and_then(|d| d.succ_opt())
                .unwrap_or(to);
            Period { from, to }
        })
        .collect();
    let w = Period {
        from: slices[0].from,
        to: at,
    };
    let complete = sources_of(events)
        .iter()
        .all(|s| ctx.missing(*s, w).is_empty());
    let members = ctx.scope(scope, at);
    let mut dates = Vec::new();
    let parts: Vec<Part> = members
        .iter()
        .map(|m| {
            let evs: Vec<_> = ctx
                .data
                .events_of(m.person)
                .iter()
                .filter(|e| events.contains(&e.kind) && w.contains(e.start))
                .collect();
            dates.extend(evs.iter().map(|e| e.start));
            let ok = slices
                .iter()
                .all(|s| evs.iter().filter(|e| s.contains(e.start)).count() as u32 >= *min_each);
            if ok {
                Part::Pass
            } else if complete {
                Part::Fail
            } else {
                Part::Unknown
            }
        })
        .collect();
    let verdict = combine(&parts, *quantifier);
    let n = dates.len() as i64;
    let finding = format!("{n} events in the {months} months; needed {min_each} in every month");
    finish(verdict, events, w, ctx, &members, Some(n), dates, finding)
}
