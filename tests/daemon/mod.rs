//! The daemon end to end: partners over mutual TLS on loopback, the
//! scheduler, the notice outbox, kill and restart, SIGTERM.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use outcomesd::config::Config;
use outcomesd::daemon::{self, Clock};
use outcomesd::ingest::Engine;
use outcomesd::keys::HmacKey;
use outcomesd::notify::WebhookSecret;
use outcomesd::sim::demo::DEMO_FEEDS;
use outcomesd::sim::partner::PartnerServer;
use outcomesd::sim::pki::{server_config, TestCa};
use outcomesd::sim::receiver::Receiver;

struct Pki {
    partner: TestCa,
    council: TestCa,
    coordinator: TestCa,
}

fn pki(dir: &Path) -> Pki {
    let p = Pki {
        partner: TestCa::new("partner CA"),
        council: TestCa::new("council CA"),
        coordinator: TestCa::new("coordinator CA"),
    };
    std::fs::write(dir.join("partner-ca.pem"), p.partner.cert_pem()).unwrap();
    std::fs::write(dir.join("coordinator-ca.pem"), p.coordinator.cert_pem()).unwrap();
    p.council
        .issue_client("council")
        .write(dir, "client")
        .unwrap();
    p
}

fn feed_toml(name: &str, kind: &str, url: &str, schedule: &str, at_start: bool) -> String {
    format!(
        "\n[feeds.{name}]\nkind = \"{kind}\"\nurl = \"{url}\"\nschedule = \"{schedule}\"\npull_at_start = {at_start}\n\
         ca_bundle = \"partner-ca.pem\"\nclient_cert = \"client.crt\"\nclient_key = \"client.key\"\n"
    )
}

/// A config: top-level keys in `top`, then tables in `tables`.
fn write_config(dir: &Path, top: &str, tables: &str) -> std::path::PathBuf {
    if !dir.join("hmac.key").exists() {
        HmacKey::generate()
            .unwrap()
            .write_new(&dir.join("hmac.key"))
            .unwrap();
    }
    let text = format!("data_dir = \"data\"\nkey_file = \"hmac.key\"\n{top}\n[log]\nformat = \"json\"\nlevel = \"info\"\n{tables}");
    let p = dir.join("outcomesd.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const POLICE_V1: &str = "#period 2016-01-01..2016-06-30\nrecord_type,forename,surname,dob,postcode,date\noffence,Ann,Able,2001-02-03,SR1 3AA,2016-03-03\n";
const POLICE_V2: &str = "#period 2016-01-01..2016-09-30\nrecord_type,forename,surname,dob,postcode,date\noffence,Ann,Able,2001-02-03,SR1 3AA,2016-03-03\noffence,Bob,Baker,1990-01-01,SR1 3AB,2016-08-08\n";

async fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every second's schedule: an unchanged feed is asked for conditionally and
/// not downloaded again; new content is; a fetch cut off half way stores
/// nothing and the daemon carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_pulls_conditional_and_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let server = PartnerServer::start(
        server_config(
            &p.partner.issue_server(&["127.0.0.1"]),
            Some(&p.council.cert_pem()),
        ),
        HashMap::from([("/police.csv".to_string(), POLICE_V1.as_bytes().to_vec())]),
    )
    .await
    .unwrap();
    let cfg_path = write_config(
        dir.path(),
        "",
        &feed_toml(
            "police",
            "police",
            &server.url("/police.csv"),
            "* * * * * *",
            true,
        ),
    );
    let cfg = Config::load(&cfg_path).unwrap();
    let engine = Engine::open(&cfg.data_dir, &HmacKey::load(&cfg.key_file).unwrap()).unwrap();
    let running = daemon::start(&cfg, engine, Clock::new()).await.unwrap();
    let stats = running.stats.clone();
    let feed = |f: &dyn Fn(&daemon::FeedStats) -> u64| f(&stats.feeds.lock().unwrap()["police"]);
    wait_for("two conditional re-pulls", 15, || {
        feed(&|s| s.not_modified) >= 2
    })
    .await;
    assert_eq!(
        server.full_downloads(),
        1,
        "unchanged feed downloaded again"
    );
    assert_eq!(feed(&|s| s.deliveries), 1);
    server.set_file("/police.csv", POLICE_V2.as_bytes().to_vec());
    wait_for("the new content", 15, || feed(&|s| s.deliveries) == 2).await;
    assert_eq!(feed(&|s| s.rows_accepted), 3);
    // Cut off half way: an error, nothing stored, and the daemon goes on.
    server.set_truncate("/police.csv", true);
    server.set_file(
        "/police.csv",
        format!("{POLICE_V2}offence,Cy,Cole,1991-01-01,SR1 3AC,2016-08-09\n").into_bytes(),
    );
    let failures = feed(&|s| s.failures);
    wait_for("a failed pull", 60, || feed(&|s| s.failures) > failures).await;
    assert_eq!(
        feed(&|s| s.deliveries),
        2,
        "a cut-off fetch stored something"
    );
    let err = stats.feeds.lock().unwrap()["police"]
        .last_error
        .clone()
        .unwrap();
    assert!(err.contains("police"), "{err}");
    let deliveries = running.with_engine(|e| e.store.deliveries().count());
    assert_eq!(deliveries, 2);
    server.set_truncate("/police.csv", false);
    wait_for("recovery", 60, || feed(&|s| s.deliveries) == 3).await;
    assert!(running.stop().await, "drained cleanly");
}

