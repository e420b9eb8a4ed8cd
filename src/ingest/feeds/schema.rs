//! Published schemas: each source kind's columns as a Frictionless Table
//! Schema (<https://specs.frictionlessdata.io/table-schema/>), built from
//! the definitions the parser itself uses, so a partner's data team can
//! check a file in its own tools.
//!
//! In: a [`SourceKind`]. Out: its Table Schema as JSON: the kind's required
//! columns, the identity columns, and the columns its event kinds read,
//! each with its type, its codes (from `records`) and its limits (from
//! [`Limits`]).
//!
//! Promises: generated, never hand-edited (`outcomesd schemas --check` and
//! a test compare `docs/schemas/` with this); a file ingest accepts whole
//! passes its schema. A schema is necessary, not sufficient: it cannot say
//! "required for this record type only", sums across columns, or that
//! ingest also reads a code in any letter case; `validate-feed` checks
//! exactly.

use serde_json::{json, Map, Value};

use super::{required_columns, Col, Limits, IDENTITY_COLS};
use crate::records::{CodeField, EventKind, SourceKind};

/// Case member roles (as `Role::parse` reads them).
pub(crate) const CASE_ROLES: &[&str] = &["main_carer", "adult", "child", "other"];

/// Dates as ingest reads them: YYYY-MM-DD (documented), DD/MM/YYYY,
/// DD-MM-YYYY or YYYYMMDD. The calendar check is ingest's.
const DATE_PATTERN: &str =
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}/[0-9]{2}/[0-9]{4}|[0-9]{2}-[0-9]{2}-[0-9]{4}|[0-9]{8}";
/// References (case, outcome) as `reference` in row.rs allows them.
const REF_PATTERN: &str = r"[A-Za-z0-9._/-]+";
/// Terms as `records::terms::parse_term` reads them.
const TERM_PATTERN: &str = r"[0-9]{4}-(autumn|spring|summer)";

fn event_kinds(kind: SourceKind) -> Vec<EventKind> {
    EventKind::ALL
        .into_iter()
        .filter(|k| k.source() == kind)
        .collect()
}

fn code_column(f: CodeField) -> Col {
    Col::of_code_field(f)
}

/// The columns a source kind's rows read, in the order the schema lists
/// them: required first, then identity (not for claims), then the rest.
fn columns(kind: SourceKind) -> Vec<Col> {
    let mut cols: Vec<Col> = required_columns(kind).to_vec();
    if kind != SourceKind::Claims {
        cols.extend(IDENTITY_COLS);
    }
    let mut push = |c: Col| {
        if !cols.contains(&c) {
            cols.push(c);
        }
    };
    match kind {
        SourceKind::Case => [Col::CaseEnd, Col::Problems]
            .into_iter()
            .for_each(&mut push),
        SourceKind::Claims => push(Col::KeyworkerRef),
        _ => {
            for k in event_kinds(kind) {
                if k == EventKind::Attendance {
                    for c in [
                        Col::Term,
                        Col::PossibleSessions,
                        Col::AttendedSessions,
                        Col::AuthorisedAbsence,
                        Col::UnauthorisedAbsence,
                    ] {
                        push(c);
                    }
                } else {
                    push(Col::Date);
                }
                if k.is_spell() {
                    push(Col::EndDate);
                }
                match k {
                    EventKind::DashAssessment => push(Col::Score),
                    EventKind::Suspension => push(Col::Days),
                    EventKind::UcEarnings => push(Col::Amount),
                    _ => {}
                }
                if let Some(spec) = k.code_spec() {
                    push(code_column(spec.field));
                }
            }
        }
    }
    cols
}

/// The codes column `c` may hold in a feed of `kind` (the union over its
/// event kinds), if it is a code column.
fn codes(kind: SourceKind, c: Col) -> Option<Vec<&'static str>> {
    if c == Col::RecordType {
        return Some(event_kinds(kind).iter().map(|k| k.name()).collect());
    }
    if kind == SourceKind::Case && c == Col::Role {
        return Some(CASE_ROLES.to_vec());
    }
    let mut out: Vec<&'static str> = Vec::new();
    let mut used_by = false;
    for k in event_kinds(kind) {
        if let Some(spec) = k.code_spec().filter(|s| code_column(s.field) == c) {
            used_by = true;
            for code in spec.codes {
                if !out.contains(code) {
                    out.push(code);
                }
            }
        }
    }
    used_by.then_some(out)
}

