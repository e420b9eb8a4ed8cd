//! Claimability and "not applicable" end to end: what `verify` (text and
//! `--json`) and `claims` say, on feeds ingested by the binary.

use crate::util::{text, Env};

const CASE_HEADER: &str = "case_ref,role,case_start,case_end,problems,forename,surname,dob,postcode,address,nhs_number,ni_number,upn\n";

fn ingest(env: &Env, feed: &str, name: &str, body: &str) {
    let f = env.write(name, body.as_bytes());
    let out = env.ingest(feed, &f);
    assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
}

fn verify(env: &Env, case: &str) -> (String, serde_json::Value) {
    let out = env.cli(&["verify", case]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json = env.cli(&["verify", case, "--json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    (
        text(&out.stdout),
        serde_json::from_slice(&json.stdout).expect("verify --json"),
    )
}

fn condition<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["claimability"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no condition {id} in {v}"))
}

/// A Sunderland family with no identified problems and no one who ever went
/// missing: SUN-3.6 is not applicable (never "waiting for data") and the
/// family is not claimable.
#[test]
fn no_problems_is_not_claimable_and_no_one_in_scope_awaits_nothing() {
    let env = Env::empty();
    ingest(
        &env,
        "case",
        "case.csv",
        &format!("{CASE_HEADER}SF-E1,adult,2015-06-01,,,Jane,Doe,1985-03-04,SR1 1AA,1 High Street,,,\nSF-E1,child,2015-06-01,,,Amy,Doe,2007-09-07,SR1 1AA,1 High Street,,,\n"),
    );
    // Police data covering who went missing (one unrelated offence).
    ingest(
        &env,
        "police",
        "police.csv",
        "#period 2013-01-01..2016-12-31\nrecord_type,forename,surname,dob,postcode,address,nhs_number,date,disposal,role,severity,status,end_date\noffence,Zed,Quince,1990-01-01,DH1 1AA,2 Low Road,,2016-03-01,charge,,,,\n",
    );
    ingest(
        &env,
        "claims",
        "claims.csv",
        "case_ref,outcome_id,claim_date,keyworker_ref\nSF-E1,SUN-3.6,2016-06-15,KW1\n",
    );
    let (t, j) = verify(&env, "SF-E1");
    assert!(
        t.contains("claim SUN-3.6 dated 2016-06-15: NOT APPLICABLE (insufficient: no one in this rule's scope)"),
        "{t}"
    );
    assert!(!t.contains("earliest date it could be decided"), "{t}");
    assert!(!t.contains("missing coverage"), "{t}");
    assert!(t.contains("claimable: no"), "{t}");
    assert!(
        t.contains("[FAIL] identified problems: the case identifies no problems"),
        "{t}"
    );
    let claim = &j["claims"][0];
    assert_eq!(claim["verdict"], "insufficient");
    assert_eq!(claim["decision"]["not_applicable"], true);
    assert!(claim["decision"]["earliest_decidable"].is_null(), "{claim}");
    assert_eq!(claim["decision"]["missing"], serde_json::json!([]));
    assert_eq!(j["claimable"], false);
    assert_eq!(j["claimability"]["claimable"], false);
    assert_eq!(condition(&j, "identified_problems")["passed"], false);
    let out = env.cli(&["claims"]);
    let listed = text(&out.stdout);
    assert!(
        listed.contains("insufficient (not applicable: no one in scope)"),
        "{listed}"
    );
    assert!(!listed.contains("decidable from"), "{listed}");
    // `--verdict not-applicable` finds it; another verdict does not.
    let only = |v: &str| {
        let out = env.cli(&["claims", "--json", "--verdict", v]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    };
    let na = only("not-applicable");
    assert_eq!(na.len(), 1, "{na:?}");
    assert_eq!(na[0]["case_ref"], "SF-E1");
    assert!(only("verified").is_empty());
    let bad = env.cli(&["claims", "--verdict", "nope"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("not-applicable"),
        "{}",
        text(&bad.stderr)
    );
}

/// South Tyneside's 2022 rule: three headlines, each with an outcome
/// claimed six months after closure, is claimable; a need a later case
/// delivery adds must show its outcome too, and `verify` says which
/// condition fails and when the need was identified.
#[test]
fn the_2022_rule_names_the_failing_condition_and_a_need_identified_later() {
    let env = Env::empty();
    let cfg = std::fs::read_to_string(&env.config).unwrap();
    assert!(cfg.contains("framework = \"sunderland\""), "{cfg}");
    std::fs::write(
        &env.config,
        cfg.replace(
            "framework = \"sunderland\"",
            "framework = \"south-tyneside\"",
        ),
    )
    .unwrap();
    let mum = "Jane,Doe,1988-05-04,NE33 1AA,1 High Street,,,";
    let child = "Amy,Doe,2012-02-07,NE33 1AA,1 High Street,,,";
    ingest(
        &env,
        "case",
        "case1.csv",
        &format!("{CASE_HEADER}ST-1,main carer,2022-10-03,2023-01-31,education;health;housing,{mum}\nST-1,child,2022-10-03,2023-01-31,,{child}\n"),
    );
    ingest(
        &env,
        "claims",
        "claims1.csv",
        "case_ref,outcome_id,claim_date,keyworker_ref\nST-1,STY-1.4,2023-08-15,KW1\nST-1,STY-3.1,2023-08-15,KW1\nST-1,STY-9.3,2023-08-15,KW1\n",
    );
    let (t, j) = verify(&env, "ST-1");
    assert!(
        t.contains("claimable: yes, under the 2022 national Supporting Families claim rule"),
        "{t}"
    );
    for line in [
        "[pass] identified problems",
        "[pass] three headlines: needs under 3 headlines",
        "[pass] every need has outcome",
        "[pass] sustained after closure: closed 2023-01-31",
        "[pass] no continuous employment route",
    ] {
        assert!(t.contains(line), "{line}: {t}");
    }
    assert_eq!(j["claimability"]["rule"], "national_2022");
    // A later case delivery identifies a child safety need.
    ingest(
        &env,
        "case",
        "case2.csv",
        &format!("{CASE_HEADER}ST-1,main carer,2022-10-03,2023-01-31,education;health;housing,{mum}\nST-1,child,2022-10-03,2023-01-31,child_safety,{child}\n"),
    );
    let (t, j) = verify(&env, "ST-1");
    assert!(
        t.contains("claimable: no, under the 2022 national Supporting Families claim rule"),
        "{t}"
    );
    assert!(
        t.contains("[FAIL] every need has outcome:")
            && t.contains("child_safety: no verified or attested outcome"),
        "{t}"
    );
    assert!(
        t.contains("child_safety (identified later: case delivery 3 of "),
        "{t}"
    );
    assert_eq!(condition(&j, "every_need_has_outcome")["passed"], false);
    assert_eq!(condition(&j, "three_headlines")["passed"], true);
    let need = j["claimability"]["needs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["problem"] == "child_safety")
        .unwrap();
    assert_eq!(need["identified_later"], true, "{need}");
    assert_eq!(need["identified_seq"], 3, "{need}");
    assert!(need["identified_on"].is_string(), "{need}");
    assert_eq!(
        j["problems_without_outcome"],
        serde_json::json!(["child_safety"])
    );
    // Its outcome, claimed, makes the family claimable again.
    ingest(
        &env,
        "claims",
        "claims2.csv",
        "case_ref,outcome_id,claim_date,keyworker_ref\nST-1,STY-6.3,2023-08-15,KW1\n",
    );
    let (t, j) = verify(&env, "ST-1");
    assert!(t.contains("claimable: yes"), "{t}");
    assert_eq!(j["claimable"], true);
}
