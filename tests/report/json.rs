//! Machine-readable output: `status --json`, `check-config --json`,
//! `frameworks --json` and `outbox list --json` from the real binary.

use crate::util::{text, Env};

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn status_and_check_config_speak_json() {
    let env = Env::new(8, 3);
    for feed in ["case", "claims", "police"] {
        assert!(env.ingest(feed, &env.feed_file(feed)).status.success());
    }
    let s = json(&env.cli(&["status", "--json"]));
    let feeds = s["feeds"].as_array().unwrap();
    let names: Vec<&str> = feeds.iter().map(|f| f["feed"].as_str().unwrap()).collect();
    assert_eq!(names, ["case", "claims", "police"]);
    // The same figures as the text.
    let txt = env.status();
    for f in feeds {
        let line = format!(
            "feed {} ({}): {} rows in effect ({} accepted over {} deliveries",
            f["feed"].as_str().unwrap(),
            f["kind"].as_str().unwrap(),
            f["rows_in_effect"],
            f["rows_accepted"],
            f["deliveries"]
        );
        assert!(txt.contains(&line), "{line} not in {txt}");
    }
    assert_eq!(s["coverage"]["police"][0]["from"], "2014-04-01");
    assert_eq!(s["cases"], 8);

    let c = json(&env.cli(&["check-config", "--json"]));
    assert_eq!(c["ok"], true);
    assert_eq!(c["feeds"].as_array().unwrap().len(), 7);
    assert_eq!(c["framework"]["id"], "sunderland");
    let bad = env.write(
        "bad.toml",
        b"data_dir = \"d\"\nkey_file = \"k\"\n[feeds.police]\nkind = \"polise\"\n",
    );
    let out = env.run(&["check-config", "--json", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["ok"], false);
    let issue = c["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "feeds.police.kind")
        .expect("the bad kind is an issue");
    assert_eq!(issue["line"], 4);
    let bad = env.write(
        "badtz.toml",
        b"timezone = \"Mars/Olympus\"\ndata_dir = \"d\"\nkey_file = \"k\"\n",
    );
    let out = env.run(&["check-config", "--json", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        c["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == "timezone"
                && i["line"] == 1
                && i["message"].as_str().unwrap().contains("unknown time zone")),
        "{c:#}"
    );

    let f = json(&env.run(&["frameworks", "--json"]));
    let sun = f
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "sunderland")
        .unwrap();
    assert!(sun["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == "SUN-2.1" && o["class"] == "data"));
}

#[test]
fn outbox_lists_deliveries_per_sink_and_retry_makes_them_due() {
    let env = Env::new(6, 4);
    let spool = env.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let base = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        format!("{base}\n[[notices.spool]]\nname = \"spool\"\ndir = \"spool\"\n"),
    )
    .unwrap();
    for feed in ["case", "claims", "police", "education"] {
        assert!(env.ingest(feed, &env.feed_file(feed)).status.success());
    }
    // Deciding the claims queues their notices; nothing sends them here.
    assert!(env.cli(&["claims"]).status.success());
    let o = json(&env.cli(&["outbox", "list", "--json"]));
    let sinks = o["sinks"].as_array().unwrap();
    assert_eq!(sinks.len(), 1);
    assert_eq!(sinks[0]["sink"], "spool");
    let pending = sinks[0]["pending"].as_u64().unwrap();
    assert!(pending > 0, "{o:#}");
    assert_eq!(sinks[0]["delivered"], 0);
    let deliveries = o["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len() as u64, pending);
    assert!(deliveries.iter().all(|d| d["sink"] == "spool"
        && d["attempts"] == 0
        && d["notice"].as_str().unwrap().starts_with("ntc_")));
    let txt = text(&env.cli(&["outbox", "list"]).stdout);
    assert!(
        txt.contains(&format!(
            "sink spool: {pending} pending, 0 failing, 0 delivered"
        )),
        "{txt}"
    );

    let out = env.cli(&["outbox", "retry", "--sink", "spool"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&format!("{pending} undelivered deliveries are due now")));
    let out = env.cli(&["outbox", "retry", "--sink", "nowhere"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no sink \"nowhere\""));
    let out = env.cli(&["outbox", "retry", "ntc_00000000000000000000000000000000"]);
    assert!(!out.status.success());

    // A sink taken out of the config keeps its deliveries, listed as such.
    std::fs::write(&env.config, &base).unwrap();
    let txt = text(&env.cli(&["outbox", "list"]).stdout);
    assert!(
        txt.contains(&format!(
            "sink spool (no longer configured: not attempted): {pending} pending"
        )),
        "{txt}"
    );
}