/// A pulled delivery a guard holds: nothing applied, the feed shows the
/// hold and why, and the pull is not acknowledged, so the same bytes are
/// fetched again (to be applied once an operator accepts them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_pull_is_shown_and_fetched_again_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let server = PartnerServer::start(
        server_config(
            &p.partner.issue_server(&["127.0.0.1"]),
            Some(&p.council.cert_pem()),
        ),
        HashMap::from([("/police.csv".to_string(), POLICE_V1.as_bytes().to_vec())]),
    )
    .await
    .unwrap();
    let cfg_path = write_config(
        dir.path(),
        "",
        &feed_toml(
            "police",
            "police",
            &server.url("/police.csv"),
            "* * * * * *",
            true,
        ),
    );
    let cfg = Config::load(&cfg_path).unwrap();
    let engine = Engine::open(&cfg.data_dir, &HmacKey::load(&cfg.key_file).unwrap()).unwrap();
    let running = daemon::start(&cfg, engine, Clock::new()).await.unwrap();
    let stats = running.stats.clone();
    let police = || stats.feeds.lock().unwrap()["police"].clone();
    wait_for("the first delivery", 15, || police().deliveries == 1).await;
    let header_only =
        "#period 2016-01-01..2016-06-30\nrecord_type,forename,surname,dob,postcode,date\n";
    server.set_file("/police.csv", header_only.as_bytes().to_vec());
    wait_for("the hold", 15, || !police().held.is_empty()).await;
    let held = police().held[0].clone();
    assert_eq!(held.state, "held");
    assert!(held.reason.contains("no accepted rows"), "{}", held.reason);
    let downloads = server.full_downloads();
    wait_for("the held bytes fetched again", 15, || {
        server.full_downloads() >= downloads + 2
    })
    .await;
    assert_eq!(police().deliveries, 1, "a held delivery is not applied");
    assert_eq!(police().held.len(), 1, "the same bytes are one hold");
    let committed = running.with_engine(|e| e.store.deliveries().count());
    assert_eq!(committed, 1);
    assert!(running.stop().await, "drained cleanly");
}

/// A feed whose server demands a certificate from another CA fails with a
/// clear error naming the feed, and never stops the other feeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_feed_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let stranger = TestCa::new("someone else's CA");
    let good = PartnerServer::start(
        server_config(
            &p.partner.issue_server(&["127.0.0.1"]),
            Some(&p.council.cert_pem()),
        ),
        HashMap::from([("/police.csv".to_string(), POLICE_V1.as_bytes().to_vec())]),
    )
    .await
    .unwrap();
    let refusing = PartnerServer::start(
        server_config(
            &p.partner.issue_server(&["127.0.0.1"]),
            Some(&stranger.cert_pem()),
        ),
        HashMap::from([("/police.csv".to_string(), POLICE_V1.as_bytes().to_vec())]),
    )
    .await
    .unwrap();
    let extra = format!(
        "{}{}",
        feed_toml(
            "bad",
            "police",
            &refusing.url("/police.csv"),
            "0 2 * * *",
            true
        ),
        feed_toml(
            "good",
            "police",
            &good.url("/police.csv"),
            "0 2 * * *",
            true
        )
    );
    let cfg = Config::load(&write_config(dir.path(), "", &extra)).unwrap();
    let engine = Engine::open(&cfg.data_dir, &HmacKey::load(&cfg.key_file).unwrap()).unwrap();
    let running = daemon::start(&cfg, engine, Clock::new()).await.unwrap();
    wait_for("both first pulls", 30, || running.first_pulls_done()).await;
    let feeds = running.stats.feeds.lock().unwrap().clone();
    assert_eq!(feeds["good"].deliveries, 1);
    assert_eq!(feeds["bad"].deliveries, 0);
    let err = feeds["bad"].last_error.clone().unwrap();
    assert!(
        err.contains("feed bad") && err.contains("client certificate"),
        "{err}"
    );
    assert!(running.stop().await);
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the binary is killed against: a partner serving `families`
/// generated families' feeds over mutual TLS, a coordinators' receiver, and
/// a config pulling every feed on `schedule` (and at start) and sending
/// notices to the receiver, with the status endpoint on `port`.
struct Rig {
    dir: tempfile::TempDir,
    env: crate::util::Env,
    server: PartnerServer,
    receiver: Receiver,
    port: u16,
    cfg: std::path::PathBuf,
}

impl Rig {
    async fn start(families: usize, seed: u64, schedule: &str) -> Rig {
        Rig::start_with(families, seed, schedule, "").await
    }

