//! Configuration: `outcomesd.toml`, read and checked in one place.
//!
//! In: the path of a TOML file. Out: a validated [`Config`] holding built
//! objects (feed specs ready for parsing), or every problem at once, each with
//! its file, line, key and a hint.
//!
//! Promises:
//! * unknown keys are errors, so a typo never silently falls back to a
//!   default; every syntax error and every unknown key in a file is
//!   reported at once (see `read_raw` for what stops at the first);
//! * `check-config` and the daemon use this same loader, so a config that
//!   passes the check is the config the daemon runs;
//! * relative paths are resolved against the config file's directory.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::daemon::schedule;
use crate::ingest::feeds::{FeedSpec, Limits};
use crate::net::TlsError;
use crate::notify::NotifyError;
use crate::pull::PullError;

mod check;
mod preflight;
mod receipts;

/// How far ahead a schedule must fire at least once.
pub const SCHEDULE_HORIZON: chrono::Duration = chrono::Duration::days(8 * 366);

/// The file as written (serde's view).
#[derive(Debug, Deserialize)]
struct RawConfig {
    data_dir: PathBuf,
    key_file: PathBuf,
    /// The audit log's key (default: `audit.key` beside `key_file`).
    #[serde(default)]
    audit_key_file: Option<PathBuf>,
    /// The evidence packs' derivation key (default: `pack.key` beside
    /// `key_file`).
    #[serde(default)]
    pack_key_file: Option<PathBuf>,
    /// The IANA zone schedules are read in (default Europe/London).
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    framework: Option<PathBuf>,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    feeds: BTreeMap<String, RawFeed>,
    #[serde(default)]
    notices: RawNotices,
    #[serde(default)]
    status: RawStatus,
    #[serde(default)]
    review: RawReview,
    #[serde(default)]
    guards: RawGuards,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    retention: RawRetention,
}

/// `[retention]`: how long records are kept (see `subjects::retention`).
#[derive(Debug, Deserialize, Default)]
struct RawRetention {
    #[serde(default)]
    events_years: Option<u32>,
    #[serde(default)]
    claims_years: Option<u32>,
    #[serde(default)]
    outbox_days: Option<u32>,
    #[serde(default)]
    reports_days: Option<u32>,
}

/// `[store]`: the store's disk.
#[derive(Debug, Deserialize, Default)]
struct RawStore {
    /// Free space (MiB) that must remain after a delivery is applied.
    #[serde(default)]
    reserve_megabytes: Option<i64>,
    /// Overrides the measured multiple of a delivery's size it needs free
    /// (`ingest::space_factor`), for every kind.
    #[serde(default)]
    space_multiple: Option<i64>,
}

