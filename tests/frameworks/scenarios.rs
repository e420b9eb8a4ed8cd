//! Scenario files: every council's scenarios pass, the template framework
//! and its scenarios load and pass, `outcomesd frameworks test` reports
//! passes, failures and invalid files by exit status, and the docs list
//! exactly the codes the code knows.

use std::path::Path;

use outcomesd::framework::scenario::ScenarioFile;
use outcomesd::framework::Framework;
use outcomesd::records::EventKind;

use super::framework;
use crate::util::{outcomesd, text};

/// Every scenario file in `frameworks/scenarios/`, run against the framework
/// it names: a council's framework tests are data, so a sixth council needs
/// no Rust.
#[test]
fn every_scenario_file_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("frameworks/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let mut failures = Vec::new();
    let (mut scenarios, mut checks) = (0, 0);
    for path in &files {
        let file = ScenarioFile::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !file.checks.partial,
            "{}: a council's scenarios cover every outcome",
            path.display()
        );
        let fw = framework(&file.framework);
        let report = file.run(&fw).unwrap_or_else(|e| panic!("{e}"));
        scenarios += report.results.len();
        checks += report.checks();
        for r in report.results.iter().filter(|r| !r.passed()) {
            failures.push(format!(
                "{}: {}:\n    {}",
                path.display(),
                r.name,
                r.failures.join("\n    ")
            ));
        }
    }
    eprintln!(
        "{} files, {scenarios} scenarios and checks, {checks} expectations",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The template an analyst copies loads, and its scenarios pass.
#[test]
fn the_template_framework_and_its_scenarios_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks");
    let fw = Framework::load(&root.join("TEMPLATE.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fw.framework.id, "template");
    assert!(
        Framework::builtin("template").is_none(),
        "the template is not shipped"
    );
    let file =
        ScenarioFile::load(&root.join("TEMPLATE.scenarios.toml")).unwrap_or_else(|e| panic!("{e}"));
    let report = file.run(&fw).unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<_> = report.results.iter().filter(|r| !r.passed()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(report.results.len() > 5 && report.checks() > 10);
}

const PASSING: &str = r#"
framework = "sunderland"
claim = "2016-06-15"

[family.family]
start = "2015-06-01"
members = [{ name = "child", role = "child", birth = "2007-09", problems = ["crime"] }]

[[scenario]]
name = "no offending"
outcome = "SUN-1.1"
family = "family"
[[scenario.step]]
coverage = "all"
expect = "verified"
[[scenario.step]]
events = [{ who = "child", kind = "offence", date = "2016-03-01" }]
expect = "contradicted"
dates = ["2016-03-01"]

[checks]
partial = true
"#;

fn run_test(dir: &Path, name: &str, body: &str, framework: &str) -> std::process::Output {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    outcomesd(&["frameworks", "test", framework, path.to_str().unwrap()])
}

#[test]
fn frameworks_test_exits_0_when_every_scenario_passes() {
    let dir = tempfile::tempdir().unwrap();
    let fw_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("frameworks/sunderland.toml");
    for fw in ["sunderland", fw_file.to_str().unwrap()] {
        let out = run_test(dir.path(), "pass.toml", PASSING, fw);
        let s = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
        assert!(s.contains("ok    no offending"), "{s}");
        assert!(s.contains(": 1 passed, 0 failed (3 expectations)"), "{s}");
    }
}

#[test]
fn frameworks_test_exits_1_and_names_the_failed_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let failing = PASSING.replace("expect = \"contradicted\"", "expect = \"verified\"");
    assert_ne!(failing, PASSING);
    let out = run_test(dir.path(), "fail.toml", &failing, "sunderland");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}{}", text(&out.stderr));
    assert!(s.contains("FAIL  no offending"), "{s}");
    assert!(
        s.contains("step 2: expected verified, got contradicted"),
        "{s}"
    );
    assert!(s.contains(": 0 passed, 1 failed"), "{s}");
}

#[test]
fn frameworks_test_exits_78_for_an_invalid_file_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            PASSING.replace("dates = ", "datez = "),
            ":19:",
            "unknown field `datez`",
        ),
        (
            PASSING.replace("kind = \"offence\"", "kind = \"offence\", code = \"grave\""),
            ":17:",
            "'grave' is not a code of offence",
        ),
        (
            PASSING.replace("who = \"child\"", "who = \"dad\""),
            ":17:",
            "no member 'dad'",
        ),
        (
            PASSING.replace("SUN-1.1", "SUN-9.9"),
            ":10:",
            "outcome 'SUN-9.9' is not in the framework",
        ),
        (
            PASSING.replace("kind = \"offence\"", "kind = \"offence\", days = 3"),
            ":17:",
            "offence takes no `days`",
        ),
    ];
    for (body, line, msg) in cases {
        let out = run_test(dir.path(), "bad.toml", &body, "sunderland");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{err}");
        assert!(err.contains(&format!("bad.toml{line}")), "{err}");
        assert!(err.contains(msg), "{err}");
    }
    // the scenarios name another framework
    let out = run_test(dir.path(), "other.toml", PASSING, "bristol");
    assert_eq!(out.status.code(), Some(78));
    assert!(text(&out.stderr).contains("not 'bristol'"));
    // an unreadable framework
    let out = run_test(dir.path(), "p.toml", PASSING, "/nonexistent/fw.toml");
    assert_eq!(out.status.code(), Some(78));
}

/// The docs' table of event kinds lists exactly each kind's source, code
/// field and codes, as `outcomesd::records` defines them.
#[test]
fn docs_list_every_event_kind_and_its_codes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/frameworks.md"))
        .unwrap();
    let mut table =
        String::from("| kind | source | code | codes | numbers |\n|---|---|---|---|---|\n");
    for k in EventKind::ALL {
        let (field, codes) = match k.code_spec() {
            Some(s) => (
                format!(
                    "{:?}{}",
                    s.field,
                    if s.required { " (required)" } else { "" }
                )
                .to_lowercase()
                .replace("closurereason", "closure_reason"),
                s.codes
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("".into(), "".into()),
        };
        let numbers = match k {
            EventKind::Attendance => "`possible`, `attended`, `authorised`, `unauthorised`",
            EventKind::Suspension => "`days`",
            EventKind::UcEarnings => "`pence`",
            EventKind::DashAssessment => "`score`",
            _ => "",
        };
        let kind = if k.is_spell() {
            format!("`{}` (spell)", k.name())
        } else {
            format!("`{}`", k.name())
        };
        table.push_str(&format!(
            "| {kind} | {} | {field} | {codes} | {numbers} |\n",
            k.source()
        ));
    }
    assert!(
        doc.contains(&table),
        "docs/frameworks.md should hold:\n{table}"
    );
}
