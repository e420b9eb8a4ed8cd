//! Comparison: one row's tokens against one person, field by field.
//!
//! In: a row's [`PersonTokens`] (or the compact [`Variant`] kept of an
//! earlier row) and a person's variants. Out: a [`Comparison`], one
//! [`Level`] per [`Field`].
//!
//! Promises: a level is computed from keyed tokens only (equal tokens, a
//! shared one-deletion token, equal phonetic tokens); a field missing on
//! either side is [`Level::Missing`] and carries no weight; a person known
//! under several spellings, surnames or addresses is compared with the best
//! of them, field by field.

use crate::ingest::pseudonymise::{FieldToken, NiNear, PersonTokens};

/// The fields compared, in the order of [`Comparison::levels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Forename = 0,
    Surname = 1,
    Dob = 2,
    Postcode = 3,
    Address = 4,
    Id = 5,
}

pub const FIELDS: usize = 6;
pub const LEVELS: usize = 8;

impl Field {
    pub const ALL: [Field; FIELDS] = [
        Field::Forename,
        Field::Surname,
        Field::Dob,
        Field::Postcode,
        Field::Address,
        Field::Id,
    ];

    pub fn name(self) -> &'static str {
        ["forename", "surname", "dob", "postcode", "address", "id"][self as usize]
    }
}

/// How well one field agrees. The same eight levels serve every field; a
/// field uses the ones that make sense for it (see [`Level::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Absent on either side: no evidence either way.
    Missing = 0,
    Exact = 1,
    /// Forename: the same formal name (Bob, Robert) or one a short form of
    /// the other (Nat, Nathaniel). Dob: day and month
    /// swapped. Postcode: same district. Address: same house number at the
    /// same postcode.
    Close = 2,
    /// Names and ids: one edit apart. Dob: two of year, month, day agree.
    /// Address: the same street in the same postcode district, one side
    /// without a house number, or another number at the same postcode.
    OneEdit = 3,
    /// Names: same keyed phonetic code.
    Phonetic = 4,
    /// Forename: one side gave only an initial, and it agrees.
    Initial = 5,
    Differ = 6,
    /// Names: this row's forename is the person's surname and its surname
    /// the person's forename (both names swapped). Numbered after `Differ`
    /// so stores written before it decode unchanged.
    Swapped = 7,
}

impl Level {
    pub const ALL: [Level; LEVELS] = [
        Level::Missing,
        Level::Exact,
        Level::Close,
        Level::OneEdit,
        Level::Phonetic,
        Level::Initial,
        Level::Differ,
        Level::Swapped,
    ];

    /// Order of preference when a person's spellings give different levels
    /// for one field: missing loses to any, then exact, close, ... differs
    /// last; a swap counts just above differs.
    pub fn rank(self) -> u8 {
        match self {
            Level::Missing => u8::MAX,
            Level::Swapped => Level::Differ as u8,
            Level::Differ => Level::Differ as u8 + 1,
            l => l as u8,
        }
    }

    pub fn from_u8(v: u8) -> Level {
        Level::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(Level::Missing)
    }

    /// What the level means for a field, as the export and explanations
    /// print it.
    pub fn name(self, f: Field) -> &'static str {
        match (self, f) {
            (Level::Missing, _) => "missing",
            (Level::Exact, _) => "exact",
            (Level::Close, Field::Forename) => "same_formal_or_short_form",
            (Level::Close, Field::Dob) => "day_month_swapped",
            (Level::Close, Field::Postcode) => "same_district",
            (Level::Close, Field::Address) => "same_house_number",
            (Level::OneEdit, Field::Address) => "same_street",
            (Level::Close, _) => "close",
            (Level::OneEdit, Field::Dob) => "two_parts_agree",
            (Level::OneEdit, _) => "one_edit",
            (Level::Phonetic, _) => "sounds_alike",
            (Level::Initial, _) => "initial_agrees",
            (Level::Differ, _) => "differs",
            (Level::Swapped, _) => "swapped_with_other_name",
        }
    }
}

