//! Input hygiene and closed pipes end to end: files that are not a text
//! export (compressed, UTF-16, blank) and headers with a column twice are
//! refused whole and store nothing; a control character rejects its row
//! only; every listing command ends quietly when its reader goes away.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::util::{text, Env};

#[test]
fn files_that_are_not_text_exports_are_refused_for_what_they_are() {
    let env = Env::new(5, 2);
    assert!(env
        .ingest("police", &env.feed_file("police"))
        .status
        .success());
    let before = env.status();
    let csv = std::fs::read_to_string(env.feed_file("police")).unwrap();
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(csv.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("p.csv.gz", vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "gzip file: send the CSV uncompressed"),
        ("p.zip", b"PK\x03\x04\x14\0\0\0\x08\0".to_vec(), "zip file"),
        ("p16.csv", utf16, "UTF-16"),
        ("blank.csv", b"  \r\n\t \n\n".to_vec(), "empty or only whitespace"),
        (
            "dup.csv",
            b"#period 2016-01-01..2016-12-31\nrecord_type,surname,dob,date,Surname\noffence,Smith,2001-02-03,2016-02-02,Jones\n".to_vec(),
            "header columns 2 and 5 both map to 'surname'",
        ),
    ];
    for (name, bytes, want) in cases {
        let out = env.ingest("police", &env.write(name, &bytes));
        assert!(!out.status.success(), "{name} must be refused");
        let err = text(&out.stderr);
        assert!(
            err.contains(want) && err.contains("feed police"),
            "{name}: {err}"
        );
        assert!(!err.contains("does not state its period"), "{name}: {err}");
        assert!(!err.contains("Jones"), "no value echoed: {err}");
        assert_eq!(env.status(), before, "{name} stored nothing");
    }
}

#[test]
fn a_nul_in_a_surname_rejects_that_row_only() {
    let env = Env::new(2, 3);
    let f = env.write(
        "police.csv",
        b"#period 2016-01-01..2016-12-31\nrecord_type,surname,dob,date\noffence,Smi\0th,2001-02-03,2016-02-02\noffence,Smith,2001-02-03,2016-02-02\n",
    );
    let out = env.ingest("police", &f);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("1 accepted, 1 rejected")
            && s.contains("rejected row 2: surname: control character"),
        "{s}"
    );
    assert!(!s.contains("Smi"), "{s}");
}

/// Runs the command with its stdout a pipe whose read end is already gone,
/// and returns its exit code and stderr.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run outcomesd");
    // Gone before the child has opened its store, let alone printed.
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), err)
}

#[test]
fn listing_commands_end_quietly_on_a_closed_pipe() {
    let env = Env::new(12, 9);
    for feed in [
        "case",
        "social_care",
        "education",
        "dwp",
        "police",
        "services",
        "claims",
    ] {
        let out = env.ingest(feed, &env.feed_file(feed));
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    }
    let cfg = env.config.to_str().unwrap();
    let claims = std::fs::read_to_string(env.feed_file("claims")).unwrap();
    let case = claims
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["claims", "--config", cfg],
        vec!["claims", "--config", cfg, "--json"],
        vec!["status", "--config", cfg],
        vec!["verify", &case, "--config", cfg],
        vec!["frameworks"],
        vec!["explain", "SUN-1.1", "--config", cfg],
        vec!["review", "list", "--config", cfg, "--all"],
        vec!["deliveries", "list", "--config", cfg],
        vec!["deliveries", "list", "--config", cfg, "--json"],
        vec!["links", "explain", "--config", cfg, "police", "5", "3"],
        vec!["check-config", "--config", cfg],
    ];
    for args in &commands {
        // Each prints something when it can: the pipe test tests printing.
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
        let (code, err) = with_closed_stdout(args);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
}
