//! Durable record of the node's pod allocations, behind a narrow trait.
//!
//! The agent's in-memory [`PodPool`](addressing::pods::PodPool) is rebuilt from this record at
//! start, so the record is the truth: an allocation is written here (and durable) **before** the
//! agent answers the plugin, and a release is written here before the agent says it is done.
//!
//! Two implementations: [`RedbStore`] (an embedded, crash-safe file; one fsynced transaction per
//! change) and [`MemStore`] (tests). Both enforce the same rule inside the write itself: an
//! address is held by at most one attachment and an attachment holds at most one address, so
//! even a bug in the pool could not hand an address out twice.

mod redb_store;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use agent_api::{Allocation, AttachmentKey};

use crate::prefix::NodeFacts;

pub use redb_store::{RedbStore, STORE_FILE};

/// A released address, waiting in (or past) its cooldown until it is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub address: Ipv6Addr,
    /// When it was released, in milliseconds since the Unix epoch.
    pub released_at_ms: u64,
}

/// Everything the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The node's addressing facts, once recorded.
    pub node: Option<NodeFacts>,
    /// Live allocations, sorted by key.
    pub allocations: Vec<Allocation>,
    /// Released addresses not reused yet, sorted by address.
    pub released: Vec<Released>,
}

/// The answer of [`Store::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Recorded durably; the address may be handed out.
    Reserved,
    /// Another attachment holds the address; nothing was written.
    AddressTaken { holder: AttachmentKey },
    /// The attachment already holds an address; nothing was written.
    KeyHeld { existing: Allocation },
}

/// Failures of the durable store. Each names the file or value involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the agent state file {path}: {source}; check that the data dir exists, is \
         writable, and that no other `sixfold agent` uses it"
    )]
    Open {
        path: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
    #[error("agent state file {path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: Box<redb::Error>,
    },
    #[error(
        "agent state file {path} has format {found}, this agent reads format {expected}; use the \
         agent version that wrote it or move the file away"
    )]
    Format {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("agent state file {path} holds an unreadable {what} record ({value:?}): {detail}")]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        value: String,
        detail: String,
    },
    #[error("the in-memory store refused the write (injected failure)")]
    Injected,
}

/// The durable record of pod allocations. Every method that changes something is one atomic,
/// durable transaction: when it returns `Ok`, the change survives `kill -9` and power loss; when
/// it returns `Err`, nothing changed.
pub trait Store: Send {
    /// Everything recorded.
    fn list(&self) -> Result<Snapshot, StoreError>;
    /// Record the node's prefix and IPv4 (replaces the previous record).
    fn record_node(&mut self, node: &NodeFacts) -> Result<(), StoreError>;
    /// Atomically check that neither the address nor the key is held, then record the
    /// allocation (and forget the address's release record, if any).
    fn reserve(&mut self, alloc: &Allocation) -> Result<Reservation, StoreError>;
    /// Atomically remove the allocations of `keys` (unknown keys are skipped) and record their
    /// addresses as released at `at_ms`. Returns what was removed.
    fn release(
        &mut self,
        keys: &[AttachmentKey],
        at_ms: u64,
    ) -> Result<Vec<Allocation>, StoreError>;
    /// Start a batch: the changes until [`Store::commit_batch`] share one transaction and so
    /// one fsync (group commit). Stores whose changes are durable one by one do nothing.
    fn begin_batch(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Commit the batch durably. On an error nothing of the batch is kept, and every change
    /// reported inside it must be taken back by the caller (the store is the truth).
    fn commit_batch(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// An in-memory [`Store`] with the same rules, for tests. Clones share one record, so a clone
/// handed to a second [`NodeState`](crate::node::NodeState) behaves like reopening the file.
/// Can be told to fail writes, and to hold batch commits (as a slow fsync would) until let go.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    inner: Arc<Mutex<MemInner>>,
    gate: Arc<CommitGate>,
}

/// Holds batch commits while `held`; counts the commits that went through.
#[derive(Debug, Default)]
struct CommitGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    held: bool,
    /// A commit is waiting at the gate.
    waiting: bool,
    commits: u64,
}

/// Longest a held commit waits before going through anyway (keeps a broken test bounded).
const GATE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Clone)]
struct MemInner {
    node: Option<NodeFacts>,
    allocations: BTreeMap<AttachmentKey, Allocation>,
    holders: BTreeMap<Ipv6Addr, AttachmentKey>,
    released: BTreeMap<Ipv6Addr, u64>,
    fail_writes: bool,
    fail_commits: bool,
    /// The record as it was when the open batch began (restored if its commit fails).
    before_batch: Option<Box<MemInner>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Make every following write fail with [`StoreError::Injected`] (or succeed again).
    pub fn fail_writes(&self, fail: bool) {
        self.lock().fail_writes = fail;
    }

