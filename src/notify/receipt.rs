//! Delivery receipts: what each delivery of a feed did, told back to the
//! partner who sent it (as NHS MESH acknowledges a message).
//!
//! In: the store's committed deliveries and holds, the rejection report
//! ingest wrote for each (`<data>/reports/<seq>-<feed>-rejections.csv`),
//! and each feed's receipt sinks from config (`[feeds.NAME.receipts]`: a
//! webhook reached with the feed's own mutual-TLS identity and/or a spool
//! directory).
//!
//! Out: one [`Receipt`] per delivery: its id, the delivery number, the
//! content hash, the period, rows accepted, rejected and held, and the
//! rejection report by row and column (never a value), queued in the same
//! outbox as notices and delivered at least once, signed per Standard
//! Webhooks as notices are.
//!
//! Promises:
//! * receipts follow the store, as notices follow verdicts: [`Receipts::queue`]
//!   queues every stored delivery's receipt not yet queued, so a delivery
//!   committed just before a kill gets its receipt when the daemon starts
//!   again (it runs at start and every poll); the receipt id is a pure
//!   function of feed, delivery number and content hash, so queueing is
//!   idempotent and a receiver deduplicates on it;
//! * the outbox's promises hold: queued means flushed, delivered means a
//!   2xx answer or a renamed spool file, failures retried with the notices'
//!   backoff (and a receiver's `Retry-After`) across restarts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{DeliveryRound, NotifyError, Outbox, OutboxError, Sink, SinkConfig};
use crate::daemon::shutdown::Shutdown;
use crate::ingest::feeds::FeedError;
use crate::records::Period;
use crate::store::{DeliveryState, OutboxStore, Store, StoreError};

/// Most report lines a receipt carries; the rest are counted.
pub const MAX_RECEIPT_LINES: usize = 10_000;

/// One line of a receipt's rejection report. Never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub row: u64,
    pub column: String,
    pub reason: String,
    /// `row_rejected`, `field_dropped_row_kept` or `field_repaired`.
    pub outcome: String,
}

/// What one delivery of a feed did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// `rct_` and 32 hex digits: [`receipt_id`].
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub feed: String,
    /// The council's number for the delivery (as in `deliveries list`);
    /// `null` for a file refused whole, which is not stored.
    pub delivery: Option<u32>,
    /// SHA-256 of the bytes received (hex): the partner can match it to
    /// the file sent (`sha256sum`, or `validate-feed`).
    pub content_hash: String,
    pub period: Option<Period>,
    pub received_at: DateTime<Utc>,
    /// `applied`, `held` (nothing applied until an operator decides), or
    /// `refused` (the file refused whole: [`Receipt::refusal`] says why).
    pub status: String,
    /// Why a file was refused whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// Why it is held.
    pub hold_reason: Option<String>,
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Rows that would be accepted, waiting on the hold.
    pub held: u64,
    /// The rejection report, by row and column.
    pub report: Vec<ReceiptLine>,
    /// Lines beyond [`MAX_RECEIPT_LINES`], or of a report no longer on disk.
    pub report_lines_omitted: u64,
}

/// Why a file was refused whole: the error (which names the feed, row
/// and column, never a value), and its row and column where it has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub reason: String,
    pub row: Option<u64>,
    pub column: Option<String>,
}

impl Refusal {
    pub fn of(e: &FeedError) -> Refusal {
        use FeedError as F;
        let (row, column) = match e {
            F::NotUtf8 { row, .. } | F::Malformed { row, .. } => (Some(*row), None),
            F::MissingColumn { column, .. } | F::DuplicateColumn { column, .. } => {
                (None, Some(column.to_string()))
            }
            // The period line is the file's first.
            F::BadPeriod { .. } => (Some(1), Some("#period".into())),
            F::NoPeriod { .. } => (None, Some("#period".into())),
            F::FuturePeriod { field, .. } => (None, Some(field.to_string())),
            _ => (None, None),
        };
        Refusal {
            reason: e.to_string(),
            row,
            column,
        }
    }
}

