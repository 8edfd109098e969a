//! [`Store`] on redb, an embedded crash-safe B-tree file. Layout (format `1`), all in
//! `<data-dir>/agent.redb`:
//!
//! | table         | key                                | value                                   |
//! |---------------|------------------------------------|-----------------------------------------|
//! | `meta`        | `"format"`                         | `"1"`                                   |
//! | `meta`        | `"node"`                           | JSON [`NodeFacts`]                      |
//! | `allocations` | `(network, container_id, ifname)`  | JSON `{"address":"…","netns":"…"}`      |
//! | `addresses`   | address as `u128`                  | `(network, container_id, ifname)`       |
//! | `released`    | address as `u128`                  | release time, ms since the Unix epoch   |
//!
//! `addresses` is the reverse index of `allocations` (same transaction, always in step) and is
//! what makes "an address is held at most once" a check inside the write. Every change is one
//! write transaction committed with `Durability::Immediate` (fsync before `commit` returns), or
//! part of a batch ([`Store::begin_batch`]): one such transaction for many requests' changes.

// The transaction closures return redb's own (large) error by value, as redb's `?` conversions
// need; it lives only inside one call and is boxed into `StoreError` at the boundary.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use agent_api::{Allocation, AttachmentKey};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::{Released, Reservation, Snapshot, Store, StoreError};
use crate::prefix::NodeFacts;

/// The store's file name inside the agent's data dir.
pub const STORE_FILE: &str = "agent.redb";

const FORMAT: &str = "1";

type KeyTuple<'a> = (&'a str, &'a str, &'a str);

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const ALLOCATIONS: TableDefinition<KeyTuple, &str> = TableDefinition::new("allocations");
const ADDRESSES: TableDefinition<u128, KeyTuple> = TableDefinition::new("addresses");
const RELEASED: TableDefinition<u128, u64> = TableDefinition::new("released");

/// The value of one `allocations` row.
#[derive(Serialize, Deserialize)]
struct AllocRecord {
    address: Ipv6Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    netns: Option<String>,
}

/// The redb-backed [`Store`]. Holds the file's lock while open: a second agent on the same data
/// dir fails to open it.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    /// The open batch transaction, if any, and whether a change inside it failed.
    batch: Option<WriteTransaction>,
    poisoned: std::cell::Cell<bool>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

fn tuple(k: &AttachmentKey) -> KeyTuple<'_> {
    (
        k.network.as_str(),
        k.container_id.as_str(),
        k.ifname.as_str(),
    )
}

fn key_of(t: KeyTuple<'_>) -> AttachmentKey {
    AttachmentKey {
        network: t.0.to_owned(),
        container_id: t.1.to_owned(),
        ifname: t.2.to_owned(),
    }
}

/// Prefix of the temporary file a new store is built in (`.<file name>.new-<pid>`).
fn creation_temp(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.new-{}", std::process::id()))
}

