//! Matching: records to people, by evidence weighed field by field.
//!
//! In: a row's [`PersonTokens`]. Out: a [`Link`]: the [`PersonId`] it
//! belongs to, the blocking key that found it, its score and each field's
//! comparison level and weight; and a [`Delta`] of changes for the store to
//! persist with the delivery.
//!
//! How (Fellegi-Sunter over keyed tokens):
//! 1. `blocking` finds candidates: people sharing any of eleven keys, none
//!    of which needs both dob and postcode (see [`BlockKind`]);
//! 2. `compare` gives each field a level (exact, one edit, sounds alike,
//!    partial dob, missing, differs) against the person's best spelling;
//! 3. `model` turns levels into weights (m by EM on the council's own pairs,
//!    u from its own token frequencies) and sets the threshold;
//! 4. the row goes to its single best candidate at or above the threshold;
//!    `doubts` names the candidates it may belong to and did not go to.
//!
//! Promises:
//! * a strong id that differs, or differs by a typo, is a weight, not a
//!   veto; two strong ids of one type never end up on one person;
//! * household members stay apart: a forename that differs outright, or a
//!   dob that differs outright, rules a candidate out unless a strong id
//!   agrees exactly (both never do), whatever the address and surname say;
//! * two candidates within [`AMBIGUITY_BITS`] of each other that are not
//!   themselves one person leave the row unlinked (rule `ambiguous`), never
//!   guessed; if they are one person (their own records agree above the
//!   threshold) they are merged;
//! * a row left unlinked with a candidate scoring within the review band
//!   below the threshold (or left ambiguous), or with a candidate the
//!   household guard refused although it scored at the threshold (or,
//!   refused for the forename alone with the whole dob agreeing, within
//!   the band below it), names that candidate as a doubt: the review queue shows it, and
//!   triangulation will not call an absence verified while it is undecided
//!   (see `crate::review`);
//! * a candidate whose strong id differs outright from the row's links only
//!   by more than the review band above the threshold; nearer, the row is
//!   left unlinked and names it as a doubt (kind `strong_id_differs`);
//! * a row with no strong id, no dob and no forename beyond an initial
//!   never links by itself and is no one's spelling; near a member it is a
//!   doubt (kind `too_little_to_link`); nor does any pair with nothing
//!   personal compared on either side ([`Comparison::too_sparse`]);
//! * a row linked to someone no case lists, with a case member within the
//!   review band below the threshold (one and a half bands when forename
//!   and dob are exact and surname and postcode differ: married and
//!   moved), names the member as a doubt (kind
//!   `linked_elsewhere_near_a_member`); a row linked to a case member while
//!   a person no case lists, refused by the guard for the forename alone,
//!   scored at the threshold and above the member names that person (kind
//!   `renamed_record_beside_a_member`, the member's doubt);
//! * a row linked only because a strong id agreed, its forename or dob
//!   differing outright, is no one's spelling: the number may be a
//!   sibling's;
//! * two people a case lists as two of its members are never linked or
//!   merged into one by matching ([`Matcher::resolve_apart`],
//!   [`Matcher::note_case_member`]);
//! * a reviewer's decision binds: `same` merges the two people, `different`
//!   keeps them apart for good (no later merge joins them);
//! * matching never sees a raw identifier, only keyed tokens;
//! * results depend only on the order rows arrive in, never on timing.

pub mod blocking;
pub mod compare;
mod delta;
mod doubts;
mod lookup;
pub mod model;
mod state;

use std::collections::HashMap;

use crate::ingest::pseudonymise::{NiNear, PersonTokens, Token};
pub use blocking::BlockKind;
use blocking::Index;
pub use compare::{Comparison, Field, Ids, Level, Variant, FIELDS};
pub use delta::{entry_len, erase_persons, DecodeError, Delta, Erased, Replay, WhoIsWho};
pub use doubts::DoubtKind;
pub use lookup::Found;
use model::{Agreed, Model, TokenCounts};

/// An internal person number; never derived from an identifier.
pub type PersonId = u64;

/// The pseudonym outcomesd shows for a person (reports, notices, queue).
pub fn pseudonym(p: PersonId) -> String {
    format!("p{p}")
}

/// A person keeps at most this many spellings (variants) for comparison.
pub const MAX_VARIANTS: usize = 4;
/// Two candidates closer than this (bits) are too close to choose between.
pub const AMBIGUITY_BITS: f64 = 3.0;
/// How far (bits) below the link threshold a candidate still counts as a
/// possible record of the same person, for review (see `docs/review.md`).
pub const DEFAULT_REVIEW_BAND: f64 = 6.0;
/// Doubts kept per row: an ambiguous row names both close candidates.
pub const MAX_DOUBTS: usize = 2;
/// Doubts a row too sparse to link names at most: each member of a
/// household it fits alike (see `doubts`).
pub const MAX_SPARSE_DOUBTS: usize = 6;

/// Strong identifier types a person can carry at most one of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IdKind {
    Nhs = 1,
    Ni = 2,
    Upn = 3,
}

impl IdKind {
    pub fn from_u8(v: u8) -> Option<IdKind> {
        match v {
            1 => Some(IdKind::Nhs),
            2 => Some(IdKind::Ni),
            3 => Some(IdKind::Upn),
            _ => None,
        }
    }

    /// Its place in per-person id arrays (`[nhs, ni, upn]`).
    pub const fn slot(self) -> usize {
        self as usize - 1
    }
}

/// How a row was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// No candidate at all: a new person.
    New,
    /// Candidates, none at the threshold: a new person.
    Weak,
    /// Two candidates too close to choose between: a new person.
    Ambiguous,
    /// Linked to the best candidate, found by this blocking key.
    Linked(BlockKind),
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::New => "new",
            Rule::Weak => "new_weak",
            Rule::Ambiguous => "new_ambiguous",
            Rule::Linked(k) => k.name(),
        }
    }

    pub fn is_new(self) -> bool {
        !matches!(self, Rule::Linked(_))
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Rule::New => 0,
            Rule::Weak => 100,
            Rule::Ambiguous => 101,
            Rule::Linked(k) => k as u8,
        }
    }

    pub fn from_u8(v: u8) -> Option<Rule> {
        match v {
            0 => Some(Rule::New),
            100 => Some(Rule::Weak),
            101 => Some(Rule::Ambiguous),
            k => BlockKind::from_u8(k).map(Rule::Linked),
        }
    }
}

/// Where a row went, and why: what the store keeps per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub person: PersonId,
    pub rule: Rule,
    /// Total weight (bits) against the chosen person; for a new person, the
    /// best candidate's, or 0 with none.
    pub score: f32,
    pub levels: Comparison,
    pub weights: [f32; FIELDS],
    /// The best candidate the row did not go to (for explanation).
    pub runner_up: Option<Candidate>,
    /// Candidates the row may belong to but was not linked to: within the
    /// review band below the threshold, or too close to choose between.
    pub doubts: Vec<Candidate>,
}

