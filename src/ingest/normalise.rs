//! Normalisation and checking of raw identifier values, and the repairs
//! tried before a bad value is dropped.
//!
//! In: one raw field value (borrowed from the parse buffer). Out: the
//! normalised bytes the pseudonymiser keys, or an [`IdentError`] naming the
//! field and the reason, never the value.
//!
//! Promises:
//! * the same value in the common spellings partners use normalises to the
//!   same bytes (case, accents, spacing, punctuation, date forms);
//! * check digits (NHS number, UPN) and formats (NI number, postcode) are
//!   verified; a value that fails is never silently accepted;
//! * a repair (OCR letters in digit positions, an impossible month read as a
//!   day/month swap) is tried only on a value that fails as given, is kept
//!   only when the repaired value passes every check, and is reported as a
//!   [`Repair`] so the row's record says a repair happened.

use chrono::NaiveDate;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::ingest::pseudonymise::IdentError;

fn bad(field: &'static str, reason: &'static str) -> IdentError {
    IdentError { field, reason }
}

pub(crate) fn write_iso(y: i32, m: u32, d: u32, out: &mut [u8; 10]) {
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

/// Common English diminutives with one formal name each, and spellings of
/// one name (Katherine, Catherine). Diminutives shared by several names
/// (sam, alex, chris, pat, jo, fred, harry, ...) are left out, and so are
/// those that are mostly names in their own right (jack): guessing would
/// link different people, and a forename that agrees opens the household
/// guard.
const DIMINUTIVES: &[(&str, &[&str])] = &[
    ("robert", &["bob", "bobby", "rob", "robbie", "bert"]),
    ("william", &["bill", "billy", "will", "willie", "liam"]),
    (
        "elizabeth",
        &[
            "liz", "lizzie", "lizzy", "beth", "betty", "betsy", "bess", "bessie", "eliza", "liza",
            "libby",
        ],
    ),
    (
        "margaret",
        &["maggie", "peggy", "meg", "madge", "margie", "marge"],
    ),
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
    ("rebecca", &["becky", "becca", "bex"]),
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
    // Spelling variants of one name count as its diminutives (Katherine
    // and Kathryn under Catherine).
    ("patricia", &["patty", "patsy", "trish", "tricia"]),
    (
        "catherine",
        &[
            "katherine",
            "kathryn",
            "catharine",
            "cathy",
            "cath",
            "kate",
            "katie",
            "kitty",
        ],
    ),
    ("sarah", &["sally", "sadie"]),
    ("mary", &["molly", "mollie"]),
    ("henry", &["hank"]),
    ("patrick", &["paddy"]),
    ("olivia", &["liv", "livvy", "livy"]),
    ("stephanie", &["steph", "stephie"]),
    ("angela", &["angie"]),
    ("jacob", &["jake"]),
    ("kevin", &["kev"]),
    ("pamela", &["pam"]),
    ("barbara", &["babs", "barb"]),
    ("dorothy", &["dot", "dotty", "dottie", "dolly"]),
    ("judith", &["judy"]),
    ("theresa", &["teresa", "tess", "tessa"]),
    ("valerie", &["val"]),
    ("beverley", &["bev"]),
    ("gillian", &["gill", "gilly"]),
    ("harriet", &["hattie"]),
    ("penelope", &["penny"]),
    ("josephine", &["josie"]),
    ("philippa", &["pippa"]),
    ("cynthia", &["cindy"]),
    ("gwendolen", &["gwendoline", "gwendolyn", "gwen"]),
    ("charlotte", &["lottie"]),
    (
        "isabel",
        &["isabella", "isabelle", "isobel", "izzy", "issy"],
    ),
    ("jacqueline", &["jacqui"]),
    ("leonard", &["len", "lenny"]),
    ("lawrence", &["laurence", "larry"]),
    ("raymond", &["ray"]),
    ("ronald", &["ron"]),
    ("donald", &["don", "donny"]),
    ("douglas", &["doug", "dougie"]),
    ("philip", &["phillip", "phil"]),
    ("theodore", &["theo"]),
    ("archibald", &["archie"]),
    ("albert", &["albie"]),
    ("alfred", &["alf", "alfie"]),
    ("bernard", &["bernie"]),
    ("clifford", &["cliff"]),
    ("geoffrey", &["jeffrey", "geoff", "jeff"]),
    ("herbert", &["herb"]),
    ("jeremy", &["jez"]),
    ("nigel", &["nige"]),
    ("reginald", &["reg", "reggie"]),
    ("roger", &["rog"]),
    ("stanley", &["stan"]),
    ("walter", &["wally", "walt"]),
    ("eugene", &["gene"]),
    ("ernest", &["ernie"]),
    ("norman", &["norm"]),
    ("percival", &["percy"]),
    ("sidney", &["sydney", "sid"]),
    ("vincent", &["vince", "vinny"]),
    ("stuart", &["stewart", "stu"]),
    ("bradley", &["brad"]),
    ("grace", &["gracie"]),
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

pub(crate) fn normalise_name_keep_digits(raw: &str, out: &mut String) {
    normalise_words(raw, out, true);
}

fn normalise_words(raw: &str, out: &mut String, keep_digits: bool) {
    out.clear();
    let mut pending_space = false;
    if raw.is_ascii() {
        // The common case, and the same result: NFKD leaves ASCII as it
        // is and no ASCII character is a combining mark.
        for c in raw.bytes().map(char::from) {
            if c.is_ascii_alphabetic() || (keep_digits && c.is_ascii_digit()) {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c.to_ascii_lowercase());
            } else if c.is_whitespace() || c == '-' || c == ',' || c == '.' || c == '/' {
                pending_space = true;
            }
        }
    } else {
        normalise_unicode(raw, out, keep_digits);
    }
}

fn normalise_unicode(raw: &str, out: &mut String, keep_digits: bool) {
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
    let (y, m, d) = date_parts(raw.trim().as_bytes())?;
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// Year, month and day as written, before any calendar check.
fn date_parts(s: &[u8]) -> Option<(u32, u32, u32)> {
    let num = |b: &[u8]| -> Option<u32> {
        if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
    };
    Some(match s.len() {
        10 if s[4] == b'-' && s[7] == b'-' => (num(&s[..4])?, num(&s[5..7])?, num(&s[8..])?),
        10 if (s[2] == b'/' && s[5] == b'/') || (s[2] == b'-' && s[5] == b'-') => {
            (num(&s[6..])?, num(&s[3..5])?, num(&s[..2])?)
        }
        8 => (num(&s[..4])?, num(&s[4..6])?, num(&s[6..])?),
        _ => return None,
    })
}

/// A repair applied to a value that failed as given. Recorded per row; the
/// value itself never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Repair {
    /// Letters that OCR confuses with digits (O, I, l, S, B, Z) read as
    /// digits where the format holds a digit, and such digits read as
    /// letters where a postcode holds a letter (one name for both: the
    /// stored bit predates the second).
    OcrDigits,
    /// A month above 12 with a day of 12 or less read as day and month swapped.
    DayMonthSwap,
    /// A placeholder ("Baby", "Unknown", "Not given") read as no forename
    /// or no surname.
    Placeholder,
    /// A surname of one letter (an initial) read as no surname: compared
    /// as a name, a rare letter would weigh like a rare surname.
    InitialOnly,
}

impl Repair {
    pub fn name(self) -> &'static str {
        match self {
            Repair::OcrDigits => "ocr_digits",
            Repair::DayMonthSwap => "day_month_swap",
            Repair::Placeholder => "placeholder_read_as_missing",
            Repair::InitialOnly => "initial_read_as_missing",
        }
    }

    pub fn bit(self) -> u8 {
        match self {
            Repair::OcrDigits => 1,
            Repair::DayMonthSwap => 2,
            Repair::Placeholder => 4,
            Repair::InitialOnly => 8,
        }
    }
}