/// Remove temporary files of creations that crashed (`.<file name>.new-*`), best effort.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.new-", name.to_string_lossy());
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl RedbStore {
    /// Open (or create) the store at `path`, creating the tables and checking the format.
    ///
    /// A new store is built completely (tables and format record committed durably) under a
    /// temporary name in the same directory and only then renamed to `path` (and the directory
    /// fsynced), so a crash during the very first start never leaves a half-written file that
    /// redb refuses to open ("invalid data"); leftovers of such crashes are removed here.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |e: redb::DatabaseError| match e {
            // A store written by an agent on redb 2 (file format 2); redb 4 reads format 3.
            redb::DatabaseError::UpgradeRequired(v) => StoreError::Format {
                path: path.to_owned(),
                found: format!("{FORMAT} in redb file format {v}"),
                expected: "1 in redb file format 3",
            },
            e => StoreError::Open {
                path: path.to_owned(),
                source: Box::new(e.into()),
            },
        };
        remove_stale_temps(path);
        if !path.exists() {
            let tmp = creation_temp(path);
            let _ = std::fs::remove_file(&tmp);
            let built = Database::create(&tmp).map_err(open_err).and_then(|db| {
                Self {
                    db,
                    path: tmp.clone(),
                    batch: None,
                    poisoned: std::cell::Cell::new(false),
                }
                .init()
            });
            let placed = built.and_then(|store| {
                drop(store);
                std::fs::rename(&tmp, path)
                    .and_then(|()| {
                        let dir = path
                            .parent()
                            .filter(|d| !d.as_os_str().is_empty())
                            .unwrap_or(Path::new("."));
                        std::fs::File::open(dir)?.sync_all()
                    })
                    .map_err(|e| StoreError::Open {
                        path: path.to_owned(),
                        source: Box::new(redb::Error::Io(e)),
                    })
            });
            if let Err(e) = placed {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
        let db = Database::create(path).map_err(open_err)?;
        Self {
            db,
            path: path.to_owned(),
            batch: None,
            poisoned: std::cell::Cell::new(false),
        }
        .init()
    }

    /// Create the tables if missing and check (or record) the format.
    fn init(self) -> Result<Self, StoreError> {
        let store = self;
        let path = store.path.clone();
        let path = path.as_path();
        store
            .write("create tables", |txn| {
                txn.open_table(ALLOCATIONS)?;
                txn.open_table(ADDRESSES)?;
                txn.open_table(RELEASED)?;
                let mut meta = txn.open_table(META)?;
                let found = meta.get("format")?.map(|v| v.value().to_owned());
                match found {
                    None => {
                        meta.insert("format", FORMAT)?;
                        Ok(Ok(()))
                    }
                    Some(f) if f == FORMAT => Ok(Ok(())),
                    Some(found) => Ok(Err(found)),
                }
            })?
            .map_err(|found| StoreError::Format {
                path: path.to_owned(),
                found,
                expected: FORMAT,
            })?;
        Ok(store)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err<E: Into<redb::Error>>(&self, op: &'static str) -> impl FnOnce(E) -> StoreError + '_ {
        move |e| StoreError::Io {
            path: self.path.clone(),
            op,
            source: Box::new(e.into()),
        }
    }

    /// Run `f` in one write transaction; commit it durably only if `f` answers `Ok(Ok(_))`.
    /// On any other answer the transaction is dropped, which aborts it: nothing changes.
    fn write<T, E>(
        &self,
        op: &'static str,
        f: impl FnOnce(&WriteTransaction) -> Result<Result<T, E>, redb::Error>,
    ) -> Result<Result<T, E>, StoreError> {
        if let Some(txn) = &self.batch {
            // Inside a batch: a refusal (`Ok(Err(_))`) writes nothing by construction; a
            // failure may have written part of its change, so the whole batch is dropped.
            let out = f(txn);
            if out.is_err() {
                self.poisoned.set(true);
            }
            return out.map_err(self.err(op));
        }
        let mut txn = self.db.begin_write().map_err(self.err(op))?;
        txn.set_durability(Durability::Immediate)
            .map_err(self.err(op))?;
        let out = f(&txn).map_err(self.err(op))?;
        if out.is_ok() {
            txn.commit().map_err(self.err(op))?;
        }
        Ok(out)
    }

    fn corrupt(&self, what: &'static str, value: &str, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what,
            value: value.to_owned(),
            detail: detail.to_string(),
        }
    }
}

impl Store for RedbStore {
    fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_none() {
            let mut txn = self.db.begin_write().map_err(self.err("begin a batch"))?;
            txn.set_durability(Durability::Immediate)
                .map_err(self.err("begin a batch"))?;
            self.batch = Some(txn);
            self.poisoned.set(false);
        }
        Ok(())
    }

    fn commit_batch(&mut self) -> Result<(), StoreError> {
        let Some(txn) = self.batch.take() else {
            return Ok(());
        };
        if self.poisoned.replace(false) {
            // Dropping the transaction aborts it: nothing of the batch is kept.
            drop(txn);
            return Err(StoreError::Io {
                path: self.path.clone(),
                op: "commit a batch",
                source: Box::new(redb::Error::Io(std::io::Error::other(
                    "a change inside the batch failed; the whole batch was dropped",
                ))),
            });
        }
        txn.commit().map_err(self.err("commit a batch"))
    }

    fn list(&self) -> Result<Snapshot, StoreError> {
        let op = "read";
        let txn = self.db.begin_read().map_err(self.err(op))?;
        let meta = txn.open_table(META).map_err(self.err(op))?;
        let node = match meta.get("node").map_err(self.err(op))? {
            None => None,
            Some(v) => {
                let s = v.value();
                Some(serde_json::from_str::<NodeFacts>(s).map_err(|e| self.corrupt("node", s, e))?)
            }
        };
        let mut allocations = Vec::new();
        for row in txn
            .open_table(ALLOCATIONS)
            .map_err(self.err(op))?
            .iter()
            .map_err(self.err(op))?
        {
            let (k, v) = row.map_err(self.err(op))?;
            let s = v.value();
            let rec: AllocRecord =
                serde_json::from_str(s).map_err(|e| self.corrupt("allocation", s, e))?;
            allocations.push(Allocation {
                key: key_of(k.value()),
                address: rec.address,
                netns: rec.netns,
            });
        }
        let mut released = Vec::new();
        for row in txn
            .open_table(RELEASED)
            .map_err(self.err(op))?
            .iter()
            .map_err(self.err(op))?
        {
            let (k, v) = row.map_err(self.err(op))?;
            released.push(Released {
                address: Ipv6Addr::from(k.value()),
                released_at_ms: v.value(),
            });
        }
        Ok(Snapshot {
            node,
            allocations,
            released,
        })
    }

    fn record_node(&mut self, node: &NodeFacts) -> Result<(), StoreError> {
        let json = serde_json::to_string(node)
            .map_err(|e| self.corrupt("node", &format!("{node:?}"), e))?;
        let Ok(()) = self.write("record node", |txn| {
            txn.open_table(META)?.insert("node", json.as_str())?;
            Ok(Ok::<(), Infallible>(()))
        })?;
        Ok(())
    }

    fn reserve(&mut self, alloc: &Allocation) -> Result<Reservation, StoreError> {
        let rec = AllocRecord {
            address: alloc.address,
            netns: alloc.netns.clone(),
        };
        let json = serde_json::to_string(&rec)
            .map_err(|e| self.corrupt("allocation", &format!("{alloc:?}"), e))?;
        let addr = u128::from(alloc.address);
        let answer = self.write("reserve", |txn| {
            let mut allocs = txn.open_table(ALLOCATIONS)?;
            let mut holders = txn.open_table(ADDRESSES)?;
            if let Some(v) = allocs.get(tuple(&alloc.key))? {
                return Ok(Err(Held::Key(v.value().to_owned())));
            }
            if let Some(holder) = holders.get(addr)? {
                return Ok(Err(Held::Address(key_of(holder.value()))));
            }
            allocs.insert(tuple(&alloc.key), json.as_str())?;
            holders.insert(addr, tuple(&alloc.key))?;
            txn.open_table(RELEASED)?.remove(addr)?;
            Ok(Ok(()))
        })?;
        match answer {
            Ok(()) => Ok(Reservation::Reserved),
            Err(Held::Address(holder)) => Ok(Reservation::AddressTaken { holder }),
            Err(Held::Key(existing)) => {
                let rec: AllocRecord = serde_json::from_str(&existing)
                    .map_err(|e| self.corrupt("allocation", &existing, e))?;
                Ok(Reservation::KeyHeld {
                    existing: Allocation {
                        key: alloc.key.clone(),
                        address: rec.address,
                        netns: rec.netns,
                    },
                })
            }
        }
    }

    fn release(
        &mut self,
        keys: &[AttachmentKey],
        at_ms: u64,
    ) -> Result<Vec<Allocation>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.write("release", |txn| {
            let mut allocs = txn.open_table(ALLOCATIONS)?;
            let mut holders = txn.open_table(ADDRESSES)?;
            let mut released = txn.open_table(RELEASED)?;
            let mut out = Vec::new();
            for key in keys {
                let Some(v) = allocs.remove(tuple(key))? else {
                    continue;
                };
                let json = v.value().to_owned();
                drop(v);
                let rec = match serde_json::from_str::<AllocRecord>(&json) {
                    Ok(rec) => rec,
                    Err(e) => return Ok(Err(self.corrupt("allocation", &json, e))),
                };
                let addr = u128::from(rec.address);
                holders.remove(addr)?;
                released.insert(addr, at_ms)?;
                out.push(Allocation {
                    key: key.clone(),
                    address: rec.address,
                    netns: rec.netns,
                });
            }
            Ok(Ok(out))
        })?
    }
}

