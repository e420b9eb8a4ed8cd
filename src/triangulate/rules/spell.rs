//! `spell`: a continuous spell (or weeks of the last N) of some kind between
//! the case start and an anchor.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// A continuous spell of at least `weeks` (or `weeks` of the last
/// `of_last_weeks`) between the case start and the anchor.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spell {
    pub events: Vec<EventKind>,
    #[serde(default)]
    pub codes: Vec<String>,
    pub weeks: u32,
    #[serde(default)]
    pub of_last_weeks: Option<u32>,
    #[serde(default)]
    pub anchor: Anchor,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default = "super::any")]
    pub quantifier: Quantifier,
}

impl RuleKind for Spell {
    fn kinds(&self) -> Vec<EventKind> {
        self.events.clone()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        let Spell {
            events,
            codes,
            weeks,
            of_last_weeks,
            scope,
            ..
        } = self;
        c.codes(events, codes);
        if of_last_weeks.is_some_and(|m| m < *weeks) {
            c.bad("of_last_weeks is below weeks".into());
        }
        c.scope(scope);
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let Spell {
            events,
            codes,
            weeks,
            of_last_weeks,
            anchor,
            scope,
            quantifier,
        } = self;
        let _ = {
            let dur = match of_last_weeks {
                Some(m) => format!("at least {weeks} of the last {m} weeks"),
                None => format!("a continuous spell of at least {weeks} weeks"),
            };
            writeln!(
                out,
                "{pad}{} {} has {dur} of {} between the case start and {}.",
                quant(*quantifier),
                scope_text(scope),
                kinds_text(events, codes),
                anchor_name(*anchor)
            )
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &Spell) -> Decision {
    let Spell {
        events,
        codes,
        weeks,
        of_last_weeks,
        anchor,
        scope,
        quantifier,
    } = rule;
    let Ok(at) = ctx.anchor(*anchor) else {
        return no_window(ctx, events);
    };
    let w = match of_last_weeks {
        Some(m) => last_weeks(at, *m),
        None => Period {
            from: ctx.data.case.start.min(at),
            to: at,
        },
    };
    let source = sources_of(events);
    let open_until = source
        .iter()
        .filter_map(|s| ctx.covered_until(*s))
        .max()
        .unwrap_or(at)
        .min(at);
    let complete = source.iter().all(|s| ctx.missing(*s, w).is_empty());
    let need = i64::from(*weeks) * 7;
    let members = ctx.scope(scope, at);
    let mut dates = Vec::new();
    let mut notes = Vec::new();
    let parts: Vec<Part> = members
        .iter()
        .map(|m| {
            let spells: Vec<(NaiveDate, NaiveDate)> = ctx
                .data
                .events_of(m.person)
                .iter()
                .filter(|e| events.contains(&e.kind) && code_matches(e, codes))
                .map(|e| (e.start.max(w.from), e.last_day(open_until).min(w.to)))
                .filter(|(a, b)| a <= b)
                .collect();
            let best = match of_last_weeks {
                Some(_) => {
                    // days covered by the union of spells within the window
                    let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
                    for (a, b) in &spells {
                        for d in a.iter_days().take_while(|d| d <= b) {
                            days.insert(d);
                        }
                    }
                    days.len() as i64
                }
                None => spells
                    .iter()
                    .map(|(a, b)| (*b - *a).num_days() + 1)
                    .max()
                    .unwrap_or(0),
            };
            for (a, _) in &spells {
                dates.push(*a);
            }
            notes.push(format!("{}: {} weeks", pseudonym(m.person), best / 7));
            if best >= need {
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
        format!("needed {weeks} weeks; found {}", notes.join(", "))
    };
    finish(verdict, events, w, ctx, &members, None, dates, finding)
}
