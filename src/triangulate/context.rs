//! The context a rule is decided in: the case, the claim date, the problem,
//! the as-of date, and the shared arithmetic every rule kind uses (windows
//! placed on anchors, the coverage a window has or lacks, who is in a scope,
//! per-person parts combined by a quantifier, the evidence a decision
//! carries).
//!
//! In: a [`CaseData`] and a rule's windows and scopes. Out: periods, people
//! in scope, and [`Decision`]s via [`finish`]. Promises: a window not fully
//! covered by deliveries is reported with exactly the missing periods.

use chrono::{Days, Months, NaiveDate};

use super::case::{age_at, pseudonym, year_group, CaseData, Member};
use super::{Decision, Evidence, Verdict};
use crate::framework::{Anchor, Direction, Framework, Quantifier, Scope, Window};
use crate::records::terms::{terms_ending_by, terms_starting_after};
use crate::records::{EventKind, Period, Role, SourceKind};

/// Why a window could not be placed.
pub(crate) enum NoWindow {
    CaseOpen,
}

pub struct Ctx<'a> {
    pub(crate) fw: &'a Framework,
    pub(crate) data: &'a CaseData,
    pub(crate) claim_date: NaiveDate,
    pub(crate) problem: &'a str,
    /// The date the decision is made as of (the caller's clock): only an
    /// undecided claim's earliest date to look again rests on it.
    pub(crate) today: NaiveDate,
}

