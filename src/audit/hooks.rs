//! The one-line calls the rest of the code records through, and the
//! entries built from the records they have in hand.
//!
//! In: an optional [`Audit`] (library users and tests may run without one;
//! every command and the daemon have one) and what happened. Out: entries.
//! Promise: with no audit log nothing happens; with one, a failed write is
//! the caller's error.

use super::{Action, Audit, AuditError};
use crate::notify::Notice;
use crate::triangulate::VerdictChange;

/// Records `action` if there is an audit log.
pub fn note(audit: Option<&Audit>, action: Action) -> Result<(), AuditError> {
    note_why(audit, None, action)
}

/// Records `action` with a stated reason if there is an audit log.
pub fn note_why(
    audit: Option<&Audit>,
    reason: Option<&str>,
    action: Action,
) -> Result<(), AuditError> {
    match audit {
        Some(a) => a.record_why(reason, action).map(|_| ()),
        None => Ok(()),
    }
}

/// Records several actions with one fsync if there is an audit log.
pub fn note_all(
    audit: Option<&Audit>,
    actions: impl IntoIterator<Item = Action>,
) -> Result<(), AuditError> {
    match audit {
        Some(a) => a.record_all(None, actions).map(|_| ()),
        None => Ok(()),
    }
}

impl Action {
    /// A claim's decision, first made or changed.
    pub fn verdict(rec: &VerdictChange) -> Action {
        Action::VerdictChanged {
            case_ref: rec.case_ref.clone(),
            outcome: rec.outcome_id.clone(),
            claim_date: rec.claim_date,
            verdict: rec.verdict.name().to_string(),
            previous: rec.previous.map(|p| p.name().to_string()),
            framework: rec.framework.clone(),
            framework_version: rec.framework_version.clone(),
            as_of_delivery: rec.as_of_delivery,
        }
    }

    /// A notice put in the outbox.
    pub fn notice_queued(n: &Notice) -> Action {
        Action::NoticeQueued {
            notice: n.id.clone(),
            case_ref: n.case_ref.clone(),
            supersedes: n.supersedes.clone(),
        }
    }

    /// A command that showed or exported personal data.
    pub fn read(command: &str, subjects: &[String]) -> Action {
        Action::Read {
            command: command.to_string(),
            subjects: subjects.to_vec(),
        }
    }
}
