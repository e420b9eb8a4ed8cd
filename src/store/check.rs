//! Integrity: the store's own formats checked, and sled's panics on a
//! damaged file turned into errors.
//!
//! In: an open [`Store`], or a closure that opens or reads one. Out: a
//! [`CheckReport`] naming each damaged value by tree and key (never its
//! bytes), or [`StoreError::Corrupt`] in place of a panic.
//!
//! Promises:
//! * [`guard`] never lets a sled panic escape: a panic while opening or
//!   reading becomes `Corrupt`, whose message says to restore a backup;
//! * [`Store::check`] reads every value of every tree and checks it decodes
//!   as its tree's format (JSON records parse, packed records have whole
//!   lengths and valid fields, keys have their lengths), and replays the
//!   identity log as the matcher does at open.
//!
//! What runs at every open is cheaper (see `Store::open`): sled's own
//! recovery (with its CRC per log message), the meta, delivery and hold
//! records decoded, and the identity log replayed by `Engine::open`.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use super::{events::EVENT_LEN, links, reviews, Store, StoreError, TreeId};

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (an open, or reads of a store at `path`); a panic inside it
/// (sled 0.34 panics on some damaged files instead of returning an error)
/// becomes [`StoreError::Corrupt`].
pub(crate) fn guard<R>(
    path: &Path,
    f: impl FnOnce() -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    // sled's panic message names its own source lines, not the store:
    // keep it out of the operator's way on this thread while guarded
    // (other threads' panics still print).
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let prior = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(|g| g.get()) {
                prior(info);
            }
        }));
    });
    let was = GUARDED.with(|g| g.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    match r {
        Ok(r) => r,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no detail");
            Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                what: format!("the database could not be read (sled: {why})"),
            })
        }
    }
}

/// One damaged value: its tree, its key (printable or hex) and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    pub tree: &'static str,
    pub key: String,
    pub problem: String,
}

/// What [`Store::check`] read and what it found damaged.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    pub trees: usize,
    pub values: u64,
    pub bytes: u64,
    pub damaged: Vec<Damage>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} trees, {} values, {} bytes read: ",
            self.trees, self.values, self.bytes
        )?;
        if self.damaged.is_empty() {
            return write!(f, "no damage found");
        }
        write!(f, "{} damaged", self.damaged.len())?;
        for d in &self.damaged {
            write!(f, "\n  tree {} key {}: {}", d.tree, d.key, d.problem)?;
        }
        Ok(())
    }
}

/// A key as shown in a report: text if it is printable ASCII (case
/// references, names), else hex (sequence numbers, buckets).
fn show_key(k: &[u8]) -> String {
    if !k.is_empty() && k.iter().all(|b| b.is_ascii_graphic() || *b == 0) {
        String::from_utf8_lossy(k).replace('\0', "/")
    } else {
        hex::encode(k)
    }
}

fn json<T: serde::de::DeserializeOwned>(v: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<T>(v)
        .map(|_| ())
        .map_err(|e| format!("not a valid record ({})", e.classify_str()))
}