impl Ctx<'_> {
    pub(crate) fn anchor(&self, a: Anchor) -> Result<NaiveDate, NoWindow> {
        match a {
            Anchor::Claim => Ok(self.claim_date),
            Anchor::CaseStart => Ok(self.data.case.start),
            Anchor::CaseEnd => self.data.case.end.ok_or(NoWindow::CaseOpen),
        }
    }

    pub(crate) fn window(&self, w: &Window) -> Result<Period, NoWindow> {
        let a = self.anchor(w.anchor)?;
        if let Some(since) = w.since {
            // From the `since` anchor (inclusive) up to the window's
            // anchor; empty-safe if they cross. A baseline ending on the
            // same anchor shares that one day.
            let from = self.anchor(since)?;
            return Ok(Period {
                from: from.min(a),
                to: a,
            });
        }
        if let Some(t) = w.terms {
            let ts = match w.direction {
                Direction::Before => terms_ending_by(a, t),
                Direction::After => terms_starting_after(a, t),
            };
            return Ok(Period {
                from: ts.first().expect("n > 0").from,
                to: ts.last().expect("n > 0").to,
            });
        }
        let span = |d: NaiveDate, forward: bool| -> NaiveDate {
            let r = match (w.months, w.weeks, w.days) {
                (Some(m), ..) if forward => d.checked_add_months(Months::new(m)),
                (Some(m), ..) => d.checked_sub_months(Months::new(m)),
                (_, Some(wk), _) if forward => d.checked_add_days(Days::new(u64::from(wk) * 7)),
                (_, Some(wk), _) => d.checked_sub_days(Days::new(u64::from(wk) * 7)),
                (_, _, Some(n)) if forward => d.checked_add_days(Days::new(u64::from(n))),
                (_, _, Some(n)) => d.checked_sub_days(Days::new(u64::from(n))),
                _ => Some(d),
            };
            r.unwrap_or(d)
        };
        Ok(match w.direction {
            Direction::Before => Period {
                from: span(a, false).succ_opt().unwrap_or(a),
                to: a,
            },
            Direction::After => Period {
                from: a.succ_opt().unwrap_or(a),
                to: span(a, true),
            },
        })
    }

    /// The parts of `w` not covered by deliveries of `source` (by every
    /// feed of it).
    pub(crate) fn missing(&self, source: SourceKind, w: Period) -> Vec<Period> {
        uncovered(
            self.data
                .coverage
                .get(&source)
                .map_or(&[][..], Vec::as_slice),
            w,
        )
    }

    /// Each feed of `source`: what of `w` it covers and what it does not.
    pub(crate) fn feeds_in(&self, source: SourceKind, w: Period) -> Vec<FeedCoverage> {
        self.data
            .feeds
            .get(&source)
            .into_iter()
            .flatten()
            .map(|(feed, cov)| FeedCoverage {
                feed: feed.clone(),
                source,
                covered: clip(cov, w),
                missing: uncovered(cov, w),
            })
            .collect()
    }

    pub(crate) fn coverage_in(&self, source: SourceKind, w: Period) -> Vec<Period> {
        clip(
            self.data
                .coverage
                .get(&source)
                .map_or(&[][..], Vec::as_slice),
            w,
        )
    }

    /// The last day a source covers (for open spells).
    pub(crate) fn covered_until(&self, source: SourceKind) -> Option<NaiveDate> {
        self.data
            .coverage
            .get(&source)
            .and_then(|c| c.last())
            .map(|p| p.to)
    }

    pub(crate) fn scope(&self, scope: &Scope, at: NaiveDate) -> Vec<&Member> {
        let d = self.data;
        let age = |m: &Member| m.birth.map(|b| age_at(b, at));
        let adult = |m: &Member| match age(m) {
            Some(a) => a >= 18,
            None => matches!(m.role, Some(Role::Adult | Role::MainCarer)),
        };
        let child = |m: &Member| match age(m) {
            Some(a) => a < 18,
            None => m.role == Some(Role::Child),
        };
        match scope {
            Scope::Family => d.members.iter().collect(),
            Scope::Children => d.members.iter().filter(|m| child(m)).collect(),
            Scope::SchoolAge => d
                .members
                .iter()
                .filter(|m| age(m).map_or(m.role == Some(Role::Child), |a| (5..=16).contains(&a)))
                .collect(),
            Scope::Adults => d.members.iter().filter(|m| adult(m)).collect(),
            Scope::Flagged => {
                let flagged: Vec<&Member> = d
                    .members
                    .iter()
                    .filter(|m| m.problems.iter().any(|p| p == self.problem))
                    .collect();
                if flagged.is_empty() {
                    d.members.iter().collect()
                } else {
                    flagged
                }
            }
            Scope::Household => d.members.iter().chain(d.household.iter()).collect(),
            Scope::Ages { min, max } => d
                .members
                .iter()
                .filter(|m| age(m).is_some_and(|a| a >= *min as i32 && a <= *max as i32))
                .collect(),
            Scope::YearGroups { min, max } => d
                .members
                .iter()
                .filter(|m| {
                    m.birth
                        .is_some_and(|b| (*min as i32..=*max as i32).contains(&year_group(b, at)))
                })
                .collect(),
            Scope::All(scopes) => {
                let mut inside: Vec<&Member> = d.members.iter().chain(d.household.iter()).collect();
                for sc in scopes {
                    let these = self.scope(sc, at);
                    inside.retain(|m| these.iter().any(|x| x.person == m.person));
                }
                inside
            }
            Scope::Met(c) | Scope::NotMet(c) => {
                let start = d.case.start;
                let from = start
                    .checked_sub_months(Months::new(c.months))
                    .unwrap_or(start);
                let want = matches!(scope, Scope::Met(_));
                let until = if c.through_claim {
                    self.claim_date.max(start)
                } else {
                    start
                };
                d.members
                    .iter()
                    .filter(|m| !c.adults_only || adult(m))
                    .filter(|m| !c.children_only || child(m))
                    .filter(|m| {
                        d.events_of(m.person).iter().any(|e| {
                            c.events.contains(&e.kind)
                                && code_matches(e, &c.codes)
                                && e.start <= until
                                && e.last_day(until) >= from
                        }) == want
                    })
                    .collect()
            }
        }
    }
}

pub(crate) fn code_matches(e: &crate::records::Event, codes: &[String]) -> bool {
    codes.is_empty() || codes.iter().any(|c| e.kind.code_of(c) == Some(e.code))
}

pub(crate) fn sources_of(kinds: &[EventKind]) -> Vec<SourceKind> {
    let mut s: Vec<_> = kinds.iter().map(|k| k.source()).collect();
    s.sort();
    s.dedup();
    s
}

/// Per-person result before combining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Pass,
    Fail,
    Unknown,
}

pub(crate) fn combine(parts: &[Part], q: Quantifier) -> Verdict {
    if parts.is_empty() {
        return Verdict::Insufficient;
    }
    match q {
        Quantifier::Any => {
            if parts.contains(&Part::Pass) {
                Verdict::Verified
            } else if parts.contains(&Part::Unknown) {
                Verdict::Insufficient
            } else {
                Verdict::Contradicted
            }
        }
        _ => {
            if parts.contains(&Part::Fail) {
                Verdict::Contradicted
            } else if parts.contains(&Part::Unknown) {
                Verdict::Insufficient
            } else {
                Verdict::Verified
            }
        }
    }
}

