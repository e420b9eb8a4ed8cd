//! Synthetic partner feeds with ground truth, for testing matching and outcome
//! verification end to end.
//!
//! [`generate`] writes a council case file (`case.csv`), keyworker claims
//! (`claims.csv`) and the five event feeds (`police.csv`, `education.csv`,
//! `dwp.csv`, `social_care.csv`, `services.csv`) in exactly the formats of
//! `docs/feeds.md`, plus two ground-truth files: `truth.csv` (which synthetic
//! person and family every data row of every feed except claims belongs to)
//! and `truth_claims.csv` (`case_ref, outcome_id, claim_date, trajectory,
//! expected`: whether the claimed problem really improved, and the verdict a
//! correct engine gives under `frameworks/sunderland.toml` with every feed
//! delivered and every row matched to its person).
//!
//! What a trajectory guarantees, per claimed outcome ("window" as in
//! `docs/frameworks.md`; 6 months up to a claim on D is D-6m+1..D):
//! * SUN-1.1 / 1.2: improved, no offence / ASB incident by a crime-flagged
//!   member in the window; not improved, at least one (and no completed ASB
//!   intervention).
//! * SUN-1.3: improved, a child under 18 with a youth activity session in each
//!   of the six months before the claim; not improved, one of those months has
//!   no session for any child.
//! * SUN-2.1: every school-age member (5-16 by month and year of birth) has an
//!   attendance row for each of the last three complete terms before the
//!   claim; improved, each of those terms is at least 92% for every one of
//!   them; not improved, a flagged child averages at most 88%.
//! * SUN-2.2 / 2.3: improved, no child has more than 2 suspensions / any
//!   permanent exclusion in those three terms; not improved, a flagged child
//!   has 3-4 suspensions / a permanent exclusion in them.
//! * SUN-3.1 (closed cases only, claimed 6+ months after `case_end`):
//!   improved, no member is referred in the 6 months after closure; not
//!   improved, a child is.
//! * SUN-3.2: some child had a child in need or protection plan; improved,
//!   every such plan closed (stepped down or closed) 8+ months before the
//!   claim with no referral or new plan in the 6 months after; not improved,
//!   a plan is still open at the claim or a referral follows within 6 months.
//! * SUN-3.8: improved, no looked-after episode overlaps the window; not
//!   improved, a child starts being looked after in it.
//! * SUN-4.1: improved, an adult on the benefit when the case started moves
//!   into work 26+ weeks (JSA) or 13+ weeks (other benefits) before the
//!   claim; not improved, no adult on an out-of-work benefit at the start has
//!   13 weeks' work after it.
//! * SUN-4.3: improved, an adult stays on UC and earns at least £340 in every
//!   assessment period covering the 5 weeks before the claim (the claim comes
//!   0-4 days after a period ends); not improved, no adult earns £270 or more
//!   in any period in those weeks.
//! * SUN-5.2: improved, no domestic incident for any member in the window;
//!   not improved, at least one.
//! * SUN-6.x: attested whatever the trajectory.
//!
//! `expected` is `verified` for improved, `contradicted` for not improved and
//! `attested` for SUN-6.x. A problem whose outcomes cannot be judged for the
//! family (say, no child of school age in the right terms) gets no claim.
//! Improved families also show it in the services feed: the victim's DASH
//! scores fall towards low risk (not improved: they stay high, with MARAC
//! referrals), substance treatment is completed rather than dropped out,
//! diverted children attend youth activities monthly.
//!
//! Promises:
//! * **Deterministic**: the same [`SynthOptions`] (seed included) give
//!   byte-identical files on every platform; a different seed gives different
//!   files.
//! * **No real data**: every name, address, postcode and identifier is drawn
//!   from built-in lists or made up. NHS numbers come from the `999` test
//!   range (never issued to patients) while it lasts; UPNs use a made-up
//!   school numbering. Identifiers are unique per person and carry valid check
//!   characters, so every row is acceptable to the ingest rules (at `none`
//!   and `light`; `realistic` damages some on purpose).
//! * **Valid rows**: every event date (and end date) lies inside the period
//!   the file declares, codes come from the documented lists, attendance
//!   sessions never exceed the possible sessions.
//! * **Realistic noise**: partner rows carry the errors real extracts have
//!   (initials, nicknames, surname typos, swapped or shifted dates of birth,
//!   house moves, titles and odd letter case, `DD/MM/YYYY` dates), and a
//!   background population shares surnames and dates of birth with family
//!   members, so matching precision and recall can both be measured. How
//!   much of it, and which kinds, [`NoiseLevel`] decides: see [`noise`]
//!   (`realistic` adds typos, OCR damage, missing fields, marriages, moves,
//!   wrong and shared strong ids and twins, and writes `truth_noise.csv`).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate, TimeDelta, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub mod noise;
pub use noise::NoiseLevel;
use noise::{NoiseKind, PersonNoise};

/// Framework problem codes and the outcome ids a keyworker may claim for each.
pub const PROBLEM_OUTCOMES: [(&str, &[&str]); 6] = [
    ("crime", &["SUN-1.1", "SUN-1.2", "SUN-1.3"]),
    ("education", &["SUN-2.1", "SUN-2.2", "SUN-2.3"]),
    ("children", &["SUN-3.1", "SUN-3.2", "SUN-3.8"]),
    ("worklessness", &["SUN-4.1", "SUN-4.3"]),
    ("domestic_abuse", &["SUN-5.2"]),
    ("health", &["SUN-6.1", "SUN-6.2", "SUN-6.4"]),
];

const CRIME: usize = 0;
const EDUCATION: usize = 1;
const CHILDREN: usize = 2;
const WORKLESSNESS: usize = 3;
const DOMESTIC: usize = 4;
const HEALTH: usize = 5;

/// Options for [`generate`].
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Number of families (cases).
    pub families: usize,
    /// Seed; the same seed gives byte-identical output.
    pub seed: u64,
    /// Background people (in no case) per family member.
    pub background_per_member: usize,
    /// First day of the period the event feeds cover.
    pub period_start: NaiveDate,
    /// Length of the period in years.
    pub years: u32,
    /// Recording errors in partner rows.
    pub noise: NoiseLevel,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            families: 100,
            seed: 1,
            background_per_member: 3,
            period_start: NaiveDate::from_ymd_opt(2014, 4, 1).expect("valid date"),
            years: 3,
            noise: NoiseLevel::Light,
        }
    }
}

/// One file written by [`generate`].
#[derive(Debug, Clone)]
pub struct SynthFile {
    /// Feed name (the file stem).
    pub feed: String,
    /// Where it was written.
    pub path: PathBuf,
    /// Data rows (not counting the period line or header).
    pub rows: usize,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct SynthSummary {
    pub files: Vec<SynthFile>,
    /// Synthetic people (family members and background).
    pub persons: usize,
    pub families: usize,
    pub claims: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// NHS number with its modulus-11 check digit appended, as 10 digits.
/// `None` when the check digit would be 10 (no valid number has those first
/// nine digits) or `first9` has more than nine digits.
pub fn nhs_number_with_check(first9: u32) -> Option<String> {
    if first9 > 999_999_999 {
        return None;
    }
    let s = format!("{first9:09}");
    let sum: u32 = s
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * (10 - i as u32))
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return None,
        c => c,
    };
    Some(format!("{s}{check}"))
}

const UPN_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

/// UPN: the check letter followed by `twelve`. The k-th character after the
/// check letter has weight k+1; the weighted sum mod 23 indexes
/// `ABCDEFGHJKLMNPQRTUVWXYZ`. Digits count as their value; a letter (as in a
/// temporary UPN's last character) counts as its index in that alphabet.
pub fn upn_with_check(twelve: &str) -> String {
    let sum: u32 = twelve
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                let up = b.to_ascii_uppercase();
                UPN_LETTERS.iter().position(|&l| l == up).unwrap_or(0) as u32
            };
            v * (i as u32 + 2)
        })
        .sum();
    let letter = UPN_LETTERS[(sum % 23) as usize] as char;
    format!("{letter}{twelve}")
}

// ---------------------------------------------------------------------------
// Name and place lists (common UK names; no real people or addresses).

#[rustfmt::skip]
const FEMALE: &[&str] = &[
    "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophia", "Grace", "Mia", "Poppy", "Ella",
    "Lily", "Evie", "Isabella", "Sophie", "Ivy", "Freya", "Harper", "Willow", "Charlotte",
    "Jessica", "Rosie", "Daisy", "Phoebe", "Chloe", "Ruby", "Millie", "Erin", "Holly", "Lucy",
    "Megan", "Ellie", "Amber", "Jasmine", "Scarlett", "Abigail", "Hannah", "Katie", "Lauren",
    "Leah", "Molly", "Paige", "Courtney", "Shannon", "Chelsea", "Bethany", "Rebecca",
    "Samantha", "Victoria", "Elizabeth", "Sarah", "Laura", "Emma", "Gemma", "Kelly", "Nicola",
    "Michelle", "Lisa", "Claire", "Joanne", "Donna", "Tracey", "Dawn", "Julie", "Karen",
    "Susan", "Helen", "Angela", "Deborah", "Amanda", "Jennifer", "Louise", "Rachel", "Natalie",
    "Stacey", "Kirsty", "Danielle", "Jade", "Zoë", "Leanne", "Kayleigh", "Catherine",
    "Margaret", "Patricia", "Linda", "Carol", "Janet", "Jane", "Alison", "Andrea", "Stephanie",
    "Kimberley", "Carly", "Hayley", "Naomi", "Aisha", "Fatima", "Amira", "Maya", "Niamh",
    "Siobhan", "Renée", "Katherine", "Jenny",
];

#[rustfmt::skip]
const MALE: &[&str] = &[
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Muhammad", "Oscar",
    "Charlie", "Jacob", "Thomas", "Henry", "William", "James", "Alfie", "Joshua", "Freddie",
    "Archie", "Ethan", "Isaac", "Alexander", "Joseph", "Edward", "Samuel", "Max", "Logan",
    "Lucas", "Daniel", "Theo", "Mason", "Riley", "Dylan", "Tyler", "Kyle", "Liam", "Callum",
    "Connor", "Jordan", "Ryan", "Lewis", "Jamie", "Bradley", "Luke", "Adam", "Ben", "Benjamin",
    "Matthew", "Michael", "Christopher", "David", "Andrew", "Mark", "Paul", "Steven", "Stephen",
    "Robert", "Richard", "John", "Peter", "Anthony", "Kevin", "Gary", "Wayne", "Darren",
    "Craig", "Lee", "Carl", "Dean", "Shaun", "Scott", "Stuart", "Ian", "Neil", "Simon",
    "Martin", "Brian", "Keith", "Graham", "Philip", "Nicholas", "Jonathan", "Kieran", "Reece",
    "Jake", "Nathan", "Aaron", "Declan", "Sean", "Patrick", "Aidan", "Mohammed", "Ahmed", "Ali",
    "Omar", "Hassan", "Jayden", "Frederick", "Nathaniel", "Zachary", "José",
];

#[rustfmt::skip]
const SURNAMES: &[&str] = &[
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter",
    "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards",
    "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson",
    "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain",
    "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd",
    "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey",
    "O'Brien", "O'Neill", "McDonald", "Robson", "Charlton", "Heslop", "Smith-Jones",
];

const NICKNAMES: &[(&str, &[&str])] = &[
    ("Robert", &["Bob", "Rob", "Bobby"]),
    ("William", &["Bill", "Will", "Billy"]),
    ("Elizabeth", &["Liz", "Beth", "Lizzie"]),
    ("Margaret", &["Maggie", "Peggy"]),
    ("Catherine", &["Kate", "Cathy"]),
    ("Katherine", &["Kate", "Kath"]),
    ("James", &["Jim", "Jimmy"]),
    ("Michael", &["Mike", "Mick"]),
    ("Richard", &["Rich", "Dick"]),
    ("Thomas", &["Tom", "Tommy"]),
    ("Joseph", &["Joe"]),
    ("Daniel", &["Dan", "Danny"]),
    ("Christopher", &["Chris"]),
    ("Anthony", &["Tony"]),
    ("Matthew", &["Matt"]),
    ("Samuel", &["Sam"]),
    ("Benjamin", &["Ben"]),
    ("Alexander", &["Alex"]),
    ("Jennifer", &["Jenny", "Jen"]),
    ("Rebecca", &["Becky", "Becca"]),
    ("Victoria", &["Vicky", "Tori"]),
    ("Susan", &["Sue"]),
    ("Patricia", &["Pat", "Trish"]),
    ("Deborah", &["Debbie", "Deb"]),
    ("Samantha", &["Sam", "Sammy"]),
    ("Jessica", &["Jess"]),
    ("Charlotte", &["Charlie", "Lottie"]),
    ("Nicholas", &["Nick"]),
    ("Stephen", &["Steve"]),
    ("Steven", &["Steve"]),
    ("Edward", &["Ed", "Eddie", "Ted"]),
    ("Jonathan", &["Jon"]),
    ("Abigail", &["Abbie", "Abby"]),
    ("Amelia", &["Millie"]),
    ("Oliver", &["Ollie"]),
    ("Frederick", &["Fred", "Freddie"]),
    ("Henry", &["Harry"]),
    ("Andrew", &["Andy"]),
    ("David", &["Dave"]),
    ("Peter", &["Pete"]),
    ("Philip", &["Phil"]),
    ("Nathaniel", &["Nat", "Nathan"]),
    ("Zachary", &["Zac"]),
    ("Isabella", &["Bella", "Izzy"]),
    ("Natalie", &["Nat"]),
    ("Kimberley", &["Kim"]),
    ("Amanda", &["Mandy"]),
    ("Joshua", &["Josh"]),
    ("Mohammed", &["Mo"]),
    ("Muhammad", &["Mo"]),
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Chester Road", "Hylton Road", "Durham Road", "Villette Road", "Ryhope Road",
    "Newcastle Road", "Roker Avenue", "Dene Street", "Eden Vale", "Mowbray Road",
    "Tunstall Road", "High Street West", "Station Road", "Church Lane", "Park Avenue",
    "Victoria Road", "Queen Street", "King Street", "Albert Road", "Grange Crescent",
    "Cedar Close", "Beech Grove", "Elm Terrace", "Oak Road", "Willow Way", "Ash Street",
    "Front Street", "Moor Terrace", "Fulwell Road", "Southwick Road", "Washington Road",
    "Sea View Road", "Cleveland Road", "Ormonde Street", "Westbourne Road", "Thornhill Terrace",
    "Kayll Road", "Fordfield Road", "Hastings Street", "Ewesley Road", "St Luke's Road",
    "Hill View", "Marlborough Road", "Gilpin Street",
];

#[rustfmt::skip]
const OUTWARD: &[&str] = &[
    "SR1", "SR2", "SR3", "SR4", "SR5", "SR6", "SR7", "NE37", "NE38", "DH4", "DH5",
];

/// Letters used in the unit part of a postcode (no C I K M O V).
const UNIT_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

const NI_FIRST: &[u8] = b"ABCEGHJKLMNOPRSTWXYZ";
const NI_SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
const NI_BANNED: &[&str] = &["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"];

#[rustfmt::skip]
const POLICE_COLS: &[&str] = &[
    "record_type", "forename", "surname", "dob", "postcode", "address", "nhs_number", "date",
    "disposal", "role", "severity", "status", "end_date",
];
#[rustfmt::skip]
const EDU_COLS: &[&str] = &[
    "record_type", "upn", "forename", "surname", "dob", "postcode", "date", "end_date", "term",
    "possible_sessions", "attended_sessions", "authorised_absence", "unauthorised_absence",
    "days", "status",
];
#[rustfmt::skip]
const DWP_COLS: &[&str] = &[
    "record_type", "ni_number", "forename", "surname", "dob", "postcode", "date", "end_date",
    "benefit", "amount",
];
#[rustfmt::skip]
const SC_COLS: &[&str] = &[
    "record_type", "nhs_number", "forename", "surname", "dob", "postcode", "date", "end_date",
    "closure_reason",
];
#[rustfmt::skip]
const SERVICES_COLS: &[&str] = &[
    "record_type", "nhs_number", "forename", "surname", "dob", "postcode", "address", "date",
    "end_date", "score", "status",
];
/// Services record types that are spells (`date` to `end_date`).
const SERVICE_SPELLS: &[&str] = &[
    "early_education",
    "substance_treatment",
    "neet_status",
    "tenancy",
];

