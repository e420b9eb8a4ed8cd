//! An in-process partner feed server, for the demo and the tests.
//!
//! In: a rustls [`ServerConfig`](rustls::ServerConfig) (usually from
//! [`crate::sim::pki::server_config`], which may demand client certificates) and a
//! map of path (`"/police.csv"`) to bytes. Out: an HTTPS/1.1 server on
//! `127.0.0.1`, port chosen by the OS, that answers `GET` (and `HEAD`) with the
//! bytes, a strong `ETag` (quoted first 16 bytes of the SHA-256, hex) and a
//! `Last-Modified` (when the content was last set); `304` when
//! `If-None-Match` matches (or, without `If-None-Match`, when
//! `If-Modified-Since` is not older than the content); `404` for unknown
//! paths; `405` for other methods.
//!
//! URLs are `https://127.0.0.1:PORT/path` (see [`PartnerServer::url`]), so the
//! server certificate must carry the IP SAN `127.0.0.1`.
//!
//! Promises, for tests: counters of requests and of full `200` downloads; a
//! fault switch answering the next n requests with a chosen status; a
//! truncation switch that announces the full `Content-Length`, sends half
//! the body and drops the connection. [`PartnerServer::shutdown`] (or drop)
//! stops accepting and closes open connections. Never for production.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

type Body = BoxBody<Bytes, io::Error>;

const HTTP_DATE: &str = "%a, %d %b %Y %H:%M:%S GMT";

struct Entry {
    bytes: Bytes,
    etag: String,
    modified: DateTime<Utc>,
}

impl Entry {
    fn new(bytes: Vec<u8>) -> Entry {
        let digest = Sha256::digest(&bytes);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Entry {
            bytes: Bytes::from(bytes),
            etag: format!("\"{hex}\""),
            // HTTP dates have whole seconds.
            modified: DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default(),
        }
    }
}

#[derive(Default)]
struct Faults {
    fail_next: u32,
    fail_status: u16,
    /// `Retry-After` sent with the failures.
    retry_after: Option<&'static str>,
    truncate: HashSet<String>,
}

struct State {
    files: Mutex<HashMap<String, Entry>>,
    faults: Mutex<Faults>,
    requests: AtomicU64,
    full_downloads: AtomicU64,
}

/// A running partner server. Dropping it stops it too.
pub struct PartnerServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for PartnerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl PartnerServer {
    /// Binds `127.0.0.1:0` and serves `files` over TLS with `config`.
    pub async fn start(
        config: Arc<rustls::ServerConfig>,
        files: HashMap<String, Vec<u8>>,
    ) -> io::Result<PartnerServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            files: Mutex::new(files.into_iter().map(|(p, b)| (p, Entry::new(b))).collect()),
            faults: Mutex::new(Faults::default()),
            requests: AtomicU64::new(0),
            full_downloads: AtomicU64::new(0),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(config),
            state.clone(),
            stop_rx,
        ));
        Ok(PartnerServer {
            addr,
            state,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// The bound address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` followed by `path` (a leading `/` is added
    /// if missing).
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("https://127.0.0.1:{}{slash}{path}", self.addr.port())
    }

    /// Adds or replaces the content at `path` (new ETag, Last-Modified now).
    pub fn set_file(&self, path: &str, bytes: Vec<u8>) {
        lock(&self.state.files).insert(path.to_string(), Entry::new(bytes));
    }

    /// Requests received (every status, including faults).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Complete `200` GET answers sent (not 304s, faults or truncations).
    pub fn full_downloads(&self) -> u64 {
        self.state.full_downloads.load(Ordering::SeqCst)
    }

    /// Answers the next `n` requests (any path) with `status` and no body.
    pub fn set_fail_next(&self, n: u32, status: u16) {
        let mut f = lock(&self.state.faults);
        f.fail_next = n;
        f.fail_status = status;
    }

    /// While on, GET `path` announces the full Content-Length, sends half of
    /// the body and then drops the connection.
    /// Send `Retry-After: value` with the failures `set_fail_next` asks for.
    pub fn set_retry_after(&self, value: Option<&'static str>) {
        lock(&self.state.faults).retry_after = value;
    }

    pub fn set_truncate(&self, path: &str, on: bool) {
        let mut f = lock(&self.state.faults);
        if on {
            f.truncate.insert(path.to_string());
        } else {
            f.truncate.remove(path);
        }
    }

    /// Stops accepting, closes open connections and waits for the server
    /// task. Idempotent.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for PartnerServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    // Connections live in the set: when this task ends, they are aborted.
    let mut conns = JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "partner: accept failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        conns.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "partner: TLS handshake failed");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(respond(&state, &req)) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "partner: connection ended with an error");
            }
        });
    }
    conns.shutdown().await;
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Empty::new().map_err(|n| match n {}).boxed());
    *r.status_mut() = status;
    r
}

