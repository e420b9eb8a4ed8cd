//! Pseudonymisation at the door.
//!
//! In: one row's raw identifiers (borrowed strings, still in the parse
//! buffer). Out: [`PersonTokens`], keyed HMAC-SHA256 pseudonyms of the
//! normalised identifiers, plus month and year of birth (the only
//! demographic kept, for age rules).
//!
//! Promises:
//! * raw identifiers are read here and nowhere downstream: nothing in
//!   [`PersonTokens`] can be turned back into a name, date or number without
//!   the key;
//! * normalisation makes the common spellings of one value agree (Unicode
//!   NFKD with accents folded, case-folded, titles and punctuation removed,
//!   dates to ISO, postcodes without spaces), so the same person gets the same
//!   token from different partners;
//! * identifiers with check digits (NHS number, UPN) and fixed formats (NI
//!   number, postcode) are checked; an invalid one is reported by field name
//!   and reason only, never by value;
//! * each identifier type has its own domain byte, so equal text in two
//!   fields never yields the same token.

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::keys::HmacKey;

/// A pseudonym: the first 128 bits of HMAC-SHA256(key, domain || value).
pub type Token = [u8; 16];

/// Shows a token the way reports and notices print pseudonyms.
pub fn token_hex(t: &Token) -> String {
    hex::encode(t)
}

/// Separates identifier types and match keys inside the HMAC input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Domain {
    Nhs = 1,
    Ni = 2,
    Upn = 3,
    Address = 4,
    /// forename + surname + date of birth
    Fsd = 10,
    /// forename + surname + date of birth with day and month unordered
    Fsdu = 11,
    /// forename + surname + postcode + year of birth
    Fspy = 12,
    /// initial + surname + date of birth + postcode
    Isdp = 13,
    /// surname + date of birth + postcode
    Sdp = 14,
    /// forename + date of birth + postcode
    Fdp = 15,
    /// formal forename (Bob -> robert) + surname + date of birth
    Fcsd = 16,
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

/// Composite match keys: each a keyed pseudonym of several normalised
/// identifiers together, so the matcher can link records that agree on them
/// without ever seeing a name. See `matching` for the passes that use them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchKeys {
    pub fsd: Option<Token>,
    /// As `fsd` with a common diminutive read as its formal name; only set
    /// when the forename is in the table of [`formal_forename`].
    pub fcsd: Option<Token>,
    pub fsdu: Option<Token>,
    pub fspy: Option<Token>,
    pub isdp: Option<Token>,
    pub sdp: Option<Token>,
    pub fdp: Option<Token>,
}

/// The pseudonymised identity of one row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonTokens {
    pub nhs: Option<Token>,
    pub ni: Option<Token>,
    pub upn: Option<Token>,
    pub keys: MatchKeys,
    /// True when the row gave only an initial as forename.
    pub forename_is_initial: bool,
    /// Token of address line and postcode together: the household.
    pub address: Option<Token>,
    /// Year and month of birth; the day is dropped (data minimisation).
    pub birth: Option<(i32, u32)>,
}

impl PersonTokens {
    pub fn has_strong_id(&self) -> bool {
        self.nhs.is_some() || self.ni.is_some() || self.upn.is_some()
    }
}

/// Keyed pseudonymiser. Cheap to clone; one per worker thread.
#[derive(Clone)]
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
    key_id: String,
}

impl Pseudonymiser {
    pub fn new(key: &HmacKey) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
            .expect("HMAC accepts any key length");
        Pseudonymiser {
            mac,
            key_id: key.id().to_string(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn token(&self, domain: Domain, parts: &[&[u8]]) -> Token {
        let mut mac = self.mac.clone();
        mac.update(&[domain as u8]);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(&[0x1f]); // unit separator: parts cannot run together
            }
            mac.update(p);
        }
        let full = mac.finalize().into_bytes();
        let mut t = [0u8; 16];
        t.copy_from_slice(&full[..16]);
        t
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
        let result = self.fill(raw, scratch, &mut out);
        // Overwrite, not just truncate: the buffer held raw text.
        zeroize::Zeroize::zeroize(scratch);
        result.map(|()| out)
    }

