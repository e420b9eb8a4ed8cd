//! Framework scenarios: a council's framework tests as data.
//!
//! In: a scenario file (TOML, format in `docs/frameworks.md`, "Writing a
//! framework") naming a framework, family templates, framework-wide checks
//! and scenarios: a family, events with dates, coverage, a claim and the
//! verdict (and evidence) expected, in steps that add data and decide again.
//! Out: a [`Report`] with one [`ScenarioResult`] per scenario and per check,
//! each listing its failed expectations by scenario name and step.
//!
//! Promises:
//! * every key is checked: an unknown key, event kind, code, number name,
//!   member handle, family, outcome or indicator is a [`ScenarioError`] with
//!   the file and line, before anything is decided;
//! * claims are decided through the same public calls the daemon uses
//!   ([`decide`], [`check_indicators`]), so a passing scenario is what the
//!   daemon would decide on the same data;
//! * each data-verifiable outcome must be verified (or, with an attested
//!   part, attested), contradicted and left insufficient by some scenario,
//!   and every attested or unavailable outcome is never verified.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::framework::{Framework, Rule, RuleClass, Settings};
use crate::records::{Event, EventKind, Period, Role, SourceKind};
use crate::store::{CaseMember, CaseRecord};
mod checks;
mod run;

pub use run::event;

use crate::triangulate::{
    check_indicators, decide_as_of, pseudonym, CaseData, Decision, Member, Verdict,
};

/// Decides a scenario's claim as of the day the analyst runs the file: the
/// runner is a command, so it reads the clock, and the engine is given it.
fn decide(
    fw: &Framework,
    data: &CaseData,
    rule: &Rule,
    problem: &str,
    claim: NaiveDate,
) -> Decision {
    decide_as_of(
        fw,
        data,
        rule,
        problem,
        claim,
        chrono::Utc::now().date_naive(),
    )
}

/// A scenario file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The framework's id (`[framework] id`): the file is checked against it.
    pub framework: String,
    /// The claim date of every scenario that names none.
    #[serde(default)]
    pub claim: Option<NaiveDate>,
    /// Family templates by name.
    #[serde(default)]
    pub family: BTreeMap<String, FamilySpec>,
    #[serde(default)]
    pub checks: Checks,
    #[serde(default, rename = "scenario")]
    pub scenarios: Vec<Scenario>,
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(skip)]
    text: String,
}

/// A family: the case, its members and whatever the sources hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilySpec {
    #[serde(default)]
    pub start: Option<NaiveDate>,
    /// The case's closure date.
    #[serde(default)]
    pub end: Option<NaiveDate>,
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    #[serde(default)]
    pub household: Vec<HouseholdSpec>,
    #[serde(default)]
    pub coverage: Option<Coverage>,
    #[serde(default)]
    pub events: Vec<EventSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// The handle events name, e.g. `mum`.
    pub name: String,
    pub role: Role,
    /// Month of birth, `YYYY-MM`.
    pub birth: String,
    #[serde(default)]
    pub problems: Vec<String>,
}

/// Someone at the family's address who is not a case member.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdSpec {
    pub name: String,
    pub birth: String,
}

/// `"all"`: every source covers 2000..2030; or periods per source.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Coverage {
    All(AllWord),
    Sources(BTreeMap<SourceKind, Vec<PeriodText>>),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllWord {
    All,
}

/// A period written `FROM..TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodText(pub Period);

impl<'de> Deserialize<'de> for PeriodText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Period::parse(&s)
            .map(PeriodText)
            .ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not a period FROM..TO")))
    }
}

