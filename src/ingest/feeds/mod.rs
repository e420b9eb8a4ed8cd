//! Partner feeds: the formats partners send, parsed into typed rows.
//!
//! In: the bytes of one delivery (CSV or JSON Lines, see `docs/feeds.md`) and
//! the feed's configuration (source kind, column mapping, limits). Out: a
//! [`Delivery`] header (period, content hash) and a stream of [`Row`]s, each
//! either parsed or a [`Rejection`] naming row, column and reason.
//!
//! Promises:
//! * a malformed row never stops the rows after it; a malformed *file* (not
//!   UTF-8, compressed, UTF-16, empty, no header, a required column missing
//!   or given twice, no period) is refused whole before anything is handed
//!   on;
//! * a field with a control character (other than tab, CR, LF) or a JSON
//!   object with a key given twice is a rejected row, never a silent pick;
//! * rejections name the feed, row and column, never the value;
//! * identity columns are handed to the pseudonymiser as borrowed text and
//!   not kept: a [`Row`] carries only tokens.

mod hygiene;
mod row;
pub mod schema;

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ingest::pseudonymise::{
    parse_date, IdentError, PersonTokens, Pseudonymiser, RawIdentity,
};
use crate::records::{CodeField, Event, EventKind, Period, Role, SourceKind};
use row::{reject, RowCtx};

/// One member row of a keyworker case.
#[derive(Debug, Clone)]
pub struct CaseMemberRow {
    pub case_ref: String,
    pub role: Role,
    pub case_start: NaiveDate,
    pub case_end: Option<NaiveDate>,
    pub problems: Vec<String>,
}

/// One keyworker outcome claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRow {
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub keyworker_ref: Option<String>,
    /// The claimant's team, if the case system names it.
    pub team: Option<String>,
}

/// What one accepted row says.
#[derive(Debug, Clone)]
pub enum RowBody {
    Event(Event),
    CaseMember(CaseMemberRow),
    Claim(ClaimRow),
}

/// A parsed row: its number, its subject's tokens (none for claims), body.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u64,
    pub person: Option<PersonTokens>,
    pub body: RowBody,
}

/// Why a row was not accepted. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub row: u64,
    pub column: String,
    pub reason: String,
}

/// Why a whole delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed {feed}: the file is empty or only whitespace")]
    Empty { feed: String },
    #[error("feed {feed}: {what}")]
    NotText { feed: String, what: String },
    #[error("feed {feed}: header columns {first} and {second} both map to '{column}': remove one, or check [feeds.{feed}.columns]")]
    DuplicateColumn {
        feed: String,
        column: &'static str,
        first: usize,
        second: usize,
    },
    #[error("feed {feed}: row {row} is not valid UTF-8 (save the export as UTF-8)")]
    NotUtf8 { feed: String, row: u64 },
    #[error("feed {feed}: required column '{column}' is missing from the header{hint}")]
    MissingColumn {
        feed: String,
        column: &'static str,
        hint: String,
    },
    #[error(
        "feed {feed}: no identity column (need nhs_number, ni_number, upn, or surname and dob)"
    )]
    NoIdentityColumns { feed: String },
    #[error("feed {feed}: the delivery does not state its period: add a first line '#period YYYY-MM-DD..YYYY-MM-DD' or pass --period")]
    NoPeriod { feed: String },
    #[error(
        "feed {feed}: the period line is not '#period YYYY-MM-DD..YYYY-MM-DD' with FROM <= TO"
    )]
    BadPeriod { feed: String },
    #[error("feed {feed}: row {row}: {reason}")]
    Malformed {
        feed: String,
        row: u64,
        reason: String,
    },
    #[error("feed {feed}: header row is longer than the row limit")]
    HeaderTooLong { feed: String },
    #[error("feed {feed}: the delivery's {field} ends {to}, after today ({today}, allowing {skew} days of clock skew): a delivery cannot cover days still to come (check the partner's extract dates)")]
    FuturePeriod {
        feed: String,
        field: &'static str,
        to: NaiveDate,
        today: NaiveDate,
        skew: u32,
    },
}

/// The format of a feed's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Csv,
    Jsonl,
}

/// Limits that keep a hostile or broken file from exhausting memory.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_field_bytes: usize,
    pub max_row_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_field_bytes: 256,
            max_row_bytes: 16 * 1024,
        }
    }
}