    fn fill(
        &self,
        raw: &RawIdentity<'_>,
        s: &mut String,
        out: &mut PersonTokens,
    ) -> Result<(), IdentError> {
        if !raw.nhs_number.trim().is_empty() {
            let digits = nhs_digits(raw.nhs_number)?;
            out.nhs = Some(self.token(Domain::Nhs, &[&digits]));
        }
        if !raw.ni_number.trim().is_empty() {
            let ni = ni_normalised(raw.ni_number)?;
            out.ni = Some(self.token(Domain::Ni, &[&ni]));
        }
        if !raw.upn.trim().is_empty() {
            let upn = upn_normalised(raw.upn)?;
            out.upn = Some(self.token(Domain::Upn, &[&upn]));
        }
        // All normalised name parts live in `s`, as ranges.
        s.clear();
        let mut tmp = String::new();
        let forename = if raw.forename.trim().is_empty() {
            0..0
        } else {
            normalise_name(raw.forename, &mut tmp);
            let first = tmp.split(' ').next().unwrap_or("");
            let a = s.len();
            s.push_str(first);
            a..s.len()
        };
        let surname = if raw.surname.trim().is_empty() {
            0..0
        } else {
            normalise_name(raw.surname, &mut tmp);
            tmp.retain(|c| c != ' ');
            if tmp.is_empty() {
                zeroize::Zeroize::zeroize(&mut tmp);
                return Err(bad("surname", "no letters after normalisation"));
            }
            let a = s.len();
            s.push_str(&tmp);
            a..s.len()
        };
        zeroize::Zeroize::zeroize(&mut tmp);
        let dob = if raw.dob.trim().is_empty() {
            None
        } else {
            let dob = parse_date(raw.dob).ok_or(bad("dob", "not a date (use YYYY-MM-DD)"))?;
            if dob.year() < 1900 || dob > chrono::Utc::now().date_naive() {
                return Err(bad("dob", "date of birth out of range"));
            }
            Some(dob)
        };
        let postcode = if raw.postcode.trim().is_empty() {
            None
        } else {
            Some(postcode_normalised(raw.postcode)?)
        };
        let f = s[forename.clone()].as_bytes();
        let sn = s[surname.clone()].as_bytes();
        let initial_len = s[forename.clone()].chars().next().map_or(0, char::len_utf8);
        let initial = &f[..initial_len];
        out.forename_is_initial = !f.is_empty() && initial_len == f.len();
        let full_forename = !f.is_empty() && !out.forename_is_initial;
        if let Some(d) = dob {
            let mut iso = [0u8; 10];
            write_iso(d.year(), d.month(), d.day(), &mut iso);
            let (lo, hi) = if d.day() < d.month() {
                (d.day(), d.month())
            } else {
                (d.month(), d.day())
            };
            let mut unordered = [0u8; 10];
            write_iso(d.year(), lo, hi, &mut unordered);
            let year = &iso[..4];
            out.birth = Some((d.year(), d.month()));
            if full_forename && !sn.is_empty() {
                out.keys.fsd = Some(self.token(Domain::Fsd, &[f, sn, &iso]));
                if let Some(formal) = formal_forename(&s[forename.clone()]) {
                    out.keys.fcsd = Some(self.token(Domain::Fcsd, &[formal.as_bytes(), sn, &iso]));
                }
                if d.day() <= 12 && d.day() != d.month() {
                    out.keys.fsdu = Some(self.token(Domain::Fsdu, &[f, sn, &unordered]));
                }
            }
            if let Some(pc) = &postcode {
                let pc = pc.as_bytes();
                if full_forename && !sn.is_empty() {
                    out.keys.fspy = Some(self.token(Domain::Fspy, &[f, sn, pc, year]));
                }
                if !initial.is_empty() && !sn.is_empty() {
                    out.keys.isdp = Some(self.token(Domain::Isdp, &[initial, sn, &iso, pc]));
                }
                if !sn.is_empty() {
                    out.keys.sdp = Some(self.token(Domain::Sdp, &[sn, &iso, pc]));
                }
                if full_forename {
                    out.keys.fdp = Some(self.token(Domain::Fdp, &[f, &iso, pc]));
                }
            }
        }
        let named = !sn.is_empty() && dob.is_some();
        if let Some(pc) = &postcode {
            if !raw.address.trim().is_empty() {
                normalise_name_keep_digits(raw.address, s);
                out.address = Some(self.token(Domain::Address, &[s.as_bytes(), pc.as_bytes()]));
            }
        }
        if !out.has_strong_id() && !named {
            return Err(bad(
                "identity",
                "needs nhs_number, ni_number, upn, or surname with dob",
            ));
        }
        Ok(())
    }
}

