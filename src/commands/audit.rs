//! `audit verify|show|rotate`, `keygen --purpose`, `store compare`, and
//! the audit log every command opens.
//!
//! In: the config (data dir, `audit_key_file`, `key_file`), checkpoints,
//! a date, a new key, another data dir. Out: the audit log's check (exit 1
//! naming the first bad entry), its entries, a rotated key, a comparison
//! of two stores' verdicts (exit 1 if they differ).
//!
//! Promises: every command that opens the store opens the audit log with
//! it and checks the log against the store's checkpoint first; an audit
//! key is made on first use only when no log exists yet (a missing key
//! beside an existing log is an error, never a fresh chain); `audit
//! rotate` records the hand-over under the old key before the new key
//! replaces it, and keeps the old one for `verify`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::load_config;
use crate::audit::{self, Action, Audit, Checkpoint, Keyring};
use crate::config::Config;
use crate::keys::{HmacKey, Purpose};
use crate::store::Store;
use crate::triangulate::VerdictRecord;

/// The config's audit key, made (0600, never overwriting) if there is no
/// key and no log yet.
fn audit_key(cfg: &Config) -> Result<HmacKey> {
    let path = &cfg.audit_key_file;
    if !path.exists() && audit::head(&cfg.data_dir)?.seq == 0 {
        let key = HmacKey::generate_for(Purpose::Audit)?;
        key.write_new(path).with_context(|| {
            format!(
                "there is no audit key at {} and it cannot be made there; make one with `outcomesd keygen --purpose audit --out {}` (or set audit_key_file)",
                path.display(),
                path.display()
            )
        })?;
        eprintln!(
            "made audit key {} at {} (mode 0600): back it up with the matching key (keys/README.md)",
            key.id(),
            path.display()
        );
    }
    HmacKey::load_for(path, Purpose::Audit)
        .with_context(|| format!("loading the audit key (audit_key_file {})", path.display()))
}

/// The audit log of `cfg`'s data dir, checked against `store`'s
/// checkpoint (when the caller holds the store) and keeping it moving.
pub fn open_audit(cfg: &Config, store: Option<&Store>) -> Result<Audit> {
    let key = audit_key(cfg)?;
    let mut a = Audit::open(&cfg.data_dir, key).context("opening the audit log")?;
    if let Some(s) = store {
        a = a
            .with_mark(s.audit_mark())
            .context("checking the audit log against the store")?;
    }
    Ok(a)
}

/// Records that `command` showed personal data about `subjects`.
pub(super) fn read(
    engine: &crate::ingest::Engine,
    reason: Option<&str>,
    command: &str,
    subjects: &[String],
) -> Result<()> {
    note_read(engine.audit.as_ref(), reason, command, subjects)
}

/// [`read`] for a command that opened no engine.
pub(super) fn note_read(
    log: Option<&Audit>,
    reason: Option<&str>,
    command: &str,
    subjects: &[String],
) -> Result<()> {
    audit::note_why(log, reason, Action::read(command, subjects))
        .context("recording the read in the audit log")
}

/// The daemon's start entry: the id of every key it holds.
pub(super) fn record_start(cfg: &Config, engine: &crate::ingest::Engine) -> Result<()> {
    let Some(a) = &engine.audit else {
        return Ok(());
    };
    let matching_key = HmacKey::load(&cfg.key_file)?.id().to_string();
    let pack_key = HmacKey::load_for(&cfg.pack_key_file, Purpose::Pack)
        .ok()
        .map(|k| k.id().to_string());
    let webhook_keys = cfg.sinks.iter().filter_map(|s| s.key_id()).collect();
    a.record(Action::Start {
        version: env!("CARGO_PKG_VERSION").to_string(),
        matching_key,
        audit_key: a.key_id(),
        pack_key,
        webhook_keys,
    })
    .context("recording the start in the audit log")?;
    Ok(())
}

