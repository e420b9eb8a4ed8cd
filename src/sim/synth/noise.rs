//! The noise model of synthetic partner rows: which recording errors a row
//! carries, at what rate, and how each error is made.
//!
//! In: a [`NoiseLevel`] chosen on the command line, a row's identity fields
//! as the partner system would hold them, and a random number generator of
//! its own (so the `realistic` level never changes what `light` draws).
//! Out: the damaged fields and a bitmask of [`NoiseKind`]s per row, which
//! `generate` writes to `truth_noise.csv` (`feed,row,noise`, one line per
//! damaged row, kinds joined by `;`) beside `truth.csv`.
//!
//! Promises:
//! * `none`: every partner row carries the person's identity exactly as the
//!   case file does (canonical formats, no moves); the population, events
//!   and claims are those of `light` with the same seed.
//! * `light`: the noise synth has always made (initials, table nicknames,
//!   surname typos, valid day/month swaps and one-day shifts of the dob per
//!   feed, households moving in the last year, titles, letter case, date and
//!   id formats). Byte-identical to the output before levels existed.
//! * `realistic`: `light` plus, independently per partner row, the errors
//!   of [`REALISTIC`] at the rates documented there, and per person
//!   marriage, house moves, shared NHS numbers and twins. The case file (the
//!   council's own record) gets no row errors; it holds the surname and
//!   address as of the case start. Ground truth (`truth.csv`) still names
//!   the true person of every row.

use chrono::{Datelike, NaiveDate};
use rand::rngs::StdRng;
use rand::Rng;

/// How much recording error synthetic partner rows carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum NoiseLevel {
    /// Every row exactly as the case file holds the person.
    None,
    /// What synth has always generated (the demo's data).
    #[default]
    Light,
    /// Light plus the errors of real administrative extracts.
    Realistic,
}

/// One kind of recording error; a row's kinds are a bitmask of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// Forename cut to its initial (light: per feed; realistic: per row too).
    Initial = 0,
    /// A nickname from synth's own table (light).
    Nickname,
    /// One letter of the surname wrong.
    SurnameTypo,
    /// Day and month of the dob swapped (realistic: even when that makes
    /// the month impossible).
    DobSwap,
    /// Dob one day out (light).
    DobShift,
    /// The row carries an address the person moved to (or from).
    Moved,
    /// 1-2 keyboard errors in the forename.
    ForenameTypo,
    /// One OCR confusion (O/0, I/1, l/1, S/5, B/8, Z/2, G/6) in an identity
    /// field.
    Ocr,
    MissingDob,
    MissingPostcode,
    MissingForename,
    /// A nickname that synth's and ingest's tables lack.
    NicknameExtra,
    /// The row carries a surname the person took (or left) by marriage.
    SurnameChange,
    /// One character of the strong id (NHS, NI or UPN) wrong.
    IdTypo,
    /// The strong id replaced by another valid number nobody holds.
    IdReplaced,
    /// The row carries another person's NHS number.
    SharedId,
    /// The person has a twin: same surname, dob and address.
    Twin,
    /// Forename and surname written in each other's fields.
    NamesSwapped,
}

pub const KINDS: [NoiseKind; 18] = [
    NoiseKind::Initial,
    NoiseKind::Nickname,
    NoiseKind::SurnameTypo,
    NoiseKind::DobSwap,
    NoiseKind::DobShift,
    NoiseKind::Moved,
    NoiseKind::ForenameTypo,
    NoiseKind::Ocr,
    NoiseKind::MissingDob,
    NoiseKind::MissingPostcode,
    NoiseKind::MissingForename,
    NoiseKind::NicknameExtra,
    NoiseKind::SurnameChange,
    NoiseKind::IdTypo,
    NoiseKind::IdReplaced,
    NoiseKind::SharedId,
    NoiseKind::Twin,
    NoiseKind::NamesSwapped,
];

impl NoiseKind {
    pub fn bit(self) -> u32 {
        1 << self as u32
    }
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::Initial => "initial",
            NoiseKind::Nickname => "nickname",
            NoiseKind::SurnameTypo => "surname_typo",
            NoiseKind::DobSwap => "dob_swap",
            NoiseKind::DobShift => "dob_shift",
            NoiseKind::Moved => "moved",
            NoiseKind::ForenameTypo => "forename_typo",
            NoiseKind::Ocr => "ocr",
            NoiseKind::MissingDob => "missing_dob",
            NoiseKind::MissingPostcode => "missing_postcode",
            NoiseKind::MissingForename => "missing_forename",
            NoiseKind::NicknameExtra => "nickname_extra",
            NoiseKind::SurnameChange => "surname_change",
            NoiseKind::IdTypo => "id_typo",
            NoiseKind::IdReplaced => "id_replaced",
            NoiseKind::SharedId => "shared_id",
            NoiseKind::Twin => "twin",
            NoiseKind::NamesSwapped => "names_swapped",
        }
    }
}

/// `a;b;c` for a bitmask of kinds.
pub fn kinds_label(mask: u32) -> String {
    KINDS
        .iter()
        .filter(|k| mask & k.bit() != 0)
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(";")
}

