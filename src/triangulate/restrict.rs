//! Restriction of processing: a person's records kept but not used.
//!
//! In: the store's restrictions (`outcomesd subject restrict`), the
//! matcher, a case's data. Out: the restricted people in the case, and for
//! a claim of such a case a decision that uses none of their records.
//!
//! Promise: a claim whose case has a restricted member or household
//! person is `insufficient`, naming the restriction, and is never decided
//! on what is left: leaving a person's events out could make an absence
//! look like a pass ("no offending"), which would be using the restriction
//! to decide. The claim is decided again when the restriction is lifted.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::{decide_claim, CaseData, Decision, Evidence, Verdict, VerdictRecord};
use crate::framework::Framework;
use crate::ingest::matching::{Matcher, PersonId};
use crate::records::SourceKind;
use crate::store::{ClaimRecord, Restriction};

/// The restricted people, as the matcher now names them (canonical).
pub fn restricted_set(
    matcher: &Matcher,
    restrictions: &BTreeMap<PersonId, Restriction>,
) -> HashSet<PersonId> {
    restrictions.keys().map(|p| matcher.canonical(*p)).collect()
}

/// The members and household people of `data` who are restricted.
pub fn restricted_in(data: &CaseData, restricted: &HashSet<PersonId>) -> Vec<PersonId> {
    let mut out: Vec<PersonId> = data
        .members
        .iter()
        .chain(data.household.iter())
        .map(|m| m.person)
        .filter(|p| restricted.contains(p))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// [`decide_claim`], unless someone in the case is restricted: then
/// `insufficient`, naming them, with the rule's windows as the periods
/// missing (nothing in them was used) and no date to look again (lifting
/// the restriction re-decides it).
pub fn decide(
    fw: &Framework,
    data: Option<&CaseData>,
    claim: &ClaimRecord,
    as_of: u32,
    now: DateTime<Utc>,
    restricted: &HashSet<PersonId>,
) -> VerdictRecord {
    let who = data.map_or_else(Vec::new, |d| restricted_in(d, restricted));
    let mut rec = decide_claim(fw, data, claim, as_of, now);
    if who.is_empty() {
        return rec;
    }
    let persons: Vec<String> = who.iter().map(|p| super::pseudonym(*p)).collect();
    let mut d = Decision::new(Verdict::Insufficient);
    let mut windows: Vec<crate::records::Period> = rec
        .decision
        .evidence
        .iter()
        .filter_map(|e| e.window)
        .collect();
    windows.sort();
    windows.dedup();
    if windows.is_empty() {
        windows.push(crate::records::Period {
            from: claim.claim_date,
            to: claim.claim_date,
        });
    }
    d.missing = windows;
    d.evidence.push(Evidence {
        sources: vec![SourceKind::Case],
        events: vec![],
        window: None,
        coverage: vec![],
        persons: persons.clone(),
        count: Some(who.len() as i64),
        dates: vec![],
        finding: format!(
            "processing of {}'s records is restricted (UK GDPR Article 18): this claim is not decided on the data until `outcomesd subject unrestrict` lifts it",
            persons.join(", ")
        ),
        feeds: vec![],
    });
    rec.verdict = Verdict::Insufficient;
    rec.decision = d;
    rec.also_evidences.clear();
    rec
}
