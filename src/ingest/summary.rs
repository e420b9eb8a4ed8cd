//! What one delivery did: the [`IngestSummary`] `ingest` prints (text or
//! JSON) and the daemon logs.
//!
//! In: the counts, rejections and field issues gathered while a delivery is
//! matched, or the hold a guard put on it. Out: the summary's `Display`
//! and JSON. Promises: row, column and reason only, never a value.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::ingest::feeds::Rejection;
use crate::records::{Period, SourceKind};
use crate::store::HoldState;

/// An identifier field dropped or repaired in an accepted row. Never holds
/// the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    pub row: u64,
    pub column: &'static str,
    /// `dropped` or `repaired`.
    pub outcome: &'static str,
    pub reason: &'static str,
}

/// A held delivery, as the ingest summary reports it.
#[derive(Debug, Clone, Serialize)]
pub struct HoldNote {
    pub id: u32,
    pub state: HoldState,
    pub reason: String,
}

/// Time spent per stage, for the benchmark.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageTimes {
    /// Parse, normalise and HMAC: CPU time summed over the worker threads,
    /// which overlap each other and matching.
    pub parse_pseudonymise: Duration,
    /// Matching and grouping (this thread).
    pub matching: Duration,
    /// Writing and the flushed commit.
    pub store: Duration,
}

/// What one delivery did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    pub feed: String,
    pub kind: SourceKind,
    pub seq: Option<u32>,
    /// Set when these bytes were already stored as that delivery.
    pub duplicate_of: Option<u32>,
    pub period: Option<Period>,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub persons_new: u64,
    pub records_matched: u64,
    /// Doubts left for review (rows unlinked with a possible candidate).
    pub doubts: u64,
    /// Event rows linked by a margin within the review band (uncertain
    /// links: a verdict resting on one is marked).
    pub uncertain_links: u64,
    pub families_touched: u64,
    pub unused_columns: Vec<String>,
    pub rejections: Vec<Rejection>,
    /// Identifier fields dropped (row kept) or repaired, by row and column.
    pub field_issues: Vec<FieldIssue>,
    pub report: Option<PathBuf>,
    /// Case references of the families this delivery touched.
    #[serde(skip)]
    pub touched_cases: Vec<String>,
    /// Rows per matching rule (`new`, `fsd`, ...).
    #[serde(skip)]
    pub passes: HashMap<&'static str, u64>,
    /// Whether the linkage model was re-estimated from this delivery.
    pub model_trained: bool,
    /// Set when a guard held this delivery (or these bytes were held
    /// before): nothing of it was applied.
    pub hold: Option<HoldNote>,
    #[serde(skip)]
    pub times: StageTimes,
}

impl std::fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(h) = &self.hold {
            return self.fmt_hold(h, f);
        }
        if let Some(d) = self.duplicate_of {
            return write!(
                f,
                "{}: identical to delivery {d} already stored; nothing stored",
                self.feed
            );
        }
        write!(
            f,
            "{} ({}): delivery {}, {} rows: {} accepted, {} rejected; {} persons new, {} records matched to known persons; {} families touched",
            self.feed,
            self.kind,
            self.seq.unwrap_or(0),
            self.rows,
            self.accepted,
            self.rejected,
            self.persons_new,
            self.records_matched,
            self.families_touched
        )?;
        if let Some(p) = self.period {
            write!(f, "; period {p}")?;
        }
        let dropped = self
            .field_issues
            .iter()
            .filter(|i| i.outcome == "dropped")
            .count();
        let repaired = self.field_issues.len() - dropped;
        if dropped + repaired > 0 {
            write!(
                f,
                "\n  identifier fields: {dropped} dropped as bad (their rows kept), {repaired} repaired"
            )?;
        }
        if self.doubts > 0 {
            write!(
                f,
                "\n  {} rows left unlinked with a possible match: in the review queue (`outcomesd review list`)",
                self.doubts
            )?;
        }
        if self.uncertain_links > 0 {
            write!(
                f,
                "\n  {} rows linked by a narrow margin (uncertain links): a verdict resting on one says so",
                self.uncertain_links
            )?;
        }
        if !self.unused_columns.is_empty() {
            write!(
                f,
                "\n  columns not used: {}",
                self.unused_columns.join(", ")
            )?;
        }
        for r in self.rejections.iter().take(10) {
            write!(
                f,
                "\n  rejected row {}: {}: {}",
                r.row,
                if r.column.is_empty() {
                    "row"
                } else {
                    &r.column
                },
                r.reason
            )?;
        }
        if self.rejections.len() > 10 {
            write!(f, "\n  ... and {} more", self.rejections.len() - 10)?;
        }
        if let Some(p) = &self.report {
            write!(f, "\n  rejection report: {}", p.display())?;
        }
        Ok(())
    }
}

impl IngestSummary {
    /// True while these bytes wait for an operator's decision (a puller
    /// should fetch them again rather than acknowledge them).
    pub fn awaiting_decision(&self) -> bool {
        self.hold
            .as_ref()
            .is_some_and(|h| h.state != HoldState::Rejected)
    }

    fn fmt_hold(&self, h: &HoldNote, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.duplicate_of.is_some() {
            return write!(
                f,
                "{}: identical to delivery {}, {} ({}); nothing applied{}",
                self.feed,
                h.id,
                h.state.name(),
                h.reason,
                match h.state {
                    HoldState::Held => format!(
                        "\n  decide with `outcomesd deliveries accept {0} --file FILE` or `outcomesd deliveries reject {0}`",
                        h.id
                    ),
                    _ => String::new(),
                }
            );
        }
        write!(
            f,
            "{} ({}): delivery {} HELD, not applied: {}\n  {} rows: {} accepted, {} rejected",
            self.feed, self.kind, h.id, h.reason, self.rows, self.accepted, self.rejected
        )?;
        if let Some(p) = self.period {
            write!(f, "; period {p}")?;
        }
        write!(
            f,
            "\n  nothing changed; decide with `outcomesd deliveries accept {0} --file FILE` (applies these bytes) or `outcomesd deliveries reject {0}`",
            h.id
        )
    }
}
