//! The rejection report and the row checks ingest and `validate-feed`
//! share (see [`super::validate`]).
//!
//! In: a delivery's rejections and identifier field issues, or one parsed
//! row. Out: the report as CSV (`feed,row,column,reason,outcome`), a row's
//! field issues, a case row whose dates contradict its case. Promises: row,
//! column and reason only, never a value.

use super::feeds::{CaseMemberRow, Rejection};
use super::pseudonymise::PersonTokens;
use super::FieldIssue;

/// Writes the rejection report (`feed,row,column,reason,outcome`, never a
/// value): the file ingest keeps per delivery and `validate-feed` prints.
pub fn write_rejection_report<W: std::io::Write>(
    out: W,
    feed: &str,
    rejections: &[Rejection],
    field_issues: &[FieldIssue],
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["feed", "row", "column", "reason", "outcome"])?;
    for r in rejections {
        w.write_record([
            feed,
            &r.row.to_string(),
            &r.column,
            &r.reason,
            "row_rejected",
        ])?;
    }
    for i in field_issues {
        let outcome = if i.outcome == "dropped" {
            "field_dropped_row_kept"
        } else {
            "field_repaired"
        };
        w.write_record([feed, &i.row.to_string(), i.column, i.reason, outcome])?;
    }
    w.flush()
}

/// The identifier fields of an accepted row that were dropped or repaired.
pub(super) fn field_issues(row: u64, t: &PersonTokens) -> impl Iterator<Item = FieldIssue> + '_ {
    let dropped = t.dropped.iter().map(move |e| FieldIssue {
        row,
        column: e.field,
        outcome: "dropped",
        reason: e.reason,
    });
    let repaired = t.repairs.iter().map(move |(field, r)| FieldIssue {
        row,
        column: field,
        outcome: "repaired",
        reason: r.name(),
    });
    dropped.chain(repaired)
}

/// A case row whose dates differ from the dates its case's first row gave.
pub(super) fn case_dates_differ(
    row: u64,
    first: (chrono::NaiveDate, Option<chrono::NaiveDate>),
    m: &CaseMemberRow,
) -> Option<Rejection> {
    (first != (m.case_start, m.case_end)).then(|| Rejection {
        row,
        column: "case_start".into(),
        reason: "case dates differ from the case's earlier rows".into(),
    })
}
