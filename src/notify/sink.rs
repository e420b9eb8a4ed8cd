//! Sinks: a signed HTTPS webhook or an atomically written spool file.
//!
//! In: a [`SinkConfig`]. Out: a built sink that delivers one notice at a
//! time, or a [`NotifyError`] naming the sink. A webhook's HTTPS client is
//! built by [`crate::net::tls`], exactly as a feed's is (TLS 1.2 floor,
//! ring only, the sink's own CA bundle or else the system roots, client
//! key mode checked); delivery failures are named by
//! [`crate::error::chain`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use crate::net::tls::{self, TlsError, TlsFiles};

use super::{is_notice_id, sign, Notice, WebhookSecret};

/// Where notices go.
#[derive(Debug, Clone)]
pub enum SinkConfig {
    /// HTTPS `POST` signed per Standard Webhooks.
    Webhook {
        name: String,
        /// Must be `https://`.
        url: String,
        secret: WebhookSecret,
        /// During a rotation, the secret that will replace `secret`: every
        /// message is signed with both (Standard Webhooks allows several
        /// signatures), so receivers can switch at their own pace.
        next_secret: Option<WebhookSecret>,
        /// PEM bundle of the only CAs trusted for this sink; system roots if
        /// `None`.
        ca_bundle: Option<PathBuf>,
        /// PEM client certificate (chain) for mutual TLS; with `client_key`.
        client_cert: Option<PathBuf>,
        /// PEM (PKCS#8, SEC1 or PKCS#1) private key for `client_cert`.
        client_key: Option<PathBuf>,
        /// Whole-request timeout.
        timeout: Duration,
    },
    /// Files `<dir>/<notice id>.json`, written atomically.
    Spool { name: String, dir: PathBuf },
}

impl SinkConfig {
    /// The sink's name (its key in the outbox).
    pub fn name(&self) -> &str {
        match self {
            SinkConfig::Webhook { name, .. } | SinkConfig::Spool { name, .. } => name,
        }
    }

    /// The signing key's id, for a webhook (see [`WebhookSecret::key_id`]).
    pub fn key_id(&self) -> Option<String> {
        match self {
            SinkConfig::Webhook { secret, .. } => Some(secret.key_id()),
            SinkConfig::Spool { .. } => None,
        }
    }
}

/// A sink configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("sink {sink:?}: {msg}")]
    Config { sink: String, msg: String },
    #[error("sink {sink:?}")]
    Tls {
        sink: String,
        #[source]
        source: TlsError,
    },
    #[error("sinks {configured:?} do not match the outbox's sinks {outbox:?}")]
    SinkMismatch {
        configured: Vec<String>,
        outbox: Vec<String>,
    },
}

/// Why one delivery attempt failed. Messages name the failure only.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("HTTP status {code}")]
    Status {
        code: u16,
        /// The answer's `Retry-After`, as a wait.
        retry_after: Option<std::time::Duration>,
    },
    #[error("request timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("spool write failed: {0}")]
    Spool(io::ErrorKind),
    #[error("encoding the notice failed")]
    Encode,
    #[error("delivery task failed")]
    Task,
}

impl DeliveryError {
    /// How long the receiver asked to be left alone (`Retry-After`).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            DeliveryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<reqwest::Error> for DeliveryError {
    fn from(e: reqwest::Error) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            DeliveryError::Timeout
        } else if e.is_connect() {
            DeliveryError::Connect(crate::error::chain(&e))
        } else {
            DeliveryError::Request(crate::error::chain(&e))
        }
    }
}

/// What writing a spool file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolOutcome {
    Written,
    AlreadyPresent,
}

/// Writes `<dir>/<id>.json` atomically: a temp file (`.ntc-*.tmp`) in `dir`,
/// fsync, rename without clobbering, fsync of `dir`. If the file already
/// exists nothing is written (idempotent). Creates `dir` if missing.
pub fn spool_write(dir: &Path, id: &str, body: &[u8]) -> io::Result<SpoolOutcome> {
    if !is_notice_id(id) && !super::receipt::is_receipt_id(id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a notice or receipt id",
        ));
    }
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{id}.json"));
    let outcome = if std::fs::symlink_metadata(&path).is_ok() {
        SpoolOutcome::AlreadyPresent
    } else {
        let mut tmp = tempfile::Builder::new()
            .prefix(".ntc-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        tmp.write_all(body)?;
        tmp.as_file().sync_all()?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => SpoolOutcome::Written,
            // Someone else won the race; our temp file is removed on drop.
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                SpoolOutcome::AlreadyPresent
            }
            Err(e) => return Err(e.error),
        }
    };
    std::fs::File::open(dir)?.sync_all()?;
    Ok(outcome)
}

pub(crate) enum Sink {
    Webhook {
        name: String,
        url: reqwest::Url,
        secret: WebhookSecret,
        next_secret: Option<WebhookSecret>,
        client: reqwest::Client,
    },
    Spool {
        name: String,
        dir: PathBuf,
    },
}

