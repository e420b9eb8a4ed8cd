//! The partners' commands: `validate-feed` (a file checked as ingest checks
//! it, before it is sent), `schemas` (each source kind's published Table
//! Schema) and `partner-report` (what a feed's data evidenced, small
//! numbers suppressed).
//!
//! In: parsed arguments. Out: text or JSON on stdout, and an exit status:
//! `validate-feed` fails (1) unless every row would be accepted and the
//! delivery applied. Promises: nothing here opens the store for writing;
//! `validate-feed` needs no key, no store and no network.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::ingest::feeds::{FeedSpec, Format};
use crate::ingest::guards::Vocabulary;
use crate::ingest::validate::{validate, ValidateOptions, Validation};
use crate::records::{Period, SourceKind};

/// The partner commands, flattened into the CLI's own.
#[derive(Debug, clap::Subcommand)]
pub enum PartnerCommand {
    /// Check a delivery exactly as ingest would (no key, no store, no
    /// network) and print the rejection report; exit 0 only if every row
    /// would be accepted
    ValidateFeed {
        /// The source kind: case, claims, police, education, dwp,
        /// social_care, services (with --feed: must match the feed's)
        #[arg(long)]
        kind: Option<String>,
        /// A config to take the feed's column mapping, format, limits,
        /// guards and framework from
        #[arg(long, requires = "feed")]
        config: Option<PathBuf>,
        /// The feed's name in --config
        #[arg(long, requires = "config")]
        feed: Option<String>,
        /// The file's format without --config: csv or jsonl
        #[arg(long)]
        format: Option<String>,
        /// The period the delivery covers, FROM..TO, if the file does not say
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        json: bool,
        file: PathBuf,
    },
    /// Write each source kind's Frictionless Table Schema
    /// (`<kind>.schema.json`) into DIR, or with --check compare DIR with
    /// what the code says (exit 1 if they differ)
    Schemas {
        #[arg(long, default_value = "docs/schemas")]
        out: PathBuf,
        #[arg(long)]
        check: bool,
    },
    /// What a feed's data evidenced over a period: claims its records
    /// helped decide, by outcome and verdict, counts under 5 suppressed
    PartnerReport {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        feed: String,
        /// FROM..TO (claim dates)
        #[arg(long)]
        period: String,
        #[arg(long)]
        json: bool,
    },
}

impl PartnerCommand {
    pub fn run(&self) -> Result<()> {
        match self {
            PartnerCommand::ValidateFeed {
                kind,
                config,
                feed,
                format,
                period,
                json,
                file,
            } => {
                let ok = validate_feed(
                    kind.as_deref(),
                    config.as_deref().zip(feed.as_deref()),
                    format.as_deref(),
                    period.as_deref(),
                    file,
                    *json,
                )?;
                if ok {
                    Ok(())
                } else {
                    Err(NotClean.into())
                }
            }
            PartnerCommand::Schemas { out, check } => super::schemas::schemas(out, *check),
            PartnerCommand::PartnerReport {
                config,
                feed,
                period,
                json,
            } => super::partner_report::partner_report(config, feed, period, *json),
        }
    }
}

/// A validation found rows ingest would reject (or a hold): already
/// reported on stdout, so `main` prints only this line.
#[derive(Debug, thiserror::Error)]
#[error("the file would not be accepted whole (see the report above)")]
pub struct NotClean;

fn parse_kind(kind: &str) -> Result<SourceKind> {
    SourceKind::parse(kind).with_context(|| {
        let all: Vec<_> = SourceKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown source kind '{kind}' (one of {})", all.join(", "))
    })
}

/// The spec and checks a validation uses: the config's feed (read with the
/// daemon's own loader, but no key file or store touched), or the kind's
/// canonical columns and the default guards.
fn spec_and_options(
    kind: Option<&str>,
    config: Option<(&Path, &str)>,
    format: Option<&str>,
) -> Result<(FeedSpec, ValidateOptions)> {
    let mut opts = ValidateOptions::default();
    let spec = match config {
        Some((path, feed)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let cfg = crate::config::Config::parse(path, &text).map_err(anyhow::Error::new)?;
            let fc = cfg.feed(feed).with_context(|| {
                let names: Vec<_> = cfg.feeds.keys().cloned().collect();
                format!(
                    "no feed '{feed}' in {} (feeds: {})",
                    path.display(),
                    names.join(", ")
                )
            })?;
            if let Some(k) = kind {
                let k = parse_kind(k)?;
                anyhow::ensure!(
                    k == fc.spec.kind,
                    "--kind {k} but feed {feed} is of kind {}",
                    fc.spec.kind
                );
            }
            opts.guards = cfg.guards;
            opts.vocab = cfg.framework.as_ref().map(Vocabulary::of);
            fc.spec.clone()
        }
        None => {
            let kind = kind.context("give --kind KIND, or --config PATH --feed NAME")?;
            let kind = parse_kind(kind)?;
            FeedSpec::new(kind.name(), kind)
        }
    };
    let mut spec = spec;
    if let Some(f) = format {
        spec.format = match f {
            "csv" => Format::Csv,
            "jsonl" => Format::Jsonl,
            _ => anyhow::bail!("--format is csv or jsonl"),
        };
    }
    Ok((spec, opts))
}

/// `validate-feed`: true when every row would be accepted and applied.
pub fn validate_feed(
    kind: Option<&str>,
    config: Option<(&Path, &str)>,
    format: Option<&str>,
    period: Option<&str>,
    file: &Path,
    json: bool,
) -> Result<bool> {
    let (spec, mut opts) = spec_and_options(kind, config, format)?;
    opts.period = period
        .map(|p| Period::parse(p).context("--period must be YYYY-MM-DD..YYYY-MM-DD"))
        .transpose()?;
    let bytes = super::read_delivery(file)?;
    match validate(&spec, &bytes, &opts) {
        Ok(v) => {
            print_validation(&v, json)?;
            Ok(v.clean())
        }
        // Refused whole: the same error ingest gives, printed by main.
        Err(e) if json => {
            let out = serde_json::json!({
                "feed": spec.name,
                "kind": spec.kind,
                "refused": e.to_string(),
            });
            outln!("{}", serde_json::to_string_pretty(&out)?);
            Ok(false)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("validating {}", file.display()))),
    }
}

fn print_validation(v: &Validation, json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    out!(
        "{} ({}): {} rows: {} accepted, {} rejected",
        v.feed,
        v.kind,
        v.rows,
        v.accepted,
        v.rejected
    );
    if let Some(p) = v.period {
        out!("; period {p}");
    }
    outln!("; sha256 {}", v.content_hash);
    if !v.unused_columns.is_empty() {
        outln!("  columns not used: {}", v.unused_columns.join(", "));
    }
    for h in &v.holds {
        outln!("  would be HELD, not applied: {h}");
    }
    for n in &v.not_checked {
        outln!("  not checked here (needs the council's store or framework): {n}");
    }
    if !v.rejections.is_empty() || !v.field_issues.is_empty() {
        outln!("rejection report:");
        let mut buf = Vec::new();
        crate::ingest::write_rejection_report(&mut buf, &v.feed, &v.rejections, &v.field_issues)?;
        out!("{}", String::from_utf8_lossy(&buf));
    }
    Ok(())
}
