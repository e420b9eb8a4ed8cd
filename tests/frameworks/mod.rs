//! Frameworks: every council's scenario file (`frameworks/scenarios/`) run
//! against its framework, and window boundaries as properties. The
//! scenarios are data, so a council's framework tests need no Rust.

mod claimability;
mod scenarios;

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use outcomesd::framework::Framework;
use outcomesd::records::{Event, EventKind, Measure, Period, Role, SourceKind};
use outcomesd::store::{CaseMember, CaseRecord};
use outcomesd::triangulate::{decide_as_of, CaseData, Decision, Member, Verdict};

/// Decides as of today, as these properties were written against.
fn decide(
    fw: &Framework,
    data: &CaseData,
    rule: &outcomesd::framework::Rule,
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

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn framework(name: &str) -> Framework {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("frameworks/{name}.toml"));
    Framework::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// A family built by hand: members, their events, and what the sources cover.
pub struct Family {
    data: CaseData,
}

impl Family {
    pub fn new(start: &str) -> Family {
        Family {
            data: CaseData {
                case: CaseRecord {
                    case_ref: "SF-T1".into(),
                    seq: 1,
                    start: d(start),
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
        }
    }

    /// Adds a member born in `birth` (YYYY-MM) and returns their id.
    pub fn member(&mut self, role: Role, birth: &str, problems: &[&str]) -> u64 {
        let id = self.data.members.len() as u64 + 1;
        let (y, m) = birth.split_once('-').unwrap();
        let problems: Vec<String> = problems.iter().map(|s| s.to_string()).collect();
        self.data.members.push(Member {
            person: id,
            role: Some(role),
            problems: problems.clone(),
            birth: Some((y.parse().unwrap(), m.parse().unwrap())),
        });
        self.data.case.members.push(CaseMember {
            person: id,
            role,
            problems,
            address: None,
        });
        id
    }

    pub fn event(
        &mut self,
        p: u64,
        kind: EventKind,
        start: &str,
        end: Option<&str>,
        code: &str,
        values: [i32; 4],
    ) {
        let code = if code.is_empty() {
            0
        } else {
            kind.code_of(code).unwrap_or_else(|| panic!("code {code}"))
        };
        self.data.events.entry(p).or_default().push(Event {
            kind,
            start: d(start),
            end: end.map(d),
            code,
            measure: Measure::from_raw(kind, values),
        });
    }

    pub fn on(&mut self, p: u64, kind: EventKind, date: &str) {
        self.event(p, kind, date, None, "", [0; 4]);
    }

    pub fn cover(&mut self, source: SourceKind, from: &str, to: &str) {
        self.data.coverage.entry(source).or_default().push(Period {
            from: d(from),
            to: d(to),
        });
    }

    /// Every event source covered over the whole of 2000..2030.
    pub fn cover_all(&mut self) {
        for s in SourceKind::ALL {
            self.cover(s, "2000-01-01", "2030-12-31");
        }
    }

    pub fn decide(&self, fw: &Framework, outcome: &str, claim: &str) -> Decision {
        let o = fw
            .outcome(outcome)
            .unwrap_or_else(|| panic!("no outcome {outcome}"));
        decide(fw, &self.data, &o.rule, &o.problem, d(claim))
    }

    pub fn data(&self) -> &CaseData {
        &self.data
    }
}

mod windows {
    use super::*;
    use outcomesd::framework::Rule;
    use proptest::prelude::*;

    fn no_offence_in(months: u32) -> Rule {
        let text = format!(
            "type = \"count\"\nevents = [\"offence\"]\nmax = 0\nwindow = {{ months = {months} }}\nscope = \"family\"\n"
        );
        toml::from_str(&text).unwrap()
    }

    proptest! {
        /// An event on the window's first or last day counts; the day before
        /// the first and the day after the last do not.
        #[test]
        fn month_windows_are_inclusive_at_both_ends(days in 0i64..3000, months in 1u32..25) {
            let claim = d("2012-01-01") + chrono::Days::new(days as u64);
            let from = claim.checked_sub_months(chrono::Months::new(months)).unwrap().succ_opt().unwrap();
            let fw = framework("sunderland");
            let rule = no_offence_in(months);
            for (date, inside) in [
                (from, true),
                (claim, true),
                (from.pred_opt().unwrap(), false),
                (claim.succ_opt().unwrap(), false),
            ] {
                let mut f = Family::new("2010-01-01");
                let p = f.member(Role::Adult, "1980-01", &[]);
                f.cover_all();
                f.on(p, EventKind::Offence, &date.to_string());
                let dec = decide(&fw, f.data(), &rule, "crime", claim);
                let want = if inside { Verdict::Contradicted } else { Verdict::Verified };
                prop_assert_eq!(dec.verdict, want, "event {} claim {} months {}", date, claim, months);
            }
        }

        /// Coverage that stops one day short of the window's end leaves an
        /// absence undecided, naming exactly that day.
        #[test]
        fn coverage_one_day_short_is_insufficient(days in 0i64..3000) {
            let claim = d("2012-01-01") + chrono::Days::new(days as u64);
            let fw = framework("sunderland");
            let mut f = Family::new("2010-01-01");
            f.member(Role::Adult, "1980-01", &[]);
            f.cover(SourceKind::Police, "2005-01-01", &claim.pred_opt().unwrap().to_string());
            let dec = decide(&fw, f.data(), &no_offence_in(6), "crime", claim);
            prop_assert_eq!(dec.verdict, Verdict::Insufficient);
            prop_assert_eq!(dec.missing.clone(), vec![Period { from: claim, to: claim }]);
        }

        /// A term straddling the claim date is not complete, so it is not one
        /// of the "last three terms"; the three before it are.
        #[test]
        fn a_term_straddling_the_claim_is_not_counted(offset in 1u64..60) {
            let fw = framework("sunderland");
            // claim inside the spring 2016 term
            let claim = d("2016-01-01") + chrono::Days::new(offset);
            let mut f = Family::new("2015-01-01");
            let c = f.member(Role::Child, "2007-06", &["education"]);
            f.cover_all();
            for term in ["2015-01-01", "2015-04-01", "2015-09-01"] {
                f.event(c, EventKind::Attendance, term, None, "", [100, 95, 0, 5]);
            }
            // a terrible part-term in progress must not count
            f.event(c, EventKind::Attendance, "2016-01-01", None, "", [100, 10, 0, 90]);
            let dec = f.decide(&fw, "SUN-2.1", &claim.to_string());
            prop_assert_eq!(dec.verdict, Verdict::Verified);
        }
    }
}
