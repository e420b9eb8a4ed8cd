//! Rule kinds: one file per kind, each holding the rule's data as written
//! in a framework file, its load-time checks, its plain-English explanation
//! and its decision.
//!
//! In: a `[outcomes.rule]` (or indicator) table, deserialised through the
//! [`Rule`] registry by its `type`. Out: through [`RuleKind`], problems for
//! the loader, text for auditors, and a [`Decision`] on a case.
//!
//! Promises: the registry is the only place that lists every kind; adding a
//! kind is one file here plus one variant of [`Rule`] and one arm of
//! [`Rule::kind`]. Every kind's struct denies unknown keys.

mod all_of;
mod attendance;
mod attested;
mod closed_not_reopened;
mod count;
mod earnings;
mod no_repeat;
mod reduction;
mod regular;
mod score_reduction;
mod spell;
mod unavailable;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::context::{sources_of, Ctx};
use super::Decision;
use crate::framework::{Framework, Quantifier, Scope};
use crate::records::{EventKind, SourceKind};

pub use all_of::{AllOf, AnyOf};
pub use attendance::{Attendance, Judged, Possible, RawAttendance};
pub use attested::Attested;
pub use closed_not_reopened::ClosedNotReopened;
pub use count::Count;
pub use earnings::Earnings;
pub use no_repeat::NoRepeat;
pub use reduction::{Counted, EmptyBaseline, Fall, Percent, RawReduction, Reduction, Scaling};
pub use regular::Regular;
pub use score_reduction::ScoreReduction;
pub use spell::Spell;
pub use unavailable::Unavailable;

/// What every rule file needs.
mod prelude {
    pub(super) use std::collections::BTreeSet;
    pub(super) use std::fmt::Write as _;

    pub(super) use chrono::{Months, NaiveDate};
    pub(super) use serde::{Deserialize, Serialize};

    pub(super) use super::super::case::{age_at, pseudonym, Member};
    pub(super) use super::super::context::{
        code_matches, combine, finish, in_window, last_weeks, no_window, sources_of, Ctx, Part,
    };
    pub(super) use super::super::{Decision, Verdict};
    pub(super) use super::{kinds_text, Checker, Rule, RuleClass, RuleKind};
    pub(super) use crate::framework::explain::{
        anchor_name, anchor_text, quant, scope_text, window_text,
    };
    pub(super) use crate::framework::{
        AgeThreshold, Anchor, Compare, DatedMonths, Direction, Framework, Quantifier, Scope,
        Threshold, Tier, Window,
    };
    pub(super) use crate::ingest::matching::PersonId;
    pub(super) use crate::records::terms::terms_ending_by;
    pub(super) use crate::records::{EventKind, Period, SourceKind};
}

/// One kind of rule: checked when the framework loads, explained to
/// auditors, and decided on a case.
pub trait RuleKind {
    /// What kind of outcome the rule makes.
    fn class(&self) -> RuleClass {
        RuleClass::DataVerifiable
    }

    /// The event kinds the rule itself reads (its scope's are added by
    /// [`RuleKind::event_kinds`]).
    fn kinds(&self) -> Vec<EventKind>;

    /// Who in the family the rule looks at, if it has a scope.
    fn scope(&self) -> Option<&Scope> {
        None
    }

    /// Whether the rule itself narrows its scope by its own records (those
    /// with an episode to close, a first event, a starting score, a
    /// baseline): with no one left, "no one in scope" is known only where
    /// the rule's records are delivered (see `applicable`).
    fn scope_rests_on_records(&self) -> bool {
        false
    }

    /// Every event kind the rule reads, its scope's conditions included.
    fn event_kinds(&self) -> Vec<EventKind> {
        let mut v = self.kinds();
        v.extend(self.scope().map(scope_kinds).unwrap_or_default());
        v.sort();
        v.dedup();
        v
    }

    /// The source kinds the rule needs feeds from.
    fn sources(&self) -> Vec<SourceKind> {
        sources_of(&self.event_kinds())
    }

    /// Reports what serde cannot see (contradictory bounds, unknown codes,
    /// settings a key needs) into the checker.
    fn check(&self, c: &mut Checker);

    /// Appends the rule in plain English, indented by `depth`.
    fn explain(&self, fw: &Framework, depth: usize, out: &mut String);

    /// Decides the rule on a case.
    fn decide(&self, ctx: &Ctx) -> Decision;
}

/// The rule vocabulary, tagged by `type`. See `docs/frameworks.md`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Rule {
    Count(Count),
    Attendance(Attendance),
    Reduction(Reduction),
    Spell(Spell),
    ClosedNotReopened(ClosedNotReopened),
    Earnings(Earnings),
    Regular(Regular),
    ScoreReduction(ScoreReduction),
    NoRepeat(NoRepeat),
    AllOf(AllOf),
    AnyOf(AnyOf),
    Attested(Attested),
    Unavailable(Unavailable),
}

/// What kind of outcome a rule makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleClass {
    DataVerifiable,
    Attested,
    Unavailable,
}

impl Rule {
    /// The one dispatch from the registry to the kind.
    pub fn kind(&self) -> &dyn RuleKind {
        match self {
            Rule::Count(r) => r,
            Rule::Attendance(r) => r,
            Rule::Reduction(r) => r,
            Rule::Spell(r) => r,
            Rule::ClosedNotReopened(r) => r,
            Rule::Earnings(r) => r,
            Rule::Regular(r) => r,
            Rule::ScoreReduction(r) => r,
            Rule::NoRepeat(r) => r,
            Rule::AllOf(r) => r,
            Rule::AnyOf(r) => r,
            Rule::Attested(r) => r,
            Rule::Unavailable(r) => r,
        }
    }