/// One or several texts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Texts {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Texts {
    fn list(&self) -> Vec<&str> {
        match self {
            Texts::None => vec![],
            Texts::One(s) => vec![s.as_str()],
            Texts::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// One partner event, its numbers named by meaning.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// A member's or household member's handle.
    pub who: String,
    pub kind: EventKind,
    pub date: NaiveDate,
    /// A spell's last day (open if absent).
    #[serde(default)]
    pub end: Option<NaiveDate>,
    #[serde(default)]
    pub code: Option<String>,
    /// Attendance: sessions possible, attended, absent authorised and
    /// unauthorised.
    #[serde(default)]
    pub possible: Option<i32>,
    #[serde(default)]
    pub attended: Option<i32>,
    #[serde(default)]
    pub authorised: Option<i32>,
    #[serde(default)]
    pub unauthorised: Option<i32>,
    /// Suspension: days lost.
    #[serde(default)]
    pub days: Option<i32>,
    /// UC earnings: pence in the assessment period.
    #[serde(default)]
    pub pence: Option<i32>,
    /// DASH assessment: the score.
    #[serde(default)]
    pub score: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// A family template to start from.
    #[serde(default)]
    pub family: Option<String>,
    /// The case start, when no template gives one (or to change it).
    #[serde(default)]
    pub start: Option<NaiveDate>,
    /// The outcome every step decides unless it names another.
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub claim: Option<NaiveDate>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

/// Data added to the family, then a decision and what is expected of it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    // --- data added (kept for later steps) ---
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    #[serde(default)]
    pub household: Vec<HouseholdSpec>,
    #[serde(default)]
    pub coverage: Option<Coverage>,
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Closes the case on this date.
    #[serde(default)]
    pub end: Option<NaiveDate>,
    // --- this step's decision ---
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub claim: Option<NaiveDate>,
    /// Decide only this part (from 0) of an `all_of` / `any_of` outcome;
    /// every expectation then applies to the part.
    #[serde(default)]
    pub part: Option<usize>,
    /// Framework settings changed for this step only.
    #[serde(default)]
    pub settings: Option<Settings>,
    // --- expectations ---
    #[serde(default)]
    pub expect: Option<Verdict>,
    /// The verdict must not be this.
    #[serde(default)]
    pub not: Option<Verdict>,
    /// Verdicts of the first parts of an `all_of` / `any_of`, each decided
    /// on its own.
    #[serde(default)]
    pub parts: Vec<Verdict>,
    /// The first evidence's dates, exactly.
    #[serde(default)]
    pub dates: Option<Vec<NaiveDate>>,
    /// Dates among the first evidence's dates.
    #[serde(default)]
    pub dates_include: Vec<NaiveDate>,
    /// Texts in the first evidence's finding (`{handle}` is the member's
    /// number, so `p{mum}` is her pseudonym) ...
    #[serde(default)]
    pub finding: Texts,
    /// ... a text it starts with ...
    #[serde(default)]
    pub finding_starts: Option<String>,
    /// ... texts not in it ...
    #[serde(default)]
    pub finding_not: Texts,
    /// ... and texts in some evidence's finding.
    #[serde(default)]
    pub any_finding: Texts,
    /// The first evidence's persons in scope, by handle.
    #[serde(default)]
    pub persons: Option<Vec<String>>,
    /// How many persons the first evidence has in scope.
    #[serde(default)]
    pub persons_count: Option<usize>,
    /// Some evidence counted exactly this.
    #[serde(default)]
    pub any_count: Option<i64>,
    /// The first evidence's window.
    #[serde(default)]
    pub window: Option<PeriodText>,
    /// The periods the sources did not cover, exactly.
    #[serde(default)]
    pub missing: Option<Vec<PeriodText>>,
    /// Periods among those not covered.
    #[serde(default)]
    pub missing_includes: Vec<PeriodText>,
    /// The earliest decidable date is on or after this.
    #[serde(default)]
    pub earliest_decidable_from: Option<NaiveDate>,
    #[serde(default)]
    pub not_applicable: Option<bool>,
    /// Eligibility indicators checked at the case start, by id.
    #[serde(default)]
    pub indicators: BTreeMap<String, Verdict>,
    // --- claimability under the framework's `[claim]` rule ---
    /// Claims the family has made (kept for later steps), each decided on
    /// the step's data when claimability is expected.
    #[serde(default)]
    pub claims: Vec<ClaimSpec>,
    /// Whether the family is claimable ...
    #[serde(default)]
    pub claimable: Option<bool>,
    /// ... and exactly which of the rule's conditions fail, by id.
    #[serde(default)]
    pub claim_fails: Option<Vec<String>>,
}

/// A claim the family has made: an outcome, dated (by default) like the
/// step's decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    pub outcome: String,
    #[serde(default)]
    pub claim: Option<NaiveDate>,
}

