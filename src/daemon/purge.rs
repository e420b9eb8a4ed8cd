//! The daily purge: retention applied while the daemon runs.
//!
//! In: the shared engine, the config's retention, the reports directory,
//! the daemon's clock and its shutdown handle. Out: records past their
//! retention removed once a day, logged with counts (never a value).
//!
//! Promises: a purge runs when the last one (the store records when, so
//! restarts do not reset the day) is a day old; a fresh store counts as
//! purged when first seen, so the first purge is a day later; the purge
//! runs off the async threads holding the engine lock, like an ingest, so
//! it never interleaves with a delivery; shutdown stops the task between
//! purges.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::shutdown::Shutdown;
use super::Shared;
use crate::subjects::retention::Retention;

/// How often the task looks whether a purge is due.
const CHECK_EVERY: Duration = Duration::from_secs(3600);

pub(crate) async fn purge_loop(
    shared: Arc<Shared>,
    policy: Retention,
    reports: PathBuf,
    mut sd: Shutdown,
) {
    loop {
        let shared2 = Arc::clone(&shared);
        let (policy2, reports2) = (policy.clone(), reports.clone());
        let r = tokio::task::spawn_blocking(move || due_purge(&shared2, &policy2, &reports2)).await;
        // A purge writes the store: its failure makes the daemon unhealthy
        // until a later purge succeeds, as a feed's does.
        match r {
            Ok(Ok(Some(report))) => {
                shared.stats.clear_write_error("purge");
                if report.rewrite_pending {
                    // Other tasks hold handles on the open store, so the
                    // rewrite waits for the next start (docs/subject-rights.md).
                    tracing::warn!(
                        "purged values stay in the store's files until the daemon next starts, which rewrites the store"
                    );
                }
                tracing::info!(
                    events = report.store.events,
                    claims = report.store.claims.len(),
                    cases = report.store.cases.len(),
                    notices = report.store.notices,
                    reports = report.reports.len(),
                    "retention purge"
                )
            }
            Ok(Ok(None)) => shared.stats.clear_write_error("purge"),
            Ok(Err(e)) => shared.stats.set_write_error(
                "purge",
                format!("retention purge: {}", crate::error::chain(e.as_ref())),
            ),
            Err(e) => shared
                .stats
                .set_write_error("purge", format!("retention purge task: {e}")),
        }
        if !sd.sleep(CHECK_EVERY).await {
            return;
        }
    }
}

/// Purges if the last purge is a day old; `None` if none was due.
fn due_purge(
    shared: &Shared,
    policy: &Retention,
    reports: &std::path::Path,
) -> anyhow::Result<Option<crate::subjects::retention::PurgeReport>> {
    let mut engine = shared.engine.lock().expect("engine lock");
    // A failed rebuild during a delivery leaves the matcher empty: a purge
    // needs every person, so rebuild it first or fail this round.
    engine.ensure_matcher()?;
    let now = shared.clock.now();
    let Some(last) = engine.store.last_purge()? else {
        engine.store.set_last_purge(now)?;
        return Ok(None);
    };
    if now - last < chrono::Duration::days(1) {
        return Ok(None);
    }
    let report = crate::subjects::retention::purge(
        &engine.store,
        engine.matcher(),
        policy,
        reports,
        now,
        false,
    )?;
    engine.store.set_last_purge(now)?;
    crate::audit::note(
        shared.audit.as_ref(),
        crate::audit::Action::Purge {
            dry_run: false,
            removed: report.counts(),
        },
    )?;
    Ok(Some(report))
}
