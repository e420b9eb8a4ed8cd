//! Claimability: whether a family's decided outcomes make it claimable
//! under its framework's claim rule, condition by condition.
//!
//! In: the framework (its `[claim]` rule), every committed version of the
//! case (oldest first, each with the date its delivery arrived) and the
//! case's stored verdicts. Out: a [`Claimability`]: yes or no, and every
//! condition of the rule with whether it holds and why, for `verify` (text
//! and `--json`).
//!
//! Promises:
//! * a case with no identified problems is never claimable;
//! * under the default rule, every problem on the case's latest delivery
//!   needs a verified or attested outcome (as before);
//! * under the 2022 national rule (`rule = "national_2022"`): needs under at
//!   least three headline problems; every need any case delivery identified
//!   (one first listed by a later delivery too, and one a later delivery no
//!   longer lists) with a verified or attested outcome; with
//!   `sustained_months_after_closure`, the case closed and each need's
//!   outcome claimed at least that long after closure; and no
//!   continuous-employment route: an adult in work counts only as the
//!   outcome of its own need;
//! * when a need was identified is data: the first case delivery that
//!   listed it (its sequence number and arrival date), never a guess.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::{Verdict, VerdictRecord};
use crate::framework::{ClaimRuleKind, Framework};
use crate::store::CaseRecord;

/// Every condition a claim rule can have, by id.
pub const CONDITIONS: [&str; 6] = [
    "identified_problems",
    "three_headlines",
    "every_problem_has_outcome",
    "every_need_has_outcome",
    "sustained_after_closure",
    "no_continuous_employment_route",
];

/// The fewest headlines the 2022 national rule asks for.
pub const NATIONAL_2022_HEADLINES: usize = 3;

/// One version of a case as a case delivery gave it, and when that
/// delivery arrived.
#[derive(Debug, Clone)]
pub struct CaseVersion<'a> {
    pub record: &'a CaseRecord,
    pub delivered_on: Option<NaiveDate>,
}

/// One identified need (a problem code on the case) and what shows it met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Need {
    pub problem: String,
    /// The headline's title, if the framework knows the code.
    pub title: Option<String>,
    /// The first case delivery that listed it, and when it arrived.
    pub identified_seq: u32,
    pub identified_on: Option<NaiveDate>,
    /// First listed by a case delivery after the case's first.
    pub identified_later: bool,
    /// Still listed by the latest case delivery.
    pub current: bool,
    /// The verified or attested claim that shows its outcome (one that is
    /// also sustained after closure, where the rule asks, if any is).
    pub outcome: Option<Shown>,
    /// Whether that claim is dated late enough after closure (`None` when
    /// the rule does not ask).
    pub sustained: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub verdict: Verdict,
}

/// One condition of the claim rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub id: &'static str,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claimability {
    pub claimable: bool,
    /// `every_problem` or `national_2022`.
    pub rule: &'static str,
    pub conditions: Vec<Condition>,
    pub needs: Vec<Need>,
    /// Identified problems with no verified or attested outcome (as the
    /// JSON has always said).
    pub problems_without_outcome: Vec<String>,
}