/// The id of a refused file's receipt: `rct_` and the first 16 bytes (hex)
/// of SHA-256 over feed and content hash (the same file refused again is
/// the same receipt).
pub fn refusal_id(feed: &str, content_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"outcomesd refusal v1\0");
    h.update(feed.as_bytes());
    h.update([0]);
    h.update(content_hash.as_bytes());
    format!("rct_{}", hex::encode(&h.finalize()[..16]))
}

/// The id of a delivery's receipt: `rct_` and the first 16 bytes (hex) of
/// SHA-256 over feed, delivery number and content hash.
pub fn receipt_id(feed: &str, delivery: u32, content_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"outcomesd receipt v1\0");
    h.update(feed.as_bytes());
    h.update([0]);
    h.update(delivery.to_be_bytes());
    h.update(content_hash.as_bytes());
    format!("rct_{}", hex::encode(&h.finalize()[..16]))
}

/// Whether `s` has the shape of a receipt id.
pub(crate) fn is_receipt_id(s: &str) -> bool {
    s.len() == 36
        && s.starts_with("rct_")
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Receipt failures.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error("cannot read the rejection report {path}")]
    Report {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

/// The report lines of delivery `seq` of `feed`, and how many were left
/// out (all of them, `rejected`, when the file is gone).
fn report_lines(
    reports: &Path,
    feed: &str,
    seq: u32,
    rejected: u64,
) -> Result<(Vec<ReceiptLine>, u64), ReceiptError> {
    let path = reports.join(format!("{seq:06}-{feed}-rejections.csv"));
    if !path.exists() {
        return Ok((Vec::new(), rejected));
    }
    let err = |source| ReceiptError::Report {
        path: path.clone(),
        source,
    };
    let mut rdr = csv::Reader::from_path(&path).map_err(err)?;
    let (mut lines, mut omitted) = (Vec::new(), 0u64);
    for rec in rdr.records() {
        let rec = rec.map_err(err)?;
        if lines.len() >= MAX_RECEIPT_LINES {
            omitted += 1;
            continue;
        }
        lines.push(ReceiptLine {
            row: rec.get(1).and_then(|r| r.parse().ok()).unwrap_or(0),
            column: rec.get(2).unwrap_or("").to_string(),
            reason: rec.get(3).unwrap_or("").to_string(),
            outcome: rec.get(4).unwrap_or("").to_string(),
        });
    }
    Ok((lines, omitted))
}

/// The receipts of every stored delivery and hold that `wanted` (feed,
/// receipt id) picks; a report is read only for those.
pub fn receipts_of(
    store: &Store,
    reports: &Path,
    wanted: &dyn Fn(&str, &str) -> bool,
) -> Result<Vec<Receipt>, ReceiptError> {
    let mut out = Vec::new();
    for d in store.deliveries() {
        let id = receipt_id(&d.feed, d.seq, &d.content_hash);
        if !wanted(&d.feed, &id) {
            continue;
        }
        let (report, omitted) = report_lines(reports, &d.feed, d.seq, d.rejected)?;
        out.push(Receipt {
            id,
            kind: "delivery.receipt".into(),
            feed: d.feed.clone(),
            delivery: Some(d.seq),
            content_hash: d.content_hash.clone(),
            period: d.period,
            received_at: d.received_at,
            status: "applied".into(),
            refusal: None,
            hold_reason: None,
            rows: d.rows,
            accepted: d.accepted,
            rejected: d.rejected,
            held: 0,
            report,
            report_lines_omitted: omitted,
        });
    }
    // A held delivery's receipt says so; accepted and sent again, it is
    // applied as a new delivery with a receipt of its own.
    for h in store.holds()? {
        let id = receipt_id(&h.feed, h.seq, &h.content_hash);
        if !wanted(&h.feed, &id) {
            continue;
        }
        let (report, omitted) = report_lines(reports, &h.feed, h.seq, h.rejected)?;
        out.push(Receipt {
            id,
            kind: "delivery.receipt".into(),
            feed: h.feed.clone(),
            delivery: Some(h.seq),
            content_hash: h.content_hash.clone(),
            period: h.period,
            received_at: h.received_at,
            status: "held".into(),
            refusal: None,
            hold_reason: Some(h.reason.clone()),
            rows: h.rows,
            accepted: 0,
            rejected: h.rejected,
            held: h.accepted,
            report,
            report_lines_omitted: omitted,
        });
    }
    out.sort_by_key(|r| r.delivery);
    Ok(out)
}

/// Which feeds send receipts, and to which outbox sinks.
#[derive(Clone)]
pub struct Receipts {
    outbox: OutboxStore,
    reports: PathBuf,
    /// feed -> its receipt sink names.
    feeds: BTreeMap<String, Vec<String>>,
}

impl Receipts {
    /// `sinks`: (feed, its receipt sinks); `data_dir` holds the reports.
    pub fn new(outbox: OutboxStore, data_dir: &Path, sinks: &[(String, Vec<SinkConfig>)]) -> Self {
        Receipts {
            outbox,
            reports: data_dir.join("reports"),
            feeds: sinks
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(f, s)| (f.clone(), s.iter().map(|s| s.name().to_string()).collect()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.feeds.is_empty()
    }

    /// Every receipt sink name.
    pub fn sink_names(&self) -> Vec<String> {
        self.feeds.values().flatten().cloned().collect()
    }

    /// Queues (flushed) the receipt of every stored delivery of a feed with
    /// receipts that is not queued yet; returns how many were.
    pub fn queue(&self, store: &Store, now: DateTime<Utc>) -> Result<usize, ReceiptError> {
        let mut queued = 0;
        // Already queued is the common case: settled before any report is
        // read (a store error reads as not queued, and enqueue says again).
        let wanted = |feed: &str, id: &str| {
            self.feeds.contains_key(feed) && !matches!(self.outbox.notice_json(id), Ok(Some(_)))
        };
        for r in receipts_of(store, &self.reports, &wanted)? {
            let body = serde_json::to_vec(&r).map_err(OutboxError::from)?;
            let state = DeliveryState {
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
                delivered_at: None,
            };
            if self
                .outbox
                .enqueue(&r.id, &body, &self.feeds[&r.feed], &state)?
            {
                queued += 1;
                tracing::info!(feed = %r.feed, delivery = ?r.delivery, receipt = %r.id, "receipt queued");
            }
        }
        Ok(queued)
    }
}

impl Receipts {
    /// Queues (flushed) the receipt of a file of `feed` refused whole, unless
    /// it is queued already (the same file refused again); returns its id if
    /// it queued. Nothing is stored of the file, so this is called where
    /// it is refused; a kill before it runs loses nothing, as the refused
    /// fetch is not acknowledged and the next pull refuses it again.
    pub fn queue_refusal(
        &self,
        feed: &str,
        bytes: &[u8],
        e: &FeedError,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, ReceiptError> {
        let Some(sinks) = self.feeds.get(feed) else {
            return Ok(None);
        };
        let content_hash = hex::encode(Sha256::digest(bytes));
        let id = refusal_id(feed, &content_hash);
        if matches!(self.outbox.notice_json(&id), Ok(Some(_))) {
            return Ok(None);
        }
        let r = Receipt {
            id: id.clone(),
            kind: "delivery.receipt".into(),
            feed: feed.to_string(),
            delivery: None,
            content_hash,
            period: None,
            received_at: now,
            status: "refused".into(),
            refusal: Some(Refusal::of(e)),
            hold_reason: None,
            rows: 0,
            accepted: 0,
            rejected: 0,
            held: 0,
            report: Vec::new(),
            report_lines_omitted: 0,
        };
        let body = serde_json::to_vec(&r).map_err(OutboxError::from)?;
        let state = DeliveryState {
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        };
        let queued = self.outbox.enqueue(&id, &body, sinks, &state)?;
        if queued {
            tracing::info!(feed = %feed, receipt = %id, "refusal receipt queued");
        }
        Ok(queued.then_some(id))
    }

    /// [`Receipts::queue_refusal`] if `e` is the file's fault (not the
    /// council's disk or store), its failure logged: the refusal itself is
    /// the caller's error to report.
    pub fn after_refusal(
        &self,
        feed: &str,
        bytes: &[u8],
        e: &crate::ingest::IngestError,
        now: DateTime<Utc>,
    ) {
        let crate::ingest::IngestError::Feed(fe) = e else {
            return;
        };
        if let Err(err) = self.queue_refusal(feed, bytes, fe, now) {
            tracing::error!(feed = %feed, error = %crate::error::Chain(&err),
                "the refused file's receipt was not queued");
        }
    }

    /// Queues (flushed) `feed`'s outcome report for `period` to its receipt
    /// sinks unless one is queued already (the id is a function of feed and
    /// period: [`super::feedback::report_id`]); returns the id if it queued.
    pub fn queue_report(
        &self,
        store: &Store,
        feed: &str,
        kind: crate::records::SourceKind,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, ReceiptError> {
        let Some(sinks) = self.feeds.get(feed) else {
            return Ok(None);
        };
        let id = super::feedback::report_id(feed, period);
        if matches!(self.outbox.notice_json(&id), Ok(Some(_))) {
            return Ok(None);
        }
        let verdicts = crate::triangulate::stored_verdicts(store)?;
        let report = super::feedback::ScheduledReport::new(
            super::feedback::report_of(&verdicts, feed, kind, period),
            now,
        );
        let body = serde_json::to_vec(&report).map_err(OutboxError::from)?;
        let state = DeliveryState {
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            delivered_at: None,
        };
        Ok(self
            .outbox
            .enqueue(&id, &body, sinks, &state)?
            .then_some(id))
    }
}

/// Delivers due receipts from the outbox to their feeds' sinks.
pub struct ReceiptNotifier {
    outbox: Outbox,
    store: OutboxStore,
    sinks: Vec<Sink>,
}

impl ReceiptNotifier {
    pub fn new(store: OutboxStore, sinks: Vec<SinkConfig>) -> Result<Self, ReceiptError> {
        let names = sinks.iter().map(|s| s.name().to_string()).collect();
        Ok(ReceiptNotifier {
            outbox: Outbox::new(store.clone(), names)?,
            store,
            sinks: sinks
                .into_iter()
                .map(Sink::build)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Undelivered (receipt id, sink) pairs due at `now`, earliest first.
    fn due(&self, now: DateTime<Utc>) -> Result<Vec<(String, String)>, ReceiptError> {
        let mut due: Vec<_> = self
            .store
            .states()?
            .into_iter()
            .filter(|(id, sink, st)| {
                is_receipt_id(id)
                    && self.outbox.sink_names().contains(sink)
                    && st.delivered_at.is_none()
                    && st.next_attempt_at <= now
            })
            .map(|(id, sink, st)| (st.next_attempt_at, id, sink))
            .collect();
        due.sort();
        Ok(due.into_iter().map(|(_, id, sink)| (id, sink)).collect())
    }

    /// One round: every receipt delivery due now is attempted once.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> DeliveryRound {
        let mut round = DeliveryRound::default();
        let due = match self.due(now) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %crate::error::Chain(&e), "receipts: listing due receipts failed");
                return round;
            }
        };
        for (id, sink_name) in due {
            let Some(sink) = self.sinks.iter().find(|s| s.name() == sink_name) else {
                continue;
            };
            let Ok(Some(body)) = self.store.notice_json(&id) else {
                continue;
            };
            let pretty = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| serde_json::to_vec_pretty(&v).ok())
                .map(|mut p| {
                    p.push(b'\n');
                    p
                })
                .unwrap_or_else(|| body.clone());
            let result = sink.deliver_body(&id, body, pretty).await;
            let recorded = match &result {
                Ok(()) => self
                    .outbox
                    .mark_delivered(&id, &sink_name, Utc::now().max(now)),
                // A receiver's Retry-After is honoured, as for notices.
                Err(e) => self.outbox.mark_failed_after(
                    &id,
                    &sink_name,
                    &e.to_string(),
                    now,
                    e.retry_after(),
                ),
            };
            match (result, recorded) {
                (Ok(()), Ok(_)) => {
                    round.delivered += 1;
                    tracing::info!(receipt = %id, sink = %sink_name, "receipt delivered");
                }
                (Ok(()), Err(e)) => {
                    round.failed += 1;
                    tracing::error!(receipt = %id, sink = %sink_name, error = %e,
                        "receipt delivered but acknowledgement not recorded");
                }
                (Err(e), rec) => {
                    round.failed += 1;
                    tracing::warn!(receipt = %id, sink = %sink_name, error = %e,
                        next_attempt_at = ?rec.ok().map(|s| s.next_attempt_at), "receipt delivery failed");
                }
            }
        }
        round
    }

    /// Queues receipts (`queue`, run off the async threads) and delivers
    /// due ones every `poll` until `shutdown`.
    pub async fn run(
        self,
        queue: std::sync::Arc<dyn Fn() -> Result<usize, ReceiptError> + Send + Sync>,
        mut shutdown: Shutdown,
        poll: Duration,
    ) {
        loop {
            if shutdown.is_triggered() {
                break;
            }
            let q = std::sync::Arc::clone(&queue);
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || q()).await {
                tracing::error!(error = %crate::error::Chain(&e), "receipts: queueing failed");
            }
            tokio::select! {
                _ = self.deliver_due(Utc::now()) => {}
                _ = shutdown.wait() => break,
            }
            if !shutdown.sleep(poll).await {
                break;
            }
        }
        tracing::info!("receipt notifier stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_ids_are_stable_and_distinct() {
        let a = receipt_id("police", 3, "ab");
        assert!(is_receipt_id(&a), "{a}");
        assert_eq!(a, receipt_id("police", 3, "ab"));
        assert_ne!(a, receipt_id("police", 4, "ab"));
        assert_ne!(a, receipt_id("police", 3, "ac"));
        assert_ne!(a, receipt_id("polic", 3, "ab"));
        assert!(!is_receipt_id("ntc_0123"));
    }

    #[test]
    fn a_report_is_read_by_row_and_column_and_a_missing_one_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("000002-police-rejections.csv"),
            "feed,row,column,reason,outcome\npolice,4,disposal,unknown code,row_rejected\npolice,3,dob,not a date (use YYYY-MM-DD),field_dropped_row_kept\n",
        )
        .unwrap();
        let (lines, omitted) = report_lines(dir.path(), "police", 2, 1).unwrap();
        assert_eq!(omitted, 0);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            ReceiptLine {
                row: 4,
                column: "disposal".into(),
                reason: "unknown code".into(),
                outcome: "row_rejected".into()
            }
        );
        assert_eq!(
            report_lines(dir.path(), "police", 9, 5).unwrap(),
            (vec![], 5)
        );
    }

    #[test]
    fn a_refused_file_is_one_receipt_saying_where_never_what() {
        let (dir, db, tree) = crate::notify::tests::temp_tree();
        let spool = SinkConfig::Spool {
            name: "receipt-spool:police".into(),
            dir: dir.path().join("spool"),
        };
        let r = Receipts::new(tree.clone(), dir.path(), &[("police".into(), vec![spool])]);
        let e = FeedError::MissingColumn {
            feed: "police".into(),
            column: "record_type",
            hint: String::new(),
        };
        let now: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
        let id = r
            .queue_refusal("police", b"bytes", &e, now)
            .unwrap()
            .unwrap();
        assert_eq!(
            id,
            refusal_id("police", &hex::encode(Sha256::digest(b"bytes")))
        );
        assert!(is_receipt_id(&id));
        assert_eq!(
            r.queue_refusal("police", b"bytes", &e, now).unwrap(),
            None,
            "once"
        );
        assert_eq!(
            r.queue_refusal("dwp", b"bytes", &e, now).unwrap(),
            None,
            "no receipts"
        );
        let body: Receipt =
            serde_json::from_slice(&tree.notice_json(&id).unwrap().unwrap()).unwrap();
        assert_eq!(body.status, "refused");
        assert_eq!(body.delivery, None);
        let refusal = body.refusal.unwrap();
        assert_eq!(refusal.column.as_deref(), Some("record_type"));
        assert!(
            refusal.reason.contains("'record_type' is missing"),
            "{}",
            refusal.reason
        );
        assert_eq!(
            Refusal::of(&FeedError::Malformed {
                feed: "police".into(),
                row: 7,
                reason: "x".into()
            })
            .row,
            Some(7)
        );
        // A refusal is not a stored delivery: the store's receipts do not
        // see it, and so never queue it a second time.
        assert!(receipts_of(&db, dir.path(), &|_, _| true)
            .unwrap()
            .is_empty());
    }
}
