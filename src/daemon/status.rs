//! The loopback status endpoint: `/healthz` and Prometheus `/metrics`, and
//! the figures behind them.
//!
//! In: the daemon's [`Stats`] and outbox. Out: JSON health and OpenMetrics
//! text. Promises: counts and times only, never personal data; metric names
//! are those listed in docs/operations.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::notify::{Outbox, OutboxCounts};

use super::shutdown::Shutdown;
use super::Shared;

/// Per-feed figures for `/metrics` and `/healthz`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeedStats {
    pub pulls: u64,
    pub not_modified: u64,
    pub deliveries: u64,
    pub duplicates: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub failures: u64,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Deliveries of this feed a guard held that wait for a decision
    /// (`outcomesd deliveries accept|reject ID`); nothing of them applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldDelivery>,
}

/// A held delivery as `/healthz` shows it: its id, state and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldDelivery {
    pub id: u32,
    /// `held`, or `accepted` while its bytes have not come again.
    pub state: &'static str,
    pub reason: String,
}

/// What the daemon has done, shared with the status endpoint and the demo.
///
/// Plain counts are atomic counters. A feed's figures sit together under one
/// lock because they change together (a pull's outcome, its time and its
/// error text) and `/healthz` must show them consistent.
#[derive(Debug, Default)]
pub struct Stats {
    pub feeds: Mutex<BTreeMap<String, FeedStats>>,
    pub claims_evaluated: Counter,
    pub notices_enqueued: Counter,
    /// Why the daemon is unhealthy, if it is: per task (`feed police`,
    /// `notifier`), the write that failed (a full disk, a store error).
    /// `/healthz` answers 503 with them until that task writes again.
    pub write_errors: Mutex<BTreeMap<String, String>>,
    /// Review items waiting for a decision (`outcomesd review list`), as
    /// of the last delivery or start; `None` until first counted.
    pub review_open: Mutex<Option<u64>>,
}

impl Stats {
    /// Sets each feed's held deliveries from the store (at start, and after
    /// every delivery, since a delivery may apply an accepted hold).
    pub fn refresh_holds(&self, store: &crate::store::Store) {
        let Ok(holds) = store.holds() else { return };
        let mut f = self.feed_stats();
        for s in f.values_mut() {
            s.held.clear();
        }
        for h in holds {
            let waiting = h.state == crate::store::HoldState::Held
                || (h.state == crate::store::HoldState::Accepted && h.applied_as.is_none());
            if waiting {
                f.entry(h.feed).or_default().held.push(HeldDelivery {
                    id: h.seq,
                    state: h.state.name(),
                    reason: h.reason,
                });
            }
        }
    }

    /// Counts the open review items (at start and after every delivery,
    /// which is when items appear; decisions are made with the daemon
    /// stopped).
    pub fn refresh_reviews(
        &self,
        store: &crate::store::Store,
        matcher: &crate::ingest::matching::Matcher,
    ) {
        match crate::review::open_count(store, matcher) {
            Ok(n) => *self.review_open.lock().unwrap_or_else(|e| e.into_inner()) = Some(n as u64),
            Err(e) => {
                tracing::warn!(error = %crate::error::Chain(&e), "cannot count the open review items")
            }
        }
    }

    /// Records a failed write in `task` (logged; `/healthz` turns 503).
    pub fn set_write_error(&self, task: &str, reason: String) {
        tracing::error!(task, reason = %reason, "write failed: /healthz now reports unhealthy");
        self.write_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(task.to_string(), reason);
    }

    /// `task` wrote successfully again: its failure no longer counts (one
    /// feed's success says nothing of another's disk write).
    pub fn clear_write_error(&self, task: &str) {
        let mut errors = self.write_errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.remove(task).is_some() {
            tracing::info!(task, "writes succeed again");
        }
    }

    /// The per-feed figures. A panic elsewhere while holding the lock
    /// leaves figures that are still counts: they are used, not refused.
    pub fn feed_stats(&self) -> MutexGuard<'_, BTreeMap<String, FeedStats>> {
        self.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(crate) async fn serve_status(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut sd: Shutdown,
) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = sd.wait() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let shared = Arc::clone(&shared);
                    async move {
                        let (code, ctype, body) = match req.uri().path() {
                            "/healthz" => {
                                let (code, body) = health(&shared);
                                (code, "application/json", body)
                            }
                            "/metrics" => (200, OPENMETRICS, metrics(&shared)),
                            _ => (404, "text/plain", "not found\n".to_string()),
                        };
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(code)
                                .header("content-type", ctype)
                                .body(Full::new(Bytes::from(body)))
                                .expect("response"),
                        )
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

pub(crate) fn health(shared: &Shared) -> (u16, String) {
    health_of(&shared.stats, shared.outbox.counts().ok())
}

/// The `/healthz` status and body: 503 with a reason after a failed write
/// or when the outbox cannot be read, else 200.
pub(crate) fn health_of(stats: &Stats, counts: Option<OutboxCounts>) -> (u16, String) {
    let feeds = stats.feed_stats().clone();
    let held: usize = feeds.values().map(|f| f.held.len()).sum();
    let errors = stats
        .write_errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(task, reason)| format!("{task}: {reason}"))
        .collect::<Vec<_>>();
    let reason = (!errors.is_empty()).then(|| errors.join("; ")).or_else(|| {
        counts
            .is_none()
            .then(|| "the notice outbox cannot be read".to_string())
    });
    let body = serde_json::json!({
        "status": if reason.is_some() { "unhealthy" } else { "ok" },
        "reason": reason,
        "deliveries_held": held,
        "feeds": feeds,
        "notices": counts.map(|c| serde_json::json!({"pending": c.pending, "delivered": c.delivered, "failing": c.failing})),
    })
    .to_string();
    (if reason.is_some() { 503 } else { 200 }, body)
}

