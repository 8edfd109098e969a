//! The request handler: the node's live allocations, its [`PodPool`] and its [`Store`], and the
//! one place where the agent's failures become wire errors ([`HandleError::kind`]).
//!
//! Pure apart from the store: the clock comes in as `now_ms`, the netns check as a closure.
//! Order of every change: pick in memory → write durably → only then update memory and answer.
//! A failed write leaves memory as it was (a freshly picked address goes straight back).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use addressing::pods::{PodPool, PoolError};
use agent_api::{Allocation, AttachmentKey, ErrorKind, NodeStatus, Request, Response};
use tracing::{error, info, warn};

use crate::prefix::NodeFacts;
use crate::store::{Reservation, Store, StoreError};

/// Longest CNI network name, container id or netns path accepted.
const MAX_FIELD: usize = 1024;
/// Linux interface names are at most 15 bytes.
const MAX_IFNAME: usize = 15;

/// Failures of one request, each mapped onto a wire [`ErrorKind`] by [`HandleError::kind`].
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("invalid {field} {value:?}: {why}")]
    Invalid {
        field: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(transparent)]
    Exhausted(PoolError),
    #[error("recording the change failed, nothing was changed: {0}")]
    Store(#[from] StoreError),
    #[error(
        "address {address} is recorded for {holder:?} but the agent believed it free; restart the \
         agent to rebuild its state from the store"
    )]
    Diverged {
        address: std::net::Ipv6Addr,
        holder: AttachmentKey,
    },
    #[error("internal pool error: {0}")]
    Pool(PoolError),
}

impl HandleError {
    /// The wire class of this failure. The single mapping from agent errors to the protocol.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HandleError::Invalid { .. } => ErrorKind::InvalidRequest,
            HandleError::Exhausted(_) => ErrorKind::Exhausted,
            HandleError::Store(_) | HandleError::Diverged { .. } | HandleError::Pool(_) => {
                ErrorKind::Internal
            }
        }
    }
}

/// Failures of rebuilding the node's state from the store.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the agent state records prefix {recorded} but the node's prefix is now {current}; the \
         data dir belongs to another node: move it away to start afresh"
    )]
    PrefixChanged {
        recorded: ipnet::Ipv6Net,
        current: ipnet::Ipv6Net,
    },
    #[error(
        "the agent state holds {address} for {what} but it cannot be restored: {source}; move the data dir away"
    )]
    Inconsistent {
        address: std::net::Ipv6Addr,
        what: String,
        #[source]
        source: PoolError,
    },
}

/// The node's allocation state. Not thread-safe by itself: the server keeps it in a mutex.
pub struct NodeState {
    facts: NodeFacts,
    pool: PodPool,
    /// The pool as it was before anything was marked, to rebuild from the store.
    empty_pool: PodPool,
    allocations: BTreeMap<AttachmentKey, Allocation>,
    store: Box<dyn Store>,
}

impl std::fmt::Debug for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeState")
            .field("facts", &self.facts)
            .field("allocations", &self.allocations.len())
            .finish_non_exhaustive()
    }
}

impl NodeState {
    /// Rebuild from `store`: check the recorded prefix, record `facts`, mark every recorded
    /// allocation used and every recorded release cooling in `pool` (an empty pool over
    /// `facts.prefix`).
    pub fn open(
        facts: NodeFacts,
        mut store: Box<dyn Store>,
        pool: PodPool,
    ) -> Result<Self, RestoreError> {
        let snap = store.list()?;
        if let Some(rec) = snap.node.as_ref().filter(|r| r.prefix != facts.prefix) {
            return Err(RestoreError::PrefixChanged {
                recorded: rec.prefix,
                current: facts.prefix,
            });
        }
        if snap.node.as_ref() != Some(&facts) {
            store.record_node(&facts)?;
        }
        let empty_pool = pool.clone();
        let (pool, allocations) = restore(&*store, pool)?;
        info!(prefix = %facts.prefix, allocations = allocations.len(), "restored node state");
        Ok(Self {
            facts,
            pool,
            empty_pool,
            allocations,
            store,
        })
    }

