//! Frameworks: a council's outcome plan as data.
//!
//! In: a TOML file from `frameworks/` (format in `docs/frameworks.md`). Out:
//! a validated [`Framework`]: headline problems with their identification
//! indicators, and outcomes with the plan's own wording, the sources the plan
//! names, the problems each also evidences, and a typed [`Rule`] that decides
//! it.
//!
//! Promises:
//! * every rule is deserialised into typed enums, so an unknown event kind,
//!   source, scope or window is an error with the file and line, not a rule
//!   that silently never matches;
//! * cross-references (an outcome's problem, `also_evidences`, duplicate ids,
//!   contradictory bounds) are checked at load, all problems reported at once;
//! * [`Rule::explain`] renders a rule in plain English for auditors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::records::{EventKind, SourceKind};

pub mod scenario;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    pub framework: Meta,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default, rename = "problems")]
    pub problems: Vec<Problem>,
    #[serde(default, rename = "outcomes")]
    pub outcomes: Vec<Outcome>,
    /// Where it was loaded from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Short id, e.g. `sunderland`.
    pub id: String,
    pub council: String,
    pub title: String,
    /// Bump whenever a rule changes; verdicts record it.
    pub version: String,
    /// The source document the file encodes.
    #[serde(default)]
    pub source_document: Option<String>,
}

/// Council-chosen parameters that the plan leaves open (e.g. Bristol's
/// "significant reduction"), named so rules can refer to them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub significant_reduction_percent: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// Problem code used in case feeds' `problems` column, e.g. `crime`.
    pub id: String,
    pub number: String,
    pub title: String,
    #[serde(default)]
    pub indicators: Vec<Indicator>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub id: String,
    pub wording: String,
    /// How the indicator is checked against data at the case's start;
    /// `attested` where only a professional's referral can say.
    pub rule: Rule,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub id: String,
    pub problem: String,
    /// The plan's own words.
    pub wording: String,
    /// The sources the plan names, verbatim.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Other problems (ids) this outcome's evidence also supports.
    #[serde(default)]
    pub also_evidences: Vec<String>,
    /// How outcomesd reads the plan where it is ambiguous.
    #[serde(default)]
    pub interpretation: Option<String>,
    pub rule: Rule,
}

/// What a window is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The keyworker's claim date.
    #[default]
    Claim,
    /// The case's start (the intervention began).
    CaseStart,
    /// The case's closure date.
    CaseEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The window ends on the anchor.
    #[default]
    Before,
    /// The window starts the day after the anchor.
    After,
}

/// A stretch of time relative to an anchor: exactly one of months, weeks,
/// days, terms or `since` (from another anchor up to this one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default)]
    pub months: Option<u32>,
    #[serde(default)]
    pub weeks: Option<u32>,
    #[serde(default)]
    pub days: Option<u32>,
    /// Whole school terms: the last N complete terms ending on or before the
    /// anchor (or the first N starting after it).
    #[serde(default)]
    pub terms: Option<u32>,
    /// Instead of a length: the window runs from this anchor (inclusive)
    /// to `anchor`, e.g. `since = "case_start"`: everything during support.
    #[serde(default)]
    pub since: Option<Anchor>,
    #[serde(default)]
    pub anchor: Anchor,
    #[serde(default)]
    pub direction: Direction,
}

/// Who in the family a rule looks at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every member of the case.
    #[default]
    Family,
    /// Members under 18 (by month and year of birth; role `child` if unknown).
    Children,
    /// Members of compulsory school age (5 to 16).
    SchoolAge,
    /// Members 18 or over (role `adult`/`main_carer` if unknown).
    Adults,
    /// Members the case flags with the outcome's problem (the whole family
    /// if the case flags nobody).
    Flagged,
    /// Members plus people linked to a member's address.
    Household,
    /// Members who met a condition before the case started, e.g. adults
    /// claiming JSA at the start.
    Met(Condition),
    /// Members who did not meet the condition (e.g. adults not claiming
    /// JSA at the start): the complement of `met` (`adults_only` still
    /// restricts to adults).
    NotMet(Condition),
    /// Members aged `min` to `max` (inclusive) at the window's end.
    Ages { min: u32, max: u32 },
    /// Members in national curriculum year groups `min` to `max` (reception
    /// is 0, year 6 is 6) in the school year of the window's end, from month
    /// and year of birth (the 1 September cut-off needs no day of birth).
    YearGroups { min: u32, max: u32 },
    /// Members in every one of these scopes.
    All(Vec<Scope>),
}

/// A condition on a person's events before the case started.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub events: Vec<EventKind>,
    #[serde(default)]
    pub codes: Vec<String>,
    /// How far before the case start to look (an open spell at the start
    /// always counts).
    pub months: u32,
    #[serde(default)]
    pub adults_only: bool,
    /// Only members under 18 (e.g. a young person's offending tiers).
    #[serde(default)]
    pub children_only: bool,
}

/// How many people in scope must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Quantifier {
    /// Every person in scope.
    #[default]
    Each,
    /// At least one person in scope.
    Any,
    /// The family's events counted together.
    Together,
}

/// A threshold that takes effect on a date (the latest `from` on or before
/// the claim date applies).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    #[serde(default)]
    pub from: Option<NaiveDate>,
    pub percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Strictly above the threshold ("in excess of").
    Above,
    /// The threshold or above ("90% or above").
    #[default]
    AtLeast,
    /// Strictly below (identification: "less than 90%").
    Below,
}

/// A reduction tier chosen by the baseline count.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub baseline_min: u32,
    #[serde(default)]
    pub baseline_max: Option<u32>,
    /// Required reduction in percent, or ...
    #[serde(default)]
    pub percent: Option<f64>,
    /// ... at most this many events in the window.
    #[serde(default)]
    pub max: Option<u32>,
}

/// A length in months that takes effect on a date (the latest `from` on or
/// before the claim date applies), e.g. a sustainment period an audit
/// shortened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatedMonths {
    pub from: NaiveDate,
    pub months: u32,
}

/// The months in force on `date`: the latest change on or before it, else
/// `months`.
pub fn months_in_force(months: u32, changes: &[DatedMonths], date: NaiveDate) -> u32 {
    changes
        .iter()
        .filter(|c| c.from <= date)
        .max_by_key(|c| c.from)
        .map_or(months, |c| c.months)
}

/// An earnings threshold for an age band, in pounds per assessment period.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgeThreshold {
    #[serde(default)]
    pub min_age: Option<u32>,
    #[serde(default)]
    pub max_age: Option<u32>,
    pub pounds: f64,
}

