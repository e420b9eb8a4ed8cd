//! Pulling one partner feed over mutual TLS, and when to pull it.
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
//! * only `https://`, TLS 1.2 or later, ring as the only crypto provider;
//!   the server is trusted through the feed's `ca_bundle` alone unless
//!   `system_roots` is set;
//! * a client key readable by group or others is refused (`chmod 600`);
//! * redirects are not followed (a 3xx is a [`PullError::Status`]);
//! * a body is returned only when complete: a body larger than `max_bytes`
//!   is abandoned ([`PullError::TooLarge`]), and one shorter than its
//!   Content-Length or cut off mid-stream is an error, never a `Body`;
//! * [`Puller::fetch_with_retry`] retries transient failures with
//!   exponential backoff and full jitter, logs each failure, and gives up at
//!   once when shutdown is asked for;
//! * [`parse_schedule`] takes crontab's 5 fields (with crontab's
//!   day-of-week numbers, 0 or 7 = Sunday) or the cron crate's 6-7 fields
//!   with seconds first. Schedules are evaluated in UTC.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{
    HeaderMap, HeaderValue, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::daemon::shutdown::Shutdown;

/// The TLS files of one feed (paths already resolved).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// PEM certificate (chain) presented to the partner.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`; must be mode 0600 or stricter.
    pub client_key: Option<PathBuf>,
    /// PEM CA certificates that may sign the partner's server certificate.
    pub ca_bundle: Option<PathBuf>,
    /// Also trust the operating system's roots (off: only `ca_bundle`).
    pub system_roots: bool,
}

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
    Status { feed: String, code: u16 },
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

/// Installs ring as the process's rustls provider, once; later calls (and a
/// provider installed by someone else) are fine.
pub fn install_ring_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
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
        let config = |reason: String| PullError::Config {
            feed: feed.to_string(),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| config(format!("invalid url: {e}")))?;
        if parsed.scheme() != "https" {
            return Err(PullError::NotHttps {
                feed: feed.to_string(),
                scheme: parsed.scheme().to_string(),
            });
        }
        install_ring_provider();

        let mut builder = reqwest::Client::builder()
            .tls_backend_rustls()
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            .https_only(true)
            // A redirect would carry our client certificate to another
            // host: a 3xx is reported as a status instead.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.timeout)
            .user_agent(concat!("outcomesd/", env!("CARGO_PKG_VERSION")));

        let mut roots = Vec::new();
        if let Some(path) = &tls.ca_bundle {
            let pem = read_file(feed, "ca_bundle", path)?;
            let certs =
                pem_certs(&pem).map_err(|reason| file_err(feed, "ca_bundle", path, reason))?;
            for der in certs {
                roots.push(reqwest::Certificate::from_der(&der).map_err(|_| {
                    file_err(feed, "ca_bundle", path, "a certificate is malformed".into())
                })?);
            }
        }
        let trust = match (&tls.ca_bundle, tls.system_roots) {
            (Some(p), false) => format!("ca_bundle ({})", p.display()),
            (Some(p), true) => format!("ca_bundle ({}) or the system roots", p.display()),
            (None, true) => "the system roots".to_string(),
            (None, false) => {
                return Err(config(
                    "no ca_bundle and system_roots is off, so no server could be trusted; set ca_bundle".into(),
                ))
            }
        };
        builder = if tls.system_roots {
            builder.tls_certs_merge(roots)
        } else {
            builder.tls_certs_only(roots)
        };

        let has_identity = match (&tls.client_cert, &tls.client_key) {
            (None, None) => false,
            (Some(cert), Some(key)) => {
                check_key_mode(feed, key)?;
                let cert_pem = read_file(feed, "client_cert", cert)?;
                pem_certs(&cert_pem)
                    .map_err(|reason| file_err(feed, "client_cert", cert, reason))?;
                let key_pem = read_file(feed, "client_key", key)?;
                PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
                    file_err(feed, "client_key", key, "no PEM private key found".into())
                })?;
                let mut both = cert_pem;
                both.push(b'\n');
                both.extend_from_slice(&key_pem);
                let identity = reqwest::Identity::from_pem(&both);
                // Best effort: do not leave the key lying in freed memory.
                both.fill(0);
                let mut key_pem = key_pem;
                key_pem.fill(0);
                let identity = identity.map_err(|_| {
                    config(format!(
                        "client_cert {} and client_key {} do not form a usable identity",
                        cert.display(),
                        key.display()
                    ))
                })?;
                builder = builder.identity(identity);
                true
            }
            _ => return Err(config("client_cert and client_key go together".into())),
        };

        let client = builder
            .build()
            .map_err(|e| config(format!("cannot build the HTTPS client: {}", chain_text(&e))))?;
        Ok(Puller {
            feed: feed.to_string(),
            url: parsed,
            client,
            limits,
            trust,
            has_identity,
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
            let cap = backoff_cap(policy, attempt);
            let wait = jitter(cap);
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
        let reason = chain_text(e);
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

/// The largest backoff before retry `failures` (1-based):
/// `min(max, base * 2^(failures-1))`, without overflow.
pub fn backoff_cap(policy: &RetryPolicy, failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    policy
        .base
        .checked_mul(factor)
        .unwrap_or(policy.max)
        .min(policy.max)
}

fn jitter(cap: Duration) -> Duration {
    let ms = cap.as_millis().min(u64::MAX as u128) as u64;
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

/// The first rustls error in `e`'s source chain. `io::Error::source()`
/// skips the error it wraps (it returns the *inner* error's source), so an
/// `io::Error` is opened with `get_ref()` as well.
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(r) = find_rustls_error(inner) {
                    return Some(r);
                }
            }
        }
        cur = err.source();
    }
    None
}

