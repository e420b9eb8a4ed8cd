//! An in-process Standard Webhooks receiver, for the demo and for tests.
//!
//! In: a rustls `ServerConfig` built by the caller (its ALPN must not offer
//! `h2`: this server speaks HTTP/1.1 only) and the [`WebhookSecret`] shared
//! with the sender. It listens on 127.0.0.1, on a port the OS picks.
//!
//! Out: every `POST` it gets is verified with [`crate::notify::verify`] and
//! recorded as a [`ReceivedNotice`] (id, whether the signature held, the JSON
//! body, the status answered); it answers 204 if the signature holds and 400
//! if not, unless told by [`Receiver::set_fail_next`] to answer the next
//! requests with a chosen status (they are still verified and recorded).
//!
//! Promises: nothing outlives the [`Receiver`]: dropping it stops the accept
//! loop and every connection. Bodies over 1 MiB are refused (413).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::notify::{verify, WebhookSecret};

const MAX_BODY: usize = 1024 * 1024;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One request the receiver got.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedNotice {
    /// The `webhook-id` header (empty if absent).
    pub id: String,
    /// Whether the Standard Webhooks signature and timestamp held.
    pub verified: bool,
    /// The body as JSON (`Null` if it was not JSON).
    pub body: serde_json::Value,
    /// The status answered.
    pub status: u16,
    /// The `webhook-timestamp` and `webhook-signature` headers and the raw
    /// body, for checking with another implementation.
    pub timestamp: String,
    pub signature: String,
    pub raw: Vec<u8>,
}

/// Errors of the receiver.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("the TLS config offers h2 in ALPN; this receiver speaks http/1.1 only")]
    H2Offered,
}

