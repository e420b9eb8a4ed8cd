//! Purges: what retention says goes, deleted through the write path.
//!
//! In: a predicate per kind of record (the policy is the caller's:
//! `crate::subjects::retention`), and whether this is a dry run. Out:
//! [`Purged`], what went (or would go). Promises: only committed records
//! are judged; a dry run writes nothing; a purge flushes before it returns;
//! a claim goes with its stored decision, a notice with its delivery state
//! for every sink.

use chrono::NaiveDate;
use serde::Serialize;

use super::events::{unpack_events, EVENT_LEN};
use super::links::NARROW_LEN;
use super::outbox::OutboxStore;
use super::{
    read_u32, CaseRecord, ClaimRecord, DeliveryRecord, DeliveryState, Store, StoreError, TreeId,
    Write,
};
use crate::ingest::matching::PersonId;
use crate::records::Event;

/// What a purge removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub events: u64,
    /// Uncertain-link records that carried a purged event.
    pub uncertain_links: u64,
    /// Claims (case, outcome, date), each with its stored decision.
    pub claims: Vec<(String, String, NaiveDate)>,
    /// Cases whose every version went.
    pub cases: Vec<String>,
    /// Notices delivered to every sink, with their states.
    pub notices: u64,
}

impl Store {
    /// Deletes every committed event for which `gone(person, delivery,
    /// event)` holds, and the uncertain-link records carrying one.
    pub fn purge_events(
        &self,
        dry_run: bool,
        gone: impl Fn(PersonId, &DeliveryRecord, &Event) -> bool,
        out: &mut Purged,
    ) -> Result<(), StoreError> {
        let items: Vec<_> = self.trees.iter(TreeId::Events).collect::<Result<_, _>>()?;
        for (k, v) in items {
            let bucket = u64::from_be_bytes(k[..8].try_into().expect("8 bytes"));
            let Some(rec) = self.committed.get(&read_u32(&k[8..])) else {
                continue;
            };
            let mut kept = Vec::with_capacity(v.len());
            for entry in v.chunks_exact(EVENT_LEN + 1) {
                let person = (bucket << 3) | u64::from(entry[0]);
                let ev = unpack_events(&entry[1..])
                    .and_then(|mut v| v.pop())
                    .ok_or_else(|| self.corrupt("event record"))?;
                if gone(person, rec, &ev) {
                    out.events += 1;
                } else {
                    kept.extend_from_slice(entry);
                }
            }
            if !dry_run && kept.len() != v.len() {
                self.put_or_remove(TreeId::Events, &k, &kept)?;
            }
        }
        let items: Vec<_> = self.trees.iter(TreeId::Narrow).collect::<Result<_, _>>()?;
        for (k, v) in items {
            let Some(rec) = self.committed.get(&read_u32(&k)) else {
                continue;
            };
            let mut kept = Vec::with_capacity(v.len());
            for b in v.chunks(NARROW_LEN) {
                let person = u64::from_be_bytes(b[4..12].try_into().expect("8 bytes"));
                let ev = unpack_events(&b[14..]).and_then(|mut v| v.pop());
                if ev.is_some_and(|ev| gone(person, rec, &ev)) {
                    out.uncertain_links += 1;
                } else {
                    kept.extend_from_slice(b);
                }
            }
            if !dry_run && kept.len() != v.len() {
                self.put_or_remove(TreeId::Narrow, &k, &kept)?;
            }
        }
        if !dry_run {
            self.flush()?;
        }
        Ok(())
    }

    fn put_or_remove(&self, t: TreeId, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        if v.is_empty() {
            self.trees.write(t, Write::Remove(k))
        } else {
            self.trees.write(t, Write::Insert(k, v))
        }
    }

    /// Deletes every committed claim for which `gone` holds, with its
    /// stored decision; returns the decisions' JSON (for their notices'
    /// claim entries).
    pub fn purge_claims(
        &self,
        dry_run: bool,
        gone: impl Fn(&ClaimRecord) -> bool,
        out: &mut Purged,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut decisions = Vec::new();
        let items: Vec<_> = self.trees.iter(TreeId::Claims).collect::<Result<_, _>>()?;
        for (k, v) in items {
            let c: ClaimRecord = serde_json::from_slice(&v)
                .map_err(|x| self.corrupt(format!("claim record: {x}")))?;
            if !self.committed.contains_key(&c.seq) || !gone(&c) {
                continue;
            }
            if let Some(d) = self.trees.get(TreeId::Verdicts, &k)? {
                decisions.push(d.to_vec());
            }
            if !dry_run {
                self.trees.write(TreeId::Claims, Write::Remove(&k))?;
                self.trees.write(TreeId::Verdicts, Write::Remove(&k))?;
            }
            out.claims.push((c.case_ref, c.outcome_id, c.claim_date));
        }
        if !dry_run {
            self.flush()?;
        }
        Ok(decisions)
    }

    /// Deletes every version of each case whose latest committed version
    /// `gone` holds for.
    pub fn purge_cases(
        &self,
        dry_run: bool,
        gone: impl Fn(&CaseRecord) -> bool,
        out: &mut Purged,
    ) -> Result<(), StoreError> {
        for case in self.cases()? {
            if !gone(&case) {
                continue;
            }
            if !dry_run {
                let mut prefix = case.case_ref.as_bytes().to_vec();
                prefix.push(0);
                let keys: Vec<_> = self
                    .trees
                    .scan_prefix(TreeId::Cases, &prefix)
                    .map(|kv| kv.map(|(k, _)| k))
                    .collect::<Result<_, _>>()?;
                for k in keys {
                    self.trees.write(TreeId::Cases, Write::Remove(&k))?;
                }
            }
            out.cases.push(case.case_ref);
        }
        if !dry_run {
            self.flush()?;
        }
        Ok(())
    }
}

impl OutboxStore {
    /// Deletes every notice for which `gone` holds of its states (one per
    /// sink), with those states, and the latest-notice entries of the
    /// claims `claims` (claims purged: nothing will be queued for them).
    pub fn purge(
        &self,
        dry_run: bool,
        gone: impl Fn(&[DeliveryState]) -> bool,
        claims: &[String],
        out: &mut Purged,
    ) -> Result<(), StoreError> {
        let mut by_notice: std::collections::BTreeMap<String, Vec<DeliveryState>> =
            Default::default();
        for (id, _, st) in self.states()? {
            by_notice.entry(id).or_default().push(st);
        }
        for (id, states) in by_notice {
            if !gone(&states) {
                continue;
            }
            out.notices += 1;
            if !dry_run {
                self.remove_notice(&id)?;
            }
        }
        if !dry_run {
            for c in claims {
                self.remove_claim_entry(c)?;
            }
            self.flush()?;
        }
        Ok(())
    }
}
