//! Pulling one partner feed over mutual TLS.
//!
//! In: a feed name, an `https://` URL, the feed's TLS files ([`TlsFiles`]:
//! client certificate and key, CA bundle), size and time limits, and the
//! validators (ETag, Last-Modified) kept from the last successful pull.
//! Out: [`Fetched::NotModified`], or [`Fetched::Body`] with the complete body
//! and its new validators; or a [`PullError`] that names the feed (and the
//! file, for configuration problems, never a file's contents) and says
//! whether trying again later could help ([`PullError::is_transient`]).
//!
//! Promises:
//! * the client is built by [`crate::net::tls`], as every HTTPS client
//!   is: only `https://`, TLS 1.2 or later, ring only; the server is
//!   trusted through the feed's `ca_bundle` alone unless `system_roots` is
//!   set; a client key readable by group or others is refused
//!   (`chmod 600`); redirects are not followed (a 3xx is a
//!   [`PullError::Status`]);
//! * a body is returned only when complete: a body larger than `max_bytes`
//!   is abandoned ([`PullError::TooLarge`]), and one shorter than its
//!   Content-Length or cut off mid-stream is an error, never a `Body`;
//! * [`Puller::fetch_with_retry`] retries transient failures with
//!   [`crate::net::backoff`] (exponential, full jitter; a `Retry-After` on
//!   the failed answer is a floor under the wait, up to an hour), logs each
//!   failure, and gives up at once when shutdown is asked for.
//!
//! When to pull is [`crate::daemon::schedule`]'s business.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, HeaderValue, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

use crate::daemon::shutdown::Shutdown;
use crate::net::tls::{self, find_rustls_error, TlsError};
use crate::net::{Backoff, Jitter};

pub use crate::net::tls::{install_ring_provider, TlsFiles};

/// Size and time limits of one pull.
#[derive(Debug, Clone)]
pub struct PullLimits {
    /// Largest body accepted (default 512 MiB).
    pub max_bytes: u64,
    /// TCP + TLS connect limit (default 10 s).
    pub connect_timeout: Duration,
    /// Whole request limit, body included (default 300 s).
    pub timeout: Duration,
}

impl Default for PullLimits {
    fn default() -> Self {
        PullLimits {
            max_bytes: 512 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
        }
    }
}

/// How [`Puller::fetch_with_retry`] retries transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 5; 0 counts as 1).
    pub attempts: u32,
    /// Backoff cap after the first failure; doubles per failure (default 2 s).
    pub base: Duration,
    /// Largest backoff cap (default 5 min).
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The backoff between attempts: `base` doubled per failure up to
    /// `max`, with full jitter.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: self.base,
            max: self.max,
            jitter: Jitter::Full,
        }
    }
}

/// HTTP validators from the last successful pull, for conditional requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What one pull brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The partner says nothing changed since `prior` (HTTP 304).
    NotModified,
    /// The complete body and the validators to send next time.
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

/// Which TLS check failed, for callers that act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The server's chain does not lead to a trusted CA.
    ServerUntrusted,
    /// The server's certificate does not name the URL's host.
    ServerWrongHost,
    /// The server's certificate has expired or is not yet valid.
    ServerCertDates,
    /// Some other defect in the server's certificate.
    ServerCertInvalid,
    /// The server wants a client certificate and none is configured.
    ClientCertRequired,
    /// The server rejected the client certificate we presented.
    ClientCertRefused,
    /// Any other TLS failure.
    Other,
}

