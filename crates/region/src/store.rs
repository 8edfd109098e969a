//! Durable storage behind a narrow trait: load everything at start, commit each operation's
//! changed rows atomically. The embedded default is redb (one file under the data dir, fsynced
//! on every commit); `MemStore` serves tests; an etcd backend can implement the same trait.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use redb::{Database, ReadableTable, TableDefinition};

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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the region store {path}: {message}; is another `sixfold serve` using this data dir?"
    )]
    Open { path: PathBuf, message: String },
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

const ROWS: TableDefinition<&str, &[u8]> = TableDefinition::new("rows");
const SEP: char = '\u{1f}';

/// The embedded store: a redb file, each commit durable before it returns.
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Make sure the table exists so a fresh store loads as empty.
        let tx = db.begin_write().map_err(io)?;
        tx.open_table(ROWS).map_err(io)?;
        tx.commit().map_err(io)?;
        Ok(Self { db })
    }
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl Store for RedbStore {
    fn load(&self) -> Result<Vec<Record>, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let table = tx.open_table(ROWS).map_err(io)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(io)? {
            let (k, v) = row.map_err(io)?;
            let k = k.value();
            let Some((t, key)) = k.split_once(SEP) else {
                return Err(StoreError::Corrupt {
                    table: String::new(),
                    key: k.to_string(),
                    message: "key has no table part".into(),
                });
            };
            out.push(Record {
                table: t.to_string(),
                key: key.to_string(),
                value: v.value().to_vec(),
            });
        }
        Ok(out)
    }

    fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(io)?;
        {
            let mut table = tx.open_table(ROWS).map_err(io)?;
            for c in changes {
                let k = format!("{}{SEP}{}", c.table, c.key);
                match &c.value {
                    Some(v) => {
                        table.insert(k.as_str(), v.as_slice()).map_err(io)?;
                    }
                    None => {
                        table.remove(k.as_str()).map_err(io)?;
                    }
                }
            }
        }
        // Durability::Immediate is redb's default: commit returns after fsync.
        tx.commit().map_err(io)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_store_keeps_commits_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("region.redb");
        {
            let s = RedbStore::open(&path).unwrap();
            s.commit(&[
                Change {
                    table: "vpcs".into(),
                    key: "vpc-1".into(),
                    value: Some(b"{}".to_vec()),
                },
                Change {
                    table: "vpcs".into(),
                    key: "vpc-2".into(),
                    value: Some(b"[]".to_vec()),
                },
            ])
            .unwrap();
            s.commit(&[Change {
                table: "vpcs".into(),
                key: "vpc-2".into(),
                value: None,
            }])
            .unwrap();
        }
        let s = RedbStore::open(&path).unwrap();
        let rows = s.load().unwrap();
        assert_eq!(
            rows,
            vec![Record {
                table: "vpcs".into(),
                key: "vpc-1".into(),
                value: b"{}".to_vec()
            }]
        );
    }
}
