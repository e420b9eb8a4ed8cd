//! Review: the doubts matching left, as a blind clerical-review queue.
//!
//! In: the store's doubts (rows left unlinked although a candidate scored
//! within the review band below the threshold, or two candidates were too
//! close to choose between), the matcher (merges, decisions honoured), the
//! cases and claims. Out: queue [`Item`]s naming the two records by feed,
//! delivery and row with their agreement pattern (comparison levels and
//! weights, never a value), the families and claims they affect; the open
//! doubts per member that triangulation must respect, and the uncertain
//! links (rows linked within the band above the threshold) whose verdicts
//! it marks ([`Doubts`]); and
//! [`decide`], which records a reviewer's decision and applies it.
//!
//! Promises:
//! * an item is open until a reviewer decides it, or later matching settles
//!   it (the two records became one person, or a decision elsewhere kept
//!   them apart); only open items hold claims back;
//! * items that affect a claim come first;
//! * a decision is durable before `decide` returns, never replaced, and
//!   honoured by every later delivery and after a restart (the store
//!   replays it at the point it was made: `same` joins the two people,
//!   `different` keeps them apart for good);
//! * nothing here shows an identifier value: reviewers look the rows up in
//!   the data owner's own systems by feed, delivery and row.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ingest::matching::{pseudonym, DoubtKind, Field, Level, Matcher, PersonId, FIELDS};
use crate::records::SourceKind;
use crate::store::{ReviewDecision, ReviewRecord, ReviewVerdict, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no review item {0}: ids look like 12-345-1 (delivery, row, candidate); see `outcomesd review list`")]
    NoItem(String),
    #[error("review item {id} was already decided ({decision:?} by {by} at {at})")]
    AlreadyDecided {
        id: String,
        decision: ReviewVerdict,
        by: String,
        at: DateTime<Utc>,
    },
    #[error("review item {id} is settled already: {why}")]
    Settled { id: String, why: &'static str },
    #[error("review item {id}: a reviewer kept these two people apart before, so `same` cannot join them")]
    KeptApart { id: String },
    #[error("a reviewer's name is required (--by, or the USER environment variable)")]
    NoReviewer,
}

/// Where an item stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Status {
    Open,
    Decided {
        decision: ReviewDecision,
    },
    /// Settled without a reviewer, and why.
    Settled {
        why: &'static str,
    },
}

/// A stored row named the way its data owner can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordRef {
    pub feed: String,
    pub delivery: u32,
    pub row: u64,
}

impl std::fmt::Display for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} delivery {} row {}",
            self.feed, self.delivery, self.row
        )
    }
}

/// One field's agreement in an item: its level and weight, never a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldAgreement {
    pub field: &'static str,
    pub level: &'static str,
    /// Bits: positive for agreement, negative against.
    pub weight: f64,
}

/// One queue item, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: String,
    pub kind: &'static str,
    pub status: Status,
    /// The row in doubt.
    pub record: RecordRef,
    /// A stored row of the candidate person (their first), when found.
    pub candidate_record: Option<RecordRef>,
    pub person: String,
    pub candidate: String,
    pub score: f64,
    /// The link threshold at the time of listing (bits).
    pub threshold: f64,
    pub fields: Vec<FieldAgreement>,
    /// Families (case references) either person belongs to.
    pub cases: Vec<String>,
    /// Claims of those families.
    pub claims: usize,
}

/// Field agreement of a stored candidate.
pub fn agreement(levels: &[u8; FIELDS], weights: &[i16; FIELDS]) -> Vec<FieldAgreement> {
    Field::ALL
        .iter()
        .map(|f| FieldAgreement {
            field: f.name(),
            level: Level::from_u8(levels[*f as usize]).name(*f),
            weight: f64::from(weights[*f as usize]) / 100.0,
        })
        .collect()
}

/// Where a doubt stands, given the decisions and the matcher.
fn status(
    r: &ReviewRecord,
    decisions: &HashMap<String, ReviewDecision>,
    matcher: &Matcher,
) -> Status {
    if let Some(d) = decisions.get(&r.id()) {
        return Status::Decided {
            decision: d.clone(),
        };
    }
    if matcher.canonical(r.person) == matcher.canonical(r.candidate.person) {
        return Status::Settled {
            why: "later records linked the two as one person",
        };
    }
    if matcher.kept_apart(r.person, r.candidate.person) {
        return Status::Settled {
            why: "a decision on another item kept the two apart",
        };
    }
    Status::Open
}