/// Rates of the `realistic` level. Row rates apply to each partner row
/// independently; person and household rates once per person or household.
/// Chosen near what linkage studies of English administrative extracts
/// report: a few percent per kind, strong ids wrong in 1-2% of rows.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Rows with the forename missing / cut to an initial / with 1-2
    /// keyboard typos (mutually exclusive).
    pub missing_forename: f64,
    pub initial_only: f64,
    pub forename_typo: f64,
    /// Rows, among those whose forename has a nickname in [`EXTRA_NICKNAMES`],
    /// that carry it (when the forename is otherwise untouched).
    pub nickname_extra: f64,
    pub surname_typo: f64,
    /// Rows without dob / with day and month swapped (exclusive).
    pub missing_dob: f64,
    pub dob_swap: f64,
    pub missing_postcode: f64,
    /// Rows with a strong id that get one character wrong / another valid
    /// number (exclusive).
    pub id_typo: f64,
    pub id_replaced: f64,
    /// Rows with one OCR confusion in some identity field.
    pub ocr: f64,
    /// Adults (18+ mid-period) whose surname changes during the period.
    pub surname_change: f64,
    /// Households (that light does not already move) moving mid-period.
    pub household_move: f64,
    /// Persons whose partner rows carry someone else's NHS number.
    pub shared_nhs: f64,
    /// Children (under 18 mid-period) who get a twin.
    pub twin: f64,
    /// Rows with forename and surname swapped (drawn from a generator of
    /// their own, so adding them changed no other draw).
    pub names_swapped: f64,
}

pub const REALISTIC: Rates = Rates {
    missing_forename: 0.01,
    initial_only: 0.015,
    forename_typo: 0.03,
    nickname_extra: 0.05,
    surname_typo: 0.015,
    missing_dob: 0.02,
    dob_swap: 0.01,
    missing_postcode: 0.03,
    id_typo: 0.015,
    id_replaced: 0.005,
    ocr: 0.02,
    surname_change: 0.03,
    household_move: 0.08,
    shared_nhs: 0.005,
    twin: 0.03,
    names_swapped: 0.005,
};

/// Nicknames neither synth's light table nor ingest's diminutive table
/// holds, for forenames synth uses (a test below keeps it so when ingest's
/// table grows: Sally, Jake and others left this list when it did).
#[rustfmt::skip]
pub const EXTRA_NICKNAMES: &[(&str, &[&str])] = &[
    ("Alexander", &["Sasha", "Sandy", "Xander"]),
    ("Christopher", &["Kit", "Topher"]),
    ("Katherine", &["Kit"]),
    ("John", &["Jack", "Johnny"]),
    ("Margaret", &["Polly", "Greta"]),
    ("Elizabeth", &["Lisa"]),
    ("Henry", &["Hal"]),
    ("Edward", &["Ned"]),
    ("Isabella", &["Isa", "Belle"]),
    ("Nicola", &["Nicky", "Nic"]),
    ("Michelle", &["Shelley"]),
    ("Samantha", &["Sammie"]),
    ("Joanne", &["Jo"]),
    ("Louise", &["Lou"]),
    ("Danielle", &["Dani"]),
    ("Joshua", &["Joss"]),
    ("Callum", &["Cal"]),
    ("Gary", &["Gaz"]),
    ("Darren", &["Daz"]),
    ("Jayden", &["Jay"]),
    ("Nathaniel", &["Nate"]),
    ("Emily", &["Em", "Emmy"]),
    ("Julie", &["Jules"]),
    ("Alison", &["Ally"]),
];

/// A nickname from [`EXTRA_NICKNAMES`] for `forename`, if it has one.
pub fn extra_nickname(rng: &mut StdRng, forename: &str) -> Option<&'static str> {
    let (_, nicks) = EXTRA_NICKNAMES.iter().find(|(n, _)| *n == forename)?;
    Some(nicks[rng.random_range(0..nicks.len())])
}

/// Keys next to a letter on a QWERTY keyboard.
fn adjacent(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'q' => "wa",
        'w' => "qes",
        'e' => "wrd",
        'r' => "etf",
        't' => "ryg",
        'y' => "tuh",
        'u' => "yij",
        'i' => "uok",
        'o' => "ipl",
        'p' => "ol",
        'a' => "qsz",
        's' => "awdz",
        'd' => "sefx",
        'f' => "drgc",
        'g' => "fthv",
        'h' => "gyjb",
        'j' => "hukn",
        'k' => "jilm",
        'l' => "kop",
        'z' => "asx",
        'x' => "zsdc",
        'c' => "xdfv",
        'v' => "cfgb",
        'b' => "vghn",
        'n' => "bhjm",
        'm' => "njk",
        _ => "aeiou",
    }
}

fn near_key(rng: &mut StdRng, c: char) -> char {
    let adj = adjacent(c).as_bytes();
    let k = adj[rng.random_range(0..adj.len())] as char;
    if c.is_uppercase() {
        k.to_ascii_uppercase()
    } else {
        k
    }
}