/// The rule vocabulary. See `docs/frameworks.md`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Count events of some kinds (and codes) in a window, per person or
    /// together; pass if `min <= count <= max`. `sum_days` counts days
    /// (e.g. suspension days) instead of events.
    Count {
        events: Vec<EventKind>,
        #[serde(default)]
        codes: Vec<String>,
        #[serde(default)]
        min: Option<u32>,
        #[serde(default)]
        max: Option<u32>,
        #[serde(default)]
        sum_days: bool,
        window: Window,
        #[serde(default)]
        scope: Scope,
        #[serde(default)]
        quantifier: Quantifier,
    },
    /// School attendance over consecutive terms for people in scope.
    Attendance {
        terms: u32,
        /// May be empty when an improvement is required instead.
        #[serde(default)]
        thresholds: Vec<Threshold>,
        #[serde(default)]
        compare: Compare,
        /// Leave authorised absence out of the possible sessions
        /// (Leicester's "excluding authorised absence").
        #[serde(default)]
        exclude_authorised: bool,
        /// Judge the average over the terms (true) or every term (false).
        #[serde(default = "yes")]
        average: bool,
        /// Also require this many points of improvement over the same
        /// number of terms before the case started.
        #[serde(default)]
        improvement_points: Option<f64>,
        /// ... or this percentage improvement (relative).
        #[serde(default)]
        improvement_percent: Option<f64>,
        /// Only children whose attendance over the same number of complete
        /// terms before the case started was below this percentage are in
        /// scope (e.g. "very poor attendance" of under 50%); a child with no
        /// record for those terms is out of scope.
        #[serde(default)]
        baseline_below: Option<f64>,
        /// Also require the absence rate to fall by this percentage against
        /// the same number of terms before the case started ("significant
        /// improvement" read as a significant reduction in absence) ...
        #[serde(default)]
        absence_reduction_percent: Option<f64>,
        /// ... or by the framework's `settings.significant_reduction_percent`.
        #[serde(default)]
        absence_reduction_setting: bool,
        #[serde(default)]
        anchor: Anchor,
        #[serde(default = "school_age")]
        scope: Scope,
        #[serde(default)]
        quantifier: Quantifier,
    },
    /// A reduction against a baseline window, tiered on the baseline count.
    Reduction {
        events: Vec<EventKind>,
        #[serde(default)]
        codes: Vec<String>,
        baseline: Window,
        window: Window,
        #[serde(default)]
        percent: Option<f64>,
        /// Use the framework's `settings.significant_reduction_percent`.
        #[serde(default)]
        percent_setting: bool,
        /// Compare events per day of each window rather than raw counts, so
        /// a 12-month baseline can be set against a 3-month window.
        #[serde(default)]
        rates: bool,
        #[serde(default)]
        tiers: Vec<Tier>,
        /// Count days (`values[0]`, e.g. suspension days) instead of events.
        #[serde(default)]
        sum_days: bool,
        /// Pass when the window has at least this many fewer than the
        /// baseline ("fewer days lost"); used when no percent or tier applies.
        #[serde(default)]
        fewer_by: Option<u32>,
        /// Compare rates: the baseline count is scaled to the window's length
        /// before `percent` / `fewer_by` apply (tiers are still chosen on the
        /// raw baseline count, and a tier's `max` is absolute).
        #[serde(default)]
        pro_rata: bool,
        /// People (or, together, the family) with nothing in the baseline are
        /// out of the rule's scope, instead of leaving it undecided.
        #[serde(default)]
        skip_empty_baseline: bool,
        /// Any reduction: strictly fewer events than in the baseline
        /// (`any_reduction` is accepted as another name for it).
        #[serde(default, alias = "any_reduction")]
        fewer: bool,
        #[serde(default)]
        scope: Scope,
        #[serde(default = "together")]
        quantifier: Quantifier,
    },
    /// A continuous spell of at least `weeks` (or `weeks` of the last
    /// `of_last_weeks`) between the case start and the anchor.
    Spell {
        events: Vec<EventKind>,
        #[serde(default)]
        codes: Vec<String>,
        weeks: u32,
        #[serde(default)]
        of_last_weeks: Option<u32>,
        #[serde(default)]
        anchor: Anchor,
        #[serde(default)]
        scope: Scope,
        #[serde(default = "any")]
        quantifier: Quantifier,
    },
    /// An episode that closed and did not reopen (nor any `reopen` event
    /// start) within `months` after closing, by the anchor.
    ClosedNotReopened {
        /// Episode kinds; empty means the keyworker case itself.
        #[serde(default)]
        events: Vec<EventKind>,
        #[serde(default)]
        closure_codes: Vec<String>,
        reopen: Vec<EventKind>,
        months: u32,
        /// Only members with one of `events` open on the case's start date
        /// are in scope (the plan that identified the need); their latest
        /// episode of `events` is judged.
        #[serde(default)]
        open_at_case_start: bool,
        /// Changes to `months` by claim date.
        #[serde(default)]
        months_from: Vec<DatedMonths>,
        #[serde(default)]
        scope: Scope,
    },
    /// Earnings at or above an age-dependent threshold in at least `weeks`
    /// of the last `of_last_weeks` before the anchor.
    Earnings {
        events: Vec<EventKind>,
        thresholds: Vec<AgeThreshold>,
        weeks: u32,
        of_last_weeks: u32,
        #[serde(default)]
        anchor: Anchor,
        #[serde(default = "adults")]
        scope: Scope,
        #[serde(default = "any")]
        quantifier: Quantifier,
    },
    /// At least `min_each` events in each month of the last `months`.
    Regular {
        events: Vec<EventKind>,
        months: u32,
        #[serde(default = "one")]
        min_each: u32,
        #[serde(default)]
        anchor: Anchor,
        #[serde(default)]
        scope: Scope,
        #[serde(default = "any")]
        quantifier: Quantifier,
    },
    /// A DASH-style score (the event's first value) falling: from a start
    /// at or above `high` to at most `high - 1` for `months`, or from below
    /// `high` reduced by `percent` for `months`.
    ScoreReduction {
        events: Vec<EventKind>,
        high: i32,
        percent: f64,
        months: u32,
        /// With no assessment on or before the case start, the first one
        /// after it (by the claim date) is the starting score.
        #[serde(default)]
        baseline_after_start: bool,
        /// A score that started at `high` or above also passes when no
        /// assessment at all was needed in the `months` before the claim.
        #[serde(default)]
        no_reassessment_passes: bool,
        #[serde(default)]
        scope: Scope,
    },
    /// For each person in scope with an event of `events` (and `codes`)
    /// between `lookback_months` before the case start and the claim, the
    /// first such event is not followed by another within `months`.
    NoRepeat {
        events: Vec<EventKind>,
        #[serde(default)]
        codes: Vec<String>,
        months: u32,
        #[serde(default = "twelve")]
        lookback_months: u32,
        #[serde(default)]
        scope: Scope,
        #[serde(default)]
        quantifier: Quantifier,
    },
    AllOf {
        rules: Vec<Rule>,
    },
    AnyOf {
        rules: Vec<Rule>,
    },
    /// Only a practitioner can judge; the claim itself is the attestation.
    Attested {
        #[serde(default)]
        evidence: Vec<String>,
        /// Steps or criteria the practitioner must record (e.g. Leicester's
        /// steps to success), and how many are needed.
        #[serde(default)]
        steps: Vec<String>,
        #[serde(default)]
        min_steps: Option<u32>,
        /// Further steps that may count towards `min_steps`, but at most
        /// `max_extra_steps` of them (e.g. Leicester's trigger outcomes, "can
        /// also count as 1 step"), under `extra_steps_condition`.
        #[serde(default)]
        extra_steps: Vec<String>,
        #[serde(default)]
        max_extra_steps: Option<u32>,
        #[serde(default)]
        extra_steps_condition: Option<String>,
    },
    /// The plan names a source that is not currently available.
    Unavailable {
        reason: String,
    },
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn twelve() -> u32 {
    12
}
fn school_age() -> Scope {
    Scope::SchoolAge
}
fn adults() -> Scope {
    Scope::Adults
}
fn any() -> Quantifier {
    Quantifier::Any
}
fn together() -> Quantifier {
    Quantifier::Together
}

