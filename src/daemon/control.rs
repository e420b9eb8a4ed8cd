//! The control socket: how a CLI command asks the running daemon for work
//! that needs the store the daemon holds: a consistent backup, and making
//! undelivered notices and receipts due now (`outbox retry`).
//!
//! In: one JSON request line on `DATA_DIR/control.sock` from a process of
//! the daemon's own user (or root). Out: one JSON reply line.
//!
//! Promises:
//! * only the daemon's user and root are served: the socket is 0600 in the
//!   0700 data dir, and the peer's uid is checked as well;
//! * a backup taken here is consistent: it holds the engine, so no delivery
//!   is applied and no claim decided while it is copied (the notifier may
//!   still mark notices delivered; a mark the copy missed means one notice
//!   sent again after a restore, which receivers deduplicate on its id);
//! * the protocol lives in this one file, both ends: the daemon's server and
//!   the CLI's [`request`].

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::shutdown::Shutdown;
use super::Shared;

/// The socket's file name in the data dir.
pub const SOCKET: &str = "control.sock";

/// The longest request line read (a path and a command).
const MAX_REQUEST: usize = 64 * 1024;

/// What a command asks of the daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Copy the store to `dir` (absolute; missing or empty) and check it.
    Backup { dir: PathBuf },
    /// Make undelivered deliveries (to `sink`, of `notice`: all if unset)
    /// due now; the notifiers send them on their next round.
    OutboxRetry {
        #[serde(default)]
        sink: Option<String>,
        #[serde(default)]
        notice: Option<String>,
    },
}

/// The daemon's answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    /// What went wrong, or a one-line summary of what was done.
    pub message: String,
    /// Values and bytes copied (backup).
    pub values: u64,
    pub bytes: u64,
    /// True if the copy checked clean (backup).
    pub clean: bool,
    /// Deliveries made due now (outbox retry).
    #[serde(default)]
    pub retried: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no daemon answers on {path} (is it running?)")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to the daemon on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon's reply on {path} is not understood: {reason}")]
    Reply { path: PathBuf, reason: String },
}

/// The socket path for a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

/// Sends `req` to the daemon of `data_dir` and waits for its reply (a
/// backup of a large store takes a while: there is no timeout but the
/// daemon's own).
pub fn request(data_dir: &Path, req: &Request) -> Result<Reply, ControlError> {
    let path = socket_path(data_dir);
    let stream =
        std::os::unix::net::UnixStream::connect(&path).map_err(|source| ControlError::Connect {
            path: path.clone(),
            source,
        })?;
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    let mut line = serde_json::to_string(req).expect("a request serialises");
    line.push('\n');
    (&stream).write_all(line.as_bytes()).map_err(io)?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).map_err(io)?;
    serde_json::from_str(&reply).map_err(|e| ControlError::Reply {
        path: path.clone(),
        reason: if reply.is_empty() {
            "the daemon closed the connection (did it stop?)".into()
        } else {
            e.to_string()
        },
    })
}

