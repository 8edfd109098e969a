//! The sixfold node agent: owns the node's delegated IPv6 /80 and hands each pod attachment a
//! /128 from it, over the Unix-socket contract of [`agent_api`].
//!
//! - [`config`]: [`AgentConfig`], flattenable into the `sixfold agent` command;
//! - [`prefix`]: where the /80 comes from ([`PrefixSource`]; [`ec2`] is the real one);
//! - [`store`]: the durable record ([`Store`], redb and in-memory);
//! - [`node`]: the request handler over the pool and the store;
//! - [`server`]: the socket server; [`metrics`]: Prometheus text and `/v1/status`;
//! - [`host`]: node set-up (sysctls, egress table, CNI conflist);
//! - [`install`]: the init container's part on a real node (`sixfold install-cni`).
//!
//! Start-up order ([`start`]): open the store → bind the socket and the metrics listener
//! (requests are answered `not_ready` meanwhile) → acquire the prefix (once; retried on transient
//! EC2 errors) → rebuild the pool from the store → release allocations whose netns is gone →
//! set up the node and write the conflist → ready.
//!
//! Shutdown is crash-only: every acknowledged change is already durable, so `SIGTERM`/`SIGKILL`
//! at any point is safe; the next start replaces the stale socket and rebuilds from the store.

pub mod config;
pub mod ec2;
pub mod host;
pub mod install;
pub mod metrics;
pub mod node;
pub mod prefix;
pub mod server;
pub mod store;

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use addressing::pods::{PodPool, PoolError};
use tracing::{info, warn};

pub use config::{AgentConfig, SocketMode};
pub use host::{ConflistOnly, ConflistSettings, HostSetup, SystemHost};
pub use node::NodeState;
pub use prefix::{Denial, NodeFacts, PrefixSource, StaticPrefix};
pub use store::{MemStore, RedbStore, Store};

use crate::server::Shared;

