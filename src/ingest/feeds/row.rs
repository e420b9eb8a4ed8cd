//! Row parsing: one raw row of a delivery into a case member, a claim or an
//! event with its typed measure, or a rejection naming the column.
//!
//! In: a [`RawRow`] with fields by canonical column, and the delivery it
//! belongs to. Out: a [`Parsed`] row. Promises: identity fields go to the
//! pseudonymiser borrowed and are never kept; a rejection never holds the
//! value.

use super::*;
use crate::records::terms::parse_term;
use crate::records::{Measure, Sessions};

pub(super) fn reject(row: u64, column: &str, reason: &str) -> Rejection {
    Rejection {
        row,
        column: column.to_string(),
        reason: reason.to_string(),
    }
}

pub(super) struct RowCtx<'a> {
    pub(super) delivery: &'a Delivery,
    pub(super) pseudo: &'a Pseudonymiser,
}

/// Lower-cases a code and reads spaces and hyphens as underscores.
fn code_text(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn date_col(r: &RawRow, c: Col, required: bool, row: u64) -> Result<Option<NaiveDate>, Rejection> {
    let s = r.get(c);
    if s.is_empty() {
        return if required {
            Err(reject(row, c.name(), "required"))
        } else {
            Ok(None)
        };
    }
    parse_date(s)
        .map(Some)
        .ok_or_else(|| reject(row, c.name(), "not a date (use YYYY-MM-DD)"))
}

fn int_col(r: &RawRow, c: Col, row: u64, max: i32) -> Result<i32, Rejection> {
    let s = r.get(c);
    if s.is_empty() {
        return Err(reject(row, c.name(), "required"));
    }
    match s.parse::<i32>() {
        Ok(v) if (0..=max).contains(&v) => Ok(v),
        Ok(_) => Err(reject(row, c.name(), "out of range")),
        Err(_) => Err(reject(row, c.name(), "not a whole number")),
    }
}

/// Parses `412.50` (pounds) into pence.
fn pence(s: &str) -> Option<i32> {
    let (pounds, p) = match s.split_once('.') {
        Some((a, b)) if b.len() <= 2 && !b.is_empty() => (a, b),
        Some(_) => return None,
        None => (s, "0"),
    };
    let pounds: i32 = pounds
        .parse()
        .ok()
        .filter(|v| (0..10_000_000).contains(v))?;
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut pp: i32 = p.parse().ok()?;
    if p.len() == 1 {
        pp *= 10;
    }
    Some(pounds * 100 + pp)
}

impl RowCtx<'_> {
    pub(super) fn parse_row(&self, row: u64, r: &RawRow, scratch: &mut String) -> Parsed {
        match self.delivery.kind {
            SourceKind::Claims => self.claim(row, r),
            SourceKind::Case => {
                let person = self.identity(row, r, scratch)?;
                self.case_member(row, r).map(|m| Row {
                    number: row,
                    person: Some(person),
                    body: RowBody::CaseMember(m),
                })
            }
            _ => {
                // Parse the event first: a bad event row need not be hashed.
                let ev = self.event(row, r)?;
                let person = self.identity(row, r, scratch)?;
                Ok(Row {
                    number: row,
                    person: Some(person),
                    body: RowBody::Event(ev),
                })
            }
        }
    }

    fn identity(
        &self,
        row: u64,
        r: &RawRow,
        scratch: &mut String,
    ) -> Result<PersonTokens, Rejection> {
        let raw = RawIdentity {
            forename: r.get(Col::Forename),
            surname: r.get(Col::Surname),
            dob: r.get(Col::Dob),
            postcode: r.get(Col::Postcode),
            address: r.get(Col::Address),
            nhs_number: r.get(Col::NhsNumber),
            ni_number: r.get(Col::NiNumber),
            upn: r.get(Col::Upn),
        };
        self.pseudo
            .pseudonymise(&raw, scratch)
            .map_err(|IdentError { field, reason }| reject(row, field, reason))
    }

    fn claim(&self, row: u64, r: &RawRow) -> Parsed {
        let case_ref = reference(r, Col::CaseRef, row)?;
        let outcome_id = reference(r, Col::OutcomeId, row)?;
        let claim_date = date_col(r, Col::ClaimDate, true, row)?.expect("required");
        let kw = r.get(Col::KeyworkerRef);
        let team = r.get(Col::Team);
        Ok(Row {
            number: row,
            person: None,
            body: RowBody::Claim(ClaimRow {
                case_ref,
                outcome_id,
                claim_date,
                keyworker_ref: (!kw.is_empty()).then(|| kw.to_string()),
                team: (!team.is_empty()).then(|| team.to_string()),
            }),
        })
    }

    fn case_member(&self, row: u64, r: &RawRow) -> Result<CaseMemberRow, Rejection> {
        let case_ref = reference(r, Col::CaseRef, row)?;
        let role = Role::parse(&code_text(r.get(Col::Role))).ok_or_else(|| {
            reject(
                row,
                "role",
                "unknown code (main_carer, adult, child, other)",
            )
        })?;
        let case_start = date_col(r, Col::CaseStart, true, row)?.expect("required");
        let case_end = date_col(r, Col::CaseEnd, false, row)?;
        if case_end.is_some_and(|e| e < case_start) {
            return Err(reject(row, "case_end", "before case_start"));
        }
        let mut problems = Vec::new();
        for p in r.get(Col::Problems).split([';', ',']) {
            let p = code_text(p);
            if p.is_empty() {
                continue;
            }
            if !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            {
                return Err(reject(
                    row,
                    "problems",
                    "problem codes are letters, digits, _ and .",
                ));
            }
            problems.push(p);
        }
        Ok(CaseMemberRow {
            case_ref,
            role,
            case_start,
            case_end,
            problems,
        })
    }

    fn event(&self, row: u64, r: &RawRow) -> Result<Event, Rejection> {
        let rt = code_text(r.get(Col::RecordType));
        let kind = EventKind::parse(&rt)
            .filter(|k| k.source() == self.delivery.kind)
            .ok_or_else(|| {
                reject(
                    row,
                    "record_type",
                    "unknown record type for this source kind",
                )
            })?;
        let mut measure = Measure::None;
        let (start, end) = if kind == EventKind::Attendance {
            let (s, e) = parse_term(r.get(Col::Term)).ok_or_else(|| {
                reject(
                    row,
                    "term",
                    "not a term (YYYY-autumn, YYYY-spring, YYYY-summer)",
                )
            })?;
            let possible = int_col(r, Col::PossibleSessions, row, 1000)?;
            let attended = int_col(r, Col::AttendedSessions, row, 1000)?;
            let auth = int_col(r, Col::AuthorisedAbsence, row, 1000)?;
            let unauth = int_col(r, Col::UnauthorisedAbsence, row, 1000)?;
            if attended + auth + unauth > possible {
                return Err(reject(
                    row,
                    "possible_sessions",
                    "attended plus absences exceed possible sessions",
                ));
            }
            measure = Measure::Attendance(Sessions {
                possible,
                attended,
                authorised: auth,
                unauthorised: unauth,
            });
            (s, Some(e))
        } else {
            let start = date_col(r, Col::Date, true, row)?.expect("required");
            let end = if kind.is_spell() {
                date_col(r, Col::EndDate, kind == EventKind::UcEarnings, row)?
            } else {
                None
            };
            if end.is_some_and(|e| e < start) {
                return Err(reject(row, "end_date", "before date"));
            }
            (start, end)
        };
        match kind {
            EventKind::DashAssessment => measure = Measure::Score(int_col(r, Col::Score, row, 27)?),
            EventKind::Suspension => {
                measure = Measure::Days(int_col(r, Col::Days, row, 45)?.max(0) as u32)
            }
            EventKind::UcEarnings => {
                measure = Measure::Pence(pence(r.get(Col::Amount)).ok_or_else(|| {
                    reject(row, "amount", "not an amount in pounds (e.g. 412.50)")
                })?)
            }
            _ => {}
        }
        if measure == Measure::Days(0) {
            return Err(reject(row, "days", "out of range"));
        }
        let mut code = 0u8;
        if let Some(spec) = kind.code_spec() {
            let column = Col::of_code_field(spec.field);
            let text = code_text(r.get(column));
            if text.is_empty() {
                if spec.required {
                    return Err(reject(row, column.name(), "required"));
                }
            } else {
                code = spec
                    .codes
                    .iter()
                    .position(|c| *c == text)
                    .ok_or_else(|| reject(row, column.name(), "unknown code"))?
                    as u8;
            }
        }
        if let Some(p) = self.delivery.period {
            let inside = if kind.is_spell() {
                p.overlaps(start, end.unwrap_or(p.to.max(start)))
            } else {
                p.contains(start)
            };
            if !inside {
                let col = if kind == EventKind::Attendance {
                    "term"
                } else {
                    "date"
                };
                return Err(reject(row, col, "outside the delivery's period"));
            }
        }
        Ok(Event {
            kind,
            start,
            end,
            code,
            measure,
        })
    }
}

fn reference(r: &RawRow, c: Col, row: u64) -> Result<String, Rejection> {
    let s = r.get(c);
    if s.is_empty() {
        return Err(reject(row, c.name(), "required"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
    {
        return Err(reject(
            row,
            c.name(),
            "references are letters, digits and - _ . /",
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pence_parsing() {
        assert_eq!(pence("412.50"), Some(41250));
        assert_eq!(pence("412.5"), Some(41250));
        assert_eq!(pence("330"), Some(33000));
        assert_eq!(pence("1.234"), None);
        assert_eq!(pence("-3"), None);
    }
}
