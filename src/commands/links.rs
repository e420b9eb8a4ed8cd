//! `outcomesd links export`: every stored row's link, as CSV.
//!
//! In: the config (for the store and key). Out: a CSV file with the header
//! `feed,delivery,row,person,household,score,rule` (and, with
//! `--evidence`, each field's comparison level and weight), one line per
//! stored row that names a person, `row` numbered as in rejection reports.
//!
//! Promises: the file holds pseudonyms and internal numbers only, never an
//! identifier; it is written 0600 and renamed into place whole, so a reader
//! never sees half a file; `person` is the person after merges, so rows of
//! one person share it.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::{load_config, open_engine, open_reader};
use crate::ingest::matching::{pseudonym, Field, Level, Rule};
use crate::ingest::pseudonymise::token_hex;

pub fn links_export(
    config: &Path,
    out: &Path,
    evidence: bool,
    reason: Option<&str>,
) -> Result<u64> {
    let cfg = load_config(config)?;
    // Only who is who is needed, not a matcher: half the time to open.
    let (store, audit) = open_reader(&cfg)?;
    super::audit::note_read(Some(&audit), reason, "links export", &[])?;
    let who = store
        .load_who_is_who()
        .context("reading who is who from the store")?;
    let feeds: std::collections::HashMap<u32, &str> = store
        .deliveries()
        .map(|d| (d.seq, d.feed.as_str()))
        .collect();
    let tmp = out.with_extension("csv.tmp");
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?
    };
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let mut header = vec![
        "feed",
        "delivery",
        "row",
        "person",
        "household",
        "score",
        "rule",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    if evidence {
        for f in Field::ALL {
            header.push(format!("{}_level", f.name()));
            header.push(format!("{}_weight", f.name()));
        }
    }
    w.write_record(&header)?;
    let mut n = 0u64;
    for item in store.links() {
        let l = item.context("reading the links")?;
        let link = &l.link;
        let rule = Rule::from_u8(link.rule).map_or("unknown", Rule::name);
        let mut rec = vec![
            feeds.get(&l.seq).copied().unwrap_or("").to_string(),
            l.seq.to_string(),
            link.row.to_string(),
            who.canonical(link.person).to_string(),
            link.household.as_ref().map(token_hex).unwrap_or_default(),
            format!("{:.2}", link.score),
            rule.to_string(),
        ];
        if evidence {
            for f in Field::ALL {
                rec.push(link.levels.level(f).name(f).to_string());
                let w = f64::from(link.weights[f as usize]) / 100.0;
                rec.push(if link.levels.level(f) == Level::Missing {
                    String::new()
                } else {
                    format!("{w:.2}")
                });
            }
        }
        w.write_record(&rec)?;
        n += 1;
    }
    let mut inner = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    inner.flush()?;
    inner.get_ref().sync_all()?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(n)
}

/// What `links explain` shows for one row.
#[derive(Debug, serde::Serialize)]
pub struct Explanation {
    pub feed: String,
    pub delivery: u32,
    pub row: u64,
    /// The person the row belongs to now (after merges and reviews).
    pub person: String,
    /// The person the row was first given, if merged since.
    pub first_person: Option<String>,
    pub rule: &'static str,
    pub score: f64,
    /// The link threshold now (bits): log2 of the people held, plus a margin.
    pub threshold: f64,
    pub fields: Vec<crate::review::FieldAgreement>,
    pub runner_up: Option<RunnerUpView>,
    /// Review items this row is in.
    pub review_items: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct RunnerUpView {
    pub person: String,
    pub score: f64,
    /// Ruled out by the household guard (a forename or dob that differs
    /// outright with no strong id agreeing) whatever its score.
    pub ruled_out: bool,
    pub fields: Vec<crate::review::FieldAgreement>,
}

/// `outcomesd links explain FEED DELIVERY ROW`: why a row went where it did.
pub fn links_explain(
    config: &Path,
    feed: &str,
    delivery: u32,
    row: u64,
    json: bool,
    reason: Option<&str>,
) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let asked = [format!("row:{feed}/{delivery}/{row}")];
    super::audit::read(&engine, reason, "links explain", &asked)?;
    let e = explain_row(&engine, feed, delivery, row)?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&e)?)?;
        return Ok(());
    }
    write!(out, "{}", waterfall(&e))?;
    Ok(())
}