impl From<ReceiverError> for io::Error {
    fn from(e: ReceiverError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

#[derive(Default)]
struct State {
    fail_next: u32,
    fail_status: u16,
    /// `Retry-After` sent with those failures.
    retry_after: Option<&'static str>,
    received: Vec<ReceivedNotice>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves HTTP/1.1 over TLS until dropped.
    pub async fn start(
        tls: Arc<rustls::ServerConfig>,
        secret: WebhookSecret,
    ) -> io::Result<Receiver> {
        if tls.alpn_protocols.iter().any(|p| p.as_slice() == b"h2") {
            return Err(ReceiverError::H2Offered.into());
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = TlsAcceptor::from(tls);
        let secret = Arc::new(secret);
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts connections.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((tcp, _peer)) = accepted else { continue };
                        let acceptor = acceptor.clone();
                        let st = Arc::clone(&st);
                        let secret = Arc::clone(&secret);
                        conns.spawn(async move {
                            let Ok(Ok(tls)) =
                                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                            else {
                                return;
                            };
                            let svc = hyper::service::service_fn(move |req| {
                                handle(req, Arc::clone(&st), Arc::clone(&secret))
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tls), svc)
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Receiver { addr, state, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>/notices`.
    pub fn url(&self) -> String {
        format!("https://{}/notices", self.addr)
    }

    /// Send `Retry-After: value` with the failures `set_fail_next` asks for.
    pub fn set_retry_after(&self, value: Option<&'static str>) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retry_after = value;
    }

    /// Answer the next `n` requests with `status` instead of 204/400.
    pub fn set_fail_next(&self, n: u32, status: u16) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.fail_next = n;
        st.fail_status = status;
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<ReceivedNotice> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received
            .clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    secret: Arc<WebhookSecret>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.method() != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED));
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let id = header("webhook-id");
    let ts = header("webhook-timestamp");
    let sig = header("webhook-signature");
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::PAYLOAD_TOO_LARGE)),
    };
    let now = chrono::Utc::now().timestamp();
    let verified = verify(&secret, &id, &ts, &sig, &body, now).is_ok();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    let mut retry_after = None;
    let status = if st.fail_next > 0 {
        st.fail_next -= 1;
        retry_after = st.retry_after;
        StatusCode::from_u16(st.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    } else if verified {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::BAD_REQUEST
    };
    st.received.push(ReceivedNotice {
        id,
        verified,
        body: json,
        status: status.as_u16(),
        timestamp: ts,
        signature: sig,
        raw: body.to_vec(),
    });
    let mut r = reply(status);
    if let Some(v) = retry_after {
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from_static(v),
        );
    }
    Ok(r)
}

/// Test PKI made at run time with rcgen: a CA, a server certificate for
/// 127.0.0.1 and localhost, and a client certificate.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    pub(crate) struct TestPki {
        ca_pem: String,
        ca_der: CertificateDer<'static>,
        server_cert: CertificateDer<'static>,
        server_key: Vec<u8>,
        client_cert_pem: String,
        client_key_pem: String,
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    impl TestPki {
        pub(crate) fn new() -> Self {
            let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.distinguished_name
                .push(DnType::CommonName, "outcomesd test CA");
            ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let ca_key = KeyPair::generate().unwrap();
            let ca_cert = ca.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca, ca_key);

            let mut srv =
                CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                    .unwrap();
            srv.distinguished_name.push(DnType::CommonName, "receiver");
            srv.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            srv.use_authority_key_identifier_extension = true;
            let srv_key = KeyPair::generate().unwrap();
            let srv_cert = srv.signed_by(&srv_key, &issuer).unwrap();

            let mut cli = CertificateParams::new(Vec::<String>::new()).unwrap();
            cli.distinguished_name.push(DnType::CommonName, "outcomesd");
            cli.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            cli.use_authority_key_identifier_extension = true;
            let cli_key = KeyPair::generate().unwrap();
            let cli_cert = cli.signed_by(&cli_key, &issuer).unwrap();

            TestPki {
                ca_pem: ca_cert.pem(),
                ca_der: ca_cert.der().clone(),
                server_cert: srv_cert.der().clone(),
                server_key: srv_key.serialize_der(),
                client_cert_pem: cli_cert.pem(),
                client_key_pem: cli_key.serialize_pem(),
            }
        }

        /// A server config (ring, ALPN http/1.1 only); requires client
        /// certificates issued by `client_ca` if given.
        pub(crate) fn server_config(
            &self,
            client_ca: Option<&TestPki>,
        ) -> Arc<rustls::ServerConfig> {
            let builder = rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap();
            let builder = match client_ca {
                None => builder.with_no_client_auth(),
                Some(ca) => {
                    let mut roots = rustls::RootCertStore::empty();
                    roots.add(ca.ca_der.clone()).unwrap();
                    let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider(),
                    )
                    .build()
                    .unwrap();
                    builder.with_client_cert_verifier(v)
                }
            };
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
            let mut cfg = builder
                .with_single_cert(vec![self.server_cert.clone()], key)
                .unwrap();
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(cfg)
        }

        pub(crate) fn write_ca(&self, dir: &Path) -> PathBuf {
            let p = dir.join(format!("ca-{}.pem", std::process::id()));
            std::fs::write(&p, &self.ca_pem).unwrap();
            p
        }

        pub(crate) fn write_client_identity(&self, dir: &Path) -> (PathBuf, PathBuf) {
            let c = dir.join("client.pem");
            let k = dir.join("client.key");
            std::fs::write(&c, &self.client_cert_pem).unwrap();
            std::fs::write(&k, &self.client_key_pem).unwrap();
            // A client key must be private, as the TLS builder insists.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            (c, k)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::TestPki;
    use super::*;
    use crate::notify::sign;

    fn client(pki_ca_pem: &std::path::Path) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = std::fs::read(pki_ca_pem).unwrap();
        reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn verifies_records_and_fails_on_request() {
        let pki = TestPki::new();
        let secret = WebhookSecret::generate();
        let rx = Receiver::start(pki.server_config(None), secret.clone())
            .await
            .unwrap();
        assert!(rx.url().starts_with("https://127.0.0.1:"));
        let dir = tempfile::tempdir().unwrap();
        let c = client(&pki.write_ca(dir.path()));
        let post = |sig: String, ts: i64, body: &'static str| {
            c.post(rx.url())
                .header("webhook-id", "ntc_x")
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .body(body)
                .send()
        };
        let ts = chrono::Utc::now().timestamp();
        let body = r#"{"id":"ntc_x"}"#;
        let good = sign(&secret, "ntc_x", ts, body.as_bytes());
        assert_eq!(post(good.clone(), ts, body).await.unwrap().status(), 204);
        let bad = sign(&WebhookSecret::generate(), "ntc_x", ts, body.as_bytes());
        assert_eq!(post(bad, ts, body).await.unwrap().status(), 400);
        rx.set_fail_next(1, 503);
        assert_eq!(post(good.clone(), ts, body).await.unwrap().status(), 503);
        assert_eq!(post(good, ts, body).await.unwrap().status(), 204);
        let got = rx.received();
        assert_eq!(
            got.iter()
                .map(|r| (r.verified, r.status))
                .collect::<Vec<_>>(),
            vec![(true, 204), (false, 400), (true, 503), (true, 204)]
        );
        assert_eq!(got[0].id, "ntc_x");
        assert_eq!(got[0].body, serde_json::json!({"id": "ntc_x"}));
        // A plain GET is not recorded.
        assert_eq!(c.get(rx.url()).send().await.unwrap().status(), 405);
        assert_eq!(rx.received().len(), 4);
    }

    #[tokio::test]
    async fn refuses_h2_alpn_and_stops_on_drop() {
        let pki = TestPki::new();
        let mut cfg = (*pki.server_config(None)).clone();
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let e = Receiver::start(Arc::new(cfg), WebhookSecret::generate())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);

        let rx = Receiver::start(pki.server_config(None), WebhookSecret::generate())
            .await
            .unwrap();
        let addr = rx.addr();
        drop(rx);
        // The listener goes away once the aborted task is dropped.
        let mut refused = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "listener still accepting after drop");
    }
}
