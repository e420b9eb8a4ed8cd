//! `[feeds.NAME.receipts]`: where a feed's delivery receipts go.
//!
//! In: the feed's raw table and its pull settings. Out: the receipt sinks
//! (a webhook named `receipt:NAME`, a spool named `receipt-spool:NAME`),
//! built as the receipt notifier will build them, or issues. Promises: a
//! receipt webhook is HTTPS and reached with the feed's own TLS files (its
//! CA bundle and its client certificate: the mutual-TLS identity the
//! partner already knows), signed with its own secret; a `report_schedule`
//! parses and fires, and `report_months` is from 1 to [`MAX_REPORT_MONTHS`].

use super::check::Checker;
use super::{notify_error_key, schedule, PullSpec, RawFeed, SCHEDULE_HORIZON};
use crate::notify::feedback::ReportSchedule;
use crate::notify::SinkConfig;

/// The most calendar months one scheduled report may cover (a century).
pub const MAX_REPORT_MONTHS: u32 = 1200;

/// The outbox sink names of a feed's receipts.
fn receipt_sink_names(feed: &str) -> (String, String) {
    (format!("receipt:{feed}"), format!("receipt-spool:{feed}"))
}

impl Checker<'_> {
    /// `report_schedule` and `report_months` of `[feeds.NAME.receipts]`.
    pub(super) fn report_schedule(&mut self, name: &str, f: &RawFeed) -> Option<ReportSchedule> {
        let r = f.receipts.as_ref()?;
        let section = format!("feeds.{name}.receipts");
        let sec = Some(section.as_str());
        let months = r.report_months.unwrap_or(1);
        if !(1..=MAX_REPORT_MONTHS).contains(&months) {
            self.issue(
                sec,
                "report_months",
                format!("must be from 1 to {MAX_REPORT_MONTHS}"),
                Some("1: each report covers the calendar month before the one it is sent in; 12: the twelve months before".into()),
            );
        }
        let Some(text) = &r.report_schedule else {
            if r.report_months.is_some() {
                self.issue(
                    sec,
                    "report_months",
                    "set without a report_schedule".into(),
                    None,
                );
            }
            return None;
        };
        match schedule::parse_schedule(text) {
            Ok(s) => {
                if schedule::first_run_within(&s, chrono::Utc::now(), SCHEDULE_HORIZON).is_none() {
                    self.issue(
                        sec,
                        "report_schedule",
                        format!("schedule {text:?} never fires"),
                        Some("check the day of the month against the month (there is no 30 February)".into()),
                    );
                }
                Some(ReportSchedule {
                    text: text.clone(),
                    schedule: s,
                    months,
                    timezone: self.tz,
                })
            }
            Err(e) => {
                self.issue(
                    sec,
                    "report_schedule",
                    e.to_string(),
                    Some("e.g. report_schedule = \"0 6 1 * *\" (06:00 on the 1st of each month, in `timezone`)".into()),
                );
                None
            }
        }
    }

    pub(super) fn receipts(
        &mut self,
        name: &str,
        f: &RawFeed,
        pull: Option<&PullSpec>,
    ) -> Vec<SinkConfig> {
        let Some(r) = &f.receipts else {
            return Vec::new();
        };
        let section = format!("feeds.{name}.receipts");
        let sec = Some(section.as_str());
        let (hook_name, spool_name) = receipt_sink_names(name);
        let mut sinks = Vec::new();
        if r.url.is_none() && r.spool.is_none() {
            self.issue(
                sec,
                "url",
                "receipts need a url, a spool, or both".into(),
                Some("url = \"https://partner.example/receipts\" with secret_file, and/or spool = \"/var/spool/outcomesd/receipts/NAME\"".into()),
            );
        }
        if let Some(dir) = &r.spool {
            sinks.push(SinkConfig::Spool {
                name: spool_name,
                dir: self.resolve(dir),
            });
        }
        let Some(url) = &r.url else {
            if r.secret_file.is_some() {
                self.issue(sec, "secret_file", "set without a url".into(), None);
            }
            return sinks;
        };
        if !url.starts_with("https://") {
            self.issue(sec, "url", "only https:// URLs are allowed".into(), None);
            return sinks;
        }
        let Some(tls) = pull.map(|p| &p.tls).filter(|t| t.client_cert.is_some()) else {
            self.issue(
                sec,
                "url",
                "a receipt endpoint is reached with the feed's own mutual-TLS identity, and this feed has none".into(),
                Some("give the feed url, ca_bundle, client_cert and client_key, or send receipts to a spool".into()),
            );
            return sinks;
        };
        let Some(secret_file) = &r.secret_file else {
            self.issue(
                sec,
                "secret_file",
                "a receipt endpoint needs the secret receipts are signed with".into(),
                Some("a file (mode 0600) holding one line: whsec_ followed by base64".into()),
            );
            return sinks;
        };
        let path = self.resolve(secret_file);
        let secret = match crate::keys::read_secret_file(&path)
            .map_err(|e| crate::error::chain(&e))
            .and_then(|t| {
                crate::notify::WebhookSecret::parse(t.trim())
                    .map_err(|e| format!("{}: {e}", path.display()))
            }) {
            Ok(s) => s,
            Err(e) => {
                self.issue(sec, "secret_file", e, None);
                return sinks;
            }
        };
        let sink = SinkConfig::Webhook {
            name: hook_name,
            url: url.clone(),
            secret,
            next_secret: None,
            // With no bundle of its own the feed trusts the system roots,
            // and so does its receipt endpoint.
            ca_bundle: tls.ca_bundle.clone(),
            client_cert: tls.client_cert.clone(),
            client_key: tls.client_key.clone(),
            timeout: std::time::Duration::from_secs(r.timeout_seconds.unwrap_or(30)),
        };
        if let Err(e) = crate::notify::Sink::build(sink.clone()) {
            self.issue(sec, notify_error_key(&e), crate::error::chain(&e), None);
        }
        sinks.push(sink);
        sinks
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(extra: &str) -> Result<Config, String> {
        let text = format!(
            "data_dir = \"data\"\nkey_file = \"/k\"\n[feeds.police]\nkind = \"police\"\n{extra}"
        );
        Config::parse(Path::new("/etc/outcomesd/outcomesd.toml"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_spool_alone_is_enough_and_named_per_feed() {
        let cfg = parse("[feeds.police.receipts]\nspool = \"receipts\"\n").unwrap();
        let sinks = &cfg.feeds["police"].receipts;
        assert_eq!(sinks.len(), 1);
        assert_eq!(sinks[0].name(), "receipt-spool:police");
    }

    #[test]
    fn a_report_schedule_is_checked_with_its_key() {
        let cfg = parse("[feeds.police.receipts]\nspool = \"r\"\nreport_schedule = \"0 6 1 * *\"\nreport_months = 12\n").unwrap();
        let r = cfg.feeds["police"].report.as_ref().unwrap();
        assert_eq!((r.months, r.timezone), (12, chrono_tz::Europe::London));
        let e = parse("[feeds.police.receipts]\nspool = \"r\"\nreport_schedule = \"0 25 1 * *\"\n")
            .unwrap_err();
        assert!(
            e.contains("outcomesd.toml:7: feeds.police.receipts.report_schedule"),
            "{e}"
        );
        let e = parse("[feeds.police.receipts]\nspool = \"r\"\nreport_schedule = \"0 0 30 2 *\"\n")
            .unwrap_err();
        assert!(e.contains("never fires"), "{e}");
        let e = parse("[feeds.police.receipts]\nspool = \"r\"\nreport_schedule = \"@daily\"\nreport_months = 0\n").unwrap_err();
        assert!(
            e.contains("feeds.police.receipts.report_months") && e.contains("from 1"),
            "{e}"
        );
        let e = parse("[feeds.police.receipts]\nspool = \"r\"\nreport_months = 3\n").unwrap_err();
        assert!(e.contains("without a report_schedule"), "{e}");
        assert!(parse("[feeds.police.receipts]\nspool = \"r\"\n")
            .unwrap()
            .feeds["police"]
            .report
            .is_none());
    }

    #[test]
    fn a_receipt_url_needs_the_feeds_identity_and_a_secret() {
        let e = parse("[feeds.police.receipts]\nurl = \"https://p.example/r\"\n").unwrap_err();
        assert!(
            e.contains("feeds.police.receipts.url") && e.contains("mutual-TLS identity"),
            "{e}"
        );
        let e = parse("[feeds.police.receipts]\nurl = \"http://p.example/r\"\n").unwrap_err();
        assert!(e.contains("only https://"), "{e}");
        let e = parse("[feeds.police.receipts]\n").unwrap_err();
        assert!(e.contains("a url, a spool, or both"), "{e}");
        let e = parse("[feeds.police.receipts]\nspool = \"r\"\nsurl = \"x\"\n").unwrap_err();
        assert!(e.contains("surl"), "{e}");
    }
}
