//! Assurance flags: where the claims depart from what peers and the data
//! lead one to expect, so an internal auditor knows where to look first.
//!
//! In: the stored claims, their stored decisions (with verdict history)
//! and the committed deliveries. Out: a [`Report`] of [`Flag`]s, each naming
//! its subject, why it was raised, the test and threshold it failed with
//! the figures, and the claims it covers. Five kinds:
//!
//! * **keyworker / team volume**: a claimant's number of claims against
//!   their peers' by a robust z-score (median and MAD; [`stats::spread`]),
//!   flagged beyond [`Thresholds::robust_z`] (either side), with at least
//!   [`Thresholds::min_peers`] claimants to compare;
//! * **keyworker / team verified share**: among a claimant's claims decided
//!   on data (verified or contradicted), the verified share against the
//!   pooled share of everyone else's, by a two-sided exact binomial test at
//!   a Bonferroni-corrected level ([`Thresholds::alpha`] / claimants
//!   tested), testing only claimants with at least
//!   [`Thresholds::min_decided`] such claims (one contradicted claim of two
//!   is no evidence of anything);
//! * **edge of coverage**: a verified claim whose window some feed covered,
//!   when it was decided, by no more than [`Thresholds::edge_days`] past the
//!   window's end (decided the moment the data barely reached it);
//! * **flipped by later data**: a claim once verified and now contradicted
//!   under the same framework version, the contradicting data arriving
//!   within [`Thresholds::flip_days`] of the claim date;
//! * **outcome frequency**: an outcome claimed far more often than the
//!   others, by the robust z-score above (high side only).
//!
//! Promises: pure (no store, no clock): the same input gives the same flags
//! in the same order; a flag carries references the council already holds
//! (case refs, staff refs, team names, outcome ids), never a person's
//! pseudonym or an identifier.

pub mod stats;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::records::Period;
use crate::store::{ClaimRecord, DeliveryRecord};
use crate::triangulate::{Verdict, VerdictRecord};

/// The tests' thresholds, stated in every report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// |robust z| beyond which a volume departs (Iglewicz and Hoaglin's 3.5).
    pub robust_z: f64,
    /// Fewest claimants (or outcomes) for a volume comparison to mean anything.
    pub min_peers: usize,
    /// Family-wise significance level of the verified-share tests, shared out
    /// over the claimants tested (Bonferroni).
    pub alpha: f64,
    /// Fewest data-decided claims for a claimant's verified share to be
    /// tested (and for the others' pooled share to be a reference).
    pub min_decided: u64,
    /// Days of coverage past a window's end at or under which a verified
    /// decision was on the edge.
    pub edge_days: i64,
    /// Days after the claim date within which contradicting data arriving
    /// makes a flip "just after" the claim.
    pub flip_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            robust_z: 3.5,
            min_peers: 5,
            alpha: 0.01,
            min_decided: 10,
            edge_days: 7,
            flip_days: 180,
        }
    }
}

/// What a flag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    KeyworkerVolume,
    KeyworkerVerifiedShare,
    TeamVolume,
    TeamVerifiedShare,
    EdgeOfCoverage,
    FlippedByLaterData,
    OutcomeFrequency,
}

impl FlagKind {
    pub fn name(self) -> &'static str {
        match self {
            FlagKind::KeyworkerVolume => "keyworker volume",
            FlagKind::KeyworkerVerifiedShare => "keyworker verified share",
            FlagKind::TeamVolume => "team volume",
            FlagKind::TeamVerifiedShare => "team verified share",
            FlagKind::EdgeOfCoverage => "edge of coverage",
            FlagKind::FlippedByLaterData => "flipped by later data",
            FlagKind::OutcomeFrequency => "outcome frequency",
        }
    }
}

/// A claim, by the key the council's systems know it by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ClaimRef {
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
}

impl std::fmt::Display for ClaimRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.case_ref, self.outcome_id, self.claim_date
        )
    }
}

