//! The Unix-socket server the CNI plugins call: one JSON line in, one JSON line out, then close
//! (the contract of [`agent_api`]). A thread per connection (capped), every read and write
//! bounded by a timeout, the node state behind one mutex. Requests before the node is ready are
//! answered `not_ready`.
//!
//! Group commit: requests are queued, and whichever request thread finds nobody leading takes
//! the whole queue and answers it as one batch (one store transaction, one fsync) while new
//! requests queue for the next batch. An idle agent answers a lone request at once (a batch of
//! one); a burst shares fsyncs instead of waiting for one each.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent_api::{ErrorKind, Request, Response};
use tracing::{debug, warn};

use crate::config::SocketMode;
use crate::metrics::{Gauges, Metrics};
use crate::node::NodeState;

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
    queue: Mutex<Queue>,
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

/// Requests waiting for the next batch, and whether a thread is answering batches.
#[derive(Debug, Default)]
struct Queue {
    pending: Vec<(Request, mpsc::SyncSender<Response>)>,
    leading: bool,
}

/// The leader's hold: takes batches until the queue is empty, handing leadership back in the
/// same critical section that finds it empty (so no request is left without a leader), and
/// also if answering a batch panicked (the waiters of a dropped batch see their channel close
/// and answer `internal`).
struct Leading<'a> {
    queue: &'a Mutex<Queue>,
    done: bool,
}

impl Leading<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next batch, or `None` (leadership handed back) when nothing is queued.
    fn next_batch(&mut self) -> Option<Vec<(Request, mpsc::SyncSender<Response>)>> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.pending.is_empty() {
            q.leading = false;
            self.done = true;
            return None;
        }
        Some(std::mem::take(&mut q.pending))
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.lock().leading = false;
        }
    }
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

    /// Answer one request (counting it and timing adds and dels), batched with whatever
    /// other requests arrive meanwhile (see the module docs).
    pub fn handle(&self, req: Request) -> Response {
        let started = Instant::now();
        let op = match &req {
            Request::Add { .. } => "add",
            Request::Del { .. } => "del",
            Request::List => "list",
            Request::Gc { .. } => "gc",
            Request::Status => "status",
        };
        self.metrics.request(op);
        let (tx, rx) = mpsc::sync_channel(1);
        let lead = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.pending.push((req, tx));
            !std::mem::replace(&mut q.leading, true)
        };
        if lead {
            let mut leading = Leading {
                queue: &self.queue,
                done: false,
            };
            while let Some(batch) = leading.next_batch() {
                self.answer_batch(batch);
            }
        }
        let resp = rx.recv().unwrap_or_else(|_| Response::Error {
            kind: ErrorKind::Internal,
            message: "the agent failed while answering this request; retry".into(),
        });
        match op {
            "add" => self.metrics.add.observe(started.elapsed()),
            "del" => self.metrics.del.observe(started.elapsed()),
            _ => {}
        }
        if let Response::Error { kind, .. } = &resp {
            self.metrics.error(*kind);
        }
        resp
    }

    fn answer_batch(&self, batch: Vec<(Request, mpsc::SyncSender<Response>)>) {
        let (reqs, txs): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let n = reqs.len();
        let started = Instant::now();
        let answers = self
            .with_state(|s| s.handle_batch(reqs, now_ms()))
            .unwrap_or_else(|e| vec![e; n]);
        debug!(requests = n, took = ?started.elapsed(), "answered a batch");
        for (tx, answer) in txs.into_iter().zip(answers) {
            // A waiter that went away needs no answer.
            let _ = tx.send(answer);
        }
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

/// Accept connections until `stop` is set (the stopper then connects once to wake it).
pub(crate) fn serve_unix(listener: UnixListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    let active = Arc::new(AtomicUsize::new(0));
    let workers = Workers::new();
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "accept on the agent socket failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let busy = Response::Error {
                kind: ErrorKind::Busy,
                message: format!(
                    "the agent is busy (all {MAX_CONNECTIONS} connection slots are taken); retry"
                ),
            };
            shared.metrics.error(ErrorKind::Busy);
            let _ = write_response(&stream, &busy);
            continue;
        }
        workers.dispatch(stream, &shared, &active);
    }
}

/// The connection threads, kept and reused: a thread that answered its connection waits for
/// the next one, so a burst after the first pays no thread start-up per connection. `idle`
/// counts the waiting threads minus the connections already handed to them, so a connection
/// is handed over only when a thread is sure to take it; otherwise a new thread is started
/// (at most one per connection slot).
struct Workers {
    tx: mpsc::Sender<UnixStream>,
    rx: Arc<Mutex<mpsc::Receiver<UnixStream>>>,
    idle: Arc<AtomicUsize>,
}

impl Workers {
    fn new() -> Workers {
        let (tx, rx) = mpsc::channel();
        Workers {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn dispatch(&self, stream: UnixStream, shared: &Arc<Shared>, active: &Arc<AtomicUsize>) {
        let claimed = self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if claimed {
            if self.tx.send(stream).is_err() {
                active.fetch_sub(1, Ordering::SeqCst);
            }
            return;
        }
        let (shared, active2, rx, idle) = (
            shared.clone(),
            active.clone(),
            self.rx.clone(),
            self.idle.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("agent-conn".into())
            .spawn(move || {
                let mut next = Some(stream);
                while let Some(stream) = next.take() {
                    serve_connection(stream, &shared);
                    active2.fetch_sub(1, Ordering::SeqCst);
                    idle.fetch_add(1, Ordering::SeqCst);
                    // The sender is gone once the agent stops: then this thread ends.
                    next = rx.lock().ok().and_then(|r| r.recv().ok());
                }
            });
        if let Err(e) = spawned {
            active.fetch_sub(1, Ordering::SeqCst);
            warn!(error = %e, "cannot spawn a connection thread");
        }
    }
}

fn serve_connection(stream: UnixStream, shared: &Shared) {
    let resp = match read_request(&stream) {
        Ok(req) => shared.handle(req),
        Err(resp) => {
            if let Response::Error { kind, .. } = &resp {
                shared.metrics.error(*kind);
            }
            resp
        }
    };
    if let Err(e) = write_response(&stream, &resp) {
        debug!(error = %e, "could not answer a plugin (it went away?)");
    }
}

fn read_request(stream: &UnixStream) -> Result<Request, Response> {
    let invalid = |message: String| Response::Error {
        kind: ErrorKind::InvalidRequest,
        message,
    };
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| invalid(format!("socket setup: {e}")))?;
    let mut line = Vec::new();
    let mut reader = BufReader::new(stream.take(MAX_REQUEST_BYTES + 1));
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| invalid(format!("reading the request failed: {e}")))?;
    if line.len() as u64 > MAX_REQUEST_BYTES {
        return Err(invalid(format!(
            "request longer than {MAX_REQUEST_BYTES} bytes"
        )));
    }
    serde_json::from_slice(&line)
        .map_err(|e| invalid(format!("request is not a valid request line: {e}")))
}

fn write_response(mut stream: &UnixStream, resp: &Response) -> std::io::Result<()> {
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut line = serde_json::to_vec(resp).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    stream.flush()
}