/// Levels for every field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Comparison {
    pub levels: [u8; FIELDS],
}

impl Comparison {
    pub fn level(&self, f: Field) -> Level {
        Level::from_u8(self.levels[f as usize])
    }

    /// Nothing personal tells the pair apart from the rest of a household:
    /// no strong id, no more of a forename than an initial, and no dob that
    /// agrees whole (exactly, or with day and month swapped), on either
    /// side. Surname and place fit every member of a household, and two of
    /// three dob parts fit a grandmother and granddaughter born on one day
    /// of the year, so such a pair never links by itself (it is at most a
    /// review item): a child's census row with a blank forename would
    /// otherwise take a sibling's or parent's records.
    pub fn too_sparse(&self) -> bool {
        matches!(self.level(Field::Forename), Level::Missing | Level::Initial)
            && !matches!(self.level(Field::Dob), Level::Exact | Level::Close)
            && self.level(Field::Id) == Level::Missing
    }
}

/// What is kept of one spelling of a person: the row's field tokens, without
/// strong ids (those live on the person). Tokens are 0 when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    pub f: FieldToken,
    pub f_formal: FieldToken,
    pub f_phon: FieldToken,
    pub f_init: FieldToken,
    /// The forename's deletion tokens, the surname's deletion tokens and the
    /// forename's short-form tokens (the whole name first, then its
    /// prefixes), end to end in one allocation: see [`Variant::f_near`].
    pub lists: Box<[FieldToken]>,
    /// Lengths of the three lists in `lists`.
    pub lens: [u8; 3],
    pub s: FieldToken,
    pub s_phon: FieldToken,
    pub s_init: FieldToken,
    /// Both names' cross-field tokens (0 when absent, and in spellings
    /// stored before they existed).
    pub f_x: FieldToken,
    pub s_x: FieldToken,
    pub d: FieldToken,
    pub du: FieldToken,
    pub dym: FieldToken,
    pub dyd: FieldToken,
    pub dmd: FieldToken,
    pub pc: FieldToken,
    pub district: FieldToken,
    pub addr: FieldToken,
    pub house: FieldToken,
    /// The address line's words without a digit ([`PersonTokens::street`]);
    /// 0 in spellings stored before it.
    pub street: FieldToken,
    /// Year of birth, in clear like the month (kept for age rules anyway).
    pub y: u32,
}

impl Variant {
    pub fn of(t: &PersonTokens) -> Variant {
        let mut v = Variant::default();
        let (mut f_near, mut s_near, mut f_pre): (&[u32], &[u32], &[u32]) = (&[], &[], &[]);
        if let Some(f) = &t.forename {
            v.f_init = f.initial;
            if !f.is_initial {
                v.f = f.exact;
                v.f_formal = f.formal;
                v.f_phon = f.phonetic;
                v.f_x = f.cross;
                f_near = f.near.as_slice();
                f_pre = f.prefixes.as_slice();
            }
        }
        if let Some(s) = &t.surname {
            v.s = s.exact;
            v.s_init = s.initial;
            v.s_phon = s.phonetic;
            v.s_x = s.cross;
            s_near = s.near.as_slice();
        }
        if let Some(d) = &t.dob {
            (v.d, v.du, v.dym, v.dyd, v.dmd) = (d.full, d.unordered, d.ym, d.yd, d.md);
        }
        if let Some((y, _)) = t.birth {
            v.y = y as u32;
        }
        v.pc = t.postcode;
        v.district = t.district;
        v.addr = t.address_field;
        v.house = t.house_number;
        v.street = t.street;
        v.set_lists(f_near, s_near, f_pre);
        v
    }

