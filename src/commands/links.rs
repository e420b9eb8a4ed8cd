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

use super::{load_config, open_engine};
use crate::ingest::matching::{Field, Level, Rule};
use crate::ingest::pseudonymise::token_hex;

pub fn links_export(config: &Path, out: &Path, evidence: bool) -> Result<u64> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let feeds: std::collections::HashMap<u32, &str> = engine
        .store
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
    for item in engine.store.links() {
        let l = item.context("reading the links")?;
        let link = &l.link;
        let rule = Rule::from_u8(link.rule).map_or("unknown", Rule::name);
        let mut rec = vec![
            feeds.get(&l.seq).copied().unwrap_or("").to_string(),
            l.seq.to_string(),
            link.row.to_string(),
            engine.matcher.canonical(link.person).to_string(),
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
