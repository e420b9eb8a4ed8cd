//! Ingest, recorded: every delivery applied, held or refused goes into the
//! audit log, if the engine has one, before the caller hears of it.
//!
//! In: the outcome of one delivery. Out: one audit entry (none for a
//! duplicate, which changed nothing). Promise: an audit write failure is
//! the ingest's error (the delivery stays committed and its entry missing,
//! so it is loud, never silent).

use super::{Engine, IngestError, IngestOptions, IngestSummary};
use crate::audit::Action;
use crate::ingest::feeds::FeedSpec;
use crate::store::HoldState;

impl Engine {
    /// Applies one delivery (see the module promises of `ingest`) and
    /// records what became of it.
    pub fn ingest(
        &mut self,
        spec: &FeedSpec,
        bytes: &[u8],
        opts: &IngestOptions,
    ) -> Result<IngestSummary, IngestError> {
        // A failed rebuild left the matcher empty: rebuild it first, or
        // refuse the delivery (nothing of it applied) rather than match
        // against no one.
        let result = self
            .ensure_matcher()
            .and_then(|()| self.ingest_unaudited(spec, bytes, opts));
        if let (Some(audit), Some(action)) = (&self.audit, action_of(&spec.name, &result)) {
            audit.record(action)?;
        }
        result
    }
}

/// The entry for a delivery's outcome; `None` for a duplicate.
fn action_of(feed: &str, result: &Result<IngestSummary, IngestError>) -> Option<Action> {
    let feed = feed.to_string();
    match result {
        Err(e) => Some(Action::DeliveryRefused {
            feed,
            why: e.to_string(),
        }),
        Ok(s) if s.duplicate_of.is_some() => None,
        Ok(s) => match (&s.hold, s.seq) {
            (Some(h), _) if h.state == HoldState::Held => Some(Action::DeliveryHeld {
                feed,
                delivery: h.id,
                why: h.reason.clone(),
            }),
            (_, Some(seq)) => Some(Action::DeliveryApplied {
                feed,
                delivery: seq,
                rows: s.rows,
                accepted: s.accepted,
                rejected: s.rejected,
            }),
            _ => None,
        },
    }
}
