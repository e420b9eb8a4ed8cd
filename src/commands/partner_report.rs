//! `partner-report`: what a partner's feed evidenced, in aggregate, with
//! small numbers suppressed so nothing identifies a family.
//!
//! In: the config, a feed and a period of claim dates. Out: the claims its
//! records helped decide (a stored verdict whose evidence consulted the
//! feed: its coverage is in the evidence, or for a case or claims feed,
//! every claim), by outcome and verdict, as text or JSON.
//!
//! Promises: only counts leave, never a case, person or date; a count from
//! 1 to 4 is shown as "<5" (primary suppression), and further cells (and
//! totals) are suppressed until no suppressed count can be recovered from
//! a row or column total by subtraction (secondary suppression).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{load_config, open_engine};
use crate::records::{Period, SourceKind};
use crate::triangulate::{self, Verdict, VerdictRecord};

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

pub fn partner_report(config: &Path, feed: &str, period: &str, json: bool) -> Result<()> {
    let period = Period::parse(period).context("--period must be YYYY-MM-DD..YYYY-MM-DD")?;
    let cfg = load_config(config)?;
    let fc = cfg.feed(feed).with_context(|| {
        let names: Vec<_> = cfg.feeds.keys().cloned().collect();
        format!(
            "no feed '{feed}' in {} (feeds: {})",
            config.display(),
            names.join(", ")
        )
    })?;
    let engine = open_engine(&cfg)?;
    let verdicts = triangulate::stored_verdicts(&engine.store)?;
    let r = report_of(&verdicts, feed, fc.spec.kind, period);
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    outln!(
        "feed {} ({}): claims dated {} its records helped decide (counts under {} shown as <5)",
        r.feed,
        r.kind,
        r.period,
        THRESHOLD
    );
    outln!(
        "{:<16} {:>9} {:>12} {:>12} {:>9} {:>7}",
        "outcome",
        "verified",
        "contradicted",
        "insufficient",
        "attested",
        "total"
    );
    for l in r.by_outcome.iter().chain(std::iter::once(&r.totals)) {
        outln!(
            "{:<16} {:>9} {:>12} {:>12} {:>9} {:>7}",
            l.outcome_id,
            l.verified.to_string(),
            l.contradicted.to_string(),
            l.insufficient.to_string(),
            l.attested.to_string(),
            l.total.to_string()
        );
    }
    Ok(())
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