/// One keyboard error: an adjacent key for a letter, an extra adjacent key,
/// a dropped letter, or two neighbours transposed. Never returns `s`
/// unchanged when `s` has two or more letters.
pub fn keyboard_typo(rng: &mut StdRng, s: &str) -> String {
    let mut cs: Vec<char> = s.chars().collect();
    let n = cs.len();
    if n < 2 {
        return s.to_string();
    }
    for _ in 0..8 {
        let mut out = cs.clone();
        match rng.random_range(0..10) {
            0..=3 => {
                let i = rng.random_range(0..n);
                out[i] = near_key(rng, out[i]);
            }
            4..=5 => {
                let i = rng.random_range(0..n);
                let k = near_key(rng, out[i]).to_ascii_lowercase();
                out.insert(i + 1, k);
            }
            6..=7 if n > 2 => {
                // Not the first letter: people get that right most often.
                out.remove(rng.random_range(1..n));
            }
            _ => {
                let i = rng.random_range(0..n - 1);
                out.swap(i, i + 1);
                if i == 0 && cs[0].is_uppercase() {
                    out[0] = out[0].to_uppercase().next().unwrap_or(out[0]);
                    out[1] = out[1].to_lowercase().next().unwrap_or(out[1]);
                }
            }
        }
        if out != cs {
            cs = out;
            return cs.into_iter().collect();
        }
    }
    s.to_string()
}

/// 1 keyboard error (80%) or 2, applied to the last word (so a leading
/// title stays intact).
pub fn forename_typo(rng: &mut StdRng, s: &str) -> String {
    let (head, word) = match s.rfind(' ') {
        Some(i) => (&s[..=i], &s[i + 1..]),
        None => ("", s),
    };
    let mut w = keyboard_typo(rng, word);
    if rng.random_bool(0.2) {
        w = keyboard_typo(rng, &w);
    }
    format!("{head}{w}")
}

/// Initial of the last word, keeping a leading title.
pub fn initial_only(s: &str) -> String {
    let (head, word) = match s.rfind(' ') {
        Some(i) => (&s[..=i], &s[i + 1..]),
        None => ("", s),
    };
    format!(
        "{head}{}",
        word.chars().next().map(String::from).unwrap_or_default()
    )
}

fn ocr_twin(c: char) -> Option<char> {
    Some(match c {
        '0' => 'O',
        'O' | 'o' => '0',
        '1' => 'I',
        'I' | 'l' => '1',
        '5' => 'S',
        'S' | 's' => '5',
        '8' => 'B',
        'B' => '8',
        '2' => 'Z',
        'Z' => '2',
        '6' => 'G',
        'G' => '6',
        _ => return None,
    })
}

/// `s` with one OCR confusion, or `None` when no character of it has one.
pub fn ocr(rng: &mut StdRng, s: &str) -> Option<String> {
    let cs: Vec<char> = s.chars().collect();
    let at: Vec<usize> = (0..cs.len())
        .filter(|&i| ocr_twin(cs[i]).is_some())
        .collect();
    if at.is_empty() {
        return None;
    }
    let i = at[rng.random_range(0..at.len())];
    let mut out = cs;
    // '1' reads as 'l' about as often as 'I'.
    out[i] = match ocr_twin(out[i]) {
        Some('I') if rng.random_bool(0.5) => 'l',
        Some(t) => t,
        None => out[i],
    };
    Some(out.into_iter().collect())
}

/// One alphanumeric character of an id changed: a digit to another digit, a
/// letter to another letter. An NHS number then fails its check digit
/// (modulus 11 catches every single substitution).
pub fn id_typo(rng: &mut StdRng, s: &str) -> String {
    let mut cs: Vec<char> = s.chars().collect();
    let at: Vec<usize> = (0..cs.len())
        .filter(|&i| cs[i].is_ascii_alphanumeric())
        .collect();
    if at.is_empty() {
        return s.to_string();
    }
    let i = at[rng.random_range(0..at.len())];
    let old = cs[i];
    let mut c = old;
    while c == old {
        c = if old.is_ascii_digit() {
            (b'0' + rng.random_range(0..10u8)) as char
        } else {
            (b'A' + rng.random_range(0..26u8)) as char
        };
    }
    cs[i] = c;
    cs.into_iter().collect()
}

/// The dob with day and month swapped, in the row's format; the month may
/// then be above 12 (what a day/month swap does to a real extract).
pub fn swapped_dob(d: NaiveDate, dmy: bool) -> String {
    let (y, m, dd) = (d.year(), d.day(), d.month());
    if dmy {
        format!("{dd:02}/{m:02}/{y:04}")
    } else {
        format!("{y:04}-{m:02}-{dd:02}")
    }
}

// ---------------------------------------------------------------------------
// The realistic level inside the generator.

use super::{add_days, age_on, common_surname, Gen, NoiseLevel as Level};

