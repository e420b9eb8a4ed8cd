//! Outcome feedback: what a partner's feed evidenced, in aggregate, with
//! small numbers suppressed so nothing identifies a family; and the same
//! aggregate sent to the partner on a schedule, as a receipt.
//!
//! In: stored verdicts, a feed, a period of claim dates; for the schedule,
//! a firing time, the zone it is read in and how many calendar months a
//! report covers (`[feeds.NAME.receipts] report_schedule`, `report_months`).
//! Out: a [`PartnerReport`] (the claims whose evidence consulted the feed:
//! its coverage is in the evidence, or for a case or claims feed, every
//! claim; by outcome and verdict), and for the schedule a [`ScheduledReport`]
//! queued in the receipts outbox.
//!
//! Promises:
//! * only counts leave, never a case, person, pseudonym or date; a count
//!   from 1 to 4 is shown as "<5" (primary suppression), and further cells
//!   (and totals) are suppressed until no suppressed count can be recovered
//!   from a row or column total by subtraction (secondary suppression);
//! * a scheduled report covers whole calendar months of claim dates: the
//!   `months` months before the month the schedule fires in, read on the
//!   wall clock of the configured zone ([`report_period`]); its id is a pure
//!   function of feed and period ([`report_id`]), so a second firing in the
//!   same month, or one after a restart, finds it queued and queues nothing:
//!   one report per (feed, period), delivered at least once.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::records::{Period, SourceKind};
use crate::triangulate::{Verdict, VerdictRecord};

/// Counts below this are suppressed.
pub const THRESHOLD: u64 = 5;

const VERDICTS: [Verdict; 4] = [
    Verdict::Verified,
    Verdict::Contradicted,
    Verdict::Insufficient,
    Verdict::Attested,
];

/// A count as published: the number, or suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Count(u64),
    Suppressed,
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Count(n) => s.serialize_u64(*n),
            Cell::Suppressed => s.serialize_str("<5"),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Count(n) => write!(f, "{n}"),
            Cell::Suppressed => f.write_str("<5"),
        }
    }
}

