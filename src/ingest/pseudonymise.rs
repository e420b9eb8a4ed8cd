//! Pseudonymisation at the door.
//!
//! In: one row's raw identifiers (borrowed strings, still in the parse
//! buffer). Out: [`PersonTokens`], keyed HMAC-SHA256 pseudonyms of the
//! normalised identifiers, field by field, plus month and year of birth (the
//! only demographic kept, for age rules).
//!
//! Promises:
//! * raw identifiers are read here (and in `normalise`) and nowhere
//!   downstream: nothing in [`PersonTokens`] can be turned back into a name,
//!   date or number without the key;
//! * normalisation makes the common spellings of one value agree (see
//!   `normalise`), so the same person gets the same token from different
//!   partners;
//! * one bad identifier drops that field, not the row: the row keeps its good
//!   identifiers and carries the dropped field's name and reason (never the
//!   value); repairs tried first (OCR letters, a day/month swap) are listed
//!   too. A row is refused only when nothing identifying is left;
//! * each identifier type and each token kind has its own domain byte, so
//!   equal text in two fields never yields the same token, with one
//!   exception: each name also has a token in a domain forenames and
//!   surnames share, so that swapped names are seen;
//! * the error-tolerant tokens are keyed like every other: a name's
//!   one-deletion neighbourhood (so names one edit apart share a token), its
//!   keyed phonetic code, its initial, partial dates of birth, and an NI
//!   number's one-deletion tokens (so a typo'd NI number is told from
//!   another person's). What they reveal to someone holding the store
//!   without the key is set out in `docs/privacy-linkage.md`.

use chrono::{Datelike, NaiveDate};
use std::sync::Arc;

use crate::ingest::matching::blocking::FastMap;
pub use crate::ingest::normalise::{
    formal_forename, nhs_digits, ni_normalised, normalise_name, parse_date, postcode_normalised,
    upn_normalised, Repair,
};
use crate::ingest::normalise::{
    normalise_name_keep_digits, ocr_repaired, parse_dob, postcode_repaired, write_iso,
};
use crate::ingest::prekeyed::PreKeyed;
use crate::keys::HmacKey;

/// A pseudonym: the first 128 bits of HMAC-SHA256(key, domain || value).
pub type Token = [u8; 16];

/// A field token: the first 32 bits of a keyed pseudonym, never 0 (0 means
/// absent). Short on purpose: enough to compare one field of one person with
/// another's, too short to be a unique identifier on its own.
pub type FieldToken = u32;

/// Shows a token the way reports and notices print pseudonyms.
pub fn token_hex(t: &Token) -> String {
    hex::encode(t)
}

/// Separates identifier types and token kinds inside the HMAC input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Domain {
    Nhs = 1,
    Ni = 2,
    Upn = 3,
    Address = 4,
    /// One-character deletions of an NI number.
    NiDel = 5,
    Forename = 20,
    ForenameDel = 21,
    ForenamePhon = 22,
    ForenameFormal = 23,
    ForenamePrefix = 28,
    Initial = 24,
    Surname = 25,
    SurnameDel = 26,
    SurnamePhon = 27,
    /// A name in either field: the one token a forename and a surname share
    /// when their text is equal, so swapped names can be seen.
    NameCross = 29,
    Dob = 30,
    DobUnordered = 31,
    DobYm = 32,
    DobYd = 33,
    DobMd = 34,
    Postcode = 40,
    District = 41,
    AddressField = 42,
    HouseNumber = 43,
    /// The address line without its words that hold a digit.
    Street = 44,
}

/// A normalised address line's words that hold no digit, space-separated,
/// street-type words in one form: "4932 chalkstone avenue", "chalkstone
/// ave" and "1o10 chalkstone av" all give "chalkstone ave".
fn street_of(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for w in line
        .split(' ')
        .filter(|w| !w.is_empty() && !w.bytes().any(|b| b.is_ascii_digit()))
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(street_word(w));
    }
    out
}

/// One form of each street-type word that partners write in full or
/// abbreviated (Royal Mail's and USPS's common ones). Only in the street
/// token: the address line's own token keeps the line as written.
fn street_word(w: &str) -> &str {
    match w {
        "street" | "str" => "st",
        "road" => "rd",
        "avenue" | "av" | "avn" => "ave",
        "drive" | "drv" => "dr",
        "lane" => "ln",
        "close" => "cl",
        "court" => "ct",
        "crescent" | "cresc" => "cres",
        "place" => "pl",
        "terrace" | "terr" => "ter",
        "gardens" | "gdn" => "gdns",
        "square" => "sq",
        "grove" => "gro",
        "parkway" => "pkwy",
        "circle" => "cir",
        "boulevard" => "blvd",
        "highway" => "hwy",
        "trail" => "trl",
        _ => w,
    }
}

/// Which identifier was wrong, and how. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct IdentError {
    pub field: &'static str,
    pub reason: &'static str,
}

fn bad(field: &'static str, reason: &'static str) -> IdentError {
    IdentError { field, reason }
}

/// One row's raw identifiers, borrowed from the parser. Empty means absent.
#[derive(Default, Clone, Copy)]
pub struct RawIdentity<'a> {
    pub forename: &'a str,
    pub surname: &'a str,
    pub dob: &'a str,
    pub postcode: &'a str,
    pub address: &'a str,
    pub nhs_number: &'a str,
    pub ni_number: &'a str,
    pub upn: &'a str,
}

/// Characters of a normalised NI number (two letters, six digits; the
/// suffix letter is dropped).
pub const NI_LEN: usize = 8;

/// An NI number's one-character deletions, in the order of the character
/// deleted: two NI numbers one substitution apart share the token at that
/// position, two with adjacent characters transposed share each of the two
/// crosswise (see `compare::ids`). NHS numbers and UPNs need none: their
/// check characters catch every single substitution and adjacent
/// transposition, so two valid ones are never one such edit apart.
pub type NiNear = [FieldToken; NI_LEN];