/// `audit verify [--head SEQ:HASH]... [--key FILE]...`.
pub fn audit_verify(
    config: &Path,
    heads: &[String],
    extra_keys: &[std::path::PathBuf],
    json: bool,
) -> Result<()> {
    let cfg = load_config(config)?;
    let mut keys = Keyring::load(&cfg.audit_key_file)
        .with_context(|| format!("loading audit keys ({})", cfg.audit_key_file.display()))?;
    for k in extra_keys {
        keys.add(HmacKey::load_for(k, Purpose::Audit)?);
    }
    let mut cps = Vec::new();
    for h in heads {
        cps.push(Checkpoint::parse(h, "--head").with_context(|| {
            format!("--head {h}: expected SEQ:HASH (64 hex digits), as the journal's `audit chain head` line gives")
        })?);
    }
    // The store's checkpoint, unless the daemon holds the store.
    let mut store_note = None;
    let matching = HmacKey::load(&cfg.key_file).context("loading the matching key")?;
    let store_dir = cfg.data_dir.join("store");
    let opened = match store_dir.exists() {
        true => Store::open(&store_dir, matching.id()).map(Some),
        false => Ok(None), // nothing to check against, and nothing is made
    };
    match opened {
        Ok(None) => store_note = Some("there is no store yet, so no store checkpoint"),
        Ok(Some(s)) => {
            if let Some((seq, hash)) = s.audit_mark().get()? {
                cps.push(Checkpoint {
                    seq,
                    hash,
                    source: "the store's checkpoint".into(),
                });
            }
        }
        Err(crate::store::StoreError::InUse { .. }) => {
            store_note = Some("the store is in use (daemon running): its checkpoint was not read; pass the journal's last head with --head");
        }
        Err(e) => return Err(e).context("reading the store's audit checkpoint"),
    }
    let path = cfg.data_dir.join(audit::FILE_NAME);
    let r = audit::verify(&path, &keys, &cps)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        outln!(
            "{}: {} entries, head {}, keys {}",
            path.display(),
            r.entries,
            r.head,
            if r.keys_used.is_empty() {
                "-".to_string()
            } else {
                r.keys_used.join(" then ")
            }
        );
        for c in &r.checkpoints {
            outln!("  checked against {c}");
        }
        if let Some(n) = store_note {
            outln!("  note: {n}");
        }
    }
    if let Some(p) = r.problem {
        bail!("audit log {} does not verify: {p}", path.display());
    }
    if !json {
        outln!("ok: every entry's MAC and link verify");
    }
    Ok(())
}

/// `audit show --since DATE [--json]`: entries from that day on (UTC).
pub fn audit_show(config: &Path, since: NaiveDate, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let entries = audit::read_entries(&cfg.data_dir.join(audit::FILE_NAME))?;
    for e in entries.iter().filter(|e| e.time.date_naive() >= since) {
        if json {
            outln!("{}", serde_json::to_string(e)?);
            continue;
        }
        let action = serde_json::to_value(&e.action)?;
        let kind = action["kind"].as_str().unwrap_or("?").to_string();
        let fields: Vec<String> = action
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| *k != "kind" && !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                v => format!("{k}={v}"),
            })
            .collect();
        out!(
            "{:>6} {} {}({}) {kind} {}",
            e.seq,
            e.time.format("%Y-%m-%d %H:%M:%SZ"),
            e.actor.user,
            e.actor.uid,
            fields.join(" ")
        );
        if let Some(r) = &e.reason {
            out!(" reason={r:?}");
        }
        outln!();
    }
    Ok(())
}

/// `audit rotate --new-key FILE`: the hand-over entry under the old key,
/// then the old key kept as `<audit_key_file>.retired-<id>` and the new
/// one moved to `audit_key_file`. Run with the daemon stopped.
pub fn audit_rotate(config: &Path, new_key: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let new = HmacKey::load_for(new_key, Purpose::Audit)?;
    let current = HmacKey::load_for(&cfg.audit_key_file, Purpose::Audit)?;
    if new.id() == current.id() {
        bail!(
            "{} is the audit key in use ({})",
            new_key.display(),
            new.id()
        );
    }
    let (old_id, new_id) = (current.id().to_string(), new.id().to_string());
    let matching = HmacKey::load(&cfg.key_file).context("loading the matching key")?;
    let store = Store::open(&cfg.data_dir.join("store"), matching.id())
        .context("opening the store (stop the daemon first)")?;
    let a = Audit::open(&cfg.data_dir, current)?.with_mark(store.audit_mark())?;
    let head = a.rotate(new)?;
    drop(a);
    let retired = audit::retired_path(&cfg.audit_key_file, &old_id);
    std::fs::rename(&cfg.audit_key_file, &retired)
        .with_context(|| format!("keeping the old key as {}", retired.display()))?;
    if std::fs::rename(new_key, &cfg.audit_key_file).is_err() {
        // Another file system: copy (0600, never overwriting), then remove.
        HmacKey::load_for(new_key, Purpose::Audit)?.write_new(&cfg.audit_key_file)?;
        std::fs::remove_file(new_key)
            .with_context(|| format!("removing {} after copying it", new_key.display()))?;
    }
    outln!(
        "audit key rotated at entry {}: {old_id} -> {new_id}; the old key is kept as {} (verify needs it)",
        head.seq,
        retired.display()
    );
    outln!("audit chain head {head}");
    Ok(())
}

/// `keygen --purpose matching|audit|pack --out FILE`.
pub fn keygen_for(out_file: &Path, purpose: Purpose) -> Result<()> {
    let key = HmacKey::generate_for(purpose)?;
    key.write_new(out_file)?;
    outln!(
        "wrote {} key {} to {} (mode 0600)",
        purpose.name(),
        key.id(),
        out_file.display()
    );
    outln!("keep it secret and back it up offline: see keys/README.md");
    Ok(())
}

