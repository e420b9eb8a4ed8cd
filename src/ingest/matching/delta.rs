//! The matcher's changes for one delivery, as the store's identity log keeps
//! them.
//!
//! In: what `resolve` changed. Out: bytes (one tag byte per entry, then
//! big-endian fields), and back into a [`Matcher`] by replay.
//!
//! Promises: replaying the deltas of the committed deliveries in order
//! rebuilds the matcher they left, model included; blocking keys and token
//! counts are derived from the variants on replay, never stored twice.

use super::compare::Variant;
use super::model::Model;
use super::{IdKind, Matcher, PersonId};
use crate::ingest::pseudonymise::{NiNear, Token, NI_LEN};

/// Index changes made while matching one delivery, for the store to persist.
#[derive(Debug, Default)]
pub struct Delta {
    pub new_persons: Vec<(PersonId, Option<(i32, u32)>)>,
    pub new_ids: Vec<(PersonId, IdKind, Token)>,
    /// The deletion tokens of a person's NI number (with its id, or for a
    /// person stored before them).
    pub ni_near: Vec<(PersonId, NiNear)>,
    pub births: Vec<(PersonId, (i32, u32))>,
    /// (from, into): `from` is the same person as `into` from now on.
    pub merges: Vec<(PersonId, PersonId)>,
    /// Household links: (address token, person).
    pub addresses: Vec<(Token, PersonId)>,
    /// New spellings of a person, kept for comparison: encoded as they are
    /// learnt ([`Delta::push_variant`]), so a delivery's spellings are held
    /// once, as the log will keep them, not as copies of the matcher's and
    /// then again as bytes.
    variants: Vec<u8>,
    /// The model re-estimated for this delivery, if it was.
    pub model: Option<Model>,
}

/// A damaged identity log entry.
#[derive(Debug, thiserror::Error)]
#[error("identity log entry is truncated or has an unknown tag at byte {0}")]
pub struct DecodeError(pub usize);

const NEW_PERSON: u8 = 1;
const ID: u8 = 4;
const BIRTH: u8 = 5;
const MERGE: u8 = 6;
const ADDRESS: u8 = 7;
/// A spelling and a model as stores before the cross-field name tokens and
/// the swapped level wrote them: still read, never written.
const VARIANT_LEGACY: u8 = 8;
const MODEL_LEGACY: u8 = 9;
/// A spelling as stores before the street token wrote it: still read.
const VARIANT_BEFORE_STREET: u8 = 10;
const MODEL: u8 = 11;
const NI_NEAR: u8 = 12;
const VARIANT: u8 = 13;

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.new_persons.is_empty()
            && self.new_ids.is_empty()
            && self.ni_near.is_empty()
            && self.births.is_empty()
            && self.merges.is_empty()
            && self.addresses.is_empty()
            && self.variants.is_empty()
            && self.model.is_none()
    }

    /// Records a new spelling of `p`.
    pub fn push_variant(&mut self, p: PersonId, v: &Variant) {
        self.variants.push(VARIANT);
        self.variants.extend_from_slice(&p.to_be_bytes());
        v.encode(&mut self.variants);
    }

    /// The spellings recorded, decoded, in order (tests read them back;
    /// the store takes them encoded, from [`Delta::encoded_parts`]).
    #[cfg(test)]
    pub fn variants(&self) -> impl Iterator<Item = (PersonId, Variant)> + '_ {
        let mut i = 0;
        std::iter::from_fn(move || {
            let len = entry_len(&self.variants, i)?;
            let b = &self.variants[i + 1..i + len];
            i += len;
            let p = PersonId::from_be_bytes(b[..8].try_into().expect("8 bytes"));
            Variant::decode(&b[8..]).map(|(v, _)| (p, v))
        })
    }

    /// Serialises the delta in replay order: the model first (it governs
    /// what follows only at match time, but replay order keeps it simple),
    /// then people before anything that names them.
    pub fn encode(&self) -> Vec<u8> {
        self.encoded_parts().concat()
    }

    /// [`Delta::encode`] in three pieces, each a whole number of entries,
    /// that concatenated are its bytes: the spellings, most of a big
    /// delivery's log, are lent rather than copied.
    pub fn encoded_parts(&self) -> [std::borrow::Cow<'_, [u8]>; 3] {
        let mut head = Vec::with_capacity(self.new_persons.len() * 12 + 1024);
        if let Some(m) = &self.model {
            head.push(MODEL);
            m.encode(&mut head);
        }
        for (p, b) in &self.new_persons {
            head.push(NEW_PERSON);
            head.extend_from_slice(&p.to_be_bytes());
            push_birth(&mut head, *b);
        }
        let mut out = Vec::new();
        for (p, k, t) in &self.new_ids {
            out.push(ID);
            out.extend_from_slice(&p.to_be_bytes());
            out.push(*k as u8);
            out.extend_from_slice(t);
        }
        for (p, near) in &self.ni_near {
            out.push(NI_NEAR);
            out.extend_from_slice(&p.to_be_bytes());
            for t in near {
                out.extend_from_slice(&t.to_be_bytes());
            }
        }
        for (p, b) in &self.births {
            out.push(BIRTH);
            out.extend_from_slice(&p.to_be_bytes());
            push_birth(&mut out, Some(*b));
        }
        for (from, into) in &self.merges {
            out.push(MERGE);
            out.extend_from_slice(&from.to_be_bytes());
            out.extend_from_slice(&into.to_be_bytes());
        }
        for (t, p) in &self.addresses {
            out.push(ADDRESS);
            out.extend_from_slice(t);
            out.extend_from_slice(&p.to_be_bytes());
        }
        [head.into(), self.variants.as_slice().into(), out.into()]
    }
}

