//! Data built so that each flag fires exactly where it should, beside a
//! control that comes close and must not.

use super::*;
use chrono::{DateTime, Utc};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    d(s).and_hms_opt(12, 0, 0).unwrap().and_utc()
}

fn claim(
    case: &str,
    outcome: &str,
    date: &str,
    kw: Option<&str>,
    team: Option<&str>,
) -> ClaimRecord {
    ClaimRecord {
        seq: 1,
        case_ref: case.into(),
        outcome_id: outcome.into(),
        claim_date: d(date),
        keyworker_ref: kw.map(Into::into),
        team: team.map(Into::into),
    }
}

/// A stored decision: `verdict` now, on data to `as_of`, with `history`
/// (verdict, framework version, as-of delivery) and one evidence window
/// read from `feeds`.
fn verdict(
    c: &ClaimRecord,
    verdict: &str,
    as_of: u32,
    fw: &str,
    history: &[(&str, &str, u32)],
    window: Option<(&str, &[&str])>,
) -> VerdictRecord {
    let evidence: Vec<serde_json::Value> = window
        .map(|(w, feeds)| {
            let p = Period::parse(w).unwrap();
            serde_json::json!({
                "sources": ["police"], "events": [], "window": p, "coverage": [p],
                "persons": [], "count": null, "dates": [], "finding": "none",
                "feeds": feeds.iter().map(|f| serde_json::json!({
                    "feed": f, "source": "police", "covered": [p], "missing": []
                })).collect::<Vec<_>>(),
            })
        })
        .into_iter()
        .collect();
    serde_json::from_value(serde_json::json!({
        "case_ref": c.case_ref, "outcome_id": c.outcome_id, "claim_date": c.claim_date,
        "framework": "fw", "framework_version": fw, "problem": null, "verdict": verdict,
        "decision": {"verdict": verdict, "evidence": evidence, "missing": [], "earliest_decidable": null},
        "also_evidences": [], "as_of_delivery": as_of, "decided_at": at("2017-01-01"),
        "history": history.iter().map(|(v, f, s)| serde_json::json!({
            "verdict": v, "framework_version": f, "as_of_delivery": s, "decided_at": at("2016-06-01")
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

fn delivery(seq: u32, feed: &str, period: Option<&str>, received: &str) -> DeliveryRecord {
    DeliveryRecord {
        seq,
        feed: feed.into(),
        kind: crate::records::SourceKind::Police,
        period: period.and_then(Period::parse),
        content_hash: String::new(),
        received_at: at(received),
        rows: 0,
        accepted: 0,
        rejected: 0,
        persons_new: 0,
        records_matched: 0,
        families_touched: 0,
    }
}

fn subjects(r: &Report, kind: FlagKind) -> Vec<String> {
    r.flags
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.subject.clone())
        .collect()
}

/// Keyworkers: (name, claims, of which verified; the rest contradicted).
fn keyworkers(spec: &[(&str, usize, usize)]) -> (Vec<ClaimRecord>, Vec<VerdictRecord>) {
    let (mut cs, mut vs) = (Vec::new(), Vec::new());
    for (kw, n, verified) in spec {
        for i in 0..*n {
            let c = claim(
                &format!("{kw}-{i:03}"),
                &format!("O{}", i % 4),
                "2016-01-10",
                Some(kw),
                None,
            );
            let v = if i < *verified {
                "verified"
            } else {
                "contradicted"
            };
            vs.push(verdict(&c, v, 1, "1", &[], None));
            cs.push(c);
        }
    }
    (cs, vs)
}

#[test]
fn keyworker_volume_and_share_flag_only_the_departing_ones() {
    let (cs, vs) = keyworkers(&[
        ("KW1", 12, 6),
        ("KW2", 13, 6),
        ("KW3", 12, 12), // every data-decided claim verified: share flag
        ("KW4", 11, 8),  // control: 73%, high but within chance
        ("KW5", 14, 7),  // control: the most of the ordinary volumes
        ("KW6", 48, 24), // volume flag; share as the others
        ("KW7", 3, 0),   // volume flag (fewer); too few to test its share
    ]);
    let r = assess(
        &Input {
            claims: &cs,
            verdicts: &vs,
            deliveries: &[],
        },
        &Thresholds::default(),
    );
    assert_eq!(
        subjects(&r, FlagKind::KeyworkerVolume),
        ["keyworker KW6", "keyworker KW7"]
    );
    assert_eq!(
        subjects(&r, FlagKind::KeyworkerVerifiedShare),
        ["keyworker KW3"]
    );
    let vol = r
        .flags
        .iter()
        .find(|f| f.kind == FlagKind::KeyworkerVolume)
        .unwrap();
    assert_eq!(vol.claims.len(), 48);
    assert_eq!(vol.figures["median"], 12.0);
    assert!(vol.figures["z"] > 3.5 && vol.why.contains("48 claims, more than"));
    assert!(vol.test.contains("MAD"), "{}", vol.test);
    let share = r
        .flags
        .iter()
        .find(|f| f.kind == FlagKind::KeyworkerVerifiedShare)
        .unwrap();
    assert!(share.figures["p_value"] < share.figures["threshold"]);
    // Bonferroni over the six keyworkers tested.
    assert!((share.figures["threshold"] - 0.01 / 6.0).abs() < 1e-12);
    assert!(share.why.contains("12 of 12"), "{}", share.why);
    assert_eq!(share.claims.len(), 12);
    // No team column: no team flags; four outcomes: too few to compare.
    assert!(subjects(&r, FlagKind::TeamVolume).is_empty());
    assert!(subjects(&r, FlagKind::OutcomeFrequency).is_empty());
}

#[test]
fn team_share_flags_the_low_team_and_too_few_peers_flag_nothing() {
    let mut cs = Vec::new();
    let mut vs = Vec::new();
    for (team, verified) in [("T1", 10), ("T2", 11), ("T3", 9), ("T4", 10), ("T5", 1)] {
        for i in 0..20 {
            let c = claim(&format!("{team}-{i}"), "O1", "2016-01-10", None, Some(team));
            let v = if i < verified {
                "verified"
            } else {
                "contradicted"
            };
            vs.push(verdict(&c, v, 1, "1", &[], None));
            cs.push(c);
        }
    }
    let input = Input {
        claims: &cs,
        verdicts: &vs,
        deliveries: &[],
    };
    let r = assess(&input, &Thresholds::default());
    assert_eq!(subjects(&r, FlagKind::TeamVerifiedShare), ["team T5"]);
    assert!(r.flags[0].why.contains("lower"), "{:?}", r.flags);
    // Equal volumes: no spread, no volume flag.
    assert!(subjects(&r, FlagKind::TeamVolume).is_empty());
    // Four teams are too few for a volume comparison, however uneven.
    let t = Thresholds {
        min_peers: 6,
        ..Default::default()
    };
    let mut cs2 = cs.clone();
    cs2.truncate(60);
    for i in 0..200 {
        cs2.push(claim(
            &format!("X-{i}"),
            "O1",
            "2016-01-10",
            None,
            Some("T9"),
        ));
    }
    let r = assess(
        &Input {
            claims: &cs2,
            ..input
        },
        &t,
    );
    assert!(subjects(&r, FlagKind::TeamVolume).is_empty());
}

#[test]
fn outcome_frequency_flags_the_overclaimed_outcome_only() {
    let mut cs = Vec::new();
    for (o, n) in [
        ("O1", 10),
        ("O2", 11),
        ("O3", 10),
        ("O4", 9),
        ("O5", 11),
        ("O6", 1),
        ("O7", 40),
    ] {
        for i in 0..n {
            cs.push(claim(&format!("{o}-{i}"), o, "2016-01-10", None, None));
        }
    }
    let r = assess(
        &Input {
            claims: &cs,
            verdicts: &[],
            deliveries: &[],
        },
        &Thresholds::default(),
    );
    // O6 is as far below as O7 is above, but claimed *less* is no concern.
    assert_eq!(subjects(&r, FlagKind::OutcomeFrequency), ["outcome O7"]);
    assert_eq!(r.flags.len(), 1);
}

#[test]
fn edge_of_coverage_uses_the_coverage_the_decision_saw() {
    let deliveries = [
        delivery(1, "police", Some("2015-04-01..2016-04-03"), "2016-04-05"),
        delivery(2, "police", Some("2016-04-04..2017-03-31"), "2017-04-02"),
        delivery(3, "police2", Some("2015-04-01..2016-06-30"), "2016-07-01"),
    ];
    let w = "2015-04-01..2016-03-31";
    let edge = claim("C1", "O1", "2016-04-01", None, None);
    let late = claim("C2", "O1", "2016-04-01", None, None);
    let wide = claim("C3", "O1", "2016-04-01", None, None);
    let undecided = claim("C4", "O1", "2016-04-01", None, None);
    let vs = [
        // Decided on delivery 1: police reached three days past the window.
        verdict(&edge, "verified", 1, "1", &[], Some((w, &["police"]))),
        // Decided after delivery 2 extended it: well covered (control).
        verdict(&late, "verified", 3, "1", &[], Some((w, &["police"]))),
        // Another feed with three months to spare (control).
        verdict(&wide, "verified", 3, "1", &[], Some((w, &["police2"]))),
        // Not verified: nothing decided on the edge (control).
        verdict(
            &undecided,
            "insufficient",
            1,
            "1",
            &[],
            Some((w, &["police"])),
        ),
    ];
    let cs = [edge, late, wide, undecided];
    let r = assess(
        &Input {
            claims: &cs,
            verdicts: &vs,
            deliveries: &deliveries,
        },
        &Thresholds::default(),
    );
    assert_eq!(
        subjects(&r, FlagKind::EdgeOfCoverage),
        ["claim C1 O1 2016-04-01"]
    );
    let f = &r.flags[0];
    assert_eq!(f.figures["margin_days"], 3.0);
    assert!(
        f.why.contains("feed police") && f.why.contains("3 days"),
        "{}",
        f.why
    );
    assert_eq!(r.flags.len(), 1);
}

#[test]
fn flips_are_data_contradicting_a_verified_claim_soon_after() {
    let deliveries = [
        delivery(1, "police", Some("2015-04-01..2016-03-31"), "2016-04-02"),
        delivery(2, "police", Some("2015-04-01..2016-06-30"), "2016-06-01"),
        delivery(3, "police", Some("2015-04-01..2017-06-30"), "2017-09-01"),
    ];
    let soon = claim("C1", "O1", "2016-04-10", None, None);
    let new_plan = claim("C2", "O1", "2016-04-10", None, None);
    let years = claim("C3", "O1", "2016-04-10", None, None);
    let waited = claim("C4", "O1", "2016-04-10", None, None);
    let back = claim("C5", "O1", "2016-04-10", None, None);
    let vs = [
        // Verified on delivery 1, contradicted by delivery 2, 52 days on.
        verdict(&soon, "contradicted", 2, "1", &[("verified", "1", 1)], None),
        // Contradicted under a new framework version: the plan changed.
        verdict(
            &new_plan,
            "contradicted",
            2,
            "2",
            &[("verified", "1", 1)],
            None,
        ),
        // Contradicted more than flip_days after the claim.
        verdict(
            &years,
            "contradicted",
            3,
            "1",
            &[("verified", "1", 1)],
            None,
        ),
        // Never verified: an undecided claim decided against is no flip.
        verdict(
            &waited,
            "contradicted",
            2,
            "1",
            &[("insufficient", "1", 1)],
            None,
        ),
        // Contradicted once, verified again now.
        verdict(
            &back,
            "verified",
            3,
            "1",
            &[("verified", "1", 1), ("contradicted", "1", 2)],
            None,
        ),
    ];
    let cs = [soon, new_plan, years, waited, back];
    let r = assess(
        &Input {
            claims: &cs,
            verdicts: &vs,
            deliveries: &deliveries,
        },
        &Thresholds::default(),
    );
    assert_eq!(
        subjects(&r, FlagKind::FlippedByLaterData),
        ["claim C1 O1 2016-04-10"]
    );
    let f = &r.flags[0];
    assert_eq!(f.figures["days_after_claim"], 52.0);
    assert!(
        f.why
            .contains("delivery 2 (feed police, received 2016-06-01)"),
        "{}",
        f.why
    );
    assert_eq!(r.flags.len(), 1, "{:#?}", r.flags);
}
