//! A store wrapper that counts what passes through it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Batch, Entry, Store, StoreError, Table};

/// Counts of a [`CountingStore`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreCounts {
    /// Transactions committed.
    pub commits: u64,
    /// Single writes (puts and deletes) in them.
    pub writes: u64,
    /// Syncs.
    pub syncs: u64,
}

/// Wraps a store and counts its commits, writes and syncs (for cost counters and benches).
pub struct CountingStore {
    inner: Arc<dyn Store>,
    commits: AtomicU64,
    writes: AtomicU64,
    syncs: AtomicU64,
}

impl CountingStore {
    /// Counts what goes to `inner`.
    pub fn new(inner: Arc<dyn Store>) -> CountingStore {
        CountingStore {
            inner,
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> StoreCounts {
        StoreCounts {
            commits: self.commits.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
        }
    }
}

impl Store for CountingStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.writes
            .fetch_add(batch.ops().len() as u64, Ordering::Relaxed);
        self.inner.commit(batch)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.inner.sync()
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }

    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan(table, prefix)
    }
}
