//! Sunderland: every data-verifiable outcome verified, contradicted and
//! insufficient; the rest never verified.

use super::*;
use outcomesd::framework::RuleClass;
use outcomesd::records::EventKind::*;
use Verdict::*;

fn fw() -> Framework {
    framework("sunderland")
}

/// A family with a mother (flagged with every problem) and an 8-year-old.
fn family() -> (Family, u64, u64) {
    let mut f = Family::new("2015-06-01");
    let all = [
        "crime",
        "education",
        "children",
        "worklessness",
        "domestic_abuse",
        "health",
    ];
    let mum = f.member(Role::MainCarer, "1985-03", &all);
    let child = f.member(Role::Child, "2007-09", &all);
    (f, mum, child)
}

const CLAIM: &str = "2016-06-15";

#[test]
fn sun_1_1_no_offending() {
    let (mut f, _, c) = family();
    f.cover_all();
    f.on(c, Offence, "2015-11-01"); // before the window
    assert_verdict(&f.decide(&fw(), "SUN-1.1", CLAIM), Verified);
    f.on(c, Offence, "2016-03-01");
    let dec = f.decide(&fw(), "SUN-1.1", CLAIM);
    assert_verdict(&dec, Contradicted);
    assert_eq!(
        dec.evidence[0].dates,
        vec![d("2015-11-01"), d("2016-03-01")]
            .into_iter()
            .filter(|x| *x >= d("2015-12-16"))
            .collect::<Vec<_>>()
    );
    let (mut f, _, _) = family();
    f.cover(SourceKind::Police, "2013-01-01", "2016-03-31");
    let dec = f.decide(&fw(), "SUN-1.1", CLAIM);
    assert_verdict(&dec, Insufficient);
    assert_eq!(
        dec.missing,
        vec![Period {
            from: d("2016-04-01"),
            to: d(CLAIM)
        }]
    );
}

#[test]
fn sun_1_2_no_asb_or_completed_intervention() {
    let (mut f, mum, _) = family();
    f.cover_all();
    assert_verdict(&f.decide(&fw(), "SUN-1.2", CLAIM), Verified);
    f.on(mum, AsbIncident, "2016-02-02");
    assert_verdict(&f.decide(&fw(), "SUN-1.2", CLAIM), Contradicted);
    // ... unless an intervention was completed in the window
    f.event(
        mum,
        AsbIntervention,
        "2015-09-01",
        Some("2016-04-01"),
        "completed",
        [0; 4],
    );
    assert_verdict(&f.decide(&fw(), "SUN-1.2", CLAIM), Verified);
    let (f, _, _) = family();
    assert_verdict(&f.decide(&fw(), "SUN-1.2", CLAIM), Insufficient);
}

#[test]
fn sun_1_3_regular_youth_activities() {
    let (mut f, _, c) = family();
    f.cover_all();
    for m in [
        "2016-01-10",
        "2016-02-10",
        "2016-03-10",
        "2016-04-10",
        "2016-05-10",
        "2016-06-10",
    ] {
        f.on(c, YouthActivity, m);
    }
    assert_verdict(&f.decide(&fw(), "SUN-1.3", CLAIM), Verified);
    let (mut g, _, c) = family();
    g.cover_all();
    for m in [
        "2016-01-10",
        "2016-02-10",
        "2016-04-10",
        "2016-05-10",
        "2016-06-10",
    ] {
        g.on(c, YouthActivity, m); // March missed
    }
    assert_verdict(&g.decide(&fw(), "SUN-1.3", CLAIM), Contradicted);
    let (mut h, _, c) = family();
    h.on(c, YouthActivity, "2016-06-01");
    assert_verdict(&h.decide(&fw(), "SUN-1.3", CLAIM), Insufficient);
}

fn attendance(f: &mut Family, c: u64, attended: [i32; 3]) {
    for (term, a) in ["2015-09-01", "2016-01-01", "2016-04-01"]
        .iter()
        .zip(attended)
    {
        f.event(c, Attendance, term, None, "", [100, a, 0, 100 - a]);
    }
}