fn push_birth(out: &mut Vec<u8>, b: Option<(i32, u32)>) {
    let (y, m) = b.map_or((0i16, 0u8), |(y, m)| (y as i16, m as u8));
    out.extend_from_slice(&y.to_be_bytes());
    out.push(m);
}

/// Byte length of the entry starting at `bytes[i]` (tag included).
pub fn entry_len(bytes: &[u8], i: usize) -> Option<usize> {
    let fixed = match *bytes.get(i)? {
        NEW_PERSON | BIRTH => 11,
        ID => 25,
        NI_NEAR => 8 + 4 * NI_LEN,
        MERGE => 16,
        ADDRESS => 24,
        MODEL => Model::ENCODED_LEN,
        MODEL_LEGACY => Model::LEGACY_LEN,
        VARIANT => 8 + Variant::decode(bytes.get(i + 9..)?)?.1,
        VARIANT_BEFORE_STREET => 8 + Variant::decode_before_street(bytes.get(i + 9..)?)?.1,
        VARIANT_LEGACY => 8 + Variant::decode_legacy(bytes.get(i + 9..)?)?.1,
        _ => return None,
    };
    (i + 1 + fixed <= bytes.len()).then_some(1 + fixed)
}

/// What a replay rebuilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Everything: a matcher that can match.
    Whole,
    /// People and merges only ([`super::WhoIsWho`]): spellings, ids,
    /// addresses and the model are read past, not kept.
    WhoIsWho,
}

/// Who is who after merges, without what matching needs: a replay that
/// keeps only people and merges ([`Replay::WhoIsWho`]), for readers that
/// only name people (the link export). It cannot match, so it is not a
/// [`Matcher`]; its answers are the whole matcher's.
#[derive(Debug, Default)]
pub struct WhoIsWho(Matcher);

impl WhoIsWho {
    /// Wraps a matcher replayed with [`Replay::WhoIsWho`] (the store's
    /// `load_who_is_who`), so nothing can match with it.
    pub(crate) fn from_replayed(m: Matcher) -> Self {
        WhoIsWho(m)
    }

