//! `audit pack` and `assurance` through the real binary on a real store:
//! a pack's files, hashes, modes, rows and pseudonyms; flags raised end to
//! end on data built to raise them (and controls that must not be).

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::util::{text, Env};

const FEEDS: [&str; 7] = [
    "case",
    "social_care",
    "education",
    "dwp",
    "police",
    "services",
    "claims",
];

fn keygen(env: &Env) -> String {
    let p = env.path().join("pack.key");
    let out = env.run(&["keygen", "--purpose", "pack", "--out", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    p.to_str().unwrap().to_string()
}

fn pack(env: &Env, key: &str, from: &str, to: &str, dir: &Path) -> std::process::Output {
    env.cli(&[
        "audit",
        "pack",
        "--from",
        from,
        "--to",
        to,
        "--out",
        dir.to_str().unwrap(),
        "--pack-key",
        key,
        "--json",
    ])
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Rows of a feed file by row number as rejection reports count them
/// (the header is row 1), with the header.
fn feed_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let t = std::fs::read_to_string(path).unwrap();
    let body = match t.strip_prefix('#') {
        Some(rest) => rest.split_once('\n').unwrap().1,
        None => t.as_str(),
    };
    let mut r = csv::Reader::from_reader(body.as_bytes());
    let h = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (h, rows)
}

/// Every `person-…` pseudonym in a pack.
fn pseudonyms(dir: &Path) -> HashSet<String> {
    let t = std::fs::read_to_string(dir.join("pack.json")).unwrap();
    t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("person-"))
        .map(String::from)
        .collect()
}

#[test]
fn evidence_pack_is_private_hashed_traceable_and_unlinkable() {
    let env = Env::new(40, 31);
    for feed in FEEDS {
        let out = env.ingest(feed, &env.feed_file(feed));
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    }
    let out = env.cli(&["claims", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stored: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let (from, to) = ("2016-01-01", "2016-12-31");
    let want: HashSet<(String, String, String)> = stored
        .iter()
        .filter(|v| {
            let d = v["claim_date"].as_str().unwrap();
            (from..=to).contains(&d)
        })
        .map(|v| {
            let f = |k: &str| v[k].as_str().unwrap().to_string();
            (f("case_ref"), f("outcome_id"), f("claim_date"))
        })
        .collect();
    assert!(want.len() > 10 && want.len() < stored.len(), "a subset");

    let key = keygen(&env);
    let dir = env.path().join("packs/one");
    let out = pack(&env, &key, from, to, &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    // Private: the directory 0700, every file 0600.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let names: HashSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for n in &names {
        assert_eq!(mode(&dir.join(n)), 0o600, "{n}");
    }

    // The manifest lists every other file with the hash of its bytes, and
    // carries the audit chain head, which `audit verify` confirms; the
    // pack's own entry follows it and names the manifest's hash.
    let manifest = json(&dir.join("manifest.json"));
    let manifest_bytes = std::fs::read(dir.join("manifest.json")).unwrap();
    assert_eq!(
        summary["manifest_sha256"],
        hex::encode(Sha256::digest(&manifest_bytes))
    );
    let head = &manifest["audit_chain_head"];
    assert!(head["seq"].as_u64().unwrap() > 0, "{head}");
    let pinned = format!("{}:{}", head["seq"], head["hash"].as_str().unwrap());
    let out = env.cli(&["audit", "verify", "--head", &pinned]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = env.cli(&["audit", "show", "--since", "2000-01-01", "--json"]);
    let log = text(&out.stdout);
    assert!(
        log.contains(summary["manifest_sha256"].as_str().unwrap()),
        "the pack's audit entry carries the manifest's hash"
    );
    let listed: HashSet<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap();
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert_eq!(f["sha256"], hex::encode(Sha256::digest(&bytes)), "{name}");
            assert_eq!(f["bytes"], bytes.len(), "{name}");
            name.to_string()
        })
        .collect();
    let mut others = names.clone();
    others.remove("manifest.json");
    assert_eq!(listed, others);
    for f in [
        "claims.csv",
        "evidence.csv",
        "coverage.csv",
        "evidence_rows.csv",
        "history.csv",
        "reviews.csv",
        "notices.csv",
        "deliveries.csv",
        "pack.json",
        "SHA256SUMS",
    ] {
        assert!(names.contains(f), "{f}");
    }

    // Exactly the claims dated in the range, each with its rule as encoded.
    let p = json(&dir.join("pack.json"));
    let claims = p["claims"].as_array().unwrap();
    let got: HashSet<(String, String, String)> = claims
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_str().unwrap().to_string();
            (f("case_ref"), f("outcome_id"), f("claim_date"))
        })
        .collect();
    assert_eq!(got, want);
    assert!(claims.iter().all(|c| c["framework"] == "sunderland"
        && c["wording"].is_string()
        && c["rule"].is_object()
        && c["history"]
            .as_array()
            .is_some_and(|h| h.last().unwrap()["current"] == true)));
    let (_, claim_rows) = feed_rows(&dir.join("claims.csv"));
    assert_eq!(claim_rows.len(), want.len());
    assert!(claims
        .iter()
        .any(|c| !c["notices"].as_array().unwrap().is_empty()));

    // Every evidence row names the partner's row that carried that event.
    let mut checked = 0;
    for c in claims {
        for e in c["evidence"].as_array().unwrap() {
            for r in e["rows"].as_array().unwrap() {
                let feed = r["feed"].as_str().unwrap();
                let (h, rows) = feed_rows(&env.feed_file(feed));
                let n = r["row"].as_u64().expect("row known") as usize;
                let row = &rows[n - 2];
                let col = |name: &str| &row[h.iter().position(|x| x == name).unwrap()];
                assert_eq!(col("record_type"), r["kind"].as_str().unwrap(), "{r}");
                assert_eq!(col("date"), r["date"].as_str().unwrap(), "{r}");
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "{checked} evidence rows checked");

    // No store reference and no identifier value in the pack.
    let all: Vec<u8> = others
        .iter()
        .flat_map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    let all = String::from_utf8(all).unwrap();
    let store_refs = all.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| {
        w.len() > 1 && w.starts_with('p') && w[1..].bytes().all(|b| b.is_ascii_digit())
    });
    assert_eq!(store_refs.count(), 0, "store pseudonyms leaked");
    let (h, rows) = feed_rows(&env.feed_file("case"));
    for row in &rows {
        for (col, v) in h.iter().zip(row) {
            if ["surname", "nhs_number", "ni_number"].contains(&col.as_str()) && v.len() >= 5 {
                assert!(
                    !all.contains(v.as_str()),
                    "an identifier value is in the pack"
                );
            }
        }
    }

    // A second pack of the same claims shares no person pseudonym.
    let dir2 = env.path().join("packs/two");
    let out = pack(&env, &key, from, to, &dir2);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (a, b) = (pseudonyms(&dir), pseudonyms(&dir2));
    assert!(
        a.len() > 10 && b.len() == a.len(),
        "{} {}",
        a.len(),
        b.len()
    );
    assert!(a.is_disjoint(&b));

    // A non-empty directory is refused and left as it was.
    let before = std::fs::read(dir.join("claims.csv")).unwrap();
    let out = pack(&env, &key, from, to, &dir);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not empty"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("claims.csv")).unwrap(), before);
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A claim verified on one police delivery and contradicted by the next,
/// made weeks before: `assurance` flags the flip, and the claim decided as
/// the police data barely reached its window's end; the pack shows the
/// history and the row that flipped it.
#[test]
fn flips_and_edges_are_flagged_end_to_end() {
    let env = Env::empty();
    let today = Utc::now().date_naive();
    let start = day(today - Duration::days(300));
    let case = format!(
        "case_ref,role,case_start,problems,forename,surname,dob,postcode,address\n\
         SF-1,main_carer,{start},domestic_abuse,Zara,Quince,1980-05-05,SR1 1AA,1 High Street\n\
         SF-2,main_carer,{start},domestic_abuse,Yusuf,Pargeter,1979-03-03,SR2 2BB,2 Low Road\n\
         SF-3,main_carer,{start},domestic_abuse,Xena,Holloway,1985-07-07,SR3 3CC,3 Mid Lane\n"
    );
    let (flip, edge, control) = (
        today - Duration::days(30),
        today - Duration::days(14),
        today - Duration::days(60),
    );
    let claims = format!(
        "case_ref,outcome_id,claim_date,keyworker_ref,team\n\
         SF-1,SUN-5.2,{},KW1,T1\nSF-2,SUN-5.2,{},KW2,T1\nSF-3,SUN-5.2,{},KW3,T2\n",
        day(flip),
        day(edge),
        day(control)
    );
    let period = format!(
        "#period {}..{}\n",
        day(today - Duration::days(400)),
        day(today - Duration::days(10))
    );
    let header = "record_type,forename,surname,dob,postcode,address,date,role\n";
    let other = format!(
        "asb_incident,Walter,Nobody,1960-01-01,NE1 9ZZ,9 Far Away,{},\n",
        day(today - Duration::days(100))
    );
    let police1 = format!("{period}{header}{other}");
    let police2 = format!(
        "{period}{header}{other}domestic_incident,Zara,Quince,1980-05-05,SR1 1AA,1 High Street,{},victim\n",
        day(flip - Duration::days(50))
    );
    for (feed, body) in [
        ("case", case.as_str()),
        ("claims", claims.as_str()),
        ("police", police1.as_str()),
    ] {
        let f = env.write(&format!("{feed}.csv"), body.as_bytes());
        let out = env.ingest(feed, &f);
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("0 rejected"),
            "{}",
            text(&out.stdout)
        );
    }
    let verdicts = |env: &Env| -> Vec<(String, String)> {
        let out = env.cli(&["claims", "--json"]);
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        v.iter()
            .map(|c| {
                (
                    c["case_ref"].as_str().unwrap().into(),
                    c["verdict"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let all_verified: Vec<(String, String)> = ["SF-1", "SF-2", "SF-3"]
        .iter()
        .map(|c| (c.to_string(), "verified".to_string()))
        .collect();
    assert_eq!(verdicts(&env), all_verified);
    let f = env.write("police2.csv", police2.as_bytes());
    let out = env.ingest("police", &f);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let now = verdicts(&env);
    assert_eq!(now[0], ("SF-1".into(), "contradicted".into()), "{now:?}");
    assert_eq!(now[1].1, "verified");

    let out = env.cli(&["assurance", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flags: Vec<(String, String)> = r["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().into(),
                f["subject"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            (
                "edge_of_coverage".to_string(),
                format!("claim SF-2 SUN-5.2 {}", day(edge))
            ),
            (
                "flipped_by_later_data".to_string(),
                format!("claim SF-1 SUN-5.2 {}", day(flip))
            ),
        ],
        "{r:#}"
    );
    assert_eq!(r["flags"][0]["figures"]["margin_days"], 4.0);
    assert_eq!(r["flags"][1]["figures"]["days_after_claim"], 30.0);
    let out = env.cli(&["assurance"]);
    let t = text(&out.stdout);
    assert!(
        t.contains("flipped by later data: claim SF-1")
            && t.contains("  why: verified, then contradicted on data to delivery 4"),
        "{t}"
    );

    // The pack shows the flip and the row behind it.
    let key = keygen(&env);
    let dir = env.path().join("pack");
    let out = pack(&env, &key, &day(flip), &day(flip), &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p = json(&dir.join("pack.json"));
    let c = &p["claims"][0];
    assert_eq!(p["claims"].as_array().unwrap().len(), 1);
    let steps: Vec<&str> = c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["verdict"].as_str().unwrap())
        .collect();
    // Undecided until the police data came, verified, then contradicted.
    assert_eq!(steps, ["insufficient", "verified", "contradicted"]);
    let rows: Vec<(u64, u64, &str)> = c["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["rows"].as_array().unwrap())
        .map(|r| {
            (
                r["delivery"].as_u64().unwrap(),
                r["row"].as_u64().unwrap(),
                r["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(4, 3, "domestic_incident")]);
    let (_, hist) = feed_rows(&dir.join("history.csv"));
    assert_eq!(hist.len(), 3);
}

/// A keyworker given a third of every claim is flagged for volume; the six
/// sharing the rest evenly are not.
#[test]
fn an_overloaded_keyworker_is_flagged_and_the_rest_are_not() {
    let env = Env::new(60, 32);
    let path = env.feed_file("claims");
    let (h, rows) = feed_rows(&path);
    let kw = h.iter().position(|c| c == "keyworker_ref").unwrap();
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(&h).unwrap();
    let mut even = 0;
    for (i, mut row) in rows.into_iter().enumerate() {
        row[kw] = if i % 3 == 0 {
            "KWZ".to_string()
        } else {
            even += 1;
            format!("KW-{}", even % 6)
        };
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    for feed in FEEDS {
        let out = env.ingest(feed, &env.feed_file(feed));
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    }
    let out = env.cli(&["assurance", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let volume: Vec<&str> = r["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "keyworker_volume")
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    assert_eq!(volume, ["keyworker KWZ"], "{r:#}");
}
