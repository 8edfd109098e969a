//! Durable storage behind a narrow trait: load everything at start, commit each operation's
//! changed rows atomically, and number the commits. Every commit gets the next **revision**
//! (monotonically increasing); the store keeps a bounded log of recent commits so a follower
//! can replay the changes after a revision (the region's change feed), and answers
//! [`StoreError::Compacted`] for revisions older than the log, like etcd.
//!
//! The embedded default is redb (one file under the data dir, fsynced on every commit, see
//! [`redb`]);
//! `MemStore` serves tests; the `region-etcd` crate keeps the same rows in etcd for several
//! replicas ([`Store::shared`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

mod redb;

pub use self::redb::RedbStore;

/// One changed row: `value: None` deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The table (resource kind, e.g. `vpcs`).
    pub table: String,
    /// The row's key (the resource's id or name).
    pub key: String,
    /// The new value (JSON), or `None` to delete the row.
    pub value: Option<Vec<u8>>,
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The table.
    pub table: String,
    /// The row's key.
    pub key: String,
    /// The row's value (JSON).
    pub value: Vec<u8>,
}

/// Every row at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Every row.
    pub records: Vec<Record>,
    /// The revision of the last commit the rows include (0: nothing was ever committed).
    pub revision: u64,
}

/// One committed change and the revision of the commit it belongs to (all changes of one
/// commit share its revision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The revision of the commit that made the change.
    pub revision: u64,
    /// The change.
    pub change: Change,
}

/// Changes after a revision: `events` (whole commits, oldest first) are every change with
/// `since < revision <= through`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// The changes, in revision order.
    pub events: Vec<Event>,
    /// The revision the list is complete through.
    pub through: u64,
}

/// Why the store failed. `Unreadable` and `Locked` happen at open; the others on a running
/// region.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store file exists but cannot be used; it is left exactly as found.
    #[error(
        "the region store {path} cannot be read: {reason}. It was left untouched: restore it from a backup, or move it away to start an empty region"
    )]
    Unreadable {
        /// The store file.
        path: PathBuf,
        /// What could not be read.
        reason: String,
    },
    /// Another process holds the store open.
    #[error(
        "the region store {path} is open in another process; is another `sixfold serve` using this data dir?"
    )]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// An I/O error of the store while running; the message says what failed.
    #[error("region store I/O failed: {0}")]
    Io(String),
    /// A stored row that does not parse.
    #[error("region store holds a row that cannot be read ({table}/{key}): {message}")]
    Corrupt {
        /// Its table.
        table: String,
        /// Its key.
        key: String,
        /// Why it does not parse.
        message: String,
    },
    /// The shared store cannot be reached (etcd down, no quorum): retry later. Never a wrong
    /// answer: the request changed nothing.
    #[error("the region's store is unavailable: {0}; retry when it is back")]
    Unavailable(String),
    /// Another replica committed since this one last read: catch up and run the operation again.
    #[error("another replica committed first (the store moved past revision {base})")]
    Conflict {
        /// The revision this replica had read.
        base: u64,
    },
    /// The log no longer holds the changes after `requested`.
    #[error(
        "revision {requested} has been compacted: the change log starts after revision {compacted}; re-list the region (GET /sixfold/v1/snapshot) and watch from its revision"
    )]
    Compacted {
        /// The revision asked for.
        requested: u64,
        /// The newest revision the log has dropped.
        compacted: u64,
    },
}

/// A catch-up read of a shared store, all at one `revision`: every row written after the
/// cached revision, and the keys of every row (a cached row missing from them was deleted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowsSince {
    /// Rows written after the cached revision.
    pub written: Vec<Record>,
    /// The `(table, key)` of every row now stored.
    pub keys: Vec<(String, String)>,
    /// The revision these rows are current at.
    pub revision: u64,
}

