//! The coordinators' and IG report: one self-contained HTML page.
//!
//! In: the store (stored verdicts, claims, deliveries, the review queue)
//! and the config's feeds, read only. Out: [`ReportData`], the figures, and
//! [`html::render`], the page. Promises: nothing is written to the store
//! (the page shows the decisions as stored, as of the time they were made);
//! the page names families by case reference only (no pseudonym, no
//! identifier), and every string from data or config is escaped; the page
//! loads nothing from anywhere (no scripts, fonts, images or styles from
//! outside it: council desktops may have no internet).

pub mod charts;
pub mod html;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use crate::ingest::Engine;
use crate::records::Period;
use crate::store::StoreError;
use crate::triangulate::{self, Verdict, VerdictRecord};

/// Report failures.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("drawing the {chart} chart: {reason}")]
    Chart { chart: &'static str, reason: String },
}

/// The four verdicts, in the order the page shows them.
pub const VERDICTS: [Verdict; 4] = [
    Verdict::Verified,
    Verdict::Contradicted,
    Verdict::Insufficient,
    Verdict::Attested,
];

/// Claims per verdict, in [`VERDICTS`] order.
pub type Counts = [usize; 4];

fn slot(v: Verdict) -> usize {
    VERDICTS
        .iter()
        .position(|x| *x == v)
        .expect("every verdict")
}

/// An undecided claim and when it can next be decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub next: NextDecidable,
    /// Periods of the sources the rule needs that no delivery covers yet.
    pub missing: Vec<Period>,
    /// Review items the decision waits on.
    pub awaiting_review: Vec<String>,
}

/// When an undecided claim can next be decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "when", content = "date")]
pub enum NextDecidable {
    /// Not before this date: its window has not ended yet.
    On(NaiveDate),
    /// Its window has ended: as soon as the missing coverage is delivered.
    WhenDataArrives,
    /// Triangulation gave no date (e.g. it waits on review only).
    Unknown,
}

/// One feed's coverage: the periods its deliveries cover and the gaps
/// between them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedCoverage {
    pub feed: String,
    pub kind: String,
    pub deliveries: usize,
    pub covered: Vec<Period>,
    pub gaps: Vec<Period>,
}

/// One open review item, as the page shows it (no pseudonym).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewRow {
    pub id: String,
    pub record: String,
    pub score: f64,
    pub threshold: f64,
    pub cases: Vec<String>,
    pub claims: usize,
}

/// Everything on the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportData {
    pub generated_at: DateTime<Utc>,
    pub framework: Option<String>,
    pub totals: Counts,
    /// Outcome id → counts, outcomes in id order.
    pub by_outcome: BTreeMap<String, Counts>,
    /// Problem → counts (`(none)` where the outcome names none).
    pub by_problem: BTreeMap<String, Counts>,
    /// `YYYY-MM` → claims that reached their current decided verdict
    /// (verified, contradicted or attested) that month.
    pub decided_per_month: BTreeMap<String, usize>,
    pub insufficient: Vec<Waiting>,
    /// Undecided claims set aside as not applicable (no one in scope).
    pub not_applicable: usize,
    pub coverage: Vec<FeedCoverage>,
    pub review: Vec<ReviewRow>,
    /// Keyworker → counts; `None` when no claim names a keyworker.
    pub by_keyworker: Option<BTreeMap<String, Counts>>,
    /// Assurance flags, where a build provides them (none yet).
    pub assurance: Option<Vec<String>>,
}

/// The date a claim reached its current verdict: the start of the last
/// unbroken run of that verdict in its history.
pub fn reached_at(v: &VerdictRecord) -> DateTime<Utc> {
    let mut at = v.decided_at;
    for h in v.history.iter().rev() {
        if h.verdict != v.verdict {
            break;
        }
        at = h.decided_at;
    }
    at
}

/// When an undecided claim can next be decided, as of `today`.
pub fn next_decidable(v: &VerdictRecord, today: NaiveDate) -> NextDecidable {
    match v.decision.earliest_decidable {
        Some(d) if d > today => NextDecidable::On(d),
        // Triangulation sets the decision day itself when the window has
        // ended: data for it can come any time.
        Some(_) => NextDecidable::WhenDataArrives,
        None if !v.decision.missing.is_empty() => NextDecidable::WhenDataArrives,
        None => NextDecidable::Unknown,
    }
}

/// The days between sorted, disjoint periods.
pub fn gaps(covered: &[Period]) -> Vec<Period> {
    covered
        .windows(2)
        .filter_map(|w| {
            let from = w[0].to.succ_opt()?;
            let to = w[1].from.pred_opt()?;
            (from <= to).then_some(Period { from, to })
        })
        .collect()
}

/// The assurance flags (`outcomesd assurance`), a line each: what, who,
/// why, and how many claims it names.
fn assurance_lines(
    engine: &Engine,
    verdicts: &[triangulate::VerdictRecord],
) -> Result<Vec<String>, ReportError> {
    use crate::assurance::{assess, Input, Thresholds};
    let claims = engine.store.claims()?;
    let deliveries: Vec<_> = engine.store.deliveries().cloned().collect();
    let report = assess(
        &Input {
            claims: &claims,
            verdicts,
            deliveries: &deliveries,
        },
        &Thresholds::default(),
    );
    Ok(report
        .flags
        .iter()
        .map(|f| {
            format!(
                "{} — {}: {} ({}; {} claim{})",
                f.kind.name(),
                f.subject,
                f.why,
                f.test,
                f.claims.len(),
                if f.claims.len() == 1 { "" } else { "s" }
            )
        })
        .collect())
}

