//! Coverage per feed, end to end: with two police forces configured, one
//! force's delivery does not make the other's missing data count as
//! covered, and `verify` names the feed whose gap blocks the decision.

use crate::util::{text, Env};

const CASE: &str = "case_ref,role,case_start,case_end,problems,forename,surname,dob,postcode,address,nhs_number,ni_number,upn
SF-T1,adult,2015-09-01,,crime,Jonathan,Walker,1980-03-04,SR1 1AA,1 High Street,,,
";

const CLAIMS: &str = "case_ref,outcome_id,claim_date,keyworker_ref
SF-T1,SUN-1.1,2016-05-01,KW1
";

/// A police extract over 2015–2016 with one offence by someone else.
const POLICE: &str = "#period 2015-01-01..2016-12-31
record_type,forename,surname,dob,postcode,address,nhs_number,date,disposal,role,severity,status,end_date
offence,Zed,Quince,1990-01-01,DH1 1AA,,,2016-03-01,charge,,,,
";

fn ingest(env: &Env, feed: &str, body: &str) -> String {
    let f = env.write(&format!("{feed}.csv"), body.as_bytes());
    let out = env.ingest(feed, &f);
    assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn verdict(env: &Env) -> serde_json::Value {
    let out = env.cli(&["claims", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0].clone()
}

#[test]
fn one_forces_delivery_does_not_cover_the_other_forces_people() {
    let env = Env::empty();
    let mut cfg = std::fs::read_to_string(&env.config).unwrap();
    cfg.push_str("\n[feeds.police_south]\nkind = \"police\"\n");
    std::fs::write(&env.config, cfg).unwrap();
    ingest(&env, "case", CASE);
    ingest(&env, "police", POLICE);
    ingest(&env, "claims", CLAIMS);
    let v = verdict(&env);
    assert_eq!(v["verdict"], "insufficient", "{v}");
    // The stored decision names each feed's coverage of the window.
    let feeds = &v["decision"]["evidence"][0]["feeds"];
    assert_eq!(feeds[0]["feed"], "police", "{v}");
    assert_eq!(feeds[0]["missing"], serde_json::json!([]), "{v}");
    assert_eq!(feeds[1]["feed"], "police_south", "{v}");
    assert_eq!(feeds[1]["covered"], serde_json::json!([]), "{v}");
    let out = text(&env.cli(&["verify", "SF-T1"]).stdout);
    assert!(
        out.contains("blocked by the gap of feed police_south (missing 2015-11-02..2016-05-01)"),
        "{out}"
    );
    assert!(
        out.contains("feed police (police): covers 2015-11-02..2016-05-01"),
        "{out}"
    );
    // The second force delivers: the window is covered, and nothing in
    // either force's data shows an offence by the member.
    ingest(&env, "police_south", POLICE);
    assert_eq!(verdict(&env)["verdict"], "verified");
}
