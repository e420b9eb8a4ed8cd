//! `validate-feed`: a delivery checked exactly as ingest checks it, with no
//! key, no store and no network, for a partner to run before sending.
//!
//! In: a feed's [`FeedSpec`] (kind, format, column mapping, limits, from
//! the config or the kind alone), the delivery's bytes and the checks the
//! config sets ([`ValidateOptions`]: guards, framework vocabulary). Out: a
//! [`Validation`]: rows accepted and rejected, the same rejection report
//! ingest writes (row, column and reason, never a value), identifier fields
//! dropped or repaired, and the holds a guard would put on it; or the
//! [`FeedError`] ingest would refuse the whole file with.
//!
//! Promises: the path is ingest's own ([`open_delivery`], the period guard,
//! the parse workers of `parse_in_order`, the door's row checks and the
//! case-date check), so the validator cannot drift from ingest. Identifiers
//! are keyed under a throwaway random key that never leaves this call: a
//! partner needs no council key, and nothing is written anywhere. What
//! needs the store is said, not guessed: whether a claim's case exists, and
//! whether the delivery withdraws too much of what the feed sent before
//! ([`Validation::not_checked`]).

use serde::Serialize;

use super::feeds::{open_delivery, FeedError, FeedSpec, Rejection, RowBody};
use super::guards::{Door, Guards, Vocabulary};
use super::pseudonymise::Pseudonymiser;
use super::{case_dates_differ, field_issues, parse_in_order, FieldIssue, IngestOptions};
use crate::keys::HmacKey;
use crate::records::{Period, SourceKind};

/// What a validation checks beyond the file itself.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// Supplies or overrides the period (as `ingest --period`).
    pub period: Option<Period>,
    /// The day taken as today (default: the clock's).
    pub today: Option<chrono::NaiveDate>,
    /// The config's `[guards]` (defaults without a config).
    pub guards: Guards,
    /// The framework's outcome and problem codes, when a config names one.
    pub vocab: Option<Vocabulary>,
}

/// What ingest would do with a delivery.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub feed: String,
    pub kind: SourceKind,
    pub period: Option<Period>,
    /// SHA-256 of the bytes (hex), as the receipt for this delivery says.
    pub content_hash: String,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub unused_columns: Vec<String>,
    pub rejections: Vec<Rejection>,
    pub field_issues: Vec<FieldIssue>,
    /// Why a guard would hold the delivery (nothing applied until an
    /// operator accepts it).
    pub holds: Vec<String>,
    /// Checks that need the council's store, not made here.
    pub not_checked: Vec<&'static str>,
}

impl Validation {
    /// Whether every row would be accepted and the delivery applied.
    pub fn clean(&self) -> bool {
        self.rejected == 0 && self.holds.is_empty()
    }
}

