//! `reduction`: fewer events (or days) in a window than in a baseline, by a
//! percentage, a tier chosen on the baseline, a number, or at all.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// A reduction against a baseline window, tiered on the baseline count.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reduction {
    pub events: Vec<EventKind>,
    #[serde(default)]
    pub codes: Vec<String>,
    pub baseline: Window,
    pub window: Window,
    #[serde(default)]
    pub percent: Option<f64>,
    /// Use the framework's `settings.significant_reduction_percent`.
    #[serde(default)]
    pub percent_setting: bool,
    /// Compare events per day of each window rather than raw counts, so
    /// a 12-month baseline can be set against a 3-month window.
    #[serde(default)]
    pub rates: bool,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Count days (`values[0]`, e.g. suspension days) instead of events.
    #[serde(default)]
    pub sum_days: bool,
    /// Pass when the window has at least this many fewer than the
    /// baseline ("fewer days lost"); used when no percent or tier applies.
    #[serde(default)]
    pub fewer_by: Option<u32>,
    /// Compare rates: the baseline count is scaled to the window's length
    /// before `percent` / `fewer_by` apply (tiers are still chosen on the
    /// raw baseline count, and a tier's `max` is absolute).
    #[serde(default)]
    pub pro_rata: bool,
    /// People (or, together, the family) with nothing in the baseline are
    /// out of the rule's scope, instead of leaving it undecided.
    #[serde(default)]
    pub skip_empty_baseline: bool,
    /// Any reduction: strictly fewer events than in the baseline
    /// (`any_reduction` is accepted as another name for it).
    #[serde(default, alias = "any_reduction")]
    pub fewer: bool,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default = "super::together")]
    pub quantifier: Quantifier,
}

impl RuleKind for Reduction {
    fn kinds(&self) -> Vec<EventKind> {
        self.events.clone()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        let Reduction {
            events,
            codes,
            baseline,
            window,
            percent,
            percent_setting,
            tiers,
            fewer_by,
            fewer,
            scope,
            ..
        } = self;
        c.codes(events, codes);
        for w in [baseline, window] {
            c.window(w);
        }
        if percent.is_none() && !percent_setting && tiers.is_empty() && fewer_by.is_none() && !fewer
        {
            c.bad("reduction needs percent, percent_setting, tiers, fewer_by or fewer".into());
        }
        if *percent_setting && c.fw.settings.significant_reduction_percent.is_none() {
            c.bad("percent_setting needs [settings] significant_reduction_percent".into());
        }
        c.scope(scope);
    }

