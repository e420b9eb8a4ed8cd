//! `no_repeat`: a person's first event of a kind is not followed by another
//! within months.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// For each person in scope with an event of `events` (and `codes`)
/// between `lookback_months` before the case start and the claim, the
/// first such event is not followed by another within `months`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NoRepeat {
    pub events: Vec<EventKind>,
    #[serde(default)]
    pub codes: Vec<String>,
    pub months: u32,
    #[serde(default = "super::twelve")]
    pub lookback_months: u32,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub quantifier: Quantifier,
}

impl RuleKind for NoRepeat {
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
        let NoRepeat {
            events,
            codes,
            months,
            scope,
            ..
        } = self;
        if events.is_empty() || *months == 0 {
            c.bad("no_repeat needs events and months".into());
        }
        c.codes(events, codes);
        c.scope(scope);
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let NoRepeat {
            events,
            codes,
            months,
            lookback_months,
            scope,
            quantifier,
        } = self;
        let _ = {
            let what = kinds_text(events, codes);
            writeln!(
                out,
                "{pad}{} {} whose first {what} falls between {lookback_months} months before the case start and the claim date has no further {what} in the {months} months after it.",
                quant(*quantifier),
                scope_text(scope),
            )
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &NoRepeat) -> Decision {
    let NoRepeat {
        events,
        codes,
        months,
        lookback_months,
        scope,
        quantifier,
    } = rule;
    let at = ctx.claim_date;
    let start = ctx.data.case.start;
    let look_from = start
        .checked_sub_months(Months::new(*lookback_months))
        .unwrap_or(start);
    let sources = sources_of(events);
    let members = ctx.scope(scope, at);
    let mut notes = Vec::new();
    let mut dates = Vec::new();
    let mut parts = Vec::new();
    let mut span: Option<Period> = None;
    for m in &members {
        let mut evs: Vec<_> = ctx
            .data
            .events_of(m.person)
            .iter()
            .filter(|e| events.contains(&e.kind) && code_matches(e, codes))
            .collect();
        evs.sort_by_key(|e| e.start);
        let Some(first) = evs.iter().find(|e| e.start >= look_from && e.start <= at) else {
            continue; // never had one: not in scope
        };
        let w = Period {
            from: first.start.succ_opt().unwrap_or(first.start),
            to: first
                .start
                .checked_add_months(Months::new(*months))
                .unwrap_or(first.start),
        };
        span = Some(span.map_or(w, |p| Period {
            from: p.from.min(w.from),
            to: p.to.max(w.to),
        }));
        dates.push(first.start);
        let repeats: Vec<_> = evs.iter().filter(|e| w.contains(e.start)).collect();
        let complete = sources.iter().all(|s| ctx.missing(*s, w).is_empty());
        let part = if let Some(r) = repeats.first() {
            dates.push(r.start);
            notes.push(format!(
                "{}: first on {}, repeated on {}",
                pseudonym(m.person),
                first.start,
                r.start
            ));
            Part::Fail
        } else if complete {
            notes.push(format!(
                "{}: first on {}, none in the {months} months after",
                pseudonym(m.person),
                first.start
            ));
            Part::Pass
        } else {
            notes.push(format!(
                "{}: first on {}; the {months} months after are not yet covered",
                pseudonym(m.person),
                first.start
            ));
            Part::Unknown
        };
        parts.push(part);
    }
    let verdict = combine(&parts, *quantifier);
    let w = span.unwrap_or(Period { from: at, to: at });
    let finding = if parts.is_empty() {
        "no one in scope had such an event to repeat".to_string()
    } else {
        notes.join("; ")
    };
    let mut d = finish(verdict, events, w, ctx, &members, None, dates, finding);
    d.not_applicable = parts.is_empty();
    if verdict == Verdict::Insufficient && !parts.is_empty() {
        d.earliest_decidable = Some(
            w.to.succ_opt()
                .unwrap_or(w.to)
                .max(d.earliest_decidable.unwrap_or(w.to)),
        );
    }
    d
}
