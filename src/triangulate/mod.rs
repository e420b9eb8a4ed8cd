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
//! * a claim with no one in the rule's scope, on data that shows who is, is
//!   not applicable: `insufficient` with no missing period and no earliest
//!   date, never shown as waiting for data (`applicable`);
//! * whether a family is claimable is the framework's claim rule, condition
//!   by condition (`claim`); a case with no identified problems never is;
//! * a decision rests on the data, the framework, the claim date and the
//!   as-of date the caller passes (never the system clock), so a stored
//!   verdict can be reproduced (`verify --as-of`);
//! * ages come from month and year of birth only (the day is never kept), so
//!   an age can be a month out near a birthday: documented in
//!   `docs/frameworks.md`.

// Layout: `case` assembles a case's data, `context` holds the arithmetic
// every rule shares (windows, coverage, scopes, evidence), `rules` has one
// file per rule kind, `applicable` settles empty scopes, `claim` the claim
// rule; this file decides claims and stores verdicts.
mod applicable;
mod case;
pub mod claim;
mod context;
pub mod restrict;
pub mod rules;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::framework::{Framework, Rule, RuleClass};
use crate::ingest::matching::Matcher;
use crate::records::{EventKind, Period, SourceKind};
use crate::store::{CaseRecord, ClaimRecord, Store, StoreError};

pub use crate::records::terms::terms_ending_by;
pub use case::{age_at, pseudonym, year_group, CaseData, Member};
pub use context::Ctx;

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
    /// Each feed of the sources, what of the window it covers and what it
    /// does not (a gap in any one feed leaves the window uncovered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<context::FeedCoverage>,
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
    /// Not applicable: no one in the family is in the rule's scope (e.g. no
    /// adult was on JSA at the start), on data that covers who is. The
    /// verdict stays `insufficient` (the notice format's four verdicts are
    /// a contract) but it awaits no delivery: `missing` is empty and
    /// `earliest_decidable` is `None`. Ignored beside applicable
    /// alternatives in `any_of` / `all_of`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
    /// Review items this decision waits on: records that may be a
    /// member's and would change it (see [`hold_for_review`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting_review: Vec<String>,
    /// Rows (`FEED delivery N row M`) whose uncertain links this decision
    /// rests on: without their events it would differ (see
    /// [`mark_uncertain`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncertain_links: Vec<String>,
}

impl Decision {
    /// A decision resting on one note rather than on counted events.
    pub(crate) fn noted(
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
            feeds: vec![],
        });
        d
    }

    pub(crate) fn new(verdict: Verdict) -> Self {
        Decision {
            verdict,
            evidence: Vec::new(),
            missing: Vec::new(),
            earliest_decidable: None,
            not_applicable: false,
            awaiting_review: Vec::new(),
            uncertain_links: Vec::new(),
        }
    }
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
    applicable::settle(&ctx, rule, rule.kind().decide(&ctx))
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
        (Some(o), Some(data)) => {
            let decide = |d: &CaseData| {
                decide_as_of(
                    fw,
                    d,
                    &o.rule,
                    &o.problem,
                    claim.claim_date,
                    now.date_naive(),
                )
            };
            let held = hold_for_review(data, decide);
            (mark_uncertain(data, decide, held), o.also_evidences.clone())
        }
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

