//! The report page: [`ReportData`] to one self-contained HTML document.
//!
//! In: the gathered figures. Out: a UTF-8 HTML string. Promises: every
//! string from data or config passes through [`esc`]; the page carries a
//! Content-Security-Policy that forbids loading anything (no scripts at
//! all, no external styles, fonts or images), so a council desktop with no
//! internet shows it whole.

use std::fmt::Write as _;

use super::{charts, Counts, NextDecidable, ReportData, ReportError, VERDICTS};
use crate::records::Period;

/// Text made safe for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:62em}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}\
td.n{text-align:right}.note{color:#555;font-style:italic}\
.key span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:middle}";

fn counts_text(c: &Counts) -> String {
    let total: usize = c.iter().sum();
    let parts: Vec<String> = VERDICTS
        .iter()
        .zip(c)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    format!("{total} claims: {}", parts.join(", "))
}

fn periods(ps: &[Period]) -> String {
    if ps.is_empty() {
        return "none".to_string();
    }
    ps.iter()
        .map(|p| format!("{} to {}", p.from, p.to))
        .collect::<Vec<_>>()
        .join("; ")
}

fn legend() -> String {
    let mut s = String::from("<p class=\"key\">");
    for (v, c) in VERDICTS.iter().zip(charts::VERDICT_COLOURS) {
        let _ = write!(
            s,
            "<span style=\"background:#{:02x}{:02x}{:02x}\"></span>{v}",
            c.0, c.1, c.2
        );
    }
    s.push_str("</p>");
    s
}

fn counts_table(out: &mut String, first: &str, rows: &[(String, Counts)]) {
    let _ = write!(out, "<table><tr><th>{}</th>", esc(first));
    for v in VERDICTS {
        let _ = write!(out, "<th>{v}</th>");
    }
    out.push_str("<th>total</th></tr>");
    for (name, c) in rows {
        let _ = write!(out, "<tr><td>{}</td>", esc(name));
        for n in c {
            let _ = write!(out, "<td class=\"n\">{n}</td>");
        }
        let _ = write!(out, "<td class=\"n\">{}</td></tr>", c.iter().sum::<usize>());
    }
    out.push_str("</table>");
}

fn section(out: &mut String, id: &str, title: &str) {
    let _ = write!(out, "<h2 id=\"{id}\">{}</h2>", esc(title));
}

