//! `audit pack`: a claim batch exported the way internal auditors check one.
//!
//! In: the store, the configured framework, a date range (claims whose claim
//! date falls in it) and a pack key. Out: a new private directory of CSV
//! files, the same content as one `pack.json`, and a `manifest.json` with
//! every file's SHA-256 (and a `SHA256SUMS` for `sha256sum -c`), see
//! docs/audit-pack.md. Per claim: the case, the outcome, the plan's wording
//! and the rule as encoded (framework id and version), each evidence item
//! with its window, each feed's coverage of it and the rows (feed,
//! delivery, row, kind, date) behind it, the verdict and its history, the
//! review decisions that touched its family, and the notices queued for it.
//!
//! Promises: read-only (decides nothing, queues nothing: it exports what
//! was decided); every person reference is a pseudonym derived for this
//! pack alone (HMAC-SHA256 under the pack key over a random pack id and the
//! store's own reference), so two packs cannot be joined with each other or
//! with the store on people; no identifier value and no store pseudonym
//! leaves in a pack; the directory is new or empty, 0700, its files 0600.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::{framework_of, load_config, open_engine};
use crate::framework::Framework;
use crate::ingest::matching::PersonId;
use crate::ingest::Engine;
use crate::keys::HmacKey;
use crate::records::Period;
use crate::store::ClaimRecord;
use crate::triangulate::{self, Verdict, VerdictRecord};

use super::pack_files as files;

/// Pseudonyms for one pack: HMAC-SHA256 under the pack key of the pack id
/// and the store's reference. Without the key (and the id, which changes
/// every pack) nothing links a pack's pseudonym to the store or to another
/// pack's.
pub struct PackPseudonyms {
    mac: Hmac<Sha256>,
    pub pack_id: String,
}

impl PackPseudonyms {
    pub fn new(key: &HmacKey, pack_id: String) -> PackPseudonyms {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
            .expect("HMAC takes any key length");
        mac.update(b"outcomesd evidence pack v1\0");
        mac.update(pack_id.as_bytes());
        mac.update(b"\0");
        PackPseudonyms { mac, pack_id }
    }

    /// The pack's pseudonym of a store reference (`p123`).
    pub fn of(&self, store_ref: &str) -> String {
        let mut m = self.mac.clone();
        m.update(store_ref.as_bytes());
        let tag = m.finalize().into_bytes();
        format!("person-{}", hex::encode(&tag[..10]))
    }

