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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::framework::{Framework, Rule, RuleClass, Settings};
use crate::records::{Event, EventKind, Period, Role, SourceKind};
use crate::store::{CaseMember, CaseRecord};
use crate::triangulate::{
    check_indicators, decide, pseudonym, CaseData, Decision, Member, Verdict,
};

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
}

impl Step {
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

/// Why a scenario file cannot be run: each issue with its line if known.
#[derive(Debug, thiserror::Error)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub issues: Vec<(Option<usize>, String)>,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "scenario file {} is not valid:", self.path.display())?;
        for (line, msg) in &self.issues {
            match line {
                Some(l) => write!(f, "\n  {}:{l}: {msg}", self.path.display())?,
                None => write!(f, "\n  {}: {msg}", self.path.display())?,
            }
        }
        Ok(())
    }
}

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
            path: path.to_path_buf(),
            issues: vec![(None, format!("cannot read: {e}"))],
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
        let mut file: ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError {
            path: path.to_path_buf(),
            issues: vec![(
                e.span().map(|s| text[..s.start].matches('\n').count() + 1),
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
            let mut bad =
                |m: String| issues.push((self.line_of(name), format!("family {name}: {m}")));
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
            let mut bad_msgs = Vec::new();
            let mut bad = |m: String| bad_msgs.push(m);
            if !names.insert(sc.name.as_str()) {
                bad("the name is used twice".into());
            }
            let mut handles = Vec::new();
            match (&sc.family, sc.start) {
                (Some(f), _) => match self.family.get(f) {
                    Some(fam) => {
                        check_data(&mut handles, &fam.members, &fam.household, &[], &mut bad)
                    }
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
                                    Rule::AllOf { rules } | Rule::AnyOf { rules } => rules.len(),
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
                if !st.decides_outcome() && st.indicators.is_empty() {
                    bad_step("expects nothing".into());
                }
            }
            for m in bad_msgs {
                issues.push((self.line_of(&sc.name), format!("scenario {}: {m}", sc.name)));
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
                path: self.path.clone(),
                issues,
            })
        }
    }

    /// Validates, then runs every scenario and check against `fw`.
    pub fn run(&self, fw: &Framework) -> Result<Report, ScenarioError> {
        self.validate(fw)?;
        let mut report = Report::default();
        for sc in &self.scenarios {
            report.results.push(self.run_scenario(fw, sc));
        }
        report.results.extend(self.run_checks(fw));
        report.results.push(self.coverage_check(fw));
        Ok(report)
    }

    fn family_case(&self, name: &str) -> Case {
        let fam = &self.family[name];
        let mut case = Case::new(fam.start.unwrap_or_default());
        case.add(
            &fam.members,
            &fam.household,
            fam.coverage.as_ref(),
            &fam.events,
            fam.end,
        );
        case
    }

    fn run_scenario(&self, fw: &Framework, sc: &Scenario) -> ScenarioResult {
        let mut case = match &sc.family {
            Some(f) => self.family_case(f),
            None => Case::new(sc.start.unwrap_or_default()),
        };
        if let Some(s) = sc.start {
            case.data.case.start = s;
        }
        let mut res = ScenarioResult {
            name: sc.name.clone(),
            checks: 0,
            failures: vec![],
        };
        for (i, st) in sc.steps.iter().enumerate() {
            case.add(
                &st.members,
                &st.household,
                st.coverage.as_ref(),
                &st.events,
                st.end,
            );
            let changed;
            let fw = match &st.settings {
                Some(s) => {
                    changed = with_settings(fw, s);
                    &changed
                }
                None => fw,
            };
            let mut fail = |m: String| res.failures.push(format!("step {}: {m}", i + 1));
            if st.decides_outcome() {
                // Validated: the outcome and the claim date exist.
                let id = st.outcome.as_ref().or(sc.outcome.as_ref());
                let claim = st.claim.or(sc.claim).or(self.claim);
                let (Some(o), Some(claim)) = (id.and_then(|id| fw.outcome(id)), claim) else {
                    fail("no outcome or claim date".into());
                    continue;
                };
                let rule = match (&o.rule, st.part) {
                    (Rule::AllOf { rules } | Rule::AnyOf { rules }, Some(p)) if p < rules.len() => {
                        &rules[p]
                    }
                    _ => &o.rule,
                };
                let dec = decide(fw, &case.data, rule, &o.problem, claim);
                let parts: Vec<Verdict> = match rule {
                    Rule::AllOf { rules } | Rule::AnyOf { rules } => rules
                        .iter()
                        .take(st.parts.len())
                        .map(|r| decide(fw, &case.data, r, &o.problem, claim).verdict)
                        .collect(),
                    _ => vec![],
                };
                res.checks += expect(st, &dec, &parts, &case.ids, &mut fail);
            }
            if !st.indicators.is_empty() {
                let results = check_indicators(fw, &case.data);
                for (id, want) in &st.indicators {
                    res.checks += 1;
                    match results.iter().find(|r| &r.indicator == id) {
                        Some(r) if r.verdict == *want => {}
                        Some(r) => fail(format!(
                            "indicator {id}: expected {want}, got {} ({})",
                            r.verdict, r.finding
                        )),
                        None => fail(format!(
                            "indicator {id}: not checked (is its problem flagged?)"
                        )),
                    }
                }
            }
        }
        res
    }

    /// Every data-verifiable outcome verified (or attested, or a part
    /// verified), contradicted and insufficient somewhere in the file.
    fn coverage_check(&self, fw: &Framework) -> ScenarioResult {
        let mut seen: HashMap<&str, [bool; 3]> = HashMap::new();
        for sc in &self.scenarios {
            for st in &sc.steps {
                let Some(id) = st.outcome.as_ref().or(sc.outcome.as_ref()) else {
                    continue;
                };
                let s = seen.entry(id.as_str()).or_default();
                let mut mark = |v: Verdict| match v {
                    Verdict::Verified | Verdict::Attested => s[0] = true,
                    Verdict::Contradicted => s[1] = true,
                    Verdict::Insufficient => s[2] = true,
                };
                if let Some(v) = st.expect {
                    mark(v);
                }
                // A part decided on its own counts: an outcome whose data is
                // only part of the claim is contradicted by that part.
                for v in &st.parts {
                    mark(*v);
                }
            }
        }
        let mut res = ScenarioResult {
            name: "every data-verifiable outcome verified, contradicted and insufficient".into(),
            checks: 0,
            failures: vec![],
        };
        for o in fw
            .outcomes
            .iter()
            .filter(|o| o.rule.class() == RuleClass::DataVerifiable)
        {
            res.checks += 1;
            let s = seen.get(o.id.as_str()).copied().unwrap_or_default();
            let lacking: Vec<&str> = ["verified", "contradicted", "insufficient"]
                .into_iter()
                .zip(s)
                .filter(|(_, had)| !had)
                .map(|(n, _)| n)
                .collect();
            if !lacking.is_empty() {
                res.failures.push(format!(
                    "{}: no scenario expects it {}",
                    o.id,
                    lacking.join(", ")
                ));
            }
        }
        res
    }
}

