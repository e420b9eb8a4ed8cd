//! The audit log: who did what to which claim, delivery or notice, in an
//! append-only, hash-chained, authenticated file.
//!
//! In: [`Action`]s from every place that changes or reads personal data
//! (deliveries applied, held, accepted, rejected or refused; verdicts
//! changed; notices queued and acknowledged; review decisions; commands
//! that read; daemon starts), each with an optional stated reason. Out:
//! `audit.log` in the data directory, one JSON line per entry, and the
//! chain head ([`Head`]) for checkpoints: the journal, the store's meta
//! tree ([`crate::store::AuditMark`]) and whatever embeds [`head`] (the
//! evidence pack).
//!
//! Promises:
//! * **append-only and chained.** Entry `n` carries `prev`, the SHA-256 of
//!   entry `n-1`'s line, and a `mac`, HMAC-SHA256 under the audit key (a key
//!   of its own, [`Purpose::Audit`], never the matching key) over the
//!   line's bytes up to the MAC. Any edit, deletion or reordering breaks a
//!   MAC or a link; truncation is caught against a checkpoint
//!   ([`verify`]);
//! * **durable before done.** [`Audit::record`] returns only after the
//!   entry is fsync'd; a failure is an error the caller returns, like a
//!   store write error, never a log line alone;
//! * **no raw identifier.** An [`Action`] holds case references, delivery
//!   numbers, notice ids, review item ids, feed names and internal person
//!   numbers (pseudonyms) only: its fields have no room for a name, a date
//!   of birth or a number a partner sent. The stated reason is kept as the
//!   operator typed it (docs/audit.md says not to type identifiers);
//! * **private.** The file is 0600 in the 0700 data directory; one process
//!   appends at a time (an exclusive lock on the file);
//! * the head is logged (`audit chain head seq=N hash=H`) when the log is
//!   opened, at most every minute after writes, and when it is closed.

mod hooks;
mod verify;

pub use hooks::{note, note_all, note_why};
pub use verify::{read_entries, retired_path, verify, Checkpoint, Keyring, Problem, VerifyReport};

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{HmacKey, Purpose};
use crate::store::{AuditMark, StoreError};

/// The log's file name in the data directory.
pub const FILE_NAME: &str = "audit.log";

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How often, at most, the head is logged after writes.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// A stated reason is cut to this many characters.
pub const MAX_REASON: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error("audit log {path} is in use by another outcomesd process (is the daemon running?)")]
    InUse { path: PathBuf },
    #[error("audit log {path} may be read by group or others (mode {mode:04o}): chmod 600 {path}")]
    Loose { path: PathBuf, mode: u32 },
    #[error("audit log {path}: its last entry is not an audit entry ({what}); run `outcomesd audit verify`")]
    Damaged { path: PathBuf, what: String },
    #[error("audit log {path} is now under audit key '{expected}' but key '{given}' is loaded (audit_key_file); after `audit rotate` the new key must be in place")]
    WrongKey {
        path: PathBuf,
        expected: String,
        given: String,
    },
    #[error("audit log {path} ends at entry {found} but the store's checkpoint says entry {mark} was written: entries were cut off the end. Keep the file as evidence, run `outcomesd audit verify`, and restore audit.log from backup")]
    Truncated {
        path: PathBuf,
        found: u64,
        mark: u64,
    },
    #[error("audit log {path}: entry {seq} is not the one the store's checkpoint names (hash {mark}): run `outcomesd audit verify`")]
    Diverged {
        path: PathBuf,
        seq: u64,
        mark: String,
    },
    #[error("audit checkpoint in the store")]
    Store(#[from] StoreError),
}

/// Who ran the process: the OS account, as the kernel says (not `$USER`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub user: String,
    pub uid: u32,
}

impl Actor {
    /// This process's real user id and its name in `/etc/passwd`.
    pub fn current() -> Actor {
        let uid = rustix::process::getuid().as_raw();
        let user = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
                })
            })
            .unwrap_or_else(|| format!("uid{uid}"));
        Actor { user, uid }
    }
}