/// Names longer than this are cut for the deletion neighbourhood, so a
/// row's token count is bounded.
pub const MAX_DEL_CHARS: usize = 16;
/// Short forms of a forename that count: prefixes of three to five letters
/// (Nat, Sam, Alex, Chris), the lengths diminutives take.
pub const SHORT_FORMS: std::ops::RangeInclusive<usize> = 3..=5;

/// The keyed tokens of one name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTokens {
    pub exact: FieldToken,
    /// The name and each one-character deletion of it, sorted: two names
    /// within one substitution, insertion, deletion or transposition share
    /// at least one.
    pub near: Vec<FieldToken>,
    pub phonetic: FieldToken,
    /// Formal name for a known diminutive (forenames only; 0 if none).
    pub formal: FieldToken,
    /// Forenames only: the whole name, then each of its proper prefixes of
    /// [`SHORT_FORMS`] characters, in their own domain, so a short form
    /// (Nat, Nathaniel) is found without a table.
    pub prefixes: Vec<FieldToken>,
    pub initial: FieldToken,
    /// The name in a domain forenames and surnames share (0 for an initial
    /// only): equal for "Smith" as a forename and "Smith" as a surname, so a
    /// row with the two names swapped is recognised.
    pub cross: FieldToken,
    /// Only the initial was given.
    pub is_initial: bool,
}

/// The keyed tokens of a date of birth: whole, unordered day and month, and
/// each pair of its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DobTokens {
    pub full: FieldToken,
    pub unordered: FieldToken,
    pub ym: FieldToken,
    pub yd: FieldToken,
    pub md: FieldToken,
}

/// The pseudonymised identity of one row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonTokens {
    pub nhs: Option<Token>,
    pub ni: Option<Token>,
    /// The NI number's deletion tokens, when it has one.
    pub ni_near: Option<NiNear>,
    pub upn: Option<Token>,
    /// Shared with the worker's cache of derived tokens: a name seen
    /// before costs a reference count, not a copy of its lists.
    pub forename: Option<Arc<NameTokens>>,
    pub surname: Option<Arc<NameTokens>>,
    pub dob: Option<DobTokens>,
    pub postcode: FieldToken,
    /// Outward code (district) of the postcode.
    pub district: FieldToken,
    pub address_field: FieldToken,
    /// The address's house number (its first run of digits), so a typo in
    /// the street name still agrees on the house; 0 without a number.
    pub house_number: FieldToken,
    /// The address line without the words that hold a digit (house and
    /// flat numbers, a number with an OCR letter in it), so a line with its
    /// number missing or mistyped still agrees on the street; 0 when
    /// nothing is left.
    pub street: FieldToken,
    /// Token of address line and postcode together: the household.
    pub address: Option<Token>,
    /// Year and month of birth; the day is dropped (data minimisation).
    pub birth: Option<(i32, u32)>,
    /// Identifier fields dropped as bad (the row was kept without them).
    pub dropped: Vec<IdentError>,
    /// Repairs made, by field.
    pub repairs: Vec<(&'static str, Repair)>,
}

impl PersonTokens {
    /// True when the row gave only an initial as forename.
    pub fn forename_is_initial(&self) -> bool {
        self.forename.as_ref().is_some_and(|f| f.is_initial)
    }

    /// Kept, but too little to link by itself: no strong id, no dob, and
    /// no forename beyond an initial (what `identifying` keeps beyond that).
    pub fn is_weak(&self) -> bool {
        !self.has_strong_id()
            && self.dob.is_none()
            && self.forename.as_ref().is_none_or(|f| f.is_initial)
    }

    pub fn has_strong_id(&self) -> bool {
        self.nhs.is_some() || self.ni.is_some() || self.upn.is_some()
    }

    /// Bit set of the repairs made ([`Repair::bit`]).
    pub fn repair_bits(&self) -> u8 {
        self.repairs.iter().fold(0, |a, (_, r)| a | r.bit())
    }

    /// Enough to link on: a strong identifier, a surname with a dob or a
    /// place (postcode or address; whatever the forename: an initial, or
    /// none), or a forename beyond an initial with a place (whatever the
    /// surname). Whether a row links is scoring's call; this only decides
    /// whether it is kept at all. A row kept but too weak to link still
    /// raises a review item when it scores near a member, so the claims it
    /// would overturn wait on review: a rejected "A Williams", or "Deborah,
    /// 116 Pat Road" (a form without a surname), at a member's address was
    /// silence, and silence reads as "no incidents".
    fn identifying(&self) -> bool {
        let sur = self.surname.is_some();
        let fore = self.forename.as_ref().is_some_and(|f| !f.is_initial);
        let dob = self.dob.is_some();
        let place = self.postcode != 0 || self.address_field != 0;
        self.has_strong_id() || (sur && (dob || place)) || (fore && place)
    }
}

/// Keyed pseudonymiser. Cheap to clone; one per worker thread.
#[derive(Clone)]
pub struct Pseudonymiser {
    mac: PreKeyed,
    key_id: String,
}

