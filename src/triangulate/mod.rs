//! Triangulation: keyworker claims decided against partner data.
//!
//! In: a case (members as pseudonymous person ids, roles, problems), its
//! claims, the visible events of its members and the coverage of every
//! source, and the council's [`Framework`]. Out: for each claim a
//! [`Decision`]: `verified`, `contradicted`, `insufficient` or `attested`,
//! with the evidence that decided it (sources, event kinds, dates, counts,
//! the coverage consulted, the people in scope as pseudonyms) and the other
//! problems it also evidences.
//!
//! Promises:
//! * **absence proves nothing without coverage.** A rule that passes because
//!   events are absent is `verified` only if the source's deliveries cover
//!   the whole window; otherwise `insufficient`, naming the missing period.
//!   Events that are present decide at once (a proven offence in the window
//!   contradicts "no offending" whatever the coverage);
//! * a person in scope with no records where records are needed (a child
//!   with no attendance for a term) is `insufficient`, never a pass;
//! * practitioner-only and unavailable outcomes are `attested`, never
//!   `verified`;
//! * a claim that cannot be decided yet says the earliest date it could be;
//! * ages come from month and year of birth only (the day is never kept), so
//!   an age can be a month out near a birthday: documented in
//!   `docs/frameworks.md`.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::framework::{
    Anchor, Compare, Direction, Framework, Quantifier, Rule, RuleClass, Scope, Window,
};
use crate::ingest::matching::{Matcher, PersonId};
pub use crate::records::terms::terms_ending_by;
use crate::records::terms::terms_starting_after;
use crate::records::{EventKind, Period, Role, SourceKind};
use crate::store::{CaseRecord, ClaimRecord, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Verified,
    Contradicted,
    Insufficient,
    Attested,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Contradicted => "contradicted",
            Verdict::Insufficient => "insufficient",
            Verdict::Attested => "attested",
        }
    }
    pub fn parse(s: &str) -> Option<Verdict> {
        [
            Verdict::Verified,
            Verdict::Contradicted,
            Verdict::Insufficient,
            Verdict::Attested,
        ]
        .into_iter()
        .find(|v| v.name() == s)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece of evidence: what was looked at and what was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub sources: Vec<SourceKind>,
    pub events: Vec<EventKind>,
    pub window: Option<Period>,
    /// The source's coverage that was consulted (clipped to the window).
    pub coverage: Vec<Period>,
    /// People in scope, as pseudonyms.
    pub persons: Vec<String>,
    pub count: Option<i64>,
    /// Dates of the events that decided it (first 20).
    pub dates: Vec<NaiveDate>,
    pub finding: String,
}

/// The decision on one claim (or indicator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub evidence: Vec<Evidence>,
    /// Periods the sources did not cover that the rule needed.
    pub missing: Vec<Period>,
    /// When undecided: the earliest date the claim could be decided.
    pub earliest_decidable: Option<NaiveDate>,
    /// No one in the family is in the rule's scope (e.g. no adult was on
    /// JSA at the start): reported as insufficient on its own, and ignored
    /// beside applicable alternatives in `any_of` / `all_of`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
}

impl Decision {
    /// A decision resting on one note rather than on counted events.
    fn noted(
        verdict: Verdict,
        events: &[EventKind],
        sources: Vec<SourceKind>,
        finding: String,
    ) -> Self {
        let mut d = Decision::new(verdict);
        d.evidence.push(Evidence {
            sources,
            events: events.to_vec(),
            window: None,
            coverage: vec![],
            persons: vec![],
            count: None,
            dates: vec![],
            finding,
        });
        d
    }

    fn new(verdict: Verdict) -> Self {
        Decision {
            verdict,
            evidence: Vec::new(),
            missing: Vec::new(),
            earliest_decidable: None,
            not_applicable: false,
        }
    }
}

/// A member as triangulation sees them.
#[derive(Debug, Clone)]
pub struct Member {
    pub person: PersonId,
    pub role: Option<Role>,
    pub problems: Vec<String>,
    pub birth: Option<(i32, u32)>,
}

/// Everything one case's claims are decided on, loaded once per case.
#[derive(Debug, Clone)]
pub struct CaseData {
    pub case: CaseRecord,
    pub members: Vec<Member>,
    /// People linked to a member's address who are not members.
    pub household: Vec<Member>,
    /// Visible events per (canonical) person.
    pub events: HashMap<PersonId, Vec<crate::records::Event>>,
    pub coverage: HashMap<SourceKind, Vec<Period>>,
}

/// The pseudonym outcomesd shows for a person.
pub fn pseudonym(p: PersonId) -> String {
    format!("p{p}")
}

impl CaseData {
    /// Loads a case's members (after merges), household links, events and
    /// the coverage of every source.
    pub fn load(
        store: &Store,
        matcher: &Matcher,
        case: CaseRecord,
    ) -> Result<CaseData, StoreError> {
        let mut members: Vec<Member> = Vec::new();
        for m in &case.members {
            let c = matcher.canonical(m.person);
            if let Some(existing) = members.iter_mut().find(|x| x.person == c) {
                existing.problems.extend(m.problems.iter().cloned());
                continue;
            }
            members.push(Member {
                person: c,
                role: Some(m.role),
                problems: m.problems.clone(),
                birth: matcher.person(c).and_then(|s| s.birth),
            });
        }
        let mut household = Vec::new();
        for m in &case.members {
            let Some(addr) = m.address.as_deref().and_then(|h| hex::decode(h).ok()) else {
                continue;
            };
            let Ok(addr) = <[u8; 16]>::try_from(addr.as_slice()) else {
                continue;
            };
            for &p in matcher.household(&addr) {
                let c = matcher.canonical(p);
                if !members.iter().any(|x| x.person == c)
                    && !household.iter().any(|x: &Member| x.person == c)
                {
                    household.push(Member {
                        person: c,
                        role: None,
                        problems: vec![],
                        birth: matcher.person(c).and_then(|s| s.birth),
                    });
                }
            }
        }
        let mut ids: Vec<PersonId> = Vec::new();
        let mut owner: HashMap<PersonId, PersonId> = HashMap::new();
        for m in members.iter().chain(household.iter()) {
            for id in matcher.members(m.person) {
                ids.push(id);
                owner.insert(id, m.person);
            }
        }
        let far_past = NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
        let far_future = NaiveDate::from_ymd_opt(2200, 1, 1).expect("date");
        let mut events: HashMap<PersonId, Vec<crate::records::Event>> = HashMap::new();
        for se in store.events(&ids, &EventKind::ALL, far_past, far_future)? {
            events.entry(owner[&se.person]).or_default().push(se.event);
        }
        for v in events.values_mut() {
            v.sort();
            v.dedup();
        }
        let coverage = SourceKind::ALL
            .iter()
            .map(|k| (*k, store.coverage(*k)))
            .collect();
        Ok(CaseData {
            case,
            members,
            household,
            events,
            coverage,
        })
    }

    fn events_of(&self, p: PersonId) -> &[crate::records::Event] {
        self.events.get(&p).map_or(&[], Vec::as_slice)
    }
}