    /// As [`Matcher::canonical`].
    pub fn canonical(&self, p: PersonId) -> PersonId {
        self.0.canonical(p)
    }

    /// As [`Matcher::members`].
    pub fn members(&self, p: PersonId) -> Vec<PersonId> {
        self.0.members(p)
    }
}

impl Matcher {
    /// Replays an encoded [`Delta`] (from the store's identity log).
    pub fn apply_encoded(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        self.replay_encoded(bytes, Replay::Whole)
    }

    /// Replays an encoded [`Delta`], keeping what `what` asks for. Every
    /// entry is still checked, so a damaged log fails either way.
    pub fn replay_encoded(&mut self, bytes: &[u8], what: Replay) -> Result<(), DecodeError> {
        let u64at = |b: &[u8], i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap());
        let birth = |b: &[u8], i: usize| {
            let y = i16::from_be_bytes([b[i], b[i + 1]]);
            (y != 0).then_some((i32::from(y), u32::from(b[i + 2])))
        };
        let mut i = 0;
        while i < bytes.len() {
            let len = entry_len(bytes, i).ok_or(DecodeError(i))?;
            let b = &bytes[i + 1..i + len];
            let tag = bytes[i];
            // `entry_len` has checked the tag and the length: an entry
            // who is who does not keep is simply stepped over.
            if what == Replay::WhoIsWho && !matches!(tag, NEW_PERSON | BIRTH | MERGE) {
                i += len;
                continue;
            }
            match tag {
                NEW_PERSON | BIRTH => self.load_person(u64at(b, 0), birth(b, 8)),
                ID => {
                    let kind = IdKind::from_u8(b[8]).ok_or(DecodeError(i))?;
                    let t: Token = b[9..25].try_into().unwrap();
                    self.set_id(u64at(b, 0), kind, super::id64(&t));
                }
                NI_NEAR => {
                    let mut near = [0u32; NI_LEN];
                    for (j, t) in near.iter_mut().enumerate() {
                        *t = u32::from_be_bytes(b[8 + 4 * j..12 + 4 * j].try_into().unwrap());
                    }
                    self.set_ni_near(u64at(b, 0), near);
                }
                MERGE => {
                    // A merge a reviewer later split (`subject unlink`,
                    // applied from the start of the log) is not redone.
                    let (from, into) = (u64at(b, 0), u64at(b, 8));
                    if !self.kept_apart(from, into) {
                        self.set_merge(from, into);
                    }
                }
                ADDRESS => {
                    self.set_address(b[..16].try_into().unwrap(), u64at(b, 16));
                }
                VARIANT | VARIANT_BEFORE_STREET | VARIANT_LEGACY => {
                    let v = match tag {
                        VARIANT => Variant::decode(&b[8..]),
                        VARIANT_BEFORE_STREET => Variant::decode_before_street(&b[8..]),
                        _ => Variant::decode_legacy(&b[8..]),
                    };
                    let (v, _) = v.ok_or(DecodeError(i))?;
                    self.add_variant(u64at(b, 0), v);
                }
                MODEL | MODEL_LEGACY => self.model = Model::decode(b).ok_or(DecodeError(i))?,
                _ => return Err(DecodeError(i)),
            }
            i += len;
        }
        Ok(())
    }
}

/// What [`erase_persons`] took out of one encoded delta.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Entries dropped (strong ids, births, spellings, addresses, merges).
    pub entries: usize,
    /// New-person entries kept with their month of birth blanked: the
    /// number stays taken, so a later person is never given it.
    pub blanked: usize,
}

