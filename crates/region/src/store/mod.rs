//! Durable storage behind a narrow trait: load everything at start, commit each operation's
//! changed rows atomically. The embedded default is redb (one file under the data dir, fsynced
//! on every commit, see [`redb`]); `MemStore` serves tests; an etcd backend can implement the
//! same trait.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

mod redb;

pub use self::redb::RedbStore;

/// One changed row: `value: None` deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub table: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub table: String,
    pub key: String,
    pub value: Vec<u8>,
}

/// Why the store failed. `Unreadable` and `Locked` happen at open; `Io` on a running region.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store file exists but cannot be used; it is left exactly as found.
    #[error(
        "the region store {path} cannot be read: {reason}. It was left untouched: restore it from a backup, or move it away to start an empty region"
    )]
    Unreadable { path: PathBuf, reason: String },
    /// Another process holds the store open.
    #[error(
        "the region store {path} is open in another process; is another `sixfold serve` using this data dir?"
    )]
    Locked { path: PathBuf },
    #[error("region store I/O failed: {0}")]
    Io(String),
    #[error("region store holds a row that cannot be read ({table}/{key}): {message}")]
    Corrupt {
        table: String,
        key: String,
        message: String,
    },
}

/// Durable storage of the region's rows.
pub trait Store: Send + Sync {
    /// Every stored row.
    fn load(&self) -> Result<Vec<Record>, StoreError>;
    /// Apply all changes atomically and durably; on error nothing is applied.
    fn commit(&self, changes: &[Change]) -> Result<(), StoreError>;
}

/// In-memory store for tests.
#[derive(Default)]
pub struct MemStore {
    rows: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl Store for MemStore {
    fn load(&self) -> Result<Vec<Record>, StoreError> {
        let rows = self
            .rows
            .lock()
            .map_err(|_| StoreError::Io("poisoned".into()))?;
        Ok(rows
            .iter()
            .map(|((t, k), v)| Record {
                table: t.clone(),
                key: k.clone(),
                value: v.clone(),
            })
            .collect())
    }

    fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut rows = self
            .rows
            .lock()
            .map_err(|_| StoreError::Io("poisoned".into()))?;
        for c in changes {
            let k = (c.table.clone(), c.key.clone());
            match &c.value {
                Some(v) => rows.insert(k, v.clone()),
                None => rows.remove(&k),
            };
        }
        Ok(())
    }
}
