//! `check-config` and `run` agree on every config in tests/configs/: both
//! accept it (exit 0, and a daemon that answers /healthz), or both refuse
//! it with exit 78 (EX_CONFIG) and the same problems named.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use outcomesd::keys::HmacKey;
use outcomesd::notify::WebhookSecret;
use outcomesd::sim::pki::TestCa;

use crate::daemon::free_port;
use crate::util::text;

/// How long a process gets to show what it does; generous for a loaded
/// 2-core machine. Not an assertion on speed: a daemon still starting, or
/// one still running when it should have refused, fails after this.
const PATIENCE: Duration = Duration::from_secs(60);

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// The files the corpus names, made fresh (nothing secret is committed).
fn materials(dir: &Path) {
    let chmod = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    HmacKey::generate()
        .unwrap()
        .write_new(&dir.join("hmac.key"))
        .unwrap();
    let loose = dir.join("loose-hmac.key");
    HmacKey::generate().unwrap().write_new(&loose).unwrap();
    chmod(&loose, 0o644);
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let ca = TestCa::new("corpus CA");
    std::fs::write(tls.join("ca.pem"), ca.cert_pem()).unwrap();
    let (_, key) = ca.issue_client("council").write(&tls, "client").unwrap();
    let loose_key = tls.join("client-loose.key");
    std::fs::copy(&key, &loose_key).unwrap();
    chmod(&loose_key, 0o644);
    let secret = WebhookSecret::generate().to_whsec();
    for (name, mode) in [("webhook.secret", 0o600), ("loose-webhook.secret", 0o644)] {
        let p = dir.join(name);
        std::fs::write(&p, &secret).unwrap();
        chmod(&p, mode);
    }
    std::fs::create_dir_all(dir.join("spool")).unwrap();
}

fn healthy(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200")
}

#[derive(Debug, PartialEq)]
enum RunOutcome {
    /// Answered /healthz, then stopped by SIGTERM.
    Running,
    /// Exited by itself with this status, and this on stderr.
    Exited(Option<i32>, String),
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

fn run_daemon(config: &Path, port: u16) -> RunOutcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return RunOutcome::Exited(status.code(), stderr_of(&mut child));
        }
        if healthy(port) {
            let pid = child.id().to_string();
            let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            assert!(killed.success());
            let status = child.wait().unwrap();
            assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
            return RunOutcome::Running;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: neither healthy nor exited", config.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn check_config_and_run_agree_on_every_config_in_the_corpus() {
    let files = corpus();
    assert!(files.len() >= 10, "corpus too small: {files:?}");
    let mut accepted = 0;
    for src in files {
        let name = src.file_name().unwrap().to_str().unwrap().to_string();
        let text_in = std::fs::read_to_string(&src).unwrap();
        let expect_ok = match text_in.lines().find_map(|l| l.strip_prefix("# expect: ")) {
            Some("ok") => true,
            Some("refused") => false,
            other => panic!("{name}: no '# expect: ok|refused' line ({other:?})"),
        };
        let says: Vec<&str> = text_in
            .lines()
            .filter_map(|l| l.strip_prefix("# says: "))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        materials(dir.path());
        let port = free_port();
        let config = dir.path().join(&name);
        std::fs::write(&config, text_in.replace("@PORT@", &port.to_string())).unwrap();

        let check = crate::util::outcomesd(&["check-config", "--config", config.to_str().unwrap()]);
        let check_err = text(&check.stderr);
        let run = run_daemon(&config, port);
        match (&run, check.status.code()) {
            (RunOutcome::Running, Some(0)) => {
                assert!(
                    expect_ok,
                    "{name}: accepted by both, but the corpus says refused"
                );
                accepted += 1;
            }
            (RunOutcome::Exited(Some(78), run_err), Some(78)) => {
                assert!(!expect_ok, "{name}: refused by both: {check_err}");
                for s in &says {
                    assert!(
                        check_err.contains(s),
                        "{name}: check-config does not say {s:?}: {check_err}"
                    );
                    assert!(
                        run_err.contains(s),
                        "{name}: run does not say {s:?}: {run_err}"
                    );
                }
            }
            (run, code) => {
                panic!("{name}: check-config exited {code:?} ({check_err}) but run gave {run:?}")
            }
        }
    }
    assert!(accepted >= 2, "the corpus has good configs too");
}
