//! Case assembly: everything one case's claims are decided on, loaded once
//! per case.
//!
//! In: a stored case, the matcher (merges, households, births), the open
//! review doubts and the store's events and coverage. Out: [`CaseData`]
//! with members as pseudonymous person ids, and apart from them the events
//! of records that may be a member's but await review. Promises: ages and
//! year groups come from month and year of birth only; a possible record's
//! events never count as a member's, they only hold a verdict back.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use crate::ingest::matching::{Matcher, PersonId};
use crate::records::{EventKind, Period, Role, SourceKind};
use crate::review::Doubts;
use crate::store::{CaseRecord, Store, StoreError};

/// A member as triangulation sees them.
#[derive(Debug, Clone)]
pub struct Member {
    pub person: PersonId,
    pub role: Option<Role>,
    pub problems: Vec<String>,
    pub birth: Option<(i32, u32)>,
}

/// Everything one case's claims are decided on, loaded once per case.
#[derive(Debug, Clone)]
pub struct CaseData {
    pub case: CaseRecord,
    pub members: Vec<Member>,
    /// People linked to a member's address who are not members.
    pub household: Vec<Member>,
    /// Visible events per (canonical) person.
    pub events: HashMap<PersonId, Vec<crate::records::Event>>,
    /// Per source kind, the days every feed of it covers.
    pub coverage: HashMap<SourceKind, Vec<Period>>,
    /// Per source kind, each feed's own coverage (for explanations).
    pub feeds: HashMap<SourceKind, Vec<(String, Vec<Period>)>>,
    /// Records that may be a member's, awaiting review (see `crate::review`).
    pub possible: Vec<Possible>,
    /// Events in effect that reached a member (or household person) through
    /// an uncertain link.
    pub uncertain: Vec<Uncertain>,
}

/// An event that reached a person through an uncertain link: a row linked
/// by a margin within the review band above the threshold.
#[derive(Debug, Clone)]
pub struct Uncertain {
    /// The row, as `FEED delivery N row M`.
    pub link: String,
    /// The (canonical) person it reached.
    pub person: PersonId,
    /// Bits above the link threshold.
    pub margin: f32,
    pub source: Option<SourceKind>,
    pub event: crate::records::Event,
}

/// A record (a person the matcher kept separate) that may be a member's.
#[derive(Debug, Clone)]
pub struct Possible {
    /// The review item.
    pub item: String,
    /// The member it may belong to.
    pub member: PersonId,
    /// The kind of feed it came in.
    pub source: Option<SourceKind>,
    /// Its events.
    pub events: Vec<crate::records::Event>,
}

pub use crate::ingest::matching::pseudonym;

/// How many doubts deep a member's possible records are followed: a row
/// that may be the member (one hop), and a row that may be that row's
/// person (two), who may be the member if both are. At 60,000 families one
/// false verified came through such a chain: an offence left beside a
/// person the partner's rows made, who was in doubt with the member.
pub const DOUBT_HOPS: usize = 2;

/// The open doubts that may, through up to [`DOUBT_HOPS`] undecided items,
/// be records of `member`, each once (an item has one candidate, and each
/// person is visited once). The chain goes on only through people no case
/// member is: another member's own doubts are gathered for them.
fn doubts_reaching<'a>(
    doubts: &'a Doubts,
    member: PersonId,
    members: &[Member],
) -> Vec<&'a crate::review::Doubt> {
    let is_member = |p: PersonId| members.iter().any(|x| x.person == p);
    let mut seen = vec![member];
    let mut frontier = vec![member];
    let mut out = Vec::new();
    for _ in 0..DOUBT_HOPS {
        let mut next = Vec::new();
        for &p in &frontier {
            for d in doubts.of(p) {
                out.push(d);
                if !is_member(d.person) && !seen.contains(&d.person) {
                    seen.push(d.person);
                    next.push(d.person);
                }
            }
        }
        frontier = next;
    }
    out
}

