//! The Unix-socket server the CNI plugins call: one JSON line in, one JSON line out, then close
//! (the contract of [`agent_api`]). One thread serves every connection on an epoll event loop
//! ([`event_loop`]); a second one, the committer, answers the requests that arrived together as
//! one batch (group commit: one store transaction, one fsync) while the loop keeps reading.
//! Every connection is bounded in time and size, the node state is behind one mutex (the
//! metrics responder reads it too). Requests before the node is ready are answered `not_ready`.

mod committer;
mod event_loop;
#[cfg(test)]
mod tests;

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent_api::{ErrorKind, Request, Response};
use tracing::debug;

use crate::config::SocketMode;
use crate::metrics::{Gauges, Metrics};
use crate::node::NodeState;

pub(crate) use event_loop::EventLoop;

/// Bound on reading a request and writing its answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request line accepted (a GC with thousands of attachments fits).
pub const MAX_REQUEST_BYTES: u64 = 4 << 20;
/// Connections served at once; beyond this, callers get `busy` (CNI 11) and retry.
pub const MAX_CONNECTIONS: usize = 256;

/// Failures of setting up the socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another agent is answering on {path}; stop it first (or pick another --socket)")]
    InUse { path: PathBuf },
    #[error(
        "{path} exists and is not a socket; refusing to remove it: pick another --socket or remove it yourself"
    )]
    NotASocket { path: PathBuf },
}

/// State shared by the socket server, the metrics responder and the starter.
#[derive(Debug, Default)]
pub struct Shared {
    /// `None` until the prefix is acquired and the node is set up.
    pub(crate) state: Mutex<Option<NodeState>>,
    pub(crate) metrics: Metrics,
    /// Why the prefix is refused, while it is (shown in `/v1/status` and CNI answers).
    pub(crate) blocked: Mutex<Option<Blocked>>,
}

/// A refusal the agent is waiting out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Blocked {
    #[serde(flatten)]
    pub denial: crate::prefix::Denial,
    /// The role (and credential source) that was refused.
    pub identity: Option<String>,
    /// First refusal, ms since the Unix epoch.
    pub since_ms: u64,
    /// Refused attempts so far.
    pub attempts: u64,
    /// When the next attempt is due, ms since the Unix epoch.
    pub next_attempt_ms: u64,
}

impl Shared {
    fn with_state<T>(&self, f: impl FnOnce(&mut NodeState) -> T) -> Result<T, Response> {
        let mut guard = self.state.lock().map_err(|_| Response::Error {
            kind: ErrorKind::Internal,
            message: "the agent's state lock is poisoned by an earlier failure; restart the agent"
                .into(),
        })?;
        match guard.as_mut() {
            Some(state) => Ok(f(state)),
            None => Err(Response::Error {
                kind: ErrorKind::NotReady,
                message: self.not_ready_message(),
            }),
        }
    }

    fn blocked(&self) -> Option<Blocked> {
        self.blocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What a plugin is told while there is no prefix: the refusal, when there is one.
    fn not_ready_message(&self) -> String {
        match self.blocked() {
            Some(b) => format!(
                "the node has no IPv6 prefix yet: EC2 {} was refused with {} for {}: {}; {}",
                b.denial.action,
                b.denial.code,
                b.identity.as_deref().unwrap_or("the agent's credentials"),
                b.denial.message,
                b.denial.fix
            ),
            None => "the agent is starting (acquiring the node prefix / setting up the node); retry shortly"
                .into(),
        }
    }

    /// `/v1/status` before the agent is ready.
    pub(crate) fn not_ready_json(&self) -> serde_json::Value {
        serde_json::json!({"ready": false, "blocked": self.blocked()})
    }

    /// Answer requests that arrived together as one batch (one store transaction), counting
    /// them, timing adds and dels from when each was read (`started`), and counting errors.
    pub(crate) fn answer_batch(&self, batch: Vec<(Request, Instant)>) -> Vec<Response> {
        let n = batch.len();
        let ops: Vec<(&'static str, Instant)> = batch
            .iter()
            .map(|(req, started)| {
                let op = match req {
                    Request::Add { .. } => "add",
                    Request::Del { .. } => "del",
                    Request::List => "list",
                    Request::Gc { .. } => "gc",
                    Request::Status => "status",
                };
                self.metrics.request(op);
                (op, *started)
            })
            .collect();
        let reqs = batch.into_iter().map(|(req, _)| req).collect();
        let took = Instant::now();
        let mut answers = self
            .with_state(|s| s.handle_batch(reqs, now_ms()))
            .unwrap_or_else(|e| vec![e; n]);
        debug!(requests = n, took = ?took.elapsed(), "answered a batch");
        answers.resize(
            n,
            Response::Error {
                kind: ErrorKind::Internal,
                message: "the agent lost this request in its batch; retry".into(),
            },
        );
        for ((op, started), resp) in ops.iter().zip(&answers) {
            match *op {
                "add" => self.metrics.add.observe(started.elapsed()),
                "del" => self.metrics.del.observe(started.elapsed()),
                _ => {}
            }
            if let Response::Error { kind, .. } = resp {
                self.metrics.error(*kind);
            }
        }
        answers
    }

    pub(crate) fn gauges(&self) -> Option<Gauges> {
        self.with_state(|s| {
            let st = s.status(now_ms());
            Gauges {
                allocations: st.allocated,
                cooling: st.cooling,
                prefix_addresses: 1u64 << (128 - u32::from(s.facts().prefix.prefix_len())),
            }
        })
        .ok()
    }

    pub(crate) fn status_json(&self) -> Option<serde_json::Value> {
        self.with_state(|s| {
            let st = s.status(now_ms());
            serde_json::json!({
                "ready": true,
                "prefix": st.prefix,
                "node_ipv4": st.node_ipv4,
                "node_ipv6": st.node_ipv6,
                "eni_id": s.facts().eni_id,
                "allocated": st.allocated,
                "cooling": st.cooling,
                "allocations": s.allocations(),
            })
        })
        .ok()
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Bind the agent socket at `path` with `mode`, race-free: the parent dir is created (0755)
/// if missing, a stale socket is replaced, a live one (another agent answers) is an error, and
/// the socket is bound under a temporary name, chmod-ed, then renamed into place, so it is
/// never reachable with looser permissions.
pub fn bind_socket(path: &Path, mode: SocketMode) -> Result<UnixListener, SocketError> {
    fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SocketError + use<> {
        let path = path.to_owned();
        move |source| SocketError::Io { op, path, source }
    }
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(io("create dir", parent))?;
        // The umask may have narrowed the mode; plugins (any user in the socket's group when
        // the mode is 0660) must be able to reach the socket.
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755))
            .map_err(io("chmod dir", parent))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(SocketError::InUse {
                    path: path.to_owned(),
                });
            }
            debug!(path = %path.display(), "replacing a stale socket");
        }
        Ok(_) => {
            return Err(SocketError::NotASocket {
                path: path.to_owned(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("inspect", path)(e)),
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(io("bind", &tmp))?;
    let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode.bits()))
        .map_err(io("chmod", &tmp))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io("rename into place", path)));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(listener)
}

/// Serve the socket on `event_loop` until `stop` is set (the stopper then connects once to
/// wake it).
pub(crate) fn serve_unix(event_loop: EventLoop, shared: &Shared, stop: &AtomicBool) {
    event_loop.run(shared, stop);
}