/// Why a reservation was refused (inside the transaction).
enum Held {
    Key(String),
    Address(AttachmentKey),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::check_store_contract;

    #[test]
    fn redb_store_keeps_the_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        check_store_contract(&mut RedbStore::open(&dir.path().join(STORE_FILE)).unwrap());
    }

    #[test]
    fn a_batch_is_one_transaction_kept_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let alloc = |c: &str, last: u16| Allocation {
            key: AttachmentKey {
                network: "n".into(),
                container_id: c.into(),
                ifname: "eth0".into(),
            },
            address: Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0xabcd, 0, 0, last),
            netns: None,
        };
        let mut s = RedbStore::open(&path).unwrap();
        s.begin_batch().unwrap();
        assert_eq!(s.reserve(&alloc("a", 2)).unwrap(), Reservation::Reserved);
        assert_eq!(s.reserve(&alloc("b", 3)).unwrap(), Reservation::Reserved);
        // Later changes of the batch see the earlier ones.
        assert!(matches!(
            s.reserve(&alloc("c", 2)).unwrap(),
            Reservation::AddressTaken { .. }
        ));
        s.commit_batch().unwrap();
        drop(s);
        let mut s = RedbStore::open(&path).unwrap();
        assert_eq!(s.list().unwrap().allocations.len(), 2);
        // A poisoned batch keeps nothing.
        s.begin_batch().unwrap();
        assert_eq!(s.reserve(&alloc("d", 4)).unwrap(), Reservation::Reserved);
        s.poisoned.set(true);
        assert!(s.commit_batch().is_err());
        assert_eq!(s.list().unwrap().allocations.len(), 2);
        // And the store works on afterwards.
        assert_eq!(s.reserve(&alloc("d", 4)).unwrap(), Reservation::Reserved);
        assert_eq!(s.list().unwrap().allocations.len(), 3);
    }

    #[test]
    fn redb_store_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let before = {
            let mut s = RedbStore::open(&path).unwrap();
            check_store_contract(&mut s);
            s.list().unwrap()
        };
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.list().unwrap(), before);
        assert_eq!(before.allocations.len(), 2);
    }

    #[test]
    fn leftovers_of_a_crashed_creation_do_not_block_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        // What a crash in the middle of the first start leaves: a partial file under the
        // temporary name (the real name only ever appears by rename, complete).
        let stale = dir.path().join(format!(".{STORE_FILE}.new-4242"));
        std::fs::write(&stale, b"redb\x1a\x0a\xa9\x0d\x0a partial header").unwrap();
        let mut s = RedbStore::open(&path).unwrap();
        check_store_contract(&mut s);
        assert!(!stale.exists(), "the leftover is removed");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(STORE_FILE)]);
    }

    #[test]
    fn second_open_of_a_live_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let _first = RedbStore::open(&path).unwrap();
        let err = RedbStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
        assert!(
            err.to_string().contains("no other `sixfold agent`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_format_is_refused_with_the_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        {
            let s = RedbStore::open(&path).unwrap();
            s.write("test", |txn| {
                txn.open_table(META)?.insert("format", "99")?;
                Ok(Ok::<(), ()>(()))
            })
            .unwrap()
            .unwrap();
        }
        let err = RedbStore::open(&path).unwrap_err();
        assert!(
            matches!(&err, StoreError::Format { found, .. } if found == "99"),
            "{err}"
        );
    }

    /// A store written by an agent built on redb 2 (file format 2) is refused with both formats
    /// named, not with "check that the data dir exists".
    #[test]
    fn a_store_written_by_redb_2_is_refused_naming_both_file_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        drop(redb2::Database::create(&path).unwrap());
        let err = RedbStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Format { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("redb file format 2"), "{msg}");
        assert!(msg.contains("redb file format 3"), "{msg}");
    }
}