/// `[guards]`: when a delivery is refused or held (see `ingest::guards`).
#[derive(Debug, Deserialize, Default)]
struct RawGuards {
    #[serde(default)]
    clock_skew_days: Option<i64>,
    #[serde(default)]
    max_period_years: Option<i64>,
    #[serde(default)]
    min_share: Option<f64>,
    #[serde(default)]
    hold_empty: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
struct RawReview {
    /// Bits below the link threshold a candidate still goes to review.
    #[serde(default)]
    band_bits: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
struct RawNotices {
    #[serde(default)]
    poll_seconds: Option<u64>,
    /// `thin` (the default) or `full` (see docs/notices.md).
    #[serde(default)]
    detail: crate::notify::reconcile::Detail,
    #[serde(default)]
    webhook: Vec<RawWebhook>,
    #[serde(default)]
    spool: Vec<RawSpool>,
}

#[derive(Debug, Deserialize)]
struct RawWebhook {
    name: String,
    url: String,
    /// A file holding the `whsec_...` secret (mode 0600).
    secret_file: PathBuf,
    /// During a rotation: the next secret; notices are signed with both
    /// until it replaces `secret_file`.
    #[serde(default)]
    next_secret_file: Option<PathBuf>,
    #[serde(default)]
    ca_bundle: Option<PathBuf>,
    #[serde(default)]
    client_cert: Option<PathBuf>,
    #[serde(default)]
    client_key: Option<PathBuf>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct RawSpool {
    name: String,
    dir: PathBuf,
}

#[derive(Debug, Deserialize, Default)]
struct RawStatus {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    allow_non_loopback: bool,
}

#[derive(Debug, Deserialize, Default)]
struct RawLog {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    level: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawFeed {
    kind: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    columns: HashMap<String, String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    client_cert: Option<PathBuf>,
    #[serde(default)]
    client_key: Option<PathBuf>,
    #[serde(default)]
    ca_bundle: Option<PathBuf>,
    #[serde(default)]
    system_roots: bool,
    #[serde(default)]
    pull_at_start: bool,
    #[serde(default)]
    max_megabytes: Option<u64>,
    /// `[feeds.NAME.retention]`: this feed's own retention.
    #[serde(default)]
    retention: Option<crate::subjects::retention::FeedRetention>,
    /// Where this feed's delivery receipts go (docs/feeds.md).
    #[serde(default)]
    receipts: Option<RawReceipts>,
}

/// `[feeds.NAME.receipts]`: a partner's receipt endpoint and/or spool.
#[derive(Debug, Deserialize)]
struct RawReceipts {
    /// HTTPS endpoint, reached with the feed's own TLS files.
    #[serde(default)]
    url: Option<String>,
    /// The `whsec_...` secret receipts are signed with (mode 0600).
    #[serde(default)]
    secret_file: Option<PathBuf>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
    /// A directory receipts are written to as `<receipt id>.json`.
    #[serde(default)]
    spool: Option<PathBuf>,
    /// When the feed's outcome report is sent as a receipt (a schedule).
    #[serde(default)]
    report_schedule: Option<String>,
    /// Calendar months each scheduled report covers (default 1).
    #[serde(default)]
    report_months: Option<u32>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human on a terminal, JSON otherwise (e.g. under systemd).
    Auto,
    Human,
    Json,
}

/// Where and when a feed is pulled (used by the daemon).
#[derive(Debug, Clone)]
pub struct PullSpec {
    pub url: String,
    /// As written, and as parsed (5-field crontab lines translated).
    pub schedule_text: Option<String>,
    pub schedule: Option<cron::Schedule>,
    pub tls: crate::net::TlsFiles,
    pub limits: crate::pull::PullLimits,
    /// Pull once as soon as the daemon starts, then on the schedule.
    pub at_start: bool,
    /// The zone the schedule is read in (the config's `timezone`).
    pub timezone: chrono_tz::Tz,
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub spec: FeedSpec,
    pub pull: Option<PullSpec>,
    /// Where its delivery receipts go (none: no receipts).
    pub receipts: Vec<crate::notify::SinkConfig>,
    /// When its outcome report goes to those sinks (`report_schedule`).
    pub report: Option<crate::notify::feedback::ReportSchedule>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub data_dir: PathBuf,
    pub key_file: PathBuf,
    /// The audit log's own key (`audit_key_file`; see docs/audit.md).
    pub audit_key_file: PathBuf,
    /// The evidence packs' derivation key (`pack_key_file`).
    pub pack_key_file: PathBuf,
    /// The council's framework, loaded and validated.
    pub framework: Option<crate::framework::Framework>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub feeds: BTreeMap<String, FeedConfig>,
    pub sinks: Vec<crate::notify::SinkConfig>,
    pub notice_poll: std::time::Duration,
    /// What notices carry: thin by default.
    pub notice_detail: crate::notify::reconcile::Detail,
    /// Loopback address of the health and metrics endpoint, if any.
    pub status_listen: Option<std::net::SocketAddr>,
    /// How far below the link threshold (bits) a candidate still puts a
    /// row in the review queue.
    pub review_band: f64,
    /// When deliveries are refused or held.
    pub guards: crate::ingest::guards::Guards,
    /// Free bytes that must remain on the data dir's file system after a
    /// delivery (`[store] reserve_megabytes`).
    pub disk_reserve: u64,
    /// `[store] space_multiple`: the free space a delivery needs, as a
    /// multiple of its size, for every kind (none: measured per kind).
    pub space_multiple: Option<u64>,
    /// The zone schedules are read in (`timezone`, default Europe/London).
    pub timezone: chrono_tz::Tz,
    /// `[retention]` and each feed's own (`subjects::retention`).
    pub retention: crate::subjects::retention::Retention,
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found, with the file they are in.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub path: PathBuf,
    pub issues: Vec<ConfigIssue>,
}

impl ConfigError {
    /// The problems of `path`, in the order of their lines (those without a
    /// line last).
    pub fn new(path: &Path, mut issues: Vec<ConfigIssue>) -> ConfigError {
        issues.sort_by_key(|i| i.line.unwrap_or(usize::MAX));
        ConfigError {
            path: path.to_path_buf(),
            issues,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(
            f,
            "{} has {n} problem{}:",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for i in &self.issues {
            write!(f, "\n  {}", self.path.display())?;
            if let Some(l) = i.line {
                write!(f, ":{l}")?;
            }
            if !i.key.is_empty() {
                write!(f, ": {}", i.key)?;
            }
            write!(f, ": {}", i.message)?;
            if let Some(h) = &i.hint {
                write!(f, "\n    hint: {h}")?;
            }
        }
        Ok(())
    }
}

impl Config {
    /// Reads and validates a config file: the daemon's loader, which
    /// `run`, `check-config` and every other command use. Beyond
    /// [`Config::parse`] it checks what only the machine can tell: the key
    /// file loads (exists, mode 0600, well formed) and every spool
    /// directory exists.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            issues: vec![ConfigIssue {
                line: None,
                key: String::new(),
                message: format!("cannot read: {e}"),
                hint: None,
            }],
        })?;
        let cfg = Self::parse(path, &text)?;
        let issues = preflight::machine_issues(&cfg, &text);
        if issues.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::new(path, issues))
        }
    }

    /// Validates config text as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let fail = |issues| ConfigError::new(path, issues);
        let (raw, unknown) = read_raw(text).map_err(fail)?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut ck = check::Checker::new(text, base, unknown);
        let (log_format, log_level) = ck.log_and_limits(&raw);
        let timezone = ck.timezone(raw.timezone.as_deref());
        let mut feeds = BTreeMap::new();
        for (name, f) in &raw.feeds {
            if let Some(fc) = ck.feed(name, f, raw.limits) {
                feeds.insert(name.clone(), fc);
            }
        }
        let framework = ck.framework(raw.framework.as_deref());
        let sinks = ck.sinks(&raw.notices);
        let status_listen = ck.status(&raw.status);
        let review_band = ck.review(&raw.review);
        let guards = ck.guards(&raw.guards);
        let (disk_reserve, space_multiple) = ck.store(&raw.store);
        let retention = ck.retention(&raw.retention, &raw.feeds);
        let (data_dir, key_file) = (ck.resolve(&raw.data_dir), ck.resolve(&raw.key_file));
        let beside = |name: &str, set: &Option<PathBuf>| {
            set.as_ref()
                .map_or_else(|| key_file.with_file_name(name), |p| ck.resolve(p))
        };
        let audit_key_file = beside("audit.key", &raw.audit_key_file);
        let pack_key_file = beside("pack.key", &raw.pack_key_file);
        let issues = ck.issues;
        if !issues.is_empty() {
            return Err(fail(issues));
        }
        Ok(Config {
            sinks,
            notice_poll: std::time::Duration::from_secs(
                raw.notices.poll_seconds.unwrap_or(10).max(1),
            ),
            notice_detail: raw.notices.detail,
            status_listen,
            review_band,
            guards,
            disk_reserve,
            space_multiple,
            timezone,
            retention,
            path: path.to_path_buf(),
            data_dir,
            key_file,
            audit_key_file,
            pack_key_file,
            framework,
            log_format,
            log_level,
            feeds,
        })
    }

    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.get(name)
    }
}

