//! Notices derived from state: every stored verdict a coordinator should
//! know of has its notice queued, whichever path decided it.
//!
//! In: the store's verdicts (as triangulation stored them) and the outbox.
//! Out: notices queued, each the latest for its claim and naming the one it
//! supersedes. Promises:
//! * a claim's current decision is queued once it is not `insufficient`,
//!   or once it is `insufficient` after an earlier notice (so coordinators
//!   hear a verdict they were sent no longer stands);
//! * a notice's id names one decision of one claim (its sequence), so a
//!   verdict that flips back is a new notice, never deduplicated away;
//! * [`reconcile`] is idempotent and cheap to repeat: the daemon runs it at
//!   start and after every evaluation, and every command that stores
//!   verdicts runs it before it returns, so a crash between storing a
//!   verdict and queueing its notice loses nothing;
//! * with an audit log ([`Notices::audit`]), every verdict first made or
//!   changed and every notice queued is an entry, written once the store
//!   holds it and before the caller hears of it.

use chrono::{DateTime, Utc};

use super::{notice_id, Notice, Outbox, OutboxError};
use crate::store::{Store, StoreError};
use crate::triangulate::{RunReport, Selection, Verdict, VerdictRecord};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// How much evidence a notice carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// The default: the rule, its window, each feed's coverage and the
    /// counts, with no person pseudonyms, no event dates and no findings
    /// (which may name pseudonyms).
    #[default]
    Thin,
    /// Also each item's pseudonyms, event dates and finding, for councils
    /// whose DPIA allows coordinators to see them.
    Full,
}

/// Where notices are queued, what they carry, and where the verdicts and
/// notices are recorded (every command and the daemon have an audit log;
/// `None` only in library use and tests).
#[derive(Clone)]
pub struct Notices {
    pub outbox: Outbox,
    pub detail: Detail,
    pub audit: Option<crate::audit::Audit>,
}

/// What one reconciliation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Stored verdicts looked at.
    pub claims: usize,
    /// Notices newly queued.
    pub queued: usize,
}

/// Which decision of its claim `rec` is: one more than its earlier
/// (different) decisions.
pub fn sequence(rec: &VerdictRecord) -> u32 {
    rec.history.len() as u32
}

/// The key naming a claim in the outbox.
pub fn claim_key(rec: &VerdictRecord) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        rec.framework, rec.case_ref, rec.outcome_id, rec.claim_date
    )
}

/// Queues the notice of every stored verdict whose latest queued notice is
/// not its current decision's.
pub fn reconcile(
    store: &Store,
    fw: &crate::framework::Framework,
    notices: &Notices,
    now: DateTime<Utc>,
) -> Result<Reconciled, ReconcileError> {
    let mut r = Reconciled::default();
    let mut queued = Vec::new();
    // One decision at a time: at 160,000 claims holding them all was the
    // largest part of the process's memory.
    for v in store.each_verdict() {
        let Ok(rec) = serde_json::from_slice::<VerdictRecord>(&v?) else {
            continue; // as stored_verdicts: `store check` reports it
        };
        r.claims += 1;
        if let Some(n) = queue_notice(fw, notices, &rec, now)? {
            r.queued += 1;
            queued.push(crate::audit::Action::notice_queued(&n));
        }
    }
    // One flush for the lot: a notice lost to a crash before it is queued
    // again by the next reconciliation, since the verdict is stored.
    notices.outbox.flush()?;
    crate::audit::note_all(notices.audit.as_ref(), queued)?;
    Ok(r)
}

/// Decides the claims `selection` names, stores their verdicts, and queues
/// every notice due. `through`: the newest delivery this selection covers
/// every effect of (all claims, or the claims a delivery touched when
/// everything before it was decided), recorded once its notices are queued.
/// Every path that decides claims goes through here.
pub fn decide(
    store: &Store,
    matcher: &crate::ingest::matching::Matcher,
    fw: &crate::framework::Framework,
    notices: &Notices,
    selection: Selection<'_>,
    through: Option<u32>,
    now: DateTime<Utc>,
) -> Result<(RunReport, Reconciled), ReconcileError> {
    let report = crate::triangulate::evaluate(store, matcher, fw, selection, now)?;
    crate::audit::note_all(
        notices.audit.as_ref(),
        report.changed.iter().map(crate::audit::Action::verdict),
    )?;
    let queued = reconcile(store, fw, notices, now)?;
    if let Some(seq) = through {
        store.set_evaluated_through(seq)?;
    }
    Ok((report, queued))
}