/// The digit an OCR letter most likely was, if it is one of the usual
/// confusions.
fn ocr_digit(c: u8) -> Option<u8> {
    Some(match c {
        b'O' | b'o' | b'Q' => b'0',
        b'I' | b'i' | b'l' | b'|' => b'1',
        b'Z' | b'z' => b'2',
        b'S' | b's' => b'5',
        b'G' => b'6',
        b'B' => b'8',
        _ => return None,
    })
}

/// The letter OCR takes a digit for, where the format holds a letter; in an
/// inward code never O or I, which inward codes leave out.
fn ocr_letter(c: u8, inward: bool) -> Option<u8> {
    Some(match c {
        b'0' if !inward => b'O',
        b'1' if !inward => b'I',
        b'2' => b'Z',
        b'5' => b'S',
        b'6' => b'G',
        b'8' => b'B',
        _ => return None,
    })
}

/// `raw` with OCR letters in `positions` (byte indexes, after removing
/// spaces and hyphens when `compact`) read as digits; `None` when nothing
/// changed. Only ASCII input is considered.
pub fn ocr_repaired(raw: &str, positions: std::ops::Range<usize>, compact: bool) -> Option<String> {
    if !raw.is_ascii() {
        return None;
    }
    let mut out: Vec<u8> = raw
        .trim()
        .bytes()
        .filter(|b| !compact || !matches!(b, b' ' | b'-'))
        .collect();
    let mut changed = false;
    let end = positions.end.min(out.len());
    for b in &mut out[positions.start.min(end)..end] {
        if let Some(d) = ocr_digit(*b) {
            *b = d;
            changed = true;
        }
    }
    changed.then(|| String::from_utf8(out).expect("ascii"))
}

