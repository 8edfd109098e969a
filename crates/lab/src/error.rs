//! The lab's one error type: every variant names what failed and how to fix it.

use std::path::PathBuf;
use std::time::Duration;

/// Everything `up`, `down` and `status` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "the lab builds network namespaces and needs root; run it as root, e.g. `sudo {exe} up` (or `sudo bash scripts/up` from the repository)"
    )]
    NotRoot { exe: String },
    #[error(
        "lab name {name:?} is not allowed: use 1 to 12 lowercase letters and digits, starting with a letter"
    )]
    InvalidName { name: String },
    #[error("invalid flag {flag}: {detail}")]
    InvalidFlag { flag: &'static str, detail: String },
    #[error(
        "a lab named {name:?} already exists (state in {state_dir}); run `sixfold down --name {name}` first"
    )]
    Exists { name: String, state_dir: PathBuf },
    #[error(
        "no lab named {name:?} is up (no state file {path}); start one with `sixfold up --name {name}`"
    )]
    NoLab { name: String, path: PathBuf },
    #[error(
        "another sixfold command held the lab state lock {path} for {waited:?}; wait for it to finish (see `sixfold status`), or remove a stale lab with `sixfold down`"
    )]
    Locked { path: PathBuf, waited: Duration },
    #[error("{what} ({path}): {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the lab state file {path} is unreadable: {source}; `sixfold down` still removes the lab by its name"
    )]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: {source}")]
    Dataplane {
        what: String,
        #[source]
        source: dataplane::Error,
    },
    #[error("{what}: {source}")]
    Exec {
        what: String,
        #[source]
        source: dataplane::exec::ExecError,
    },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("the region refused {action}: {source}")]
    Ec2 {
        action: String,
        #[source]
        source: Box<ec2_client::Ec2Error>,
    },
    #[error("the region answered {action} with something unexpected: {detail}")]
    Reply { action: String, detail: String },
    #[error("cluster {cluster:?} at {endpoint}: {problem}; {fix}")]
    Adopt {
        cluster: String,
        endpoint: String,
        problem: String,
        fix: String,
    },
    #[error("EKS {op} failed: {detail}")]
    Eks { op: String, detail: String },
    #[error("ELBv2 {action} failed: {detail}")]
    Elb { action: String, detail: String },
    #[error("{what} did not happen within {waited:?}; see the logs in {logs}")]
    Timeout {
        what: String,
        waited: Duration,
        logs: PathBuf,
    },
    #[error(transparent)]
    Service(#[from] crate::services::ServiceError),
    #[error(transparent)]
    Pod(#[from] crate::podcmd::PodError),
    #[error("CNI {plugin} {command} for pod {pod} failed: {detail}")]
    Plugin {
        pod: String,
        plugin: String,
        command: &'static str,
        detail: String,
    },
    #[error(
        "cannot find {name}: looked in {looked}; build it with `cargo build -p cni -p sixfold` or pass --bin-dir"
    )]
    MissingBinary { name: String, looked: String },
    #[error("{failed} of {total} connectivity checks failed (see the matrix above)")]
    Matrix { failed: usize, total: usize },
    #[error("teardown left things behind: {0}")]
    Teardown(String),
}

impl LabError {
    /// A dataplane error with context.
    pub(crate) fn dp(what: impl Into<String>) -> impl FnOnce(dataplane::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Dataplane { what, source }
    }

    /// An I/O error with context.
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.into();
        move |source| LabError::Io { what, path, source }
    }
}

/// The lab's result type.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
