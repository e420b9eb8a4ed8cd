//! The partners' side end to end: `validate-feed` agrees with `ingest` row
//! by row on the bad-input corpus; the published schemas are the code's
//! and the stock `frictionless` package accepts the synthetic feeds with
//! them and refuses broken ones; receipts reach a partner's mutual-TLS
//! endpoint signed, across a kill (`receipts.rs`).

mod receipts;
mod report_schedule;

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::{text, Env};

/// Extra feeds for the corpus: a column mapping and JSON Lines.
const EXTRA_FEEDS: &str = "\n[feeds.police_mapped]\nkind = \"police\"\n\
    [feeds.police_mapped.columns]\nsurname = \"FAMILY_NAME\"\nrecord_type = \"Type\"\n\
    \n[feeds.dwp_jsonl]\nkind = \"dwp\"\nformat = \"jsonl\"\n";

/// The bad-input corpus: (feed, file name, bytes). Files refused whole,
/// rows rejected by row and column, identifier fields dropped or repaired,
/// guards (future period and claim dates, framework codes, case dates).
fn corpus() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let p = "#period 2016-01-01..2016-12-31\n";
    let police_csv =
        format!("{p}record_type,surname,dob,date\noffence,Smith,2001-02-03,2016-02-02\n");
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(police_csv.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let long = "x".repeat(5000);
    let s = |t: String| t.into_bytes();
    vec![
        ("police", "gzip.csv.gz", vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0]),
        ("police", "zip.zip", b"PK\x03\x04\x14\0\0\0\x08\0".to_vec()),
        ("police", "utf16.csv", utf16),
        ("police", "blank.csv", b"  \r\n\t \n\n".to_vec()),
        ("police", "empty.csv", Vec::new()),
        ("police", "dup-header.csv", s(format!("{p}record_type,surname,dob,date,Surname\noffence,Smith,2001-02-03,2016-02-02,Jones\n"))),
        ("police", "latin1.csv", [p.as_bytes(), b"record_type,surname,dob,date\noffence,Mu\xf1oz,2001-02-03,2016-02-02\n"].concat()),
        ("police", "no-column.csv", s(format!("{p}surname,dob,date\nSmith,2001-02-03,2016-02-02\n"))),
        ("police", "no-period.csv", b"record_type,surname,dob,date\noffence,Smith,2001-02-03,2016-02-02\n".to_vec()),
        ("police", "bad-period.csv", b"#period 2016-12-31..2016-01-01\nrecord_type,surname,dob,date\n".to_vec()),
        ("police", "future-period.csv", b"#period 2016-01-01..2999-12-31\nrecord_type,surname,dob,date\noffence,Smith,2001-02-03,2016-02-02\n".to_vec()),
        ("police", "nul.csv", s(format!("{p}record_type,surname,dob,date\noffence,Smi\0th,2001-02-03,2016-02-02\noffence,Smith,2001-02-03,2016-02-02\n"))),
        ("police", "bad-rows.csv", s(format!("{p}record_type,forename,surname,dob,postcode,date,disposal\n\
            offence,Ann,Able,2001-02-03,SR1 3AA,2016-03-03,\n\
            offence,Ann,Able,2001-02-31,SR1 3AA,2016-03-03,\n\
            arrest,Ann,Able,2001-02-03,SR1 3AA,2016-03-03,hanged\n\
            offence,Ann,Able,2001-02-03,SR1 3AA,2017-03-03,\n\
            offence,,Able,2001-02-31,,2016-03-03,\n\
            offence,Ann,Able,2001-13-02,SR1 3AA,2016-03-04,\n\
            offence,Ann,\"Able\n"))),
        ("police", "oversize.csv", s(format!("{p}record_type,surname,dob,date\noffence,{long},2001-02-03,2016-02-02\noffence,Smith,2001-02-03,2016-02-02\n"))),
        ("police", "controls.csv", s(format!("{p}record_type,surname,dob,date,notes\n\
            offence,Smith,2001-02-03,2016-02-02,tab\there\n\
            offence,\"Sm\r\nith\",2001-02-03,2016-02-02,\n\
            offence,Smith,2001-02-03\x1b,2016-02-02,\n\
            offence,a\n\
            domestic_incident,Smith,2001-02-03,2016-05-05,\n\
            Domestic Incident,Smith,2001-02-03,2016-05-05,\n"))),
        ("police_mapped", "mapped.csv", s(format!("{p}TYPE,family_name,dob,date\noffence,Smith,2001-02-03,2016-02-02\nburglary,Smith,2001-02-03,2016-02-02\n"))),
        ("police_mapped", "mapped-missing.csv", s(format!("{p}record_type,family_name,dob,date\noffence,Smith,2001-02-03,2016-02-02\n"))),
        ("education", "sessions.csv", b"#period 2015-09-01..2016-08-31\nrecord_type,upn,surname,dob,term,possible_sessions,attended_sessions,authorised_absence,unauthorised_absence,date,days\n\
            attendance,,Smith,2008-01-02,2015-autumn,140,130,5,5,,\n\
            attendance,,Smith,2008-01-02,2016-spring,100,100,1,0,,\n\
            attendance,,Smith,2008-01-02,2016-winter,100,90,1,0,,\n\
            suspension,,Smith,2008-01-02,,,,,,2016-01-05,0\n\
            suspension,,Smith,2008-01-02,,,,,,2016-01-05,3\n".to_vec()),
        ("dwp", "dwp.csv", b"#period 2015-01-01..2015-12-31\nrecord_type,ni_number,surname,dob,date,end_date,amount,benefit\n\
            uc_earnings,AB123456C,Smith,1980-01-01,2015-03-01,2015-03-31,412.5,\n\
            uc_earnings,AB123456C,Smith,1980-01-01,2015-03-01,2015-03-31,412.555,\n\
            uc_earnings,AB123456C,Smith,1980-01-01,2015-03-01,,1,\n\
            benefit_spell,AB123456C,Smith,1980-01-01,2015-04-01,2015-02-01,,jsa\n\
            benefit_spell,XX,Smith,1980-01-01,2015-04-01,,,JSA\n".to_vec()),
        ("dwp_jsonl", "dwp.jsonl", [
            "#period 2015-01-01..2015-12-31",
            r#"{"record_type":"benefit_spell","ni_number":"AB123456C","ni_number":"ZZ999999Z","date":"2015-01-01","benefit":"JSA"}"#,
            r#"{"record_type":"benefit_spell","note":1,"note":2,"ni_number":"AB123456C","date":"2015-01-01","benefit":"JSA"}"#,
            "not json",
            r#"{"record_type":"benefit_spell","ni_number":"AB123456C","date":"2015-01-01","benefit":"JSA"}"#,
        ].join("\n").into_bytes()),
        ("case", "case.csv", b"case_ref,role,case_start,case_end,problems,surname,dob\n\
            SF-X1,Main Carer,2015-01-01,,crime; education,Smith,1980-01-01\n\
            SF-X1,uncle,2015-01-01,,,Smith,1980-01-01\n\
            SF-X1,child,2015-02-01,,,Smith,2010-01-01\n\
            SF-X2,child,2015-02-01,2014-01-01,,Jones,2010-01-01\n\
            SF-X3,child,2015-02-01,,not-a-problem,Jones,2010-01-01\n\
            SF X4,child,2015-02-01,,,Jones,2010-01-01\n".to_vec()),
        ("claims", "claims.csv", b"case_ref,outcome_id,claim_date,keyworker_ref\n\
            SF-X1,SUN-NOT-AN-OUTCOME,2016-01-01,\n\
            SF-X1,SUN-1.1,2999-01-01,kw1\n\
            SF-X1,,2016-01-01,\n\
            SF-X1,SUN-1.1,2016-13-01,\n".to_vec()),
    ]
}