/// A date of birth, repaired if it fails as given: OCR letters read as
/// digits, then an impossible month (13-31) with a possible day read as a
/// day/month swap.
pub fn parse_dob(raw: &str) -> Result<(NaiveDate, Vec<Repair>), IdentError> {
    if let Some(d) = parse_date(raw) {
        return Ok((d, Vec::new()));
    }
    let mut repairs = Vec::new();
    let mut text = raw.trim().to_string();
    if let Some(r) = ocr_repaired(&text, 0..usize::MAX, false) {
        text = r;
        repairs.push(Repair::OcrDigits);
    }
    let (y, m, d) = date_parts(text.as_bytes()).ok_or(bad("dob", "not a date (use YYYY-MM-DD)"))?;
    if let Some(date) = NaiveDate::from_ymd_opt(y as i32, m, d) {
        return Ok((date, repairs));
    }
    if m > 12 && (1..=12).contains(&d) {
        if let Some(date) = NaiveDate::from_ymd_opt(y as i32, d, m) {
            repairs.push(Repair::DayMonthSwap);
            return Ok((date, repairs));
        }
    }
    Err(bad("dob", "not a date (use YYYY-MM-DD)"))
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

/// A postcode that fails as given, repaired where OCR explains it: an
/// inward code's digit read as a letter ("DH5 OSG" is DH5 0SG), or a digit
/// where a letter always stands, the first character and the last two
/// ("5R5 1ND" is SR5 1ND). Those positions are fixed by the format, so the
/// reading is not a guess; the inward letters take only the OCR digits
/// whose letter an inward code can hold (never O or I: inward codes leave
/// out C, I, K, M, O and V). `None` when that does not make it valid.
pub fn postcode_repaired(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let n = compact.len();
    if !(5..=7).contains(&n) || !compact.is_ascii() {
        return None;
    }
    let mut b = ocr_repaired(&compact, n - 3..n - 2, false)
        .unwrap_or_else(|| compact.clone())
        .into_bytes();
    for (i, inward) in [(0, false), (n - 2, true), (n - 1, true)] {
        if let Some(letter) = ocr_letter(b[i], inward) {
            b[i] = letter;
        }
    }
    if b == compact.as_bytes() {
        return None;
    }
    postcode_normalised(std::str::from_utf8(&b).expect("ascii")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diminutives_name_one_formal_name_or_none() {
        for (a, b) in [
            ("patty", "patricia"),
            ("trish", "patricia"),
            ("kate", "katherine"),
            ("cathy", "catherine"),
            ("sally", "sarah"),
            ("jake", "jacob"),
            ("geoff", "jeffrey"),
            ("bess", "elizabeth"),
            ("bob", "robert"),
        ] {
            assert!(formal_forename(a).is_some(), "{a}");
            assert_eq!(formal_forename(a), formal_forename(b), "{a} {b}");
        }
        // Shared by several names, or mostly a name of its own: no guess.
        for n in [
            "steve", "chris", "alex", "sam", "pat", "jack", "harry", "polly",
        ] {
            assert_eq!(formal_forename(n), None, "{n}");
        }
        // Each diminutive is listed under one name and is no name's formal.
        let mut seen = std::collections::HashSet::new();
        for (formal, dims) in DIMINUTIVES {
            assert!(
                !DIMINUTIVES.iter().any(|(_, d)| d.contains(formal)),
                "{formal}"
            );
            for d in *dims {
                assert!(
                    seen.insert(*d) || *d == "steve" || *d == "stevie",
                    "{d} twice"
                );
            }
        }
    }

    #[test]
    fn ascii_fast_path_agrees_with_unicode_path() {
        let all: String = (0u8..128).map(char::from).collect();
        let mut samples = vec![all.clone(), all.chars().rev().collect()];
        samples.extend(
            [
                "  Mrs  JANE-Ann o'Brien ",
                "12 High St., Flat 3/B",
                "\tA\x0bB\x0cC",
                "",
            ]
            .map(String::from),
        );
        for s in &samples {
            for keep in [false, true] {
                let (mut a, mut b) = (String::new(), String::new());
                normalise_words(s, &mut a, keep);
                normalise_unicode(s, &mut b, keep);
                assert_eq!(a, b, "{s:?}");
            }
        }
    }

    #[test]
    fn accents_fold() {
        let mut s = String::new();
        normalise_name("José Ñúñez", &mut s);
        assert_eq!(s, "jose nunez");
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
        assert_eq!(postcode_repaired("dh5 OSG").as_deref(), Some("DH50SG"));
        assert_eq!(postcode_repaired("NE37 l BB").as_deref(), Some("NE371BB"));
        // Only positions the format fixes are read; anything else stays
        // invalid.
        assert_eq!(postcode_repaired("DH5 XSG"), None);
        assert_eq!(postcode_repaired("12345"), None);
        assert_eq!(postcode_repaired("DHS OSG").as_deref(), Some("DHS0SG"));
        // A digit where a letter always stands: the first character, the
        // last two.
        assert_eq!(postcode_repaired("5R5 1ND").as_deref(), Some("SR51ND"));
        assert_eq!(postcode_repaired("0L9 6AB").as_deref(), Some("OL96AB"));
        assert_eq!(postcode_repaired("SR5 1N8").as_deref(), Some("SR51NB"));
        assert_eq!(postcode_repaired("8R5 O2B").as_deref(), Some("BR50ZB"));
        // ...but never O or I in the inward code, which leaves them out.
        assert_eq!(postcode_repaired("SR5 1N0"), None);
        assert_eq!(postcode_repaired("SR5 11A"), None);
    }

    #[test]
    fn dob_repairs_ocr_and_swaps_but_never_guesses() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(parse_dob("2001-02-03").unwrap(), (d(2001, 2, 3), vec![]));
        assert_eq!(
            parse_dob("2OO1-02-O3").unwrap(),
            (d(2001, 2, 3), vec![Repair::OcrDigits])
        );
        assert_eq!(
            parse_dob("2001-13-05").unwrap(),
            (d(2001, 5, 13), vec![Repair::DayMonthSwap])
        );
        assert_eq!(
            parse_dob("13/25/2001").unwrap_err().field,
            "dob",
            "day 13 and month 25: no reading is possible"
        );
        assert!(
            parse_dob("2001-02-30").is_err(),
            "no swap helps 30 February"
        );
        assert!(parse_dob("XYZ").is_err());
    }

    #[test]
    fn ocr_repair_only_touches_digit_positions() {
        assert_eq!(
            ocr_repaired("AB 12 34 S6 C", 2..8, true).as_deref(),
            Some("AB123456C")
        );
        assert_eq!(ocr_repaired("AB123456C", 2..8, true), None);
        assert_eq!(
            ocr_repaired("943 476 59l9", 0..10, true).as_deref(),
            Some("9434765919")
        );
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
}
