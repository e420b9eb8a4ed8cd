//! Verdicts: the decision on each claim, as triangulate made it.
//!
//! Tree owned: `verdicts` (case ref, 0, outcome, 0, date, as a claim's key →
//! the decision's JSON, triangulate's `VerdictRecord`).
//!
//! Promises: one decision per claim, the newest written replacing the one
//! before (a decision is derived data, recomputable from the deliveries, so
//! it is not part of a delivery's commit and may be overwritten); the store
//! keeps the JSON as given and never reads inside it.

use chrono::NaiveDate;

use super::cases::claim_key;
use super::{Store, StoreError, TreeId, Write};

impl Store {
    /// The stored decision on a claim, if any.
    pub fn verdict(
        &self,
        case_ref: &str,
        outcome: &str,
        date: NaiveDate,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .trees
            .get(TreeId::Verdicts, &claim_key(case_ref, outcome, date))?
            .map(|v| v.to_vec()))
    }

    /// Stores a claim's decision (derived data: recomputable from the
    /// deliveries, so not part of a delivery's commit).
    pub fn put_verdict(
        &self,
        case_ref: &str,
        outcome: &str,
        date: NaiveDate,
        json: &[u8],
    ) -> Result<(), StoreError> {
        self.trees.write(
            TreeId::Verdicts,
            Write::Insert(&claim_key(case_ref, outcome, date), json),
        )
    }

    /// Every stored decision, as JSON.
    /// Each stored decision's bytes, read as the caller goes (a pass over
    /// every decision need not hold them all).
    pub fn each_verdict(&self) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        self.trees
            .iter(TreeId::Verdicts)
            .map(|kv| kv.map(|(_, v)| v.to_vec()))
    }

    pub fn verdicts(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.each_verdict().collect()
    }
}