/// How to read one feed: everything parsing needs from config.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub name: String,
    pub kind: SourceKind,
    pub format: Format,
    /// canonical column name -> the partner's header name (lower-cased).
    pub columns: HashMap<String, String>,
    pub limits: Limits,
}

impl FeedSpec {
    pub fn new(name: &str, kind: SourceKind) -> Self {
        FeedSpec {
            name: name.to_string(),
            kind,
            format: Format::Csv,
            columns: HashMap::new(),
            limits: Limits::default(),
        }
    }
}

macro_rules! columns {
    ($($v:ident = $s:literal),* $(,)?) => {
        /// Canonical column names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Col { $($v),* }
        impl Col {
            pub const ALL: &'static [Col] = &[$(Col::$v),*];
            pub fn name(self) -> &'static str { match self { $(Col::$v => $s),* } }
        }
    };
}

columns! {
    RecordType = "record_type", Forename = "forename", Surname = "surname", Dob = "dob",
    Postcode = "postcode", Address = "address", NhsNumber = "nhs_number",
    NiNumber = "ni_number", Upn = "upn", Date = "date", EndDate = "end_date",
    Disposal = "disposal", Role = "role", Severity = "severity", Status = "status",
    Term = "term", PossibleSessions = "possible_sessions",
    AttendedSessions = "attended_sessions", AuthorisedAbsence = "authorised_absence",
    UnauthorisedAbsence = "unauthorised_absence", Days = "days", Benefit = "benefit",
    Amount = "amount", ClosureReason = "closure_reason", CaseRef = "case_ref",
    CaseStart = "case_start", CaseEnd = "case_end", Problems = "problems",
    OutcomeId = "outcome_id", ClaimDate = "claim_date", KeyworkerRef = "keyworker_ref",
    Team = "team",
    Score = "score",
}

const NCOLS: usize = Col::ALL.len();

impl Col {
    pub fn parse(s: &str) -> Option<Col> {
        Col::ALL.iter().copied().find(|c| c.name() == s)
    }

    fn of_code_field(f: CodeField) -> Col {
        match f {
            CodeField::Severity => Col::Severity,
            CodeField::Disposal => Col::Disposal,
            CodeField::Status => Col::Status,
            CodeField::Role => Col::Role,
            CodeField::Benefit => Col::Benefit,
            CodeField::ClosureReason => Col::ClosureReason,
        }
    }
}

const IDENTITY_COLS: [Col; 8] = [
    Col::Forename,
    Col::Surname,
    Col::Dob,
    Col::Postcode,
    Col::Address,
    Col::NhsNumber,
    Col::NiNumber,
    Col::Upn,
];

fn required_columns(kind: SourceKind) -> &'static [Col] {
    match kind {
        SourceKind::Case => &[Col::CaseRef, Col::Role, Col::CaseStart],
        SourceKind::Claims => &[Col::CaseRef, Col::OutcomeId, Col::ClaimDate],
        _ => &[Col::RecordType],
    }
}

/// The parsed head of a delivery: what it is and what it covers.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub feed: String,
    pub kind: SourceKind,
    pub period: Option<Period>,
    /// SHA-256 of the delivery's bytes: the same bytes are the same delivery.
    pub content_hash: [u8; 32],
    /// Header columns outcomesd did not use (names only).
    pub unused_columns: Vec<String>,
    pub(crate) body_offset: usize,
    pub(crate) header: Vec<Option<Col>>,
}

