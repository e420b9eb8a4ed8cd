//! Matching: records to people, deterministically and explainably.
//!
//! In: a row's [`PersonTokens`]. Out: the [`PersonId`] it belongs to, which
//! pass linked it, and a [`Delta`] of index changes for the store to persist
//! with the delivery.
//!
//! Passes, strongest first:
//! 1. strong identifiers: NHS number, NI number, unique pupil number;
//! 2. forename + surname + date of birth (`fsd`);
//! 3. the same with a common diminutive read as its formal name (`fcsd`:
//!    Bob and Robert), then with day and month unordered (`fsdu`: swaps);
//! 4. forename + surname + postcode + year of birth (`fspy`: a wrong day);
//! 5. forename + date of birth + postcode (`fdp`: surname typo or change);
//! 6. only for rows without a full forename: initial + surname + date of
//!    birth + postcode (`isdp`), then surname + date of birth + postcode
//!    (`sdp`).
//!
//! Promises:
//! * two different strong identifiers of one type never end up on one person:
//!   every link and merge checks this guard;
//! * a weak key that two different people share (twins, namesakes) is marked
//!   ambiguous and never used to link again;
//! * matching never sees a raw identifier, only keyed tokens, so a later
//!   fuzzy pass (e.g. Bloom-filter encodings compared by Dice similarity)
//!   can be added as another pass over another token without changing these;
//! * results depend only on the order rows arrive in, never on timing.

use std::collections::{HashMap, HashSet};

use crate::ingest::pseudonymise::{PersonTokens, Token};

/// An internal person number; never derived from an identifier.
pub type PersonId = u64;

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
}

/// Which pass linked a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pass {
    New,
    Strong,
    Fsd,
    Fcsd,
    Fsdu,
    Fspy,
    Fdp,
    Isdp,
    Sdp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonState {
    pub ids: [Option<Token>; 3],
    /// Year and month of birth.
    pub birth: Option<(i32, u32)>,
}

impl PersonState {
    fn id(&self, k: IdKind) -> Option<Token> {
        self.ids[k as usize - 1]
    }
}

/// Index changes made while matching one delivery, for the store to persist.
#[derive(Debug, Default)]
pub struct Delta {
    pub new_persons: Vec<(PersonId, Option<(i32, u32)>)>,
    pub new_keys: Vec<(Token, PersonId)>,
    pub new_ambiguous: Vec<Token>,
    pub new_ids: Vec<(PersonId, IdKind, Token)>,
    pub births: Vec<(PersonId, (i32, u32))>,
    /// (from, into): `from` is the same person as `into` from now on.
    pub merges: Vec<(PersonId, PersonId)>,
    /// Household links: (address token, person).
    pub addresses: Vec<(Token, PersonId)>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.new_persons.is_empty()
            && self.new_keys.is_empty()
            && self.new_ambiguous.is_empty()
            && self.new_ids.is_empty()
            && self.births.is_empty()
            && self.merges.is_empty()
            && self.addresses.is_empty()
    }

    /// Serialises the delta for the store's identity log: one tag byte per
    /// entry, then fixed-width big-endian fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.new_persons.len() * 16 + self.new_keys.len() * 25 + self.addresses.len() * 25,
        );
        for (p, b) in &self.new_persons {
            out.push(1);
            out.extend_from_slice(&p.to_be_bytes());
            push_birth(&mut out, *b);
        }
        for (t, p) in &self.new_keys {
            out.push(2);
            out.extend_from_slice(t);
            out.extend_from_slice(&p.to_be_bytes());
        }
        for t in &self.new_ambiguous {
            out.push(3);
            out.extend_from_slice(t);
        }
        for (p, k, t) in &self.new_ids {
            out.push(4);
            out.extend_from_slice(&p.to_be_bytes());
            out.push(*k as u8);
            out.extend_from_slice(t);
        }
        for (p, b) in &self.births {
            out.push(5);
            out.extend_from_slice(&p.to_be_bytes());
            push_birth(&mut out, Some(*b));
        }
        for (from, into) in &self.merges {
            out.push(6);
            out.extend_from_slice(&from.to_be_bytes());
            out.extend_from_slice(&into.to_be_bytes());
        }
        for (t, p) in &self.addresses {
            out.push(7);
            out.extend_from_slice(t);
            out.extend_from_slice(&p.to_be_bytes());
        }
        out
    }
}

