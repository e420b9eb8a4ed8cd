//! The one error-chain printer, and the one error for an input file with
//! problems at known lines.
//!
//! In: any error. Out: its message and every cause's, joined by ": ".
//! Promises: each cause is printed once. Our own errors never interpolate
//! their `#[source]` in their message (the chain shows it); for third-party
//! errors that do, a cause whose text the line already holds is skipped.
//! `main` prints a failed command through this, and notice delivery keeps
//! its failure text the same way.

use std::fmt;
use std::path::PathBuf;

/// `e` and its causes as one line: `outer: middle: inner`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    Chain(e).to_string()
}

/// Displays an error with its causes (see [`chain`]).
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut cur = self.0.source();
        while let Some(cause) = cur {
            let text = cause.to_string();
            if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cur = cause.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the feed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("opening f.csv")]
    struct Middle(#[source] std::io::Error);

    /// An error that (wrongly) repeats its cause in its own message.
    #[derive(Debug, thiserror::Error)]
    #[error("wrapped: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn every_cause_once_in_order() {
        let e = Outer(Middle(std::io::Error::other("disk on fire")));
        assert_eq!(chain(&e), "reading the feed: opening f.csv: disk on fire");
        let r = Repeats(std::io::Error::other("gone"));
        assert_eq!(chain(&r), "wrapped: gone");
        let a = anyhow::Error::new(e).context("ingesting");
        assert_eq!(
            chain(a.as_ref()),
            "ingesting: reading the feed: opening f.csv: disk on fire"
        );
    }
}

/// Every problem found in one input file that a person writes (a framework,
/// a scenario file), each with its line where known, so all of them can be
/// fixed in one pass. Displayed as `NOUN PATH is not valid:` and then one
/// `PATH:LINE: message` per problem. (A config's problems also carry a key
/// and a hint: see `config::ConfigError`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFile {
    /// What the file is, e.g. "framework".
    pub noun: &'static str,
    pub path: PathBuf,
    pub issues: Vec<(Option<usize>, String)>,
}

impl fmt::Display for InvalidFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} is not valid:", self.noun, self.path.display())?;
        for (line, msg) in &self.issues {
            match line {
                Some(l) => write!(f, "\n  {}:{l}: {msg}", self.path.display())?,
                None => write!(f, "\n  {}: {msg}", self.path.display())?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for InvalidFile {}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}