/// Person-level errors of the `realistic` level.
#[derive(Debug, Clone, Default)]
pub(super) struct PersonNoise {
    /// From this date partner rows carry the new surname.
    surname_change: Option<(NaiveDate, &'static str)>,
    /// Partner rows carry this NHS number, another person's.
    shared_nhs: Option<String>,
    twin: bool,
}

/// A partner row's identity fields, as written.
pub(super) struct RowIds {
    pub forename: String,
    pub surname: String,
    pub dob: String,
    /// The dob `dob` shows, and whether it is written `DD/MM/YYYY`.
    pub dob_date: NaiveDate,
    pub dmy: bool,
    pub postcode: String,
    pub nhs: String,
    pub ni: String,
    pub upn: String,
}

fn last_word(s: &str) -> &str {
    s.rsplit(' ').next().unwrap_or(s)
}

/// `s` with its last word replaced by `nick`, in the letter case `s` had.
fn with_nickname(s: &str, nick: &str) -> String {
    let word = last_word(s);
    let head = &s[..s.len() - word.len()];
    let nick = if word.chars().all(|c| !c.is_lowercase()) {
        nick.to_uppercase()
    } else if word.chars().all(|c| !c.is_uppercase()) {
        nick.to_lowercase()
    } else {
        nick.to_string()
    };
    format!("{head}{nick}")
}

fn ocr_able(s: &str) -> bool {
    s.chars().any(|c| ocr_twin(c).is_some())
}

impl Gen {
    /// The date the council's own record of a person refers to: the case
    /// start for family members, the period start for everyone else.
    fn reference_date(&self, pi: usize) -> NaiveDate {
        self.persons[pi]
            .family
            .map_or(self.ps, |f| self.families[f].case_start)
    }

    /// Twins, marriages, house moves and shared NHS numbers: drawn once
    /// after the population, with the noise generator.
    pub(super) fn realistic_people(&mut self) {
        let rt = REALISTIC;
        std::mem::swap(&mut self.rng, &mut self.nrng);
        let mid = add_days(self.ps, (self.pe - self.ps).num_days() / 2);
        let mut twins = Vec::new();
        // Forenames in use per household, kept as twins are added (a scan of
        // everyone per twin made this quadratic: 2 minutes at 60k families).
        let mut used: std::collections::HashMap<usize, Vec<&'static str>> = Default::default();
        for p in &self.persons {
            used.entry(p.hh).or_default().push(p.forename);
        }
        for pi in 0..self.persons.len() {
            let p = &self.persons[pi];
            let (sex, surname, dob, hh) = (p.sex, p.surname, p.dob, p.hh);
            if age_on(dob, mid) >= 18 || !self.chance(rt.twin) {
                continue;
            }
            let sex = if self.chance(0.5) { sex } else { sex.other() };
            let forename = self.distinct_forename(sex, &used[&hh]);
            used.entry(hh).or_default().push(forename);
            let t = self.add_person(None, sex, forename, surname, dob, hh);
            twins.extend([pi, t]);
        }
        let n = self.persons.len();
        self.pnoise = vec![PersonNoise::default(); n];
        for pi in twins {
            self.pnoise[pi].twin = true;
        }
        let mut by_hh: std::collections::HashMap<usize, Vec<usize>> = Default::default();
        for (pi, p) in self.persons.iter().enumerate() {
            by_hh.entry(p.hh).or_default().push(pi);
        }
        for pi in 0..n {
            let (dob, old) = (self.persons[pi].dob, self.persons[pi].surname);
            if age_on(dob, mid) >= 18 && self.chance(rt.surname_change) {
                let mut new = common_surname(&mut self.rng);
                while new == old {
                    new = common_surname(&mut self.rng);
                }
                let d = self.between(add_days(self.ps, 30), add_days(self.pe, -30));
                self.pnoise[pi].surname_change = Some((d, new));
            }
            if self.persons[pi].nhs.is_some() && self.chance(rt.shared_nhs) {
                // Half the time a household member's number (a parent's on a
                // child's record), else anyone's.
                let mates: Vec<usize> = by_hh[&self.persons[pi].hh]
                    .iter()
                    .copied()
                    .filter(|&q| q != pi)
                    .collect();
                let other = if !mates.is_empty() && self.chance(0.5) {
                    mates[self.rng.random_range(0..mates.len())]
                } else {
                    let mut q = pi;
                    while q == pi {
                        q = self.rng.random_range(0..n);
                    }
                    q
                };
                self.pnoise[pi].shared_nhs = self.persons[other].nhs.clone();
            }
        }
        self.moves = Vec::with_capacity(self.households.len());
        for h in 0..self.households.len() {
            let m = if self.households[h].moved.is_none() && self.chance(rt.household_move) {
                let d = self.between(add_days(self.ps, 60), add_days(self.pe, -60));
                let (pc, a) = self.new_address(None);
                Some((d, pc, a))
            } else {
                None
            };
            self.moves.push(m);
        }
        std::mem::swap(&mut self.rng, &mut self.nrng);
    }

    fn surname_at(&self, pi: usize, base: &str, at: NaiveDate) -> String {
        match self.pnoise.get(pi).and_then(|n| n.surname_change) {
            Some((d, new)) if at >= d => new.to_string(),
            _ => base.to_string(),
        }
    }

