//! The daemon and its disk: a full filesystem is an error it reports, not
//! a wedge, and recovers from once space is freed; a backup is taken while
//! it runs, through its control socket.

use super::*;

/// A tmpfs mounted on `dir` for the test's life (root only: where it cannot
/// be mounted the test says so and, outside CI, skips).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(Tmpfs(dir.to_path_buf()));
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cannot mount a tmpfs (CI runs as root and must be able to)"
        );
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        None
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success(), "remount {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The binary run against `cfg`, its log appended to `log`.
pub(super) fn spawn_daemon(cfg: &Path, log: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

/// SIGTERM, then the exit status, or None if it has not exited after
/// `secs` (a wedge: it is then killed).
async fn terminate(mut child: std::process::Child, secs: u64) -> Option<i32> {
    unsafe_kill(child.id() as i32);
    for _ in 0..secs * 10 {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The data dir on a 6 MB filesystem, with no reserve, so the store's own
/// writes meet ENOSPC part-way through a delivery: the daemon reports it
/// on `/healthz` (which keeps answering) and goes on logging; SIGTERM stops
/// it within the drain deadline; once space is freed a restart opens the
/// store, applies every feed, and the store checks clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_and_survived_not_a_wedge() {
    // No reserve, and the free-space estimate set below what a case file
    // really takes (5.8x), so it is beaten and the store's writes meet ENOSPC.
    let rig = Rig::start_with(
        800,
        5,
        "*/3 * * * * *",
        "[store]\nreserve_megabytes = 0\nspace_multiple = 3\n",
    )
    .await;
    let Some(fs) = Tmpfs::mount(&rig.dir.path().join("data"), "6m") else {
        return;
    };
    let log = rig.dir.path().join("daemon.log");
    let child = spawn_daemon(&rig.cfg, &log);
    let mut unhealthy = None;
    for _ in 0..1200 {
        if let Some(h) = healthz(rig.port).await {
            if h["status"] == "unhealthy" {
                unhealthy = Some(h);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let h = unhealthy.unwrap_or_else(|| panic!("never unhealthy; log:\n{}", logged()));
    let reason = h["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains("space") || reason.contains("No space"),
        "the reason names the disk: {reason}"
    );
    // Still answering, still logging, a while later.
    let before = logged().len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let again = healthz(rig.port).await.expect("/healthz still answers");
    assert_eq!(again["status"], "unhealthy", "{again}");
    assert!(logged().len() > before, "the daemon went on logging");
    assert!(logged().contains("write failed"), "{}", logged());
    // Not only the free-space estimate: the store's own writes met ENOSPC.
    assert!(
        logged().contains("No space left on device"),
        "the store's writes failed for want of space"
    );
    // The drain deadline is 60 s; the runtime's own shutdown timeout 2 s.
    let code = terminate(child, 70).await;
    assert_eq!(code, Some(0), "SIGTERM exits 0; log:\n{}", logged());

    fs.resize("512m");
    let child = spawn_daemon(&rig.cfg, &log);
    let mut healthy = None;
    for _ in 0..1800 {
        if let Some(h) = healthz(rig.port).await {
            // Each feed pulled since the restart (a delivery stored before
            // the disk filled is then "unchanged"): counted in the store below.
            let all_in = h["feeds"].as_object().is_some_and(|f| {
                f.len() == DEMO_FEEDS.len() && f.values().all(|v| !v["last_success"].is_null())
            });
            if h["status"] == "ok" && all_in {
                healthy = Some(h);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        healthy.is_some(),
        "after freeing space every feed is applied and the daemon is healthy; last {:?}; log:\n{}",
        healthz(rig.port).await,
        logged()
    );
    assert_eq!(terminate(child, 70).await, Some(0));
    let key = HmacKey::load(&rig.dir.path().join("hmac.key")).unwrap();
    let store =
        outcomesd::store::Store::open(&rig.dir.path().join("data/store"), key.id()).unwrap();
    assert_eq!(
        store.deliveries().count(),
        DEMO_FEEDS.len(),
        "every feed's delivery is stored"
    );
    drop(store);
    let out = crate::util::outcomesd(&["store", "check", "--config", rig.cfg.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "the store checks clean after the full disk: {}{}",
        crate::util::text(&out.stdout),
        crate::util::text(&out.stderr)
    );
}

/// `store backup` while the daemon runs: the daemon makes the copy through
/// its control socket; the copy opens under the key and holds what the
/// daemon's store holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_taken_while_the_daemon_runs() {
    let rig = Rig::start(15, 23, "0 2 * * *").await;
    let log = rig.dir.path().join("daemon.log");
    let child = spawn_daemon(&rig.cfg, &log);
    let mut done = false;
    for _ in 0..600 {
        if let Some(h) = healthz(rig.port).await {
            if h["feeds"].as_object().is_some_and(|f| {
                f.len() == DEMO_FEEDS.len() && f.values().all(|v| !v["last_success"].is_null())
            }) {
                done = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "feeds pulled");
    let cfg = rig.cfg.to_str().unwrap();
    // A plain open is refused while the daemon holds the store...
    let out = crate::util::outcomesd(&["store", "check", "--config", cfg]);
    assert!(!out.status.success());
    assert!(crate::util::text(&out.stderr).contains("daemon"));
    // ...but a backup goes through it, to a relative path.
    let backup = rig.dir.path().join("backup");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .current_dir(rig.dir.path())
        .args(["store", "backup", "backup", "--config", cfg])
        .output()
        .unwrap();
    let said = crate::util::text(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        crate::util::text(&out.stderr)
    );
    assert!(said.contains("by the running daemon"), "{said}");
    assert!(said.contains("no damage found"), "{said}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(backup.join("db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "backup files are private: {mode:o}");
        let sock = rig.dir.path().join("data/control.sock");
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the control socket is private: {mode:o}");
    }
    // Not into a non-empty directory, and the daemon says why.
    let out =
        crate::util::outcomesd(&["store", "backup", backup.to_str().unwrap(), "--config", cfg]);
    assert!(!out.status.success());
    assert!(
        crate::util::text(&out.stderr).contains("not empty"),
        "{}",
        crate::util::text(&out.stderr)
    );
    assert_eq!(terminate(child, 70).await, Some(0));
    assert!(
        !rig.dir.path().join("data/control.sock").exists(),
        "the socket is removed at exit"
    );
    let key = HmacKey::load(&rig.dir.path().join("hmac.key")).unwrap();
    let live = outcomesd::store::Store::open(&rig.dir.path().join("data/store"), key.id()).unwrap();
    let copy = outcomesd::store::Store::open(&backup, key.id()).unwrap();
    assert_eq!(copy.deliveries().count(), DEMO_FEEDS.len());
    assert_eq!(copy.deliveries().count(), live.deliveries().count());
    assert_eq!(copy.verdicts().unwrap(), live.verdicts().unwrap());
    assert!(copy.check().unwrap().is_clean());
    // The daemon recorded the copy in its audit log, and the chain holds.
    let audit = std::fs::read_to_string(rig.dir.path().join("data/audit.log")).unwrap();
    let copied: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains(r#""kind":"store_copied""#))
        .collect();
    assert_eq!(copied.len(), 1, "one backup recorded: {copied:?}");
    assert!(
        copied[0].contains(r#""operation":"backup""#),
        "{}",
        copied[0]
    );
    assert!(copied[0].contains(r#""clean":true"#), "{}", copied[0]);
    let out = crate::util::outcomesd(&["audit", "verify", "--config", cfg]);
    assert!(out.status.success(), "{}", crate::util::text(&out.stderr));
}