    /// Make every following batch commit fail (dropping the batch) or succeed again.
    pub fn fail_commits(&self, fail: bool) {
        self.lock().fail_commits = fail;
    }

    /// Hold every following batch commit (until `hold_commits(false)`), or let them go.
    pub fn hold_commits(&self, hold: bool) {
        self.gate_state().held = hold;
        self.gate.changed.notify_all();
    }

    /// Wait (at most `timeout`) until a batch commit is waiting at the held gate; whether one is.
    pub fn commit_waiting(&self, timeout: Duration) -> bool {
        let g = self.gate_state();
        let (g, _) = self
            .gate
            .changed
            .wait_timeout_while(g, timeout, |g| !g.waiting)
            .unwrap_or_else(|p| p.into_inner());
        g.waiting
    }

    /// Batch commits that went through (successful or failed) so far.
    pub fn commits(&self) -> u64 {
        self.gate_state().commits
    }

    fn gate_state(&self) -> MutexGuard<'_, GateState> {
        // Plain flags and a counter, never left half-updated: a poisoned lock is still usable.
        self.gate.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait while commits are held (at most [`GATE_TIMEOUT`]), then count this commit.
    fn pass_gate(&self) {
        let mut g = self.gate_state();
        g.waiting = true;
        self.gate.changed.notify_all();
        let (mut g, _) = self
            .gate
            .changed
            .wait_timeout_while(g, GATE_TIMEOUT, |g| g.held)
            .unwrap_or_else(|p| p.into_inner());
        g.waiting = false;
        g.commits += 1;
    }

    fn lock(&self) -> MutexGuard<'_, MemInner> {
        // A panic while holding this lock can only come from a test assertion; the data is
        // plain maps that are never left half-updated, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn writable(&self) -> Result<MutexGuard<'_, MemInner>, StoreError> {
        let g = self.lock();
        if g.fail_writes {
            Err(StoreError::Injected)
        } else {
            Ok(g)
        }
    }
}

impl Store for MemStore {
    fn begin_batch(&mut self) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.before_batch.is_none() {
            let snapshot = Box::new(MemInner {
                before_batch: None,
                ..g.clone()
            });
            g.before_batch = Some(snapshot);
        }
        Ok(())
    }

    fn commit_batch(&mut self) -> Result<(), StoreError> {
        self.pass_gate();
        let mut g = self.lock();
        let before = g.before_batch.take();
        if g.fail_commits
            && let Some(before) = before
        {
            let (fw, fc) = (g.fail_writes, g.fail_commits);
            *g = *before;
            (g.fail_writes, g.fail_commits) = (fw, fc);
            return Err(StoreError::Injected);
        }
        Ok(())
    }

    fn list(&self) -> Result<Snapshot, StoreError> {
        let g = self.lock();
        Ok(Snapshot {
            node: g.node.clone(),
            allocations: g.allocations.values().cloned().collect(),
            released: g
                .released
                .iter()
                .map(|(&address, &released_at_ms)| Released {
                    address,
                    released_at_ms,
                })
                .collect(),
        })
    }

    fn record_node(&mut self, node: &NodeFacts) -> Result<(), StoreError> {
        self.writable()?.node = Some(node.clone());
        Ok(())
    }

    fn reserve(&mut self, alloc: &Allocation) -> Result<Reservation, StoreError> {
        let mut g = self.writable()?;
        if let Some(existing) = g.allocations.get(&alloc.key) {
            return Ok(Reservation::KeyHeld {
                existing: existing.clone(),
            });
        }
        if let Some(holder) = g.holders.get(&alloc.address) {
            return Ok(Reservation::AddressTaken {
                holder: holder.clone(),
            });
        }
        g.released.remove(&alloc.address);
        g.holders.insert(alloc.address, alloc.key.clone());
        g.allocations.insert(alloc.key.clone(), alloc.clone());
        Ok(Reservation::Reserved)
    }

    fn release(
        &mut self,
        keys: &[AttachmentKey],
        at_ms: u64,
    ) -> Result<Vec<Allocation>, StoreError> {
        let mut g = self.writable()?;
        let mut out = Vec::new();
        for key in keys {
            if let Some(alloc) = g.allocations.remove(key) {
                g.holders.remove(&alloc.address);
                g.released.insert(alloc.address, at_ms);
                out.push(alloc);
            }
        }
        Ok(out)
    }
}