/// What kind of outcome a rule makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleClass {
    DataVerifiable,
    Attested,
    Unavailable,
}

impl Rule {
    pub fn class(&self) -> RuleClass {
        match self {
            Rule::Attested { .. } => RuleClass::Attested,
            Rule::Unavailable { .. } => RuleClass::Unavailable,
            Rule::AllOf { rules } | Rule::AnyOf { rules } => {
                let classes: Vec<_> = rules.iter().map(Rule::class).collect();
                if classes.contains(&RuleClass::DataVerifiable) {
                    RuleClass::DataVerifiable
                } else if classes.contains(&RuleClass::Attested) {
                    RuleClass::Attested
                } else {
                    RuleClass::Unavailable
                }
            }
            _ => RuleClass::DataVerifiable,
        }
    }

    /// Event kinds a rule reads.
    pub fn event_kinds(&self) -> Vec<EventKind> {
        let mut v = match self {
            Rule::Count { events, .. }
            | Rule::Reduction { events, .. }
            | Rule::Spell { events, .. }
            | Rule::Earnings { events, .. }
            | Rule::Regular { events, .. }
            | Rule::ScoreReduction { events, .. }
            | Rule::NoRepeat { events, .. } => events.clone(),
            Rule::Attendance { .. } => vec![EventKind::Attendance],
            Rule::ClosedNotReopened { events, reopen, .. } => {
                events.iter().chain(reopen.iter()).copied().collect()
            }
            Rule::AllOf { rules } | Rule::AnyOf { rules } => {
                rules.iter().flat_map(Rule::event_kinds).collect()
            }
            Rule::Attested { .. } | Rule::Unavailable { .. } => vec![],
        };
        for s in self.scope_condition_kinds() {
            v.push(s);
        }
        v.sort();
        v.dedup();
        v
    }

    fn scope_condition_kinds(&self) -> Vec<EventKind> {
        let scope = match self {
            Rule::Count { scope, .. }
            | Rule::Attendance { scope, .. }
            | Rule::Reduction { scope, .. }
            | Rule::Spell { scope, .. }
            | Rule::ClosedNotReopened { scope, .. }
            | Rule::Earnings { scope, .. }
            | Rule::Regular { scope, .. }
            | Rule::ScoreReduction { scope, .. }
            | Rule::NoRepeat { scope, .. } => scope,
            _ => return vec![],
        };
        scope_kinds(scope)
    }

    /// Source kinds a rule needs feeds from.
    pub fn sources(&self) -> Vec<SourceKind> {
        let mut s: Vec<_> = self.event_kinds().iter().map(|k| k.source()).collect();
        if matches!(self, Rule::ClosedNotReopened { events, .. } if events.is_empty()) {
            s.push(SourceKind::Case);
        }
        s.sort();
        s.dedup();
        s
    }

    /// The rule in plain English, for auditors.
    pub fn explain(&self, fw: &Framework) -> String {
        let mut out = String::new();
        self.explain_into(fw, 0, &mut out);
        out
    }

