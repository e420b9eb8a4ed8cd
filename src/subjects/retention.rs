//! Retention: how long each kind of record is kept, and the purge.
//!
//! In: a [`Retention`] policy (config `[retention]` and each feed's
//! `[feeds.NAME.retention]`), the store, the matcher (who is a member of
//! which case), the reports directory and the caller's clock. Out: a
//! [`PurgeReport`] of what went (or, dry, would go).
//!
//! The rules, each per the feed that delivered the record:
//! * a **claim** and its decision go `claims_years` after the later of
//!   its claim date and its case's close; never while the case is open;
//! * an **event** goes `events_years` after the later of its last day and
//!   the close of every case its person is a member of; never while one of
//!   those cases is open or still has a claim (a decision never outlives
//!   its evidence, and a purge never re-decides anything);
//! * a **case** goes once it closed `events_years` ago (its case feed's)
//!   and has no claim left;
//! * a **notice** goes `outbox_days` after every sink acknowledged it
//!   (never while one still waits);
//! * a **rejection report** goes `reports_days` after it was written.
//!
//! Promises: a dry run changes nothing and reports exactly what the real
//! run would remove at the same clock; nothing else is removed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ingest::matching::{Matcher, PersonId};
use crate::store::{Purged, Store, StoreError};

/// Per-feed overrides of the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedRetention {
    #[serde(default)]
    pub events_years: Option<u32>,
    #[serde(default)]
    pub claims_years: Option<u32>,
    #[serde(default)]
    pub reports_days: Option<u32>,
}

/// How long records are kept (see the module doc and
/// docs/subject-rights.md for the reasons behind the defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub events_years: u32,
    pub claims_years: u32,
    pub outbox_days: u32,
    pub reports_days: u32,
    pub feeds: BTreeMap<String, FeedRetention>,
}

/// Six years after the case closes: the limitation period for a claim
/// on the grant (Limitation Act 1980) and the usual local-authority
/// schedule for closed family-support case files.
pub const DEFAULT_EVENTS_YEARS: u32 = 6;
/// The same six years: a claim and its verdict are the evidence an audit
/// of a payment-by-results claim asks for.
pub const DEFAULT_CLAIMS_YEARS: u32 = 6;
/// Delivered notices: the coordinator has them; kept a quarter for
/// delivery questions.
pub const DEFAULT_OUTBOX_DAYS: u32 = 90;
/// Rejection reports: long enough for a partner to correct and resend.
pub const DEFAULT_REPORTS_DAYS: u32 = 90;

impl Default for Retention {
    fn default() -> Self {
        Retention {
            events_years: DEFAULT_EVENTS_YEARS,
            claims_years: DEFAULT_CLAIMS_YEARS,
            outbox_days: DEFAULT_OUTBOX_DAYS,
            reports_days: DEFAULT_REPORTS_DAYS,
            feeds: BTreeMap::new(),
        }
    }
}

impl Retention {
    fn events_years(&self, feed: &str) -> u32 {
        self.feeds
            .get(feed)
            .and_then(|f| f.events_years)
            .unwrap_or(self.events_years)
    }
    fn claims_years(&self, feed: &str) -> u32 {
        self.feeds
            .get(feed)
            .and_then(|f| f.claims_years)
            .unwrap_or(self.claims_years)
    }
    fn reports_days(&self, feed: &str) -> u32 {
        self.feeds
            .get(feed)
            .and_then(|f| f.reports_days)
            .unwrap_or(self.reports_days)
    }
}

/// What a purge removed, or would.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    pub today: NaiveDate,
    #[serde(flatten)]
    pub store: Purged,
    /// Rejection report files.
    pub reports: Vec<String>,
    /// Whether the store is marked for a rewrite, so the removed values
    /// leave its files and not only its trees (at the next open).
    pub rewrite_pending: bool,
    /// The rewrite, when the caller made it (`store purge` does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewritten: Option<RewriteFigures>,
}

/// A rewrite the caller made after the purge.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RewriteFigures {
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub seconds: f64,
}