    /// As [`Rig::start`], with `tables` added to the config.
    async fn start_with(families: usize, seed: u64, schedule: &str, tables: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let p = pki(dir.path());
        let env = crate::util::Env::new(families, seed);
        let files = DEMO_FEEDS
            .iter()
            .map(|(name, _)| {
                let bytes = std::fs::read(env.feed_file(name)).unwrap();
                (format!("/{name}.csv"), bytes)
            })
            .collect();
        let server = PartnerServer::start(
            server_config(
                &p.partner.issue_server(&["127.0.0.1"]),
                Some(&p.council.cert_pem()),
            ),
            files,
        )
        .await
        .unwrap();
        let secret = WebhookSecret::generate();
        let receiver = Receiver::start(
            server_config(&p.coordinator.issue_server(&["127.0.0.1"]), None),
            secret.clone(),
        )
        .await
        .unwrap();
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(dir.path().join("whsec"))
                .unwrap();
            f.write_all(secret.to_whsec().as_bytes()).unwrap();
        }
        let port = free_port();
        let mut extra = format!(
            "[status]\nlisten = \"127.0.0.1:{port}\"\n[notices]\npoll_seconds = 1\n\
             [[notices.webhook]]\nname = \"coordinators\"\nurl = \"{}\"\nsecret_file = \"whsec\"\nca_bundle = \"coordinator-ca.pem\"\n",
            receiver.url()
        );
        extra.push_str(tables);
        for (name, _) in DEMO_FEEDS {
            let url = server.url(&format!("/{name}.csv"));
            extra.push_str(&feed_toml(name, name, &url, schedule, true));
        }
        let cfg = write_config(dir.path(), "framework = \"sunderland\"", &extra);
        Rig {
            dir,
            env,
            server,
            receiver,
            port,
            cfg,
        }
    }
}

mod disk;
mod faults;

async fn healthz(port: u16) -> Option<serde_json::Value> {
    outcomesd::pull::install_ring_provider();
    let body = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    serde_json::from_str(&body).ok()
}

/// The binary under systemd-like handling: notices pending when it is
/// killed with SIGKILL are all delivered after a restart, each signed; and
/// SIGTERM exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_daemon_delivers_every_pending_notice_after_restart() {
    let rig = Rig::start(15, 21, "0 2 * * *").await;
    let (dir, receiver, port, cfg) = (&rig.dir, &rig.receiver, rig.port, &rig.cfg);
    receiver.set_fail_next(1_000_000, 503);
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_outcomesd"))
            .args(["run", "--config", cfg.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    // Wait for notices to be enqueued and failing.
    let mut pending = 0;
    let mut last = None;
    for _ in 0..600 {
        if let Some(h) = healthz(port).await {
            last = Some(h.clone());
            let n = &h["notices"];
            let p = n["pending"].as_u64().unwrap_or(0) + n["failing"].as_u64().unwrap_or(0);
            let feeds_done = h["feeds"]
                .as_object()
                .is_some_and(|f| f.len() == 7 && f.values().all(|v| !v["last_success"].is_null()));
            if feeds_done && p > 0 && !receiver.received().is_empty() {
                pending = p;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        pending > 0,
        "notices were enqueued; last health {last:?}; daemon log:\n{}",
        std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default()
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    receiver.set_fail_next(0, 503);
    let mut child = spawn();
    let mut delivered = 0;
    for _ in 0..600 {
        if let Some(h) = healthz(port).await {
            if h["notices"]["pending"].as_u64() == Some(0)
                && h["notices"]["failing"].as_u64() == Some(0)
            {
                delivered = h["notices"]["delivered"].as_u64().unwrap();
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        delivered >= pending,
        "delivered {delivered} of {pending} pending"
    );
    let ok: std::collections::HashSet<String> = receiver
        .received()
        .into_iter()
        .filter(|r| r.verified && r.status < 300)
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ok.len() as u64,
        delivered,
        "each notice acknowledged once, with a valid signature"
    );
    // SIGTERM: clean exit 0
    let pid = child.id() as i32;
    unsafe_kill(pid);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
    // The audit log: both starts with their key ids, every delivery, every
    // acknowledgement, and intact after the SIGKILL.
    let log = std::fs::read_to_string(dir.path().join("data/audit.log")).unwrap();
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |k: &str| {
        entries
            .iter()
            .filter(|e| e["action"]["kind"] == k)
            .collect::<Vec<_>>()
    };
    let starts = of("start");
    assert_eq!(starts.len(), 2, "{log}");
    let s = &starts[0]["action"];
    assert!(s["matching_key"].as_str().unwrap().starts_with('k'), "{s}");
    assert!(s["audit_key"].as_str().unwrap().starts_with('a'), "{s}");
    assert_eq!(s["webhook_keys"].as_array().unwrap().len(), 1, "{s}");
    assert!(of("delivery_applied").len() >= 7);
    assert!(!of("verdict_changed").is_empty());
    assert!(of("notice_queued").len() as u64 >= pending);
    assert!(of("notice_acknowledged").len() as u64 >= delivered);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(["audit", "verify", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(
        journal.contains("audit chain head seq="),
        "the head is logged"
    );
}

fn unsafe_kill(pid: i32) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
