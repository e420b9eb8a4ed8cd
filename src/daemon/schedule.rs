//! When to pull: crontab-style schedules, parsed and checked to fire.
//!
//! In: a schedule expression from the config. Out: a `cron::Schedule` and
//! its firing times, or a [`ScheduleError`] naming the field at fault.
//!
//! Promises:
//! * [`parse_schedule`] takes crontab's 5 fields (with crontab's
//!   day-of-week numbers, 0 or 7 = Sunday) or the cron crate's 6-7 fields
//!   with seconds first, or an `@daily`-style alias;
//! * [`first_run_within`] tells a schedule that never fires (`0 2 30 2 *`,
//!   the 30th of February) from one that does, so the config loader can
//!   refuse it instead of the daemon idling for ever;
//! * schedules are evaluated in the configured time zone ([`next_run`];
//!   `timezone`, default Europe/London), so `0 2 * * *` is 02:00 on the
//!   council's clocks in winter and summer alike. Across a clock change: a
//!   time the spring change skips (01:30 on the last Sunday of March in
//!   London) does not occur that day, and a time the autumn change repeats
//!   runs once, at its first occurrence.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A schedule expression that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule {expr:?}: expected 5 fields (minute hour day-of-month month day-of-week, as in crontab) or 6-7 fields with seconds first; found {found}")]
    FieldCount { expr: String, found: usize },
    #[error("schedule {expr:?}: day-of-week {item:?}: {reason} (crontab numbers: 0 or 7 = Sunday, 1 = Monday ... 6 = Saturday, or MON..SUN)")]
    DayOfWeek {
        expr: String,
        item: String,
        reason: String,
    },
    #[error("schedule {expr:?}: both day-of-month and day-of-week are restricted; crontab runs when either matches but this scheduler only when both do, so restrict one and leave the other as *")]
    DayOfMonthAndWeek { expr: String },
    #[error("schedule {expr:?}: {reason}")]
    Invalid { expr: String, reason: String },
}

/// Parses a schedule: crontab's 5 fields (a seconds field of `0` is added
/// and day-of-week numbers are translated to the cron crate's 1 = Sunday
/// ... 7 = Saturday), or the cron crate's own 6-7 fields (seconds first,
/// its own day-of-week numbers), or an `@daily`-style alias.
pub fn parse_schedule(expr: &str) -> Result<cron::Schedule, ScheduleError> {
    let trimmed = expr.trim();
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    let full = match fields.len() {
        1 if trimmed.starts_with('@') => trimmed.to_string(),
        5 => {
            let any = |f: &str| f == "*" || f == "?";
            if !any(fields[2]) && !any(fields[4]) {
                return Err(ScheduleError::DayOfMonthAndWeek { expr: expr.into() });
            }
            let dow =
                crontab_dow(fields[4]).map_err(|(item, reason)| ScheduleError::DayOfWeek {
                    expr: expr.into(),
                    item,
                    reason,
                })?;
            format!(
                "0 {} {} {} {} {}",
                fields[0], fields[1], fields[2], fields[3], dow
            )
        }
        6 | 7 => fields.join(" "),
        found => {
            return Err(ScheduleError::FieldCount {
                expr: expr.into(),
                found,
            })
        }
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        // The crate's message often just repeats the expression: find the
        // field at fault by parsing each one alone, the others set to `*`.
        let all: Vec<&str> = full.split_whitespace().collect();
        const NAMES: [&str; 7] = [
            "second",
            "minute",
            "hour",
            "day-of-month",
            "month",
            "day-of-week",
            "year",
        ];
        let culprit = (0..all.len()).find(|&i| {
            let probe: Vec<&str> = (0..all.len())
                .map(|j| {
                    if j == i {
                        all[j]
                    } else if j == 0 {
                        "0"
                    } else {
                        "*"
                    }
                })
                .collect();
            cron::Schedule::from_str(&probe.join(" ")).is_err()
        });
        let detail = e
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let reason = match culprit {
            Some(i) if all.len() >= 6 => {
                // Show the user's own text for a crontab line.
                let theirs = if fields.len() == 5 && i >= 1 {
                    fields[i - 1]
                } else {
                    all[i]
                };
                format!("the {} field {theirs:?} is not valid ({detail})", NAMES[i])
            }
            _ => format!("not a valid schedule ({detail})"),
        };
        ScheduleError::Invalid {
            expr: expr.into(),
            reason,
        }
    })
}