/// What was done. Fields are references only (see the module promises).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The daemon started, with the id of every key it holds.
    Start {
        version: String,
        matching_key: String,
        audit_key: String,
        pack_key: Option<String>,
        webhook_keys: Vec<String>,
    },
    DeliveryApplied {
        feed: String,
        delivery: u32,
        rows: u64,
        accepted: u64,
        rejected: u64,
    },
    /// A guard held the delivery: nothing of it applied.
    DeliveryHeld {
        feed: String,
        delivery: u32,
        why: String,
    },
    /// The delivery was refused whole (period, space, format): the error's
    /// own message, which names rows and columns, never values.
    DeliveryRefused { feed: String, why: String },
    /// An operator accepted a held delivery.
    DeliveryAccepted { delivery: u32, by: String },
    /// An operator rejected a held delivery.
    DeliveryRejected { delivery: u32, by: String },
    /// A claim's verdict was first made or changed.
    VerdictChanged {
        case_ref: String,
        outcome: String,
        claim_date: NaiveDate,
        verdict: String,
        previous: Option<String>,
        framework: String,
        framework_version: String,
        as_of_delivery: u32,
    },
    NoticeQueued {
        notice: String,
        case_ref: String,
        supersedes: Option<String>,
    },
    /// A sink acknowledged a notice (2xx, or the spool file in place).
    NoticeAcknowledged { notice: String, sink: String },
    /// A reviewer's decision on a review item; `persons` are the internal
    /// person numbers it joins or keeps apart.
    ReviewDecided {
        item: String,
        decision: String,
        by: String,
        persons: Vec<u64>,
    },
    /// A command showed or exported personal data; `subjects` are what it
    /// was asked about (`case:REF`, `item:ID`, `row:FEED/DELIVERY/ROW`,
    /// `verdict:NAME`), empty for everything.
    Read {
        command: String,
        subjects: Vec<String>,
    },
    /// The audit key changed: this entry is under the old key, every later
    /// one under `new_key`.
    KeyRotated { new_key: String },
    /// Subject rights (`subject lookup|unlink|restrict|erase`): `persons`
    /// are internal person numbers, never the identifiers looked up.
    Subject {
        operation: String,
        persons: Vec<u64>,
        claims_affected: u64,
    },
    /// A retention purge (`dry_run`: only listed); counts per kind.
    Purge {
        dry_run: bool,
        removed: std::collections::BTreeMap<String, u64>,
    },
    /// An evidence pack written: its window and its manifest's SHA-256.
    Pack {
        from: NaiveDate,
        to: NaiveDate,
        claims: u64,
        manifest_sha256: String,
    },
    /// The store copied out (`backup`) or a copy put in its place
    /// (`restore`): where, how many values, and whether it checked clean.
    StoreCopied {
        operation: String,
        dir: String,
        values: u64,
        clean: bool,
    },
}

/// One line of the log, as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    pub action: Action,
    pub reason: Option<String>,
    /// The id of the audit key the MAC is under.
    pub key: String,
    pub prev: String,
    pub mac: String,
}

/// The body of a line: everything but the MAC, in the order written.
#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    time: DateTime<Utc>,
    actor: &'a Actor,
    action: &'a Action,
    reason: Option<&'a str>,
    key: &'a str,
    prev: &'a str,
}

/// The chain head: the newest entry's number and the SHA-256 of its line
/// (0 and [`GENESIS`] for an empty log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl std::fmt::Display for Head {
    /// `SEQ:HASH`, as `audit verify --head` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// The MAC of a line's body under `key`.