fn push_birth(out: &mut Vec<u8>, b: Option<(i32, u32)>) {
    let (y, m) = b.map_or((0i16, 0u8), |(y, m)| (y as i16, m as u8));
    out.extend_from_slice(&y.to_be_bytes());
    out.push(m);
}

/// A damaged identity log entry.
#[derive(Debug, thiserror::Error)]
#[error("identity log entry is truncated or has an unknown tag at byte {0}")]
pub struct DecodeError(pub usize);

/// The matcher's whole state, rebuilt from the store at start.
#[derive(Debug, Default, Clone)]
pub struct Matcher {
    index: HashMap<Token, PersonId>,
    ambiguous: HashSet<Token>,
    persons: Vec<PersonState>,
    parent: Vec<PersonId>,
    households: HashMap<Token, Vec<PersonId>>,
    /// Canonical person -> every id merged into it (only for merged people),
    /// so a family's events are found without scanning every person.
    merged: HashMap<PersonId, Vec<PersonId>>,
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
        (0..self.parent.len())
            .filter(|&i| self.parent[i] == i as PersonId)
            .count()
    }

    pub fn person(&self, p: PersonId) -> Option<&PersonState> {
        self.persons.get(self.canonical(p) as usize)
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

    /// Records that `from` (and all merged into it) now belongs to `into`.
    fn note_merge(&mut self, from: PersonId, into: PersonId) {
        let moved = self.merged.remove(&from).unwrap_or_else(|| vec![from]);
        let entry = self.merged.entry(into).or_insert_with(|| vec![into]);
        for q in moved {
            if !entry.contains(&q) {
                entry.push(q);
            }
        }
    }

    // ---- loading from the store ----

    pub fn load_person(&mut self, p: PersonId, birth: Option<(i32, u32)>) {
        let i = p as usize;
        if self.persons.len() <= i {
            self.persons.resize(i + 1, PersonState::default());
            let start = self.parent.len() as PersonId;
            self.parent.extend(start..=p);
        }
        if birth.is_some() {
            self.persons[i].birth = birth;
        }
    }
    pub fn load_key(&mut self, t: Token, p: PersonId) {
        self.index.entry(t).or_insert(p);
    }
    pub fn load_ambiguous(&mut self, t: Token) {
        self.ambiguous.insert(t);
    }
    pub fn load_id(&mut self, p: PersonId, k: IdKind, t: Token) {
        self.load_person(p, None);
        self.persons[p as usize].ids[k as usize - 1].get_or_insert(t);
    }
    pub fn load_merge(&mut self, from: PersonId, into: PersonId) {
        self.load_person(from.max(into), None);
        self.parent[from as usize] = into;
        let (f, i) = (from, self.canonical(into));
        self.note_merge(f, i);
    }

    /// Replays an encoded [`Delta`] (from the store's identity log).
    pub fn apply_encoded(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let mut i = 0;
        let u64at = |b: &[u8], i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap());
        let tok = |b: &[u8], i: usize| -> Token { b[i..i + 16].try_into().unwrap() };
        let birth = |b: &[u8], i: usize| {
            let y = i16::from_be_bytes([b[i], b[i + 1]]);
            (y != 0).then_some((i32::from(y), u32::from(b[i + 2])))
        };
        while i < bytes.len() {
            let need = match bytes[i] {
                1 | 5 => 11,
                2 | 7 => 24,
                3 => 16,
                4 => 25,
                6 => 16,
                _ => return Err(DecodeError(i)),
            };
            if i + 1 + need > bytes.len() {
                return Err(DecodeError(i));
            }
            let b = &bytes[i + 1..i + 1 + need];
            match bytes[i] {
                1 | 5 => self.load_person(u64at(b, 0), birth(b, 8)),
                2 => self.load_key(tok(b, 0), u64at(b, 16)),
                3 => self.load_ambiguous(tok(b, 0)),
                4 => {
                    let kind = IdKind::from_u8(b[8]).ok_or(DecodeError(i))?;
                    self.load_id(u64at(b, 0), kind, tok(b, 9));
                }
                6 => self.load_merge(u64at(b, 0), u64at(b, 8)),
                7 => self.load_address(tok(b, 0), u64at(b, 16)),
                _ => unreachable!(),
            }
            i += 1 + need;
        }
        Ok(())
    }

    pub fn load_address(&mut self, t: Token, p: PersonId) {
        let v = self.households.entry(t).or_default();
        if !v.contains(&p) {
            v.push(p);
        }
    }

    /// People linked to a household address token.
    pub fn household(&self, t: &Token) -> &[PersonId] {
        self.households.get(t).map_or(&[], Vec::as_slice)
    }

    // ---- matching ----

    fn compatible(&self, a: &PersonState, b: &PersonState) -> bool {
        a.ids
            .iter()
            .zip(b.ids.iter())
            .all(|(x, y)| x.is_none() || y.is_none() || x == y)
    }

    fn record_state(t: &PersonTokens) -> PersonState {
        PersonState {
            ids: [t.nhs, t.ni, t.upn],
            birth: t.birth,
        }
    }

    fn lookup(&self, t: &Token) -> Option<PersonId> {
        if self.ambiguous.contains(t) {
            return None;
        }
        self.index.get(t).map(|&p| self.canonical(p))
    }

    fn merge(&mut self, from: PersonId, into: PersonId, delta: &mut Delta) {
        let (from, into) = (self.canonical(from), self.canonical(into));
        if from == into {
            return;
        }
        self.parent[from as usize] = into;
        self.note_merge(from, into);
        delta.merges.push((from, into));
        let src = self.persons[from as usize].clone();
        for k in [IdKind::Nhs, IdKind::Ni, IdKind::Upn] {
            if let Some(t) = src.id(k) {
                self.set_id(into, k, t, delta);
            }
        }
        if self.persons[into as usize].birth.is_none() {
            if let Some(b) = src.birth {
                self.persons[into as usize].birth = Some(b);
                delta.births.push((into, b));
            }
        }
    }

    fn set_id(&mut self, p: PersonId, k: IdKind, t: Token, delta: &mut Delta) {
        let slot = &mut self.persons[p as usize].ids[k as usize - 1];
        if slot.is_none() {
            *slot = Some(t);
            delta.new_ids.push((p, k, t));
        }
    }

    /// Finds (or creates) the person a row belongs to and records what changed.
    pub fn resolve(&mut self, t: &PersonTokens, delta: &mut Delta) -> (PersonId, Pass) {
        let rec = Self::record_state(t);
        let mut found: Option<(PersonId, Pass)> = None;
        for tok in [t.nhs, t.ni, t.upn].into_iter().flatten() {
            let Some(c) = self.lookup(&tok) else { continue };
            match found {
                None => found = Some((c, Pass::Strong)),
                // Two strong ids name two people: the same person recorded
                // twice, unless they carry conflicting ids.
                Some((p, _))
                    if p != c
                        && self
                            .compatible(&self.persons[p as usize], &self.persons[c as usize]) =>
                {
                    self.merge(c, p, delta);
                }
                _ => {}
            }
        }
        if let Some((p, _)) = found {
            // A person first seen without strong ids under the same full
            // name and date of birth is this person.
            if let Some(q) = t.keys.fsd.as_ref().and_then(|k| self.lookup(k)) {
                let p = self.canonical(p);
                if q != p && self.compatible(&self.persons[p as usize], &self.persons[q as usize]) {
                    self.merge(q, p, delta);
                }
            }
        } else {
            let k = &t.keys;
            let mut passes = vec![
                (k.fsd, Pass::Fsd),
                (k.fcsd, Pass::Fcsd),
                (k.fsdu, Pass::Fsdu),
                (k.fspy, Pass::Fspy),
                (k.fdp, Pass::Fdp),
            ];
            if k.fsd.is_none() {
                passes.push((k.isdp, Pass::Isdp));
                passes.push((k.sdp, Pass::Sdp));
            }
            for (key, pass) in passes {
                let Some(key) = key else { continue };
                let Some(c) = self.lookup(&key) else { continue };
                if self.compatible(&self.persons[c as usize], &rec) {
                    found = Some((c, pass));
                    break;
                }
            }
        }
        let (p, pass) = match found {
            Some((p, pass)) => (self.canonical(p), pass),
            None => {
                let p = self.persons.len() as PersonId;
                self.persons.push(PersonState {
                    ids: [None; 3],
                    birth: t.birth,
                });
                self.parent.push(p);
                delta.new_persons.push((p, t.birth));
                (p, Pass::New)
            }
        };
        // Register what this row taught us about the person.
        for (k, tok) in [
            (IdKind::Nhs, t.nhs),
            (IdKind::Ni, t.ni),
            (IdKind::Upn, t.upn),
        ] {
            if let Some(tok) = tok {
                if self.persons[p as usize].id(k).is_none() && !self.index.contains_key(&tok) {
                    self.set_id(p, k, tok, delta);
                }
            }
        }
        if self.persons[p as usize].birth.is_none() {
            if let Some(b) = t.birth {
                self.persons[p as usize].birth = Some(b);
                delta.births.push((p, b));
            }
        }
        if let Some(a) = t.address {
            let v = self.households.entry(a).or_default();
            if !v.contains(&p) {
                v.push(p);
                delta.addresses.push((a, p));
            }
        }
        let strong = [t.nhs, t.ni, t.upn];
        let k = &t.keys;
        let weak = [k.fsd, k.fcsd, k.fsdu, k.fspy, k.fdp, k.isdp, k.sdp];
        for (i, tok) in strong.iter().chain(weak.iter()).enumerate() {
            let Some(tok) = tok else { continue };
            match self.index.get(tok).map(|&q| self.canonical(q)) {
                None => {
                    // A strong id that conflicts with the person's own is not
                    // registered: it belongs to someone else.
                    let conflicting = i < 3 && {
                        let kind = [IdKind::Nhs, IdKind::Ni, IdKind::Upn][i];
                        self.persons[p as usize].id(kind) != Some(*tok)
                    };
                    if !conflicting {
                        self.index.insert(*tok, p);
                        delta.new_keys.push((*tok, p));
                    }
                }
                Some(q) if q != p && i >= 3 && !self.ambiguous.contains(tok) => {
                    self.ambiguous.insert(*tok);
                    delta.new_ambiguous.push(*tok);
                }
                _ => {}
            }
        }
        (p, pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::pseudonymise::{Pseudonymiser, RawIdentity};
    use crate::keys::HmacKey;

    fn tok(f: &str, s: &str, dob: &str, pc: &str, nhs: &str, upn: &str) -> PersonTokens {
        let p = Pseudonymiser::new(&HmacKey::from_bytes("t", [9u8; 32]));
        let raw = RawIdentity {
            forename: f,
            surname: s,
            dob,
            postcode: pc,
            nhs_number: nhs,
            upn,
            ..Default::default()
        };
        p.pseudonymise(&raw, &mut String::new()).unwrap()
    }

    const NHS_A: &str = "9434765919";
    const NHS_B: &str = "9434765870";

    #[test]
    fn strong_id_links_despite_name_change() {
        let mut m = Matcher::new();
        let mut d = Delta::default();
        let (a, _) = m.resolve(
            &tok("Jane", "Smith", "2001-02-03", "SR1 3AA", NHS_A, ""),
            &mut d,
        );
        let (b, pass) = m.resolve(
            &tok("Jane", "Brown", "2001-02-03", "NE1 1AA", NHS_A, ""),
            &mut d,
        );
        assert_eq!((a, pass), (b, Pass::Strong));
    }

    #[test]
    fn different_nhs_numbers_never_merge() {
        let mut m = Matcher::new();
        let mut d = Delta::default();
        let (a, _) = m.resolve(
            &tok("Jane", "Smith", "2001-02-03", "SR1 3AA", NHS_A, ""),
            &mut d,
        );
        let (b, _) = m.resolve(
            &tok("Jane", "Smith", "2001-02-03", "SR1 3AA", NHS_B, ""),
            &mut d,
        );
        assert_ne!(a, b);
        // the shared name key is now ambiguous: a row with only names links to nobody
        let (c, pass) = m.resolve(
            &tok("Jane", "Smith", "2001-02-03", "SR1 3AA", "", ""),
            &mut d,
        );
        assert_eq!(pass, Pass::New);
        assert!(c != a && c != b);
    }

    #[test]
    fn weak_passes_survive_common_errors() {
        let mut m = Matcher::new();
        let mut d = Delta::default();
        let (a, _) = m.resolve(
            &tok("Robert", "Smith", "2001-02-03", "SR1 3AA", NHS_A, ""),
            &mut d,
        );
        let cases = [
            (
                tok("Robert", "Smith", "2001-03-02", "SR1 3AA", "", ""),
                Pass::Fsdu,
            ),
            (
                tok("Robert", "Smith", "2001-02-04", "SR1 3AA", "", ""),
                Pass::Fspy,
            ),
            (
                tok("Robert", "Smyth", "2001-02-03", "SR1 3AA", "", ""),
                Pass::Fdp,
            ),
            (
                tok("R", "Smith", "2001-02-03", "SR1 3AA", "", ""),
                Pass::Isdp,
            ),
            (
                tok("Robert", "Smith", "2001-02-03", "DH1 1AA", "", ""),
                Pass::Fsd,
            ),
        ];
        for (t, want) in cases {
            let (p, pass) = m.resolve(&t, &mut d);
            assert_eq!((p, pass), (a, want));
        }
    }

    #[test]
    fn twins_do_not_merge() {
        let mut m = Matcher::new();
        let mut d = Delta::default();
        let (a, _) = m.resolve(
            &tok("Jack", "Smith", "2010-02-03", "SR1 3AA", "", ""),
            &mut d,
        );
        let (b, _) = m.resolve(
            &tok("James", "Smith", "2010-02-03", "SR1 3AA", "", ""),
            &mut d,
        );
        assert_ne!(a, b);
        // an initial-only row cannot tell them apart (J): it links to neither
        let (c, _) = m.resolve(&tok("J", "Smith", "2010-02-03", "SR1 3AA", "", ""), &mut d);
        assert!(c != a && c != b);
    }

    #[test]
    fn two_records_of_one_person_merge_when_a_strong_id_joins_them() {
        let mut m = Matcher::new();
        let mut d = Delta::default();
        // police saw her without ids; the school knows her UPN; social care both
        let (a, _) = m.resolve(
            &tok("Amy", "Jones", "2009-05-06", "SR2 1AB", "", ""),
            &mut d,
        );
        let upn = "A801200001001";
        let upn = {
            // compute a valid UPN check letter
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
        let (b, _) = m.resolve(
            &tok("Amelia", "Jones", "2009-05-06", "NE9 9ZZ", "", &upn),
            &mut d,
        );
        assert_ne!(a, b);
        let (c, _) = m.resolve(
            &tok("Amy", "Jones", "2009-05-06", "SR2 1AB", NHS_A, &upn),
            &mut d,
        );
        assert_eq!(m.canonical(a), m.canonical(c));
        assert_eq!(m.canonical(b), m.canonical(c));
        assert_eq!(m.members(c).len(), 2);
        assert!(!d.merges.is_empty());
    }

    #[test]
    fn rebuilt_matcher_resolves_the_same() {
        let mut m = Matcher::new();
        let mut d = Delta::default();
        let t1 = tok("Jane", "Smith", "2001-02-03", "SR1 3AA", NHS_A, "");
        let (a, _) = m.resolve(&t1, &mut d);
        m.resolve(
            &tok("Jane", "Smith", "2001-02-03", "SR1 3AA", NHS_B, ""),
            &mut d,
        );
        let mut r = Matcher::new();
        let bytes = d.encode();
        r.apply_encoded(&bytes).unwrap();
        assert!(r.apply_encoded(&bytes[..bytes.len() - 1]).is_err());
        let mut r = Matcher::new();
        r.apply_encoded(&bytes).unwrap();
        assert_eq!(r.ambiguous, m.ambiguous);
        assert_eq!(r.persons, m.persons);
        let (b, pass) = r.resolve(
            &tok("Jane", "Smith", "2001-02-03", "XX1 1XX", NHS_A, ""),
            &mut Delta::default(),
        );
        assert_eq!((a, pass), (b, Pass::Strong));
    }
}