/// An open doubt as triangulation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doubt {
    pub item: String,
    /// The person the doubtful row went to (canonical).
    pub person: PersonId,
    /// The kind of feed the row came in.
    pub source: Option<SourceKind>,
}

/// A row linked by a margin within the review band (an *uncertain link*),
/// as triangulation sees it: a verdict that would change without its event
/// is marked.
#[derive(Debug, Clone, PartialEq)]
pub struct UncertainLink {
    /// The row, named the way its data owner can find it.
    pub link: RecordRef,
    /// The delivery it came in and the person it went to (as stored), to
    /// match its event against the events still in effect.
    pub seq: u32,
    pub person: PersonId,
    /// Bits above the link threshold.
    pub margin: f32,
    pub source: Option<SourceKind>,
    pub event: crate::records::Event,
}

/// What matching was unsure of, per (canonical) person: open doubts by the
/// candidate they might belong to, and uncertain links by the person they
/// went to.
#[derive(Debug, Clone, Default)]
pub struct Doubts {
    by_candidate: HashMap<PersonId, Vec<Doubt>>,
    uncertain: HashMap<PersonId, Vec<UncertainLink>>,
}

impl Doubts {
    /// The open doubts of the store, as the matcher now stands.
    pub fn load(store: &Store, matcher: &Matcher) -> Result<Doubts, StoreError> {
        let decisions = decisions_by_item(store)?;
        let mut d = Doubts::default();
        for r in store.reviews()? {
            if status(&r, &decisions, matcher) == Status::Open {
                let (row_person, candidate) = (
                    matcher.canonical(r.person),
                    matcher.canonical(r.candidate.person),
                );
                // Such an item's row went to the member, and the person it
                // names may be the member's other records: it is the
                // member's doubt, reaching that person.
                let (key, person) = match r.kind {
                    DoubtKind::RenamedBesideMember => (row_person, candidate),
                    _ => (candidate, row_person),
                };
                d.by_candidate.entry(key).or_default().push(Doubt {
                    item: r.id(),
                    person,
                    source: store.delivery(r.seq).map(|d| d.kind),
                });
            }
        }
        for (seq, n) in store.narrow_links()? {
            let Some(rec) = store.delivery(seq) else {
                continue;
            };
            d.uncertain
                .entry(matcher.canonical(n.person))
                .or_default()
                .push(UncertainLink {
                    link: RecordRef {
                        feed: rec.feed.clone(),
                        delivery: seq,
                        row: n.row,
                    },
                    seq,
                    person: n.person,
                    margin: f32::from(n.margin) / 100.0,
                    source: Some(rec.kind),
                    event: n.event,
                });
        }
        Ok(d)
    }

    /// Uncertain links that reached (canonical) person `p`.
    pub fn uncertain_of(&self, p: PersonId) -> &[UncertainLink] {
        self.uncertain.get(&p).map_or(&[], Vec::as_slice)
    }

    /// How many uncertain links there are.
    pub fn uncertain_len(&self) -> usize {
        self.uncertain.values().map(Vec::len).sum()
    }

    /// Open doubts that may be records of (canonical) person `p`.
    pub fn of(&self, p: PersonId) -> &[Doubt] {
        self.by_candidate.get(&p).map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.by_candidate.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_candidate.values().map(Vec::len).sum()
    }
}

fn decisions_by_item(store: &Store) -> Result<HashMap<String, ReviewDecision>, StoreError> {
    Ok(store
        .review_decisions()?
        .into_iter()
        .map(|d| (d.item.clone(), d))
        .collect())
}

/// How many review items are open (waiting for a decision): cheap enough
/// for the daemon to count after every delivery.
pub fn open_count(store: &Store, matcher: &Matcher) -> Result<usize, StoreError> {
    let decisions = decisions_by_item(store)?;
    Ok(store
        .reviews()?
        .iter()
        .filter(|r| status(r, &decisions, matcher) == Status::Open)
        .count())
}