/// (row, column, reason) of every rejection, and the counts, from either
/// command's JSON.
/// rows, accepted, rejected, (row, column, reason) of each rejection, and
/// how many identifier fields were dropped or repaired.
type Outcome = (u64, u64, u64, BTreeSet<(u64, String, String)>, usize);

fn rows_of(v: &serde_json::Value) -> Outcome {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    let rej = v["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["column"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let issues = v["field_issues"].as_array().unwrap().len();
    (n("rows"), n("accepted"), n("rejected"), rej, issues)
}

fn validate(env: &Env, feed: &str, file: &Path, json: bool) -> std::process::Output {
    let mut args = vec![
        "validate-feed",
        "--config",
        env.config.to_str().unwrap(),
        "--feed",
        feed,
        file.to_str().unwrap(),
    ];
    if json {
        args.push("--json");
    }
    env.run(&args)
}

/// The promise of `validate-feed`: whatever ingest would refuse, reject or
/// accept, it says so, row by row and column by column.
#[test]
fn the_validator_agrees_with_ingest_on_every_file_of_the_corpus() {
    let env = Env::new(8, 31);
    let mut cfg = std::fs::read_to_string(&env.config).unwrap();
    cfg.push_str(EXTRA_FEEDS);
    std::fs::write(&env.config, cfg).unwrap();
    // The case feed first, so the claims' cases exist for ingest as well
    // (whether a case exists is the one check the validator cannot make).
    let mut files: Vec<(&str, std::path::PathBuf)> = outcomesd::sim::demo::DEMO_FEEDS
        .iter()
        .map(|(name, _)| (*name, env.feed_file(name)))
        .collect();
    for (feed, name, bytes) in corpus() {
        files.push((feed, env.write(name, &bytes)));
    }
    let mut rejected_rows = 0;
    let mut refused = 0;
    for (feed, file) in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let v = validate(&env, feed, file, true);
        let vj: serde_json::Value = serde_json::from_slice(&v.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}: {}", text(&v.stderr)));
        let mut args = vec!["ingest", "--config", env.config.to_str().unwrap()];
        args.extend(["--feed", feed, "--json", file.to_str().unwrap()]);
        let i = env.run(&args);
        if let Some(why) = vj["refused"].as_str() {
            refused += 1;
            assert!(
                !i.status.success(),
                "{name}: ingest accepted what validate refused"
            );
            assert!(
                text(&i.stderr).contains(why),
                "{name}: ingest said {} where validate said {why}",
                text(&i.stderr)
            );
            assert_eq!(v.status.code(), Some(1), "{name}");
            continue;
        }
        assert!(
            i.status.success(),
            "{name}: ingest refused: {}",
            text(&i.stderr)
        );
        let ij: serde_json::Value = serde_json::from_slice(&i.stdout).unwrap();
        let (_, _, rej, by_row, _) = rows_of(&vj);
        assert_eq!(
            rows_of(&vj),
            rows_of(&ij),
            "{name}: validate-feed and ingest differ"
        );
        rejected_rows += rej;
        let clean = rej == 0 && vj["holds"].as_array().unwrap().is_empty();
        assert_eq!(v.status.success(), clean, "{name}: exit status");
        // A hold the validator foresees, ingest makes; the one it cannot
        // foresee compares with what the feed sent before (min_share).
        let v_holds = !vj["holds"].as_array().unwrap().is_empty();
        if v_holds {
            assert!(!ij["hold"].is_null(), "{name}: ingest did not hold");
        } else if !ij["hold"].is_null() {
            let why = ij["hold"]["reason"].as_str().unwrap();
            assert!(why.contains("min_share"), "{name}: unforeseen hold: {why}");
        }
        for r in &by_row {
            assert!(
                !r.2.contains("Smith") && !r.2.contains("hanged"),
                "{name}: a value echoed"
            );
        }
    }
    assert!(refused >= 10, "the corpus refuses files: {refused}");
    assert!(
        rejected_rows >= 20,
        "the corpus rejects rows: {rejected_rows}"
    );
}