    /// Answer a batch of requests with one store transaction (group commit: one fsync for
    /// all). Answers are final only once the batch is durable; if its commit fails, every
    /// request of the batch is answered `internal` and the state is rebuilt from the store,
    /// which kept nothing of the batch.
    pub fn handle_batch(&mut self, reqs: Vec<Request>, now_ms: u64) -> Vec<Response> {
        let n = reqs.len();
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            vec![
                Response::Error {
                    kind: ErrorKind::Internal,
                    message: format!("{what}: {e}; retry"),
                };
                n
            ]
        };
        if let Err(e) = self.store.begin_batch() {
            error!(error = %e, "cannot start a store batch");
            return failed("the agent could not write its state", &e);
        }
        let answers: Vec<Response> = reqs.into_iter().map(|r| self.handle(r, now_ms)).collect();
        match self.store.commit_batch() {
            Ok(()) => answers,
            Err(e) => {
                error!(error = %e, requests = n, "a store batch failed; rebuilding from the store");
                if let Err(r) = self.reload() {
                    error!(error = %r, "rebuilding the state from the store failed");
                }
                failed("the agent could not make its state durable", &e)
            }
        }
    }

    /// Rebuild the pool and the allocations from the store (the truth).
    fn reload(&mut self) -> Result<(), RestoreError> {
        let (pool, allocations) = restore(&*self.store, self.empty_pool.clone())?;
        self.pool = pool;
        self.allocations = allocations;
        Ok(())
    }

    /// The node's facts.
    pub fn facts(&self) -> &NodeFacts {
        &self.facts
    }

    /// Live allocations, sorted by key.
    pub fn allocations(&self) -> Vec<Allocation> {
        self.allocations.values().cloned().collect()
    }

    /// The status a plugin sees.
    pub fn status(&self, now_ms: u64) -> NodeStatus {
        NodeStatus {
            prefix: self.facts.prefix.to_string(),
            node_ipv4: self.facts.node_ipv4,
            node_ipv6: self.facts.node_ipv6,
            allocated: self.pool.live(),
            cooling: self.pool.cooling(now_ms),
        }
    }

    /// Answer one request at `now_ms`. Never panics on any input.
    pub fn handle(&mut self, req: Request, now_ms: u64) -> Response {
        let result = match req {
            Request::Add { key, netns } => self
                .add(key, netns, now_ms)
                .map(|allocation| Response::Added { allocation }),
            Request::Del { key } => self
                .del(&key, now_ms)
                .map(|released| Response::Deleted { released }),
            Request::List => Ok(Response::List {
                allocations: self.allocations(),
            }),
            Request::Gc { network, valid } => self
                .gc(&network, &valid, now_ms)
                .map(|released| Response::Gc { released }),
            Request::Status => Ok(Response::Status {
                status: self.status(now_ms),
            }),
        };
        result.unwrap_or_else(|e| {
            match e.kind() {
                ErrorKind::Internal => error!(error = %e, "request failed"),
                _ => warn!(error = %e, "request refused"),
            }
            Response::Error {
                kind: e.kind(),
                message: e.to_string(),
            }
        })
    }

    /// Allocate (or return the existing) address of `key`.
    pub fn add(
        &mut self,
        key: AttachmentKey,
        netns: Option<String>,
        now_ms: u64,
    ) -> Result<Allocation, HandleError> {
        validate_key(&key)?;
        if let Some(ns) = &netns {
            validate_netns(ns)?;
        }
        if let Some(existing) = self.allocations.get(&key) {
            return Ok(existing.clone());
        }
        let address = self.pool.allocate(now_ms).map_err(|e| match e {
            PoolError::Exhausted { .. } => HandleError::Exhausted(e),
            other => HandleError::Pool(other),
        })?;
        let alloc = Allocation {
            key,
            address,
            netns,
        };
        match self.store.reserve(&alloc) {
            Ok(Reservation::Reserved) => {
                info!(address = %address, container_id = %alloc.key.container_id, ifname = %alloc.key.ifname, "allocated");
                self.allocations.insert(alloc.key.clone(), alloc.clone());
                Ok(alloc)
            }
            Ok(Reservation::AddressTaken { holder }) => {
                // The store says someone holds it: keep it out of circulation (stays live).
                Err(HandleError::Diverged { address, holder })
            }
            Ok(Reservation::KeyHeld { existing }) => {
                self.give_back(address);
                self.allocations
                    .insert(existing.key.clone(), existing.clone());
                Ok(existing)
            }
            Err(e) => {
                self.give_back(address);
                Err(e.into())
            }
        }
    }

    /// Release the address of `key`, if it has one. Idempotent.
    pub fn del(
        &mut self,
        key: &AttachmentKey,
        now_ms: u64,
    ) -> Result<Option<std::net::Ipv6Addr>, HandleError> {
        if !self.allocations.contains_key(key) {
            return Ok(None);
        }
        let released = self.release(std::slice::from_ref(key), now_ms)?;
        Ok(released.first().map(|a| a.address))
    }

    /// Release every allocation of `network` whose key is not in `valid`.
    pub fn gc(
        &mut self,
        network: &str,
        valid: &[AttachmentKey],
        now_ms: u64,
    ) -> Result<Vec<Allocation>, HandleError> {
        check_name("network", network)?;
        let valid: HashSet<&AttachmentKey> = valid.iter().collect();
        let stale: Vec<AttachmentKey> = self
            .allocations
            .keys()
            .filter(|k| k.network == network && !valid.contains(k))
            .cloned()
            .collect();
        self.release(&stale, now_ms)
    }

    /// Release allocations whose recorded netns path is gone. The rule: an allocation is
    /// released only if it recorded a netns path and `exists` says that path no longer exists;
    /// allocations without a netns path, or whose path exists, are kept.
    pub fn reconcile(
        &mut self,
        now_ms: u64,
        exists: impl Fn(&Path) -> bool,
    ) -> Result<Vec<Allocation>, HandleError> {
        let gone: Vec<AttachmentKey> = self
            .allocations
            .values()
            .filter(|a| a.netns.as_deref().is_some_and(|ns| !exists(Path::new(ns))))
            .map(|a| a.key.clone())
            .collect();
        let released = self.release(&gone, now_ms)?;
        for a in &released {
            info!(address = %a.address, container_id = %a.key.container_id, netns = ?a.netns, "released: netns is gone");
        }
        Ok(released)
    }

    fn release(
        &mut self,
        keys: &[AttachmentKey],
        now_ms: u64,
    ) -> Result<Vec<Allocation>, HandleError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let released = self.store.release(keys, now_ms)?;
        for a in &released {
            self.allocations.remove(&a.key);
            if let Err(e) = self.pool.release(a.address, now_ms) {
                // The store and memory agreed on the holder; this cannot happen. Keep going:
                // the store is the truth and a restart rebuilds the pool from it.
                error!(error = %e, "pool disagreed with the store on a release");
            }
            info!(address = %a.address, container_id = %a.key.container_id, ifname = %a.key.ifname, "released");
        }
        Ok(released)
    }

    fn give_back(&mut self, address: std::net::Ipv6Addr) {
        if let Err(e) = self.pool.unallocate(address) {
            error!(error = %e, "could not return an unused address to the pool");
        }
    }
}