/// Every distinct message in the source chain, joined by ": ".
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn file_err(feed: &str, setting: &'static str, path: &Path, reason: String) -> PullError {
    PullError::File {
        feed: feed.to_string(),
        setting,
        path: path.to_path_buf(),
        reason,
    }
}

fn read_file(feed: &str, setting: &'static str, path: &Path) -> Result<Vec<u8>, PullError> {
    // io::Error's message never includes the file's contents.
    std::fs::read(path).map_err(|e| file_err(feed, setting, path, format!("cannot read: {e}")))
}

/// The certificates in a PEM text; an error (without the text) if none.
fn pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| "not valid PEM".to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

#[cfg(unix)]
fn check_key_mode(feed: &str, path: &Path) -> Result<(), PullError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| file_err(feed, "client_key", path, format!("cannot read: {e}")))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(PullError::KeyPermissions {
            feed: feed.to_string(),
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_mode(_feed: &str, _path: &Path) -> Result<(), PullError> {
    Ok(())
}

// ---------------------------------------------------------------------------
// Schedules

/// A schedule expression that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule {expr:?}: expected 5 fields (minute hour day-of-month month day-of-week, as in crontab) or 6-7 fields with seconds first; found {found}")]
    FieldCount { expr: String, found: usize },
    #[error("schedule {expr:?}: day-of-week {item:?}: {reason} (crontab numbers: 0 or 7 = Sunday, 1 = Monday ... 6 = Saturday, or MON..SUN)")]
    DayOfWeek {
        expr: String,
        item: String,
        reason: String,
    },
    #[error("schedule {expr:?}: both day-of-month and day-of-week are restricted; crontab runs when either matches but this scheduler only when both do, so restrict one and leave the other as *")]
    DayOfMonthAndWeek { expr: String },
    #[error("schedule {expr:?}: {reason}")]
    Invalid { expr: String, reason: String },
}

/// Parses a schedule: crontab's 5 fields (a seconds field of `0` is added
/// and day-of-week numbers are translated to the cron crate's 1 = Sunday
/// ... 7 = Saturday), or the cron crate's own 6-7 fields (seconds first,
/// its own day-of-week numbers), or an `@daily`-style alias.
pub fn parse_schedule(expr: &str) -> Result<cron::Schedule, ScheduleError> {
    let trimmed = expr.trim();
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    let full = match fields.len() {
        1 if trimmed.starts_with('@') => trimmed.to_string(),
        5 => {
            let any = |f: &str| f == "*" || f == "?";
            if !any(fields[2]) && !any(fields[4]) {
                return Err(ScheduleError::DayOfMonthAndWeek { expr: expr.into() });
            }
            let dow =
                crontab_dow(fields[4]).map_err(|(item, reason)| ScheduleError::DayOfWeek {
                    expr: expr.into(),
                    item,
                    reason,
                })?;
            format!(
                "0 {} {} {} {} {}",
                fields[0], fields[1], fields[2], fields[3], dow
            )
        }
        6 | 7 => fields.join(" "),
        found => {
            return Err(ScheduleError::FieldCount {
                expr: expr.into(),
                found,
            })
        }
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        // The crate's message often just repeats the expression: find the
        // field at fault by parsing each one alone, the others set to `*`.
        let all: Vec<&str> = full.split_whitespace().collect();
        const NAMES: [&str; 7] = [
            "second",
            "minute",
            "hour",
            "day-of-month",
            "month",
            "day-of-week",
            "year",
        ];
        let culprit = (0..all.len()).find(|&i| {
            let probe: Vec<&str> = (0..all.len())
                .map(|j| {
                    if j == i {
                        all[j]
                    } else if j == 0 {
                        "0"
                    } else {
                        "*"
                    }
                })
                .collect();
            cron::Schedule::from_str(&probe.join(" ")).is_err()
        });
        let detail = e
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let reason = match culprit {
            Some(i) if all.len() >= 6 => {
                // Show the user's own text for a crontab line.
                let theirs = if fields.len() == 5 && i >= 1 {
                    fields[i - 1]
                } else {
                    all[i]
                };
                format!("the {} field {theirs:?} is not valid ({detail})", NAMES[i])
            }
            _ => format!("not a valid schedule ({detail})"),
        };
        ScheduleError::Invalid {
            expr: expr.into(),
            reason,
        }
    })
}