fn respond<B>(state: &State, req: &Request<B>) -> Response<Body> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    {
        let mut f = lock(&state.faults);
        if f.fail_next > 0 {
            f.fail_next -= 1;
            let status =
                StatusCode::from_u16(f.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = empty(status);
            if let Some(v) = f.retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(v));
            }
            return r;
        }
    }
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut r = empty(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
    };
    let path = req.uri().path();
    let (bytes, etag, modified) = match lock(&state.files).get(path) {
        Some(e) => (e.bytes.clone(), e.etag.clone(), e.modified),
        None => return empty(StatusCode::NOT_FOUND),
    };
    let last_modified = modified.format(HTTP_DATE).to_string();
    let not_modified = match req.headers().get(header::IF_NONE_MATCH) {
        Some(inm) => inm.to_str().is_ok_and(|v| etag_matches(v, &etag)),
        None => req
            .headers()
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .is_some_and(|since| modified <= since),
    };
    let mut resp = if not_modified {
        empty(StatusCode::NOT_MODIFIED)
    } else if head {
        let mut r = empty(StatusCode::OK);
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        r
    } else if lock(&state.faults).truncate.contains(path) {
        // Half the body, a pause (so hyper flushes it to the client), then a
        // body error: hyper drops the connection without close_notify. An
        // immediate error would discard the buffered half and the headers.
        let half = bytes.slice(..bytes.len() / 2);
        let frames = futures_util::stream::unfold(0u8, move |step| {
            let half = half.clone();
            async move {
                match step {
                    0 => Some((Ok(Frame::data(half)), 1)),
                    1 => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        Some((
                            Err(io::Error::new(
                                io::ErrorKind::ConnectionAborted,
                                "truncation fault",
                            )),
                            2,
                        ))
                    }
                    _ => None,
                }
            }
        });
        let mut r = Response::new(BodyExt::boxed(StreamBody::new(frames)));
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        r
    } else {
        state.full_downloads.fetch_add(1, Ordering::SeqCst);
        Response::new(Full::new(bytes).map_err(|n| match n {}).boxed())
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        h.insert(header::LAST_MODIFIED, v);
    }
    resp
}

/// `If-None-Match` uses weak comparison: `*`, or any listed tag equal to
/// ours once a `W/` prefix is ignored.
fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| {
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag.strip_prefix("W/").unwrap_or(etag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::pki::{server_config, TestCa};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A bare rustls client (no reqwest) so this module tests itself.
    async fn raw_get(
        server: &PartnerServer,
        ca_pem: &str,
        request: &str,
    ) -> io::Result<(String, Vec<u8>)> {
        let mut roots = rustls::RootCertStore::empty();
        for c in
            <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(
                ca_pem.as_bytes(),
            )
        {
            roots.add(c.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(crate::sim::pki::ring_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(server.addr()).await?;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(request.as_bytes()).await?;
        let mut out = Vec::new();
        let r = tls.read_to_end(&mut out).await;
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4)
            .unwrap_or(out.len());
        let head = String::from_utf8_lossy(&out[..split]).to_string();
        let body = out[split..].to_vec();
        r.map(|_| (head, body))
    }

    fn req(path: &str, extra: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n")
    }

    fn header_value(head: &str, name: &str) -> Option<String> {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    #[tokio::test]
    async fn serves_etags_304_404_faults() {
        let ca = TestCa::new("partner test");
        let cfg = server_config(&ca.issue_server(&["127.0.0.1"]), None);
        let files = HashMap::from([("/a.csv".to_string(), b"hello".to_vec())]);
        let server = PartnerServer::start(cfg, files).await.unwrap();
        assert!(server
            .url("a.csv")
            .ends_with(&format!(":{}/a.csv", server.addr().port())));
        let ca_pem = ca.cert_pem();

        let (head, body) = raw_get(&server, &ca_pem, &req("/a.csv", "")).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, b"hello");
        let etag = header_value(&head, "etag").unwrap();
        assert_eq!(etag.len(), 34, "quoted 32 hex chars: {etag}");
        let lm = header_value(&head, "last-modified").unwrap();
        assert!(lm.ends_with("GMT"));

        let (head, _) = raw_get(
            &server,
            &ca_pem,
            &req("/a.csv", &format!("If-None-Match: {etag}\r\n")),
        )
        .await
        .unwrap();
        assert!(head.starts_with("HTTP/1.1 304"), "{head}");
        let (head, _) = raw_get(
            &server,
            &ca_pem,
            &req("/a.csv", &format!("If-Modified-Since: {lm}\r\n")),
        )
        .await
        .unwrap();
        assert!(head.starts_with("HTTP/1.1 304"), "{head}");

        let (head, _) = raw_get(&server, &ca_pem, &req("/nope", "")).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");

        server.set_fail_next(1, 503);
        let (head, _) = raw_get(&server, &ca_pem, &req("/a.csv", "")).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");

        server.set_file("/a.csv", b"changed".to_vec());
        let (head, body) = raw_get(
            &server,
            &ca_pem,
            &req("/a.csv", &format!("If-None-Match: {etag}\r\n")),
        )
        .await
        .unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, b"changed");
        assert_ne!(header_value(&head, "etag").unwrap(), etag);

        assert_eq!(server.requests(), 6);
        assert_eq!(server.full_downloads(), 2);

        server.set_truncate("/a.csv", true);
        let r = raw_get(&server, &ca_pem, &req("/a.csv", "")).await;
        // Either the read fails (no close_notify) or the body is short.
        if let Ok((head, body)) = r {
            assert_eq!(header_value(&head, "content-length").as_deref(), Some("7"));
            assert!(body.len() < 7, "truncated body");
        }
        assert_eq!(server.full_downloads(), 2);

        server.shutdown().await;
        server.shutdown().await;
        assert!(raw_get(&server, &ca_pem, &req("/a.csv", "")).await.is_err());
    }

    #[test]
    fn etag_comparison() {
        assert!(etag_matches("\"ab\"", "\"ab\""));
        assert!(etag_matches("W/\"ab\", \"cd\"", "\"ab\""));
        assert!(etag_matches("*", "\"ab\""));
        assert!(!etag_matches("\"cd\"", "\"ab\""));
    }
}