/// A claim, named by what is not a pseudonym.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ClaimRef {
    pub case_ref: String,
    pub outcome: String,
    pub claim_date: NaiveDate,
}

/// A claim decided differently by the two stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Differs {
    pub claim: ClaimRef,
    pub here: String,
    pub other: String,
}

/// Two stores' verdicts side by side.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Compared {
    pub same: usize,
    pub differ: Vec<Differs>,
    pub only_here: Vec<ClaimRef>,
    pub only_other: Vec<ClaimRef>,
}

impl Compared {
    /// The stores agree on every claim.
    pub fn agree(&self) -> bool {
        self.differ.is_empty() && self.only_here.is_empty() && self.only_other.is_empty()
    }

    /// Verdicts per claim of `here` against `other`.
    pub fn of(here: &[VerdictRecord], other: &[VerdictRecord]) -> Compared {
        let index = |v: &[VerdictRecord]| -> BTreeMap<ClaimRef, String> {
            v.iter()
                .map(|r| {
                    let c = ClaimRef {
                        case_ref: r.case_ref.clone(),
                        outcome: r.outcome_id.clone(),
                        claim_date: r.claim_date,
                    };
                    (c, r.verdict.name().to_string())
                })
                .collect()
        };
        let (a, mut b) = (index(here), index(other));
        let mut out = Compared::default();
        for (claim, v) in a {
            match b.remove(&claim) {
                Some(w) if w == v => out.same += 1,
                Some(w) => out.differ.push(Differs {
                    claim,
                    here: v,
                    other: w,
                }),
                None => out.only_here.push(claim),
            }
        }
        out.only_other = b.into_keys().collect();
        out
    }
}

/// `store compare --other-data-dir DIR [--json]`: this store's verdicts
/// against another's (the store rebuilt under a new matching key), per
/// claim by case reference, outcome and date, which no key changes. Exit
/// 1 if they differ, like `diff`.
pub fn store_compare(config: &Path, other: &Path, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = super::open_engine(&cfg)?;
    let dir = other.join("store");
    let id = Store::key_id_at(&dir)
        .with_context(|| format!("reading the store in {}", other.display()))?
        .with_context(|| format!("{} holds no store", other.display()))?;
    let theirs = Store::open(&dir, &id)
        .with_context(|| format!("opening the store in {} (stop its daemon)", other.display()))?;
    read(&engine, None, "store compare", &[])?;
    let here = crate::triangulate::stored_verdicts(&engine.store)?;
    let there = crate::triangulate::stored_verdicts(&theirs)?;
    let c = Compared::of(&here, &there);
    if json {
        outln!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        outln!(
            "{} claims decided alike; {} decided differently; {} only here; {} only in {} (key {id})",
            c.same,
            c.differ.len(),
            c.only_here.len(),
            c.only_other.len(),
            other.display()
        );
        for d in &c.differ {
            let k = &d.claim;
            outln!(
                "  differ {} {} {}: here {}, there {}",
                k.case_ref,
                k.outcome,
                k.claim_date,
                d.here,
                d.other
            );
        }
        for (side, list) in [("only here", &c.only_here), ("only there", &c.only_other)] {
            for k in list {
                outln!("  {side} {} {} {}", k.case_ref, k.outcome, k.claim_date);
            }
        }
    }
    if !c.agree() {
        bail!("the two stores' verdicts differ (see above)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triangulate::{Decision, Verdict};

    fn rec(case: &str, outcome: &str, v: Verdict) -> VerdictRecord {
        VerdictRecord {
            case_ref: case.into(),
            outcome_id: outcome.into(),
            claim_date: NaiveDate::from_ymd_opt(2016, 5, 1).unwrap(),
            framework: "t".into(),
            framework_version: "1".into(),
            problem: None,
            verdict: v,
            decision: Decision::new(v),
            also_evidences: vec![],
            as_of_delivery: 1,
            decided_at: chrono::Utc::now(),
            history: vec![],
        }
    }

    #[test]
    fn compare_names_every_difference_by_claim() {
        let here = [
            rec("SF-1", "A", Verdict::Verified),
            rec("SF-2", "A", Verdict::Verified),
            rec("SF-3", "A", Verdict::Insufficient),
        ];
        let there = [
            rec("SF-1", "A", Verdict::Verified),
            rec("SF-2", "A", Verdict::Contradicted),
            rec("SF-4", "B", Verdict::Verified),
        ];
        let c = Compared::of(&here, &there);
        assert_eq!(c.same, 1);
        assert_eq!(c.differ.len(), 1);
        assert_eq!(c.differ[0].claim.case_ref, "SF-2");
        assert_eq!(
            (c.differ[0].here.as_str(), c.differ[0].other.as_str()),
            ("verified", "contradicted")
        );
        assert_eq!(c.only_here[0].case_ref, "SF-3");
        assert_eq!(c.only_other[0].case_ref, "SF-4");
        assert!(!c.agree());
        assert!(Compared::of(&here, &here).agree());
    }
}