impl Step {
    fn decides_claimability(&self) -> bool {
        self.claimable.is_some() || self.claim_fails.is_some()
    }

    fn decides_outcome(&self) -> bool {
        self.expect.is_some()
            || self.not.is_some()
            || !self.parts.is_empty()
            || self.dates.is_some()
            || !self.dates_include.is_empty()
            || !matches!(self.finding, Texts::None)
            || !matches!(self.finding_not, Texts::None)
            || self.finding_starts.is_some()
            || !matches!(self.any_finding, Texts::None)
            || self.persons.is_some()
            || self.persons_count.is_some()
            || self.any_count.is_some()
            || self.window.is_some()
            || self.missing.is_some()
            || !self.missing_includes.is_empty()
            || self.earliest_decidable_from.is_some()
            || self.not_applicable.is_some()
    }
}

/// Checks on the framework as a whole.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// The file tests only some outcomes: skip the check that every
    /// data-verifiable outcome is verified, contradicted and insufficient.
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub version: Option<String>,
    /// How many problems, or their ids in order.
    #[serde(default)]
    pub problems: Option<usize>,
    #[serde(default)]
    pub problem_ids: Option<Vec<String>>,
    #[serde(default)]
    pub outcomes: Option<usize>,
    #[serde(default)]
    pub indicators: Option<usize>,
    #[serde(default)]
    pub indicators_per_problem: Option<Vec<usize>>,
    #[serde(default)]
    pub outcomes_per_problem: Option<Vec<usize>>,
    /// How many outcomes are data-verifiable.
    #[serde(default)]
    pub data_verifiable: Option<usize>,
    /// Every outcome id starts with this.
    #[serde(default)]
    pub id_prefix: Option<String>,
    #[serde(default)]
    pub outcomes_name_sources: bool,
    #[serde(default)]
    pub problems_have_indicators_and_outcomes: bool,
    /// Every outcome has an indicator whose id is the outcome's with
    /// `replace` replaced by `with`.
    #[serde(default)]
    pub indicator_per_outcome: Option<Rename>,
    #[serde(default)]
    pub significant_reduction_percent: Option<f64>,
    /// Every rule reading the council's "significant reduction" setting
    /// says so in its outcome's interpretation.
    #[serde(default)]
    pub setting_readers_interpret: bool,
    #[serde(default)]
    pub explain: Vec<ExplainCheck>,
    #[serde(default)]
    pub attested_steps: Vec<StepsCheck>,
    #[serde(default)]
    pub never_verified: Option<NeverVerified>,
    #[serde(default)]
    pub partly_attested: Option<PartlyAttested>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub replace: String,
    pub with: String,
}

/// An outcome's plain-English rule contains these texts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainCheck {
    pub outcome: String,
    #[serde(default)]
    pub settings: Option<Settings>,
    pub contains: Texts,
}

/// An attested rule's steps to success.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepsCheck {
    pub outcome: String,
    pub steps: usize,
    #[serde(default)]
    pub min_steps: Option<u32>,
    #[serde(default)]
    pub extra_steps: usize,
    #[serde(default)]
    pub max_extra_steps: Option<u32>,
    #[serde(default)]
    pub step_contains: Option<String>,
}

/// Every attested or unavailable outcome comes out attested on each of
/// these families at each of these claim dates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeverVerified {
    pub families: Vec<String>,
    #[serde(default)]
    pub claims: Vec<NaiveDate>,
    /// The outcomes that are attested or unavailable, exactly ...
    #[serde(default)]
    pub outcomes: Option<Vec<String>>,
    /// ... or how many there are.
    #[serde(default)]
    pub count: Option<usize>,
}

/// Every `all_of` with an attested part comes out attested on this family.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartlyAttested {
    pub family: String,
    #[serde(default)]
    pub claim: Option<NaiveDate>,
    pub outcomes: Vec<String>,
}

/// Problems found while loading a scenario file.
pub type ScenarioError = crate::error::InvalidFile;

