//! The daemon: every feed pulled on its schedule, ingested, claims
//! re-decided, notices delivered, until told to stop.
//!
//! In: a validated [`Config`]. Out: deliveries in the store, decisions in the
//! verdict tree, notices in the outbox and at the sinks, and a loopback
//! status endpoint (`/healthz`, `/metrics`).
//!
//! Promises:
//! * one feed's failure (TLS refused, partner down, bad file) is logged with
//!   the feed's name and reason and never stops another feed or the daemon;
//! * a fetch is acknowledged (its ETag / Last-Modified kept, so it is not
//!   downloaded again) only after its delivery is committed; a fetch cut off
//!   part-way stores nothing;
//! * on SIGTERM / SIGINT every task finishes or abandons its step cleanly
//!   (a delivery is committed or swept, never half-applied), the daemon
//!   drains within [`DRAIN_DEADLINE`] and exits 0;
//! * `READY=1` is sent to systemd once every task runs, and `WATCHDOG=1`
//!   at half the watchdog interval while the runtime is healthy.
//!
//! Schedules are computed on a [`Clock`] that follows tokio's clock, so
//! tests can run days of schedule with paused time.

pub mod shutdown;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, PullSpec};
use crate::ingest::{Engine, IngestError, IngestOptions};
use crate::notify::{Notice, Notifier, Outbox};
use crate::pull::{Fetched, PullError, Puller, RetryPolicy, Validators};
use crate::triangulate::{self, Selection, Verdict, VerdictRecord};
use shutdown::{Shutdown, ShutdownTrigger};