/// Reads the head of a delivery: BOM, period line, header. Refuses a file that
/// cannot be parsed as a whole.
pub fn open_delivery(
    spec: &FeedSpec,
    bytes: &[u8],
    period_override: Option<Period>,
) -> Result<Delivery, FeedError> {
    let feed = || spec.name.clone();
    let content_hash: [u8; 32] = Sha256::digest(bytes).into();
    if let Some(what) = hygiene::not_text(bytes, spec.format) {
        return Err(FeedError::NotText { feed: feed(), what });
    }
    let mut pos = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    // skip leading blank lines
    while pos < bytes.len() && (bytes[pos] == b'\n' || bytes[pos] == b'\r') {
        pos += 1;
    }
    if bytes[pos..].iter().all(u8::is_ascii_whitespace) {
        return Err(FeedError::Empty { feed: feed() });
    }
    let mut period = None;
    if bytes[pos] == b'#' {
        let end = memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        let line = std::str::from_utf8(&bytes[pos + 1..end])
            .map_err(|_| FeedError::BadPeriod { feed: feed() })?
            .trim();
        let rest = line
            .strip_prefix("period")
            .ok_or(FeedError::BadPeriod { feed: feed() })?;
        period = Some(Period::parse(rest).ok_or(FeedError::BadPeriod { feed: feed() })?);
        pos = (end + 1).min(bytes.len());
    }
    if period_override.is_some() {
        period = period_override;
    }
    if spec.kind.carries_events() && period.is_none() {
        return Err(FeedError::NoPeriod { feed: feed() });
    }
    // reverse mapping: partner header -> canonical
    let mut alias: HashMap<String, Col> = HashMap::new();
    for (canon, theirs) in &spec.columns {
        if let Some(c) = Col::parse(canon) {
            alias.insert(theirs.trim().to_lowercase(), c);
        }
    }
    let resolve = |h: &str| -> Option<Col> {
        let h = h.trim().to_lowercase();
        alias.get(&h).copied().or_else(|| Col::parse(&h))
    };
    let (header, unused, body_offset) = match spec.format {
        Format::Csv => {
            let end = memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
            if end - pos > spec.limits.max_row_bytes {
                return Err(FeedError::HeaderTooLong { feed: feed() });
            }
            let line = std::str::from_utf8(&bytes[pos..end]).map_err(|_| FeedError::NotUtf8 {
                feed: feed(),
                row: 1,
            })?;
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.trim_end_matches('\r').as_bytes());
            let rec = rdr
                .records()
                .next()
                .ok_or(FeedError::Empty { feed: feed() })?
                .map_err(|e| FeedError::Malformed {
                    feed: feed(),
                    row: 1,
                    reason: format!("header is not CSV ({})", csv_reason(&e)),
                })?;
            let mut header = Vec::new();
            let mut unused = Vec::new();
            for h in rec.iter() {
                let c = resolve(h);
                if c.is_none() && !h.trim().is_empty() {
                    unused.push(h.trim().to_string());
                }
                // Two columns for one field: which one counts is a guess.
                if let Some(c) = c {
                    if let Some(first) = header.iter().position(|h| *h == Some(c)) {
                        return Err(FeedError::DuplicateColumn {
                            feed: feed(),
                            column: c.name(),
                            first: first + 1,
                            second: header.len() + 1,
                        });
                    }
                }
                header.push(c);
            }
            (header, unused, (end + 1).min(bytes.len()))
        }
        Format::Jsonl => {
            // JSON Lines has no header: every canonical column may appear.
            (Col::ALL.iter().map(|c| Some(*c)).collect(), Vec::new(), pos)
        }
    };
    if spec.format == Format::Csv {
        for col in required_columns(spec.kind) {
            if !header.contains(&Some(*col)) {
                let hint = match spec.columns.get(col.name()) {
                    Some(m) => format!(" (config maps it to '{m}')"),
                    None => format!(
                        "; add it, or map the partner's name with [feeds.{}.columns] {} = \"...\"",
                        spec.name,
                        col.name()
                    ),
                };
                return Err(FeedError::MissingColumn {
                    feed: feed(),
                    column: col.name(),
                    hint,
                });
            }
        }
        if spec.kind != SourceKind::Claims
            && !IDENTITY_COLS.iter().any(|c| header.contains(&Some(*c)))
        {
            return Err(FeedError::NoIdentityColumns { feed: feed() });
        }
    }
    Ok(Delivery {
        feed: spec.name.clone(),
        kind: spec.kind,
        period,
        content_hash,
        unused_columns: unused,
        body_offset,
        header,
    })
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields".into(),
        _ => "malformed CSV".into(),
    }
}

/// One raw row, fields borrowed, indexed by canonical column. Lives only for
/// the call that parses it.
pub struct RawRow<'a> {
    fields: [&'a str; NCOLS],
}

impl<'a> RawRow<'a> {
    fn get(&self, c: Col) -> &'a str {
        self.fields[c as usize].trim()
    }
}

/// A chunk of undecoded rows: raw text, dropped (and so freed) as soon as
/// the chunk is parsed.
pub struct RawChunk {
    rows: Vec<(u64, Result<csv::ByteRecord, String>)>,
    json: Vec<(u64, String)>,
}