    pub fn set_lists(&mut self, f_near: &[u32], s_near: &[u32], f_pre: &[u32]) {
        fn cap(l: &[u32]) -> &[u32] {
            &l[..l.len().min(255)]
        }
        let (f_near, s_near, f_pre) = (cap(f_near), cap(s_near), cap(f_pre));
        self.lens = [f_near.len() as u8, s_near.len() as u8, f_pre.len() as u8];
        self.lists = [f_near, s_near, f_pre].concat().into_boxed_slice();
    }

    fn list(&self, i: usize) -> &[u32] {
        let start: usize = self.lens[..i].iter().map(|&l| l as usize).sum();
        &self.lists[start..start + self.lens[i] as usize]
    }

    /// The forename and each one-character deletion of it, sorted.
    pub fn f_near(&self) -> &[u32] {
        self.list(0)
    }

    pub fn s_near(&self) -> &[u32] {
        self.list(1)
    }

    /// Forename short-form tokens: the whole name first, then its prefixes.
    pub fn f_pre(&self) -> &[u32] {
        self.list(2)
    }

    /// True when every field this variant has, `other` has with the same
    /// token: keeping this variant as well would add nothing.
    pub fn covered_by(&self, other: &Variant) -> bool {
        let same = |a: u32, b: u32| a == 0 || a == b;
        same(self.f_init, other.f_init)
            && same(self.f, other.f)
            && same(self.s, other.s)
            && same(self.d, other.d)
            && same(self.pc, other.pc)
            && same(self.addr, other.addr)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        for t in [
            self.f,
            self.f_formal,
            self.f_phon,
            self.f_init,
            self.s,
            self.s_phon,
            self.s_init,
            self.d,
            self.du,
            self.dym,
            self.dyd,
            self.dmd,
            self.pc,
            self.district,
            self.addr,
            self.y,
            self.house,
            self.f_x,
            self.s_x,
            self.street,
        ] {
            out.extend_from_slice(&t.to_be_bytes());
        }
        for near in [self.f_near(), self.s_near(), self.f_pre()] {
            out.push(near.len() as u8);
            for t in near.iter() {
                out.extend_from_slice(&t.to_be_bytes());
            }
        }
    }

    /// Decodes one variant as [`Variant::encode`] writes it; returns it and
    /// the bytes it used.
    pub fn decode(b: &[u8]) -> Option<(Variant, usize)> {
        Self::decode_fields(b, 20)
    }

    /// Decodes a variant stored before the street token (19 fixed fields;
    /// `street` comes back 0).
    pub fn decode_before_street(b: &[u8]) -> Option<(Variant, usize)> {
        Self::decode_fields(b, 19)
    }

    /// Decodes a variant stored before the cross-field name tokens (17
    /// fixed fields; `f_x` and `s_x` come back 0).
    pub fn decode_legacy(b: &[u8]) -> Option<(Variant, usize)> {
        Self::decode_fields(b, 17)
    }

    fn decode_fields(b: &[u8], fixed: usize) -> Option<(Variant, usize)> {
        let u = |i: usize| -> Option<u32> {
            Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
        };
        let mut t = [0u32; 20];
        for (i, slot) in t.iter_mut().take(fixed).enumerate() {
            *slot = u(i * 4)?;
        }
        let mut at = fixed * 4;
        let near = |at: &mut usize| -> Option<Box<[u32]>> {
            let n = *b.get(*at)? as usize;
            *at += 1;
            let v: Option<Vec<u32>> = (0..n).map(|i| u(*at + i * 4)).collect();
            *at += n * 4;
            v.map(Vec::into_boxed_slice)
        };
        let f_near = near(&mut at)?;
        let s_near = near(&mut at)?;
        let f_pre = near(&mut at)?;
        let mut v = Variant::default();
        v.set_lists(&f_near, &s_near, &f_pre);
        let [f, f_formal, f_phon, f_init, s, s_phon, s_init, d, du, dym, dyd, dmd, pc, district, addr, y, house, f_x, s_x, street] =
            t;
        Some((
            Variant {
                f,
                f_formal,
                f_phon,
                f_init,
                lists: v.lists,
                lens: v.lens,
                s,
                s_phon,
                s_init,
                f_x,
                s_x,
                d,
                du,
                dym,
                dyd,
                dmd,
                pc,
                district,
                addr,
                house,
                street,
                y,
            },
            at,
        ))
    }
}

