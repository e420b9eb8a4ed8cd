//! The checks behind [`Config::parse`], one method per part of the file.
//!
//! In: the deserialized file. Out: the built parts of a [`Config`] and, in
//! [`Checker::issues`], every problem found on the way, each located in the
//! text. Promises: a part with a problem still lets the others be checked,
//! so one run reports everything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{
    locate, notify_error_key, pull_error_key, schedule, ConfigIssue, FeedConfig, LogFormat,
    PullSpec, RawConfig, RawFeed, RawNotices, RawStatus, SCHEDULE_HORIZON,
};
use crate::ingest::feeds::{FeedSpec, Format, Limits};
use crate::notify::SinkConfig;
use crate::records::SourceKind;

pub(super) struct Checker<'t> {
    text: &'t str,
    base: PathBuf,
    pub(super) issues: Vec<ConfigIssue>,
    /// The zone schedules are read in (`timezone`).
    pub(super) tz: chrono_tz::Tz,
}

impl<'t> Checker<'t> {
    /// Paths resolve against `base`; `issues` may hold problems found
    /// before (unknown keys).
    pub(super) fn new(text: &'t str, base: PathBuf, issues: Vec<ConfigIssue>) -> Self {
        Checker {
            text,
            base,
            issues,
            tz: schedule::DEFAULT_TIMEZONE,
        }
    }

    pub(super) fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub(super) fn issue(
        &mut self,
        section: Option<&str>,
        key: &str,
        message: String,
        hint: Option<String>,
    ) {
        let full = match section {
            Some(s) => format!("{s}.{key}"),
            None => key.to_string(),
        };
        self.issues.push(ConfigIssue {
            line: locate(self.text, section, key.rsplit('.').next().unwrap_or(key)),
            key: full,
            message,
            hint,
        });
    }

    /// `timezone`: the zone schedules are read in (checked before the
    /// feeds, whose pulls carry it).
    pub(super) fn timezone(&mut self, name: Option<&str>) -> chrono_tz::Tz {
        if let Some(n) = name {
            match schedule::parse_timezone(n) {
                Ok(tz) => self.tz = tz,
                Err(e) => self.issue(None, "timezone", e, None),
            }
        }
        self.tz
    }