/// How long in-flight work may take to finish after a stop signal.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Store(#[from] IngestError),
    #[error("outbox: {0}")]
    Outbox(#[from] crate::notify::OutboxError),
    #[error("notice sinks: {0}")]
    Notify(#[from] crate::notify::NotifyError),
    #[error("feed {feed}: {source}")]
    Pull {
        feed: String,
        #[source]
        source: PullError,
    },
    #[error("status endpoint on {addr}: {source}")]
    Status {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("signal handling: {0}")]
    Signals(std::io::Error),
}

/// Wall-clock time that advances with tokio's clock (paused in tests).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start_utc: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::starting_at(Utc::now())
    }
    pub fn starting_at(t: DateTime<Utc>) -> Clock {
        Clock {
            start_utc: t,
            start: tokio::time::Instant::now(),
        }
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.start_utc + chrono::Duration::from_std(self.start.elapsed()).unwrap_or_default()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

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

struct Shared {
    engine: Mutex<Engine>,
    framework: Option<crate::framework::Framework>,
    outbox: Outbox,
    pull_state: sled::Tree,
    stats: Arc<Stats>,
    clock: Clock,
}

/// A running daemon's handles (the demo and tests drive it through these).
pub struct Running {
    shared: Arc<Shared>,
    pub trigger: ShutdownTrigger,
    pub stats: Arc<Stats>,
    pub outbox: Outbox,
    pub status_addr: Option<std::net::SocketAddr>,
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    /// Reads the store while the daemon runs (it holds the store's lock).
    pub fn with_engine<R>(&self, f: impl FnOnce(&Engine) -> R) -> R {
        f(&self.shared.engine.lock().expect("engine lock"))
    }

    /// True once every pulled feed has finished its first attempt.
    pub fn first_pulls_done(&self) -> bool {
        self.stats
            .feeds
            .lock()
            .expect("stats")
            .values()
            .all(|f| f.last_success.is_some() || f.last_failure.is_some())
    }

    /// Asks every task to stop and waits up to the drain deadline.
    pub async fn stop(mut self) -> bool {
        self.trigger.trigger();
        let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !drained {
            tracing::warn!("tasks did not finish within {DRAIN_DEADLINE:?}; abandoning them");
            self.tasks.abort_all();
        }
        drained
    }

    /// Waits for a stop signal, then drains like [`Running::stop`].
    pub async fn wait(self) -> bool {
        let mut sd = self.trigger.subscribe();
        sd.wait().await;
        self.stop().await
    }
}

/// Starts every task: one per pulled feed, the notifier, the status
/// endpoint and the watchdog. Returns once they all run.
pub async fn start(cfg: &Config, engine: Engine, clock: Clock) -> Result<Running, DaemonError> {
    crate::pull::install_ring_provider();
    let (trigger, shutdown) = shutdown::channel();
    let stats = Arc::new(Stats::default());
    let sink_names: Vec<String> = cfg.sinks.iter().map(|s| s.name().to_string()).collect();
    let outbox = Outbox::new(
        engine.store.tree("outbox").map_err(IngestError::from)?,
        sink_names,
    )?;
    let pull_state = engine.store.tree("pull_state").map_err(IngestError::from)?;
    let shared = Arc::new(Shared {
        engine: Mutex::new(engine),
        framework: cfg.framework.clone(),
        outbox: outbox.clone(),
        pull_state,
        stats: Arc::clone(&stats),
        clock,
    });
    let mut tasks = tokio::task::JoinSet::new();
    // Feeds to pull at start go first, one after another in config order,
    // so matching sees the case system before the partners; then each
    // feed runs on its own schedule.
    let mut pullers = Vec::new();
    for (name, fc) in &cfg.feeds {
        let Some(pull) = &fc.pull else { continue };
        let puller =
            Puller::new(name, &pull.url, &pull.tls, pull.limits.clone()).map_err(|source| {
                DaemonError::Pull {
                    feed: name.clone(),
                    source,
                }
            })?;
        stats
            .feeds
            .lock()
            .expect("stats")
            .insert(name.clone(), FeedStats::default());
        pullers.push((
            name.clone(),
            fc.spec.clone(),
            pull.clone(),
            Arc::new(puller),
        ));
    }
    {
        let shared = Arc::clone(&shared);
        let mut sd = shutdown.clone();
        let first: Vec<_> = pullers.iter().filter(|p| p.2.at_start).cloned().collect();
        let scheduled = pullers.clone();
        let shutdown_for_feeds = shutdown.clone();
        tasks.spawn(async move {
            for (name, spec, _, puller) in first {
                if sd.is_triggered() {
                    return;
                }
                cycle(&shared, &name, &spec, &puller, &mut sd).await;
            }
            let mut feed_tasks = tokio::task::JoinSet::new();
            for (name, spec, pull, puller) in scheduled {
                let shared = Arc::clone(&shared);
                let sd = shutdown_for_feeds.clone();
                feed_tasks.spawn(feed_loop(shared, name, spec, pull, puller, sd));
            }
            while feed_tasks.join_next().await.is_some() {}
        });
    }
    if !cfg.sinks.is_empty() {
        let notifier = Notifier::new(outbox.clone(), cfg.sinks.clone())?;
        tasks.spawn(notifier.run(shutdown.clone(), cfg.notice_poll));
    }
    let mut status_addr = None;
    if let Some(addr) = cfg.status_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DaemonError::Status { addr, source })?;
        status_addr = listener.local_addr().ok();
        let shared = Arc::clone(&shared);
        tasks.spawn(serve_status(listener, shared, shutdown.clone()));
    }
    if let Some(every) = sd_notify::watchdog_enabled() {
        let mut sd = shutdown.clone();
        tasks.spawn(async move {
            while sd.sleep(every / 2).await {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
        });
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(
        feeds = pullers.len(),
        sinks = cfg.sinks.len(),
        "outcomesd running"
    );
    Ok(Running {
        shared,
        trigger,
        stats,
        outbox,
        status_addr,
        tasks,
    })
}

/// `outcomesd run`: start, wait for SIGTERM/SIGINT, drain, return.
pub async fn run(cfg: Config, engine: Engine) -> Result<(), DaemonError> {
    let running = start(&cfg, engine, Clock::new()).await?;
    let trigger = running.trigger.clone();
    tokio::spawn(async move {
        if let Err(e) = shutdown::on_signals(trigger.clone()).await {
            tracing::error!("cannot handle signals: {e}");
            trigger.trigger();
        }
    });
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status("running")]);
    let drained = running.wait().await;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!(drained, "outcomesd stopped");
    Ok(())
}

