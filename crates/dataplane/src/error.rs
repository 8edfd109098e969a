//! The dataplane's one error type. "Not found" and "already exists" are variants you can match
//! so that teardown stays idempotent and setup can tell a conflict from a failure.
use std::io;
use std::path::PathBuf;

/// Everything the dataplane can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object (link, address, route, neighbour, table) does not exist.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The object already exists.
    #[error("{what} already exists; delete it first or pick another name")]
    Exists { what: String },
    /// A netlink request failed for another reason.
    #[error("netlink {op} failed: {source}{}", ext.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Netlink {
        op: String,
        /// The kernel's extended ack message, when it sent one.
        ext: Option<String>,
        #[source]
        source: io::Error,
    },
    /// The kernel answered something this client cannot parse.
    #[error("malformed netlink answer to {op}: {detail}")]
    Malformed { op: String, detail: String },
    /// The network namespace does not exist (any more).
    #[error(
        "network namespace {path} is gone (not found or not a namespace); it was deleted or never created"
    )]
    NetnsGone { path: PathBuf },
    /// Entering or opening a network namespace failed.
    #[error("cannot use network namespace {path}: {source}")]
    Netns {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A sysctl could not be read or written.
    #[error("sysctl {key}: {source}")]
    Sysctl {
        key: String,
        #[source]
        source: io::Error,
    },
    /// A name, value or address is not acceptable.
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    /// `nft` failed or could not be run.
    #[error(
        "nft {what}: {detail}; is the `nft` binary (nftables) installed and the kernel's nf_tables available?"
    )]
    Nft { what: String, detail: String },
}

impl Error {
    /// True for [`Error::NotFound`] and [`Error::NetnsGone`]: the thing to tear down is gone.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. } | Error::NetnsGone { .. })
    }

    /// True for [`Error::Exists`].
    pub fn is_exists(&self) -> bool {
        matches!(self, Error::Exists { .. })
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