    fn explain(&self, fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let Reduction {
            events,
            codes,
            baseline,
            window,
            percent,
            percent_setting,
            rates,
            tiers,
            sum_days,
            fewer_by,
            pro_rata,
            skip_empty_baseline,
            fewer,
            scope,
            quantifier,
        } = self;
        let _ = {
            let what = if *sum_days {
                format!("days of {}", kinds_text(events, codes))
            } else {
                kinds_text(events, codes)
            };
            let mut s = format!(
                "{pad}{} {}: {}{} {} compared with {}",
                quant(*quantifier),
                scope_text(scope),
                if *rates { "the rate per day of " } else { "" },
                what,
                window_text(window),
                window_text(baseline)
            );
            if let Some(p) = percent {
                let _ = write!(s, " fall by at least {p}%");
            }
            if *percent_setting {
                let p = fw.settings.significant_reduction_percent.unwrap_or(0.0);
                let _ = write!(
                    s,
                    " fall by at least {p}% (the council's setting for a significant reduction)"
                );
            }
            if *fewer {
                let _ = write!(s, " are fewer");
            }
            for t in tiers {
                let range = match t.baseline_max {
                    Some(m) => format!("{} to {m}", t.baseline_min),
                    None => format!("{} or more", t.baseline_min),
                };
                match (t.percent, t.max) {
                    (Some(p), _) => {
                        let _ = write!(
                            s,
                            "; with {range} in the baseline, a reduction of at least {p}%"
                        );
                    }
                    (None, Some(m)) => {
                        let _ = write!(
                            s,
                            "; with {range} in the baseline, at most {m} in the window"
                        );
                    }
                    _ => {}
                }
            }
            if let Some(n) = fewer_by {
                let _ = write!(s, " fall by at least {n}");
            }
            if *pro_rata {
                let _ = write!(
                    s,
                    " (the baseline scaled to the window's length, so rates are compared)"
                );
            }
            if *skip_empty_baseline {
                let _ = write!(s, "; anyone with none in the baseline is out of scope");
            }
            writeln!(out, "{s}.")
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &Reduction) -> Decision {
    let Reduction {
        events,
        codes,
        baseline,
        window,
        percent,
        percent_setting,
        rates,
        tiers,
        sum_days,
        fewer_by,
        pro_rata,
        skip_empty_baseline,
        fewer,
        scope,
        quantifier,
    } = rule;
    let (Ok(bw), Ok(w)) = (ctx.window(baseline), ctx.window(window)) else {
        return no_window(ctx, events);
    };
    // With `rates` (or its synonym `pro_rata`), counts are scaled to events
    // per day of each window: `now` is compared with
    // `base * (window days / baseline days)`.
    let days = |p: Period| ((p.to - p.from).num_days() + 1).max(1) as f64;
    let scale = if *rates || *pro_rata {
        days(w) / days(bw)
    } else {
        1.0
    };
    let members = ctx.scope(scope, w.to);
    let open_until = w.to;
    let count = |m: &Member, win: Period, dates: &mut Vec<NaiveDate>| -> i64 {
        ctx.data
            .events_of(m.person)
            .iter()
            .filter(|e| {
                events.contains(&e.kind) && code_matches(e, codes) && in_window(e, win, open_until)
            })
            .inspect(|e| dates.push(e.start))
            .map(|e| if *sum_days { e.measure.days() } else { 1 })
            .sum::<i64>()
    };
    let complete = sources_of(events)
        .iter()
        .all(|s| ctx.missing(*s, w).is_empty() && ctx.missing(*s, bw).is_empty());
    let pct = if *percent_setting {
        ctx.fw.settings.significant_reduction_percent
    } else {
        *percent
    };
    let judge = |base: i64, now: i64| -> Part {
        if !complete {
            return Part::Unknown;
        }
        let tier = tiers.iter().find(|t| {
            base >= i64::from(t.baseline_min) && t.baseline_max.is_none_or(|m| base <= i64::from(m))
        });
        // Nothing to reduce from a zero baseline, unless a tier sets a
        // bound for it ("none if fewer than 3 on entry").
        if base == 0 && !tier.is_some_and(|t| t.percent.is_none() && t.max.is_some()) {
            return Part::Unknown;
        }
        let scaled = base as f64 * scale;
        let ok = match tier {
            Some(t) => match (t.percent, t.max) {
                (Some(p), _) => (now as f64) <= scaled * (1.0 - p / 100.0),
                (None, Some(mx)) => now <= i64::from(mx),
                _ => false,
            },
            None => match (pct, fewer_by) {
                (Some(p), _) => {
                    (now as f64) <= scaled * (1.0 - p / 100.0) && (!*fewer || (now as f64) < scaled)
                }
                (None, Some(n)) => (now as f64) <= scaled - f64::from(*n),
                // `fewer`: any reduction at all
                (None, None) => *fewer && (now as f64) < scaled,
            },
        };
        if ok {
            Part::Pass
        } else {
            Part::Fail
        }
    };
    let mut dates = Vec::new();
    let mut notes = Vec::new();
    let parts: Vec<Part> = if *quantifier == Quantifier::Together {
        let b: i64 = members.iter().map(|m| count(m, bw, &mut Vec::new())).sum();
        let n: i64 = members.iter().map(|m| count(m, w, &mut dates)).sum();
        notes.push(format!("{b} in the baseline {bw}, {n} in {w}"));
        if members.is_empty() || (*skip_empty_baseline && b == 0) {
            vec![]
        } else {
            vec![judge(b, n)]
        }
    } else {
        members
            .iter()
            .filter_map(|m| {
                let b = count(m, bw, &mut Vec::new());
                if *skip_empty_baseline && b == 0 {
                    return None;
                }
                let n = count(m, w, &mut dates);
                notes.push(format!("{}: {b} then {n}", pseudonym(m.person)));
                Some(judge(b, n))
            })
            .collect()
    };
    let verdict = combine(
        &parts,
        if *quantifier == Quantifier::Together {
            Quantifier::Each
        } else {
            *quantifier
        },
    );
    let mut finding = notes.join("; ");
    if parts.is_empty() && *skip_empty_baseline {
        finding = "no one in scope had anything in the baseline to reduce".into();
    } else if parts.iter().all(|p| *p == Part::Unknown) && complete {
        finding.push_str("; no events in the baseline, so there is nothing to reduce");
    }
    let full = Period {
        from: bw.from.min(w.from),
        to: bw.to.max(w.to),
    };
    let mut d = finish(verdict, events, full, ctx, &members, None, dates, finding);
    if *skip_empty_baseline && parts.is_empty() {
        d.not_applicable = true;
    }
    d
}