#[rustfmt::skip]
const CASE_COLS: &[&str] = &[
    "case_ref", "role", "case_start", "case_end", "problems", "forename", "surname", "dob",
    "postcode", "address", "nhs_number", "ni_number", "upn",
];

// ---------------------------------------------------------------------------
// Small helpers.

fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d + TimeDelta::days(n)
}

fn add_months(d: NaiveDate, m: i32) -> NaiveDate {
    let r = if m >= 0 {
        d.checked_add_months(Months::new(m as u32))
    } else {
        d.checked_sub_months(Months::new(m.unsigned_abs()))
    };
    r.expect("date in range")
}

/// Age as outcomesd reckons it: from month and year of birth only.
fn age_my(dob: NaiveDate, at: NaiveDate) -> i32 {
    at.year() - dob.year() - i32::from(at.month() < dob.month())
}

/// The last `n` complete school terms ending on or before `d`, oldest first,
/// as (first day, last day).
fn last_terms(d: NaiveDate, n: usize) -> Vec<(NaiveDate, NaiveDate)> {
    let ymd = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("valid date");
    let end_of = |s: NaiveDate| match s.month() {
        9 => ymd(s.year(), 12, 31),
        1 => ymd(s.year(), 3, 31),
        _ => ymd(s.year(), 7, 31),
    };
    let prev = |s: NaiveDate| match s.month() {
        9 => ymd(s.year(), 4, 1),
        4 => ymd(s.year(), 1, 1),
        _ => ymd(s.year() - 1, 9, 1),
    };
    let mut t = match d.month() {
        1..=3 => ymd(d.year(), 1, 1),
        4..=8 => ymd(d.year(), 4, 1),
        _ => ymd(d.year(), 9, 1),
    };
    if end_of(t) > d {
        t = prev(t);
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push((t, end_of(t)));
        t = prev(t);
    }
    out.reverse();
    out
}

fn iso(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

fn dmy(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// Whole years of age on `at`.
fn age_on(dob: NaiveDate, at: NaiveDate) -> i32 {
    let mut a = at.year() - dob.year();
    if (at.month(), at.day()) < (dob.month(), dob.day()) {
        a -= 1;
    }
    a
}

fn pick<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    xs[rng.random_range(0..xs.len())]
}

fn weighted<T: Copy>(rng: &mut StdRng, xs: &[(T, u32)]) -> T {
    let total: u32 = xs.iter().map(|x| x.1).sum();
    let mut r = rng.random_range(0..total);
    for &(v, w) in xs {
        if r < w {
            return v;
        }
        r -= w;
    }
    xs[xs.len() - 1].0
}

/// Surname index skewed towards the common names at the front of the list.
fn common_surname(rng: &mut StdRng) -> &'static str {
    let u: f64 = rng.random();
    SURNAMES[((u * u) * SURNAMES.len() as f64) as usize % SURNAMES.len()]
}

