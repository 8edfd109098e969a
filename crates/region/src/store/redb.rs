//! The embedded store: one redb file under the data dir, every commit fsynced before it
//! returns, with the revision counter and the bounded change log in the same transaction.

use std::path::Path;
use std::time::Duration;

use ::redb::{Database, ReadableTable, TableDefinition};

use super::{
    Change, Changes, DEFAULT_LOG_LIMIT, Record, RevisionSignal, Snapshot, Store, StoreError,
    decode_log, encode_log,
};

const ROWS: TableDefinition<&str, &[u8]> = TableDefinition::new("rows");
/// `revision` (the last commit) and `compacted` (the newest revision dropped from the log).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// One row per commit, keyed by its revision.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const SEP: char = '\u{1f}';

/// The embedded store: a redb file, each commit durable before it returns.
pub struct RedbStore {
    db: Database,
    log_limit: u64,
    signal: RevisionSignal,
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Make sure the tables exist so a fresh store loads as empty.
        let tx = db.begin_write().map_err(io)?;
        tx.open_table(ROWS).map_err(io)?;
        tx.open_table(META).map_err(io)?;
        tx.open_table(LOG).map_err(io)?;
        tx.commit().map_err(io)?;
        let s = Self {
            db,
            log_limit: DEFAULT_LOG_LIMIT,
            signal: RevisionSignal::default(),
        };
        let rev = s.meta("revision")?;
        s.signal.set(rev);
        Ok(s)
    }

    /// Keep only the last `limit` commits in the change log (at least 1).
    pub fn with_log_limit(mut self, limit: u64) -> Self {
        self.log_limit = limit.max(1);
        self
    }

    fn meta(&self, key: &str) -> Result<u64, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let t = tx.open_table(META).map_err(io)?;
        Ok(t.get(key).map_err(io)?.map(|v| v.value()).unwrap_or(0))
    }
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl Store for RedbStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let table = tx.open_table(ROWS).map_err(io)?;
        let meta = tx.open_table(META).map_err(io)?;
        let revision = meta
            .get("revision")
            .map_err(io)?
            .map(|v| v.value())
            .unwrap_or(0);
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
        Ok(Snapshot {
            records: out,
            revision,
        })
    }

    fn commit(&self, changes: &[Change], base: u64) -> Result<u64, StoreError> {
        if changes.is_empty() {
            return Ok(base);
        }
        let tx = self.db.begin_write().map_err(io)?;
        let rev;
        {
            let mut meta = tx.open_table(META).map_err(io)?;
            let current = meta
                .get("revision")
                .map_err(io)?
                .map(|v| v.value())
                .unwrap_or(0);
            if current != base {
                return Err(StoreError::Conflict { base });
            }
            rev = current + 1;
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
            let mut log = tx.open_table(LOG).map_err(io)?;
            log.insert(rev, encode_log(changes).as_slice())
                .map_err(io)?;
            // Bound the log: drop the oldest commits beyond the limit.
            let mut compacted = meta
                .get("compacted")
                .map_err(io)?
                .map(|v| v.value())
                .unwrap_or(0);
            while rev.saturating_sub(compacted) > self.log_limit {
                match log.pop_first().map_err(io)? {
                    Some((k, _)) => compacted = k.value(),
                    None => break,
                }
            }
            meta.insert("revision", rev).map_err(io)?;
            meta.insert("compacted", compacted).map_err(io)?;
        }
        // Durability::Immediate is redb's default: commit returns after fsync.
        tx.commit().map_err(io)?;
        self.signal.set(rev);
        Ok(rev)
    }

    fn revision(&self) -> Result<u64, StoreError> {
        self.meta("revision")
    }

    fn changes_since(&self, since: u64, max: usize) -> Result<Changes, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let meta = tx.open_table(META).map_err(io)?;
        let get = |k: &str| -> Result<u64, StoreError> {
            Ok(meta.get(k).map_err(io)?.map(|v| v.value()).unwrap_or(0))
        };
        let (revision, compacted) = (get("revision")?, get("compacted")?);
        if since < compacted {
            return Err(StoreError::Compacted {
                requested: since,
                compacted,
            });
        }
        let log = tx.open_table(LOG).map_err(io)?;
        let mut out = Changes {
            events: Vec::new(),
            through: since,
        };
        for row in log.range(since.saturating_add(1)..).map_err(io)? {
            if out.events.len() >= max {
                return Ok(out);
            }
            let (k, v) = row.map_err(io)?;
            out.events.extend(decode_log(k.value(), v.value())?);
            out.through = k.value();
        }
        out.through = out.through.max(revision);
        Ok(out)
    }

    fn wait_past(&self, after: u64, timeout: Duration) -> Result<u64, StoreError> {
        Ok(self.signal.wait_past(after, timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Event;
    use crate::store::tests::{del, put};

    #[test]
    fn redb_store_keeps_commits_and_revision_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("region.redb");
        {
            let s = RedbStore::open(&path).unwrap();
            assert_eq!(
                s.commit(&[put("vpcs", "vpc-1", "{}"), put("vpcs", "vpc-2", "[]")], 0)
                    .unwrap(),
                1
            );
            assert_eq!(s.commit(&[del("vpcs", "vpc-2")], 1).unwrap(), 2);
        }
        let s = RedbStore::open(&path).unwrap();
        let snap = s.load().unwrap();
        assert_eq!(snap.revision, 2);
        assert_eq!(
            snap.records,
            vec![Record {
                table: "vpcs".into(),
                key: "vpc-1".into(),
                value: b"{}".to_vec()
            }]
        );
        // The log survived too: the delete is replayable after revision 1.
        let ch = s.changes_since(1, 100).unwrap();
        assert_eq!(ch.through, 2);
        assert_eq!(
            ch.events,
            vec![Event {
                revision: 2,
                change: del("vpcs", "vpc-2")
            }]
        );
    }
}
