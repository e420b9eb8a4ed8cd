//! The one error-chain printer.
//!
//! In: any error. Out: its message and every cause's, joined by ": ".
//! Promises: each cause is printed once. Our own errors never interpolate
//! their `#[source]` in their message (the chain shows it); for third-party
//! errors that do, a cause whose text the line already holds is skipped.
//! `main` prints a failed command through this, and notice delivery keeps
//! its failure text the same way.

use std::fmt;

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
