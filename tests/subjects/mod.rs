//! Data subjects end to end, on the real binary and store: a subject
//! access lookup finds every record of a person and none of a namesake's;
//! an erasure leaves none of the person's tokens in any file under the
//! data directory; restriction holds their family's claims; unlink splits
//! a merge; a purge removes exactly what retention says.

use std::io::Write as _;
use std::process::{Command, Stdio};

use outcomesd::ingest::matching::Variant;
use outcomesd::ingest::pseudonymise::{Pseudonymiser, RawIdentity};
use outcomesd::keys::HmacKey;

use crate::util::{all_bytes_under, contains, text, Env};

const NHS: &str = "9434765919";

const CASE: &str =
    "case_ref,role,case_start,case_end,problems,forename,surname,dob,postcode,address,nhs_number
SF-1,main_carer,2016-01-01,,crime,Robert,Smith,1985-02-03,SR1 3AA,1 High Street,9434765919
SF-2,main_carer,2016-01-01,,crime,Robert,Smith,1970-07-08,NE2 2BB,9 Low Road,
";

const POLICE: &str = "#period 2016-01-01..2016-12-31
record_type,forename,surname,dob,postcode,nhs_number,date
offence,Robert,Smith,1985-02-03,SR1 3AA,,2016-03-11
offence,Rob,Smith,1985-02-03,SR1 3AA,9434765919,2016-09-09
offence,Robert,Smith,1970-07-08,NE2 2BB,,2016-10-21
";

const CLAIMS: &str = "case_ref,outcome_id,claim_date,keyworker_ref
SF-1,SUN-1.1,2016-12-01,KW1
SF-2,SUN-1.1,2016-12-01,KW2
";

/// Robert's identifiers as a subject access request gives them.
const ROBERT: &str = "forename: Robert\nsurname: Smith\ndob: 1985-02-03\npostcode: SR1 3AA\naddress: 1 High Street\n";
const NAMESAKE: &str = "forename: Robert\nsurname: Smith\ndob: 1970-07-08\npostcode: NE2 2BB\n";

fn ingest(env: &Env, feed: &str, body: &str) {
    let f = env.write(&format!("{feed}-{}.csv", body.len()), body.as_bytes());
    let out = env.ingest(feed, &f);
    assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
}

fn families() -> Env {
    let env = Env::empty();
    ingest(&env, "case", CASE);
    ingest(&env, "police", POLICE);
    ingest(&env, "claims", CLAIMS);
    env
}

