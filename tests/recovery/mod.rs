//! Corrections and failures by hand: a hand `ingest` (the documented
//! correction route) gets its changed verdicts to coordinators, a verdict
//! that flips back is a new notice, and a delivery whose rejection report
//! cannot be written is not half-applied.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{text, Env};

const CASE: &str = "case_ref,role,case_start,case_end,problems,forename,surname,dob,postcode,address,nhs_number,ni_number,upn
SF-T1,adult,2015-09-01,,crime,Jonathan,Walker,1980-03-04,SR1 1AA,1 High Street,,,
";

const CLAIMS: &str = "case_ref,outcome_id,claim_date,keyworker_ref
SF-T1,SUN-1.1,2016-05-01,KW1
";

fn police(offence_by_member: bool) -> String {
    let mut s = "#period 2015-01-01..2016-12-31\nrecord_type,forename,surname,dob,postcode,address,nhs_number,date,disposal,role,severity,status,end_date\n\
                 offence,Zed,Quince,1990-01-01,DH1 1AA,,,2016-06-01,charge,,,,\n"
        .to_string();
    if offence_by_member {
        s.push_str(
            "offence,Jonathan,Walker,1980-03-04,SR1 1AA,1 High Street,,2016-03-01,charge,,,,\n",
        );
    }
    s
}

fn ingest(env: &Env, feed: &str, name: &str, body: &str) -> std::process::Output {
    let f = env.write(name, body.as_bytes());
    env.ingest(feed, &f)
}

/// Runs the daemon until the spool holds `n` notices, then stops it with
/// SIGTERM; returns the notices, oldest first by sequence.
fn deliver(env: &Env, n: usize) -> Vec<serde_json::Value> {
    let spool = env.path().join("spool");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(["run", "--config", env.config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let files = |dir: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default()
    };
    while files(&spool).len() < n && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let mut notices: Vec<serde_json::Value> = files(&spool)
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    notices.sort_by_key(|n| n["sequence"].as_u64());
    notices
}

fn with_spool(env: &Env) {
    std::fs::create_dir_all(env.path().join("spool")).unwrap();
    let mut cfg = std::fs::read_to_string(&env.config).unwrap();
    cfg.push_str(
        "\n[notices]\npoll_seconds = 1\n\n[[notices.spool]]\nname = \"spool\"\ndir = \"spool\"\n",
    );
    std::fs::write(&env.config, cfg).unwrap();
}

#[test]
fn hand_corrections_reach_coordinators_and_a_flip_back_is_a_new_notice() {
    let env = Env::empty();
    with_spool(&env);
    for (feed, body) in [
        ("case", CASE.to_string()),
        ("police", police(true)),
        ("claims", CLAIMS.to_string()),
    ] {
        let out = ingest(&env, feed, &format!("{feed}.csv"), &body);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let n = deliver(&env, 1);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(
        (n[0]["verdict"].as_str(), n[0]["sequence"].as_u64()),
        (Some("contradicted"), Some(0))
    );
    // The partner corrects the extract by hand: the offence was not his.
    let out = ingest(&env, "police", "police2.csv", &police(false));
    let said = text(&out.stdout);
    assert!(said.contains("1 notices queued"), "{said}");
    let n = deliver(&env, 2);
    assert_eq!(n.len(), 2, "{n:?}");
    assert_eq!(n[1]["verdict"], "verified");
    assert_eq!(n[1]["supersedes"], n[0]["id"]);
    // And takes the correction back: the same bytes as the first extract.
    let out = ingest(&env, "police", "police3.csv", &police(true));
    assert!(
        text(&out.stdout).contains("1 notices queued"),
        "{}",
        text(&out.stdout)
    );
    let n = deliver(&env, 3);
    assert_eq!(n.len(), 3, "{n:?}");
    assert_eq!(
        (n[2]["verdict"].as_str(), n[2]["sequence"].as_u64()),
        (Some("contradicted"), Some(2))
    );
    assert_ne!(n[2]["id"], n[0]["id"], "a flip back is a new notice");
    assert_eq!(n[2]["supersedes"], n[1]["id"]);
    // Thin by default: no pseudonyms, no event dates.
    let body = n[2].to_string();
    assert!(
        !body.contains("2016-03-01") && !body.contains("\"persons\""),
        "{body}"
    );
}

#[test]
fn a_report_that_cannot_be_written_fails_the_delivery_whole() {
    let env = Env::empty();
    let out = ingest(&env, "case", "case.csv", CASE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Where the reports go is a file: the report cannot be written.
    let reports = env.data_dir().join("reports");
    std::fs::write(&reports, b"in the way").unwrap();
    let bad = format!(
        "{}offence,Ann,Able,2001-02-03,SR1 3AA,,,not-a-date,charge,,,,\n",
        police(true)
    );
    let out = ingest(&env, "police", "police.csv", &bad);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("rejection report"),
        "{}",
        text(&out.stderr)
    );
    let status = text(&env.cli(&["status"]).stdout);
    assert!(
        !status.contains("feed police"),
        "nothing of it applied: {status}"
    );
    // Once the way is clear, the same file applies: it is not taken for a
    // delivery already stored.
    std::fs::remove_file(&reports).unwrap();
    let out = ingest(&env, "police", "police.csv", &bad);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("1 rejected") && said.contains("rejection report"),
        "{said}"
    );
}

#[test]
fn what_outcomesd_writes_is_private_and_a_readable_data_dir_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::empty();
    let out = ingest(&env, "case", "case.csv", CASE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bad = format!(
        "{}offence,Ann,Able,2001-02-03,SR1 3AA,,,not-a-date,charge,,,,\n",
        police(true)
    );
    assert!(ingest(&env, "police", "police.csv", &bad).status.success());
    // Whatever umask the test runs under, nothing under the data dir is
    // open to group or others: store files, the rejection report.
    let mut seen = 0;
    let mut stack = vec![env.data_dir()];
    while let Some(p) = stack.pop() {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
        seen += 1;
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    assert!(seen > 5, "{seen}");
    assert!(env.data_dir().join("reports").read_dir().unwrap().count() > 0);
    // A data dir others may read is refused, saying how to mend it.
    std::fs::set_permissions(env.data_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.cli(&["status"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("may be read by others (mode 755)") && err.contains("chmod 700"),
        "{err}"
    );
}