/// Mark every allocation the store records used and every recorded release cooling in `pool`.
fn restore(
    store: &dyn Store,
    mut pool: PodPool,
) -> Result<(PodPool, BTreeMap<AttachmentKey, Allocation>), RestoreError> {
    let snap = store.list()?;
    let mut allocations = BTreeMap::new();
    for a in snap.allocations {
        pool.mark_used(a.address)
            .map_err(|source| RestoreError::Inconsistent {
                address: a.address,
                what: format!("{:?}", a.key),
                source,
            })?;
        allocations.insert(a.key.clone(), a);
    }
    for r in snap.released {
        pool.mark_cooling(r.address, r.released_at_ms)
            .map_err(|source| RestoreError::Inconsistent {
                address: r.address,
                what: "a released address".into(),
                source,
            })?;
    }
    Ok((pool, allocations))
}

fn check_name(field: &'static str, value: &str) -> Result<(), HandleError> {
    let invalid = |why| {
        Err(HandleError::Invalid {
            field,
            value: value.to_owned(),
            why,
        })
    };
    if value.is_empty() {
        return invalid("must not be empty");
    }
    if value.len() > MAX_FIELD {
        return invalid("is longer than 1024 bytes");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return invalid("may only hold letters, digits, '_', '.' and '-' (CNI rule)");
    }
    Ok(())
}

fn validate_key(key: &AttachmentKey) -> Result<(), HandleError> {
    check_name("network", &key.network)?;
    check_name("container_id", &key.container_id)?;
    let ifname = &key.ifname;
    let invalid = |why| {
        Err(HandleError::Invalid {
            field: "ifname",
            value: ifname.clone(),
            why,
        })
    };
    if ifname.is_empty() || ifname.len() > MAX_IFNAME {
        return invalid("must be 1 to 15 bytes long");
    }
    if ifname == "."
        || ifname == ".."
        || ifname
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
    {
        return invalid("is not a valid Linux interface name");
    }
    Ok(())
}