/// The outcome of one scenario (or one framework check).
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: String,
    /// Expectations checked.
    pub checks: usize,
    /// Each failed expectation, naming its step.
    pub failures: Vec<String>,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<ScenarioResult>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.results.iter().all(ScenarioResult::passed)
    }
    pub fn checks(&self) -> usize {
        self.results.iter().map(|r| r.checks).sum()
    }
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| !r.passed()).count()
    }
}

const ALL_FROM: &str = "2000-01-01";
const ALL_TO: &str = "2030-12-31";

impl ScenarioFile {
    pub fn load(path: &Path) -> Result<ScenarioFile, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            noun: "scenario file",
            path: path.to_path_buf(),
            issues: vec![(None, format!("cannot read: {e}"))],
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
        let mut file: ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError {
            noun: "scenario file",
            path: path.to_path_buf(),
            issues: vec![(
                e.span().map(|s| crate::error::line_of(text, s.start)),
                e.message().to_string(),
            )],
        })?;
        file.path = path.to_path_buf();
        file.text = text.to_string();
        Ok(file)
    }

    /// The line that first quotes `needle`, for messages.
    fn line_of(&self, needle: &str) -> Option<usize> {
        let quoted = format!("\"{needle}\"");
        self.text
            .lines()
            .position(|l| l.contains(&quoted))
            .map(|i| i + 1)
    }

    /// Checks every reference against `fw` before anything is decided.
    pub fn validate(&self, fw: &Framework) -> Result<(), ScenarioError> {
        let mut issues = Vec::new();
        if fw.framework.id != self.framework {
            issues.push((
                self.line_of(&self.framework),
                format!(
                    "the scenarios are for framework '{}', not '{}'",
                    self.framework, fw.framework.id
                ),
            ));
        }
        for (name, fam) in &self.family {
            let mut handles = Vec::new();
            let line = self
                .text
                .lines()
                .position(|l| l.trim() == format!("[family.{name}]"))
                .map(|i| i + 1);
            let mut bad = |m: String| issues.push((line, format!("family {name}: {m}")));
            if fam.start.is_none() {
                bad("has no start".into());
            }
            check_data(
                &mut handles,
                &fam.members,
                &fam.household,
                &fam.events,
                &mut bad,
            );
        }
        let mut names = std::collections::HashSet::new();
        for sc in &self.scenarios {
            for m in self.validate_scenario(fw, sc, &mut names) {
                let line = self.event_line(sc, &m).or_else(|| self.line_of(&sc.name));
                issues.push((line, format!("scenario {}: {m}", sc.name)));
            }
        }
        if let Some(nv) = &self.checks.never_verified {
            for f in &nv.families {
                if !self.family.contains_key(f) {
                    issues.push((self.line_of(f), format!("never_verified: no family '{f}'")));
                }
            }
            if nv.claims.is_empty() && self.claim.is_none() {
                issues.push((None, "never_verified: no claim date".into()));
            }
        }
        if let Some(pa) = &self.checks.partly_attested {
            if !self.family.contains_key(&pa.family) {
                issues.push((
                    self.line_of(&pa.family),
                    format!("partly_attested: no family '{}'", pa.family),
                ));
            }
            if pa.claim.or(self.claim).is_none() {
                issues.push((None, "partly_attested: no claim date".into()));
            }
        }
        for e in &self.checks.explain {
            if fw.outcome(&e.outcome).is_none() {
                issues.push((
                    self.line_of(&e.outcome),
                    format!("explain: outcome '{}' is not in the framework", e.outcome),
                ));
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError {
                noun: "scenario file",
                path: self.path.clone(),
                issues,
            })
        }
    }

    /// The line of the event a message is about (`event KIND on DATE`),
    /// searched from the scenario's name on.
    fn event_line(&self, sc: &Scenario, msg: &str) -> Option<usize> {
        let rest = &msg[msg.find("event ")? + 6..];
        let (kind, rest) = rest.split_once(" on ")?;
        let date = rest.get(..10)?;
        let from = self.line_of(&sc.name)?;
        let (k, d) = (format!("kind = \"{kind}\""), format!("date = \"{date}\""));
        self.text
            .lines()
            .enumerate()
            .skip(from)
            .find(|(_, l)| l.contains(&k) && l.contains(&d))
            .map(|(i, _)| i + 1)
    }

    /// One scenario's bad references, as messages.
    fn validate_scenario<'a>(
        &self,
        fw: &Framework,
        sc: &'a Scenario,
        names: &mut std::collections::HashSet<&'a str>,
    ) -> Vec<String> {
        let mut bad_msgs = Vec::new();
        let mut bad = |m: String| bad_msgs.push(m);
        if !names.insert(sc.name.as_str()) {
            bad("the name is used twice".into());
        }
        let mut handles = Vec::new();
        match (&sc.family, sc.start) {
            (Some(f), _) => match self.family.get(f) {
                Some(fam) => check_data(&mut handles, &fam.members, &fam.household, &[], &mut bad),
                None => bad(format!("no family template '{f}'")),
            },
            (None, None) => bad("names neither a family nor a start".into()),
            (None, Some(_)) => {}
        }
        if sc.steps.is_empty() {
            bad("has no steps".into());
        }
        for (i, st) in sc.steps.iter().enumerate() {
            let mut bad_step = |m: String| bad(format!("step {}: {m}", i + 1));
            check_data(
                &mut handles,
                &st.members,
                &st.household,
                &st.events,
                &mut bad_step,
            );
            if let Some(ps) = &st.persons {
                for p in ps {
                    if !handles.contains(p) {
                        bad_step(format!("persons: no member '{p}'"));
                    }
                }
            }
            if st.decides_outcome() {
                match st.outcome.as_ref().or(sc.outcome.as_ref()) {
                    None => bad_step("expects a decision but names no outcome".into()),
                    Some(o) => match fw.outcome(o) {
                        None => bad_step(format!("outcome '{o}' is not in the framework")),
                        Some(out) if !st.parts.is_empty() || st.part.is_some() => {
                            let n = match &out.rule {
                                Rule::AllOf(crate::triangulate::rules::AllOf { rules })
                                | Rule::AnyOf(crate::triangulate::rules::AnyOf { rules }) => {
                                    rules.len()
                                }
                                _ => 0,
                            };
                            if st.parts.len() > n || st.part.is_some_and(|p| p >= n) {
                                bad_step(format!("outcome '{o}' has {n} parts"));
                            }
                        }
                        Some(_) => {}
                    },
                }
                if st.claim.or(sc.claim).or(self.claim).is_none() {
                    bad_step("names no claim date".into());
                }
            }
            let known: Vec<&str> = fw
                .problems
                .iter()
                .flat_map(|p| p.indicators.iter().map(|i| i.id.as_str()))
                .collect();
            for id in st.indicators.keys() {
                if !known.contains(&id.as_str()) {
                    bad_step(format!("indicator '{id}' is not in the framework"));
                }
            }
            for c in &st.claims {
                if fw.outcome(&c.outcome).is_none() {
                    bad_step(format!("claim of '{}': not in the framework", c.outcome));
                }
                if c.claim.or(st.claim).or(sc.claim).or(self.claim).is_none() {
                    bad_step(format!("claim of '{}': no claim date", c.outcome));
                }
            }
            for id in st.claim_fails.iter().flatten() {
                if !crate::triangulate::claim::CONDITIONS.contains(&id.as_str()) {
                    bad_step(format!(
                        "claim_fails: '{id}' is not a condition ({})",
                        crate::triangulate::claim::CONDITIONS.join(", ")
                    ));
                }
            }
            if !st.decides_outcome() && st.indicators.is_empty() && !st.decides_claimability() {
                bad_step("expects nothing".into());
            }
        }
        bad_msgs
    }
}

