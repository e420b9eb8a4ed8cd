//! The evidence pack's files: the directory, the CSV tables, `pack.json`,
//! `SHA256SUMS` and `manifest.json`.
//!
//! In: the collected claims (`super::pack`). Out: files in a new or empty
//! directory. Promises: the directory is 0700 and every file 0600 (created
//! new, never overwriting); the manifest lists every other file with its
//! size and SHA-256, computed from the bytes written; one row per fact, so
//! a CSV table is what a spreadsheet filter needs (layout:
//! docs/audit-pack.md).

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::pack::{PackClaim, PackSummary};
use crate::framework::Framework;
use crate::ingest::Engine;
use crate::records::Period;

/// The audit chain head the pack is tied to.
#[derive(Debug, Clone, Serialize)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: String,
}

pub struct Meta<'a> {
    pub pack_id: &'a str,
    pub pack_key_id: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub fw: &'a Framework,
    pub audit_chain_head: Option<ChainHead>,
}

/// Makes `dir` a new or empty 0700 directory, refusing one with entries.
pub fn claim_dir(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut it) => {
            if it.next().is_some() {
                bail!(
                    "{} is not empty: a pack is written only into a new or empty directory",
                    dir.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))
}

/// One file written: its name, size and hash.
#[derive(Debug, Clone, Serialize)]
struct Written {
    name: String,
    bytes: usize,
    sha256: String,
}

fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<Written> {
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Written {
        name: name.to_string(),
        bytes: bytes.len(),
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}

/// A CSV table in memory: header, then rows.
struct Table {
    w: csv::Writer<Vec<u8>>,
}

impl Table {
    fn new(header: &[&str]) -> Result<Table> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header)?;
        Ok(Table { w })
    }
    fn row<I, S>(&mut self, fields: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.w.write_record(fields)?;
        Ok(())
    }
    fn bytes(self) -> Result<Vec<u8>> {
        self.w.into_inner().context("finishing a CSV table")
    }
}