/// After a delivery committed: decides the claims it touched (every claim,
/// if an earlier delivery's claims were never decided) and queues every
/// notice due.
pub fn after_delivery(
    store: &Store,
    matcher: &crate::ingest::matching::Matcher,
    fw: &crate::framework::Framework,
    notices: &Notices,
    touched: &std::collections::HashSet<String>,
    now: DateTime<Utc>,
) -> Result<(RunReport, Reconciled), ReconcileError> {
    let newest = store.last_seq();
    let selection = if store.evaluated_through()? < store.seq_before(newest) {
        tracing::warn!("an earlier delivery's claims were not decided; deciding every claim");
        Selection::All
    } else {
        Selection::AfterDelivery(touched)
    };
    decide(store, matcher, fw, notices, selection, Some(newest), now)
}

/// Before a change that is not a delivery (a review decision, a subject
/// operation) is written: marks the store so that, if the process stops
/// before [`decide_after_change`], the next [`catch_up`] decides every
/// claim. Returns whether an earlier change was still waiting.
pub fn mark_change(store: &Store) -> Result<bool, ReconcileError> {
    let earlier = store.redecide_pending()?;
    store.set_redecide_pending(true)?;
    Ok(earlier)
}

/// After the change [`mark_change`] marked: decides the claims of `cases`
/// (every claim, if an earlier change was still waiting), queues the
/// notices due, then clears the mark.
pub fn decide_after_change(
    store: &Store,
    matcher: &crate::ingest::matching::Matcher,
    fw: &crate::framework::Framework,
    notices: &Notices,
    cases: &std::collections::HashSet<String>,
    earlier: bool,
    now: DateTime<Utc>,
) -> Result<(RunReport, Reconciled), ReconcileError> {
    let selection = if earlier {
        tracing::warn!("an earlier change's claims were not decided again; deciding every claim");
        Selection::All
    } else {
        Selection::Cases(cases)
    };
    let r = decide(store, matcher, fw, notices, selection, None, now)?;
    store.set_redecide_pending(false)?;
    Ok(r)
}

/// Before anything else touches the store: if a delivery committed whose
/// claims were not decided, or a change [`mark_change`] marked was left
/// without its decisions (the process stopped in between), decides every
/// claim; otherwise decides `then`, if given; in any case queues every
/// notice due. Returns the evaluation, if there was one.
pub fn catch_up(
    store: &Store,
    matcher: &crate::ingest::matching::Matcher,
    fw: &crate::framework::Framework,
    notices: &Notices,
    then: Option<Selection<'_>>,
    now: DateTime<Utc>,
) -> Result<(Option<RunReport>, Reconciled), ReconcileError> {
    let newest = store.last_seq();
    let undecided = store.evaluated_through()? < newest;
    let pending = store.redecide_pending()?;
    if undecided || pending {
        if undecided {
            tracing::warn!(
                through = store.evaluated_through()?,
                newest,
                "claims were not decided after the newest deliveries (the process stopped); deciding every claim"
            );
        } else {
            tracing::warn!(
                "a review decision or subject operation was written but its claims were not decided again (the process stopped); deciding every claim"
            );
        }
        // Every claim decided covers every delivery so far and any change.
        let (r, q) = decide(
            store,
            matcher,
            fw,
            notices,
            Selection::All,
            Some(newest),
            now,
        )?;
        store.set_redecide_pending(false)?;
        return Ok((Some(r), q));
    }
    if let Some(selection) = then {
        let (r, q) = decide(store, matcher, fw, notices, selection, None, now)?;
        return Ok((Some(r), q));
    }
    Ok((None, reconcile(store, fw, notices, now)?))
}

/// Queues `rec`'s notice if it is due and not queued yet.
pub fn queue(
    fw: &crate::framework::Framework,
    notices: &Notices,
    rec: &VerdictRecord,
    now: DateTime<Utc>,
) -> Result<bool, ReconcileError> {
    Ok(queue_notice(fw, notices, rec, now)?.is_some())
}

/// [`queue`], giving the notice queued (for the audit log).
fn queue_notice(
    fw: &crate::framework::Framework,
    notices: &Notices,
    rec: &VerdictRecord,
    now: DateTime<Utc>,
) -> Result<Option<Notice>, ReconcileError> {
    let outbox = &notices.outbox;
    let key = claim_key(rec);
    let latest = outbox.latest_for_claim(&key)?;
    if rec.verdict == Verdict::Insufficient && latest.is_none() {
        return Ok(None); // an interim state nobody was told otherwise of
    }
    // Most claims are queued already: compare ids before building a notice.
    if latest.as_deref() == Some(id_of(rec).as_str()) {
        return Ok(None);
    }
    let rule = fw.outcome(&rec.outcome_id).map(|o| o.rule.explain(fw));
    let mut n = notice_for(rec, rule.as_deref(), notices.detail, now);
    n.supersedes = latest;
    Ok(outbox.enqueue_for_claim(&key, &n, now)?.then_some(n))
}

