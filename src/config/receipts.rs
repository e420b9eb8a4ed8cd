//! `[feeds.NAME.receipts]`: where a feed's delivery receipts go.
//!
//! In: the feed's raw table and its pull settings. Out: the receipt sinks
//! (a webhook named `receipt:NAME`, a spool named `receipt-spool:NAME`),
//! built as the receipt notifier will build them, or issues. Promises: a
//! receipt webhook is HTTPS and reached with the feed's own TLS files (its
//! CA bundle and its client certificate: the mutual-TLS identity the
//! partner already knows), signed with its own secret.

use super::check::Checker;
use super::{notify_error_key, PullSpec, RawFeed};
use crate::notify::SinkConfig;

/// The outbox sink names of a feed's receipts.
fn receipt_sink_names(feed: &str) -> (String, String) {
    (format!("receipt:{feed}"), format!("receipt-spool:{feed}"))
}

impl Checker<'_> {
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
