//! The fault campaign: the real binary against loopback partners and a
//! receiver, killed with SIGKILL at 32 moments spread over pulls, ingest,
//! evaluation and delivery, restarted each time, while the police feed is
//! corrected back and forth so verdicts flip both ways (and twice more,
//! each waited for, after the kills, so flips happen however slow the
//! machine). Afterwards, for
//! every claim a coordinator should know of, the receiver acknowledged a
//! notice carrying its latest decision; the store opens and reads whole.

use super::*;

/// The police extract without its offence rows (a quarter of the rows):
/// enough to flip absence claims, not so many that the delivery looks like
/// a lost extract.
fn without_offences(police: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(police.to_vec()).unwrap();
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.starts_with("offence,")) {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_every_claim_is_notified_with_its_latest_decision() {
    // Every two seconds, so a correction is pulled while it runs.
    let rig = Rig::start(80, 77, "*/2 * * * * *").await;
    let (dir, env, server, receiver, port, cfg) = (
        &rig.dir,
        &rig.env,
        &rig.server,
        &rig.receiver,
        rig.port,
        &rig.cfg,
    );
    let police = std::fs::read(env.feed_file("police")).unwrap();
    let police_b = without_offences(&police);
    assert_ne!(police, police_b);
    let log = dir.path().join("daemon.log");
    let spawn = || super::disk::spawn_daemon(cfg, &log);
    // The kill moments: random, but the same every run.
    let mut moments = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x9E37);
    let mut thin = false;
    for round in 0..32 {
        if round % 4 == 1 && round < 29 {
            // A correction: the other version of the police extract (seven
            // in all, so the last run ends on the one without offences).
            thin = !thin;
            server.set_file(
                "/police.csv",
                if thin {
                    police_b.clone()
                } else {
                    police.clone()
                },
            );
        }
        let mut child = spawn();
        let ms = rand::Rng::random_range(&mut moments, 20..4000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    // A last run, left to finish: every feed pulled (the last correction
    // included) and nothing left to send. Then two more corrections, each
    // waited for, so verdicts flip both ways however slow the machine was
    // during the kills (a loaded machine may have decided little before
    // each kill).
    let child = spawn();
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let log_tail = || {
        daemon_log()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let last = settle(port, 0).await;
    assert!(
        last.is_ok(),
        "the last run settled; last health {last:?}; log tail:\n{}",
        log_tail()
    );
    let mut police_deliveries = last.unwrap()["feeds"]["police"]["deliveries"]
        .as_u64()
        .unwrap();
    for (n, thin_now) in [(1, !thin), (2, thin)] {
        server.set_file(
            "/police.csv",
            if thin_now {
                police_b.clone()
            } else {
                police.clone()
            },
        );
        police_deliveries += 1;
        let last = settle(port, police_deliveries).await;
        assert!(
            last.is_ok(),
            "correction {n} applied and notified; last health {last:?}; log tail:\n{}",
            log_tail()
        );
    }
    unsafe_kill(child.id() as i32);
    let mut child = child;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");

    // The store opens and reads whole; every claim is decided.
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--config", cfg.to_str().unwrap()]);
        let out = crate::util::outcomesd(&a);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            crate::util::text(&out.stderr)
        );
        out.stdout
    };
    run(&["status"]);
    let verdicts: Vec<serde_json::Value> =
        serde_json::from_slice(&run(&["claims", "--json"])).unwrap();
    let claims_rows = std::fs::read_to_string(env.feed_file("claims"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
        - 1;
    assert_eq!(verdicts.len(), claims_rows, "every claim has a verdict");

    // The invariant: per claim, the acknowledged notice with the highest
    // sequence carries the claim's current decision.
    let mut acked: HashMap<(String, String, String), (u64, String)> = HashMap::new();
    for r in receiver.received() {
        if !(r.verified && r.status < 300) {
            continue;
        }
        let b = &r.body;
        let key = (
            b["case_ref"].as_str().unwrap().to_string(),
            b["outcome_id"].as_str().unwrap().to_string(),
            b["claim_date"].as_str().unwrap().to_string(),
        );
        let seq = b["sequence"].as_u64().unwrap();
        let verdict = b["verdict"].as_str().unwrap().to_string();
        let e = acked.entry(key).or_insert((seq, verdict.clone()));
        if seq >= e.0 {
            *e = (seq, verdict);
        }
    }
    let (mut checked, mut flipped, mut longest) = (0, 0, 0);
    for v in &verdicts {
        let history = v["history"].as_array().unwrap();
        let verdict = v["verdict"].as_str().unwrap();
        let ever_decided =
            verdict != "insufficient" || history.iter().any(|h| h["verdict"] != "insufficient");
        if !ever_decided {
            continue;
        }
        checked += 1;
        longest = longest.max(history.len());
        if history.iter().any(|h| h["verdict"] != "insufficient") {
            flipped += 1;
        }
        let key = (
            v["case_ref"].as_str().unwrap().to_string(),
            v["outcome_id"].as_str().unwrap().to_string(),
            v["claim_date"].as_str().unwrap().to_string(),
        );
        let got = acked.get(&key);
        assert_eq!(
            got,
            Some(&(history.len() as u64, verdict.to_string())),
            "claim {key:?}: stored decision {} ({verdict}), latest acknowledged notice {got:?}; log tail:\n{}",
            history.len(),
            daemon_log().lines().rev().take(20).collect::<Vec<_>>().join("\n")
        );
    }
    assert!(checked > 20, "only {checked} claims decided");
    assert!(flipped > 0, "the corrections flipped no decided verdict");
    assert!(
        longest >= 3,
        "no claim flipped back (at most {longest} decisions)"
    );
    let acks: Vec<String> = receiver
        .received()
        .into_iter()
        .filter(|r| r.verified && r.status < 300)
        .map(|r| r.id)
        .collect();
    let distinct: std::collections::HashSet<&String> = acks.iter().collect();
    let key = HmacKey::load(&dir.path().join("hmac.key")).unwrap();
    let deliveries = outcomesd::store::Store::open(&dir.path().join("data/store"), key.id())
        .unwrap()
        .deliveries()
        .count();
    eprintln!(
        "fault campaign: 32 kills; {deliveries} deliveries committed; {checked} decided claims checked, {flipped} changed after being decided (up to {longest} decisions); {} notices acknowledged, {} of them again (duplicates the receiver drops by id); 0 lost",
        acks.len(),
        acks.len() - distinct.len()
    );
}

/// Waits until every feed has been pulled in this run, the police feed has
/// applied at least `police_deliveries` deliveries in it, and no notice has
/// been pending or failing for 3 s (a scheduled pull has come and gone).
/// The last health seen either way.
async fn settle(
    port: u16,
    police_deliveries: u64,
) -> Result<serde_json::Value, Option<serde_json::Value>> {
    let mut settled = 0;
    let mut last = None;
    for _ in 0..1200 {
        if let Some(h) = healthz(port).await {
            let n = &h["notices"];
            let idle = n["pending"].as_u64() == Some(0) && n["failing"].as_u64() == Some(0);
            let pulled = h["feeds"].as_object().is_some_and(|f| {
                f.len() == DEMO_FEEDS.len() && f.values().all(|v| !v["last_success"].is_null())
            });
            let applied = h["feeds"]["police"]["deliveries"].as_u64() >= Some(police_deliveries);
            settled = if idle && pulled && applied {
                settled + 1
            } else {
                0
            };
            last = Some(h);
            if settled >= 30 {
                return Ok(last.unwrap());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last)
}
