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
//! * a failed write (a full disk, a store error) in any task is logged and
//!   turns `/healthz` 503 with its reason until that task writes again;
//! * `store backup` and `outbox retry` work while it runs, through the
//!   [`control`] socket;
//! * a feed with a `report_schedule` gets its outcome report as a receipt,
//!   one per period covered (`reports`);
//! * `READY=1` is sent to systemd once every task runs, and `WATCHDOG=1`
//!   at half the watchdog interval while the runtime is healthy.
//!
//! Schedules are computed on a [`Clock`] that follows tokio's clock, so
//! tests can run days of schedule with paused time.

pub mod control;
mod cycle;
mod purge;
mod reports;
pub mod schedule;
pub mod shutdown;
mod status;

pub use crate::notify::notice_for;
pub use status::{metrics_text, FeedStats, Stats};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::ingest::{Engine, IngestError};
use crate::notify::receipt::{ReceiptNotifier, Receipts};
use crate::notify::{Notifier, Outbox};
use crate::pull::{PullError, Puller};

use shutdown::ShutdownTrigger;

/// How long in-flight work may take to finish after a stop signal.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Store(#[from] IngestError),
    #[error("outbox")]
    Outbox(#[from] crate::notify::OutboxError),
    #[error("notice sinks")]
    Notify(#[from] crate::notify::NotifyError),
    #[error("delivery receipts")]
    Receipts(#[from] crate::notify::receipt::ReceiptError),
    #[error("deciding claims and queueing their notices at start")]
    CatchUp(#[from] crate::notify::ReconcileError),
    #[error("feed {feed}")]
    Pull {
        feed: String,
        #[source]
        source: PullError,
    },
    #[error("status endpoint on {addr}")]
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

pub(crate) struct Shared {
    engine: Mutex<Engine>,
    framework: Option<crate::framework::Framework>,
    outbox: Outbox,
    /// What notices carry (`[notices] detail`).
    detail: crate::notify::reconcile::Detail,
    /// The engine's audit log: verdicts, notices queued and acknowledged.
    audit: Option<crate::audit::Audit>,
    /// Where a refused file's receipt is queued (`cycle`).
    receipts: Receipts,
    pull_state: crate::store::PullState,
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

impl Shared {
    /// Where this daemon queues notices, and what they carry.
    fn notices(&self) -> crate::notify::reconcile::Notices {
        crate::notify::reconcile::Notices {
            outbox: self.outbox.clone(),
            detail: self.detail,
            audit: self.audit.clone(),
        }
    }
}

impl Running {
    /// Reads the store while the daemon runs (it holds the store's lock).
    pub fn with_engine<R>(&self, f: impl FnOnce(&Engine) -> R) -> R {
        f(&self.shared.engine.lock().expect("engine lock"))
    }

    /// True once every pulled feed has finished its first attempt.
    pub fn first_pulls_done(&self) -> bool {
        self.stats
            .feed_stats()
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
    let outbox = Outbox::new(engine.store.outbox(), sink_names)?;
    let pull_state = engine.store.pull_state();
    stats.refresh_holds(&engine.store);
    stats.refresh_reviews(&engine.store, engine.matcher());
    let audit = engine.audit.clone();
    // Receipts follow the stored deliveries (src/notify/receipt.rs); a
    // file refused whole is told where it is refused (cycle.rs).
    let receipt_sinks: Vec<(String, Vec<crate::notify::SinkConfig>)> = cfg
        .feeds
        .iter()
        .map(|(name, fc)| (name.clone(), fc.receipts.clone()))
        .collect();
    let receipts = Receipts::new(outbox.store(), &cfg.data_dir, &receipt_sinks);
    let shared = Arc::new(Shared {
        receipts: receipts.clone(),
        audit: audit.clone(),
        engine: Mutex::new(engine),
        framework: cfg.framework.clone(),
        outbox: outbox.clone(),
        detail: cfg.notice_detail,
        pull_state,
        stats: Arc::clone(&stats),
        clock,
    });
    if let Some(fw) = &shared.framework {
        // A crash may have left a committed delivery undecided, or a stored
        // verdict without its notice: put both right before anything runs.
        let engine = shared.engine.lock().expect("engine lock");
        let (evaluated, queued) = crate::notify::reconcile::catch_up(
            &engine.store,
            engine.matcher(),
            fw,
            &shared.notices(),
            None,
            shared.clock.now(),
        )?;
        stats.notices_enqueued.inc_by(queued.queued as u64);
        if let Some(r) = evaluated {
            stats.claims_evaluated.inc_by(r.claims as u64);
        }
        if queued.queued > 0 {
            tracing::info!(
                notices = queued.queued,
                "queued notices a stop had left unqueued"
            );
        }
    }
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
            .feed_stats()
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
                cycle::cycle(&shared, &name, &spec, &puller, &mut sd).await;
            }
            let mut feed_tasks = tokio::task::JoinSet::new();
            for (name, spec, pull, puller) in scheduled {
                let shared = Arc::clone(&shared);
                let sd = shutdown_for_feeds.clone();
                feed_tasks.spawn(cycle::feed_loop(shared, name, spec, pull, puller, sd));
            }
            while feed_tasks.join_next().await.is_some() {}
        });
    }
    // Receipts: queued now for any delivery a stop left unqueued, then
    // every poll.
    if !receipts.is_empty() {
        let queue = {
            let shared = Arc::clone(&shared);
            let receipts = receipts.clone();
            Arc::new(move || {
                let engine = shared.engine.lock().expect("engine lock");
                receipts.queue(&engine.store, Utc::now())
            })
        };
        queue()?;
        let sinks = receipt_sinks.into_iter().flat_map(|(_, s)| s).collect();
        let notifier = ReceiptNotifier::new(outbox.store(), sinks)?;
        tasks.spawn(notifier.run(queue, shutdown.clone(), cfg.notice_poll));
        // Each feed's outcome report on its own schedule (reports.rs).
        for (name, fc) in &cfg.feeds {
            let Some(sched) = fc.report.clone().filter(|_| !fc.receipts.is_empty()) else {
                continue;
            };
            tasks.spawn(reports::report_loop(
                Arc::clone(&shared),
                receipts.clone(),
                name.clone(),
                fc.spec.kind,
                sched,
                shutdown.clone(),
            ));
        }
    }
    if !cfg.sinks.is_empty() {
        let notifier = Notifier::new(outbox.clone(), cfg.sinks.clone())?.with_audit(audit);
        let stats = Arc::clone(&stats);
        tasks.spawn(
            notifier.run(
                shutdown.clone(),
                cfg.notice_poll,
                move |round| match &round.write_error {
                    Some(why) => stats.set_write_error("notifier", why.clone()),
                    None => stats.clear_write_error("notifier"),
                },
            ),
        );
    }
    let mut status_addr = None;
    if let Some(addr) = cfg.status_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DaemonError::Status { addr, source })?;
        status_addr = listener.local_addr().ok();
        let shared = Arc::clone(&shared);
        tasks.spawn(status::serve_status(listener, shared, shutdown.clone()));
    }
    match control::bind(&cfg.data_dir) {
        Ok(listener) => {
            let shared = Arc::clone(&shared);
            let path = control::socket_path(&cfg.data_dir);
            tasks.spawn(control::serve(listener, path, shared, shutdown.clone()));
        }
        // Not fatal: backups then need the daemon stopped, as before.
        Err(e) => tracing::warn!(
            path = %control::socket_path(&cfg.data_dir).display(), error = %e,
            "control socket unavailable: `store backup` and `outbox retry` need the daemon stopped"
        ),
    }
    tasks.spawn(purge::purge_loop(
        Arc::clone(&shared),
        cfg.retention.clone(),
        cfg.data_dir.join("reports"),
        shutdown.clone(),
    ));
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
    let audit = engine.audit.clone();
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
    if let Some(a) = &audit {
        a.log_head(); // the last checkpoint in the journal
    }
    tracing::info!(drained, "outcomesd stopped");
    Ok(())
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
