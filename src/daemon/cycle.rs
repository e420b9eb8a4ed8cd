//! One feed's life: wait for its schedule, pull, ingest, re-decide its
//! claims and queue their notices.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::shutdown::Shutdown;
use super::Shared;
use crate::config::PullSpec;
use crate::ingest::IngestOptions;
use crate::notify::Notice;
use crate::pull::{Fetched, PullError, Puller, RetryPolicy, Validators};
use crate::triangulate::{self, Selection, Verdict, VerdictRecord};

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
        Ok(Err(e)) => fail(crate::error::chain(e.as_ref())),
        Err(e) => fail(format!("ingest task failed: {e}")),
    }
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
    let summary = engine.ingest(spec, bytes, &opts)?;
    shared.stats.refresh_holds(&engine.store);
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
        let report = triangulate::evaluate(
            &engine.store,
            &engine.matcher,
            fw,
            Selection::AfterDelivery(&touched),
            shared.clock.now(),
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
    Ok((
        summary.accepted,
        summary.rejected,
        false,
        decided,
        enqueued,
        false,
    ))
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
