//! The one HTTPS client builder, shared by feed pulls and webhook sinks.
//!
//! In: a [`TlsFiles`] (the peer's CA bundle, whether to add the system
//! roots, an optional client certificate and key) and [`Timeouts`].
//! Out: a [`HttpsClient`] (a `reqwest::Client` plus what callers need to
//! explain a TLS failure), or a [`TlsError`] naming the setting and file at
//! fault, never a file's contents.
//!
//! Promises (in the manner of the rustls examples' `make_config`: every
//! choice made in one place):
//! * `https://` only, TLS 1.2 or later, ring as the only crypto provider;
//! * the server is trusted through `ca_bundle` alone (`tls_certs_only`)
//!   unless `system_roots` is set, and never through nothing;
//! * a client key readable by group or others is refused (`chmod 600`),
//!   before it is read; key bytes are zeroised after use;
//! * redirects are not followed: a redirect would carry the client
//!   certificate to another host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

/// The TLS files of one peer (paths already resolved).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// PEM certificate (chain) presented to the peer.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`; must be mode 0600 or stricter.
    pub client_key: Option<PathBuf>,
    /// PEM CA certificates that may sign the peer's server certificate.
    pub ca_bundle: Option<PathBuf>,
    /// Also trust the operating system's roots (off: only `ca_bundle`).
    pub system_roots: bool,
}

/// Connect and whole-request limits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP + TLS connect limit.
    pub connect: Duration,
    /// Whole request limit, body included.
    pub request: Duration,
}

/// Why a client could not be built. The caller adds whose client it was.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{setting} {}: {reason}", path.display())]
    File {
        setting: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("client_key {} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("{0}")]
    Config(String),
}

/// A built client and how it trusts its peer, for error messages.
#[derive(Debug, Clone)]
pub struct HttpsClient {
    pub client: reqwest::Client,
    /// "ca_bundle (PATH)", "the system roots", or both.
    pub trust: String,
    /// Whether a client certificate is presented.
    pub has_identity: bool,
}

/// Installs ring as the process's rustls provider, once; later calls (and a
/// provider installed by someone else) are fine. reqwest built with
/// `rustls-no-provider` panics without one.
pub fn install_ring_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Builds the HTTPS client for `tls`. Reads the files now (a changed file
/// needs a new client).
pub fn build_client(tls: &TlsFiles, timeouts: Timeouts) -> Result<HttpsClient, TlsError> {
    install_ring_provider();
    let mut builder = reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_version_min(reqwest::tls::Version::TLS_1_2)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .user_agent(concat!("outcomesd/", env!("CARGO_PKG_VERSION")));

    let mut roots = Vec::new();
    if let Some(path) = &tls.ca_bundle {
        let pem = read_file("ca_bundle", path)?;
        for der in pem_certs(&pem).map_err(|reason| file_err("ca_bundle", path, reason))? {
            roots.push(
                reqwest::Certificate::from_der(&der).map_err(|_| {
                    file_err("ca_bundle", path, "a certificate is malformed".into())
                })?,
            );
        }
    }
    let trust = match (&tls.ca_bundle, tls.system_roots) {
        (Some(p), false) => format!("ca_bundle ({})", p.display()),
        (Some(p), true) => format!("ca_bundle ({}) or the system roots", p.display()),
        (None, true) => "the system roots".to_string(),
        (None, false) => return Err(TlsError::Config(
            "no ca_bundle and system_roots is off, so no server could be trusted; set ca_bundle"
                .into(),
        )),
    };
    builder = if tls.system_roots {
        builder.tls_certs_merge(roots)
    } else {
        builder.tls_certs_only(roots)
    };

    let has_identity = match (&tls.client_cert, &tls.client_key) {
        (None, None) => false,
        (Some(cert), Some(key)) => {
            builder = builder.identity(identity(cert, key)?);
            true
        }
        _ => {
            return Err(TlsError::Config(
                "client_cert and client_key go together".into(),
            ))
        }
    };
    let client = builder.build().map_err(|e| {
        TlsError::Config(format!(
            "cannot build the HTTPS client: {}",
            crate::error::chain(&e)
        ))
    })?;
    Ok(HttpsClient {
        client,
        trust,
        has_identity,
    })
}

/// The client identity from a certificate and a key file whose mode has
/// been checked first.
fn identity(cert: &Path, key: &Path) -> Result<reqwest::Identity, TlsError> {
    check_key_mode(key)?;
    let cert_pem = read_file("client_cert", cert)?;
    pem_certs(&cert_pem).map_err(|reason| file_err("client_cert", cert, reason))?;
    let key_pem = Zeroizing::new(read_file("client_key", key)?);
    PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| file_err("client_key", key, "no PEM private key found".into()))?;
    let mut both = Zeroizing::new(cert_pem);
    both.push(b'\n');
    both.extend_from_slice(&key_pem);
    reqwest::Identity::from_pem(&both).map_err(|_| {
        TlsError::Config(format!(
            "client_cert {} and client_key {} do not form a usable identity",
            cert.display(),
            key.display()
        ))
    })
}

fn file_err(setting: &'static str, path: &Path, reason: String) -> TlsError {
    TlsError::File {
        setting,
        path: path.to_path_buf(),
        reason,
    }
}

fn read_file(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    // io::Error's message never includes the file's contents.
    std::fs::read(path).map_err(|e| file_err(setting, path, format!("cannot read: {e}")))
}

/// The certificates in a PEM text; an error (without the text) if none.
pub fn pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| "not valid PEM".to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

fn check_key_mode(path: &Path) -> Result<(), TlsError> {
    match crate::keys::loose_mode(path) {
        Ok(None) => Ok(()),
        Ok(Some(mode)) => Err(TlsError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        }),
        Err(e) => Err(file_err("client_key", path, format!("cannot read: {e}"))),
    }
}

/// The first rustls error in `e`'s source chain. `io::Error::source()`
/// skips the error it wraps (it returns the *inner* error's source), so an
/// `io::Error` is opened with `get_ref()` as well.
pub fn find_rustls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::pki::TestCa;

    fn timeouts() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(1),
        }
    }

    #[cfg(unix)]
    #[test]
    fn loose_key_is_refused_before_it_is_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("ca");
        let (cert, key) = ca.issue_client("c").write(dir.path(), "c").unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem()).unwrap();
        let tls = TlsFiles {
            client_cert: Some(cert),
            client_key: Some(key.clone()),
            ca_bundle: Some(ca_path),
            system_roots: false,
        };
        assert!(build_client(&tls, timeouts()).unwrap().has_identity);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o604)).unwrap();
        let e = build_client(&tls, timeouts()).unwrap_err();
        assert!(
            matches!(e, TlsError::KeyPermissions { mode: 0o604, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn no_trust_at_all_is_refused() {
        let e = build_client(&TlsFiles::default(), timeouts()).unwrap_err();
        assert!(e.to_string().contains("set ca_bundle"), "{e}");
    }
}
