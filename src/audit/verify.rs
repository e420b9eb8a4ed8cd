//! Checking an audit log: every MAC, every link, every sequence number,
//! and the end against checkpoints.
//!
//! In: the log's path, the audit keys (current and retired: a
//! [`Keyring`]), and checkpoints (`--head SEQ:HASH` from the journal or an
//! evidence pack, the store's [`crate::store::AuditMark`]). Out: a
//! [`VerifyReport`] naming the first bad entry, if any.
//!
//! Promises: an edited entry fails its MAC (the MAC covers the line's exact
//! bytes); a deleted, repeated or moved entry breaks the sequence or the
//! `prev` link at the first line out of place; an entry under a key no
//! `key_rotated` entry handed over to is refused; entries cut off the end
//! are found against any checkpoint beyond the new end.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{hash_of, mac_of, Action, AuditError, Entry, Head, GENESIS, MAC_SUFFIX_LEN};
use crate::keys::{HmacKey, KeyError, Purpose};

/// The audit keys a log may be under, by id.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: HashMap<String, HmacKey>,
}

impl Keyring {
    pub fn new(keys: impl IntoIterator<Item = HmacKey>) -> Keyring {
        Keyring {
            keys: keys.into_iter().map(|k| (k.id().to_string(), k)).collect(),
        }
    }

    /// The key at `current` and every key `audit rotate` retired beside it
    /// (`<current>.retired-<id>`).
    pub fn load(current: &Path) -> Result<Keyring, KeyError> {
        let mut keys = vec![HmacKey::load_for(current, Purpose::Audit)?];
        for p in retired_keys(current) {
            keys.push(HmacKey::load_for(&p, Purpose::Audit)?);
        }
        Ok(Keyring::new(keys))
    }

    pub fn add(&mut self, key: HmacKey) {
        self.keys.insert(key.id().to_string(), key);
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.keys.keys().cloned().collect();
        ids.sort();
        ids
    }
}

/// Where `audit rotate` keeps the key it retired from `current`.
pub fn retired_path(current: &Path, id: &str) -> PathBuf {
    let mut name = current.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".retired-{id}"));
    current.with_file_name(name)
}

fn retired_keys(current: &Path) -> Vec<PathBuf> {
    let Some(dir) = current.parent() else {
        return vec![];
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(
        "{}.retired-",
        current.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// A head recorded elsewhere, to check the log's end against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    /// Where it came from (`--head`, `the store`).
    pub source: String,
}

impl Checkpoint {
    /// `SEQ:HASH`, as the journal's `audit chain head` line and
    /// [`Head`]'s display give it.
    pub fn parse(text: &str, source: &str) -> Option<Checkpoint> {
        let (s, h) = text.trim().split_once(':')?;
        let hash = h.trim().to_ascii_lowercase();
        (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
        Some(Checkpoint {
            seq: s.trim().parse().ok()?,
            hash,
            source: source.to_string(),
        })
    }
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The line of the file (1-based; one past the end for a cut).
    pub line: u64,
    /// The entry the problem is at: the one expected there.
    pub entry: u64,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "first bad entry {} (line {}): {}",
            self.entry, self.line, self.what
        )
    }
}

/// What `audit verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Entries that verified, in order, before any problem.
    pub entries: u64,
    /// The last entry that verified.
    pub head: Head,
    /// The audit key ids the entries were under, in order of use.
    pub keys_used: Vec<String>,
    pub checkpoints: Vec<String>,
    pub problem: Option<Problem>,
}

