//! The report's charts, drawn by `plotters` into inline SVG strings.
//!
//! In: counts and periods. Out: `<svg>` elements. Promises: text in a chart
//! is escaped by plotters' SVG backend (it writes `&lt;` for `<`, and so
//! on), and a chart refers to nothing outside itself (no fonts or images:
//! labels use the browser's default sans-serif).

use chrono::{Datelike, NaiveDate};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{Counts, FeedCoverage, ReportError};

/// Verdict colours, in [`super::VERDICTS`] order: verified, contradicted,
/// insufficient, attested.
pub const VERDICT_COLOURS: [RGBColor; 4] = [
    RGBColor(0x2e, 0x7d, 0x32),
    RGBColor(0xc6, 0x28, 0x28),
    RGBColor(0xf9, 0xa8, 0x25),
    RGBColor(0x15, 0x65, 0xc0),
];
const COVERED: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
const GAP: RGBColor = RGBColor(0xc6, 0x28, 0x28);

fn chart_err<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> ReportError {
    move |e| ReportError::Chart {
        chart,
        reason: e.to_string(),
    }
}

/// A label cut to `n` characters (a long outcome id must not push the
/// chart off the page).
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Horizontal bars, one per row, each split by verdict.
pub fn stacked_bars(chart: &'static str, rows: &[(String, Counts)]) -> Result<String, ReportError> {
    let err = chart_err(chart);
    let mut svg = String::new();
    let n = rows.len().max(1);
    let height = 60 + 24 * n as u32;
    let max = rows
        .iter()
        .map(|(_, c)| c.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    {
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut c = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(150)
            .build_cartesian_2d(0..max, (0..n).into_segmented())
            .map_err(&err)?;
        c.configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => rows
                    .get(n.wrapping_sub(i + 1))
                    .map(|(name, _)| short(name, 22))
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .x_desc("claims")
            .draw()
            .map_err(&err)?;
        // The first row at the top.
        let bars = rows.iter().enumerate().flat_map(|(r, (_, counts))| {
            let i = n - 1 - r;
            let mut x = 0;
            counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(move |(s, n)| {
                    let from = x;
                    x += n;
                    Rectangle::new(
                        [
                            (from, SegmentValue::Exact(i)),
                            (from + n, SegmentValue::Exact(i + 1)),
                        ],
                        VERDICT_COLOURS[s].filled(),
                    )
                })
                .collect::<Vec<_>>()
        });
        c.draw_series(bars).map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Vertical bars: claims decided per month (`YYYY-MM` labels).
pub fn monthly_bars(
    chart: &'static str,
    months: &[(String, usize)],
) -> Result<String, ReportError> {
    let err = chart_err(chart);
    let mut svg = String::new();
    let n = months.len().max(1);
    let max = months.iter().map(|(_, c)| *c).max().unwrap_or(0).max(1);
    {
        let root = SVGBackend::with_string(&mut svg, (760, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut c = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((0..n).into_segmented(), 0..max)
            .map_err(&err)?;
        c.configure_mesh()
            .disable_x_mesh()
            .x_labels(n.min(24))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                    months.get(*i).map(|(m, _)| m.clone()).unwrap_or_default()
                }
                SegmentValue::Last => String::new(),
            })
            .y_desc("claims decided")
            .draw()
            .map_err(&err)?;
        c.draw_series(months.iter().enumerate().map(|(i, (_, count))| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), *count),
                ],
                VERDICT_COLOURS[0].filled(),
            )
        }))
        .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

fn day(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// One row per feed: covered periods in green, the gaps between them in
/// red, on a shared date axis. `None` when no feed states a period.
pub fn coverage_timeline(feeds: &[FeedCoverage]) -> Result<Option<String>, ReportError> {
    let err = chart_err("coverage");
    let all = feeds.iter().flat_map(|f| f.covered.iter());
    let (Some(lo), Some(hi)) = (
        all.clone().map(|p| day(p.from)).min(),
        all.map(|p| day(p.to)).max(),
    ) else {
        return Ok(None);
    };
    let hi = hi.max(lo + 1) + 1;
    let n = feeds.len();
    let mut svg = String::new();
    {
        let height = 60 + 26 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut c = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(120)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())
            .map_err(&err)?;
        c.configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => feeds
                    .get(n.wrapping_sub(i + 1))
                    .map(|f| short(&f.feed, 18))
                    .unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .x_labels(8)
            .x_label_formatter(&|d| {
                NaiveDate::from_num_days_from_ce_opt(*d)
                    .map(|d| d.format("%Y-%m").to_string())
                    .unwrap_or_default()
            })
            .draw()
            .map_err(&err)?;
        let bar = |i: usize, from: NaiveDate, to: NaiveDate, colour: RGBColor| {
            Rectangle::new(
                [
                    (day(from), SegmentValue::Exact(i)),
                    (day(to) + 1, SegmentValue::Exact(i + 1)),
                ],
                colour.filled(),
            )
        };
        // The first feed at the top.
        let bars = feeds.iter().enumerate().flat_map(|(r, f)| {
            let i = n - 1 - r;
            let covered = f.covered.iter().map(move |p| bar(i, p.from, p.to, COVERED));
            let gaps = f.gaps.iter().map(move |p| bar(i, p.from, p.to, GAP));
            covered.chain(gaps)
        });
        c.draw_series(bars).map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(Some(svg))
}