/// The setting a client-building failure is about.
fn tls_error_key(e: &TlsError) -> &'static str {
    match e {
        TlsError::File { setting, .. } => setting,
        TlsError::KeyPermissions { .. } => "client_key",
        TlsError::Config(_) => "client_cert",
    }
}

fn pull_error_key(e: &PullError) -> &'static str {
    match e {
        PullError::File { setting, .. } => setting,
        PullError::KeyPermissions { .. } => "client_key",
        PullError::NotHttps { .. } => "url",
        _ => "client_cert",
    }
}

fn notify_error_key(e: &NotifyError) -> &'static str {
    match e {
        NotifyError::Tls { source, .. } => tls_error_key(source),
        _ => "url",
    }
}

/// The file as serde sees it, plus one issue per unknown key. Every syntax
/// error is reported (the parser recovers and goes on); every unknown key
/// too, since keys are collected with `serde_ignored` rather than refused
/// at the first by `deny_unknown_fields`. A wrong type or a missing
/// required key still stops deserialization at the first: serde cannot
/// build the rest of the value past it. (`[limits]` keeps
/// `deny_unknown_fields`: its type belongs to ingest.)
fn read_raw(text: &str) -> Result<(RawConfig, Vec<ConfigIssue>), Vec<ConfigIssue>> {
    let from_toml = |e: &toml::de::Error| {
        let msg = e.message().to_string();
        let hint = msg
            .contains("unknown field")
            .then(|| "see config/outcomesd.toml for every setting".to_string());
        ConfigIssue {
            line: e.span().map(|s| crate::error::line_of(text, s.start)),
            key: String::new(),
            message: msg,
            hint,
        }
    };
    let (_, syntax) = toml::de::DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return Err(syntax.iter().map(from_toml).collect());
    }
    let de = toml::Deserializer::parse(text).map_err(|e| vec![from_toml(&e)])?;
    let mut unknown = Vec::new();
    let raw: RawConfig = serde_ignored::deserialize(de, |path| {
        // "notices.webhook.0.nmae": array indices are not table names.
        let path = path.to_string();
        let parts: Vec<&str> = path
            .split('.')
            .filter(|p| p.parse::<usize>().is_err())
            .collect();
        let (key, section) = match parts.split_last() {
            Some((k, rest)) if !rest.is_empty() => (k.to_string(), Some(rest.join("."))),
            Some((k, _)) => (k.to_string(), None),
            None => (path.clone(), None),
        };
        unknown.push(ConfigIssue {
            line: locate(text, section.as_deref(), &key),
            key: parts.join("."),
            message: format!("unknown field `{key}`"),
            hint: Some("see config/outcomesd.toml for every setting".to_string()),
        });
    })
    .map_err(|e| vec![from_toml(&e)])?;
    Ok((raw, unknown))
}

