//! Running a scenario file: builds each scenario's case, decides its claims
//! through the public triangulate calls and checks every expectation.
//!
//! In: a validated [`ScenarioFile`] and its framework. Out: a [`Report`].
//! Promises: a failed expectation is reported with its scenario and step,
//! never a panic; events are built in one function, [`event`].

use std::collections::HashMap;

use chrono::NaiveDate;

use super::*;
use crate::records::Measure;
use crate::triangulate::rules;
impl ScenarioFile {
    /// Validates, then runs every scenario and check against `fw`.
    pub fn run(&self, fw: &Framework) -> Result<Report, ScenarioError> {
        self.validate(fw)?;
        let mut report = Report::default();
        for sc in &self.scenarios {
            report.results.push(self.run_scenario(fw, sc));
        }
        report.results.extend(self.run_checks(fw));
        if !self.checks.partial {
            report.results.push(self.coverage_check(fw));
        }
        Ok(report)
    }

    pub(super) fn family_case(&self, name: &str) -> Case {
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
        // The case as each step left it, when it changed: a member a later
        // step adds is a need a later case delivery identified.
        let mut versions: Vec<CaseRecord> = Vec::new();
        let mut claims: Vec<(String, Option<NaiveDate>)> = Vec::new();
        for (i, st) in sc.steps.iter().enumerate() {
            case.add(
                &st.members,
                &st.household,
                st.coverage.as_ref(),
                &st.events,
                st.end,
            );
            let mut now = case.data.case.clone();
            now.seq = versions.len() as u32 + 1;
            if versions
                .last()
                .is_none_or(|v| (&v.members, v.end) != (&now.members, now.end))
            {
                versions.push(now);
            }
            claims.extend(st.claims.iter().map(|c| (c.outcome.clone(), c.claim)));
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
                    (
                        Rule::AllOf(rules::AllOf { rules }) | Rule::AnyOf(rules::AnyOf { rules }),
                        Some(p),
                    ) if p < rules.len() => &rules[p],
                    _ => &o.rule,
                };
                let dec = decide(fw, &case.data, rule, &o.problem, claim);
                let parts: Vec<Verdict> = match rule {
                    Rule::AllOf(rules::AllOf { rules }) | Rule::AnyOf(rules::AnyOf { rules }) => {
                        rules
                            .iter()
                            .take(st.parts.len())
                            .map(|r| decide(fw, &case.data, r, &o.problem, claim).verdict)
                            .collect()
                    }
                    _ => vec![],
                };
                res.checks += expect(st, &dec, &parts, &case.ids, &mut fail);
            }
            if st.decides_claimability() {
                let date = st.claim.or(sc.claim).or(self.claim);
                res.checks +=
                    expect_claimability(fw, st, &case.data, &versions, &claims, date, &mut fail);
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

/// Decides the family's claims on its data and checks its claimability
/// under the framework's claim rule; returns how many expectations it
/// checked.
fn expect_claimability(
    fw: &Framework,
    st: &Step,
    data: &CaseData,
    versions: &[CaseRecord],
    claims: &[(String, Option<NaiveDate>)],
    date: Option<NaiveDate>,
    fail: &mut dyn FnMut(String),
) -> usize {
    use crate::triangulate::claim::{assess, CaseVersion};
    let now = chrono::Utc::now();
    let verdicts: Vec<_> = claims
        .iter()
        .filter_map(|(o, d)| {
            let claim = crate::store::ClaimRecord {
                seq: 0,
                case_ref: data.case.case_ref.clone(),
                outcome_id: o.clone(),
                // Validated: some date applies.
                claim_date: d.or(date)?,
                keyworker_ref: None,
                team: None,
            };
            Some(crate::triangulate::decide_claim(
                fw,
                Some(data),
                &claim,
                0,
                now,
            ))
        })
        .collect();
    let versions: Vec<CaseVersion<'_>> = versions
        .iter()
        .map(|record| CaseVersion {
            record,
            delivered_on: None,
        })
        .collect();
    let c = assess(fw, &versions, &verdicts);
    let fails: Vec<&str> = c
        .conditions
        .iter()
        .filter(|x| !x.passed)
        .map(|x| x.id)
        .collect();
    let why = || {
        let shown: Vec<String> = verdicts
            .iter()
            .map(|v| format!("{} {}", v.outcome_id, v.verdict))
            .collect();
        format!("{}claims: {}", c.text(), shown.join(", "))
    };
    let mut n = 0;
    if let Some(want) = st.claimable {
        n += 1;
        if c.claimable != want {
            fail(format!("expected claimable = {want}, got\n{}", why()));
        }
    }
    if let Some(want) = &st.claim_fails {
        n += 1;
        if fails != *want {
            fail(format!(
                "expected failing conditions {want:?}, got {fails:?}\n{}",
                why()
            ));
        }
    }
    n
}

/// The framework with some settings changed (those the override sets).
pub(super) fn with_settings(fw: &Framework, s: &Settings) -> Framework {
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
    expect_verdict(st, dec, parts, &mut check);
    expect_evidence(st, dec, ids, &mut check);
    expect_coverage(st, dec, &mut check);
    n
}

/// The step's verdict, and each part's.
fn expect_verdict(
    st: &Step,
    dec: &Decision,
    parts: &[Verdict],
    check: &mut dyn FnMut(bool, String),
) {
    let summary = || {
        let findings: Vec<&str> = dec.evidence.iter().map(|e| e.finding.as_str()).collect();
        format!("{} ({})", dec.verdict, findings.join("; "))
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
}

/// What the first piece of evidence shows: dates, finding, persons,
/// counts, window.
fn expect_evidence(
    st: &Step,
    dec: &Decision,
    ids: &HashMap<String, u64>,
    check: &mut dyn FnMut(bool, String),
) {
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
}

/// What coverage leaves missing, and when the claim can be decided.
fn expect_coverage(st: &Step, dec: &Decision, check: &mut dyn FnMut(bool, String)) {
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
}

fn periods(ps: &[Period]) -> String {
    let s: Vec<String> = ps.iter().map(Period::to_string).collect();
    format!("[{}]", s.join(", "))
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
        measure: Measure::from_raw(e.kind, values),
    })
}

/// A case built from scenario data, with members' handles.
pub(super) struct Case {
    pub(super) data: CaseData,
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
                possible: vec![],
                uncertain: vec![],
                feeds: HashMap::new(),
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
