//! The school-term calendar: three terms a year, autumn (1 September to 31
//! December), spring (1 January to 31 March) and summer (1 April to 31 July;
//! August belongs to summer for window arithmetic).
//!
//! In: dates and `YYYY-autumn|spring|summer` names. Out: terms as their first
//! day or as [`Period`]s. Promises: one calendar for ingest (attendance rows
//! name a term) and triangulation (windows of whole terms), so the two cannot
//! drift.

use chrono::{Datelike, NaiveDate};

use super::Period;

/// A school term `YYYY-autumn|spring|summer` as its first and last day.
pub fn parse_term(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, t) = s.trim().split_once('-')?;
    let y: i32 = y.parse().ok().filter(|y| (1990..=2100).contains(y))?;
    let month = match t.to_ascii_lowercase().as_str() {
        "autumn" => 9,
        "spring" => 1,
        "summer" => 4,
        _ => return None,
    };
    let start = NaiveDate::from_ymd_opt(y, month, 1)?;
    Some((start, term_end(start)))
}

/// The term containing a date, as its first day (for window arithmetic).
pub fn term_of(d: NaiveDate) -> NaiveDate {
    let m = match d.month() {
        1..=3 => 1,
        4..=8 => 4,
        _ => 9,
    };
    NaiveDate::from_ymd_opt(d.year(), m, 1).expect("valid term start")
}

/// The last day of the term that starts at `start`.
pub fn term_end(start: NaiveDate) -> NaiveDate {
    let (m, d) = match start.month() {
        9 => (12, 31),
        1 => (3, 31),
        _ => (7, 31),
    };
    NaiveDate::from_ymd_opt(start.year(), m, d).expect("term end")
}

/// The first day of the term before the one starting at `start`.
pub fn prev_term(start: NaiveDate) -> NaiveDate {
    let (y, m) = match start.month() {
        9 => (start.year(), 4),
        4 => (start.year(), 1),
        _ => (start.year() - 1, 9),
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("term start")
}

/// The first day of the term after the one starting at `start`.
pub fn next_term(start: NaiveDate) -> NaiveDate {
    let (y, m) = match start.month() {
        1 => (start.year(), 4),
        4 => (start.year(), 9),
        _ => (start.year() + 1, 1),
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("term start")
}

fn term(start: NaiveDate) -> Period {
    Period {
        from: start,
        to: term_end(start),
    }
}

/// The last `n` complete terms ending on or before `d`, oldest first.
pub fn terms_ending_by(d: NaiveDate, n: u32) -> Vec<Period> {
    let mut t = term_of(d);
    if term_end(t) > d {
        t = prev_term(t);
    }
    let mut out: Vec<Period> = (0..n)
        .map(|_| {
            let p = term(t);
            t = prev_term(t);
            p
        })
        .collect();
    out.reverse();
    out
}

/// The first `n` terms starting after `d`.
pub fn terms_starting_after(d: NaiveDate, n: u32) -> Vec<Period> {
    let mut t = next_term(term_of(d));
    (0..n)
        .map(|_| {
            let p = term(t);
            t = next_term(t);
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn terms() {
        let (s, e) = parse_term("2015-autumn").unwrap();
        assert_eq!((s.month(), e.month()), (9, 12));
        assert!(parse_term("2015-winter").is_none());
        assert_eq!(
            term_of(NaiveDate::from_ymd_opt(2016, 5, 5).unwrap()).month(),
            4
        );
    }

    #[test]
    fn terms_before_a_date() {
        let t = terms_ending_by(d("2016-05-10"), 3);
        assert_eq!(t[0].from, d("2015-04-01"));
        assert_eq!(t[2].from, d("2016-01-01"));
        assert_eq!(t[2].to, d("2016-03-31"));
        // on the last day of a term, that term counts
        let t = terms_ending_by(d("2015-12-31"), 1);
        assert_eq!(t[0].from, d("2015-09-01"));
        let t = terms_starting_after(d("2015-12-31"), 2);
        assert_eq!((t[0].from, t[1].from), (d("2016-01-01"), d("2016-04-01")));
    }
}