/// The whole queue (open items first, those affecting claims first among
/// them, then by score), or only the open items.
pub fn queue(store: &Store, matcher: &Matcher, open_only: bool) -> Result<Vec<Item>, StoreError> {
    let decisions = decisions_by_item(store)?;
    let records = store.reviews()?;
    let mut items: Vec<(ReviewRecord, Status)> = records
        .into_iter()
        .map(|r| {
            let s = status(&r, &decisions, matcher);
            (r, s)
        })
        .filter(|(_, s)| !open_only || *s == Status::Open)
        .collect();
    // Families and claims per canonical person.
    let mut cases_of: HashMap<PersonId, BTreeSet<String>> = HashMap::new();
    for c in store.cases()? {
        for m in &c.members {
            cases_of
                .entry(matcher.canonical(m.person))
                .or_default()
                .insert(c.case_ref.clone());
        }
    }
    let mut claims_of: HashMap<String, usize> = HashMap::new();
    for c in store.claims()? {
        *claims_of.entry(c.case_ref).or_default() += 1;
    }
    // The first stored row of each candidate, found in one pass.
    let mut first_row: HashMap<PersonId, Option<RecordRef>> = items
        .iter()
        .map(|(r, _)| (matcher.canonical(r.candidate.person), None))
        .collect();
    if !first_row.is_empty() {
        for l in store.links() {
            let l = l?;
            let p = matcher.canonical(l.link.person);
            if let Some(slot @ None) = first_row.get_mut(&p) {
                let feed = store.feed_of(l.seq);
                *slot = Some(RecordRef {
                    feed,
                    delivery: l.seq,
                    row: l.link.row,
                });
            }
        }
    }
    let threshold = matcher.threshold();
    let mut out: Vec<Item> = items
        .drain(..)
        .map(|(r, status)| {
            let (a, b) = (
                matcher.canonical(r.person),
                matcher.canonical(r.candidate.person),
            );
            let mut cases: BTreeSet<String> = BTreeSet::new();
            for p in [a, b] {
                if let Some(c) = cases_of.get(&p) {
                    cases.extend(c.iter().cloned());
                }
            }
            let claims = cases
                .iter()
                .map(|c| claims_of.get(c).copied().unwrap_or(0))
                .sum();
            Item {
                id: r.id(),
                kind: r.kind.name(),
                status,
                record: RecordRef {
                    feed: store.feed_of(r.seq),
                    delivery: r.seq,
                    row: r.row,
                },
                candidate_record: first_row.get(&b).cloned().flatten(),
                person: pseudonym(a),
                candidate: pseudonym(b),
                score: f64::from(r.candidate.score),
                threshold,
                fields: agreement(&r.candidate.levels.levels, &r.candidate.weights),
                cases: cases.into_iter().collect(),
                claims,
            }
        })
        .collect();
    out.sort_by(|x, y| {
        let open = |i: &Item| i.status != Status::Open;
        open(x)
            .cmp(&open(y))
            .then((y.claims > 0).cmp(&(x.claims > 0)))
            .then(y.score.total_cmp(&x.score))
            .then(x.id.cmp(&y.id))
    });
    Ok(out)
}

/// Records a reviewer's decision on item `id` and applies it to `matcher`.
/// Returns the decision and the families it affects (to re-decide).
pub fn decide(
    store: &Store,
    matcher: &mut Matcher,
    id: &str,
    decision: ReviewVerdict,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<(ReviewDecision, Vec<String>), ReviewError> {
    if by.trim().is_empty() {
        return Err(ReviewError::NoReviewer);
    }
    let r = store
        .review(id)?
        .ok_or_else(|| ReviewError::NoItem(id.to_string()))?;
    let decisions = decisions_by_item(store)?;
    match status(&r, &decisions, matcher) {
        Status::Open => {}
        Status::Decided { decision: d } => {
            return Err(ReviewError::AlreadyDecided {
                id: r.id(),
                decision: d.decision,
                by: d.by,
                at: d.at,
            })
        }
        Status::Settled { why } => return Err(ReviewError::Settled { id: r.id(), why }),
    }
    if decision == ReviewVerdict::Same && matcher.kept_apart(r.person, r.candidate.person) {
        return Err(ReviewError::KeptApart { id: r.id() });
    }
    let d = ReviewDecision {
        item: r.id(),
        decision,
        person: r.person,
        candidate: r.candidate.person,
        by: by.trim().to_string(),
        at: now,
        note,
        after_seq: store.last_seq(),
    };
    // Families before the change: a `same` merges them, a `different`
    // releases a claim held on either side.
    let (a, b) = (
        matcher.canonical(r.person),
        matcher.canonical(r.candidate.person),
    );
    let mut cases: BTreeSet<String> = BTreeSet::new();
    for c in store.cases()? {
        if c.members
            .iter()
            .any(|m| [a, b].contains(&matcher.canonical(m.person)))
        {
            cases.insert(c.case_ref);
        }
    }
    if !store.put_review_decision(&d)? {
        return Err(ReviewError::NoItem(id.to_string()));
    }
    crate::store::apply_decision(matcher, &d);
    Ok((d, cases.into_iter().collect()))
}