/// Records the handles `members` and `household` add, and reports bad
/// births, unknown handles, codes and numbers.
fn check_data(
    handles: &mut Vec<String>,
    members: &[MemberSpec],
    household: &[HouseholdSpec],
    events: &[EventSpec],
    bad: &mut dyn FnMut(String),
) {
    let births = members
        .iter()
        .map(|m| (&m.name, &m.birth))
        .chain(household.iter().map(|h| (&h.name, &h.birth)));
    for (name, birth) in births {
        if handles.contains(name) {
            bad(format!("member '{name}' is added twice"));
        }
        handles.push(name.clone());
        if parse_birth(birth).is_none() {
            bad(format!("member '{name}': birth '{birth}' is not YYYY-MM"));
        }
    }
    for e in events {
        if !handles.contains(&e.who) {
            bad(format!(
                "event {} on {}: no member '{}'",
                e.kind, e.date, e.who
            ));
        }
        if let Err(m) = event(e) {
            bad(format!("event {} on {}: {m}", e.kind, e.date));
        }
    }
}

fn parse_birth(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"framework = "sunderland"
claim = "2016-06-15"

[family.f]
start = "2015-06-01"
members = [{ name = "kid", role = "child", birth = "2007-09", problems = ["crime"] }]

[[scenario]]
name = "s"
outcome = "SUN-1.1"
family = "f"
[[scenario.step]]
coverage = "all"
expect = "verified"
"#;

    fn sunderland() -> Framework {
        Framework::builtin("sunderland").unwrap().unwrap()
    }

    fn spec(kind: EventKind) -> EventSpec {
        EventSpec {
            who: "kid".into(),
            kind,
            date: "2016-01-01".parse().unwrap(),
            end: None,
            code: None,
            possible: None,
            attended: None,
            authorised: None,
            unauthorised: None,
            days: None,
            pence: None,
            score: None,
        }
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let text = FILE.replace("expect = ", "expekt = ");
        let err = ScenarioFile::parse(Path::new("s.toml"), &text).unwrap_err();
        assert_eq!(err.issues[0].0, Some(14), "{err}");
        assert!(
            err.to_string()
                .contains("s.toml:14: unknown field `expekt`"),
            "{err}"
        );
    }

    #[test]
    fn every_bad_reference_is_reported_at_once() {
        let text = FILE
            .replace("birth = \"2007-09\"", "birth = \"2007-13\"")
            .replace("family = \"f\"", "family = \"g\"");
        let file = ScenarioFile::parse(Path::new("s.toml"), &text).unwrap();
        let err = file.validate(&sunderland()).unwrap_err();
        let msgs: Vec<&str> = err.issues.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].contains("birth '2007-13' is not YYYY-MM"),
            "{msgs:?}"
        );
        assert_eq!(err.issues[0].0, Some(4));
        assert!(msgs[1].contains("no family template 'g'"), "{msgs:?}");
        assert_eq!(err.issues[1].0, Some(9));
    }

    #[test]
    fn a_failed_expectation_names_its_step() {
        let file = ScenarioFile::parse(Path::new("s.toml"), FILE).unwrap();
        let report = file.run(&sunderland()).unwrap();
        assert!(report.results[0].passed(), "{report:?}");
        let text = FILE.replace("coverage = \"all\"\n", "");
        let file = ScenarioFile::parse(Path::new("s.toml"), &text).unwrap();
        let report = file.run(&sunderland()).unwrap();
        let r = &report.results[0];
        assert_eq!(r.checks, 1);
        assert!(
            r.failures[0].starts_with("step 1: expected verified, got insufficient"),
            "{r:?}"
        );
    }

    #[test]
    fn numbers_are_named_and_kept_where_the_kind_reads_them() {
        let mut a = spec(EventKind::Attendance);
        (a.possible, a.attended, a.authorised, a.unauthorised) =
            (Some(100), Some(90), Some(4), Some(6));
        assert_eq!(event(&a).unwrap().measure.raw(), [100, 90, 4, 6]);
        let mut s = spec(EventKind::Suspension);
        s.days = Some(3);
        assert_eq!(event(&s).unwrap().measure.raw(), [3, 0, 0, 0]);
        s.pence = Some(1);
        assert_eq!(event(&s).unwrap_err(), "suspension takes no `pence`");
        let mut b = spec(EventKind::BenefitSpell);
        assert!(event(&b).unwrap_err().contains("needs a code"));
        b.code = Some("esa".into());
        assert_eq!(
            event(&b).unwrap().code,
            EventKind::BenefitSpell.code_of("esa").unwrap()
        );
        let mut o = spec(EventKind::Offence);
        o.end = Some("2016-02-01".parse().unwrap());
        assert!(event(&o).unwrap_err().contains("not a spell"));
    }
}
