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
//!
//! Layout: this file holds the framework's types and the vocabulary rules
//! share (windows, scopes, quantifiers, thresholds); `load` parses and
//! cross-checks a file; `check` and `explain` hold the checks and phrases
//! every rule kind shares. The rule kinds themselves, each with its data,
//! checks, explanation and decision, are in `triangulate::rules`, re-exported
//! here as [`Rule`].

mod check;
pub(crate) mod explain;
mod load;

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::records::EventKind;

pub use crate::triangulate::rules::{Rule, RuleClass, RuleKind};
pub(crate) use check::{check_scope, check_window};
pub use explain::{scope_text, window_text};
pub use load::{FrameworkError, BUILTIN};

pub mod scenario;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    pub framework: Meta,
    #[serde(default)]
    pub settings: Settings,
    /// When a family is claimable (`[claim]`; default: every identified
    /// problem has a verified or attested outcome).
    #[serde(default)]
    pub claim: ClaimRule,
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

/// The framework's claim rule: when a family's outcomes make it claimable.
/// See `docs/frameworks.md`, "Claimability".
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRule {
    #[serde(default)]
    pub rule: ClaimRuleKind,
    /// Every successful outcome must be claimed at least this many months
    /// after the case closed (so the case must have closed).
    #[serde(default)]
    pub sustained_months_after_closure: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimRuleKind {
    /// Every problem on the case's latest delivery has a verified or
    /// attested outcome.
    #[default]
    EveryProblem,
    /// The 2022 national Supporting Families rule: needs under at least
    /// three headlines, every need any case delivery identified (later
    /// ones included) with a verified or attested outcome, and no
    /// continuous-employment route.
    #[serde(rename = "national_2022")]
    National2022,
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
    /// claiming JSA at the start (or, with `through_claim`, at any time from
    /// the condition's look-back to the claim date).
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
    /// Also count events after the case start, up to the claim date (e.g.
    /// "young people reported as missing previously": a child who goes
    /// missing during the case is one of them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub through_claim: bool,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SourceKind;
    use std::path::Path;

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
    use std::path::Path;

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
    use crate::triangulate::rules::{Fall, Reduction};
    use std::path::Path;

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
        assert!(matches!(
            r,
            Rule::Reduction(Reduction {
                fall: Some(Fall::Fewer),
                ..
            })
        ));
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
    use std::path::Path;

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