fn claim_ref(c: &ClaimRecord) -> ClaimRef {
    ClaimRef {
        case_ref: c.case_ref.clone(),
        outcome_id: c.outcome_id.clone(),
        claim_date: c.claim_date,
    }
}

/// One flag: its subject, why, the test with its figures, the claims.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub kind: FlagKind,
    /// The keyworker's ref, the team, the outcome id, or the claim.
    pub subject: String,
    pub why: String,
    pub test: String,
    pub figures: BTreeMap<&'static str, f64>,
    pub claims: Vec<ClaimRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub claims: usize,
    pub thresholds: Thresholds,
    pub flags: Vec<Flag>,
}

/// Everything assurance looks at, as the store holds it.
pub struct Input<'a> {
    pub claims: &'a [ClaimRecord],
    pub verdicts: &'a [VerdictRecord],
    pub deliveries: &'a [DeliveryRecord],
}

type Key = (String, String, NaiveDate);

fn key_of(c: &ClaimRecord) -> Key {
    (c.case_ref.clone(), c.outcome_id.clone(), c.claim_date)
}

/// Raises every flag on `input`.
pub fn assess(input: &Input<'_>, t: &Thresholds) -> Report {
    let verdicts: BTreeMap<Key, &VerdictRecord> = input
        .verdicts
        .iter()
        .map(|v| ((v.case_ref.clone(), v.outcome_id.clone(), v.claim_date), v))
        .collect();
    let mut claims: Vec<&ClaimRecord> = input.claims.iter().collect();
    claims.sort_by_key(|c| key_of(c));
    let mut flags = Vec::new();
    let by_kw = group(&claims, |c| c.keyworker_ref.clone());
    let by_team = group(&claims, |c| c.team.clone());
    for (groups, volume, share, who) in [
        (
            &by_kw,
            FlagKind::KeyworkerVolume,
            FlagKind::KeyworkerVerifiedShare,
            "keyworker",
        ),
        (
            &by_team,
            FlagKind::TeamVolume,
            FlagKind::TeamVerifiedShare,
            "team",
        ),
    ] {
        flags.extend(volume_flags(groups, volume, who, t, false));
        flags.extend(share_flags(groups, &verdicts, share, who, t));
    }
    for c in &claims {
        let Some(v) = verdicts.get(&key_of(c)) else {
            continue;
        };
        flags.extend(edge_flag(c, v, input.deliveries, t));
        flags.extend(flip_flag(c, v, input.deliveries, t));
    }
    let by_outcome = group(&claims, |c| Some(c.outcome_id.clone()));
    flags.extend(volume_flags(
        &by_outcome,
        FlagKind::OutcomeFrequency,
        "outcome",
        t,
        true,
    ));
    flags.sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
    Report {
        claims: input.claims.len(),
        thresholds: *t,
        flags,
    }
}

type Groups<'a> = BTreeMap<String, Vec<&'a ClaimRecord>>;

fn group<'a>(
    claims: &[&'a ClaimRecord],
    by: impl Fn(&ClaimRecord) -> Option<String>,
) -> Groups<'a> {
    let mut g: Groups<'a> = BTreeMap::new();
    for c in claims {
        if let Some(k) = by(c) {
            g.entry(k).or_default().push(c);
        }
    }
    g
}

