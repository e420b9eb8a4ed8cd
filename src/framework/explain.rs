//! Plain-English pieces shared by every rule kind's explanation: who a
//! scope is, what a window covers, how people are quantified.
//!
//! In: the framework's typed vocabulary. Out: phrases for auditors.
//! Promises: the same scope or window always reads the same way.

use super::{Anchor, Condition, Direction, Quantifier, Scope, Window};

pub(crate) fn quant(q: Quantifier) -> &'static str {
    match q {
        Quantifier::Each => "Every person in",
        Quantifier::Any => "At least one person in",
        Quantifier::Together => "Taken together,",
    }
}

/// "the adults who had benefit spell (jsa) when the case started".
pub(crate) fn condition_text(c: &Condition, verb: &str) -> String {
    let who = if c.adults_only {
        "adults"
    } else if c.children_only {
        "children"
    } else {
        "members"
    };
    let events: Vec<String> = c
        .events
        .iter()
        .map(|k| k.name().replace('_', " "))
        .collect();
    let codes = if c.codes.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.codes.join(", "))
    };
    let when = match (c.months, c.through_claim) {
        (0, false) => "when the case started".to_string(),
        (m, false) => format!("in the {m} months before the case started"),
        (0, true) => "between the case start and the claim date".to_string(),
        (m, true) => format!("between {m} months before the case started and the claim date"),
    };
    format!("the {who} who {verb} {}{codes} {when}", events.join(" or "))
}

pub fn scope_text(s: &Scope) -> String {
    match s {
        Scope::Family => "the family".into(),
        Scope::Children => "the family's children".into(),
        Scope::SchoolAge => "the family's school-age children".into(),
        Scope::Adults => "the family's adults".into(),
        Scope::Flagged => "the members flagged with this problem".into(),
        Scope::Household => "the household (members and people at their address)".into(),
        Scope::Met(c) => condition_text(c, "had"),
        Scope::NotMet(c) => condition_text(c, "did not have"),
        Scope::Ages { min, max } => format!("the members aged {min} to {max}"),
        Scope::YearGroups { min, max } => format!(
            "the members in school year groups {} to {}",
            year_group_name(*min),
            year_group_name(*max)
        ),
        Scope::All(scopes) => scopes
            .iter()
            .map(scope_text)
            .collect::<Vec<_>>()
            .join(" who are also "),
    }
}

pub(crate) fn year_group_name(g: u32) -> String {
    if g == 0 {
        "reception".into()
    } else {
        format!("year {g}")
    }
}

pub(crate) fn anchor_name(a: Anchor) -> &'static str {
    match a {
        Anchor::Claim => "the claim date",
        Anchor::CaseStart => "the case start",
        Anchor::CaseEnd => "the case closure",
    }
}

pub(crate) fn anchor_text(a: Anchor, d: Direction) -> String {
    match d {
        Direction::Before => format!("up to {}", anchor_name(a)),
        Direction::After => format!("after {}", anchor_name(a)),
    }
}

pub fn window_text(w: &Window) -> String {
    if let Some(since) = w.since {
        return format!(
            "between {} and {}",
            anchor_name(since),
            anchor_name(w.anchor)
        );
    }
    let len = match (w.months, w.weeks, w.days, w.terms) {
        (Some(m), ..) => format!("{m} months"),
        (_, Some(wk), ..) => format!("{wk} weeks"),
        (_, _, Some(d), _) => format!("{d} days"),
        (_, _, _, Some(t)) => format!("{t} school terms"),
        _ => "an empty window".into(),
    };
    match w.direction {
        Direction::Before => format!("in the {len} up to {}", anchor_name(w.anchor)),
        Direction::After => format!("in the {len} after {}", anchor_name(w.anchor)),
    }
}