fn write_iso(y: i32, m: u32, d: u32, out: &mut [u8; 10]) {
    let y = y as u32;
    let digits = [
        y / 1000 % 10,
        y / 100 % 10,
        y / 10 % 10,
        y % 10,
        10,
        m / 10,
        m % 10,
        10,
        d / 10,
        d % 10,
    ];
    for (o, v) in out.iter_mut().zip(digits) {
        *o = if v == 10 { b'-' } else { b'0' + v as u8 };
    }
}

/// Common English diminutives with one formal name each. Diminutives shared
/// by several names (sam, alex, chris, kate, pat, ...) are left out: guessing
/// would link different people.
const DIMINUTIVES: &[(&str, &[&str])] = &[
    ("robert", &["bob", "bobby", "rob", "robbie", "bert"]),
    ("william", &["bill", "billy", "will", "willie", "liam"]),
    (
        "elizabeth",
        &["liz", "lizzie", "beth", "betty", "eliza", "libby"],
    ),
    ("margaret", &["maggie", "peggy", "meg", "madge"]),
    ("james", &["jim", "jimmy", "jamie"]),
    ("michael", &["mike", "mick", "mickey", "mikey"]),
    ("richard", &["rich", "richie", "dick", "rick", "ricky"]),
    ("thomas", &["tom", "tommy"]),
    ("joseph", &["joe", "joey"]),
    ("daniel", &["dan", "danny"]),
    ("anthony", &["tony"]),
    ("matthew", &["matt", "matty"]),
    ("benjamin", &["ben", "benny"]),
    ("jennifer", &["jenny", "jen"]),
    ("rebecca", &["becky", "becca"]),
    ("victoria", &["vicky", "vicki", "tori"]),
    ("susan", &["sue", "susie"]),
    ("deborah", &["debbie", "debs"]),
    ("jonathan", &["jon", "jonny"]),
    ("nicholas", &["nick", "nicky"]),
    ("edward", &["ed", "eddie", "ted", "teddy"]),
    ("charles", &["charlie", "chas", "chuck"]),
    ("david", &["dave", "davey"]),
    ("stephen", &["steve", "stevie"]),
    ("steven", &["steve", "stevie"]),
    ("andrew", &["andy", "drew"]),
    ("peter", &["pete"]),
    ("kenneth", &["ken", "kenny"]),
    ("timothy", &["tim", "timmy"]),
    ("gregory", &["greg"]),
    ("rachel", &["rach"]),
    ("amanda", &["mandy"]),
    ("kimberley", &["kim"]),
    ("natalie", &["nat"]),
    ("abigail", &["abby", "abbie"]),
    ("jessica", &["jess", "jessie"]),
    ("joshua", &["josh"]),
    ("nathan", &["nate"]),
    ("zachary", &["zach", "zack"]),
    ("oliver", &["ollie"]),
];

/// The formal name for a normalised forename that the table knows (a
/// diminutive, or the formal name itself). Steven and Stephen both answer
/// "steve", so a diminutive listed twice has no single formal name.
pub fn formal_forename(f: &str) -> Option<&'static str> {
    let mut found = None;
    for (formal, dims) in DIMINUTIVES {
        if *formal == f {
            return Some(formal);
        }
        if dims.contains(&f) {
            if found.is_some() {
                return None; // ambiguous
            }
            found = Some(*formal);
        }
    }
    found
}

const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "master", "prof", "rev", "sir", "dame", "lady", "lord",
];

/// Lower-case letters separated by single spaces, accents folded, titles and
/// punctuation removed. Hyphens and spaces separate words; apostrophes join.
pub fn normalise_name(raw: &str, out: &mut String) {
    normalise_words(raw, out, false);
    strip_titles(out);
}

