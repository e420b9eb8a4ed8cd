//! HMAC keys: how they are made, loaded and kept.
//!
//! In: a key file path. Out: a [`HmacKey`] ready to pseudonymise with.
//!
//! Promises:
//! * a key is 32 bytes from the operating system's RNG, with a key id so that
//!   stored pseudonyms can say which key made them (rotation, see
//!   `keys/README.md`);
//! * a key file that group or others can read is refused, as ssh refuses a
//!   loose private key, with the command that fixes it;
//! * key bytes are zeroised on drop and never printed: `Debug` shows only the
//!   key id;
//! * new key files are created 0600 and never overwrite an existing file;
//! * keys are per purpose ([`Purpose`]: matching, audit chain, evidence-pack
//!   derivation), held apart: a key file says its purpose, its id says it
//!   too (`k`, `a`, `p` prefix), and [`HmacKey::load_for`] refuses a key of
//!   another purpose, so the audit key can never be the matching key.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::{Zeroize, Zeroizing};

/// Length of an HMAC-SHA256 key in bytes (256 bits).
pub const KEY_LEN: usize = 32;

const HEADER: &str = "outcomesd-hmac-key v1";

/// What a key is for. Each purpose has its own key file; none is ever used
/// for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Pseudonymisation at the door (`key_file`).
    Matching,
    /// The audit log's MAC chain (`audit_key_file`).
    Audit,
    /// Deriving an evidence pack's own pseudonyms (`pack_key_file`).
    Pack,
}

impl Purpose {
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Matching => "matching",
            Purpose::Audit => "audit",
            Purpose::Pack => "pack",
        }
    }

    fn id_prefix(self) -> char {
        match self {
            Purpose::Matching => 'k',
            Purpose::Audit => 'a',
            Purpose::Pack => 'p',
        }
    }

    fn parse(s: &str) -> Option<Purpose> {
        [Purpose::Matching, Purpose::Audit, Purpose::Pack]
            .into_iter()
            .find(|p| p.name() == s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "key file {path} is readable by group or others (mode {mode:04o}); \
         refusing to use it. Fix with: chmod 600 {path}"
    )]
    LoosePermissions { path: PathBuf, mode: u32 },
    #[error("key file {path} is not an outcomesd key file: {reason}")]
    Malformed { path: PathBuf, reason: &'static str },
    #[error("{path} already exists; refusing to overwrite a key (move it away first)")]
    Exists { path: PathBuf },
    #[error("cannot write key file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    #[error("key file {path} holds a key for {found}, not for {wanted}; keys are held apart by purpose (make one with `outcomesd keygen --purpose {wanted} --out FILE`)")]
    WrongPurpose {
        path: PathBuf,
        found: &'static str,
        wanted: &'static str,
    },
}

/// A 256-bit HMAC key with its id. Zeroised on drop; never displayed.
pub struct HmacKey {
    id: String,
    purpose: Purpose,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl HmacKey {
    /// A fresh key from the OS RNG. The id is derived from the creation time
    /// and random bits, never from the key itself.
    pub fn generate() -> Result<Self, KeyError> {
        Self::generate_for(Purpose::Matching)
    }

    /// A fresh key for `purpose`; its id starts with the purpose's letter.
    pub fn generate_for(purpose: Purpose) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(|e| KeyError::Rng(e.to_string()))?;
        let mut idbits = [0u8; 4];
        getrandom::fill(&mut idbits).map_err(|e| KeyError::Rng(e.to_string()))?;
        let id = format!(
            "{}{}-{}",
            purpose.id_prefix(),
            chrono::Utc::now().format("%Y%m%d"),
            hex::encode(idbits)
        );
        Ok(HmacKey { id, purpose, bytes })
    }

    /// Builds a key from raw bytes (tests and benchmarks).
    pub fn from_bytes(id: &str, raw: [u8; KEY_LEN]) -> Self {
        HmacKey {
            id: id.to_string(),
            purpose: Purpose::Matching,
            bytes: Zeroizing::new(raw),
        }
    }