#[test]
fn sun_2_1_attendance_with_dated_threshold() {
    // claim after the summer term 2016: terms autumn 15, spring 16, summer 16
    let claim = "2016-08-15";
    let (mut f, _, c) = family();
    f.cover_all();
    attendance(&mut f, c, [95, 93, 94]);
    assert_verdict(&f.decide(&fw(), "SUN-2.1", claim), Verified);
    // 88% passes the 85% threshold but not the 90% in force from Sept 2015
    let (mut g, _, c) = family();
    g.cover_all();
    attendance(&mut g, c, [88, 88, 88]);
    let dec = g.decide(&fw(), "SUN-2.1", claim);
    assert_verdict(&dec, Contradicted);
    assert!(dec.evidence[0].finding.contains("threshold 90%"), "{dec:?}");
    // the same 88% on a claim dated before September 2015 verifies at 85%
    let mut h = Family::new("2014-06-01");
    let c = h.member(Role::Child, "2007-09", &["education"]);
    h.cover_all();
    for term in ["2014-09-01", "2015-01-01", "2015-04-01"] {
        h.event(c, Attendance, term, None, "", [100, 88, 0, 12]);
    }
    assert_verdict(&h.decide(&fw(), "SUN-2.1", "2015-08-20"), Verified);
    // a child with no record for a term is insufficient, even with coverage
    let (mut i, _, c) = family();
    i.cover_all();
    i.event(c, Attendance, "2015-09-01", None, "", [100, 99, 0, 1]);
    let dec = i.decide(&fw(), "SUN-2.1", claim);
    assert_verdict(&dec, Insufficient);
    assert!(
        dec.evidence[0].finding.contains("no attendance record"),
        "{dec:?}"
    );
    // and without coverage
    let (mut j, _, c) = family();
    attendance(&mut j, c, [70, 95, 95]);
    j.cover(SourceKind::Education, "2015-09-01", "2016-03-31");
    // 70% is a fail that coverage cannot change
    assert_verdict(&j.decide(&fw(), "SUN-2.1", claim), Contradicted);
}

#[test]
fn sun_2_2_fewer_than_three_suspensions() {
    let claim = "2016-08-15";
    let (mut f, _, c) = family();
    f.cover_all();
    f.event(c, Suspension, "2015-10-01", None, "", [2, 0, 0, 0]);
    f.event(c, Suspension, "2016-02-01", None, "", [1, 0, 0, 0]);
    assert_verdict(&f.decide(&fw(), "SUN-2.2", claim), Verified);
    f.event(c, Suspension, "2016-05-01", None, "", [1, 0, 0, 0]);
    assert_verdict(&f.decide(&fw(), "SUN-2.2", claim), Contradicted);
    let (mut g, _, _) = family();
    g.cover(SourceKind::Education, "2016-01-01", "2016-12-31");
    let dec = g.decide(&fw(), "SUN-2.2", claim);
    assert_verdict(&dec, Insufficient);
    assert_eq!(
        dec.missing,
        vec![Period {
            from: d("2015-09-01"),
            to: d("2015-12-31")
        }]
    );
}

#[test]
fn sun_2_3_no_permanent_exclusion() {
    let claim = "2016-08-15";
    let (mut f, _, c) = family();
    f.cover_all();
    f.on(c, PermanentExclusion, "2015-06-01"); // before the three terms
    assert_verdict(&f.decide(&fw(), "SUN-2.3", claim), Verified);
    f.on(c, PermanentExclusion, "2015-10-01");
    assert_verdict(&f.decide(&fw(), "SUN-2.3", claim), Contradicted);
    let (g, _, _) = family();
    assert_verdict(&g.decide(&fw(), "SUN-2.3", claim), Insufficient);
}