    pub fn class(&self) -> RuleClass {
        self.kind().class()
    }

    /// Event kinds a rule reads.
    pub fn event_kinds(&self) -> Vec<EventKind> {
        self.kind().event_kinds()
    }

    /// Source kinds a rule needs feeds from.
    pub fn sources(&self) -> Vec<SourceKind> {
        self.kind().sources()
    }

    /// The rule in plain English, for auditors.
    pub fn explain(&self, fw: &Framework) -> String {
        let mut out = String::new();
        self.kind().explain(fw, 0, &mut out);
        out
    }
}

// serde defaults of the kinds' keys.
pub(crate) fn yes() -> bool {
    true
}
pub(crate) fn one() -> u32 {
    1
}
pub(crate) fn twelve() -> u32 {
    12
}
pub(crate) fn school_age() -> Scope {
    Scope::SchoolAge
}
pub(crate) fn adults() -> Scope {
    Scope::Adults
}
pub(crate) fn any() -> Quantifier {
    Quantifier::Any
}
pub(crate) fn together() -> Quantifier {
    Quantifier::Together
}

/// Event kinds a scope's conditions read.
fn scope_kinds(scope: &Scope) -> Vec<EventKind> {
    match scope {
        Scope::Met(c) | Scope::NotMet(c) => c.events.clone(),
        Scope::All(scopes) => scopes.iter().flat_map(scope_kinds).collect(),
        _ => vec![],
    }
}

/// "offence or arrest (caution, charge)".
fn kinds_text(e: &[EventKind], codes: &[String]) -> String {
    let k: Vec<_> = e.iter().map(|k| k.name().replace('_', " ")).collect();
    let mut s = k.join(" or ");
    if !codes.is_empty() {
        let _ = write!(s, " ({})", codes.join(", ").replace('_', " "));
    }
    s
}

/// Collects one outcome's (or indicator's) rule problems, each with the
/// id's line.
pub struct Checker<'a> {
    pub fw: &'a Framework,
    id: &'a str,
    line: Option<usize>,
    issues: &'a mut Vec<(Option<usize>, String)>,
}

impl<'a> Checker<'a> {
    pub fn new(
        fw: &'a Framework,
        id: &'a str,
        line: Option<usize>,
        issues: &'a mut Vec<(Option<usize>, String)>,
    ) -> Self {
        Checker {
            fw,
            id,
            line,
            issues,
        }
    }

    pub fn bad(&mut self, msg: String) {
        let id = self.id;
        self.issues.push((self.line, format!("{id}: {msg}")));
    }

    /// Checks a rule (or a part of one) with the same id and line.
    pub fn rule(&mut self, r: &Rule) {
        r.kind().check(self);
    }

    /// Every code must be a code of one of the events.
    pub fn codes(&mut self, events: &[EventKind], codes: &[String]) {
        for c in codes {
            if !events.iter().any(|k| k.code_of(c).is_some()) {
                self.bad(format!(
                    "code '{c}' is not a code of {:?}",
                    events.iter().map(|k| k.name()).collect::<Vec<_>>()
                ));
            }
        }
    }

    pub fn window(&mut self, w: &crate::framework::Window) {
        if let Some(m) = crate::framework::check_window(w) {
            self.bad(m.into());
        }
    }

    pub fn scope(&mut self, s: &Scope) {
        let mut problems = Vec::new();
        crate::framework::check_scope(s, &mut |m| problems.push(m));
        for m in problems {
            self.bad(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped rule survives a round trip through its written form:
    /// the typed kinds lose none of the keys.
    #[test]
    fn shipped_rules_round_trip() {
        let fws = Framework::all_builtin();
        assert_eq!(fws.len(), crate::framework::BUILTIN.len());
        for fw in fws {
            let rules = fw.outcomes.iter().map(|o| &o.rule).chain(
                fw.problems
                    .iter()
                    .flat_map(|p| p.indicators.iter().map(|i| &i.rule)),
            );
            for r in rules {
                let json = serde_json::to_string(r).unwrap();
                let back: Rule =
                    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
                assert_eq!(&back, r, "{json}");
                assert_eq!(back.explain(&fw), r.explain(&fw));
            }
        }
    }

    /// An unknown key in any kind's table is an error naming it, with the
    /// rule's line, never ignored (the reduction and attendance kinds are
    /// read through their written forms, which deny unknown keys too).
    #[test]
    fn unknown_keys_are_errors_in_every_kind() {
        let base = "[framework]\nid = \"u\"\ncouncil = \"T\"\ntitle = \"T\"\nversion = \"1\"\n\n[[problems]]\nid = \"p\"\nnumber = \"1\"\ntitle = \"P\"\n\n[[outcomes]]\nid = \"U-1\"\nproblem = \"p\"\nwording = \"w\"\n";
        for rule in [
            "type = \"count\", events = [\"offence\"], max = 0, window = { months = 6 }",
            "type = \"reduction\", events = [\"offence\"], fewer = true, baseline = { months = 6 }, window = { months = 6 }",
            "type = \"attendance\", terms = 3, thresholds = [{ percent = 90.0 }]",
            "type = \"attested\"",
            "type = \"all_of\", rules = [{ type = \"attested\" }]",
        ] {
            let text = format!("{base}rule = {{ {rule}, bogus_key = 1 }}\n");
            let err = Framework::parse(std::path::Path::new("u.toml"), &text).unwrap_err();
            assert_eq!(err.issues.len(), 1, "{err}");
            assert_eq!(err.issues[0].0, Some(16), "{err}");
            assert!(err.issues[0].1.contains("bogus_key"), "{rule}: {err}");
        }
    }
}