/// Why a pull (or setting one up) failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("feed {feed}: only https:// URLs are allowed (partner data never travels in clear), not {scheme}://")]
    NotHttps { feed: String, scheme: String },
    #[error("feed {feed}: {setting} {}: {reason}", path.display())]
    File {
        feed: String,
        setting: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("feed {feed}: client_key {} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())]
    KeyPermissions {
        feed: String,
        path: PathBuf,
        mode: u32,
    },
    #[error("feed {feed}: {reason}")]
    Config { feed: String, reason: String },
    #[error("feed {feed}: TLS handshake failed: {reason}")]
    Tls {
        feed: String,
        problem: TlsProblem,
        reason: String,
    },
    #[error("feed {feed}: cannot connect: {reason}")]
    Connect { feed: String, reason: String },
    #[error("feed {feed}: timed out: {reason}")]
    Timeout { feed: String, reason: String },
    #[error("feed {feed}: the server answered HTTP {code}")]
    Status {
        feed: String,
        code: u16,
        /// The answer's `Retry-After`, as a wait.
        retry_after: Option<Duration>,
    },
    #[error("feed {feed}: the body is larger than the {limit}-byte limit (max_bytes); abandoned")]
    TooLarge { feed: String, limit: u64 },
    #[error("feed {feed}: the body was cut off after {received} of {expected} bytes")]
    Truncated {
        feed: String,
        received: u64,
        expected: u64,
    },
    #[error("feed {feed}: transfer failed: {reason}")]
    Transport { feed: String, reason: String },
    #[error("feed {feed}: stopped by shutdown")]
    Shutdown { feed: String },
}

impl PullError {
    /// Could the same pull succeed later without anyone changing anything?
    /// Yes for connect failures, timeouts, 5xx, 429 and cut-off bodies; no
    /// for configuration, certificate problems, other 4xx, too-large bodies
    /// and shutdown.
    pub fn is_transient(&self) -> bool {
        match self {
            PullError::Connect { .. }
            | PullError::Timeout { .. }
            | PullError::Truncated { .. }
            | PullError::Transport { .. } => true,
            PullError::Status { code, .. } => *code >= 500 || *code == 429 || *code == 408,
            PullError::NotHttps { .. }
            | PullError::File { .. }
            | PullError::KeyPermissions { .. }
            | PullError::Config { .. }
            | PullError::Tls { .. }
            | PullError::TooLarge { .. }
            | PullError::Shutdown { .. } => false,
        }
    }

    /// The feed this error is about.
    pub fn feed(&self) -> &str {
        match self {
            PullError::NotHttps { feed, .. }
            | PullError::File { feed, .. }
            | PullError::KeyPermissions { feed, .. }
            | PullError::Config { feed, .. }
            | PullError::Tls { feed, .. }
            | PullError::Connect { feed, .. }
            | PullError::Timeout { feed, .. }
            | PullError::Status { feed, .. }
            | PullError::TooLarge { feed, .. }
            | PullError::Truncated { feed, .. }
            | PullError::Transport { feed, .. }
            | PullError::Shutdown { feed } => feed,
        }
    }

    /// A client-building failure, said of `feed`.
    fn from_tls(feed: &str, e: TlsError) -> PullError {
        let feed = feed.to_string();
        match e {
            TlsError::File {
                setting,
                path,
                reason,
            } => PullError::File {
                feed,
                setting,
                path,
                reason,
            },
            TlsError::KeyPermissions { path, mode } => {
                PullError::KeyPermissions { feed, path, mode }
            }
            TlsError::Config(reason) => PullError::Config { feed, reason },
        }
    }

    /// The server's `Retry-After`, for [`PullError::Status`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PullError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, for [`PullError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            PullError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A ready HTTPS client for one feed. Cheap to share; build once per feed
/// (connections are pooled between pulls).
#[derive(Debug, Clone)]
pub struct Puller {
    feed: String,
    url: reqwest::Url,
    client: reqwest::Client,
    limits: PullLimits,
    /// How the server is trusted, for messages: "ca_bundle (PATH)".
    trust: String,
    has_identity: bool,
}

impl Puller {
    /// Checks the URL and the TLS files and builds the client. Reads the
    /// files now (a changed file needs a new `Puller`).
    pub fn new(
        feed: &str,
        url: &str,
        tls: &TlsFiles,
        limits: PullLimits,
    ) -> Result<Puller, PullError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| PullError::Config {
            feed: feed.to_string(),
            reason: format!("invalid url: {e}"),
        })?;
        if parsed.scheme() != "https" {
            return Err(PullError::NotHttps {
                feed: feed.to_string(),
                scheme: parsed.scheme().to_string(),
            });
        }
        let timeouts = tls::Timeouts {
            connect: limits.connect_timeout,
            request: limits.timeout,
        };
        let built = tls::build_client(tls, timeouts).map_err(|e| PullError::from_tls(feed, e))?;
        Ok(Puller {
            feed: feed.to_string(),
            url: parsed,
            client: built.client,
            limits,
            trust: built.trust,
            has_identity: built.has_identity,
        })
    }

    /// The feed's name.
    pub fn feed(&self) -> &str {
        &self.feed
    }

    /// One GET, conditional on `prior`. A `304` is `NotModified` only when
    /// `prior` was given (otherwise it is a protocol error, `Status(304)`).
    pub async fn fetch(&self, prior: Option<&Validators>) -> Result<Fetched, PullError> {
        let mut headers = HeaderMap::new();
        if let Some(v) = prior {
            if let Some(h) = v
                .etag
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.insert(IF_NONE_MATCH, h);
            }
            if let Some(h) = v
                .last_modified
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.insert(IF_MODIFIED_SINCE, h);
            }
        }
        let conditional = !headers.is_empty();
        let mut resp = self
            .client
            .get(self.url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(|e| self.classify(&e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED && conditional {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(PullError::Status {
                feed: self.feed.clone(),
                code: status.as_u16(),
                retry_after: crate::net::backoff::retry_after_header(resp.headers()),
            });
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        let max = self.limits.max_bytes;
        let too_large = || PullError::TooLarge {
            feed: self.feed.clone(),
            limit: max,
        };
        let expected = resp.content_length();
        if expected.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        // Reserve what was announced, but not more than 64 MiB up front.
        let reserve = expected.unwrap_or(0).min(64 << 20) as usize;
        let mut bytes = Vec::with_capacity(reserve);
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() as u64 + chunk.len() as u64 > max {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(match expected {
                        Some(expected) if !e.is_timeout() => PullError::Truncated {
                            feed: self.feed.clone(),
                            received: bytes.len() as u64,
                            expected,
                        },
                        _ => self.classify(&e),
                    })
                }
            }
        }
        if let Some(expected) = expected {
            if bytes.len() as u64 != expected {
                return Err(PullError::Truncated {
                    feed: self.feed.clone(),
                    received: bytes.len() as u64,
                    expected,
                });
            }
        }
        Ok(Fetched::Body { bytes, validators })
    }

    /// [`fetch`](Self::fetch), retrying transient failures up to
    /// `policy.attempts` in all. Before retry k (1-based) it waits a random
    /// time in `[0, min(max, base * 2^(k-1))]` ("full jitter"). Each failure
    /// is logged with the feed and the reason. Returns
    /// [`PullError::Shutdown`] if shutdown comes during a wait or a fetch
    /// (the fetch is abandoned; nothing was returned from it).
    pub async fn fetch_with_retry(
        &self,
        prior: Option<&Validators>,
        policy: &RetryPolicy,
        shutdown: &mut Shutdown,
    ) -> Result<Fetched, PullError> {
        let attempts = policy.attempts.max(1);
        let stopped = || PullError::Shutdown {
            feed: self.feed.clone(),
        };
        for attempt in 1..=attempts {
            if shutdown.is_triggered() {
                return Err(stopped());
            }
            let result = tokio::select! {
                r = self.fetch(prior) => r,
                _ = shutdown.wait() => return Err(stopped()),
            };
            let err = match result {
                Ok(f) => return Ok(f),
                Err(e) => e,
            };
            if !err.is_transient() {
                tracing::warn!(feed = %self.feed, attempt, error = %err, "pull failed; not retrying");
                return Err(err);
            }
            if attempt == attempts {
                tracing::warn!(feed = %self.feed, attempt, error = %err, "pull failed; giving up after {attempts} attempts");
                return Err(err);
            }
            let wait = policy.backoff().delay_with_hint(attempt, err.retry_after());
            tracing::warn!(
                feed = %self.feed,
                attempt,
                error = %err,
                retry_in_ms = wait.as_millis() as u64,
                "pull failed; will retry"
            );
            if !shutdown.sleep(wait).await {
                return Err(stopped());
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Turns a reqwest error into a [`PullError`], reading the rustls error
    /// (if any) out of the source chain.
    fn classify(&self, e: &reqwest::Error) -> PullError {
        let feed = self.feed.clone();
        if let Some(tls) = find_rustls_error(e) {
            let (problem, reason) = self.explain_tls(tls);
            return PullError::Tls {
                feed,
                problem,
                reason,
            };
        }
        let reason = crate::error::chain(e);
        if e.is_timeout() {
            PullError::Timeout { feed, reason }
        } else if e.is_connect() {
            PullError::Connect { feed, reason }
        } else {
            PullError::Transport { feed, reason }
        }
    }

    fn explain_tls(&self, e: &rustls::Error) -> (TlsProblem, String) {
        use rustls::{AlertDescription as A, CertificateError as C};
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer | C::BadSignature => (
                    TlsProblem::ServerUntrusted,
                    format!(
                        "the server's certificate is not trusted by {} ({e})",
                        self.trust
                    ),
                ),
                C::NotValidForName | C::NotValidForNameContext { .. } => (
                    TlsProblem::ServerWrongHost,
                    format!(
                        "the server's certificate does not name this host ({}) ({e})",
                        self.url.host_str().unwrap_or("?")
                    ),
                ),
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => (
                    TlsProblem::ServerCertDates,
                    format!("the server's certificate is outside its validity dates ({e})"),
                ),
                _ => (
                    TlsProblem::ServerCertInvalid,
                    format!("the server's certificate was rejected ({e})"),
                ),
            },
            // What a rustls (or OpenSSL) server sends when it rejects a
            // client certificate. DecryptError is how a bad signature on it
            // is reported (for example a certificate from a different CA
            // with the same name as the trusted one).
            rustls::Error::AlertReceived(alert) => match alert {
                A::CertificateRequired
                | A::BadCertificate
                | A::UnknownCA
                | A::CertificateExpired
                | A::CertificateRevoked
                | A::CertificateUnknown
                | A::UnsupportedCertificate
                | A::AccessDenied
                | A::DecryptError => {
                    if self.has_identity {
                        (
                            TlsProblem::ClientCertRefused,
                            format!("the server refused our client certificate (alert: {alert:?})"),
                        )
                    } else {
                        (
                            TlsProblem::ClientCertRequired,
                            format!(
                                "the server requires a client certificate and none is configured; set client_cert and client_key (alert: {alert:?})"
                            ),
                        )
                    }
                }
                _ => (
                    TlsProblem::Other,
                    format!("the server ended the handshake (alert: {alert:?})"),
                ),
            },
            other => (TlsProblem::Other, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::shutdown;
    use crate::net::tls::pem_certs;
    use crate::sim::partner::PartnerServer;
    use crate::sim::pki::{server_config, Issued, TestCa};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;
    use std::collections::HashMap;
    use std::sync::Arc;

    const BODY: &[u8] = b"person_id,event\n1,school\n2,police\n";

    /// A CA, a partner serving `/police.csv`, and client files on disk.
    struct Fixture {
        _dir: tempfile::TempDir,
        dir: PathBuf,
        ca: TestCa,
        server: PartnerServer,
        tls: TlsFiles,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let ca = TestCa::new("Partner CA");
            let server = ca.issue_server(&["127.0.0.1", "localhost"]);
            Self::with_server(server, ca).await
        }

        /// Serves `server_cert`, demanding client certificates from `ca`;
        /// the client trusts `ca` and presents a certificate from it.
        async fn with_server(server_cert: Issued, ca: TestCa) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let cfg = server_config(&server_cert, Some(&ca.cert_pem()));
            let files = HashMap::from([("/police.csv".to_string(), BODY.to_vec())]);
            let server = PartnerServer::start(cfg, files).await.unwrap();
            let (cert, key) = ca
                .issue_client("council")
                .write(dir.path(), "client")
                .unwrap();
            let ca_path = dir.path().join("ca.pem");
            std::fs::write(&ca_path, ca.cert_pem()).unwrap();
            Fixture {
                dir: dir.path().to_path_buf(),
                _dir: dir,
                ca,
                server,
                tls: TlsFiles {
                    client_cert: Some(cert),
                    client_key: Some(key),
                    ca_bundle: Some(ca_path),
                    system_roots: false,
                },
            }
        }

        fn puller(&self, tls: &TlsFiles) -> Puller {
            Puller::new(
                "police",
                &self.server.url("/police.csv"),
                tls,
                PullLimits::default(),
            )
            .unwrap()
        }

        fn with_client(&self, issued: &Issued, stem: &str) -> TlsFiles {
            let (cert, key) = issued.write(&self.dir, stem).unwrap();
            TlsFiles {
                client_cert: Some(cert),
                client_key: Some(key),
                ..self.tls.clone()
            }
        }
    }

    fn tls_problem(e: &PullError) -> TlsProblem {
        match e {
            PullError::Tls { problem, .. } => *problem,
            other => panic!("expected a TLS error, got {other:?}: {other}"),
        }
    }

    #[tokio::test]
    async fn good_client_cert_is_served_then_not_modified() {
        let fx = Fixture::new().await;
        let p = fx.puller(&fx.tls);
        let (bytes, validators) = match p.fetch(None).await.unwrap() {
            Fetched::Body { bytes, validators } => (bytes, validators),
            other => panic!("{other:?}"),
        };
        assert_eq!(bytes, BODY);
        assert!(validators
            .etag
            .as_deref()
            .is_some_and(|e| e.starts_with('"')));
        assert!(validators.last_modified.is_some());

        assert_eq!(
            p.fetch(Some(&validators)).await.unwrap(),
            Fetched::NotModified
        );
        assert_eq!(fx.server.requests(), 2);
        assert_eq!(
            fx.server.full_downloads(),
            1,
            "unchanged feed not re-downloaded"
        );

        // Validators survive a round trip through JSON (they are stored).
        let json = serde_json::to_string(&validators).unwrap();
        let back: Validators = serde_json::from_str(&json).unwrap();
        assert_eq!(back, validators);

        fx.server.set_file("/police.csv", b"new".to_vec());
        match p.fetch(Some(&back)).await.unwrap() {
            Fetched::Body {
                bytes,
                validators: v2,
            } => {
                assert_eq!(bytes, b"new");
                assert_ne!(v2.etag, validators.etag);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fx.server.full_downloads(), 2);
    }

    #[tokio::test]
    async fn no_client_certificate_is_refused_clearly() {
        let fx = Fixture::new().await;
        let tls = TlsFiles {
            client_cert: None,
            client_key: None,
            ..fx.tls.clone()
        };
        let e = fx.puller(&tls).fetch(None).await.unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ClientCertRequired, "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("feed police: TLS handshake failed: "),
            "{msg}"
        );
        assert!(msg.contains("client certificate"), "{msg}");
        assert!(!e.is_transient());
    }

    #[tokio::test]
    async fn client_cert_from_another_ca_is_refused() {
        let fx = Fixture::new().await;
        let stranger = TestCa::new("Some other CA").issue_client("council");
        let e = fx
            .puller(&fx.with_client(&stranger, "stranger"))
            .fetch(None)
            .await
            .unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ClientCertRefused, "{e}");
        assert!(
            e.to_string()
                .contains("the server refused our client certificate"),
            "{e}"
        );
        assert!(!e.is_transient());
    }

    #[tokio::test]
    async fn expired_client_cert_is_refused() {
        let fx = Fixture::new().await;
        let old = fx.ca.issue_client_expired("council");
        let e = fx
            .puller(&fx.with_client(&old, "old"))
            .fetch(None)
            .await
            .unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ClientCertRefused, "{e}");
        assert!(!e.is_transient());
    }

    #[tokio::test]
    async fn client_cert_refused_under_tls12_too() {
        // Under TLS 1.2 the refusal arrives during connect, not the request.
        let fx = Fixture::new().await;
        let server_cert = fx.ca.issue_server(&["127.0.0.1"]);
        let key = PrivateKeyDer::from_pem_slice(server_cert.key_pem.as_bytes()).unwrap();
        let chain = pem_certs(server_cert.cert_pem.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(pem_certs(fx.ca.cert_pem().as_bytes()).unwrap().remove(0))
            .unwrap();
        let provider = crate::sim::pki::ring_provider();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()
        .unwrap();
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server = PartnerServer::start(
            Arc::new(cfg),
            HashMap::from([("/f".to_string(), b"x".to_vec())]),
        )
        .await
        .unwrap();
        let url = server.url("/f");

        let good = Puller::new("police", &url, &fx.tls, PullLimits::default()).unwrap();
        assert!(matches!(
            good.fetch(None).await.unwrap(),
            Fetched::Body { .. }
        ));

        // A stranger CA, and one with the same name as the trusted CA (the
        // server reports a bad signature: alert DecryptError).
        for name in ["Other CA", "Partner CA"] {
            let stranger = fx.with_client(&TestCa::new(name).issue_client("x"), "stranger12");
            let e = Puller::new("police", &url, &stranger, PullLimits::default())
                .unwrap()
                .fetch(None)
                .await
                .unwrap_err();
            assert_eq!(
                tls_problem(&e),
                TlsProblem::ClientCertRefused,
                "{name}: {e}"
            );
        }
        let old = fx.with_client(&fx.ca.issue_client_expired("x"), "old12");
        let e = Puller::new("police", &url, &old, PullLimits::default())
            .unwrap()
            .fetch(None)
            .await
            .unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ClientCertRefused, "{e}");

        let none = TlsFiles {
            client_cert: None,
            client_key: None,
            ..fx.tls.clone()
        };
        let e = Puller::new("police", &url, &none, PullLimits::default())
            .unwrap()
            .fetch(None)
            .await
            .unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ClientCertRequired, "{e}");
    }

    #[tokio::test]
    async fn server_cert_for_the_wrong_host_is_refused() {
        let ca = TestCa::new("Partner CA");
        let wrong = ca.issue_server(&["partner.example.org"]);
        let fx = Fixture::with_server(wrong, ca).await;
        let e = fx.puller(&fx.tls).fetch(None).await.unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ServerWrongHost, "{e}");
        assert!(
            e.to_string()
                .contains("the server's certificate does not name this host"),
            "{e}"
        );
        assert!(!e.is_transient());
    }

    #[tokio::test]
    async fn server_cert_from_an_untrusted_ca_is_refused() {
        let ca = TestCa::new("Partner CA");
        let rogue = TestCa::new("Rogue CA");
        let fx = Fixture::with_server(rogue.issue_server(&["127.0.0.1"]), ca).await;
        let e = fx.puller(&fx.tls).fetch(None).await.unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ServerUntrusted, "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("feed police: TLS handshake failed: the server's certificate is not trusted by ca_bundle ("),
            "{msg}"
        );
        assert!(!e.is_transient());
        assert_eq!(fx.server.requests(), 0);
    }

    #[tokio::test]
    async fn truncated_body_is_an_error_never_a_body() {
        let fx = Fixture::new().await;
        fx.server.set_file("/police.csv", vec![b'x'; 200_000]);
        fx.server.set_truncate("/police.csv", true);
        let p = fx.puller(&fx.tls);
        for _ in 0..3 {
            let e = p.fetch(None).await.unwrap_err();
            assert!(
                matches!(e, PullError::Truncated { received, expected: 200_000, .. } if received < 200_000),
                "{e:?}"
            );
            assert!(e.is_transient(), "{e}");
        }
        assert_eq!(fx.server.full_downloads(), 0);
        fx.server.set_truncate("/police.csv", false);
        assert!(matches!(p.fetch(None).await.unwrap(), Fetched::Body { .. }));
    }

    #[tokio::test]
    async fn too_large_is_refused() {
        let fx = Fixture::new().await;
        let limits = PullLimits {
            max_bytes: 10,
            ..PullLimits::default()
        };
        let p = Puller::new("police", &fx.server.url("/police.csv"), &fx.tls, limits).unwrap();
        let e = p.fetch(None).await.unwrap_err();
        assert!(matches!(e, PullError::TooLarge { limit: 10, .. }), "{e:?}");
        assert!(!e.is_transient());
        // Exactly at the limit is fine.
        let limits = PullLimits {
            max_bytes: BODY.len() as u64,
            ..PullLimits::default()
        };
        let p = Puller::new("police", &fx.server.url("/police.csv"), &fx.tls, limits).unwrap();
        assert!(matches!(p.fetch(None).await.unwrap(), Fetched::Body { .. }));
    }

    #[tokio::test]
    async fn statuses_are_classified() {
        let fx = Fixture::new().await;
        let p = fx.puller(&fx.tls);
        fx.server.set_fail_next(1, 503);
        let e = p.fetch(None).await.unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "feed police: the server answered HTTP 503");
        fx.server.set_fail_next(1, 429);
        assert!(p.fetch(None).await.unwrap_err().is_transient());
        fx.server.set_fail_next(1, 302);
        let e = p.fetch(None).await.unwrap_err();
        assert_eq!(e.status(), Some(302), "redirects are not followed");
        assert!(!e.is_transient());
        fx.server.set_fail_next(1, 403);
        assert!(!p.fetch(None).await.unwrap_err().is_transient());
        let missing = Puller::new(
            "police",
            &fx.server.url("/nope"),
            &fx.tls,
            PullLimits::default(),
        )
        .unwrap();
        let e = missing.fetch(None).await.unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert!(!e.is_transient());
    }

    #[tokio::test]
    async fn system_roots_merge_with_the_bundle() {
        let fx = Fixture::new().await;
        let merged = TlsFiles {
            system_roots: true,
            ..fx.tls.clone()
        };
        let got = fx.puller(&merged).fetch(None).await.unwrap();
        assert!(matches!(got, Fetched::Body { .. }));
        // System roots alone do not trust the test CA.
        let system_only = TlsFiles {
            ca_bundle: None,
            system_roots: true,
            ..fx.tls.clone()
        };
        let e = fx.puller(&system_only).fetch(None).await.unwrap_err();
        assert_eq!(tls_problem(&e), TlsProblem::ServerUntrusted, "{e}");
        assert!(
            e.to_string().contains("not trusted by the system roots"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn connection_refused_is_transient() {
        let fx = Fixture::new().await;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let p = Puller::new(
            "police",
            &format!("https://127.0.0.1:{port}/x"),
            &fx.tls,
            PullLimits::default(),
        )
        .unwrap();
        let e = p.fetch(None).await.unwrap_err();
        assert!(matches!(e, PullError::Connect { .. }), "{e:?}");
        assert!(e.is_transient());
    }

    fn fast_policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_rides_out_two_503s_under_paused_time() {
        let fx = Fixture::new().await;
        let p = fx.puller(&fx.tls);
        fx.server.set_fail_next(2, 503);
        let (_t, mut sd) = shutdown::channel();
        let got = p
            .fetch_with_retry(None, &fast_policy(), &mut sd)
            .await
            .unwrap();
        assert!(matches!(got, Fetched::Body { ref bytes, .. } if bytes == BODY));
        assert_eq!(fx.server.requests(), 3);
    }

    /// A 503 with `Retry-After: 90` is not retried before 90 s, though the
    /// backoff alone would wait at most 2 s (virtual time: paused clock).
    #[tokio::test(start_paused = true)]
    async fn retry_waits_at_least_what_retry_after_asks() {
        let fx = Fixture::new().await;
        let p = fx.puller(&fx.tls);
        fx.server.set_fail_next(1, 503);
        fx.server.set_retry_after(Some("90"));
        let (_t, mut sd) = shutdown::channel();
        let t0 = tokio::time::Instant::now();
        let got = p
            .fetch_with_retry(None, &fast_policy(), &mut sd)
            .await
            .unwrap();
        assert!(matches!(got, Fetched::Body { .. }));
        assert_eq!(fx.server.requests(), 2);
        let waited = t0.elapsed();
        assert!(waited >= Duration::from_secs(90), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_on_permanent_errors_and_gives_up() {
        let fx = Fixture::new().await;
        let p = fx.puller(&fx.tls);
        let (_t, mut sd) = shutdown::channel();
        fx.server.set_fail_next(1, 404);
        let e = p
            .fetch_with_retry(None, &fast_policy(), &mut sd)
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert_eq!(fx.server.requests(), 1, "no retry of a 404");

        fx.server.set_fail_next(100, 500);
        let e = p
            .fetch_with_retry(None, &fast_policy(), &mut sd)
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(500));
        assert_eq!(fx.server.requests(), 1 + 5, "five attempts in all");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_during_backoff_stops_early() {
        let fx = Fixture::new().await;
        let p = fx.puller(&fx.tls);
        fx.server.set_fail_next(100, 503);
        let (t, mut sd) = shutdown::channel();
        let policy = RetryPolicy {
            attempts: 10,
            base: Duration::from_secs(3600),
            max: Duration::from_secs(3600),
        };
        let task = tokio::spawn(async move { p.fetch_with_retry(None, &policy, &mut sd).await });
        // Wait for the first failure, then trigger during the wait.
        while fx.server.requests() == 0 {
            tokio::task::yield_now().await;
        }
        t.trigger();
        let e = task.await.unwrap().unwrap_err();
        assert!(matches!(e, PullError::Shutdown { .. }), "{e:?}");
        assert!(fx.server.requests() <= 2);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default().backoff();
        assert_eq!(p.ceiling(1), Duration::from_secs(2));
        assert_eq!(p.ceiling(2), Duration::from_secs(4));
        assert_eq!(p.ceiling(8), Duration::from_secs(256));
        assert_eq!(p.ceiling(9), Duration::from_secs(300));
        assert_eq!(p.ceiling(40), Duration::from_secs(300));
        for _ in 0..100 {
            assert!(p.jitter.apply(Duration::from_millis(50)) <= Duration::from_millis(50));
        }
    }

    #[tokio::test]
    async fn http_url_is_refused() {
        let e = Puller::new(
            "police",
            "http://127.0.0.1:1/x",
            &TlsFiles::default(),
            PullLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(e, PullError::NotHttps { .. }), "{e:?}");
        assert!(e.to_string().contains("only https://"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn loose_key_permissions_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("ca");
        let (cert, key) = ca.issue_client("c").write(dir.path(), "c").unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem()).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        let tls = TlsFiles {
            client_cert: Some(cert),
            client_key: Some(key.clone()),
            ca_bundle: Some(ca_path),
            system_roots: false,
        };
        let e = Puller::new(
            "police",
            "https://127.0.0.1:1/x",
            &tls,
            PullLimits::default(),
        )
        .unwrap_err();
        assert!(
            matches!(e, PullError::KeyPermissions { mode: 0o640, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains(&format!("chmod 600 {}", key.display())),
            "{e}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        Puller::new(
            "police",
            "https://127.0.0.1:1/x",
            &tls,
            PullLimits::default(),
        )
        .unwrap();
    }

    #[test]
    fn bad_files_are_named_but_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("ca");
        let issued = ca.issue_client("c");
        let (cert, key) = issued.write(dir.path(), "c").unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem()).unwrap();
        let base = TlsFiles {
            client_cert: Some(cert.clone()),
            client_key: Some(key.clone()),
            ca_bundle: Some(ca_path.clone()),
            system_roots: false,
        };
        let url = "https://127.0.0.1:1/x";
        let new = |tls: &TlsFiles| Puller::new("police", url, tls, PullLimits::default());

        // A key where the CA bundle should be: named, not quoted.
        let e = new(&TlsFiles {
            ca_bundle: Some(key.clone()),
            ..base.clone()
        })
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("ca_bundle") && msg.contains(&key.display().to_string()),
            "{msg}"
        );
        assert!(
            !msg.contains("PRIVATE") && !msg.contains(&issued.key_pem[40..80]),
            "{msg}"
        );

        // The certificate where the key should be.
        let loose_copy = dir.path().join("cert-as-key.pem");
        std::fs::copy(&cert, &loose_copy).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&loose_copy, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let e = new(&TlsFiles {
            client_key: Some(loose_copy),
            ..base.clone()
        })
        .unwrap_err();
        assert!(e.to_string().contains("client_key"), "{e}");

        let e = new(&TlsFiles {
            ca_bundle: Some(dir.path().join("missing.pem")),
            ..base.clone()
        })
        .unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");

        let e = new(&TlsFiles {
            client_key: None,
            ..base.clone()
        })
        .unwrap_err();
        assert!(e.to_string().contains("go together"), "{e}");

        let e = new(&TlsFiles {
            ca_bundle: None,
            ..base.clone()
        })
        .unwrap_err();
        assert!(e.to_string().contains("set ca_bundle"), "{e}");

        assert!(new(&base).is_ok());
    }
}