    /// The surname a row dated `at` carries, and whether it differs from
    /// the council's record by marriage.
    pub(super) fn surname_on(&self, pi: usize, base: &str, at: NaiveDate) -> (String, u32) {
        let s = self.surname_at(pi, base, at);
        let k = match self.pnoise.get(pi).and_then(|n| n.surname_change) {
            Some((d, _)) if (at >= d) != (self.reference_date(pi) >= d) => {
                NoiseKind::SurnameChange.bit()
            }
            _ => 0,
        };
        (s, k)
    }

    fn move_of(&self, pi: usize) -> Option<&(NaiveDate, String, String)> {
        self.moves.get(self.persons[pi].hh).and_then(Option::as_ref)
    }

    /// The postcode and address a row dated `at` carries given the light
    /// ones, and whether they differ from the council's record by a move.
    pub(super) fn address_on(
        &self,
        pi: usize,
        pc: String,
        addr: String,
        at: NaiveDate,
    ) -> (String, String, u32) {
        match self.move_of(pi) {
            Some((d, npc, na)) => {
                let k = if (at >= *d) != (self.reference_date(pi) >= *d) {
                    NoiseKind::Moved.bit()
                } else {
                    0
                };
                if at >= *d {
                    (npc.clone(), na.clone(), k)
                } else {
                    (pc, addr, k)
                }
            }
            None => (pc, addr, 0),
        }
    }

    /// The NHS number partner rows carry for a person.
    pub(super) fn nhs_shown(&self, pi: usize) -> (Option<String>, u32) {
        match self.pnoise.get(pi).and_then(|n| n.shared_nhs.clone()) {
            Some(n) => (Some(n), NoiseKind::SharedId.bit()),
            None => (self.persons[pi].nhs.clone(), 0),
        }
    }

    /// Surname, postcode and address of a member's case row: as of the case
    /// start.
    pub(super) fn case_identity(&self, pi: usize) -> (String, String, String) {
        let p = &self.persons[pi];
        let hh = &self.households[p.hh];
        if self.noise != Level::Realistic {
            return (
                p.surname.to_string(),
                hh.postcode.clone(),
                hh.address.clone(),
            );
        }
        let at = self.reference_date(pi);
        let (pc, a, _) = self.address_on(pi, hh.postcode.clone(), hh.address.clone(), at);
        (self.surname_at(pi, p.surname, at), pc, a)
    }

    /// A valid strong id nobody holds: 1 NHS, 2 NI, 3 UPN.
    fn fresh_id(&mut self, which: u8, dob: NaiveDate) -> String {
        std::mem::swap(&mut self.rng, &mut self.nrng);
        let id = match which {
            1 => self.new_nhs(),
            2 => self.new_ni(),
            _ => self.new_upn(dob),
        };
        std::mem::swap(&mut self.rng, &mut self.nrng);
        id
    }