    fn explain_into(&self, fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let kinds = |e: &[EventKind], codes: &[String]| {
            let k: Vec<_> = e.iter().map(|k| k.name().replace('_', " ")).collect();
            let mut s = k.join(" or ");
            if !codes.is_empty() {
                let _ = write!(s, " ({})", codes.join(", ").replace('_', " "));
            }
            s
        };
        let _ = match self {
            Rule::Count {
                events,
                codes,
                min,
                max,
                sum_days,
                window,
                scope,
                quantifier,
            } => {
                let what = if *sum_days {
                    format!("days of {}", kinds(events, codes))
                } else {
                    kinds(events, codes)
                };
                let bound = match (min, max) {
                    (None, Some(0)) => format!("no {what}"),
                    (None, Some(m)) => format!("at most {m} {what}"),
                    (Some(n), None) => format!("at least {n} {what}"),
                    (Some(n), Some(m)) => format!("between {n} and {m} {what}"),
                    (None, None) => format!("any number of {what}"),
                };
                writeln!(
                    out,
                    "{pad}{} {} has {bound} {}.",
                    quant(*quantifier),
                    scope_text(scope),
                    window_text(window)
                )
            }
            Rule::Attendance {
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
            } => {
                let th: Vec<String> = thresholds
                    .iter()
                    .map(|t| match t.from {
                        Some(d) => format!("{}% from {d}", t.percent),
                        None => format!("{}%", t.percent),
                    })
                    .collect();
                let cmp = match compare {
                    Compare::Above => "above",
                    Compare::AtLeast => "at least",
                    Compare::Below => "below",
                };
                let who = match baseline_below {
                    Some(b) => format!(
                        "{} whose attendance over the {terms} complete terms before the case started was below {b}%",
                        scope_text(scope)
                    ),
                    None => scope_text(scope),
                };
                let level = if th.is_empty() {
                    String::new()
                } else {
                    format!(" {cmp} {}", th.join(", then "))
                };
                let mut s = format!(
                    "{pad}{} {who} has {} attendance{level} over the last {terms} consecutive complete school terms {} (education data{})",
                    quant(*quantifier),
                    if *average { "average" } else { "every term's" },
                    anchor_text(*anchor, Direction::Before),
                    if *exclude_authorised { "; authorised absence left out of the possible sessions" } else { "" }
                );
                let joint = if th.is_empty() { "" } else { " and" };
                if let Some(p) = improvement_points {
                    let _ = write!(s, ",{joint} improved by at least {p} percentage points on the same number of terms before the case started");
                }
                if let Some(p) = improvement_percent {
                    let _ = write!(s, ",{joint} improved by at least {p}% on the same number of terms before the case started");
                }
                if let Some(p) = absence_reduction_percent {
                    let _ = write!(s, ", and an absence rate at least {p}% lower than over the same number of terms before the case started");
                }
                if *absence_reduction_setting {
                    let p = fw.settings.significant_reduction_percent.unwrap_or(0.0);
                    let _ = write!(s, ", and an absence rate at least {p}% lower (the council's setting for a significant reduction) than over the same number of terms before the case started");
                }
                writeln!(out, "{s}.")
            }
            Rule::Reduction {
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
            } => {
                let what = if *sum_days {
                    format!("days of {}", kinds(events, codes))
                } else {
                    kinds(events, codes)
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
                    let _ = write!(s, " fall by at least {p}% (the council's setting for a significant reduction)");
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
            }
            Rule::Spell {
                events,
                codes,
                weeks,
                of_last_weeks,
                anchor,
                scope,
                quantifier,
            } => {
                let dur = match of_last_weeks {
                    Some(m) => format!("at least {weeks} of the last {m} weeks"),
                    None => format!("a continuous spell of at least {weeks} weeks"),
                };
                writeln!(
                    out,
                    "{pad}{} {} has {dur} of {} between the case start and {}.",
                    quant(*quantifier),
                    scope_text(scope),
                    kinds(events, codes),
                    anchor_name(*anchor)
                )
            }
            Rule::ClosedNotReopened {
                events,
                closure_codes,
                reopen,
                months,
                open_at_case_start,
                months_from,
                scope,
            } => {
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
                        kinds(events, closure_codes)
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
                        kinds(reopen, &[])
                    )
                }
            }
            Rule::Earnings {
                events,
                thresholds,
                weeks,
                of_last_weeks,
                anchor,
                scope,
                quantifier,
            } => {
                let th: Vec<String> = thresholds
                    .iter()
                    .map(|t| match (t.min_age, t.max_age) {
                        (Some(a), None) => format!("£{:.2} if aged {a} or over", t.pounds),
                        (None, Some(b)) => format!("£{:.2} if aged under {}", t.pounds, b + 1),
                        (Some(a), Some(b)) => format!("£{:.2} if aged {a} to {b}", t.pounds),
                        (None, None) => format!("£{:.2}", t.pounds),
                    })
                    .collect();
                writeln!(out, "{pad}{} {} has {} at or above {} in at least {weeks} of the last {of_last_weeks} weeks before {}.", quant(*quantifier), scope_text(scope), kinds(events, &[]), th.join(" or "), anchor_name(*anchor))
            }
            Rule::Regular {
                events,
                months,
                min_each,
                anchor,
                scope,
                quantifier,
            } => {
                writeln!(out, "{pad}{} {} has at least {min_each} {} in each of the {months} months before {}.", quant(*quantifier), scope_text(scope), kinds(events, &[]), anchor_name(*anchor))
            }
            Rule::ScoreReduction {
                events,
                high,
                percent,
                months,
                baseline_after_start,
                no_reassessment_passes,
                scope,
            } => {
                let what = kinds(events, &[]);
                writeln!(
                    out,
                    "{pad}{}: the {what} score at the case start{} is the starting score; one that started at {high} or above is below {high} throughout the {months} months up to the claim date{}, or one that started below {high} is at least {percent}% lower throughout those {months} months.",
                    scope_text(scope),
                    if *baseline_after_start { " (or, if none, the first one after it)" } else { "" },
                    if *no_reassessment_passes { format!(", or no {what} was needed in those {months} months") } else { String::new() }
                )
            }
            Rule::NoRepeat {
                events,
                codes,
                months,
                lookback_months,
                scope,
                quantifier,
            } => {
                let what = kinds(events, codes);
                writeln!(
                    out,
                    "{pad}{} {} whose first {what} falls between {lookback_months} months before the case start and the claim date has no further {what} in the {months} months after it.",
                    quant(*quantifier),
                    scope_text(scope),
                )
            }
            Rule::AllOf { rules } => {
                let _ = writeln!(out, "{pad}All of:");
                for r in rules {
                    r.explain_into(fw, depth + 1, out);
                }
                Ok(())
            }
            Rule::AnyOf { rules } => {
                let _ = writeln!(out, "{pad}Any of:");
                for r in rules {
                    r.explain_into(fw, depth + 1, out);
                }
                Ok(())
            }
            Rule::Attested {
                evidence,
                steps,
                min_steps,
                extra_steps,
                max_extra_steps,
                extra_steps_condition,
            } => {
                let mut s = format!("{pad}Practitioner-evidenced: recorded as attested on the keyworker's claim; never reported as data-verified");
                if !evidence.is_empty() {
                    let _ = write!(s, ". Evidence the plan expects: {}", evidence.join("; "));
                }
                if !steps.is_empty() {
                    let _ = write!(
                        s,
                        ". At least {} of these steps: {}",
                        min_steps.unwrap_or(1),
                        steps.join("; ")
                    );
                }
                if !extra_steps.is_empty() {
                    let _ = write!(
                        s,
                        ". {} of these may also count{}: {}",
                        match max_extra_steps {
                            Some(m) => format!("At most {m}"),
                            None => "Any".into(),
                        },
                        extra_steps_condition
                            .as_deref()
                            .map(|c| format!(" ({c})"))
                            .unwrap_or_default(),
                        extra_steps.join("; ")
                    );
                }
                writeln!(out, "{s}.")
            }
            Rule::Unavailable { reason } => writeln!(
                out,
                "{pad}Not verifiable: {reason}. Never reported as data-verified."
            ),
        };
    }
}

/// Event kinds a scope's conditions read.
fn scope_kinds(scope: &Scope) -> Vec<EventKind> {
    match scope {
        Scope::Met(c) | Scope::NotMet(c) => c.events.clone(),
        Scope::All(scopes) => scopes.iter().flat_map(scope_kinds).collect(),
        _ => vec![],
    }
}

fn quant(q: Quantifier) -> &'static str {
    match q {
        Quantifier::Each => "Every person in",
        Quantifier::Any => "At least one person in",
        Quantifier::Together => "Taken together,",
    }
}

/// "the adults who had benefit spell (jsa) when the case started".
fn condition_text(c: &Condition, verb: &str) -> String {
    let who = if c.adults_only {
        "adults"
    } else if c.children_only {
        "children"
    } else {
        "members"
    };
    let events: Vec<String> = c
        .events
        .iter()
        .map(|k| k.name().replace('_', " "))
        .collect();
    let codes = if c.codes.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.codes.join(", "))
    };
    let when = if c.months == 0 {
        "when the case started".to_string()
    } else {
        format!("in the {} months before the case started", c.months)
    };
    format!("the {who} who {verb} {}{codes} {when}", events.join(" or "))
}

pub fn scope_text(s: &Scope) -> String {
    match s {
        Scope::Family => "the family".into(),
        Scope::Children => "the family's children".into(),
        Scope::SchoolAge => "the family's school-age children".into(),
        Scope::Adults => "the family's adults".into(),
        Scope::Flagged => "the members flagged with this problem".into(),
        Scope::Household => "the household (members and people at their address)".into(),
        Scope::Met(c) => condition_text(c, "had"),
        Scope::NotMet(c) => condition_text(c, "did not have"),
        Scope::Ages { min, max } => format!("the members aged {min} to {max}"),
        Scope::YearGroups { min, max } => format!(
            "the members in school year groups {} to {}",
            year_group_name(*min),
            year_group_name(*max)
        ),
        Scope::All(scopes) => scopes
            .iter()
            .map(scope_text)
            .collect::<Vec<_>>()
            .join(" who are also "),
    }
}