    /// This key for another purpose (tests).
    pub fn with_purpose(mut self, purpose: Purpose) -> Self {
        self.purpose = purpose;
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// Loads a key file that must hold a key for `purpose` (a file without
    /// a `purpose=` line is a matching key, as every key made before
    /// purposes existed was).
    pub fn load_for(path: &Path, purpose: Purpose) -> Result<Self, KeyError> {
        let key = Self::load(path)?;
        if key.purpose != purpose {
            return Err(KeyError::WrongPurpose {
                path: path.to_path_buf(),
                found: key.purpose.name(),
                wanted: purpose.name(),
            });
        }
        Ok(key)
    }

    /// The secret bytes; only the pseudonymiser should call this.
    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Loads a key file, refusing one with loose permissions.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        check_permissions(path)?;
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KeyError::Read {
                    path: path.to_path_buf(),
                    source,
                })?,
            );
        let malformed = |reason| KeyError::Malformed {
            path: path.to_path_buf(),
            reason,
        };
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(HEADER) {
            return Err(malformed("first line is not 'outcomesd-hmac-key v1'"));
        }
        let mut id = None;
        let mut key = None;
        let mut purpose = Purpose::Matching;
        for line in lines {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(v) = line.strip_prefix("id=") {
                id = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("purpose=") {
                purpose = Purpose::parse(v.trim())
                    .ok_or(malformed("purpose= is not matching, audit or pack"))?;
            } else if let Some(v) = line.strip_prefix("key=") {
                let mut raw = Zeroizing::new([0u8; KEY_LEN]);
                hex::decode_to_slice(v.trim(), raw.as_mut())
                    .map_err(|_| malformed("key= is not 64 hexadecimal digits"))?;
                key = Some(raw);
            } else {
                return Err(malformed(
                    "unexpected line (expected id=, purpose= or key=)",
                ));
            }
        }
        let id = id
            .filter(|s| !s.is_empty())
            .ok_or(malformed("no id= line"))?;
        let bytes = key.ok_or(malformed("no key= line"))?;
        Ok(HmacKey { id, purpose, bytes })
    }

    /// Writes the key to a new file created with mode 0600.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let werr = |source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeyError::Exists {
                        path: path.to_path_buf(),
                    }
                } else {
                    werr(e)
                }
            })?;
        let mut text = Zeroizing::new(String::new());
        text.push_str(HEADER);
        text.push_str(&format!(
            "\n# HMAC-SHA256 {} key. Secret: keep 0600, back up offline.\n",
            self.purpose.name()
        ));
        text.push_str(&format!("id={}\n", self.id));
        if self.purpose != Purpose::Matching {
            // Matching keys keep the original layout older binaries read.
            text.push_str(&format!("purpose={}\n", self.purpose.name()));
        }
        text.push_str("key=");
        let mut hexkey = hex::encode(self.bytes.as_ref());
        text.push_str(&hexkey);
        hexkey.zeroize();
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(werr)?;
        file.sync_all().map_err(werr)?;
        Ok(())
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacKey({}, <secret>)", self.id)
    }
}

/// Reads a small secret file (e.g. a webhook secret), refusing one that
/// group or others can read. The text is zeroised when dropped.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    check_permissions(path)?;
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn check_permissions(path: &Path) -> Result<(), KeyError> {
    match loose_mode(path) {
        Ok(None) => Ok(()),
        Ok(Some(mode)) => Err(KeyError::LoosePermissions {
            path: path.to_path_buf(),
            mode,
        }),
        Err(source) => Err(KeyError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The mode of a secret file (HMAC key, TLS client key, webhook secret) if
/// group or others may read or write it; `None` if it is private.
pub fn loose_mode(path: &Path) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generate_write_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hmac.key");
        let key = HmacKey::generate().unwrap();
        key.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = HmacKey::load(&path).unwrap();
        assert_eq!(loaded.id(), key.id());
        assert_eq!(loaded.expose(), key.expose());
    }

    #[test]
    fn purposes_are_held_apart() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit.key");
        let key = HmacKey::generate_for(Purpose::Audit).unwrap();
        assert!(key.id().starts_with('a'), "{}", key.id());
        key.write_new(&audit).unwrap();
        let loaded = HmacKey::load_for(&audit, Purpose::Audit).unwrap();
        assert_eq!(loaded.expose(), key.expose());
        let err = HmacKey::load_for(&audit, Purpose::Matching).unwrap_err();
        assert!(
            matches!(err, KeyError::WrongPurpose { found: "audit", .. }),
            "{err}"
        );
        // A key file from before purposes is a matching key.
        let old = dir.path().join("hmac.key");
        HmacKey::generate().unwrap().write_new(&old).unwrap();
        assert!(!std::fs::read_to_string(&old).unwrap().contains("purpose"));
        HmacKey::load_for(&old, Purpose::Matching).unwrap();
        let err = HmacKey::load_for(&old, Purpose::Pack).unwrap_err();
        assert!(err.to_string().contains("--purpose pack"), "{err}");
    }

    #[test]
    fn two_keys_differ() {
        let a = HmacKey::generate().unwrap();
        let b = HmacKey::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn loose_permissions_refused_with_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hmac.key");
        HmacKey::generate().unwrap().write_new(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = HmacKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        assert!(err.contains("0640"), "{err}");
    }

    #[test]
    fn never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hmac.key");
        HmacKey::generate().unwrap().write_new(&path).unwrap();
        let err = HmacKey::generate().unwrap().write_new(&path).unwrap_err();
        assert!(matches!(err, KeyError::Exists { .. }));
    }

    #[test]
    fn debug_hides_secret() {
        let key = HmacKey::from_bytes("kid", [7u8; KEY_LEN]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("0707"));
        assert!(shown.contains("kid"));
    }

    #[test]
    fn malformed_file_is_explained() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        f.write_all(b"outcomesd-hmac-key v1\nid=x\nkey=zz\n")
            .unwrap();
        let err = HmacKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("64 hexadecimal"), "{err}");
    }
}
