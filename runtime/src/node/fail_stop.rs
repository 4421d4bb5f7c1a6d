//! Fail-stop on a store failure: the node's answer to a write or a sync that fails.
//!
//! A store that fails a write leaves the batch unapplied; one that fails a sync leaves it
//! unknown what reached the disk (after a failed `fsync` the operating system may already
//! have dropped the dirty pages, so a retry that succeeds proves nothing). Neither can be
//! answered inside the node without risking telling a peer about state that is not durable.
//! So the first failure *trips* the node: from then on it sends nothing (no frame, no
//! acknowledgement, no failure notice), reports nothing to its observer, writes nothing
//! more, and every participant halts at its next operator, as if the process had died at
//! the failing write. Its host (the simulator's supervisor, or a deployment's process
//! manager) sees [`Node::fail_stopped`](super::Node::fail_stopped) resolve and restarts the
//! node, which recovers from what the store did make durable: not stored means not
//! acknowledged, and a participant replays from its last durable state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::net::transport::lock;
use crate::store::{Batch, Entry, Store, StoreError, Table};

/// Trips once, on the first store failure of a node; everything the node would say after
/// that is swallowed.
#[derive(Debug, Default)]
pub(crate) struct Tripwire {
    tripped: AtomicBool,
    error: Mutex<Option<StoreError>>,
    wake: Notify,
}

impl Tripwire {
    /// Whether the node has fail-stopped.
    pub(crate) fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Acquire)
    }

    fn trip(&self, error: &StoreError) {
        let mut first = lock(&self.error);
        if first.is_none() {
            *first = Some(error.clone());
            self.tripped.store(true, Ordering::Release);
            self.wake.notify_waiters();
        }
    }

    /// Resolves with the failure that tripped it, once it has.
    pub(crate) async fn tripped_by(&self) -> StoreError {
        loop {
            let woken = self.wake.notified();
            if let Some(error) = lock(&self.error).clone() {
                return error;
            }
            woken.await;
        }
    }
}

/// The node's store, behind its tripwire: a failed commit or sync trips it, and once tripped
/// every commit and sync fails without reaching the store (reads still do).
pub(crate) struct FailStopStore {
    inner: Arc<dyn Store>,
    wire: Arc<Tripwire>,
}

impl FailStopStore {
    pub(crate) fn new(inner: Arc<dyn Store>, wire: Arc<Tripwire>) -> FailStopStore {
        FailStopStore { inner, wire }
    }

    fn write(&self, op: impl FnOnce() -> Result<(), StoreError>) -> Result<(), StoreError> {
        if self.wire.tripped() {
            return Err(StoreError::Injected {
                detail: "the node fail-stopped after an earlier store failure".into(),
            });
        }
        op().inspect_err(|e| self.wire.trip(e))
    }
}

impl Store for FailStopStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        self.write(|| self.inner.commit(batch))
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.write(|| self.inner.sync())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }

    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan(table, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CrashableStore;

    #[test]
    fn the_first_failure_trips_and_later_writes_fail_without_reaching_the_store() {
        let disk = CrashableStore::new();
        let wire = Arc::new(Tripwire::default());
        let store = FailStopStore::new(Arc::new(disk.clone()), wire.clone());
        let mut b = Batch::new();
        b.put(Table::App, b"k".to_vec(), b"1".to_vec());
        store.commit(&b).unwrap();
        assert!(!wire.tripped());
        disk.fail_next_writes(1);
        assert!(store.sync().is_err());
        assert!(wire.tripped());
        // The disk would accept it now; the tripped node does not try.
        assert!(store.commit(&b).is_err());
        assert_eq!(disk.committed(), 1);
        assert_eq!(store.get(Table::App, b"k").unwrap(), Some(b"1".to_vec()));
    }
}
