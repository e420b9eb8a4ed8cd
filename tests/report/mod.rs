//! `outcomesd report`: the page rendered by a real browser (headless
//! Chromium, Debian's `chromium` package) shows the figures the stored
//! data implies, and its screenshot is not blank.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

mod cli_docs;
mod json;

use crate::util::{text, Env};

/// Writes the police feed as two deliveries with a gap between them:
/// 2014-04-01..2015-03-31 and 2015-07-01..2017-03-31 (rows dated in the
/// gap left out).
fn split_police(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let all = std::fs::read_to_string(env.feed_file("police")).unwrap();
    let body = all.split_once('\n').unwrap().1;
    let mut rdr = csv::Reader::from_reader(body.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let date = headers.iter().position(|h| h == "date").unwrap();
    let mut parts = [
        ("police-a.csv", "2014-04-01", "2015-03-31", Vec::new()),
        ("police-b.csv", "2015-07-01", "2017-03-31", Vec::new()),
    ];
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for (_, from, to, rows) in parts.iter_mut() {
            if (*from..=*to).contains(&&rec[date]) {
                rows.push(rec.clone());
            }
        }
    }
    let mut paths = Vec::new();
    for (name, from, to, rows) in parts {
        let mut w = csv::Writer::from_writer(format!("#period {from}..{to}\n").into_bytes());
        w.write_record(&headers).unwrap();
        for r in rows {
            w.write_record(&r).unwrap();
        }
        paths.push(env.write(name, &w.into_inner().unwrap()));
    }
    (paths[0].clone(), paths[1].clone())
}

/// The headless browser, or why there is none (a failure under CI=true).
fn chromium() -> Option<&'static str> {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(c);
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and no chromium: install Debian's chromium package (.ci/run does)"
    );
    eprintln!("SKIPPED: the report's browser check (no chromium on PATH)");
    None
}

fn browse(chromium: &str, profile: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(chromium)
        .args([
            "--headless",
            // Root in a container has no user namespace sandbox.
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--window-size=1200,5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium: {}", text(&out.stderr));
    out
}

/// The text of the table row whose first cells are `first`, up to `</tr>`.
fn row<'a>(dom: &'a str, first: &[&str]) -> &'a str {
    let cells: String = first.iter().map(|c| format!("<td>{c}</td>")).collect();
    let start = dom
        .find(&format!("<tr>{cells}"))
        .unwrap_or_else(|| panic!("no row {first:?}"));
    let rest = &dom[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

#[test]
fn report_renders_in_chromium_with_the_stored_figures() {
    let env = Env::new(40, 21);
    // No DWP feed: claims that need it stay insufficient.
    for feed in ["case", "social_care", "education", "services", "claims"] {
        let out = env.ingest(feed, &env.feed_file(feed));
        assert!(out.status.success(), "{feed}: {}", text(&out.stderr));
    }
    let (a, b) = split_police(&env);
    for f in [a, b] {
        let out = env.ingest("police", &f);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // What is stored (claims decides what was not yet decided).
    let out = env.cli(&["claims", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let claims: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let count = |v: &str| claims.iter().filter(|c| c["verdict"] == v).count();
    let summary = format!(
        "{} claims: {} verified, {} contradicted, {} insufficient, {} attested",
        claims.len(),
        count("verified"),
        count("contradicted"),
        count("insufficient"),
        count("attested")
    );
    let waiting: Vec<&serde_json::Value> = claims
        .iter()
        .filter(|c| c["verdict"] == "insufficient" && c["decision"]["not_applicable"] != true)
        .collect();
    assert!(!waiting.is_empty(), "the test data leaves claims undecided");
    // Claims per keyworker, from the claims file itself.
    let mut per_kw: BTreeMap<String, usize> = BTreeMap::new();
    let mut rdr = csv::Reader::from_path(env.feed_file("claims")).unwrap();
    let kw = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "keyworker_ref");
    for rec in rdr.records() {
        *per_kw
            .entry(rec.unwrap()[kw.unwrap()].to_string())
            .or_default() += 1;
    }
    assert_eq!(per_kw.values().sum::<usize>(), claims.len());

    let page = env.path().join("report.html");
    let out = env.cli(&["report", "--out", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    let mode = std::fs::metadata(&page).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the page names cases: private");
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "self-contained"
    );
    assert!(html.contains(&summary), "{summary}");

    let Some(chromium) = chromium() else { return };
    let profile = env.path().join("chromium-profile");
    let url = format!("file://{}", page.display());
    let dom = text(&browse(chromium, &profile, &["--dump-dom", &url]).stdout);
    assert!(
        dom.contains(&summary),
        "summary {summary} not in the rendered page"
    );
    assert!(
        dom.contains(&format!("{} claims wait to be decided", waiting.len())),
        "waiting count"
    );
    for w in &waiting {
        let case = w["case_ref"].as_str().unwrap();
        let outcome = w["outcome_id"].as_str().unwrap();
        let date = w["claim_date"].as_str().unwrap();
        let r = row(&dom, &[case, outcome, date]);
        let next = w["decision"]["earliest_decidable"].as_str();
        assert!(
            r.contains("when the missing coverage arrives")
                || next.is_some_and(|d| r.contains(&format!("on {d}"))),
            "{case}: {r}"
        );
    }
    // The police gap, named and drawn.
    let police = row(&dom, &["police"]);
    assert!(
        police.contains("2015-04-01 to 2015-06-30") && police.contains(">2<"),
        "{police}"
    );
    assert!(dom.contains("2014-04-01 to 2015-03-31; 2015-07-01 to 2017-03-31"));
    for (k, n) in &per_kw {
        assert!(
            row(&dom, &[k]).ends_with(&format!("<td class=\"n\">{n}</td>")),
            "{k}"
        );
    }
    // The assurance flags `outcomesd assurance` raises, each on the page.
    let out = env.cli(&["assurance", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let flags: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flags = flags["flags"].as_array().unwrap();
    if flags.is_empty() {
        assert!(dom.contains("No assurance flags are raised."));
    }
    for f in flags {
        let subject = f["subject"].as_str().unwrap();
        assert!(dom.contains(subject), "flag on {subject} shown");
    }
    assert!(!dom.contains("not available"));
    assert_eq!(dom.matches("<svg").count(), 4, "four charts rendered");

    // The screenshot: not blank, and the charts' colours are on it.
    let shot = env.path().join("report.png");
    browse(
        chromium,
        &profile,
        &[&format!("--screenshot={}", shot.display()), &url],
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let non_white = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    let near = |p: &[u8], c: [u8; 3]| (0..3).all(|i| p[i].abs_diff(c[i]) < 8);
    let green = pixels
        .iter()
        .filter(|p| near(p, [0x2e, 0x7d, 0x32]))
        .count();
    let red = pixels
        .iter()
        .filter(|p| near(p, [0xc6, 0x28, 0x28]))
        .count();
    assert!(
        non_white * 50 > pixels.len(),
        "screenshot nearly blank: {non_white} of {} pixels not white",
        pixels.len()
    );
    assert!(
        green > 2000 && red > 200,
        "bars drawn: {green} green, {red} red"
    );
}