/// A table of counts with row and column totals, suppressed as the module
/// promises. `counts[r][c]`; the last row and column are the totals.
pub fn suppress(counts: &[Vec<u64>]) -> Vec<Vec<Cell>> {
    let rows = counts.len();
    let cols = counts.first().map_or(0, Vec::len);
    // With totals: (rows + 1) x (cols + 1).
    let mut full: Vec<Vec<u64>> = counts.to_vec();
    for r in full.iter_mut() {
        let t = r.iter().sum();
        r.push(t);
    }
    let totals: Vec<u64> = (0..=cols)
        .map(|c| full.iter().map(|r| r[c]).sum())
        .collect();
    full.push(totals);
    let mut hidden: Vec<Vec<bool>> = full
        .iter()
        .map(|r| r.iter().map(|&n| (1..THRESHOLD).contains(&n)).collect())
        .collect();
    // A line (row or column, totals included) with exactly one hidden
    // cell gives it away: hide the smallest other non-zero cell, or the
    // total if the rest are zero (zeros are published: hiding one would
    // not protect anything a zero total does not already say).
    loop {
        let mut changed = false;
        let lines: Vec<Vec<(usize, usize)>> = (0..=rows)
            .map(|r| (0..=cols).map(|c| (r, c)).collect())
            .chain((0..=cols).map(|c| (0..=rows).map(|r| (r, c)).collect()))
            .collect();
        for line in lines {
            let n_hidden = line.iter().filter(|&&(r, c)| hidden[r][c]).count();
            if n_hidden != 1 {
                continue;
            }
            let pick = line
                .iter()
                .filter(|&&(r, c)| !hidden[r][c] && full[r][c] > 0)
                .min_by_key(|&&(r, c)| full[r][c]);
            if let Some(&(r, c)) = pick {
                hidden[r][c] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    full.iter()
        .zip(&hidden)
        .map(|(r, h)| {
            r.iter()
                .zip(h)
                .map(|(&n, &h)| if h { Cell::Suppressed } else { Cell::Count(n) })
                .collect()
        })
        .collect()
}

/// One outcome's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeLine {
    pub outcome_id: String,
    pub verified: Cell,
    pub contradicted: Cell,
    pub insufficient: Cell,
    pub attested: Cell,
    pub total: Cell,
}

/// What a feed's data evidenced over a period.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerReport {
    pub feed: String,
    pub kind: SourceKind,
    pub period: Period,
    pub suppressed_below: u64,
    pub by_outcome: Vec<OutcomeLine>,
    pub totals: OutcomeLine,
}

/// Whether the feed's records were consulted for this verdict.
fn consulted(v: &VerdictRecord, feed: &str, kind: SourceKind) -> bool {
    if !kind.carries_events() {
        // Every claim rests on its case and on the claim itself.
        return true;
    }
    v.decision.evidence.iter().any(|e| {
        if e.feeds.is_empty() {
            e.sources.contains(&kind) && !e.coverage.is_empty()
        } else {
            e.feeds
                .iter()
                .any(|f| f.feed == feed && !f.covered.is_empty())
        }
    })
}

/// The report from stored verdicts.
pub fn report_of(
    verdicts: &[VerdictRecord],
    feed: &str,
    kind: SourceKind,
    period: Period,
) -> PartnerReport {
    let mut counts: BTreeMap<&str, [u64; 4]> = BTreeMap::new();
    for v in verdicts
        .iter()
        .filter(|v| period.contains(v.claim_date) && consulted(v, feed, kind))
    {
        let i = VERDICTS.iter().position(|x| *x == v.verdict).unwrap_or(2);
        counts.entry(v.outcome_id.as_str()).or_default()[i] += 1;
    }
    let ids: Vec<&str> = counts.keys().copied().collect();
    let table: Vec<Vec<u64>> = counts.values().map(|c| c.to_vec()).collect();
    let cells = if table.is_empty() {
        vec![vec![Cell::Count(0); 5]]
    } else {
        suppress(&table)
    };
    let line = |id: &str, r: &[Cell]| OutcomeLine {
        outcome_id: id.to_string(),
        verified: r[0],
        contradicted: r[1],
        insufficient: r[2],
        attested: r[3],
        total: r[4],
    };
    PartnerReport {
        feed: feed.to_string(),
        kind,
        period,
        suppressed_below: THRESHOLD,
        by_outcome: ids.iter().zip(&cells).map(|(id, r)| line(id, r)).collect(),
        totals: line("total", cells.last().expect("a totals row")),
    }
}

/// When a feed's report is sent and what it covers (validated by the
/// config check).
#[derive(Debug, Clone)]
pub struct ReportSchedule {
    /// As written.
    pub text: String,
    pub schedule: cron::Schedule,
    /// Calendar months a report covers, ending with the month before the
    /// firing's (1: the previous month).
    pub months: u32,
    /// The zone the schedule and the months are read in.
    pub timezone: chrono_tz::Tz,
}

/// The claim dates a report fired at `at` covers: the `months` whole
/// calendar months before the month `at` falls in, on `tz`'s calendar.
pub fn report_period(at: DateTime<Utc>, tz: chrono_tz::Tz, months: u32) -> Period {
    let local = at.with_timezone(&tz).date_naive();
    let this_month = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).expect("day 1");
    let to = this_month.pred_opt().unwrap_or(this_month);
    let from = this_month
        .checked_sub_months(Months::new(months.max(1)))
        .unwrap_or(NaiveDate::MIN);
    Period { from, to }
}

/// The id of a feed's report for a period: `rct_` (it travels as a
/// receipt) and the first 16 bytes (hex) of SHA-256 over feed and period.
pub fn report_id(feed: &str, period: Period) -> String {
    let mut h = Sha256::new();
    h.update(b"outcomesd partner report v1\0");
    h.update(feed.as_bytes());
    h.update([0]);
    h.update(period.to_string().as_bytes());
    format!("rct_{}", hex::encode(&h.finalize()[..16]))
}

/// What the daemon sends: the report with an id and a type
/// (`partner.report`), as docs/feeds.md shows.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledReport {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub generated_at: DateTime<Utc>,
    #[serde(flatten)]
    pub report: PartnerReport,
}