fn periods(ps: &[Period]) -> String {
    ps.iter()
        .map(Period::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

/// The columns that name a claim, first in every table.
const KEY: [&str; 4] = ["claim", "case_ref", "outcome_id", "claim_date"];

fn key(c: &PackClaim) -> [String; 4] {
    [
        c.claim.clone(),
        c.case_ref.clone(),
        c.outcome_id.clone(),
        c.claim_date.to_string(),
    ]
}

fn with_key(c: &PackClaim, rest: &[&str]) -> Vec<String> {
    key(c)
        .into_iter()
        .chain(rest.iter().map(|s| s.to_string()))
        .collect()
}

fn header(rest: &[&'static str]) -> Vec<&'static str> {
    KEY.iter().chain(rest).copied().collect()
}

/// Writes every file of the pack and returns what was written.
pub fn write(
    dir: &Path,
    meta: &Meta<'_>,
    engine: &Engine,
    claims: &[PackClaim],
) -> Result<PackSummary> {
    let mut written = Vec::new();
    let mut t = Table::new(&header(&[
        "keyworker_ref",
        "team",
        "framework",
        "framework_version",
        "problem",
        "verdict",
        "decided_at",
        "as_of_delivery",
        "not_applicable",
        "earliest_decidable",
        "missing",
        "awaiting_review",
        "uncertain_links",
        "wording",
        "rule",
    ]))?;
    for c in claims {
        t.row(with_key(
            c,
            &[
                &opt(&c.keyworker_ref),
                &opt(&c.team),
                &c.framework,
                &c.framework_version,
                &opt(&c.problem),
                &c.verdict.map(|v| v.name().to_string()).unwrap_or_default(),
                &c.decided_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
                &opt(&c.as_of_delivery),
                &c.not_applicable.to_string(),
                &opt(&c.earliest_decidable),
                &periods(&c.missing),
                &c.awaiting_review.join(" "),
                &c.uncertain_links.join("; "),
                &opt(&c.wording),
                &opt(&c.rule_text),
            ],
        ))?;
    }
    written.push(put(dir, "claims.csv", &t.bytes()?)?);

    let mut t = Table::new(&header(&[
        "evidence", "sources", "events", "window", "count", "persons", "finding",
    ]))?;
    for c in claims {
        for e in &c.evidence {
            t.row(with_key(
                c,
                &[
                    &e.n.to_string(),
                    &e.sources.join(" "),
                    &e.events.join(" "),
                    &opt(&e.window),
                    &opt(&e.count),
                    &e.persons.join(" "),
                    &e.finding,
                ],
            ))?;
        }
    }
    written.push(put(dir, "evidence.csv", &t.bytes()?)?);

    let mut t = Table::new(&header(&[
        "evidence", "feed", "source", "window", "covered", "missing",
    ]))?;
    for c in claims {
        for e in &c.evidence {
            for f in &e.coverage {
                t.row(with_key(
                    c,
                    &[
                        &e.n.to_string(),
                        &f.feed,
                        &f.source,
                        &opt(&e.window),
                        &periods(&f.covered),
                        &periods(&f.missing),
                    ],
                ))?;
            }
        }
    }
    written.push(put(dir, "coverage.csv", &t.bytes()?)?);

    let mut t = Table::new(&header(&[
        "evidence", "person", "feed", "delivery", "row", "kind", "date", "end_date",
    ]))?;
    let mut deliveries = std::collections::BTreeSet::new();
    for c in claims {
        deliveries.extend(c.as_of_delivery);
        for e in &c.evidence {
            for r in &e.rows {
                deliveries.insert(r.delivery);
                t.row(with_key(
                    c,
                    &[
                        &e.n.to_string(),
                        &r.person,
                        &r.feed,
                        &r.delivery.to_string(),
                        &opt(&r.row),
                        &r.kind,
                        &r.date.to_string(),
                        &opt(&r.end_date),
                    ],
                ))?;
            }
        }
    }
    written.push(put(dir, "evidence_rows.csv", &t.bytes()?)?);

    let mut t = Table::new(&header(&[
        "step",
        "verdict",
        "framework_version",
        "as_of_delivery",
        "decided_at",
        "current",
    ]))?;
    for c in claims {
        for s in &c.history {
            deliveries.insert(s.as_of_delivery);
            t.row(with_key(
                c,
                &[
                    &s.n.to_string(),
                    s.verdict.name(),
                    &s.framework_version,
                    &s.as_of_delivery.to_string(),
                    &s.decided_at.to_rfc3339(),
                    &s.current.to_string(),
                ],
            ))?;
        }
    }
    written.push(put(dir, "history.csv", &t.bytes()?)?);

    let mut t = Table::new(&header(&[
        "item",
        "decision",
        "by",
        "at",
        "after_delivery",
        "note",
    ]))?;
    for c in claims {
        for r in &c.reviews {
            t.row(with_key(
                c,
                &[
                    &r.item,
                    &r.decision,
                    &r.by,
                    &r.at.to_rfc3339(),
                    &r.after_delivery.to_string(),
                    &opt(&r.note),
                ],
            ))?;
        }
    }
    written.push(put(dir, "reviews.csv", &t.bytes()?)?);

    let mut t = Table::new(&header(&[
        "notice",
        "sequence",
        "verdict",
        "supersedes",
        "decided_at",
        "issued_at",
        "sha256",
        "sink",
        "delivered_at",
        "attempts",
        "last_error",
    ]))?;
    for c in claims {
        for n in &c.notices {
            for s in &n.sinks {
                t.row(with_key(
                    c,
                    &[
                        &n.id,
                        &n.sequence.to_string(),
                        &n.verdict,
                        &opt(&n.supersedes),
                        &n.decided_at.to_rfc3339(),
                        &n.issued_at.to_rfc3339(),
                        &n.sha256,
                        &s.sink,
                        &s.delivered_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
                        &s.attempts.to_string(),
                        &opt(&s.last_error),
                    ],
                ))?;
            }
        }
    }
    written.push(put(dir, "notices.csv", &t.bytes()?)?);

    // The deliveries the pack refers to: match a partner's file to its
    // delivery by the SHA-256 of its bytes.
    let mut t = Table::new(&[
        "delivery",
        "feed",
        "kind",
        "period",
        "received_at",
        "content_sha256",
        "rows",
        "accepted",
        "rejected",
    ])?;
    for seq in &deliveries {
        if let Some(d) = engine.store.delivery(*seq) {
            t.row([
                d.seq.to_string(),
                d.feed.clone(),
                d.kind.name().to_string(),
                opt(&d.period),
                d.received_at.to_rfc3339(),
                d.content_hash.clone(),
                d.rows.to_string(),
                d.accepted.to_string(),
                d.rejected.to_string(),
            ])?;
        }
    }
    written.push(put(dir, "deliveries.csv", &t.bytes()?)?);

    let mut json = serde_json::to_vec_pretty(&serde_json::json!({
        "pack_id": meta.pack_id,
        "claims": claims,
    }))?;
    json.push(b'\n');
    written.push(put(dir, "pack.json", &json)?);

    let sums: String = written
        .iter()
        .map(|w| format!("{}  {}\n", w.sha256, w.name))
        .collect();
    written.push(put(dir, "SHA256SUMS", sums.as_bytes())?);

    let manifest = serde_json::json!({
        "format": "outcomesd evidence pack v1",
        "pack_id": meta.pack_id,
        "created_at": chrono::Utc::now().to_rfc3339(),
        "outcomesd_version": env!("CARGO_PKG_VERSION"),
        "claim_dates": {"from": meta.from, "to": meta.to},
        "claims": claims.len(),
        "framework": {"id": meta.fw.framework.id, "version": meta.fw.framework.version},
        "pseudonyms": {
            "scheme": "HMAC-SHA256(pack key, \"outcomesd evidence pack v1\\0\" || pack_id || \"\\0\" || store reference), first 10 bytes, hex",
            "pack_key_id": meta.pack_key_id,
        },
        "store_data_to_delivery": engine.store.last_seq(),
        "audit_chain_head": meta.audit_chain_head,
        "files": written,
    });
    let mut mbytes = serde_json::to_vec_pretty(&manifest)?;
    mbytes.push(b'\n');
    let m = put(dir, "manifest.json", &mbytes)?;
    Ok(PackSummary {
        dir: dir.display().to_string(),
        pack_id: meta.pack_id.to_string(),
        claims: claims.len(),
        manifest_sha256: m.sha256,
        manifest,
    })
}