/// Durable storage of the region's rows.
pub trait Store: Send + Sync {
    /// Every stored row and the revision they are at.
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Apply all changes atomically and durably, as the next revision, provided the store is
    /// still at revision `base` (else [`StoreError::Conflict`] and nothing is applied). Returns
    /// the new revision (`base` when `changes` is empty: nothing is committed).
    fn commit(&self, changes: &[Change], base: u64) -> Result<u64, StoreError>;
    /// The latest committed revision (a linearizable read on a shared store).
    fn revision(&self) -> Result<u64, StoreError>;
    /// The changes committed after revision `since`: whole commits, oldest first, stopping
    /// once at least `max` events are gathered. [`StoreError::Compacted`] when the log no
    /// longer reaches back to `since`.
    fn changes_since(&self, since: u64, max: usize) -> Result<Changes, StoreError>;
    /// Block until the revision passes `after` or `timeout` elapses; returns the revision then.
    fn wait_past(&self, after: u64, timeout: Duration) -> Result<u64, StoreError>;
    /// Whether other processes write to this store too (then a replica catches up with it
    /// before serving a request, and commits can conflict).
    fn shared(&self) -> bool {
        false
    }
    /// A cheaper way to catch a cache up than replaying [`Store::changes_since`] (one read
    /// instead of a history replay), if the store offers one.
    fn rows_since(&self, _since: u64) -> Option<Result<RowsSince, StoreError>> {
        None
    }
}

/// The commits a store keeps for followers by default.
pub const DEFAULT_LOG_LIMIT: u64 = 10_000;

/// The latest revision of an in-process store, with a condition variable for followers.
#[derive(Default)]
struct RevisionSignal {
    revision: Mutex<u64>,
    changed: Condvar,
}

impl RevisionSignal {
    fn set(&self, rev: u64) {
        let mut g = self.revision.lock().unwrap_or_else(|p| p.into_inner());
        *g = rev;
        self.changed.notify_all();
    }

    fn wait_past(&self, after: u64, timeout: Duration) -> u64 {
        let g = self.revision.lock().unwrap_or_else(|p| p.into_inner());
        let (g, _) = self
            .changed
            .wait_timeout_while(g, timeout, |r| *r <= after)
            .unwrap_or_else(|p| p.into_inner());
        *g
    }
}

/// A commit's changes as stored in a log row: JSON `[{"t":table,"k":key,"v":value-or-null}]`
/// (values are the rows' JSON text).
fn encode_log(changes: &[Change]) -> Vec<u8> {
    let arr: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "t": c.table,
                "k": c.key,
                "v": c.value.as_ref().map(|v| String::from_utf8_lossy(v).into_owned()),
            })
        })
        .collect();
    serde_json::Value::Array(arr).to_string().into_bytes()
}

fn decode_log(revision: u64, bytes: &[u8]) -> Result<Vec<Event>, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        table: "log".into(),
        key: revision.to_string(),
        message,
    };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let arr = v.as_array().ok_or_else(|| corrupt("not an array".into()))?;
    arr.iter()
        .map(|c| {
            let s = |k: &str| {
                c.get(k)
                    .and_then(|x| x.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| corrupt(format!("entry without {k}")))
            };
            Ok(Event {
                revision,
                change: Change {
                    table: s("t")?,
                    key: s("k")?,
                    value: c
                        .get("v")
                        .and_then(|x| x.as_str())
                        .map(|x| x.as_bytes().to_vec()),
                },
            })
        })
        .collect()
}

/// In-memory store for tests (same revisions and bounded log as [`RedbStore`]).
pub struct MemStore {
    inner: Mutex<MemInner>,
    log_limit: usize,
    signal: RevisionSignal,
}

#[derive(Default)]
struct MemInner {
    rows: BTreeMap<(String, String), Vec<u8>>,
    revision: u64,
    compacted: u64,
    log: VecDeque<(u64, Vec<Change>)>,
}

impl Default for MemStore {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            log_limit: DEFAULT_LOG_LIMIT as usize,
            signal: RevisionSignal::default(),
        }
    }
}

