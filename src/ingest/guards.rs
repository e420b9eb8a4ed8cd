//! Guards at the door: what a delivery may claim before anything of it is
//! applied.
//!
//! In: a delivery's header (feed, kind, period), its row counts, the feed's
//! earlier committed deliveries, the configured [`Guards`] and the
//! framework's [`Vocabulary`]. Out: a refusal (a period that ends after
//! today), the reasons to hold a delivery (too few rows for what it would
//! replace, an implausibly long period), or a row's [`Rejection`] (a claim
//! dated after today, an outcome or problem code the framework does not
//! have, a claim for a case no delivery has brought).
//!
//! Promises: every check is a comparison of dates, counts or codes already
//! parsed (no I/O, no allocation per accepted event row); a reason names
//! feed, field or column and never a value from the row.

use std::collections::HashSet;

use chrono::NaiveDate;

use crate::ingest::feeds::{FeedError, Rejection, RowBody};
use crate::records::Period;
use crate::store::DeliveryRecord;

/// Configured limits (`[guards]` in the config file, checked there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guards {
    /// Days a period or claim date may lie after today (clocks differ).
    pub clock_skew_days: u32,
    /// A period longer than this many years is held.
    pub max_period_years: u32,
    /// A delivery with fewer accepted rows than this share of what the
    /// feed's previous overlapping delivery had for the same days is held
    /// (0 turns the rule off).
    pub min_share: f64,
    /// A delivery of an event feed with no accepted rows is held.
    pub hold_empty: bool,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            clock_skew_days: 2,
            max_period_years: 10,
            min_share: 0.5,
            hold_empty: true,
        }
    }
}

impl Guards {
    /// The last day a period or a claim may reach, given today.
    pub fn latest(&self, today: NaiveDate) -> NaiveDate {
        today + chrono::Days::new(u64::from(self.clock_skew_days))
    }

    /// Refuses a delivery whose period ends after today (with the skew).
    pub fn check_period(
        &self,
        feed: &str,
        period: Option<Period>,
        from_override: bool,
        today: NaiveDate,
    ) -> Result<(), FeedError> {
        let Some(p) = period else { return Ok(()) };
        let latest = self.latest(today);
        if p.to > latest {
            return Err(FeedError::FuturePeriod {
                feed: feed.to_string(),
                field: if from_override { "--period" } else { "#period" },
                to: p.to,
                today,
                skew: self.clock_skew_days,
            });
        }
        Ok(())
    }

    /// Holds for the period alone: known from the header, before any row.
    pub fn period_reasons(&self, period: Option<Period>) -> Vec<String> {
        let Some(p) = period else { return vec![] };
        let days = (p.to - p.from).num_days() + 1;
        let max_days = i64::from(self.max_period_years) * 36525 / 100;
        if days > max_days {
            vec![format!(
                "its period {p} spans {:.1} years, more than max_period_years = {}",
                days as f64 / 365.25,
                self.max_period_years
            )]
        } else {
            vec![]
        }
    }

    /// The delivery a new one of `feed` covering `period` would replace in
    /// part: the newest committed one of the feed whose period overlaps.
    pub fn previous<'a>(
        &self,
        deliveries: impl Iterator<Item = &'a DeliveryRecord>,
        feed: &str,
        period: Option<Period>,
    ) -> Option<&'a DeliveryRecord> {
        let p = period?;
        deliveries
            .filter(|d| d.feed == feed && d.period.is_some_and(|q| q.overlaps(p.from, p.to)))
            .max_by_key(|d| d.seq)
    }

    /// Holds for what the rows would replace: none accepted, or fewer than
    /// `min_share` of the previous delivery's accepted rows pro rata for the
    /// days both cover.
    pub fn count_reasons(
        &self,
        period: Option<Period>,
        accepted: u64,
        previous: Option<&DeliveryRecord>,
    ) -> Vec<String> {
        let Some(p) = period else { return vec![] };
        if accepted == 0 {
            return if self.hold_empty {
                vec![format!(
                    "it has no accepted rows: as a full extract it would withdraw everything the feed holds for {p}"
                )]
            } else {
                vec![]
            };
        }
        let Some((prev, q)) = previous.and_then(|d| d.period.map(|q| (d, q))) else {
            return vec![];
        };
        if self.min_share <= 0.0 {
            return vec![];
        }
        let both = (p.to.min(q.to) - p.from.max(q.from)).num_days() + 1;
        let theirs = (q.to - q.from).num_days() + 1;
        let expected = prev.accepted as f64 * both as f64 / theirs as f64;
        if (accepted as f64) < self.min_share * expected {
            vec![format!(
                "it has {accepted} accepted rows where delivery {} of the feed had {:.0} for the {both} days both cover: under {:.0}% (min_share)",
                prev.seq,
                expected,
                self.min_share * 100.0
            )]
        } else {
            vec![]
        }
    }
}

