//! Data subjects' rights: subject access, rectification, restriction,
//! erasure, and retention.
//!
//! In: identifiers typed in for one person ([`input`]), pseudonymised here
//! exactly as ingest keys a row; or the pseudonyms (`p123`) a lookup
//! printed. Out: the people the matcher holds for them ([`find`], scored as
//! a row would be), everything the store holds about each ([`gather`]: a
//! [`PersonReport`], for a subject access request), and the plumbing of
//! `outcomesd subject unlink|restrict|erase` and `store purge`
//! ([`retention`]).
//!
//! Promises:
//! * identifiers never leave this module: a report carries pseudonyms,
//!   case references, feed rows and dates, never a value typed in;
//! * a lookup changes nothing and lists only people a row with these
//!   identifiers would link to; people scored within the review band are
//!   named (pseudonym and score) as possible, and nothing of theirs is
//!   shown;
//! * a namesake (same name, other date of birth or postcode) is ruled out
//!   by the matcher's household guard, as at ingest.

pub mod input;
pub mod retention;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::ingest::matching::{pseudonym, DoubtKind, Found, Matcher, PersonId, Rule};
use crate::ingest::pseudonymise::{token_hex, Pseudonymiser};
use crate::review::{agreement, FieldAgreement};
use crate::store::{Restriction, ReviewDecision, Store, StoreError};
use crate::triangulate::VerdictRecord;

#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("identity {n} is not enough to look anyone up ({reason}): give nhs_number, ni_number or upn, a surname with dob, postcode or address, or a forename with postcode or address")]
    NotIdentifying { n: usize, reason: String },
    #[error("`{0}` is not a person pseudonym (they look like p123, as `subject lookup` prints)")]
    BadPseudonym(String),
    #[error("person {0} is not in the store")]
    NoPerson(String),
    #[error("{a} and {b} are not one person now: there is no merge between them to split")]
    NotMerged { a: String, b: String },
    #[error("no one in the store matches the identifiers given")]
    NoMatch,
}

/// How one identity given matched one person.
#[derive(Debug, Clone, Serialize)]
pub struct Matched {
    /// Which identity given (1 for the first).
    pub identity: usize,
    pub person: String,
    /// Total weight (bits) and the link threshold now.
    pub score: f64,
    pub threshold: f64,
    pub found_by: &'static str,
    /// A row like this would link to the person.
    pub links: bool,
    /// Another person scored as well: check both are the subject.
    pub ambiguous: bool,
    /// Why a possible person is not matched, as review names it:
    /// `below_threshold`, `too_little_to_link` (nothing personal compared:
    /// no strong id, no forename beyond an initial, no whole dob) or
    /// `strong_id_differs` (within the review band above the threshold).
    /// None when matched.
    pub held_because: Option<DoubtKind>,
    pub fields: Vec<FieldAgreement>,
}

/// The people some identities match.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Lookup {
    pub identities: usize,
    /// People a row with these identifiers would link to (all reported).
    pub matched: Vec<Matched>,
    /// People within the review band below the threshold: named only.
    pub possible: Vec<Matched>,
}

