//! `all_of` and `any_of`: rules combined. All of: the first of
//! contradicted, insufficient, attested that a part has decides, else
//! verified; any of: the first of verified, insufficient, attested, else
//! contradicted. Parts with no one in scope are left out while others apply.

use super::prelude::*;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllOf {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnyOf {
    pub rules: Vec<Rule>,
}

/// A combination is data-verifiable if any part is, else attested if any
/// part is.
fn class_of(rules: &[Rule]) -> RuleClass {
    let classes: Vec<_> = rules.iter().map(Rule::class).collect();
    if classes.contains(&RuleClass::DataVerifiable) {
        RuleClass::DataVerifiable
    } else if classes.contains(&RuleClass::Attested) {
        RuleClass::Attested
    } else {
        RuleClass::Unavailable
    }
}

fn check_parts(rules: &[Rule], c: &mut Checker) {
    if rules.is_empty() {
        c.bad("all_of / any_of need rules".into());
    }
    for r in rules {
        c.rule(r);
    }
}

fn explain_parts(title: &str, rules: &[Rule], fw: &Framework, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{title}:");
    for r in rules {
        r.kind().explain(fw, depth + 1, out);
    }
}

/// The two combinations differ only in their title, whether every part
/// must hold, and the order in which the parts' verdicts decide.
macro_rules! combination {
    ($kind:ident, $title:literal, $all:literal, $precedence:expr, $otherwise:expr) => {
        impl RuleKind for $kind {
            fn class(&self) -> RuleClass {
                class_of(&self.rules)
            }

            fn kinds(&self) -> Vec<EventKind> {
                self.rules.iter().flat_map(Rule::event_kinds).collect()
            }

            fn scope_rests_on_records(&self) -> bool {
                self.rules.iter().any(|r| r.kind().scope_rests_on_records())
            }

            fn check(&self, c: &mut Checker) {
                check_parts(&self.rules, c);
            }

            fn explain(&self, fw: &Framework, depth: usize, out: &mut String) {
                explain_parts($title, &self.rules, fw, depth, out);
            }

            fn decide(&self, ctx: &Ctx) -> Decision {
                combine_rules(ctx, &self.rules, $all, $precedence, $otherwise)
            }
        }
    };
}

combination!(
    AllOf,
    "All of",
    true,
    [
        Verdict::Contradicted,
        Verdict::Insufficient,
        Verdict::Attested
    ],
    Verdict::Verified
);
combination!(
    AnyOf,
    "Any of",
    false,
    [Verdict::Verified, Verdict::Insufficient, Verdict::Attested],
    Verdict::Contradicted
);

/// Decides `all_of` (`all`) or `any_of`: the first verdict of `precedence`
/// that some applicable part has, else `otherwise`.
fn combine_rules(
    ctx: &Ctx,
    rules: &[Rule],
    all: bool,
    precedence: [Verdict; 3],
    otherwise: Verdict,
) -> Decision {
    let parts = applicable(rules.iter().map(|r| r.kind().decide(ctx)).collect());
    if parts.iter().all(|p| p.not_applicable) {
        let mut d = merge(Verdict::Insufficient, parts, all);
        d.not_applicable = true;
        return d;
    }
    let verdict = precedence
        .into_iter()
        .find(|v| parts.iter().any(|p| p.verdict == *v))
        .unwrap_or(otherwise);
    merge(verdict, parts, all)
}

/// Drops alternatives with no one in scope, unless nothing else is left.
fn applicable(parts: Vec<Decision>) -> Vec<Decision> {
    if parts.iter().all(|p| p.not_applicable) {
        return parts;
    }
    parts.into_iter().filter(|p| !p.not_applicable).collect()
}

fn merge(verdict: Verdict, parts: Vec<Decision>, all: bool) -> Decision {
    let mut d = Decision::new(verdict);
    for p in parts {
        // Keep the evidence that explains the verdict: for all_of every
        // part; for any_of the deciding parts first.
        if all || p.verdict == verdict || verdict != Verdict::Verified {
            d.evidence.extend(p.evidence);
        }
        if verdict == Verdict::Insufficient {
            d.missing.extend(p.missing);
            d.earliest_decidable = match (d.earliest_decidable, p.earliest_decidable) {
                (Some(a), Some(b)) => Some(if all { a.max(b) } else { a.min(b) }),
                (a, b) => a.or(b),
            };
        }
    }
    d.missing.sort();
    d.missing.dedup();
    d
}