/// National curriculum year group at `d` (reception 0, year 1 is 1, ...):
/// children born September to August start reception together in the
/// September after their fourth birthday, so month and year of birth decide
/// it exactly.
pub fn year_group(birth: (i32, u32), d: NaiveDate) -> i32 {
    let (y, m) = birth;
    let cohort = if m >= 9 { y } else { y - 1 };
    let school_year = if d.month() >= 9 {
        d.year()
    } else {
        d.year() - 1
    };
    school_year - cohort - 5
}

/// Age in whole years at `d`, from month and year of birth.
pub fn age_at(birth: (i32, u32), d: NaiveDate) -> i32 {
    let (y, m) = birth;
    d.year() - y - if d.month() < m { 1 } else { 0 }
}

// ---- windows and coverage ----

/// Why a window could not be placed.
enum NoWindow {
    CaseOpen,
}

struct Ctx<'a> {
    fw: &'a Framework,
    data: &'a CaseData,
    claim_date: NaiveDate,
    problem: &'a str,
    /// The date the decision is made as of (the caller's clock): only an
    /// undecided claim's earliest date to look again rests on it.
    today: NaiveDate,
}

impl Ctx<'_> {
    fn anchor(&self, a: Anchor) -> Result<NaiveDate, NoWindow> {
        match a {
            Anchor::Claim => Ok(self.claim_date),
            Anchor::CaseStart => Ok(self.data.case.start),
            Anchor::CaseEnd => self.data.case.end.ok_or(NoWindow::CaseOpen),
        }
    }

    fn window(&self, w: &Window) -> Result<Period, NoWindow> {
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

    /// The parts of `w` not covered by deliveries of `source`.
    fn missing(&self, source: SourceKind, w: Period) -> Vec<Period> {
        let cov = self
            .data
            .coverage
            .get(&source)
            .map_or(&[][..], Vec::as_slice);
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

    fn coverage_in(&self, source: SourceKind, w: Period) -> Vec<Period> {
        self.data
            .coverage
            .get(&source)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter(|p| p.overlaps(w.from, w.to))
            .map(|p| Period {
                from: p.from.max(w.from),
                to: p.to.min(w.to),
            })
            .collect()
    }

    /// The last day a source covers (for open spells).
    fn covered_until(&self, source: SourceKind) -> Option<NaiveDate> {
        self.data
            .coverage
            .get(&source)
            .and_then(|c| c.last())
            .map(|p| p.to)
    }

    fn scope(&self, scope: &Scope, at: NaiveDate) -> Vec<&Member> {
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
                d.members
                    .iter()
                    .filter(|m| !c.adults_only || adult(m))
                    .filter(|m| !c.children_only || child(m))
                    .filter(|m| {
                        d.events_of(m.person).iter().any(|e| {
                            c.events.contains(&e.kind)
                                && code_matches(e, &c.codes)
                                && e.start <= start
                                && e.last_day(start) >= from
                        }) == want
                    })
                    .collect()
            }
        }
    }
}

fn code_matches(e: &crate::records::Event, codes: &[String]) -> bool {
    codes.is_empty() || codes.iter().any(|c| e.kind.code_of(c) == Some(e.code))
}

fn sources_of(kinds: &[EventKind]) -> Vec<SourceKind> {
    let mut s: Vec<_> = kinds.iter().map(|k| k.source()).collect();
    s.sort();
    s.dedup();
    s
}

/// Per-person result before combining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Pass,
    Fail,
    Unknown,
}