impl CaseData {
    /// Loads a case's members (after merges), household links, events and
    /// the coverage of every source.
    pub fn load(
        store: &Store,
        matcher: &Matcher,
        doubts: &Doubts,
        case: CaseRecord,
    ) -> Result<CaseData, StoreError> {
        let mut members: Vec<Member> = Vec::new();
        for m in &case.members {
            let c = matcher.canonical(m.person);
            if let Some(existing) = members.iter_mut().find(|x| x.person == c) {
                existing.problems.extend(m.problems.iter().cloned());
                continue;
            }
            members.push(Member {
                person: c,
                role: Some(m.role),
                problems: m.problems.clone(),
                birth: matcher.person(c).and_then(|s| s.birth),
            });
        }
        let mut household = Vec::new();
        for m in &case.members {
            let Some(addr) = m.address.as_deref().and_then(|h| hex::decode(h).ok()) else {
                continue;
            };
            let Ok(addr) = <[u8; 16]>::try_from(addr.as_slice()) else {
                continue;
            };
            for &p in matcher.household(&addr) {
                let c = matcher.canonical(p);
                if !members.iter().any(|x| x.person == c)
                    && !household.iter().any(|x: &Member| x.person == c)
                {
                    household.push(Member {
                        person: c,
                        role: None,
                        problems: vec![],
                        birth: matcher.person(c).and_then(|s| s.birth),
                    });
                }
            }
        }
        let mut ids: Vec<PersonId> = Vec::new();
        let mut owner: HashMap<PersonId, PersonId> = HashMap::new();
        for m in members.iter().chain(household.iter()) {
            for id in matcher.members(m.person) {
                ids.push(id);
                owner.insert(id, m.person);
            }
        }
        let far_past = NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
        let far_future = NaiveDate::from_ymd_opt(2200, 1, 1).expect("date");
        let mut events: HashMap<PersonId, Vec<crate::records::Event>> = HashMap::new();
        let stored = store.events(&ids, &EventKind::ALL, far_past, far_future)?;
        // An uncertain link's event counts only while it is in effect (a
        // later full extract of its feed may have replaced it). Most cases
        // have none, so a scan per link beats indexing every event.
        let mut uncertain = Vec::new();
        for m in members.iter().chain(household.iter()) {
            for u in doubts.uncertain_of(m.person) {
                let in_effect = stored
                    .iter()
                    .any(|se| (se.person, se.seq, se.event) == (u.person, u.seq, u.event));
                if in_effect {
                    uncertain.push(Uncertain {
                        link: u.link.to_string(),
                        person: m.person,
                        margin: u.margin,
                        source: u.source,
                        event: u.event,
                    });
                }
            }
        }
        for se in stored {
            events.entry(owner[&se.person]).or_default().push(se.event);
        }
        for v in events.values_mut() {
            v.sort();
            v.dedup();
        }
        let mut possible = Vec::new();
        for m in &members {
            for d in doubts_reaching(doubts, m.person, &members) {
                let ids = matcher.members(d.person);
                let mut evs: Vec<_> = store
                    .events(&ids, &EventKind::ALL, far_past, far_future)?
                    .into_iter()
                    .map(|se| se.event)
                    .collect();
                evs.sort();
                evs.dedup();
                possible.push(Possible {
                    item: d.item.clone(),
                    member: m.person,
                    source: d.source,
                    events: evs,
                });
            }
        }
        let coverage = SourceKind::ALL
            .iter()
            .map(|k| (*k, store.coverage(*k)))
            .collect();
        let feeds = SourceKind::ALL
            .iter()
            .map(|k| {
                let per_feed = store
                    .feeds_of(*k)
                    .into_iter()
                    .map(|f| {
                        let c = store.feed_coverage(&f);
                        (f, c)
                    })
                    .collect();
                (*k, per_feed)
            })
            .collect();
        Ok(CaseData {
            case,
            members,
            household,
            events,
            coverage,
            feeds,
            possible,
            uncertain,
        })
    }

    /// This case as it would be if the possible records `take` were the
    /// members'.
    pub(crate) fn with_possible(&self, take: &[&Possible]) -> CaseData {
        let mut d = self.clone();
        d.possible.clear();
        for p in take {
            let v = d.events.entry(p.member).or_default();
            v.extend(p.events.iter().cloned());
            v.sort();
            v.dedup();
        }
        d
    }

    /// This case as it would be without the events of the uncertain links
    /// `drop` (each event once: another row may have carried the same).
    pub(crate) fn without_uncertain(&self, drop: &[&Uncertain]) -> CaseData {
        let mut d = self.clone();
        d.uncertain.clear();
        for u in drop {
            if let Some(v) = d.events.get_mut(&u.person) {
                if let Some(i) = v.iter().position(|e| *e == u.event) {
                    v.remove(i);
                }
            }
        }
        d
    }

    pub(crate) fn events_of(&self, p: PersonId) -> &[crate::records::Event] {
        self.events.get(&p).map_or(&[], Vec::as_slice)
    }
}

/// National curriculum year group at `d` (reception 0, year 1 is 1, ...):
/// children born September to August start reception together in the
/// September after their fourth birthday, so month and year of birth decide
/// it exactly.
pub fn year_group(birth: (i32, u32), d: NaiveDate) -> i32 {
    let (y, m) = birth;
    let cohort = if m >= 9 { y } else { y - 1 };
    let school_year = if d.month() >= 9 {
        d.year()
    } else {
        d.year() - 1
    };
    school_year - cohort - 5
}

/// Age in whole years at `d`, from month and year of birth.
pub fn age_at(birth: (i32, u32), d: NaiveDate) -> i32 {
    let (y, m) = birth;
    d.year() - y - if d.month() < m { 1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triangulate::tests::d;

    #[test]
    fn year_groups_from_month_and_year() {
        // born September 2004 to August 2005: reception in 2009/10, year 6 in
        // 2015/16
        assert_eq!(year_group((2004, 9), d("2009-09-01")), 0);
        assert_eq!(year_group((2005, 8), d("2010-07-31")), 0);
        assert_eq!(year_group((2005, 8), d("2015-09-01")), 6);
        assert_eq!(year_group((2004, 9), d("2016-07-31")), 6);
        assert_eq!(year_group((2004, 8), d("2016-07-31")), 7);
        assert_eq!(year_group((2004, 9), d("2016-09-01")), 7);
    }
    #[test]
    fn ages_from_month_and_year() {
        assert_eq!(age_at((2000, 6), d("2018-05-31")), 17);
        assert_eq!(age_at((2000, 6), d("2018-06-01")), 18);
    }
}