/// Finds and explains one stored row.
pub fn explain_row(
    engine: &crate::ingest::Engine,
    feed: &str,
    delivery: u32,
    row: u64,
) -> Result<Explanation> {
    let rec = engine.store.delivery(delivery).with_context(|| {
        format!("no committed delivery {delivery} in the store (see `outcomesd status`)")
    })?;
    anyhow::ensure!(
        rec.feed == feed,
        "delivery {delivery} is of feed '{}', not '{feed}'",
        rec.feed
    );
    let (link, runner) = engine.store.link_of_row(delivery, row)?.with_context(|| {
        format!("row {row} of delivery {delivery} has no stored link (rejected, or a row without a person: see the rejection report)")
    })?;
    let m = engine.matcher();
    let now = m.canonical(link.person);
    let review_items = engine
        .store
        .reviews()?
        .into_iter()
        .filter(|r| r.seq == delivery && r.row == row)
        .map(|r| r.id())
        .collect();
    Ok(Explanation {
        feed: feed.to_string(),
        delivery,
        row,
        person: pseudonym(now),
        first_person: (now != link.person).then(|| pseudonym(link.person)),
        rule: Rule::from_u8(link.rule).map_or("unknown", Rule::name),
        score: f64::from(link.score),
        threshold: m.threshold(),
        fields: crate::review::agreement(&link.levels.levels, &link.weights),
        runner_up: runner.map(|c| RunnerUpView {
            person: if m.canonical(c.person) == c.person {
                pseudonym(c.person)
            } else {
                format!(
                    "{} (since merged into {})",
                    pseudonym(c.person),
                    pseudonym(m.canonical(c.person))
                )
            },
            score: f64::from(c.score),
            ruled_out: c.ruled_out,
            fields: crate::review::agreement(&c.levels.levels, &c.weights),
        }),
        review_items,
    })
}

/// A bar of `w` bits, one character per bit (at most 30).
fn bar(w: f64) -> String {
    let n = (w.abs().round() as usize).min(30);
    if w >= 0.0 {
        format!("{:>30}|{}", "", "+".repeat(n))
    } else {
        format!("{:>30}|", "-".repeat(n))
    }
}

/// The explanation as a waterfall: each field's weight added in turn.
pub fn waterfall(e: &Explanation) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let linked = !matches!(e.rule, "new" | "new_weak" | "new_ambiguous");
    let placed = match (&e.first_person, linked) {
        (None, true) => format!("linked to {}", e.person),
        (None, false) => format!("a new person, {}", e.person),
        (Some(first), true) => format!("linked to {first}, since merged into {}", e.person),
        (Some(first), false) => format!("a new person, {first}, since merged into {}", e.person),
    };
    let _ = writeln!(
        s,
        "{} delivery {} row {}: {placed}",
        e.feed, e.delivery, e.row
    );
    let _ = writeln!(
        s,
        "  rule {}; score {:.2} bits against {}; link threshold now {:.2} bits",
        e.rule,
        e.score,
        if linked {
            "that person"
        } else {
            "the best candidate"
        },
        e.threshold
    );
    let _ = writeln!(
        s,
        "\n  {:<10} {:<26} {:>7} {:>8}",
        "field", "level", "weight", "running"
    );
    let mut run = 0.0;
    for f in &e.fields {
        run += f.weight;
        let _ = writeln!(
            s,
            "  {:<10} {:<26} {:>+7.2} {:>8.2} {}",
            f.field,
            f.level,
            f.weight,
            run,
            bar(f.weight)
        );
    }
    let _ = writeln!(
        s,
        "  {:<10} {:<26} {:>7} {:>8.2} (threshold {:.2})",
        "total", "", "", e.score, e.threshold
    );
    match &e.runner_up {
        None => {
            let _ = writeln!(s, "\n  runner-up: none (no other candidate)");
        }
        Some(r) => {
            let _ = writeln!(
                s,
                "\n  runner-up: {} at {:.2} bits{}",
                r.person,
                r.score,
                if r.ruled_out {
                    " (ruled out by the household guard: a forename or dob differs outright)"
                } else {
                    ""
                }
            );
            for f in &r.fields {
                let _ = writeln!(s, "  {:<10} {:<26} {:>+7.2}", f.field, f.level, f.weight);
            }
        }
    }
    if !e.review_items.is_empty() {
        let _ = writeln!(
            s,
            "\n  in the review queue: {} (`outcomesd review show ID`)",
            e.review_items.join(", ")
        );
    }
    s
}