async fn feed_loop(
    shared: Arc<Shared>,
    name: String,
    spec: crate::ingest::feeds::FeedSpec,
    pull: PullSpec,
    puller: Arc<Puller>,
    mut sd: Shutdown,
) {
    let Some(schedule) = pull.schedule.clone() else {
        return;
    };
    loop {
        let now = shared.clock.now();
        let Some(next) = schedule.after(&now).next() else {
            tracing::info!(feed = %name, "schedule has no further runs");
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        if !sd.sleep(wait).await {
            return;
        }
        cycle(&shared, &name, &spec, &puller, &mut sd).await;
        if sd.is_triggered() {
            return;
        }
    }
}

/// One scheduled pull: fetch (conditionally), ingest, re-decide, enqueue.
async fn cycle(
    shared: &Arc<Shared>,
    name: &str,
    spec: &crate::ingest::feeds::FeedSpec,
    puller: &Puller,
    sd: &mut Shutdown,
) {
    let prior: Option<Validators> = shared
        .pull_state
        .get(name)
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_slice(&v).ok());
    let result = puller
        .fetch_with_retry(prior.as_ref(), &RetryPolicy::default(), sd)
        .await;
    let now = shared.clock.now();
    let fail = |reason: String| {
        tracing::warn!(feed = %name, reason = %reason, "feed pull failed");
        let mut f = shared.stats.feeds.lock().expect("stats");
        let s = f.entry(name.to_string()).or_default();
        s.failures += 1;
        s.last_failure = Some(now);
        s.last_error = Some(reason);
    };
    {
        let mut f = shared.stats.feeds.lock().expect("stats");
        f.entry(name.to_string()).or_default().pulls += 1;
    }
    let (bytes, validators) = match result {
        Ok(Fetched::NotModified) => {
            tracing::info!(feed = %name, "unchanged since the last pull; not downloaded");
            let mut f = shared.stats.feeds.lock().expect("stats");
            let s = f.entry(name.to_string()).or_default();
            s.not_modified += 1;
            s.last_success = Some(now);
            return;
        }
        Ok(Fetched::Body { bytes, validators }) => (bytes, validators),
        Err(PullError::Shutdown { .. }) => return,
        Err(e) => return fail(e.to_string()),
    };
    let shared2 = Arc::clone(shared);
    let spec = spec.clone();
    let name2 = name.to_string();
    // Ingest and triangulation are CPU and disk work: off the async threads.
    let outcome = tokio::task::spawn_blocking(move || {
        ingest_and_decide(&shared2, &name2, &spec, &bytes, &validators)
    })
    .await;
    match outcome {
        Ok(Ok((accepted, rejected, duplicate, decided, enqueued))) => {
            let mut f = shared.stats.feeds.lock().expect("stats");
            let s = f.entry(name.to_string()).or_default();
            s.last_success = Some(now);
            if duplicate {
                s.duplicates += 1;
            } else {
                s.deliveries += 1;
                s.rows_accepted += accepted;
                s.rows_rejected += rejected;
            }
            drop(f);
            *shared.stats.claims_evaluated.lock().expect("stats") += decided;
            *shared.stats.notices_enqueued.lock().expect("stats") += enqueued;
        }
        Ok(Err(e)) => fail(format!("{e:#}")),
        Err(e) => fail(format!("ingest task failed: {e}")),
    }
}

type CycleResult = (u64, u64, bool, u64, u64);