fn normalise_name_keep_digits(raw: &str, out: &mut String) {
    normalise_words(raw, out, true);
}

fn normalise_words(raw: &str, out: &mut String, keep_digits: bool) {
    out.clear();
    let mut pending_space = false;
    for c in raw.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphabetic() || (keep_digits && c.is_ascii_digit()) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            for l in c.to_lowercase() {
                out.push(l);
            }
        } else if c.is_whitespace() || c == '-' || c == ',' || c == '.' || c == '/' {
            pending_space = true;
        }
        // apostrophes and other punctuation vanish: O'Brien == OBrien
    }
}

fn strip_titles(s: &mut String) {
    loop {
        let first = s.split(' ').next().unwrap_or("");
        if s.contains(' ') && TITLES.contains(&first) {
            let cut = first.len() + 1;
            s.drain(..cut);
        } else {
            break;
        }
    }
}

/// Parses the date forms partners send: `YYYY-MM-DD`, `DD/MM/YYYY`,
/// `DD-MM-YYYY`, `YYYYMMDD`.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s = raw.trim().as_bytes();
    let num = |b: &[u8]| -> Option<u32> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
    };
    let (y, m, d) = match s.len() {
        10 if s[4] == b'-' && s[7] == b'-' => (num(&s[..4])?, num(&s[5..7])?, num(&s[8..])?),
        10 if (s[2] == b'/' && s[5] == b'/') || (s[2] == b'-' && s[5] == b'-') => {
            (num(&s[6..])?, num(&s[3..5])?, num(&s[..2])?)
        }
        8 => (num(&s[..4])?, num(&s[4..6])?, num(&s[6..])?),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// The NHS number's ten digits, with its modulus-11 check digit verified.
pub fn nhs_digits(raw: &str) -> Result<[u8; 10], IdentError> {
    let mut digits = [0u8; 10];
    let mut n = 0;
    for c in raw.chars() {
        match c {
            '0'..='9' => {
                if n == 10 {
                    return Err(bad("nhs_number", "more than 10 digits"));
                }
                digits[n] = c as u8;
                n += 1;
            }
            ' ' | '-' => {}
            _ => return Err(bad("nhs_number", "not digits")),
        }
    }
    if n != 10 {
        return Err(bad("nhs_number", "fewer than 10 digits"));
    }
    let sum: u32 = (0..9)
        .map(|i| u32::from(digits[i] - b'0') * (10 - i as u32))
        .sum();
    let check = match 11 - (sum % 11) {
        11 => 0,
        10 => return Err(bad("nhs_number", "check digit fails")),
        c => c,
    };
    if u32::from(digits[9] - b'0') != check {
        return Err(bad("nhs_number", "check digit fails"));
    }
    Ok(digits)
}

/// The NI number's first eight characters (the suffix letter is optional in
/// partner data, so it is not part of the token), format and prefix checked.
pub fn ni_normalised(raw: &str) -> Result<[u8; 8], IdentError> {
    let mut s = [0u8; 9];
    let mut n = 0;
    for c in raw.chars().filter(|c| !c.is_whitespace()) {
        if n == 9 || !c.is_ascii_alphanumeric() {
            return Err(bad("ni_number", "not of the form AB123456C"));
        }
        s[n] = c.to_ascii_uppercase() as u8;
        n += 1;
    }
    let shape_ok = (n == 8 || (n == 9 && (b'A'..=b'D').contains(&s[8])))
        && s[..2].iter().all(u8::is_ascii_uppercase)
        && s[2..8].iter().all(u8::is_ascii_digit);
    if !shape_ok {
        return Err(bad("ni_number", "not of the form AB123456C"));
    }
    let (a, b) = (s[0], s[1]);
    let prefix_ok = !b"DFIQUV".contains(&a)
        && !b"DFIOQUV".contains(&b)
        && ![b"BG", b"GB", b"NK", b"KN", b"TN", b"NT", b"ZZ"]
            .iter()
            .any(|p| p[0] == a && p[1] == b);
    if !prefix_ok {
        return Err(bad("ni_number", "prefix letters are never issued"));
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&s[..8]);
    Ok(out)
}

const UPN_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// The UPN upper-cased, its check letter verified (DfE algorithm: weights 2
/// to 13 over characters 2 to 13, modulo 23; a temporary UPN's final letter
/// counts as its index in the check alphabet).
pub fn upn_normalised(raw: &str) -> Result<[u8; 13], IdentError> {
    let mut s = [0u8; 13];
    let mut n = 0;
    for c in raw.chars().filter(|c| !c.is_whitespace()) {
        if n == 13 || !c.is_ascii_alphanumeric() {
            return Err(bad("upn", "not 13 characters"));
        }
        s[n] = c.to_ascii_uppercase() as u8;
        n += 1;
    }
    if n != 13 || !UPN_LETTERS.contains(&s[0]) || !s[1..12].iter().all(u8::is_ascii_digit) {
        return Err(bad("upn", "not a letter and 12 characters"));
    }
    let mut sum = 0u32;
    for (i, &c) in s[1..].iter().enumerate() {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else if let Some(p) = UPN_LETTERS.iter().position(|&l| l == c) {
            if i != 11 {
                return Err(bad("upn", "not a letter and 12 characters"));
            }
            p as u32
        } else {
            return Err(bad("upn", "not a letter and 12 characters"));
        };
        sum += v * (i as u32 + 2);
    }
    if UPN_LETTERS[(sum % 23) as usize] != s[0] {
        return Err(bad("upn", "check letter fails"));
    }
    Ok(s)
}

/// Upper case without spaces, checked against the UK shape (outward code of
/// 2-4 characters starting with a letter, inward code digit-letter-letter).
pub fn postcode_normalised(raw: &str) -> Result<String, IdentError> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = s.as_bytes();
    let ok = (5..=7).contains(&b.len())
        && b.iter().all(u8::is_ascii_alphanumeric)
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 3].is_ascii_digit()
        && b[b.len() - 2].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphabetic();
    if !ok {
        return Err(bad("postcode", "not a UK postcode"));
    }
    Ok(s)
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
        assert!(a.keys.fsd.is_some());
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(s.is_empty(), "scratch buffer must be wiped");
    }

    #[test]
    fn diminutives_share_a_formal_key() {
        let mut s = String::new();
        let bob = p()
            .pseudonymise(&ident("Bob", "Smith", "2001-02-03"), &mut s)
            .unwrap();
        let robert = p()
            .pseudonymise(&ident("Robert", "Smith", "2001-02-03"), &mut s)
            .unwrap();
        assert_ne!(bob.keys.fsd, robert.keys.fsd);
        assert!(bob.keys.fcsd.is_some());
        assert_eq!(bob.keys.fcsd, robert.keys.fcsd);
        // "steve" could be Stephen or Steven: no formal key
        assert_eq!(formal_forename("steve"), None);
        let zed = p()
            .pseudonymise(&ident("Zebedee", "Smith", "2001-02-03"), &mut s)
            .unwrap();
        assert!(zed.keys.fcsd.is_none());
    }

    #[test]
    fn accents_fold() {
        let mut s = String::new();
        normalise_name("José Ñúñez", &mut s);
        assert_eq!(s, "jose nunez");
    }

    #[test]
    fn key_and_domain_separate_tokens() {
        let other = Pseudonymiser::new(&HmacKey::from_bytes("o", [2u8; 32]));
        let mut s = String::new();
        let a = p()
            .pseudonymise(&ident("smith", "smith", "2001-02-03"), &mut s)
            .unwrap();
        let b = other
            .pseudonymise(&ident("smith", "smith", "2001-02-03"), &mut s)
            .unwrap();
        assert_ne!(a.keys.fsd, b.keys.fsd, "keys differ");
        let c = p()
            .pseudonymise(
                &RawIdentity {
                    postcode: "SR1 3AA",
                    ..ident("smith", "smith", "2001-02-03")
                },
                &mut s,
            )
            .unwrap();
        assert_ne!(c.keys.sdp, c.keys.fdp, "domains differ");
    }

    #[test]
    fn day_month_swap_shares_unordered_token() {
        let mut s = String::new();
        let a = p()
            .pseudonymise(&ident("ann", "b", "2001-02-03"), &mut s)
            .unwrap();
        let b = p()
            .pseudonymise(&ident("ann", "b", "2001-03-02"), &mut s)
            .unwrap();
        assert_ne!(a.keys.fsd, b.keys.fsd);
        assert_eq!(a.keys.fsdu, b.keys.fsdu);
        let c = p()
            .pseudonymise(&ident("ann", "b", "2001-02-13"), &mut s)
            .unwrap();
        assert!(c.keys.fsdu.is_none(), "no swap possible with day 13");
    }

    #[test]
    fn initial_only_is_flagged() {
        let mut s = String::new();
        let with_pc = |f| RawIdentity {
            postcode: "SR1 3AA",
            ..ident(f, "Smith", "2001-02-03")
        };
        let a = p().pseudonymise(&with_pc("J."), &mut s).unwrap();
        let b = p().pseudonymise(&with_pc("John"), &mut s).unwrap();
        assert!(a.forename_is_initial && a.keys.fsd.is_none());
        assert_eq!(a.keys.isdp, b.keys.isdp);
        assert_eq!(a.keys.sdp, b.keys.sdp);
    }

    #[test]
    fn nhs_check_digit() {
        assert!(nhs_digits("943 476 5919").is_ok());
        assert!(nhs_digits("943-476-5919").is_ok());
        assert_eq!(
            nhs_digits("9434765918").unwrap_err().reason,
            "check digit fails"
        );
        assert!(nhs_digits("94347659").is_err());
        assert!(nhs_digits("94347659x9").is_err());
    }

    #[test]
    fn ni_rules() {
        assert_eq!(&ni_normalised("ab 12 34 56 c").unwrap(), b"AB123456");
        assert_eq!(
            ni_normalised("AB123456").unwrap(),
            ni_normalised("AB123456D").unwrap()
        );
        assert!(ni_normalised("DA123456A").is_err());
        assert!(ni_normalised("GB123456A").is_err());
        assert!(ni_normalised("AB12345").is_err());
        assert!(ni_normalised("AB123456E").is_err());
    }

    #[test]
    fn upn_check_letter() {
        // Build a valid UPN from 12 digits, then corrupt it.
        let body = b"801200001001";
        let sum: u32 = body
            .iter()
            .enumerate()
            .map(|(i, d)| u32::from(d - b'0') * (i as u32 + 2))
            .sum();
        let upn = format!(
            "{}{}",
            UPN_LETTERS[(sum % 23) as usize] as char,
            "801200001001"
        );
        assert!(upn_normalised(&upn).is_ok());
        assert!(upn_normalised(&upn.to_lowercase()).is_ok());
        let wrong = format!(
            "{}{}",
            if upn.starts_with('A') { 'B' } else { 'A' },
            &upn[1..]
        );
        assert_eq!(
            upn_normalised(&wrong).unwrap_err().reason,
            "check letter fails"
        );
    }

    #[test]
    fn postcodes() {
        assert_eq!(postcode_normalised("sr1 3aa").unwrap(), "SR13AA");
        assert_eq!(postcode_normalised(" EC1A 1BB ").unwrap(), "EC1A1BB");
        assert!(postcode_normalised("12345").is_err());
        assert!(postcode_normalised("SR1").is_err());
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2001, 2, 3).unwrap();
        for s in ["2001-02-03", "03/02/2001", "03-02-2001", "20010203"] {
            assert_eq!(parse_date(s), Some(d), "{s}");
        }
        assert_eq!(parse_date("2001-02-30"), None);
        assert_eq!(parse_date("3/2/2001"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn errors_never_carry_values() {
        let mut s = String::new();
        let raw = RawIdentity {
            nhs_number: "1234567890",
            ..ident("Zebedee", "Quux", "2001-02-03")
        };
        let e = p().pseudonymise(&raw, &mut s).unwrap_err().to_string();
        assert!(!e.contains("1234567890") && !e.contains("Zebedee"), "{e}");
        assert!(e.starts_with("nhs_number"));
    }

    #[test]
    fn identity_needs_something_strong_or_name_and_dob() {
        let mut s = String::new();
        let raw = ident("Jane", "Smith", "");
        assert_eq!(
            p().pseudonymise(&raw, &mut s).unwrap_err().field,
            "identity"
        );
    }
}
