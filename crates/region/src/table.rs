//! `Table<T>`: one kind of resource, keyed by id, with a journal of what the running operation
//! touched. The journal lets the region persist exactly the changed rows and undo an operation
//! that failed half way, so a rejected request changes nothing.
//!
//! A table may carry a secondary index (derived in memory from the rows, never stored): a
//! function giving each row its index keys (e.g. the instance an ENI is attached to). Inserts and
//! removals update it at once; rows changed in place through [`Table::get_mut`] are re-indexed
//! when the operation ends (commit or rollback), and until then [`Table::indexed`] also yields
//! every row the running operation touched, so a lookup is never stale.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The index keys of a row.
pub type IndexFn<T> = fn(&T) -> Vec<String>;

/// A secondary index: key -> ids of the rows with that key, and id -> the keys it is under.
#[derive(Debug, Clone)]
struct Index<T> {
    keys_of: IndexFn<T>,
    by_key: BTreeMap<String, BTreeSet<String>>,
    of_row: BTreeMap<String, Vec<String>>,
}

/// Rows of one resource kind plus the undo journal of the current operation.
#[derive(Debug, Clone)]
pub struct Table<T> {
    name: &'static str,
    rows: BTreeMap<String, T>,
    /// Old value of every key touched since the last `take_changes`/`rollback`
    /// (`None`: the key did not exist).
    journal: BTreeMap<String, Option<T>>,
    index: Option<Index<T>>,
}

impl<T: Clone> Table<T> {
    /// An empty table stored under `name`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            rows: BTreeMap::new(),
            journal: BTreeMap::new(),
            index: None,
        }
    }

    /// Give the table a secondary index over `keys_of` (built from the rows it has now).
    pub fn set_index(&mut self, keys_of: IndexFn<T>) {
        self.index = Some(Index {
            keys_of,
            by_key: BTreeMap::new(),
            of_row: BTreeMap::new(),
        });
        let ids: Vec<String> = self.rows.keys().cloned().collect();
        for id in ids {
            self.reindex(&id);
        }
    }

    /// Bring the index entry of row `id` up to date with the row.
    fn reindex(&mut self, id: &str) {
        let Some(ix) = self.index.as_mut() else {
            return;
        };
        for k in ix.of_row.remove(id).unwrap_or_default() {
            if let Some(set) = ix.by_key.get_mut(&k) {
                set.remove(id);
                if set.is_empty() {
                    ix.by_key.remove(&k);
                }
            }
        }
        if let Some(row) = self.rows.get(id) {
            let keys = (ix.keys_of)(row);
            for k in &keys {
                ix.by_key
                    .entry(k.clone())
                    .or_default()
                    .insert(id.to_string());
            }
            ix.of_row.insert(id.to_string(), keys);
        }
    }

    /// Ids of the rows that may have index key `key`, in id order: those indexed under it plus
    /// every row the running operation touched (whose entry may be stale until it ends). The
    /// caller checks each row. `None` when the table has no index.
    pub fn indexed(&self, key: &str) -> Option<BTreeSet<&str>> {
        let ix = self.index.as_ref()?;
        let mut out: BTreeSet<&str> = ix
            .by_key
            .get(key)
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default();
        out.extend(self.journal.keys().map(String::as_str));
        Some(out)
    }

    /// Rows whose id sorts after `after` (all rows when `None`), in id order.
    pub fn range_after<'a>(&'a self, after: Option<&str>) -> impl Iterator<Item = &'a T> + 'a {
        let lower = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => Bound::Unbounded,
        };
        self.rows
            .range::<String, _>((lower, Bound::Unbounded))
            .map(|(_, v)| v)
    }

    /// The table's name in the store.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The row with this id.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.rows.get(id)
    }

    /// Whether a row has this id.
    pub fn contains(&self, id: &str) -> bool {
        self.rows.contains_key(id)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every row, in id order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.rows.values()
    }

    /// Every `(id, row)`, in id order.
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

    /// Insert or replace a row; journaled, so it is persisted at commit and undone at rollback.
    pub fn insert(&mut self, id: String, value: T) {
        self.remember(&id);
        self.rows.insert(id.clone(), value);
        self.reindex(&id);
    }

    /// Remove a row, answering it; journaled like [`Table::insert`].
    pub fn remove(&mut self, id: &str) -> Option<T> {
        if self.rows.contains_key(id) {
            self.remember(id);
        }
        let old = self.rows.remove(id);
        self.reindex(id);
        old
    }

    /// Undo everything since the last commit.
    pub fn rollback(&mut self) {
        for (id, old) in std::mem::take(&mut self.journal) {
            match old {
                Some(v) => {
                    self.rows.insert(id.clone(), v);
                }
                None => {
                    self.rows.remove(&id);
                }
            }
            self.reindex(&id);
        }
    }

    /// Load a row from the store (no journaling).
    pub fn load(&mut self, id: String, value: T) {
        self.rows.insert(id.clone(), value);
        self.reindex(&id);
    }

    /// Drop a row another replica deleted (no journaling).
    pub fn unload(&mut self, id: &str) {
        self.rows.remove(id);
        self.reindex(id);
    }

    /// Keep everything since the last commit: it is now committed (rows changed in place are
    /// re-indexed now).
    pub fn clear_journal(&mut self) {
        for id in std::mem::take(&mut self.journal).into_keys() {
            self.reindex(&id);
        }
    }
}

impl<T: Clone + Serialize + DeserializeOwned> Table<T> {
    /// The rows changed since the last call, serialized (value `None` = deleted); clears the journal.
    pub fn take_changes(
        &mut self,
        out: &mut Vec<crate::store::Change>,
    ) -> Result<(), serde_json::Error> {
        self.changes(out)?;
        self.clear_journal();
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

    /// Load a row from its stored JSON (no journaling).
    pub fn load_json(&mut self, id: String, bytes: &[u8]) -> Result<(), serde_json::Error> {
        let v = serde_json::from_slice(bytes)?;
        self.load(id, v);
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

    fn parity(v: &u32) -> Vec<String> {
        vec![if v.is_multiple_of(2) { "even" } else { "odd" }.to_string()]
    }

    #[test]
    fn the_index_follows_inserts_in_place_changes_and_rollback() {
        let mut t: Table<u32> = Table::new("t");
        t.load("a".into(), 1);
        t.set_index(parity);
        t.insert("b".into(), 2);
        let mut out = Vec::new();
        t.take_changes(&mut out).unwrap();
        assert_eq!(t.indexed("odd").unwrap(), BTreeSet::from(["a"]));
        assert_eq!(t.indexed("even").unwrap(), BTreeSet::from(["b"]));
        // Changed in place: the running operation still sees it as a candidate ...
        *t.get_mut("a").unwrap() = 4;
        assert!(t.indexed("even").unwrap().contains("a"));
        t.take_changes(&mut out).unwrap();
        // ... and after the commit it is indexed under its new key only.
        assert_eq!(t.indexed("even").unwrap(), BTreeSet::from(["a", "b"]));
        assert!(t.indexed("odd").unwrap().is_empty());
        *t.get_mut("b").unwrap() = 5;
        t.remove("a");
        t.rollback();
        assert_eq!(t.indexed("even").unwrap(), BTreeSet::from(["a", "b"]));
    }

    #[test]
    fn range_after_starts_past_the_given_id() {
        let mut t: Table<u32> = Table::new("t");
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            t.load(k.to_string(), i as u32);
        }
        assert_eq!(
            t.range_after(Some("a")).copied().collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(
            t.range_after(Some("bb")).copied().collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(t.range_after(None).count(), 3);
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