fn shares(a: &[u32], b: &[u32]) -> bool {
    // Both sorted and short: a merge walk.
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    false
}

/// One forename is a short form (prefix of three letters or more) of the
/// other: Nat and Nathaniel, Sam and Samantha.
fn short_form(r: &Variant, p: &Variant) -> bool {
    match (r.f_pre().first(), p.f_pre().first()) {
        (Some(a), Some(b)) => p.f_pre()[1..].contains(a) || r.f_pre()[1..].contains(b),
        _ => false,
    }
}

fn forename(r: &Variant, p: &Variant) -> Level {
    if r.f_init == 0 || p.f_init == 0 {
        return Level::Missing;
    }
    if r.f == 0 || p.f == 0 {
        // One side gave only an initial.
        return if r.f_init == p.f_init {
            Level::Initial
        } else {
            Level::Differ
        };
    }
    if r.f == p.f {
        Level::Exact
    } else if (r.f_formal != 0 && r.f_formal == p.f_formal) || short_form(r, p) {
        Level::Close
    } else if shares(r.f_near(), p.f_near()) {
        Level::OneEdit
    } else if r.f_phon != 0 && r.f_phon == p.f_phon {
        Level::Phonetic
    } else {
        Level::Differ
    }
}

fn surname(r: &Variant, p: &Variant) -> Level {
    if r.s == 0 || p.s == 0 {
        Level::Missing
    } else if r.s == p.s {
        Level::Exact
    } else if shares(r.s_near(), p.s_near()) {
        Level::OneEdit
    } else if r.s_phon != 0 && r.s_phon == p.s_phon {
        Level::Phonetic
    } else {
        Level::Differ
    }
}

fn dob(r: &Variant, p: &Variant) -> Level {
    if r.d == 0 || p.d == 0 {
        Level::Missing
    } else if r.d == p.d {
        Level::Exact
    } else if r.du == p.du {
        Level::Close
    } else if r.dym == p.dym || r.dyd == p.dyd || r.dmd == p.dmd {
        Level::OneEdit
    } else {
        Level::Differ
    }
}

fn postcode(r: &Variant, p: &Variant) -> Level {
    if r.pc == 0 || p.pc == 0 {
        Level::Missing
    } else if r.pc == p.pc {
        Level::Exact
    } else if r.district == p.district {
        Level::Close
    } else {
        Level::Differ
    }
}

fn address(r: &Variant, p: &Variant) -> Level {
    if r.addr == 0 || p.addr == 0 {
        Level::Missing
    } else if r.addr == p.addr {
        Level::Exact
    } else if r.house != 0 && r.house == p.house && r.pc != 0 && r.pc == p.pc {
        Level::Close
    } else if r.street != 0
        && r.street == p.street
        && r.district != 0
        && r.district == p.district
        && ((r.house == 0) != (p.house == 0) || (r.pc != 0 && r.pc == p.pc))
    {
        // The house number missing on one side, or another number at the
        // same postcode (a typo, or a neighbour: `Model::score` weighs it by
        // the postcode's size, so in a UK postcode, one street or part of
        // one, it says no more than "differs"). Only within a postcode
        // district: every town has a High Street. Another number at another
        // postcode of the district is another house: "differs".
        Level::OneEdit
    } else {
        Level::Differ
    }
}

/// A record's strong ids as compared: the first 64 bits of each type's
/// token ([`super::IdKind`] order; 0 = none) and, with an NI number, its
/// deletion tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    pub keys: [u64; 3],
    pub ni_near: Option<NiNear>,
}

