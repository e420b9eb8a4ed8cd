//! Load-time checks shared by rule kinds: a window names exactly one
//! length, a scope's conditions are consistent and name real codes.
//!
//! In: a window or scope as written. Out: a problem message, if any (the
//! caller adds the outcome's id and line). Promises: nothing is silently
//! accepted that could never match.

use super::{Direction, Scope, Window};

pub(crate) fn check_window(w: &Window) -> Option<&'static str> {
    let n = [
        w.months.is_some(),
        w.weeks.is_some(),
        w.days.is_some(),
        w.terms.is_some(),
        w.since.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if w.since.is_some() && w.direction == Direction::After {
        return Some("a window with since runs up to its anchor; direction = after does not apply");
    }
    (n != 1).then_some("a window needs exactly one of months, weeks, days, terms or since")
}

/// Reports a scope's problems into `bad`.
pub(crate) fn check_scope(s: &Scope, bad: &mut dyn FnMut(String)) {
    match s {
        Scope::Met(c) | Scope::NotMet(c) => {
            if c.adults_only && c.children_only {
                bad("a condition cannot be adults_only and children_only".into());
            }
            for code in &c.codes {
                if !c.events.iter().any(|k| k.code_of(code).is_some()) {
                    bad(format!(
                        "code '{code}' is not a code of {:?}",
                        c.events.iter().map(|k| k.name()).collect::<Vec<_>>()
                    ));
                }
            }
        }
        Scope::Ages { min, max } | Scope::YearGroups { min, max } if min > max => {
            bad("a scope's min is above its max".into())
        }
        Scope::All(scopes) => {
            if scopes.is_empty() {
                bad("scope all needs scopes".into());
            }
            for x in scopes {
                check_scope(x, bad);
            }
        }
        _ => {}
    }
}