    /// `text` with every store person reference (`p` and digits, as a
    /// whole word) replaced by its pack pseudonym: findings name people.
    pub fn rewrite(&self, text: &str) -> String {
        let b = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < b.len() {
            let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            if word_start && b[i] == b'p' {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let word_end = j == b.len() || !b[j].is_ascii_alphanumeric();
                if j > i + 1 && word_end {
                    out.push_str(&self.of(&text[i..j]));
                    i = j;
                    continue;
                }
            }
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
        out
    }
}

/// One claim of the batch, as the pack shows it.
#[derive(Debug, Serialize)]
pub struct PackClaim {
    /// The claim's number in this pack (`C0001`), the key of every file.
    pub claim: String,
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub keyworker_ref: Option<String>,
    pub team: Option<String>,
    /// The framework the decision was made under (the stored one).
    pub framework: String,
    pub framework_version: String,
    pub problem: Option<String>,
    /// The plan's own words, and the rule as outcomesd encodes it (as
    /// text and as the framework file's data), from the configured framework.
    pub wording: Option<String>,
    pub interpretation: Option<String>,
    pub rule_text: Option<String>,
    pub rule: Option<serde_json::Value>,
    /// `None`: not decided yet.
    pub verdict: Option<Verdict>,
    pub decided_at: Option<DateTime<Utc>>,
    pub as_of_delivery: Option<u32>,
    pub not_applicable: bool,
    pub earliest_decidable: Option<NaiveDate>,
    pub missing: Vec<Period>,
    pub awaiting_review: Vec<String>,
    pub uncertain_links: Vec<String>,
    pub evidence: Vec<PackEvidence>,
    pub history: Vec<Step>,
    pub reviews: Vec<PackReview>,
    pub notices: Vec<PackNotice>,
}

#[derive(Debug, Serialize)]
pub struct PackEvidence {
    /// Its number within the claim (1, 2, ...).
    pub n: usize,
    pub sources: Vec<String>,
    pub events: Vec<String>,
    pub window: Option<Period>,
    pub count: Option<i64>,
    pub finding: String,
    pub persons: Vec<String>,
    pub coverage: Vec<FeedCoverage>,
    pub rows: Vec<EvidenceRow>,
}

#[derive(Debug, Serialize)]
pub struct FeedCoverage {
    pub feed: String,
    pub source: String,
    pub covered: Vec<Period>,
    pub missing: Vec<Period>,
}

/// A stored row behind an evidence item: one of its dated events.
#[derive(Debug, Serialize)]
pub struct EvidenceRow {
    pub person: String,
    pub feed: String,
    pub delivery: u32,
    /// The row number as in the delivery's rejection report (`None` if the
    /// store no longer holds its link).
    pub row: Option<u64>,
    pub kind: String,
    pub date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

/// One decision of the claim, oldest first; the last is the current one.
#[derive(Debug, Serialize)]
pub struct Step {
    pub n: usize,
    pub verdict: Verdict,
    pub framework_version: String,
    pub as_of_delivery: u32,
    pub decided_at: DateTime<Utc>,
    pub current: bool,
}

#[derive(Debug, Serialize)]
pub struct PackReview {
    pub item: String,
    pub decision: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
    pub after_delivery: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackNotice {
    pub id: String,
    pub sequence: u32,
    pub verdict: String,
    pub supersedes: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    /// SHA-256 of the notice as stored (and as signed and sent): match it
    /// against the receiver's copy.
    pub sha256: String,
    pub sinks: Vec<SinkState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SinkState {
    pub sink: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// What `audit pack` wrote.
#[derive(Debug, Serialize)]
pub struct PackSummary {
    pub dir: String,
    pub pack_id: String,
    pub claims: usize,
    pub manifest_sha256: String,
    pub manifest: serde_json::Value,
}

/// `outcomesd audit pack`.
pub fn audit_pack(
    config: &Path,
    from: NaiveDate,
    to: NaiveDate,
    out: &Path,
    pack_key: Option<&Path>,
    json: bool,
    reason: Option<&str>,
) -> Result<()> {
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    files::claim_dir(out)?;
    let cfg = load_config(config)?;
    let pack_key = pack_key.unwrap_or(&cfg.pack_key_file);
    let key = HmacKey::load_for(pack_key, crate::keys::Purpose::Pack)
        .with_context(|| format!("loading the pack key {}", pack_key.display()))?;
    let fw = framework_of(&cfg)?;
    let engine = open_engine(&cfg)?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("random pack id: {e}"))?;
    let ps = PackPseudonyms::new(&key, hex::encode(id));
    let claims = collect(&engine, fw, from, to, &ps)?;
    // The head before the pack's own entry: the pack then pins every entry
    // up to it, and its entry (carrying the manifest's hash) follows.
    let audit_chain_head = engine.audit.as_ref().map(|a| {
        let h = a.head();
        files::ChainHead {
            seq: h.seq,
            hash: h.hash,
        }
    });
    let summary = files::write(
        out,
        &files::Meta {
            pack_id: &ps.pack_id,
            pack_key_id: key.id(),
            from,
            to,
            fw,
            audit_chain_head,
        },
        &engine,
        &claims,
    )?;
    crate::audit::note_why(
        engine.audit.as_ref(),
        reason,
        crate::audit::Action::Pack {
            from,
            to,
            claims: summary.claims as u64,
            manifest_sha256: summary.manifest_sha256.clone(),
        },
    )
    .context("recording the pack in the audit log")?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        outln!(
            "pack {} written to {}: {} claims dated {from}..{to}",
            summary.pack_id,
            summary.dir,
            summary.claims
        );
        outln!(
            "manifest.json sha256 {} (check the files with `sha256sum -c SHA256SUMS` in the pack)",
            summary.manifest_sha256
        );
    }
    Ok(())
}

/// The claims dated in `from..=to`, everything the pack shows of each.
pub fn collect(
    engine: &Engine,
    fw: &Framework,
    from: NaiveDate,
    to: NaiveDate,
    ps: &PackPseudonyms,
) -> Result<Vec<PackClaim>> {
    let store = &engine.store;
    let matcher = engine.matcher();
    let mut claims: Vec<ClaimRecord> = store
        .claims()?
        .into_iter()
        .filter(|c| from <= c.claim_date && c.claim_date <= to)
        .collect();
    claims.sort_by(|a, b| {
        (a.claim_date, &a.case_ref, &a.outcome_id).cmp(&(b.claim_date, &b.case_ref, &b.outcome_id))
    });
    let notices = notices_by_claim(engine)?;
    let decisions = store.review_decisions()?;
    let doubts = crate::review::Doubts::load(store, matcher)?;
    // Per case: its people (canonical id -> every id merged into it) by
    // their store reference; loaded once per case.
    let mut people: HashMap<String, BTreeMap<String, (PersonId, Vec<PersonId>)>> = HashMap::new();
    for c in &claims {
        if people.contains_key(&c.case_ref) {
            continue;
        }
        let mut map = BTreeMap::new();
        if let Some(case) = store.case(&c.case_ref)? {
            let data = triangulate::CaseData::load(store, matcher, &doubts, case)?;
            for m in data.members.iter().chain(&data.household) {
                map.insert(
                    triangulate::pseudonym(m.person),
                    (m.person, matcher.members(m.person)),
                );
            }
        }
        people.insert(c.case_ref.clone(), map);
    }
    let all_ids: HashSet<PersonId> = people
        .values()
        .flat_map(|m| m.values().flat_map(|(_, ids)| ids.iter().copied()))
        .collect();
    let rows = RowIndex::build(engine, &all_ids)?;
    let mut out = Vec::new();
    for (i, c) in claims.iter().enumerate() {
        let v: Option<VerdictRecord> = store
            .verdict(&c.case_ref, &c.outcome_id, c.claim_date)?
            .and_then(|b| serde_json::from_slice(&b).ok());
        let case_people = &people[&c.case_ref];
        let canon: HashSet<PersonId> = case_people.values().map(|(p, _)| *p).collect();
        let outcome = fw.outcome(&c.outcome_id);
        let mut claim = PackClaim {
            claim: format!("C{:04}", i + 1),
            case_ref: c.case_ref.clone(),
            outcome_id: c.outcome_id.clone(),
            claim_date: c.claim_date,
            keyworker_ref: c.keyworker_ref.clone(),
            team: c.team.clone(),
            framework: v
                .as_ref()
                .map_or(fw.framework.id.clone(), |v| v.framework.clone()),
            framework_version: v.as_ref().map_or(fw.framework.version.clone(), |v| {
                v.framework_version.clone()
            }),
            problem: outcome.map(|o| o.problem.clone()),
            wording: outcome.map(|o| o.wording.clone()),
            interpretation: outcome.and_then(|o| o.interpretation.clone()),
            rule_text: outcome.map(|o| o.rule.explain(fw).trim_end().to_string()),
            rule: outcome.and_then(|o| serde_json::to_value(&o.rule).ok()),
            verdict: v.as_ref().map(|v| v.verdict),
            decided_at: v.as_ref().map(|v| v.decided_at),
            as_of_delivery: v.as_ref().map(|v| v.as_of_delivery),
            not_applicable: v.as_ref().is_some_and(|v| v.decision.not_applicable),
            earliest_decidable: v.as_ref().and_then(|v| v.decision.earliest_decidable),
            missing: v
                .as_ref()
                .map(|v| v.decision.missing.clone())
                .unwrap_or_default(),
            awaiting_review: v
                .as_ref()
                .map(|v| v.decision.awaiting_review.clone())
                .unwrap_or_default(),
            uncertain_links: v
                .as_ref()
                .map(|v| v.decision.uncertain_links.clone())
                .unwrap_or_default(),
            evidence: Vec::new(),
            history: Vec::new(),
            reviews: decisions
                .iter()
                .filter(|d| {
                    canon.contains(&matcher.canonical(d.person))
                        || canon.contains(&matcher.canonical(d.candidate))
                })
                .map(|d| PackReview {
                    item: d.item.clone(),
                    decision: format!("{:?}", d.decision).to_lowercase(),
                    by: d.by.clone(),
                    at: d.at,
                    note: d.note.clone(),
                    after_delivery: d.after_seq,
                })
                .collect(),
            notices: notices
                .get(&(c.case_ref.clone(), c.outcome_id.clone(), c.claim_date))
                .cloned()
                .unwrap_or_default(),
        };
        if let Some(v) = &v {
            claim.history = steps(v);
            for (n, e) in v.decision.evidence.iter().enumerate() {
                claim
                    .evidence
                    .push(evidence(engine, &rows, case_people, ps, n + 1, e)?);
            }
        }
        out.push(claim);
    }
    Ok(out)
}

fn steps(v: &VerdictRecord) -> Vec<Step> {
    let mut out: Vec<Step> = v
        .history
        .iter()
        .enumerate()
        .map(|(i, h)| Step {
            n: i + 1,
            verdict: h.verdict,
            framework_version: h.framework_version.clone(),
            as_of_delivery: h.as_of_delivery,
            decided_at: h.decided_at,
            current: false,
        })
        .collect();
    out.push(Step {
        n: out.len() + 1,
        verdict: v.verdict,
        framework_version: v.framework_version.clone(),
        as_of_delivery: v.as_of_delivery,
        decided_at: v.decided_at,
        current: true,
    });
    out
}

type People = BTreeMap<String, (PersonId, Vec<PersonId>)>;

/// One evidence item, its people as pack pseudonyms and the stored rows
/// of its dated events (those of its kinds, on its dates, of its people,
/// still in effect).
fn evidence(
    engine: &Engine,
    rows: &RowIndex,
    people: &People,
    ps: &PackPseudonyms,
    n: usize,
    e: &triangulate::Evidence,
) -> Result<PackEvidence> {
    let mut found = Vec::new();
    if !e.dates.is_empty() && !e.events.is_empty() {
        let dates: HashSet<NaiveDate> = e.dates.iter().copied().collect();
        let (lo, hi) = (
            *e.dates.iter().min().expect("not empty"),
            *e.dates.iter().max().expect("not empty"),
        );
        for p in &e.persons {
            let Some((_, ids)) = people.get(p) else {
                continue;
            };
            for se in engine.store.events(ids, &e.events, lo, hi)? {
                if !dates.contains(&se.event.start) {
                    continue;
                }
                let Some(d) = engine.store.delivery(se.seq) else {
                    continue;
                };
                for row in rows.rows_of(se.person, se.seq, &se.event) {
                    found.push(EvidenceRow {
                        person: ps.of(p),
                        feed: d.feed.clone(),
                        delivery: se.seq,
                        row,
                        kind: se.event.kind.name().to_string(),
                        date: se.event.start,
                        end_date: se.event.end,
                    });
                }
            }
        }
    }
    found.sort_by(|a, b| {
        (a.date, &a.feed, a.delivery, a.row).cmp(&(b.date, &b.feed, b.delivery, b.row))
    });
    Ok(PackEvidence {
        n,
        sources: e.sources.iter().map(|s| s.name().to_string()).collect(),
        events: e.events.iter().map(|k| k.name().to_string()).collect(),
        window: e.window,
        count: e.count,
        finding: ps.rewrite(&e.finding),
        persons: e.persons.iter().map(|p| ps.of(p)).collect(),
        coverage: e
            .feeds
            .iter()
            .map(|f| FeedCoverage {
                feed: f.feed.clone(),
                source: f.source.name().to_string(),
                covered: f.covered.clone(),
                missing: f.missing.clone(),
            })
            .collect(),
        rows: found,
    })
}

/// Where each stored event of the pack's people came from: per (person id
/// as stored, delivery), its events and its linked rows, both in stored
/// order (see `Store::stored_events_in_order`).
struct RowIndex {
    events: HashMap<(PersonId, u32), Vec<crate::records::Event>>,
    rows: HashMap<(PersonId, u32), Vec<u64>>,
}

impl RowIndex {
    fn build(engine: &Engine, ids: &HashSet<PersonId>) -> Result<RowIndex> {
        let list: Vec<PersonId> = ids.iter().copied().collect();
        let mut events: HashMap<(PersonId, u32), Vec<_>> = HashMap::new();
        for se in engine.store.stored_events_in_order(&list)? {
            events
                .entry((se.person, se.seq))
                .or_default()
                .push(se.event);
        }
        let mut rows: HashMap<(PersonId, u32), Vec<u64>> = HashMap::new();
        for l in engine.store.links() {
            let l = l?;
            if ids.contains(&l.link.person) && events.contains_key(&(l.link.person, l.seq)) {
                rows.entry((l.link.person, l.seq))
                    .or_default()
                    .push(l.link.row);
            }
        }
        Ok(RowIndex { events, rows })
    }