impl Pseudonymiser {
    pub fn new(key: &HmacKey) -> Self {
        Pseudonymiser {
            mac: PreKeyed::new(key.expose()),
            key_id: key.id().to_string(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// HMAC(key, domain || part || 0x1f || part ...): the unit separator
    /// keeps parts from running together. At most two parts.
    fn words(&self, domain: Domain, parts: &[&[u8]]) -> [u32; 8] {
        let d = [domain as u8];
        match parts {
            [a] => self.mac.mac_words(&[&d, a]),
            [a, b] => self.mac.mac_words(&[&d, a, &[0x1f], b]),
            _ => unreachable!("tokens take one or two parts"),
        }
    }

    fn token(&self, domain: Domain, parts: &[&[u8]]) -> Token {
        token_of(&self.words(domain, parts))
    }

    /// Each one-character deletion of a normalised NI number, keyed.
    fn ni_deletions(&self, d: &[u8; NI_LEN]) -> NiNear {
        let mut near = [0; NI_LEN];
        let mut buf = [0u8; NI_LEN - 1];
        for (i, slot) in near.iter_mut().enumerate() {
            buf[..i].copy_from_slice(&d[..i]);
            buf[i..].copy_from_slice(&d[i + 1..]);
            *slot = self.field(Domain::NiDel, &[&buf]);
        }
        zeroize::Zeroize::zeroize(&mut buf);
        near
    }

    fn field(&self, domain: Domain, parts: &[&[u8]]) -> FieldToken {
        // The first 32 bits of the tag are its first state word.
        self.words(domain, parts)[0].max(1)
    }

    /// Normalises and pseudonymises one row's identity. `scratch` is reused
    /// across rows to avoid allocation; it is wiped before return so no raw
    /// text outlives the call in it.
    pub fn pseudonymise(
        &self,
        raw: &RawIdentity<'_>,
        scratch: &mut String,
    ) -> Result<PersonTokens, IdentError> {
        let mut out = PersonTokens::default();
        self.fill(raw, scratch, &mut out);
        // Overwrite, not just truncate: the buffer held raw text.
        zeroize::Zeroize::zeroize(scratch);
        if out.identifying() {
            Ok(out)
        } else if let Some(first) = out.dropped.first() {
            // Nothing identifying left because of a bad field: name it.
            Err(first.clone())
        } else {
            Err(bad(
                "identity",
                "needs nhs_number, ni_number, upn, surname with dob, postcode or address, or forename with postcode or address",
            ))
        }
    }

    fn fill(&self, raw: &RawIdentity<'_>, s: &mut String, out: &mut PersonTokens) {
        self.strong_ids(raw, out);
        let mut tmp = String::new();
        if !raw.forename.trim().is_empty() {
            normalise_name(raw.forename, &mut tmp);
            // The first word that is a name: "Baby Jane" is Jane.
            let first = tmp
                .split(' ')
                .find(|w| !is_placeholder_forename_word(w))
                .or_else(|| tmp.split(' ').next())
                .unwrap_or("");
            if first.is_empty() {
                out.dropped
                    .push(bad("forename", "no letters after normalisation"));
            } else if is_placeholder(&tmp) {
                // "Baby", "Unknown": a record that does not know the name
                // says nothing about it, for or against.
                out.repairs.push(("forename", Repair::Placeholder));
            } else {
                s.clear();
                s.push_str(first);
                out.forename = Some(self.name(s, true));
            }
        }
        if !raw.surname.trim().is_empty() {
            normalise_name(raw.surname, &mut tmp);
            tmp.retain(|c| c != ' ');
            if tmp.is_empty() {
                out.dropped
                    .push(bad("surname", "no letters after normalisation"));
            } else if is_placeholder_surname(&tmp) {
                // "Unknown", "Not given", "Declined": a record that does not
                // know the surname says nothing about it; read as a surname
                // it would count against every true match.
                out.repairs.push(("surname", Repair::Placeholder));
            } else if tmp.len() == 1 {
                out.repairs.push(("surname", Repair::InitialOnly));
            } else {
                out.surname = Some(self.name(&tmp, false));
            }
        }
        zeroize::Zeroize::zeroize(&mut tmp);
        if !raw.dob.trim().is_empty() {
            match parse_dob(raw.dob) {
                Ok((d, _)) if d.year() < 1900 || d > chrono::Utc::now().date_naive() => {
                    out.dropped.push(bad("dob", "date of birth out of range"));
                }
                Ok((d, repairs)) => {
                    out.repairs.extend(repairs.into_iter().map(|r| ("dob", r)));
                    out.dob = Some(self.dob(d));
                    out.birth = Some((d.year(), d.month()));
                }
                Err(e) => out.dropped.push(e),
            }
        }
        let postcode = if raw.postcode.trim().is_empty() {
            None
        } else {
            match postcode_normalised(raw.postcode) {
                Ok(pc) => Some(pc),
                Err(e) => match postcode_repaired(raw.postcode) {
                    Some(pc) => {
                        out.repairs.push(("postcode", Repair::OcrDigits));
                        Some(pc)
                    }
                    None => {
                        out.dropped.push(e);
                        None
                    }
                },
            }
        };
        // The address line, normalised once for both of its tokens.
        s.clear();
        if !raw.address.trim().is_empty() {
            normalise_name_keep_digits(raw.address, s);
        }
        if let Some(pc) = &postcode {
            let outward = &pc[..pc.len() - 3];
            let pw = self.words(Domain::Postcode, &[pc.as_bytes()]);
            out.postcode = pw[0].max(1);
            out.district = DERIVED.with_borrow_mut(|c| {
                cached(&mut c.districts, tag(&pw), || {
                    self.field(Domain::District, &[outward.as_bytes()])
                })
            });
            if !raw.address.trim().is_empty() {
                out.address = Some(self.token(Domain::Address, &[s.as_bytes(), pc.as_bytes()]));
            }
        }
        // `s` is empty when the row has no address line.
        if !s.is_empty() {
            out.address_field = self.field(Domain::AddressField, &[s.as_bytes()]);
            let number: String = s
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            if !number.is_empty() {
                out.house_number = self.field(Domain::HouseNumber, &[number.as_bytes()]);
            }
            let street = street_of(s);
            if !street.is_empty() {
                out.street = self.field(Domain::Street, &[street.as_bytes()]);
            }
        }
    }

    /// NHS number, NI number and UPN: each checked, repaired if OCR letters
    /// explain the failure, dropped if still bad.
    fn strong_ids(&self, raw: &RawIdentity<'_>, out: &mut PersonTokens) {
        if !raw.nhs_number.trim().is_empty() {
            let r = checked(raw.nhs_number, "nhs_number", 0..10, nhs_digits, out);
            out.nhs = r.map(|d| self.token(Domain::Nhs, &[&d]));
        }
        if !raw.ni_number.trim().is_empty() {
            if let Some(mut d) = checked(raw.ni_number, "ni_number", 2..8, ni_normalised, out) {
                let w = self.words(Domain::Ni, &[&d]);
                out.ni = Some(token_of(&w));
                out.ni_near =
                    Some(DERIVED.with_borrow_mut(|c| {
                        cached(&mut c.nis, tag(&w), || self.ni_deletions(&d))
                    }));
                zeroize::Zeroize::zeroize(&mut d);
            }
        }
        if !raw.upn.trim().is_empty() {
            let r = checked(raw.upn, "upn", 1..12, upn_normalised, out);
            out.upn = r.map(|d| self.token(Domain::Upn, &[&d]));
        }
    }

    fn name(&self, n: &str, forename: bool) -> Arc<NameTokens> {
        let (d_exact, d_near, d_phon) = if forename {
            (Domain::Forename, Domain::ForenameDel, Domain::ForenamePhon)
        } else {
            (Domain::Surname, Domain::SurnameDel, Domain::SurnamePhon)
        };
        let initial_len = n.chars().next().map_or(0, char::len_utf8);
        let is_initial = initial_len == n.len();
        let exact = self.words(d_exact, &[n.as_bytes()]);
        let make = || {
            let t = NameTokens {
                exact: exact[0].max(1),
                initial: self.field(Domain::Initial, &[&n.as_bytes()[..initial_len]]),
                is_initial,
                ..Default::default()
            };
            if is_initial {
                t
            } else {
                let t = NameTokens {
                    cross: self.field(Domain::NameCross, &[n.as_bytes()]),
                    ..t
                };
                self.name_lists(t, n, forename, d_near, d_phon)
            }
        };
        if is_initial {
            return Arc::new(make());
        }
        DERIVED.with_borrow_mut(|c| cached(&mut c.names, tag(&exact), || Arc::new(make())))
    }

    /// The deletion, phonetic, formal and prefix tokens of a name that is
    /// more than an initial.
    fn name_lists(
        &self,
        mut t: NameTokens,
        n: &str,
        forename: bool,
        d_near: Domain,
        d_phon: Domain,
    ) -> NameTokens {
        let cut: String = n.chars().take(MAX_DEL_CHARS).collect();
        t.near.push(self.field(d_near, &[cut.as_bytes()]));
        let mut buf = String::with_capacity(cut.len());
        for (i, _) in cut.char_indices() {
            buf.clear();
            buf.push_str(&cut[..i]);
            let next = cut[i..].chars().next().map_or(0, char::len_utf8);
            buf.push_str(&cut[i + next..]);
            t.near.push(self.field(d_near, &[buf.as_bytes()]));
        }
        zeroize::Zeroize::zeroize(&mut buf);
        t.near.sort_unstable();
        t.near.dedup();
        let code = phonetic(n);
        if !code.is_empty() {
            t.phonetic = self.field(d_phon, &[code.as_bytes()]);
        }
        if forename {
            if let Some(formal) = formal_forename(n) {
                t.formal = self.field(Domain::ForenameFormal, &[formal.as_bytes()]);
            }
            t.prefixes
                .push(self.field(Domain::ForenamePrefix, &[cut.as_bytes()]));
            // Byte ends of the prefixes of SHORT_FORMS characters, shorter
            // than the name itself.
            let ends: Vec<usize> = cut
                .char_indices()
                .map(|(i, _)| i)
                .enumerate()
                .filter(|(n, _)| SHORT_FORMS.contains(n))
                .map(|(_, i)| i)
                .collect();
            for end in ends {
                t.prefixes
                    .push(self.field(Domain::ForenamePrefix, &[&cut.as_bytes()[..end]]));
            }
        }
        t
    }

    fn dob(&self, d: NaiveDate) -> DobTokens {
        let mut iso = [0u8; 10];
        write_iso(d.year(), d.month(), d.day(), &mut iso);
        let (lo, hi) = if d.day() < d.month() {
            (d.day(), d.month())
        } else {
            (d.month(), d.day())
        };
        let mut unordered = [0u8; 10];
        write_iso(d.year(), lo, hi, &mut unordered);
        let (y, m, dd) = (&iso[..4], &iso[5..7], &iso[8..]);
        let full = self.words(Domain::Dob, &[&iso]);
        DERIVED.with_borrow_mut(|c| {
            cached(&mut c.dobs, tag(&full), || DobTokens {
                full: full[0].max(1),
                unordered: self.field(Domain::DobUnordered, &[&unordered]),
                ym: self.field(Domain::DobYm, &[y, m]),
                yd: self.field(Domain::DobYd, &[y, dd]),
                md: self.field(Domain::DobMd, &[m, dd]),
            })
        })
    }
}

/// The first 128 bits of a tag, as a [`Token`].
fn token_of(w: &[u32; 8]) -> Token {
    let mut t = [0u8; 16];
    for (i, w) in w[..4].iter().enumerate() {
        t[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
    }
    t
}

/// Tokens derived from a value (a name's deletions, phonetic code and
/// prefixes; a dob's parts; a postcode's district; an NI number's
/// deletions), by the first 128 bits of the value's own tag. Names, dates,
/// postcodes and a person's NI number repeat across rows, so most rows need
/// one HMAC per field instead of a dozen. Keyed by tags,
/// never by text, so nothing here is raw; a worker thread's cache goes with
/// the thread, at the end of the delivery.
#[derive(Default)]
struct Derived {
    names: FastMap<u128, Arc<NameTokens>>,
    dobs: FastMap<u128, DobTokens>,
    districts: FastMap<u128, FieldToken>,
    nis: FastMap<u128, NiNear>,
}

/// Entries per map before it is emptied: bounds the memory (about 5 MB).
const DERIVED_MAX: usize = 1 << 15;

thread_local! {
    static DERIVED: std::cell::RefCell<Derived> = std::cell::RefCell::default();
}

fn tag(w: &[u32; 8]) -> u128 {
    w[..4].iter().fold(0u128, |a, &x| a << 32 | u128::from(x))
}

fn cached<V: Clone>(map: &mut FastMap<u128, V>, key: u128, make: impl FnOnce() -> V) -> V {
    if let Some(v) = map.get(&key) {
        return v.clone();
    }
    if map.len() >= DERIVED_MAX {
        map.clear();
    }
    let v = make();
    map.insert(key, v.clone());
    v
}

/// Words partners put where a name is not known, in either name field
/// (normalised; a surname also has its spaces taken out). Reading them as a
/// name would make every "Baby Smith" one person and rule real matches
/// out. Children's social care records a pre-birth case as "Unborn"; forms
/// and survey returns write the others where no name was given.
const PLACEHOLDER_NAMES: &[&str] = &[
    "baby",
    "unknown",
    "unk",
    "nk",
    "notknown",
    "none",
    "null",
    "na",
    "infant",
    "anon",
    "anonymous",
    "test",
    "xx",
    "xxx",
    "tba",
    "tbc",
    "unborn",
    "unnamed",
    "noname",
    "resident",
    "occupant",
    "householder",
    "respondent",
    "declined",
    "refused",
    "withheld",
];

/// Words that are placeholders as a forename only (babies not yet named,
/// unknown persons, relationships and titles), besides [`PLACEHOLDER_NAMES`].
const PLACEHOLDER_FORENAMES: &[&str] = &[
    "babyboy",
    "babygirl",
    "not known",
    "child",
    "twin",
    "boy",
    "girl",
    "male",
    "female",
    "man",
    "woman",
    "person",
    "adult",
    "kid",
    "minor",
    // A relationship written where the name should be ("Mam" is the North
    // East's "Mum"); "son" stays a name (Son is a Vietnamese given name).
    "mum",
    "mam",
    "mom",
    "mummy",
    "mother",
    "dad",
    "daddy",
    "father",
    "parent",
    "guardian",
    "wife",
    "husband",
    "daughter",
    "granddaughter",
    "grandson",
    "grandchild",
    "sister",
    "brother",
    "friend",
    // A title with no name after it ("Mrs Smith" when the forename is not
    // known), and the joining words of "Daughter of", "Baby of the".
    "mr",
    "mrs",
    "miss",
    "ms",
    "mx",
    "master",
    "lady",
    "of",
    "the",
];

/// Words that are placeholders as a surname only, besides
/// [`PLACEHOLDER_NAMES`], with the spaces taken out as surnames are ("Not
/// given" is `notgiven`). Left out: words that are also British surnames
/// (Child, Man, Son, Lady, House, Home, Friend, Parent, Person, Younger,
/// Doe, Male), which stay names.
const PLACEHOLDER_SURNAMES: &[&str] = &[
    "dontknow",
    "notgiven",
    "notstated",
    "notrecorded",
    "nil",
    "nosurname",
    "nolastname",
    "surname",
    "lastname",
    "familyname",
    "x",
];

fn is_placeholder_surname(normalised: &str) -> bool {
    PLACEHOLDER_NAMES.contains(&normalised) || PLACEHOLDER_SURNAMES.contains(&normalised)
}

/// One word (or a whole phrase such as "not known") of a forename that is
/// a placeholder.
fn is_placeholder_forename_word(w: &str) -> bool {
    PLACEHOLDER_NAMES.contains(&w) || PLACEHOLDER_FORENAMES.contains(&w)
}

fn is_placeholder(normalised: &str) -> bool {
    let first = normalised.split(' ').next().unwrap_or("");
    is_placeholder_forename_word(normalised)
        || is_placeholder_forename_word(first)
            && normalised
                .split(' ')
                .skip(1)
                .all(|w| is_placeholder_forename_word(w) || w.len() == 1)
}

/// Checks a strong identifier; on failure tries reading OCR letters in its
/// digit positions; on failure again drops it, recording why.
fn checked<T>(
    raw: &str,
    field: &'static str,
    digits: std::ops::Range<usize>,
    check: fn(&str) -> Result<T, IdentError>,
    out: &mut PersonTokens,
) -> Option<T> {
    match check(raw) {
        Ok(v) => Some(v),
        Err(e) => {
            if let Some(fixed) = ocr_repaired(raw, digits, true) {
                if let Ok(v) = check(&fixed) {
                    out.repairs.push((field, Repair::OcrDigits));
                    return Some(v);
                }
            }
            out.dropped.push(e);
            None
        }
    }
}

/// A phonetic code of a normalised name (Double Metaphone, primary), so
/// names that sound alike (Thompson, Tomson) share a keyed token.
fn phonetic(n: &str) -> String {
    use rphonetic::Encoder;
    thread_local! {
        static DM: rphonetic::DoubleMetaphone = rphonetic::DoubleMetaphone::default();
    }
    DM.with(|dm| dm.encode(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Pseudonymiser {
        Pseudonymiser::new(&HmacKey::from_bytes("test", [1u8; 32]))
    }

    fn ident<'a>(forename: &'a str, surname: &'a str, dob: &'a str) -> RawIdentity<'a> {
        RawIdentity {
            forename,
            surname,
            dob,
            ..Default::default()
        }
    }

    fn tokens(raw: &RawIdentity<'_>) -> PersonTokens {
        p().pseudonymise(raw, &mut String::new()).unwrap()
    }

    /// The street token is the line without its words that hold a digit:
    /// equal with the number missing, mistyped or read with an OCR letter,
    /// absent when nothing else is left, and never the line's own token.
    #[test]
    fn the_street_token_leaves_out_numbers() {
        let street = |address| {
            tokens(&RawIdentity {
                address,
                postcode: "SR1 3AA",
                ..ident("Ada", "Lovelace", "1985-12-10")
            })
        };
        let a = street("4932 Chalkstone Ave");
        assert_ne!(a.street, 0);
        for same in [
            "Chalkstone Ave",
            "49E2 chalkstone ave.",
            "4932a, Chalkstone Ave",
        ] {
            assert_eq!(street(same).street, a.street, "{same}");
        }
        // a flat's line keeps "flat": another street token, conservatively
        assert_ne!(street("Flat 3, 7 Chalkstone Ave").street, a.street);
        assert_ne!(street("4932 Chalkstone Road").street, a.street);
        // a street-type word written in full or abbreviated is one street
        assert_eq!(street("Chalkstone Avenue").street, a.street);
        assert_eq!(street("12 Dene Street").street, street("Dene St.").street);
        assert_eq!(street("1 Pat Road").street, street("Pat Rd").street);
        assert_ne!(street("Dene Street").street, street("Dene Road").street);
        // the line's own token keeps the line as written
        assert_ne!(
            street("Chalkstone Avenue").address_field,
            street("Chalkstone Ave").address_field
        );
        assert_eq!(street("4932").street, 0);
        assert_eq!(street("").street, 0);
        assert_ne!(
            street("Chalkstone Ave").address_field,
            a.street,
            "own domain"
        );
        assert_eq!(street_of("flat 3a 7 chalkstone ave"), "flat chalkstone ave");
    }

    #[test]
    fn an_ni_number_has_a_deletion_token_per_character_and_a_bad_one_none() {
        let ni = |n| {
            tokens(&RawIdentity {
                ni_number: n,
                ..ident("Ada", "Lovelace", "1985-12-10")
            })
        };
        let a = ni("JA489671C");
        let near = a.ni_near.expect("deletion tokens");
        let mut distinct = near.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), NI_LEN);
        // the suffix letter is not part of the number, spaces are not either
        assert_eq!(ni("ja 48 96 71 d").ni_near, Some(near));
        // one substitution: only the deletion at its position agrees
        let typo = ni("JA489677C").ni_near.unwrap();
        let agree: Vec<usize> = (0..NI_LEN).filter(|&i| typo[i] == near[i]).collect();
        assert_eq!(agree, [7]);
        // a dropped number has no tokens; the row is kept on its names
        let bad = ni("JA48967");
        assert_eq!((bad.ni, bad.ni_near), (None, None));
        assert_eq!(bad.dropped[0].field, "ni_number");
    }

    #[test]
    fn tokens_are_hmac_sha256_of_domain_and_parts() {
        use hmac::{Hmac, KeyInit, Mac};
        let key = [1u8; 32];
        let reference = |domain: u8, parts: &[&[u8]]| -> [u8; 32] {
            let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
            m.update(&[domain]);
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    m.update(&[0x1f]);
                }
                m.update(part);
            }
            m.finalize().into_bytes().into()
        };
        let ps = p();
        let long = "a".repeat(90);
        for (d, parts) in [
            (Domain::Forename, vec![&b"jane"[..]]),
            (Domain::Address, vec![long.as_bytes(), b"SR13AA"]),
            (Domain::DobYm, vec![b"2001", b"02"]),
        ] {
            let want = reference(d as u8, &parts);
            assert_eq!(ps.token(d, &parts)[..], want[..16]);
            let field = u32::from_be_bytes(want[..4].try_into().unwrap()).max(1);
            assert_eq!(ps.field(d, &parts), field);
        }
        // And through the whole row: the forename's exact token.
        let t = tokens(&ident("Jane", "Smith", "2001-02-03"));
        let want = reference(Domain::Forename as u8, &[b"jane"]);
        assert_eq!(
            t.forename.unwrap().exact,
            u32::from_be_bytes(want[..4].try_into().unwrap())
        );
    }

