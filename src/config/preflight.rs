//! The checks [`Config::load`] makes beyond parsing: what `run` would
//! refuse on this machine once the text is fine.
//!
//! In: a parsed [`Config`] and its text (for line numbers). Out: one
//! [`ConfigIssue`] per problem, empty if `run` can start. Promises: the key
//! file is loaded exactly as the daemon loads it (so a missing, loose or
//! malformed key is an error here, not a warning; an audit or pack key
//! file, when there, must be private and of its own purpose), and a spool sink's
//! directory must exist (the unit's sandbox lets the daemon write only
//! where the operator made room).

use super::{locate, Config, ConfigIssue};
use crate::notify::SinkConfig;

pub(super) fn machine_issues(cfg: &Config, text: &str) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    use crate::keys::{HmacKey, Purpose};
    if let Err(e) = HmacKey::load_for(&cfg.key_file, Purpose::Matching) {
        issues.push(ConfigIssue {
            line: locate(text, None, "key_file"),
            key: "key_file".into(),
            message: crate::error::chain(&e),
            hint: Some("make one with `outcomesd keygen --out PATH` (mode 0600)".into()),
        });
    }
    // Absent is fine (the audit key is made on first use; docs/audit.md).
    for (key, path, purpose) in [
        ("audit_key_file", &cfg.audit_key_file, Purpose::Audit),
        ("pack_key_file", &cfg.pack_key_file, Purpose::Pack),
    ] {
        if let (true, Err(e)) = (path.exists(), HmacKey::load_for(path, purpose)) {
            issues.push(ConfigIssue {
                line: locate(text, None, key),
                key: key.into(),
                message: crate::error::chain(&e),
                hint: Some(format!(
                    "make one with `outcomesd keygen --purpose {} --out PATH` (mode 0600)",
                    purpose.name()
                )),
            });
        }
    }
    for sink in &cfg.sinks {
        let SinkConfig::Spool { name, dir } = sink else {
            continue;
        };
        if !dir.is_dir() {
            issues.push(ConfigIssue {
                line: locate(text, Some("notices.spool"), "dir"),
                key: "notices.spool.dir".into(),
                message: format!(
                    "spool {name:?}: directory {} does not exist",
                    dir.display()
                ),
                hint: Some("create it for the service user: install -d -o outcomesd -g outcomesd -m 0700 DIR".into()),
            });
        }
    }
    issues
}
