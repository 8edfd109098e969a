//! `Table<T>`: one kind of resource, keyed by id, with a journal of what the running operation
//! touched. The journal lets the region persist exactly the changed rows and undo an operation
//! that failed half way, so a rejected request changes nothing.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Rows of one resource kind plus the undo journal of the current operation.
#[derive(Debug, Clone)]
pub struct Table<T> {
    name: &'static str,
    rows: BTreeMap<String, T>,
    /// Old value of every key touched since the last `take_changes`/`rollback`
    /// (`None`: the key did not exist).
    journal: BTreeMap<String, Option<T>>,
}

impl<T: Clone> Table<T> {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            rows: BTreeMap::new(),
            journal: BTreeMap::new(),
        }
    }

    /// The table's name in the store.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.rows.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.rows.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.rows.values()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &T)> {
        self.rows.iter()
    }

    fn remember(&mut self, id: &str) {
        if !self.journal.contains_key(id) {
            self.journal
                .insert(id.to_string(), self.rows.get(id).cloned());
        }
    }

    /// Mutable access; the row is journaled and will be persisted.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        if self.rows.contains_key(id) {
            self.remember(id);
        }
        self.rows.get_mut(id)
    }

    pub fn insert(&mut self, id: String, value: T) {
        self.remember(&id);
        self.rows.insert(id, value);
    }

    pub fn remove(&mut self, id: &str) -> Option<T> {
        if self.rows.contains_key(id) {
            self.remember(id);
        }
        self.rows.remove(id)
    }

    /// Undo everything since the last commit.
    pub fn rollback(&mut self) {
        for (id, old) in std::mem::take(&mut self.journal) {
            match old {
                Some(v) => {
                    self.rows.insert(id, v);
                }
                None => {
                    self.rows.remove(&id);
                }
            }
        }
    }

    /// Load a row from the store (no journaling).
    pub fn load(&mut self, id: String, value: T) {
        self.rows.insert(id, value);
    }

    /// Drop a row another replica deleted (no journaling).
    pub fn unload(&mut self, id: &str) {
        self.rows.remove(id);
    }

    /// Keep everything since the last commit: it is now committed.
    pub fn clear_journal(&mut self) {
        self.journal.clear();
    }
}

impl<T: Clone + Serialize + DeserializeOwned> Table<T> {
    /// The rows changed since the last call, serialized (value `None` = deleted); clears the journal.
    pub fn take_changes(
        &mut self,
        out: &mut Vec<crate::store::Change>,
    ) -> Result<(), serde_json::Error> {
        self.changes(out)?;
        self.journal.clear();
        Ok(())
    }

    /// The rows changed since the last commit, serialized (value `None` = deleted); the journal
    /// stays, so the operation can still be rolled back if the commit fails.
    pub fn changes(&self, out: &mut Vec<crate::store::Change>) -> Result<(), serde_json::Error> {
        for id in self.journal.keys() {
            let value = match self.rows.get(id) {
                Some(v) => Some(serde_json::to_vec(v)?),
                None => None,
            };
            out.push(crate::store::Change {
                table: self.name.to_string(),
                key: id.clone(),
                value,
            });
        }
        Ok(())
    }

    pub fn load_json(&mut self, id: String, bytes: &[u8]) -> Result<(), serde_json::Error> {
        let v = serde_json::from_slice(bytes)?;
        self.rows.insert(id, v);
        Ok(())
    }

    /// Every row, serialized.
    pub fn records(&self, out: &mut Vec<crate::store::Record>) -> Result<(), serde_json::Error> {
        for (id, v) in &self.rows {
            out.push(crate::store::Record {
                table: self.name.to_string(),
                key: id.clone(),
                value: serde_json::to_vec(v)?,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_inserted_changed_and_removed_rows() {
        let mut t: Table<u32> = Table::new("t");
        t.insert("a".into(), 1);
        t.insert("b".into(), 2);
        let mut out = Vec::new();
        t.take_changes(&mut out).unwrap();
        assert_eq!(out.len(), 2);
        *t.get_mut("a").unwrap() = 10;
        t.remove("b");
        t.insert("c".into(), 3);
        t.rollback();
        assert_eq!(t.get("a"), Some(&1));
        assert_eq!(t.get("b"), Some(&2));
        assert_eq!(t.get("c"), None);
    }

    #[test]
    fn changes_name_deleted_rows_without_value() {
        let mut t: Table<u32> = Table::new("t");
        t.load("a".into(), 1);
        t.remove("a");
        let mut out = Vec::new();
        t.take_changes(&mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value, None);
    }
}