/// The behaviour both stores must share; run against each implementation by their tests.
#[cfg(test)]
pub(crate) fn check_store_contract(store: &mut dyn Store) {
    use std::net::Ipv4Addr;
    let key = |c: &str| AttachmentKey {
        network: "sixfold".into(),
        container_id: c.into(),
        ifname: "eth0".into(),
    };
    let addr = |n: u16| Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0xabcd, 0, 0, n);
    let alloc = |c: &str, n| Allocation {
        key: key(c),
        address: addr(n),
        netns: Some(format!("/run/netns/{c}")),
    };

    assert_eq!(store.list().unwrap(), Snapshot::default());
    let facts = NodeFacts {
        prefix: "2001:db8:0:1:abcd::/80".parse().unwrap(),
        node_ipv4: Ipv4Addr::new(10, 0, 0, 5),
        node_ipv6: None,
        eni_id: Some("eni-1".into()),
    };
    store.record_node(&facts).unwrap();
    assert_eq!(
        store.reserve(&alloc("a", 1)).unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve(&alloc("b", 2)).unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve(&alloc("c", 1)).unwrap(),
        Reservation::AddressTaken { holder: key("a") }
    );
    assert_eq!(
        store.reserve(&alloc("a", 3)).unwrap(),
        Reservation::KeyHeld {
            existing: alloc("a", 1)
        }
    );
    let gone = store.release(&[key("a"), key("zzz")], 5_000).unwrap();
    assert_eq!(gone, vec![alloc("a", 1)]);
    assert_eq!(store.release(&[key("a")], 6_000).unwrap(), vec![]);
    let snap = store.list().unwrap();
    assert_eq!(snap.node, Some(facts));
    assert_eq!(snap.allocations, vec![alloc("b", 2)]);
    assert_eq!(
        snap.released,
        vec![Released {
            address: addr(1),
            released_at_ms: 5_000
        }]
    );
    // Reusing a released address forgets its release record.
    assert_eq!(
        store.reserve(&alloc("d", 1)).unwrap(),
        Reservation::Reserved
    );
    let snap = store.list().unwrap();
    assert_eq!(snap.allocations, vec![alloc("b", 2), alloc("d", 1)]);
    assert_eq!(snap.released, vec![]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_store_keeps_the_store_contract() {
        check_store_contract(&mut MemStore::new());
    }

    #[test]
    fn mem_store_injected_failure_changes_nothing() {
        let mut s = MemStore::new();
        s.fail_writes(true);
        let a = Allocation {
            key: AttachmentKey {
                network: "n".into(),
                container_id: "c".into(),
                ifname: "eth0".into(),
            },
            address: "2001:db8::1".parse().unwrap(),
            netns: None,
        };
        assert!(matches!(s.reserve(&a), Err(StoreError::Injected)));
        assert_eq!(s.list().unwrap(), Snapshot::default());
    }
}