/// The `/metrics` body: OpenMetrics text through `prometheus-client`,
/// encoded from one snapshot of the figures taken at scrape time.
pub fn metrics_text(stats: &Stats, outbox: &Outbox) -> String {
    let snapshot = Snapshot {
        feeds: stats.feed_stats().clone(),
        claims_evaluated: stats.claims_evaluated.get(),
        notices_enqueued: stats.notices_enqueued.get(),
        outbox: outbox.counts().ok(),
        review_open: *stats.review_open.lock().unwrap_or_else(|e| e.into_inner()),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// The figures of one scrape.
#[derive(Debug)]
struct Snapshot {
    feeds: BTreeMap<String, FeedStats>,
    claims_evaluated: u64,
    notices_enqueued: u64,
    outbox: Option<OutboxCounts>,
    review_open: Option<u64>,
}

type PerFeed = fn(&FeedStats) -> Option<u64>;

/// Per-feed series: (name without `_total`, help, type, value).
const FEED_SERIES: [(&str, &str, MetricType, PerFeed); 9] = [
    (
        "outcomesd_feed_last_success_timestamp_seconds",
        "Last successful pull (unix time).",
        MetricType::Gauge,
        |s| s.last_success.map(unix),
    ),
    (
        "outcomesd_feed_last_failure_timestamp_seconds",
        "Last failed pull (unix time).",
        MetricType::Gauge,
        |s| s.last_failure.map(unix),
    ),
    (
        "outcomesd_feed_pulls",
        "Pulls attempted.",
        MetricType::Counter,
        |s| Some(s.pulls),
    ),
    (
        "outcomesd_feed_failures",
        "Pulls that failed.",
        MetricType::Counter,
        |s| Some(s.failures),
    ),
    (
        "outcomesd_feed_not_modified",
        "Pulls answered 304 Not Modified.",
        MetricType::Counter,
        |s| Some(s.not_modified),
    ),
    (
        "outcomesd_feed_deliveries",
        "Deliveries stored.",
        MetricType::Counter,
        |s| Some(s.deliveries),
    ),
    (
        "outcomesd_feed_rows",
        "Rows accepted.",
        MetricType::Counter,
        |s| Some(s.rows_accepted),
    ),
    (
        "outcomesd_feed_rejections",
        "Rows rejected.",
        MetricType::Counter,
        |s| Some(s.rows_rejected),
    ),
    (
        "outcomesd_feed_deliveries_held",
        "Deliveries a guard held that wait for an operator's decision.",
        MetricType::Gauge,
        |s| Some(s.held.len() as u64),
    ),
];

fn unix(t: DateTime<Utc>) -> u64 {
    t.timestamp().max(0) as u64
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, kind, value) in FEED_SERIES {
            let rows: Vec<_> = self
                .feeds
                .iter()
                .filter_map(|(feed, s)| value(s).map(|v| (feed, v)))
                .collect();
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for (feed, v) in rows {
                let labels = [("feed", feed.as_str())];
                let sample = family.encode_family(&labels)?;
                match kind {
                    MetricType::Counter => ConstCounter::new(v).encode(sample)?,
                    _ => ConstGauge::new(v).encode(sample)?,
                }
            }
        }
        let c = self.outbox.unwrap_or_default();
        let gauges = [
            (
                "outcomesd_notices_pending",
                "Notice deliveries not yet acknowledged (including failing ones).",
                (c.pending + c.failing) as u64,
            ),
            (
                "outcomesd_notices_failing",
                "Pending notice deliveries that have failed at least once.",
                c.failing as u64,
            ),
        ];
        let review = self.review_open.map(|v| {
            (
                "outcomesd_review_items_open",
                "Review items waiting for a decision (outcomesd review list).",
                v,
            )
        });
        for (name, help, v) in gauges.into_iter().chain(review) {
            ConstGauge::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        let counters = [
            (
                "outcomesd_notices_delivered",
                "Notice deliveries acknowledged.",
                c.delivered as u64,
            ),
            (
                "outcomesd_notices_enqueued",
                "Notices queued for delivery after decisions.",
                self.notices_enqueued,
            ),
            (
                "outcomesd_claims_evaluated",
                "Claim decisions made after deliveries.",
                self.claims_evaluated,
            ),
        ];
        for (name, help, v) in counters {
            ConstCounter::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        Ok(())
    }
}

pub(crate) fn metrics(shared: &Shared) -> String {
    metrics_text(&shared.stats, &shared.outbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthz_feeds_list_their_held_deliveries_and_why() {
        use crate::store::{Begin, HoldRecord, HoldState, Store};
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "k1").unwrap();
        let Begin::Started(seq) = store.begin("police", &[9; 32]).unwrap() else {
            panic!()
        };
        store
            .hold(&HoldRecord {
                seq,
                feed: "police".into(),
                kind: crate::records::SourceKind::Police,
                period: crate::records::Period::parse("2014-04-01..2017-03-31"),
                content_hash: hex::encode([9u8; 32]),
                received_at: Utc::now(),
                rows: 0,
                accepted: 0,
                rejected: 0,
                reason: "it has no accepted rows".into(),
                state: HoldState::Held,
                decision: None,
                applied_as: None,
            })
            .unwrap();
        let stats = Stats::default();
        stats.refresh_holds(&store);
        let j = serde_json::to_value(&*stats.feed_stats()).unwrap();
        assert_eq!(j["police"]["held"][0]["id"], seq);
        assert_eq!(j["police"]["held"][0]["state"], "held");
        assert_eq!(j["police"]["held"][0]["reason"], "it has no accepted rows");
        store
            .decide_hold(
                seq,
                HoldState::Rejected,
                crate::store::HoldDecision {
                    by: "t".into(),
                    at: Utc::now(),
                },
            )
            .unwrap();
        stats.refresh_holds(&store);
        let j = serde_json::to_value(&*stats.feed_stats()).unwrap();
        assert!(
            j["police"].get("held").is_none(),
            "a decided hold is gone: {j}"
        );
    }

    #[test]
    fn a_failed_write_makes_healthz_503_with_its_reason_until_a_write_succeeds() {
        let stats = Stats::default();
        let counts = Some(OutboxCounts::default());
        assert_eq!(health_of(&stats, counts).0, 200);
        stats.set_write_error("feed police", "disk full".into());
        let (code, body) = health_of(&stats, counts);
        assert_eq!(code, 503);
        let j: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(j["status"], "unhealthy");
        assert_eq!(j["reason"], "feed police: disk full");
        stats.set_write_error("notifier", "outbox: No space left".into());
        stats.clear_write_error("feed schools");
        assert_eq!(health_of(&stats, counts).0, 503, "another task's success");
        stats.clear_write_error("feed police");
        let (code, body) = health_of(&stats, counts);
        assert_eq!(code, 503, "the notifier still fails");
        assert!(body.contains("notifier: outbox"), "{body}");
        stats.clear_write_error("notifier");
        assert_eq!(health_of(&stats, counts).0, 200);
        assert_eq!(health_of(&stats, None).0, 503, "no outbox, no health");
    }

    #[test]
    fn metrics_keep_their_documented_names_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("db"), "k").unwrap();
        let outbox = Outbox::new(store.outbox(), vec!["s".into()]).unwrap();
        let stats = Stats::default();
        let t = "2026-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap();
        stats.feed_stats().insert(
            "police".into(),
            FeedStats {
                pulls: 3,
                rows_accepted: 17,
                last_success: Some(t),
                ..FeedStats::default()
            },
        );
        stats.claims_evaluated.inc_by(5);
        let text = metrics_text(&stats, &outbox);
        assert!(
            !text.contains("outcomesd_review_items_open"),
            "not counted yet, so not shown: {text}"
        );
        stats
            .feed_stats()
            .get_mut("police")
            .unwrap()
            .held
            .push(HeldDelivery {
                id: 4,
                state: "held",
                reason: "it has no accepted rows".into(),
            });
        let matcher = store.load_matcher().unwrap();
        stats.refresh_reviews(&store, &matcher);
        let text = metrics_text(&stats, &outbox);
        for line in [
            "outcomesd_feed_pulls_total{feed=\"police\"} 3",
            "outcomesd_feed_rows_total{feed=\"police\"} 17",
            "outcomesd_feed_failures_total{feed=\"police\"} 0",
            &format!(
                "outcomesd_feed_last_success_timestamp_seconds{{feed=\"police\"}} {}",
                t.timestamp()
            ),
            "outcomesd_notices_pending 0",
            "outcomesd_notices_delivered_total 0",
            "outcomesd_claims_evaluated_total 5",
            "outcomesd_feed_deliveries_held{feed=\"police\"} 1",
            "outcomesd_review_items_open 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        // No failure yet: no failure time series for the feed.
        assert!(
            !text.contains("outcomesd_feed_last_failure_timestamp_seconds{"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE outcomesd_feed_pulls counter"),
            "{text}"
        );
    }
}