/// Strong ids: exact when any type both carry agrees; else one edit when
/// their NI numbers are one substitution or adjacent transposition apart;
/// differs when every type both carry disagrees; missing when they share no
/// type. Telling a typo from another person's number is the point: a typo
/// is common between records of one person, another valid number is not.
pub fn ids(r: &Ids, p: &Ids) -> Level {
    let mut level = Level::Missing;
    for (i, (a, b)) in r.keys.iter().zip(&p.keys).enumerate() {
        if *a == 0 || *b == 0 {
            continue;
        }
        if a == b {
            return Level::Exact;
        }
        let near = i == super::IdKind::Ni.slot()
            && matches!((&r.ni_near, &p.ni_near), (Some(x), Some(y)) if ni_one_edit(x, y));
        if near || level != Level::OneEdit {
            level = if near { Level::OneEdit } else { Level::Differ };
        }
    }
    level
}

/// Two NI numbers' deletion tokens show one substitution (the deletions at
/// its position agree) or one adjacent transposition (the deletions at its
/// two positions agree crosswise). Only these: an NI number has a fixed
/// length, so an insertion or deletion makes it invalid, not near.
fn ni_one_edit(x: &NiNear, y: &NiNear) -> bool {
    (0..x.len()).any(|i| x[i] == y[i])
        || (0..x.len() - 1).any(|i| x[i] == y[i + 1] && x[i + 1] == y[i])
}

/// This row's forename is the other's surname and its surname the other's
/// forename (and they are not simply the same names).
fn swapped(r: &Variant, p: &Variant) -> bool {
    r.f_x != 0 && r.s_x != 0 && r.f_x == p.s_x && r.s_x == p.f_x && r.f_x != r.s_x
}