/// The whole page.
pub fn render(d: &ReportData) -> Result<String, ReportError> {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    o.push_str("<title>outcomesd report</title><style>");
    o.push_str(STYLE);
    o.push_str("</style></head><body><h1>outcomesd report</h1>");
    let _ = write!(
        o,
        "<p>Generated {} from the stored decisions{}. Families are named by case reference only.</p>",
        d.generated_at.format("%Y-%m-%d %H:%M UTC"),
        d.framework
            .as_ref()
            .map(|f| format!(" (framework {})", esc(f)))
            .unwrap_or_default()
    );
    let _ = write!(o, "<p id=\"summary\">{}</p>", counts_text(&d.totals));

    section(&mut o, "by-outcome", "Verdicts by outcome");
    let rows: Vec<(String, Counts)> = d.by_outcome.iter().map(|(k, v)| (k.clone(), *v)).collect();
    if rows.is_empty() {
        o.push_str("<p class=\"note\">No claims are stored yet.</p>");
    } else {
        o.push_str(&legend());
        o.push_str(&charts::stacked_bars("verdicts by outcome", &rows)?);
        counts_table(&mut o, "outcome", &rows);
    }

    section(&mut o, "by-problem", "Verdicts by problem");
    let rows: Vec<(String, Counts)> = d.by_problem.iter().map(|(k, v)| (k.clone(), *v)).collect();
    if !rows.is_empty() {
        o.push_str(&legend());
        o.push_str(&charts::stacked_bars("verdicts by problem", &rows)?);
        counts_table(&mut o, "problem", &rows);
    }

    section(&mut o, "per-month", "Claims decided per month");
    o.push_str("<p class=\"note\">A claim counts in the month it reached its current verdict (verified, contradicted or attested).</p>");
    let months: Vec<(String, usize)> = d
        .decided_per_month
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    if !months.is_empty() {
        o.push_str(&charts::monthly_bars("claims per month", &months)?);
        o.push_str("<table><tr><th>month</th><th>claims decided</th></tr>");
        for (m, n) in &months {
            let _ = write!(o, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", esc(m));
        }
        o.push_str("</table>");
    }

    insufficient(&mut o, d);
    coverage(&mut o, d)?;
    review(&mut o, d);

    section(&mut o, "assurance", "Assurance flags");
    match &d.assurance {
        Some(flags) if !flags.is_empty() => {
            o.push_str("<ul>");
            for f in flags {
                let _ = write!(o, "<li>{}</li>", esc(f));
            }
            o.push_str("</ul>");
        }
        Some(_) => o.push_str("<p>No assurance flags are raised.</p>"),
        None => o.push_str(
            "<p class=\"note\">Assurance flags are not available in this build: nothing is shown here.</p>",
        ),
    }

    section(&mut o, "keyworkers", "Claims per keyworker");
    match &d.by_keyworker {
        Some(kw) => {
            let rows: Vec<(String, Counts)> = kw.iter().map(|(k, v)| (k.clone(), *v)).collect();
            counts_table(&mut o, "keyworker", &rows);
        }
        None => o.push_str(
            "<p class=\"note\">No stored claim names a keyworker (the claims feed's keyworker_ref column is empty or absent).</p>",
        ),
    }
    o.push_str("</body></html>\n");
    Ok(o)
}

fn insufficient(o: &mut String, d: &ReportData) {
    section(o, "insufficient", "Insufficient: claims waiting for data");
    let _ = write!(
        o,
        "<p id=\"waiting\">{} claims wait to be decided; {} more are not applicable (no one in the family is in the rule's scope) and wait for nothing.</p>",
        d.insufficient.len(),
        d.not_applicable
    );
    if d.insufficient.is_empty() {
        return;
    }
    o.push_str("<table><tr><th>case</th><th>outcome</th><th>claim date</th><th>can next be decided</th><th>coverage missing</th><th>review items</th></tr>");
    for w in &d.insufficient {
        let next = match &w.next {
            NextDecidable::On(date) => format!("on {date}"),
            NextDecidable::WhenDataArrives => "when the missing coverage arrives".to_string(),
            NextDecidable::Unknown => "no date known".to_string(),
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{next}</td><td>{}</td><td>{}</td></tr>",
            esc(&w.case_ref),
            esc(&w.outcome_id),
            w.claim_date,
            periods(&w.missing),
            esc(&w.awaiting_review.join(", "))
        );
    }
    o.push_str("</table>");
}

fn coverage(o: &mut String, d: &ReportData) -> Result<(), ReportError> {
    section(o, "coverage", "Feed coverage");
    o.push_str(
        "<p class=\"note\">Green: periods the feed's deliveries cover; red: gaps between them.</p>",
    );
    if let Some(svg) = charts::coverage_timeline(&d.coverage)? {
        o.push_str(&svg);
    }
    o.push_str("<table><tr><th>feed</th><th>kind</th><th>deliveries</th><th>covered</th><th>gaps</th></tr>");
    for f in &d.coverage {
        let covered = if f.covered.is_empty() {
            "no period stated".to_string()
        } else {
            periods(&f.covered)
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{covered}</td><td>{}</td></tr>",
            esc(&f.feed),
            esc(&f.kind),
            f.deliveries,
            periods(&f.gaps)
        );
    }
    o.push_str("</table>");
    Ok(())
}

fn review(o: &mut String, d: &ReportData) {
    section(o, "review", "Review queue");
    let _ = write!(
        o,
        "<p id=\"review-count\">{} open review items.</p>",
        d.review.len()
    );
    if d.review.is_empty() {
        return;
    }
    o.push_str("<table><tr><th>item</th><th>row in doubt</th><th>score (bits)</th><th>threshold</th><th>cases</th><th>claims</th></tr>");
    for r in &d.review {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&r.id),
            esc(&r.record),
            r.score,
            r.threshold,
            esc(&r.cases.join(", ")),
            r.claims
        );
    }
    o.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn sample(evil: &str) -> ReportData {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        ReportData {
            generated_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            framework: Some(format!("{evil} 1")),
            totals: [2, 1, 1, 0],
            by_outcome: [(evil.to_string(), [2, 1, 1, 0])].into_iter().collect(),
            by_problem: [(evil.to_string(), [2, 1, 1, 0])].into_iter().collect(),
            decided_per_month: [("2026-11".to_string(), 3)].into_iter().collect(),
            insufficient: vec![Waiting {
                case_ref: evil.to_string(),
                outcome_id: evil.to_string(),
                claim_date: d("2026-01-01"),
                next: NextDecidable::On(d("2027-01-01")),
                missing: vec![],
                awaiting_review: vec![evil.to_string()],
            }],
            not_applicable: 0,
            coverage: vec![FeedCoverage {
                feed: evil.to_string(),
                kind: "police".to_string(),
                deliveries: 2,
                covered: vec![
                    Period {
                        from: d("2016-01-01"),
                        to: d("2016-03-31"),
                    },
                    Period {
                        from: d("2016-05-01"),
                        to: d("2016-06-30"),
                    },
                ],
                gaps: vec![Period {
                    from: d("2016-04-01"),
                    to: d("2016-04-30"),
                }],
            }],
            review: vec![],
            by_keyworker: Some([(evil.to_string(), [1, 0, 0, 0])].into_iter().collect()),
            assurance: None,
        }
    }

    #[test]
    fn every_string_from_data_is_escaped() {
        let evil = "<script>alert('x')</script>&\"";
        let page = render(&sample(evil)).unwrap();
        assert!(!page.contains("<script"), "raw markup reached the page");
        assert!(!page.contains("alert('x')"), "quotes unescaped");
        assert!(page.contains("&lt;script&gt;"), "text kept, escaped");
        assert!(page.contains("4 claims: 2 verified, 1 contradicted, 1 insufficient, 0 attested"));
        assert!(page.contains("on 2027-01-01"));
        assert!(
            page.contains("2016-04-01 to 2016-04-30"),
            "the gap is listed"
        );
    }

    #[test]
    fn the_page_loads_nothing_from_outside() {
        let page = render(&sample("SF-1")).unwrap();
        for bad in ["src=", "href=", "@import", "url(", "<link", "<script"] {
            assert!(!page.contains(bad), "{bad} in the page");
        }
        assert_eq!(page.matches("<svg").count(), 4, "four charts");
    }
}