/// The framework with some settings changed (those the override sets).
fn with_settings(fw: &Framework, s: &Settings) -> Framework {
    let mut fw = fw.clone();
    if let Some(p) = s.significant_reduction_percent {
        fw.settings.significant_reduction_percent = Some(p);
    }
    fw
}

/// Checks one step's decision; returns how many expectations it checked.
fn expect(
    st: &Step,
    dec: &Decision,
    parts: &[Verdict],
    ids: &HashMap<String, u64>,
    fail: &mut dyn FnMut(String),
) -> usize {
    let mut n = 0;
    let mut check = |ok: bool, what: String| {
        n += 1;
        if !ok {
            fail(what);
        }
    };
    let first = dec.evidence.first();
    let summary = || {
        let findings: Vec<&str> = dec.evidence.iter().map(|e| e.finding.as_str()).collect();
        format!("{} ({})", dec.verdict, findings.join("; "))
    };
    let fill = |t: &str| {
        let mut t = t.to_string();
        for (h, id) in ids {
            t = t.replace(&format!("{{{h}}}"), &id.to_string());
        }
        t
    };
    if let Some(want) = st.expect {
        check(
            dec.verdict == want,
            format!("expected {want}, got {}", summary()),
        );
    }
    if let Some(not) = st.not {
        check(dec.verdict != not, format!("expected anything but {not}"));
    }
    for (i, want) in st.parts.iter().enumerate() {
        let got = parts.get(i);
        check(
            got == Some(want),
            format!("part {i}: expected {want}, got {got:?}"),
        );
    }
    let dates = first.map(|e| e.dates.clone()).unwrap_or_default();
    if let Some(want) = &st.dates {
        check(
            &dates == want,
            format!("expected evidence dates {want:?}, got {dates:?}"),
        );
    }
    for d in &st.dates_include {
        check(
            dates.contains(d),
            format!("expected evidence dates to include {d}, got {dates:?}"),
        );
    }
    let finding = first.map_or("", |e| e.finding.as_str());
    for t in st.finding.list() {
        let t = fill(t);
        check(
            finding.contains(&t),
            format!("expected the finding to contain '{t}', got '{finding}'"),
        );
    }
    if let Some(t) = &st.finding_starts {
        let t = fill(t);
        check(
            finding.starts_with(&t),
            format!("expected the finding to start with '{t}', got '{finding}'"),
        );
    }
    for t in st.finding_not.list() {
        let t = fill(t);
        check(
            !finding.contains(&t),
            format!("expected the finding not to contain '{t}', got '{finding}'"),
        );
    }
    for t in st.any_finding.list() {
        let t = fill(t);
        check(
            dec.evidence.iter().any(|e| e.finding.contains(&t)),
            format!("expected some finding to contain '{t}', got {}", summary()),
        );
    }
    let persons = first.map(|e| e.persons.clone()).unwrap_or_default();
    if let Some(want) = &st.persons {
        let want: Vec<String> = want
            .iter()
            .map(|h| ids.get(h).map_or_else(|| h.clone(), |id| pseudonym(*id)))
            .collect();
        check(
            persons == want,
            format!("expected persons {want:?}, got {persons:?}"),
        );
    }
    if let Some(want) = st.persons_count {
        check(
            persons.len() == want,
            format!("expected {want} persons in scope, got {persons:?}"),
        );
    }
    if let Some(want) = st.any_count {
        check(
            dec.evidence.iter().any(|e| e.count == Some(want)),
            format!("expected some evidence to count {want}"),
        );
    }
    if let Some(PeriodText(want)) = st.window {
        let got = first.and_then(|e| e.window);
        check(
            got == Some(want),
            format!("expected the window {want}, got {got:?}"),
        );
    }
    if let Some(want) = &st.missing {
        let want: Vec<Period> = want.iter().map(|p| p.0).collect();
        check(
            dec.missing == want,
            format!(
                "expected missing {}, got {}",
                periods(&want),
                periods(&dec.missing)
            ),
        );
    }
    for p in &st.missing_includes {
        check(
            dec.missing.contains(&p.0),
            format!(
                "expected missing to include {}, got {}",
                p.0,
                periods(&dec.missing)
            ),
        );
    }
    if let Some(from) = st.earliest_decidable_from {
        let got = dec.earliest_decidable;
        check(
            got.is_some_and(|d| d >= from),
            format!("expected the earliest decidable date on or after {from}, got {got:?}"),
        );
    }
    if let Some(want) = st.not_applicable {
        check(
            dec.not_applicable == want,
            format!("expected not_applicable = {want}"),
        );
    }
    n
}