    #[test]
    fn derived_tokens_are_the_same_from_the_cache() {
        let raw = RawIdentity {
            postcode: "SR1 3AA",
            ..ident("Nathaniel", "Smith", "2001-02-03")
        };
        let clear = || DERIVED.with_borrow_mut(|c| *c = Derived::default());
        clear();
        let first = tokens(&raw);
        let cached = tokens(&raw);
        assert!(DERIVED.with_borrow(|c| c.names.len() == 2 && c.dobs.len() == 1));
        assert_eq!(first, cached);
        // Another key's tags differ, so it never reads this key's entries.
        let other = Pseudonymiser::new(&HmacKey::from_bytes("o", [2u8; 32]))
            .pseudonymise(&raw, &mut String::new())
            .unwrap();
        clear();
        assert_eq!(tokens(&raw), first);
        let fresh_other = Pseudonymiser::new(&HmacKey::from_bytes("o", [2u8; 32]))
            .pseudonymise(&raw, &mut String::new())
            .unwrap();
        assert_eq!(other, fresh_other);
        assert_ne!(other.forename, first.forename);
    }

    #[test]
    fn names_normalise_across_spellings() {
        let mut s = String::new();
        let a = p()
            .pseudonymise(&ident("Mrs  JANE", "O'Brien", "2001-02-03"), &mut s)
            .unwrap();
        let b = p()
            .pseudonymise(&ident("jane", "OBRIEN", "03/02/2001"), &mut s)
            .unwrap();
        let c = p()
            .pseudonymise(&ident("Jane Mary", "o brien", "20010203"), &mut s)
            .unwrap();
        assert!(a.forename.is_some() && a.dob.is_some());
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(s.is_empty(), "scratch buffer must be wiped");
    }