fn combine(parts: &[Part], q: Quantifier) -> Verdict {
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

fn persons(ms: &[&Member]) -> Vec<String> {
    ms.iter().map(|m| pseudonym(m.person)).collect()
}

/// Decides `rule` for a claim (or indicator) of `problem` dated `claim_date`,
/// as of `today`: the same data, rule and dates always give the same
/// decision.
pub fn decide_as_of(
    fw: &Framework,
    data: &CaseData,
    rule: &Rule,
    problem: &str,
    claim_date: NaiveDate,
    today: NaiveDate,
) -> Decision {
    let ctx = Ctx {
        fw,
        data,
        claim_date,
        problem,
        today,
    };
    eval(&ctx, rule)
}

/// [`decide_as_of`] the system clock's today: for tests and scenario
/// runners; production paths pass their clock.
pub fn decide(
    fw: &Framework,
    data: &CaseData,
    rule: &Rule,
    problem: &str,
    claim_date: NaiveDate,
) -> Decision {
    let today = chrono::Utc::now().date_naive();
    decide_as_of(fw, data, rule, problem, claim_date, today)
}

fn eval(ctx: &Ctx, rule: &Rule) -> Decision {
    match rule {
        Rule::Attested {
            evidence,
            steps,
            min_steps,
            extra_steps,
            max_extra_steps,
            extra_steps_condition,
        } => {
            let mut finding =
                "practitioner-evidenced: accepted on the keyworker's attestation".to_string();
            if !steps.is_empty() {
                finding.push_str(&format!(
                    "; the practitioner records at least {} of: {}",
                    min_steps.unwrap_or(1),
                    steps.join("; ")
                ));
            }
            if !extra_steps.is_empty() {
                finding.push_str(&format!(
                    "; {} may also count{}: {}",
                    max_extra_steps.map_or("any".to_string(), |m| format!("at most {m}")),
                    extra_steps_condition
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default(),
                    extra_steps.join("; ")
                ));
            }
            if !evidence.is_empty() {
                finding.push_str(&format!(
                    "; evidence held by the practitioner: {}",
                    evidence.join("; ")
                ));
            }
            Decision::noted(Verdict::Attested, &[], vec![], finding)
        }
        Rule::Unavailable { reason } => Decision::noted(
            Verdict::Attested,
            &[],
            vec![],
            format!("not data-verifiable ({reason}): practitioner-attested only"),
        ),
        // all_of: the first of these present decides, else verified;
        // any_of: likewise, else contradicted.
        Rule::AllOf { rules } => combine_rules(
            ctx,
            rules,
            true,
            [
                Verdict::Contradicted,
                Verdict::Insufficient,
                Verdict::Attested,
            ],
            Verdict::Verified,
        ),
        Rule::AnyOf { rules } => combine_rules(
            ctx,
            rules,
            false,
            [Verdict::Verified, Verdict::Insufficient, Verdict::Attested],
            Verdict::Contradicted,
        ),
        Rule::Count {
            events,
            codes,
            min,
            max,
            sum_days,
            window,
            scope,
            quantifier,
        } => count_rule(
            ctx,
            events,
            codes,
            *min,
            *max,
            *sum_days,
            window,
            scope,
            *quantifier,
        ),
        Rule::Attendance { .. } => attendance_rule(ctx, rule),
        Rule::Reduction { .. } => reduction_rule(ctx, rule),
        Rule::Spell { .. } => spell_rule(ctx, rule),
        Rule::ClosedNotReopened { .. } => closed_rule(ctx, rule),
        Rule::Earnings { .. } => earnings_rule(ctx, rule),
        Rule::Regular { .. } => regular_rule(ctx, rule),
        Rule::ScoreReduction { .. } => score_rule(ctx, rule),
        Rule::NoRepeat { .. } => no_repeat_rule(ctx, rule),
    }
}

/// Decides `all_of` (`all`) or `any_of`: the first verdict of `precedence`
/// that some applicable part has, else `otherwise`.
fn combine_rules(
    ctx: &Ctx,
    rules: &[Rule],
    all: bool,
    precedence: [Verdict; 3],
    otherwise: Verdict,
) -> Decision {
    let parts = applicable(rules.iter().map(|r| eval(ctx, r)).collect());
    if parts.iter().all(|p| p.not_applicable) {
        let mut d = merge(Verdict::Insufficient, parts, all);
        d.not_applicable = true;
        return d;
    }
    let verdict = precedence
        .into_iter()
        .find(|v| parts.iter().any(|p| p.verdict == *v))
        .unwrap_or(otherwise);
    merge(verdict, parts, all)
}

/// Drops alternatives with no one in scope, unless nothing else is left.
fn applicable(parts: Vec<Decision>) -> Vec<Decision> {
    if parts.iter().all(|p| p.not_applicable) {
        return parts;
    }
    parts.into_iter().filter(|p| !p.not_applicable).collect()
}

fn merge(verdict: Verdict, parts: Vec<Decision>, all: bool) -> Decision {
    let mut d = Decision::new(verdict);
    for p in parts {
        // Keep the evidence that explains the verdict: for all_of every
        // part; for any_of the deciding parts first.
        if all || p.verdict == verdict || verdict != Verdict::Verified {
            d.evidence.extend(p.evidence);
        }
        if verdict == Verdict::Insufficient {
            d.missing.extend(p.missing);
            d.earliest_decidable = match (d.earliest_decidable, p.earliest_decidable) {
                (Some(a), Some(b)) => Some(if all { a.max(b) } else { a.min(b) }),
                (a, b) => a.or(b),
            };
        }
    }
    d.missing.sort();
    d.missing.dedup();
    d
}

fn no_window(ctx: &Ctx, events: &[EventKind]) -> Decision {
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

#[allow(clippy::too_many_arguments)]
/// Shared tail: the verdict plus evidence; when undecided for lack of
/// coverage, the missing periods and the earliest date to look again.
fn finish(
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
    for s in &sources {
        coverage.extend(ctx.coverage_in(*s, window));
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
    });
    d
}

/// The `weeks` weeks ending on `at`, inclusive.
fn last_weeks(at: NaiveDate, weeks: u32) -> Period {
    Period {
        from: at
            .checked_sub_days(Days::new((u64::from(weeks) * 7).saturating_sub(1)))
            .unwrap_or(at),
        to: at,
    }
}

fn in_window(e: &crate::records::Event, w: Period, open_until: NaiveDate) -> bool {
    if e.kind.is_spell() {
        w.overlaps(e.start, e.last_day(open_until))
    } else {
        w.contains(e.start)
    }
}

#[allow(clippy::too_many_arguments)]
fn count_rule(
    ctx: &Ctx,
    events: &[EventKind],
    codes: &[String],
    min: Option<u32>,
    max: Option<u32>,
    sum_days: bool,
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
                n += if sum_days { e.measure.days() } else { 1 };
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
    let what = if sum_days { "days" } else { "events" };
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

fn attendance_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::Attendance {
        terms,
        thresholds,
        compare,
        exclude_authorised,
        average,
        improvement_points,
        improvement_percent,
        baseline_below,
        absence_reduction_percent,
        absence_reduction_setting,
        anchor,
        scope,
        quantifier,
    } = rule
    else {
        unreachable!()
    };
    let absence_cut = if *absence_reduction_setting {
        ctx.fw.settings.significant_reduction_percent
    } else {
        *absence_reduction_percent
    };
    let events = [EventKind::Attendance];
    let Ok(at) = ctx.anchor(*anchor) else {
        return no_window(ctx, &events);
    };
    let ts = terms_ending_by(at, *terms);
    let w = Period {
        from: ts[0].from,
        to: ts[ts.len() - 1].to,
    };
    let threshold = thresholds
        .iter()
        .filter(|t| t.from.is_none_or(|f| f <= ctx.claim_date))
        .max_by_key(|t| t.from)
        .map_or(0.0, |t| t.percent);
    let members = ctx.scope(scope, w.to);
    let rate = |p: PersonId, terms: &[Period]| -> Result<(f64, Vec<f64>), usize> {
        let (mut att, mut poss) = (0i64, 0i64);
        let mut per_term = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            let rows: Vec<_> = ctx
                .data
                .events_of(p)
                .iter()
                .filter(|e| e.kind == EventKind::Attendance && e.start == t.from)
                .collect();
            if rows.is_empty() {
                return Err(i);
            }
            let (mut a, mut ps) = (0i64, 0i64);
            for e in rows {
                let s = e.measure.sessions();
                a += i64::from(s.attended);
                ps += i64::from(s.possible)
                    - if *exclude_authorised {
                        i64::from(s.authorised)
                    } else {
                        0
                    };
            }
            per_term.push(if ps > 0 {
                100.0 * a as f64 / ps as f64
            } else {
                100.0
            });
            att += a;
            poss += ps;
        }
        Ok((
            if poss > 0 {
                100.0 * att as f64 / poss as f64
            } else {
                100.0
            },
            per_term,
        ))
    };
    let meets = |r: f64| match compare {
        _ if thresholds.is_empty() => true,
        Compare::Above => r > threshold,
        Compare::AtLeast => r >= threshold,
        Compare::Below => r < threshold,
    };
    let complete = ctx.missing(SourceKind::Education, w).is_empty();
    let base_terms = terms_ending_by(
        ctx.data
            .case
            .start
            .pred_opt()
            .unwrap_or(ctx.data.case.start),
        *terms,
    );
    let mut notes = Vec::new();
    let mut parts = Vec::new();
    // With `baseline_below`, only those who started below it are in scope;
    // someone with no baseline record is out of scope once the baseline
    // terms are covered, and undecided until then.
    let members: Vec<&Member> = match baseline_below {
        None => members,
        Some(below) => {
            let base_window = Period {
                from: base_terms[0].from,
                to: base_terms[base_terms.len() - 1].to,
            };
            let base_complete = ctx.missing(SourceKind::Education, base_window).is_empty();
            members
                .into_iter()
                .filter(|m| match rate(m.person, &base_terms) {
                    Ok((base, _)) if base < *below => true,
                    Ok((base, _)) => {
                        notes.push(format!(
                            "{} {base:.1}% before the case, not below {below}%: not in scope",
                            pseudonym(m.person)
                        ));
                        false
                    }
                    Err(_) if base_complete => {
                        notes.push(format!(
                            "{} has no attendance record before the case: not in scope",
                            pseudonym(m.person)
                        ));
                        false
                    }
                    Err(_) => {
                        notes.push(format!(
                            "{}: attendance before the case is not yet covered",
                            pseudonym(m.person)
                        ));
                        parts.push(Part::Unknown);
                        false
                    }
                })
                .collect()
        }
    };
    for m in &members {
        let part = match rate(m.person, &ts) {
            Err(i) => {
                notes.push(format!(
                    "{} has no attendance record for the term from {}",
                    pseudonym(m.person),
                    ts[i].from
                ));
                Part::Unknown
            }
            Ok((avg, per_term)) => {
                let ok = if *average {
                    meets(avg)
                } else {
                    per_term.iter().all(|r| meets(*r))
                };
                let mut improved = true;
                if improvement_points.is_some()
                    || improvement_percent.is_some()
                    || absence_cut.is_some()
                {
                    let base_terms = terms_ending_by(
                        ctx.data
                            .case
                            .start
                            .pred_opt()
                            .unwrap_or(ctx.data.case.start),
                        *terms,
                    );
                    match rate(m.person, &base_terms) {
                        Ok((base, _)) => {
                            if let Some(pts) = improvement_points {
                                improved &= avg - base >= *pts;
                            }
                            if let Some(pc) = improvement_percent {
                                improved &= base > 0.0 && (avg - base) / base * 100.0 >= *pc;
                            }
                            if let Some(pc) = absence_cut {
                                // absence rates; a tolerance keeps 10.0% vs
                                // 20% * 0.5 from failing on rounding
                                improved &=
                                    100.0 - avg <= (100.0 - base) * (1.0 - pc / 100.0) + 1e-9;
                            }
                            notes.push(format!(
                                "{} {base:.1}% before the case, {avg:.1}% now",
                                pseudonym(m.person)
                            ));
                        }
                        Err(_) => {
                            notes.push(format!(
                                "{} has no baseline attendance before the case",
                                pseudonym(m.person)
                            ));
                            improved = false;
                            if ok {
                                parts.push(Part::Unknown);
                                continue;
                            }
                        }
                    }
                } else {
                    notes.push(format!("{} {avg:.1}%", pseudonym(m.person)));
                }
                if ok && improved {
                    Part::Pass
                } else {
                    Part::Fail
                }
            }
        };
        parts.push(part);
    }
    let verdict = combine(&parts, *quantifier);
    let finding = if members.is_empty() && notes.is_empty() {
        "no one in the family is in this rule's scope".to_string()
    } else {
        format!(
            "attendance over {} terms {}{} ({}): {}",
            terms,
            w,
            if complete {
                ""
            } else {
                ", not fully covered by education deliveries"
            },
            if thresholds.is_empty() {
                "improvement only".to_string()
            } else {
                format!("threshold {threshold}%")
            },
            notes.join("; ")
        )
    };
    let mut d = finish(verdict, &events, w, ctx, &members, None, vec![], finding);
    d.not_applicable = parts.is_empty();
    d
}