    /// The rows that carried `event` for `person` in delivery `seq` (more
    /// than one where the partner sent the same event twice).
    fn rows_of(
        &self,
        person: PersonId,
        seq: u32,
        event: &crate::records::Event,
    ) -> Vec<Option<u64>> {
        let key = (person, seq);
        let rows = self.rows.get(&key);
        self.events
            .get(&key)
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, e)| *e == event)
            .map(|(i, _)| rows.and_then(|r| r.get(i).copied()))
            .collect()
    }
}

type ClaimKey = (String, String, NaiveDate);

/// Every stored notice by its claim, oldest first, with its sinks' states
/// (none where no sink is configured: queued, never sent).
fn notices_by_claim(engine: &Engine) -> Result<HashMap<ClaimKey, Vec<PackNotice>>> {
    use sha2::Digest as _;
    let outbox = engine.store.outbox();
    let mut sinks: BTreeMap<String, Vec<SinkState>> = BTreeMap::new();
    for (id, sink, st) in outbox.states()? {
        sinks.entry(id).or_default().push(SinkState {
            sink,
            delivered_at: st.delivered_at,
            attempts: st.attempts,
            last_error: st.last_error,
        });
    }
    let mut out: HashMap<ClaimKey, Vec<PackNotice>> = HashMap::new();
    for (id, bytes) in outbox.notices()? {
        // Partners' delivery receipts share the outbox; they are not notices.
        if crate::notify::receipt::is_receipt_id(&id) {
            continue;
        }
        let states = sinks.remove(&id).unwrap_or_default();
        let n: crate::notify::Notice = serde_json::from_slice(&bytes)
            .with_context(|| format!("notice {id} in the outbox does not decode"))?;
        out.entry((n.case_ref.clone(), n.outcome_id.clone(), n.claim_date))
            .or_default()
            .push(PackNotice {
                id: n.id,
                sequence: n.sequence,
                verdict: n.verdict,
                supersedes: n.supersedes,
                decided_at: n.decided_at,
                issued_at: n.issued_at,
                sha256: hex::encode(Sha256::digest(&bytes)),
                sinks: states,
            });
    }
    for v in out.values_mut() {
        v.sort_by_key(|n| n.sequence);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(id: &str) -> PackPseudonyms {
        PackPseudonyms::new(&HmacKey::from_bytes("k1", [7; 32]), id.into())
    }

    #[test]
    fn pseudonyms_differ_between_packs_and_from_the_store() {
        let (a, b) = (ps("aa"), ps("bb"));
        assert_eq!(a.of("p12"), a.of("p12"));
        assert_ne!(a.of("p12"), b.of("p12"));
        assert_ne!(a.of("p12"), a.of("p13"));
        assert!(!a.of("p12").contains("12"));
        let other_key = PackPseudonyms::new(&HmacKey::from_bytes("k2", [8; 32]), "aa".into());
        assert_ne!(a.of("p12"), other_key.of("p12"));
    }

    #[test]
    fn findings_lose_every_store_reference() {
        let a = ps("aa");
        let got = a.rewrite("p12: 3 weeks; p7 95.0%, p12 again (sp3 kept, p is not, p9x not)");
        assert_eq!(
            got,
            format!(
                "{}: 3 weeks; {} 95.0%, {} again (sp3 kept, p is not, p9x not)",
                a.of("p12"),
                a.of("p7"),
                a.of("p12")
            )
        );
        assert_eq!(a.rewrite("café p1"), format!("café {}", a.of("p1")));
    }
}
