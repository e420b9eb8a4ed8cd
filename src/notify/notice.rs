//! The notice: what a coordinator receives for one decided claim, and its
//! stable id.

use chrono::{DateTime, NaiveDate, Utc};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The four verdicts a notice can carry.
pub const VERDICTS: [&str; 4] = ["verified", "contradicted", "insufficient", "attested"];

/// A verified-outcome notice: one decided claim, as sent to coordinators.
///
/// Field order here is the order in the JSON. See `docs/notices.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// `ntc_` + 32 lowercase hex characters; see [`notice_id`].
    pub id: String,
    /// Outcomes framework id, e.g. `"sf-2022"`.
    pub framework: String,
    /// Version of that framework the claim was judged against.
    pub framework_version: String,
    /// Outcome within the framework, e.g. `"school-attendance"`.
    pub outcome_id: String,
    /// The council's case reference for the family.
    pub case_ref: String,
    /// The date the claim is made for.
    pub claim_date: NaiveDate,
    /// One of [`VERDICTS`].
    pub verdict: String,
    /// Which decision of this claim this is: 0 for its first, one more
    /// each time its verdict (or framework version) changed. Part of the
    /// id, so a verdict that flips back is a new notice.
    #[serde(default)]
    pub sequence: u32,
    /// The id of the last notice sent for this claim, which this one
    /// replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
    /// Summary of the evidence: sources, periods, counts, pseudonymous
    /// person tokens. Never raw identifiers; the caller fills it.
    pub evidence: serde_json::Value,
    /// Other outcome ids this same evidence also supports.
    #[serde(default)]
    pub also_evidences: Vec<String>,
    /// When the verdict was reached.
    pub decided_at: DateTime<Utc>,
    /// When this notice was created.
    pub issued_at: DateTime<Utc>,
}

/// Why a [`Notice`] is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoticeError {
    #[error("verdict {0:?} is not one of verified, contradicted, insufficient, attested")]
    Verdict(String),
    #[error("notice id {found:?} does not match its fields (expected {expected:?})")]
    IdMismatch { expected: String, found: String },
    #[error("field {0} is empty or malformed (control character, or evidence not an object)")]
    Field(&'static str),
    #[error("an insufficient verdict must name its missing periods (evidence.missing_periods)")]
    MissingPeriods,
}

/// The stable id of a notice: `"ntc_"` + the first 32 hex characters of
/// SHA-256 over the fields joined with 0x1f (unit separator). The date is
/// written `YYYY-MM-DD`; a `sequence` above 0 is appended in decimal (so a
/// claim's first decision keeps the id earlier versions gave it).
pub fn notice_id(
    framework: &str,
    framework_version: &str,
    outcome_id: &str,
    case_ref: &str,
    claim_date: NaiveDate,
    verdict: &str,
    sequence: u32,
) -> String {
    let date = claim_date.format("%Y-%m-%d").to_string();
    let seq = sequence.to_string();
    let mut h = Sha256::new();
    let mut parts = vec![
        framework,
        framework_version,
        outcome_id,
        case_ref,
        date.as_str(),
        verdict,
    ];
    if sequence > 0 {
        parts.push(seq.as_str());
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0x1f_u8]);
        }
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(36);
    id.push_str("ntc_");
    id.push_str(&hex::encode(digest)[..32]);
    id
}

pub(crate) fn is_notice_id(s: &str) -> bool {
    s.len() == 36
        && s.starts_with("ntc_")
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Notice {
    /// The id these fields should carry.
    pub fn expected_id(&self) -> String {
        notice_id(
            &self.framework,
            &self.framework_version,
            &self.outcome_id,
            &self.case_ref,
            self.claim_date,
            &self.verdict,
            self.sequence,
        )
    }

    /// Checks the verdict, that key fields are non-empty and free of control
    /// characters (so the 0x1f join is unambiguous), that an `insufficient`
    /// verdict names its gaps in a non-empty `evidence.missing_periods`
    /// array, and that `id` matches.
    pub fn validate(&self) -> Result<(), NoticeError> {
        if !VERDICTS.contains(&self.verdict.as_str()) {
            return Err(NoticeError::Verdict(self.verdict.clone()));
        }
        for (name, v) in [
            ("framework", &self.framework),
            ("framework_version", &self.framework_version),
            ("outcome_id", &self.outcome_id),
            ("case_ref", &self.case_ref),
        ] {
            if v.is_empty() || v.chars().any(char::is_control) {
                return Err(NoticeError::Field(name));
            }
        }
        if !self.evidence.is_object() {
            return Err(NoticeError::Field("evidence"));
        }
        if self.verdict == "insufficient" {
            let named = self
                .evidence
                .get("missing_periods")
                .and_then(|v| v.as_array())
                .is_some_and(|a| !a.is_empty());
            if !named {
                return Err(NoticeError::MissingPeriods);
            }
        }
        let expected = self.expected_id();
        if self.id != expected {
            return Err(NoticeError::IdMismatch {
                expected,
                found: self.id.clone(),
            });
        }
        Ok(())
    }
}