impl RawChunk {
    pub fn len(&self) -> usize {
        self.rows.len() + self.json.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Splits a delivery's body into chunks of at most `chunk` rows.
pub struct ChunkReader<'b> {
    delivery: &'b Delivery,
    spec: &'b FeedSpec,
    csv: Option<csv::Reader<&'b [u8]>>,
    lines: Option<JsonLines<'b>>,
    chunk: usize,
    next_row: u64,
}

type JsonLines<'b> = std::iter::Enumerate<std::slice::Split<'b, u8, fn(&u8) -> bool>>;

fn is_newline(b: &u8) -> bool {
    *b == b'\n'
}

impl<'b> ChunkReader<'b> {
    pub fn new(delivery: &'b Delivery, spec: &'b FeedSpec, bytes: &'b [u8], chunk: usize) -> Self {
        let body = &bytes[delivery.body_offset.min(bytes.len())..];
        let (csv, lines) = match spec.format {
            Format::Csv => (
                Some(
                    csv::ReaderBuilder::new()
                        .has_headers(false)
                        .flexible(true)
                        .from_reader(body),
                ),
                None,
            ),
            Format::Jsonl => (
                None,
                Some(body.split(is_newline as fn(&u8) -> bool).enumerate()),
            ),
        };
        ChunkReader {
            delivery,
            spec,
            csv,
            lines,
            chunk,
            next_row: 2,
        }
    }