/// Volumes against peers by robust z; `high_only` for outcomes (claimed
/// *more* often is the concern there).
fn volume_flags(
    groups: &Groups<'_>,
    kind: FlagKind,
    who: &str,
    t: &Thresholds,
    high_only: bool,
) -> Vec<Flag> {
    if groups.len() < t.min_peers {
        return Vec::new();
    }
    let counts: Vec<f64> = groups.values().map(|v| v.len() as f64).collect();
    let Some(s) = stats::spread(&counts) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, claims) in groups {
        let n = claims.len() as f64;
        let z = s.z(n);
        let departs = if high_only {
            z > t.robust_z
        } else {
            z.abs() > t.robust_z
        };
        if !departs {
            continue;
        }
        let side = if z > 0.0 { "more" } else { "fewer" };
        out.push(Flag {
            kind,
            subject: format!("{who} {name}"),
            why: format!(
                "{n} claims, {side} than the {} {who}s' median of {} by {:.1} robust standard deviations",
                groups.len(),
                s.median,
                z.abs()
            ),
            test: format!(
                "robust z = (claims - median) / {}; flagged where {} > {}",
                if s.estimate == "MAD" { "(1.4826 x MAD)" } else { "(1.2533 x mean absolute deviation, the MAD being 0)" },
                if high_only { "z" } else { "|z|" },
                t.robust_z
            ),
            figures: BTreeMap::from([
                ("claims", n),
                ("median", s.median),
                ("scale", s.scale),
                ("z", z),
                ("threshold", t.robust_z),
                ("peers", groups.len() as f64),
            ]),
            claims: claims.iter().map(|c| claim_ref(c)).collect(),
        });
    }
    out
}

/// Verified share among data-decided claims against everyone else's.
fn share_flags(
    groups: &Groups<'_>,
    verdicts: &BTreeMap<Key, &VerdictRecord>,
    kind: FlagKind,
    who: &str,
    t: &Thresholds,
) -> Vec<Flag> {
    // (decided on data, verified) per group.
    let tally: BTreeMap<&String, (u64, u64)> = groups
        .iter()
        .map(|(g, cs)| {
            let mut n = (0, 0);
            for c in cs {
                match verdicts.get(&key_of(c)).map(|v| v.verdict) {
                    Some(Verdict::Verified) => n = (n.0 + 1, n.1 + 1),
                    Some(Verdict::Contradicted) => n.0 += 1,
                    _ => {}
                }
            }
            (g, n)
        })
        .collect();
    let tested: Vec<_> = tally
        .iter()
        .filter(|(_, (n, _))| *n >= t.min_decided)
        .collect();
    if tested.len() < 2 {
        return Vec::new();
    }
    let (all_n, all_k) = tested
        .iter()
        .fold((0, 0), |a, (_, (n, k))| (a.0 + n, a.1 + k));
    let level = t.alpha / tested.len() as f64;
    let mut out = Vec::new();
    for (g, &(n, k)) in &tested {
        // Leave-one-out: a big claimant does not mask itself in the pool.
        let (rest_n, rest_k) = (all_n - n, all_k - k);
        if rest_n < t.min_decided {
            continue;
        }
        let p0 = rest_k as f64 / rest_n as f64;
        let p = stats::binomial_two_sided(n, k, p0);
        if p >= level {
            continue;
        }
        let share = k as f64 / n as f64;
        let side = if share > p0 { "higher" } else { "lower" };
        out.push(Flag {
            kind,
            subject: format!("{who} {g}"),
            why: format!(
                "{k} of {n} data-decided claims verified ({:.0}%), {side} than the other {who}s' {:.0}% ({rest_k} of {rest_n})",
                share * 100.0,
                p0 * 100.0
            ),
            test: format!(
                "two-sided exact binomial test of the verified count against the others' pooled share; flagged where p < {} / {} {who}s tested (Bonferroni) = {level:.2e}",
                t.alpha,
                tested.len()
            ),
            figures: BTreeMap::from([
                ("decided", n as f64),
                ("verified", k as f64),
                ("share", share),
                ("pooled_share", p0),
                ("p_value", p),
                ("threshold", level),
            ]),
            claims: groups[g.as_str()].iter().map(|c| claim_ref(c)).collect(),
        });
    }
    out
}

/// A feed's coverage from its deliveries up to `seq`, merged.
fn coverage_through(deliveries: &[DeliveryRecord], feed: &str, seq: u32) -> Vec<Period> {
    let mut ps: Vec<Period> = deliveries
        .iter()
        .filter(|d| d.feed == feed && d.seq <= seq)
        .filter_map(|d| d.period)
        .collect();
    ps.sort();
    let mut out: Vec<Period> = Vec::new();
    for p in ps {
        match out.last_mut() {
            Some(last) if p.from <= last.to.succ_opt().unwrap_or(last.to) => {
                last.to = last.to.max(p.to);
            }
            _ => out.push(p),
        }
    }
    out
}