/// Gathers the figures from the store, reading only.
pub fn gather(
    engine: &Engine,
    feeds: &BTreeMap<String, crate::config::FeedConfig>,
    framework: Option<&crate::framework::Framework>,
    now: DateTime<Utc>,
) -> Result<ReportData, ReportError> {
    let store = &engine.store;
    let today = now.date_naive();
    let mut verdicts = triangulate::stored_verdicts(store)?;
    verdicts.sort_by(|a, b| {
        (&a.case_ref, &a.outcome_id, a.claim_date).cmp(&(&b.case_ref, &b.outcome_id, b.claim_date))
    });
    let mut data = ReportData {
        generated_at: now,
        framework: framework.map(|f| format!("{} {}", f.framework.id, f.framework.version)),
        totals: [0; 4],
        by_outcome: BTreeMap::new(),
        by_problem: BTreeMap::new(),
        decided_per_month: BTreeMap::new(),
        insufficient: Vec::new(),
        not_applicable: 0,
        coverage: Vec::new(),
        review: Vec::new(),
        by_keyworker: None,
        assurance: None,
    };
    let keyworker: HashMap<(String, String, NaiveDate), String> = store
        .claims()?
        .into_iter()
        .filter_map(|c| Some(((c.case_ref, c.outcome_id, c.claim_date), c.keyworker_ref?)))
        .collect();
    let mut by_kw: BTreeMap<String, Counts> = BTreeMap::new();
    for v in &verdicts {
        let s = slot(v.verdict);
        data.totals[s] += 1;
        data.by_outcome.entry(v.outcome_id.clone()).or_default()[s] += 1;
        let problem = v.problem.clone().unwrap_or_else(|| "(none)".to_string());
        data.by_problem.entry(problem).or_default()[s] += 1;
        let key = (v.case_ref.clone(), v.outcome_id.clone(), v.claim_date);
        if let Some(kw) = keyworker.get(&key) {
            by_kw.entry(kw.clone()).or_default()[s] += 1;
        }
        match v.verdict {
            Verdict::Insufficient if v.decision.not_applicable => data.not_applicable += 1,
            Verdict::Insufficient => data.insufficient.push(Waiting {
                case_ref: v.case_ref.clone(),
                outcome_id: v.outcome_id.clone(),
                claim_date: v.claim_date,
                next: next_decidable(v, today),
                missing: v.decision.missing.clone(),
                awaiting_review: v.decision.awaiting_review.clone(),
            }),
            _ => {
                let at = reached_at(v);
                let month = format!("{:04}-{:02}", at.year(), at.month());
                *data.decided_per_month.entry(month).or_default() += 1;
            }
        }
    }
    // Soonest first; dated before undated.
    data.insufficient.sort_by(|a, b| {
        let rank = |w: &Waiting| match w.next {
            NextDecidable::WhenDataArrives => (0, None),
            NextDecidable::On(d) => (1, Some(d)),
            NextDecidable::Unknown => (2, None),
        };
        (rank(a), &a.case_ref).cmp(&(rank(b), &b.case_ref))
    });
    if !by_kw.is_empty() {
        data.by_keyworker = Some(by_kw);
    }
    data.assurance = Some(assurance_lines(engine, &verdicts)?);
    // Every configured feed, and any feed that delivered but is no longer
    // configured.
    let mut names: BTreeMap<String, String> = feeds
        .iter()
        .map(|(n, f)| (n.clone(), f.spec.kind.to_string()))
        .collect();
    let mut delivered: HashMap<&str, usize> = HashMap::new();
    for d in store.deliveries() {
        *delivered.entry(d.feed.as_str()).or_default() += 1;
        names
            .entry(d.feed.clone())
            .or_insert_with(|| d.kind.to_string());
    }
    for (feed, kind) in names {
        let covered = store.feed_coverage(&feed);
        data.coverage.push(FeedCoverage {
            deliveries: delivered.get(feed.as_str()).copied().unwrap_or(0),
            gaps: gaps(&covered),
            covered,
            feed,
            kind,
        });
    }
    for item in crate::review::queue(store, engine.matcher(), true)? {
        data.review.push(ReviewRow {
            id: item.id,
            record: item.record.to_string(),
            score: item.score,
            threshold: item.threshold,
            cases: item.cases,
            claims: item.claims,
        });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn gaps_are_the_days_between_periods() {
        let p = |a, b| Period {
            from: d(a),
            to: d(b),
        };
        let covered = [
            p("2016-01-01", "2016-03-31"),
            p("2016-04-01", "2016-04-30"),
            p("2016-07-01", "2016-12-31"),
        ];
        assert_eq!(gaps(&covered), vec![p("2016-05-01", "2016-06-30")]);
        assert!(gaps(&covered[..1]).is_empty());
    }
}