    #[test]
    fn diminutives_share_a_formal_token() {
        let bob = tokens(&ident("Bob", "Smith", "2001-02-03"))
            .forename
            .unwrap();
        let robert = tokens(&ident("Robert", "Smith", "2001-02-03"))
            .forename
            .unwrap();
        assert_ne!(bob.exact, robert.exact);
        assert!(bob.formal != 0);
        assert_eq!(bob.formal, robert.formal);
        // "steve" could be Stephen or Steven: no formal token
        assert_eq!(formal_forename("steve"), None);
        let zed = tokens(&ident("Zebedee", "Smith", "2001-02-03"));
        assert_eq!(zed.forename.unwrap().formal, 0);
    }

    #[test]
    fn key_and_domain_separate_tokens() {
        let other = Pseudonymiser::new(&HmacKey::from_bytes("o", [2u8; 32]));
        let a = tokens(&ident("smith", "smith", "2001-02-03"));
        let b = other
            .pseudonymise(&ident("smith", "smith", "2001-02-03"), &mut String::new())
            .unwrap();
        assert_ne!(a.surname, b.surname, "keys differ");
        let (f, s) = (a.forename.unwrap(), a.surname.unwrap());
        assert_ne!(f.exact, s.exact, "domains differ");
        assert!(f.near.iter().all(|t| !s.near.contains(t)));
        // ...but the cross-field token is shared, so a swap can be seen
        assert_eq!(f.cross, s.cross);
        let jo = tokens(&ident("jo", "smith", "2001-02-03"));
        assert_ne!(jo.forename.unwrap().cross, s.cross);
        let initial = tokens(&ident("s", "jones", "2001-02-03"));
        assert_eq!(initial.forename.unwrap().cross, 0, "an initial has none");
    }