#[test]
fn sun_3_1_case_closed_no_repeat_referral() {
    let (f, _, _) = family();
    let mut f = f.closed("2016-01-31");
    f.cover_all();
    assert_verdict(&f.decide(&fw(), "SUN-3.1", "2016-09-01"), Verified);
    let (g, _, c) = family();
    let mut g = g.closed("2016-01-31");
    g.cover_all();
    g.on(c, Referral, "2016-04-01");
    assert_verdict(&g.decide(&fw(), "SUN-3.1", "2016-09-01"), Contradicted);
    // coverage runs out before six months after closure have passed
    let (h, _, _) = family();
    let mut h = h.closed("2016-01-31");
    h.cover(SourceKind::SocialCare, "2013-01-01", "2016-05-31");
    let dec = h.decide(&fw(), "SUN-3.1", "2016-06-15");
    assert_verdict(&dec, Insufficient);
    assert_eq!(
        dec.missing,
        vec![Period {
            from: d("2016-06-01"),
            to: d("2016-07-31")
        }]
    );
    assert!(dec.earliest_decidable.unwrap() >= d("2016-08-01"));
    // an open case cannot have met it
    let (i, _, _) = family();
    assert_verdict(&i.decide(&fw(), "SUN-3.1", "2016-09-01"), Insufficient);
}

#[test]
fn sun_3_2_plan_stepped_down_no_repeat() {
    let (mut f, _, c) = family();
    f.cover_all();
    f.event(
        c,
        ChildInNeed,
        "2015-03-01",
        Some("2015-11-30"),
        "stepped_down",
        [0; 4],
    );
    assert_verdict(&f.decide(&fw(), "SUN-3.2", CLAIM), Verified);
    let (mut g, _, c) = family();
    g.cover_all();
    g.event(c, ChildProtection, "2015-03-01", None, "", [0; 4]);
    let dec = g.decide(&fw(), "SUN-3.2", CLAIM);
    assert_verdict(&dec, Contradicted);
    assert!(dec.evidence[0].finding.contains("still open"), "{dec:?}");
    let (mut h, _, c) = family();
    h.cover_all();
    h.event(
        c,
        ChildInNeed,
        "2015-03-01",
        Some("2015-11-30"),
        "stepped_down",
        [0; 4],
    );
    h.on(c, Referral, "2016-02-01");
    assert_verdict(&h.decide(&fw(), "SUN-3.2", CLAIM), Contradicted);
    let (mut i, _, c) = family();
    i.event(
        c,
        ChildInNeed,
        "2015-03-01",
        Some("2016-03-31"),
        "stepped_down",
        [0; 4],
    );
    i.cover(SourceKind::SocialCare, "2013-01-01", "2016-04-30");
    assert_verdict(&i.decide(&fw(), "SUN-3.2", CLAIM), Insufficient);
}

#[test]
fn sun_3_3_children_centre_engagement_is_at_best_attested() {
    let (mut f, mum, _) = family();
    f.cover_all();
    f.on(mum, ChildrenCentreContact, "2016-02-01");
    f.on(mum, ChildrenCentreContact, "2016-05-01");
    assert_verdict(&f.decide(&fw(), "SUN-3.3", CLAIM), Attested);
    let (mut g, mum, _) = family();
    g.cover_all();
    g.on(mum, ChildrenCentreContact, "2016-05-01");
    assert_verdict(&g.decide(&fw(), "SUN-3.3", CLAIM), Contradicted);
    let (h, _, _) = family();
    assert_verdict(&h.decide(&fw(), "SUN-3.3", CLAIM), Insufficient);
}

#[test]
fn sun_3_4_early_education_take_up() {
    let mut f = Family::new("2015-06-01");
    let tot = f.member(Role::Child, "2013-01", &["children"]);
    f.cover_all();
    f.event(
        tot,
        EarlyEducation,
        "2015-09-01",
        Some("2016-04-30"),
        "",
        [0; 4],
    );
    assert_verdict(&f.decide(&fw(), "SUN-3.4", CLAIM), Verified);
    let mut g = Family::new("2015-06-01");
    let tot = g.member(Role::Child, "2013-01", &["children"]);
    g.cover_all();
    g.event(
        tot,
        EarlyEducation,
        "2016-03-01",
        Some("2016-05-01"),
        "",
        [0; 4],
    );
    assert_verdict(&g.decide(&fw(), "SUN-3.4", CLAIM), Contradicted);
    let mut h = Family::new("2015-06-01");
    h.member(Role::Child, "2013-01", &["children"]);
    assert_verdict(&h.decide(&fw(), "SUN-3.4", CLAIM), Insufficient);
}