impl Lookup {
    /// The canonical people matched.
    pub fn persons(&self, matcher: &Matcher) -> Vec<PersonId> {
        let mut v: Vec<PersonId> = self
            .matched
            .iter()
            .filter_map(|m| parse_pseudonym(&m.person))
            .map(|p| matcher.canonical(p))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// `p123` back to 123.
pub fn parse_pseudonym(s: &str) -> Option<PersonId> {
    s.strip_prefix('p')?.parse().ok()
}

/// A pseudonym given on the command line, as a stored person (canonical).
pub fn person_of(matcher: &Matcher, s: &str) -> Result<PersonId, SubjectError> {
    let p = parse_pseudonym(s.trim()).ok_or_else(|| SubjectError::BadPseudonym(s.into()))?;
    if (p as usize) >= matcher.person_count() {
        return Err(SubjectError::NoPerson(s.into()));
    }
    Ok(matcher.canonical(p))
}

/// Pseudonymises each identity as ingest keys a row and scores it against
/// the matcher, changing nothing.
pub fn find(
    pseudo: &Pseudonymiser,
    matcher: &Matcher,
    ids: &input::Identities,
) -> Result<Lookup, SubjectError> {
    let mut out = Lookup {
        identities: ids.0.len(),
        ..Default::default()
    };
    let mut scratch = String::new();
    let threshold = matcher.threshold();
    for (i, id) in ids.0.iter().enumerate() {
        let tokens = pseudo.pseudonymise(&id.raw(), &mut scratch).map_err(|e| {
            SubjectError::NotIdentifying {
                n: i + 1,
                reason: e.to_string(),
            }
        })?;
        for f in matcher.lookup(&tokens) {
            let m = matched(i + 1, &f, threshold);
            if f.links {
                out.matched.push(m);
            } else if f.possible {
                out.possible.push(m);
            }
        }
    }
    let linked: HashSet<String> = out.matched.iter().map(|m| m.person.clone()).collect();
    out.possible.retain(|m| !linked.contains(&m.person));
    Ok(out)
}

fn matched(identity: usize, f: &Found, threshold: f64) -> Matched {
    let c = &f.candidate;
    Matched {
        identity,
        person: pseudonym(c.person),
        score: f64::from(c.score),
        threshold,
        found_by: f.found_by,
        links: f.links,
        ambiguous: f.ambiguous,
        // As review would name an unlinked row's doubt.
        held_because: (!f.links).then(|| DoubtKind::of(Rule::Weak, c)),
        fields: agreement(&c.levels.levels, &c.weights.map(crate::store::centibits)),
    }
}

/// A stored row of the person, named the way its data owner finds it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldRow {
    pub feed: String,
    pub delivery: u32,
    pub row: u64,
    pub rule: &'static str,
    pub score: f32,
    pub household: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldDelivery {
    pub delivery: u32,
    pub feed: String,
    pub kind: &'static str,
    pub period: Option<String>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldEventRef {
    pub feed: String,
    pub delivery: u32,
    pub kind: &'static str,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    /// False when a later extract of the feed replaced it (still held
    /// until retention purges it).
    pub in_effect: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldCase {
    pub case_ref: String,
    pub role: crate::records::Role,
    pub problems: Vec<String>,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    /// Case deliveries that listed the person.
    pub versions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldClaim {
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub keyworker_ref: Option<String>,
    pub verdict: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Earlier verdicts, oldest first.
    pub history: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldNotice {
    pub id: String,
    pub case_ref: String,
    pub outcome_id: String,
    pub verdict: String,
    /// (sink, when it acknowledged; none while pending).
    pub sinks: Vec<SinkState>,
}

/// Everything the store holds about one person.
#[derive(Debug, Clone, Serialize)]
pub struct PersonReport {
    pub person: String,
    /// Every stored person number merged into this one.
    pub stored_as: Vec<String>,
    /// Month and year of birth (the day is never kept).
    pub born: Option<String>,
    /// Strong identifiers held, keyed (the kind only).
    pub keyed_ids: Vec<&'static str>,
    pub spellings: usize,
    pub restricted: Option<Restriction>,
    pub rows: Vec<HeldRow>,
    pub deliveries: Vec<HeldDelivery>,
    pub events: Vec<HeldEventRef>,
    pub cases: Vec<HeldCase>,
    pub claims: Vec<HeldClaim>,
    pub notices: Vec<HeldNotice>,
    /// Review items naming the person, with their state.
    pub review_items: Vec<String>,
    pub review_decisions: Vec<ReviewDecision>,
}

/// Everything held about (canonical) person `p`.
pub fn gather(store: &Store, matcher: &Matcher, p: PersonId) -> Result<PersonReport, StoreError> {
    let ids = matcher.members(p);
    let idset: HashSet<PersonId> = ids.iter().copied().collect();
    let state = matcher.person(p);
    let mut r = PersonReport {
        person: pseudonym(p),
        stored_as: ids.iter().map(|i| pseudonym(*i)).collect(),
        born: state
            .and_then(|s| s.birth)
            .map(|(y, m)| format!("{y:04}-{m:02}")),
        keyed_ids: state.map_or_else(Vec::new, |s| {
            ["nhs_number", "ni_number", "upn"]
                .into_iter()
                .zip(s.ids)
                .filter(|(_, t)| *t != 0)
                .map(|(n, _)| n)
                .collect()
        }),
        spellings: state.map_or(0, |s| s.variants.len()),
        restricted: {
            let rs = store.restrictions()?;
            ids.iter().find_map(|i| rs.get(i).cloned())
        },
        rows: vec![],
        deliveries: vec![],
        events: vec![],
        cases: vec![],
        claims: vec![],
        notices: vec![],
        review_items: vec![],
        review_decisions: vec![],
    };
    let mut seqs = BTreeSet::new();
    for l in store.links() {
        let l = l?;
        if idset.contains(&l.link.person) {
            seqs.insert(l.seq);
            r.rows.push(HeldRow {
                feed: store.feed_of(l.seq),
                delivery: l.seq,
                row: l.link.row,
                rule: Rule::from_u8(l.link.rule).map_or("?", Rule::name),
                score: l.link.score,
                household: l.link.household.as_ref().map(token_hex),
            });
        }
    }
    for h in store.events_held(&ids)? {
        seqs.insert(h.stored.seq);
        let e = h.stored.event;
        r.events.push(HeldEventRef {
            feed: store.feed_of(h.stored.seq),
            delivery: h.stored.seq,
            kind: e.kind.name(),
            start: e.start,
            end: e.end,
            in_effect: h.in_effect,
        });
    }
    r.events
        .sort_by(|a, b| (a.start, a.delivery, a.kind).cmp(&(b.start, b.delivery, b.kind)));
    let mut case_refs = BTreeSet::new();
    for c in store.cases()? {
        let versions = store.case_versions(&c.case_ref)?;
        let theirs: Vec<_> = versions
            .iter()
            .filter(|v| v.members.iter().any(|m| idset.contains(&m.person)))
            .collect();
        let Some(last) = theirs.last() else { continue };
        let m = last
            .members
            .iter()
            .find(|m| idset.contains(&m.person))
            .expect("a member");
        for v in &theirs {
            seqs.insert(v.seq);
        }
        case_refs.insert(c.case_ref.clone());
        r.cases.push(HeldCase {
            case_ref: c.case_ref.clone(),
            role: m.role,
            problems: m.problems.clone(),
            start: last.start,
            end: last.end,
            versions: theirs.len(),
        });
    }
    for c in store.claims()? {
        if !case_refs.contains(&c.case_ref) {
            continue;
        }
        let v: Option<VerdictRecord> = store
            .verdict(&c.case_ref, &c.outcome_id, c.claim_date)?
            .and_then(|v| serde_json::from_slice(&v).ok());
        r.claims.push(HeldClaim {
            case_ref: c.case_ref.clone(),
            outcome_id: c.outcome_id.clone(),
            claim_date: c.claim_date,
            keyworker_ref: c.keyworker_ref.clone(),
            verdict: v.as_ref().map(|v| v.verdict.name().to_string()),
            decided_at: v.as_ref().map(|v| v.decided_at),
            history: v.as_ref().map_or_else(Vec::new, |v| {
                v.history
                    .iter()
                    .map(|h| h.verdict.name().to_string())
                    .collect()
            }),
        });
    }
    r.notices = notices_of(store, &case_refs)?;
    r.deliveries = seqs
        .into_iter()
        .filter_map(|s| store.delivery(s))
        .map(|d| HeldDelivery {
            delivery: d.seq,
            feed: d.feed.clone(),
            kind: d.kind.name(),
            period: d.period.map(|p| p.to_string()),
            received_at: d.received_at,
        })
        .collect();
    for item in crate::review::queue(store, matcher, false)? {
        if item.person == r.person || item.candidate == r.person {
            r.review_items
                .push(format!("{} ({})", item.id, status_name(&item.status)));
        }
    }
    r.review_decisions = store
        .review_decisions()?
        .into_iter()
        .filter(|d| idset.contains(&d.person) || idset.contains(&d.candidate))
        .collect();
    Ok(r)
}

fn status_name(s: &crate::review::Status) -> &'static str {
    match s {
        crate::review::Status::Open => "open",
        crate::review::Status::Decided { .. } => "decided",
        crate::review::Status::Settled { .. } => "settled",
    }
}

/// A sink, and when it acknowledged a notice (`None` while pending).
type SinkState = (String, Option<DateTime<Utc>>);

/// Every stored notice about one of `cases`, with its delivery per sink.
fn notices_of(store: &Store, cases: &BTreeSet<String>) -> Result<Vec<HeldNotice>, StoreError> {
    let ob = store.outbox();
    let mut by_id: BTreeMap<String, Vec<SinkState>> = BTreeMap::new();
    for (id, sink, st) in ob.states()? {
        by_id.entry(id).or_default().push((sink, st.delivered_at));
    }
    let mut out = Vec::new();
    for (id, sinks) in by_id {
        let Some(json) = ob.notice_json(&id)? else {
            continue;
        };
        let Ok(n) = serde_json::from_slice::<crate::notify::Notice>(&json) else {
            continue;
        };
        if cases.contains(&n.case_ref) {
            out.push(HeldNotice {
                id,
                case_ref: n.case_ref,
                outcome_id: n.outcome_id,
                verdict: n.verdict,
                sinks,
            });
        }
    }
    Ok(out)
}

/// `subject unlink A B`: the two stored people are kept apart from the
/// start of the identity log, so the merge that joined them is not redone
/// at replay. Recorded as a review decision (`different`, item
/// `unlink-A-B`). Returns the decision and the cases to re-decide.
pub fn unlink(
    store: &Store,
    matcher: &Matcher,
    a: PersonId,
    b: PersonId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<(ReviewDecision, Vec<String>), SubjectError> {
    if a == b || matcher.canonical(a) != matcher.canonical(b) {
        return Err(SubjectError::NotMerged {
            a: pseudonym(a),
            b: pseudonym(b),
        });
    }
    let d = ReviewDecision {
        item: format!("unlink-{}-{}", pseudonym(a), pseudonym(b)),
        decision: crate::store::ReviewVerdict::Different,
        person: a,
        candidate: b,
        by: by.to_string(),
        at: now,
        note,
        // Before every delivery: replay keeps the two apart from the start.
        after_seq: 0,
    };
    let cases = cases_of(store, matcher, &[matcher.canonical(a)])?;
    store.put_review_decision(&d)?;
    Ok((d, cases))
}

/// The cases any of (canonical) `persons` is a member of.
pub fn cases_of(
    store: &Store,
    matcher: &Matcher,
    persons: &[PersonId],
) -> Result<Vec<String>, StoreError> {
    Ok(store
        .cases()?
        .into_iter()
        .filter(|c| {
            c.members
                .iter()
                .any(|m| persons.contains(&matcher.canonical(m.person)))
        })
        .map(|c| c.case_ref)
        .collect())
}