    #[test]
    fn one_edit_apart_names_share_a_near_token() {
        let near = |f: &str| {
            tokens(&ident(f, "Smith", "2001-02-03"))
                .forename
                .unwrap()
                .near
                .clone()
        };
        let shares = |a: &[u32], b: &[u32]| a.iter().any(|t| b.contains(t));
        let john = near("John");
        for typo in ["Jhon", "Jon", "Johnn", "Joan", "Jonh"] {
            assert!(shares(&john, &near(typo)), "{typo}");
        }
        assert!(!shares(&john, &near("Jane")), "two edits apart");
        assert_eq!(near("Jonathan").len(), 9, "itself and 8 deletions");
    }

    #[test]
    fn short_forms_are_prefix_tokens() {
        let pre = |f: &str| {
            tokens(&ident(f, "Smith", "2001-02-03"))
                .forename
                .unwrap()
                .prefixes
                .clone()
        };
        let (nat, nathaniel) = (pre("Nat"), pre("Nathaniel"));
        assert_eq!(nat.len(), 1, "a three-letter name has only itself");
        assert_eq!(nathaniel.len(), 1 + 3, "itself and nat, nath, natha");
        assert!(nathaniel.contains(&nat[0]));
        assert!(!pre("James").contains(&pre("Jack")[0]));
    }

