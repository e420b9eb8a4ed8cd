//! Shell completions and man pages generated from the CLI definition.

use std::os::unix::fs::PermissionsExt;

use crate::util::{outcomesd, text};

#[test]
fn bash_completion_loads_and_knows_the_commands() {
    let out = outcomesd(&["completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("outcomesd.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // bash itself loads it and registers the completion.
    let check = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p outcomesd",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("outcomesd"));
    let s = text(&out.stdout);
    for cmd in ["report", "outbox", "status", "check-config", "completions"] {
        assert!(s.contains(cmd), "{cmd} missing from the completions");
    }
    for shell in ["zsh", "fish"] {
        let out = outcomesd(&["completions", shell]);
        assert!(out.status.success() && text(&out.stdout).contains("outcomesd"));
    }
}

#[test]
fn man_pages_cover_every_command() {
    let out = outcomesd(&["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(
        page.contains(".TH outcomesd 1") && page.contains("report"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = outcomesd(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in [
        "outcomesd.1",
        "outcomesd-report.1",
        "outcomesd-outbox-retry.1",
    ] {
        let p = dir.path().join(name);
        let body = std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("{name}"));
        assert!(body.contains(".SH NAME"), "{name}");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{name} is readable by all");
    }
}