fn periods(ps: &[Period]) -> String {
    let s: Vec<String> = ps.iter().map(Period::to_string).collect();
    format!("[{}]", s.join(", "))
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

/// The one place a scenario event becomes an [`Event`]: its code by name
/// and its numbers by meaning, each allowed only for the kinds that carry
/// it.
pub fn event(e: &EventSpec) -> Result<Event, String> {
    let code = match (e.kind.code_spec(), &e.code) {
        (None, Some(c)) => return Err(format!("{} takes no code (got '{c}')", e.kind)),
        (None, None) => 0,
        (Some(spec), None) if spec.required => {
            return Err(format!(
                "{} needs a code: {}",
                e.kind,
                spec.codes.join(", ")
            ))
        }
        (Some(_), None) => 0,
        (Some(spec), Some(c)) => e.kind.code_of(c).ok_or_else(|| {
            format!(
                "'{c}' is not a code of {} ({})",
                e.kind,
                spec.codes.join(", ")
            )
        })?,
    };
    let named = [
        ("possible", e.possible),
        ("attended", e.attended),
        ("authorised", e.authorised),
        ("unauthorised", e.unauthorised),
        ("days", e.days),
        ("pence", e.pence),
        ("score", e.score),
    ];
    // Where each kind keeps its numbers (see `Event::values`).
    let slots: &[&str] = match e.kind {
        EventKind::Attendance => &["possible", "attended", "authorised", "unauthorised"],
        EventKind::Suspension => &["days"],
        EventKind::UcEarnings => &["pence"],
        EventKind::DashAssessment => &["score"],
        _ => &[],
    };
    let mut values = [0; 4];
    for (name, v) in named {
        let Some(v) = v else { continue };
        match slots.iter().position(|s| *s == name) {
            Some(i) => values[i] = v,
            None => return Err(format!("{} takes no `{name}`", e.kind)),
        }
    }
    if e.end.is_some() && !e.kind.is_spell() {
        return Err(format!(
            "{} is a dated event, not a spell: it has no end",
            e.kind
        ));
    }
    Ok(Event {
        kind: e.kind,
        start: e.date,
        end: e.end,
        code,
        values,
    })
}

/// A case built from scenario data, with members' handles.
struct Case {
    data: CaseData,
    ids: HashMap<String, u64>,
}

impl Case {
    fn new(start: NaiveDate) -> Case {
        Case {
            data: CaseData {
                case: CaseRecord {
                    case_ref: "SF-T1".into(),
                    seq: 1,
                    start,
                    end: None,
                    members: vec![],
                },
                members: vec![],
                household: vec![],
                events: HashMap::new(),
                coverage: HashMap::new(),
            },
            ids: HashMap::new(),
        }
    }

    /// Adds data (validated beforehand, so nothing here can fail).
    fn add(
        &mut self,
        members: &[MemberSpec],
        household: &[HouseholdSpec],
        coverage: Option<&Coverage>,
        events: &[EventSpec],
        end: Option<NaiveDate>,
    ) {
        for m in members {
            // Members are numbered from 1 in the order they are added.
            let id = self.data.members.len() as u64 + 1;
            self.ids.insert(m.name.clone(), id);
            self.data.members.push(Member {
                person: id,
                role: Some(m.role),
                problems: m.problems.clone(),
                birth: parse_birth(&m.birth),
            });
            self.data.case.members.push(CaseMember {
                person: id,
                role: m.role,
                problems: m.problems.clone(),
                address: None,
            });
        }
        for h in household {
            // Household members from 100, apart from case members.
            let id = 100 + self.data.household.len() as u64;
            self.ids.insert(h.name.clone(), id);
            self.data.household.push(Member {
                person: id,
                role: None,
                problems: vec![],
                birth: parse_birth(&h.birth),
            });
        }
        match coverage {
            None => {}
            Some(Coverage::All(AllWord::All)) => {
                let all = Period {
                    from: ALL_FROM.parse().unwrap_or_default(),
                    to: ALL_TO.parse().unwrap_or_default(),
                };
                for s in SourceKind::ALL {
                    self.data.coverage.entry(s).or_default().push(all);
                }
            }
            Some(Coverage::Sources(map)) => {
                for (s, ps) in map {
                    let list = self.data.coverage.entry(*s).or_default();
                    list.extend(ps.iter().map(|p| p.0));
                }
            }
        }
        for e in events {
            if let (Some(id), Ok(ev)) = (self.ids.get(&e.who), event(e)) {
                self.data.events.entry(*id).or_default().push(ev);
            }
        }
        if end.is_some() {
            self.data.case.end = end;
        }
    }
}

impl ScenarioFile {
    /// The `[checks]` table: one result per check given.
    fn run_checks(&self, fw: &Framework) -> Vec<ScenarioResult> {
        let c = &self.checks;
        let mut out = Vec::new();
        let mut add = |name: &str, failures: Vec<String>, checks: usize| {
            out.push(ScenarioResult {
                name: format!("check: {name}"),
                checks,
                failures,
            })
        };
        let eq = |name: &str, got: String, want: String| {
            if got == want {
                vec![]
            } else {
                vec![format!("{name}: expected {want}, got {got}")]
            }
        };
        if let Some(v) = &c.version {
            add(
                "version",
                eq("version", fw.framework.version.clone(), v.clone()),
                1,
            );
        }
        if let Some(n) = c.problems {
            add(
                "problems",
                eq("problems", fw.problems.len().to_string(), n.to_string()),
                1,
            );
        }
        if let Some(ids) = &c.problem_ids {
            let got: Vec<&String> = fw.problems.iter().map(|p| &p.id).collect();
            add(
                "problem ids",
                eq(
                    "problem ids",
                    format!("{got:?}"),
                    format!("{:?}", ids.iter().collect::<Vec<_>>()),
                ),
                1,
            );
        }
        if let Some(n) = c.outcomes {
            add(
                "outcomes",
                eq("outcomes", fw.outcomes.len().to_string(), n.to_string()),
                1,
            );
        }
        let indicators: Vec<&str> = fw
            .problems
            .iter()
            .flat_map(|p| p.indicators.iter().map(|i| i.id.as_str()))
            .collect();
        if let Some(n) = c.indicators {
            add(
                "indicators",
                eq("indicators", indicators.len().to_string(), n.to_string()),
                1,
            );
        }
        if let Some(want) = &c.indicators_per_problem {
            let got: Vec<usize> = fw.problems.iter().map(|p| p.indicators.len()).collect();
            add(
                "indicators per problem",
                eq(
                    "indicators per problem",
                    format!("{got:?}"),
                    format!("{want:?}"),
                ),
                1,
            );
        }
        if let Some(want) = &c.outcomes_per_problem {
            let got: Vec<usize> = fw
                .problems
                .iter()
                .map(|p| fw.outcomes.iter().filter(|o| o.problem == p.id).count())
                .collect();
            add(
                "outcomes per problem",
                eq(
                    "outcomes per problem",
                    format!("{got:?}"),
                    format!("{want:?}"),
                ),
                1,
            );
        }
        if let Some(n) = c.data_verifiable {
            let got = fw
                .outcomes
                .iter()
                .filter(|o| o.rule.class() == RuleClass::DataVerifiable)
                .count();
            add(
                "data-verifiable outcomes",
                eq("data-verifiable outcomes", got.to_string(), n.to_string()),
                1,
            );
        }
        if let Some(p) = &c.id_prefix {
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| !o.id.starts_with(p.as_str()))
                .map(|o| format!("{} does not start with {p}", o.id))
                .collect();
            add("outcome id prefix", bad, fw.outcomes.len());
        }
        if c.outcomes_name_sources {
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| o.sources.is_empty())
                .map(|o| format!("{} names no source", o.id))
                .collect();
            add("every outcome names a source", bad, fw.outcomes.len());
        }
        if c.problems_have_indicators_and_outcomes {
            let mut bad = Vec::new();
            for p in &fw.problems {
                if p.indicators.is_empty() {
                    bad.push(format!("{} has no indicator", p.id));
                }
                if !fw.outcomes.iter().any(|o| o.problem == p.id) {
                    bad.push(format!("{} has no outcome", p.id));
                }
            }
            add(
                "every problem has indicators and outcomes",
                bad,
                2 * fw.problems.len(),
            );
        }
        if let Some(r) = &c.indicator_per_outcome {
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| !indicators.contains(&o.id.replace(&r.replace, &r.with).as_str()))
                .map(|o| format!("no indicator for {}", o.id))
                .collect();
            add("an indicator for every outcome", bad, fw.outcomes.len());
        }
        if let Some(p) = c.significant_reduction_percent {
            let got = fw.settings.significant_reduction_percent;
            add(
                "significant_reduction_percent",
                eq(
                    "significant_reduction_percent",
                    format!("{got:?}"),
                    format!("{:?}", Some(p)),
                ),
                1,
            );
        }
        if c.setting_readers_interpret {
            let bad: Vec<String> = fw
                .outcomes
                .iter()
                .filter(|o| o.rule.explain(fw).contains("significant reduction"))
                .filter(|o| {
                    !o.interpretation
                        .as_deref()
                        .unwrap_or("")
                        .contains("significant_reduction_percent")
                })
                .map(|o| format!("{}: the interpretation does not name the setting", o.id))
                .collect();
            add("rules reading the setting say so", bad, fw.outcomes.len());
        }
        for e in &c.explain {
            let changed = e.settings.as_ref().map(|s| with_settings(fw, s));
            let fw = changed.as_ref().unwrap_or(fw);
            let text = fw
                .outcome(&e.outcome)
                .map(|o| o.rule.explain(fw))
                .unwrap_or_default();
            let bad: Vec<String> = e
                .contains
                .list()
                .into_iter()
                .filter(|t| !text.contains(t))
                .map(|t| format!("the explanation does not contain '{t}': {text}"))
                .collect();
            add(
                &format!("explain {}", e.outcome),
                bad,
                e.contains.list().len(),
            );
        }
        for s in &c.attested_steps {
            add(
                &format!("steps of {}", s.outcome),
                steps_check(fw, s),
                2 + usize::from(s.step_contains.is_some()),
            );
        }
        if let Some(nv) = &c.never_verified {
            out.push(self.never_verified(fw, nv));
        }
        if let Some(pa) = &c.partly_attested {
            out.push(self.partly_attested(fw, pa));
        }
        out
    }

    fn never_verified(&self, fw: &Framework, nv: &NeverVerified) -> ScenarioResult {
        let mut res = ScenarioResult {
            name: "check: attested and unavailable outcomes are never verified".into(),
            checks: 0,
            failures: vec![],
        };
        let claims = if nv.claims.is_empty() {
            self.claim.into_iter().collect()
        } else {
            nv.claims.clone()
        };
        let cases: Vec<(&String, Case)> = nv
            .families
            .iter()
            .map(|f| (f, self.family_case(f)))
            .collect();
        let mut checked = Vec::new();
        for o in fw
            .outcomes
            .iter()
            .filter(|o| o.rule.class() != RuleClass::DataVerifiable)
        {
            for (name, case) in &cases {
                for claim in &claims {
                    res.checks += 1;
                    let dec = decide(fw, &case.data, &o.rule, &o.problem, *claim);
                    if dec.verdict != Verdict::Attested {
                        res.failures.push(format!(
                            "{} on family {name} at {claim}: expected attested, got {}",
                            o.id, dec.verdict
                        ));
                    }
                }
            }
            checked.push(o.id.clone());
        }
        if let Some(want) = &nv.outcomes {
            res.checks += 1;
            if &checked != want {
                res.failures
                    .push(format!("expected the outcomes {want:?}, got {checked:?}"));
            }
        }
        if let Some(n) = nv.count {
            res.checks += 1;
            if checked.len() != n {
                res.failures.push(format!(
                    "expected {n} such outcomes, got {}: {checked:?}",
                    checked.len()
                ));
            }
        }
        res
    }

    fn partly_attested(&self, fw: &Framework, pa: &PartlyAttested) -> ScenarioResult {
        let mut res = ScenarioResult {
            name: "check: partly attested outcomes are at best attested".into(),
            checks: 0,
            failures: vec![],
        };
        let case = self.family_case(&pa.family);
        let claim = pa.claim.or(self.claim).unwrap_or_default();
        let mut found = Vec::new();
        for o in &fw.outcomes {
            let Rule::AllOf { rules } = &o.rule else {
                continue;
            };
            if !rules.iter().any(|r| matches!(r, Rule::Attested { .. })) {
                continue;
            }
            res.checks += 1;
            let dec = decide(fw, &case.data, &o.rule, &o.problem, claim);
            if dec.verdict != Verdict::Attested {
                res.failures
                    .push(format!("{}: expected attested, got {}", o.id, dec.verdict));
            }
            found.push(o.id.clone());
        }
        res.checks += 1;
        if found != pa.outcomes {
            res.failures.push(format!(
                "expected the outcomes {:?}, got {found:?}",
                pa.outcomes
            ));
        }
        res
    }
}

fn steps_check(fw: &Framework, s: &StepsCheck) -> Vec<String> {
    let Some(Rule::Attested {
        steps,
        min_steps,
        extra_steps,
        max_extra_steps,
        ..
    }) = fw.outcome(&s.outcome).map(|o| &o.rule)
    else {
        return vec![format!("{} is not an attested outcome", s.outcome)];
    };
    let mut bad = Vec::new();
    if (steps.len(), *min_steps) != (s.steps, s.min_steps) {
        bad.push(format!(
            "expected {} steps (at least {:?}), got {} ({min_steps:?})",
            s.steps,
            s.min_steps,
            steps.len()
        ));
    }
    if (extra_steps.len(), *max_extra_steps) != (s.extra_steps, s.max_extra_steps) {
        bad.push(format!(
            "expected {} extra steps (at most {:?}), got {} ({max_extra_steps:?})",
            s.extra_steps,
            s.max_extra_steps,
            extra_steps.len()
        ));
    }
    if let Some(t) = &s.step_contains {
        if !steps.iter().any(|x| x.contains(t.as_str())) {
            bad.push(format!("no step contains '{t}'"));
        }
    }
    bad
}
