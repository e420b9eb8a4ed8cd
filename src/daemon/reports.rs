//! Each feed's outcome report, sent on its `report_schedule` as a receipt.
//!
//! In: the feeds with a `[feeds.NAME.receipts] report_schedule`, the shared
//! engine (its stored verdicts) and the receipts outbox. Out: one
//! `partner.report` per (feed, period) queued to the feed's receipt sinks,
//! which the receipt notifier delivers at least once.
//!
//! Promises: a firing queues the report of the period it covers
//! ([`crate::notify::feedback::report_period`]) unless that report is queued
//! already, so repeated firings and restarts never make a second, different
//! report; at start, a firing missed while the daemon was down is made up
//! if the period it would have covered is still the current one.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::shutdown::Shutdown;
use super::Shared;
use crate::notify::feedback::{report_period, ReportSchedule};
use crate::notify::receipt::Receipts;
use crate::records::SourceKind;

/// One feed's report loop until shutdown.
pub(crate) async fn report_loop(
    shared: Arc<Shared>,
    receipts: Receipts,
    feed: String,
    kind: SourceKind,
    sched: ReportSchedule,
    mut sd: Shutdown,
) {
    let now = shared.clock.now();
    if let Some(missed) = last_run_before(&sched, now) {
        let p = report_period(missed, sched.timezone, sched.months);
        if p == report_period(now, sched.timezone, sched.months) {
            fire(&shared, &receipts, &feed, kind, &sched, missed).await;
        }
    }
    loop {
        let now = shared.clock.now();
        let Some(next) = super::schedule::next_run(&sched.schedule, sched.timezone, now) else {
            tracing::info!(feed = %feed, "report schedule has no further runs");
            return;
        };
        if !sd.sleep((next - now).to_std().unwrap_or_default()).await {
            return;
        }
        fire(&shared, &receipts, &feed, kind, &sched, next).await;
    }
}

/// The schedule's last firing at or before `now`.
fn last_run_before(sched: &ReportSchedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // The cron crate's iterator runs backwards too.
    sched
        .schedule
        .after(&now.with_timezone(&sched.timezone))
        .next_back()
        .map(|t| t.with_timezone(&Utc))
}

/// Queues the report the firing at `at` covers (off the async threads: it
/// reads every stored verdict).
async fn fire(
    shared: &Arc<Shared>,
    receipts: &Receipts,
    feed: &str,
    kind: SourceKind,
    sched: &ReportSchedule,
    at: DateTime<Utc>,
) {
    let period = report_period(at, sched.timezone, sched.months);
    let (shared2, receipts, feed2) = (Arc::clone(shared), receipts.clone(), feed.to_string());
    let queued = tokio::task::spawn_blocking(move || {
        let engine = shared2.engine.lock().unwrap_or_else(|e| e.into_inner());
        receipts.queue_report(&engine.store, &feed2, kind, period, shared2.clock.now())
    })
    .await;
    match queued {
        Ok(Ok(Some(id))) => {
            shared.stats.clear_write_error("reports");
            tracing::info!(feed = %feed, period = %period, receipt = %id, "partner report queued");
        }
        Ok(Ok(None)) => {
            tracing::info!(feed = %feed, period = %period, "partner report already queued")
        }
        Ok(Err(e)) => {
            shared
                .stats
                .set_write_error("reports", crate::error::chain(&e));
            tracing::error!(feed = %feed, period = %period, error = %crate::error::Chain(&e),
                "partner report not queued");
        }
        Err(e) => tracing::error!(feed = %feed, error = %e, "partner report task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_run_before_now_is_found_backwards() {
        let sched = ReportSchedule {
            text: "0 6 1 * *".into(),
            schedule: crate::daemon::schedule::parse_schedule("0 6 1 * *").unwrap(),
            months: 1,
            timezone: chrono_tz::Europe::London,
        };
        let now: DateTime<Utc> = "2026-12-02T01:00:00Z".parse().unwrap();
        assert_eq!(
            last_run_before(&sched, now),
            Some("2026-12-01T06:00:00Z".parse().unwrap())
        );
        // 06:00 in London in summer is 05:00 UTC.
        let now: DateTime<Utc> = "2026-07-01T05:30:00Z".parse().unwrap();
        assert_eq!(
            last_run_before(&sched, now),
            Some("2026-07-01T05:00:00Z".parse().unwrap())
        );
    }
}