fn ingest_and_decide(
    shared: &Shared,
    name: &str,
    spec: &crate::ingest::feeds::FeedSpec,
    bytes: &[u8],
    validators: &Validators,
) -> anyhow::Result<CycleResult> {
    let mut engine = shared.engine.lock().expect("engine lock");
    let summary = engine.ingest(spec, bytes, &IngestOptions::default())?;
    // Committed (or already stored): now the fetch may be acknowledged.
    shared
        .pull_state
        .insert(name, serde_json::to_vec(validators)?)?;
    shared.pull_state.flush()?;
    if summary.duplicate_of.is_some() {
        tracing::info!(feed = %name, "same content as a stored delivery; nothing stored");
        return Ok((0, 0, true, 0, 0));
    }
    tracing::info!(feed = %name, "{summary}");
    let (mut decided, mut enqueued) = (0, 0);
    if let Some(fw) = &shared.framework {
        let touched: HashSet<String> = summary.touched_cases.iter().cloned().collect();
        let report = triangulate::evaluate(
            &engine.store,
            &engine.matcher,
            fw,
            Selection::AfterDelivery(&touched),
        )?;
        decided = report.claims as u64;
        // Coordinators hear about decisions; an insufficient claim is an
        // interim state (visible in `outcomesd claims`), re-decided later.
        for rec in report
            .changed
            .iter()
            .filter(|r| r.verdict != Verdict::Insufficient)
        {
            if shared
                .outbox
                .enqueue(&notice_for(rec, shared.clock.now()))?
            {
                enqueued += 1;
            }
        }
        tracing::info!(feed = %name, claims = decided, notices = enqueued, "claims re-evaluated");
    }
    Ok((summary.accepted, summary.rejected, false, decided, enqueued))
}

/// The notice for a decision: pseudonyms and case references only.
pub fn notice_for(rec: &VerdictRecord, now: DateTime<Utc>) -> Notice {
    let d = &rec.decision;
    let mut evidence = serde_json::json!({
        "items": d.evidence.iter().map(|e| serde_json::json!({
            "sources": e.sources,
            "events": e.events,
            "window": e.window.map(|w| serde_json::json!({"from": w.from, "to": w.to})),
            "coverage": e.coverage.iter().map(|c| serde_json::json!({"from": c.from, "to": c.to})).collect::<Vec<_>>(),
            "persons": e.persons,
            "count": e.count,
            "dates": e.dates,
            "finding": e.finding,
        })).collect::<Vec<_>>(),
        "earliest_decidable": d.earliest_decidable,
        "as_of_delivery": rec.as_of_delivery,
    });
    if rec.verdict == Verdict::Insufficient {
        // The schema wants the gaps of an insufficient verdict; when it is
        // insufficient for another reason (no one in scope, case not
        // closed), the whole window stands for the gap.
        let gaps: Vec<_> = if d.missing.is_empty() {
            d.evidence.iter().filter_map(|e| e.window).collect()
        } else {
            d.missing.clone()
        };
        evidence["missing_periods"] = serde_json::json!(gaps
            .iter()
            .map(|m| serde_json::json!({"from": m.from, "to": m.to}))
            .collect::<Vec<_>>());
    }
    let verdict = rec.verdict.name().to_string();
    Notice {
        id: crate::notify::notice_id(
            &rec.framework,
            &rec.framework_version,
            &rec.outcome_id,
            &rec.case_ref,
            rec.claim_date,
            &verdict,
        ),
        framework: rec.framework.clone(),
        framework_version: rec.framework_version.clone(),
        outcome_id: rec.outcome_id.clone(),
        case_ref: rec.case_ref.clone(),
        claim_date: rec.claim_date,
        verdict,
        evidence,
        also_evidences: if matches!(rec.verdict, Verdict::Verified | Verdict::Attested) {
            rec.also_evidences.clone()
        } else {
            vec![]
        },
        decided_at: rec.decided_at,
        issued_at: now,
    }
}

async fn serve_status(listener: tokio::net::TcpListener, shared: Arc<Shared>, mut sd: Shutdown) {
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

fn health(shared: &Shared) -> String {
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

fn metrics(shared: &Shared) -> String {
    metrics_text(&shared.stats, &shared.outbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn clock_follows_paused_time() {
        let t0 = "2016-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let c = Clock::starting_at(t0);
        tokio::time::sleep(Duration::from_secs(3 * 86400)).await;
        assert_eq!(c.now(), t0 + chrono::Duration::days(3));
    }
}