/// Binds the socket (a stale one from a killed daemon is replaced: the
/// store's lock says no other daemon runs here) and makes it 0600.
pub(crate) fn bind(data_dir: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(data_dir);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves requests until shutdown, then removes the socket.
pub(crate) async fn serve(
    listener: tokio::net::UnixListener,
    path: PathBuf,
    shared: Arc<Shared>,
    mut sd: Shutdown,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = sd.wait() => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = answer(stream, shared).await {
                tracing::warn!(error = %e, "control socket: a request failed");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
}

async fn answer(stream: tokio::net::UnixStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    let peer = stream.peer_cred()?.uid();
    let (read, mut write) = stream.into_split();
    let reply = if peer != me && peer != 0 {
        tracing::warn!(
            peer_uid = peer,
            "control socket: refused a process of another user"
        );
        refusal(format!("uid {peer} may not control this daemon"))
    } else {
        let mut line = String::new();
        let mut limited =
            tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST as u64));
        limited.read_line(&mut line).await?;
        match serde_json::from_str::<Request>(&line) {
            Ok(req) => tokio::task::spawn_blocking(move || run(&shared, req))
                .await
                .unwrap_or_else(|e| refusal(format!("the request failed: {e}"))),
            Err(e) => refusal(format!("not a request: {e}")),
        }
    };
    let mut text = serde_json::to_string(&reply).expect("a reply serialises");
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

fn refusal(message: String) -> Reply {
    Reply {
        message,
        ..Reply::default()
    }
}

fn run(shared: &Shared, req: Request) -> Reply {
    match req {
        Request::OutboxRetry { sink, notice } => {
            // Every sink this daemon delivers to: notices' and receipts'.
            let mut sinks = shared.outbox.sink_names().to_vec();
            sinks.extend(shared.receipts.sink_names());
            if let Some(s) = &sink {
                if !sinks.contains(s) {
                    return refusal(format!("the daemon has no sink {s:?}"));
                }
            }
            let outbox = match crate::notify::Outbox::new(shared.outbox.store(), sinks) {
                Ok(o) => o,
                Err(e) => return refusal(crate::error::chain(&e)),
            };
            match outbox.retry_now(sink.as_deref(), notice.as_deref(), chrono::Utc::now()) {
                Ok(n) => {
                    tracing::info!(deliveries = n, sink = ?sink, "outbox retry asked for on the control socket");
                    Reply {
                        ok: true,
                        message: format!("{n} undelivered deliveries are due now"),
                        retried: n as u64,
                        ..Reply::default()
                    }
                }
                Err(e) => refusal(format!("outbox retry: {}", crate::error::Chain(&e))),
            }
        }
        Request::Backup { dir } => {
            if !dir.is_absolute() {
                return refusal(format!(
                    "{} is not an absolute path (the daemon's working directory is not yours)",
                    dir.display()
                ));
            }
            let engine = shared.engine.lock().unwrap_or_else(|e| e.into_inner());
            tracing::info!(dir = %dir.display(), "backup asked for on the control socket");
            match engine.store.backup(&dir) {
                Ok((copied, report)) => {
                    tracing::info!(dir = %dir.display(), values = copied.values, "backup written");
                    let action = crate::audit::Action::StoreCopied {
                        operation: "backup".into(),
                        dir: dir.display().to_string(),
                        values: copied.values,
                        clean: report.is_clean(),
                    };
                    if let Err(e) = crate::audit::note(engine.audit.as_ref(), action) {
                        return refusal(format!(
                            "the backup in {} was written but could not be recorded in the audit log: {}",
                            dir.display(),
                            crate::error::Chain(&e)
                        ));
                    }
                    Reply {
                        ok: true,
                        message: report.to_string(),
                        values: copied.values,
                        bytes: copied.bytes,
                        clean: report.is_clean(),
                        ..Reply::default()
                    }
                }
                Err(e) => refusal(format!(
                    "backing up to {}: {}",
                    dir.display(),
                    crate::error::Chain(&e)
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_and_strict() {
        let r = Request::Backup {
            dir: PathBuf::from("/srv/backup"),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"command":"backup","dir":"/srv/backup"}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        assert!(serde_json::from_str::<Request>(r#"{"command":"erase"}"#).is_err());
        let r: Request =
            serde_json::from_str(r#"{"command":"outbox_retry","sink":"ops"}"#).unwrap();
        assert_eq!(
            r,
            Request::OutboxRetry {
                sink: Some("ops".into()),
                notice: None
            }
        );
        assert!(serde_json::from_str::<Request>(
            r#"{"command":"outbox_retry","sink":"ops","all":true}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Request>(
            r#"{"command":"backup","dir":"/x","also":"rm -rf"}"#
        )
        .is_err());
    }

    #[test]
    fn no_daemon_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = request(
            dir.path(),
            &Request::Backup {
                dir: dir.path().join("b"),
            },
        )
        .unwrap_err();
        assert!(matches!(e, ControlError::Connect { .. }), "{e}");
        assert!(e.to_string().contains("control.sock"), "{e}");
    }
}