fn reduction_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::Reduction {
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
    } = rule
    else {
        unreachable!()
    };
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

fn spell_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::Spell {
        events,
        codes,
        weeks,
        of_last_weeks,
        anchor,
        scope,
        quantifier,
    } = rule
    else {
        unreachable!()
    };
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

fn closed_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::ClosedNotReopened {
        events,
        closure_codes,
        reopen,
        months,
        open_at_case_start,
        months_from,
        scope,
    } = rule
    else {
        unreachable!()
    };
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
        // The keyworker case itself.
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
        return d;
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

fn earnings_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::Earnings {
        events,
        thresholds,
        weeks,
        of_last_weeks,
        anchor,
        scope,
        quantifier,
    } = rule
    else {
        unreachable!()
    };
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

fn regular_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::Regular {
        events,
        months,
        min_each,
        anchor,
        scope,
        quantifier,
    } = rule
    else {
        unreachable!()
    };
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

fn score_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::ScoreReduction {
        events,
        high,
        percent,
        months,
        baseline_after_start,
        no_reassessment_passes,
        scope,
    } = rule
    else {
        unreachable!()
    };
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

fn no_repeat_rule(ctx: &Ctx, rule: &Rule) -> Decision {
    let Rule::NoRepeat {
        events,
        codes,
        months,
        lookback_months,
        scope,
        quantifier,
    } = rule
    else {
        unreachable!()
    };
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

// ---- claims, stored verdicts, re-evaluation ----

/// A claim's decision, as stored and reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub framework: String,
    pub framework_version: String,
    pub problem: Option<String>,
    pub verdict: Verdict,
    pub decision: Decision,
    pub also_evidences: Vec<String>,
    /// The newest committed delivery when it was decided: the data state.
    pub as_of_delivery: u32,
    pub decided_at: DateTime<Utc>,
    /// Earlier decisions of the same claim, oldest first.
    #[serde(default)]
    pub history: Vec<PastVerdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastVerdict {
    pub verdict: Verdict,
    pub framework_version: String,
    pub as_of_delivery: u32,
    pub decided_at: DateTime<Utc>,
}

/// Decides one claim on loaded case data, on the data up to delivery
/// `as_of` and at `now` (the caller's clock).
pub fn decide_claim(
    fw: &Framework,
    data: Option<&CaseData>,
    claim: &ClaimRecord,
    as_of: u32,
    now: DateTime<Utc>,
) -> VerdictRecord {
    let outcome = fw.outcome(&claim.outcome_id);
    let (decision, also) = match (outcome, data) {
        (Some(o), Some(data)) => (
            decide_as_of(
                fw,
                data,
                &o.rule,
                &o.problem,
                claim.claim_date,
                now.date_naive(),
            ),
            o.also_evidences.clone(),
        ),
        (None, _) => (
            Decision::noted(
                Verdict::Insufficient,
                &[],
                vec![],
                format!(
                    "outcome '{}' is not in framework {}",
                    claim.outcome_id, fw.framework.id
                ),
            ),
            vec![],
        ),
        (Some(_), None) => (
            Decision::noted(
                Verdict::Insufficient,
                &[],
                vec![SourceKind::Case],
                format!("case {} is not in any case delivery yet", claim.case_ref),
            ),
            vec![],
        ),
    };
    let problem = outcome.map(|o| o.problem.clone());
    VerdictRecord {
        case_ref: claim.case_ref.clone(),
        outcome_id: claim.outcome_id.clone(),
        claim_date: claim.claim_date,
        framework: fw.framework.id.clone(),
        framework_version: fw.framework.version.clone(),
        problem,
        verdict: decision.verdict,
        decision,
        // What it also evidences counts only when the outcome is met.
        also_evidences: also,
        as_of_delivery: as_of,
        decided_at: now,
        history: vec![],
    }
}

/// Eligibility: each identified problem's indicators checked at case start.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorResult {
    pub problem: String,
    pub indicator: String,
    pub verdict: Verdict,
    pub finding: String,
}

