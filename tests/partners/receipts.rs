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
    let has_pkg = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pkg {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the Python cross-check: pip install standardwebhooks"
        );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_reach_the_partner_signed_after_a_kill_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let partner = TestCa::new("partner CA");
    let council = TestCa::new("council CA");
    std::fs::write(dir.join("partner-ca.pem"), partner.cert_pem()).unwrap();
    council
        .issue_client("council")
        .write(dir, "client")
        .unwrap();
    let server = PartnerServer::start(
        server_config(
            &partner.issue_server(&["127.0.0.1"]),
            Some(&council.cert_pem()),
        ),
        HashMap::from([("/police.csv".to_string(), POLICE_1.as_bytes().to_vec())]),
    )
    .await
    .unwrap();
    // The partner's receipt endpoint: its own CA's certificate, and it
    // demands the council's client certificate.
    let secret = WebhookSecret::generate();
    let endpoint = Receiver::start(
        server_config(
            &partner.issue_server(&["127.0.0.1"]),
            Some(&council.cert_pem()),
        ),
        secret.clone(),
    )
    .await
    .unwrap();
    endpoint.set_fail_next(1_000_000, 503);
    write_secret(&dir.join("receipt-whsec"), &secret);
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