pub(crate) fn mac_of(key: &HmacKey, body: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
        .expect("HMAC takes keys of any length");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// The hash a line is chained by (the line without its newline).
pub(crate) fn hash_of(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// The suffix every line ends with after its body's closing brace:
/// `,"mac":"<64 hex>"}`.
pub(crate) const MAC_SUFFIX_LEN: usize = ",\"mac\":\"".len() + 64 + "\"}".len();

/// The appender (behind [`Audit`]'s lock).
struct Writer {
    path: PathBuf,
    file: File,
    /// Bytes of whole entries in the file.
    len: u64,
    key: HmacKey,
    actor: Actor,
    head: Head,
    mark: Option<AuditMark>,
    logged: Instant,
}

/// The audit log, open for appending. Cheap to clone (one writer shared by
/// every task of a process).
#[derive(Clone)]
pub struct Audit {
    inner: Arc<Mutex<Writer>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.inner.lock().expect("audit lock");
        write!(f, "Audit({}, head {})", w.path.display(), w.head)
    }
}

impl Audit {
    /// Opens (or creates) `audit.log` in `data_dir` to append under `key`
    /// (which must be an audit key and the one the log is now under).
    pub fn open(data_dir: &Path, key: HmacKey) -> Result<Audit, AuditError> {
        use std::os::unix::fs::OpenOptionsExt;
        if key.purpose() != Purpose::Audit {
            return Err(crate::keys::KeyError::WrongPurpose {
                path: data_dir.join(FILE_NAME),
                found: key.purpose().name(),
                wanted: Purpose::Audit.name(),
            }
            .into());
        }
        let path = data_dir.join(FILE_NAME);
        let io = |source| AuditError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        if let Some(mode) = crate::keys::loose_mode(&path).map_err(io)? {
            return Err(AuditError::Loose { path, mode });
        }
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(AuditError::InUse { path });
        }
        let (len, last) = tail(&mut file).map_err(io)?;
        if len < file.metadata().map_err(io)?.len() {
            // A line cut short by a crash was never fsync'd, so never
            // reported done: it goes.
            tracing::warn!(path = %path.display(), "audit log ended in a partial entry (a crash while writing it); dropping the partial line");
            file.set_len(len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let head = match &last {
            None => Head {
                seq: 0,
                hash: GENESIS.into(),
            },
            Some(line) => {
                let e: Entry = serde_json::from_slice(line).map_err(|e| AuditError::Damaged {
                    path: path.clone(),
                    what: e.to_string(),
                })?;
                let expected = match &e.action {
                    Action::KeyRotated { new_key } => new_key.clone(),
                    _ => e.key.clone(),
                };
                if expected != key.id() {
                    return Err(AuditError::WrongKey {
                        path,
                        expected,
                        given: key.id().to_string(),
                    });
                }
                Head {
                    seq: e.seq,
                    hash: hash_of(line),
                }
            }
        };
        tracing::info!(seq = head.seq, hash = %head.hash, "audit chain head seq={} hash={}", head.seq, head.hash);
        Ok(Audit {
            inner: Arc::new(Mutex::new(Writer {
                path,
                file,
                len,
                key,
                actor: Actor::current(),
                head,
                mark: None,
                logged: Instant::now(),
            })),
        })
    }

    /// Checks the log against the store's checkpoint (refusing a log that
    /// ends before it: truncation) and keeps the checkpoint moving with
    /// every later write.
    pub fn with_mark(self, mark: AuditMark) -> Result<Audit, AuditError> {
        {
            let mut w = self.inner.lock().expect("audit lock");
            if let Some((seq, hash)) = mark.get()? {
                if seq > w.head.seq {
                    return Err(AuditError::Truncated {
                        path: w.path.clone(),
                        found: w.head.seq,
                        mark: seq,
                    });
                }
                if seq == w.head.seq && hash != w.head.hash {
                    return Err(AuditError::Diverged {
                        path: w.path.clone(),
                        seq,
                        mark: hash,
                    });
                }
            }
            mark.set(w.head.seq, &w.head.hash)?;
            mark.flush()?;
            w.mark = Some(mark);
        }
        Ok(self)
    }

    /// Records one action, durably, with no stated reason.
    pub fn record(&self, action: Action) -> Result<Head, AuditError> {
        self.record_all(None, [action])
    }

    /// Records one action with the operator's stated reason.
    pub fn record_why(&self, reason: Option<&str>, action: Action) -> Result<Head, AuditError> {
        self.record_all(reason, [action])
    }

    /// Records several actions with one fsync (the verdicts of one
    /// evaluation), all or none: a failed write is cut back off the file.
    pub fn record_all(
        &self,
        reason: Option<&str>,
        actions: impl IntoIterator<Item = Action>,
    ) -> Result<Head, AuditError> {
        let mut w = self.inner.lock().expect("audit lock");
        let reason: Option<String> = reason.map(|r| r.trim().chars().take(MAX_REASON).collect());
        let mut buf = Vec::new();
        let mut head = w.head.clone();
        for action in actions {
            let body = Body {
                seq: head.seq + 1,
                time: Utc::now(),
                actor: &w.actor,
                action: &action,
                reason: reason.as_deref(),
                key: w.key.id(),
                prev: &head.hash,
            };
            let mut line = serde_json::to_vec(&body).expect("an entry serialises");
            let mac = hex::encode(mac_of(&w.key, &line));
            line.pop(); // the body's closing brace: the MAC joins the object
            line.extend_from_slice(b",\"mac\":\"");
            line.extend_from_slice(mac.as_bytes());
            line.extend_from_slice(b"\"}");
            head = Head {
                seq: head.seq + 1,
                hash: hash_of(&line),
            };
            buf.extend_from_slice(&line);
            buf.push(b'\n');
        }
        if buf.is_empty() {
            return Ok(head);
        }
        let written = w.file.write_all(&buf).and_then(|()| w.file.sync_data());
        if let Err(source) = written {
            // Nothing of a failed batch stays: the chain goes on from the
            // last whole entry.
            let len = w.len;
            let _ = w.file.set_len(len);
            return Err(AuditError::Io {
                path: w.path.clone(),
                source,
            });
        }
        w.len += buf.len() as u64;
        w.head = head.clone();
        if let Some(m) = &w.mark {
            m.set(head.seq, &head.hash)?;
        }
        if w.logged.elapsed() >= LOG_EVERY {
            w.logged = Instant::now();
            tracing::info!(seq = head.seq, hash = %head.hash, "audit chain head seq={} hash={}", head.seq, head.hash);
        }
        Ok(head)
    }

    /// Switches to `new` after recording, under the current key, that it
    /// does (`audit rotate`).
    pub fn rotate(&self, new: HmacKey) -> Result<Head, AuditError> {
        let head = self.record(Action::KeyRotated {
            new_key: new.id().to_string(),
        })?;
        self.inner.lock().expect("audit lock").key = new;
        Ok(head)
    }

    /// Writes the head to the log (the journal under systemd): a
    /// checkpoint outside the data dir.
    pub fn log_head(&self) {
        let mut w = self.inner.lock().expect("audit lock");
        w.logged = Instant::now();
        let h = &w.head;
        tracing::info!(seq = h.seq, hash = %h.hash, "audit chain head seq={} hash={}", h.seq, h.hash);
    }

    /// The newest entry written.
    pub fn head(&self) -> Head {
        self.inner.lock().expect("audit lock").head.clone()
    }

    /// The id of the key entries are now made under.
    pub fn key_id(&self) -> String {
        self.inner.lock().expect("audit lock").key.id().to_string()
    }

    pub fn path(&self) -> PathBuf {
        self.inner.lock().expect("audit lock").path.clone()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(m) = &self.mark {
            let _ = m.flush();
        }
        tracing::info!(seq = self.head.seq, hash = %self.head.hash, "audit chain head seq={} hash={}", self.head.seq, self.head.hash);
    }
}

/// The head of the log in `data_dir` as it is on disk now, without a key
/// (for an evidence pack to embed). An absent log has head 0.
pub fn head(data_dir: &Path) -> Result<Head, AuditError> {
    let path = data_dir.join(FILE_NAME);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Head {
                seq: 0,
                hash: GENESIS.into(),
            })
        }
        Err(source) => return Err(AuditError::Io { path, source }),
    };
    let (_, last) = tail(&mut file).map_err(|source| AuditError::Io {
        path: path.clone(),
        source,
    })?;
    let Some(line) = last else {
        return Ok(Head {
            seq: 0,
            hash: GENESIS.into(),
        });
    };
    let e: Entry = serde_json::from_slice(&line).map_err(|e| AuditError::Damaged {
        path,
        what: e.to_string(),
    })?;
    Ok(Head {
        seq: e.seq,
        hash: hash_of(&line),
    })
}

/// (bytes up to the end of the last whole line, that line without its
/// newline). Reads from the end back only as far as the last line needs.
fn tail(file: &mut File) -> std::io::Result<(u64, Option<Vec<u8>>)> {
    let size = file.metadata()?.len();
    let mut window = 64 * 1024u64;
    loop {
        let start = size.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((size - start) as usize);
        Read::by_ref(file)
            .take(size - start)
            .read_to_end(&mut buf)?;
        // Whole lines end at the last newline.
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            if start == 0 {
                return Ok((0, None));
            }
            window *= 4;
            continue;
        };
        let begin = buf[..end].iter().rposition(|&b| b == b'\n');
        match begin {
            Some(b) => return Ok((start + end as u64 + 1, Some(buf[b + 1..end].to_vec()))),
            None if start == 0 => return Ok((end as u64 + 1, Some(buf[..end].to_vec()))),
            None => window *= 4,
        }
    }
}