fn year_group_name(g: u32) -> String {
    if g == 0 {
        "reception".into()
    } else {
        format!("year {g}")
    }
}

fn anchor_name(a: Anchor) -> &'static str {
    match a {
        Anchor::Claim => "the claim date",
        Anchor::CaseStart => "the case start",
        Anchor::CaseEnd => "the case closure",
    }
}

fn anchor_text(a: Anchor, d: Direction) -> String {
    match d {
        Direction::Before => format!("up to {}", anchor_name(a)),
        Direction::After => format!("after {}", anchor_name(a)),
    }
}

pub fn window_text(w: &Window) -> String {
    if let Some(since) = w.since {
        return format!(
            "between {} and {}",
            anchor_name(since),
            anchor_name(w.anchor)
        );
    }
    let len = match (w.months, w.weeks, w.days, w.terms) {
        (Some(m), ..) => format!("{m} months"),
        (_, Some(wk), ..) => format!("{wk} weeks"),
        (_, _, Some(d), _) => format!("{d} days"),
        (_, _, _, Some(t)) => format!("{t} school terms"),
        _ => "an empty window".into(),
    };
    match w.direction {
        Direction::Before => format!("in the {len} up to {}", anchor_name(w.anchor)),
        Direction::After => format!("in the {len} after {}", anchor_name(w.anchor)),
    }
}

/// Problems found while loading a framework.
#[derive(Debug, thiserror::Error)]
pub struct FrameworkError {
    pub path: PathBuf,
    pub issues: Vec<(Option<usize>, String)>,
}

impl std::fmt::Display for FrameworkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "framework {} is not valid:", self.path.display())?;
        for (line, msg) in &self.issues {
            match line {
                Some(l) => write!(f, "\n  {}:{l}: {msg}", self.path.display())?,
                None => write!(f, "\n  {}: {msg}", self.path.display())?,
            }
        }
        Ok(())
    }
}

impl Framework {
    pub fn load(path: &Path) -> Result<Framework, FrameworkError> {
        let text = std::fs::read_to_string(path).map_err(|e| FrameworkError {
            path: path.to_path_buf(),
            issues: vec![(None, format!("cannot read: {e}"))],
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Framework, FrameworkError> {
        let mut fw: Framework = toml::from_str(text).map_err(|e| FrameworkError {
            path: path.to_path_buf(),
            issues: vec![(
                e.span().map(|s| text[..s.start].matches('\n').count() + 1),
                e.message().to_string(),
            )],
        })?;
        fw.path = path.to_path_buf();
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(&format!("\"{needle}\"")))
                .map(|i| i + 1)
        };
        let mut issues = Vec::new();
        let problem_ids: Vec<&str> = fw.problems.iter().map(|p| p.id.as_str()).collect();
        let mut seen = std::collections::HashSet::new();
        for p in &fw.problems {
            if !seen.insert(p.id.clone()) {
                issues.push((
                    line_of(&p.id),
                    format!("problem id '{}' is used twice", p.id),
                ));
            }
            for i in &p.indicators {
                if !seen.insert(i.id.clone()) {
                    issues.push((line_of(&i.id), format!("id '{}' is used twice", i.id)));
                }
                check_rule(&i.rule, &fw, &i.id, &mut issues, &line_of);
            }
        }
        for o in &fw.outcomes {
            if !seen.insert(o.id.clone()) {
                issues.push((
                    line_of(&o.id),
                    format!("outcome id '{}' is used twice", o.id),
                ));
            }
            if !problem_ids.contains(&o.problem.as_str()) {
                issues.push((
                    line_of(&o.id),
                    format!("outcome {}: problem '{}' is not defined", o.id, o.problem),
                ));
            }
            for a in &o.also_evidences {
                if !problem_ids.contains(&a.as_str()) {
                    issues.push((
                        line_of(&o.id),
                        format!("outcome {}: also_evidences '{a}' is not a problem id", o.id),
                    ));
                }
            }
            if o.wording.trim().is_empty() {
                issues.push((
                    line_of(&o.id),
                    format!("outcome {}: wording is empty", o.id),
                ));
            }
            check_rule(&o.rule, &fw, &o.id, &mut issues, &line_of);
        }
        if !issues.is_empty() {
            return Err(FrameworkError {
                path: path.to_path_buf(),
                issues,
            });
        }
        Ok(fw)
    }

    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    pub fn problem(&self, id: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.id == id)
    }
}

include!(concat!(env!("OUT_DIR"), "/builtin_frameworks.rs"));

impl Framework {
    /// A shipped framework by id.
    pub fn builtin(id: &str) -> Option<Result<Framework, FrameworkError>> {
        BUILTIN
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(i, text)| Self::parse(Path::new(&format!("frameworks/{i}.toml")), text))
    }

    /// Every shipped framework.
    pub fn all_builtin() -> Vec<Framework> {
        BUILTIN
            .iter()
            .filter_map(|(i, _)| Self::builtin(i).and_then(Result::ok))
            .collect()
    }

    /// A file if `spec` names one, otherwise a shipped framework's id.
    pub fn resolve(spec: &Path) -> Result<Framework, FrameworkError> {
        if spec.is_file() {
            return Self::load(spec);
        }
        let id = spec.to_str().unwrap_or("");
        Self::builtin(id).unwrap_or_else(|| {
            Err(FrameworkError {
                path: spec.to_path_buf(),
                issues: vec![(
                    None,
                    format!(
                        "no such file, and not a shipped framework ({})",
                        BUILTIN
                            .iter()
                            .map(|(i, _)| *i)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )],
            })
        })
    }
}

fn check_window(w: &Window) -> Option<&'static str> {
    let n = [
        w.months.is_some(),
        w.weeks.is_some(),
        w.days.is_some(),
        w.terms.is_some(),
        w.since.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if w.since.is_some() && w.direction == Direction::After {
        return Some("a window with since runs up to its anchor; direction = after does not apply");
    }
    (n != 1).then_some("a window needs exactly one of months, weeks, days, terms or since")
}