/// `bytes` (an encoded [`Delta`]) without anything naming `persons`: their
/// strong-id tokens, births, spellings, household links and merges go; their
/// new-person entries stay with the birth blanked, so person numbers are
/// never reused. `None` when nothing named them.
pub fn erase_persons(
    bytes: &[u8],
    persons: &std::collections::HashSet<PersonId>,
) -> Result<Option<(Vec<u8>, Erased)>, DecodeError> {
    let u64at = |b: &[u8], i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap());
    let mut out = Vec::with_capacity(bytes.len());
    let mut e = Erased::default();
    let mut i = 0;
    while i < bytes.len() {
        let len = entry_len(bytes, i).ok_or(DecodeError(i))?;
        let entry = &bytes[i..i + len];
        let b = &entry[1..];
        let named = match entry[0] {
            NEW_PERSON
            | BIRTH
            | ID
            | NI_NEAR
            | VARIANT
            | VARIANT_BEFORE_STREET
            | VARIANT_LEGACY => persons.contains(&u64at(b, 0)),
            MERGE => persons.contains(&u64at(b, 0)) || persons.contains(&u64at(b, 8)),
            ADDRESS => persons.contains(&u64at(b, 16)),
            _ => false,
        };
        if !named {
            out.extend_from_slice(entry);
        } else if entry[0] == NEW_PERSON {
            out.push(NEW_PERSON);
            out.extend_from_slice(&b[..8]);
            push_birth(&mut out, None);
            e.blanked += 1;
        } else {
            e.entries += 1;
        }
        i += len;
    }
    Ok((e != Erased::default()).then_some((out, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_written_before_the_swap_tokens_replays_and_is_still_found() {
        use crate::ingest::pseudonymise::{Pseudonymiser, RawIdentity};
        let p = Pseudonymiser::new(&crate::keys::HmacKey::from_bytes("t", [4u8; 32]));
        let tok = |pc: &str| {
            let raw = RawIdentity {
                forename: "Ada",
                surname: "Lovelace",
                dob: "1985-12-10",
                postcode: pc,
                ..Default::default()
            };
            p.pseudonymise(&raw, &mut String::new()).unwrap()
        };
        let (mut m, mut d) = (Matcher::new(), Delta::default());
        let first = m.resolve(&tok("SR1 3AA"), &mut d);
        // The same delta as an older outcomesd wrote it: seven-level model,
        // spellings without the cross-field tokens.
        let mut old = Vec::new();
        old.push(MODEL_LEGACY);
        let mut model = Vec::new();
        m.model().encode(&mut model);
        for (i, c) in model.chunks(4).enumerate() {
            if i % super::super::compare::LEVELS != super::super::Level::Swapped as usize {
                old.extend_from_slice(c);
            }
        }
        for (person, v) in d.variants() {
            let mut b = Vec::new();
            v.encode(&mut b);
            old.push(VARIANT_LEGACY);
            old.extend_from_slice(&person.to_be_bytes());
            old.extend_from_slice(&b[..68]);
            old.extend_from_slice(&b[80..]);
        }
        let people = Delta {
            new_persons: d.new_persons.clone(),
            ..Delta::default()
        };
        let mut rebuilt = Matcher::new();
        rebuilt.apply_encoded(&people.encode()).unwrap();
        rebuilt.apply_encoded(&old).unwrap();
        assert_eq!(rebuilt.person(first.person).unwrap().variants[0].f_x, 0);
        // Found through the ordered key it was indexed under: the postcode
        // differs, and the row drops its dob and phonetic codes, so fsy is
        // the only key left that could find it.
        let mut row = tok("NE1 1AA");
        row.dob = None;
        for n in [row.forename.as_mut(), row.surname.as_mut()]
            .into_iter()
            .flatten()
        {
            std::sync::Arc::make_mut(n).phonetic = 0;
        }
        let found = rebuilt.lookup(&row);
        assert_eq!(
            found
                .iter()
                .map(|f| (f.candidate.person, f.found_by))
                .collect::<Vec<_>>(),
            [(first.person, "fsy")]
        );
        // The new matcher indexes the unordered key only: the same row
        // finds it there too.
        let found = m.lookup(&row);
        assert_eq!(found.len(), 1);
    }

    /// A spelling stored before the street token (tag 10) replays with
    /// the street unknown, the rest as written.
    #[test]
    fn spellings_stored_before_the_street_token_replay() {
        let mut v = Variant {
            f: 7,
            addr: 8,
            house: 9,
            street: 10,
            ..Default::default()
        };
        v.set_lists(&[1, 2], &[3], &[]);
        let mut b = Vec::new();
        v.encode(&mut b);
        let mut old = Delta {
            new_persons: vec![(0, None)],
            ..Delta::default()
        }
        .encode();
        old.push(VARIANT_BEFORE_STREET);
        old.extend_from_slice(&0u64.to_be_bytes());
        old.extend_from_slice(&b[..76]);
        old.extend_from_slice(&b[80..]);
        let mut m = Matcher::new();
        m.apply_encoded(&old).unwrap();
        let got = &m.person(0).unwrap().variants[0];
        assert_eq!(got, &Variant { street: 0, ..v });
    }

    #[test]
    fn erasing_drops_what_names_a_person_and_blanks_their_number() {
        let mut d = Delta::default();
        d.new_persons.push((1, Some((2000, 3))));
        d.new_persons.push((2, Some((1990, 4))));
        d.births.push((2, (1990, 4)));
        d.merges.push((2, 1));
        d.addresses.push(([5; 16], 2));
        d.addresses.push(([5; 16], 1));
        d.new_ids.push((2, IdKind::Nhs, [6; 16]));
        d.ni_near.push((2, [9; NI_LEN]));
        let bytes = d.encode();
        let keep: std::collections::HashSet<PersonId> = [7].into_iter().collect();
        assert!(erase_persons(&bytes, &keep).unwrap().is_none());
        let gone: std::collections::HashSet<PersonId> = [2].into_iter().collect();
        let (out, e) = erase_persons(&bytes, &gone).unwrap().unwrap();
        assert_eq!(
            e,
            Erased {
                entries: 5,
                blanked: 1
            }
        );
        assert!(
            !out.windows(16).any(|w| w == [6; 16]),
            "the id token is gone"
        );
        assert!(
            !out.windows(4).any(|w| w == [0, 0, 0, 9]),
            "the NI deletion tokens are gone"
        );
        let mut m = Matcher::new();
        m.apply_encoded(&out).unwrap();
        assert_eq!(m.person_count(), 3);
        assert_eq!(m.person(2).unwrap().birth, None);
        assert_eq!(m.person(1).unwrap().birth, Some((2000, 3)));
        assert_eq!(m.household(&[5; 16]), &[1]);
        assert_eq!(m.canonical(2), 2);
    }

    /// Spellings are kept encoded as they are learnt: they read back as
    /// pushed, and the parts the store writes one after another are the
    /// delta's bytes, in replay order (people before their spellings).
    #[test]
    fn spellings_read_back_as_pushed_and_the_parts_are_the_bytes() {
        let mut d = Delta::default();
        let mut v = Variant {
            f: 7,
            street: 9,
            ..Default::default()
        };
        v.set_lists(&[1, 2], &[3], &[4, 5]);
        d.new_persons.push((3, None));
        d.push_variant(3, &v);
        d.push_variant(
            3,
            &Variant {
                s: 8,
                ..Default::default()
            },
        );
        d.merges.push((3, 1));
        let back: Vec<_> = d.variants().collect();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], (3, v));
        assert_eq!(back[1].1.s, 8);
        let parts = d.encoded_parts();
        assert_eq!(parts.concat(), d.encode());
        assert_eq!(parts[0][0], NEW_PERSON);
        assert_eq!(parts[1][0], VARIANT);
        assert_eq!(parts[2][0], MERGE);
        let mut m = Matcher::new();
        m.load_person(1, None);
        m.apply_encoded(&d.encode()).unwrap();
        assert_eq!(m.canonical(3), 1);
        assert_eq!(m.person(1).unwrap().variants.len(), 2);
    }
}