fn describe(kind: SourceKind, c: Col) -> String {
    let users = |f: &dyn Fn(EventKind) -> bool| -> Vec<&'static str> {
        event_kinds(kind)
            .into_iter()
            .filter(|k| f(*k))
            .map(|k| k.name())
            .collect()
    };
    let rows_of = |names: Vec<&'static str>| format!("record types {}", names.join(", "));
    match c {
        Col::RecordType => "what the row records; ingest also reads any letter case and spaces or hyphens for underscores".into(),
        Col::Forename | Col::Surname | Col::Postcode | Col::Address => {
            "identity: keyed at the door and never stored; a row needs enough identity to be matched".into()
        }
        Col::Dob => "identity: date of birth (a bad one is dropped, the row kept)".into(),
        Col::NhsNumber => "identity: NHS number, 10 digits with a valid check digit (a bad one is dropped, the row kept)".into(),
        Col::NiNumber => "identity: National Insurance number (a bad one is dropped, the row kept)".into(),
        Col::Upn => "identity: unique pupil number (a bad one is dropped, the row kept)".into(),
        Col::Date => format!("the event's date (a spell's start); required for {}", rows_of(users(&|k| k != EventKind::Attendance))),
        Col::EndDate => format!("a spell's end, on or after date; read for {} (required for uc_earnings)", rows_of(users(&EventKind::is_spell))),
        Col::Term => "the school term, required for attendance rows".into(),
        Col::PossibleSessions | Col::AttendedSessions | Col::AuthorisedAbsence | Col::UnauthorisedAbsence => {
            "sessions in the term, required for attendance rows; attended plus absences may not exceed possible_sessions".into()
        }
        Col::Days => "days suspended, required for suspension rows".into(),
        Col::Amount => "monthly earnings in pounds (e.g. 412.50, at most two decimals), required for uc_earnings rows".into(),
        Col::Score => "DASH risk score, required for dash_assessment rows".into(),
        Col::CaseRef => "the keyworker case's reference".into(),
        Col::CaseStart => "the case's start; the same on every row of one case".into(),
        Col::CaseEnd => "the case's end, on or after case_start; the same on every row of one case".into(),
        Col::Problems => "the family's problem codes from the framework, separated by ; or ,".into(),
        Col::OutcomeId => "the framework outcome claimed".into(),
        Col::ClaimDate => "the date of the claim, not after today".into(),
        Col::KeyworkerRef => "the keyworker's reference (optional)".into(),
        Col::Role if kind == SourceKind::Case => "the member's role in the family".into(),
        _ => match codes(kind, c) {
            Some(_) => {
                let req = users(&|k| {
                    k.code_spec()
                        .is_some_and(|s| code_column(s.field) == c && s.required)
                });
                let all = users(&|k| k.code_spec().is_some_and(|s| code_column(s.field) == c));
                let mut d = format!("a code, read for {}", rows_of(all));
                if !req.is_empty() {
                    d.push_str(&format!("; required for {}", req.join(", ")));
                }
                d
            }
            None => String::new(),
        },
    }
}

fn field(kind: SourceKind, c: Col, limits: &Limits) -> Value {
    let mut constraints = Map::new();
    let required = required_columns(kind).contains(&c);
    if required {
        constraints.insert("required".into(), json!(true));
    }
    let (ty, extra): (&str, Option<(&str, Value)>) = match c {
        Col::Date | Col::EndDate | Col::CaseStart | Col::CaseEnd | Col::ClaimDate => {
            ("string", Some(("pattern", json!(DATE_PATTERN))))
        }
        Col::CaseRef | Col::OutcomeId => ("string", Some(("pattern", json!(REF_PATTERN)))),
        Col::Term => ("string", Some(("pattern", json!(TERM_PATTERN)))),
        Col::PossibleSessions
        | Col::AttendedSessions
        | Col::AuthorisedAbsence
        | Col::UnauthorisedAbsence => ("integer", Some(("maximum", json!(1000)))),
        Col::Days => ("integer", Some(("maximum", json!(45)))),
        Col::Score => ("integer", Some(("maximum", json!(27)))),
        Col::Amount => ("number", Some(("maximum", json!(9_999_999.99)))),
        _ => ("string", None),
    };
    if let Some((k, v)) = extra {
        constraints.insert(k.into(), v);
    }
    match ty {
        "integer" => {
            let min = if c == Col::Days { 1 } else { 0 };
            constraints.insert("minimum".into(), json!(min));
        }
        "number" => {
            constraints.insert("minimum".into(), json!(0));
        }
        _ => {
            constraints.insert("maxLength".into(), json!(limits.max_field_bytes));
        }
    }
    if let Some(codes) = codes(kind, c) {
        constraints.insert("enum".into(), json!(codes));
    }
    let mut f = Map::new();
    f.insert("name".into(), json!(c.name()));
    f.insert("type".into(), json!(ty));
    let d = describe(kind, c);
    if !d.is_empty() {
        f.insert("description".into(), json!(d));
    }
    f.insert("constraints".into(), Value::Object(constraints));
    Value::Object(f)
}