/// The text report is the rejection report ingest writes, and the
/// validator runs from a kind alone with no config, key or store.
#[test]
fn the_text_report_is_ingests_report_and_needs_no_config() {
    let env = Env::empty();
    let bytes = corpus()
        .into_iter()
        .find(|c| c.1 == "bad-rows.csv")
        .unwrap()
        .2;
    let file = env.write("bad-rows.csv", &bytes);
    let out = env.run(&["validate-feed", "--kind", "police", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(s.contains("7 rows: 3 accepted, 4 rejected"), "{s}");
    assert!(s.contains("feed,row,column,reason,outcome\n"), "{s}");
    assert!(
        s.contains("police,4,disposal,unknown code,row_rejected"),
        "{s}"
    );
    assert!(
        s.contains("police,7,dob,day_month_swap,field_repaired"),
        "{s}"
    );
    assert!(!s.contains("hanged") && !s.contains("Able"), "{s}");
    assert!(!env.data_dir().exists(), "nothing written");
    let good = env.write("good.csv", b"#period 2016-01-01..2016-12-31\nrecord_type,surname,dob,date\noffence,Smith,2001-02-03,2016-02-02\n");
    let out = env.run(&["validate-feed", "--kind", "police", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 rows: 1 accepted, 0 rejected"));
    let out = env.run(&["validate-feed", "--kind", "polise", good.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown source kind"));
}

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `docs/schemas/` is what the code generates (so CI fails when they
/// drift), and the stock `frictionless` package accepts the synthetic feeds
/// with them and refuses deliberately broken files.
#[test]
fn published_schemas_are_the_codes_and_frictionless_agrees() {
    let dir = repo("docs/schemas");
    let out = crate::util::outcomesd(&["schemas", "--check", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    if !crate::util::python_has("frictionless") {
        eprintln!("SKIPPED: frictionless check (python3 or the frictionless package is missing)");
        return;
    }
    for noise in ["light", "realistic"] {
        let env = Env::empty();
        let out = env.run(&[
            "synth",
            "--out",
            env.feeds.to_str().unwrap(),
            "--families",
            "60",
            "--seed",
            "3",
            "--noise",
            noise,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = std::process::Command::new("python3")
            .arg(repo("tests/schemas_check.py"))
            .arg(&dir)
            .arg(&env.feeds)
            .output()
            .unwrap();
        let s = text(&out.stdout);
        eprintln!("{s}");
        assert!(out.status.success(), "{noise}: {s}{}", text(&out.stderr));
        assert_eq!(s.matches(": VALID").count(), 7, "{s}");
        assert_eq!(s.matches(": refused").count(), 6, "{s}");
    }
    // And a changed schema is caught.
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(tmp.path().join("police.schema.json"), "{}\n").unwrap();
    let out =
        crate::util::outcomesd(&["schemas", "--check", "--out", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("police.schema.json"),
        "{}",
        text(&out.stderr)
    );
}

/// `partner-report`: a feed's claims by outcome and verdict, with no count
/// from 1 to 4 shown and no case named; the case feed shaped every claim.
#[test]
fn partner_report_counts_what_a_feed_evidenced_with_small_numbers_hidden() {
    let env = Env::new(40, 7);
    for (feed, _) in outcomesd::sim::demo::DEMO_FEEDS {
        let out = env.ingest(feed, &env.feed_file(feed));
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    }
    let out = env.cli(&["claims", "--json"]);
    let claims: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(claims.len() >= 5, "{}", claims.len());
    let report = |feed: &str| -> serde_json::Value {
        let out = env.cli(&[
            "partner-report",
            "--feed",
            feed,
            "--period",
            "2000-01-01..2099-12-31",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s = text(&out.stdout);
        for c in &claims {
            assert!(
                !s.contains(c["case_ref"].as_str().unwrap()),
                "a case named: {s}"
            );
        }
        serde_json::from_str(&s).unwrap()
    };
    let case = report("case");
    assert_eq!(
        case["totals"]["total"].as_u64(),
        Some(claims.len() as u64),
        "{case:#}"
    );
    let police = report("police");
    let mut shown = 0;
    for line in police["by_outcome"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&police["totals"]])
    {
        for k in [
            "verified",
            "contradicted",
            "insufficient",
            "attested",
            "total",
        ] {
            match &line[k] {
                serde_json::Value::Number(n) => {
                    let n = n.as_u64().unwrap();
                    assert!(n == 0 || n >= 5, "{k} = {n} shown: {police:#}");
                    shown += 1;
                }
                v => assert_eq!(v, "<5"),
            }
        }
    }
    assert!(shown > 0);
    if let Some(t) = police["totals"]["total"].as_u64() {
        assert!(t <= claims.len() as u64);
    }
    // Nothing before the claims: all zero.
    let out = env.cli(&[
        "partner-report",
        "--feed",
        "police",
        "--period",
        "1900-01-01..1900-12-31",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("total"), "{}", text(&out.stdout));
}