/// A candidate person for a row, as scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub person: PersonId,
    pub score: f32,
    pub levels: Comparison,
    pub weights: [f32; FIELDS],
    /// Ruled out by the household guard whatever its score.
    pub ruled_out: bool,
    /// At the threshold, but held back: a strong id differs outright and
    /// the margin is within the review band (see [`Matcher::resolve`]).
    pub id_conflict: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonState {
    /// Strong ids (first 64 bits of the token; 0 = none), [`IdKind`] order.
    pub ids: [u64; 3],
    /// Year and month of birth.
    pub birth: Option<(i32, u32)>,
    pub variants: Vec<Variant>,
}

/// Pushes without the spare capacity a `Vec` grows by (four at its first
/// push): most people keep one spelling, and a million spare slots of a
/// ~90-byte [`Variant`] are hundreds of MB.
fn push_exact(vs: &mut Vec<Variant>, v: Variant) {
    vs.reserve_exact(1);
    vs.push(v);
}

fn id64(t: &Token) -> u64 {
    u64::from_be_bytes(t[..8].try_into().expect("16 bytes")).max(1)
}

/// A scored candidate.
#[derive(Debug, Clone)]
struct Scored {
    person: PersonId,
    kind: BlockKind,
    levels: Comparison,
    weights: [f64; FIELDS],
    total: f64,
}

/// The matcher's whole state, rebuilt from the store at start.
#[derive(Debug, Default, Clone)]
pub struct Matcher {
    index: Index,
    persons: Vec<PersonState>,
    parent: Vec<PersonId>,
    live: usize,
    households: HashMap<Token, Vec<PersonId>>,
    /// Canonical person -> every id merged into it (only for merged people),
    /// so a family's events are found without scanning every person.
    merged: HashMap<PersonId, Vec<PersonId>>,
    counts: TokenCounts,
    model: Model,
    keys_buf: Vec<(BlockKind, u64)>,
    /// Pairs a reviewer decided are different people: never merged.
    apart: Vec<(PersonId, PersonId)>,
    /// Person (as stored, not canonical) -> the cases (keys of their case
    /// refs) that list them as a member: two members of one case are two
    /// people, never merged by matching (see [`Matcher::note_case_member`]).
    cases: blocking::FastMap<PersonId, Vec<u64>>,
    /// Person -> their NI number's deletion tokens (people with an NI
    /// number only, so a million people without one cost nothing).
    ni_near: blocking::FastMap<PersonId, NiNear>,
    /// Bits below the threshold that still make a doubt (None: default).
    review_band: Option<f64>,
    /// Some spelling was stored before the cross-field name tokens, so it
    /// is indexed under the ordered two-name keys, which rows then look up
    /// too.
    legacy_spellings: bool,
}