/// `outcomesd ARGS --config CONFIG` with `stdin` on standard input.
fn with_stdin(env: &Env, args: &[&str], stdin: &str) -> std::process::Output {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--config", env.config.to_str().unwrap()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(&a)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn lookup(env: &Env, who: &str) -> serde_json::Value {
    let out = with_stdin(env, &["subject", "lookup", "--json"], who);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn claims(env: &Env) -> Vec<serde_json::Value> {
    let out = env.cli(&["claims", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verdict_of(env: &Env, case: &str) -> String {
    claims(env)
        .iter()
        .find(|c| c["case_ref"] == case)
        .map(|c| c["verdict"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn lookup_finds_every_record_of_the_person_and_none_of_a_namesakes() {
    let env = families();
    let v = lookup(&env, ROBERT);
    let persons = v["persons"].as_array().unwrap();
    assert_eq!(persons.len(), 1, "{v:#}");
    let p = &persons[0];
    let dates: Vec<&str> = p["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["start"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2016-03-11", "2016-09-09"], "{p:#}");
    let rows: Vec<(String, u64)> = p["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["feed"].as_str().unwrap().into(),
                r["row"].as_u64().unwrap(),
            )
        })
        .collect();
    // Case row 1, police rows 1 and 2 (rows count from the header's next).
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.0 == "police").count(), 2);
    assert_eq!(p["cases"].as_array().unwrap().len(), 1);
    assert_eq!(p["cases"][0]["case_ref"], "SF-1");
    assert_eq!(p["cases"][0]["role"], "main_carer");
    assert_eq!(p["claims"].as_array().unwrap().len(), 1);
    assert_eq!(p["claims"][0]["verdict"], "contradicted", "{p:#}");
    assert_eq!(p["born"], "1985-02");
    assert_eq!(p["keyed_ids"][0], "nhs_number");
    assert_eq!(
        p["deliveries"].as_array().unwrap().len(),
        2,
        "case and police"
    );
    let all = v.to_string();
    // None of the namesake's: his event, his case, his claim.
    for theirs in ["2016-10-21", "SF-2", "KW2"] {
        assert!(!all.contains(theirs), "{theirs} in {all}");
    }
    // Nothing typed in is echoed back.
    for typed in ["Robert", "Smith", "1985-02-03", "SR1 3AA", "High Street"] {
        assert!(!all.contains(typed), "{typed} echoed");
    }
    // The namesake's own lookup finds him, and none of Robert's.
    let n = lookup(&env, NAMESAKE);
    let ns = n["persons"].as_array().unwrap();
    assert_eq!(ns.len(), 1);
    assert_ne!(ns[0]["person"], p["person"]);
    assert_eq!(ns[0]["cases"][0]["case_ref"], "SF-2");
    assert!(!n.to_string().contains("2016-09-09"));
    // The NHS number alone finds Robert; the text form names him too.
    let by_nhs = lookup(&env, &format!("nhs_number: {NHS}\n"));
    assert_eq!(by_nhs["persons"][0]["person"], p["person"]);
    let out = with_stdin(&env, &["subject", "lookup"], ROBERT);
    let s = text(&out.stdout);
    assert!(
        s.contains("SF-1") && s.contains("2016-09-09 offence"),
        "{s}"
    );
    assert!(!s.contains("Robert") && !s.contains(NHS), "{s}");
    // An initial and a place: possibly Robert, never matched, and the
    // answer says why (not "below the threshold": it may score above it).
    let weak = "forename: R\nsurname: Smith\npostcode: SR1 3AA\naddress: 1 High Street\n";
    let w = lookup(&env, weak);
    assert_eq!(w["persons"], serde_json::json!([]), "{w:#}");
    let possible = w["lookup"]["possible"].as_array().unwrap();
    assert!(
        possible
            .iter()
            .any(|m| m["person"] == p["person"] && m["held_because"] == "too_little_to_link"),
        "{w:#}"
    );
    let s = text(&with_stdin(&env, &["subject", "lookup"], weak).stdout);
    assert!(
        s.contains("possible only") && s.contains("too little to link alone"),
        "{s}"
    );
    // Identifiers are never taken from the command line.
    let out = env.cli(&["subject", "lookup", "--surname", "Smith"]);
    assert!(!out.status.success());
}

/// Robert's tokens as ingest computes them: his NHS number's, his
/// household's, and his case row's spelling as the identity log keeps it.
fn tokens(env: &Env, dob: &str, pc: &str, addr: &str, nhs: &str) -> Vec<Vec<u8>> {
    let key = HmacKey::load(&env.path().join("hmac.key")).unwrap();
    let p = Pseudonymiser::new(&key);
    let raw = RawIdentity {
        forename: "Robert",
        surname: "Smith",
        dob,
        postcode: pc,
        address: addr,
        nhs_number: nhs,
        ..Default::default()
    };
    let t = p.pseudonymise(&raw, &mut String::new()).unwrap();
    let mut variant = Vec::new();
    Variant::of(&t).encode(&mut variant);
    let addr = t.address.unwrap();
    let hex = outcomesd::ingest::pseudonymise::token_hex(&addr);
    let mut out = vec![variant, addr.to_vec(), hex.into_bytes()];
    if let Some(n) = t.nhs {
        out.push(n.to_vec());
    }
    out
}

#[test]
fn an_erased_persons_tokens_are_gone_from_every_file() {
    let env = families();
    let robert = tokens(&env, "1985-02-03", "SR1 3AA", "1 High Street", NHS);
    let namesake = tokens(&env, "1970-07-08", "NE2 2BB", "9 Low Road", "");
    let before = all_bytes_under(&env.data_dir());
    for (i, t) in robert.iter().chain(&namesake).enumerate() {
        assert!(contains(&before, t), "control: token {i} is stored before");
    }
    assert_eq!(verdict_of(&env, "SF-1"), "contradicted");
    let out = with_stdin(
        &env,
        &[
            "subject",
            "erase",
            "--reason",
            "Article 17 request 42",
            "--json",
        ],
        ROBERT,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["erased"]["events"], 2, "{r:#}");
    assert_eq!(r["erased"]["cases"][0], "SF-1");
    assert!(r["verdicts_changed"].as_u64().unwrap() >= 1, "{r:#}");
    let after = all_bytes_under(&env.data_dir());
    for (i, t) in robert.iter().enumerate() {
        assert!(
            !contains(&after, t),
            "Robert's token {i} is still in a file"
        );
    }
    for (i, t) in namesake.iter().enumerate() {
        assert!(contains(&after, t), "the namesake's token {i} was lost");
    }
    assert!(
        !env.data_dir().join("store.rewrite").exists(),
        "no copy left beside the store"
    );
    // The store is whole, answers, and no longer knows him.
    let out = env.cli(&["store", "check"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let out = with_stdin(&env, &["subject", "lookup", "--json"], ROBERT);
    assert!(!out.status.success() || lookup(&env, ROBERT)["persons"] == serde_json::json!([]));
    assert_eq!(
        lookup(&env, NAMESAKE)["persons"].as_array().unwrap().len(),
        1
    );
    // His family's claim was re-decided without him.
    assert_ne!(verdict_of(&env, "SF-1"), "contradicted");
    assert_eq!(verdict_of(&env, "SF-2"), "contradicted", "untouched");
    // The erasure and the lookups are in the audit log, with the reason
    // and no identifier; the log still verifies.
    let out = env.cli(&["audit", "show", "--since", "2000-01-01", "--json"]);
    let log = text(&out.stdout);
    let ops: Vec<&str> = log.lines().filter(|l| l.contains("\"subject\"")).collect();
    assert!(
        ops.iter()
            .any(|l| l.contains("\"erase\"") && l.contains("Article 17 request 42")),
        "{log}"
    );
    assert!(ops.iter().any(|l| l.contains("\"lookup\"")), "{log}");
    for t in &robert {
        assert!(!contains(log.as_bytes(), t));
    }
    assert!(!log.contains("1985-02-03") && !log.contains(NHS));
    assert!(env.cli(&["audit", "verify"]).status.success());
}

#[test]
fn a_restricted_person_holds_the_familys_claims_until_lifted() {
    let env = families();
    let p = lookup(&env, ROBERT)["persons"][0]["person"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.cli(&[
        "subject",
        "restrict",
        &p,
        "--reason",
        "objection under Article 21",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let c = claims(&env);
    let sf1 = c.iter().find(|c| c["case_ref"] == "SF-1").unwrap();
    assert_eq!(sf1["verdict"], "insufficient", "{sf1:#}");
    assert!(sf1.to_string().contains("restricted"), "{sf1:#}");
    assert_eq!(verdict_of(&env, "SF-2"), "contradicted");
    assert!(lookup(&env, ROBERT)["persons"][0]["restricted"].is_object());
    // Selected by identifiers on stdin this time.
    let out = with_stdin(&env, &["subject", "unrestrict"], ROBERT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(verdict_of(&env, "SF-1"), "contradicted");
}

#[test]
fn unlink_splits_a_merge_as_a_review_decision() {
    let env = Env::empty();
    ingest(
        &env,
        "case",
        "case_ref,role,case_start,case_end,problems,forename,surname,dob,postcode,address,upn\n\
         SF-9,child,2016-01-01,,education,Amy,Jones,2009-05-06,,,\n",
    );
    // The school knows her by UPN at her address with an initial; then a
    // row with her full name, dob, address and UPN bridges the two.
    let upn = {
        let body = "801200001001";
        let sum: u32 = body
            .bytes()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * (i as u32 + 2))
            .sum();
        format!(
            "{}{body}",
            b"ABCDEFGHJKLMNPQRTUVWXYZ"[(sum % 23) as usize] as char
        )
    };
    ingest(
        &env,
        "education",
        &format!(
            "#period 2016-01-01..2016-12-31\nrecord_type,forename,surname,dob,postcode,address,upn,date,days\n\
             suspension,A,Jones,,SR2 1AB,4 Park Lane,{upn},2016-02-02,1\n\
             suspension,Amy,Jones,2009-05-06,SR2 1AB,4 Park Lane,{upn},2016-03-03,1\n"
        ),
    );
    let amy = "forename: Amy\nsurname: Jones\ndob: 2009-05-06\n";
    let v = lookup(&env, amy);
    let p = &v["persons"][0];
    let stored: Vec<String> = p["stored_as"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored.len(), 2, "the bridge merged two records: {v:#}");
    let out = env.cli(&[
        "subject",
        "unlink",
        &stored[0],
        &stored[1],
        "--note",
        "two girls",
        "--by",
        "tester",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = lookup(&env, amy);
    for p in v["persons"].as_array().unwrap() {
        assert_eq!(p["stored_as"].as_array().unwrap().len(), 1, "{v:#}");
    }
    let decisions = v["persons"][0]["review_decisions"].as_array().unwrap();
    assert!(
        decisions.iter().any(|d| d["decision"] == "different"),
        "{v:#}"
    );
    // Unlinking again is refused: they are two people now.
    let out = env.cli(&["subject", "unlink", &stored[0], &stored[1], "--by", "t"]);
    assert!(!out.status.success());
}

#[test]
fn a_purge_removes_exactly_what_retention_says() {
    use chrono::{Duration, Utc};
    let env = Env::empty();
    let today = Utc::now().date_naive();
    let recent = today - Duration::days(30);
    let (from, to) = (today - Duration::days(300), today - Duration::days(1));
    let mut cfg = std::fs::read_to_string(&env.config).unwrap();
    cfg.push_str(
        "\n[retention]\nevents_years = 2\nclaims_years = 2\n\n[feeds.police.retention]\nevents_years = 1\nreports_days = 0\n",
    );
    std::fs::write(&env.config, cfg).unwrap();
    let closed_lately = today - Duration::days(200);
    ingest(
        &env,
        "case",
        &format!(
            "case_ref,role,case_start,case_end,problems,forename,surname,dob,postcode,address\n\
             SF-1,main_carer,2016-01-01,2016-12-31,crime,Robert,Smith,1985-02-03,SR1 3AA,1 High Street\n\
             SF-2,main_carer,2016-01-01,{closed_lately},crime,Robert,Smith,1970-07-08,NE2 2BB,9 Low Road\n\
             SF-3,main_carer,2016-01-01,,crime,Alice,Brown,1990-01-01,DH1 1AA,3 Hill Road\n"
        ),
    );
    ingest(
        &env,
        "police",
        "#period 2016-01-01..2016-12-31\nrecord_type,forename,surname,dob,postcode,date\n\
         offence,Robert,Smith,1985-02-03,SR1 3AA,2016-03-11\n\
         offence,Robert,Smith,1985-02-03,SR1 3AA,2016-09-09\n\
         offence,Robert,Smith,1970-07-08,NE2 2BB,2016-04-21\n\
         offence,Alice,Brown,1990-01-01,DH1 1AA,2016-05-05\n\
         offence,Zed,Nobody,1999-09-09,TS1 1AA,2016-06-06\n",
    );
    ingest(
        &env,
        "police",
        &format!(
            "#period {from}..{to}\nrecord_type,forename,surname,dob,postcode,date\n\
             offence,Zed,Nobody,1999-09-09,TS1 1AA,{recent}\n\
             offence,Zed,Nobody,1999-09-09,TS1 1AA,not-a-date\n"
        ),
    );
    ingest(
        &env,
        "education",
        "#period 2016-01-01..2016-12-31\nrecord_type,forename,surname,dob,date,days\n\
         suspension,Alice,Brown,1990-01-01,2016-02-02,1\n\
         suspension,Alice,Brown,1990-01-01,not-a-date,1\n",
    );
    ingest(
        &env,
        "claims",
        &format!(
            "case_ref,outcome_id,claim_date,keyworker_ref\nSF-1,SUN-1.1,2016-12-01,KW1\n\
             SF-2,SUN-1.1,{closed_lately},KW2\nSF-3,SUN-1.1,2016-12-01,KW3\n"
        ),
    );
    let reports = || {
        let mut v: Vec<String> = std::fs::read_dir(env.data_dir().join("reports"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(reports().len(), 2, "a police and an education report");
    let before_claims = claims(&env);
    let purge = |dry: bool| {
        let mut a = vec!["store", "purge", "--json"];
        if dry {
            a.push("--dry-run");
        }
        let out = env.cli(&a);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let expect = |r: &serde_json::Value| {
        // Robert's two events (his case closed in 2016, its claim goes
        // too) and Zed's 2016 one (no case; police keeps a year); not the
        // namesake's (a claim of his case is kept), not Alice's (her case
        // is open), not Zed's recent one.
        assert_eq!(r["events"], 3, "{r:#}");
        assert_eq!(
            r["claims"],
            serde_json::json!([["SF-1", "SUN-1.1", "2016-12-01"]]),
            "{r:#}"
        );
        assert_eq!(r["cases"], serde_json::json!(["SF-1"]), "{r:#}");
        let reps = r["reports"].as_array().unwrap();
        assert_eq!(reps.len(), 1, "{r:#}");
        assert!(reps[0]
            .as_str()
            .unwrap()
            .ends_with("-police-rejections.csv"));
    };
    let dry = purge(true);
    expect(&dry);
    assert_eq!(dry["rewrite_pending"], false, "{dry:#}");
    assert!(dry.get("rewritten").is_none(), "a dry run rewrites nothing");
    assert_eq!(claims(&env), before_claims, "a dry run changes nothing");
    assert_eq!(reports().len(), 2);
    let real = purge(false);
    expect(&real);
    // The purge rewrote the store, so what it removed left the files too.
    assert_eq!(real["rewrite_pending"], false, "{real:#}");
    assert!(
        real["rewritten"]["bytes_after"].as_u64().unwrap() > 0,
        "{real:#}"
    );
    let again = purge(false);
    assert_eq!(again["events"], 0, "{again:#}");
    assert!(
        again.get("rewritten").is_none(),
        "nothing removed, no rewrite"
    );
    let after: Vec<_> = claims(&env)
        .into_iter()
        .map(|c| c["case_ref"].clone())
        .collect();
    assert_eq!(after, ["SF-2", "SF-3"]);
    assert_eq!(reports().len(), 1);
    let n = lookup(&env, NAMESAKE);
    assert_eq!(n["persons"][0]["events"].as_array().unwrap().len(), 1);
    let z = lookup(&env, "forename: Zed\nsurname: Nobody\ndob: 1999-09-09\n");
    let zev = z["persons"][0]["events"].as_array().unwrap();
    assert_eq!(zev.len(), 1, "{z:#}");
    assert_eq!(zev[0]["start"], recent.to_string());
    let a = lookup(&env, "forename: Alice\nsurname: Brown\ndob: 1990-01-01\n");
    assert_eq!(a["persons"][0]["events"].as_array().unwrap().len(), 2);
    let r = lookup(&env, ROBERT);
    let rp = &r["persons"][0];
    assert_eq!(rp["events"].as_array().unwrap().len(), 0, "{r:#}");
    assert_eq!(rp["cases"].as_array().unwrap().len(), 0, "{r:#}");
    // Nothing more is due.
    let again = purge(false);
    assert_eq!(again["events"], 0);
    assert_eq!(again["claims"], serde_json::json!([]));
}
