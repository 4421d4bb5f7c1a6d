//! Stores: a node's durable state.
//!
//! A [`Store`] is a small transactional key-value store with a few tables ([`Table`]). The
//! runtime writes every state change as one [`Batch`] (one transaction) and calls
//! [`Store::sync`] before anything the change implies leaves the node (an acknowledgement, a
//! frame), so a crash never loses something a peer was told about. Three stores implement
//! it: [`MemoryStore`] (volatile: gone with the process), [`CrashableStore`] (in memory, but
//! survives a simulated crash minus the writes not yet synced, and can be told to fail
//! writes), and [`FileStore`] (an embedded database file; see its docs for why redb).
//!
//! One conformance suite (`runtime/tests/store_conformance.rs`) runs against all three.

mod counting;
mod crashable;
mod file;
mod memory;

use std::path::PathBuf;

pub use counting::{CountingStore, StoreCounts};
pub use crashable::CrashableStore;
pub use file::FileStore;
pub use memory::MemoryStore;
/// The storage under a [`FileStore`] ([`FileStore::with_backend`]): redb's pluggable backend.
pub use redb::StorageBackend;

/// The tables of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Session records: state and what the session waits for.
    Sessions,
    /// Received frames, keyed by their CIV.
    Inbox,
    /// Sent frames and whether they were acknowledged.
    Outbox,
    /// Logged results of side effects, random numbers and clock readings.
    Effects,
    /// Loop-state snapshots of `ch.repeat`.
    Snapshots,
    /// The saga log of `ch.transaction`: per (session, participant) the claims by
    /// transaction name, the commits in commit order, the compensations done, and whether the
    /// session failed there. Kept after the session ends.
    Saga,
    /// Application records that commits and compensations read and write (stock, capacity,
    /// orders): one key space per node, shared by every session the node hosts.
    App,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 7] = [
        Table::Sessions,
        Table::Inbox,
        Table::Outbox,
        Table::Effects,
        Table::Snapshots,
        Table::Saga,
        Table::App,
    ];

    /// The table's name (in files and messages).
    pub fn name(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Inbox => "inbox",
            Table::Outbox => "outbox",
            Table::Effects => "effects",
            Table::Snapshots => "snapshots",
            Table::Saga => "saga",
            Table::App => "app",
        }
    }
}

/// One write of a batch: `(table, key, Some(value))` sets, `(table, key, None)` deletes.
pub type Op = (Table, Vec<u8>, Option<Vec<u8>>);

/// A `(key, value)` pair read from a table.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Writes applied together, atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Sets `key` in `table` to `value`.
    pub fn put(
        &mut self,
        table: Table,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Batch {
        self.ops.push((table, key.into(), Some(value.into())));
        self
    }

    /// Removes `key` from `table`.
    pub fn delete(&mut self, table: Table, key: impl Into<Vec<u8>>) -> &mut Batch {
        self.ops.push((table, key.into(), None));
        self
    }

    /// The writes, in order: `(table, key, Some(value))` sets, `None` deletes.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A store operation failed. Messages name the file, where there is one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store file could not be opened, read or written.
    #[error("store {path}: {detail}")]
    Io {
        /// The store's file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The store file is not a valid store (damaged or not a store at all).
    #[error(
        "store {path} is corrupt: {detail}; expected a rehearsal store file (move it away to start empty)"
    )]
    Corrupt {
        /// The store's file.
        path: PathBuf,
        /// What the database reported.
        detail: String,
    },
    /// A write failed on purpose (fault injection in [`CrashableStore`]).
    #[error("injected store failure: {detail}")]
    Injected {
        /// Which write.
        detail: String,
    },
}

/// A node's durable state: a transactional key-value store with the tables of [`Table`].
///
/// Keys are compared as byte strings; [`Store::scan`] returns keys in that order.
pub trait Store: Send + Sync + 'static {
    /// Applies every write of `batch` atomically: after any crash, all of them or none are
    /// visible. Committed writes are visible to reads at once.
    fn commit(&self, batch: &Batch) -> Result<(), StoreError>;
    /// Makes every committed batch durable. A crash may lose batches committed since the
    /// last sync (a suffix of them), never synced ones.
    fn sync(&self) -> Result<(), StoreError>;
    /// The value of `key` in `table`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every `(key, value)` of `table` whose key starts with `prefix`, in key order.
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;
}