    /// The row-level errors of [`REALISTIC`], each drawn independently;
    /// returns their kinds (and the twin kind of a twin's rows).
    pub(super) fn row_noise(&mut self, r: &mut RowIds, pi: usize) -> u32 {
        let rt = REALISTIC;
        let mut k = 0;
        if self.pnoise[pi].twin {
            k |= NoiseKind::Twin.bit();
        }
        let x: f64 = self.nrng.random();
        if x < rt.missing_dob {
            r.dob.clear();
            k |= NoiseKind::MissingDob.bit();
        } else if x < rt.missing_dob + rt.dob_swap && r.dob_date.day() != r.dob_date.month() {
            r.dob = swapped_dob(r.dob_date, r.dmy);
            k |= NoiseKind::DobSwap.bit();
        }
        if self.nrng.random_bool(rt.missing_postcode) {
            r.postcode.clear();
            k |= NoiseKind::MissingPostcode.bit();
        }
        let formal = self.persons[pi].forename;
        let x: f64 = self.nrng.random();
        let (a, b, c) = (
            rt.missing_forename,
            rt.missing_forename + rt.initial_only,
            rt.missing_forename + rt.initial_only + rt.forename_typo,
        );
        if x < a {
            r.forename.clear();
            k |= NoiseKind::MissingForename.bit();
        } else if x < b {
            r.forename = initial_only(&r.forename);
            k |= NoiseKind::Initial.bit();
        } else if x < c {
            r.forename = forename_typo(&mut self.nrng, &r.forename);
            k |= NoiseKind::ForenameTypo.bit();
        } else if last_word(&r.forename).eq_ignore_ascii_case(formal)
            && EXTRA_NICKNAMES.iter().any(|(n, _)| *n == formal)
            && self.nrng.random_bool(rt.nickname_extra)
        {
            if let Some(nick) = extra_nickname(&mut self.nrng, formal) {
                r.forename = with_nickname(&r.forename, nick);
                k |= NoiseKind::NicknameExtra.bit();
            }
        }
        if self.nrng.random_bool(rt.surname_typo) {
            r.surname = keyboard_typo(&mut self.nrng, &r.surname);
            k |= NoiseKind::SurnameTypo.bit();
        }
        let which: u8 = if !r.nhs.is_empty() {
            1
        } else if !r.ni.is_empty() {
            2
        } else if !r.upn.is_empty() {
            3
        } else {
            0
        };
        let x: f64 = self.nrng.random();
        if which != 0 && x < rt.id_typo + rt.id_replaced {
            let new = if x < rt.id_typo {
                k |= NoiseKind::IdTypo.bit();
                let old = [&r.nhs, &r.ni, &r.upn][usize::from(which - 1)].clone();
                id_typo(&mut self.nrng, &old)
            } else {
                k |= NoiseKind::IdReplaced.bit();
                self.fresh_id(which, r.dob_date)
            };
            *[&mut r.nhs, &mut r.ni, &mut r.upn][usize::from(which - 1)] = new;
        }
        if self.nrng.random_bool(rt.ocr) {
            let fields = [
                &mut r.forename,
                &mut r.surname,
                &mut r.dob,
                &mut r.postcode,
                &mut r.nhs,
                &mut r.ni,
                &mut r.upn,
            ];
            let able: Vec<usize> = (0..fields.len()).filter(|&i| ocr_able(fields[i])).collect();
            if !able.is_empty() {
                let i = able[self.nrng.random_range(0..able.len())];
                if let Some(s) = ocr(&mut self.nrng, fields[i]) {
                    *fields[i] = s;
                    k |= NoiseKind::Ocr.bit();
                }
            }
        }
        if !r.forename.is_empty()
            && !r.surname.is_empty()
            && self.srng.random_bool(rt.names_swapped)
        {
            std::mem::swap(&mut r.forename, &mut r.surname);
            k |= NoiseKind::NamesSwapped.bit();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn edit_distance(a: &str, b: &str) -> usize {
        // Letter case aside (a transposed capital is re-cased).
        let a: Vec<char> = a.to_lowercase().chars().collect();
        let b: Vec<char> = b.to_lowercase().chars().collect();
        // Optimal string alignment: transposition counts one.
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, v) in d[0].iter_mut().enumerate() {
            *v = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    }

    use super::super::{generate, SynthOptions};
    use std::collections::{HashMap, HashSet};
    use std::path::{Path, PathBuf};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("outcomesd-noise-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn opts(families: usize, seed: u64, noise: Level) -> SynthOptions {
        SynthOptions {
            families,
            seed,
            noise,
            ..Default::default()
        }
    }

    /// Header and records of a feed file (after any `#period` line).
    fn records(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
        let text = std::fs::read_to_string(path).unwrap();
        let body = match text.strip_prefix("#period ") {
            Some(rest) => rest.split_once('\n').unwrap().1.to_string(),
            None => text,
        };
        let mut r = csv::Reader::from_reader(body.as_bytes());
        let h = r.headers().unwrap().clone();
        (h, r.records().map(Result::unwrap).collect())
    }

    /// (CSV row number, field name -> value, truth person).
    type Row = (u64, HashMap<String, String>, u64);

    /// feed -> row -> field name -> value, with the truth person, for every
    /// data row of the partner feeds and the case file.
    struct Rows {
        by_feed: HashMap<String, Vec<Row>>,
        noise: HashMap<(String, u64), Vec<String>>,
    }

    fn load(dir: &Path) -> Rows {
        let mut truth: HashMap<(String, u64), u64> = HashMap::new();
        let (_, t) = records(&dir.join("truth.csv"));
        for r in t {
            truth.insert(
                (r[0].to_string(), r[1].parse().unwrap()),
                r[2].parse().unwrap(),
            );
        }
        let mut by_feed = HashMap::new();
        for feed in [
            "case",
            "police",
            "education",
            "dwp",
            "social_care",
            "services",
        ] {
            let (h, recs) = records(&dir.join(format!("{feed}.csv")));
            let rows = recs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let row = i as u64 + 2;
                    let m = h
                        .iter()
                        .zip(r.iter())
                        .map(|(a, b)| (a.to_string(), b.to_string()));
                    (row, m.collect(), truth[&(feed.to_string(), row)])
                })
                .collect();
            by_feed.insert(feed.to_string(), rows);
        }
        let mut noise = HashMap::new();
        let np = dir.join("truth_noise.csv");
        if np.exists() {
            for r in records(&np).1 {
                let kinds = r[2].split(';').map(String::from).collect();
                noise.insert((r[0].to_string(), r[1].parse().unwrap()), kinds);
            }
        }
        Rows { by_feed, noise }
    }

    fn nhs_ok(n: &str) -> bool {
        let d: String = n.chars().filter(|c| *c != ' ' && *c != '-').collect();
        d.len() == 10
            && d.bytes().all(|b| b.is_ascii_digit())
            && super::super::nhs_number_with_check(d[..9].parse().unwrap()).as_deref() == Some(&d)
    }