#[test]
fn sun_3_6_no_further_missing_episodes() {
    let (mut f, _, c) = family();
    f.cover_all();
    f.on(c, MissingEpisode, "2015-02-01"); // before the case: in scope
    assert_verdict(&f.decide(&fw(), "SUN-3.6", CLAIM), Verified);
    f.on(c, MissingEpisode, "2016-04-01");
    assert_verdict(&f.decide(&fw(), "SUN-3.6", CLAIM), Contradicted);
    let (mut g, _, c) = family();
    g.on(c, MissingEpisode, "2015-02-01");
    g.cover(SourceKind::Police, "2013-01-01", "2016-01-31");
    assert_verdict(&g.decide(&fw(), "SUN-3.6", CLAIM), Insufficient);
    // no one went missing before: the outcome has no one to apply to
    let (mut h, _, _) = family();
    h.cover_all();
    assert_verdict(&h.decide(&fw(), "SUN-3.6", CLAIM), Insufficient);
}

#[test]
fn sun_3_8_no_child_becomes_looked_after() {
    let (mut f, _, c) = family();
    f.cover_all();
    assert_verdict(&f.decide(&fw(), "SUN-3.8", CLAIM), Verified);
    f.event(c, LookedAfter, "2016-05-01", None, "", [0; 4]);
    assert_verdict(&f.decide(&fw(), "SUN-3.8", CLAIM), Contradicted);
    let (g, _, _) = family();
    assert_verdict(&g.decide(&fw(), "SUN-3.8", CLAIM), Insufficient);
}

#[test]
fn sun_4_1_employment_after_benefits() {
    let (mut f, mum, _) = family();
    f.cover_all();
    f.event(
        mum,
        BenefitSpell,
        "2014-01-01",
        Some("2015-07-31"),
        "jsa",
        [0; 4],
    );
    f.event(mum, EmploymentSpell, "2015-08-01", None, "", [0; 4]);
    assert_verdict(&f.decide(&fw(), "SUN-4.1", CLAIM), Verified);
    // 20 weeks is not enough after JSA...
    let (mut g, mum, _) = family();
    g.cover_all();
    g.event(
        mum,
        BenefitSpell,
        "2014-01-01",
        Some("2016-01-20"),
        "jsa",
        [0; 4],
    );
    g.event(mum, EmploymentSpell, "2016-01-21", None, "", [0; 4]);
    assert_verdict(&g.decide(&fw(), "SUN-4.1", CLAIM), Contradicted);
    // ...but is after ESA (13 weeks)
    let (mut h, mum, _) = family();
    h.cover_all();
    h.event(
        mum,
        BenefitSpell,
        "2014-01-01",
        Some("2016-01-20"),
        "esa",
        [0; 4],
    );
    h.event(mum, EmploymentSpell, "2016-01-21", None, "", [0; 4]);
    assert_verdict(&h.decide(&fw(), "SUN-4.1", CLAIM), Verified);
    let (mut i, mum, _) = family();
    i.event(
        mum,
        BenefitSpell,
        "2014-01-01",
        Some("2016-01-20"),
        "jsa",
        [0; 4],
    );
    i.cover(SourceKind::Dwp, "2013-01-01", "2016-03-31");
    assert_verdict(&i.decide(&fw(), "SUN-4.1", CLAIM), Insufficient);
}

