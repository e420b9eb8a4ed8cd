//! The audit log through the real binary: what ingest, reads and decisions
//! record; `audit verify` finding each kind of tampering and naming the
//! first bad entry; rotation; no raw identifier in the file; and `store
//! compare` between stores built under two matching keys (the key-rotation
//! procedure).

use std::collections::HashSet;

use crate::util::{contains, text, Env};

const FEEDS: [&str; 7] = [
    "case",
    "social_care",
    "education",
    "dwp",
    "police",
    "services",
    "claims",
];

fn ingest_all(env: &Env, feeds: &[&str]) {
    for feed in feeds {
        let out = env.ingest(feed, &env.feed_file(feed));
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    }
}

fn log_path(env: &Env) -> std::path::PathBuf {
    env.data_dir().join("audit.log")
}

fn lines(env: &Env) -> Vec<String> {
    std::fs::read_to_string(log_path(env))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(env: &Env, l: &[String]) {
    let mut t = l.join("\n");
    t.push('\n');
    std::fs::write(log_path(env), t).unwrap();
}

fn kinds(l: &[String]) -> Vec<String> {
    l.iter()
        .map(|x| {
            let v: serde_json::Value = serde_json::from_str(x).unwrap();
            v["action"]["kind"].as_str().unwrap().to_string()
        })
        .collect()
}

/// `audit verify` fails (exit 1) and names `entry` as the first bad one.
fn fails_at(env: &Env, entry: u64, extra: &[&str]) -> String {
    let mut args = vec!["audit", "verify"];
    args.extend(extra);
    let out = env.cli(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("first bad entry {entry} ")),
        "expected entry {entry}: {err}"
    );
    err
}

