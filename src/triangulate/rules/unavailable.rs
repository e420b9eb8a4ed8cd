//! `unavailable`: the plan names a source that is not currently available;
//! the outcome is practitioner-attested only, never data-verified.

use super::prelude::*;

/// The plan names a source that is not currently available.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Unavailable {
    pub reason: String,
}

impl RuleKind for Unavailable {
    fn class(&self) -> RuleClass {
        RuleClass::Unavailable
    }

    fn kinds(&self) -> Vec<EventKind> {
        vec![]
    }

    fn check(&self, _c: &mut Checker) {}

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let _ = writeln!(
            out,
            "{pad}Not verifiable: {}. Never reported as data-verified.",
            self.reason
        );
    }

    fn decide(&self, _ctx: &Ctx) -> Decision {
        Decision::noted(
            Verdict::Attested,
            &[],
            vec![],
            format!(
                "not data-verifiable ({}): practitioner-attested only",
                self.reason
            ),
        )
    }
}
