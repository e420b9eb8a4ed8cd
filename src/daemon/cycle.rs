//! One feed's life: wait for its schedule, pull, ingest, re-decide its
//! claims and queue their notices.

use std::collections::HashSet;
use std::sync::Arc;

use super::shutdown::Shutdown;
use super::Shared;
use crate::config::PullSpec;
use crate::ingest::IngestOptions;
use crate::pull::{Fetched, PullError, Puller, RetryPolicy, Validators};

pub(crate) async fn feed_loop(
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
        let Some(next) = super::schedule::next_run(&schedule, pull.timezone, now) else {
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
pub(crate) async fn cycle(
    shared: &Arc<Shared>,
    name: &str,
    spec: &crate::ingest::feeds::FeedSpec,
    puller: &Puller,
    sd: &mut Shutdown,
) {
    let prior: Option<Validators> = shared.pull_state.validators(name).ok().flatten();
    let result = puller
        .fetch_with_retry(prior.as_ref(), &RetryPolicy::default(), sd)
        .await;
    let now = shared.clock.now();
    let fail = |reason: String| {
        tracing::warn!(feed = %name, reason = %reason, "feed pull failed");
        let mut f = shared.stats.feed_stats();
        let s = f.entry(name.to_string()).or_default();
        s.failures += 1;
        s.last_failure = Some(now);
        s.last_error = Some(reason);
    };
    {
        let mut f = shared.stats.feed_stats();
        f.entry(name.to_string()).or_default().pulls += 1;
    }
    let (bytes, validators) = match result {
        Ok(Fetched::NotModified) => {
            tracing::info!(feed = %name, "unchanged since the last pull; not downloaded");
            let mut f = shared.stats.feed_stats();
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
        Ok(Ok((accepted, rejected, duplicate, decided, enqueued, held))) => {
            shared.stats.clear_write_error(&format!("feed {name}"));
            let mut f = shared.stats.feed_stats();
            let s = f.entry(name.to_string()).or_default();
            s.last_success = Some(now);
            if held {
                // Shown in `held` (see `refresh_holds`); not a delivery.
            } else if duplicate {
                s.duplicates += 1;
            } else {
                s.deliveries += 1;
                s.rows_accepted += accepted;
                s.rows_rejected += rejected;
            }
            drop(f);
            shared.stats.claims_evaluated.inc_by(decided);
            shared.stats.notices_enqueued.inc_by(enqueued);
        }
        Ok(Err(e)) => {
            let reason = crate::error::chain(e.as_ref());
            if is_write_error(&e) {
                shared
                    .stats
                    .set_write_error(&format!("feed {name}"), reason.clone());
            }
            fail(reason)
        }
        Err(e) => fail(format!("ingest task failed: {e}")),
    }
}

/// Whether a failed cycle failed to write (the store, the disk, a report),
/// as opposed to a bad delivery: the daemon is then unhealthy.
fn is_write_error(e: &anyhow::Error) -> bool {
    use crate::ingest::IngestError as I;
    e.chain().any(|c| {
        c.is::<crate::store::StoreError>()
            || c.is::<sled::Error>()
            || matches!(
                c.downcast_ref::<I>(),
                Some(I::Store(_) | I::LowSpace { .. } | I::FreeSpace { .. } | I::Report { .. })
            )
    })
}

/// Rows accepted and rejected, duplicate, claims decided, notices queued,
/// held.
type CycleResult = (u64, u64, bool, u64, u64, bool);

pub(crate) fn ingest_and_decide(
    shared: &Shared,
    name: &str,
    spec: &crate::ingest::feeds::FeedSpec,
    bytes: &[u8],
    validators: &Validators,
) -> anyhow::Result<CycleResult> {
    let mut engine = shared.engine.lock().expect("engine lock");
    let opts = IngestOptions {
        today: Some(shared.clock.now().date_naive()),
        ..Default::default()
    };
    let summary = match engine.ingest(spec, bytes, &opts) {
        Ok(s) => s,
        Err(e) => {
            // Refused whole: the partner hears why in a receipt.
            shared
                .receipts
                .after_refusal(name, bytes, &e, shared.clock.now());
            return Err(e.into());
        }
    };
    shared.stats.refresh_holds(&engine.store);
    shared
        .stats
        .refresh_reviews(&engine.store, engine.matcher());
    if summary.awaiting_decision() {
        // Not acknowledged: the next pull fetches these bytes again, and
        // applies them once an operator has accepted the hold.
        tracing::warn!(feed = %name, "{summary}");
        return Ok((0, 0, false, 0, 0, true));
    }
    // Committed (or already stored, or rejected by an operator): now the
    // fetch may be acknowledged.
    shared.pull_state.acknowledge(name, validators)?;
    if summary.duplicate_of.is_some() {
        tracing::info!(feed = %name, "{summary}");
        return Ok((0, 0, true, 0, 0, false));
    }
    tracing::info!(feed = %name, "{summary}");
    let (mut decided, mut enqueued) = (0, 0);
    if let Some(fw) = &shared.framework {
        let touched: HashSet<String> = summary.touched_cases.iter().cloned().collect();
        let (report, queued) = crate::notify::reconcile::after_delivery(
            &engine.store,
            engine.matcher(),
            fw,
            &shared.notices(),
            &touched,
            shared.clock.now(),
        )?;
        decided = report.claims as u64;
        enqueued = queued.queued as u64;
        tracing::info!(feed = %name, claims = decided, notices = enqueued, "claims re-evaluated");
    }
    Ok((
        summary.accepted,
        summary.rejected,
        false,
        decided,
        enqueued,
        false,
    ))
}
