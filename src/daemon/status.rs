//! The loopback status endpoint: `/healthz` and Prometheus `/metrics`, and
//! the figures behind them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::notify::Outbox;

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
}

/// What the daemon has done, shared with the status endpoint and the demo.
#[derive(Debug, Default)]
pub struct Stats {
    pub feeds: Mutex<BTreeMap<String, FeedStats>>,
    pub claims_evaluated: Mutex<u64>,
    pub notices_enqueued: Mutex<u64>,
}

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
                            "/healthz" => (200, "application/json", health(&shared)),
                            "/metrics" => (200, "text/plain; version=0.0.4", metrics(&shared)),
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

pub(crate) fn health(shared: &Shared) -> String {
    let feeds = shared.stats.feeds.lock().expect("stats").clone();
    let counts = shared.outbox.counts().ok();
    serde_json::json!({
        "status": "ok",
        "feeds": feeds,
        "notices": counts.map(|c| serde_json::json!({"pending": c.pending, "delivered": c.delivered, "failing": c.failing})),
    })
    .to_string()
}

/// Prometheus text exposition, written by hand: a dozen gauges need no
/// exporter crate.
pub fn metrics_text(stats: &Stats, outbox: &Outbox) -> String {
    let mut out = String::new();
    let feeds = stats.feeds.lock().expect("stats").clone();
    let mut metric = |name: &str, help: &str, kind: &str, rows: Vec<(String, f64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in rows {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let per_feed = |f: &dyn Fn(&FeedStats) -> Option<f64>| -> Vec<(String, f64)> {
        feeds
            .iter()
            .filter_map(|(n, s)| f(s).map(|v| (format!("{{feed=\"{n}\"}}"), v)))
            .collect()
    };
    metric(
        "outcomesd_feed_last_success_timestamp_seconds",
        "Last successful pull (unix time).",
        "gauge",
        per_feed(&|s| s.last_success.map(|t| t.timestamp() as f64)),
    );
    metric(
        "outcomesd_feed_last_failure_timestamp_seconds",
        "Last failed pull (unix time).",
        "gauge",
        per_feed(&|s| s.last_failure.map(|t| t.timestamp() as f64)),
    );
    metric(
        "outcomesd_feed_pulls_total",
        "Pulls attempted.",
        "counter",
        per_feed(&|s| Some(s.pulls as f64)),
    );
    metric(
        "outcomesd_feed_failures_total",
        "Pulls that failed.",
        "counter",
        per_feed(&|s| Some(s.failures as f64)),
    );
    metric(
        "outcomesd_feed_not_modified_total",
        "Pulls answered 304 Not Modified.",
        "counter",
        per_feed(&|s| Some(s.not_modified as f64)),
    );
    metric(
        "outcomesd_feed_deliveries_total",
        "Deliveries stored.",
        "counter",
        per_feed(&|s| Some(s.deliveries as f64)),
    );
    metric(
        "outcomesd_feed_rows_total",
        "Rows accepted.",
        "counter",
        per_feed(&|s| Some(s.rows_accepted as f64)),
    );
    metric(
        "outcomesd_feed_rejections_total",
        "Rows rejected.",
        "counter",
        per_feed(&|s| Some(s.rows_rejected as f64)),
    );
    let c = outbox.counts().ok();
    metric(
        "outcomesd_notices_pending",
        "Notice deliveries not yet acknowledged (including failing ones).",
        "gauge",
        vec![(
            String::new(),
            c.as_ref().map_or(0.0, |c| (c.pending + c.failing) as f64),
        )],
    );
    metric(
        "outcomesd_notices_failing",
        "Pending notice deliveries that have failed at least once.",
        "gauge",
        vec![(String::new(), c.as_ref().map_or(0.0, |c| c.failing as f64))],
    );
    metric(
        "outcomesd_notices_delivered_total",
        "Notice deliveries acknowledged.",
        "counter",
        vec![(
            String::new(),
            c.as_ref().map_or(0.0, |c| c.delivered as f64),
        )],
    );
    metric(
        "outcomesd_claims_evaluated_total",
        "Claim decisions made after deliveries.",
        "counter",
        vec![(
            String::new(),
            *stats.claims_evaluated.lock().expect("stats") as f64,
        )],
    );
    out
}

pub(crate) fn metrics(shared: &Shared) -> String {
    metrics_text(&shared.stats, &shared.outbox)
}
