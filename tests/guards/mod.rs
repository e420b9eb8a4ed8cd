//! Guarded deliveries end to end: a period after today is refused, a
//! delivery that would withdraw a feed's evidence is held until an operator
//! decides, claims and case rows nothing can place are rejected at the door,
//! and `status` counts what is in effect.

use crate::util::{text, Env};

fn ingest_ok(env: &Env, feed: &str, file: &std::path::Path) -> String {
    let out = env.ingest(feed, file);
    assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The synthetic police file's period line, header and data rows.
fn police_parts(env: &Env) -> (String, String, Vec<String>) {
    let all = std::fs::read_to_string(env.feed_file("police")).unwrap();
    let mut lines = all.lines().map(str::to_string);
    let period = lines.next().unwrap();
    let header = lines.next().unwrap();
    (period, header, lines.collect())
}

fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = env.cli(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hold_of(list: &serde_json::Value, id: u64) -> serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no delivery {id} in {list}"))
}

fn held_id(summary: &str) -> u64 {
    let at = summary.find("delivery ").expect("a delivery id") + 9;
    summary[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn police_line(status: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with("feed police"))
        .unwrap_or_else(|| panic!("{status}"))
        .to_string()
}

#[test]
fn a_period_ending_after_today_is_refused_and_a_future_claim_rejected() {
    let env = Env::new(12, 21);
    ingest_ok(&env, "case", &env.feed_file("case"));
    let (period, header, rows) = police_parts(&env);
    let future = period.replace("2017-03-31", "2099-12-31");
    assert_ne!(future, period);
    let f = env.write(
        "future.csv",
        format!("{future}\n{header}\n{}\n", rows.join("\n")).as_bytes(),
    );
    let out = env.ingest("police", &f);
    assert!(!out.status.success(), "a future period must be refused");
    let err = text(&out.stderr);
    assert!(
        err.contains("feed police") && err.contains("#period") && err.contains("2099-12-31"),
        "{err}"
    );
    assert!(!env.status().contains("feed police"), "nothing stored");

    let claims = std::fs::read_to_string(env.feed_file("claims")).unwrap();
    let first = claims.lines().nth(1).unwrap();
    let f: Vec<&str> = first.split(',').collect();
    let body = format!(
        "case_ref,outcome_id,claim_date,keyworker_ref,team\n{},{},2098-06-01,{},{}\n{first}\n",
        f[0], f[1], f[3], f[4]
    );
    let s = ingest_ok(&env, "claims", &env.write("c.csv", body.as_bytes()));
    assert!(s.contains("1 accepted, 1 rejected"), "{s}");
    assert!(s.contains("rejected row 2: claim_date: after today"), "{s}");
    assert!(
        !s.contains("2098"),
        "a rejection never echoes the value: {s}"
    );
}

#[test]
fn an_empty_delivery_is_held_changes_nothing_and_stays_out_once_rejected() {
    let env = Env::new(20, 5);
    for feed in ["case", "police", "claims"] {
        ingest_ok(&env, feed, &env.feed_file(feed));
    }
    let before_claims = json(&env, &["claims", "--json"]);
    let before = police_line(&env.status());
    let (period, header, _) = police_parts(&env);
    let empty = env.write("empty.csv", format!("{period}\n{header}\n").as_bytes());

    let s = ingest_ok(&env, "police", &empty);
    assert!(s.contains("HELD") && s.contains("no accepted rows"), "{s}");
    let id = held_id(&s);
    assert_eq!(
        json(&env, &["claims", "--json"]),
        before_claims,
        "no verdict changed"
    );
    let status = env.status();
    assert_eq!(police_line(&status), before, "no event withdrawn");
    assert!(
        status.contains(&format!("HELD delivery {id} of feed police")),
        "{status}"
    );

    // The same bytes again are not applied either.
    let again = ingest_ok(&env, "police", &empty);
    assert!(
        again.contains(&format!("identical to delivery {id}, held")),
        "{again}"
    );
    assert_eq!(police_line(&env.status()), before);

    let list = json(&env, &["deliveries", "list", "--json"]);
    assert_eq!(hold_of(&list, id)["state"], "held");
    let out = env.cli(&["deliveries", "reject", &id.to_string(), "--by", "tester"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let h = hold_of(&json(&env, &["deliveries", "list", "--json"]), id);
    assert_eq!(h["state"], "rejected");
    assert_eq!(h["decided_by"], "tester");
    assert!(h["decided_at"].is_string());
    let out = env.cli(&["deliveries", "accept", &id.to_string()]);
    assert!(!out.status.success(), "a decision is made once");
    let s = ingest_ok(&env, "police", &empty);
    assert!(
        s.contains("rejected") && s.contains("nothing applied"),
        "{s}"
    );
    assert_eq!(police_line(&env.status()), before);
    assert_eq!(json(&env, &["claims", "--json"]), before_claims);
}

#[test]
fn a_shrunken_delivery_is_held_until_accepted_with_its_own_bytes() {
    let env = Env::new(20, 6);
    for feed in ["case", "police"] {
        ingest_ok(&env, feed, &env.feed_file(feed));
    }
    let (period, header, rows) = police_parts(&env);
    let keep = rows.len() / 4;
    let small = env.write(
        "small.csv",
        format!("{period}\n{header}\n{}\n", rows[..keep].join("\n")).as_bytes(),
    );
    let s = ingest_ok(&env, "police", &small);
    assert!(s.contains("HELD") && s.contains("under 50%"), "{s}");
    let id = held_id(&s);
    assert!(
        police_line(&env.status()).starts_with(&format!(
            "feed police (police): {} rows in effect",
            rows.len()
        )),
        "nothing replaced while held"
    );

    let other = env.write("other.csv", format!("{period}\n{header}\n").as_bytes());
    let out = env.cli(&[
        "deliveries",
        "accept",
        &id.to_string(),
        "--file",
        other.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "other bytes are not the held delivery"
    );
    assert!(
        text(&out.stderr).contains("SHA-256"),
        "{}",
        text(&out.stderr)
    );

    let out = env.cli(&[
        "deliveries",
        "accept",
        &id.to_string(),
        "--file",
        small.to_str().unwrap(),
        "--by",
        "ana",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("accepted and applied"));
    let line = police_line(&env.status());
    assert!(
        line.starts_with(&format!("feed police (police): {keep} rows in effect")),
        "applied as a full extract: {line}"
    );
    let h = hold_of(&json(&env, &["deliveries", "list", "--json"]), id);
    assert_eq!(h["state"], "accepted");
    assert_eq!(h["decided_by"], "ana");
    let applied = h["applied_as"].as_u64().expect("applied as a delivery");
    assert_eq!(
        hold_of(&json(&env, &["deliveries", "list", "--json"]), applied)["state"],
        "applied"
    );
}

#[test]
fn an_implausibly_long_period_is_held() {
    let env = Env::new(8, 9);
    ingest_ok(&env, "case", &env.feed_file("case"));
    let (_, header, rows) = police_parts(&env);
    let f = env.write(
        "long.csv",
        format!("#period 1920-01-01..2019-12-31\n{header}\n{}\n", rows[0]).as_bytes(),
    );
    let s = ingest_ok(&env, "police", &f);
    assert!(
        s.contains("HELD") && s.contains("more than max_period_years = 10"),
        "{s}"
    );
    let status = env.status();
    assert!(
        !status.lines().any(|l| l.starts_with("feed police")),
        "nothing applied: {status}"
    );
    assert!(!status.contains("coverage police"), "no coverage claimed");
}

#[test]
fn claims_and_case_rows_nothing_can_place_are_rejected_at_the_door() {
    let env = Env::new(10, 4);
    // Claims before their cases: every row refused, saying why.
    let s = ingest_ok(&env, "claims", &env.feed_file("claims"));
    assert!(s.contains(" 0 accepted"), "{s}");
    assert!(
        s.contains("case_ref: no stored case has this reference: deliver the case feed first"),
        "{s}"
    );

    let cases = std::fs::read_to_string(env.feed_file("case")).unwrap();
    let mut lines: Vec<String> = cases.lines().map(str::to_string).collect();
    let col = lines[0].split(',').position(|h| h == "problems").unwrap();
    let mut f: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    f[col] = "crime; not_a_problem".into();
    lines[1] = f.join(",");
    let s = ingest_ok(
        &env,
        "case",
        &env.write("case.csv", (lines.join("\n") + "\n").as_bytes()),
    );
    assert!(s.contains(" 1 rejected"), "{s}");
    assert!(
        s.contains("rejected row 2: problems: a problem code not in framework sunderland"),
        "{s}"
    );

    let first = std::fs::read_to_string(env.feed_file("claims")).unwrap();
    let row: Vec<&str> = first.lines().nth(1).unwrap().split(',').collect();
    let body = format!(
        "case_ref,outcome_id,claim_date,keyworker_ref\n{0},SUN-9.9,{1},K\n{0},STY-7.1,{1},K\n",
        row[0], row[2]
    );
    let s = ingest_ok(&env, "claims", &env.write("c2.csv", body.as_bytes()));
    assert!(s.contains(" 0 accepted, 2 rejected"), "{s}");
    assert_eq!(
        s.matches("outcome_id: not an outcome of framework sunderland")
            .count(),
        2,
        "{s}"
    );
}

#[test]
fn status_counts_the_rows_in_effect_not_rows_ever_received() {
    let env = Env::new(10, 8);
    ingest_ok(&env, "case", &env.feed_file("case"));
    let (period, header, rows) = police_parts(&env);
    let n = rows.len();
    ingest_ok(&env, "police", &env.feed_file("police"));
    // The same rows again (other bytes): the later full extract hides the
    // earlier one's events, so the feed holds n rows, not 2n.
    let again = env.write(
        "again.csv",
        format!("{period}\n{header}\n{}\n\n", rows.join("\n")).as_bytes(),
    );
    ingest_ok(&env, "police", &again);
    let line = police_line(&env.status());
    assert!(
        line.contains(&format!(
            "{n} rows in effect ({} accepted over 2 deliveries",
            2 * n
        )),
        "{line}"
    );
}