pub(crate) fn persons(ms: &[&Member]) -> Vec<String> {
    ms.iter().map(|m| pseudonym(m.person)).collect()
}

pub(crate) fn no_window(ctx: &Ctx, events: &[EventKind]) -> Decision {
    Decision::noted(
        Verdict::Insufficient,
        events,
        sources_of(events),
        format!(
            "case {} has not closed, so the window after closure has not begun",
            ctx.data.case.case_ref
        ),
    )
}

/// The parts of `w` that the sorted, disjoint ranges `cov` leave out.
fn uncovered(cov: &[Period], w: Period) -> Vec<Period> {
    let mut out = Vec::new();
    if w.from > w.to {
        return out; // an empty window (e.g. zero months after closure)
    }
    let mut cursor = w.from;
    for p in cov {
        if p.to < cursor || p.from > w.to {
            continue;
        }
        if p.from > cursor {
            out.push(Period {
                from: cursor,
                to: p.from.pred_opt().unwrap_or(p.from).min(w.to),
            });
        }
        cursor = cursor.max(p.to.succ_opt().unwrap_or(p.to));
        if cursor > w.to {
            break;
        }
    }
    if cursor <= w.to {
        out.push(Period {
            from: cursor,
            to: w.to,
        });
    }
    out
}

/// The parts of the ranges `cov` inside `w`.
fn clip(cov: &[Period], w: Period) -> Vec<Period> {
    cov.iter()
        .filter(|p| p.overlaps(w.from, w.to))
        .map(|p| Period {
            from: p.from.max(w.from),
            to: p.to.min(w.to),
        })
        .collect()
}

/// One feed's coverage of a rule's window: what a decision's evidence
/// names so `verify` can say whose gap blocks it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeedCoverage {
    pub feed: String,
    pub source: SourceKind,
    pub covered: Vec<Period>,
    pub missing: Vec<Period>,
}

#[allow(clippy::too_many_arguments)]
/// Shared tail: the verdict plus evidence; when undecided for lack of
/// coverage, the missing periods and the earliest date to look again.
pub(crate) fn finish(
    verdict: Verdict,
    events: &[EventKind],
    window: Period,
    ctx: &Ctx,
    scope: &[&Member],
    count: Option<i64>,
    dates: Vec<NaiveDate>,
    finding: String,
) -> Decision {
    let sources = sources_of(events);
    let mut d = Decision::new(verdict);
    let mut coverage = Vec::new();
    let mut feeds = Vec::new();
    for s in &sources {
        coverage.extend(ctx.coverage_in(*s, window));
        feeds.extend(ctx.feeds_in(*s, window));
        if verdict == Verdict::Insufficient {
            d.missing.extend(ctx.missing(*s, window));
        }
    }
    if verdict == Verdict::Insufficient {
        let today = ctx.today;
        // Data for a window can only exist once the window has ended.
        d.earliest_decidable = Some(if window.to >= today {
            window.to.succ_opt().unwrap_or(window.to)
        } else {
            today
        });
    }
    d.not_applicable = scope.is_empty();
    let mut dates = dates;
    dates.sort();
    dates.truncate(20);
    d.evidence.push(Evidence {
        sources,
        events: events.to_vec(),
        window: Some(window),
        coverage,
        persons: persons(scope),
        count,
        dates,
        finding,
        feeds,
    });
    d
}

/// The `weeks` weeks ending on `at`, inclusive.
pub(crate) fn last_weeks(at: NaiveDate, weeks: u32) -> Period {
    Period {
        from: at
            .checked_sub_days(Days::new((u64::from(weeks) * 7).saturating_sub(1)))
            .unwrap_or(at),
        to: at,
    }
}

pub(crate) fn in_window(e: &crate::records::Event, w: Period, open_until: NaiveDate) -> bool {
    if e.kind.is_spell() {
        w.overlaps(e.start, e.last_day(open_until))
    } else {
        w.contains(e.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_parts() {
        use Part::*;
        assert_eq!(
            combine(&[Pass, Unknown], Quantifier::Each),
            Verdict::Insufficient
        );
        assert_eq!(
            combine(&[Pass, Unknown, Fail], Quantifier::Each),
            Verdict::Contradicted
        );
        assert_eq!(combine(&[Fail, Pass], Quantifier::Any), Verdict::Verified);
        assert_eq!(
            combine(&[Fail, Unknown], Quantifier::Any),
            Verdict::Insufficient
        );
        assert_eq!(combine(&[], Quantifier::Each), Verdict::Insufficient);
    }
}
