//! The plugins' side of the agent contract ([`agent_api`]): one call per request, typed
//! answers, errors as [`Error::Agent`] (mapped to CNI codes in [`crate::error`]).
use std::net::Ipv6Addr;
use std::path::Path;
use std::time::Duration;

use agent_api::{Allocation, AttachmentKey, ClientError, NodeStatus, Request, Response};

use crate::error::Error;

/// Bound for each read and write on the agent socket.
pub const TIMEOUT: Duration = Duration::from_secs(5);

fn unexpected(asked: &'static str, got: &Response) -> Error {
    Error::Agent(ClientError::Unexpected {
        asked,
        got: format!("{got:?}"),
    })
}

/// Allocate (idempotently) the attachment's address.
pub fn add(socket: &Path, key: AttachmentKey, netns: Option<String>) -> Result<Ipv6Addr, Error> {
    match agent_api::call(socket, &Request::Add { key, netns }, TIMEOUT).map_err(Error::Agent)? {
        Response::Added { allocation } => Ok(allocation.address),
        other => Err(unexpected("add", &other)),
    }
}

/// Release the attachment's address (idempotent).
pub fn del(socket: &Path, key: AttachmentKey) -> Result<Option<Ipv6Addr>, Error> {
    match agent_api::call(socket, &Request::Del { key }, TIMEOUT).map_err(Error::Agent)? {
        Response::Deleted { released } => Ok(released),
        other => Err(unexpected("del", &other)),
    }
}

/// Every live allocation.
pub fn list(socket: &Path) -> Result<Vec<Allocation>, Error> {
    match agent_api::call(socket, &Request::List, TIMEOUT).map_err(Error::Agent)? {
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
    match agent_api::call(socket, &Request::Gc { network, valid }, TIMEOUT).map_err(Error::Agent)? {
        Response::Gc { released } => Ok(released),
        other => Err(unexpected("gc", &other)),
    }
}

/// The node's status; any failure is [`Error::AgentUnavailable`] (CNI 50).
pub fn status(socket: &Path) -> Result<NodeStatus, Error> {
    match agent_api::call(socket, &Request::Status, TIMEOUT).map_err(Error::AgentUnavailable)? {
        Response::Status { status } => Ok(status),
        other => Err(Error::AgentUnavailable(ClientError::Unexpected {
            asked: "status",
            got: format!("{other:?}"),
        })),
    }
}