    /// `[log]` and `[limits]`.
    pub(super) fn log_and_limits(&mut self, raw: &RawConfig) -> (LogFormat, String) {
        let log_format = match raw.log.format.as_deref().unwrap_or("auto") {
            "auto" => LogFormat::Auto,
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            _ => {
                self.issue(
                    Some("log"),
                    "format",
                    "unknown log format".into(),
                    Some("auto, human or json".into()),
                );
                LogFormat::Auto
            }
        };
        let log_level = raw.log.level.clone().unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            self.issue(
                Some("log"),
                "level",
                "not a log filter".into(),
                Some("e.g. info, debug, outcomesd=debug".into()),
            );
        }
        if raw.limits.max_field_bytes == 0 || raw.limits.max_row_bytes < raw.limits.max_field_bytes
        {
            self.issue(
                Some("limits"),
                "max_row_bytes",
                "limits must be positive and a row at least as long as a field".into(),
                None,
            );
        }
        (log_format, log_level)
    }

    /// One `[feeds.NAME]` table; `None` if its kind is unknown.
    pub(super) fn feed(&mut self, name: &str, f: &RawFeed, limits: Limits) -> Option<FeedConfig> {
        let section = format!("feeds.{name}");
        let sec = Some(section.as_str());
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            self.issue(
                sec,
                "",
                "feed names are letters, digits, - and _".into(),
                None,
            );
        }
        let kind = SourceKind::parse(&f.kind);
        if kind.is_none() {
            let all: Vec<_> = SourceKind::ALL.iter().map(|k| k.name()).collect();
            self.issue(
                sec,
                "kind",
                "unknown source kind".into(),
                Some(format!("one of {}", all.join(", "))),
            );
        }
        let format = match f.format.as_deref().unwrap_or("csv") {
            "csv" => Format::Csv,
            "jsonl" => Format::Jsonl,
            _ => {
                self.issue(
                    sec,
                    "format",
                    "unknown format".into(),
                    Some("csv or jsonl".into()),
                );
                Format::Csv
            }
        };
        let mut columns = HashMap::new();
        for (canon, theirs) in &f.columns {
            if crate::ingest::feeds::Col::parse(canon).is_none() {
                self.issue(
                    Some(&format!("{section}.columns")),
                    canon,
                    "not a column outcomesd knows".into(),
                    Some("the left side is outcomesd's column name (docs/feeds.md), the right the partner's".into()),
                );
            }
            columns.insert(canon.clone(), theirs.clone());
        }
        let pull = self.pull(name, sec, f);
        let receipts = self.receipts(name, f, pull.as_ref());
        let report = self.report_schedule(name, f);
        let kind = kind?;
        let mut spec = FeedSpec::new(name, kind);
        spec.format = format;
        spec.columns = columns;
        spec.limits = limits;
        Some(FeedConfig {
            spec,
            pull,
            receipts,
            report,
        })
    }

    /// Where and when a feed is pulled: its client is built now, as `run`
    /// builds it, and its schedule must fire.
    fn pull(&mut self, name: &str, sec: Option<&str>, f: &RawFeed) -> Option<PullSpec> {
        match &f.url {
            None => {
                for (k, present) in [
                    ("schedule", f.schedule.is_some()),
                    ("pull_at_start", f.pull_at_start),
                    ("client_cert", f.client_cert.is_some()),
                    ("client_key", f.client_key.is_some()),
                    ("ca_bundle", f.ca_bundle.is_some()),
                ] {
                    if present {
                        self.issue(
                            sec,
                            k,
                            "set without a url".into(),
                            Some("add url = \"https://...\" or remove it".into()),
                        );
                    }
                }
                None
            }
            Some(url) => {
                if !url.starts_with("https://") {
                    self.issue(
                        sec,
                        "url",
                        "only https:// URLs are allowed (partner data never travels in clear)"
                            .into(),
                        None,
                    );
                }
                if f.client_cert.is_some() != f.client_key.is_some() {
                    self.issue(
                        sec,
                        "client_key",
                        "client_cert and client_key go together".into(),
                        None,
                    );
                }
                if f.ca_bundle.is_none() && !f.system_roots {
                    self.issue(
                        sec,
                        "ca_bundle",
                        "a pulled feed needs the partner's CA bundle".into(),
                        Some("set ca_bundle = \"...pem\" (or system_roots = true to trust the system's CAs)".into()),
                    );
                }
                let tls = crate::net::TlsFiles {
                    client_cert: f.client_cert.as_deref().map(|p| self.resolve(p)),
                    client_key: f.client_key.as_deref().map(|p| self.resolve(p)),
                    ca_bundle: f.ca_bundle.as_deref().map(|p| self.resolve(p)),
                    system_roots: f.system_roots,
                };
                let mut limits = crate::pull::PullLimits::default();
                if let Some(mb) = f.max_megabytes {
                    limits.max_bytes = mb * 1024 * 1024;
                }
                // Build the client now so check-config finds bad
                // certificates, keys and permissions (unless the
                // checks above already said what is wrong).
                let tls_checked = f.client_cert.is_some() == f.client_key.is_some()
                    && (f.ca_bundle.is_some() || f.system_roots);
                if url.starts_with("https://") && tls_checked {
                    if let Err(e) = crate::pull::Puller::new(name, url, &tls, limits.clone()) {
                        self.issue(sec, pull_error_key(&e), e.to_string(), None);
                    }
                }
                let schedule = match &f.schedule {
                    None => {
                        if !f.pull_at_start {
                            self.issue(
                                sec,
                                "schedule",
                                "a pulled feed needs a schedule".into(),
                                Some(
                                    "e.g. schedule = \"0 2 * * *\" (02:00 daily, in `timezone`)"
                                        .into(),
                                ),
                            );
                        }
                        None
                    }
                    Some(text) => match schedule::parse_schedule(text) {
                        Ok(s) => {
                            if schedule::first_run_within(&s, chrono::Utc::now(), SCHEDULE_HORIZON)
                                .is_none()
                            {
                                self.issue(sec, "schedule", format!("schedule {text:?} never fires in the next {} years", SCHEDULE_HORIZON.num_days() / 366), Some("check the day of the month against the month (there is no 30 February)".into()));
                            }
                            Some(s)
                        }
                        Err(e) => {
                            self.issue(sec, "schedule", e.to_string(), Some("5 fields (minute hour day month weekday) or 6-7 with seconds first".into()));
                            None
                        }
                    },
                };
                Some(PullSpec {
                    url: url.clone(),
                    schedule_text: f.schedule.clone(),
                    schedule,
                    tls,
                    limits,
                    at_start: f.pull_at_start,
                    timezone: self.tz,
                })
            }
        }
    }

    /// A path (relative to the config) or the id of a shipped framework.
    pub(super) fn framework(&mut self, spec: Option<&Path>) -> Option<crate::framework::Framework> {
        // A path (relative to this file) or the id of a shipped framework.
        match spec {
            None => None,
            Some(spec) => {
                let as_path = self.resolve(spec);
                let target = if as_path.is_file() {
                    as_path.as_path()
                } else {
                    spec
                };
                match crate::framework::Framework::resolve(target) {
                    Ok(fw) => Some(fw),
                    Err(e) => {
                        self.issue(
                            None,
                            "framework",
                            e.to_string(),
                            Some("a path to a framework file, or a shipped id such as \"sunderland\"".into()),
                        );
                        None
                    }
                }
            }
        }
    }

    /// `[[notices.webhook]]` and `[[notices.spool]]`: each webhook built
    /// now, as the notifier will build it.
    pub(super) fn sinks(&mut self, notices: &RawNotices) -> Vec<SinkConfig> {
        let mut sinks = Vec::new();
        let mut sink_names = std::collections::HashSet::new();
        for (i, w) in notices.webhook.iter().enumerate() {
            let sec = "notices.webhook";
            if !sink_names.insert(w.name.clone()) {
                self.issue(
                    Some(sec),
                    "name",
                    format!("sink name '{}' is used twice", w.name),
                    None,
                );
            }
            if !w.url.starts_with("https://") {
                self.issue(
                    Some(sec),
                    "url",
                    format!("webhook {}: only https:// URLs are allowed", i + 1),
                    None,
                );
            }
            let secret_path = self.resolve(&w.secret_file);
            let secret = match crate::keys::read_secret_file(&secret_path) {
                Ok(text) => match crate::notify::WebhookSecret::parse(text.trim()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        self.issue(
                            Some(sec),
                            "secret_file",
                            format!("{}: {e}", secret_path.display()),
                            Some("the file holds one line: whsec_ followed by base64".into()),
                        );
                        None
                    }
                },
                Err(e) => {
                    self.issue(Some(sec), "secret_file", crate::error::chain(&e), None);
                    None
                }
            };
            let next_secret = w.next_secret_file.as_deref().and_then(|p| {
                let path = self.resolve(p);
                let read = crate::keys::read_secret_file(&path)
                    .map_err(|e| crate::error::chain(&e))
                    .and_then(|text| {
                        crate::notify::WebhookSecret::parse(text.trim())
                            .map_err(|e| format!("{}: {e}", path.display()))
                    });
                match read {
                    Ok(s) => Some(s),
                    Err(e) => {
                        self.issue(Some(sec), "next_secret_file", e, None);
                        None
                    }
                }
            });
            if let Some(secret) = secret {
                let sink = crate::notify::SinkConfig::Webhook {
                    name: w.name.clone(),
                    url: w.url.clone(),
                    secret,
                    next_secret,
                    ca_bundle: w.ca_bundle.as_deref().map(|p| self.resolve(p)),
                    client_cert: w.client_cert.as_deref().map(|p| self.resolve(p)),
                    client_key: w.client_key.as_deref().map(|p| self.resolve(p)),
                    timeout: std::time::Duration::from_secs(w.timeout_seconds.unwrap_or(30)),
                };
                // Build it now, as the notifier will: TLS files and modes.
                if w.url.starts_with("https://") {
                    if let Err(e) = crate::notify::Sink::build(sink.clone()) {
                        self.issue(
                            Some(sec),
                            notify_error_key(&e),
                            crate::error::chain(&e),
                            None,
                        );
                    }
                }
                sinks.push(sink);
            }
        }
        for sp in &notices.spool {
            if !sink_names.insert(sp.name.clone()) {
                self.issue(
                    Some("notices.spool"),
                    "name",
                    format!("sink name '{}' is used twice", sp.name),
                    None,
                );
            }
            sinks.push(crate::notify::SinkConfig::Spool {
                name: sp.name.clone(),
                dir: self.resolve(&sp.dir),
            });
        }
        sinks
    }

    /// `[status]`: loopback unless explicitly allowed.
    pub(super) fn status(&mut self, raw: &RawStatus) -> Option<std::net::SocketAddr> {
        match raw.listen.as_deref() {
            None => None,
            Some(a) => match a.parse::<std::net::SocketAddr>() {
                Ok(addr) if addr.ip().is_loopback() || raw.allow_non_loopback => Some(addr),
                Ok(_) => {
                    self.issue(Some("status"), "listen", "the status endpoint listens on loopback only".into(), Some("use 127.0.0.1:PORT or [::1]:PORT (or allow_non_loopback = true, behind a firewall)".into()));
                    None
                }
                Err(_) => {
                    self.issue(
                        Some("status"),
                        "listen",
                        "not an address:port".into(),
                        Some("e.g. 127.0.0.1:9187".into()),
                    );
                    None
                }
            },
        }
    }

    pub(super) fn review(&mut self, raw: &super::RawReview) -> f64 {
        let d = crate::ingest::matching::DEFAULT_REVIEW_BAND;
        match raw.band_bits {
            None => d,
            Some(b) if b.is_finite() && (0.0..=30.0).contains(&b) => b,
            Some(_) => {
                self.issue(
                    Some("review"),
                    "band_bits",
                    "must be a number of bits from 0 to 30".into(),
                    Some(format!("the default is {d}; 0 turns the review queue off")),
                );
                d
            }
        }
    }

    /// `[guards]`: each limit in its range, else the default with an issue.
    pub(super) fn guards(&mut self, raw: &super::RawGuards) -> crate::ingest::guards::Guards {
        let mut g = crate::ingest::guards::Guards::default();
        let int = |ck: &mut Self,
                   key: &str,
                   v: Option<i64>,
                   range: std::ops::RangeInclusive<i64>,
                   d: u32| match v {
            None => d,
            Some(v) if range.contains(&v) => v as u32,
            Some(_) => {
                ck.issue(
                    Some("guards"),
                    key,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                    Some(format!("the default is {d}")),
                );
                d
            }
        };
        g.clock_skew_days = int(
            self,
            "clock_skew_days",
            raw.clock_skew_days,
            0..=31,
            g.clock_skew_days,
        );
        g.max_period_years = int(
            self,
            "max_period_years",
            raw.max_period_years,
            1..=100,
            g.max_period_years,
        );
        match raw.min_share {
            None => {}
            Some(v) if v.is_finite() && (0.0..=1.0).contains(&v) => g.min_share = v,
            Some(_) => self.issue(
                Some("guards"),
                "min_share",
                "must be a share from 0 to 1".into(),
                Some(format!(
                    "the default is {}; 0 turns the share rule off",
                    g.min_share
                )),
            ),
        }
        if let Some(b) = raw.hold_empty {
            g.hold_empty = b;
        }
        g
    }

    /// `[store]`: the free-space reserve, in bytes.
    /// `[retention]` and `[feeds.NAME.retention]`: years up to 100, days
    /// up to 36500.
    pub(super) fn retention(
        &mut self,
        raw: &super::RawRetention,
        feeds: &std::collections::BTreeMap<String, super::RawFeed>,
    ) -> crate::subjects::retention::Retention {
        use crate::subjects::retention::Retention;
        let mut r = Retention::default();
        let check = |ck: &mut Self, sec: &str, key: &str, v: Option<u32>, max: u32| {
            if let Some(v) = v.filter(|v| *v > max) {
                ck.issue(
                    Some(sec),
                    key,
                    format!("{v} is more than {max}"),
                    Some("see docs/subject-rights.md for the defaults and why".into()),
                );
                return None;
            }
            v
        };
        if let Some(v) = check(self, "retention", "events_years", raw.events_years, 100) {
            r.events_years = v;
        }
        if let Some(v) = check(self, "retention", "claims_years", raw.claims_years, 100) {
            r.claims_years = v;
        }
        if let Some(v) = check(self, "retention", "outbox_days", raw.outbox_days, 36500) {
            r.outbox_days = v;
        }
        if let Some(v) = check(self, "retention", "reports_days", raw.reports_days, 36500) {
            r.reports_days = v;
        }
        for (name, f) in feeds {
            let Some(fr) = f.retention else { continue };
            let sec = format!("feeds.{name}.retention");
            let fr = crate::subjects::retention::FeedRetention {
                events_years: check(self, &sec, "events_years", fr.events_years, 100),
                claims_years: check(self, &sec, "claims_years", fr.claims_years, 100),
                reports_days: check(self, &sec, "reports_days", fr.reports_days, 36500),
            };
            r.feeds.insert(name.clone(), fr);
        }
        r
    }

    pub(super) fn store(&mut self, raw: &super::RawStore) -> (u64, Option<u64>) {
        let d = crate::ingest::DEFAULT_RESERVE;
        let reserve = match raw.reserve_megabytes {
            None => d,
            Some(mb) if (0..=1_048_576).contains(&mb) => mb as u64 * 1024 * 1024,
            Some(_) => {
                self.issue(
                    Some("store"),
                    "reserve_megabytes",
                    "must be a whole number of MiB from 0 to 1048576".into(),
                    Some(format!(
                        "the default is {}: room the store keeps free after any delivery",
                        d / (1024 * 1024)
                    )),
                );
                d
            }
        };
        let multiple = match raw.space_multiple {
            None => None,
            Some(m) if (1..=10_000).contains(&m) => Some(m as u64),
            Some(_) => {
                self.issue(
                    Some("store"),
                    "space_multiple",
                    "must be a whole number from 1 to 10000".into(),
                    Some(
                        "leave it out to use the measured multiples (claims 160, case 8, events 4; docs/operations.md)"
                            .into(),
                    ),
                );
                None
            }
        };
        (reserve, multiple)
    }
}