trait Classify {
    fn classify_str(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        // The message may quote the value: only its class is reported.
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "JSON syntax",
            serde_json::error::Category::Data => "wrong shape",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

fn whole(v: &[u8], len: usize) -> Result<(), String> {
    if v.is_empty() || v.len() % len != 0 {
        Err(format!(
            "{} bytes is not a whole number of {len}-byte records",
            v.len()
        ))
    } else {
        Ok(())
    }
}

fn key_len(k: &[u8], len: usize) -> Result<(), String> {
    if k.len() == len {
        Ok(())
    } else {
        Err(format!("key of {} bytes, expected {len}", k.len()))
    }
}

/// The format check of one value of tree `t` under key `k`.
fn check_value(t: TreeId, k: &[u8], v: &[u8]) -> Result<(), String> {
    use TreeId as T;
    match t {
        T::Events => {
            key_len(k, 12)?;
            whole(v, EVENT_LEN + 1)?;
            for entry in v.chunks_exact(EVENT_LEN + 1) {
                if entry[0] > 7 || super::events::unpack_events(&entry[1..]).is_none() {
                    return Err("an event entry does not decode".into());
                }
            }
            Ok(())
        }
        T::Identity | T::Links | T::Runners | T::Narrow => {
            key_len(k, 8)?;
            match t {
                T::Links => whole(v, links::PACKED),
                T::Runners => whole(v, links::RUNNER_LEN),
                T::Narrow => whole(v, links::NARROW_LEN),
                // Replayed whole by `Store::check` (the matcher's decoder).
                _ => Ok(()),
            }
        }
        T::Reviews => {
            key_len(k, 9)?;
            if v.len() == reviews::VALUE_LEN {
                Ok(())
            } else {
                Err(format!(
                    "{} bytes, expected {}",
                    v.len(),
                    reviews::VALUE_LEN
                ))
            }
        }
        T::Cases => json::<super::CaseRecord>(v),
        T::Claims => json::<super::ClaimRecord>(v),
        T::Deliveries => {
            key_len(k, 4)?;
            json::<super::DeliveryRecord>(v)
        }
        T::Holds => {
            key_len(k, 4)?;
            json::<super::HoldRecord>(v)
        }
        T::Content => {
            if k.len() < 34 || k[k.len() - 33] != 0 {
                return Err("key is not feed, 0, SHA-256".into());
            }
            key_len(v, 4).map_err(|_| format!("value of {} bytes, expected 4", v.len()))
        }
        T::Pending => {
            key_len(k, 4)?;
            std::str::from_utf8(v)
                .map(|_| ())
                .map_err(|_| "feed name is not UTF-8".into())
        }
        T::Meta => match k {
            b"schema" | b"evaluated_through" => {
                key_len(v, 4).map_err(|_| format!("value of {} bytes, expected 4", v.len()))
            }
            _ => std::str::from_utf8(v)
                .map(|_| ())
                .map_err(|_| "not UTF-8".into()),
        },
        T::Verdicts => json::<serde_json::Value>(v),
        T::Outbox => match k.first() {
            Some(b'n') => json::<serde_json::Value>(v),
            Some(b'd') => json::<super::DeliveryState>(v),
            Some(b'c') => std::str::from_utf8(v)
                .map(|_| ())
                .map_err(|_| "notice id is not UTF-8".into()),
            _ => Err("key is neither a notice nor a delivery state".into()),
        },
        T::PullState => json::<crate::pull::Validators>(v),
        T::ReviewDecisions => json::<super::ReviewDecision>(v),
        T::Subjects => match k.first() {
            Some(b'r') => json::<super::Restriction>(v),
            Some(b'e') => json::<super::Erasure>(v),
            _ => Err("key is neither a restriction nor an erasure".into()),
        },
    }
}

impl Store {
    /// Reads every value of every tree and checks its format; replays the
    /// identity log. Damage is reported, not returned as an error; an error
    /// is a store that cannot be read at all.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        guard(self.path(), || {
            let mut report = CheckReport {
                trees: TreeId::ALL.len(),
                ..Default::default()
            };
            for t in TreeId::ALL {
                for item in self.trees.iter(t) {
                    let (k, v) = match item {
                        Ok(kv) => kv,
                        Err(e) => {
                            report.damaged.push(Damage {
                                tree: t.name(),
                                key: "(the rest of the tree)".into(),
                                problem: crate::error::chain(&e),
                            });
                            break;
                        }
                    };
                    report.values += 1;
                    report.bytes += (k.len() + v.len()) as u64;
                    if let Err(problem) = check_value(t, &k, &v) {
                        report.damaged.push(Damage {
                            tree: t.name(),
                            key: show_key(&k),
                            problem,
                        });
                    }
                }
            }
            if let Err(e) = self.load_matcher() {
                report.damaged.push(Damage {
                    tree: TreeId::Identity.name(),
                    key: "(replay)".into(),
                    problem: crate::error::chain(&e),
                });
            }
            Ok(report)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Write;

    #[test]
    fn a_clean_store_checks_clean_and_damage_is_named_by_tree_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), "k1").unwrap();
        s.put_verdict("C1", "o", chrono::NaiveDate::MIN, b"{\"a\":1}")
            .unwrap();
        let r = s.check().unwrap();
        assert!(r.is_clean(), "{r}");
        assert!(r.values >= 3, "{r}");
        // A truncated JSON record and a packed record of the wrong length.
        s.trees
            .write(TreeId::Claims, Write::Insert(b"C9\0o\0d", b"{\"seq\":"))
            .unwrap();
        s.trees
            .write(
                TreeId::Links,
                Write::Insert(&[0, 0, 0, 1, 0, 0, 0, 0], &[7; 5]),
            )
            .unwrap();
        let r = s.check().unwrap();
        let found: Vec<_> = r.damaged.iter().map(|d| (d.tree, d.key.as_str())).collect();
        assert_eq!(found, [("claims", "C9/o/d"), ("links", "0000000100000000")]);
        let text = r.to_string();
        assert!(text.contains("2 damaged"), "{text}");
        assert!(!text.contains("seq"), "never a value: {text}");
    }

    #[test]
    fn a_panic_inside_the_guard_is_a_corrupt_store() {
        let err = guard::<()>(Path::new("/x/store"), || panic!("boom")).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("boom"), "{err}");
    }

    /// A store with a few MiB of values in several log segments.
    fn filled(dir: &Path) {
        let s = Store::open(dir, "k1").unwrap();
        let filler = format!("{{\"x\":\"{}\"}}", "v".repeat(2000));
        for i in 0..2000u32 {
            let day = chrono::NaiveDate::MIN + chrono::Duration::days(i.into());
            s.put_verdict(&format!("C{i}"), "o", day, filler.as_bytes())
                .unwrap();
        }
        s.flush().unwrap();
    }

    /// sled 0.34 panics opening a truncated file (exit 101 before): now
    /// every cut is an error naming the fix, or a store that opens.
    #[test]
    fn a_truncated_or_flipped_file_is_an_error_never_a_panic() {
        let orig = tempfile::tempdir().unwrap();
        filled(orig.path());
        let db = std::fs::read(orig.path().join("db")).unwrap();
        let mut corrupt = 0;
        let cuts = [db.len() / 2, db.len() / 3, db.len() - 4096];
        // Where sled's background flushes put live data varies from run to
        // run, and a flip in a segment it no longer reads is harmless: so
        // flip at many places, and at least one must be found damaged.
        let mut flips = vec![db.len() / 2, db.len() / 5, 600_000];
        flips.extend((1..20).map(|k| db.len() * k / 20));
        for (i, at) in cuts.iter().chain(flips.iter()).enumerate() {
            let dir = tempfile::tempdir().unwrap();
            for f in ["conf", "db"] {
                std::fs::copy(orig.path().join(f), dir.path().join(f)).unwrap();
            }
            let mut bytes = db.clone();
            if i < cuts.len() {
                bytes.truncate(*at);
            } else {
                for b in &mut bytes[*at..(*at + 512).min(db.len())] {
                    *b ^= 0xff;
                }
            }
            std::fs::write(dir.path().join("db"), &bytes).unwrap();
            match Store::open(dir.path(), "k1") {
                Err(e @ StoreError::Corrupt { .. }) => {
                    assert!(e.to_string().contains("store restore"), "{e}");
                    corrupt += 1;
                }
                Err(e) => panic!("cut/flip {i}: not reported as damage: {e}"),
                Ok(s) => {
                    // Opened: reading everything must not panic either, and
                    // damage it finds there is damage found.
                    if !s.check().unwrap().is_clean() {
                        corrupt += 1;
                    }
                }
            }
        }
        assert!(corrupt > 0, "no cut was found damaged");
    }
}