fn edge_flag(
    c: &ClaimRecord,
    v: &VerdictRecord,
    deliveries: &[DeliveryRecord],
    t: &Thresholds,
) -> Option<Flag> {
    if v.verdict != Verdict::Verified {
        return None;
    }
    // The tightest (feed, window) of the decision: days of coverage past
    // the window's end, on the data it was decided on.
    let mut tightest: Option<(i64, String, Period)> = None;
    for e in &v.decision.evidence {
        let Some(w) = e.window else { continue };
        for f in &e.feeds {
            let cov = coverage_through(deliveries, &f.feed, v.as_of_delivery);
            let Some(p) = cov.iter().find(|p| p.contains(w.to)) else {
                continue;
            };
            let margin = (p.to - w.to).num_days();
            if tightest.as_ref().is_none_or(|(m, _, _)| margin < *m) {
                tightest = Some((margin, f.feed.clone(), w));
            }
        }
    }
    let (margin, feed, w) = tightest?;
    (margin <= t.edge_days).then(|| {
        let r = claim_ref(c);
        Flag {
            kind: FlagKind::EdgeOfCoverage,
            subject: format!("claim {r}"),
            why: format!(
                "verified on data to delivery {}: feed {feed}'s coverage then reached {margin} day{} past the window {w}",
                v.as_of_delivery,
                if margin == 1 { "" } else { "s" }
            ),
            test: format!(
                "days the deciding coverage runs past the window's end; flagged where <= {}",
                t.edge_days
            ),
            figures: BTreeMap::from([
                ("margin_days", margin as f64),
                ("threshold", t.edge_days as f64),
                ("as_of_delivery", f64::from(v.as_of_delivery)),
            ]),
            claims: vec![r],
        }
    })
}

fn flip_flag(
    c: &ClaimRecord,
    v: &VerdictRecord,
    deliveries: &[DeliveryRecord],
    t: &Thresholds,
) -> Option<Flag> {
    if v.verdict != Verdict::Contradicted {
        return None;
    }
    // The decisions oldest first, ending with the current one.
    let mut steps: Vec<(Verdict, &str, u32)> = v
        .history
        .iter()
        .map(|h| (h.verdict, h.framework_version.as_str(), h.as_of_delivery))
        .collect();
    steps.push((v.verdict, &v.framework_version, v.as_of_delivery));
    // The last verified decision, and the contradiction that followed it on
    // the same framework version (else the plan changed, not the data).
    let i = steps.iter().rposition(|s| s.0 == Verdict::Verified)?;
    let (_, fw, _) = steps[i];
    let (_, fw2, seq) = *steps[i + 1..]
        .iter()
        .find(|s| s.0 == Verdict::Contradicted)?;
    if fw != fw2 {
        return None;
    }
    let d = deliveries.iter().find(|d| d.seq == seq)?;
    let days = (d.received_at.date_naive() - c.claim_date).num_days();
    (days <= t.flip_days).then(|| {
        let r = claim_ref(c);
        Flag {
            kind: FlagKind::FlippedByLaterData,
            subject: format!("claim {r}"),
            why: format!(
                "verified, then contradicted on data to delivery {seq} (feed {}, received {}), {days} days after the claim date",
                d.feed,
                d.received_at.date_naive()
            ),
            test: format!(
                "a verified decision contradicted later under the same framework version, the data arriving within {} days of the claim date",
                t.flip_days
            ),
            figures: BTreeMap::from([
                ("days_after_claim", days as f64),
                ("threshold", t.flip_days as f64),
                ("delivery", f64::from(seq)),
            ]),
            claims: vec![r],
        }
    })
}

#[cfg(test)]
mod tests;