/// The next `n` firings strictly after `after`.
pub fn next_runs(s: &cron::Schedule, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    s.after(&after).take(n).collect()
}

/// Translates a crontab day-of-week field to the cron crate's numbering,
/// as an explicit set of days (`1-5` -> `2-6`, `0,6` -> `1,7`, `5-7` ->
/// `1,6-7`). Names are accepted and translated the same way; `SUN` at the
/// end of a range means the Sunday that ends the week (`FRI-SUN`).
fn crontab_dow(field: &str) -> Result<String, (String, String)> {
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let mut days = BTreeSet::new(); // crontab numbering, 0 = Sunday
    for item in field.split(',') {
        let err = |reason: &str| (item.to_string(), reason.to_string());
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => {
                let step: u32 = s.parse().map_err(|_| err("the step is not a number"))?;
                if step == 0 {
                    return Err(err("the step must be at least 1"));
                }
                (b, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if base == "*" {
            (0, 7)
        } else if let Some((a, b)) = base.split_once('-') {
            (
                dow_value(a, false).map_err(err)?,
                dow_value(b, true).map_err(err)?,
            )
        } else {
            let v = dow_value(base, false).map_err(err)?;
            // `a/n` means from a to the end of the week, every n days.
            (v, if step.is_some() { 7 } else { v })
        };
        if lo > hi {
            return Err(err(
                "the range runs backwards (crontab does not wrap around the week)",
            ));
        }
        for d in (lo..=hi).step_by(step.unwrap_or(1) as usize) {
            days.insert(d % 7);
        }
    }
    if days.len() == 7 {
        return Ok("*".to_string());
    }
    // To cron numbering (1 = Sunday), compressed into runs.
    let cron_days: Vec<u32> = days
        .iter()
        .map(|d| d + 1)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cron_days.len() {
        let start = cron_days[i];
        let mut end = start;
        while i + 1 < cron_days.len() && cron_days[i + 1] == end + 1 {
            i += 1;
            end = cron_days[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    Ok(parts.join(","))
}

/// A crontab day-of-week value: 0-7 or a three-letter name. `SUN` at the
/// end of a range is 7.
fn dow_value(s: &str, range_end: bool) -> Result<u32, &'static str> {
    if let Ok(n) = s.parse::<u32>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err("numbers run from 0 to 7")
        };
    }
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    match NAMES.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        Some(0) if range_end => Ok(7),
        Some(i) => Ok(i as u32),
        None => Err("not a day number or name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::shutdown;
    use crate::sim::partner::PartnerServer;
    use crate::sim::pki::{server_config, Issued, TestCa};
    use chrono::{Datelike, TimeZone, Timelike, Weekday};
    use std::collections::{HashMap, HashSet};
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
        let p = RetryPolicy::default();
        assert_eq!(backoff_cap(&p, 1), Duration::from_secs(2));
        assert_eq!(backoff_cap(&p, 2), Duration::from_secs(4));
        assert_eq!(backoff_cap(&p, 8), Duration::from_secs(256));
        assert_eq!(backoff_cap(&p, 9), Duration::from_secs(300));
        assert_eq!(backoff_cap(&p, 40), Duration::from_secs(300));
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(50)) <= Duration::from_millis(50));
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

    // --- schedules ---------------------------------------------------------

    fn after() -> DateTime<Utc> {
        // A Wednesday.
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn crontab_monday_and_sunday() {
        let mon = next_runs(&parse_schedule("0 2 * * 1").unwrap(), after(), 3);
        assert_eq!(mon.len(), 3);
        for t in &mon {
            assert_eq!(t.weekday(), Weekday::Mon, "{t}");
            assert_eq!((t.hour(), t.minute(), t.second()), (2, 0, 0));
            assert!(*t > after());
        }
        for expr in ["0 2 * * 0", "0 2 * * 7", "0 2 * * SUN", "0 2 * * sun"] {
            for t in next_runs(&parse_schedule(expr).unwrap(), after(), 3) {
                assert_eq!(t.weekday(), Weekday::Sun, "{expr}: {t}");
            }
        }
        for t in next_runs(&parse_schedule("0 2 * * 6").unwrap(), after(), 3) {
            assert_eq!(t.weekday(), Weekday::Sat);
        }
    }

    #[test]
    fn crontab_day_lists_and_ranges() {
        let days = |expr: &str| -> HashSet<Weekday> {
            next_runs(&parse_schedule(expr).unwrap(), after(), 21)
                .iter()
                .map(|t| t.weekday())
                .collect()
        };
        use Weekday::*;
        assert_eq!(
            days("0 2 * * 1-5"),
            HashSet::from([Mon, Tue, Wed, Thu, Fri])
        );
        assert_eq!(
            days("0 2 * * MON-FRI"),
            HashSet::from([Mon, Tue, Wed, Thu, Fri])
        );
        assert_eq!(days("0 2 * * 0,6"), HashSet::from([Sat, Sun]));
        assert_eq!(days("0 2 * * 5-7"), HashSet::from([Fri, Sat, Sun]));
        assert_eq!(days("0 2 * * FRI-SUN"), HashSet::from([Fri, Sat, Sun]));
        assert_eq!(days("0 2 * * */2"), HashSet::from([Sun, Tue, Thu, Sat]));
        assert_eq!(days("0 2 * * 1-5/2"), HashSet::from([Mon, Wed, Fri]));
        assert_eq!(days("0 2 * * 0-7").len(), 7);

        assert_eq!(crontab_dow("1-5").unwrap(), "2-6");
        assert_eq!(crontab_dow("0,6").unwrap(), "1,7");
        assert_eq!(crontab_dow("5-7").unwrap(), "1,6-7");
        assert_eq!(crontab_dow("7").unwrap(), "1");
        assert_eq!(crontab_dow("0-6").unwrap(), "*");
    }

    #[test]
    fn every_fifteen_minutes() {
        let runs = next_runs(&parse_schedule("*/15 * * * *").unwrap(), after(), 5);
        assert_eq!(runs[0], after() + chrono::Duration::minutes(15));
        for w in runs.windows(2) {
            assert_eq!(w[1] - w[0], chrono::Duration::minutes(15));
        }
    }

    #[test]
    fn six_and_seven_field_forms_pass_through() {
        // The crate's own numbering: 2 = Monday.
        let s = parse_schedule("30 0 2 * * 2").unwrap();
        for t in next_runs(&s, after(), 3) {
            assert_eq!(t.weekday(), Weekday::Mon);
            assert_eq!(t.second(), 30);
        }
        assert!(parse_schedule("0 0 2 * * * 2030").is_ok());
        assert!(parse_schedule("@daily").is_ok());
    }

    #[test]
    fn junk_is_a_clear_error() {
        let e = parse_schedule("every tuesday").unwrap_err();
        assert!(
            matches!(e, ScheduleError::FieldCount { found: 2, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("expected 5 fields"), "{e}");
        assert!(matches!(
            parse_schedule(""),
            Err(ScheduleError::FieldCount { found: 0, .. })
        ));
        let e = parse_schedule("0 2 * * 8").unwrap_err();
        assert!(matches!(e, ScheduleError::DayOfWeek { .. }), "{e:?}");
        assert!(e.to_string().contains("0 or 7 = Sunday"), "{e}");
        assert!(matches!(
            parse_schedule("0 2 * * FUNDAY"),
            Err(ScheduleError::DayOfWeek { .. })
        ));
        assert!(matches!(
            parse_schedule("0 2 * * 5-1"),
            Err(ScheduleError::DayOfWeek { .. })
        ));
        assert!(matches!(
            parse_schedule("0 2 * * */0"),
            Err(ScheduleError::DayOfWeek { .. })
        ));
        let e = parse_schedule("61 2 * * *").unwrap_err();
        assert!(matches!(e, ScheduleError::Invalid { .. }), "{e:?}");
        assert_eq!(
            e.to_string().split(" (").next().unwrap(),
            "schedule \"61 2 * * *\": the minute field \"61\" is not valid"
        );
        let e = parse_schedule("0 2 * 13 *").unwrap_err();
        assert!(e.to_string().contains("the month field \"13\""), "{e}");
        let e = parse_schedule("0 0 25 * * *").unwrap_err();
        assert!(e.to_string().contains("the hour field \"25\""), "{e}");
        let e = parse_schedule("0 2 1 * 1").unwrap_err();
        assert!(
            matches!(e, ScheduleError::DayOfMonthAndWeek { .. }),
            "{e:?}"
        );
    }
}