fn forename_for(rng: &mut StdRng, sex: Sex) -> &'static str {
    match sex {
        Sex::F => pick(rng, FEMALE),
        Sex::M => pick(rng, MALE),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sex {
    F,
    M,
}

impl Sex {
    fn other(self) -> Sex {
        match self {
            Sex::F => Sex::M,
            Sex::M => Sex::F,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Feed {
    Police = 0,
    Education = 1,
    Dwp = 2,
    SocialCare = 3,
    Services = 4,
}

const EVENT_FEEDS: [(Feed, &str, &[&str]); 5] = [
    (Feed::Police, "police", POLICE_COLS),
    (Feed::Education, "education", EDU_COLS),
    (Feed::Dwp, "dwp", DWP_COLS),
    (Feed::SocialCare, "social_care", SC_COLS),
    (Feed::Services, "services", SERVICES_COLS),
];

struct Household {
    postcode: String,
    address: String,
    /// Where the household lives in the last year of the period, if it moved.
    moved: Option<(String, String)>,
}

struct Person {
    family: Option<usize>,
    sex: Sex,
    forename: &'static str,
    surname: &'static str,
    dob: NaiveDate,
    nhs: Option<String>,
    ni: Option<String>,
    upn: Option<String>,
    hh: usize,
}

struct Member {
    person: usize,
    role: &'static str,
    problems: u8,
}

#[derive(Clone, Copy)]
struct Plan {
    problem: usize,
    improved: bool,
    claim: NaiveDate,
    /// The claimed outcome; empty when no claim fits the family.
    outcome: &'static str,
    /// Improved: no events of this problem from here on.
    quiet_from: NaiveDate,
    /// End of the "before" history of the problem.
    pre_end: NaiveDate,
    /// First day of the window the claim is judged over.
    win_lo: NaiveDate,
    /// SUN-4.3: the start of the Universal Credit claim whose assessment
    /// periods the claim date follows.
    uc_start: Option<NaiveDate>,
}

impl Plan {
    /// The verdict a correct engine gives under Sunderland's rules with every
    /// feed delivered.
    fn expected(&self) -> &'static str {
        if self.problem == HEALTH {
            "attested"
        } else if self.improved {
            "verified"
        } else {
            "contradicted"
        }
    }
}

struct Family {
    case_ref: String,
    case_start: NaiveDate,
    case_end: Option<NaiveDate>,
    keyworker: String,
    members: Vec<Member>,
    plans: Vec<Plan>,
}

#[derive(Clone, Copy)]
struct Term {
    year: i32,
    kind: u8,
    start: NaiveDate,
    /// Calendar year in which the school year began.
    school_year: i32,
}

impl Term {
    fn name(&self) -> String {
        let k = ["autumn", "spring", "summer"][self.kind as usize];
        format!("{}-{k}", self.year)
    }
}

/// One event row before identity columns are added.
#[derive(Clone)]
struct Ev {
    feed: Feed,
    date: NaiveDate,
    rt: &'static str,
    end: Option<NaiveDate>,
    code: &'static str,
    term: Option<Term>,
    sess: [u32; 4],
    num: u32,
}

impl Ev {
    fn new(feed: Feed, rt: &'static str, date: NaiveDate) -> Ev {
        Ev {
            feed,
            date,
            rt,
            end: None,
            code: "",
            term: None,
            sess: [0; 4],
            num: 0,
        }
    }
    fn code(mut self, c: &'static str) -> Ev {
        self.code = c;
        self
    }
    fn end(mut self, e: Option<NaiveDate>) -> Ev {
        self.end = e;
        self
    }
}

/// UC earnings band.
#[derive(Clone, Copy)]
enum Pay {
    Any,
    Low,
    High,
}

/// How one partner system holds a person (with its recording errors).
struct IdVar {
    forename: String,
    surname: String,
    dob: NaiveDate,
    with_nhs: bool,
    /// [`NoiseKind`] bits of the errors above.
    kinds: u32,
}

struct Out {
    name: &'static str,
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
    rows: usize,
    truth: Vec<u8>,
    /// `truth_noise.csv` lines for this file's damaged rows.
    noise: Vec<u8>,
}

impl Out {
    fn create(
        dir: &Path,
        name: &'static str,
        period: Option<&str>,
        cols: &[&str],
    ) -> Result<Out, SynthError> {
        let path = dir.join(format!("{name}.csv"));
        let file = File::create(&path).map_err(|e| io_err(&path, e))?;
        let mut bw = BufWriter::with_capacity(1 << 16, file);
        if let Some(p) = period {
            writeln!(bw, "#period {p}").map_err(|e| io_err(&path, e))?;
        }
        let mut w = csv::WriterBuilder::new().from_writer(bw);
        w.write_record(cols).map_err(|e| io_err(&path, e.into()))?;
        Ok(Out {
            name,
            path,
            w,
            rows: 0,
            truth: Vec::new(),
            noise: Vec::new(),
        })
    }

    fn field(&mut self, s: &str) -> Result<(), SynthError> {
        self.w
            .write_field(s)
            .map_err(|e| io_err(&self.path, e.into()))
    }

    /// Ends the current row and records whose it is.
    fn end_row(&mut self, person: usize, family: &str) -> Result<(), SynthError> {
        self.w
            .write_record(None::<&[u8]>)
            .map_err(|e| io_err(&self.path, e.into()))?;
        self.rows += 1;
        // Header is row 1, so data row n is CSV row n + 1.
        let _ = writeln!(
            self.truth,
            "{},{},{},{}",
            self.name,
            self.rows + 1,
            person,
            family
        );
        Ok(())
    }

    /// Records the noise kinds of the row just ended.
    fn mark(&mut self, kinds: u32) {
        if kinds != 0 {
            let _ = writeln!(
                self.noise,
                "{},{},{}",
                self.name,
                self.rows + 1,
                noise::kinds_label(kinds)
            );
        }
    }

    fn finish(self) -> Result<(SynthFile, Vec<u8>, Vec<u8>), SynthError> {
        let Out {
            name,
            path,
            w,
            rows,
            truth,
            noise,
        } = self;
        let mut bw = w.into_inner().map_err(|e| io_err(&path, e.into_error()))?;
        bw.flush().map_err(|e| io_err(&path, e))?;
        Ok((
            SynthFile {
                feed: name.to_string(),
                path,
                rows,
            },
            truth,
            noise,
        ))
    }
}

fn io_err(path: &Path, source: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------
// The generator.

struct Gen {
    rng: StdRng,
    ps: NaiveDate,
    pe: NaiveDate,
    /// Rows dated on or after this use a moved household's new address.
    moved_from: NaiveDate,
    terms: Vec<Term>,
    nhs_used: HashSet<u32>,
    ni_used: HashSet<String>,
    upn_used: HashSet<String>,
    persons: Vec<Person>,
    households: Vec<Household>,
    families: Vec<Family>,
    noise: NoiseLevel,
    /// Draws of the `realistic` errors: apart from `rng`, so that `light`
    /// output never depends on them.
    nrng: StdRng,
    /// Draws of swapped names, apart from `nrng` so that adding them left
    /// every other realistic error where it was.
    srng: StdRng,
    /// Per person (realistic only; empty otherwise).
    pnoise: Vec<PersonNoise>,
    /// Per household: a `realistic` move (date, postcode, address).
    moves: Vec<Option<(NaiveDate, String, String)>>,
}

impl Gen {
    fn new(opts: &SynthOptions) -> Gen {
        let ps = opts.period_start;
        let pe = add_days(add_months(ps, 12 * opts.years.max(1) as i32), -1);
        let mut terms = Vec::new();
        for y in ps.year() - 1..=pe.year() + 1 {
            for (kind, m) in [(0u8, 9u32), (1, 1), (2, 4)] {
                let start = NaiveDate::from_ymd_opt(y, m, 1).expect("valid date");
                if start >= ps && start <= pe {
                    let school_year = if kind == 0 { y } else { y - 1 };
                    terms.push(Term {
                        year: y,
                        kind,
                        start,
                        school_year,
                    });
                }
            }
        }
        terms.sort_by_key(|t| t.start);
        Gen {
            rng: StdRng::seed_from_u64(opts.seed),
            ps,
            pe,
            moved_from: add_days(pe, -364),
            terms,
            nhs_used: HashSet::new(),
            ni_used: HashSet::new(),
            upn_used: HashSet::new(),
            persons: Vec::new(),
            households: Vec::new(),
            families: Vec::new(),
            noise: opts.noise,
            nrng: StdRng::seed_from_u64(opts.seed ^ 0x6e6f_6973_655f_7631),
            srng: StdRng::seed_from_u64(opts.seed ^ 0x7377_6170_5f76_3100),
            pnoise: Vec::new(),
            moves: Vec::new(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..=hi)
        }
    }

    /// Uniform date in `[lo, hi]` (inclusive), clamped to the period.
    fn between(&mut self, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
        let lo = lo.max(self.ps);
        let hi = hi.min(self.pe);
        if hi <= lo {
            return lo.min(self.pe);
        }
        let n = (hi - lo).num_days();
        add_days(lo, self.rng.random_range(0..=n))
    }

    /// Moves a weekend date to a weekday, staying in the period.
    fn weekday(&self, d: NaiveDate) -> NaiveDate {
        let w = match d.weekday() {
            Weekday::Sat => add_days(d, 2),
            Weekday::Sun => add_days(d, 1),
            _ => d,
        };
        if w > self.pe {
            add_days(d, -(d.weekday().num_days_from_monday() as i64 - 4))
        } else {
            w
        }
    }

    fn dob_for_age(&mut self, age: i32, at: NaiveDate) -> NaiveDate {
        let hi = add_months(at, -12 * age);
        let lo = add_days(add_months(at, -12 * (age + 1)), 1);
        let n = (hi - lo).num_days();
        add_days(lo, self.rng.random_range(0..=n))
    }

    fn postcode(&mut self, street: usize) -> String {
        let out = OUTWARD[street % OUTWARD.len()];
        let sector = (street * 7 + 3) % 10;
        let a = pick(&mut self.rng, UNIT_LETTERS) as char;
        let b = pick(&mut self.rng, UNIT_LETTERS) as char;
        format!("{out} {sector}{a}{b}")
    }

    fn new_address(&mut self, street: Option<usize>) -> (String, String) {
        let street = street.unwrap_or_else(|| self.rng.random_range(0..STREETS.len()));
        let num = self.range(1, 180);
        let pc = self.postcode(street);
        (pc, format!("{num} {}", STREETS[street]))
    }

    fn new_household(&mut self, street: Option<usize>) -> usize {
        let (postcode, address) = self.new_address(street);
        let moved = if self.chance(0.10) {
            Some(self.new_address(None))
        } else {
            None
        };
        self.households.push(Household {
            postcode,
            address,
            moved,
        });
        self.households.len() - 1
    }

    fn new_nhs(&mut self) -> String {
        for attempt in 0..200 {
            let first9 = if attempt < 100 {
                self.rng.random_range(999_000_000..=999_999_999u32)
            } else {
                self.rng.random_range(900_000_000..=998_999_999u32)
            };
            if self.nhs_used.contains(&first9) {
                continue;
            }
            if let Some(n) = nhs_number_with_check(first9) {
                self.nhs_used.insert(first9);
                return n;
            }
        }
        unreachable!("NHS number space exhausted")
    }

    fn new_ni(&mut self) -> String {
        loop {
            let a = pick(&mut self.rng, NI_FIRST) as char;
            let b = pick(&mut self.rng, NI_SECOND) as char;
            let prefix: String = [a, b].iter().collect();
            if NI_BANNED.contains(&prefix.as_str()) {
                continue;
            }
            let digits = self.rng.random_range(0..1_000_000u32);
            let suffix = pick(&mut self.rng, b"ABCD") as char;
            let ni = format!("{prefix}{digits:06}{suffix}");
            if self.ni_used.insert(ni[..8].to_string()) {
                return ni;
            }
        }
    }

    fn new_upn(&mut self, dob: NaiveDate) -> String {
        loop {
            let school = if self.chance(0.6) {
                self.range(2000, 2199)
            } else {
                self.range(4000, 4099)
            };
            let year = (dob.year() + 4).rem_euclid(100);
            let serial = self.range(0, 999);
            let twelve = format!("394{school:04}{year:02}{serial:03}");
            if self.upn_used.insert(twelve.clone()) {
                return upn_with_check(&twelve);
            }
        }
    }

    fn school_age_in(&self, dob: NaiveDate, t: &Term) -> bool {
        let sept1 = NaiveDate::from_ymd_opt(t.school_year, 9, 1).expect("valid date");
        let age = age_on(dob, add_days(sept1, -1));
        (4..=15).contains(&age)
    }

    fn add_person(
        &mut self,
        family: Option<usize>,
        sex: Sex,
        forename: &'static str,
        surname: &'static str,
        dob: NaiveDate,
        hh: usize,
    ) -> usize {
        let nhs = Some(self.new_nhs());
        let ni = if age_on(dob, self.pe) >= 16 {
            Some(self.new_ni())
        } else {
            None
        };
        let in_school = self.terms.iter().any(|t| self.school_age_in(dob, t));
        let upn = if in_school {
            Some(self.new_upn(dob))
        } else {
            None
        };
        self.persons.push(Person {
            family,
            sex,
            forename,
            surname,
            dob,
            nhs,
            ni,
            upn,
            hh,
        });
        self.persons.len() - 1
    }

    /// A forename for a sibling that differs from the ones already used.
    fn distinct_forename(&mut self, sex: Sex, used: &[&str]) -> &'static str {
        loop {
            let f = forename_for(&mut self.rng, sex);
            if !used.contains(&f) {
                return f;
            }
        }
    }

    // -- families ------------------------------------------------------------

    fn make_family(&mut self, fi: usize, keyworkers: usize) {
        let ps = self.ps;
        let pe = self.pe;
        let cs_lo = add_months(pe, -18).max(add_days(ps, 30));
        let cs_hi = add_months(pe, -7).max(cs_lo);
        let case_start = self.between(cs_lo, cs_hi);
        let hh = self.new_household(None);
        let surname = common_surname(&mut self.rng);

        let n_adults = if self.chance(0.38) { 1 } else { 2 };
        let mut n_children: usize = weighted(
            &mut self.rng,
            &[(0, 5), (1, 20), (2, 28), (3, 22), (4, 13), (5, 7), (6, 5)],
        );
        n_children = n_children.min(8 - n_adults);

        let carer_sex = if self.chance(0.85) { Sex::F } else { Sex::M };
        let carer_age = if n_children == 0 {
            self.range(18, 60) as i32
        } else {
            self.range(19, 52) as i32
        };
        let mut members = Vec::new();
        let mut used_names: Vec<&'static str> = Vec::new();
        let f = forename_for(&mut self.rng, carer_sex);
        used_names.push(f);
        let dob = self.dob_for_age(carer_age, case_start);
        let p = self.add_person(Some(fi), carer_sex, f, surname, dob, hh);
        members.push(Member {
            person: p,
            role: "main_carer",
            problems: 0,
        });
        let mut partner_surname = surname;
        if n_adults == 2 {
            let other = self.chance(0.12);
            let (sex, age, role) = if other {
                // A grandparent or an older sibling living with the family.
                if carer_age <= 42 && self.chance(0.6) {
                    (
                        if self.chance(0.7) { Sex::F } else { Sex::M },
                        (carer_age + self.range(18, 24) as i32).min(60),
                        "other",
                    )
                } else {
                    let s = if self.chance(0.5) { Sex::F } else { Sex::M };
                    (s, self.range(18, 22) as i32, "other")
                }
            } else {
                let s = if self.chance(0.92) {
                    carer_sex.other()
                } else {
                    carer_sex
                };
                (
                    s,
                    (carer_age + self.range(-5, 7) as i32).clamp(18, 60),
                    "adult",
                )
            };
            if role == "adult" && self.chance(0.4) {
                partner_surname = common_surname(&mut self.rng);
            }
            let sn = if role == "adult" {
                partner_surname
            } else {
                surname
            };
            let f = self.distinct_forename(sex, &used_names);
            used_names.push(f);
            let dob = self.dob_for_age(age, case_start);
            let p = self.add_person(Some(fi), sex, f, sn, dob, hh);
            members.push(Member {
                person: p,
                role,
                problems: 0,
            });
        }
        let max_child_age = (carer_age - 16).clamp(0, 17);
        let mut prev_dob: Option<NaiveDate> = None;
        let mut child_dobs: Vec<NaiveDate> = Vec::new();
        for ci in 0..n_children {
            let sex = if self.chance(0.5) { Sex::F } else { Sex::M };
            let twin = ci > 0 && prev_dob.is_some() && self.chance(0.025);
            let dob = match (twin, prev_dob) {
                (true, Some(d)) => d,
                _ => {
                    // Siblings (other than twins) are born at least ten months apart.
                    let mut found = None;
                    for _ in 0..30 {
                        let age = self.range(0, max_child_age as i64) as i32;
                        let d = self.dob_for_age(age, case_start);
                        if child_dobs
                            .iter()
                            .all(|&o: &NaiveDate| (d - o).num_days().abs() >= 300)
                        {
                            found = Some(d);
                            break;
                        }
                    }
                    match found {
                        Some(d) => d,
                        None => break,
                    }
                }
            };
            prev_dob = Some(dob);
            child_dobs.push(dob);
            let sn = if partner_surname != surname && self.chance(0.3) {
                partner_surname
            } else {
                surname
            };
            let f = self.distinct_forename(sex, &used_names);
            used_names.push(f);
            let p = self.add_person(Some(fi), sex, f, sn, dob, hh);
            members.push(Member {
                person: p,
                role: "child",
                problems: 0,
            });
        }

        // Problems and the members they apply to.
        let ages: Vec<i32> = members
            .iter()
            .map(|m| age_on(self.persons[m.person].dob, case_start))
            .collect();
        let adults: Vec<bool> = members.iter().map(|m| m.role != "child").collect();
        let partner: Vec<bool> = members.iter().map(|m| m.role == "adult").collect();
        let eligible = |prob: usize| -> Vec<usize> {
            (0..adults.len())
                .filter(|&i| {
                    let a = ages[i];
                    let adult = adults[i];
                    match prob {
                        CRIME => a >= 10,
                        EDUCATION => !adult && (5..=15).contains(&a),
                        CHILDREN => !adult,
                        WORKLESSNESS | DOMESTIC => adult,
                        HEALTH => true,
                        _ => false,
                    }
                })
                .collect()
        };
        let base = [0.35, 0.5, 0.45, 0.55, 0.3, 0.4];
        let mut chosen: Vec<usize> = Vec::new();
        for (prob, &p) in base.iter().enumerate() {
            if !eligible(prob).is_empty() && self.chance(p) {
                chosen.push(prob);
            }
        }
        while chosen.len() < 2 {
            let prob = self.rng.random_range(0..6);
            if !chosen.contains(&prob) && !eligible(prob).is_empty() {
                chosen.push(prob);
            }
        }
        chosen.sort_unstable();
        for &prob in &chosen {
            let el = eligible(prob);
            let mut flagged: Vec<usize> = match prob {
                EDUCATION | CHILDREN => {
                    let all = self.chance(0.5);
                    el.iter()
                        .copied()
                        .filter(|_| all || self.chance(0.5))
                        .collect()
                }
                WORKLESSNESS => {
                    let mut v = vec![el[0]];
                    if el.len() > 1 && self.chance(0.4) {
                        v.push(el[1]);
                    }
                    v
                }
                DOMESTIC => {
                    // Victim first; the partner (if any, and 50%) as perpetrator.
                    let mut v = vec![el[0]];
                    if el.len() > 1 && partner[el[1]] && self.chance(0.5) {
                        v.push(el[1]);
                    }
                    v
                }
                _ => {
                    let mut v = vec![pick(&mut self.rng, &el)];
                    if el.len() > 1 && self.chance(0.25) {
                        let o = pick(&mut self.rng, &el);
                        if !v.contains(&o) {
                            v.push(o);
                        }
                    }
                    v
                }
            };
            if flagged.is_empty() {
                flagged.push(pick(&mut self.rng, &el));
            }
            for i in flagged {
                members[i].problems |= 1 << prob;
            }
        }

        // A case closed at least seven months before the period ends, so
        // that the six months after closure are covered (SUN-3.1).
        let case_end = if case_start <= add_months(pe, -10) && self.chance(0.55) {
            Some(self.between(add_months(case_start, 3), add_months(pe, -7)))
        } else {
            None
        };
        let info: Vec<(NaiveDate, &'static str, u8)> = members
            .iter()
            .map(|m| (self.persons[m.person].dob, m.role, m.problems))
            .collect();
        let mut plans = Vec::new();
        for &prob in &chosen {
            let improved = self.chance(0.7);
            let plan = self.make_plan(prob, improved, case_start, case_end, &info);
            plans.push(plan);
        }
        let keyworker = format!("KW{:04}", 1 + self.rng.random_range(0..keyworkers));
        self.families.push(Family {
            case_ref: format!("SF-{:06}", fi + 1),
            case_start,
            case_end,
            keyworker,
            members,
            plans,
        });
    }

    /// Whether `outcome` claimed on `claim` can be judged for this family
    /// the way its trajectory intends (someone in the rule's scope, with the
    /// records the rule needs).
    fn applicable(
        &self,
        outcome: &str,
        claim: NaiveDate,
        case_start: NaiveDate,
        prob: usize,
        info: &[(NaiveDate, &'static str, u8)],
    ) -> bool {
        let flagged = |i: usize| info[i].2 & (1 << prob) != 0;
        let in_school = |dob: NaiveDate, t: NaiveDate| {
            self.terms
                .iter()
                .find(|x| x.start == t)
                .is_some_and(|x| self.school_age_in(dob, x))
        };
        match outcome {
            "SUN-1.3" => info.iter().any(|&(dob, role, _)| {
                role == "child"
                    && age_my(dob, claim) <= 17
                    && age_on(dob, add_days(add_months(claim, -6), -60)) >= 8
            }),
            "SUN-2.1" => {
                let ts = last_terms(claim, 3);
                let to = ts[2].1;
                let scope: Vec<usize> = (0..info.len())
                    .filter(|&i| (5..=16).contains(&age_my(info[i].0, to)))
                    .collect();
                scope.iter().any(|&i| flagged(i))
                    && scope
                        .iter()
                        .all(|&i| ts.iter().all(|t| in_school(info[i].0, t.0)))
            }
            "SUN-2.2" | "SUN-2.3" => {
                let ts = last_terms(claim, 3);
                (0..info.len()).any(|i| {
                    flagged(i)
                        && age_my(info[i].0, ts[2].1) < 18
                        && ts.iter().any(|t| in_school(info[i].0, t.0))
                })
            }
            "SUN-3.2" => {
                let pre = case_start.min(add_days(add_months(claim, -8), -20));
                let lo = add_months(case_start, -24).max(self.ps);
                (0..info.len()).any(|i| {
                    flagged(i)
                        && age_my(info[i].0, claim) < 18
                        && info[i].0.max(lo) <= add_days(pre, -30)
                })
            }
            "SUN-3.8" => (0..info.len()).any(|i| {
                flagged(i) && age_my(info[i].0, claim) < 18 && info[i].0 < add_months(claim, -6)
            }),
            _ => true,
        }
    }

    /// The problem's trajectory and the claim made for it.
    fn make_plan(
        &mut self,
        prob: usize,
        improved: bool,
        case_start: NaiveDate,
        case_end: Option<NaiveDate>,
        info: &[(NaiveDate, &'static str, u8)],
    ) -> Plan {
        let pe = self.pe;
        let claim_lo = add_days(add_months(case_start, 6), 1);
        let mut claim = self.between(claim_lo, pe);
        let mut outcome = "";
        for _ in 0..20 {
            let o = match (prob, case_end) {
                (CHILDREN, Some(_)) if self.chance(0.75) => "SUN-3.1",
                (CHILDREN, _) => pick(&mut self.rng, &["SUN-3.2", "SUN-3.8"]),
                _ => pick(&mut self.rng, PROBLEM_OUTCOMES[prob].1),
            };
            let lo = match (o, case_end) {
                ("SUN-3.1", Some(e)) => add_months(e, 6).max(claim_lo),
                ("SUN-3.2", _) => add_months(case_start, 8),
                ("SUN-4.1", _) => add_months(case_start, 7),
                _ => claim_lo,
            };
            let c = self.between(lo, pe);
            if self.applicable(o, c, case_start, prob, info) {
                outcome = o;
                claim = c;
                break;
            }
        }
        let mut uc_start = None;
        if outcome == "SUN-4.3" {
            // The claim follows the end of a UC assessment period by 0-4 days.
            let u = self.between(add_months(case_start, -10), add_days(case_start, -30));
            let ends: Vec<NaiveDate> = (1..60)
                .map(|k| add_days(add_months(u, k), -1))
                .filter(|e| *e >= claim_lo && *e <= pe)
                .collect();
            if ends.is_empty() {
                outcome = "SUN-4.1";
                claim = self.between(add_months(case_start, 7), pe);
            } else {
                let e = pick(&mut self.rng, &ends);
                claim = add_days(e, self.range(0, (pe - e).num_days().min(4)));
                uc_start = Some(u);
            }
        }
        let win_lo = match (outcome, case_end) {
            ("SUN-2.1" | "SUN-2.2" | "SUN-2.3", _) => last_terms(claim, 3)[0].0,
            ("SUN-3.1", Some(e)) => add_days(e, 1),
            _ => add_days(add_months(claim, -6), 1),
        };
        let quiet_from = if improved {
            add_days(add_months(claim, -8), -self.range(0, 20)).min(win_lo)
        } else {
            pe
        };
        let pre_end = if improved {
            case_start.min(quiet_from)
        } else {
            case_start
        };
        Plan {
            problem: prob,
            improved,
            claim,
            outcome,
            quiet_from,
            pre_end,
            win_lo,
            uc_start,
        }
    }

    // -- background ----------------------------------------------------------

    fn make_background(&mut self, count: usize, family_people: usize) {
        let mid = add_days(self.ps, (self.pe - self.ps).num_days() / 2);
        let mut made = 0;
        while made < count {
            let size = weighted(&mut self.rng, &[(1usize, 40), (2, 25), (3, 20), (4, 15)])
                .min(count - made);
            // Sometimes relatives or namesakes of a family member.
            let link = if family_people > 0 && self.chance(0.2) {
                Some(self.rng.random_range(0..family_people))
            } else {
                None
            };
            let street = match link {
                Some(p) if self.chance(0.3) => {
                    let addr = &self.households[self.persons[p].hh].address;
                    STREETS.iter().position(|s| addr.ends_with(s))
                }
                _ => None,
            };
            let hh = self.new_household(street);
            let mut surname = common_surname(&mut self.rng);
            if let Some(p) = link {
                surname = self.persons[p].surname;
            }
            let sex = if self.chance(0.55) { Sex::F } else { Sex::M };
            let age = self.range(18, 70) as i32;
            let mut used = Vec::new();
            let mut forename = forename_for(&mut self.rng, sex);
            let mut dob = self.dob_for_age(age, mid);
            let mut sex = sex;
            let mut first_is_clone = false;
            if let Some(p) = link {
                // Same surname and date of birth as a family member: 30% of
                // linked households; a quarter of those share the forename too.
                if self.chance(0.3) {
                    let (fdob, fsex, fname) = {
                        let fp = &self.persons[p];
                        (fp.dob, fp.sex, fp.forename)
                    };
                    dob = fdob;
                    sex = fsex;
                    forename = if self.chance(0.25) {
                        fname
                    } else {
                        forename_for(&mut self.rng, sex)
                    };
                    first_is_clone = true;
                }
            }
            used.push(forename);
            let first_age = age_on(dob, mid);
            self.add_person(None, sex, forename, surname, dob, hh);
            made += 1;
            for _ in 1..size {
                let child = (20..=55).contains(&first_age) && self.chance(0.65);
                let (sex, dob) = if child {
                    let s = if self.chance(0.5) { Sex::F } else { Sex::M };
                    let a = self.range(0, (first_age - 16).min(17) as i64) as i32;
                    (s, self.dob_for_age(a, mid))
                } else {
                    let s = if first_is_clone || self.chance(0.9) {
                        sex.other()
                    } else {
                        sex
                    };
                    let a = (first_age + self.range(-6, 6) as i32).clamp(18, 75);
                    (s, self.dob_for_age(a, mid))
                };
                let f = self.distinct_forename(sex, &used);
                used.push(f);
                self.add_person(None, sex, f, surname, dob, hh);
                made += 1;
            }
        }
    }

    // -- events ---------------------------------------------------------------

    fn crime_event(&mut self, date: NaiveDate, age: i32) -> Ev {
        match weighted(&mut self.rng, &[(0, 40), (1, 35), (2, 25)]) {
            0 => {
                let sev = if self.chance(0.15) {
                    "serious"
                } else {
                    "standard"
                };
                Ev::new(Feed::Police, "offence", date).code(sev)
            }
            1 => {
                let caution = if age < 18 { "youth_caution" } else { "caution" };
                let cond = if age < 18 {
                    "youth_caution"
                } else {
                    "conditional_caution"
                };
                let d = weighted(
                    &mut self.rng,
                    &[
                        ("charge", 25),
                        (caution, 10),
                        (cond, 5),
                        ("community_resolution", 12),
                        ("penalty_notice", 5),
                        ("no_further_action", 28),
                        ("released_under_investigation", 15),
                    ],
                );
                Ev::new(Feed::Police, "arrest", date).code(d)
            }
            _ => Ev::new(Feed::Police, "asb_incident", date),
        }
    }

    /// Dates for a problem's events: history before the case, then what the
    /// trajectory implies afterwards.
    fn problem_dates(
        &mut self,
        plan: &Plan,
        case_start: NaiveDate,
        lo: NaiveDate,
        pre: (i64, i64),
    ) -> Vec<NaiveDate> {
        let hist_lo = lo.max(add_months(case_start, -24)).max(self.ps);
        let mut out = Vec::new();
        let pre_hi = add_days(plan.pre_end, -1);
        if hist_lo <= pre_hi {
            let n = self.range(pre.0, pre.1);
            for _ in 0..n {
                out.push(self.between(hist_lo, pre_hi));
            }
        }
        if plan.improved {
            if plan.quiet_from > case_start && self.chance(0.35) {
                out.push(self.between(case_start, add_days(plan.quiet_from, -1)));
            }
        } else {
            let n = self.range(0, 2);
            for _ in 0..n {
                out.push(self.between(case_start, self.pe));
            }
            // One inside the six months up to the claim.
            out.push(self.between(add_days(add_months(plan.claim, -6), 1), plan.claim));
        }
        out.retain(|d| *d >= lo);
        out
    }

    fn family_events(&mut self, fi: usize) -> Vec<Vec<Ev>> {
        let fam = &self.families[fi];
        let case_start = fam.case_start;
        let case_end = fam.case_end;
        let plans = fam.plans.clone();
        let members: Vec<(usize, &'static str, u8)> = fam
            .members
            .iter()
            .map(|m| (m.person, m.role, m.problems))
            .collect();
        let mut evs: Vec<Vec<Ev>> = vec![Vec::new(); members.len()];
        let plan_for = |prob: usize| plans.iter().find(|p| p.problem == prob).copied();
        // An improved SUN-2.1 claim: every pupil in the house attends well
        // from the first of the three terms it is judged on.
        let good_from = plan_for(EDUCATION)
            .filter(|p| p.improved && p.outcome == "SUN-2.1")
            .map(|p| p.win_lo);
        // Worklessness not improved: no one else's work record may meet
        // SUN-4.1 or SUN-4.3 either.
        let dwp_quiet = plan_for(WORKLESSNESS).is_some_and(|p| !p.improved);
        let mut first_workless = true;

        for (mi, &(pi, role, probs)) in members.iter().enumerate() {
            let dob = self.persons[pi].dob;
            let age = age_on(dob, case_start);
            let adult = role != "child";
            // Crime.
            if let Some(plan) = plan_for(CRIME).filter(|_| probs & (1 << CRIME) != 0) {
                let lo = add_months(dob, 120);
                let dates = self.problem_dates(&plan, case_start, lo, (1, 4));
                for d in dates {
                    let a = age_on(dob, d);
                    let e = self.crime_event(d, a);
                    evs[mi].push(e);
                }
                if self.chance(0.25) {
                    let d = self.between(
                        add_months(case_start, -12).max(lo),
                        add_days(plan.pre_end, -1),
                    );
                    let (status, end) = if plan.improved {
                        ("completed", Some(add_days(d, self.range(90, 200))))
                    } else if self.chance(0.5) {
                        ("breached", Some(self.between(case_start, self.pe)))
                    } else {
                        ("open", None)
                    };
                    evs[mi].push(
                        Ev::new(Feed::Police, "asb_intervention", d)
                            .code(status)
                            .end(end),
                    );
                }
            } else if age >= 10 && self.chance(0.04) {
                let d = self.between(add_months(dob, 120), self.pe);
                let e = self.crime_event(d, age_on(dob, d));
                evs[mi].push(e);
            }
            // Children's social care.
            if let Some(plan) = plan_for(CHILDREN).filter(|_| probs & (1 << CHILDREN) != 0) {
                self.social_care_history(&mut evs[mi], &plan, case_start, dob);
                if age >= 8 && self.chance(0.25) {
                    let lo = add_months(dob, 96);
                    let dates = self.problem_dates(&plan, case_start, lo, (1, 3));
                    for d in dates {
                        evs[mi].push(Ev::new(Feed::Police, "missing_episode", d));
                    }
                }
            }
            // Education.
            if self.persons[pi].upn.is_some() {
                let plan = plan_for(EDUCATION).filter(|_| probs & (1 << EDUCATION) != 0);
                self.education_history(&mut evs[mi], plan.as_ref(), case_start, dob, good_from);
            }
            // Work and benefits.
            if adult {
                if let Some(plan) =
                    plan_for(WORKLESSNESS).filter(|_| probs & (1 << WORKLESSNESS) != 0)
                {
                    self.worklessness_history(&mut evs[mi], &plan, case_start, first_workless);
                    first_workless = false;
                } else {
                    self.ordinary_dwp(&mut evs[mi], dob, 0.6, dwp_quiet);
                }
            }
        }

        // Domestic incidents involve several members on the same dates.
        if let Some(plan) = plan_for(DOMESTIC) {
            let flagged: Vec<usize> = (0..members.len())
                .filter(|&i| members[i].2 & (1 << DOMESTIC) != 0)
                .collect();
            if let Some(&victim) = flagged.first() {
                let perp = flagged.get(1).copied();
                let dates = self.problem_dates(&plan, case_start, self.ps, (1, 4));
                for d in dates {
                    evs[victim].push(Ev::new(Feed::Police, "domestic_incident", d).code("victim"));
                    if let Some(p) = perp {
                        evs[p].push(
                            Ev::new(Feed::Police, "domestic_incident", d).code("perpetrator"),
                        );
                    }
                    for (mi, m) in members.iter().enumerate() {
                        if m.1 == "child" && self.persons[m.0].dob <= d && self.chance(0.15) {
                            evs[mi]
                                .push(Ev::new(Feed::Police, "domestic_incident", d).code("other"));
                        }
                    }
                }
            }
        }

        // Not improved: the event the claimed outcome's rule must find.
        for plan in plans.iter().filter(|p| !p.improved) {
            self.breach(plan, case_end, &members, &mut evs);
        }
        self.family_services(&plans, &members, &mut evs, case_start);
        evs
    }

    /// Adds, for a not-improved claim, the record that contradicts it.
    fn breach(
        &mut self,
        plan: &Plan,
        case_end: Option<NaiveDate>,
        members: &[(usize, &'static str, u8)],
        evs: &mut [Vec<Ev>],
    ) {
        let claim = plan.claim;
        let w_lo = add_days(add_months(claim, -6), 1);
        let flagged: Vec<usize> = (0..members.len())
            .filter(|&i| members[i].2 & (1 << plan.problem) != 0)
            .collect();
        let dob = |g: &Gen, i: usize| g.persons[members[i].0].dob;
        match plan.outcome {
            "SUN-1.1" | "SUN-1.2" => {
                let mi = flagged[0];
                let d = self.between(w_lo, claim);
                let e = if plan.outcome == "SUN-1.1" {
                    Ev::new(Feed::Police, "offence", d).code("standard")
                } else {
                    Ev::new(Feed::Police, "asb_incident", d)
                };
                evs[mi].push(e);
            }
            "SUN-2.2" | "SUN-2.3" => {
                let ts = last_terms(claim, 3);
                let Some((mi, terms)) = flagged.iter().find_map(|&i| {
                    let b = dob(self, i);
                    let terms: Vec<(NaiveDate, NaiveDate)> = ts
                        .iter()
                        .copied()
                        .filter(|t| {
                            self.terms
                                .iter()
                                .find(|x| x.start == t.0)
                                .is_some_and(|x| self.school_age_in(b, x))
                        })
                        .collect();
                    (age_my(b, ts[2].1) < 18 && !terms.is_empty()).then_some((i, terms))
                }) else {
                    return;
                };
                if plan.outcome == "SUN-2.2" {
                    for _ in 0..self.range(3, 4) {
                        let t = pick(&mut self.rng, &terms);
                        let d = self.between(t.0, add_days(t.1, -3));
                        let e = self.suspension(d);
                        evs[mi].push(e);
                    }
                } else {
                    let t = pick(&mut self.rng, &terms);
                    let d = self.between(t.0, add_days(t.1, -3));
                    let d = self.weekday(d);
                    evs[mi].push(Ev::new(Feed::Education, "permanent_exclusion", d));
                    let ap = add_days(d, self.range(1, 14));
                    evs[mi].push(
                        Ev::new(Feed::Education, "enrolment", ap).code("alternative_provision"),
                    );
                }
            }
            "SUN-3.1" => {
                let Some(end) = case_end else { return };
                let mi = flagged[0];
                let d = self.between(add_days(end, 1), add_months(end, 6));
                evs[mi].push(Ev::new(Feed::SocialCare, "referral", d));
            }
            "SUN-3.8" => {
                let Some(mi) = flagged
                    .iter()
                    .copied()
                    .find(|&i| age_my(dob(self, i), claim) < 18 && dob(self, i) < w_lo)
                else {
                    return;
                };
                let d = self.between(w_lo, claim);
                let r = self.between(add_days(d, -14), d);
                evs[mi].push(Ev::new(Feed::SocialCare, "referral", r));
                evs[mi].push(Ev::new(Feed::SocialCare, "looked_after", d).end(None));
            }
            _ => {}
        }
    }

    fn episode_kind(&mut self) -> &'static str {
        weighted(
            &mut self.rng,
            &[
                ("early_help", 40),
                ("child_in_need", 30),
                ("child_protection", 20),
                ("looked_after", 10),
            ],
        )
    }

    fn social_care_history(
        &mut self,
        evs: &mut Vec<Ev>,
        plan: &Plan,
        case_start: NaiveDate,
        dob: NaiveDate,
    ) {
        let hist_lo = dob.max(add_months(case_start, -24)).max(self.ps);
        if hist_lo > add_days(plan.pre_end, -30) {
            // Born too recently for a history before the case.
            return;
        }
        let r1 = self.between(hist_lo, add_days(plan.pre_end, -30));
        evs.push(Ev::new(Feed::SocialCare, "referral", r1));
        if self.chance(0.3) {
            let d = add_days(r1, self.range(0, 10));
            let end = Some(add_days(d, self.range(10, 30)));
            evs.push(
                Ev::new(Feed::SocialCare, "section47", d)
                    .end(end)
                    .code("closed"),
            );
        }
        // SUN-3.2 is about child in need and child protection plans.
        let kind = if plan.outcome == "SUN-3.2" {
            if self.chance(0.6) {
                "child_in_need"
            } else {
                "child_protection"
            }
        } else {
            self.episode_kind()
        };
        let start = add_days(r1, self.range(0, 21));
        if plan.improved {
            let hi = add_days(plan.quiet_from, -1);
            let end = self.between(add_days(start, 30).min(hi), hi).max(start);
            let reason = if kind == "early_help" || self.chance(0.3) {
                "closed"
            } else {
                "stepped_down"
            };
            evs.push(
                Ev::new(Feed::SocialCare, kind, start)
                    .end(Some(end))
                    .code(reason),
            );
            if reason == "stepped_down" && end < self.pe {
                // Stepped down to early help, itself closed before the quiet window ends.
                let s2 = add_days(end, 1);
                let e2 = self.between(
                    add_days(s2, 30),
                    add_days(plan.quiet_from, 60).min(plan.claim),
                );
                if s2 < plan.quiet_from {
                    evs.push(
                        Ev::new(Feed::SocialCare, "early_help", s2)
                            .end(Some(e2.min(add_days(plan.quiet_from, -1)).max(s2)))
                            .code("closed"),
                    );
                }
            }
        } else if self.chance(0.5) {
            // Still open at the claim.
            evs.push(Ev::new(Feed::SocialCare, kind, start));
        } else {
            // Closed, then re-referred within six months.
            let end = self.between(add_days(start, 30), add_months(plan.claim, -1));
            evs.push(
                Ev::new(Feed::SocialCare, kind, start)
                    .end(Some(end.max(start)))
                    .code("closed"),
            );
            let r2 = self.between(
                add_days(end, 1),
                add_months(end, 6).min(plan.claim).max(add_days(end, 1)),
            );
            evs.push(Ev::new(Feed::SocialCare, "referral", r2));
            let k2 = if plan.outcome == "SUN-3.2" {
                kind
            } else {
                self.episode_kind()
            };
            let s2 = add_days(r2, self.range(0, 14));
            evs.push(Ev::new(Feed::SocialCare, k2, s2));
        }
    }

    fn attendance(&mut self, t: &Term, rate: f64, unauth_share: f64) -> Ev {
        let possible = match t.kind {
            0 => self.range(130, 140),
            1 => self.range(118, 128),
            _ => self.range(122, 134),
        } as u32;
        let attended = (((possible as f64) * rate.clamp(0.0, 1.0)).round() as u32).min(possible);
        let missed = possible - attended;
        // A few sessions are sometimes unrecorded (a pupil joining mid-term).
        let uncounted = if self.chance(0.08) {
            (self.range(1, 6) as u32).min(missed)
        } else {
            0
        };
        let absent = missed - uncounted;
        let unauth = (((absent as f64) * unauth_share).round() as u32).min(absent);
        let auth = absent - unauth;
        let mut e = Ev::new(Feed::Education, "attendance", t.start);
        e.term = Some(*t);
        e.sess = [possible, attended, auth, unauth];
        e
    }

    fn rate(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.random::<f64>()
    }

    fn suspension(&mut self, d: NaiveDate) -> Ev {
        let d = self.weekday(d);
        let days = if self.chance(0.85) {
            self.range(1, 5)
        } else {
            self.range(6, 20)
        } as u32;
        let mut e = Ev::new(Feed::Education, "suspension", d);
        e.num = days;
        e
    }

    fn education_history(
        &mut self,
        evs: &mut Vec<Ev>,
        plan: Option<&Plan>,
        case_start: NaiveDate,
        dob: NaiveDate,
        good_from: Option<NaiveDate>,
    ) {
        let good = |t: &Term| good_from.is_some_and(|g| t.start >= g);
        let terms: Vec<Term> = self
            .terms
            .iter()
            .filter(|t| self.school_age_in(dob, t))
            .copied()
            .collect();
        let Some(first) = terms.first().copied() else {
            return;
        };
        let lo = first.start;
        // Starting school in the period: an enrolment row.
        if (first.school_year - dob.year()) <= 4 && first.kind == 0 {
            let d = add_days(first.start, self.range(2, 8));
            let d = self.weekday(d);
            evs.push(Ev::new(Feed::Education, "enrolment", d).code("on_roll"));
        }
        match plan {
            Some(plan) => {
                for t in &terms {
                    let r = if plan.improved && (t.start >= plan.quiet_from || good(t)) {
                        self.rate(0.925, 0.99)
                    } else if plan.improved && t.start >= plan.pre_end {
                        self.rate(0.86, 0.93)
                    } else if plan.improved {
                        self.rate(0.70, 0.89)
                    } else {
                        self.rate(0.62, 0.88)
                    };
                    let share = self.rate(0.3, 0.75);
                    let e = self.attendance(t, r, share);
                    evs.push(e);
                }
                let dates = self.problem_dates(plan, case_start, lo, (0, 3));
                for d in dates {
                    let e = self.suspension(d);
                    evs.push(e);
                }
                if !plan.improved && self.chance(0.08) {
                    let d = self.between(case_start, self.pe);
                    let d = self.weekday(d);
                    evs.push(Ev::new(Feed::Education, "permanent_exclusion", d));
                    let ap = add_days(d, self.range(1, 14));
                    if ap <= self.pe {
                        evs.push(
                            Ev::new(Feed::Education, "enrolment", ap).code("alternative_provision"),
                        );
                    }
                }
            }
            None => {
                let poor = self.chance(0.1);
                for t in &terms {
                    let r = if good(t) {
                        self.rate(0.925, 0.995)
                    } else if poor {
                        self.rate(0.80, 0.91)
                    } else {
                        self.rate(0.91, 0.995)
                    };
                    let share = self.rate(0.05, 0.35);
                    let e = self.attendance(t, r, share);
                    evs.push(e);
                }
                if poor && self.chance(0.2) {
                    let d = self.between(lo, self.pe);
                    let e = self.suspension(d);
                    evs.push(e);
                }
            }
        }
        if self.chance(0.02) {
            let d = self.between(lo, self.pe);
            let d = self.weekday(d);
            let status = if self.chance(0.6) {
                "elective_home_education"
            } else {
                "missing_education"
            };
            let end = if self.chance(0.5) {
                Some(add_days(d, self.range(30, 200)))
            } else {
                None
            };
            evs.push(
                Ev::new(Feed::Education, "enrolment", d)
                    .code(status)
                    .end(end),
            );
        }
    }

    /// Employment and non-employment benefits of an adult without the
    /// worklessness problem.
    /// `quiet`: no move from an out-of-work benefit into work and no UC
    /// earnings (a house whose worklessness did not improve).
    fn ordinary_dwp(&mut self, evs: &mut Vec<Ev>, dob: NaiveDate, employed: f64, quiet: bool) {
        let lo = add_months(dob, 16 * 12).max(self.ps);
        if lo > self.pe {
            return;
        }
        if self.chance(employed) {
            let s = self.between(lo, add_days(self.pe, -90));
            let end = if self.chance(0.25) {
                Some(add_days(s, self.range(60, 700)))
            } else {
                None
            };
            evs.push(Ev::new(Feed::Dwp, "employment_spell", s).end(end));
            if let Some(e) = end {
                if self.chance(0.5) {
                    let s2 = add_days(e, self.range(14, 120));
                    evs.push(Ev::new(Feed::Dwp, "employment_spell", s2));
                }
            }
        } else if self.chance(0.45) {
            let ben = weighted(
                &mut self.rng,
                &[
                    ("jsa", 25),
                    ("esa", 20),
                    ("uc", 25),
                    ("is", 5),
                    ("ib", 3),
                    ("sda", 2),
                ],
            );
            let s = self.between(lo, add_days(self.pe, -30));
            let end = if !quiet && self.chance(0.5) {
                Some(add_days(s, self.range(30, 500)))
            } else {
                None
            };
            evs.push(Ev::new(Feed::Dwp, "benefit_spell", s).code(ben).end(end));
            if let Some(e) = end {
                evs.push(Ev::new(Feed::Dwp, "employment_spell", add_days(e, 1)));
                if ben == "uc" {
                    let to = add_days(e, self.range(60, 200));
                    self.uc_earnings(evs, s, add_days(e, 1), to, Pay::Any);
                }
            }
        }
        if self.chance(0.12) {
            let ben = weighted(
                &mut self.rng,
                &[("pip", 35), ("dla", 20), ("ca", 20), ("hb", 25)],
            );
            let s = self.between(lo, self.pe);
            evs.push(Ev::new(Feed::Dwp, "benefit_spell", s).code(ben));
        }
    }

    /// Monthly UC earnings for assessment periods anchored on `uc_start`,
    /// for periods starting in `[from, to]`.
    fn uc_earnings(
        &mut self,
        evs: &mut Vec<Ev>,
        uc_start: NaiveDate,
        from: NaiveDate,
        to: NaiveDate,
        pay: Pay,
    ) {
        // Pence: below £270 when Low, at or above £340 when High.
        let (lo, hi, jitter) = match pay {
            Pay::Any => (30_000, 120_000, 15_000),
            Pay::Low => (5_000, 20_000, 5_000),
            Pay::High => (36_000, 120_000, 2_000),
        };
        let base = self.range(lo, hi);
        let mut k = 0;
        loop {
            let s = add_months(uc_start, k);
            let e = add_days(add_months(uc_start, k + 1), -1);
            k += 1;
            if s > to || e > self.pe {
                break;
            }
            if s < from {
                continue;
            }
            let pence = (base + self.range(-jitter, jitter)).max(1_000) as u32;
            let mut ev = Ev::new(Feed::Dwp, "uc_earnings", s).end(Some(e));
            ev.num = pence;
            evs.push(ev);
        }
    }

    fn worklessness_history(
        &mut self,
        evs: &mut Vec<Ev>,
        plan: &Plan,
        case_start: NaiveDate,
        first: bool,
    ) {
        let ben = if plan.outcome == "SUN-4.3" {
            "uc"
        } else {
            weighted(
                &mut self.rng,
                &[("uc", 40), ("esa", 30), ("jsa", 25), ("is", 5)],
            )
        };
        let hist_lo = add_months(case_start, -24);
        if self.chance(0.3) {
            // An earlier short spell of work that ended.
            let s = self.between(hist_lo, add_months(case_start, -12));
            let e = add_days(s, self.range(20, 120));
            evs.push(Ev::new(Feed::Dwp, "employment_spell", s).end(Some(e)));
        }
        // On the benefit when the case starts.
        let b_start = match plan.uc_start {
            Some(u) if first => u,
            _ => self.between(
                add_months(case_start, -10).max(hist_lo),
                add_days(case_start, -30),
            ),
        };
        if plan.improved && plan.outcome == "SUN-4.3" {
            // Remains on UC, in work, earning above the threshold in every
            // assessment period from a month or more before the claim.
            evs.push(Ev::new(Feed::Dwp, "benefit_spell", b_start).code(ben));
            let emp = self.between(case_start, add_days(add_months(plan.claim, -2), -10));
            evs.push(Ev::new(Feed::Dwp, "employment_spell", emp));
            self.uc_earnings(evs, b_start, emp, plan.claim, Pay::High);
        } else if plan.improved {
            // Into work after the case started, and in work for 26 weeks
            // (JSA) or 13 weeks (other benefits) by the claim.
            let need = if ben == "jsa" { 26 * 7 } else { 13 * 7 };
            let slack = self.range(0, 60);
            let emp = self.between(
                add_days(case_start, 7),
                add_days(plan.claim, -need - 7 - slack),
            );
            if ben == "uc" {
                let uc_end = add_days(add_months(emp, self.range(2, 6) as i32), -1);
                let end = if uc_end <= self.pe {
                    Some(uc_end)
                } else {
                    None
                };
                evs.push(
                    Ev::new(Feed::Dwp, "benefit_spell", b_start)
                        .code(ben)
                        .end(end),
                );
                self.uc_earnings(evs, b_start, emp, uc_end, Pay::Any);
            } else {
                evs.push(
                    Ev::new(Feed::Dwp, "benefit_spell", b_start)
                        .code(ben)
                        .end(Some(add_days(emp, -1))),
                );
            }
            let end = if self.chance(0.15) {
                let lo = add_days(emp, 7 * 27).max(plan.claim);
                if lo < self.pe {
                    Some(self.between(lo, self.pe))
                } else {
                    None
                }
            } else {
                None
            };
            evs.push(Ev::new(Feed::Dwp, "employment_spell", emp).end(end));
        } else {
            // Still on the benefit; at most a short spell of work (under 13
            // weeks) with low earnings.
            evs.push(Ev::new(Feed::Dwp, "benefit_spell", b_start).code(ben));
            if self.chance(0.3) {
                let s = self.between(case_start, add_days(self.pe, -90));
                let e = add_days(s, self.range(28, 84));
                evs.push(Ev::new(Feed::Dwp, "employment_spell", s).end(Some(e)));
                if ben == "uc" {
                    self.uc_earnings(evs, b_start, s, e, Pay::Low);
                }
            }
        }
    }

    // -- services --------------------------------------------------------------

    fn youth(&mut self, evs: &mut Vec<Ev>, d: NaiveDate) {
        let d = if self.chance(0.7) { self.weekday(d) } else { d };
        evs.push(Ev::new(Feed::Services, "youth_activity", d));
    }

    /// Sessions every few days over `[from, to]`: no calendar month missed.
    fn youth_weekly(&mut self, evs: &mut Vec<Ev>, from: NaiveDate, to: NaiveDate) {
        let mut d = from;
        while d <= to {
            evs.push(Ev::new(Feed::Services, "youth_activity", d));
            d = add_days(d, self.range(3, 7));
        }
    }

    /// First day of the first school term starting after `d`.
    fn term_after(d: NaiveDate) -> NaiveDate {
        let y = d.year();
        let ymd = |y, m| NaiveDate::from_ymd_opt(y, m, 1).expect("valid date");
        [ymd(y, 1), ymd(y, 4), ymd(y, 9), ymd(y + 1, 1)]
            .into_iter()
            .find(|t| *t > d)
            .expect("a later term")
    }

    /// Funded early education from the term after the second (some) or third
    /// birthday until the summer before the child starts school.
    fn early_education(&mut self, evs: &mut Vec<Ev>, dob: NaiveDate, two_p: f64) {
        if !self.chance(0.8) {
            return;
        }
        let from = if self.chance(two_p) {
            add_months(dob, 24)
        } else {
            add_months(dob, 36)
        };
        let start = Self::term_after(from);
        let y = if (dob.month(), dob.day()) <= (8, 31) {
            dob.year() + 4
        } else {
            dob.year() + 5
        };
        let mut end = NaiveDate::from_ymd_opt(y, 7, 31).expect("valid date");
        if self.chance(0.1) {
            end = end.min(add_days(start, self.range(60, 200)));
        }
        if end < self.ps || start > self.pe {
            return;
        }
        evs.push(Ev::new(Feed::Services, "early_education", start).end(Some(end)));
    }

    /// Education, employment or training status from the September after
    /// the 16th birthday until the 18th.
    fn neet(&mut self, evs: &mut Vec<Ev>, dob: NaiveDate, neet_p: f64) {
        let y = if (dob.month(), dob.day()) <= (8, 31) {
            dob.year() + 16
        } else {
            dob.year() + 17
        };
        let start = NaiveDate::from_ymd_opt(y, 9, 1).expect("valid date");
        let end18 = add_days(add_months(dob, 216), -1);
        if end18 < self.ps || start > self.pe || start > end18 {
            return;
        }
        let first = if self.chance(0.04) {
            "not_known"
        } else if self.chance(neet_p) {
            "neet"
        } else {
            "eet"
        };
        if self.chance(0.3) && (end18 - start).num_days() > 120 {
            let mid = self.between(add_days(start, 60), add_days(end18, -30));
            let second = match first {
                "eet" => "neet",
                _ => "eet",
            };
            evs.push(
                Ev::new(Feed::Services, "neet_status", start)
                    .code(first)
                    .end(Some(add_days(mid, -1))),
            );
            evs.push(
                Ev::new(Feed::Services, "neet_status", mid)
                    .code(second)
                    .end(Some(end18)),
            );
        } else {
            evs.push(
                Ev::new(Feed::Services, "neet_status", start)
                    .code(first)
                    .end(Some(end18)),
            );
        }
    }

    fn dash(&mut self, evs: &mut Vec<Ev>, d: NaiveDate, score: i64) {
        let score = score.clamp(0, 27) as u32;
        let mut e = Ev::new(Feed::Services, "dash_assessment", d);
        e.num = score;
        evs.push(e);
        // 14 or more ticks is high risk: a MARAC referral follows.
        if score >= 14 {
            let m = add_days(d, self.range(0, 7));
            evs.push(Ev::new(Feed::Services, "marac_referral", m));
        }
    }

    /// A home: a tenancy, and for some a homelessness presentation (after an
    /// eviction for a few) and a new tenancy.
    fn housing(&mut self, evs: &mut Vec<Ev>, moved: bool, risk: f64) {
        let t0 = add_days(self.ps, -self.range(30, 3000));
        if self.chance(risk) {
            let d = self.between(self.ps, add_days(self.pe, -30));
            let evicted = self.chance(0.3);
            if evicted {
                let ev = add_days(d, -self.range(0, 30));
                evs.push(Ev::new(Feed::Services, "eviction", ev.max(self.ps)));
                evs.push(Ev::new(Feed::Services, "tenancy", t0).end(Some(ev.max(self.ps))));
            } else {
                evs.push(Ev::new(Feed::Services, "tenancy", t0).end(Some(add_days(d, 30))));
            }
            let status = weighted(
                &mut self.rng,
                &[
                    ("presented", 15),
                    ("prevented", 35),
                    ("relieved", 30),
                    ("accepted", 20),
                ],
            );
            evs.push(Ev::new(Feed::Services, "homelessness", d).code(status));
            let t1 = add_days(d, self.range(31, 120));
            evs.push(Ev::new(Feed::Services, "tenancy", t1));
        } else if moved {
            let m = add_days(self.moved_from, -1);
            evs.push(Ev::new(Feed::Services, "tenancy", t0).end(Some(m)));
            evs.push(Ev::new(Feed::Services, "tenancy", self.moved_from));
        } else {
            evs.push(Ev::new(Feed::Services, "tenancy", t0));
        }
    }

    fn substance(&mut self, evs: &mut Vec<Ev>, lo: NaiveDate, hi: NaiveDate, improved: bool) {
        let s = self.between(lo, hi);
        if improved {
            let e = add_days(s, self.range(90, 300));
            evs.push(
                Ev::new(Feed::Services, "substance_treatment", s)
                    .code("completed")
                    .end(Some(e)),
            );
        } else {
            let e = add_days(s, self.range(20, 120));
            evs.push(
                Ev::new(Feed::Services, "substance_treatment", s)
                    .code("dropped_out")
                    .end(Some(e)),
            );
            if self.chance(0.5) {
                let s2 = add_days(e, self.range(60, 240));
                evs.push(Ev::new(Feed::Services, "substance_treatment", s2).code("open"));
            }
        }
    }

    fn family_services(
        &mut self,
        plans: &[Plan],
        members: &[(usize, &'static str, u8)],
        evs: &mut [Vec<Ev>],
        case_start: NaiveDate,
    ) {
        let plan_for = |prob: usize| plans.iter().find(|p| p.problem == prob).copied();
        let crime = plan_for(CRIME);
        let youth_claim = crime.filter(|p| p.outcome == "SUN-1.3");
        let dobs: Vec<NaiveDate> = members.iter().map(|m| self.persons[m.0].dob).collect();
        let struggling = plans
            .iter()
            .any(|p| !p.improved && (p.problem == EDUCATION || p.problem == WORKLESSNESS));

        // Youth activity (children 8-17).
        let mut regular = false;
        for (mi, m) in members.iter().enumerate() {
            if m.1 != "child" {
                continue;
            }
            let dob = dobs[mi];
            let from8 = add_months(dob, 96).max(self.ps);
            let to18 = add_days(add_months(dob, 216), -1).min(self.pe);
            if from8 > to18 {
                continue;
            }
            match (youth_claim, crime) {
                (Some(p), _)
                    if p.improved
                        && !regular
                        && age_my(dob, p.claim) <= 17
                        && age_on(dob, add_days(add_months(p.claim, -6), -60)) >= 8 =>
                {
                    // Improved SUN-1.3: every month of the six before the claim.
                    regular = true;
                    let from = add_days(add_months(p.claim, -6), -self.range(7, 60));
                    let to = add_months(p.claim, self.range(0, 3) as i32).min(to18);
                    self.youth_weekly(&mut evs[mi], from, to.max(p.claim));
                }
                (None, Some(p)) if p.improved && m.2 & (1 << CRIME) != 0 => {
                    // Diverted: monthly sessions once things settled.
                    let mut d = p.quiet_from.max(from8);
                    let stop = add_months(p.claim, 3).min(to18);
                    while d <= stop {
                        let x = add_days(d, self.range(0, 27));
                        self.youth(&mut evs[mi], x.min(stop));
                        d = add_months(d, 1);
                    }
                }
                (Some(p), _) if !p.improved => {
                    for _ in 0..self.range(0, 6) {
                        let d = self.between(add_months(p.claim, -8).max(from8), p.claim);
                        self.youth(&mut evs[mi], d.min(to18));
                    }
                }
                _ => {
                    if self.chance(0.1) {
                        for _ in 0..self.range(1, 6) {
                            let d = self.between(from8, to18);
                            self.youth(&mut evs[mi], d);
                        }
                    }
                }
            }
        }
        if let Some(p) = youth_claim.filter(|p| !p.improved) {
            // Not improved: a month of the six with no session for any child.
            let j = self.range(0, 5) as u32;
            let to = p.claim.checked_sub_months(Months::new(j)).expect("date");
            let from = add_days(to.checked_sub_months(Months::new(1)).expect("date"), 1);
            for e in evs.iter_mut() {
                e.retain(|x| x.rt != "youth_activity" || x.date < from || x.date > to);
            }
        }

        // Children's centres and early education (under-fives).
        let youngest = (0..members.len())
            .filter(|&i| members[i].1 == "child")
            .map(|i| dobs[i])
            .max();
        if let Some(y) = youngest {
            let lo = y.max(self.ps);
            let hi = add_days(add_months(y, 60), -1).min(self.pe);
            if lo <= hi && self.chance(0.5) {
                for _ in 0..self.range(1, 5) {
                    let d = self.between(lo, hi);
                    let d = self.weekday(d);
                    evs[0].push(Ev::new(Feed::Services, "children_centre_contact", d));
                }
            }
        }
        for (mi, m) in members.iter().enumerate() {
            if m.1 == "child" {
                self.early_education(&mut evs[mi], dobs[mi], 0.45);
            }
            let neet_p = if struggling { 0.35 } else { 0.12 };
            if age_on(dobs[mi], self.pe) >= 16 && age_on(dobs[mi], self.ps) < 18 {
                self.neet(&mut evs[mi], dobs[mi], neet_p);
            }
        }

        // Domestic abuse: DASH risk assessments of the victim.
        if let Some(plan) = plan_for(DOMESTIC) {
            if let Some(v) = (0..members.len()).find(|&i| members[i].2 & (1 << DOMESTIC) != 0) {
                let cs = case_start;
                let s0 = self.range(12, 24);
                let d0 = self.between(add_months(cs, -6), cs);
                self.dash(&mut evs[v], d0, s0);
                let until = plan.claim;
                let mut d = add_days(d0, self.range(60, 120));
                let n = ((until - d0).num_days() / 90).max(1);
                let mut k = 1;
                while d <= until {
                    let score = if plan.improved {
                        // Falls steadily to below 10 by the claim.
                        let target = self.range(2, 9);
                        s0 - (s0 - target) * k.min(n) / n
                    } else {
                        s0 + self.range(-2, 3)
                    };
                    self.dash(&mut evs[v], d, score);
                    d = add_days(d, self.range(60, 120));
                    k += 1;
                }
            }
        }

        // Substance misuse treatment (health problem; some offenders).
        for (mi, m) in members.iter().enumerate() {
            let adult = m.1 != "child";
            let health = plan_for(HEALTH).filter(|_| m.2 & (1 << HEALTH) != 0);
            let p = match (health, adult) {
                (Some(_), true) => 0.4,
                (Some(_), false) if age_on(dobs[mi], self.pe) >= 14 => 0.15,
                _ if m.2 & (1 << CRIME) != 0 => 0.1,
                _ if adult => 0.015,
                _ => 0.0,
            };
            if p > 0.0 && self.chance(p) {
                let improved = health.or(crime).is_none_or(|p| p.improved);
                let lo = add_months(dobs[mi], 12 * 13).max(add_days(self.ps, -200));
                let hi = add_days(self.pe, -150);
                if lo <= hi {
                    self.substance(&mut evs[mi], lo, hi, improved);
                }
            }
        }

        // Housing: the main carer holds the tenancy.
        let hh = self.persons[members[0].0].hh;
        let moved = self.households[hh].moved.is_some();
        let risk = if plan_for(HEALTH).is_some() {
            0.2
        } else {
            0.06
        };
        self.housing(&mut evs[0], moved, risk);
    }

    fn background_events(&mut self, pi: usize) -> Vec<Ev> {
        let mut evs = Vec::new();
        let dob = self.persons[pi].dob;
        let mid = add_days(self.ps, (self.pe - self.ps).num_days() / 2);
        let age = age_on(dob, mid);
        if self.persons[pi].upn.is_some() && self.chance(0.7) {
            // Some pupils attend schools outside the area for part of the period.
            let mut e = Vec::new();
            self.education_history(&mut e, None, mid, dob, None);
            if self.chance(0.15) {
                let cut = self.between(self.ps, self.pe);
                let before = self.chance(0.5);
                e.retain(|x| (x.date < cut) == before);
            }
            evs.extend(e);
        }
        if age < 18 {
            if self.chance(0.04) {
                let r = self.between(dob, self.pe);
                evs.push(Ev::new(Feed::SocialCare, "referral", r));
                if self.chance(0.5) {
                    let k = self.episode_kind();
                    let s = add_days(r, self.range(0, 21));
                    let end = if self.chance(0.6) {
                        Some(add_days(s, self.range(30, 300)))
                    } else {
                        None
                    };
                    let reason = if end.is_some() {
                        pick(&mut self.rng, &["closed", "stepped_down", "transferred"])
                    } else {
                        ""
                    };
                    evs.push(Ev::new(Feed::SocialCare, k, s).end(end).code(reason));
                }
            }
            if age >= 11 && self.chance(0.01) {
                let d = self.between(add_months(dob, 120), self.pe);
                evs.push(Ev::new(Feed::Police, "missing_episode", d));
            }
        } else if self.chance(0.5) {
            let emp = if age > 64 { 0.1 } else { 0.6 };
            self.ordinary_dwp(&mut evs, dob, emp, false);
        }
        if age >= 12 && self.chance(0.07) {
            let n = self.range(1, 3);
            for _ in 0..n {
                let d = self.between(add_months(dob, 120), self.pe);
                let e = self.crime_event(d, age_on(dob, d));
                evs.push(e);
            }
        }
        if age >= 18 && self.chance(0.02) {
            let d = self.between(self.ps, self.pe);
            let role = pick(&mut self.rng, &["victim", "perpetrator", "other"]);
            evs.push(Ev::new(Feed::Police, "domestic_incident", d).code(role));
            if role == "victim" && self.chance(0.4) {
                let a = add_days(d, self.range(1, 20));
                let score = self.range(3, 18);
                self.dash(&mut evs, a, score);
            }
        }
        // Services.
        let from8 = add_months(dob, 96).max(self.ps);
        let to18 = add_days(add_months(dob, 216), -1).min(self.pe);
        if from8 <= to18 && self.chance(0.04) {
            for _ in 0..self.range(1, 6) {
                let d = self.between(from8, to18);
                self.youth(&mut evs, d);
            }
        }
        if age < 6 && self.chance(0.6) {
            self.early_education(&mut evs, dob, 0.2);
        }
        if age_on(dob, self.pe) >= 16 && age_on(dob, self.ps) < 18 && self.chance(0.5) {
            self.neet(&mut evs, dob, 0.1);
        }
        if (20..=45).contains(&age) && self.chance(0.03) {
            for _ in 0..self.range(1, 4) {
                let d = self.between(self.ps, self.pe);
                evs.push(Ev::new(Feed::Services, "children_centre_contact", d));
            }
        }
        if age >= 18 && self.chance(0.015) {
            let improved = self.chance(0.5);
            self.substance(
                &mut evs,
                add_days(self.ps, -200),
                add_days(self.pe, -150),
                improved,
            );
        }
        if age >= 18 && self.chance(0.1) {
            let moved = self.households[self.persons[pi].hh].moved.is_some();
            self.housing(&mut evs, moved, 0.03);
        }
        evs
    }

    // -- writing ---------------------------------------------------------------

    fn name_case(&mut self, s: &str, upper_p: f64) -> String {
        let r: f64 = self.rng.random();
        if r < upper_p {
            s.to_uppercase()
        } else if r < upper_p + 0.03 {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    }

    fn variant(&mut self, p: &Person, feed: Feed) -> IdVar {
        let mut kinds = 0;
        let mut forename = p.forename.to_string();
        let r: f64 = self.rng.random();
        if r < 0.03 {
            forename = forename
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default();
            kinds |= NoiseKind::Initial.bit();
        } else if r < 0.05 {
            if let Some((_, nicks)) = NICKNAMES.iter().find(|(n, _)| *n == p.forename) {
                forename = pick(&mut self.rng, nicks).to_string();
                kinds |= NoiseKind::Nickname.bit();
            }
        }
        let mut surname = p.surname.to_string();
        if self.chance(0.02) {
            let chars: Vec<char> = surname.chars().collect();
            let letters: Vec<usize> = (0..chars.len())
                .filter(|&i| chars[i].is_alphabetic())
                .collect();
            if !letters.is_empty() {
                let i = pick(&mut self.rng, &letters);
                let mut c = chars[i];
                while c.eq_ignore_ascii_case(&chars[i]) {
                    c = (b'a' + self.rng.random_range(0..26u8)) as char;
                }
                if chars[i].is_uppercase() {
                    c = c.to_ascii_uppercase();
                }
                let mut out = chars.clone();
                out[i] = c;
                surname = out.into_iter().collect();
                kinds |= NoiseKind::SurnameTypo.bit();
            }
        }
        let mut dob = p.dob;
        let r: f64 = self.rng.random();
        if r < 0.01 {
            if dob.day() <= 12 && dob.month() <= 12 && dob.day() != dob.month() {
                if let Some(d) = NaiveDate::from_ymd_opt(dob.year(), dob.day(), dob.month()) {
                    dob = d;
                    kinds |= NoiseKind::DobSwap.bit();
                }
            }
        } else if r < 0.02 {
            dob = add_days(dob, if self.chance(0.5) { 1 } else { -1 });
            kinds |= NoiseKind::DobShift.bit();
        }
        let with_nhs = match feed {
            Feed::Police => self.chance(0.05),
            Feed::SocialCare => self.chance(0.8),
            Feed::Services => self.chance(0.5),
            _ => false,
        };
        IdVar {
            forename,
            surname,
            dob,
            with_nhs,
            kinds,
        }
    }

    fn title(&mut self, p: &Person, at: NaiveDate) -> &'static str {
        let age = age_on(p.dob, at);
        if self.chance(0.01) && age >= 25 {
            return "Dr";
        }
        match (p.sex, age >= 16) {
            (Sex::M, true) => "Mr",
            (Sex::M, false) => "Master",
            (Sex::F, true) => pick(&mut self.rng, &["Mrs", "Ms", "Miss"]),
            (Sex::F, false) => "Miss",
        }
    }

    fn fmt_nhs(&mut self, n: &str) -> String {
        let r: f64 = self.rng.random();
        if r < 0.25 {
            format!("{} {} {}", &n[..3], &n[3..6], &n[6..])
        } else if r < 0.3 {
            format!("{}-{}-{}", &n[..3], &n[3..6], &n[6..])
        } else {
            n.to_string()
        }
    }

    fn fmt_postcode(&mut self, pc: &str) -> String {
        let r: f64 = self.rng.random();
        if r < 0.05 {
            pc.to_lowercase()
        } else if r < 0.1 {
            pc.replace(' ', "")
        } else {
            pc.to_string()
        }
    }

    fn write_person(
        &mut self,
        pi: usize,
        family: &str,
        evs: &mut [Ev],
        outs: &mut [Out],
    ) -> Result<(), SynthError> {
        evs.sort_by_key(|e| (e.feed as u8, e.date));
        let p = &self.persons[pi];
        // Detach the person so the RNG can be borrowed mutably below.
        let person = Person {
            family: p.family,
            sex: p.sex,
            forename: p.forename,
            surname: p.surname,
            dob: p.dob,
            nhs: p.nhs.clone(),
            ni: p.ni.clone(),
            upn: p.upn.clone(),
            hh: p.hh,
        };
        let hh = &self.households[person.hh];
        let (home_pc, home_addr) = (hh.postcode.clone(), hh.address.clone());
        let moved = hh.moved.clone();
        let mut vars: [Option<IdVar>; 5] = [None, None, None, None, None];
        for ev in evs.iter() {
            let fi = ev.feed as usize;
            // A services spell may start before the period if it overlaps it.
            let overlaps = ev.feed == Feed::Services
                && SERVICE_SPELLS.contains(&ev.rt)
                && ev.end.is_none_or(|e| e >= self.ps);
            if (ev.date < self.ps && !overlaps) || ev.date > self.pe || ev.date < person.dob {
                continue;
            }
            // Identifier each feed needs.
            match ev.feed {
                Feed::Education if person.upn.is_none() => continue,
                Feed::Dwp if person.ni.is_none() => continue,
                _ => {}
            }
            if vars[fi].is_none() {
                vars[fi] = Some(self.variant(&person, ev.feed));
            }
            let v = vars[fi].as_ref().expect("set above");
            let (upper_f, upper_s, dmy_p) = match ev.feed {
                Feed::Police => (0.1, 0.4, 0.5),
                Feed::Education => (0.02, 0.05, 0.05),
                Feed::Dwp => (0.3, 0.3, 0.1),
                Feed::SocialCare => (0.05, 0.1, 0.25),
                Feed::Services => (0.05, 0.15, 0.2),
            };
            let mut kinds = v.kinds;
            let (v_forename, v_surname, v_dob, with_nhs) =
                (v.forename.clone(), v.surname.clone(), v.dob, v.with_nhs);
            let mut forename = self.name_case(&v_forename, upper_f);
            if self.chance(0.04) {
                let t = self.title(&person, ev.date);
                forename = format!("{t} {forename}");
            }
            let (base_surname, k) = self.surname_on(pi, &v_surname, ev.date);
            kinds |= k;
            let surname = self.name_case(&base_surname, upper_s);
            // A recording error never puts the birth after the event.
            let vdob = if v_dob > ev.date {
                kinds &= !(NoiseKind::DobSwap.bit() | NoiseKind::DobShift.bit());
                person.dob
            } else {
                v_dob
            };
            let dmy_used = self.chance(dmy_p);
            let dob = if dmy_used { dmy(vdob) } else { iso(vdob) };
            let (pc, addr) = match &moved {
                Some((pc, a)) if ev.date >= self.moved_from => {
                    kinds |= NoiseKind::Moved.bit();
                    (pc.clone(), a.clone())
                }
                _ => (home_pc.clone(), home_addr.clone()),
            };
            let (pc, addr, k) = self.address_on(pi, pc, addr, ev.date);
            kinds |= k;
            let pc = self.fmt_postcode(&pc);
            let (nhs_number, k) = self.nhs_shown(pi);
            kinds |= k;
            let nhs = match (&nhs_number, with_nhs) {
                (Some(n), true) => self.fmt_nhs(n),
                _ => {
                    kinds &= !NoiseKind::SharedId.bit();
                    String::new()
                }
            };
            let mut ids = noise::RowIds {
                forename,
                surname,
                dob,
                dob_date: vdob,
                dmy: dmy_used,
                postcode: pc,
                nhs,
                ni: match ev.feed {
                    Feed::Dwp => person.ni.clone().unwrap_or_default(),
                    _ => String::new(),
                },
                upn: match ev.feed {
                    Feed::Education => person.upn.clone().unwrap_or_default(),
                    _ => String::new(),
                },
            };
            match self.noise {
                NoiseLevel::None => {
                    // Exactly the case file's person; the draws above still
                    // happen so events and claims stay those of `light`.
                    kinds = 0;
                    ids.forename = person.forename.to_string();
                    ids.surname = person.surname.to_string();
                    ids.dob = iso(person.dob);
                    ids.postcode = home_pc.clone();
                    if !ids.nhs.is_empty() {
                        ids.nhs = person.nhs.clone().unwrap_or_default();
                    }
                }
                NoiseLevel::Light => kinds = 0,
                NoiseLevel::Realistic => kinds |= self.row_noise(&mut ids, pi),
            }
            let addr = if self.noise == NoiseLevel::None {
                home_addr.clone()
            } else {
                addr
            };
            let noise::RowIds {
                forename,
                surname,
                dob,
                postcode: pc,
                nhs,
                ni,
                upn,
                ..
            } = ids;
            let end = ev
                .end
                .filter(|e| *e >= ev.date && *e <= self.pe)
                .map(iso)
                .unwrap_or_default();
            let code = if ev.rt != "attendance"
                && ev.end.is_some()
                && end.is_empty()
                && ev.feed == Feed::SocialCare
            {
                // An episode still open at the period end has no closure reason yet.
                ""
            } else if ev.rt == "substance_treatment" && end.is_empty() {
                // Treatment not yet ended at the period end is open.
                "open"
            } else {
                ev.code
            };
            let date = iso(ev.date);
            let o = &mut outs[fi];
            match ev.feed {
                Feed::Police => {
                    let f = |rt: &str| if ev.rt == rt { code } else { "" };
                    for s in [
                        ev.rt,
                        &forename,
                        &surname,
                        &dob,
                        &pc,
                        &addr,
                        &nhs,
                        &date,
                        f("arrest"),
                        f("domestic_incident"),
                        f("offence"),
                        f("asb_intervention"),
                        &end,
                    ] {
                        o.field(s)?;
                    }
                }
                Feed::Education => {
                    let upn = upn.as_str();
                    let (term, nums) = match &ev.term {
                        Some(t) => (t.name(), ev.sess.map(|n| n.to_string())),
                        None => (String::new(), Default::default()),
                    };
                    let days = if ev.rt == "suspension" {
                        ev.num.to_string()
                    } else {
                        String::new()
                    };
                    let d = if ev.rt == "attendance" {
                        ""
                    } else {
                        date.as_str()
                    };
                    for s in [
                        ev.rt, upn, &forename, &surname, &dob, &pc, d, &end, &term, &nums[0],
                        &nums[1], &nums[2], &nums[3], &days, code,
                    ] {
                        o.field(s)?;
                    }
                }
                Feed::Dwp => {
                    let ni = ni.as_str();
                    let amount = if ev.rt == "uc_earnings" {
                        format!("{}.{:02}", ev.num / 100, ev.num % 100)
                    } else {
                        String::new()
                    };
                    for s in [
                        ev.rt, ni, &forename, &surname, &dob, &pc, &date, &end, code, &amount,
                    ] {
                        o.field(s)?;
                    }
                }
                Feed::SocialCare => {
                    for s in [
                        ev.rt, &nhs, &forename, &surname, &dob, &pc, &date, &end, code,
                    ] {
                        o.field(s)?;
                    }
                }
                Feed::Services => {
                    let score = if ev.rt == "dash_assessment" {
                        ev.num.to_string()
                    } else {
                        String::new()
                    };
                    for s in [
                        ev.rt, &nhs, &forename, &surname, &dob, &pc, &addr, &date, &end, &score,
                        code,
                    ] {
                        o.field(s)?;
                    }
                }
            }
            o.end_row(pi + 1, family)?;
            o.mark(kinds);
        }
        Ok(())
    }

    fn write_case(&mut self, out: &mut Out) -> Result<(), SynthError> {
        for fi in 0..self.families.len() {
            let f = &self.families[fi];
            let case_ref = f.case_ref.clone();
            let start = iso(f.case_start);
            let end = f.case_end.map(iso).unwrap_or_default();
            let members: Vec<(usize, &'static str, u8)> = f
                .members
                .iter()
                .map(|m| (m.person, m.role, m.problems))
                .collect();
            for (pi, role, probs) in members {
                let problems: Vec<&str> = (0..6)
                    .filter(|i| probs & (1 << i) != 0)
                    .map(|i| PROBLEM_OUTCOMES[i].0)
                    .collect();
                let problems = problems.join(";");
                let nhs = match self.persons[pi].nhs.clone() {
                    Some(n) if self.chance(0.9) => self.fmt_nhs(&n),
                    _ => String::new(),
                };
                let ni = self.persons[pi]
                    .ni
                    .clone()
                    .filter(|_| self.chance(0.9))
                    .unwrap_or_default();
                let upn = self.persons[pi]
                    .upn
                    .clone()
                    .filter(|_| self.chance(0.9))
                    .unwrap_or_default();
                let nhs = match (self.noise, &self.persons[pi].nhs) {
                    (NoiseLevel::None, Some(n)) if !nhs.is_empty() => n.clone(),
                    _ => nhs,
                };
                let (surname, postcode, address) = self.case_identity(pi);
                let p = &self.persons[pi];
                for s in [
                    case_ref.as_str(),
                    role,
                    &start,
                    &end,
                    &problems,
                    p.forename,
                    &surname,
                    &iso(p.dob),
                    &postcode,
                    &address,
                    &nhs,
                    &ni,
                    &upn,
                ] {
                    out.field(s)?;
                }
                out.end_row(pi + 1, &case_ref)?;
            }
        }
        Ok(())
    }
}

/// A keyworker's team: five keyworkers to a team, in keyworker order
/// (derived, so adding the column drew nothing from the generator's RNG
/// and every seed's data stayed as it was).
pub fn team_of(keyworker: &str) -> String {
    let n: usize = keyworker
        .trim_start_matches("KW")
        .parse()
        .unwrap_or(1)
        .max(1);
    format!("TEAM-{:02}", (n - 1) / 5 + 1)
}

/// Writes the synthetic feeds and ground truth into `dir` (which must exist).
pub fn generate(dir: &Path, opts: &SynthOptions) -> Result<SynthSummary, SynthError> {
    let mut g = Gen::new(opts);
    let keyworkers = (opts.families / 25).max(3);
    for fi in 0..opts.families {
        g.make_family(fi, keyworkers);
    }
    let family_people = g.persons.len();
    g.make_background(family_people * opts.background_per_member, family_people);
    if opts.noise == NoiseLevel::Realistic {
        g.realistic_people();
    }

    let period = format!("{}..{}", iso(g.ps), iso(g.pe));
    let mut case = Out::create(dir, "case", None, CASE_COLS)?;
    g.write_case(&mut case)?;

    let mut outs = Vec::new();
    for (_, name, cols) in EVENT_FEEDS {
        outs.push(Out::create(dir, name, Some(&period), cols)?);
    }
    for fi in 0..g.families.len() {
        let evs = g.family_events(fi);
        let case_ref = g.families[fi].case_ref.clone();
        let people: Vec<usize> = g.families[fi].members.iter().map(|m| m.person).collect();
        for (mut e, pi) in evs.into_iter().zip(people) {
            g.write_person(pi, &case_ref, &mut e, &mut outs)?;
        }
    }
    for pi in family_people..g.persons.len() {
        let mut e = g.background_events(pi);
        g.write_person(pi, "", &mut e, &mut outs)?;
    }

    // Claims, in claim-date order.
    let mut claims: Vec<(NaiveDate, String, &'static str, String, bool, &'static str)> = Vec::new();
    for f in &g.families {
        for p in f.plans.iter().filter(|p| !p.outcome.is_empty()) {
            claims.push((
                p.claim,
                f.case_ref.clone(),
                p.outcome,
                f.keyworker.clone(),
                p.improved,
                p.expected(),
            ));
        }
    }
    claims.sort();
    let mut co = Out::create(
        dir,
        "claims",
        None,
        &[
            "case_ref",
            "outcome_id",
            "claim_date",
            "keyworker_ref",
            "team",
        ],
    )?;
    let tc_path = dir.join("truth_claims.csv");
    let mut tc = csv::Writer::from_writer(BufWriter::new(
        File::create(&tc_path).map_err(|e| io_err(&tc_path, e))?,
    ));
    tc.write_record([
        "case_ref",
        "outcome_id",
        "claim_date",
        "trajectory",
        "expected",
    ])
    .map_err(|e| io_err(&tc_path, e.into()))?;
    for (date, case_ref, outcome, kw, improved, expected) in &claims {
        let d = iso(*date);
        let team = team_of(kw);
        for s in [case_ref.as_str(), outcome, &d, kw, &team] {
            co.field(s)?;
        }
        co.w.write_record(None::<&[u8]>)
            .map_err(|e| io_err(&co.path, e.into()))?;
        co.rows += 1;
        let traj = if *improved {
            "improved"
        } else {
            "not_improved"
        };
        tc.write_record([case_ref.as_str(), outcome, &d, traj, expected])
            .map_err(|e| io_err(&tc_path, e.into()))?;
    }
    tc.flush().map_err(|e| io_err(&tc_path, e))?;

    // Truth: every feed's rows, grouped by feed.
    let truth_path = dir.join("truth.csv");
    let mut truth = BufWriter::with_capacity(
        1 << 16,
        File::create(&truth_path).map_err(|e| io_err(&truth_path, e))?,
    );
    truth
        .write_all(b"feed,row,person,family\n")
        .map_err(|e| io_err(&truth_path, e))?;
    let mut files = Vec::new();
    let mut truth_rows = 0;
    let mut noise_lines = Vec::new();
    for o in std::iter::once(case).chain(outs) {
        let (f, t, n) = o.finish()?;
        truth.write_all(&t).map_err(|e| io_err(&truth_path, e))?;
        noise_lines.extend(n);
        truth_rows += f.rows;
        files.push(f);
    }
    truth.flush().map_err(|e| io_err(&truth_path, e))?;
    let noise_file = if opts.noise == NoiseLevel::Realistic {
        let path = dir.join("truth_noise.csv");
        let mut text = b"feed,row,noise\n".to_vec();
        let rows = noise_lines.iter().filter(|&&b| b == b'\n').count();
        text.extend(noise_lines);
        std::fs::write(&path, text).map_err(|e| io_err(&path, e))?;
        Some(SynthFile {
            feed: "truth_noise".into(),
            path,
            rows,
        })
    } else {
        None
    };
    let (claims_file, _, _) = co.finish()?;
    files.insert(1, claims_file);
    files.push(SynthFile {
        feed: "truth".into(),
        path: truth_path,
        rows: truth_rows,
    });
    files.push(SynthFile {
        feed: "truth_claims".into(),
        path: tc_path,
        rows: claims.len(),
    });
    files.extend(noise_file);
    Ok(SynthSummary {
        files,
        persons: g.persons.len(),
        families: g.families.len(),
        claims: claims.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("outcomesd-synth-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn opts(families: usize, seed: u64) -> SynthOptions {
        SynthOptions {
            families,
            seed,
            ..Default::default()
        }
    }

    /// (period line if any, header, records) of a written file.
    fn read(path: &Path) -> (Option<String>, Vec<String>, Vec<csv::StringRecord>) {
        let text = std::fs::read_to_string(path).unwrap();
        let (period, body) = match text.strip_prefix("#period ") {
            Some(rest) => {
                let (line, body) = rest.split_once('\n').unwrap();
                (Some(line.to_string()), body.to_string())
            }
            None => (None, text),
        };
        let mut r = csv::Reader::from_reader(body.as_bytes());
        let header = r.headers().unwrap().iter().map(String::from).collect();
        let recs = r.records().map(|x| x.unwrap()).collect();
        (period, header, recs)
    }

    fn parse_date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
            .unwrap_or_else(|_| panic!("bad date {s}"))
    }

    fn nhs_valid(n: &str) -> bool {
        let d: Vec<u32> = n
            .chars()
            .filter(|c| c.is_ascii_digit())
            .map(|c| c.to_digit(10).unwrap())
            .collect();
        if d.len() != 10
            || n.chars()
                .any(|c| !(c.is_ascii_digit() || c == ' ' || c == '-'))
        {
            return false;
        }
        let sum: u32 = (0..9).map(|i| d[i] * (10 - i as u32)).sum();
        let c = (11 - sum % 11) % 11;
        c != 10 && c == d[9]
    }

    fn upn_valid(u: &str) -> bool {
        let b = u.as_bytes();
        if b.len() != 13 || !b[1..].iter().all(u8::is_ascii_digit) {
            return false;
        }
        let sum: u32 = (1..13)
            .map(|k| u32::from(b[k] - b'0') * (k as u32 + 1))
            .sum();
        b"ABCDEFGHJKLMNPQRTUVWXYZ"[(sum % 23) as usize] == b[0]
    }

    fn ni_valid(n: &str) -> bool {
        let b = n.as_bytes();
        b.len() == 9
            && !b"DFIQUV".contains(&b[0])
            && !b"DFIOQUV".contains(&b[1])
            && b[..2].iter().all(u8::is_ascii_uppercase)
            && b[2..8].iter().all(u8::is_ascii_digit)
            && b"ABCD".contains(&b[8])
            && !NI_BANNED.contains(&&n[..2])
    }

    #[test]
    fn nhs_check_digit() {
        assert_eq!(
            nhs_number_with_check(943_476_591).as_deref(),
            Some("9434765919")
        );
        let none = (0..1000u32)
            .filter(|i| nhs_number_with_check(999_000_000 + i).is_none())
            .count();
        assert!(
            none > 50 && none < 150,
            "about 1 in 11 has no check digit: {none}"
        );
        for i in 0..2000u32 {
            if let Some(n) = nhs_number_with_check(400_000_000 + i * 7919) {
                assert!(nhs_valid(&n), "{n}");
            }
        }
        assert_eq!(nhs_number_with_check(1_000_000_000), None);
    }

    #[test]
    fn upn_check_letter() {
        // 3*2+9*3+4*4+2*5+0*6+0*7+1*8+1*9+5*10+0*11+0*12+1*13 = 139 = 6*23 + 1 -> 'B'
        assert_eq!(upn_with_check("394200115001"), "B394200115001");
        for i in 0..500u64 {
            let u = upn_with_check(&format!("{:012}", i * 7_919_001));
            assert!(upn_valid(&u), "{u}");
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let (a, b, c) = (tmp("det-a"), tmp("det-b"), tmp("det-c"));
        let sa = generate(&a, &opts(40, 7)).unwrap();
        generate(&b, &opts(40, 7)).unwrap();
        generate(&c, &opts(40, 8)).unwrap();
        let mut differs = false;
        for f in &sa.files {
            let name = f.path.file_name().unwrap();
            let x = std::fs::read(a.join(name)).unwrap();
            assert_eq!(
                x,
                std::fs::read(b.join(name)).unwrap(),
                "{name:?} differs for same seed"
            );
            differs |= x != std::fs::read(c.join(name)).unwrap();
        }
        assert!(differs, "a different seed gave identical files");
        for d in [a, b, c] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn files_rows_truth_and_identifiers() {
        let dir = tmp("rows");
        let o = opts(60, 3);
        let s = generate(&dir, &o).unwrap();
        assert_eq!(s.families, 60);
        let names: Vec<&str> = s.files.iter().map(|f| f.feed.as_str()).collect();
        for n in [
            "case",
            "claims",
            "police",
            "education",
            "dwp",
            "social_care",
            "services",
            "truth",
            "truth_claims",
        ] {
            assert!(names.contains(&n), "missing {n}");
        }
        let ps = o.period_start;
        let pe = NaiveDate::from_ymd_opt(2017, 3, 31).unwrap();
        let expect_period = "2014-04-01..2017-03-31".to_string();

        let (_, _, truth) = read(&dir.join("truth.csv"));
        let mut truth_rows: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for r in &truth {
            truth_rows
                .entry(r[0].to_string())
                .or_default()
                .push(r[1].parse().unwrap());
            assert!(
                r[2].parse::<usize>().unwrap() >= 1 && r[2].parse::<usize>().unwrap() <= s.persons
            );
        }
        let mut data_rows = 0;
        for f in &s.files {
            let (period, header, recs) = read(&f.path);
            assert_eq!(recs.len(), f.rows, "{}", f.feed);
            let event = ["police", "education", "dwp", "social_care", "services"]
                .contains(&f.feed.as_str());
            assert_eq!(period.is_some(), event, "{}", f.feed);
            if f.feed == "truth" || f.feed == "truth_claims" {
                continue;
            }
            assert!(f.rows > 0, "{} empty", f.feed);
            if f.feed != "claims" {
                data_rows += f.rows;
                let rows = truth_rows.get(&f.feed).cloned().unwrap_or_default();
                let want: Vec<usize> = (2..f.rows + 2).collect();
                assert_eq!(rows, want, "truth rows for {}", f.feed);
            }
            if event {
                assert_eq!(period, Some(expect_period.clone()));
            }
            let col = |name: &str| header.iter().position(|h| h == name);
            for r in &recs {
                let get = |name: &str| col(name).map(|i| r[i].to_string()).unwrap_or_default();
                let nhs = get("nhs_number");
                if !nhs.is_empty() {
                    assert!(nhs_valid(&nhs), "{} nhs {nhs}", f.feed);
                }
                let upn = get("upn");
                if !upn.is_empty() {
                    assert!(upn_valid(&upn), "{} upn {upn}", f.feed);
                }
                let ni = get("ni_number");
                if !ni.is_empty() {
                    assert!(ni_valid(&ni), "{} ni {ni}", f.feed);
                }
                if f.feed == "education" {
                    assert!(!upn.is_empty());
                }
                if f.feed == "dwp" {
                    assert!(!ni.is_empty());
                }
                if !event {
                    continue;
                }
                let rt = get("record_type");
                let date = if rt == "attendance" {
                    let term = get("term");
                    let (y, k) = term.split_once('-').unwrap();
                    let m = match k {
                        "autumn" => 9,
                        "spring" => 1,
                        "summer" => 4,
                        _ => panic!("bad term {term}"),
                    };
                    let n: Vec<u32> = [
                        "possible_sessions",
                        "attended_sessions",
                        "authorised_absence",
                        "unauthorised_absence",
                    ]
                    .iter()
                    .map(|c| get(c).parse().unwrap())
                    .collect();
                    assert!(n[1] + n[2] + n[3] <= n[0]);
                    assert!((110..=145).contains(&n[0]));
                    NaiveDate::from_ymd_opt(y.parse().unwrap(), m, 1).unwrap()
                } else {
                    parse_date(&get("date"))
                };
                let end = get("end_date");
                let end = (!end.is_empty()).then(|| parse_date(&end));
                if let Some(e) = end {
                    assert!(e >= date && e <= pe, "{} {rt} end {e}", f.feed);
                }
                if f.feed == "services" && SERVICE_SPELLS.contains(&rt.as_str()) {
                    // A spell overlaps the period.
                    assert!(date <= pe && end.is_none_or(|e| e >= ps), "{rt} {date}");
                } else {
                    assert!(
                        date >= ps && date <= pe,
                        "{} {rt} date {date} outside period",
                        f.feed
                    );
                }
                if f.feed == "services" {
                    let status = get("status");
                    let score = get("score");
                    let ok = match rt.as_str() {
                        "youth_activity"
                        | "children_centre_contact"
                        | "marac_referral"
                        | "eviction" => status.is_empty() && end.is_none(),
                        "early_education" | "tenancy" => status.is_empty(),
                        "dash_assessment" => score.parse::<u32>().is_ok_and(|s| s <= 27),
                        "substance_treatment" => {
                            ["open", "completed", "dropped_out"].contains(&status.as_str())
                                && (status == "open") == end.is_none()
                        }
                        "neet_status" => ["neet", "eet", "not_known"].contains(&status.as_str()),
                        "homelessness" => ["presented", "prevented", "relieved", "accepted"]
                            .contains(&status.as_str()),
                        _ => false,
                    };
                    assert!(ok, "services {rt} status {status} score {score}");
                    if rt != "dash_assessment" {
                        assert!(score.is_empty());
                    }
                }
                if rt == "suspension" {
                    assert!((1..=45).contains(&get("days").parse::<u32>().unwrap()));
                }
                parse_date(&get("dob"));
            }
        }
        assert_eq!(truth.len(), data_rows, "one truth line per data row");

        // Claims: one per problem, after case start + 6 months, inside the period.
        let (_, _, case) = read(&dir.join("case.csv"));
        let starts: BTreeMap<String, NaiveDate> = case
            .iter()
            .map(|r| (r[0].to_string(), parse_date(&r[2])))
            .collect();
        let (_, _, claims) = read(&dir.join("claims.csv"));
        let (_, _, tclaims) = read(&dir.join("truth_claims.csv"));
        assert_eq!(claims.len(), s.claims);
        assert_eq!(tclaims.len(), s.claims);
        for (c, t) in claims.iter().zip(&tclaims) {
            assert_eq!((&c[0], &c[1], &c[2]), (&t[0], &t[1], &t[2]));
            assert!(t[3] == *"improved" || t[3] == *"not_improved");
            let want = if c[1].starts_with("SUN-6.") {
                "attested"
            } else if &t[3] == "improved" {
                "verified"
            } else {
                "contradicted"
            };
            assert_eq!(&t[4], want);
            let d = parse_date(&c[2]);
            assert!(d > add_months(starts[&c[0]], 6) && d <= pe);
            assert!(PROBLEM_OUTCOMES.iter().any(|(_, ids)| ids.contains(&&c[1])));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// One event row as the rules read it.
    struct TEv {
        rt: String,
        date: NaiveDate,
        end: Option<NaiveDate>,
        code: String,
        nums: Vec<u32>,
    }

    struct TMember {
        person: usize,
        dob: NaiveDate,
        problems: String,
    }

    struct TCase {
        start: NaiveDate,
        end: Option<NaiveDate>,
        members: Vec<TMember>,
    }

    /// Cases and every person's events, attributed by truth.csv.
    fn load(dir: &Path) -> (BTreeMap<String, TCase>, BTreeMap<usize, Vec<TEv>>) {
        let (_, _, truth) = read(&dir.join("truth.csv"));
        let who: BTreeMap<(String, usize), usize> = truth
            .iter()
            .map(|r| {
                (
                    (r[0].to_string(), r[1].parse().unwrap()),
                    r[2].parse().unwrap(),
                )
            })
            .collect();
        let (_, h, case) = read(&dir.join("case.csv"));
        let col = |h: &[String], n: &str| h.iter().position(|x| x == n);
        let mut cases: BTreeMap<String, TCase> = BTreeMap::new();
        for (i, r) in case.iter().enumerate() {
            let c = cases.entry(r[0].to_string()).or_insert_with(|| TCase {
                start: parse_date(&r[2]),
                end: (!r[3].is_empty()).then(|| parse_date(&r[3])),
                members: Vec::new(),
            });
            c.members.push(TMember {
                person: who[&("case".to_string(), i + 2)],
                dob: parse_date(&r[col(&h, "dob").unwrap()]),
                problems: r[4].to_string(),
            });
        }
        let mut evs: BTreeMap<usize, Vec<TEv>> = BTreeMap::new();
        for feed in ["police", "education", "dwp", "social_care", "services"] {
            let (_, h, recs) = read(&dir.join(format!("{feed}.csv")));
            let get = |r: &csv::StringRecord, n: &str| {
                col(&h, n).map(|i| r[i].to_string()).unwrap_or_default()
            };
            for (i, r) in recs.iter().enumerate() {
                let rt = get(r, "record_type");
                let date = if rt == "attendance" {
                    let term = get(r, "term");
                    let (y, k) = term.split_once('-').unwrap();
                    let m = [("autumn", 9), ("spring", 1), ("summer", 4)]
                        .iter()
                        .find(|x| x.0 == k)
                        .unwrap()
                        .1;
                    NaiveDate::from_ymd_opt(y.parse().unwrap(), m, 1).unwrap()
                } else {
                    parse_date(&get(r, "date"))
                };
                let end = get(r, "end_date");
                let code = [
                    "disposal",
                    "role",
                    "severity",
                    "status",
                    "benefit",
                    "closure_reason",
                ]
                .iter()
                .map(|c| get(r, c))
                .find(|c| !c.is_empty())
                .unwrap_or_default();
                let nums = ["possible_sessions", "attended_sessions", "amount", "score"]
                    .iter()
                    .filter_map(|c| {
                        let v = get(r, c);
                        v.parse::<f64>().ok().map(|x| (x * 100.0).round() as u32)
                    })
                    .collect();
                evs.entry(who[&(feed.to_string(), i + 2)])
                    .or_default()
                    .push(TEv {
                        rt,
                        date,
                        end: (!end.is_empty()).then(|| parse_date(&end)),
                        code,
                        nums,
                    });
            }
        }
        (cases, evs)
    }

    /// The trajectory guarantees of the module doc, checked on the files.
    #[test]
    fn trajectories_meet_sunderland_rules() {
        for seed in [11, 12, 13] {
            check_trajectories(seed);
        }
    }

    fn check_trajectories(seed: u64) {
        let dir = tmp(&format!("traj{seed}"));
        let o = opts(400, seed);
        generate(&dir, &o).unwrap();
        let pe = NaiveDate::from_ymd_opt(2017, 3, 31).unwrap();
        let (cases, evs) = load(&dir);
        let none: Vec<TEv> = Vec::new();
        let of = |p: usize| evs.get(&p).unwrap_or(&none);
        let (_, _, tclaims) = read(&dir.join("truth_claims.csv"));
        let mut seen: BTreeMap<(String, bool), usize> = BTreeMap::new();
        let mut closed = 0;
        for c in cases.values() {
            if let Some(e) = c.end {
                closed += 1;
                assert!(e <= add_months(pe, -7) && e > c.start);
            }
        }
        assert!(closed * 100 > cases.len() * 25, "{closed} closed cases");
        for t in &tclaims {
            let case = &cases[&t[0]];
            let id = t[1].to_string();
            let claim = parse_date(&t[2]);
            let improved = &t[3] == "improved";
            *seen.entry((id.clone(), improved)).or_default() += 1;
            let w6 = add_days(add_months(claim, -6), 1);
            let problem = PROBLEM_OUTCOMES
                .iter()
                .find(|(_, ids)| ids.contains(&id.as_str()))
                .unwrap()
                .0;
            let flagged: Vec<&TMember> = case
                .members
                .iter()
                .filter(|m| m.problems.split(';').any(|p| p == problem))
                .collect();
            let children: Vec<&TMember> = case
                .members
                .iter()
                .filter(|m| age_my(m.dob, claim) < 18)
                .collect();
            let adults: Vec<&TMember> = case
                .members
                .iter()
                .filter(|m| age_my(m.dob, claim) >= 18)
                .collect();
            let count = |ms: &[&TMember], rt: &str, lo: NaiveDate, hi: NaiveDate| -> Vec<usize> {
                ms.iter()
                    .map(|m| {
                        of(m.person)
                            .iter()
                            .filter(|e| e.rt == rt && e.date >= lo && e.date <= hi)
                            .count()
                    })
                    .collect()
            };
            let ctx = format!("{} {id} {claim} {}", &t[0], &t[3]);
            match id.as_str() {
                "SUN-1.1" | "SUN-1.2" | "SUN-5.2" => {
                    let (rt, ms) = match id.as_str() {
                        "SUN-1.1" => ("offence", flagged.clone()),
                        "SUN-1.2" => ("asb_incident", flagged.clone()),
                        _ => ("domestic_incident", case.members.iter().collect()),
                    };
                    let n: usize = count(&ms, rt, w6, claim).iter().sum();
                    assert_eq!(n == 0, improved, "{ctx}: {n} {rt}");
                    if id == "SUN-1.2" && !improved {
                        assert!(ms.iter().all(|m| of(m.person)
                            .iter()
                            .all(|e| { e.rt != "asb_intervention" || e.code != "completed" })));
                    }
                }
                "SUN-1.3" => {
                    let slices: Vec<(NaiveDate, NaiveDate)> = (0..6u32)
                        .map(|i| {
                            let to = claim.checked_sub_months(Months::new(i)).unwrap();
                            let from = add_days(to.checked_sub_months(Months::new(1)).unwrap(), 1);
                            (from, to)
                        })
                        .collect();
                    let regular = children.iter().any(|m| {
                        slices.iter().all(|&(a, b)| {
                            of(m.person)
                                .iter()
                                .any(|e| e.rt == "youth_activity" && e.date >= a && e.date <= b)
                        })
                    });
                    assert_eq!(regular, improved, "{ctx}");
                }
                "SUN-2.1" => {
                    let ts = last_terms(claim, 3);
                    let scope: Vec<&TMember> = case
                        .members
                        .iter()
                        .filter(|m| (5..=16).contains(&age_my(m.dob, ts[2].1)))
                        .collect();
                    assert!(!scope.is_empty(), "{ctx}");
                    let mut low = false;
                    for m in &scope {
                        let (mut a, mut p) = (0, 0);
                        for t in &ts {
                            let e = of(m.person)
                                .iter()
                                .find(|e| e.rt == "attendance" && e.date == t.0)
                                .unwrap_or_else(|| panic!("{ctx}: no attendance {}", t.0));
                            let (pos, att) = (e.nums[0] / 100, e.nums[1] / 100);
                            if improved {
                                assert!(att * 100 >= pos * 92, "{ctx}: {att}/{pos}");
                            }
                            a += att;
                            p += pos;
                        }
                        low |= a * 100 <= p * 90;
                    }
                    assert_eq!(low, !improved, "{ctx}");
                }
                "SUN-2.2" | "SUN-2.3" => {
                    let ts = last_terms(claim, 3);
                    let (rt, max) = if id == "SUN-2.2" {
                        ("suspension", 2)
                    } else {
                        ("permanent_exclusion", 0)
                    };
                    let ms: Vec<&TMember> = case
                        .members
                        .iter()
                        .filter(|m| age_my(m.dob, ts[2].1) < 18)
                        .collect();
                    let worst = count(&ms, rt, ts[0].0, ts[2].1).into_iter().max().unwrap();
                    assert_eq!(worst <= max, improved, "{ctx}: {worst}");
                }
                "SUN-3.1" => {
                    let end = case.end.expect("closed case");
                    assert!(claim >= add_months(end, 6), "{ctx}");
                    let ms: Vec<&TMember> = case.members.iter().collect();
                    let n: usize = count(&ms, "referral", add_days(end, 1), add_months(end, 6))
                        .iter()
                        .sum();
                    assert_eq!(n == 0, improved, "{ctx}");
                }
                "SUN-3.2" => {
                    let plans = ["child_in_need", "child_protection"];
                    let mut any = false;
                    let mut ok = true;
                    for m in &children {
                        let e = of(m.person);
                        let Some(last) = e
                            .iter()
                            .filter(|x| plans.contains(&x.rt.as_str()) && x.date <= claim)
                            .max_by_key(|x| x.end.unwrap_or(pe))
                        else {
                            continue;
                        };
                        any = true;
                        match last.end.filter(|x| *x <= claim) {
                            None => ok = false,
                            Some(end) => {
                                ok &= ["stepped_down", "closed"].contains(&last.code.as_str());
                                let to = add_months(end, 6);
                                assert!(!improved || to <= pe, "{ctx}");
                                ok &= !e.iter().any(|x| {
                                    (x.rt == "referral" || plans.contains(&x.rt.as_str()))
                                        && x.date > end
                                        && x.date <= to
                                });
                            }
                        }
                    }
                    assert!(any, "{ctx}: no plan to close");
                    assert_eq!(ok, improved, "{ctx}");
                }
                "SUN-3.8" => {
                    let n = children
                        .iter()
                        .filter(|m| {
                            of(m.person).iter().any(|e| {
                                e.rt == "looked_after"
                                    && e.date <= claim
                                    && e.end.unwrap_or(pe) >= w6
                            })
                        })
                        .count();
                    assert_eq!(n == 0, improved, "{ctx}");
                    if !improved {
                        assert!(children.iter().any(|m| of(m.person)
                            .iter()
                            .any(|e| e.rt == "looked_after" && e.date >= w6 && e.date <= claim)));
                    }
                }
                "SUN-4.1" => {
                    let met = |m: &&TMember, codes: &[&str]| {
                        of(m.person).iter().any(|e| {
                            e.rt == "benefit_spell"
                                && codes.contains(&e.code.as_str())
                                && e.date <= case.start
                                && e.end.is_none_or(|x| x >= case.start)
                        })
                    };
                    let longest = |m: &&TMember| {
                        of(m.person)
                            .iter()
                            .filter(|e| e.rt == "employment_spell")
                            .map(|e| {
                                let a = e.date.max(case.start);
                                let b = e.end.unwrap_or(pe).min(claim);
                                (b - a).num_days() + 1
                            })
                            .max()
                            .unwrap_or(0)
                    };
                    let ok = adults.iter().any(|m| {
                        (met(m, &["jsa"]) && longest(m) >= 26 * 7)
                            || (met(m, &["esa", "is", "ib", "sda", "uc"]) && longest(m) >= 13 * 7)
                    });
                    assert_eq!(ok, improved, "{ctx}");
                }
                "SUN-4.3" => {
                    let w = add_days(claim, -34);
                    let weeks = |m: &&TMember, pence: u32| {
                        let mut days = std::collections::BTreeSet::new();
                        for e in of(m.person) {
                            if e.rt == "uc_earnings" && e.nums[0] >= pence {
                                let (a, b) = (e.date.max(w), e.end.unwrap().min(claim));
                                let mut d = a;
                                while d <= b {
                                    days.insert(d);
                                    d = add_days(d, 1);
                                }
                            }
                        }
                        days.len() / 7
                    };
                    if improved {
                        assert!(adults.iter().any(|m| weeks(m, 33_000) >= 4), "{ctx}");
                    } else {
                        assert!(adults.iter().all(|m| weeks(m, 27_000) == 0), "{ctx}");
                    }
                }
                _ => assert!(id.starts_with("SUN-6."), "{ctx}"),
            }
        }
        for id in [
            "SUN-1.1", "SUN-1.2", "SUN-1.3", "SUN-2.1", "SUN-2.2", "SUN-3.1", "SUN-3.2", "SUN-3.8",
            "SUN-4.1", "SUN-4.3", "SUN-5.2",
        ] {
            for improved in [true, false] {
                assert!(
                    seen.get(&(id.to_string(), improved))
                        .is_some_and(|n| *n > 0),
                    "no {id} claim with improved={improved}"
                );
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