    #[test]
    fn phonetic_codes_agree_for_sound_alikes() {
        let ph = |s: &str| {
            tokens(&ident("Ann", s, "2001-02-03"))
                .surname
                .unwrap()
                .phonetic
        };
        assert_eq!(ph("Smith"), ph("Smyth"));
        assert_eq!(ph("Philips"), ph("Fillips"));
        assert_ne!(ph("Smith"), ph("Jones"));
    }

    #[test]
    fn day_month_swap_shares_unordered_token() {
        let d = |dob| tokens(&ident("ann", "bell", dob)).dob.unwrap();
        let (a, b) = (d("2001-02-03"), d("2001-03-02"));
        assert_ne!(a.full, b.full);
        assert_eq!(a.unordered, b.unordered);
        // a one-part error keeps the other two parts' token
        let c = d("2001-02-04");
        assert_eq!(a.ym, c.ym);
        assert_ne!(a.md, c.md);
    }

    #[test]
    fn initial_only_is_flagged() {
        let with_pc = |f| RawIdentity {
            postcode: "SR1 3AA",
            ..ident(f, "Smith", "2001-02-03")
        };
        let a = tokens(&with_pc("J."));
        let b = tokens(&with_pc("John"));
        assert!(a.forename_is_initial() && a.forename.as_ref().unwrap().near.is_empty());
        assert_eq!(a.forename.unwrap().initial, b.forename.unwrap().initial);
    }