pub fn check_indicators(fw: &Framework, data: &CaseData) -> Vec<IndicatorResult> {
    let mut out = Vec::new();
    for pid in data.case.problems() {
        let Some(problem) = fw.problem(&pid) else {
            out.push(IndicatorResult {
                problem: pid.clone(),
                indicator: String::new(),
                verdict: Verdict::Insufficient,
                finding: format!("problem '{pid}' is not in framework {}", fw.framework.id),
            });
            continue;
        };
        for ind in &problem.indicators {
            // An indicator is a fact at the case start and reports no date
            // to look again, so it needs no clock.
            let d = decide_as_of(fw, data, &ind.rule, &pid, data.case.start, data.case.start);
            out.push(IndicatorResult {
                problem: pid.clone(),
                indicator: ind.id.clone(),
                verdict: d.verdict,
                finding: d
                    .evidence
                    .iter()
                    .map(|e| e.finding.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    }
    out
}

/// Whether every identified problem has a verified or attested claim.
pub fn claimable(case: &CaseRecord, verdicts: &[VerdictRecord]) -> (bool, Vec<String>) {
    let mut missing = Vec::new();
    for p in case.problems() {
        let ok = verdicts.iter().any(|v| {
            v.case_ref == case.case_ref
                && matches!(v.verdict, Verdict::Verified | Verdict::Attested)
                && v.problem.as_deref() == Some(p.as_str())
        });
        if !ok {
            missing.push(p);
        }
    }
    (missing.is_empty(), missing)
}

/// What one evaluation run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub claims: usize,
    pub cases: usize,
    /// Decisions whose verdict changed (or were first made): notice material.
    pub changed: Vec<VerdictRecord>,
    /// Time to decide each claim (for the benchmark's percentiles).
    pub per_claim: Vec<std::time::Duration>,
    pub elapsed: std::time::Duration,
    pub counts: HashMap<Verdict, usize>,
}

/// Which claims an evaluation run looks at.
pub enum Selection<'a> {
    All,
    /// Claims of these cases, plus every claim still insufficient or never
    /// decided (after a delivery).
    AfterDelivery(&'a std::collections::HashSet<String>),
    Case(&'a str),
}

/// Decides claims at `now` (the caller's clock) and stores their decisions,
/// keeping each claim's history of earlier verdicts. Runs on all cores;
/// results do not depend on timing.
pub fn evaluate(
    store: &Store,
    matcher: &Matcher,
    fw: &Framework,
    selection: Selection<'_>,
    now: DateTime<Utc>,
) -> Result<RunReport, StoreError> {
    let t0 = std::time::Instant::now();
    let mut by_case: std::collections::BTreeMap<String, Vec<ClaimRecord>> = Default::default();
    for c in store.claims()? {
        let take = match &selection {
            Selection::All => true,
            Selection::Case(r) => c.case_ref == *r,
            Selection::AfterDelivery(touched) => {
                touched.contains(&c.case_ref)
                    || match store.verdict(&c.case_ref, &c.outcome_id, c.claim_date)? {
                        None => true,
                        Some(v) => serde_json::from_slice::<VerdictRecord>(&v)
                            .map_or(true, |r| r.verdict == Verdict::Insufficient),
                    }
            }
        };
        if take {
            by_case.entry(c.case_ref.clone()).or_default().push(c);
        }
    }
    let cases: Vec<(String, Vec<ClaimRecord>)> = by_case.into_iter().collect();
    let as_of = store.last_seq();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = cases.len().div_ceil(threads).max(1);
    type Decided = Vec<(VerdictRecord, std::time::Duration)>;
    let results: Vec<Result<Decided, StoreError>> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                sc.spawn(move || -> Result<Decided, StoreError> {
                    let mut out = Vec::new();
                    for (case_ref, claims) in part {
                        let t = std::time::Instant::now();
                        let case = store.case(case_ref)?;
                        let data = case
                            .map(|c| CaseData::load(store, matcher, c))
                            .transpose()?;
                        let load = t.elapsed() / claims.len().max(1) as u32;
                        for claim in claims {
                            let t = std::time::Instant::now();
                            let rec = decide_claim(fw, data.as_ref(), claim, as_of, now);
                            out.push((rec, t.elapsed() + load));
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("evaluation thread"))
            .collect()
    });
    let mut report = RunReport {
        cases: cases.len(),
        ..Default::default()
    };
    for part in results {
        for (mut rec, took) in part? {
            report.claims += 1;
            report.per_claim.push(took);
            *report.counts.entry(rec.verdict).or_default() += 1;
            let old = store
                .verdict(&rec.case_ref, &rec.outcome_id, rec.claim_date)?
                .and_then(|v| serde_json::from_slice::<VerdictRecord>(&v).ok());
            let changed = match &old {
                None => true,
                Some(o) => o.verdict != rec.verdict || o.framework_version != rec.framework_version,
            };
            if let Some(o) = old {
                rec.history = o.history.clone();
                if changed {
                    rec.history.push(PastVerdict {
                        verdict: o.verdict,
                        framework_version: o.framework_version,
                        as_of_delivery: o.as_of_delivery,
                        decided_at: o.decided_at,
                    });
                } else if o.decision == rec.decision {
                    continue; // nothing new to store
                }
            }
            let json = serde_json::to_vec(&rec).expect("verdict serialises");
            store.put_verdict(&rec.case_ref, &rec.outcome_id, rec.claim_date, &json)?;
            if changed {
                report.changed.push(rec);
            }
        }
    }
    store.flush()?;
    report.elapsed = t0.elapsed();
    Ok(report)
}

/// Every stored decision.
pub fn stored_verdicts(store: &Store) -> Result<Vec<VerdictRecord>, StoreError> {
    Ok(store
        .verdicts()?
        .iter()
        .filter_map(|v| serde_json::from_slice(v).ok())
        .collect())
}

/// Which class an outcome is, for listing.
pub fn outcome_class(fw: &Framework, id: &str) -> Option<RuleClass> {
    fw.outcome(id).map(|o| o.rule.class())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn year_groups_from_month_and_year() {
        // born September 2004 to August 2005: reception in 2009/10, year 6 in
        // 2015/16
        assert_eq!(year_group((2004, 9), d("2009-09-01")), 0);
        assert_eq!(year_group((2005, 8), d("2010-07-31")), 0);
        assert_eq!(year_group((2005, 8), d("2015-09-01")), 6);
        assert_eq!(year_group((2004, 9), d("2016-07-31")), 6);
        assert_eq!(year_group((2004, 8), d("2016-07-31")), 7);
        assert_eq!(year_group((2004, 9), d("2016-09-01")), 7);
    }

    /// A one-child case with `events`, every source covered from 2000.
    /// Leicester's additions to the vocabulary.
    mod leicester_vocabulary {
        use super::*;

        fn case(start: &str, birth: (i32, u32), events: Vec<crate::records::Event>) -> CaseData {
            let events = events.into_iter().map(|e| (1, e)).collect();
            case_with(
                start,
                &[(Role::Child, birth)],
                events,
                ("2000-01-01", "2030-12-31"),
            )
        }

        fn ev(kind: EventKind, start: &str, values: [i32; 4]) -> crate::records::Event {
            event(kind, start, None, "", values)
        }

        #[test]
        fn since_windows_include_the_anchor_day() {
            let r = rule(
            "type = \"reduction\"\nevents = [\"offence\"]\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { since = \"case_start\" }\nany_reduction = true\n",
        );
            let on = |dates: &[&str]| {
                dates
                    .iter()
                    .map(|x| ev(EventKind::Offence, x, [0; 4]))
                    .collect()
            };
            // 2 in the baseline, 1 since
            let data = case(
                "2015-06-01",
                (1980, 1),
                on(&["2015-01-01", "2015-03-01", "2016-01-01"]),
            );
            let dec = decide(&fw(), &data, &r, "crime", d("2016-06-01"));
            assert_eq!(dec.verdict, Verdict::Verified, "{dec:?}");
            assert!(dec.evidence[0]
                .finding
                .contains("1 in 2015-06-01..2016-06-01"));
            // one on the start day counts in both: 2 then 2 is no reduction
            let data = case(
                "2015-06-01",
                (1980, 1),
                on(&["2015-01-01", "2015-06-01", "2016-01-01"]),
            );
            let dec = decide(&fw(), &data, &r, "crime", d("2016-06-01"));
            assert_eq!(dec.verdict, Verdict::Contradicted, "{dec:?}");
        }

        #[test]
        fn baseline_below_limits_an_attendance_rule_to_low_starters() {
            let r = rule(
            "type = \"attendance\"\nterms = 1\nbaseline_below = 40.0\nimprovement_points = 40.0\nscope = \"family\"\n",
        );
            // spring 2015 before the case, spring 2016 before the claim
            let att = |before: i32, now: i32| {
                vec![
                    ev(
                        EventKind::Attendance,
                        "2015-01-01",
                        [100, before, 0, 100 - before],
                    ),
                    ev(
                        EventKind::Attendance,
                        "2016-01-01",
                        [100, now, 0, 100 - now],
                    ),
                ]
            };
            let at = |before, now| {
                decide(
                    &fw(),
                    &case("2015-04-15", (2005, 1), att(before, now)),
                    &r,
                    "education",
                    d("2016-04-15"),
                )
            };
            assert_eq!(at(39, 79).verdict, Verdict::Verified);
            assert_eq!(at(39, 78).verdict, Verdict::Contradicted);
            let out = at(40, 100);
            assert_eq!(out.verdict, Verdict::Insufficient);
            assert!(out.not_applicable, "{out:?}");
        }

        #[test]
        fn scopes_intersect_and_pick_year_groups() {
            let r = rule(
            "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 1 }\nscope = { all = [\"children\", { year_groups = { min = 0, max = 6 } }] }\n",
        );
            let data = |birth| {
                case(
                    "2015-06-01",
                    birth,
                    vec![ev(EventKind::Offence, "2016-06-10", [0; 4])],
                )
            };
            // year 6 in 2015/16: in scope
            let dec = decide(&fw(), &data((2004, 9)), &r, "crime", d("2016-06-15"));
            assert_eq!(dec.verdict, Verdict::Contradicted);
            // year 7: out of scope
            let dec = decide(&fw(), &data((2004, 8)), &r, "crime", d("2016-06-15"));
            assert!(dec.not_applicable, "{dec:?}");
        }
    }

    #[test]
    fn ages_from_month_and_year() {
        assert_eq!(age_at((2000, 6), d("2018-05-31")), 17);
        assert_eq!(age_at((2000, 6), d("2018-06-01")), 18);
    }

    /// A hand-made case for rule tests: members numbered from 1 with their
    /// roles and months of birth, their events, and every source covered
    /// over `cover`.
    fn case_with(
        start: &str,
        members: &[(Role, (i32, u32))],
        events: Vec<(PersonId, crate::records::Event)>,
        cover: (&str, &str),
    ) -> CaseData {
        let members: Vec<Member> = members
            .iter()
            .enumerate()
            .map(|(i, (role, birth))| Member {
                person: i as PersonId + 1,
                role: Some(*role),
                problems: vec![],
                birth: Some(*birth),
            })
            .collect();
        let mut by: HashMap<PersonId, Vec<crate::records::Event>> = HashMap::new();
        for (p, e) in events {
            by.entry(p).or_default().push(e);
        }
        CaseData {
            case: CaseRecord {
                case_ref: "T1".into(),
                seq: 1,
                start: d(start),
                end: None,
                members: members
                    .iter()
                    .map(|m| crate::store::CaseMember {
                        person: m.person,
                        role: m.role.expect("role"),
                        problems: vec![],
                        address: None,
                    })
                    .collect(),
            },
            members,
            household: vec![],
            events: by,
            coverage: SourceKind::ALL
                .iter()
                .map(|k| {
                    (
                        *k,
                        vec![Period {
                            from: d(cover.0),
                            to: d(cover.1),
                        }],
                    )
                })
                .collect(),
        }
    }

    /// An event with an optional end, a code by name ("" for none) and values.
    fn event(
        kind: EventKind,
        start: &str,
        end: Option<&str>,
        code: &str,
        values: [i32; 4],
    ) -> crate::records::Event {
        crate::records::Event {
            kind,
            start: d(start),
            end: end.map(d),
            code: if code.is_empty() {
                0
            } else {
                kind.code_of(code).unwrap()
            },
            measure: crate::records::Measure::from_raw(kind, values),
        }
    }

    fn rule(text: &str) -> Rule {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A minimal framework, with a significant reduction of 50%.
    fn fw() -> Framework {
        Framework::parse(
            std::path::Path::new("t.toml"),
            "[framework]\nid = \"t\"\ncouncil = \"T\"\ntitle = \"T\"\nversion = \"1\"\n[settings]\nsignificant_reduction_percent = 50.0\n",
        )
        .unwrap()
    }

    /// A one-member case (born 2010-01, a child) with every source covered.
    fn one_child(start: &str, events: Vec<crate::records::Event>) -> CaseData {
        let events = events.into_iter().map(|e| (1, e)).collect();
        case_with(
            start,
            &[(Role::Child, (2010, 1))],
            events,
            ("2000-01-01", "2030-12-31"),
        )
    }

    fn ev(
        kind: EventKind,
        start: &str,
        end: Option<&str>,
        code: &str,
        v0: i32,
    ) -> crate::records::Event {
        event(kind, start, end, code, [v0, 0, 0, 0])
    }

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

    #[test]
    fn attendance_scope_by_baseline() {
        let text = "type = \"attendance\"\nterms = 1\nthresholds = [{ percent = 50.0 }]\nbaseline_below = 50.0\nscope = \"children\"\n";
        let att = |term: &str, a: i32| crate::records::Event {
            kind: EventKind::Attendance,
            start: d(term),
            end: None,
            code: 0,
            measure: crate::records::Measure::from_raw(EventKind::Attendance, [100, a, 0, 100 - a]),
        };
        // 80% before the case: not very poor, so out of scope
        let data = one_child(
            "2020-01-02",
            vec![att("2019-09-01", 80), att("2020-01-01", 20)],
        );
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-04-15"));
        assert!(dec.not_applicable, "{dec:?}");
        // 30% before: in scope, judged on the term up to the claim
        let data = one_child(
            "2020-01-02",
            vec![att("2019-09-01", 30), att("2020-01-01", 20)],
        );
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-04-15"));
        assert_eq!(dec.verdict, Verdict::Contradicted);
        let data = one_child(
            "2020-01-02",
            vec![att("2019-09-01", 30), att("2020-01-01", 60)],
        );
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-04-15"));
        assert_eq!(dec.verdict, Verdict::Verified);
    }

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

    // ---- vocabulary: rules decided on hand-built cases ----
    mod vocabulary {
        use super::*;

        use crate::records::Event;

        /// An adult (1) and a 10-year-old (2), case from 2017-01-09, every
        /// source covered from 2010 to `cover_to`.
        fn case(cover_to: &str, events: &[(PersonId, Event)]) -> CaseData {
            case_with(
                "2017-01-09",
                &[(Role::Adult, (1985, 3)), (Role::Child, (2007, 1))],
                events.to_vec(),
                ("2010-01-01", cover_to),
            )
        }

        fn ev(kind: EventKind, start: &str, end: Option<&str>, code: &str, v: i32) -> Event {
            event(kind, start, end, code, [v, 0, 0, 0])
        }

        fn verdict(data: &CaseData, r: &str, claim: &str) -> Verdict {
            decide(&fw(), data, &rule(r), "p", d(claim)).verdict
        }

        #[test]
        fn reduction_rates_compare_windows_of_different_lengths() {
            let mut evs: Vec<_> = ["2016-02-01", "2016-05-01", "2016-08-01", "2016-11-01"]
                .iter()
                .map(|x| (1, ev(EventKind::Offence, x, None, "", 0)))
                .collect();
            evs.push((1, ev(EventKind::Offence, "2017-08-01", None, "", 0)));
            let data = case("2030-12-31", &evs);
            let r = "type = \"reduction\"\nevents = [\"offence\"]\nbaseline = { months = 12, anchor = \"case_start\" }\nwindow = { months = 3 }\npercent_setting = true\n";
            // raw counts: 1 is 75% below 4
            assert_eq!(verdict(&data, r, "2017-09-15"), Verdict::Verified);
            // rates: 1 in 3 months is no fall from 4 in 12
            let rates = format!("{r}rates = true\n");
            assert_eq!(verdict(&data, &rates, "2017-09-15"), Verdict::Contradicted);
            let data = case("2030-12-31", &evs[..4]);
            assert_eq!(verdict(&data, &rates, "2017-09-15"), Verdict::Verified);
        }

        #[test]
        fn not_met_scope_is_the_complement_of_met() {
            let jsa = (1, ev(EventKind::BenefitSpell, "2016-01-01", None, "jsa", 0));
            let job = (1, ev(EventKind::EmploymentSpell, "2017-02-01", None, "", 0));
            let r = |scope: &str| {
                format!("type = \"spell\"\nevents = [\"employment_spell\"]\nweeks = 13\nscope = {{ {scope} = {{ events = [\"benefit_spell\"], codes = [\"jsa\"], months = 0, adults_only = true }} }}\n")
            };
            let data = case("2030-12-31", &[jsa, job]);
            assert_eq!(verdict(&data, &r("met"), "2017-09-15"), Verdict::Verified);
            // the only adult was on JSA: no one is in the complement
            let dec = decide(&fw(), &data, &rule(&r("not_met")), "p", d("2017-09-15"));
            assert!(dec.not_applicable && dec.verdict == Verdict::Insufficient);
            let data = case("2030-12-31", &[job]);
            assert_eq!(
                verdict(&data, &r("not_met"), "2017-09-15"),
                Verdict::Verified
            );
            assert!(rule(&r("not_met"))
                .event_kinds()
                .contains(&EventKind::BenefitSpell));
        }

        #[test]
        fn window_since_the_case_start() {
            let r = "type = \"count\"\nevents = [\"offence\"]\nmin = 1\nwindow = { since = \"case_start\" }\nquantifier = \"any\"\n";
            let before = (1, ev(EventKind::Offence, "2017-01-08", None, "", 0));
            let on = (1, ev(EventKind::Offence, "2017-01-09", None, "", 0));
            assert_eq!(
                verdict(&case("2030-12-31", &[before]), r, "2017-09-15"),
                Verdict::Contradicted
            );
            assert_eq!(
                verdict(&case("2030-12-31", &[on]), r, "2017-09-15"),
                Verdict::Verified
            );
            let dec = decide(
                &fw(),
                &case("2017-05-31", &[before]),
                &rule(r),
                "p",
                d("2017-09-15"),
            );
            assert_eq!(dec.verdict, Verdict::Insufficient);
            assert_eq!(
                dec.missing,
                vec![Period {
                    from: d("2017-06-01"),
                    to: d("2017-09-15")
                }]
            );
        }

        #[test]
        fn no_repeat_within_months_of_the_first() {
            let r = "type = \"no_repeat\"\nevents = [\"marac_referral\"]\nmonths = 3\n";
            let first = (1, ev(EventKind::MaracReferral, "2017-02-01", None, "", 0));
            let repeat = (1, ev(EventKind::MaracReferral, "2017-05-01", None, "", 0));
            let later = (1, ev(EventKind::MaracReferral, "2017-05-02", None, "", 0));
            let claim = "2017-09-15";
            assert_eq!(
                verdict(&case("2030-12-31", &[first]), r, claim),
                Verdict::Verified
            );
            // the last day of the three months is inside, the day after is not
            assert_eq!(
                verdict(&case("2030-12-31", &[first, repeat]), r, claim),
                Verdict::Contradicted
            );
            assert_eq!(
                verdict(&case("2030-12-31", &[first, later]), r, claim),
                Verdict::Verified
            );
            // the three months may end after the claim: decided once covered
            let dec = decide(
                &fw(),
                &case("2017-03-31", &[first]),
                &rule(r),
                "p",
                d("2017-03-15"),
            );
            assert_eq!(dec.verdict, Verdict::Insufficient);
            assert_eq!(
                dec.earliest_decidable.map(|x| x >= d("2017-05-02")),
                Some(true)
            );
            assert_eq!(
                verdict(&case("2030-12-31", &[]), r, claim),
                Verdict::Insufficient
            );
        }

        #[test]
        fn score_reduction_needs_coverage_and_reads_its_options() {
            let dash =
                |date: &str, score| (1, ev(EventKind::DashAssessment, date, None, "", score));
            let base = "type = \"score_reduction\"\nevents = [\"dash_assessment\"]\nhigh = 15\npercent = 25.0\nmonths = 3\n";
            let claim = "2017-09-15";
            let fell = [dash("2016-12-01", 20), dash("2017-05-01", 10)];
            assert_eq!(
                verdict(&case("2030-12-31", &fell), base, claim),
                Verdict::Verified
            );
            // a later high score might be undelivered
            assert_eq!(
                verdict(&case("2017-08-31", &fell), base, claim),
                Verdict::Insufficient
            );
            // high and never reassessed: only with no_reassessment_passes
            let once = [dash("2016-12-01", 20)];
            assert_eq!(
                verdict(&case("2030-12-31", &once), base, claim),
                Verdict::Contradicted
            );
            let none = format!("{base}no_reassessment_passes = true\n");
            assert_eq!(
                verdict(&case("2030-12-31", &once), &none, claim),
                Verdict::Verified
            );
            // ... which does not apply below the high mark
            let low = [dash("2016-12-01", 12)];
            assert_eq!(
                verdict(&case("2030-12-31", &low), &none, claim),
                Verdict::Contradicted
            );
            // starting score after the case start only with baseline_after_start
            let after = [dash("2017-02-01", 12), dash("2017-03-01", 9)];
            assert_eq!(
                verdict(&case("2030-12-31", &after), base, claim),
                Verdict::Insufficient
            );
            let ba = format!("{base}baseline_after_start = true\n");
            assert_eq!(
                verdict(&case("2030-12-31", &after), &ba, claim),
                Verdict::Verified
            );
        }

        #[test]
        fn attendance_absence_reduction() {
            let term = |t: &str, attended| {
                (
                    2,
                    Event {
                        kind: EventKind::Attendance,
                        start: d(t),
                        end: None,
                        code: 0,
                        measure: crate::records::Measure::from_raw(
                            EventKind::Attendance,
                            [100, attended, 0, 100 - attended],
                        ),
                    },
                )
            };
            let evs = |now| {
                vec![
                    term("2016-04-01", 80),
                    term("2016-09-01", 80),
                    term("2017-01-01", now),
                    term("2017-04-01", now),
                ]
            };
            let r = "type = \"attendance\"\nterms = 2\nthresholds = []\nabsence_reduction_percent = 50.0\nscope = \"children\"\n";
            assert_eq!(
                verdict(&case("2030-12-31", &evs(90)), r, "2017-09-15"),
                Verdict::Verified
            );
            assert_eq!(
                verdict(&case("2030-12-31", &evs(89)), r, "2017-09-15"),
                Verdict::Contradicted
            );
            let setting = r.replace(
                "absence_reduction_percent = 50.0",
                "absence_reduction_setting = true",
            );
            assert_eq!(
                verdict(&case("2030-12-31", &evs(90)), &setting, "2017-09-15"),
                Verdict::Verified
            );
        }

        #[test]
        fn closed_with_zero_months_runs_to_the_claim() {
            let r = "type = \"closed_not_reopened\"\nevents = [\"child_in_need\"]\nclosure_codes = [\"stepped_down\"]\nreopen = [\"referral\"]\nmonths = 0\nscope = \"children\"\n";
            let cin = (
                2,
                ev(
                    EventKind::ChildInNeed,
                    "2016-01-01",
                    Some("2017-03-31"),
                    "stepped_down",
                    0,
                ),
            );
            let referral = (2, ev(EventKind::Referral, "2017-08-01", None, "", 0));
            assert_eq!(
                verdict(&case("2030-12-31", &[cin]), r, "2017-09-15"),
                Verdict::Verified
            );
            assert_eq!(
                verdict(&case("2030-12-31", &[cin, referral]), r, "2017-09-15"),
                Verdict::Contradicted
            );
            assert_eq!(
                verdict(&case("2017-06-30", &[cin]), r, "2017-09-15"),
                Verdict::Insufficient
            );
        }
    }

    /// Cumbria's additions to the vocabulary.
    mod cumbria_vocabulary {
        use super::*;

        /// A one-child case (born 2008-01) with every source covered 2000-2030.
        fn one_child(start: &str, events: Vec<crate::records::Event>) -> CaseData {
            let events = events.into_iter().map(|e| (1, e)).collect();
            case_with(
                start,
                &[(Role::Child, (2008, 1))],
                events,
                ("2000-01-01", "2030-12-31"),
            )
        }

        fn ev(
            kind: EventKind,
            start: &str,
            end: Option<&str>,
            code: &str,
        ) -> crate::records::Event {
            event(kind, start, end, code, [1, 0, 0, 0])
        }

        #[test]
        fn since_window_runs_from_case_start_to_claim() {
            let r = rule("type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { since = \"case_start\" }\n");
            let fw = fw();
            // the day before the case started is outside; the start day is inside
            let data = one_child(
                "2018-03-01",
                vec![ev(EventKind::Offence, "2018-02-28", None, "")],
            );
            let dec = decide(&fw, &data, &r, "crime", d("2019-03-01"));
            assert_eq!(dec.verdict, Verdict::Verified, "{dec:?}");
            assert_eq!(
                dec.evidence[0].window,
                Some(Period {
                    from: d("2018-03-01"),
                    to: d("2019-03-01")
                })
            );
            let data = one_child(
                "2018-03-01",
                vec![ev(EventKind::Offence, "2018-03-01", None, "")],
            );
            let dec = decide(&fw, &data, &r, "crime", d("2019-03-01"));
            assert_eq!(dec.verdict, Verdict::Contradicted);
        }

        #[test]
        fn closure_months_change_with_the_claim_date() {
            let r = rule("type = \"closed_not_reopened\"\nevents = [\"child_protection\"]\nreopen = [\"referral\"]\nmonths = 12\nmonths_from = [{ from = \"2019-01-01\", months = 6 }]\nscope = \"children\"\n");
            let fw = fw();
            // closed 2018-05-31; a referral 8 months later
            let data = one_child(
                "2018-01-01",
                vec![
                    ev(
                        EventKind::ChildProtection,
                        "2017-10-01",
                        Some("2018-05-31"),
                        "stepped_down",
                    ),
                    ev(EventKind::Referral, "2019-01-20", None, ""),
                ],
            );
            // claim before 2019: 12 months after closure, the referral re-opens
            let dec = decide(&fw, &data, &r, "children", d("2018-12-31"));
            assert_eq!(dec.verdict, Verdict::Contradicted, "{dec:?}");
            // claim from 2019: 6 months after closure, the referral is outside
            let dec = decide(&fw, &data, &r, "children", d("2019-02-01"));
            assert_eq!(dec.verdict, Verdict::Verified, "{dec:?}");
            assert_eq!(
                dec.evidence[0].window,
                Some(Period {
                    from: d("2018-06-01"),
                    to: d("2018-11-30")
                })
            );
        }

        #[test]
        fn a_tier_with_a_max_decides_a_zero_baseline() {
            let tiers = "type = \"reduction\"\nevents = [\"suspension\"]\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { months = 6 }\ntiers = [{ baseline_min = 0, baseline_max = 2, max = 0 }, { baseline_min = 3, max = 3 }]\nquantifier = \"each\"\n";
            let fw = fw();
            let none = one_child("2018-01-01", vec![]);
            let dec = decide(&fw, &none, &rule(tiers), "education", d("2018-12-01"));
            assert_eq!(dec.verdict, Verdict::Verified, "{dec:?}");
            let one_after = one_child(
                "2018-01-01",
                vec![ev(EventKind::Suspension, "2018-10-01", None, "")],
            );
            let dec = decide(&fw, &one_after, &rule(tiers), "education", d("2018-12-01"));
            assert_eq!(dec.verdict, Verdict::Contradicted, "{dec:?}");
            // a percent rule still has nothing to reduce from zero
            let pct = "type = \"reduction\"\nevents = [\"suspension\"]\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { months = 6 }\npercent = 50.0\n";
            let dec = decide(&fw, &none, &rule(pct), "education", d("2018-12-01"));
            assert_eq!(dec.verdict, Verdict::Insufficient, "{dec:?}");
        }

        #[test]
        fn fewer_means_strictly_fewer() {
            let r = rule("type = \"reduction\"\nevents = [\"offence\"]\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { months = 6 }\nfewer = true\n");
            let fw = fw();
            let base = |n: usize, now: usize| {
                let mut v = Vec::new();
                for i in 0..n {
                    v.push(ev(
                        EventKind::Offence,
                        &format!("2017-1{}-01", i % 3),
                        None,
                        "",
                    ));
                }
                for i in 0..now {
                    v.push(ev(
                        EventKind::Offence,
                        &format!("2018-1{}-02", i % 3),
                        None,
                        "",
                    ));
                }
                one_child("2018-01-01", v)
            };
            let v = |n, now| decide(&fw, &base(n, now), &r, "crime", d("2018-12-31")).verdict;
            assert_eq!(v(2, 1), Verdict::Verified);
            assert_eq!(v(2, 2), Verdict::Contradicted);
            assert_eq!(v(1, 0), Verdict::Verified);
            assert_eq!(v(0, 0), Verdict::Insufficient);
        }
    }
}