impl PurgeReport {
    /// What went (or would go), by kind, for the audit log.
    pub fn counts(&self) -> std::collections::BTreeMap<String, u64> {
        [
            ("events", self.store.events),
            ("uncertain_links", self.store.uncertain_links),
            ("claims", self.store.claims.len() as u64),
            ("cases", self.store.cases.len() as u64),
            ("notices", self.store.notices),
            ("reports", self.reports.len() as u64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.store == Purged::default() && self.reports.is_empty()
    }
}

/// `date` plus whole years (29 February to 28 February), saturating.
fn after_years(date: NaiveDate, years: u32) -> NaiveDate {
    date.checked_add_months(Months::new(years.saturating_mul(12)))
        .unwrap_or(NaiveDate::MAX)
}

/// Case state per (canonical) person: open somewhere (`None`), or the
/// latest close.
fn closes(
    store: &Store,
    matcher: &Matcher,
) -> Result<HashMap<PersonId, Option<NaiveDate>>, StoreError> {
    let mut out: HashMap<PersonId, Option<NaiveDate>> = HashMap::new();
    for c in store.cases()? {
        for m in &c.members {
            let e = out.entry(matcher.canonical(m.person)).or_insert(c.end);
            *e = match (*e, c.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
    }
    Ok(out)
}

/// Applies `policy` at `now`: removes (or with `dry_run` only lists) what
/// it says has gone past its time.
pub fn purge(
    store: &Store,
    matcher: &Matcher,
    policy: &Retention,
    reports_dir: &Path,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PurgeReport, StoreError> {
    let today = now.date_naive();
    let mut out = PurgeReport {
        dry_run,
        today,
        ..Default::default()
    };
    let cases: HashMap<String, crate::store::CaseRecord> = store
        .cases()?
        .into_iter()
        .map(|c| (c.case_ref.clone(), c))
        .collect();
    // Claims first: what stays of them protects the events and cases.
    let gone_claim = |c: &crate::store::ClaimRecord| {
        let Some(case) = cases.get(&c.case_ref) else {
            return after_years(c.claim_date, policy.claims_years(&store.feed_of(c.seq))) < today;
        };
        let Some(end) = case.end else { return false };
        after_years(
            c.claim_date.max(end),
            policy.claims_years(&store.feed_of(c.seq)),
        ) < today
    };
    let kept_claims: HashSet<String> = store
        .claims()?
        .iter()
        .filter(|c| !gone_claim(c))
        .map(|c| c.case_ref.clone())
        .collect();
    let decisions = store.purge_claims(dry_run, gone_claim, &mut out.store)?;
    // People with a claim still kept on one of their cases.
    let mut claimed: HashSet<PersonId> = HashSet::new();
    for c in cases.values() {
        if kept_claims.contains(&c.case_ref) {
            claimed.extend(c.members.iter().map(|m| matcher.canonical(m.person)));
        }
    }
    let closes = closes(store, matcher)?;
    store.purge_events(
        dry_run,
        |person, rec, ev| {
            let p = matcher.canonical(person);
            if claimed.contains(&p) {
                return false;
            }
            let anchor = match closes.get(&p) {
                Some(None) => return false, // a case of theirs is open
                Some(Some(end)) => ev.last_day(today).max(*end),
                None => ev.last_day(today),
            };
            after_years(anchor, policy.events_years(&rec.feed)) < today
        },
        &mut out.store,
    )?;
    store.purge_cases(
        dry_run,
        |c| {
            let Some(end) = c.end else { return false };
            !kept_claims.contains(&c.case_ref)
                && after_years(end, policy.events_years(&store.feed_of(c.seq))) < today
        },
        &mut out.store,
    )?;
    let claim_keys: Vec<String> = decisions
        .iter()
        .filter_map(|d| serde_json::from_slice::<crate::triangulate::VerdictRecord>(d).ok())
        .map(|v| crate::notify::reconcile::claim_key(&v))
        .collect();
    let cutoff = now - chrono::Duration::days(i64::from(policy.outbox_days));
    store.outbox().purge(
        dry_run,
        |states| {
            states
                .iter()
                .all(|s| s.delivered_at.is_some_and(|t| t < cutoff))
        },
        &claim_keys,
        &mut out.store,
    )?;
    out.reports = purge_reports(reports_dir, policy, now, dry_run);
    // sled keeps removed values in its segments until it reuses them: only
    // a rewrite takes them out of the files.
    if !dry_run && out.store != Purged::default() {
        store.mark_for_rewrite("purge")?;
        out.rewrite_pending = true;
    }
    Ok(out)
}

/// Rejection reports (`SEQ-FEED-rejections.csv`) older than their feed's
/// `reports_days`.
fn purge_reports(dir: &Path, policy: &Retention, now: DateTime<Utc>, dry_run: bool) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(feed) = name
            .strip_suffix("-rejections.csv")
            .and_then(|s| s.split_once('-'))
            .map(|(_, f)| f.to_string())
        else {
            continue;
        };
        let Ok(modified) = e.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let written: DateTime<Utc> = modified.into();
        let days = i64::from(policy.reports_days(&feed));
        if written + chrono::Duration::days(days) >= now {
            continue;
        }
        if !dry_run {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!(file = %name, error = %err, "cannot remove a rejection report");
                continue;
            }
        }
        out.push(name);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        crate::config::Config::parse(
            Path::new("/etc/outcomesd/outcomesd.toml"),
            &format!(
                "data_dir = \"d\"\nkey_file = \"k\"\n[feeds.police]\nkind = \"police\"\n{extra}"
            ),
        )
    }

    #[test]
    fn retention_defaults_per_feed_overrides_and_bad_values_with_their_line() {
        let c = parse("").unwrap();
        assert_eq!(c.retention, Retention::default());
        let c = parse(
            "[feeds.police.retention]\nevents_years = 2\nreports_days = 0\n[retention]\nclaims_years = 7\noutbox_days = 30\n",
        )
        .unwrap();
        let r = &c.retention;
        assert_eq!((r.events_years("police"), r.events_years("dwp")), (2, 6));
        assert_eq!((r.claims_years("police"), r.reports_days("police")), (7, 0));
        assert_eq!((r.outbox_days, r.reports_days("dwp")), (30, 90));
        let err = parse("[retention]\nevents_years = 101\nkeep = 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outcomesd.toml:6: retention.events_years"),
            "{err}"
        );
        assert!(err.contains("retention.keep: unknown field"), "{err}");
    }

    #[test]
    fn years_after_a_leap_day_land_on_the_28th() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(after_years(d("2016-02-29"), 1), d("2017-02-28"));
        assert_eq!(after_years(d("2016-03-01"), 6), d("2022-03-01"));
    }
}