/// The id of `rec`'s notice.
fn id_of(rec: &VerdictRecord) -> String {
    notice_id(
        &rec.framework,
        &rec.framework_version,
        &rec.outcome_id,
        &rec.case_ref,
        rec.claim_date,
        rec.verdict.name(),
        sequence(rec),
    )
}

/// The notice for a decision: pseudonyms and case references only.
pub fn notice_for(
    rec: &VerdictRecord,
    rule: Option<&str>,
    detail: Detail,
    now: DateTime<Utc>,
) -> Notice {
    let d = &rec.decision;
    let period = |p: &crate::records::Period| serde_json::json!({"from": p.from, "to": p.to});
    let items: Vec<serde_json::Value> = d
        .evidence
        .iter()
        .map(|e| {
            let mut item = serde_json::json!({
                "sources": e.sources,
                "events": e.events,
                "window": e.window.as_ref().map(period),
                "coverage": e.coverage.iter().map(period).collect::<Vec<_>>(),
                "feeds": e.feeds.iter().map(|f| serde_json::json!({
                    "feed": f.feed,
                    "covered": f.covered.iter().map(period).collect::<Vec<_>>(),
                    "missing": f.missing.iter().map(period).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "count": e.count,
            });
            if detail == Detail::Full {
                item["persons"] = serde_json::json!(e.persons);
                item["dates"] = serde_json::json!(e.dates);
                item["finding"] = serde_json::json!(e.finding);
            }
            item
        })
        .collect();
    let mut evidence = serde_json::json!({
        "items": items,
        "earliest_decidable": d.earliest_decidable,
        "as_of_delivery": rec.as_of_delivery,
    });
    if let Some(rule) = rule {
        evidence["rule"] = serde_json::json!(rule.trim_end());
    }
    if !d.awaiting_review.is_empty() {
        // Review item ids only: the reviewer's queue names the rows.
        evidence["awaiting_review"] = serde_json::json!(d.awaiting_review);
    }
    if !d.uncertain_links.is_empty() {
        // Rows only (feed, delivery, row): the coordinator asks the data
        // owner to check them before relying on the verdict.
        evidence["uncertain_links"] = serde_json::json!(d.uncertain_links);
    }
    if rec.verdict == Verdict::Insufficient {
        // The schema wants the gaps of an insufficient verdict; when it is
        // insufficient for another reason (no one in scope, case not
        // closed), the whole window stands for the gap.
        let gaps: Vec<_> = if d.missing.is_empty() {
            d.evidence.iter().filter_map(|e| e.window).collect()
        } else {
            d.missing.clone()
        };
        evidence["missing_periods"] = serde_json::json!(gaps
            .iter()
            .map(|m| serde_json::json!({"from": m.from, "to": m.to}))
            .collect::<Vec<_>>());
    }
    let verdict = rec.verdict.name().to_string();
    let sequence = sequence(rec);
    Notice {
        id: id_of(rec),
        framework: rec.framework.clone(),
        framework_version: rec.framework_version.clone(),
        outcome_id: rec.outcome_id.clone(),
        case_ref: rec.case_ref.clone(),
        claim_date: rec.claim_date,
        verdict,
        sequence,
        supersedes: None,
        evidence,
        also_evidences: if matches!(rec.verdict, Verdict::Verified | Verdict::Attested) {
            rec.also_evidences.clone()
        } else {
            vec![]
        },
        decided_at: rec.decided_at,
        issued_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::temp_tree;
    use crate::triangulate::{Decision, Evidence, PastVerdict};

    fn record(verdict: Verdict, uncertain: &[&str]) -> VerdictRecord {
        let mut decision = Decision::new(verdict);
        decision.uncertain_links = uncertain.iter().map(|s| s.to_string()).collect();
        decision.evidence.push(Evidence {
            sources: vec![crate::records::SourceKind::Police],
            events: vec![crate::records::EventKind::Offence],
            window: crate::records::Period::parse("2015-11-02..2016-05-01"),
            coverage: vec![],
            persons: vec!["p7".into()],
            count: Some(1),
            dates: vec![chrono::NaiveDate::from_ymd_opt(2016, 3, 1).unwrap()],
            finding: "1 event in the window for p7".into(),
            feeds: vec![],
        });
        decision.missing = decision.evidence[0].window.into_iter().collect();
        VerdictRecord {
            case_ref: "SF-1".into(),
            outcome_id: "SUN-1.1".into(),
            claim_date: chrono::NaiveDate::from_ymd_opt(2016, 5, 1).unwrap(),
            framework: "t".into(),
            framework_version: "1".into(),
            problem: Some("crime".into()),
            verdict,
            decision,
            also_evidences: vec![],
            as_of_delivery: 3,
            decided_at: Utc::now(),
            history: vec![],
        }
    }

    /// `rec` decided again as `verdict`, as evaluation records it.
    fn then(rec: &VerdictRecord, verdict: Verdict) -> VerdictRecord {
        let mut next = record(verdict, &[]);
        next.history = rec.history.clone();
        next.history.push(PastVerdict {
            verdict: rec.verdict,
            framework_version: rec.framework_version.clone(),
            as_of_delivery: rec.as_of_delivery,
            decided_at: rec.decided_at,
        });
        next
    }

    #[test]
    fn a_verdict_that_flips_back_is_a_new_notice_superseding_the_last() {
        let (_d, _db, tree) = temp_tree();
        let outbox = Outbox::new(tree.clone(), vec!["a".into()]).unwrap();
        let notices = Notices {
            outbox: outbox.clone(),
            detail: Detail::Thin,
            audit: None,
        };
        let fw = crate::triangulate::tests::fw();
        let now = Utc::now();
        // Insufficient first: nobody is told of an interim state.
        let r0 = record(Verdict::Insufficient, &[]);
        assert!(!queue(&fw, &notices, &r0, now).unwrap());
        let r1 = then(&r0, Verdict::Verified);
        assert!(queue(&fw, &notices, &r1, now).unwrap());
        assert!(!queue(&fw, &notices, &r1, now).unwrap(), "idempotent");
        let first = outbox.latest_for_claim(&claim_key(&r1)).unwrap().unwrap();
        let r2 = then(&r1, Verdict::Contradicted);
        assert!(queue(&fw, &notices, &r2, now).unwrap());
        let second = outbox.latest_for_claim(&claim_key(&r2)).unwrap().unwrap();
        let r3 = then(&r2, Verdict::Verified);
        assert!(
            queue(&fw, &notices, &r3, now).unwrap(),
            "back to verified: a new notice"
        );
        let third = outbox.latest_for_claim(&claim_key(&r3)).unwrap().unwrap();
        assert_ne!(first, third);
        let n3 = outbox.notice(&third).unwrap().unwrap();
        assert_eq!((n3.sequence, n3.verdict.as_str()), (3, "verified"));
        assert_eq!(n3.supersedes.as_deref(), Some(second.as_str()));
        let n2 = outbox.notice(&second).unwrap().unwrap();
        assert_eq!(n2.supersedes.as_deref(), Some(first.as_str()));
        // Withdrawn: insufficient after a notice is itself notified.
        let r4 = then(&r3, Verdict::Insufficient);
        assert!(queue(&fw, &notices, &r4, now).unwrap());
        assert_eq!(tree.notice_count(), 4);
    }

    #[test]
    fn thin_notices_carry_no_pseudonyms_dates_or_findings() {
        let rec = record(Verdict::Contradicted, &["police delivery 2 row 7"]);
        let thin = notice_for(&rec, Some("no offence"), Detail::Thin, Utc::now());
        thin.validate().unwrap();
        let body = serde_json::to_string(&thin).unwrap();
        for leak in ["p7", "2016-03-01", "finding", "persons", "dates"] {
            assert!(!body.contains(leak), "thin notice carries {leak}: {body}");
        }
        assert_eq!(thin.evidence["rule"], "no offence");
        assert_eq!(thin.evidence["items"][0]["count"], 1);
        assert_eq!(
            thin.evidence["uncertain_links"],
            serde_json::json!(["police delivery 2 row 7"])
        );
        let full = notice_for(&rec, None, Detail::Full, Utc::now());
        assert_eq!(
            full.evidence["items"][0]["persons"],
            serde_json::json!(["p7"])
        );
        assert_eq!(
            full.evidence["items"][0]["dates"],
            serde_json::json!(["2016-03-01"])
        );
        let sure = notice_for(
            &record(Verdict::Contradicted, &[]),
            None,
            Detail::Thin,
            Utc::now(),
        );
        assert!(sure.evidence.get("uncertain_links").is_none());
    }
}
