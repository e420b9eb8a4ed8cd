//! Identifiers as a subject (or the officer answering for them) gives
//! them: read from standard input or a prompt, never from the command line.
//!
//! In: text of `field: value` lines (the feed column names: `forename`,
//! `surname`, `dob`, `postcode`, `address`, `nhs_number`, `ni_number`,
//! `upn`); a blank line or `---` starts another identity (a former name or
//! address); `#` starts a comment. Out: [`Identities`], each value held in
//! memory that is wiped when dropped.
//!
//! Promises: an error names the line and the field, never the value; the
//! text read is wiped as it is parsed.

use zeroize::Zeroizing;

use crate::ingest::pseudonymise::RawIdentity;

/// The fields an identity may give, as feeds name their columns.
pub const FIELDS: [&str; 8] = [
    "forename",
    "surname",
    "dob",
    "postcode",
    "address",
    "nhs_number",
    "ni_number",
    "upn",
];

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("line {line}: unknown field `{field}` (use forename, surname, dob, postcode, address, nhs_number, ni_number, upn)")]
    UnknownField { line: usize, field: String },
    #[error("line {line}: expected `field: value`")]
    NoSeparator { line: usize },
    #[error("no identifiers given: write `field: value` lines on standard input (see docs/subject-rights.md)")]
    Empty,
    #[error("reading standard input")]
    Read(#[source] std::io::Error),
}

/// One identity's values, by [`FIELDS`] position; empty is absent.
#[derive(Default)]
pub struct Identity {
    values: [Zeroizing<String>; 8],
}

impl Identity {
    pub fn is_empty(&self) -> bool {
        self.values.iter().all(|v| v.trim().is_empty())
    }

    fn set(&mut self, field: usize, v: &str) {
        self.values[field] = Zeroizing::new(v.trim().to_string());
    }

    /// The identity as the pseudonymiser takes it.
    pub fn raw(&self) -> RawIdentity<'_> {
        let v = |i: usize| self.values[i].as_str();
        RawIdentity {
            forename: v(0),
            surname: v(1),
            dob: v(2),
            postcode: v(3),
            address: v(4),
            nhs_number: v(5),
            ni_number: v(6),
            upn: v(7),
        }
    }
}

/// Every identity given.
pub struct Identities(pub Vec<Identity>);

/// Parses `field: value` lines (wiping `text`).
pub fn parse(mut text: Zeroizing<String>) -> Result<Identities, InputError> {
    let mut out = Vec::new();
    let mut cur = Identity::default();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        if t.is_empty() || t == "---" {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let Some((k, v)) = t.split_once([':', '=']) else {
            return Err(InputError::NoSeparator { line: n + 1 });
        };
        let k = k.trim().to_ascii_lowercase();
        let Some(i) = FIELDS.iter().position(|f| *f == k) else {
            return Err(InputError::UnknownField {
                line: n + 1,
                field: k.chars().take(20).collect(),
            });
        };
        cur.set(i, v);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    zeroize::Zeroize::zeroize(&mut *text);
    if out.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(Identities(out))
}

/// Reads identities from standard input: a prompt per field on a terminal
/// (a blank answer skips a field; the prompts go to standard error), the
/// `field: value` format otherwise.
pub fn read_stdin() -> Result<Identities, InputError> {
    use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
    let stdin = std::io::stdin();
    let mut text = Zeroizing::new(String::new());
    if stdin.is_terminal() {
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "identifiers of the person (Enter skips a field; they are not echoed back or kept):"
        );
        for f in FIELDS {
            let _ = write!(err, "  {f}: ");
            let _ = err.flush();
            let mut line = Zeroizing::new(String::new());
            stdin
                .lock()
                .read_line(&mut line)
                .map_err(InputError::Read)?;
            if !line.trim().is_empty() {
                text.push_str(f);
                text.push_str(": ");
                text.push_str(line.trim());
                text.push('\n');
            }
        }
    } else {
        stdin
            .lock()
            .read_to_string(&mut text)
            .map_err(InputError::Read)?;
    }
    parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_parse_and_errors_never_carry_the_value() {
        let ids = parse(Zeroizing::new(
            "# a request\nforename: Amy\nSurname = Jones\ndob: 2009-05-06\n\n---\nupn: A123\n"
                .into(),
        ))
        .unwrap();
        assert_eq!(ids.0.len(), 2);
        assert_eq!(ids.0[0].raw().surname, "Jones");
        assert_eq!(ids.0[1].raw().upn, "A123");
        let e = parse(Zeroizing::new("nhs: 9434765919\n".into()))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 1") && !e.contains("9434765919"), "{e}");
        let e = parse(Zeroizing::new("Jones\n".into()))
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("Jones"), "{e}");
        assert!(matches!(
            parse(Zeroizing::new("\n# x\n".into())),
            Err(InputError::Empty)
        ));
    }
}