/// Checks `bytes` as feed `spec` exactly as ingest would. See the module
/// promises.
pub fn validate(
    spec: &FeedSpec,
    bytes: &[u8],
    opts: &ValidateOptions,
) -> Result<Validation, FeedError> {
    let delivery = open_delivery(spec, bytes, opts.period)?;
    let today = opts
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    opts.guards
        .check_period(&spec.name, delivery.period, opts.period.is_some(), today)?;
    // A fresh random key: tokens are made (identity checks are part of
    // parsing) and dropped with this call.
    let key = HmacKey::generate().unwrap_or_else(|_| HmacKey::from_bytes("validate", [7; 32]));
    let pseudo = Pseudonymiser::new(&key);
    let door = Door {
        latest: opts.guards.latest(today),
        vocab: opts.vocab.as_ref(),
        cases: None,
    };
    let mut v = Validation {
        feed: spec.name.clone(),
        kind: spec.kind,
        period: delivery.period,
        content_hash: hex::encode(delivery.content_hash),
        rows: 0,
        accepted: 0,
        rejected: 0,
        unused_columns: delivery.unused_columns.clone(),
        rejections: Vec::new(),
        field_issues: Vec::new(),
        holds: Vec::new(),
        not_checked: Vec::new(),
    };
    let mut case_dates = std::collections::HashMap::new();
    let iopts = IngestOptions {
        period: opts.period,
        ..Default::default()
    };
    parse_in_order(&delivery, spec, bytes, &iopts, &pseudo, |rows| {
        for parsed in rows {
            v.rows += 1;
            let checked = parsed.and_then(|row| match door.check(row.number, &row.body) {
                Some(rej) => Err(rej),
                None => Ok(row),
            });
            let row = match checked {
                Ok(row) => row,
                Err(rej) => {
                    v.rejected += 1;
                    v.rejections.push(rej);
                    continue;
                }
            };
            if let RowBody::CaseMember(m) = &row.body {
                let first = *case_dates
                    .entry(m.case_ref.clone())
                    .or_insert((m.case_start, m.case_end));
                if let Some(rej) = case_dates_differ(row.number, first, m) {
                    v.rejected += 1;
                    v.rejections.push(rej);
                    continue;
                }
            }
            if let Some(t) = &row.person {
                v.field_issues.extend(field_issues(row.number, t));
            }
            v.accepted += 1;
        }
    })?;
    if spec.kind.carries_events() {
        v.holds = opts.guards.period_reasons(delivery.period);
        v.holds
            .extend(opts.guards.count_reasons(delivery.period, v.accepted, None));
        v.not_checked.push(
            "whether it withdraws too much of the feed's previous delivery (guards.min_share)",
        );
    }
    if spec.kind == SourceKind::Claims {
        v.not_checked
            .push("whether each claim's case has been delivered (case_ref)");
    }
    if opts.vocab.is_none() && matches!(spec.kind, SourceKind::Claims | SourceKind::Case) {
        v.not_checked
            .push("outcome and problem codes against the framework (give --config)");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_checked_as_ingest_checks_it() {
        let spec = FeedSpec::new("police", SourceKind::Police);
        let text = "#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date,disposal\n\
            offence,Smith,2001-02-03,2015-02-02,\n\
            arrest,Smith,2001-02-03,2015-02-02,hanged\n\
            offence,Smith,2001-13-02,2015-02-03,\n";
        let v = validate(&spec, text.as_bytes(), &ValidateOptions::default()).unwrap();
        assert_eq!((v.rows, v.accepted, v.rejected), (3, 2, 1));
        assert_eq!(v.rejections[0].row, 3);
        assert_eq!(v.rejections[0].column, "disposal");
        assert_eq!(v.field_issues.len(), 1, "{:?}", v.field_issues);
        assert!(!v.clean());
        let mut report = Vec::new();
        super::super::write_rejection_report(&mut report, "police", &v.rejections, &v.field_issues)
            .unwrap();
        let report = String::from_utf8(report).unwrap();
        assert!(report.contains("police,3,disposal,unknown code,row_rejected"));
        assert!(!report.contains("hanged") && !report.contains("Smith"));
    }

    #[test]
    fn case_rows_with_conflicting_dates_and_empty_feeds() {
        let spec = FeedSpec::new("case", SourceKind::Case);
        let text = "case_ref,role,case_start,surname,dob\nSF-1,main_carer,2015-01-01,Smith,1980-01-01\nSF-1,child,2015-02-01,Smith,2010-01-01\n";
        let v = validate(&spec, text.as_bytes(), &ValidateOptions::default()).unwrap();
        assert_eq!((v.accepted, v.rejected), (1, 1));
        assert_eq!(v.rejections[0].column, "case_start");
        let spec = FeedSpec::new("police", SourceKind::Police);
        let v = validate(
            &spec,
            b"#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date\n",
            &ValidateOptions::default(),
        )
        .unwrap();
        assert_eq!(v.rows, 0);
        assert!(!v.clean(), "an empty event delivery is held");
        assert!(v.holds[0].contains("no accepted rows"));
    }
}