/// The zone schedules use unless the config names another.
pub const DEFAULT_TIMEZONE: chrono_tz::Tz = chrono_tz::Europe::London;

/// An IANA time zone name (`Europe/London`, `UTC`).
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        format!("unknown time zone {name:?} (an IANA name such as \"Europe/London\" or \"UTC\")")
    })
}

/// The first firing strictly after `after`, the schedule read on the
/// wall clock of `tz`.
pub fn next_run(
    s: &cron::Schedule,
    tz: chrono_tz::Tz,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // The cron crate walks wall-clock times in `tz`: it skips a time the
    // spring change removes and gives a repeated time once (the tests pin
    // both).
    s.after(&after.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// The next `n` firings strictly after `after`.
pub fn next_runs(s: &cron::Schedule, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    s.after(&after).take(n).collect()
}

/// Translates a crontab day-of-week field to the cron crate's numbering,
/// as an explicit set of days (`1-5` -> `2-6`, `0,6` -> `1,7`, `5-7` ->
/// `1,6-7`). Names are accepted and translated the same way; `SUN` at the
/// end of a range means the Sunday that ends the week (`FRI-SUN`).
fn crontab_dow(field: &str) -> Result<String, (String, String)> {
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let mut days = BTreeSet::new(); // crontab numbering, 0 = Sunday
    for item in field.split(',') {
        let err = |reason: &str| (item.to_string(), reason.to_string());
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => {
                let step: u32 = s.parse().map_err(|_| err("the step is not a number"))?;
                if step == 0 {
                    return Err(err("the step must be at least 1"));
                }
                (b, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if base == "*" {
            (0, 7)
        } else if let Some((a, b)) = base.split_once('-') {
            (
                dow_value(a, false).map_err(err)?,
                dow_value(b, true).map_err(err)?,
            )
        } else {
            let v = dow_value(base, false).map_err(err)?;
            // `a/n` means from a to the end of the week, every n days.
            (v, if step.is_some() { 7 } else { v })
        };
        if lo > hi {
            return Err(err(
                "the range runs backwards (crontab does not wrap around the week)",
            ));
        }
        for d in (lo..=hi).step_by(step.unwrap_or(1) as usize) {
            days.insert(d % 7);
        }
    }
    if days.len() == 7 {
        return Ok("*".to_string());
    }
    // To cron numbering (1 = Sunday), compressed into runs.
    let cron_days: Vec<u32> = days
        .iter()
        .map(|d| d + 1)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cron_days.len() {
        let start = cron_days[i];
        let mut end = start;
        while i + 1 < cron_days.len() && cron_days[i + 1] == end + 1 {
            i += 1;
            end = cron_days[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    Ok(parts.join(","))
}

/// A crontab day-of-week value: 0-7 or a three-letter name. `SUN` at the
/// end of a range is 7.
fn dow_value(s: &str, range_end: bool) -> Result<u32, &'static str> {
    if let Ok(n) = s.parse::<u32>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err("numbers run from 0 to 7")
        };
    }
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    match NAMES.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        Some(0) if range_end => Ok(7),
        Some(i) => Ok(i as u32),
        None => Err("not a day number or name"),
    }
}

/// The first firing strictly after `after` and no later than `horizon`
/// after it, or `None` if the schedule does not fire in that window.
pub fn first_run_within(
    s: &cron::Schedule,
    after: DateTime<Utc>,
    horizon: chrono::Duration,
) -> Option<DateTime<Utc>> {
    s.after(&after).next().filter(|t| *t <= after + horizon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};
    use std::collections::HashSet;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Runs of `expr` in London from `from`, `n` of them, in UTC.
    fn london(expr: &str, from: &str, n: usize) -> Vec<DateTime<Utc>> {
        let s = parse_schedule(expr).unwrap();
        let mut at = utc(from);
        let mut out = Vec::new();
        for _ in 0..n {
            at = next_run(&s, DEFAULT_TIMEZONE, at).unwrap();
            out.push(at);
        }
        out
    }

    #[test]
    fn a_london_schedule_keeps_the_wall_clock_across_both_changes() {
        // 02:00 daily: 02:00 UTC in winter, 01:00 UTC in summer (BST).
        // Clocks go forward on 2026-03-29 and back on 2026-10-25.
        assert_eq!(
            london("0 2 * * *", "2026-03-27T12:00:00Z", 4),
            [
                utc("2026-03-28T02:00:00Z"),
                utc("2026-03-29T01:00:00Z"),
                utc("2026-03-30T01:00:00Z"),
                utc("2026-03-31T01:00:00Z"),
            ]
        );
        assert_eq!(
            london("0 2 * * *", "2026-10-23T12:00:00Z", 4),
            [
                utc("2026-10-24T01:00:00Z"),
                utc("2026-10-25T02:00:00Z"),
                utc("2026-10-26T02:00:00Z"),
                utc("2026-10-27T02:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_skipped_time_does_not_run_and_a_repeated_one_runs_once() {
        // 01:30 does not exist in London on 2026-03-29.
        assert_eq!(
            london("30 1 * * *", "2026-03-28T12:00:00Z", 2),
            [utc("2026-03-30T00:30:00Z"), utc("2026-03-31T00:30:00Z")]
        );
        // 01:30 happens twice on 2026-10-25 (00:30 UTC in BST, 01:30 UTC
        // in GMT): it runs at the first only.
        assert_eq!(
            london("30 1 * * *", "2026-10-24T12:00:00Z", 2),
            [utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
        );
        // Every 30 minutes through the repeated hour: each wall-clock time
        // once, so 01:00 and 01:30 are not run again in GMT.
        assert_eq!(
            london("*/30 * * * *", "2026-10-24T23:50:00Z", 6),
            [
                utc("2026-10-25T00:00:00Z"), // 01:00 BST
                utc("2026-10-25T00:30:00Z"), // 01:30 BST
                utc("2026-10-25T02:00:00Z"), // 02:00 GMT
                utc("2026-10-25T02:30:00Z"),
                utc("2026-10-25T03:00:00Z"),
                utc("2026-10-25T03:30:00Z"),
            ]
        );
    }

    #[test]
    fn utc_and_unknown_zones() {
        let s = parse_schedule("0 2 * * *").unwrap();
        let tz = parse_timezone("UTC").unwrap();
        assert_eq!(
            next_run(&s, tz, utc("2026-07-01T12:00:00Z")),
            Some(utc("2026-07-02T02:00:00Z"))
        );
        assert!(parse_timezone("Europe/Londres")
            .unwrap_err()
            .contains("Europe/London"));
    }

    fn after() -> DateTime<Utc> {
        // A Wednesday.
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn crontab_monday_and_sunday() {
        let mon = next_runs(&parse_schedule("0 2 * * 1").unwrap(), after(), 3);
        assert_eq!(mon.len(), 3);
        for t in &mon {
            assert_eq!(t.weekday(), Weekday::Mon, "{t}");
            assert_eq!((t.hour(), t.minute(), t.second()), (2, 0, 0));
            assert!(*t > after());
        }
        for expr in ["0 2 * * 0", "0 2 * * 7", "0 2 * * SUN", "0 2 * * sun"] {
            for t in next_runs(&parse_schedule(expr).unwrap(), after(), 3) {
                assert_eq!(t.weekday(), Weekday::Sun, "{expr}: {t}");
            }
        }
        for t in next_runs(&parse_schedule("0 2 * * 6").unwrap(), after(), 3) {
            assert_eq!(t.weekday(), Weekday::Sat);
        }
    }

    #[test]
    fn crontab_day_lists_and_ranges() {
        let days = |expr: &str| -> HashSet<Weekday> {
            next_runs(&parse_schedule(expr).unwrap(), after(), 21)
                .iter()
                .map(|t| t.weekday())
                .collect()
        };
        use Weekday::*;
        assert_eq!(
            days("0 2 * * 1-5"),
            HashSet::from([Mon, Tue, Wed, Thu, Fri])
        );
        assert_eq!(
            days("0 2 * * MON-FRI"),
            HashSet::from([Mon, Tue, Wed, Thu, Fri])
        );
        assert_eq!(days("0 2 * * 0,6"), HashSet::from([Sat, Sun]));
        assert_eq!(days("0 2 * * 5-7"), HashSet::from([Fri, Sat, Sun]));
        assert_eq!(days("0 2 * * FRI-SUN"), HashSet::from([Fri, Sat, Sun]));
        assert_eq!(days("0 2 * * */2"), HashSet::from([Sun, Tue, Thu, Sat]));
        assert_eq!(days("0 2 * * 1-5/2"), HashSet::from([Mon, Wed, Fri]));
        assert_eq!(days("0 2 * * 0-7").len(), 7);

        assert_eq!(crontab_dow("1-5").unwrap(), "2-6");
        assert_eq!(crontab_dow("0,6").unwrap(), "1,7");
        assert_eq!(crontab_dow("5-7").unwrap(), "1,6-7");
        assert_eq!(crontab_dow("7").unwrap(), "1");
        assert_eq!(crontab_dow("0-6").unwrap(), "*");
    }

    #[test]
    fn every_fifteen_minutes() {
        let runs = next_runs(&parse_schedule("*/15 * * * *").unwrap(), after(), 5);
        assert_eq!(runs[0], after() + chrono::Duration::minutes(15));
        for w in runs.windows(2) {
            assert_eq!(w[1] - w[0], chrono::Duration::minutes(15));
        }
    }

    #[test]
    fn six_and_seven_field_forms_pass_through() {
        // The crate's own numbering: 2 = Monday.
        let s = parse_schedule("30 0 2 * * 2").unwrap();
        for t in next_runs(&s, after(), 3) {
            assert_eq!(t.weekday(), Weekday::Mon);
            assert_eq!(t.second(), 30);
        }
        assert!(parse_schedule("0 0 2 * * * 2030").is_ok());
        assert!(parse_schedule("@daily").is_ok());
    }

    #[test]
    fn junk_is_a_clear_error() {
        let e = parse_schedule("every tuesday").unwrap_err();
        assert!(
            matches!(e, ScheduleError::FieldCount { found: 2, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("expected 5 fields"), "{e}");
        assert!(matches!(
            parse_schedule(""),
            Err(ScheduleError::FieldCount { found: 0, .. })
        ));
        let e = parse_schedule("0 2 * * 8").unwrap_err();
        assert!(matches!(e, ScheduleError::DayOfWeek { .. }), "{e:?}");
        assert!(e.to_string().contains("0 or 7 = Sunday"), "{e}");
        assert!(matches!(
            parse_schedule("0 2 * * FUNDAY"),
            Err(ScheduleError::DayOfWeek { .. })
        ));
        assert!(matches!(
            parse_schedule("0 2 * * 5-1"),
            Err(ScheduleError::DayOfWeek { .. })
        ));
        assert!(matches!(
            parse_schedule("0 2 * * */0"),
            Err(ScheduleError::DayOfWeek { .. })
        ));
        let e = parse_schedule("61 2 * * *").unwrap_err();
        assert!(matches!(e, ScheduleError::Invalid { .. }), "{e:?}");
        assert_eq!(
            e.to_string().split(" (").next().unwrap(),
            "schedule \"61 2 * * *\": the minute field \"61\" is not valid"
        );
        let e = parse_schedule("0 2 * 13 *").unwrap_err();
        assert!(e.to_string().contains("the month field \"13\""), "{e}");
        let e = parse_schedule("0 0 25 * * *").unwrap_err();
        assert!(e.to_string().contains("the hour field \"25\""), "{e}");
        let e = parse_schedule("0 2 1 * 1").unwrap_err();
        assert!(
            matches!(e, ScheduleError::DayOfMonthAndWeek { .. }),
            "{e:?}"
        );
    }

    #[test]
    fn a_schedule_that_never_fires_is_told_apart() {
        let eight_years = chrono::Duration::days(8 * 366);
        let feb30 = parse_schedule("0 2 30 2 *").unwrap();
        assert_eq!(first_run_within(&feb30, after(), eight_years), None);
        let daily = parse_schedule("0 2 * * *").unwrap();
        assert_eq!(
            first_run_within(&daily, after(), eight_years),
            Some(Utc.with_ymd_and_hms(2025, 1, 2, 2, 0, 0).unwrap())
        );
        // Leap day: fires within eight years, not within one.
        let leap = parse_schedule("0 2 29 2 *").unwrap();
        let t = first_run_within(
            &leap,
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            eight_years,
        );
        assert_eq!(t.map(|t| t.year()), Some(2028));
        assert_eq!(
            first_run_within(&leap, after(), chrono::Duration::days(365)),
            None
        );
    }
}
