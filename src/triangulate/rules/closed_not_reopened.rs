//! `closed_not_reopened`: an episode (or the keyworker case) closed and no
//! reopening event started within months of closing.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;

/// An episode that closed and did not reopen (nor any `reopen` event
/// start) within `months` after closing, by the anchor.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedNotReopened {
    /// Episode kinds; empty means the keyworker case itself.
    #[serde(default)]
    pub events: Vec<EventKind>,
    #[serde(default)]
    pub closure_codes: Vec<String>,
    pub reopen: Vec<EventKind>,
    pub months: u32,
    /// Only members with one of `events` open on the case's start date
    /// are in scope (the plan that identified the need); their latest
    /// episode of `events` is judged.
    #[serde(default)]
    pub open_at_case_start: bool,
    /// Changes to `months` by claim date.
    #[serde(default)]
    pub months_from: Vec<DatedMonths>,
    #[serde(default)]
    pub scope: Scope,
}

impl RuleKind for ClosedNotReopened {
    fn scope_rests_on_records(&self) -> bool {
        true
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.events
            .iter()
            .chain(self.reopen.iter())
            .copied()
            .collect()
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn sources(&self) -> Vec<SourceKind> {
        let mut s = sources_of(&self.event_kinds());
        if self.events.is_empty() {
            s.push(SourceKind::Case); // the keyworker case itself
            s.sort();
        }
        s
    }

    fn check(&self, c: &mut Checker) {
        let ClosedNotReopened {
            events,
            closure_codes,
            months_from,
            scope,
            ..
        } = self;
        c.codes(events, closure_codes);
        let mut dates: Vec<_> = months_from.iter().map(|c| c.from).collect();
        dates.sort();
        dates.dedup();
        if dates.len() != months_from.len() {
            c.bad("months_from has two changes on the same date".into());
        }
        c.scope(scope);
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let ClosedNotReopened {
            events,
            closure_codes,
            reopen,
            months,
            open_at_case_start,
            months_from,
            scope,
        } = self;
        let _ = {
            let mut changes = String::new();
            for c in months_from {
                let _ = write!(
                    changes,
                    " ({} months for claims made from {})",
                    c.months, c.from
                );
            }
            let what = if events.is_empty() {
                "the keyworker case".to_string()
            } else {
                format!(
                    "{}'s {} episode",
                    scope_text(scope),
                    kinds_text(events, closure_codes)
                )
            };
            let who = if *open_at_case_start {
                " (for members with such an episode open when the case started)"
            } else {
                ""
            };
            if reopen.is_empty() || *months == 0 {
                writeln!(out, "{pad}{what} closed by the claim date{who}.")
            } else {
                writeln!(
                    out,
                    "{pad}{what} closed{who}, and no {} started in the {months} months{changes} after it closed.",
                    kinds_text(reopen, &[])
                )
            }
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &ClosedNotReopened) -> Decision {
    let ClosedNotReopened {
        events,
        closure_codes,
        reopen,
        months,
        open_at_case_start,
        months_from,
        scope,
    } = rule;
    // The sustainment period in force on the claim date.
    let months = &crate::framework::months_in_force(*months, months_from, ctx.claim_date);
    let after = |end: NaiveDate| Period {
        from: end.succ_opt().unwrap_or(end),
        to: if *months == 0 {
            ctx.claim_date.max(end)
        } else {
            end.checked_add_months(Months::new(*months)).unwrap_or(end)
        },
    };
    let mut kinds: Vec<EventKind> = events.clone();
    kinds.extend(reopen.iter().copied());
    if events.is_empty() {
        return case_closed(ctx, rule, *months, &after);
    }
    let members = ctx.scope(scope, ctx.claim_date);
    let source = sources_of(&kinds);
    let open_until = source
        .iter()
        .filter_map(|s| ctx.covered_until(*s))
        .max()
        .unwrap_or(ctx.claim_date);
    let mut parts = Vec::new();
    let mut dates = Vec::new();
    let mut notes = Vec::new();
    let mut latest_window: Option<Period> = None;
    for m in &members {
        let evs = ctx.data.events_of(m.person);
        let episodes: Vec<_> = evs
            .iter()
            .filter(|e| events.contains(&e.kind) && e.start <= ctx.claim_date)
            .collect();
        let Some(last) = episodes.iter().max_by_key(|e| e.last_day(open_until)) else {
            continue; // this member never had such an episode: not in scope
        };
        let start = ctx.data.case.start;
        if *open_at_case_start
            && !episodes
                .iter()
                .any(|e| e.start <= start && e.last_day(open_until) >= start)
        {
            continue; // no such episode open when the case started
        }
        let still_open = last.end.is_none_or(|e| e > ctx.claim_date);
        if still_open {
            notes.push(format!(
                "{}: {} episode still open",
                pseudonym(m.person),
                last.kind
            ));
            parts.push(Part::Fail);
            dates.push(last.start);
            continue;
        }
        let end = last.end.expect("closed");
        if !closure_codes.is_empty() && !code_matches(last, closure_codes) {
            notes.push(format!(
                "{}: closed {end} but not {}",
                pseudonym(m.person),
                closure_codes.join("/")
            ));
            parts.push(Part::Fail);
            continue;
        }
        let w = after(end);
        latest_window = Some(latest_window.map_or(w, |p: Period| Period {
            from: p.from.min(w.from),
            to: p.to.max(w.to),
        }));
        let reopened: Vec<_> = evs
            .iter()
            .filter(|e| reopen.contains(&e.kind) && w.contains(e.start))
            .collect();
        let complete = source.iter().all(|s| ctx.missing(*s, w).is_empty());
        if let Some(r) = reopened.first() {
            notes.push(format!(
                "{}: closed {end}, {} on {}",
                pseudonym(m.person),
                r.kind,
                r.start
            ));
            dates.push(r.start);
            parts.push(Part::Fail);
        } else if complete {
            notes.push(format!(
                "{}: closed {end}, nothing in the {months} months after",
                pseudonym(m.person)
            ));
            parts.push(Part::Pass);
        } else {
            notes.push(format!(
                "{}: closed {end}; the {months} months after are not yet covered",
                pseudonym(m.person)
            ));
            parts.push(Part::Unknown);
        }
    }
    let verdict = combine(&parts, Quantifier::Each);
    let w = latest_window.unwrap_or(Period {
        from: ctx.claim_date,
        to: ctx.claim_date,
    });
    let finding = if parts.is_empty() {
        "no one in scope had such an episode to close".to_string()
    } else {
        notes.join("; ")
    };
    let mut d = finish(verdict, &kinds, w, ctx, &members, None, dates, finding);
    d.not_applicable = parts.is_empty();
    if verdict == Verdict::Insufficient {
        d.earliest_decidable = Some(
            w.to.succ_opt()
                .unwrap_or(w.to)
                .max(d.earliest_decidable.unwrap_or(w.to)),
        );
    }
    d
}

/// The keyworker case itself closed, and no `reopen` event (a repeat
/// referral) started in the months after it closed.
fn case_closed(
    ctx: &Ctx,
    rule: &ClosedNotReopened,
    months: u32,
    after: &dyn Fn(NaiveDate) -> Period,
) -> Decision {
    let ClosedNotReopened { reopen, scope, .. } = rule;
    let Some(end) = ctx.data.case.end.filter(|e| *e <= ctx.claim_date) else {
        return no_window(ctx, reopen);
    };
    let w = after(end);
    let members = ctx.scope(scope, w.to);
    let mut dates = Vec::new();
    for m in &members {
        for e in ctx.data.events_of(m.person) {
            if reopen.contains(&e.kind) && w.contains(e.start) {
                dates.push(e.start);
            }
        }
    }
    let complete = sources_of(reopen)
        .iter()
        .all(|s| ctx.missing(*s, w).is_empty());
    let verdict = if !dates.is_empty() {
        Verdict::Contradicted
    } else if complete {
        Verdict::Verified
    } else {
        Verdict::Insufficient
    };
    let finding = format!(
        "case closed {end}; {} repeat referrals in the {months} months after closure",
        dates.len()
    );
    let mut d = finish(
        verdict,
        reopen,
        w,
        ctx,
        &members,
        Some(dates.len() as i64),
        dates,
        finding,
    );
    if verdict == Verdict::Insufficient {
        d.earliest_decidable = d
            .earliest_decidable
            .map(|x| x.max(w.to.succ_opt().unwrap_or(w.to)));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triangulate::tests::decide;
    use crate::triangulate::tests::*;

    #[test]
    fn closed_only_for_episodes_open_at_the_case_start() {
        let text = "type = \"closed_not_reopened\"\nevents = [\"child_protection\"]\nclosure_codes = [\"stepped_down\", \"closed\"]\nreopen = []\nmonths = 0\nopen_at_case_start = true\n";
        // a plan closed long before the case: not in scope
        let old = ev(
            EventKind::ChildProtection,
            "2015-01-01",
            Some("2016-01-01"),
            "closed",
            0,
        );
        let data = one_child("2020-01-01", vec![old]);
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-12-01"));
        assert!(dec.not_applicable, "{dec:?}");
        // without the option, the old closed plan would pass
        let loose = text.replace("open_at_case_start = true\n", "");
        let dec = decide(&fw(), &data, &rule(&loose), "x", d("2020-12-01"));
        assert_eq!(dec.verdict, Verdict::Verified);
        // open at the start and stepped down since: verified with no reopen window
        let cp = ev(
            EventKind::ChildProtection,
            "2019-06-01",
            Some("2020-06-01"),
            "stepped_down",
            0,
        );
        let mut data = one_child("2020-01-01", vec![cp]);
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-12-01"));
        assert_eq!(dec.verdict, Verdict::Verified, "{dec:?}");
        assert!(dec.missing.is_empty());
        // months = 0: the stretch from closure to the claim must be covered
        data.coverage.insert(
            SourceKind::SocialCare,
            vec![Period {
                from: d("2000-01-01"),
                to: d("2020-09-30"),
            }],
        );
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-12-01"));
        assert_eq!(dec.verdict, Verdict::Insufficient, "{dec:?}");
        assert_eq!(
            dec.missing,
            vec![Period {
                from: d("2020-10-01"),
                to: d("2020-12-01")
            }]
        );
    }
}
