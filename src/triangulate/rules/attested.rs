//! `attested`: only a practitioner can judge, so the claim itself is the
//! attestation; never reported as data-verified.

use super::prelude::*;

/// Only a practitioner can judge; the claim itself is the attestation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Attested {
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Steps or criteria the practitioner must record (e.g. Leicester's
    /// steps to success), and how many are needed.
    #[serde(default)]
    pub steps: Vec<String>,
    #[serde(default)]
    pub min_steps: Option<u32>,
    /// Further steps that may count towards `min_steps`, but at most
    /// `max_extra_steps` of them (e.g. Leicester's trigger outcomes, "can
    /// also count as 1 step"), under `extra_steps_condition`.
    #[serde(default)]
    pub extra_steps: Vec<String>,
    #[serde(default)]
    pub max_extra_steps: Option<u32>,
    #[serde(default)]
    pub extra_steps_condition: Option<String>,
}

impl RuleKind for Attested {
    fn class(&self) -> RuleClass {
        RuleClass::Attested
    }

    fn kinds(&self) -> Vec<EventKind> {
        vec![]
    }

    fn check(&self, c: &mut Checker) {
        let usable = self.steps.len() as u32
            + (self.extra_steps.len() as u32).min(self.max_extra_steps.unwrap_or(u32::MAX));
        if self.min_steps.is_some_and(|m| m > usable) {
            c.bad("min_steps is more than the steps that can count".into());
        }
        if self.max_extra_steps.is_some() && self.extra_steps.is_empty() {
            c.bad("max_extra_steps needs extra_steps".into());
        }
    }

    fn explain(&self, _fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let mut s = format!("{pad}Practitioner-evidenced: recorded as attested on the keyworker's claim; never reported as data-verified");
        if !self.evidence.is_empty() {
            let _ = write!(
                s,
                ". Evidence the plan expects: {}",
                self.evidence.join("; ")
            );
        }
        if !self.steps.is_empty() {
            let _ = write!(
                s,
                ". At least {} of these steps: {}",
                self.min_steps.unwrap_or(1),
                self.steps.join("; ")
            );
        }
        if !self.extra_steps.is_empty() {
            let _ = write!(
                s,
                ". {} of these may also count{}: {}",
                match self.max_extra_steps {
                    Some(m) => format!("At most {m}"),
                    None => "Any".into(),
                },
                self.condition(),
                self.extra_steps.join("; ")
            );
        }
        let _ = writeln!(out, "{s}.");
    }

    fn decide(&self, _ctx: &Ctx) -> Decision {
        let mut finding =
            "practitioner-evidenced: accepted on the keyworker's attestation".to_string();
        if !self.steps.is_empty() {
            let _ = write!(
                finding,
                "; the practitioner records at least {} of: {}",
                self.min_steps.unwrap_or(1),
                self.steps.join("; ")
            );
        }
        if !self.extra_steps.is_empty() {
            let _ = write!(
                finding,
                "; {} may also count{}: {}",
                self.max_extra_steps
                    .map_or("any".to_string(), |m| format!("at most {m}")),
                self.condition(),
                self.extra_steps.join("; ")
            );
        }
        if !self.evidence.is_empty() {
            let _ = write!(
                finding,
                "; evidence held by the practitioner: {}",
                self.evidence.join("; ")
            );
        }
        Decision::noted(Verdict::Attested, &[], vec![], finding)
    }
}

impl Attested {
    /// " (condition)" for the extra steps, or nothing.
    fn condition(&self) -> String {
        self.extra_steps_condition
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default()
    }
}