/// Checks the log at `path` (see the module promises). An absent log is an
/// empty one, so a checkpoint beyond 0 finds it cut.
pub fn verify(
    path: &Path,
    keys: &Keyring,
    checkpoints: &[Checkpoint],
) -> Result<VerifyReport, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut report = VerifyReport {
        entries: 0,
        head: Head {
            seq: 0,
            hash: GENESIS.into(),
        },
        keys_used: vec![],
        checkpoints: checkpoints
            .iter()
            .map(|c| format!("{}:{} ({})", c.seq, c.hash, c.source))
            .collect(),
        problem: None,
    };
    let mut reader = match std::fs::File::open(path) {
        Ok(f) => Some(std::io::BufReader::new(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let mut current: Option<String> = None;
    let mut seen: HashMap<u64, String> = HashMap::new();
    let wanted: std::collections::HashSet<u64> = checkpoints.iter().map(|c| c.seq).collect();
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    while let Some(r) = reader.as_mut() {
        buf.clear();
        if r.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        let expected = report.head.seq + 1;
        let bad = |what: String| Problem {
            line: line_no,
            entry: expected,
            what,
        };
        if buf.pop() != Some(b'\n') {
            report.problem = Some(bad(
                "the last line is cut short (a crash while writing it, or an edit)".into(),
            ));
            return Ok(report);
        }
        match check_line(&buf, expected, &report.head.hash, &mut current, keys) {
            Ok(e) => {
                let hash = hash_of(&buf);
                if wanted.contains(&e.seq) {
                    seen.insert(e.seq, hash.clone());
                }
                if report.keys_used.last() != Some(&e.key) {
                    report.keys_used.push(e.key.clone());
                }
                report.entries += 1;
                report.head = Head { seq: e.seq, hash };
            }
            Err(what) => {
                report.problem = Some(bad(what));
                return Ok(report);
            }
        }
    }
    for c in checkpoints {
        let last = report.head.seq;
        if c.seq > last {
            report.problem = Some(Problem {
                line: line_no + 1,
                entry: last + 1,
                what: format!(
                    "the log ends at entry {last} but {} says entry {} was written: entries {}..={} were cut off the end",
                    c.source,
                    c.seq,
                    last + 1,
                    c.seq
                ),
            });
            return Ok(report);
        }
        let matches = if c.seq == 0 {
            c.hash == GENESIS
        } else {
            seen.get(&c.seq) == Some(&c.hash)
        };
        if !matches {
            report.problem = Some(Problem {
                line: c.seq,
                entry: c.seq,
                what: format!(
                    "entry {} is not the one {} names (hash {}): the log was replaced from there",
                    c.seq, c.source, c.hash
                ),
            });
            return Ok(report);
        }
    }
    Ok(report)
}

/// One line checked as entry `expected` after a line hashing to `prev`;
/// `current`: the key the chain is under (set by the first entry, moved by
/// a rotation).
fn check_line(
    line: &[u8],
    expected: u64,
    prev: &str,
    current: &mut Option<String>,
    keys: &Keyring,
) -> Result<Entry, String> {
    let e: Entry = serde_json::from_slice(line)
        .map_err(|x| format!("not an audit entry ({x}): edited or damaged"))?;
    if e.seq > expected {
        return Err(format!(
            "entry {expected} is missing: this line holds entry {}; entries were deleted or reordered",
            e.seq
        ));
    }
    if e.seq < expected {
        return Err(format!(
            "this line holds entry {} where entry {expected} belongs; entries were reordered or repeated",
            e.seq
        ));
    }
    if let Some(c) = current.as_deref() {
        if c != e.key {
            return Err(format!(
                "the entry is under audit key '{}' but the chain is under '{c}' and no rotation entry handed over to it",
                e.key
            ));
        }
    }
    let Some(key) = keys.keys.get(&e.key) else {
        return Err(format!(
            "the entry is under audit key '{}', which is not loaded (give its file with --key; keys loaded: {})",
            e.key,
            keys.ids().join(", ")
        ));
    };
    let suffix_ok = line.len() > MAC_SUFFIX_LEN
        && line[line.len() - MAC_SUFFIX_LEN..].starts_with(b",\"mac\":\"")
        && line[line.len() - 66..line.len() - 2] == *e.mac.as_bytes();
    if !suffix_ok {
        return Err("the MAC is not where it is written (the line was edited)".into());
    }
    let mut body = line[..line.len() - MAC_SUFFIX_LEN].to_vec();
    body.push(b'}');
    if hex::encode(mac_of(key, &body)) != e.mac {
        return Err(format!(
            "its MAC does not verify under audit key '{}': the entry was edited",
            e.key
        ));
    }
    if e.prev != prev {
        return Err(format!(
            "its prev hash is not entry {}'s: an entry before it was removed, replaced or moved",
            expected - 1
        ));
    }
    *current = Some(match &e.action {
        Action::KeyRotated { new_key } => new_key.clone(),
        _ => e.key.clone(),
    });
    Ok(e)
}

/// Every entry of the log at `path` in order, unchecked (`audit show`; an
/// absent log has none).
pub fn read_entries(path: &Path) -> Result<Vec<Entry>, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        let e = serde_json::from_str(&line).map_err(|x| AuditError::Damaged {
            path: path.to_path_buf(),
            what: format!("line {}: {x}", n + 1),
        })?;
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{Audit, FILE_NAME};
    use super::*;
    use crate::keys::KEY_LEN;

    fn akey(id: &str, b: u8) -> HmacKey {
        HmacKey::from_bytes(id, [b; KEY_LEN]).with_purpose(Purpose::Audit)
    }

    fn applied(n: u32) -> Action {
        Action::DeliveryApplied {
            feed: "police".into(),
            delivery: n,
            rows: 10,
            accepted: 9,
            rejected: 1,
        }
    }

    /// A log of five entries; its lines.
    fn five(dir: &Path) -> Vec<String> {
        let a = Audit::open(dir, akey("a1", 1)).unwrap();
        for n in 1..=4 {
            a.record(applied(n)).unwrap();
        }
        a.record_why(
            Some("SAR 2026/14"),
            Action::Read {
                command: "verify".into(),
                subjects: vec!["case:SF-1".into()],
            },
        )
        .unwrap();
        drop(a);
        lines(dir)
    }

    fn lines(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join(FILE_NAME))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write(dir: &Path, lines: &[String]) {
        let mut text = lines.join("\n");
        if !lines.is_empty() {
            text.push('\n');
        }
        std::fs::write(dir.join(FILE_NAME), text).unwrap();
    }

    fn check(dir: &Path, cps: &[Checkpoint]) -> VerifyReport {
        verify(&dir.join(FILE_NAME), &Keyring::new([akey("a1", 1)]), cps).unwrap()
    }

    #[test]
    fn an_untouched_log_verifies_and_its_head_matches() {
        let dir = tempfile::tempdir().unwrap();
        five(dir.path());
        let r = check(dir.path(), &[]);
        assert_eq!(r.problem, None);
        assert_eq!(r.entries, 5);
        assert_eq!(r.head, super::super::head(dir.path()).unwrap());
        let cp = Checkpoint::parse(&r.head.to_string(), "--head").unwrap();
        assert_eq!(check(dir.path(), &[cp]).problem, None);
        let e = read_entries(&dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(e[4].reason.as_deref(), Some("SAR 2026/14"));
        assert_eq!(e[4].prev, hash_of(lines(dir.path())[3].as_bytes()));
        assert_eq!(e[0].prev, GENESIS);
        assert_eq!(e[0].actor, super::super::Actor::current());
    }

    #[test]
    fn every_single_edit_is_found_at_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let orig = five(dir.path());
        // Change one byte of every value position of every line in turn:
        // always found, always at that entry.
        for (i, line) in orig.iter().enumerate() {
            for (from, to) in [
                ("police", "polics"),
                ("\"rows\":10", "\"rows\":11"),
                ("SF-1", "SF-2"),
                ("SAR", "sar"),
            ] {
                if !line.contains(from) {
                    continue;
                }
                let mut l = orig.clone();
                l[i] = line.replacen(from, to, 1);
                write(dir.path(), &l);
                let p = check(dir.path(), &[]).problem.expect("edit found");
                assert_eq!(p.entry, i as u64 + 1, "{p}");
                assert!(p.what.contains("MAC"), "{p}");
            }
        }
    }

    #[test]
    fn deletion_reordering_and_truncation_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let orig = five(dir.path());
        let head = check(dir.path(), &[]).head;
        let cp = Checkpoint::parse(&head.to_string(), "the store").unwrap();
        // Each line deleted in turn.
        for i in 0..orig.len() {
            let mut l = orig.clone();
            l.remove(i);
            write(dir.path(), &l);
            let p = check(dir.path(), std::slice::from_ref(&cp))
                .problem
                .expect("deletion found");
            assert_eq!(p.entry, i as u64 + 1, "deleted {i}: {p}");
        }
        // Each neighbouring pair swapped.
        for i in 0..orig.len() - 1 {
            let mut l = orig.clone();
            l.swap(i, i + 1);
            write(dir.path(), &l);
            let p = check(dir.path(), &[]).problem.expect("swap found");
            assert_eq!(p.entry, i as u64 + 1, "swapped {i}: {p}");
            assert!(p.what.contains("reordered"), "{p}");
        }
        // Cut to every length: found against the checkpoint only.
        for keep in 0..orig.len() {
            write(dir.path(), &orig[..keep]);
            assert_eq!(
                check(dir.path(), &[]).problem,
                None,
                "a cut log is valid alone"
            );
            let p = check(dir.path(), std::slice::from_ref(&cp))
                .problem
                .expect("cut found");
            assert_eq!(p.entry, keep as u64 + 1, "{p}");
            assert!(p.what.contains("cut off"), "{p}");
        }
        // The whole file gone.
        std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
        assert!(check(dir.path(), &[cp]).problem.is_some());
    }

    #[test]
    fn a_replaced_tail_differs_from_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let orig = five(dir.path());
        let cp = Checkpoint::parse(&check(dir.path(), &[]).head.to_string(), "--head").unwrap();
        // Someone with the key cuts the last entry and writes another.
        write(dir.path(), &orig[..4]);
        {
            let a = Audit::open(dir.path(), akey("a1", 1)).unwrap();
            a.record(applied(9)).unwrap();
        }
        let p = check(dir.path(), &[cp]).problem.expect("replacement found");
        assert_eq!(p.entry, 5);
        assert!(p.what.contains("replaced"), "{p}");
    }

    #[test]
    fn a_mac_under_another_key_fails() {
        let dir = tempfile::tempdir().unwrap();
        five(dir.path());
        let r = verify(
            &dir.path().join(FILE_NAME),
            &Keyring::new([akey("a1", 2)]),
            &[],
        )
        .unwrap();
        assert_eq!(r.problem.unwrap().entry, 1);
        let r = verify(&dir.path().join(FILE_NAME), &Keyring::default(), &[]).unwrap();
        assert!(r.problem.unwrap().what.contains("not loaded"));
    }

    #[test]
    fn rotation_hands_over_and_both_keys_are_needed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let a = Audit::open(dir.path(), akey("a1", 1)).unwrap();
            a.record(applied(1)).unwrap();
            a.rotate(akey("a2", 2)).unwrap();
            a.record(applied(2)).unwrap();
            assert_eq!(a.key_id(), "a2");
        }
        let path = dir.path().join(FILE_NAME);
        let both = Keyring::new([akey("a1", 1), akey("a2", 2)]);
        let r = verify(&path, &both, &[]).unwrap();
        assert_eq!(r.problem, None);
        assert_eq!(r.keys_used, vec!["a1".to_string(), "a2".to_string()]);
        let e = read_entries(&path).unwrap();
        assert_eq!(e[1].key, "a1", "the rotation entry is under the old key");
        assert_eq!(e[2].key, "a2");
        let old_only = verify(&path, &Keyring::new([akey("a1", 1)]), &[]).unwrap();
        assert_eq!(old_only.problem.unwrap().entry, 3);
        // Reopening needs the new key; the old one is refused.
        let err = Audit::open(dir.path(), akey("a1", 1)).unwrap_err();
        assert!(matches!(err, AuditError::WrongKey { .. }), "{err}");
        Audit::open(dir.path(), akey("a2", 2)).unwrap();
    }

    #[test]
    fn an_entry_under_a_key_not_handed_over_to_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let a = Audit::open(dir.path(), akey("a1", 1)).unwrap();
            a.record(applied(1)).unwrap();
        }
        // Continue the chain under another key without a rotation entry:
        // open checks the key, so forge it by swapping the writer's key.
        {
            let a = Audit::open(dir.path(), akey("a1", 1)).unwrap();
            a.inner.lock().unwrap().key = akey("a9", 9);
            a.record(applied(2)).unwrap();
        }
        let r = verify(&path, &Keyring::new([akey("a1", 1), akey("a9", 9)]), &[]).unwrap();
        let p = r.problem.unwrap();
        assert_eq!(p.entry, 2);
        assert!(p.what.contains("no rotation"), "{p}");
    }

    #[test]
    fn the_store_checkpoint_refuses_a_cut_log_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("store"), "k1").unwrap();
        let orig = {
            let a = Audit::open(dir.path(), akey("a1", 1))
                .unwrap()
                .with_mark(store.audit_mark())
                .unwrap();
            for n in 1..=3 {
                a.record(applied(n)).unwrap();
            }
            lines(dir.path())
        };
        assert_eq!(store.audit_mark().get().unwrap().unwrap().0, 3);
        write(dir.path(), &orig[..2]);
        let err = Audit::open(dir.path(), akey("a1", 1))
            .unwrap()
            .with_mark(store.audit_mark())
            .unwrap_err();
        assert!(
            matches!(
                err,
                AuditError::Truncated {
                    found: 2,
                    mark: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_partial_last_line_is_dropped_at_open_and_the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let orig = five(dir.path());
        let mut text = orig.join("\n");
        text.push_str("\n{\"seq\":6,\"ti");
        std::fs::write(dir.path().join(FILE_NAME), &text).unwrap();
        assert!(check(dir.path(), &[]).problem.is_some());
        {
            let a = Audit::open(dir.path(), akey("a1", 1)).unwrap();
            assert_eq!(a.head().seq, 5);
            a.record(applied(6)).unwrap();
        }
        let r = check(dir.path(), &[]);
        assert_eq!((r.problem, r.entries), (None, 6));
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_second_writer_is_refused_and_a_matching_key_is_not_an_audit_key() {
        let dir = tempfile::tempdir().unwrap();
        let _a = Audit::open(dir.path(), akey("a1", 1)).unwrap();
        let err = Audit::open(dir.path(), akey("a1", 1)).unwrap_err();
        assert!(matches!(err, AuditError::InUse { .. }), "{err}");
        let other = tempfile::tempdir().unwrap();
        let err = Audit::open(other.path(), HmacKey::from_bytes("k1", [1; KEY_LEN])).unwrap_err();
        assert!(err.to_string().contains("not for audit"), "{err}");
    }
}
