//! `status`: what is stored, per feed, as text or as JSON.
//!
//! In: the engine (store and matcher), read only. Out: [`StatusReport`],
//! printed by [`print_status`] or as JSON. Promises: counts, dates, feed
//! names and the store's path only: no personal data.

use serde::Serialize;

use crate::ingest::Engine;
use crate::records::{Period, SourceKind};

/// One feed's deliveries.
#[derive(Debug, Clone, Serialize)]
pub struct FeedStatus {
    pub feed: String,
    pub kind: SourceKind,
    /// Rows no later delivery superseded.
    pub rows_in_effect: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub deliveries: usize,
    pub last_delivery: u32,
    pub last_received_at: chrono::DateTime<chrono::Utc>,
}

/// A delivery a guard held that waits for a decision.
#[derive(Debug, Clone, Serialize)]
pub struct HeldStatus {
    pub id: u32,
    pub feed: String,
    pub state: &'static str,
    pub rows: u64,
    pub reason: String,
}

/// What `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub store: String,
    pub size_on_disk_bytes: u64,
    /// Records' people before merges.
    pub persons: usize,
    /// Distinct people after merges.
    pub persons_distinct: usize,
    pub feeds: Vec<FeedStatus>,
    pub held: Vec<HeldStatus>,
    /// Source kind → periods every feed of that kind covers.
    pub coverage: std::collections::BTreeMap<String, Vec<Period>>,
    pub cases: Option<usize>,
    /// Tree → entries.
    pub rows: std::collections::BTreeMap<String, usize>,
}

/// Gathers what is stored.
pub fn status_report(engine: &Engine) -> StatusReport {
    let store = &engine.store;
    let mut feeds: std::collections::BTreeMap<&str, Vec<_>> = Default::default();
    for d in store.deliveries() {
        feeds.entry(d.feed.as_str()).or_default().push(d);
    }
    // What is in effect, not what was ever received: events no later full
    // extract of the feed hid, the latest version of each case, the claims.
    let mut effect: std::collections::HashMap<&str, u64> = Default::default();
    let seq_feed = |seq: u32| store.delivery(seq).map(|d| d.feed.as_str());
    if let Ok(per_seq) = store.events_in_effect() {
        for (seq, n) in per_seq {
            if let Some(f) = seq_feed(seq) {
                *effect.entry(f).or_default() += n;
            }
        }
    }
    let cases = store.cases().ok();
    for c in cases.iter().flatten() {
        if let Some(f) = seq_feed(c.seq) {
            *effect.entry(f).or_default() += c.members.len() as u64;
        }
    }
    for c in store.claims().ok().iter().flatten() {
        if let Some(f) = seq_feed(c.seq) {
            *effect.entry(f).or_default() += 1;
        }
    }
    let feeds = feeds
        .into_iter()
        .map(|(feed, ds)| {
            let last = ds.last().expect("non-empty");
            FeedStatus {
                feed: feed.to_string(),
                kind: last.kind,
                rows_in_effect: effect.get(feed).copied().unwrap_or(0),
                rows_accepted: ds.iter().map(|d| d.accepted).sum(),
                rows_rejected: ds.iter().map(|d| d.rejected).sum(),
                deliveries: ds.len(),
                last_delivery: last.seq,
                last_received_at: last.received_at,
            }
        })
        .collect();
    let held = store
        .holds()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| {
            h.state == crate::store::HoldState::Held
                || (h.state == crate::store::HoldState::Accepted && h.applied_as.is_none())
        })
        .map(|h| HeldStatus {
            id: h.seq,
            feed: h.feed,
            state: h.state.name(),
            rows: h.rows,
            reason: h.reason,
        })
        .collect();
    let coverage = SourceKind::ALL
        .into_iter()
        .filter(|k| k.carries_events())
        .map(|k| (k.to_string(), store.coverage(k)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    StatusReport {
        store: store.path().display().to_string(),
        size_on_disk_bytes: store.size_on_disk(),
        persons: engine.matcher().person_count(),
        persons_distinct: engine.matcher().canonical_count(),
        feeds,
        held,
        coverage,
        cases: cases.map(|c| c.len()),
        rows: store
            .counts()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }
}

/// Prints what is stored; fails only if stdout does.
pub fn print_status(engine: &Engine) -> std::io::Result<()> {
    let s = status_report(engine);
    outln!(
        "store: {} ({:.1} MiB on disk)",
        s.store,
        s.size_on_disk_bytes as f64 / 1048576.0
    );
    outln!(
        "persons: {} records' people, {} distinct after merges",
        s.persons,
        s.persons_distinct
    );
    if s.feeds.is_empty() {
        outln!("no deliveries stored yet");
    }
    for f in &s.feeds {
        outln!(
            "feed {} ({}): {} rows in effect ({} accepted over {} deliveries, {} rejected); last delivery {} at {}",
            f.feed,
            f.kind,
            f.rows_in_effect,
            f.rows_accepted,
            f.deliveries,
            f.rows_rejected,
            f.last_delivery,
            f.last_received_at.format("%Y-%m-%d %H:%M:%SZ")
        );
    }
    for h in &s.held {
        outln!(
            "HELD delivery {} of feed {} ({}, {} rows): {}; nothing of it is in effect (`outcomesd deliveries accept|reject {}`)",
            h.id,
            h.feed,
            h.state,
            h.rows,
            h.reason,
            h.id
        );
    }
    // Kinds in their declared order, as before.
    for kind in SourceKind::ALL {
        if let Some(cov) = s.coverage.get(&kind.to_string()) {
            let list: Vec<String> = cov.iter().map(|p| p.to_string()).collect();
            outln!("coverage {kind}: {}", list.join(", "));
        }
    }
    if let Some(cases) = s.cases {
        outln!("cases: {cases}");
    }
    let c: Vec<String> = s.rows.iter().map(|(k, v)| format!("{k} {v}")).collect();
    outln!("rows: {}", c.join(", "));
    Ok(())
}