#[test]
fn sun_4_3_uc_earnings_threshold_by_age() {
    let month = |f: &mut Family, p: u64, pounds: i32| {
        f.event(
            p,
            UcEarnings,
            "2016-05-16",
            Some("2016-06-15"),
            "",
            [pounds * 100, 0, 0, 0],
        );
    };
    let (mut f, mum, _) = family(); // 31 years old
    f.cover_all();
    month(&mut f, mum, 350);
    assert_verdict(&f.decide(&fw(), "SUN-4.3", CLAIM), Verified);
    let (mut g, mum, _) = family();
    g.cover_all();
    month(&mut g, mum, 300);
    assert_verdict(&g.decide(&fw(), "SUN-4.3", CLAIM), Contradicted);
    // £300 meets the under-25 threshold of £270
    let mut h = Family::new("2015-06-01");
    let young = h.member(Role::MainCarer, "1993-01", &["worklessness"]);
    h.cover_all();
    month(&mut h, young, 300);
    assert_verdict(&h.decide(&fw(), "SUN-4.3", CLAIM), Verified);
    let (i, _, _) = family();
    assert_verdict(&i.decide(&fw(), "SUN-4.3", CLAIM), Insufficient);
}

#[test]
fn sun_5_2_no_domestic_incidents_in_the_household() {
    let (mut f, _, _) = family();
    f.cover_all();
    let partner = f.household_member("1983-01");
    assert_verdict(&f.decide(&fw(), "SUN-5.2", CLAIM), Verified);
    f.event(
        partner,
        DomesticIncident,
        "2016-04-04",
        None,
        "perpetrator",
        [0; 4],
    );
    let dec = f.decide(&fw(), "SUN-5.2", CLAIM);
    assert_verdict(&dec, Contradicted);
    assert_eq!(dec.evidence[0].dates, vec![d("2016-04-04")]);
    let (g, _, _) = family();
    assert_verdict(&g.decide(&fw(), "SUN-5.2", CLAIM), Insufficient);
}

/// Outcomes only a practitioner can judge, or whose source the plan marks
/// unavailable, never come out verified, whatever the data.
#[test]
fn attested_and_unavailable_outcomes_are_never_verified() {
    let fw = fw();
    let (mut rich, mum, c) = family();
    rich.cover_all();
    rich.on(c, YouthActivity, "2016-05-01");
    rich.on(mum, ChildrenCentreContact, "2016-05-01");
    let (empty, _, _) = family();
    let mut checked = 0;
    for o in &fw.outcomes {
        if o.rule.class() == RuleClass::DataVerifiable {
            continue;
        }
        for f in [&rich, &empty] {
            let dec = f.decide(&fw, &o.id, CLAIM);
            assert_eq!(dec.verdict, Attested, "{}: {dec:?}", o.id);
        }
        checked += 1;
    }
    assert_eq!(checked, 11, "SUN-1.4, 3.5, 3.7, 4.2, 5.1, 5.3, 6.1-6.5");
}

/// Every data-verifiable outcome has a test in this file.
#[test]
fn every_data_verifiable_outcome_is_covered_here() {
    let src = include_str!("sunderland.rs");
    for o in fw()
        .outcomes
        .iter()
        .filter(|o| o.rule.class() == RuleClass::DataVerifiable)
    {
        let test_name = format!("fn {}_", o.id.to_lowercase().replace(['-', '.'], "_"));
        assert!(src.contains(&test_name), "no test for {}", o.id);
    }
}

#[test]
fn eligibility_indicators_checked_against_data() {
    let fw = fw();
    let (mut f, mum, c) = family();
    f.cover_all();
    f.on(c, Offence, "2015-01-10");
    f.event(mum, BenefitSpell, "2014-01-01", None, "jsa", [0; 4]);
    let results = outcomesd::triangulate::check_indicators(&fw, f.data());
    let get = |id: &str| results.iter().find(|r| r.indicator == id).unwrap().verdict;
    assert_eq!(get("SUN-1a"), Verified);
    assert_eq!(
        get("SUN-1c"),
        Contradicted,
        "no arrest with a positive disposal"
    );
    assert_eq!(get("SUN-4a"), Verified);
    assert_eq!(get("SUN-1d"), Attested);
}