    #[test]
    fn a_bad_field_is_dropped_and_the_row_kept() {
        let raw = RawIdentity {
            nhs_number: "1234567890",
            postcode: "NOT A POSTCODE",
            ..ident("Zebedee", "Quux", "2001-02-03")
        };
        let t = tokens(&raw);
        assert!(t.nhs.is_none() && t.postcode == 0 && t.dob.is_some());
        let fields: Vec<_> = t.dropped.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["nhs_number", "postcode"]);
        for e in &t.dropped {
            let e = e.to_string();
            assert!(!e.contains("1234567890") && !e.contains("NOT A"), "{e}");
        }
    }

    #[test]
    fn repairs_are_recorded_and_give_the_true_token() {
        let good = tokens(&RawIdentity {
            nhs_number: "9434765919",
            ..ident("Ann", "Lee", "2001-02-03")
        });
        let ocr = tokens(&RawIdentity {
            nhs_number: "943 476 59l9",
            ..ident("Ann", "Lee", "2OO1-02-03")
        });
        assert_eq!(good.nhs, ocr.nhs);
        assert_eq!(good.dob, ocr.dob);
        assert_eq!(ocr.repairs.len(), 2);
        assert_eq!(ocr.repair_bits(), Repair::OcrDigits.bit());
        // An OCR letter in the inward code's digit: the postcode is kept.
        let pc = |p| {
            tokens(&RawIdentity {
                postcode: p,
                ..ident("Ann", "Lee", "2001-02-03")
            })
        };
        let (good, ocr) = (pc("DH5 0SG"), pc("DH5 OSG"));
        assert!(good.postcode != 0 && good.postcode == ocr.postcode);
        assert_eq!(good.district, ocr.district);
        assert_eq!(ocr.repairs, [("postcode", Repair::OcrDigits)]);
        assert!(ocr.dropped.is_empty());
        let swapped = tokens(&ident("Ann", "Lee", "2001-13-02"));
        assert_eq!(swapped.repairs, [("dob", Repair::DayMonthSwap)]);
        assert_eq!(
            swapped.dob.unwrap().full,
            tokens(&ident("Ann", "Lee", "2001-02-13")).dob.unwrap().full
        );
    }

    #[test]
    fn a_surname_with_a_place_is_kept_whatever_the_forename() {
        let at = |forename, surname, postcode, address| RawIdentity {
            postcode,
            address,
            ..ident(forename, surname, "")
        };
        let kept = |raw: RawIdentity<'_>| p().pseudonymise(&raw, &mut String::new()).is_ok();
        assert!(kept(at("A", "Williams", "SR1 3AA", "")));
        assert!(kept(at("", "Williams", "", "12 Dene Street")));
        assert!(kept(at("Amy", "Williams", "SR1 3AA", "")));
        // No place and no dob: names alone are too weak to keep.
        assert!(!kept(at("Amy", "Williams", "", "")));
        // A place with a forename is kept (a form without a surname); with
        // only an initial there is nothing to link on.
        assert!(kept(at("Amy", "", "SR1 3AA", "12 Dene Street")));
        assert!(!kept(at("A", "", "SR1 3AA", "")));
    }

    #[test]
    fn placeholder_surnames_are_missing_not_names() {
        let at = |surname| RawIdentity {
            postcode: "SR1 3AA",
            ..ident("Jane", surname, "2001-02-03")
        };
        for s in [
            "Unknown",
            "NOT KNOWN",
            "Not given",
            "Declined",
            "No surname",
            "X",
            "Unborn",
        ] {
            let t = tokens(&at(s));
            assert!(t.surname.is_none(), "{s}");
            assert_eq!(t.repairs, [("surname", Repair::Placeholder)], "{s}");
        }
        let t = tokens(&at("S."));
        assert!(t.surname.is_none());
        assert_eq!(t.repairs, [("surname", Repair::InitialOnly)]);
        // British surnames that are also words stay names.
        for s in ["Child", "Man", "Son", "House", "Friend", "Person", "Ng"] {
            assert!(tokens(&at(s)).surname.is_some(), "{s}");
        }
        // With the surname gone, what is left must still identify the row:
        // a forename and a dob alone do not.
        let bare = p().pseudonymise(&ident("Jane", "Unknown", "2001-02-03"), &mut String::new());
        assert!(bare.is_err());
    }

    #[test]
    fn placeholder_forenames_are_missing_not_names() {
        for f in [
            "Baby",
            "UNKNOWN",
            "Not Known",
            "baby boy",
            "Twin 1",
            "Dad",
            "MAM",
            "Mrs",
            "Daughter Of",
            "Lady of the",
            "Granddaughter",
            "Unborn",
            "Adult",
            "Declined",
        ] {
            let t = tokens(&ident(f, "Smith", "2001-02-03"));
            assert!(t.forename.is_none(), "{f}");
            assert_eq!(t.repairs, [("forename", Repair::Placeholder)], "{f}");
        }
        for f in ["Boyd", "Son", "Damian"] {
            assert!(
                tokens(&ident(f, "Smith", "2001-02-03")).forename.is_some(),
                "{f}"
            );
        }
        let jane = tokens(&ident("Jane", "Smith", "2001-02-03")).forename;
        assert_eq!(
            tokens(&ident("Baby Jane", "Smith", "2001-02-03")).forename,
            jane
        );
        assert_eq!(
            tokens(&ident("Miss Jane", "Smith", "2001-02-03")).forename,
            jane
        );
    }

    #[test]
    fn errors_never_carry_values() {
        let raw = RawIdentity {
            nhs_number: "1234567890",
            ..ident("Zebedee", "", "")
        };
        let e = p()
            .pseudonymise(&raw, &mut String::new())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("1234567890") && !e.contains("Zebedee"), "{e}");
        assert!(
            e.starts_with("nhs_number"),
            "the bad field that left nothing: {e}"
        );
    }

    #[test]
    fn identity_needs_something_to_link_on() {
        let mut s = String::new();
        let raw = ident("Jane", "Smith", "");
        assert_eq!(
            p().pseudonymise(&raw, &mut s).unwrap_err().field,
            "identity"
        );
        let with_pc = RawIdentity {
            postcode: "SR1 3AA",
            ..raw
        };
        assert!(
            p().pseudonymise(&with_pc, &mut s).is_ok(),
            "names + postcode"
        );
        // A forename with a place is kept without a surname ("Deborah, 116
        // Pat Road"); with a dob but no place, or an initial with a place,
        // it is not.
        let p = p();
        let fore_place = RawIdentity {
            address: "116 Pat Road",
            ..ident("Deborah", "", "")
        };
        let t = p.pseudonymise(&fore_place, &mut s).unwrap();
        assert!(t.surname.is_none() && t.address_field != 0 && !t.is_weak());
        let fore_pc = RawIdentity {
            postcode: "SR1 3AA",
            ..ident("Deborah", "", "")
        };
        assert!(p.pseudonymise(&fore_pc, &mut s).is_ok());
        for raw in [
            ident("Deborah", "", "1970-01-02"),
            RawIdentity {
                address: "116 Pat Road",
                ..ident("D", "", "")
            },
        ] {
            assert_eq!(p.pseudonymise(&raw, &mut s).unwrap_err().field, "identity");
        }
    }
}