/// Finds the line of `key` inside `[section]` (or at top level), for issues
/// found after parsing.
fn locate(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut in_section = section.is_none();
    let mut section_line = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_start_matches('[').trim_end_matches(']').trim();
            in_section = section == Some(name);
            if in_section {
                section_line = Some(i + 1);
            }
            continue;
        }
        if in_section && !key.is_empty() {
            let k = t.split('=').next().unwrap_or("").trim().trim_matches('"');
            if k == key {
                return Some(i + 1);
            }
        }
    }
    section_line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SourceKind;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/outcomesd/outcomesd.toml"), text)
    }

    #[test]
    fn minimal_config_and_relative_paths() {
        let c =
            parse("data_dir = \"data\"\nkey_file = \"/k\"\n[feeds.police]\nkind = \"police\"\n")
                .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/etc/outcomesd/data"));
        assert_eq!(c.feeds["police"].spec.kind, SourceKind::Police);
        // The audit and pack keys default to files of their own beside it.
        assert_eq!(c.audit_key_file, PathBuf::from("/audit.key"));
        assert_eq!(c.pack_key_file, PathBuf::from("/pack.key"));
        let c = parse("data_dir = \"d\"\nkey_file = \"/k/m.key\"\naudit_key_file = \"a.key\"\n")
            .unwrap();
        assert_eq!(c.audit_key_file, PathBuf::from("/etc/outcomesd/a.key"));
    }

    #[test]
    fn unknown_key_is_an_error_with_line() {
        let err = parse("data_dir = \"d\"\nkey_file = \"k\"\ndata_dri = \"x\"\n").unwrap_err();
        assert_eq!(err.issues[0].line, Some(3));
        assert!(err.issues[0].message.contains("unknown field"), "{err}");
    }

    #[test]
    fn every_semantic_error_is_reported_at_once() {
        let text = "data_dir = \"d\"\nkey_file = \"k\"\n[log]\nformat = \"xml\"\n\
            [feeds.police]\nkind = \"polce\"\nurl = \"http://x\"\n\
            [feeds.police.columns]\nfirstname = \"FIRST\"\n";
        let err = parse(text).unwrap_err();
        let keys: Vec<_> = err
            .issues
            .iter()
            .map(|i| (i.key.as_str(), i.line))
            .collect();
        assert!(keys.contains(&("log.format", Some(4))), "{keys:?}");
        assert!(keys.contains(&("feeds.police.kind", Some(6))), "{keys:?}");
        assert!(keys.contains(&("feeds.police.url", Some(7))), "{keys:?}");
        assert!(
            keys.contains(&("feeds.police.columns.firstname", Some(9))),
            "{keys:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.contains("outcomesd.toml:6: feeds.police.kind"),
            "{shown}"
        );
    }

    #[test]
    fn pulled_feeds_need_a_valid_schedule_and_a_ca() {
        let text = "data_dir = \"d\"\nkey_file = \"k\"\n[feeds.police]\nkind = \"police\"\n\
            url = \"https://police.example/p.csv\"\nschedule = \"0 25 * * *\"\n";
        let err = parse(text).unwrap_err();
        let keys: Vec<_> = err
            .issues
            .iter()
            .map(|i| (i.key.as_str(), i.line))
            .collect();
        assert!(keys.contains(&("feeds.police.schedule", Some(6))), "{err}");
        assert!(keys.contains(&("feeds.police.ca_bundle", Some(3))), "{err}");
        assert!(err.to_string().contains("hint:"), "{err}");
    }

    #[test]
    fn review_band_defaults_and_is_checked() {
        let base = "data_dir = \"d\"\nkey_file = \"k\"\n";
        let c = parse(base).unwrap();
        assert_eq!(c.review_band, crate::ingest::matching::DEFAULT_REVIEW_BAND);
        let c = parse(&format!("{base}[review]\nband_bits = 0\n")).unwrap();
        assert_eq!(c.review_band, 0.0);
        let err = parse(&format!("{base}[review]\nband_bits = -1\n")).unwrap_err();
        assert!(err.to_string().contains("review.band_bits"), "{err}");
        let err = parse(&format!("{base}[review]\nband = 3\n")).unwrap_err();
        assert!(err.to_string().contains("band"), "{err}");
    }

    #[test]
    fn guards_default_are_set_and_each_bad_key_is_reported_with_its_line() {
        let base = "data_dir = \"d\"\nkey_file = \"k\"\n";
        let c = parse(base).unwrap();
        assert_eq!(c.guards, crate::ingest::guards::Guards::default());
        let c = parse(&format!(
            "{base}[guards]\nclock_skew_days = 0\nmax_period_years = 20\nmin_share = 0.25\nhold_empty = false\n"
        ))
        .unwrap();
        assert_eq!(
            (c.guards.clock_skew_days, c.guards.max_period_years),
            (0, 20)
        );
        assert_eq!((c.guards.min_share, c.guards.hold_empty), (0.25, false));
        let err = parse(&format!(
            "{base}[guards]\nclock_skew_days = -1\nmin_share = 2\nmax_years = 3\n"
        ))
        .unwrap_err()
        .to_string();
        for want in [
            "outcomesd.toml:4: guards.clock_skew_days",
            "outcomesd.toml:5: guards.min_share",
            "outcomesd.toml:6: guards.max_years: unknown field",
        ] {
            assert!(err.contains(want), "{want} in {err}");
        }
    }

    #[test]
    fn store_reserve_defaults_and_a_bad_one_is_reported_with_file_and_key() {
        let base = "data_dir = \"d\"\nkey_file = \"k\"\n";
        assert_eq!(parse(base).unwrap().disk_reserve, 256 * 1024 * 1024);
        let c = parse(&format!("{base}[store]\nreserve_megabytes = 0\n")).unwrap();
        assert_eq!(c.disk_reserve, 0);
        let err = parse(&format!("{base}[store]\nreserve_megabytes = -5\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outcomesd.toml:4: store.reserve_megabytes"),
            "{err}"
        );
        assert_eq!(parse(base).unwrap().space_multiple, None);
        let c = parse(&format!("{base}[store]\nspace_multiple = 12\n")).unwrap();
        assert_eq!(c.space_multiple, Some(12));
        let err = parse(&format!("{base}[store]\nspace_multiple = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outcomesd.toml:4: store.space_multiple"),
            "{err}"
        );
    }

    #[test]
    fn status_listens_on_loopback_only() {
        let base = "data_dir = \"d\"\nkey_file = \"k\"\n[status]\n";
        assert!(parse(&format!("{base}listen = \"127.0.0.1:9187\"\n")).is_ok());
        let err = parse(&format!("{base}listen = \"0.0.0.0:9187\"\n")).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn several_unknown_keys_and_syntax_errors_are_all_reported() {
        let err = parse(
            "data_dir = \"d\"\nkey_file = \"k\"\ndata_dri = \"x\"\n[feeds.police]\nkind = \"police\"\nfromat = \"csv\"\n[[notices.spool]]\nname = \"s\"\ndir = \"x\"\nnmae = \"t\"\n",
        )
        .unwrap_err();
        let found: Vec<_> = err
            .issues
            .iter()
            .map(|i| (i.key.as_str(), i.line))
            .collect();
        assert!(found.contains(&("data_dri", Some(3))), "{err}");
        assert!(found.contains(&("feeds.police.fromat", Some(6))), "{err}");
        assert!(found.contains(&("notices.spool.nmae", Some(10))), "{err}");
        let err = parse("data_dir = \"d\"\nkey_file = \n[feeds.x\nkind = = 1\n").unwrap_err();
        assert!(err.issues.len() >= 2, "{err}");
        assert_eq!(err.issues[0].line, Some(2), "{err}");
    }

    #[test]
    fn syntax_error_has_line() {
        let err = parse("data_dir = \"d\"\nkey_file = \n").unwrap_err();
        assert_eq!(err.issues[0].line, Some(2));
    }
}

#[cfg(test)]
mod example {
    use super::*;

    /// The documented example uses only keys the loader knows; what it
    /// cannot satisfy on a build machine is files that exist on a server.
    #[test]
    fn the_example_config_has_no_unknown_keys() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/outcomesd.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        match Config::parse(&path, &text) {
            Ok(c) => assert!(c.framework.is_some()),
            Err(e) => {
                for i in &e.issues {
                    assert!(
                        i.message.contains("does not exist") || i.message.contains("cannot read"),
                        "unexpected problem in the example: {e}"
                    );
                }
            }
        }
    }
}