/// The codes a framework knows: claims and case rows are checked against it.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub framework: String,
    pub outcomes: HashSet<String>,
    pub problems: HashSet<String>,
}

impl Vocabulary {
    pub fn of(fw: &crate::framework::Framework) -> Vocabulary {
        Vocabulary {
            framework: fw.framework.id.clone(),
            outcomes: fw.outcomes.iter().map(|o| o.id.clone()).collect(),
            problems: fw.problems.iter().map(|p| p.id.to_lowercase()).collect(),
        }
    }
}

/// The row checks of one delivery: built once, asked per case or claim row.
pub(crate) struct Door<'a> {
    /// The last day a claim may be dated.
    pub latest: NaiveDate,
    pub vocab: Option<&'a Vocabulary>,
    /// Case references stored before this delivery (claims deliveries only).
    pub cases: Option<HashSet<String>>,
}

impl Door<'_> {
    /// Why a row may not enter, if it may not. Event rows always pass.
    pub fn check(&self, number: u64, body: &RowBody) -> Option<Rejection> {
        let reject = |column: &str, reason: String| {
            Some(Rejection {
                row: number,
                column: column.to_string(),
                reason,
            })
        };
        match body {
            RowBody::Event(_) => None,
            RowBody::Claim(c) => {
                if c.claim_date > self.latest {
                    return reject(
                        "claim_date",
                        "after today: a claim cannot be dated in the future".into(),
                    );
                }
                if let Some(v) = self.vocab {
                    if !v.outcomes.contains(&c.outcome_id) {
                        return reject(
                            "outcome_id",
                            format!("not an outcome of framework {}", v.framework),
                        );
                    }
                }
                match &self.cases {
                    Some(cases) if !cases.contains(&c.case_ref) => reject(
                        "case_ref",
                        "no stored case has this reference: deliver the case feed first, then claim again"
                            .into(),
                    ),
                    _ => None,
                }
            }
            RowBody::CaseMember(m) => {
                let v = self.vocab?;
                if m.problems.iter().any(|p| !v.problems.contains(p)) {
                    return reject(
                        "problems",
                        format!("a problem code not in framework {}", v.framework),
                    );
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SourceKind;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn prev(accepted: u64, period: &str) -> DeliveryRecord {
        DeliveryRecord {
            seq: 4,
            feed: "police".into(),
            kind: SourceKind::Police,
            period: Period::parse(period),
            content_hash: String::new(),
            received_at: chrono::Utc::now(),
            rows: accepted,
            accepted,
            rejected: 0,
            persons_new: 0,
            records_matched: 0,
            families_touched: 0,
        }
    }

    #[test]
    fn a_period_ending_after_today_plus_skew_is_refused_naming_the_field() {
        let g = Guards::default();
        let today = d("2026-12-01");
        let p = Period::parse("2026-01-01..2026-12-03");
        assert!(g.check_period("police", p, false, today).is_ok());
        let p = Period::parse("2026-01-01..2026-12-04");
        let e = g
            .check_period("police", p, false, today)
            .unwrap_err()
            .to_string();
        assert!(e.contains("police") && e.contains("#period"), "{e}");
    }

    #[test]
    fn share_is_pro_rata_for_the_days_both_cover() {
        let g = Guards::default();
        let old = prev(1000, "2015-01-01..2015-12-31");
        let all = Period::parse("2015-01-01..2015-12-31");
        assert!(g.count_reasons(all, 499, Some(&old)).len() == 1);
        assert!(g.count_reasons(all, 500, Some(&old)).is_empty());
        // A quarter of the year: about 250 expected, 125 the floor.
        let q = Period::parse("2015-10-01..2015-12-31");
        assert!(g.count_reasons(q, 130, Some(&old)).is_empty());
        assert_eq!(g.count_reasons(q, 100, Some(&old)).len(), 1);
        assert_eq!(g.count_reasons(q, 0, None).len(), 1, "empty is held");
        assert!(g.count_reasons(None, 0, None).is_empty(), "no period");
    }

    /// A held delivery leaves the long-lived engine (the daemon's) as it
    /// was: no person it matched is remembered, nothing is in effect.
    #[test]
    fn a_held_delivery_leaves_the_matcher_and_store_as_they_were() {
        use crate::ingest::{Engine, IngestOptions};
        use crate::keys::HmacKey;
        let dir = tempfile::tempdir().unwrap();
        let key = HmacKey::from_bytes("t", [7u8; 32]);
        let mut e = Engine::open(&dir.path().join("data"), &key).unwrap();
        let spec = crate::ingest::feeds::FeedSpec::new("police", SourceKind::Police);
        let head = "record_type,forename,surname,dob,date\n";
        const SUR: [&str; 10] = [
            "Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Roberts", "Walker",
            "Wright",
        ];
        const FORE: [&str; 4] = ["Alice", "Brian", "Carol", "David"];
        let row = |i: usize, month: u32| {
            format!(
                "offence,{},{},{}-{:02}-{:02},2015-{month:02}-01\n",
                FORE[i % 4],
                SUR[i / 4 % 10],
                1950 + i,
                i % 12 + 1,
                i % 28 + 1
            )
        };
        let rows: String = (0..40).map(|i| row(i, 3)).collect();
        let full = format!("#period 2015-01-01..2015-12-31\n{head}{rows}");
        let s = e
            .ingest(&spec, full.as_bytes(), &IngestOptions::default())
            .unwrap();
        assert!(s.hold.is_none());
        let persons = e.matcher().person_count();
        assert!(persons >= 40, "{persons}");
        // Ten new people (born later), a quarter of the rows: held.
        let few: String = (40..50).map(|i| row(i, 4)).collect();
        let small = format!("#period 2015-01-01..2015-12-31\n{head}{few}");
        let s = e
            .ingest(&spec, small.as_bytes(), &IngestOptions::default())
            .unwrap();
        let h = s.hold.expect("held");
        assert!(h.reason.contains("under 50%"), "{}", h.reason);
        assert_eq!(
            e.matcher().person_count(),
            persons,
            "the matcher forgot them"
        );
        assert_eq!(e.store.deliveries().count(), 1, "nothing committed");
        assert_eq!(e.store.coverage(SourceKind::Police).len(), 1);
        let again = e
            .ingest(&spec, small.as_bytes(), &IngestOptions::default())
            .unwrap();
        assert_eq!(again.duplicate_of, Some(h.id), "held again, not applied");
        assert_eq!(e.store.deliveries().count(), 1);

        // The rebuild after a hold drops the old matcher first; if it
        // fails, the delivery fails, nothing reads the empty matcher, and
        // the next delivery rebuilds it before matching anything.
        let other: String = (50..60).map(|i| row(i, 5)).collect();
        let other = format!("#period 2015-01-01..2015-12-31\n{head}{other}");
        e.fail_next_reload.set(true);
        let err = e
            .ingest(&spec, other.as_bytes(), &IngestOptions::default())
            .unwrap_err();
        assert!(
            err.to_string().contains("corrupt") || format!("{err:?}").contains("Corrupt"),
            "{err:?}"
        );
        assert!(e.matcher_lost());
        let read =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.matcher().person_count()));
        assert!(read.is_err(), "an empty matcher is never handed out");
        let s = e
            .ingest(&spec, full.as_bytes(), &IngestOptions::default())
            .unwrap();
        assert!(
            s.duplicate_of.is_some(),
            "the first delivery, already stored"
        );
        assert!(!e.matcher_lost());
        assert_eq!(e.matcher().person_count(), persons, "rebuilt whole");
        assert_eq!(e.store.deliveries().count(), 1, "nothing of the failed one");
    }

    #[test]
    fn long_periods_are_held() {
        let g = Guards::default();
        assert!(g
            .period_reasons(Period::parse("2010-01-01..2019-12-31"))
            .is_empty());
        assert_eq!(
            g.period_reasons(Period::parse("1920-01-01..2019-12-31"))
                .len(),
            1
        );
    }
}
