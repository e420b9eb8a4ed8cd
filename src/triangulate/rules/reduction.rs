//! `reduction`: fewer events (or days) in a window than in a baseline, by a
//! percentage, a tier chosen on the baseline, a number, or at all.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// A reduction against a baseline window, tiered on the baseline count.
/// Written with the flat keys of [`RawReduction`]; held typed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(from = "RawReduction", into = "RawReduction")]
pub struct Reduction {
    pub events: Vec<EventKind>,
    pub codes: Vec<String>,
    pub baseline: Window,
    pub window: Window,
    pub counted: Counted,
    pub scaling: Scaling,
    /// The fall needed where no tier applies (none: tiers only).
    pub fall: Option<Fall>,
    pub tiers: Vec<Tier>,
    pub empty_baseline: EmptyBaseline,
    pub scope: Scope,
    pub quantifier: Quantifier,
    /// Key combinations the typed form cannot hold, reported at load.
    conflicts: Vec<&'static str>,
}

/// What a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Counted {
    #[default]
    Events,
    /// Days of the events (suspension days): `sum_days`.
    Days,
}

/// `sum_days = true|false` read and written as [`Counted`].
pub(super) mod sum_days {
    use super::Counted;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Counted, D::Error> {
        Ok(if bool::deserialize(d)? {
            Counted::Days
        } else {
            Counted::Events
        })
    }

    pub fn serialize<S: Serializer>(c: &Counted, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*c == Counted::Days)
    }
}

/// How the window is set against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Raw counts.
    Counts,
    /// Events per day of each window (`rates`), so a 12-month baseline can
    /// be set against a 3-month window.
    RatePerDay,
    /// The same arithmetic written as the baseline scaled to the window's
    /// length (`pro_rata`); tiers are still chosen on the raw baseline.
    ProRata,
}

/// The fall a reduction needs where no tier applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fall {
    /// At least a percentage (and, with `strictly_fewer`, strictly fewer).
    Percent {
        percent: Percent,
        strictly_fewer: bool,
    },
    /// At least this many fewer ("fewer days lost"): `fewer_by`.
    By(u32),
    /// Any reduction at all: `fewer` (or `any_reduction`).
    Fewer,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Percent {
    Fixed(f64),
    /// The framework's `settings.significant_reduction_percent`.
    Setting,
}

/// What nothing in the baseline means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyBaseline {
    /// Nothing to reduce: undecided.
    Undecided,
    /// Out of the rule's scope (`skip_empty_baseline`).
    OutOfScope,
}

/// A reduction as written: the keys of `docs/frameworks.md`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawReduction {
    pub events: Vec<EventKind>,
    #[serde(default)]
    pub codes: Vec<String>,
    pub baseline: Window,
    pub window: Window,
    #[serde(default)]
    pub percent: Option<f64>,
    #[serde(default)]
    pub percent_setting: bool,
    #[serde(default)]
    pub rates: bool,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    #[serde(default)]
    pub sum_days: bool,
    #[serde(default)]
    pub fewer_by: Option<u32>,
    #[serde(default)]
    pub pro_rata: bool,
    #[serde(default)]
    pub skip_empty_baseline: bool,
    #[serde(default, alias = "any_reduction")]
    pub fewer: bool,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default = "super::together")]
    pub quantifier: Quantifier,
}

impl From<RawReduction> for Reduction {
    fn from(r: RawReduction) -> Self {
        let mut conflicts = Vec::new();
        let scaling = match (r.rates, r.pro_rata) {
            (false, false) => Scaling::Counts,
            (true, false) => Scaling::RatePerDay,
            (false, true) => Scaling::ProRata,
            (true, true) => {
                conflicts.push("rates and pro_rata are the same comparison: use one");
                Scaling::RatePerDay
            }
        };
        let percent = match (r.percent, r.percent_setting) {
            (Some(_), true) => {
                conflicts.push("percent and percent_setting cannot both be given");
                Some(Percent::Setting)
            }
            (Some(p), false) => Some(Percent::Fixed(p)),
            (None, true) => Some(Percent::Setting),
            (None, false) => None,
        };
        let fall = match (percent, r.fewer_by, r.fewer) {
            (Some(_), Some(_), _) => {
                conflicts.push("fewer_by cannot be combined with percent or percent_setting");
                None
            }
            (None, Some(_), true) => {
                conflicts.push("fewer_by already means fewer: give one of them");
                None
            }
            (Some(percent), None, strictly_fewer) => Some(Fall::Percent {
                percent,
                strictly_fewer,
            }),
            (None, Some(n), false) => Some(Fall::By(n)),
            (None, None, true) => Some(Fall::Fewer),
            (None, None, false) => None,
        };
        for t in &r.tiers {
            if t.percent.is_some() == t.max.is_some() {
                conflicts.push("a tier needs exactly one of percent or max");
            }
        }
        Reduction {
            events: r.events,
            codes: r.codes,
            baseline: r.baseline,
            window: r.window,
            counted: if r.sum_days {
                Counted::Days
            } else {
                Counted::Events
            },
            scaling,
            fall,
            tiers: r.tiers,
            empty_baseline: if r.skip_empty_baseline {
                EmptyBaseline::OutOfScope
            } else {
                EmptyBaseline::Undecided
            },
            scope: r.scope,
            quantifier: r.quantifier,
            conflicts,
        }
    }
}