/// Assesses a case under its framework's claim rule. `versions` are the
/// case's committed versions, oldest first (the latest is the case as it
/// stands); `verdicts` its stored decisions.
pub fn assess(
    fw: &Framework,
    versions: &[CaseVersion<'_>],
    verdicts: &[VerdictRecord],
) -> Claimability {
    let national = fw.claim.rule == ClaimRuleKind::National2022;
    let latest = versions.last().map(|v| v.record);
    let case_ref = latest.map_or("", |c| c.case_ref.as_str());
    let end = latest.and_then(|c| c.end);
    let sustain = fw.claim.sustained_months_after_closure;
    let due = |end: NaiveDate, m: u32| end.checked_add_months(Months::new(m)).unwrap_or(end);
    let current: Vec<String> = latest.map(CaseRecord::problems).unwrap_or_default();
    let first_seq = versions.first().map_or(0, |v| v.record.seq);
    let mut needs: Vec<Need> = Vec::new();
    for v in versions {
        for p in v.record.problems() {
            if needs.iter().any(|n| n.problem == p) {
                continue;
            }
            needs.push(Need {
                title: fw.problem(&p).map(|x| x.title.clone()),
                identified_seq: v.record.seq,
                identified_on: v.delivered_on,
                identified_later: v.record.seq != first_seq,
                current: current.contains(&p),
                problem: p,
                outcome: None,
                sustained: None,
            });
        }
    }
    // The default rule reads the case as it stands; the 2022 rule every
    // need ever identified.
    if !national {
        needs.retain(|n| n.current);
    }
    for n in &mut needs {
        let mut shown: Vec<&VerdictRecord> = verdicts
            .iter()
            .filter(|v| {
                v.case_ref == case_ref
                    && matches!(v.verdict, Verdict::Verified | Verdict::Attested)
                    && v.problem.as_deref() == Some(n.problem.as_str())
            })
            .collect();
        shown.sort_by_key(|v| (v.claim_date, v.outcome_id.clone()));
        let late_enough = |v: &VerdictRecord| match (sustain, end) {
            (Some(m), Some(e)) => v.claim_date >= due(e, m),
            _ => false,
        };
        let best = shown
            .iter()
            .find(|v| late_enough(v))
            .or(shown.last())
            .copied();
        n.sustained = sustain.map(|_| best.is_some_and(late_enough));
        n.outcome = best.map(|v| Shown {
            outcome_id: v.outcome_id.clone(),
            claim_date: v.claim_date,
            verdict: v.verdict,
        });
    }
    let mut conditions = Vec::new();
    let listed: Vec<String> = needs.iter().map(describe_identified).collect();
    conditions.push(Condition {
        id: "identified_problems",
        passed: !needs.is_empty(),
        detail: if needs.is_empty() {
            "the case identifies no problems, so there is nothing to claim for".into()
        } else {
            listed.join(", ")
        },
    });
    if national {
        let headlines: Vec<&str> = needs
            .iter()
            .filter(|n| n.title.is_some())
            .map(|n| n.problem.as_str())
            .collect();
        conditions.push(Condition {
            id: "three_headlines",
            passed: headlines.len() >= NATIONAL_2022_HEADLINES,
            detail: format!(
                "needs under {} headline{} ({}); the 2022 rule asks for at least {NATIONAL_2022_HEADLINES}",
                headlines.len(),
                if headlines.len() == 1 { "" } else { "s" },
                if headlines.is_empty() {
                    "none".to_string()
                } else {
                    headlines.join(", ")
                }
            ),
        });
    }
    let without: Vec<String> = needs
        .iter()
        .filter(|n| n.outcome.is_none())
        .map(|n| n.problem.clone())
        .collect();
    let shown: Vec<String> = needs.iter().map(describe_outcome).collect();
    conditions.push(Condition {
        id: if national {
            "every_need_has_outcome"
        } else {
            "every_problem_has_outcome"
        },
        passed: !needs.is_empty() && without.is_empty(),
        detail: if needs.is_empty() {
            "no identified problem to show an outcome for".into()
        } else {
            shown.join("; ")
        },
    });
    if let Some(m) = sustain {
        let (passed, detail) = match end {
            None => (
                false,
                format!("the case has not closed, so no outcome can yet be shown sustained {m} months after closure"),
            ),
            Some(e) => {
                let short: Vec<&str> = needs
                    .iter()
                    .filter(|n| n.sustained != Some(true))
                    .map(|n| n.problem.as_str())
                    .collect();
                (
                    !needs.is_empty() && short.is_empty(),
                    if short.is_empty() {
                        format!(
                            "closed {e}: every need's outcome is claimed on or after {}",
                            due(e, m)
                        )
                    } else {
                        format!(
                            "closed {e}: outcomes must be claimed on or after {} ({m} months later); not shown by then: {}",
                            due(e, m),
                            short.join(", ")
                        )
                    },
                )
            }
        };
        conditions.push(Condition {
            id: "sustained_after_closure",
            passed,
            detail,
        });
    }
    if national {
        conditions.push(Condition {
            id: "no_continuous_employment_route",
            passed: true,
            detail: "the 2022 rule has no continuous-employment route: an adult moving into work counts only as the outcome of that need, never as a claim on its own".into(),
        });
    }
    Claimability {
        claimable: conditions.iter().all(|c| c.passed),
        rule: if national {
            "national_2022"
        } else {
            "every_problem"
        },
        conditions,
        needs,
        problems_without_outcome: without,
    }
}

fn describe_identified(n: &Need) -> String {
    let mut s = n.problem.clone();
    if n.identified_later {
        s.push_str(&format!(
            " (identified later: case delivery {}{})",
            n.identified_seq,
            n.identified_on
                .map(|d| format!(" of {d}"))
                .unwrap_or_default()
        ));
    }
    if !n.current {
        s.push_str(" (no longer listed by the latest case delivery, still a need identified)");
    }
    s
}

fn describe_outcome(n: &Need) -> String {
    match &n.outcome {
        Some(o) => format!(
            "{}: {} {} dated {}",
            n.problem, o.outcome_id, o.verdict, o.claim_date
        ),
        None => format!("{}: no verified or attested outcome", n.problem),
    }
}

impl Claimability {
    /// The text `verify` prints: the answer, then each condition.
    pub fn text(&self) -> String {
        let mut s = format!(
            "claimable: {}, under {}\n",
            if self.claimable { "yes" } else { "no" },
            match self.rule {
                "national_2022" => "the 2022 national Supporting Families claim rule",
                _ => "the rule that every identified problem has a verified or attested outcome",
            }
        );
        for c in &self.conditions {
            s.push_str(&format!(
                "  [{}] {}: {}\n",
                if c.passed { "pass" } else { "FAIL" },
                c.id.replace('_', " "),
                c.detail
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Role;
    use crate::store::CaseMember;
    use crate::triangulate::tests::d;
    use crate::triangulate::Decision;

    fn sty() -> Framework {
        Framework::builtin("south-tyneside").unwrap().unwrap()
    }

    fn version(seq: u32, end: Option<&str>, problems: &[&[&str]]) -> CaseRecord {
        CaseRecord {
            case_ref: "C1".into(),
            seq,
            start: d("2022-10-03"),
            end: end.map(d),
            members: problems
                .iter()
                .enumerate()
                .map(|(i, p)| CaseMember {
                    person: i as u64 + 1,
                    role: if i == 0 { Role::MainCarer } else { Role::Child },
                    problems: p.iter().map(|s| s.to_string()).collect(),
                    address: None,
                })
                .collect(),
        }
    }

    fn shown(fw: &Framework, outcome: &str, date: &str, verdict: Verdict) -> VerdictRecord {
        VerdictRecord {
            case_ref: "C1".into(),
            outcome_id: outcome.into(),
            claim_date: d(date),
            framework: fw.framework.id.clone(),
            framework_version: fw.framework.version.clone(),
            problem: fw.outcome(outcome).map(|o| o.problem.clone()),
            verdict,
            decision: Decision::new(verdict),
            also_evidences: vec![],
            as_of_delivery: 1,
            decided_at: chrono::Utc::now(),
            history: vec![],
        }
    }

    fn assess_versions(
        fw: &Framework,
        vs: &[CaseRecord],
        verdicts: &[VerdictRecord],
    ) -> Claimability {
        let versions: Vec<CaseVersion<'_>> = vs
            .iter()
            .map(|r| CaseVersion {
                record: r,
                delivered_on: Some(d("2023-01-01") + chrono::Days::new(u64::from(r.seq))),
            })
            .collect();
        assess(fw, &versions, verdicts)
    }

    fn condition<'a>(c: &'a Claimability, id: &str) -> &'a Condition {
        c.conditions
            .iter()
            .find(|x| x.id == id)
            .unwrap_or_else(|| panic!("no condition {id}: {c:#?}"))
    }

    fn failed(c: &Claimability) -> Vec<&'static str> {
        c.conditions
            .iter()
            .filter(|x| !x.passed)
            .map(|x| x.id)
            .collect()
    }

    #[test]
    fn a_case_with_no_identified_problems_is_never_claimable() {
        let case = version(1, None, &[&[], &[]]);
        assert_eq!(crate::triangulate::claimable(&case, &[]), (false, vec![]));
        let fw = Framework::builtin("sunderland").unwrap().unwrap();
        let c = assess_versions(&fw, &[case], &[]);
        assert!(!c.claimable);
        assert_eq!(c.rule, "every_problem");
        assert!(!condition(&c, "identified_problems").passed);
        assert!(condition(&c, "identified_problems")
            .detail
            .contains("no problems"));
    }

    #[test]
    fn the_default_rule_reads_the_latest_case_delivery() {
        let fw = Framework::builtin("sunderland").unwrap().unwrap();
        let v1 = version(1, None, &[&["crime", "health"]]);
        let v2 = version(3, None, &[&["crime"]]);
        let ok = [shown(&fw, "SUN-1.1", "2016-06-15", Verdict::Verified)];
        let c = assess_versions(&fw, &[v1, v2], &ok);
        assert!(c.claimable, "{c:#?}");
        assert_eq!(c.conditions.len(), 2);
    }

    /// Every headline problem with an attested outcome claimed long enough
    /// after closure: what each test below takes something from.
    fn good() -> (Framework, Vec<CaseRecord>, Vec<VerdictRecord>) {
        let fw = sty();
        let v1 = version(
            1,
            Some("2023-01-31"),
            &[&["education", "health"], &["housing"]],
        );
        let verdicts = vec![
            shown(&fw, "STY-1.4", "2023-08-15", Verdict::Attested),
            shown(&fw, "STY-3.1", "2023-08-15", Verdict::Attested),
            shown(&fw, "STY-9.3", "2023-08-15", Verdict::Verified),
        ];
        (fw, vec![v1], verdicts)
    }

    #[test]
    fn the_2022_rule_lists_every_condition_and_passes_them_all() {
        let (fw, vs, verdicts) = good();
        let c = assess_versions(&fw, &vs, &verdicts);
        assert!(c.claimable, "{c:#?}");
        assert_eq!(c.rule, "national_2022");
        let ids: Vec<&str> = c.conditions.iter().map(|x| x.id).collect();
        assert_eq!(
            ids,
            [
                "identified_problems",
                "three_headlines",
                "every_need_has_outcome",
                "sustained_after_closure",
                "no_continuous_employment_route"
            ]
        );
        let text = c.text();
        assert!(
            text.starts_with(
                "claimable: yes, under the 2022 national Supporting Families claim rule"
            ),
            "{text}"
        );
        assert!(
            text.contains("[pass] three headlines: needs under 3 headlines"),
            "{text}"
        );
    }

    #[test]
    fn fewer_than_three_headlines_is_not_claimable() {
        let (fw, _, verdicts) = good();
        let two = version(1, Some("2023-01-31"), &[&["education", "health"]]);
        let c = assess_versions(&fw, &[two], &verdicts);
        assert_eq!(failed(&c), ["three_headlines"], "{c:#?}");
        assert!(!c.claimable);
        // an unknown problem code is no headline
        let odd = version(
            1,
            Some("2023-01-31"),
            &[&["education", "health", "made_up"]],
        );
        let c = assess_versions(&fw, &[odd], &verdicts);
        assert!(failed(&c).contains(&"three_headlines"), "{c:#?}");
    }

    #[test]
    fn a_need_identified_later_must_show_its_outcome_and_says_when() {
        let (fw, mut vs, mut verdicts) = good();
        let mut later = vs[0].clone();
        later.seq = 7;
        later.members[1].problems.push("child_safety".into());
        vs.push(later);
        let c = assess_versions(&fw, &vs, &verdicts);
        assert_eq!(
            failed(&c),
            ["every_need_has_outcome", "sustained_after_closure"]
        );
        let need = c
            .needs
            .iter()
            .find(|n| n.problem == "child_safety")
            .unwrap();
        assert!(need.identified_later && need.current);
        assert_eq!(need.identified_seq, 7);
        assert_eq!(need.identified_on, Some(d("2023-01-08")));
        assert!(
            !c.needs
                .iter()
                .find(|n| n.problem == "education")
                .unwrap()
                .identified_later
        );
        assert_eq!(c.problems_without_outcome, ["child_safety"]);
        assert!(condition(&c, "identified_problems")
            .detail
            .contains("child_safety (identified later: case delivery 7 of 2023-01-08)"));
        verdicts.push(shown(&fw, "STY-6.3", "2023-09-01", Verdict::Attested));
        assert!(assess_versions(&fw, &vs, &verdicts).claimable);
    }

    #[test]
    fn a_need_a_later_delivery_no_longer_lists_still_counts_under_2022() {
        let (fw, mut vs, verdicts) = good();
        let mut v1 = vs[0].clone();
        v1.members[0].problems.push("crime".into());
        vs[0] = v1;
        let mut later = vs[0].clone();
        later.seq = 4;
        later.members[0].problems.retain(|p| p != "crime");
        vs.push(later);
        let c = assess_versions(&fw, &vs, &verdicts);
        let need = c.needs.iter().find(|n| n.problem == "crime").unwrap();
        assert!(!need.current && !need.identified_later);
        assert!(!c.claimable);
        assert_eq!(c.problems_without_outcome, ["crime"]);
    }

    #[test]
    fn outcomes_must_be_sustained_six_months_after_closure() {
        let (fw, vs, verdicts) = good();
        // still open
        let mut open = vs[0].clone();
        open.end = None;
        let c = assess_versions(&fw, &[open], &verdicts);
        assert_eq!(failed(&c), ["sustained_after_closure"]);
        assert!(condition(&c, "sustained_after_closure")
            .detail
            .contains("not closed"));
        // closed 2023-01-31: a claim on 2023-07-30 is a day early, 07-31 is not
        let early = |date: &str| {
            let mut v = verdicts.clone();
            v[0] = shown(&fw, "STY-1.4", date, Verdict::Attested);
            assess_versions(&fw, &vs, &v)
        };
        let c = early("2023-07-30");
        assert_eq!(failed(&c), ["sustained_after_closure"]);
        assert!(condition(&c, "sustained_after_closure")
            .detail
            .contains("on or after 2023-07-31 (6 months later); not shown by then: education"));
        assert!(early("2023-07-31").claimable);
        // a later claim of the same need is the one that counts
        let mut v = verdicts.clone();
        v.push(shown(&fw, "STY-1.4", "2023-03-01", Verdict::Attested));
        assert!(assess_versions(&fw, &vs, &v).claimable);
    }

    /// An adult in work is need 10.1's outcome, never a claim on its own.
    #[test]
    fn employment_alone_does_not_make_a_family_claimable() {
        let fw = sty();
        let v = version(
            1,
            Some("2023-01-31"),
            &[&["financial_stability", "crime", "housing"]],
        );
        let job = [shown(&fw, "STY-10.1", "2023-08-15", Verdict::Verified)];
        let c = assess_versions(&fw, &[v], &job);
        assert!(!c.claimable);
        assert!(condition(&c, "no_continuous_employment_route").passed);
        assert_eq!(
            failed(&c),
            ["every_need_has_outcome", "sustained_after_closure"]
        );
        assert_eq!(c.problems_without_outcome, ["crime", "housing"]);
    }

    #[test]
    fn contradicted_and_insufficient_show_no_outcome() {
        let (fw, vs, mut verdicts) = good();
        verdicts[2] = shown(&fw, "STY-9.3", "2023-08-15", Verdict::Insufficient);
        verdicts.push(shown(&fw, "STY-9.1", "2023-08-15", Verdict::Contradicted));
        let c = assess_versions(&fw, &vs, &verdicts);
        assert_eq!(c.problems_without_outcome, ["housing"]);
    }
}
