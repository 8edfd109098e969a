//! The wire contract between the node agent (`sixfold agent`) and the CNI plugins.
//!
//! Transport: a Unix stream socket (default [`DEFAULT_SOCKET`]). The client writes exactly one
//! [`Request`] as a single line of JSON terminated by `\n`; the agent answers with exactly one
//! [`Response`] line and closes the connection. One request per connection keeps the plugin side
//! synchronous and trivial (no async runtime in the plugins) and makes every call independent.
//!
//! Every operation is idempotent: `add` for a (network, container id, interface) that already
//! holds an address returns that same address; `del` of something unknown succeeds with
//! `released: None`.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the agent listens unless configured otherwise.
pub const DEFAULT_SOCKET: &str = "/run/sixfold/agent.sock";

/// The key of one pod attachment, as CNI defines it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AttachmentKey {
    /// CNI network name (`name` of the conflist).
    pub network: String,
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
}

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Allocate (or return the existing) address for an attachment.
    Add {
        #[serde(flatten)]
        key: AttachmentKey,
        /// `CNI_NETNS`, recorded for reconciliation and introspection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        netns: Option<String>,
    },
    /// Release the attachment's address (it cools down before reuse). Idempotent.
    Del {
        #[serde(flatten)]
        key: AttachmentKey,
    },
    /// List every live allocation.
    List,
    /// Release every allocation of `network` whose key is not in `valid`.
    Gc {
        network: String,
        valid: Vec<AttachmentKey>,
    },
    /// The node's addressing facts.
    Status,
}

/// A live allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    #[serde(flatten)]
    pub key: AttachmentKey,
    /// The pod's /128.
    pub address: Ipv6Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

/// What the node looks like to a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The delegated /80, e.g. `2001:db8:0:1:abcd::/80`.
    pub prefix: String,
    /// The node's primary private IPv4 (the egress SNAT source).
    pub node_ipv4: Ipv4Addr,
    /// The node's primary IPv6, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ipv6: Option<Ipv6Addr>,
    pub allocated: u64,
    pub cooling: u64,
}

/// Error classes, mapped onto CNI error codes by the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request was malformed (CNI 7, invalid network config / args).
    InvalidRequest,
    /// No address left in the prefix (CNI 11, try again later).
    Exhausted,
    /// The agent is not ready yet (no prefix) (CNI 11).
    NotReady,
    /// Every connection slot of the agent is taken; retry shortly (CNI 11).
    Busy,
    /// Anything else (CNI 999).
    Internal,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Added { allocation: Allocation },
    Deleted { released: Option<Ipv6Addr> },
    List { allocations: Vec<Allocation> },
    Gc { released: Vec<Allocation> },
    Status { status: NodeStatus },
    Error { kind: ErrorKind, message: String },
}

/// Failures of the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the sixfold agent at {path}: {source}; is `sixfold agent` running on this node?"
    )]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to the sixfold agent at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the sixfold agent sent an answer that is not valid JSON: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("the sixfold agent refused: {message}")]
    Agent { kind: ErrorKind, message: String },
    #[error("the sixfold agent answered {got} to a {asked} request")]
    Unexpected { asked: &'static str, got: String },
}

/// Send one request and read one response. Blocking; `timeout` bounds each read and write.
pub fn call(socket: &Path, req: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let path = socket.display().to_string();
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: path.clone(),
        source,
    })?;
    let io = |source| ClientError::Io {
        path: path.clone(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    let written = stream.write_all(&line);
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    let read = reader.read_line(&mut answer);
    // An agent that answered before reading (it is busy) may have closed already, so the write
    // fails with a broken pipe while its answer waits to be read: the answer wins.
    if let Err(e) = written
        && (read.is_err() || answer.is_empty())
    {
        return Err(io(e));
    }
    read.map_err(io)?;
    let resp: Response = serde_json::from_str(answer.trim_end())?;
    if let Response::Error { kind, message } = resp {
        return Err(ClientError::Agent { kind, message });
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_flat_json() {
        let req = Request::Add {
            key: AttachmentKey {
                network: "sixfold".into(),
                container_id: "abc".into(),
                ifname: "eth0".into(),
            },
            netns: None,
        };
        let s = serde_json::to_string(&req).unwrap();
        assert_eq!(
            s,
            r#"{"op":"add","network":"sixfold","container_id":"abc","ifname":"eth0"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), req);
    }

    #[test]
    fn error_response_round_trips() {
        let r = Response::Error {
            kind: ErrorKind::Exhausted,
            message: "no address left in 2001:db8::/80".into(),
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&s).unwrap(), r);
    }
}