impl From<Reduction> for RawReduction {
    fn from(r: Reduction) -> Self {
        let (percent, percent_setting, fewer_by, fewer) = match r.fall {
            Some(Fall::Percent {
                percent,
                strictly_fewer,
            }) => match percent {
                Percent::Fixed(p) => (Some(p), false, None, strictly_fewer),
                Percent::Setting => (None, true, None, strictly_fewer),
            },
            Some(Fall::By(n)) => (None, false, Some(n), false),
            Some(Fall::Fewer) => (None, false, None, true),
            None => (None, false, None, false),
        };
        RawReduction {
            events: r.events,
            codes: r.codes,
            baseline: r.baseline,
            window: r.window,
            percent,
            percent_setting,
            rates: r.scaling == Scaling::RatePerDay,
            tiers: r.tiers,
            sum_days: r.counted == Counted::Days,
            fewer_by,
            pro_rata: r.scaling == Scaling::ProRata,
            skip_empty_baseline: r.empty_baseline == EmptyBaseline::OutOfScope,
            fewer,
            scope: r.scope,
            quantifier: r.quantifier,
        }
    }
}

impl Reduction {
    fn percent_setting(&self) -> bool {
        matches!(
            self.fall,
            Some(Fall::Percent {
                percent: Percent::Setting,
                ..
            })
        )
    }

    fn skips_empty(&self) -> bool {
        self.empty_baseline == EmptyBaseline::OutOfScope
    }

    /// The fall's own words, before the tiers (percent, fewer) and after
    /// them (a number).
    fn fall_text(&self, fw: &Framework) -> (String, String) {
        let setting = fw.settings.significant_reduction_percent.unwrap_or(0.0);
        match self.fall {
            Some(Fall::Percent {
                percent,
                strictly_fewer,
            }) => {
                let mut s = match percent {
                    Percent::Fixed(p) => format!(" fall by at least {p}%"),
                    Percent::Setting => format!(" fall by at least {setting}% (the council's setting for a significant reduction)"),
                };
                if strictly_fewer {
                    s.push_str(" are fewer");
                }
                (s, String::new())
            }
            Some(Fall::Fewer) => (" are fewer".into(), String::new()),
            Some(Fall::By(n)) => (String::new(), format!(" fall by at least {n}")),
            None => (String::new(), String::new()),
        }
    }
}

impl RuleKind for Reduction {
    fn scope_rests_on_records(&self) -> bool {
        self.skips_empty()
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.events.clone()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        c.codes(&self.events, &self.codes);
        for w in [&self.baseline, &self.window] {
            c.window(w);
        }
        for m in &self.conflicts {
            c.bad((*m).into());
        }
        if self.fall.is_none() && self.tiers.is_empty() && self.conflicts.is_empty() {
            c.bad("reduction needs percent, percent_setting, tiers, fewer_by or fewer".into());
        }
        if self.percent_setting() && c.fw.settings.significant_reduction_percent.is_none() {
            c.bad("percent_setting needs [settings] significant_reduction_percent".into());
        }
        c.scope(&self.scope);
    }