impl Matcher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn person_count(&self) -> usize {
        self.persons.len()
    }

    /// Distinct people after merges.
    pub fn canonical_count(&self) -> usize {
        self.live
    }

    pub fn person(&self, p: PersonId) -> Option<&PersonState> {
        self.persons.get(self.canonical(p) as usize)
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Sets how far below the threshold a candidate is still a doubt.
    pub fn set_review_band(&mut self, bits: f64) {
        self.review_band = Some(bits);
    }

    pub fn review_band(&self) -> f64 {
        self.review_band.unwrap_or(DEFAULT_REVIEW_BAND)
    }

    /// The score a row needs to link now (bits).
    pub fn threshold(&self) -> f64 {
        Model::threshold(self.live)
    }

    /// For a row just linked to an existing person: how far (bits) its score
    /// cleared the threshold, when that is within the review band: a link
    /// this narrow is *uncertain*, and a verdict resting on it is marked.
    /// `None` for a new person, a sure link, or with the band off.
    pub fn narrow_margin(&self, link: &Link) -> Option<f32> {
        if !matches!(link.rule, Rule::Linked(_)) {
            return None;
        }
        let margin = f64::from(link.score) - self.threshold();
        (margin < self.review_band()).then_some(margin.max(0.0) as f32)
    }

    // ---- reviewers' decisions ----

    /// Whether a reviewer decided the people `a` and `b` are now (after
    /// merges) belong to are different people.
    pub fn kept_apart(&self, a: PersonId, b: PersonId) -> bool {
        let (a, b) = (self.canonical(a), self.canonical(b));
        self.apart.iter().any(|&(x, y)| {
            let (x, y) = (self.canonical(x), self.canonical(y));
            (x == a && y == b) || (x == b && y == a)
        })
    }

    /// A reviewer's `same`: `a` becomes part of `b`. Refused (false) when a
    /// reviewer kept them apart before.
    pub fn join(&mut self, a: PersonId, b: PersonId) -> bool {
        self.ensure_person(a.max(b));
        if self.kept_apart(a, b) {
            return false;
        }
        self.set_merge(a, b);
        true
    }

    /// Records that case `case_ref` lists `p` as a member. Not in the
    /// identity log: ingest notes each case row as it is matched, and an
    /// opened store notes its committed cases after replay (merges are
    /// replayed as recorded, so replay needs none of this).
    pub fn note_case_member(&mut self, case_ref: &str, p: PersonId) {
        use std::hash::{BuildHasher, BuildHasherDefault};
        // A fixed hash: two case refs that collide only keep more apart.
        let key = BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(case_ref);
        let v = self.cases.entry(p).or_default();
        if !v.contains(&key) {
            v.push(key);
        }
    }

    /// Whether some case lists (someone merged into) `a` and (someone
    /// merged into) `b` as two of its members.
    pub fn in_one_case(&self, a: PersonId, b: PersonId) -> bool {
        if self.cases.is_empty() {
            return false;
        }
        let keys = |p: PersonId| -> Vec<u64> {
            self.members(p)
                .iter()
                .filter_map(|q| self.cases.get(q))
                .flatten()
                .copied()
                .collect()
        };
        let ka = keys(a);
        !ka.is_empty() && keys(b).iter().any(|k| ka.contains(k))
    }

    /// Whether some case lists (someone merged into) `p` as a member.
    pub fn is_case_member(&self, p: PersonId) -> bool {
        if self.cases.is_empty() {
            return false;
        }
        // Asked for every linked event row: walk the merge list, no copy.
        let c = self.canonical(p);
        match self.merged.get(&c) {
            Some(v) => v.iter().any(|q| self.cases.contains_key(q)),
            None => self.cases.contains_key(&c),
        }
    }

    /// A reviewer's `different`: `a` and `b` are never merged.
    pub fn keep_apart(&mut self, a: PersonId, b: PersonId) {
        self.ensure_person(a.max(b));
        if !self.kept_apart(a, b) {
            self.apart.push((a, b));
        }
    }

    /// Blocking keys held (for memory figures).
    pub fn key_count(&self) -> usize {
        self.index.len()
    }

    /// The surviving id of a person after merges.
    pub fn canonical(&self, mut p: PersonId) -> PersonId {
        while let Some(&q) = self.parent.get(p as usize) {
            if q == p {
                break;
            }
            p = q;
        }
        p
    }

    /// Every stored id that is now the same person as `p` (including `p`).
    pub fn members(&self, p: PersonId) -> Vec<PersonId> {
        let c = self.canonical(p);
        match self.merged.get(&c) {
            Some(v) => v.clone(),
            None => vec![c],
        }
    }

    /// People linked to a household address token.
    pub fn household(&self, t: &Token) -> &[PersonId] {
        self.households.get(t).map_or(&[], Vec::as_slice)
    }

    // ---- matching ----

    fn row_ids(t: &PersonTokens) -> Ids {
        Ids {
            keys: [t.nhs, t.ni, t.upn].map(|o| o.as_ref().map_or(0, id64)),
            ni_near: t.ni_near,
        }
    }

    /// A person's strong ids as compared.
    fn person_ids(&self, p: PersonId) -> Ids {
        Ids {
            keys: self.persons[p as usize].ids,
            ni_near: self.ni_near.get(&p).copied(),
        }
    }

    /// Candidates for a row: canonical people under any of its keys, each
    /// with the first (strongest) key that found it.
    fn candidates(&mut self, v: &Variant, ids: &Ids) -> Vec<(PersonId, BlockKind)> {
        let mut keys = std::mem::take(&mut self.keys_buf);
        let out = self.found_under(v, &ids.keys, &mut keys);
        self.keys_buf = keys;
        out
    }

    /// Canonical people under any of a row's keys (`keys` is scratch), each
    /// with the first (strongest) key that found it.
    fn found_under(
        &self,
        v: &Variant,
        ids: &[u64; 3],
        keys: &mut Vec<(BlockKind, u64)>,
    ) -> Vec<(PersonId, BlockKind)> {
        blocking::keys(v, ids, keys);
        if self.legacy_spellings {
            blocking::legacy_keys(v, keys);
        }
        // All lookups first, then the people: each lookup is a cache miss
        // in a table of millions of keys, and with no work between them the
        // processor has them in flight together instead of one by one.
        let mut found: [&[u32]; blocking::MAX_KEYS] = [&[]; blocking::MAX_KEYS];
        for (slot, (_, key)) in found.iter_mut().zip(keys.iter()) {
            *slot = self.index.get(*key);
        }
        let mut out: Vec<(PersonId, BlockKind)> = Vec::new();
        for (i, (kind, key)) in keys.iter().enumerate() {
            let people = found
                .get(i)
                .copied()
                .unwrap_or_else(|| self.index.get(*key));
            for &p in people {
                let c = self.canonical(PersonId::from(p));
                if !out.iter().any(|(q, _)| *q == c) {
                    out.push((c, *kind));
                }
            }
        }
        out
    }

    /// Levels of a row against a person: per field the best over the
    /// person's spellings.
    fn levels(&self, v: &Variant, ids: &Ids, p: PersonId) -> Comparison {
        let person = &self.persons[p as usize];
        let mut best = Comparison::default();
        for pv in &person.variants {
            let c = compare::compare(v, pv);
            for f in 0..FIELDS {
                let (a, b) = (best.levels[f], c.levels[f]);
                if Level::from_u8(b).rank() < Level::from_u8(a).rank() {
                    best.levels[f] = b;
                }
            }
        }
        best.levels[Field::Id as usize] = compare::ids(ids, &self.person_ids(p)) as u8;
        best
    }

    /// Household guard: an outright different forename or dob rules a
    /// candidate out unless a strong id agrees; both differing, always.
    fn ruled_out(c: &Comparison) -> bool {
        let one_differs =
            c.level(Field::Forename) == Level::Differ || c.level(Field::Dob) == Level::Differ;
        Self::both_differ(c) || (one_differs && c.level(Field::Id) != Level::Exact)
    }

    /// At the threshold, but by less than the review band above it, with a
    /// strong id that differs outright: held back from linking (`resolve`,
    /// `lookup`). Off with a band of 0.
    fn id_conflict(&self, c: &Comparison, total: f64, threshold: f64) -> bool {
        let band = self.review_band();
        band > 0.0
            && !Self::ruled_out(c)
            && c.level(Field::Id) == Level::Differ
            && total >= threshold
            && total < threshold + band
    }

    /// Forename and dob both differ outright: another person, always.
    fn both_differ(c: &Comparison) -> bool {
        c.level(Field::Forename) == Level::Differ && c.level(Field::Dob) == Level::Differ
    }

    fn score(&self, v: &Variant, c: &Comparison) -> ([f64; FIELDS], f64) {
        let agreed = Agreed {
            forename: v.f,
            surname: v.s,
            postcode: v.pc,
        };
        self.model.score(c, &agreed, &self.counts, self.live)
    }

    fn scored(&mut self, v: &Variant, ids: &Ids) -> Vec<Scored> {
        let cands = self.candidates(v, ids);
        let mut out: Vec<Scored> = cands
            .into_iter()
            .map(|(person, kind)| {
                let levels = self.levels(v, ids, person);
                let (weights, total) = self.score(v, &levels);
                Scored {
                    person,
                    kind,
                    levels,
                    weights,
                    total,
                }
            })
            .collect();
        // Best first; ties by person number, so the order is deterministic.
        out.sort_by(|a, b| b.total.total_cmp(&a.total).then(a.person.cmp(&b.person)));
        out
    }

    /// Adds the level patterns of a row's candidate pairs to `patterns`, for
    /// [`Matcher::train`]. Changes nothing.
    pub fn observe(&mut self, t: &PersonTokens, patterns: &mut HashMap<Comparison, u32>) {
        let v = Variant::of(t);
        let ids = Self::row_ids(t);
        for (p, _) in self.candidates(&v, &ids) {
            *patterns.entry(self.levels(&v, &ids, p)).or_default() += 1;
        }
    }

    /// Re-estimates the model from observed patterns; the new model goes in
    /// the delta so a rebuilt matcher uses the same one.
    pub fn train(&mut self, patterns: &HashMap<Comparison, u32>, delta: &mut Delta) -> bool {
        let mut m = self.model.clone();
        if m.train(patterns, Self::ruled_out).is_some() {
            self.model = m.clone();
            delta.model = Some(m);
            true
        } else {
            false
        }
    }

    /// Whether two people's own records say they are one person: some
    /// spelling of one scores at the threshold against the other, neither
    /// ruled out nor carrying a different strong id.
    fn same_person(&self, a: PersonId, b: PersonId) -> bool {
        let (a, b) = (self.canonical(a), self.canonical(b));
        if self.kept_apart(a, b) || self.in_one_case(a, b) {
            return false;
        }
        let (ia, ib) = (self.person_ids(a), self.person_ids(b));
        let t = Model::threshold(self.live);
        self.persons[a as usize].variants.iter().any(|va| {
            let c = self.levels(va, &ia, b);
            !Self::ruled_out(&c)
                && !c.too_sparse()
                && compare::ids(&ia, &ib) != Level::Differ
                && self.score(va, &c).1 >= t
        })
    }

    /// Finds (or creates) the person a row belongs to and records what changed.
    pub fn resolve(&mut self, t: &PersonTokens, delta: &mut Delta) -> Link {
        self.resolve_apart(t, delta, &[])
    }

    /// [`Matcher::resolve`], never to one of `apart` (nor naming one as a
    /// doubt): the people the other member rows of the row's own case went
    /// to. A case lists each member once, so two of its rows are two
    /// people, however alike (sisters born on the same day of the year
    /// with names that sound alike).
    pub fn resolve_apart(
        &mut self,
        t: &PersonTokens,
        delta: &mut Delta,
        apart: &[PersonId],
    ) -> Link {
        let v = Variant::of(t);
        let ids = Self::row_ids(t);
        let threshold = Model::threshold(self.live);
        let mut scored = self.scored(&v, &ids);
        if !apart.is_empty() {
            let apart: Vec<PersonId> = apart.iter().map(|&p| self.canonical(p)).collect();
            scored.retain(|s| !apart.contains(&s.person));
        }
        // A pair with nothing personal compared (`Comparison::too_sparse`)
        // never links by itself: an initial at an address fits every member
        // who shares it, as does a row with a dob but no forename against a
        // person known without a dob. Scoring near a member, it is a review
        // item instead, so the claims it would overturn wait on a reviewer.
        // A weak row (no strong id, no dob, no forename beyond an initial)
        // is such a pair against everyone, and is kept as no one's
        // spelling, since it would bridge the members it fits.
        let weak = t.is_weak();
        // A strong id that differs outright (not a typo: see `compare::ids`)
        // is another person's number as often as a replaced one: namesakes
        // with the same dob carry different NI numbers. So such a
        // candidate links only by more than the review band; nearer, the
        // row is a review item, and the claims it would change wait.
        let eligible: Vec<&Scored> = scored
            .iter()
            .filter(|s| {
                !s.levels.too_sparse()
                    && !Self::ruled_out(&s.levels)
                    && s.total >= threshold
                    && !self.id_conflict(&s.levels, s.total, threshold)
            })
            .collect();
        let mut rule = if scored.is_empty() {
            Rule::New
        } else {
            Rule::Weak
        };
        let mut chosen: Option<&Scored> = None;
        if let Some(&best) = eligible.first() {
            rule = Rule::Linked(best.kind);
            chosen = Some(best);
            // A close second that is not the same person makes the row
            // ambiguous: it is left unlinked rather than guessed.
            if let Some(second) = eligible.get(1) {
                if best.total - second.total < AMBIGUITY_BITS
                    && !self.same_person(best.person, second.person)
                {
                    rule = Rule::Ambiguous;
                    chosen = None;
                }
            }
        }
        let reported = chosen.or(scored.first());
        let (score, levels, weights) = reported
            .map_or((0.0, Comparison::default(), [0.0; FIELDS]), |s| {
                (s.total as f32, s.levels, s.weights.map(|w| w as f32))
            });
        let runner_up = scored
            .iter()
            .find(|s| chosen.is_none_or(|c| c.person != s.person))
            .map(Self::candidate);
        let doubts = self.doubts(rule, chosen, &scored, &eligible, threshold);
        let p = match chosen {
            Some(s) => self.canonical(s.person),
            None => {
                let p = self.persons.len() as PersonId;
                self.ensure_person(p);
                self.set_birth(p, t.birth);
                delta.new_persons.push((p, t.birth));
                p
            }
        };
        // A spelling with the names swapped is not kept: its forename token
        // would make the person's surname a forename of theirs, and fields
        // are compared with the best of a person's spellings.
        // Nor one linked only because a strong id agreed, its forename or
        // dob differing outright: the number may be a sibling's or a
        // parent's, and a spelling taught from it carried that person's
        // later rows to the number's owner (a boy's offences went to his
        // brother, and the boy's absence read verified, in `bench`).
        let waived = chosen.is_some_and(|s| {
            s.levels.level(Field::Forename) == Level::Differ
                || s.levels.level(Field::Dob) == Level::Differ
        });
        let spelling = (!weak
            && !waived
            && chosen.is_none_or(|s| s.levels.level(Field::Forename) != Level::Swapped))
        .then_some(v);
        self.learn(p, t, spelling, ids, delta);
        if chosen.is_some() {
            // With what this row taught, other candidates may now prove to
            // be the same person (a row that bridges two records of one).
            for other in eligible.iter().skip(1) {
                let q = self.canonical(other.person);
                if q != p && self.same_person(p, q) {
                    self.set_merge(q, p);
                    delta.merges.push((q, p));
                }
            }
        }
        Link {
            person: p,
            rule,
            score,
            levels,
            weights,
            runner_up,
            doubts,
        }
    }

    fn candidate(s: &Scored) -> Candidate {
        Candidate {
            person: s.person,
            score: s.total as f32,
            levels: s.levels,
            weights: s.weights.map(|w| w as f32),
            ruled_out: Self::ruled_out(&s.levels),
            id_conflict: false,
        }
    }

    /// Registers what a row taught us about its person.
    fn learn(
        &mut self,
        p: PersonId,
        t: &PersonTokens,
        v: Option<Variant>,
        ids: Ids,
        delta: &mut Delta,
    ) {
        let row_ids = [t.nhs, t.ni, t.upn];
        for (i, kind) in [IdKind::Nhs, IdKind::Ni, IdKind::Upn]
            .into_iter()
            .enumerate()
        {
            let (Some(tok), id) = (row_ids[i], ids.keys[i]) else {
                continue;
            };
            if self.persons[p as usize].ids[i] != 0 {
                continue; // the person has one of this type already
            }
            // An id another person already carries is not taken over.
            let taken = self
                .index
                .get(blocking::id_key(i, id))
                .iter()
                .any(|&q| self.canonical(PersonId::from(q)) != p);
            if !taken {
                self.set_id(p, kind, id);
                delta.new_ids.push((p, kind, tok));
            }
        }
        // The NI number's deletion tokens go with the person's number when
        // the row carries that number: just taken, or stored before the
        // tokens existed.
        let ni = IdKind::Ni.slot();
        if let Some(near) = ids.ni_near {
            let held = self.persons[p as usize].ids[ni];
            if held != 0 && held == ids.keys[ni] && !self.ni_near.contains_key(&p) {
                self.set_ni_near(p, near);
                delta.ni_near.push((p, near));
            }
        }
        if self.persons[p as usize].birth.is_none() {
            if let Some(b) = t.birth {
                self.set_birth(p, Some(b));
                delta.births.push((p, b));
            }
        }
        let person = &self.persons[p as usize];
        if let Some(v) = v.filter(|v| {
            person.variants.len() < MAX_VARIANTS && !person.variants.iter().any(|o| v.covered_by(o))
        }) {
            delta.push_variant(p, &v);
            self.add_variant(p, v);
        }
        if let Some(a) = t.address {
            if self.set_address(a, p) {
                delta.addresses.push((a, p));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::pseudonymise::{Pseudonymiser, RawIdentity};
    use crate::keys::HmacKey;

    #[derive(Default, Clone, Copy)]
    struct R<'a> {
        f: &'a str,
        s: &'a str,
        dob: &'a str,
        pc: &'a str,
        addr: &'a str,
        nhs: &'a str,
        ni: &'a str,
        upn: &'a str,
    }

    fn tok(r: R<'_>) -> PersonTokens {
        let p = Pseudonymiser::new(&HmacKey::from_bytes("t", [9u8; 32]));
        let raw = RawIdentity {
            forename: r.f,
            surname: r.s,
            dob: r.dob,
            postcode: r.pc,
            address: r.addr,
            nhs_number: r.nhs,
            ni_number: r.ni,
            upn: r.upn,
        };
        p.pseudonymise(&raw, &mut String::new()).unwrap()
    }

    fn rob<'a>() -> R<'a> {
        R {
            f: "Robert",
            s: "Smith",
            dob: "2001-02-03",
            pc: "SR1 3AA",
            addr: "1 High Street",
            ..Default::default()
        }
    }

    const NHS_A: &str = "9434765919";
    const NHS_B: &str = "9434765870";

    fn resolve(m: &mut Matcher, d: &mut Delta, r: R<'_>) -> Link {
        m.resolve(&tok(r), d)
    }

    /// Robert Smith's row under another forename.
    fn named(m: &mut Matcher, d: &mut Delta, f: &str) -> Link {
        resolve(m, d, R { f, ..rob() })
    }

    #[test]
    fn strong_id_links_despite_name_change_and_move() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let a = resolve(
            &mut m,
            &mut d,
            R {
                nhs: NHS_A,
                ..rob()
            },
        );
        assert_eq!(a.rule, Rule::New);
        let b = resolve(
            &mut m,
            &mut d,
            R {
                s: "Brown",
                pc: "NE1 1AA",
                addr: "2 Low Road",
                nhs: NHS_A,
                ..rob()
            },
        );
        assert_eq!((b.person, b.rule), (a.person, Rule::Linked(BlockKind::Id)));
        assert_eq!(b.levels.level(Field::Surname), Level::Differ);
        assert!(b.weights[Field::Surname as usize] < 0.0);
    }

    #[test]
    fn a_differing_strong_id_weighs_against_but_does_not_veto() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let a = resolve(
            &mut m,
            &mut d,
            R {
                nhs: NHS_A,
                ..rob()
            },
        );
        let b = resolve(
            &mut m,
            &mut d,
            R {
                nhs: NHS_B,
                ..rob()
            },
        );
        assert_eq!(b.person, a.person, "name, dob and address outweigh one id");
        assert_eq!(b.levels.level(Field::Id), Level::Differ);
        assert!(b.weights[Field::Id as usize] < -3.0);
        // the person keeps its own number; the other is not taken over
        assert_eq!(
            m.person(a.person).unwrap().ids[0],
            id64(
                &tok(R {
                    nhs: NHS_A,
                    ..rob()
                })
                .nhs
                .unwrap()
            )
        );
        // a different id with nothing else in common is someone else
        let c = resolve(
            &mut m,
            &mut d,
            R {
                f: "Zoe",
                s: "Quill",
                dob: "1990-09-09",
                nhs: NHS_B,
                ..Default::default()
            },
        );
        assert_ne!(c.person, a.person);
    }

    #[test]
    fn noisy_rows_link_to_their_person() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let a = resolve(
            &mut m,
            &mut d,
            R {
                nhs: NHS_A,
                ..rob()
            },
        );
        let cases = [
            R {
                dob: "2001-03-02",
                ..rob()
            }, // day/month swap
            R {
                dob: "2001-02-04",
                ..rob()
            }, // day typo
            R {
                s: "Smyth",
                ..rob()
            }, // surname typo
            R {
                f: "Robrt",
                ..rob()
            }, // forename typo
            R { f: "Bob", ..rob() }, // diminutive
            R {
                f: "Robbert",
                s: "Smyth",
                ..rob()
            }, // two typos
            R { f: "R", ..rob() },   // initial only
            R { dob: "", ..rob() },  // no dob
            R {
                pc: "",
                addr: "",
                ..rob()
            }, // no postcode
            R {
                pc: "DH1 1AA",
                addr: "9 New Road",
                ..rob()
            }, // moved
            R {
                s: "Jones",
                ..rob()
            }, // surname change
        ];
        for (i, r) in cases.into_iter().enumerate() {
            let l = resolve(&mut m, &mut d, r);
            assert_eq!(
                l.person, a.person,
                "case {i}: {:?} score {}",
                l.rule, l.score
            );
            assert!(!l.rule.is_new());
        }
        assert_eq!(m.canonical_count(), 1);
    }

    #[test]
    fn swapped_names_link_as_a_swap_and_do_not_open_the_household_guard() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let robert = resolve(&mut m, &mut d, rob());
        // Forename and surname swapped, with the postcode typo'd: no key of
        // the names in their own fields finds Robert Smith.
        let swapped = resolve(
            &mut m,
            &mut d,
            R {
                f: "Smith",
                s: "Robert",
                pc: "SR1 3AB",
                ..rob()
            },
        );
        assert_eq!(
            (swapped.person, swapped.rule),
            (robert.person, Rule::Linked(BlockKind::Fsy)),
            "score {}",
            swapped.score
        );
        assert_eq!(swapped.levels.level(Field::Forename), Level::Swapped);
        assert_eq!(swapped.levels.level(Field::Surname), Level::Swapped);
        // A swap is not evidence on its own: it weighs less than the names
        // agreeing in place.
        let fresh = resolve(&mut m, &mut d, rob());
        let names = |l: &Link| l.weights[0] + l.weights[1];
        assert!(names(&swapped) < names(&fresh), "{swapped:?} {fresh:?}");
        // Only both names swapped count: Smith Smith is not Robert Smith
        // with the names swapped, and the guard still refuses it.
        let smith = resolve(
            &mut m,
            &mut d,
            R {
                f: "Smith",
                ..rob()
            },
        );
        assert_ne!(smith.person, robert.person);
        assert_eq!(smith.levels.level(Field::Forename), Level::Differ);
    }

    #[test]
    fn twins_and_household_members_stay_apart() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let jack = resolve(&mut m, &mut d, R { f: "Jack", ..rob() });
        let james = resolve(
            &mut m,
            &mut d,
            R {
                f: "James",
                ..rob()
            },
        );
        assert_ne!(jack.person, james.person, "twins");
        // an initial cannot tell them apart: linked to neither
        let j = resolve(&mut m, &mut d, R { f: "J", ..rob() });
        assert_eq!(j.rule, Rule::Ambiguous);
        assert!(j.person != jack.person && j.person != james.person);
        // without dob, a parent and child of one household stay apart too
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let no_dob = R { dob: "", ..rob() };
        let dad = resolve(
            &mut m,
            &mut d,
            R {
                f: "John",
                ..no_dob
            },
        );
        let mum = resolve(
            &mut m,
            &mut d,
            R {
                f: "Mary",
                ..no_dob
            },
        );
        assert_ne!(dad.person, mum.person);
        let typo = resolve(
            &mut m,
            &mut d,
            R {
                f: "Jhon",
                ..no_dob
            },
        );
        assert_eq!(typo.person, dad.person);
        // same name, different dob at one address: father and son
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let sr = resolve(
            &mut m,
            &mut d,
            R {
                dob: "1970-05-06",
                ..rob()
            },
        );
        let jr = resolve(&mut m, &mut d, rob());
        assert_ne!(sr.person, jr.person);
    }

    #[test]
    fn a_row_that_bridges_two_records_merges_them() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let upn = "A801200001001";
        let upn = {
            let body = &upn[1..];
            let sum: u32 = body
                .bytes()
                .enumerate()
                .map(|(i, b)| u32::from(b - b'0') * (i as u32 + 2))
                .sum();
            format!(
                "{}{}",
                b"ABCDEFGHJKLMNPQRTUVWXYZ"[(sum % 23) as usize] as char,
                body
            )
        };
        let amy = R {
            f: "Amy",
            s: "Jones",
            dob: "2009-05-06",
            ..Default::default()
        };
        // the school knows her by UPN at her address, with only an initial
        let a = resolve(&mut m, &mut d, amy);
        let b = resolve(
            &mut m,
            &mut d,
            R {
                f: "A",
                dob: "",
                pc: "SR2 1AB",
                addr: "4 Park Lane",
                upn: &upn,
                ..amy
            },
        );
        assert_ne!(a.person, b.person, "nothing yet joins them");
        let c = resolve(
            &mut m,
            &mut d,
            R {
                pc: "SR2 1AB",
                addr: "4 Park Lane",
                upn: &upn,
                ..amy
            },
        );
        assert_eq!(m.canonical(a.person), m.canonical(c.person));
        assert_eq!(m.canonical(b.person), m.canonical(c.person));
        assert_eq!(m.members(c.person).len(), 2);
        assert!(!d.merges.is_empty());
    }

    #[test]
    fn rebuilt_matcher_resolves_the_same() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let a = resolve(
            &mut m,
            &mut d,
            R {
                nhs: NHS_A,
                ..rob()
            },
        );
        resolve(
            &mut m,
            &mut d,
            R {
                f: "Jack",
                nhs: NHS_B,
                ..rob()
            },
        );
        let mut patterns = HashMap::new();
        for _ in 0..200 {
            m.observe(
                &tok(R {
                    f: "Robrt",
                    ..rob()
                }),
                &mut patterns,
            );
        }
        assert!(m.train(&patterns, &mut d));
        let bytes = d.encode();
        let mut r = Matcher::new();
        assert!(r.apply_encoded(&bytes[..bytes.len() - 1]).is_err());
        let mut r = Matcher::new();
        r.apply_encoded(&bytes).unwrap();
        assert_eq!(r.persons, m.persons);
        assert_eq!(r.model, m.model);
        assert_eq!(r.key_count(), m.key_count());
        let l = r.resolve(
            &tok(R {
                pc: "XX1 1XX",
                addr: "",
                ..rob()
            }),
            &mut Delta::default(),
        );
        assert_eq!(l.person, a.person);
        let l2 = m.resolve(
            &tok(R {
                pc: "XX1 1XX",
                addr: "",
                ..rob()
            }),
            &mut Delta::default(),
        );
        assert_eq!((l.rule, l.score), (l2.rule, l2.score));
    }

    /// Rob, then a row too weak to link to him but close: one-letter
    /// forename error, dob with one part wrong, moved.
    fn doubtful(m: &mut Matcher, d: &mut Delta) -> (Link, Link) {
        let a = resolve(m, d, rob());
        let b = resolve(
            m,
            d,
            R {
                f: "Robbert",
                dob: "2001-02-04",
                pc: "NE1 1AA",
                addr: "9 Low Road",
                ..rob()
            },
        );
        (a, b)
    }

    #[test]
    fn a_close_unlinked_row_names_its_candidate_as_a_doubt() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let (a, b) = doubtful(&mut m, &mut d);
        assert_eq!(b.rule, Rule::Weak, "{b:?}");
        assert_ne!(b.person, a.person);
        assert_eq!(b.doubts.len(), 1, "{b:?}");
        assert_eq!(b.doubts[0].person, a.person);
        assert!(f64::from(b.doubts[0].score) >= m.threshold() - m.review_band());
        assert_eq!(b.runner_up.map(|r| r.person), Some(a.person));
        // With no band, no doubt.
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        m.set_review_band(0.0);
        let (_, b) = doubtful(&mut m, &mut d);
        assert!(b.doubts.is_empty());
    }

    #[test]
    fn a_link_made_by_a_strong_id_alone_teaches_no_spelling() {
        // Another forename with Robert's NHS number: the number waives the
        // guard and the row links, but it may be a brother's row carrying
        // Robert's number, so "Kevin" does not become Robert's spelling.
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let robert = resolve(
            &mut m,
            &mut d,
            R {
                nhs: NHS_A,
                ..rob()
            },
        );
        let kevin = resolve(
            &mut m,
            &mut d,
            R {
                f: "Kevin",
                nhs: NHS_A,
                ..rob()
            },
        );
        assert_eq!(kevin.person, robert.person, "{kevin:?}");
        assert_eq!(kevin.levels.level(Field::Forename), Level::Differ);
        // Kevin's next row, without the number, is not carried to Robert
        // by a spelling learned from that link: the guard refuses it.
        let next = named(&mut m, &mut d, "Kevin");
        assert_ne!(next.person, robert.person, "{next:?}");
        assert!(next
            .doubts
            .iter()
            .any(|c| c.person == robert.person && c.ruled_out));
        // A row that agrees in forename and dob teaches as before.
        let moved = resolve(
            &mut m,
            &mut d,
            R {
                nhs: NHS_A,
                pc: "NE9 9ZZ",
                addr: "7 Far Lane",
                ..rob()
            },
        );
        assert_eq!(moved.person, robert.person);
        assert!(m.persons[robert.person as usize].variants.len() >= 2);
    }

    #[test]
    fn a_candidate_the_guard_refused_is_a_doubt_only_when_all_else_links() {
        // Kit for Christopher is outside the diminutive table: to the guard
        // it is another forename at the same dob and address, as a twin's.
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let chris = named(&mut m, &mut d, "Christopher");
        let kit = named(&mut m, &mut d, "Kit");
        assert_ne!(kit.person, chris.person, "the guard still keeps them apart");
        assert_eq!(kit.rule, Rule::Weak);
        assert_eq!(kit.doubts.len(), 1, "{kit:?}");
        let doubt = &kit.doubts[0];
        assert_eq!(doubt.person, chris.person);
        assert!(doubt.ruled_out);
        assert!(f64::from(doubt.score) >= m.threshold());
        // Below the threshold, a refused candidate is a doubt only when the
        // forename alone differs and the whole dob agrees (a nickname, or a
        // twin, who moved): within the band, it is named (see
        // `doubts::tests` for the dob that does not agree whole).
        let moved = resolve(
            &mut m,
            &mut d,
            R {
                f: "Mary",
                pc: "NE9 9ZZ",
                addr: "7 Far Lane",
                ..rob()
            },
        );
        let named_moved = moved.doubts.iter().find(|c| c.ruled_out);
        let c = named_moved.unwrap_or_else(|| panic!("{moved:?}"));
        assert!(f64::from(c.score) < m.threshold(), "{c:?}");
        assert_eq!(DoubtKind::of(moved.rule, c), DoubtKind::Guarded);
        // Another forename and another dob at the same address: a parent or
        // sibling, never a doubt, however well the rest agrees.
        let parent = resolve(
            &mut m,
            &mut d,
            R {
                f: "Mary",
                dob: "1975-09-10",
                ..rob()
            },
        );
        assert!(parent.doubts.iter().all(|c| !c.ruled_out), "{parent:?}");
        // Once Kit is a person of her own, their later rows link to them and
        // raise no doubt: one review item per split, not one per row.
        let again = named(&mut m, &mut d, "Kit");
        assert_eq!(again.person, kit.person);
        assert!(again.doubts.is_empty());
        // A band of 0 turns review off, these doubts too.
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        m.set_review_band(0.0);
        named(&mut m, &mut d, "Christopher");
        let kit = named(&mut m, &mut d, "Kit");
        assert!(kit.doubts.is_empty());
    }

    #[test]
    fn an_initial_and_surname_at_an_address_never_link_but_are_a_doubt() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let robert = resolve(&mut m, &mut d, rob());
        let weak = R {
            f: "R",
            dob: "",
            ..rob()
        };
        let a = resolve(&mut m, &mut d, weak);
        assert_ne!(a.person, robert.person, "kept, but never linked by itself");
        assert_eq!(a.rule, Rule::Weak);
        assert_eq!(a.doubts.len(), 1, "{a:?}");
        assert_eq!(a.doubts[0].person, robert.person);
        // Not a spelling of anyone: a second such row is found by nobody's
        // "R Smith" spelling, so it names Robert again rather than the first.
        let b = resolve(&mut m, &mut d, weak);
        assert_ne!(b.person, a.person);
        assert_eq!(b.doubts.first().map(|c| c.person), Some(robert.person));
        // With a dob the same initial is an ordinary row and links.
        let dob = resolve(&mut m, &mut d, R { f: "R", ..rob() });
        assert_eq!(dob.person, robert.person, "{dob:?}");
        // Nor can the weak rows bridge: Rosie, Robert's twin, stays apart.
        let rosie = named(&mut m, &mut d, "Rosie");
        assert!(![robert.person, a.person, b.person].contains(&rosie.person));
    }

    #[test]
    fn a_forename_at_the_address_without_a_surname_links_to_that_member() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let robert = resolve(&mut m, &mut d, rob());
        let rosie = resolve(
            &mut m,
            &mut d,
            R {
                f: "Rosie",
                dob: "2004-05-06",
                ..rob()
            },
        );
        assert_ne!(robert.person, rosie.person);
        // "Robert, 1 High Street" on a form with no surname and no dob: the
        // forename is personal, so it is an ordinary row, and his sister at
        // the same address is ruled out by the forename.
        let form = resolve(
            &mut m,
            &mut d,
            R {
                s: "",
                dob: "",
                ..rob()
            },
        );
        assert_eq!(form.person, robert.person, "{form:?}");
        assert!(matches!(form.rule, Rule::Linked(_)), "{form:?}");
        assert_eq!(form.levels.level(Field::Surname), Level::Missing);
        assert!(!form.levels.too_sparse());
    }

    #[test]
    fn a_surname_at_a_household_names_every_member_it_fits() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let members: Vec<PersonId> = [
            ("Robert", "1980-02-03"),
            ("Amy", "2010-01-01"),
            ("Ben", "2012-05-06"),
        ]
        .into_iter()
        .map(|(f, dob)| resolve(&mut m, &mut d, R { f, dob, ..rob() }).person)
        .collect();
        // "Smith, 1 High Street", nothing more: any of the three. Naming
        // only the first left the others' claims free to verify.
        let row = resolve(
            &mut m,
            &mut d,
            R {
                f: "",
                dob: "",
                ..rob()
            },
        );
        assert!(row.rule.is_new(), "{row:?}");
        let mut named: Vec<PersonId> = row.doubts.iter().map(|c| c.person).collect();
        named.sort_unstable();
        assert_eq!(named, members, "{row:?}");
        assert!(row
            .doubts
            .iter()
            .all(|c| DoubtKind::of(row.rule, c) == DoubtKind::Sparse));
        // A row that is not sparse still names one candidate at most.
        let near = resolve(
            &mut m,
            &mut d,
            R {
                f: "Robbie",
                dob: "",
                pc: "SR9 9ZZ",
                ..rob()
            },
        );
        assert!(near.doubts.len() <= 1, "{near:?}");
    }

    #[test]
    fn a_blank_forename_and_a_missing_dob_never_link_on_surname_and_place() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        // A child's census row: dob, no forename. Not weak by itself.
        let child = resolve(&mut m, &mut d, R { f: "", ..rob() });
        assert_eq!(child.rule, Rule::New);
        // A tax form at the same address: forename, no dob. Nothing personal
        // is compared (surname and place fit the whole household), so it
        // does not link, however high surname and address score...
        let form = R {
            f: "Daniel",
            dob: "",
            ..rob()
        };
        let daniel = resolve(&mut m, &mut d, form);
        assert_ne!(daniel.person, child.person, "{daniel:?}");
        assert_eq!(daniel.rule, Rule::Weak);
        // ...but it is a review item naming the child.
        let doubt = daniel.doubts.first().expect("a doubt");
        assert_eq!(doubt.person, child.person);
        assert!(doubt.levels.too_sparse());
        assert!(
            f64::from(doubt.score) >= m.threshold(),
            "it would have linked on weights alone: {doubt:?}"
        );
        // Subject lookup says the same: possible, never matched.
        let found = m.lookup(&tok(form));
        let c = found.iter().find(|f| f.candidate.person == child.person);
        assert!(c.is_some_and(|f| f.possible && !f.links), "{found:?}");
        // Nor do the two merge when a third row agrees with each.
        assert!(!m.same_person(child.person, daniel.person));
        // Two of three dob parts do not tell a grandmother from the child
        // born on the same day of the year.
        let gran = resolve(
            &mut m,
            &mut d,
            R {
                f: "",
                dob: "1951-02-03",
                ..rob()
            },
        );
        assert_ne!(gran.person, child.person, "{gran:?}");
        assert_eq!(gran.doubts.first().map(|c| c.person), Some(child.person));
        // A dob on the form makes it an ordinary row, and it links.
        let dated = resolve(
            &mut m,
            &mut d,
            R {
                f: "Daniel",
                ..rob()
            },
        );
        assert_eq!(dated.person, child.person, "{dated:?}");
    }

    #[test]
    fn a_row_linked_beside_a_case_member_names_the_member_as_a_doubt() {
        let run = |member: bool| {
            let (mut m, mut d) = (Matcher::new(), Delta::default());
            let brian = R {
                f: "Brian",
                dob: "2005-08-23",
                nhs: NHS_A,
                ..rob()
            };
            let brian = resolve(&mut m, &mut d, brian);
            if member {
                m.note_case_member("SF-000001", brian.person);
            }
            // A partner writes him as "B Smith" with the dob a day out in
            // every row: its rows agree more with each other than with him.
            let partner = R {
                f: "B",
                dob: "2005-08-24",
                addr: "",
                ..rob()
            };
            let first = resolve(
                &mut m,
                &mut d,
                R {
                    s: "Smth",
                    ..partner
                },
            );
            let second = resolve(&mut m, &mut d, partner);
            (brian.person, first, second)
        };
        let (brian, first, second) = run(true);
        assert_ne!(first.person, brian);
        assert_eq!(second.person, first.person, "{second:?}");
        assert!(!second.rule.is_new());
        let doubt = second.doubts.first().expect("the member named as a doubt");
        assert_eq!(doubt.person, brian);
        assert!(f64::from(doubt.score) >= review_floor(), "{doubt:?}");
        // Nobody's member: nothing to hold, no item.
        let (_, _, second) = run(false);
        assert!(second.doubts.is_empty(), "{second:?}");
    }

    fn review_floor() -> f64 {
        Model::threshold(0) - DEFAULT_REVIEW_BAND
    }

    /// A row's levels and weights against one person, linked or not.
    fn score_against(m: &Matcher, t: &PersonTokens, p: PersonId) -> (Comparison, [f64; FIELDS]) {
        let v = Variant::of(t);
        let c = m.levels(&v, &Matcher::row_ids(t), m.canonical(p));
        (c, m.score(&v, &c).0)
    }

    #[test]
    fn an_ni_number_a_typo_away_counts_for_and_another_number_against() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let with = |ni| R {
            ni,
            pc: "NE1 1AA",
            addr: "",
            ..rob()
        };
        let first = resolve(
            &mut m,
            &mut d,
            R {
                ni: "JA489671C",
                ..rob()
            },
        );
        let typo = m.resolve(&tok(with("JA489677C")), &mut Delta::default());
        assert_eq!(typo.levels.level(Field::Id), Level::OneEdit);
        assert_eq!(typo.person, first.person);
        let id = Field::Id as usize;
        assert!(typo.weights[id] > 10.0, "{:?}", typo.weights);
        // Another person's number: the same name and dob, scored lower.
        let (other, _) = score_against(&m, &tok(with("LB809680D")), first.person);
        assert_eq!(other.level(Field::Id), Level::Differ);
        let (_, typo_w) = score_against(&m, &tok(with("JA489677C")), first.person);
        let (_, other_w) = score_against(&m, &tok(with("LB809680D")), first.person);
        assert!(other_w[id] < -4.0 && typo_w[id] - other_w[id] > 15.0);

        // The deletion tokens are in the delta, so a rebuilt matcher sees
        // the typo too.
        assert_eq!(d.ni_near.len(), 1);
        let mut rebuilt = Matcher::new();
        rebuilt.apply_encoded(&d.encode()).unwrap();
        let (c, _) = score_against(&rebuilt, &tok(with("JA489677C")), first.person);
        assert_eq!(c.level(Field::Id), Level::OneEdit);

        // A store written before them: the typo reads as differing until a
        // row with the same number brings the tokens.
        let mut old = Matcher::new();
        let mut without = d;
        without.ni_near.clear();
        old.apply_encoded(&without.encode()).unwrap();
        let (c, _) = score_against(&old, &tok(with("JA489677C")), first.person);
        assert_eq!(c.level(Field::Id), Level::Differ);
        let mut d2 = Delta::default();
        let again = old.resolve(
            &tok(R {
                ni: "JA489671C",
                ..rob()
            }),
            &mut d2,
        );
        assert_eq!((again.person, d2.ni_near.len()), (first.person, 1));
        let (c, _) = score_against(&old, &tok(with("JA489677C")), first.person);
        assert_eq!(c.level(Field::Id), Level::OneEdit);
    }

    #[test]
    fn a_row_never_links_to_a_person_it_is_kept_apart_from() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let sister = |f, dob, nhs| R {
            f,
            s: "Brown",
            dob,
            pc: "SR3 1FN",
            addr: "14 Willow Way",
            nhs,
            ..Default::default()
        };
        let isla = resolve(&mut m, &mut d, sister("Isla", "2015-10-05", "9990327092"));
        // Alike enough to link: the names sound alike, two of three dob
        // parts agree, surname and address agree.
        let ella = sister("Ella", "2010-10-05", "9994229451");
        let mut m2 = m.clone();
        let linked = resolve(&mut m2, &mut Delta::default(), ella);
        assert_eq!(linked.person, isla.person);
        // Told they are two (two member rows of one case), they stay two,
        // and the other is not even a doubt.
        let apart = m.resolve_apart(&tok(ella), &mut d, &[isla.person]);
        assert_ne!(apart.person, isla.person);
        assert!(apart.doubts.is_empty(), "{apart:?}");
    }

    #[test]
    fn two_members_of_one_case_are_never_merged_by_a_later_row() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let sister = |f, dob| R {
            f,
            s: "Brown",
            dob,
            pc: "SR3 1FN",
            addr: "14 Willow Way",
            ..Default::default()
        };
        let isla = resolve(&mut m, &mut d, sister("Isla", "2015-10-05"));
        let ella = m.resolve_apart(&tok(sister("Ella", "2010-10-05")), &mut d, &[isla.person]);
        assert_ne!(ella.person, isla.person);
        // Without the case's word, a later row of Ella's finds both and,
        // their own records agreeing well enough, merges them.
        let mut merged = m.clone();
        resolve(
            &mut merged,
            &mut Delta::default(),
            sister("Ella", "2010-10-05"),
        );
        assert_eq!(merged.canonical(ella.person), merged.canonical(isla.person));
        // With it, never.
        m.note_case_member("SF-T1", isla.person);
        m.note_case_member("SF-T1", ella.person);
        let later = resolve(&mut m, &mut d, sister("Ella", "2010-10-05"));
        assert_eq!(later.person, m.canonical(ella.person));
        assert_ne!(m.canonical(ella.person), m.canonical(isla.person));
        // Members of different cases may still prove one person.
        m.note_case_member("SF-T2", 99);
        assert!(!m.in_one_case(ella.person, 99));
    }

    #[test]
    fn a_link_within_the_band_above_the_threshold_is_narrow() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let a = resolve(&mut m, &mut d, rob());
        assert_eq!(m.narrow_margin(&a), None, "a new person is not a link");
        let b = resolve(&mut m, &mut d, rob());
        assert!(matches!(b.rule, Rule::Linked(_)), "{b:?}");
        let margin = f64::from(b.score) - m.threshold();
        assert!(margin > m.review_band(), "every field agrees: a sure link");
        assert_eq!(m.narrow_margin(&b), None);
        m.set_review_band(margin + 1.0);
        let got = m.narrow_margin(&b).expect("narrow with a wider band");
        assert!((f64::from(got) - margin).abs() < 1e-3, "{got} vs {margin}");
    }

    #[test]
    fn reviewers_decisions_join_or_keep_apart_for_good() {
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let (a, b) = doubtful(&mut m, &mut d);
        m.keep_apart(b.person, a.person);
        assert!(m.kept_apart(a.person, b.person));
        assert!(!m.join(b.person, a.person), "kept apart is final");
        // A bridging row (Rob's name and dob, the other's address) links to
        // one of them but never merges the two.
        let bridge = R {
            pc: "NE1 1AA",
            addr: "9 Low Road",
            ..rob()
        };
        resolve(&mut m, &mut d, bridge);
        assert_ne!(m.canonical(a.person), m.canonical(b.person));
        // The same without the decision merges them.
        let (mut m2, mut d2) = (Matcher::new(), Delta::default());
        let (a2, b2) = doubtful(&mut m2, &mut d2);
        resolve(&mut m2, &mut d2, bridge);
        assert_eq!(m2.canonical(a2.person), m2.canonical(b2.person));
        // `same` joins.
        let (mut m3, mut d3) = (Matcher::new(), Delta::default());
        let (a3, b3) = doubtful(&mut m3, &mut d3);
        assert!(m3.join(b3.person, a3.person));
        assert_eq!(m3.canonical(b3.person), a3.person);
        assert_eq!(m3.members(a3.person).len(), 2);
    }
}