impl ScheduledReport {
    pub fn new(report: PartnerReport, generated_at: DateTime<Utc>) -> Self {
        ScheduledReport {
            id: report_id(&report.feed, report.period),
            kind: "partner.report",
            generated_at,
            report,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(cells: &[Vec<Cell>]) -> Vec<Vec<Option<u64>>> {
        cells
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Cell::Count(n) => Some(*n),
                        Cell::Suppressed => None,
                    })
                    .collect()
            })
            .collect()
    }

    /// No hidden cell is the only hidden one of its row or column, so none
    /// is the difference of a shown total and shown cells.
    fn unrecoverable(cells: &[Vec<Cell>]) -> bool {
        let rows = cells.len();
        let cols = cells[0].len();
        let row_ok = (0..rows).all(|r| {
            (0..cols)
                .filter(|&c| cells[r][c] == Cell::Suppressed)
                .count()
                != 1
        });
        let col_ok = (0..cols).all(|c| {
            (0..rows)
                .filter(|&r| cells[r][c] == Cell::Suppressed)
                .count()
                != 1
        });
        row_ok && col_ok
    }

    #[test]
    fn small_counts_are_hidden_and_cannot_be_recovered_from_totals() {
        let t = suppress(&[vec![12, 3, 0, 0], vec![20, 9, 7, 0]]);
        assert!(unrecoverable(&t), "{t:?}");
        let n = nums(&t);
        assert_eq!(n[0][1], None, "3 is hidden");
        assert_eq!(n[0][0], None, "and the row's next smallest with it");
        assert_eq!(n[0][2], Some(0), "zeros are shown");
        assert_eq!(
            n[2][1],
            Some(12),
            "the column total is shown: two cells hidden in it"
        );
        assert_eq!(t[1][1], Cell::Suppressed);
        assert_eq!(n[2][4], Some(51));
    }

    #[test]
    fn a_lone_small_cell_hides_its_row_total() {
        let t = suppress(&[vec![2, 0, 0, 0], vec![30, 10, 10, 6]]);
        assert!(unrecoverable(&t), "{t:?}");
        assert_eq!(t[0][0], Cell::Suppressed);
        assert_eq!(t[0][4], Cell::Suppressed, "its total would say it");
    }

    #[test]
    fn nothing_small_nothing_hidden() {
        let t = suppress(&[vec![5, 6, 0, 7]]);
        assert!(t.iter().flatten().all(|c| *c != Cell::Suppressed));
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn period(s: &str) -> Period {
        Period::parse(s).unwrap()
    }

    #[test]
    fn a_report_covers_the_whole_months_before_the_firing_on_the_councils_calendar() {
        let london = chrono_tz::Europe::London;
        assert_eq!(
            report_period(utc("2026-12-01T06:00:00Z"), london, 1),
            period("2026-11-01..2026-11-30")
        );
        assert_eq!(
            report_period(utc("2026-03-01T00:30:00Z"), london, 1),
            period("2026-02-01..2026-02-28")
        );
        assert_eq!(
            report_period(utc("2027-01-15T12:00:00Z"), london, 12),
            period("2026-01-01..2026-12-31"),
            "a rolling year"
        );
        // 23:30 UTC on 31 May is 00:30 on 1 June in London (summer time):
        // the council's June, so May is covered; in UTC it is still May.
        let t = utc("2026-05-31T23:30:00Z");
        assert_eq!(
            report_period(t, london, 1),
            period("2026-05-01..2026-05-31")
        );
        assert_eq!(
            report_period(t, chrono_tz::UTC, 1),
            period("2026-04-01..2026-04-30")
        );
    }

    #[test]
    fn every_firing_in_a_month_names_the_same_report() {
        let s = crate::daemon::schedule::parse_schedule("0 6 * * *").unwrap();
        let tz = chrono_tz::Europe::London;
        let mut t = utc("2026-10-31T12:00:00Z");
        let mut ids = Vec::new();
        for _ in 0..40 {
            t = crate::daemon::schedule::next_run(&s, tz, t).unwrap();
            ids.push(report_id("police", report_period(t, tz, 1)));
        }
        // 1-30 November name October's report, 1-9 December November's.
        ids.dedup();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(
            ids[0],
            report_id("police", period("2026-10-01..2026-10-31"))
        );
        assert!(crate::notify::receipt::is_receipt_id(&ids[0]), "{}", ids[0]);
        assert_ne!(
            report_id("police", period("2026-10-01..2026-10-31")),
            report_id("dwp", period("2026-10-01..2026-10-31"))
        );
        assert_ne!(
            report_id("police", period("2026-10-01..2026-10-31")),
            report_id("police", period("2025-11-01..2026-10-31")),
            "a different span is a different report"
        );
    }

    #[test]
    fn a_scheduled_report_is_the_aggregate_with_an_id_and_type() {
        let r = report_of(
            &[],
            "police",
            SourceKind::Police,
            period("2026-10-01..2026-10-31"),
        );
        let s = ScheduledReport::new(r, utc("2026-11-01T06:00:00Z"));
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["type"], "partner.report");
        assert_eq!(
            v["id"],
            report_id("police", period("2026-10-01..2026-10-31"))
        );
        assert_eq!(v["feed"], "police");
        assert_eq!(v["period"]["from"], "2026-10-01");
        assert_eq!(v["suppressed_below"], 5);
        assert_eq!(v["totals"]["total"], 0);
    }

    proptest::proptest! {
        #[test]
        fn any_table_is_safe(table in proptest::collection::vec(proptest::collection::vec(0u64..12, 4), 1..6)) {
            let t = suppress(&table);
            proptest::prop_assert!(unrecoverable(&t), "{:?} -> {:?}", table, t);
            for (r, row) in table.iter().enumerate() {
                for (c, n) in row.iter().enumerate() {
                    if (1..THRESHOLD).contains(n) {
                        proptest::prop_assert_eq!(t[r][c], Cell::Suppressed);
                    }
                }
            }
        }
    }
}