/// The Table Schema of a source kind's feed, with the default limits.
pub fn table_schema(kind: SourceKind) -> Value {
    let limits = Limits::default();
    let fields: Vec<Value> = columns(kind)
        .into_iter()
        .map(|c| field(kind, c, &limits))
        .collect();
    json!({
        "title": format!("outcomesd feed of source kind {}", kind.name()),
        "description": format!(
            "Generated by `outcomesd schemas` from the parser's own definitions; see docs/feeds.md. \
             Column names are matched case-insensitively and in any order; columns not listed are ignored. \
             An event feed's first line states its period ('#period YYYY-MM-DD..YYYY-MM-DD'): read it as a comment \
             (docs/schemas/dialect-period.json: commentChar '#', header on line 2). Rows over {} bytes are rejected. `outcomesd validate-feed --kind {}` checks a file exactly.",
            limits.max_row_bytes,
            kind.name()
        ),
        "fields": fields,
        // Columns may come in any order, optional ones may be left out and
        // others are ignored, as ingest does; a required one must be there.
        "fieldsMatch": "partial",
        "missingValues": [""],
    })
}

/// The CSV dialects of the feeds: `dialect-period.json` for a file whose
/// first line is the period line (every event feed), read as a comment
/// with the header on line 2; `dialect.json` for one without (case and
/// claims feeds may leave it out). Frictionless guesses the header row
/// when it is not told, and guesses wrong on short files.
pub fn dialects() -> [(&'static str, Value); 2] {
    [
        (
            "dialect-period.json",
            json!({ "commentChar": "#", "headerRows": [2] }),
        ),
        ("dialect.json", json!({ "headerRows": [1] })),
    ]
}

/// Every source kind's schema as (file name, pretty JSON with a final
/// newline), in kind order, then the dialects: what `docs/schemas/`
/// holds.
pub fn schema_files() -> Vec<(String, String)> {
    let pretty = |v: &Value| {
        let mut text = serde_json::to_string_pretty(v).expect("a schema serialises");
        text.push('\n');
        text
    };
    let mut files: Vec<(String, String)> = SourceKind::ALL
        .into_iter()
        .map(|k| {
            (
                format!("{}.schema.json", k.name()),
                pretty(&table_schema(k)),
            )
        })
        .collect();
    for (name, d) in dialects() {
        files.push((name.into(), pretty(&d)));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Role;

    #[test]
    fn case_roles_are_the_parsers() {
        for r in CASE_ROLES {
            assert!(Role::parse(r).is_some(), "{r}");
        }
        assert!(Role::parse("uncle").is_none());
    }

    #[test]
    fn every_kind_lists_its_required_columns_and_codes() {
        let police = table_schema(SourceKind::Police);
        let fields = police["fields"].as_array().unwrap();
        assert_eq!(fields[0]["name"], "record_type");
        assert_eq!(fields[0]["constraints"]["required"], true);
        let disposal = fields.iter().find(|f| f["name"] == "disposal").unwrap();
        assert!(disposal["constraints"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("caution")));
        let edu = table_schema(SourceKind::Education);
        let names: Vec<_> = edu["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect();
        for c in ["term", "possible_sessions", "days", "status", "upn"] {
            assert!(names.iter().any(|n| n == c), "{c} in {names:?}");
        }
        let claims = table_schema(SourceKind::Claims);
        assert!(!claims.to_string().contains("\"surname\""));
    }
}
