//! Test PKI: a throwaway certificate authority for the demo and the tests.
//!
//! In: a CA name, host names or IP addresses for server certificates, a common
//! name for client certificates. Out: PEM certificates and PKCS#8 keys
//! ([`Issued`]), written to disk on request with the key file created mode
//! 0600, and a ready rustls [`ServerConfig`](rustls::ServerConfig) (ring
//! provider, TLS 1.2+, ALPN `http/1.1` only, optional mandatory client
//! certificates).
//!
//! Promises: every key is generated fresh in memory at run time (nothing is
//! committed, nothing is reused across [`TestCa`]s); only the ring provider
//! is used. This is **not** production key management: keys live in plain
//! memory and the CA never expires (certificates run to the year 4096).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Errors from this module (only from fallible helpers; the generators
/// panic, since they are for tests and the demo and cannot fail on sane input).
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("no PEM certificate found in {what}")]
    NoCertificate { what: &'static str },
    #[error("no PEM private key found in {what}")]
    NoKey { what: &'static str },
    #[error("TLS configuration rejected")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

/// A certificate authority that lives only as long as the value.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Issued")
            .field("cert_pem", &format_args!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new self-signed CA whose subject CN and O are `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("generate CA key");
        let cert = params.self_signed(&key).expect("self-sign CA");
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM: what a client puts in its `ca_bundle`, or a
    /// server in its client-CA list.
    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// A server certificate for `hosts` (DNS names, or IP addresses such as
    /// `127.0.0.1` and `::1`, which become IP SANs). The first host is also
    /// the subject CN. Panics on an invalid DNS name.
    pub fn issue_server(&self, hosts: &[&str]) -> Issued {
        let sans: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let mut params = CertificateParams::new(sans).expect("valid host names");
        params.distinguished_name.push(
            DnType::CommonName,
            hosts.first().copied().unwrap_or("server"),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate with subject CN `cn`, valid now.
    pub fn issue_client(&self, cn: &str) -> Issued {
        self.sign(client_params(cn))
    }

    /// A client certificate whose validity lies entirely in the past
    /// (2020-01-01 to 2021-01-01).
    pub fn issue_client_expired(&self, cn: &str) -> Issued {
        let mut params = client_params(cn);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().expect("generate key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn client_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

impl Issued {
    /// Writes `dir/stem.crt` and `dir/stem.key`; the key file is created with
    /// mode 0600 (never world-readable, not even briefly). Returns both paths.
    pub fn write(&self, dir: &Path, stem: &str) -> io::Result<(PathBuf, PathBuf)> {
        let crt = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&crt, &self.cert_pem)?;
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            opts.mode(0o600);
            let mut f = opts.open(&key)?;
            // An existing file keeps its old mode through open(): tighten it.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(self.key_pem.as_bytes())?;
            f.sync_all()?;
        }
        #[cfg(not(unix))]
        {
            let mut f = opts.open(&key)?;
            f.write_all(self.key_pem.as_bytes())?;
        }
        Ok((crt, key))
    }
}

/// The ring provider, shared by the server and client sides.
pub fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration presenting `issued`: ring provider, TLS
/// 1.2 and 1.3, ALPN `http/1.1` only (an h2-capable client would otherwise
/// pick h2, which the in-process http1 server cannot speak). With
/// `client_ca_pem`, every client must present a certificate that chains to
/// it. Panics on malformed PEM (see [`try_server_config`]).
pub fn server_config(issued: &Issued, client_ca_pem: Option<&str>) -> Arc<rustls::ServerConfig> {
    try_server_config(issued, client_ca_pem).expect("server TLS configuration")
}

/// [`server_config`] that reports malformed input instead of panicking.
pub fn try_server_config(
    issued: &Issued,
    client_ca_pem: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let provider = ring_provider();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| PkiError::NoCertificate {
                what: "server certificate",
            })?;
    if chain.is_empty() {
        return Err(PkiError::NoCertificate {
            what: "server certificate",
        });
    }
    let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes())
        .map_err(|_| PkiError::NoKey { what: "server key" })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let c = c.map_err(|_| PkiError::NoCertificate { what: "client CA" })?;
                roots.add(c)?;
            }
            if roots.is_empty() {
                return Err(PkiError::NoCertificate { what: "client CA" });
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| PkiError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_parseable_pem_and_configs() {
        let ca = TestCa::new("Test CA");
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let server = ca.issue_server(&["localhost", "127.0.0.1", "::1"]);
        assert!(server.key_pem.contains("PRIVATE KEY"));
        let cfg = server_config(&server, Some(&ca.cert_pem()));
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let _ = server_config(&server, None);
        let client = ca.issue_client("council");
        assert_ne!(client.key_pem, server.key_pem, "fresh key per certificate");
        let expired = ca.issue_client_expired("old");
        assert_ne!(expired.cert_pem, client.cert_pem);
        assert!(
            !format!("{client:?}").contains("PRIVATE"),
            "Debug hides the key"
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        let bad = Issued {
            cert_pem: "nope".into(),
            key_pem: "nope".into(),
        };
        assert!(matches!(
            try_server_config(&bad, None),
            Err(PkiError::NoCertificate { .. })
        ));
        let ca = TestCa::new("x");
        let good = ca.issue_server(&["localhost"]);
        assert!(matches!(
            try_server_config(&good, Some("junk")),
            Err(PkiError::NoCertificate { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn write_creates_key_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Test CA");
        let issued = ca.issue_client("c");
        // A pre-existing loose file is tightened.
        std::fs::write(dir.path().join("c.key"), "old").unwrap();
        std::fs::set_permissions(
            dir.path().join("c.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let (crt, key) = issued.write(dir.path(), "c").unwrap();
        assert_eq!(std::fs::read_to_string(&crt).unwrap(), issued.cert_pem);
        assert_eq!(std::fs::read_to_string(&key).unwrap(), issued.key_pem);
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
