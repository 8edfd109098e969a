//! The embedded store: one redb file under the data dir, every commit fsynced before it returns.

use std::path::Path;

use ::redb::{Database, ReadableTable, TableDefinition};

use super::{Change, Record, Store, StoreError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Change, Record, Store};

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