    fn explain(&self, fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let what = match self.counted {
            Counted::Days => format!("days of {}", kinds_text(&self.events, &self.codes)),
            Counted::Events => kinds_text(&self.events, &self.codes),
        };
        let mut s = format!(
            "{pad}{} {}: {}{} {} compared with {}",
            quant(self.quantifier),
            scope_text(&self.scope),
            if self.scaling == Scaling::RatePerDay {
                "the rate per day of "
            } else {
                ""
            },
            what,
            window_text(&self.window),
            window_text(&self.baseline)
        );
        let (before, after) = self.fall_text(fw);
        s.push_str(&before);
        for t in &self.tiers {
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
        s.push_str(&after);
        if self.scaling == Scaling::ProRata {
            s.push_str(" (the baseline scaled to the window's length, so rates are compared)");
        }
        if self.skips_empty() {
            s.push_str("; anyone with none in the baseline is out of scope");
        }
        let _ = writeln!(out, "{s}.");
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

/// Whether `now` in the window is reduction enough from `base` (scaled by
/// `scale`): the tier the baseline falls in decides, else the fall.
fn reduced(rule: &Reduction, ctx: &Ctx, base: i64, now: i64, scale: f64) -> Part {
    let tier = rule.tiers.iter().find(|t| {
        base >= i64::from(t.baseline_min) && t.baseline_max.is_none_or(|m| base <= i64::from(m))
    });
    // Nothing to reduce from a zero baseline, unless a tier sets a
    // bound for it ("none if fewer than 3 on entry").
    if base == 0 && !tier.is_some_and(|t| t.percent.is_none() && t.max.is_some()) {
        return Part::Unknown;
    }
    let scaled = base as f64 * scale;
    let now_f = now as f64;
    let ok = match tier {
        Some(t) => match (t.percent, t.max) {
            (Some(p), _) => now_f <= scaled * (1.0 - p / 100.0),
            (None, Some(mx)) => now <= i64::from(mx),
            _ => false,
        },
        None => match rule.fall {
            Some(Fall::Percent {
                percent,
                strictly_fewer,
            }) => {
                let p = match percent {
                    Percent::Fixed(p) => Some(p),
                    Percent::Setting => ctx.fw.settings.significant_reduction_percent,
                };
                p.is_some_and(|p| now_f <= scaled * (1.0 - p / 100.0))
                    && (!strictly_fewer || now_f < scaled)
            }
            Some(Fall::By(n)) => now_f <= scaled - f64::from(n),
            Some(Fall::Fewer) => now_f < scaled,
            None => false,
        },
    };
    if ok {
        Part::Pass
    } else {
        Part::Fail
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &Reduction) -> Decision {
    let Reduction {
        events,
        codes,
        baseline,
        window,
        counted,
        scaling,
        scope,
        quantifier,
        ..
    } = rule;
    let skip_empty_baseline = &rule.skips_empty();
    let (Ok(bw), Ok(w)) = (ctx.window(baseline), ctx.window(window)) else {
        return no_window(ctx, events);
    };
    // Scaled (`rates` or its synonym `pro_rata`), counts are scaled to events
    // per day of each window: `now` is compared with
    // `base * (window days / baseline days)`.
    let days = |p: Period| ((p.to - p.from).num_days() + 1).max(1) as f64;
    let scale = if *scaling != Scaling::Counts {
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
            .map(|e| match counted {
                Counted::Days => e.measure.days(),
                Counted::Events => 1,
            })
            .sum::<i64>()
    };
    let complete = sources_of(events)
        .iter()
        .all(|s| ctx.missing(*s, w).is_empty() && ctx.missing(*s, bw).is_empty());
    let judge = |base: i64, now: i64| -> Part {
        if !complete {
            return Part::Unknown;
        }
        reduced(rule, ctx, base, now, scale)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triangulate::tests::decide;
    use crate::triangulate::tests::*;

    #[test]
    fn reduction_sums_days_and_needs_fewer() {
        let r = rule(
            "type = \"reduction\"\nevents = [\"suspension\"]\nsum_days = true\nfewer_by = 1\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { months = 6 }\nquantifier = \"each\"\n",
        );
        // 5 days before, 4 after (over two suspensions): fewer days
        let base = ev(EventKind::Suspension, "2020-03-01", None, "", 5);
        let data = one_child(
            "2020-06-01",
            vec![
                base,
                ev(EventKind::Suspension, "2020-09-01", None, "", 2),
                ev(EventKind::Suspension, "2020-10-01", None, "", 2),
            ],
        );
        let dec = decide(&fw(), &data, &r, "x", d("2020-12-01"));
        assert_eq!(dec.verdict, Verdict::Verified, "{dec:?}");
        // 5 then 5: not fewer, though one event fewer than... the same days
        let data = one_child(
            "2020-06-01",
            vec![base, ev(EventKind::Suspension, "2020-09-01", None, "", 5)],
        );
        let dec = decide(&fw(), &data, &r, "x", d("2020-12-01"));
        assert_eq!(dec.verdict, Verdict::Contradicted, "{dec:?}");
    }
    #[test]
    fn reduction_pro_rata_compares_rates_and_skips_empty_baselines() {
        let text = "type = \"reduction\"\nevents = [\"arrest\"]\nbaseline = { months = 12, anchor = \"case_start\" }\nwindow = { months = 6 }\npercent = 50.0\nskip_empty_baseline = true\nquantifier = \"each\"\n";
        let mut evs: Vec<_> = (1..=8)
            .map(|m| {
                ev(
                    EventKind::Arrest,
                    &format!("2019-{m:02}-10"),
                    None,
                    "caution",
                    0,
                )
            })
            .collect();
        // 4 arrests in the 6 months up to the claim against 8 in 12 months
        for m in 7..=10 {
            evs.push(ev(
                EventKind::Arrest,
                &format!("2020-{m:02}-10"),
                None,
                "caution",
                0,
            ));
        }
        let data = one_child("2020-01-01", evs);
        let claim = d("2020-12-01");
        // raw counts: 4 <= 8 * 50%
        assert_eq!(
            decide(&fw(), &data, &rule(text), "x", claim).verdict,
            Verdict::Verified
        );
        // rates: 4 in 6 months is the same rate as 8 in 12, not half
        let pro = format!("{text}pro_rata = true\n");
        assert_eq!(
            decide(&fw(), &data, &rule(&pro), "x", claim).verdict,
            Verdict::Contradicted
        );
        // nobody with a baseline: not applicable (insufficient), not undecided
        let data = one_child("2020-01-01", vec![]);
        let dec = decide(&fw(), &data, &rule(&pro), "x", claim);
        assert_eq!(dec.verdict, Verdict::Insufficient);
        assert!(dec.not_applicable, "{dec:?}");
        let plain = decide(
            &fw(),
            &data,
            &rule(text.replace("skip_empty_baseline = true\n", "").as_str()),
            "x",
            claim,
        );
        assert!(!plain.not_applicable, "{plain:?}");
    }

    fn load(rule: &str) -> Result<Framework, crate::framework::FrameworkError> {
        let text = format!(
            "[framework]\nid = \"r\"\ncouncil = \"T\"\ntitle = \"T\"\nversion = \"1\"\n\n[[problems]]\nid = \"p\"\nnumber = \"1\"\ntitle = \"P\"\n\n[[outcomes]]\nid = \"R-1\"\nproblem = \"p\"\nwording = \"w\"\n[outcomes.rule]\ntype = \"reduction\"\nevents = [\"arrest\"]\nbaseline = {{ months = 12, anchor = \"case_start\" }}\nwindow = {{ months = 6 }}\n{rule}"
        );
        Framework::parse(std::path::Path::new("r.toml"), &text)
    }

    #[test]
    fn flat_keys_become_typed() {
        let fw = load("percent = 30.0\nfewer = true\nsum_days = true\npro_rata = true\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let Rule::Reduction(r) = &fw.outcomes[0].rule else {
            panic!()
        };
        assert_eq!(
            r.fall,
            Some(Fall::Percent {
                percent: Percent::Fixed(30.0),
                strictly_fewer: true
            })
        );
        assert_eq!((r.counted, r.scaling), (Counted::Days, Scaling::ProRata));
        assert_eq!(r.empty_baseline, EmptyBaseline::Undecided);
    }

    #[test]
    fn keys_that_contradict_are_load_errors() {
        for (keys, says) in [
            (
                "percent = 30.0\nfewer_by = 2\n",
                "fewer_by cannot be combined",
            ),
            (
                "fewer_by = 2\nfewer = true\n",
                "fewer_by already means fewer",
            ),
            (
                "rates = true\npro_rata = true\nfewer = true\n",
                "same comparison",
            ),
            (
                "tiers = [{ baseline_min = 1, percent = 50.0, max = 2 }]\n",
                "exactly one of percent or max",
            ),
        ] {
            let err = load(keys).unwrap_err().to_string();
            assert!(err.contains(says), "{keys}: {err}");
            assert!(err.contains("R-1: "), "{err}");
        }
    }
}
