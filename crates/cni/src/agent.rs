//! The plugins' side of the agent contract ([`agent_api`]): one call per request, typed
//! answers, errors as [`Error::Agent`] (mapped to CNI codes in [`crate::error`]).
use std::net::Ipv6Addr;
use std::path::Path;
use std::time::Duration;

use agent_api::{Allocation, AttachmentKey, ClientError, NodeStatus, Request, Response};

use crate::error::Error;

/// Bound for each read and write on the agent socket.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// One call. An agent that closes the connection without answering (it was killed or
/// restarted mid-request) is an I/O failure, "try again later" (CNI 11), not a bad answer.
fn call(socket: &Path, req: &Request) -> Result<Response, ClientError> {
    let op = match req {
        Request::Add { .. } => "add",
        Request::Del { .. } => "del",
        Request::List => "list",
        Request::Gc { .. } => "gc",
        Request::Status => "status",
    };
    dataplane::trace::span(
        || format!("agent {op} (round trip)"),
        || agent_api::call(socket, req, TIMEOUT),
    )
    .map_err(|e| match e {
        ClientError::Decode(d) if d.is_eof() => ClientError::Io {
            path: socket.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the agent closed the connection without answering (it stopped or restarted); retry",
            ),
        },
        other => other,
    })
}

fn unexpected(asked: &'static str, got: &Response) -> Error {
    Error::Agent(ClientError::Unexpected {
        asked,
        got: format!("{got:?}"),
    })
}

/// Allocate (idempotently) the attachment's address.
pub fn add(socket: &Path, key: AttachmentKey, netns: Option<String>) -> Result<Ipv6Addr, Error> {
    match call(socket, &Request::Add { key, netns }).map_err(Error::Agent)? {
        Response::Added { allocation } => Ok(allocation.address),
        other => Err(unexpected("add", &other)),
    }
}

/// Release the attachment's address (idempotent).
pub fn del(socket: &Path, key: AttachmentKey) -> Result<Option<Ipv6Addr>, Error> {
    match call(socket, &Request::Del { key }).map_err(Error::Agent)? {
        Response::Deleted { released } => Ok(released),
        other => Err(unexpected("del", &other)),
    }
}

/// Every live allocation.
pub fn list(socket: &Path) -> Result<Vec<Allocation>, Error> {
    match call(socket, &Request::List).map_err(Error::Agent)? {
        Response::List { allocations } => Ok(allocations),
        other => Err(unexpected("list", &other)),
    }
}

/// Release every allocation of `network` not in `valid`.
pub fn gc(
    socket: &Path,
    network: String,
    valid: Vec<AttachmentKey>,
) -> Result<Vec<Allocation>, Error> {
    match call(socket, &Request::Gc { network, valid }).map_err(Error::Agent)? {
        Response::Gc { released } => Ok(released),
        other => Err(unexpected("gc", &other)),
    }
}

/// The node's status; any failure is [`Error::AgentUnavailable`] (CNI 50).
pub fn status(socket: &Path) -> Result<NodeStatus, Error> {
    match call(socket, &Request::Status).map_err(Error::AgentUnavailable)? {
        Response::Status { status } => Ok(status),
        other => Err(Error::AgentUnavailable(ClientError::Unexpected {
            asked: "status",
            got: format!("{other:?}"),
        })),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;

    use super::*;

    #[test]
    fn an_agent_that_hangs_up_without_answering_is_try_again_later() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        let t = std::thread::spawn(move || {
            // Read the request, then close without a word: what a killed agent does.
            let (s, _) = listener.accept().unwrap();
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
        });
        let key = AttachmentKey {
            network: "n".into(),
            container_id: "c".into(),
            ifname: "eth0".into(),
        };
        let err = add(&sock, key, None).unwrap_err();
        t.join().unwrap();
        assert_eq!(err.code(), crate::error::code::TRY_AGAIN_LATER, "{err}");
        assert!(err.to_string().contains("without answering"), "{err}");
    }
}