/// How many times the prefix is asked for when EC2 fails transiently, and the first back-off.
const ACQUIRE_ATTEMPTS: u32 = 5;
const ACQUIRE_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between two attempts while EC2 refuses (so a granted policy is seen within
/// this plus one call).
const DENIED_BACKOFF_CAP: Duration = Duration::from_secs(8);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot create the agent data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Socket(#[from] server::SocketError),
    #[error(
        "cannot listen for metrics on {addr}: {source}; pick another --metrics-addr (port 0 picks a free one)"
    )]
    Metrics {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot acquire the node's IPv6 prefix: {0}")]
    Prefix(#[from] prefix::PrefixError),
    #[error("the node's prefix cannot be used: {0}")]
    Pool(#[from] PoolError),
    #[error("cannot rebuild the agent state: {0}")]
    Restore(#[from] node::RestoreError),
    #[error("releasing allocations whose netns is gone failed: {0}")]
    Reconcile(#[source] node::HandleError),
    #[error("node set-up failed: {0}")]
    Setup(#[from] host::SetupError),
    #[error("cannot start the agent's {what} thread: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// A started agent: serving its socket and metrics until shut down (or dropped).
#[derive(Debug)]
pub struct RunningAgent {
    shared: Arc<Shared>,
    socket: PathBuf,
    metrics_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl RunningAgent {
    /// The socket the plugins call.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Where `/metrics` and `/v1/status` are served (the real port when configured with 0).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Answer one request in-process (what the socket does), e.g. for the CLI's `status`.
    pub fn handle(&self, req: agent_api::Request) -> agent_api::Response {
        let mut answers = self
            .shared
            .answer_batch(vec![(req, std::time::Instant::now())]);
        answers.pop().unwrap_or(agent_api::Response::Error {
            kind: agent_api::ErrorKind::Internal,
            message: "the agent gave no answer; retry".into(),
        })
    }

    /// Serve until the process ends.
    pub fn wait(mut self) {
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }
    }

    /// Stop serving, join the server threads and remove the socket file.
    pub fn shutdown(self) {
        drop(self);
    }

    fn stop_threads(&mut self) {
        if !self.threads.is_empty() {
            self.stop.store(true, Ordering::SeqCst);
            // Wake the socket's accept loop (a path, so this works from any network
            // namespace); the metrics loop polls `stop` by itself.
            let _ = UnixStream::connect(&self.socket);
            for t in std::mem::take(&mut self.threads) {
                let _ = t.join();
            }
            let _ = std::fs::remove_file(&self.socket);
        }
        // Close the store now (connection threads may still hold the `Arc` for a moment), so
        // the data dir can be opened again at once.
        let state = match self.shared.state.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        drop(state);
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// Start the agent with the given prefix source and node set-up; returns once it is ready.
/// See the crate docs for the order of steps.
pub fn start(
    config: &AgentConfig,
    source: &dyn PrefixSource,
    host: &dyn HostSetup,
) -> Result<RunningAgent, AgentError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .map_err(|source| AgentError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
    let store = RedbStore::open(&config.store_path())?;
    let recorded = store.list()?.node;

    let listener = server::bind_socket(&config.socket, config.socket_mode)?;
    let max_batch = usize::try_from(config.max_batch).unwrap_or(usize::MAX);
    let listener = server::EventLoop::new(listener, &config.socket, max_batch)?;
    let metrics = TcpListener::bind(config.metrics_addr).map_err(|source| AgentError::Metrics {
        addr: config.metrics_addr,
        source,
    })?;
    let metrics_addr = metrics.local_addr().map_err(|source| AgentError::Metrics {
        addr: config.metrics_addr,
        source,
    })?;
    let shared = Arc::new(Shared::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut agent = RunningAgent {
        shared: shared.clone(),
        socket: config.socket.clone(),
        metrics_addr,
        stop: stop.clone(),
        threads: Vec::new(),
    };
    let (sh, st) = (shared.clone(), stop.clone());
    agent.threads.push(
        std::thread::Builder::new()
            .name("agent-socket".into())
            .spawn(move || server::serve_unix(listener, &sh, &st))
            .map_err(|source| AgentError::Thread {
                what: "socket",
                source,
            })?,
    );
    let (sh, st) = (shared.clone(), stop);
    agent.threads.push(
        std::thread::Builder::new()
            .name("agent-metrics".into())
            .spawn(move || metrics::serve_http(metrics, sh, st))
            .map_err(|source| AgentError::Thread {
                what: "metrics",
                source,
            })?,
    );
    info!(socket = %config.socket.display(), mode = %config.socket_mode, metrics = %metrics_addr, "listening (not ready yet)");

    // On any error below, dropping `agent` stops the threads and removes the socket.
    let facts = acquire(source, recorded.as_ref(), &shared)?;
    info!(prefix = %facts.prefix, node_ipv4 = %facts.node_ipv4, eni = ?facts.eni_id, "node prefix");
    let cooldown_ms = u64::try_from(config.cooldown.as_millis()).unwrap_or(u64::MAX);
    let pool = PodPool::new(facts.prefix, cooldown_ms)?;
    let mut state = NodeState::open(facts.clone(), Box::new(store), pool)?;
    let gone = state
        .reconcile(server::now_ms(), netns_exists)
        .map_err(AgentError::Reconcile)?;
    if !gone.is_empty() {
        info!(
            released = gone.len(),
            "released allocations whose netns is gone"
        );
    }
    host.prepare(&facts)?;
    match shared.state.lock() {
        Ok(mut g) => *g = Some(state),
        // Only the request threads take this lock, and they never panic while holding it
        // before the state exists (they see `None` and answer `not_ready`).
        Err(p) => *p.into_inner() = Some(state),
    }
    info!(prefix = %facts.prefix, "agent ready");
    Ok(agent)
}

/// The reconcile rule's existence check: a netns path is gone only if the kernel says
/// "not found"; any other error (e.g. permissions) keeps the allocation.
fn netns_exists(p: &Path) -> bool {
    !matches!(std::fs::symlink_metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// Acquires the prefix: transient failures are retried [`ACQUIRE_ATTEMPTS`] times; a refusal
/// ([`prefix::PrefixError::denial`]) is reported (log, `/v1/status`, metrics, CNI answers) and
/// retried with back-off capped at [`DENIED_BACKOFF_CAP`] until it is lifted.
fn acquire(
    source: &dyn PrefixSource,
    recorded: Option<&NodeFacts>,
    shared: &Shared,
) -> Result<NodeFacts, prefix::PrefixError> {
    let mut backoff = ACQUIRE_BACKOFF;
    let mut attempt = 1;
    let mut denied_backoff = ACQUIRE_BACKOFF;
    loop {
        let err = match source.acquire(recorded) {
            Ok(f) => {
                let was = shared
                    .blocked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                shared.metrics.prefix_blocked.store(0, Ordering::Relaxed);
                if let Some(b) = was {
                    info!(
                        after_attempts = b.attempts,
                        "the refusal is lifted: the node has its prefix"
                    );
                }
                return Ok(f);
            }
            Err(e) => e,
        };
        if let Some(denial) = err.denial() {
            let now = server::now_ms();
            let wait = denied_backoff;
            denied_backoff = (denied_backoff * 2).min(DENIED_BACKOFF_CAP);
            shared
                .metrics
                .prefix_denials
                .fetch_add(1, Ordering::Relaxed);
            shared.metrics.prefix_blocked.store(1, Ordering::Relaxed);
            let identity = source.identity();
            let mut blocked = shared.blocked.lock().unwrap_or_else(|p| p.into_inner());
            let (since_ms, attempts) = match blocked.as_ref() {
                Some(b) => (b.since_ms, b.attempts + 1),
                None => (now, 1),
            };
            tracing::error!(
                action = %denial.action, code = %denial.code,
                identity = identity.as_deref().unwrap_or("-"), attempts,
                retry_in = ?wait, message = %denial.message, fix = %denial.fix,
                "EC2 refused the call the node prefix needs; pods get CNI 11 (try again later) until it is allowed"
            );
            *blocked = Some(server::Blocked {
                denial,
                identity,
                since_ms,
                attempts,
                next_attempt_ms: now + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            });
            drop(blocked);
            std::thread::sleep(wait);
            continue;
        }
        if err.retryable() && attempt < ACQUIRE_ATTEMPTS {
            warn!(error = %err, attempt, retry_in = ?backoff, "acquiring the node prefix failed; retrying");
            std::thread::sleep(backoff);
            backoff *= 2;
            attempt += 1;
            continue;
        }
        return Err(err);
    }
}

/// `sixfold agent`: start with the EC2 prefix source and the real node set-up, then serve
/// until the process is killed.
pub fn run(config: AgentConfig) -> Result<(), AgentError> {
    let source = ec2::Ec2PrefixSource::from_config(&config)?;
    let host = SystemHost {
        conflist: ConflistSettings::from_config(&config),
        random_fully: config.random_fully,
    };
    start(&config, &source, &host)?.wait();
    Ok(())
}
