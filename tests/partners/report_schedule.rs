//! The scheduled outcome report, end to end with the real binary: the
//! daemon sends a feed's `partner-report` aggregate as a signed receipt to
//! the partner's mutual-TLS endpoint (and its spool), the same figures the
//! command prints, small numbers suppressed, no case named; killed and
//! started again, it fires again for the same period and sends no second,
//! different report.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use outcomesd::sim::receiver::{ReceivedNotice, Receiver};

use super::receipts::{partner_side, python_verifies, spawn, wait_for};
use crate::util::{text, Env};

fn reports(r: &Receiver) -> Vec<ReceivedNotice> {
    r.received()
        .into_iter()
        .filter(|n| n.body["type"] == "partner.report")
        .collect()
}

fn log_count(dir: &std::path::Path, log: &str, what: &str) -> usize {
    std::fs::read_to_string(dir.join(log))
        .unwrap_or_default()
        .matches(what)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_report_arrives_signed_suppressed_and_once_across_a_restart() {
    let env = Env::new(40, 7);
    for (feed, _) in outcomesd::sim::demo::DEMO_FEEDS {
        let out = env.ingest(feed, &env.feed_file(feed));
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    }
    let out = env.cli(&["claims", "--json"]);
    let claims: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(claims.len() >= 5, "{}", claims.len());
    let dir = env.path();
    // The feed is never pulled here (its schedule is New Year's Day); the
    // url is what gives it the mutual-TLS identity receipts travel with.
    let (server, endpoint, secret) = partner_side(dir, HashMap::new()).await;
    let cfg_text = std::fs::read_to_string(&env.config).unwrap();
    let police = "[feeds.police]\nkind = \"police\"\n";
    assert!(cfg_text.contains(police), "{cfg_text}");
    // Every second (cron's seconds field), covering the claims' years.
    let cfg_text = cfg_text
        .replace(
            "format = \"human\"\nlevel = \"warn\"",
            "format = \"json\"\nlevel = \"info\"",
        )
        .replace(
            police,
            &format!(
                "{police}url = \"{}\"\nschedule = \"0 2 1 1 *\"\nca_bundle = \"partner-ca.pem\"\n\
                 client_cert = \"client.crt\"\nclient_key = \"client.key\"\n\
                 [feeds.police.receipts]\nurl = \"{}\"\nsecret_file = \"receipt-whsec\"\n\
                 spool = \"receipts\"\nreport_schedule = \"* * * * * *\"\nreport_months = 1200\n",
                server.url("/police.csv"),
                endpoint.url()
            ),
        )
        + "\n[notices]\npoll_seconds = 1\n";
    std::fs::write(&env.config, cfg_text).unwrap();
    std::fs::create_dir_all(dir.join("receipts")).unwrap();
    let out = env.cli(&["check-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut child = spawn(dir, &env.config, "run1.log");
    let delivered = |n: &ReceivedNotice| n.status < 300 && n.verified;
    wait_for("a scheduled report acknowledged", dir, || {
        reports(&endpoint).iter().any(delivered)
    })
    .await;
    wait_for("a second firing that finds it queued", dir, || {
        log_count(dir, "run1.log", "partner report already queued") >= 1
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut child = spawn(dir, &env.config, "run2.log");
    wait_for("firings after the restart", dir, || {
        log_count(dir, "run2.log", "partner report already queued") >= 2
    })
    .await;
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
    assert_eq!(
        log_count(dir, "run2.log", "partner report queued\""),
        0,
        "the restart queued a second report"
    );

    let got = reports(&endpoint);
    let ids: BTreeSet<&str> = got.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "one report per period: {ids:?}");
    // At least once: any repeat is the same report, byte for byte.
    assert!(got.iter().all(|n| n.raw == got[0].raw));
    let first = got.iter().find(|n| delivered(n)).unwrap();
    let b = &first.body;
    assert_eq!(b["id"], first.id.as_str());
    assert_eq!(b["feed"], "police");
    assert_eq!(b["suppressed_below"], 5);
    let period = format!(
        "{}..{}",
        b["period"]["from"].as_str().unwrap(),
        b["period"]["to"].as_str().unwrap()
    );
    // The same figures `partner-report` gives for that period.
    let out = env.cli(&[
        "partner-report",
        "--feed",
        "police",
        "--period",
        &period,
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["by_outcome"], cli["by_outcome"], "{b:#}");
    assert_eq!(b["totals"], cli["totals"]);
    assert!(
        b["by_outcome"].as_array().is_some_and(|a| !a.is_empty()),
        "{b:#}"
    );
    let raw = String::from_utf8_lossy(&first.raw);
    assert!(raw.contains("\"<5\""), "no suppressed count: {b:#}");
    for line in b["by_outcome"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&b["totals"]])
    {
        for k in [
            "verified",
            "contradicted",
            "insufficient",
            "attested",
            "total",
        ] {
            if let Some(n) = line[k].as_u64() {
                assert!(n == 0 || n >= 5, "{k} = {n} shown: {b:#}");
            }
        }
    }
    for c in &claims {
        for key in ["case_ref", "claim_id"] {
            if let Some(v) = c[key].as_str() {
                assert!(!raw.contains(v), "the report names {key} {v}");
            }
        }
    }
    match python_verifies(&secret, first, dir) {
        Some(ok) => assert!(ok, "standardwebhooks refused report {}", first.id),
        None => eprintln!("SKIPPED: Python standardwebhooks cross-check (package missing)"),
    }
    // The spool holds it once, by id, and the delivery receipt beside it.
    let spooled: Vec<serde_json::Value> = std::fs::read_dir(dir.join("receipts"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    let spooled_reports: Vec<_> = spooled
        .iter()
        .filter(|s| s["type"] == "partner.report")
        .collect();
    assert_eq!(spooled_reports.len(), 1, "{spooled:?}");
    assert_eq!(*spooled_reports[0], *b);
}
