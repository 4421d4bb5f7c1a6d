//! [`MemoryStore`]: a volatile store, everything in memory.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{Batch, Store, StoreError, Table};

/// The contents of a store: one ordered map per table. Shared with
/// [`CrashableStore`](super::CrashableStore).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Tables {
    tables: BTreeMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Tables {
    /// Applies every write of `batch`, in order.
    pub(super) fn apply(&mut self, batch: &Batch) {
        for (table, key, value) in batch.ops() {
            match value {
                Some(value) => {
                    self.tables
                        .entry(*table)
                        .or_default()
                        .insert(key.clone(), value.clone());
                }
                None => {
                    if let Some(rows) = self.tables.get_mut(table) {
                        rows.remove(key);
                    }
                }
            }
        }
    }

    /// The value of `key` in `table`.
    pub(super) fn get(&self, table: Table, key: &[u8]) -> Option<Vec<u8>> {
        self.tables.get(&table)?.get(key).cloned()
    }

    /// Every row of `table` whose key starts with `prefix`, in key order.
    pub(super) fn scan(&self, table: Table, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let Some(rows) = self.tables.get(&table) else {
            return Vec::new();
        };
        rows.range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

/// Locks `mutex`, ignoring poisoning. No code run under these locks panics (allocation failure
/// aborts), so a poisoned lock never guards a half-applied batch.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A volatile store: every table is an ordered map in memory.
///
/// A commit applies atomically and is visible at once; [`Store::sync`] does nothing. Nothing
/// survives the process: a node restarted with a new `MemoryStore` starts empty. Use it for
/// tests and for nodes that need no recovery; use [`CrashableStore`](super::CrashableStore) to
/// simulate crashes and [`FileStore`](super::FileStore) to survive real ones.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        lock(&self.tables).apply(batch);
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.tables).get(table, key))
    }

    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        Ok(lock(&self.tables).scan(table, prefix))
    }
}