fn validate_netns(ns: &str) -> Result<(), HandleError> {
    if ns.len() > MAX_FIELD || ns.contains('\0') {
        return Err(HandleError::Invalid {
            field: "netns",
            value: ns.chars().take(64).collect(),
            why: "must be a path of at most 1024 bytes without NUL",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::store::MemStore;

    const PREFIX: &str = "2001:db8:0:1:abcd::/80";

    fn facts() -> NodeFacts {
        NodeFacts {
            prefix: PREFIX.parse().unwrap(),
            node_ipv4: Ipv4Addr::new(10, 0, 1, 7),
            node_ipv6: None,
            eni_id: None,
        }
    }

    fn state_with(store: MemStore, limit: Option<u64>) -> NodeState {
        let mut pool = PodPool::new(PREFIX.parse().unwrap(), 30_000).unwrap();
        if let Some(l) = limit {
            pool = pool.with_limit(l).unwrap();
        }
        NodeState::open(facts(), Box::new(store), pool).unwrap()
    }

    fn key(c: &str) -> AttachmentKey {
        AttachmentKey {
            network: "sixfold".into(),
            container_id: c.into(),
            ifname: "eth0".into(),
        }
    }

    fn add(s: &mut NodeState, c: &str, now: u64) -> Response {
        s.handle(
            Request::Add {
                key: key(c),
                netns: Some(format!("/run/netns/{c}")),
            },
            now,
        )
    }

    fn addr_of(r: &Response) -> Ipv6Addr {
        match r {
            Response::Added { allocation } => allocation.address,
            other => panic!("not added: {other:?}"),
        }
    }

    #[test]
    fn add_is_idempotent_per_attachment() {
        let mut s = state_with(MemStore::new(), None);
        let a = addr_of(&add(&mut s, "c1", 0));
        assert_eq!(addr_of(&add(&mut s, "c1", 5)), a);
        let other = s.handle(
            Request::Add {
                key: AttachmentKey {
                    ifname: "net1".into(),
                    ..key("c1")
                },
                netns: None,
            },
            5,
        );
        assert_ne!(addr_of(&other), a);
        assert_eq!(s.status(5).allocated, 2);
    }

    #[test]
    fn del_is_idempotent_and_address_cools_down() {
        let mut s = state_with(MemStore::new(), Some(1));
        let a = addr_of(&add(&mut s, "c1", 0));
        assert_eq!(
            s.handle(Request::Del { key: key("c1") }, 1_000),
            Response::Deleted { released: Some(a) }
        );
        assert_eq!(
            s.handle(Request::Del { key: key("c1") }, 1_000),
            Response::Deleted { released: None }
        );
        assert_eq!(s.status(1_000).cooling, 1);
        match add(&mut s, "c2", 30_999) {
            Response::Error {
                kind: ErrorKind::Exhausted,
                message,
            } => assert!(message.contains(PREFIX), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(addr_of(&add(&mut s, "c2", 31_000)), a);
    }

    #[test]
    fn gc_releases_only_unlisted_attachments_of_the_network() {
        let mut s = state_with(MemStore::new(), None);
        add(&mut s, "keep", 0);
        add(&mut s, "drop", 0);
        let foreign = AttachmentKey {
            network: "other".into(),
            ..key("x")
        };
        s.handle(
            Request::Add {
                key: foreign.clone(),
                netns: None,
            },
            0,
        );
        let r = s.handle(
            Request::Gc {
                network: "sixfold".into(),
                valid: vec![key("keep")],
            },
            10,
        );
        match r {
            Response::Gc { released } => {
                assert_eq!(
                    released.iter().map(|a| a.key.clone()).collect::<Vec<_>>(),
                    vec![key("drop")]
                )
            }
            other => panic!("{other:?}"),
        }
        let Response::List { allocations } = s.handle(Request::List, 10) else {
            panic!()
        };
        let keys: Vec<_> = allocations.into_iter().map(|a| a.key).collect();
        assert_eq!(keys, vec![foreign, key("keep")]);
    }

    #[test]
    fn a_failed_batch_commit_answers_internal_to_all_and_keeps_nothing() {
        let store = MemStore::new();
        let mut s = state_with(store.clone(), None);
        let first = addr_of(&add(&mut s, "a", 0));
        let adds = |cs: &[&str]| -> Vec<Request> {
            cs.iter()
                .map(|c| Request::Add {
                    key: key(c),
                    netns: None,
                })
                .collect()
        };
        store.fail_commits(true);
        let answers = s.handle_batch(adds(&["b", "c"]), 1);
        assert_eq!(answers.len(), 2);
        for a in &answers {
            assert!(
                matches!(
                    a,
                    Response::Error {
                        kind: ErrorKind::Internal,
                        ..
                    }
                ),
                "{a:?}"
            );
        }
        assert_eq!(
            s.status(1).allocated,
            1,
            "memory was rebuilt from the store"
        );
        assert_eq!(store.list().unwrap().allocations.len(), 1);
        store.fail_commits(false);
        let answers = s.handle_batch(adds(&["b", "c", "b"]), 2);
        let got: Vec<Ipv6Addr> = answers.iter().map(addr_of).collect();
        assert_eq!(
            got[0], got[2],
            "the same key twice in one batch gets one address"
        );
        assert!(got[0] != got[1] && !got.contains(&first));
        assert_eq!(store.list().unwrap().allocations.len(), 3);
    }

    #[test]
    fn invalid_keys_are_refused_with_the_field_named() {
        let mut s = state_with(MemStore::new(), None);
        for (k, field) in [
            (
                AttachmentKey {
                    container_id: "".into(),
                    ..key("x")
                },
                "container_id",
            ),
            (
                AttachmentKey {
                    ifname: "a-very-long-interface".into(),
                    ..key("x")
                },
                "ifname",
            ),
            (
                AttachmentKey {
                    ifname: "eth/0".into(),
                    ..key("x")
                },
                "ifname",
            ),
            (
                AttachmentKey {
                    network: "bad name".into(),
                    ..key("x")
                },
                "network",
            ),
        ] {
            match s.handle(
                Request::Add {
                    key: k,
                    netns: None,
                },
                0,
            ) {
                Response::Error {
                    kind: ErrorKind::InvalidRequest,
                    message,
                } => {
                    assert!(message.contains(field), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(s.status(0).allocated, 0);
    }

    #[test]
    fn failed_write_changes_nothing_and_the_address_is_not_lost() {
        let store = MemStore::new();
        let mut s = state_with(store.clone(), Some(1));
        store.fail_writes(true);
        match add(&mut s, "c1", 0) {
            Response::Error {
                kind: ErrorKind::Internal,
                message,
            } => assert!(message.contains("nothing was changed")),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.status(0).allocated, 0);
        store.fail_writes(false);
        // The only address is available again at once (never handed out, so no cooldown).
        let a = addr_of(&add(&mut s, "c1", 0));
        store.fail_writes(true);
        assert!(matches!(
            s.handle(Request::Del { key: key("c1") }, 5),
            Response::Error {
                kind: ErrorKind::Internal,
                ..
            }
        ));
        assert_eq!(
            s.allocations().len(),
            1,
            "a failed release keeps the allocation"
        );
        store.fail_writes(false);
        assert_eq!(
            s.handle(Request::Del { key: key("c1") }, 5),
            Response::Deleted { released: Some(a) }
        );
    }

    #[test]
    fn state_is_rebuilt_from_the_store() {
        let store = MemStore::new();
        let mut s = state_with(store.clone(), Some(3));
        let a = addr_of(&add(&mut s, "a", 0));
        let b = addr_of(&add(&mut s, "b", 0));
        s.handle(Request::Del { key: key("a") }, 100);
        drop(s);
        // "Restart": a new state over the same record.
        let mut r = state_with(store, Some(3));
        assert_eq!(
            r.allocations()
                .iter()
                .map(|x| x.address)
                .collect::<Vec<_>>(),
            vec![b]
        );
        assert_eq!(r.status(100).cooling, 1);
        assert_eq!(
            addr_of(&add(&mut r, "b", 150)),
            b,
            "idempotent across restarts"
        );
        let c = addr_of(&add(&mut r, "c", 200));
        assert!(c != a && c != b);
        assert!(matches!(
            add(&mut r, "d", 200),
            Response::Error {
                kind: ErrorKind::Exhausted,
                ..
            }
        ));
        assert_eq!(addr_of(&add(&mut r, "d", 30_100)), a);
    }

    #[test]
    fn prefix_change_is_refused() {
        let mut store = MemStore::new();
        let mut other = facts();
        other.prefix = "2001:db8:0:1:beef::/80".parse().unwrap();
        store.record_node(&other).unwrap();
        let pool = PodPool::new(PREFIX.parse().unwrap(), 30_000).unwrap();
        let err = NodeState::open(facts(), Box::new(store), pool).unwrap_err();
        assert!(matches!(err, RestoreError::PrefixChanged { .. }), "{err}");
    }

    #[test]
    fn reconcile_releases_only_allocations_whose_netns_is_gone() {
        let mut s = state_with(MemStore::new(), None);
        add(&mut s, "alive", 0);
        add(&mut s, "dead", 0);
        s.handle(
            Request::Add {
                key: key("unknown-ns"),
                netns: None,
            },
            0,
        );
        let released = s
            .reconcile(10, |p| p != Path::new("/run/netns/dead"))
            .unwrap();
        assert_eq!(
            released.iter().map(|a| a.key.clone()).collect::<Vec<_>>(),
            vec![key("dead")]
        );
        assert_eq!(s.allocations().len(), 2);
    }
}