impl MemStore {
    /// Keep only the last `limit` commits in the change log (at least 1).
    pub fn with_log_limit(mut self, limit: usize) -> Self {
        self.log_limit = limit.max(1);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let g = self.lock();
        Ok(Snapshot {
            records: g
                .rows
                .iter()
                .map(|((t, k), v)| Record {
                    table: t.clone(),
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
            revision: g.revision,
        })
    }

    fn commit(&self, changes: &[Change], base: u64) -> Result<u64, StoreError> {
        if changes.is_empty() {
            return Ok(base);
        }
        let mut g = self.lock();
        if g.revision != base {
            return Err(StoreError::Conflict { base });
        }
        for c in changes {
            let k = (c.table.clone(), c.key.clone());
            match &c.value {
                Some(v) => g.rows.insert(k, v.clone()),
                None => g.rows.remove(&k),
            };
        }
        g.revision += 1;
        let rev = g.revision;
        g.log.push_back((rev, changes.to_vec()));
        while g.log.len() > self.log_limit {
            if let Some((r, _)) = g.log.pop_front() {
                g.compacted = r;
            }
        }
        drop(g);
        self.signal.set(rev);
        Ok(rev)
    }

    fn revision(&self) -> Result<u64, StoreError> {
        Ok(self.lock().revision)
    }

    fn changes_since(&self, since: u64, max: usize) -> Result<Changes, StoreError> {
        let g = self.lock();
        if since < g.compacted {
            return Err(StoreError::Compacted {
                requested: since,
                compacted: g.compacted,
            });
        }
        let mut out = Changes {
            events: Vec::new(),
            through: since,
        };
        for (rev, changes) in g.log.iter().filter(|(r, _)| *r > since) {
            if out.events.len() >= max {
                return Ok(out);
            }
            out.events.extend(changes.iter().map(|c| Event {
                revision: *rev,
                change: c.clone(),
            }));
            out.through = *rev;
        }
        out.through = out.through.max(g.revision);
        Ok(out)
    }

    fn wait_past(&self, after: u64, timeout: Duration) -> Result<u64, StoreError> {
        Ok(self.signal.wait_past(after, timeout))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn put(table: &str, key: &str, v: &str) -> Change {
        Change {
            table: table.into(),
            key: key.into(),
            value: Some(v.as_bytes().to_vec()),
        }
    }

    pub(crate) fn check_store(s: &dyn Store) {
        assert_eq!(s.revision().unwrap(), 0);
        for i in 0..5u64 {
            let rev = s.commit(&[put("t", &format!("k{i}"), "1")], i).unwrap();
            assert_eq!(rev, i + 1, "every commit takes the next revision");
        }
        // An empty commit is not a revision.
        assert_eq!(s.commit(&[], 5).unwrap(), 5);
        // A commit from a stale base is refused and changes nothing.
        assert!(matches!(
            s.commit(&[put("t", "x", "1")], 3),
            Err(StoreError::Conflict { base: 3 })
        ));
        assert_eq!(s.revision().unwrap(), 5);
        // Only the last 3 commits are kept: replay from 2 works, from 1 is compacted.
        let ch = s.changes_since(2, 100).unwrap();
        let revs: Vec<u64> = ch.events.iter().map(|e| e.revision).collect();
        assert_eq!(revs, vec![3, 4, 5]);
        assert_eq!(ch.through, 5);
        match s.changes_since(1, 100) {
            Err(StoreError::Compacted {
                requested: 1,
                compacted: 2,
            }) => {}
            other => panic!("expected Compacted, got {other:?}"),
        }
        // `max` cuts at a commit boundary and says how far it got.
        let ch = s.changes_since(2, 1).unwrap();
        assert_eq!(ch.events.len(), 1);
        assert_eq!(ch.through, 3);
        // Up to date: nothing, through the current revision; waiting times out at it.
        assert_eq!(s.changes_since(5, 100).unwrap().events, vec![]);
        assert_eq!(s.wait_past(5, Duration::from_millis(10)).unwrap(), 5);
        assert_eq!(s.wait_past(4, Duration::from_secs(5)).unwrap(), 5);
    }

    #[test]
    fn mem_store_numbers_commits_and_compacts_its_log() {
        check_store(&MemStore::default().with_log_limit(3));
    }
}
