//! Receipts end to end, with the real binary: a partner serves its feed
//! and takes receipts at an endpoint that demands the council's client
//! certificate (the feed's own identity). Receipts failing when the daemon
//! is killed, and one for a delivery committed while it was down (nothing
//! queued it), all arrive after a restart, signed: checked by outcomesd's
//! receiver and by the stock Python `standardwebhooks` package.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use outcomesd::keys::HmacKey;
use outcomesd::notify::WebhookSecret;
use outcomesd::sim::partner::PartnerServer;
use outcomesd::sim::pki::{server_config, TestCa};
use outcomesd::sim::receiver::{ReceivedNotice, Receiver};

use crate::util::text;

const POLICE_1: &str =
    "#period 2016-01-01..2016-06-30\nrecord_type,forename,surname,dob,postcode,date,disposal\n\
    offence,Ann,Able,2001-02-03,SR1 3AA,2016-03-03,\n\
    arrest,Ann,Able,2001-02-03,SR1 3AA,2016-03-03,hanged\n";
const POLICE_2: &str =
    "#period 2016-07-01..2016-12-31\nrecord_type,forename,surname,dob,postcode,date\n\
    offence,Bob,Baker,1990-01-01,SR1 3AB,2016-08-08\n";

pub(super) fn write_secret(path: &Path, secret: &WebhookSecret) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(secret.to_whsec().as_bytes()).unwrap();
}

pub(super) fn spawn(dir: &Path, cfg: &Path, log: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(log)).unwrap())
        .spawn()
        .unwrap()
}

pub(super) async fn wait_for(what: &str, dir: &Path, mut f: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs: String = ["run1.log", "run2.log"]
        .iter()
        .map(|l| std::fs::read_to_string(dir.join(l)).unwrap_or_default())
        .collect();
    panic!("timed out waiting for {what}; daemon logs:\n{logs}");
}

fn receipts(r: &Receiver) -> Vec<ReceivedNotice> {
    r.received()
        .into_iter()
        .filter(|n| n.id.starts_with("rct_"))
        .collect()
}

/// Verifies one received request with tests/verify_webhook.py (the
/// Standard Webhooks reference package); None when it cannot run here.
pub(super) fn python_verifies(
    secret: &WebhookSecret,
    n: &ReceivedNotice,
    dir: &Path,
) -> Option<bool> {
    if !crate::util::python_has("standardwebhooks") {
        return None;
    }
    let headers = serde_json::json!({
        "webhook-id": n.id,
        "webhook-timestamp": n.timestamp,
        "webhook-signature": n.signature,
    });
    let (h, b) = (dir.join("headers.json"), dir.join("body.json"));
    std::fs::write(&h, headers.to_string()).unwrap();
    std::fs::write(&b, &n.raw).unwrap();
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_webhook.py"))
        .arg(&*secret.to_whsec())
        .arg(&h)
        .arg(&b)
        .output()
        .unwrap();
    Some(out.status.success())
}

/// A partner serving `files` over mutual TLS and its receipt endpoint, both
/// under the partner's own CA and both demanding the council's client
/// certificate; the partner CA, the council's client certificate and key,
/// and the endpoint's secret (`receipt-whsec`) are written to `dir`.
pub(super) async fn partner_side(
    dir: &std::path::Path,
    files: HashMap<String, Vec<u8>>,
) -> (PartnerServer, Receiver, WebhookSecret) {
    let partner = TestCa::new("partner CA");
    let council = TestCa::new("council CA");
    std::fs::write(dir.join("partner-ca.pem"), partner.cert_pem()).unwrap();
    council
        .issue_client("council")
        .write(dir, "client")
        .unwrap();
    let config = || {
        server_config(
            &partner.issue_server(&["127.0.0.1"]),
            Some(&council.cert_pem()),
        )
    };
    let server = PartnerServer::start(config(), files).await.unwrap();
    let secret = WebhookSecret::generate();
    let endpoint = Receiver::start(config(), secret.clone()).await.unwrap();
    write_secret(&dir.join("receipt-whsec"), &secret);
    (server, endpoint, secret)
}