    /// The next chunk, or `None` at the end. A row that is not UTF-8 refuses
    /// the whole delivery.
    pub fn next_chunk(&mut self) -> Result<Option<RawChunk>, FeedError> {
        let mut out = RawChunk {
            rows: Vec::new(),
            json: Vec::new(),
        };
        if let Some(rdr) = self.csv.as_mut() {
            let mut rec = csv::ByteRecord::new();
            while out.rows.len() < self.chunk {
                let row = self.next_row;
                match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {
                        self.next_row += 1;
                        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
                            continue; // blank line
                        }
                        if std::str::from_utf8(rec.as_slice()).is_err() {
                            return Err(FeedError::NotUtf8 {
                                feed: self.spec.name.clone(),
                                row,
                            });
                        }
                        let n = rec.len();
                        let h = self.delivery.header.len();
                        if n != h {
                            out.rows.push((
                                row,
                                Err(format!("has {n} fields where the header has {h}")),
                            ));
                        } else {
                            out.rows.push((row, Ok(rec.clone())));
                        }
                    }
                    Err(e) => {
                        self.next_row += 1;
                        if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                            return Err(FeedError::NotUtf8 {
                                feed: self.spec.name.clone(),
                                row,
                            });
                        }
                        out.rows.push((row, Err(csv_reason(&e))));
                    }
                }
            }
        } else if let Some(lines) = self.lines.as_mut() {
            while out.json.len() < self.chunk {
                let Some((i, line)) = lines.next() else { break };
                let row = i as u64 + 1;
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                let text = std::str::from_utf8(line).map_err(|_| FeedError::NotUtf8 {
                    feed: self.spec.name.clone(),
                    row,
                })?;
                out.json.push((row, text.to_string()));
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

/// The reason for a field holding a C0 control character (not tab/CR/LF).
const CONTROL: &str = "control character in the field (a NUL or other non-printing byte)";

/// The outcome of parsing one raw row.
pub type Parsed = Result<Row, Rejection>;

/// Parses and pseudonymises a chunk. Pure: safe to run on any thread.
pub fn parse_chunk(
    chunk: RawChunk,
    delivery: &Delivery,
    spec: &FeedSpec,
    pseudo: &Pseudonymiser,
) -> Vec<Parsed> {
    let mut scratch = String::new();
    let mut out = Vec::with_capacity(chunk.len());
    let ctx = RowCtx { delivery, pseudo };
    for (row, rec) in chunk.rows {
        let rec = match rec {
            Ok(r) => r,
            Err(reason) => {
                out.push(Err(reject(row, "", &reason)));
                continue;
            }
        };
        if rec.as_slice().len() > spec.limits.max_row_bytes {
            out.push(Err(reject(row, "", "row longer than the row limit")));
            continue;
        }
        let mut fields = [""; NCOLS];
        let mut oversize = None;
        // One pass over the whole record; fields only if it finds one.
        let control = hygiene::has_control(rec.as_slice());
        let mut controlled = None;
        for (i, col) in delivery.header.iter().enumerate() {
            if let Some(c) = col {
                let f = rec.get(i).unwrap_or(b"");
                if f.len() > spec.limits.max_field_bytes {
                    oversize = Some(*c);
                }
                if control && controlled.is_none() && hygiene::has_control(f) {
                    controlled = Some(*c);
                }
                // Checked UTF-8 when the chunk was read.
                fields[*c as usize] = std::str::from_utf8(f).unwrap_or("");
            }
        }
        if let Some(c) = oversize {
            out.push(Err(reject(
                row,
                c.name(),
                "field longer than the field limit",
            )));
            continue;
        }
        if let Some(c) = controlled {
            out.push(Err(reject(row, c.name(), CONTROL)));
            continue;
        }
        out.push(ctx.parse_row(row, &RawRow { fields }, &mut scratch));
    }
    for (row, text) in chunk.json {
        if text.len() > spec.limits.max_row_bytes {
            out.push(Err(reject(row, "", "row longer than the row limit")));
            continue;
        }
        let obj: hygiene::Members = match serde_json::from_str(&text) {
            Ok(o) => o,
            Err(_) => {
                out.push(Err(reject(row, "", "not a JSON object")));
                continue;
            }
        };
        let col_of = |k: &str| {
            let key = k.trim().to_lowercase();
            spec.columns
                .iter()
                .find(|(_, theirs)| theirs.trim().to_lowercase() == key)
                .and_then(|(canon, _)| Col::parse(canon))
                .or_else(|| Col::parse(&key))
        };
        if let Some(i) = obj.first_repeat() {
            // The key is the partner's name, not a value, but an unknown
            // one is not echoed either.
            let col = col_of(&obj.0[i].0).map_or("", Col::name);
            out.push(Err(reject(
                row,
                col,
                "the same key appears twice in the object",
            )));
            continue;
        }
        let mut owned: Vec<(Col, String)> = Vec::new();
        let mut failure = None;
        let mut seen = 0u64;
        for (k, v) in obj.0 {
            let Some(col) = col_of(&k) else { continue };
            if seen & (1 << col as u32) != 0 {
                failure = Some(reject(
                    row,
                    col.name(),
                    "two keys map to this column (check [feeds] columns)",
                ));
                break;
            }
            seen |= 1 << col as u32;
            let s = match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    failure = Some(reject(row, col.name(), "must be a string or number"));
                    break;
                }
            };
            if s.len() > spec.limits.max_field_bytes {
                failure = Some(reject(row, col.name(), "field longer than the field limit"));
                break;
            }
            if hygiene::has_control(s.as_bytes()) {
                failure = Some(reject(row, col.name(), CONTROL));
                break;
            }
            owned.push((col, s));
        }
        if let Some(f) = failure {
            out.push(Err(f));
            continue;
        }
        let mut fields = [""; NCOLS];
        for (c, s) in &owned {
            fields[*c as usize] = s.as_str();
        }
        out.push(ctx.parse_row(row, &RawRow { fields }, &mut scratch));
        for (_, mut s) in owned {
            zeroize::Zeroize::zeroize(&mut s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::HmacKey;
    use crate::records::{Measure, Sessions};

    fn pseudo() -> Pseudonymiser {
        Pseudonymiser::new(&HmacKey::from_bytes("t", [3u8; 32]))
    }

    fn parse_all(spec: &FeedSpec, bytes: &[u8]) -> Result<Vec<Parsed>, FeedError> {
        let d = open_delivery(spec, bytes, None)?;
        let mut rdr = ChunkReader::new(&d, spec, bytes, 3);
        let mut out = Vec::new();
        while let Some(c) = rdr.next_chunk()? {
            out.extend(parse_chunk(c, &d, spec, &pseudo()));
        }
        Ok(out)
    }

    const POLICE: &str = "#period 2015-01-01..2015-12-31\r\n\
        Record_Type , FORENAME,surname,dob,postcode,date,disposal,role\r\n\
        offence,Jane,Smith,2001-02-03,SR1 3AA,2015-06-01,,\r\n\
        arrest,John,Smith,1980-05-06,SR1 3AA,2015-07-09,Caution,\r\n\
        arrest,John,Smith,1980-05-06,SR1 3AA,2015-07-09,hanged,\r\n\
        domestic_incident,,Smith,2001-13-13,,2015-08-10,,victim\r\n\
        offence,Jane,Smith,2001-02-03,SR1 3AA,2016-06-01,,\r\n";

    #[test]
    fn police_csv_with_crlf_and_case_insensitive_header() {
        let spec = FeedSpec::new("police", SourceKind::Police);
        let rows = parse_all(&spec, POLICE.as_bytes()).unwrap();
        assert_eq!(rows.len(), 5);
        let ok: Vec<_> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 2);
        let RowBody::Event(e) = &ok[1].body else {
            panic!()
        };
        assert_eq!(e.kind, EventKind::Arrest);
        assert_eq!(e.kind.code_name(e.code), Some("caution"));
        let rej: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(rej[0], &reject(4, "disposal", "unknown code"));
        assert_eq!(rej[1].row, 5);
        assert_eq!(rej[1].column, "dob");
        assert_eq!(rej[2], &reject(6, "date", "outside the delivery's period"));
    }

    #[test]
    fn bom_and_column_mapping() {
        let mut spec = FeedSpec::new("pol", SourceKind::Police);
        spec.columns.insert("forename".into(), "FIRST_NAME".into());
        spec.columns.insert("record_type".into(), "Type".into());
        let text = "\u{feff}#period 2015-01-01..2015-12-31\nType,first_name,surname,dob,date\noffence,A,Bell,2001-02-03,2015-02-02\n";
        let rows = parse_all(&spec, text.as_bytes()).unwrap();
        assert!(rows[0].is_ok(), "{:?}", rows[0]);
    }

    #[test]
    fn missing_column_names_the_fix() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        let err = parse_all(&spec, b"#period 2015-01-01..2015-12-31\nsurname,dob,date\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("record_type") && err.contains("[feeds.pol.columns]"),
            "{err}"
        );
    }

    #[test]
    fn period_required_for_event_feeds_only() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        let err = parse_all(&spec, b"record_type,surname,dob,date\n").unwrap_err();
        assert!(matches!(err, FeedError::NoPeriod { .. }));
        let spec = FeedSpec::new("claims", SourceKind::Claims);
        let rows = parse_all(
            &spec,
            b"case_ref,outcome_id,claim_date\nSF-1,SUN-1.1,2016-01-01\n",
        )
        .unwrap();
        assert!(rows[0].is_ok());
    }

    #[test]
    fn not_utf8_refuses_whole_file() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        let mut bytes =
            b"#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date\noffence,Sm".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"th,2001-02-03,2015-02-02\n");
        let err = parse_all(&spec, &bytes).unwrap_err();
        assert!(matches!(err, FeedError::NotUtf8 { row: 2, .. }), "{err}");
    }

    #[test]
    fn empty_file() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        assert!(matches!(
            parse_all(&spec, b"").unwrap_err(),
            FeedError::Empty { .. }
        ));
        assert!(matches!(
            parse_all(&spec, b"\xEF\xBB\xBF\n\n").unwrap_err(),
            FeedError::Empty { .. }
        ));
    }

    #[test]
    fn oversize_field_and_wrong_field_count_are_row_rejections() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        let long = "x".repeat(300);
        let text = format!(
            "#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date\noffence,{long},2001-02-03,2015-02-02\noffence,a\noffence,Smith,2001-02-03,2015-02-02\n"
        );
        let rows = parse_all(&spec, text.as_bytes()).unwrap();
        assert_eq!(rows[0].as_ref().unwrap_err().column, "surname");
        assert!(rows[1].as_ref().unwrap_err().reason.contains("fields"));
        assert!(rows[2].is_ok());
    }

    #[test]
    fn education_attendance_and_suspension() {
        let spec = FeedSpec::new("edu", SourceKind::Education);
        let text = "#period 2015-09-01..2016-08-31\nrecord_type,upn,surname,dob,term,possible_sessions,attended_sessions,authorised_absence,unauthorised_absence,date,days\n\
            attendance,,Smith,2008-01-02,2015-autumn,140,130,5,5,,\n\
            attendance,,Smith,2008-01-02,2016-spring,100,100,1,0,,\n\
            suspension,,Smith,2008-01-02,,,,,,2016-01-05,3\n";
        let rows = parse_all(&spec, text.as_bytes()).unwrap();
        let RowBody::Event(e) = &rows[0].as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(
            e.measure,
            Measure::Attendance(Sessions {
                possible: 140,
                attended: 130,
                authorised: 5,
                unauthorised: 5
            })
        );
        assert_eq!(e.start, NaiveDate::from_ymd_opt(2015, 9, 1).unwrap());
        assert_eq!(rows[1].as_ref().unwrap_err().column, "possible_sessions");
        let RowBody::Event(s) = &rows[2].as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(s.measure, Measure::Days(3));
    }

    #[test]
    fn jsonl_rows() {
        let mut spec = FeedSpec::new("dwp", SourceKind::Dwp);
        spec.format = Format::Jsonl;
        let text = "#period 2015-01-01..2015-12-31\n{\"record_type\":\"uc_earnings\",\"ni_number\":\"AB123456C\",\"date\":\"2015-03-01\",\"end_date\":\"2015-03-31\",\"amount\":412.5}\nnot json\n{\"record_type\":\"benefit_spell\",\"ni_number\":\"AB123456C\",\"date\":\"2014-01-01\",\"benefit\":\"JSA\"}\n";
        let rows = parse_all(&spec, text.as_bytes()).unwrap();
        let RowBody::Event(e) = &rows[0].as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(e.measure, Measure::Pence(41250));
        assert_eq!(rows[1].as_ref().unwrap_err().row, 2);
        let RowBody::Event(b) = &rows[2].as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(b.kind.code_name(b.code), Some("jsa"));
    }

    #[test]
    fn case_rows() {
        let spec = FeedSpec::new("case", SourceKind::Case);
        let text = "case_ref,role,case_start,problems,surname,dob\nSF-1,Main Carer,2015-01-01,crime; education,Smith,1980-01-01\nSF-1,uncle,2015-01-01,,Smith,1980-01-01\n";
        let rows = parse_all(&spec, text.as_bytes()).unwrap();
        let RowBody::CaseMember(m) = &rows[0].as_ref().unwrap().body else {
            panic!()
        };
        assert_eq!(m.role, Role::MainCarer);
        assert_eq!(m.problems, vec!["crime", "education"]);
        assert_eq!(rows[1].as_ref().unwrap_err().column, "role");
    }

    #[test]
    fn duplicate_header_after_mapping_refuses_the_file() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        let err = parse_all(
            &spec,
            b"#period 2015-01-01..2015-12-31\nrecord_type,Surname,dob,date,SURNAME \n",
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                FeedError::DuplicateColumn {
                    column: "surname",
                    first: 2,
                    second: 5,
                    ..
                }
            ),
            "{err}"
        );
        let mut spec = FeedSpec::new("pol", SourceKind::Police);
        spec.columns.insert("surname".into(), "family_name".into());
        let err = parse_all(
            &spec,
            b"#period 2015-01-01..2015-12-31\nrecord_type,family_name,dob,date,surname\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("feed pol") && err.contains("'surname'") && err.contains("2 and 5"),
            "{err}"
        );
    }

    #[test]
    fn control_character_rejects_the_row_not_the_file() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        let text = "#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date,notes\n\
            offence,Smi\0th,2001-02-03,2015-02-02,\n\
            offence,Smith,2001-02-03,2015-02-02,tab\there\n\
            offence,\"Sm\r\nith\",2001-02-03,2015-02-02,\n\
            offence,Smith,2001-02-03,2015-02-02,unused\x01column\n\
            offence,Smith,2001-02-03\x1b,2015-02-02,\n";
        let rows = parse_all(&spec, text.as_bytes()).unwrap();
        assert_eq!(rows.len(), 5);
        let r = rows[0].as_ref().unwrap_err();
        assert_eq!((r.row, r.column.as_str()), (2, "surname"));
        assert!(r.reason.starts_with("control character"), "{r:?}");
        assert!(rows[1].is_ok() && rows[2].is_ok() && rows[3].is_ok());
        assert_eq!(rows[4].as_ref().unwrap_err().column, "dob");
    }

    #[test]
    fn archives_utf16_and_whitespace_are_refused_for_what_they_are() {
        let spec = FeedSpec::new("pol", SourceKind::Police);
        let csv = "#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date\n";
        let utf16: Vec<u8> = csv.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut bom16 = vec![0xff, 0xfe];
        bom16.extend_from_slice(&utf16);
        for (bytes, says) in [
            (vec![0x1f, 0x8b, 8, 0, 0, 0], "gzip"),
            (b"PK\x03\x04\x14\0\0\0".to_vec(), "zip"),
            (utf16, "UTF-16"),
            (bom16, "UTF-16"),
        ] {
            let err = parse_all(&spec, &bytes).unwrap_err();
            assert!(matches!(err, FeedError::NotText { .. }), "{err}");
            let err = err.to_string();
            assert!(err.contains("feed pol") && err.contains(says), "{err}");
        }
        for blank in [&b" \t\r\n  \n"[..], b"\xEF\xBB\xBF  \n", b"\n\n\t"] {
            let err = parse_all(&spec, blank).unwrap_err();
            assert!(matches!(err, FeedError::Empty { .. }), "{err}");
            assert!(err.to_string().contains("only whitespace"));
        }
    }

    #[test]
    fn jsonl_duplicate_keys_and_control_characters_reject_the_row() {
        let mut spec = FeedSpec::new("dwp", SourceKind::Dwp);
        spec.format = Format::Jsonl;
        spec.columns.insert("ni_number".into(), "NINO".into());
        let good = r#"{"record_type":"benefit_spell","ni_number":"AB123456C","date":"2015-01-01","benefit":"JSA"}"#;
        let text = [
            "#period 2015-01-01..2015-12-31",
            r#"{"record_type":"benefit_spell","ni_number":"AB123456C","ni_number":"ZZ999999Z","date":"2015-01-01","benefit":"JSA"}"#,
            r#"{"record_type":"benefit_spell","nino":"AB123456C","NI_Number":"ZZ999999Z","date":"2015-01-01","benefit":"JSA"}"#,
            r#"{"record_type":"benefit_spell","note":1,"note":2,"ni_number":"AB123456C","date":"2015-01-01","benefit":"JSA"}"#,
            r#"{"record_type":"benefit_spell","ni_number":"AB12\u0000456C","date":"2015-01-01","benefit":"JSA"}"#,
            good,
        ]
        .join("\n");
        let rows = parse_all(&spec, text.as_bytes()).unwrap();
        assert_eq!(rows.len(), 5);
        let rej: Vec<_> = rows[..4].iter().map(|r| r.as_ref().unwrap_err()).collect();
        assert_eq!((rej[0].row, rej[0].column.as_str()), (1, "ni_number"));
        assert!(rej[0].reason.contains("twice"), "{:?}", rej[0]);
        assert_eq!((rej[1].row, rej[1].column.as_str()), (2, "ni_number"));
        assert!(rej[1].reason.contains("two keys"), "{:?}", rej[1]);
        assert_eq!((rej[2].row, rej[2].column.as_str()), (3, ""));
        assert_eq!((rej[3].row, rej[3].column.as_str()), (4, "ni_number"));
        assert!(rej[3].reason.starts_with("control character"));
        for r in &rej {
            assert!(!r.reason.contains("AB12") && !r.reason.contains("ZZ9"));
        }
        assert!(rows[4].is_ok(), "{:?}", rows[4]);
    }

    proptest::proptest! {
        /// Whatever bytes a partner sends, parsing answers with rows or a
        /// refusal: it never panics, and a rejection never echoes a value
        /// longer than a field name.
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                                       header in "(record_type|surname|dob|date|nhs_number|term|days|amount|role)(,(record_type|surname|dob|date|nhs_number|term|days|amount|role)){0,6}") {
            for kind in [SourceKind::Police, SourceKind::Education, SourceKind::Dwp, SourceKind::Case] {
                let spec = FeedSpec::new("fuzz", kind);
                let mut bytes = format!("#period 2015-01-01..2015-12-31\n{header}\n").into_bytes();
                bytes.extend_from_slice(&body);
                if let Ok(rows) = parse_all(&spec, &bytes) {
                    for r in rows.iter().filter_map(|r| r.as_ref().err()) {
                        proptest::prop_assert!(r.column.len() <= 20);
                        proptest::prop_assert!(!r.reason.is_empty());
                    }
                }
            }
        }

        /// Structured rows with random field text: every row is accepted or
        /// rejected with a reason naming a known column.
        #[test]
        fn random_fields_are_accepted_or_explained(fields in proptest::collection::vec("[ -~]{0,12}", 6)) {
            let spec = FeedSpec::new("fuzz", SourceKind::Police);
            let line = fields.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect::<Vec<_>>().join(",");
            let text = format!("#period 2015-01-01..2015-12-31\nrecord_type,surname,dob,date,disposal,role\n{line}\n");
            let rows = parse_all(&spec, text.as_bytes()).unwrap();
            proptest::prop_assert_eq!(rows.len(), 1);
            if let Err(r) = &rows[0] {
                proptest::prop_assert!(r.column.is_empty() || Col::parse(&r.column).is_some() || r.column == "identity", "{:?}", r);
            }
        }
    }
}