    #[test]
    fn light_output_is_unchanged() {
        use sha2::{Digest, Sha256};
        // Hash of `synth --families 40 --seed 7` before noise levels existed
        // (file names in order, each followed by its bytes).
        let dir = tmp("light");
        generate(&dir, &opts(40, 7, Level::Light)).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut h = Sha256::new();
        for n in &names {
            h.update(n.as_bytes());
            let bytes = std::fs::read(dir.join(n)).unwrap();
            if n == "claims.csv" {
                // The team column came later, derived from the keyworker
                // (no RNG draw): without it the file is as it was.
                let text = String::from_utf8(bytes).unwrap();
                for line in text.split_inclusive('\n') {
                    let (row, nl) = line.split_at(line.trim_end_matches(['\r', '\n']).len());
                    let (before, team) = row.rsplit_once(',').unwrap();
                    assert!(team == "team" || team.starts_with("TEAM-"), "{line}");
                    h.update(before.as_bytes());
                    h.update(nl.as_bytes());
                }
                continue;
            }
            h.update(bytes);
        }
        assert_eq!(
            hex::encode(h.finalize()),
            "9b3576e5c5dba9a5ca8af0fa4cc905661eb49f9edd30c2838a744dc543ee712f"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn none_rows_carry_the_case_identity_and_the_same_claims() {
        let (a, b) = (tmp("none"), tmp("none-light"));
        generate(&a, &opts(40, 7, Level::None)).unwrap();
        generate(&b, &opts(40, 7, Level::Light)).unwrap();
        for f in ["claims.csv", "truth_claims.csv", "truth.csv"] {
            assert_eq!(
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
                "{f}"
            );
        }
        assert!(!a.join("truth_noise.csv").exists());
        let rows = load(&a);
        let mut case: HashMap<u64, &HashMap<String, String>> = HashMap::new();
        for (_, m, t) in &rows.by_feed["case"] {
            case.insert(*t, m);
        }
        let mut checked = 0;
        for (feed, rs) in &rows.by_feed {
            for (_, m, t) in rs.iter().filter(|_| feed != "case") {
                if let Some(c) = case.get(t) {
                    for f in ["forename", "surname", "dob", "postcode"] {
                        assert_eq!(m[f], c[f], "{feed} {f}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 500, "{checked}");
        for d in [a, b] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn realistic_kinds_occur_at_their_rates_and_truth_holds() {
        let (a, b) = (tmp("real"), tmp("real-light"));
        generate(&a, &opts(150, 11, Level::Realistic)).unwrap();
        generate(&b, &opts(150, 11, Level::Light)).unwrap();
        // Family events and claims are untouched: twins are extra people.
        for f in ["claims.csv", "truth_claims.csv"] {
            assert_eq!(
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
                "{f}"
            );
        }
        let rows = load(&a);
        let partner: Vec<(&str, &Row)> = rows
            .by_feed
            .iter()
            .filter(|(f, _)| *f != "case")
            .flat_map(|(f, rs)| rs.iter().map(move |r| (f.as_str(), r)))
            .collect();
        let n = partner.len() as f64;
        let with_id = partner
            .iter()
            .filter(|(_, (_, m, _))| {
                ["nhs_number", "ni_number", "upn"]
                    .iter()
                    .any(|f| m.get(*f).is_some_and(|v| !v.is_empty()))
            })
            .count() as f64;
        let kinds_of = |feed: &str, row: u64| rows.noise.get(&(feed.to_string(), row));
        let mut count: HashMap<&str, f64> = HashMap::new();
        for (feed, (row, m, _)) in &partner {
            let Some(ks) = kinds_of(feed, *row) else {
                continue;
            };
            for k in ks {
                *count.entry(k.as_str()).or_default() += 1.0;
            }
            let has = |k: &str| ks.iter().any(|x| x == k);
            // Each kind does to the row what it says.
            if has("missing_dob") {
                assert_eq!(m["dob"], "");
            }
            if has("missing_postcode") {
                assert_eq!(m["postcode"], "");
            }
            if has("missing_forename") {
                assert_eq!(m["forename"], "");
            }
            if let Some(nhs) = m.get("nhs_number").filter(|v| !v.is_empty()) {
                if has("id_typo") {
                    assert!(!nhs_ok(nhs), "{feed} {row}: {nhs}");
                } else if !has("ocr") {
                    assert!(nhs_ok(nhs), "{feed} {row}: {nhs}");
                }
            }
        }
        let rate = |k: &str, base: f64| count.get(k).copied().unwrap_or(0.0) / base;
        let r = REALISTIC;
        for (k, want, base) in [
            ("forename_typo", r.forename_typo, n),
            ("missing_forename", r.missing_forename, n),
            ("ocr", r.ocr, n),
            ("missing_dob", r.missing_dob, n),
            ("missing_postcode", r.missing_postcode, n),
            ("id_typo", r.id_typo, with_id),
            ("id_replaced", r.id_replaced, with_id),
            ("names_swapped", r.names_swapped, n),
        ] {
            let got = rate(k, base);
            assert!(
                got > 0.6 * want && got < 1.5 * want,
                "{k}: {got:.4} of rows, want about {want}"
            );
        }
        // Light's per-feed errors come on top of the realistic row rates.
        assert!(rate("initial", n) > r.initial_only);
        assert!(rate("dob_swap", n) > 0.5 * r.dob_swap);
        // Person-level kinds: rarer, and shared ids show only in the rows
        // that carry an NHS number.
        for (k, least) in [
            ("nickname_extra", 5.0),
            ("surname_change", 5.0),
            ("moved", 5.0),
            ("shared_id", 1.0),
            ("twin", 5.0),
        ] {
            assert!(
                count.get(k).copied().unwrap_or(0.0) >= least,
                "{k}: {:?}",
                count.get(k)
            );
        }
        // A swap can make the month impossible, as in real extracts.
        assert!(partner.iter().any(|(f, (row, m, _))| {
            kinds_of(f, *row).is_some_and(|k| k.iter().any(|x| x == "dob_swap"))
                && m["dob"].len() == 10
                && chrono::NaiveDate::parse_from_str(&m["dob"], "%Y-%m-%d").is_err()
                && chrono::NaiveDate::parse_from_str(&m["dob"], "%d/%m/%Y").is_err()
        }));
        // Truth stays right: a clean UPN names one truth person, and twins
        // (same surname, dob, postcode) remain two.
        let mut upn_person: HashMap<&str, u64> = HashMap::new();
        let mut twin_sets: HashMap<(String, String), HashSet<u64>> = HashMap::new();
        for (row, m, t) in &rows.by_feed["education"] {
            let ks = kinds_of("education", *row);
            let has = |k: &str| ks.is_some_and(|v| v.iter().any(|x| x == k));
            if !has("id_typo") && !has("id_replaced") && !has("ocr") {
                let prev = upn_person.insert(m["upn"].as_str(), *t);
                assert!(
                    prev.is_none_or(|p| p == *t),
                    "UPN {} for two persons",
                    m["upn"]
                );
            }
            if has("twin")
                && !has("surname_change")
                && !has("surname_typo")
                && !has("ocr")
                && !has("names_swapped")
            {
                let key = (m["surname"].to_lowercase(), m["dob"].clone());
                twin_sets.entry(key).or_default().insert(*t);
            }
        }
        assert!(
            twin_sets.values().any(|s| s.len() == 2),
            "some twins at school under two truth ids"
        );
        for d in [a, b] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn typos_are_one_or_two_edits_and_keep_titles() {
        let mut rng = StdRng::seed_from_u64(5);
        let (mut two, mut zero) = (0, 0);
        for _ in 0..2000 {
            for name in ["Jonathan", "Amy", "Zoë", "Mr Peter"] {
                let one = keyboard_typo(&mut rng, name);
                assert_eq!(edit_distance(name, &one), 1, "{name} -> {one}");
                let t = forename_typo(&mut rng, name);
                let d = edit_distance(name, &t);
                // A second error can undo the first (rarely); two errors on
                // one spot count up to three in this distance.
                assert!(d <= 3, "{name} -> {t}");
                zero += usize::from(d == 0);
                two += usize::from(d >= 2);
                if name == "Mr Peter" {
                    assert!(t.starts_with("Mr "), "{t}");
                }
            }
        }
        assert!(
            two > 800 && two < 2400,
            "about a fifth get two edits: {two}"
        );
        assert!(zero < 200, "a typo almost always changes the name: {zero}");
    }

    #[test]
    fn ocr_swaps_one_confusable_character() {
        let mut rng = StdRng::seed_from_u64(9);
        assert_eq!(ocr(&mut rng, "Amy"), None);
        let s = ocr(&mut rng, "1985-03-07").unwrap();
        assert_eq!(s.len(), 10);
        assert_eq!(
            s.chars().filter(|c| c.is_ascii_alphabetic()).count(),
            1,
            "{s}"
        );
        let b = ocr(&mut rng, "Bob").unwrap();
        assert!(b == "8ob" || b == "B0b", "{b}");
    }

    #[test]
    fn id_typo_breaks_the_nhs_check_digit() {
        let mut rng = StdRng::seed_from_u64(3);
        let good = super::super::nhs_number_with_check(943_476_591).unwrap();
        for _ in 0..200 {
            let bad = id_typo(&mut rng, &good);
            assert_eq!(edit_distance(&good, &bad), 1);
            let first9: u32 = bad[..9].parse().unwrap();
            assert_ne!(super::super::nhs_number_with_check(first9), Some(bad));
        }
    }

    #[test]
    fn swap_can_make_an_impossible_month() {
        let d = NaiveDate::from_ymd_opt(1990, 4, 23).unwrap();
        assert_eq!(swapped_dob(d, false), "1990-23-04");
        assert_eq!(swapped_dob(d, true), "04/23/1990");
    }

    #[test]
    fn extra_nicknames_are_outside_both_tables() {
        use crate::ingest::normalise::formal_forename;
        for (formal, nicks) in EXTRA_NICKNAMES {
            let known = formal_forename(&formal.to_lowercase());
            for n in *nicks {
                let f = formal_forename(&n.to_lowercase());
                assert!(
                    f.is_none() || f != known,
                    "{formal}/{n} is in ingest's table"
                );
            }
            assert!(
                super::super::FEMALE.contains(formal) || super::super::MALE.contains(formal),
                "{formal} is not a synth forename"
            );
            if let Some((_, light)) = super::super::NICKNAMES.iter().find(|(n, _)| n == formal) {
                for n in *nicks {
                    assert!(!light.contains(n), "{formal}/{n} is in the light table");
                }
            }
        }
    }
}