fn check_rule(
    r: &Rule,
    fw: &Framework,
    id: &str,
    issues: &mut Vec<(Option<usize>, String)>,
    line_of: &dyn Fn(&str) -> Option<usize>,
) {
    let mut bad = |msg: String| issues.push((line_of(id), format!("{id}: {msg}")));
    let check_codes = |events: &[EventKind], codes: &[String], bad: &mut dyn FnMut(String)| {
        for c in codes {
            if !events.iter().any(|k| k.code_of(c).is_some()) {
                bad(format!(
                    "code '{c}' is not a code of {:?}",
                    events.iter().map(|k| k.name()).collect::<Vec<_>>()
                ));
            }
        }
    };
    fn check_scope(s: &Scope, bad: &mut dyn FnMut(String)) {
        match s {
            Scope::Met(c) | Scope::NotMet(c) => {
                if c.adults_only && c.children_only {
                    bad("a condition cannot be adults_only and children_only".into());
                }
                for code in &c.codes {
                    if !c.events.iter().any(|k| k.code_of(code).is_some()) {
                        bad(format!(
                            "code '{code}' is not a code of {:?}",
                            c.events.iter().map(|k| k.name()).collect::<Vec<_>>()
                        ));
                    }
                }
            }
            Scope::Ages { min, max } | Scope::YearGroups { min, max } if min > max => {
                bad("a scope's min is above its max".into())
            }
            Scope::All(scopes) => {
                if scopes.is_empty() {
                    bad("scope all needs scopes".into());
                }
                for x in scopes {
                    check_scope(x, bad);
                }
            }
            _ => {}
        }
    }
    match r {
        Rule::Count {
            events,
            codes,
            min,
            max,
            window,
            scope,
            ..
        } => {
            if events.is_empty() {
                bad("count needs events".into());
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    bad("min is above max".into());
                }
            }
            if min.is_none() && max.is_none() {
                bad("count needs min or max".into());
            }
            check_codes(events, codes, &mut bad);
            if let Some(m) = check_window(window) {
                bad(m.into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::Attendance {
            terms,
            thresholds,
            baseline_below,
            improvement_points,
            improvement_percent,
            absence_reduction_percent,
            absence_reduction_setting,
            scope,
            ..
        } => {
            let improves = improvement_points.is_some()
                || improvement_percent.is_some()
                || absence_reduction_percent.is_some()
                || *absence_reduction_setting;
            if *terms == 0 || (thresholds.is_empty() && !improves) {
                bad("attendance needs terms and at least one threshold (or an improvement)".into());
            }
            if *absence_reduction_setting && fw.settings.significant_reduction_percent.is_none() {
                bad(
                    "absence_reduction_setting needs [settings] significant_reduction_percent"
                        .into(),
                );
            }
            if absence_reduction_percent.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
                bad("absence_reduction_percent is a percentage".into());
            }
            if thresholds
                .iter()
                .map(|t| t.percent)
                .chain(*baseline_below)
                .any(|p| !(0.0..=100.0).contains(&p))
            {
                bad("attendance thresholds are percentages".into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::Reduction {
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
        } => {
            check_codes(events, codes, &mut bad);
            for w in [baseline, window] {
                if let Some(m) = check_window(w) {
                    bad(m.into());
                }
            }
            if percent.is_none()
                && !percent_setting
                && tiers.is_empty()
                && fewer_by.is_none()
                && !fewer
            {
                bad("reduction needs percent, percent_setting, tiers, fewer_by or fewer".into());
            }
            if *percent_setting && fw.settings.significant_reduction_percent.is_none() {
                bad("percent_setting needs [settings] significant_reduction_percent".into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::Spell {
            events,
            codes,
            weeks,
            of_last_weeks,
            scope,
            ..
        } => {
            check_codes(events, codes, &mut bad);
            if of_last_weeks.is_some_and(|m| m < *weeks) {
                bad("of_last_weeks is below weeks".into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::ClosedNotReopened {
            events,
            closure_codes,
            months_from,
            scope,
            ..
        } => {
            check_codes(events, closure_codes, &mut bad);
            let mut dates: Vec<_> = months_from.iter().map(|c| c.from).collect();
            dates.sort();
            dates.dedup();
            if dates.len() != months_from.len() {
                bad("months_from has two changes on the same date".into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::Earnings {
            thresholds,
            weeks,
            of_last_weeks,
            scope,
            ..
        } => {
            if thresholds.is_empty() || weeks > of_last_weeks {
                bad("earnings needs thresholds and weeks <= of_last_weeks".into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::Regular { months, scope, .. } => {
            if *months == 0 {
                bad("regular needs months".into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::ScoreReduction {
            events,
            percent,
            months,
            scope,
            ..
        } => {
            if events.is_empty() || *months == 0 || !(0.0..=100.0).contains(percent) {
                bad("score_reduction needs events, months and a percentage".into());
            }
            check_scope(scope, &mut bad);
        }
        Rule::NoRepeat {
            events,
            codes,
            months,
            scope,
            ..
        } => {
            if events.is_empty() || *months == 0 {
                bad("no_repeat needs events and months".into());
            }
            check_codes(events, codes, &mut bad);
            check_scope(scope, &mut bad);
        }
        Rule::AllOf { rules } | Rule::AnyOf { rules } => {
            if rules.is_empty() {
                bad("all_of / any_of need rules".into());
            }
            for r in rules {
                check_rule(r, fw, id, issues, line_of);
            }
        }
        Rule::Attested {
            steps,
            min_steps,
            extra_steps,
            max_extra_steps,
            ..
        } => {
            let usable = steps.len() as u32
                + (extra_steps.len() as u32).min(max_extra_steps.unwrap_or(u32::MAX));
            if min_steps.is_some_and(|m| m > usable) {
                bad("min_steps is more than the steps that can count".into());
            }
            if max_extra_steps.is_some() && extra_steps.is_empty() {
                bad("max_extra_steps needs extra_steps".into());
            }
        }
        Rule::Unavailable { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
[framework]
id = "mini"
council = "Test"
title = "Mini"
version = "1"

[[problems]]
id = "crime"
number = "1"
title = "Crime"

[[outcomes]]
id = "M-1"
problem = "crime"
wording = "No offending in 6 months"
sources = ["Police"]
[outcomes.rule]
type = "count"
events = ["offence"]
max = 0
window = { months = 6 }
scope = "flagged"
"#;

    #[test]
    fn loads_and_explains() {
        let fw = Framework::parse(Path::new("mini.toml"), MINI).unwrap();
        let o = fw.outcome("M-1").unwrap();
        assert_eq!(o.rule.class(), RuleClass::DataVerifiable);
        assert_eq!(o.rule.sources(), vec![SourceKind::Police]);
        let e = o.rule.explain(&fw);
        assert!(
            e.contains("no offence in the 6 months up to the claim date"),
            "{e}"
        );
    }

    #[test]
    fn unknown_event_kind_has_a_line() {
        let bad = MINI.replace("[\"offence\"]", "[\"offense\"]");
        let err = Framework::parse(Path::new("mini.toml"), &bad).unwrap_err();
        // serde reads a tagged rule whole, so the line is the rule's table.
        assert_eq!(err.issues[0].0, Some(18), "{err}");
        assert!(err.issues[0].1.contains("offense"), "{err}");
    }

    #[test]
    fn unknown_scope_and_window_key_are_errors() {
        let bad = MINI.replace("\"flagged\"", "\"cousins\"");
        assert!(Framework::parse(Path::new("m"), &bad).is_err());
        let bad = MINI.replace("months = 6", "fortnights = 6");
        assert!(Framework::parse(Path::new("m"), &bad).is_err());
    }

    #[test]
    fn extensions_are_validated_and_explained() {
        let with = |rule: &str| {
            MINI.replace("[outcomes.rule]\ntype = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 6 }\nscope = \"flagged\"\n", rule)
        };
        let ok = |rule: &str| {
            let fw =
                Framework::parse(Path::new("m"), &with(rule)).unwrap_or_else(|e| panic!("{e}"));
            fw.outcome("M-1").unwrap().rule.explain(&fw)
        };
        let err = |rule: &str| {
            Framework::parse(Path::new("m"), &with(rule))
                .unwrap_err()
                .to_string()
        };
        let e = ok("rule = { type = \"reduction\", events = [\"offence\"], baseline = { months = 6, anchor = \"case_start\" }, window = { since = \"case_start\" }, any_reduction = true }\n");
        assert!(
            e.contains("between the case start and the claim date"),
            "{e}"
        );
        assert!(e.contains("are fewer"), "{e}");
        assert!(err("rule = { type = \"count\", events = [\"offence\"], max = 0, window = { since = \"case_start\", months = 1 } }\n").contains("exactly one of"));
        assert!(err("rule = { type = \"count\", events = [\"offence\"], max = 0, window = { since = \"case_start\", direction = \"after\" } }\n").contains("direction = after does not apply"));
        let e = ok("rule = { type = \"attendance\", terms = 3, baseline_below = 40.0, improvement_points = 40.0 }\n");
        assert!(
            e.contains("was below 40% has average attendance over the last 3"),
            "{e}"
        );
        assert!(err("rule = { type = \"attendance\", terms = 3 }\n")
            .contains("threshold (or an improvement)"));
        let e = ok("rule = { type = \"count\", events = [\"offence\"], max = 0, window = { months = 1 }, scope = { all = [\"children\", { year_groups = { min = 0, max = 6 } }] } }\n");
        assert!(e.contains("the family's children who are also the members in school year groups reception to year 6"), "{e}");
        assert!(err("rule = { type = \"count\", events = [\"offence\"], max = 0, window = { months = 1 }, scope = { year_groups = { min = 7, max = 6 } } }\n").contains("min is above its max"));
        let e = ok("rule = { type = \"attested\", steps = [\"a\", \"b\"], min_steps = 2, extra_steps = [\"c\", \"d\"], max_extra_steps = 1, extra_steps_condition = \"where relevant\" }\n");
        assert!(e.contains("At least 2 of these steps: a; b. At most 1 of these may also count (where relevant): c; d."), "{e}");
        assert!(err("rule = { type = \"attested\", steps = [\"a\"], min_steps = 3, extra_steps = [\"c\", \"d\"], max_extra_steps = 1 }\n").contains("min_steps is more than"));
    }

    #[test]
    fn cross_references_are_checked_all_at_once() {
        let bad = MINI.replace(
            "problem = \"crime\"",
            "problem = \"crim\"\nalso_evidences = [\"nope\"]",
        );
        let err = Framework::parse(Path::new("m"), &bad).unwrap_err();
        assert_eq!(err.issues.len(), 2, "{err}");
        let bad = MINI.replace("max = 0", "max = 0\nmin = 3\ncodes = [\"caution\"]");
        let err = Framework::parse(Path::new("m"), &bad).unwrap_err();
        assert!(err.to_string().contains("min is above max"), "{err}");
        assert!(err.to_string().contains("code 'caution'"), "{err}");
    }

    #[test]
    fn new_vocabulary_is_checked_and_explained() {
        let with = |rule: &str| {
            MINI.replace("type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 6 }\nscope = \"flagged\"\n", rule)
        };
        // a window is one of months, weeks, days, terms or since
        let both = with("type = \"count\"\nevents = [\"offence\"]\nmin = 1\nwindow = { months = 3, since = \"case_start\" }\n");
        assert!(Framework::parse(Path::new("m"), &both).is_err());
        let since = with("type = \"count\"\nevents = [\"offence\"]\nmin = 1\nwindow = { since = \"case_start\" }\nscope = { not_met = { events = [\"benefit_spell\"], codes = [\"jsa\"], months = 0 } }\n");
        let fw = Framework::parse(Path::new("m"), &since).unwrap_or_else(|e| panic!("{e}"));
        let e = fw.outcomes[0].rule.explain(&fw);
        assert!(
            e.contains("between the case start and the claim date"),
            "{e}"
        );
        assert!(e.contains("did not have benefit spell (jsa)"), "{e}");
        assert_eq!(
            fw.outcomes[0].rule.sources(),
            vec![SourceKind::Police, SourceKind::Dwp]
        );
        // settings-driven keys need the setting
        let abs = with(
            "type = \"attendance\"\nterms = 2\nthresholds = []\nabsence_reduction_setting = true\n",
        );
        let err = Framework::parse(Path::new("m"), &abs).unwrap_err();
        assert!(
            err.to_string().contains("significant_reduction_percent"),
            "{err}"
        );
        let no_th = with("type = \"attendance\"\nterms = 2\nthresholds = []\n");
        assert!(Framework::parse(Path::new("m"), &no_th).is_err());
        let nr = with("type = \"no_repeat\"\nevents = [\"marac_referral\"]\nmonths = 3\n");
        let fw = Framework::parse(Path::new("m"), &nr).unwrap_or_else(|e| panic!("{e}"));
        let e = fw.outcomes[0].rule.explain(&fw);
        assert!(
            e.contains("first marac referral falls between 12 months before the case start"),
            "{e}"
        );
        let bad = with("type = \"no_repeat\"\nevents = [\"marac_referral\"]\nmonths = 0\n");
        assert!(Framework::parse(Path::new("m"), &bad).is_err());
    }
}

#[cfg(test)]
mod vocabulary {
    use super::*;

    fn with_rule(rule: &str) -> Result<Framework, FrameworkError> {
        let text = format!(
            "[framework]\nid = \"v\"\ncouncil = \"T\"\ntitle = \"T\"\nversion = \"1\"\n\n[[problems]]\nid = \"p\"\nnumber = \"1\"\ntitle = \"P\"\n\n[[outcomes]]\nid = \"V-1\"\nproblem = \"p\"\nwording = \"w\"\n[outcomes.rule]\n{rule}"
        );
        Framework::parse(Path::new("v.toml"), &text)
    }

    #[test]
    fn reduction_options_load_and_explain() {
        let fw = with_rule("type = \"reduction\"\nevents = [\"suspension\"]\nsum_days = true\nfewer_by = 1\npro_rata = true\nskip_empty_baseline = true\nbaseline = { terms = 2, anchor = \"case_start\" }\nwindow = { terms = 2 }\n").unwrap_or_else(|e| panic!("{e}"));
        let e = fw.outcomes[0].rule.explain(&fw);
        assert!(e.contains("days of suspension"), "{e}");
        assert!(e.contains("fall by at least 1"), "{e}");
        assert!(e.contains("rates are compared"), "{e}");
        assert!(e.contains("out of scope"), "{e}");
        // fewer_by alone is a reduction's measure; nothing at all is not
        let err = with_rule("type = \"reduction\"\nevents = [\"arrest\"]\nbaseline = { months = 12 }\nwindow = { months = 6 }\n").unwrap_err();
        assert!(err.to_string().contains("fewer_by"), "{err}");
    }

    #[test]
    fn closed_and_attendance_and_condition_options() {
        let fw = with_rule("type = \"closed_not_reopened\"\nevents = [\"child_protection\"]\nreopen = []\nmonths = 0\nopen_at_case_start = true\n").unwrap_or_else(|e| panic!("{e}"));
        let e = fw.outcomes[0].rule.explain(&fw);
        assert!(e.contains("closed by the claim date (for members with such an episode open when the case started)"), "{e}");
        let fw = with_rule("type = \"attendance\"\nterms = 2\nthresholds = [{ percent = 50.0 }]\nimprovement_percent = 30.0\nbaseline_below = 50.0\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(fw.outcomes[0].rule.explain(&fw).contains("below 50%"));
        assert!(with_rule("type = \"attendance\"\nterms = 2\nthresholds = [{ percent = 50.0 }]\nbaseline_below = 150.0\n").is_err());
        let fw = with_rule("type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 6 }\nscope = { met = { events = [\"arrest\"], months = 12, children_only = true } }\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(fw.outcomes[0]
            .rule
            .explain(&fw)
            .contains("the children who had arrest"));
        let err = with_rule("type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { months = 6 }\nscope = { met = { events = [\"arrest\"], months = 12, children_only = true, adults_only = true } }\n").unwrap_err();
        assert!(err.to_string().contains("children_only"), "{err}");
    }
}

#[cfg(test)]
mod vocabulary_dated {
    use super::*;

    fn rule(text: &str) -> Rule {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn fw_with(rule_text: &str) -> Result<Framework, FrameworkError> {
        let text = format!(
            "[framework]\nid = \"v\"\ncouncil = \"T\"\ntitle = \"T\"\nversion = \"1\"\n\n[[problems]]\nid = \"p\"\nnumber = \"1\"\ntitle = \"P\"\n\n[[outcomes]]\nid = \"V-1\"\nproblem = \"p\"\nwording = \"w\"\n[outcomes.rule]\n{rule_text}"
        );
        Framework::parse(Path::new("v.toml"), &text)
    }

    #[test]
    fn since_window_parses_validates_and_explains() {
        let fw = fw_with(
            "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { since = \"case_start\" }\nscope = \"adults\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = fw.outcome("V-1").unwrap().rule.explain(&fw);
        assert!(
            e.contains("no offence between the case start and the claim date"),
            "{e}"
        );
        // `since` is one of the window's lengths: not with months, not after.
        let err = fw_with(
            "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { since = \"case_start\", months = 6 }\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("exactly one of"), "{err}");
        let err = fw_with(
            "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = { since = \"case_start\", direction = \"after\" }\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("since"), "{err}");
    }

    #[test]
    fn months_in_force_follows_the_claim_date() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let changes = [DatedMonths {
            from: d("2019-01-01"),
            months: 6,
        }];
        assert_eq!(months_in_force(12, &changes, d("2018-12-31")), 12);
        assert_eq!(months_in_force(12, &changes, d("2019-01-01")), 6);
        assert_eq!(months_in_force(12, &[], d("2019-06-01")), 12);
        let two = [
            DatedMonths {
                from: d("2020-01-01"),
                months: 3,
            },
            DatedMonths {
                from: d("2019-01-01"),
                months: 6,
            },
        ];
        assert_eq!(months_in_force(12, &two, d("2019-06-01")), 6);
        assert_eq!(months_in_force(12, &two, d("2020-06-01")), 3);
    }

    #[test]
    fn months_from_parses_validates_and_explains() {
        let text = "type = \"closed_not_reopened\"\nevents = [\"child_protection\"]\nreopen = [\"referral\"]\nmonths = 12\nmonths_from = [{ from = \"2019-01-01\", months = 6 }]\nscope = \"children\"\n";
        let fw = fw_with(text).unwrap_or_else(|e| panic!("{e}"));
        let e = fw.outcome("V-1").unwrap().rule.explain(&fw);
        assert!(
            e.contains(
                "in the 12 months (6 months for claims made from 2019-01-01) after it closed"
            ),
            "{e}"
        );
        let dup = text.replace(
            "[{ from = \"2019-01-01\", months = 6 }]",
            "[{ from = \"2019-01-01\", months = 6 }, { from = \"2019-01-01\", months = 3 }]",
        );
        let err = fw_with(&dup).unwrap_err();
        assert!(err.to_string().contains("same date"), "{err}");
        // an unknown key inside a change is an error, not ignored
        assert!(fw_with(&text.replace("months = 6 }", "monts = 6 }")).is_err());
    }

    #[test]
    fn reduction_fewer_is_enough_on_its_own() {
        let r = rule("type = \"reduction\"\nevents = [\"domestic_incident\"]\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { months = 6 }\nfewer = true\n");
        assert!(matches!(r, Rule::Reduction { fewer: true, .. }));
        let fw = fw_with("type = \"reduction\"\nevents = [\"domestic_incident\"]\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { months = 6 }\nfewer = true\n").unwrap_or_else(|e| panic!("{e}"));
        let e = fw.outcome("V-1").unwrap().rule.explain(&fw);
        assert!(e.contains("are fewer"), "{e}");
        let err = fw_with("type = \"reduction\"\nevents = [\"domestic_incident\"]\nbaseline = { months = 6, anchor = \"case_start\" }\nwindow = { months = 6 }\n").unwrap_err();
        assert!(err.to_string().contains("or fewer"), "{err}");
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    #[test]
    fn every_shipped_framework_loads() {
        for (id, _) in BUILTIN {
            let fw = Framework::builtin(id)
                .unwrap()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&fw.framework.id, id);
        }
    }

    #[test]
    fn south_tyneside_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks/south-tyneside.toml");
        let fw = Framework::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fw.problems.len(), 10);
        assert_eq!(fw.outcomes.len(), 34);
        assert!(fw.outcomes.iter().all(|o| o.id.starts_with("STY-")));
    }

    #[test]
    fn bristol_loads() {
        let fw = Framework::builtin("bristol")
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fw.problems.len(), 9);
        assert_eq!(fw.outcomes.len(), 37);
    }

    #[test]
    fn cumbria_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks/cumbria.toml");
        let fw = Framework::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fw.problems.len(), 6);
        assert_eq!(fw.outcomes.len(), 34);
    }

    #[test]
    fn sunderland_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks/sunderland.toml");
        let fw = Framework::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fw.problems.len(), 6);
        assert_eq!(fw.outcomes.len(), 26);
    }
}