/// Field levels of a row against one variant (ids left missing).
pub fn compare(r: &Variant, p: &Variant) -> Comparison {
    let mut c = Comparison::default();
    let (f, s) = if swapped(r, p) {
        (Level::Swapped, Level::Swapped)
    } else {
        (forename(r, p), surname(r, p))
    };
    c.levels[Field::Forename as usize] = f as u8;
    c.levels[Field::Surname as usize] = s as u8;
    c.levels[Field::Dob as usize] = dob(r, p) as u8;
    c.levels[Field::Postcode as usize] = postcode(r, p) as u8;
    c.levels[Field::Address as usize] = address(r, p) as u8;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::pseudonymise::{Pseudonymiser, RawIdentity};
    use crate::keys::HmacKey;

    fn v(f: &str, s: &str, dob: &str, pc: &str) -> Variant {
        let p = Pseudonymiser::new(&HmacKey::from_bytes("t", [3u8; 32]));
        let raw = RawIdentity {
            forename: f,
            surname: s,
            dob,
            postcode: pc,
            address: if pc.is_empty() { "" } else { "1 High St" },
            ..Default::default()
        };
        Variant::of(&p.pseudonymise(&raw, &mut String::new()).unwrap())
    }

    /// A spelling of one name and dob at `address`, `pc`.
    fn at(address: &str, pc: &str) -> Variant {
        let p = Pseudonymiser::new(&HmacKey::from_bytes("t", [3u8; 32]));
        let raw = RawIdentity {
            forename: "Amy",
            surname: "Perez",
            dob: "1990-01-02",
            postcode: pc,
            address,
            ..Default::default()
        };
        Variant::of(&p.pseudonymise(&raw, &mut String::new()).unwrap())
    }

    /// Address: exact line; same house number at the postcode; same street
    /// in the district with the number missing on one side, or with another
    /// number at the same postcode; else differs.
    #[test]
    fn address_levels_see_the_street_past_the_number() {
        let base = at("4932 Chalkstone Ave", "SR1 3AA");
        let level = |a: &str, pc: &str| compare(&at(a, pc), &base).level(Field::Address);
        assert_eq!(level("4932 chalkstone avenue.", "SR1 3AA"), Level::Close);
        assert_eq!(level("4932 Chalkstone Ave", "SR9 9ZZ"), Level::Exact);
        assert_eq!(level("4932 Chalkston Ave", "SR1 3AA"), Level::Close);
        let street = "Chalkstone Ave";
        assert_eq!(level(street, "SR1 3AA"), Level::OneEdit);
        assert_eq!(level(street, "SR1 7ZZ"), Level::OneEdit, "same district");
        assert_eq!(level(street, "NE1 3AA"), Level::Differ, "another town's");
        assert_eq!(level(street, ""), Level::Differ, "no postcode to place it");
        assert_eq!(
            compare(&base, &at(street, "SR1 3AA")).level(Field::Address),
            Level::OneEdit
        );
        // another number: a typo or a neighbour at the postcode, another
        // house elsewhere in the district
        assert_eq!(level("4938 Chalkstone Ave", "SR1 3AA"), Level::OneEdit);
        assert_eq!(level("4938 Chalkstone Ave", "SR1 7ZZ"), Level::Differ);
        assert_eq!(level("4932 Dene Street", "SR1 3AA"), Level::Close);
        assert_eq!(level("12 Dene Street", "SR1 3AA"), Level::Differ);
        assert_eq!(level("4932", "SR1 3AA"), Level::Close);
        assert_eq!(
            level("12", "SR1 3AA"),
            Level::Differ,
            "no street to agree on"
        );
        assert_eq!(Level::OneEdit.name(Field::Address), "same_street");
    }

    #[test]
    fn levels_follow_the_kind_of_difference() {
        let base = v("Jonathan", "Smith", "2001-02-03", "SR1 3AA");
        let lv = |o: &Variant| compare(o, &base);
        let c = lv(&v("Jonathon", "Smyth", "2001-03-02", "SR1 4BB"));
        assert_eq!(c.level(Field::Forename), Level::OneEdit);
        assert_eq!(c.level(Field::Surname), Level::OneEdit);
        assert_eq!(c.level(Field::Dob), Level::Close);
        assert_eq!(c.level(Field::Postcode), Level::Close);
        assert_eq!(c.level(Field::Address), Level::Exact);
        let c = lv(&v("J", "Smith", "1999-02-03", ""));
        assert_eq!(c.level(Field::Forename), Level::Initial);
        assert_eq!(c.level(Field::Dob), Level::OneEdit);
        assert_eq!(c.level(Field::Postcode), Level::Missing);
        let c = lv(&v("Mary", "Jones", "1980-07-09", "NE1 1AA"));
        for f in [Field::Forename, Field::Surname, Field::Dob, Field::Postcode] {
            assert_eq!(c.level(f), Level::Differ, "{}", f.name());
        }
        let fore = |a, b| {
            compare(
                &v(a, "Lee", "2001-02-03", ""),
                &v(b, "Lee", "2001-02-03", ""),
            )
            .level(Field::Forename)
        };
        assert_eq!(fore("Bob", "Robert"), Level::Close);
        assert_eq!(fore("Nat", "Nathaniel"), Level::Close);
        assert_eq!(fore("Nathaniel", "Nat"), Level::Close);
        assert_eq!(fore("Jack", "James"), Level::Differ);
    }

    #[test]
    fn swapped_names_are_their_own_level_and_rank_above_differs() {
        let base = v("Jonathan", "Smith", "2001-02-03", "SR1 3AA");
        let c = compare(&v("Smith", "Jonathan", "2001-02-03", "SR1 3AA"), &base);
        assert_eq!(c.level(Field::Forename), Level::Swapped);
        assert_eq!(c.level(Field::Surname), Level::Swapped);
        assert_eq!(
            Level::Swapped.name(Field::Forename),
            "swapped_with_other_name"
        );
        // one name in the other's field is not a swap
        let c = compare(&v("Smith", "Jones", "2001-02-03", "SR1 3AA"), &base);
        assert_eq!(c.level(Field::Forename), Level::Differ);
        assert!(Level::Exact.rank() < Level::Swapped.rank());
        assert!(Level::Swapped.rank() < Level::Differ.rank());
        assert!(Level::Differ.rank() < Level::Missing.rank());
    }

    #[test]
    fn legacy_variants_decode_without_cross_tokens() {
        let a = v("Jonathan", "Smith", "2001-02-03", "SR1 3AA");
        assert!(a.f_x != 0 && a.s_x != 0);
        let mut b = Vec::new();
        a.encode(&mut b);
        // The legacy layout: the same bytes without the last three fixed
        // fields (`f_x`, `s_x`, `street`).
        let legacy: Vec<u8> = [&b[..68], &b[80..]].concat();
        let (back, used) = Variant::decode_legacy(&legacy).unwrap();
        assert_eq!(used, legacy.len());
        assert_eq!((back.f_x, back.s_x), (0, 0));
        assert_eq!(
            Variant {
                f_x: 0,
                s_x: 0,
                street: 0,
                ..a.clone()
            },
            back
        );
        // Stored before the street token: without the last fixed field.
        assert!(a.street != 0);
        let before: Vec<u8> = [&b[..76], &b[80..]].concat();
        let (back, used) = Variant::decode_before_street(&before).unwrap();
        assert_eq!(used, before.len());
        assert_eq!(Variant { street: 0, ..a }, back);
    }

    #[test]
    fn ids_exact_differ_or_missing() {
        let k = |keys: [u64; 3]| Ids {
            keys,
            ni_near: None,
        };
        assert_eq!(ids(&k([1, 0, 0]), &k([1, 5, 0])), Level::Exact);
        assert_eq!(ids(&k([1, 0, 0]), &k([2, 0, 0])), Level::Differ);
        assert_eq!(ids(&k([1, 0, 0]), &k([0, 2, 0])), Level::Missing);
    }

    fn ni(n: &str) -> Ids {
        let p = Pseudonymiser::new(&HmacKey::from_bytes("t", [3u8; 32]));
        let raw = RawIdentity {
            ni_number: n,
            ..Default::default()
        };
        let t = p.pseudonymise(&raw, &mut String::new()).unwrap();
        Ids {
            keys: [
                0,
                t.ni.map_or(0, |t| u64::from_be_bytes(t[..8].try_into().unwrap())),
                0,
            ],
            ni_near: t.ni_near,
        }
    }

    #[test]
    fn an_ni_number_one_typo_away_is_one_edit_and_another_differs() {
        let base = ni("JA489671C");
        assert_eq!(ids(&ni("JA 48 96 71 D"), &base), Level::Exact);
        for typo in [
            "JA489677C",
            "JB489671C",
            "JA498671C",
            "AJ489671C",
            "JA489617C",
        ] {
            assert_eq!(ids(&ni(typo), &base), Level::OneEdit, "{typo}");
        }
        // two substitutions, a transposition two apart, another number
        for other in ["JA489622C", "JA489177C", "JA986471C", "LB809680D"] {
            assert_eq!(ids(&ni(other), &base), Level::Differ, "{other}");
        }
        // an NHS number that differs outright does not undo a near NI number
        let mut a = ni("JA489677C");
        a.keys[0] = 7;
        let mut b = base;
        b.keys[0] = 8;
        assert_eq!(ids(&a, &b), Level::OneEdit);
        // without deletion tokens on one side (a store written before them)
        // a near number reads as differing, as it always did
        b.ni_near = None;
        assert_eq!(ids(&a, &b), Level::Differ);
    }

    #[test]
    fn variants_round_trip_and_cover() {
        let a = v("Jonathan", "Smith", "2001-02-03", "SR1 3AA");
        let mut b = Vec::new();
        a.encode(&mut b);
        let (back, used) = Variant::decode(&b).unwrap();
        assert_eq!((back.clone(), used), (a.clone(), b.len()));
        assert!(Variant::decode(&b[..b.len() - 1]).is_none());
        let partial = v("Jonathan", "Smith", "2001-02-03", "");
        assert!(partial.covered_by(&a));
        assert!(!a.covered_by(&partial));
    }
}