#[test]
fn tampering_is_found_through_the_binary_and_entries_hold_no_identifier() {
    let env = Env::new(30, 11);
    ingest_all(&env, &FEEDS);
    // A read with a reason, and a listing.
    let out = env.cli(&["claims", "--json", "--reason", "internal audit 2026-12"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let claims: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let case = claims[0]["case_ref"].as_str().unwrap().to_string();
    let out = env.cli(&["verify", &case, "--reason", "SAR 41"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let orig = lines(&env);
    let k = kinds(&orig);
    assert_eq!(
        k.iter().filter(|x| *x == "delivery_applied").count(),
        7,
        "{k:?}"
    );
    assert!(k.contains(&"verdict_changed".to_string()), "{k:?}");
    let reads: Vec<&String> = orig
        .iter()
        .filter(|l| l.contains("\"kind\":\"read\""))
        .collect();
    assert_eq!(reads.len(), 2);
    assert!(
        reads[0].contains("internal audit 2026-12") && reads[0].contains("\"command\":\"claims\"")
    );
    assert!(reads[1].contains(&format!("case:{case}")) && reads[1].contains("SAR 41"));

    // Untouched: verifies against the store's checkpoint.
    let out = env.cli(&["audit", "verify"]);
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}{}", text(&out.stderr));
    assert!(
        so.contains("the store's checkpoint") && so.contains("ok:"),
        "{so}"
    );
    let head = so
        .split("head ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .to_string();
    assert!(head.starts_with(&format!("{}:", orig.len())), "{head}");

    // `audit show`: every entry since a day long ago, as stored.
    let out = env.cli(&["audit", "show", "--since", "2000-01-01", "--json"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), orig.len());
    let out = env.cli(&["audit", "show", "--since", "2999-01-01"]);
    assert!(out.status.success() && out.stdout.is_empty());

    // No identifier value from any input file is in the log.
    let log = std::fs::read(log_path(&env)).unwrap().to_ascii_lowercase();
    let ids = identifier_values(&env);
    assert!(ids.len() > 100, "the input had identifiers to look for");
    for v in &ids {
        assert!(
            !contains(&log, v.to_ascii_lowercase().as_bytes()),
            "an identifier value reached the audit log"
        );
    }

    // An edit: the first bad entry is the edited one.
    let mut l = orig.clone();
    l[3] = l[3].replacen("\"time\":\"2", "\"time\":\"3", 1);
    assert_ne!(l[3], orig[3]);
    write_lines(&env, &l);
    let err = fails_at(&env, 4, &[]);
    assert!(err.contains("MAC"), "{err}");
    // A deletion.
    let mut l = orig.clone();
    l.remove(2);
    write_lines(&env, &l);
    fails_at(&env, 3, &[]);
    // A reordering.
    let mut l = orig.clone();
    l.swap(1, 2);
    write_lines(&env, &l);
    let err = fails_at(&env, 2, &[]);
    assert!(err.contains("reordered"), "{err}");
    // A truncation: valid alone, cut against the store's checkpoint and
    // against the head the journal recorded.
    write_lines(&env, &orig[..orig.len() - 2]);
    let err = fails_at(&env, orig.len() as u64 - 1, &[]);
    assert!(err.contains("cut off"), "{err}");
    fails_at(&env, orig.len() as u64 - 1, &["--head", &head]);
    // And the commands refuse to add to a cut log.
    let out = env.cli(&["claims"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cut off the end"),
        "{}",
        text(&out.stderr)
    );

    // Put back, the log verifies and grows again.
    write_lines(&env, &orig);
    let out = env.cli(&["audit", "verify", "--head", &head]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn rotation_in_place_keeps_the_chain_verifiable() {
    let env = Env::new(10, 3);
    ingest_all(&env, &FEEDS[..2]);
    let new = env.path().join("audit-new.key");
    let out = env.run(&[
        "keygen",
        "--purpose",
        "audit",
        "--out",
        new.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A matching key is refused as an audit key.
    let wrong = env.path().join("hmac.key");
    let out = env.cli(&["audit", "rotate", "--new-key", wrong.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--purpose audit"),
        "{}",
        text(&out.stderr)
    );
    let out = env.cli(&["audit", "rotate", "--new-key", new.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!new.exists(), "the new key moved into place");
    ingest_all(&env, &FEEDS[2..4]);
    let out = env.cli(&["audit", "verify"]);
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}{}", text(&out.stderr));
    assert!(so.contains(" then "), "two keys used: {so}");
    let k = kinds(&lines(&env));
    assert!(k.contains(&"key_rotated".to_string()), "{k:?}");
    // Without the retired key the entries before the rotation fail.
    let retired: Vec<_> = std::fs::read_dir(env.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".retired-"))
        .map(|e| e.path())
        .collect();
    assert_eq!(retired.len(), 1);
    let aside = env.path().join("retired-elsewhere.key");
    std::fs::rename(&retired[0], &aside).unwrap();
    fails_at(&env, 1, &[]);
    let out = env.cli(&["audit", "verify", "--key", aside.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A held delivery, the operator's rejection of it, and a delivery refused
/// whole are each an entry, and the log still verifies.
#[test]
fn holds_decisions_and_refusals_are_recorded() {
    let env = Env::new(12, 21);
    ingest_all(&env, &["case", "police"]);
    let police = std::fs::read_to_string(env.feed_file("police")).unwrap();
    let mut l = police.lines();
    let (period, header) = (l.next().unwrap(), l.next().unwrap());
    let empty = env.write("empty.csv", format!("{period}\n{header}\n").as_bytes());
    let out = env.ingest("police", &empty);
    assert!(out.status.success() && text(&out.stdout).contains("HELD"));
    let held: serde_json::Value = serde_json::from_str(lines(&env).last().unwrap()).unwrap();
    assert_eq!(held["action"]["kind"], "delivery_held", "{held}");
    let id = held["action"]["delivery"].as_u64().unwrap().to_string();
    let out = env.cli(&["deliveries", "reject", &id, "--by", "tester"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let future = env.write(
        "future.csv",
        police.replacen("2017-03-31", "2099-12-31", 1).as_bytes(),
    );
    assert!(!env.ingest("police", &future).status.success());
    let all = lines(&env);
    let k = kinds(&all);
    let n = k.len();
    assert_eq!(
        &k[n - 3..],
        ["delivery_held", "delivery_rejected", "delivery_refused"],
        "{k:?}"
    );
    assert!(all[n - 2].contains("\"by\":\"tester\""), "{}", all[n - 2]);
    assert!(
        all[n - 1].contains("2099-12-31"),
        "the refusal says why: {}",
        all[n - 1]
    );
    assert!(env.cli(&["audit", "verify"]).status.success());
}

/// `check-config` refuses an audit key others can read, or a key of
/// another purpose where the audit key belongs (exit 78).
#[test]
fn check_config_holds_the_keys_apart() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::empty();
    let out = env.cli(&["check-config"]);
    assert!(
        out.status.success(),
        "no audit key yet is fine: {}",
        text(&out.stderr)
    );
    let audit = env.path().join("audit.key");
    std::fs::copy(env.path().join("hmac.key"), &audit).unwrap();
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.cli(&["check-config"]);
    assert_eq!(out.status.code(), Some(78));
    let err = text(&out.stderr);
    assert!(
        err.contains("audit_key_file") && err.contains("not for audit"),
        "{err}"
    );
    std::fs::remove_file(&audit).unwrap();
    let out = env.run(&[
        "keygen",
        "--purpose",
        "audit",
        "--out",
        audit.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.cli(&["check-config"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out.stderr)
    );
}

/// Matching-key rotation: a second store built from the same extracts under
/// a new key decides every claim alike; one missing a feed differs.
#[test]
fn store_compare_across_matching_keys() {
    let env = Env::new(20, 5);
    ingest_all(&env, &FEEDS);
    let other = Env::empty();
    copy_feeds(&env, &other);
    ingest_all(&other, &FEEDS);
    let other_key = std::fs::read_to_string(other.path().join("hmac.key")).unwrap();
    let this_key = std::fs::read_to_string(env.path().join("hmac.key")).unwrap();
    assert_ne!(other_key, this_key, "two matching keys");
    let od = other.data_dir();
    let out = env.cli(&["store", "compare", "--other-data-dir", od.to_str().unwrap()]);
    let so = text(&out.stdout);
    assert!(out.status.success(), "{so}{}", text(&out.stderr));
    assert!(
        so.contains("0 decided differently; 0 only here; 0 only in"),
        "{so}"
    );

    // A third store missing the police feed decides some claims otherwise.
    let partial = Env::empty();
    copy_feeds(&env, &partial);
    let some: Vec<&str> = FEEDS.iter().copied().filter(|f| *f != "police").collect();
    ingest_all(&partial, &some);
    let pd = partial.data_dir();
    let out = env.cli(&[
        "store",
        "compare",
        "--other-data-dir",
        pd.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!c["differ"].as_array().unwrap().is_empty(), "{c}");
    assert!(text(&out.stderr).contains("differ"));
}

fn copy_feeds(from: &Env, to: &Env) {
    for f in FEEDS {
        std::fs::copy(from.feed_file(f), to.feed_file(f)).unwrap();
    }
}

/// Every name, date of birth, postcode and number value in the input files
/// that cannot occur in a log for another reason (five bytes or more, not
/// also a value of another column).
fn identifier_values(env: &Env) -> Vec<String> {
    let mut values = HashSet::new();
    let mut other = HashSet::new();
    for f in FEEDS {
        let t = std::fs::read_to_string(env.feed_file(f)).unwrap();
        let body = match t.strip_prefix('#') {
            Some(rest) => rest.split_once('\n').map_or("", |(_, b)| b),
            None => t.as_str(),
        };
        let mut rdr = csv::Reader::from_reader(body.as_bytes());
        let headers = rdr.headers().unwrap().clone();
        for rec in rdr.records() {
            let rec = rec.unwrap();
            for (h, v) in headers.iter().zip(rec.iter()) {
                let id = [
                    "forename",
                    "surname",
                    "dob",
                    "postcode",
                    "address",
                    "nhs_number",
                    "ni_number",
                    "upn",
                ]
                .contains(&h);
                if id {
                    values.insert(v.trim().to_string());
                } else {
                    other.insert(v.trim().to_string());
                }
            }
        }
    }
    values
        .into_iter()
        .filter(|v| v.len() >= 5 && !other.contains(v))
        .collect()
}