/// A fresh key and a config in `dir` with one police feed pulled at start
/// from `server` (otherwise once a year) and its receipts sent to
/// `endpoint`, as [`partner_side`] set them up.
fn police_config(dir: &Path, server: &PartnerServer, endpoint: &Receiver) -> std::path::PathBuf {
    HmacKey::generate()
        .unwrap()
        .write_new(&dir.join("hmac.key"))
        .unwrap();
    let cfg = dir.join("outcomesd.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"data\"\nkey_file = \"hmac.key\"\n[log]\nformat = \"json\"\nlevel = \"info\"\n\
             [notices]\npoll_seconds = 1\n\
             [feeds.police]\nkind = \"police\"\nurl = \"{}\"\nschedule = \"0 2 1 1 *\"\npull_at_start = true\n\
             ca_bundle = \"partner-ca.pem\"\nclient_cert = \"client.crt\"\nclient_key = \"client.key\"\n\
             [feeds.police.receipts]\nurl = \"{}\"\nsecret_file = \"receipt-whsec\"\n",
            server.url("/police.csv"),
            endpoint.url()
        ),
    )
    .unwrap();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_reach_the_partner_signed_after_a_kill_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The partner's receipt endpoint: its own CA's certificate, and it
    // demands the council's client certificate.
    let (server, endpoint, secret) = partner_side(
        dir,
        HashMap::from([("/police.csv".to_string(), POLICE_1.as_bytes().to_vec())]),
    )
    .await;
    endpoint.set_fail_next(1_000_000, 503);
    HmacKey::generate()
        .unwrap()
        .write_new(&dir.join("hmac.key"))
        .unwrap();
    let port = crate::daemon::free_port();
    let cfg = dir.join("outcomesd.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"data\"\nkey_file = \"hmac.key\"\n[log]\nformat = \"json\"\nlevel = \"info\"\n\
             [status]\nlisten = \"127.0.0.1:{port}\"\n[notices]\npoll_seconds = 1\n\
             [feeds.police]\nkind = \"police\"\nurl = \"{}\"\nschedule = \"0 2 * * *\"\npull_at_start = true\n\
             ca_bundle = \"partner-ca.pem\"\nclient_cert = \"client.crt\"\nclient_key = \"client.key\"\n\
             [feeds.police.receipts]\nurl = \"{}\"\nsecret_file = \"receipt-whsec\"\nspool = \"receipts\"\n",
            server.url("/police.csv"),
            endpoint.url()
        ),
    )
    .unwrap();
    let out = crate::util::outcomesd(&["check-config", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut child = spawn(dir, &cfg, "run1.log");
    wait_for("a receipt attempt refused by the endpoint", dir, || {
        receipts(&endpoint)
            .iter()
            .any(|n| n.status == 503 && n.verified)
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Committed while the daemon is down: nothing queued its receipt.
    let second = dir.join("police-2.csv");
    std::fs::write(&second, POLICE_2).unwrap();
    let out = crate::util::outcomesd(&[
        "ingest",
        "--config",
        cfg.to_str().unwrap(),
        "--feed",
        "police",
        second.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    endpoint.set_fail_next(0, 503);
    let mut child = spawn(dir, &cfg, "run2.log");
    let delivered = |n: &ReceivedNotice| n.status < 300 && n.verified;
    wait_for("both receipts acknowledged", dir, || {
        let ok: std::collections::HashSet<String> = receipts(&endpoint)
            .into_iter()
            .filter(delivered)
            .map(|n| n.id)
            .collect();
        ok.len() == 2
    })
    .await;
    let got: Vec<ReceivedNotice> = receipts(&endpoint).into_iter().filter(delivered).collect();
    let mut by_delivery: HashMap<u64, &ReceivedNotice> = HashMap::new();
    for n in &got {
        by_delivery.insert(n.body["delivery"].as_u64().unwrap(), n);
    }
    let first = by_delivery[&1];
    let b = &first.body;
    assert_eq!(b["type"], "delivery.receipt");
    assert_eq!(b["feed"], "police");
    assert_eq!(b["id"], first.id.as_str());
    use sha2::Digest as _;
    assert_eq!(
        b["content_hash"],
        hex::encode(sha2::Sha256::digest(POLICE_1.as_bytes()))
    );
    assert_eq!(
        b["period"],
        serde_json::json!({"from": "2016-01-01", "to": "2016-06-30"})
    );
    assert_eq!(
        (
            b["rows"].as_u64(),
            b["accepted"].as_u64(),
            b["rejected"].as_u64(),
            b["held"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(0))
    );
    assert_eq!(b["status"], "applied");
    let report = b["report"].as_array().unwrap();
    assert_eq!(report.len(), 1, "{b}");
    assert_eq!(report[0]["row"], 3);
    assert_eq!(report[0]["column"], "disposal");
    assert_eq!(report[0]["outcome"], "row_rejected");
    let second = &by_delivery[&2].body;
    assert_eq!(
        (second["rows"].as_u64(), second["rejected"].as_u64()),
        (Some(1), Some(0))
    );
    for n in &got {
        let raw = String::from_utf8_lossy(&n.raw);
        for value in ["Ann", "Able", "hanged", "SR1", "2001-02-03", "Baker"] {
            assert!(!raw.contains(value), "a receipt carries a value: {raw}");
        }
        match python_verifies(&secret, n, dir) {
            Some(ok) => assert!(ok, "standardwebhooks refused receipt {}", n.id),
            None => eprintln!("SKIPPED: Python standardwebhooks cross-check (package missing)"),
        }
    }
    // The spool has each receipt once, as JSON, by id.
    let spooled: Vec<serde_json::Value> = std::fs::read_dir(dir.join("receipts"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(spooled.len(), 2, "{spooled:?}");
    for s in &spooled {
        let id = s["id"].as_str().unwrap();
        assert!(got.iter().any(|n| n.id == id && n.body == *s), "{id}");
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
}

/// A file refused whole, by the daemon's pull or by `ingest` by hand, gets
/// a receipt saying refused and why (row and column, never a value), with
/// its content hash; a held delivery's receipt carries its rejection
/// report by row and column, as an applied one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_held_deliveries_get_receipts_that_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // No record_type column: refused whole when the daemon pulls it.
    let no_column = "#period 2016-01-01..2016-06-30\nforename,surname,dob,date\nAnn,Able,2001-02-03,2016-03-03\n";
    let (server, endpoint, secret) = partner_side(
        dir,
        HashMap::from([("/police.csv".to_string(), no_column.as_bytes().to_vec())]),
    )
    .await;
    let cfg = police_config(dir, &server, &endpoint);
    let ingest = |name: &str, body: &str| {
        let f = dir.join(name);
        std::fs::write(&f, body).unwrap();
        crate::util::outcomesd(&[
            "ingest",
            "--config",
            cfg.to_str().unwrap(),
            "--feed",
            "police",
            f.to_str().unwrap(),
        ])
    };
    // Held (a century is more than max_period_years), with a row rejected.
    let long = POLICE_1.replace("2016-01-01..2016-06-30", "1920-01-01..2019-12-31");
    let out = ingest("long.csv", &long);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("HELD"), "{}", text(&out.stdout));
    // Refused by hand: the period runs backwards.
    let backwards = POLICE_1.replace("2016-01-01..2016-06-30", "2016-06-30..2016-01-01");
    let out = ingest("backwards.csv", &backwards);
    assert!(!out.status.success());
    // And again: the same file refused twice is one receipt.
    assert!(!ingest("backwards.csv", &backwards).status.success());

    let mut child = spawn(dir, &cfg, "run1.log");
    let delivered = |n: &ReceivedNotice| n.status < 300 && n.verified;
    let acked = || -> HashMap<String, ReceivedNotice> {
        receipts(&endpoint)
            .into_iter()
            .filter(delivered)
            .map(|n| {
                (
                    n.body["status"].as_str().unwrap_or("").to_string() + n.id.as_str(),
                    n,
                )
            })
            .collect()
    };
    wait_for("the held and both refused receipts", dir, || {
        acked().len() >= 3
    })
    .await;
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let got: Vec<ReceivedNotice> = acked().into_values().collect();
    assert_eq!(
        got.len(),
        3,
        "{:#?}",
        got.iter().map(|n| &n.body).collect::<Vec<_>>()
    );
    use sha2::Digest as _;
    let hash = |s: &str| hex::encode(sha2::Sha256::digest(s.as_bytes()));
    let find = |h: String| {
        got.iter()
            .find(|n| n.body["content_hash"] == h.as_str())
            .unwrap_or_else(|| panic!("no receipt for {h}"))
    };
    let held = &find(hash(&long)).body;
    assert_eq!(held["status"], "held", "{held:#}");
    assert!(held["hold_reason"]
        .as_str()
        .unwrap()
        .contains("max_period_years"));
    assert_eq!(
        (
            held["rows"].as_u64(),
            held["rejected"].as_u64(),
            held["held"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let report = held["report"].as_array().unwrap();
    assert_eq!(report.len(), 1, "{held:#}");
    assert_eq!(report[0]["row"], 3);
    assert_eq!(report[0]["column"], "disposal");
    assert_eq!(report[0]["outcome"], "row_rejected");
    assert_eq!(held["report_lines_omitted"], 0);

    let by_hand = &find(hash(&backwards)).body;
    assert_eq!(by_hand["status"], "refused", "{by_hand:#}");
    assert_eq!(by_hand["delivery"], serde_json::Value::Null);
    assert_eq!(by_hand["refusal"]["row"], 1);
    assert_eq!(by_hand["refusal"]["column"], "#period");
    assert!(by_hand["refusal"]["reason"]
        .as_str()
        .unwrap()
        .contains("period line"));
    let pulled = &find(hash(no_column)).body;
    assert_eq!(pulled["status"], "refused", "{pulled:#}");
    assert_eq!(pulled["refusal"]["column"], "record_type");
    assert_eq!(pulled["rows"], 0);
    for n in &got {
        let raw = String::from_utf8_lossy(&n.raw);
        for value in ["Ann", "Able", "hanged", "SR1", "2001-02-03"] {
            assert!(!raw.contains(value), "a receipt carries a value: {raw}");
        }
        match python_verifies(&secret, n, dir) {
            Some(ok) => assert!(ok, "standardwebhooks refused receipt {}", n.id),
            None => eprintln!("SKIPPED: Python standardwebhooks cross-check (package missing)"),
        }
    }
    // The refused-by-hand file was tried twice: one receipt.
    let ids: std::collections::HashSet<_> = receipts(&endpoint)
        .into_iter()
        .filter(|n| n.body["content_hash"] == hash(&backwards).as_str())
        .map(|n| n.id)
        .collect();
    assert_eq!(ids.len(), 1);
}

/// `outbox retry` while the daemon runs and holds the store: asked through
/// the control socket, the daemon makes a receipt parked for an hour by
/// the endpoint's `Retry-After` (honoured for receipts as for notices) due
/// now and sends it on its next round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_retry_goes_through_the_running_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server, endpoint, _secret) = partner_side(
        dir,
        HashMap::from([("/police.csv".to_string(), POLICE_1.as_bytes().to_vec())]),
    )
    .await;
    // The first attempt is told to come back in an hour.
    endpoint.set_retry_after(Some("3600"));
    endpoint.set_fail_next(1, 503);
    let cfg = police_config(dir, &server, &endpoint);
    let mut child = spawn(dir, &cfg, "run1.log");
    // Logged once the failure (and its next attempt) is recorded.
    wait_for("the receipt's failure recorded", dir, || {
        std::fs::read_to_string(dir.join("run1.log"))
            .unwrap_or_default()
            .contains("receipt delivery failed")
    })
    .await;
    // Parked: without the retry it would not be tried for half an hour
    // or more (the log gives the next attempt recorded).
    let log = std::fs::read_to_string(dir.join("run1.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("receipt delivery failed"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let next = v["next_attempt_at"].as_str().unwrap_or_default();
    let next: chrono::DateTime<chrono::Utc> = next
        .trim_start_matches("Some(")
        .trim_end_matches(')')
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    assert!(
        next > chrono::Utc::now() + chrono::Duration::minutes(30),
        "{line}"
    );
    let retry = |extra: &[&str]| {
        let mut args = vec!["outbox", "retry", "--config", cfg.to_str().unwrap()];
        args.extend_from_slice(extra);
        crate::util::outcomesd(&args)
    };
    let out = retry(&["--sink", "no-such-sink"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no sink"),
        "{}",
        text(&out.stderr)
    );
    let out = retry(&["--sink", "receipt:police"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("1 undelivered") && said.contains("by the running daemon"),
        "{said}"
    );
    wait_for("the receipt delivered after the retry", dir, || {
        receipts(&endpoint)
            .iter()
            .any(|n| n.status < 300 && n.verified)
    })
    .await;
    // Its delivery recorded (so the stopped store has nothing left due).
    wait_for("the delivery recorded", dir, || {
        std::fs::read_to_string(dir.join("run1.log"))
            .unwrap_or_default()
            .contains("\"receipt delivered\"")
    })
    .await;
    let got = receipts(&endpoint);
    assert_eq!(got[0].status, 503, "the first attempt was refused");
    assert!(got.iter().all(|n| n.id == got[0].id));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    // Stopped, the retry works on the store itself: nothing left to retry.
    let out = retry(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 undelivered")
            && !text(&out.stdout).contains("by the running daemon"),
        "{}",
        text(&out.stdout)
    );
}