/// The review gate: a `verified` that a possible record of a member (a
/// row the matcher left unlinked, awaiting review) would overturn is held as
/// `insufficient`, naming the review items, until a reviewer decides. Only
/// `verified` is held: a possible record never makes a claim fail or pass
/// by itself, and counts as the member's only once a reviewer says `same`.
pub fn hold_for_review(data: &CaseData, decide: impl Fn(&CaseData) -> Decision) -> Decision {
    let d = decide(data);
    if d.verdict != Verdict::Verified || data.possible.is_empty() {
        return d;
    }
    let with: Vec<&case::Possible> = data
        .possible
        .iter()
        .filter(|p| !p.events.is_empty())
        .collect();
    let flips =
        |take: &[&case::Possible]| decide(&data.with_possible(take)).verdict != Verdict::Verified;
    // The items that overturn it alone; failing that, all of them together.
    let mut items: Vec<&case::Possible> = with.iter().copied().filter(|p| flips(&[p])).collect();
    if items.is_empty() && with.len() > 1 && flips(&with) {
        items = with;
    }
    if items.is_empty() {
        return d;
    }
    let mut held = Decision::new(Verdict::Insufficient);
    held.evidence = d.evidence;
    held.missing = d.missing;
    let mut ids: Vec<String> = items.iter().map(|p| p.item.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut persons: Vec<String> = items.iter().map(|p| case::pseudonym(p.member)).collect();
    persons.sort();
    persons.dedup();
    let mut sources: Vec<SourceKind> = items.iter().filter_map(|p| p.source).collect();
    sources.sort();
    sources.dedup();
    held.evidence.push(Evidence {
        sources,
        events: vec![],
        window: None,
        coverage: vec![],
        persons,
        count: Some(items.len() as i64),
        dates: vec![],
        finding: format!(
            "possible record of a member awaiting review ({}): the matcher left it unlinked, and as the member's it would change this verdict; decide it with `outcomesd review decide`",
            ids.join(", ")
        ),
        feeds: vec![],
    });
    held.awaiting_review = ids;
    held
}

/// The converse of the gate: a `verified` or `contradicted` that rests on
/// an event which reached a member through an uncertain link (a row linked
/// by a margin within the review band above the threshold) keeps its
/// verdict but is marked: `uncertain_links` names the rows, and an evidence
/// line says what the verdict would be without them, so an auditor or
/// coordinator checks those rows before relying on it.
pub fn mark_uncertain(
    data: &CaseData,
    decide: impl Fn(&CaseData) -> Decision,
    mut d: Decision,
) -> Decision {
    if !matches!(d.verdict, Verdict::Verified | Verdict::Contradicted) || data.uncertain.is_empty()
    {
        return d;
    }
    let all: Vec<&case::Uncertain> = data.uncertain.iter().collect();
    let without = |drop: &[&case::Uncertain]| decide(&data.without_uncertain(drop)).verdict;
    // The links the verdict rests on alone; failing that, all together.
    let mut rests: Vec<(&case::Uncertain, Verdict)> = all
        .iter()
        .map(|u| (*u, without(&[u])))
        .filter(|(_, v)| *v != d.verdict)
        .collect();
    if rests.is_empty() && all.len() > 1 {
        let v = without(&all);
        if v != d.verdict {
            rests = all.iter().map(|u| (*u, v)).collect();
        }
    }
    if rests.is_empty() {
        return d;
    }
    let mut links: Vec<String> = rests.iter().map(|(u, _)| u.link.clone()).collect();
    links.sort();
    links.dedup();
    let mut persons: Vec<String> = rests
        .iter()
        .map(|(u, _)| case::pseudonym(u.person))
        .collect();
    persons.sort();
    persons.dedup();
    let mut sources: Vec<SourceKind> = rests.iter().filter_map(|(u, _)| u.source).collect();
    sources.sort();
    sources.dedup();
    let mut dates: Vec<NaiveDate> = rests.iter().map(|(u, _)| u.event.start).collect();
    dates.sort();
    dates.dedup();
    let margin = rests
        .iter()
        .map(|(u, _)| u.margin)
        .fold(f32::INFINITY, f32::min);
    let mut otherwise: Vec<&str> = rests.iter().map(|(_, v)| v.name()).collect();
    otherwise.sort();
    otherwise.dedup();
    d.evidence.push(Evidence {
        sources,
        events: vec![],
        window: None,
        coverage: vec![],
        persons,
        count: Some(links.len() as i64),
        dates,
        finding: format!(
            "decided through an uncertain link ({}): the row reached the member by {margin:.1} bits above the link threshold, within the review band; without it this claim would be {}; check the row with `outcomesd links explain` before relying on this verdict",
            links.join("; "),
            otherwise.join(" or ")
        ),
        feeds: vec![],
    });
    d.uncertain_links = links;
    d
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

/// Whether every identified problem has a verified or attested claim (and
/// there is at least one: a case with no identified problems is never
/// claimable). The framework's whole claim rule, condition by condition,
/// is [`claim::assess`].
pub fn claimable(case: &CaseRecord, verdicts: &[VerdictRecord]) -> (bool, Vec<String>) {
    let problems = case.problems();
    if problems.is_empty() {
        return (false, vec![]);
    }
    let mut missing = Vec::new();
    for p in problems {
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
    /// Decisions whose verdict changed (or were first made), in claim
    /// order: what the audit log records (the decisions themselves are in
    /// the store, so a run over every claim holds only these).
    pub changed: Vec<VerdictChange>,
    /// Time to decide each claim (for the benchmark's percentiles).
    pub per_claim: Vec<std::time::Duration>,
    pub elapsed: std::time::Duration,
    pub counts: HashMap<Verdict, usize>,
}

/// A verdict first made or changed, without its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictChange {
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub verdict: Verdict,
    pub previous: Option<Verdict>,
    pub framework: String,
    pub framework_version: String,
    pub as_of_delivery: u32,
}

impl From<&VerdictRecord> for VerdictChange {
    fn from(r: &VerdictRecord) -> Self {
        VerdictChange {
            case_ref: r.case_ref.clone(),
            outcome_id: r.outcome_id.clone(),
            claim_date: r.claim_date,
            verdict: r.verdict,
            previous: r.history.last().map(|p| p.verdict),
            framework: r.framework.clone(),
            framework_version: r.framework_version.clone(),
            as_of_delivery: r.as_of_delivery,
        }
    }
}

/// Which claims an evaluation run looks at.
pub enum Selection<'a> {
    All,
    /// Claims of these cases, plus every claim still insufficient or never
    /// decided (after a delivery).
    AfterDelivery(&'a std::collections::HashSet<String>),
    Case(&'a str),
    /// Claims of these cases (after a review decision).
    Cases(&'a std::collections::HashSet<String>),
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
            Selection::Cases(set) => set.contains(&c.case_ref),
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
    let doubts = &crate::review::Doubts::load(store, matcher)?;
    let restricted = &restrict::restricted_set(matcher, &store.restrictions()?);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = cases.len().div_ceil(threads).max(1);
    let mut report = RunReport {
        cases: cases.len(),
        ..Default::default()
    };
    // Deciders send each case's decisions as they go and this thread
    // stores them, so a run over every claim never holds every decision
    // (at 160,000 claims that was over a gigabyte).
    let (tx, rx) =
        std::sync::mpsc::sync_channel::<Vec<(VerdictRecord, std::time::Duration)>>(threads * 4);
    let decided: Result<(), StoreError> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                let tx = tx.clone();
                sc.spawn(move || -> Result<(), StoreError> {
                    for (case_ref, claims) in part {
                        let t = std::time::Instant::now();
                        let case = store.case(case_ref)?;
                        let data = case
                            .map(|c| CaseData::load(store, matcher, doubts, c))
                            .transpose()?;
                        let load = t.elapsed() / claims.len().max(1) as u32;
                        let mut out = Vec::with_capacity(claims.len());
                        for claim in claims {
                            let t = std::time::Instant::now();
                            let rec =
                                restrict::decide(fw, data.as_ref(), claim, as_of, now, restricted);
                            out.push((rec, t.elapsed() + load));
                        }
                        if tx.send(out).is_err() {
                            break; // the store side failed and stopped
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        drop(tx);
        let mut stored = Ok(());
        for batch in rx.iter() {
            if stored.is_err() {
                break;
            }
            for (rec, took) in batch {
                if let Err(e) = store_decision(store, &mut report, rec, took) {
                    stored = Err(e);
                    break;
                }
            }
        }
        // A decider still sending finds the channel closed and stops.
        drop(rx);
        // (The scope joins any left after a failure.)
        let joined = handles
            .into_iter()
            .try_for_each(|h| h.join().expect("evaluation thread"));
        stored.and(joined)
    });
    decided?;
    // Claim order, whatever order the deciders finished in.
    report.changed.sort_by(|a, b| {
        (&a.case_ref, &a.outcome_id, a.claim_date).cmp(&(&b.case_ref, &b.outcome_id, b.claim_date))
    });
    store.flush()?;
    report.elapsed = t0.elapsed();
    Ok(report)
}

/// Stores `rec` if it says anything new, with the verdict history carried
/// over, and counts it in `report`.
fn store_decision(
    store: &Store,
    report: &mut RunReport,
    mut rec: VerdictRecord,
    took: std::time::Duration,
) -> Result<(), StoreError> {
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
            return Ok(()); // nothing new to store
        }
    }
    let json = serde_json::to_vec(&rec).expect("verdict serialises");
    store.put_verdict(&rec.case_ref, &rec.outcome_id, rec.claim_date, &json)?;
    if changed {
        report.changed.push(VerdictChange::from(&rec));
    }
    Ok(())
}

/// Every stored decision.
pub fn stored_verdicts(store: &Store) -> Result<Vec<VerdictRecord>, StoreError> {
    let mut out = Vec::new();
    for v in store.each_verdict() {
        if let Ok(rec) = serde_json::from_slice(&v?) {
            out.push(rec);
        }
    }
    Ok(out)
}

/// Which class an outcome is, for listing.
pub fn outcome_class(fw: &Framework, id: &str) -> Option<RuleClass> {
    fw.outcome(id).map(|o| o.rule.class())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// [`decide_as_of`] today, as the tests were written against.
    pub(crate) fn decide(
        fw: &Framework,
        data: &CaseData,
        rule: &Rule,
        problem: &str,
        claim_date: NaiveDate,
    ) -> Decision {
        decide_as_of(fw, data, rule, problem, claim_date, Utc::now().date_naive())
    }
    use crate::ingest::matching::PersonId;
    use crate::records::Role;

    pub(crate) fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
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

    /// A hand-made case for rule tests: members numbered from 1 with their
    /// roles and months of birth, their events, and every source covered
    /// over `cover`.
    pub(crate) fn case_with(
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
            possible: vec![],
            uncertain: vec![],
            feeds: HashMap::new(),
        }
    }

    /// An event with an optional end, a code by name ("" for none) and values.
    pub(crate) fn event(
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

    pub(crate) fn rule(text: &str) -> Rule {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A minimal framework, with a significant reduction of 50%.
    pub(crate) fn fw() -> Framework {
        Framework::parse(
            std::path::Path::new("t.toml"),
            "[framework]\nid = \"t\"\ncouncil = \"T\"\ntitle = \"T\"\nversion = \"1\"\n[settings]\nsignificant_reduction_percent = 50.0\n",
        )
        .unwrap()
    }

    /// A one-member case (born 2010-01, a child) with every source covered.
    pub(crate) fn one_child(start: &str, events: Vec<crate::records::Event>) -> CaseData {
        let events = events.into_iter().map(|e| (1, e)).collect();
        case_with(
            start,
            &[(Role::Child, (2010, 1))],
            events,
            ("2000-01-01", "2030-12-31"),
        )
    }

    pub(crate) fn ev(
        kind: EventKind,
        start: &str,
        end: Option<&str>,
        code: &str,
        v0: i32,
    ) -> crate::records::Event {
        event(kind, start, end, code, [v0, 0, 0, 0])
    }

    // ---- the review gate ----
    mod review_gate {
        use super::*;
        use crate::triangulate::case::Possible;

        const NO_OFFENCE: &str =
            "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 6 }\n";

        fn gated(data: &CaseData, r: &str) -> Decision {
            let r = rule(r);
            hold_for_review(data, |d| {
                decide(&fw(), d, &r, "crime", self::d("2016-05-01"))
            })
        }

        fn possible(item: &str, date: &str) -> Possible {
            Possible {
                item: item.into(),
                member: 1,
                source: Some(SourceKind::Police),
                events: vec![ev(EventKind::Offence, date, None, "", 0)],
            }
        }

        #[test]
        fn a_possible_offence_in_the_window_holds_a_verified_absence() {
            let mut data = one_child("2015-09-01", vec![]);
            assert_eq!(gated(&data, NO_OFFENCE).verdict, Verdict::Verified);
            data.possible = vec![
                possible("2-7-1", "2016-03-01"),
                possible("2-9-1", "2014-01-01"),
            ];
            let dec = gated(&data, NO_OFFENCE);
            assert_eq!(dec.verdict, Verdict::Insufficient, "{dec:?}");
            // Only the record that would change the verdict is named.
            assert_eq!(dec.awaiting_review, vec!["2-7-1".to_string()]);
            let last = dec.evidence.last().unwrap();
            assert!(
                last.finding.contains("awaiting review (2-7-1)"),
                "{}",
                last.finding
            );
            assert_eq!(last.sources, vec![SourceKind::Police]);
        }

        #[test]
        fn a_possible_record_outside_the_window_or_a_failed_claim_is_not_held() {
            let mut data = one_child("2015-09-01", vec![]);
            data.possible = vec![possible("2-9-1", "2014-01-01")];
            let dec = gated(&data, NO_OFFENCE);
            assert_eq!(dec.verdict, Verdict::Verified);
            assert!(dec.awaiting_review.is_empty());
            // Already contradicted on linked data: the doubt changes nothing.
            let mut data = one_child(
                "2015-09-01",
                vec![ev(EventKind::Offence, "2016-02-01", None, "", 0)],
            );
            data.possible = vec![possible("2-7-1", "2016-03-01")];
            assert_eq!(gated(&data, NO_OFFENCE).verdict, Verdict::Contradicted);
        }

        #[test]
        fn possible_records_that_change_the_verdict_only_together_are_all_named() {
            let r = "type = \"count\"\nevents = [\"offence\"]\nmax = 1\nwindow = { months = 6 }\n";
            let mut data = one_child("2015-09-01", vec![]);
            data.possible = vec![
                possible("3-1-1", "2016-03-01"),
                possible("3-2-1", "2016-04-01"),
            ];
            let dec = gated(&data, r);
            assert_eq!(dec.verdict, Verdict::Insufficient, "{dec:?}");
            assert_eq!(
                dec.awaiting_review,
                vec!["3-1-1".to_string(), "3-2-1".to_string()]
            );
        }
    }

    // ---- uncertain links: the converse of the gate ----
    mod uncertain_links {
        use super::*;
        use crate::triangulate::case::Uncertain;

        const NO_OFFENCE: &str =
            "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 6 }\n";
        const AN_ARREST: &str =
            "type = \"count\"\nevents = [\"arrest\"]\nmin = 1\nwindow = { months = 6 }\n";

        fn marked(data: &CaseData, r: &str) -> Decision {
            let r = rule(r);
            let decide = |d: &CaseData| decide(&fw(), d, &r, "crime", self::d("2016-05-01"));
            mark_uncertain(data, decide, decide(data))
        }

        /// A child with these events, each reached through the uncertain
        /// link of the row named with it.
        fn through(
            links: &[(&str, crate::records::Event)],
            sure: Vec<crate::records::Event>,
        ) -> CaseData {
            let mut all = sure;
            all.extend(links.iter().map(|(_, e)| *e));
            let mut data = one_child("2015-09-01", all);
            data.uncertain = links
                .iter()
                .map(|(row, e)| Uncertain {
                    link: (*row).into(),
                    person: 1,
                    margin: 1.5,
                    source: Some(SourceKind::Police),
                    event: *e,
                })
                .collect();
            data
        }

        #[test]
        fn a_contradiction_resting_on_an_uncertain_link_is_marked() {
            let inside = ev(EventKind::Offence, "2016-03-01", None, "", 0);
            let before = ev(EventKind::Offence, "2014-01-01", None, "", 0);
            let data = through(
                &[
                    ("police delivery 2 row 7", inside),
                    ("police delivery 2 row 9", before),
                ],
                vec![],
            );
            let dec = marked(&data, NO_OFFENCE);
            assert_eq!(dec.verdict, Verdict::Contradicted, "the verdict stands");
            // Only the link the verdict rests on is named.
            assert_eq!(
                dec.uncertain_links,
                vec!["police delivery 2 row 7".to_string()]
            );
            let last = dec.evidence.last().unwrap();
            assert!(last.finding.contains("uncertain link"), "{}", last.finding);
            assert!(
                last.finding.contains("would be verified"),
                "{}",
                last.finding
            );
            assert_eq!(last.dates, vec![self::d("2016-03-01")]);
        }

        #[test]
        fn a_verdict_that_holds_without_the_link_is_not_marked() {
            // A sure offence in the window contradicts it anyway.
            let sure = ev(EventKind::Offence, "2016-02-01", None, "", 0);
            let inside = ev(EventKind::Offence, "2016-03-01", None, "", 0);
            let data = through(&[("police delivery 2 row 7", inside)], vec![sure]);
            let dec = marked(&data, NO_OFFENCE);
            assert_eq!(dec.verdict, Verdict::Contradicted);
            assert!(dec.uncertain_links.is_empty(), "{dec:?}");
        }

        #[test]
        fn a_presence_verified_through_an_uncertain_link_is_marked() {
            let arrest = ev(EventKind::Arrest, "2016-03-01", None, "", 0);
            let data = through(&[("police delivery 3 row 1", arrest)], vec![]);
            let dec = marked(&data, AN_ARREST);
            assert_eq!(dec.verdict, Verdict::Verified);
            assert_eq!(
                dec.uncertain_links,
                vec!["police delivery 3 row 1".to_string()]
            );
            // Two uncertain arrests: neither alone decides, both together do.
            let second = ev(EventKind::Arrest, "2016-04-01", None, "", 0);
            let data = through(
                &[
                    ("police delivery 3 row 1", arrest),
                    ("police delivery 3 row 2", second),
                ],
                vec![],
            );
            let dec = marked(&data, AN_ARREST);
            assert_eq!(dec.uncertain_links.len(), 2, "{dec:?}");
        }
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