impl Sink {
    pub(crate) fn name(&self) -> &str {
        match self {
            Sink::Webhook { name, .. } | Sink::Spool { name, .. } => name,
        }
    }

    pub(crate) fn build(cfg: SinkConfig) -> Result<Sink, NotifyError> {
        match cfg {
            SinkConfig::Spool { name, dir } => Ok(Sink::Spool { name, dir }),
            SinkConfig::Webhook {
                name,
                url,
                secret,
                next_secret,
                ca_bundle,
                client_cert,
                client_key,
                timeout,
            } => {
                let conf = |msg: String| NotifyError::Config {
                    sink: name.clone(),
                    msg,
                };
                let url = reqwest::Url::parse(&url).map_err(|e| conf(format!("bad url: {e}")))?;
                if url.scheme() != "https" {
                    return Err(conf("only https:// URLs are allowed".into()));
                }
                // Without a bundle of its own a sink trusts the system roots.
                let files = TlsFiles {
                    system_roots: ca_bundle.is_none(),
                    ca_bundle,
                    client_cert,
                    client_key,
                };
                let timeouts = tls::Timeouts {
                    connect: timeout.min(Duration::from_secs(10)),
                    request: timeout,
                };
                let client = tls::build_client(&files, timeouts)
                    .map_err(|source| NotifyError::Tls {
                        sink: name.clone(),
                        source,
                    })?
                    .client;
                Ok(Sink::Webhook {
                    name,
                    url,
                    secret,
                    next_secret,
                    client,
                })
            }
        }
    }

    pub(crate) async fn deliver(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(notice).map_err(|_| DeliveryError::Encode)?;
        let mut pretty = serde_json::to_vec_pretty(notice).map_err(|_| DeliveryError::Encode)?;
        pretty.push(b'\n');
        self.deliver_body(&notice.id, body, pretty).await
    }

    /// Delivers one message with id `id` (a notice or a receipt): `body`
    /// signed to a webhook, or `pretty` to a spool file `<id>.json`.
    pub(crate) async fn deliver_body(
        &self,
        id: &str,
        body: Vec<u8>,
        pretty: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        match self {
            Sink::Webhook {
                url,
                secret,
                next_secret,
                client,
                ..
            } => {
                let ts = Utc::now().timestamp();
                let mut sig = sign(secret, id, ts, &body);
                if let Some(next) = next_secret {
                    sig.push(' ');
                    sig.push_str(&sign(next, id, ts, &body));
                }
                let resp = client
                    .post(url.clone())
                    .header("webhook-id", id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", sig)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(DeliveryError::Status {
                        code: status.as_u16(),
                        retry_after: crate::net::backoff::retry_after_header(resp.headers()),
                    })
                }
            }
            Sink::Spool { dir, .. } => {
                let dir = dir.clone();
                let id = id.to_owned();
                tokio::task::spawn_blocking(move || spool_write(&dir, &id, &pretty))
                    .await
                    .map_err(|_| DeliveryError::Task)?
                    .map(|_| ())
                    .map_err(|e| DeliveryError::Spool(e.kind()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::receiver::test_support::TestPki;

    fn webhook(dir: &Path, pki: &TestPki) -> SinkConfig {
        let ca = pki.write_ca(dir);
        let (cert, key) = pki.write_client_identity(dir);
        SinkConfig::Webhook {
            name: "w".into(),
            url: "https://127.0.0.1:1/".into(),
            secret: crate::notify::WebhookSecret::generate(),
            next_secret: None,
            ca_bundle: Some(ca),
            client_cert: Some(cert),
            client_key: Some(key),
            timeout: Duration::from_secs(1),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_webhook_client_key_with_loose_mode_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new();
        let cfg = webhook(dir.path(), &pki);
        assert!(Sink::build(cfg.clone()).is_ok());
        let key = dir.path().join("client.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Sink::build(cfg).err().expect("a loose key is refused");
        assert!(
            matches!(
                e,
                NotifyError::Tls {
                    source: TlsError::KeyPermissions { mode: 0o640, .. },
                    ..
                }
            ),
            "{e:?}"
        );
        let text = crate::error::chain(&e);
        assert!(
            text.starts_with("sink \"w\": client_key") && text.contains("chmod 600"),
            "{text}"
        );
    }

    #[test]
    fn a_webhook_with_a_missing_ca_bundle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new();
        let mut cfg = webhook(dir.path(), &pki);
        if let SinkConfig::Webhook { ca_bundle, .. } = &mut cfg {
            *ca_bundle = Some(dir.path().join("missing.pem"));
        }
        let e = Sink::build(cfg).err().expect("refused");
        let text = crate::error::chain(&e);
        assert!(
            text.contains("ca_bundle") && text.contains("missing.pem"),
            "{text}"
        );
    }
}
