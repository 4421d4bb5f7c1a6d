//! [`CrashableStore`]: an in-memory model of a disk, for simulation.

use std::sync::{Arc, Mutex};

use super::memory::{Tables, lock};
use super::{Batch, Store, StoreError, Table};

/// An in-memory store that models a disk: it survives a simulated crash, minus the batches
/// committed since the last [`Store::sync`], and can be told to fail writes.
///
/// It keeps the *durable* state and the list of committed but unsynced batches. Reads see the
/// durable state with the unsynced batches applied in commit order. [`Store::sync`] folds the
/// unsynced batches into the durable state; [`CrashableStore::crash`] drops them, as a power
/// loss would (the worst case the [`Store`] contract allows: every unsynced batch is lost).
///
/// Clones share one state (an [`Arc`] inside), so a simulator keeps a handle across a node's
/// restart: it calls [`crash`](CrashableStore::crash) when the node dies and hands a clone to
/// the restarted node. Everything is ordered maps, so behaviour is deterministic.
#[derive(Clone, Debug, Default)]
pub struct CrashableStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// What survives a crash.
    durable: Tables,
    /// Committed since the last sync, in commit order (empty batches are not kept).
    unsynced: Vec<Batch>,
    /// `durable` with `unsynced` applied: what reads see.
    visible: Tables,
    /// How many of the next commits or syncs fail.
    failures: u32,
    /// How many of the next commits fail (besides `failures`).
    commit_failures: u32,
    /// How many of the next syncs fail (besides `failures`).
    sync_failures: u32,
    /// Non-empty batches committed and still here (a crash takes back the unsynced ones).
    committed: u64,
}

impl State {
    /// Consumes one injected failure of a commit (`sync` false) or a sync, if one is
    /// pending: `Err` names `op`.
    fn inject(&mut self, sync: bool, op: impl FnOnce() -> String) -> Result<(), StoreError> {
        let own = if sync {
            &mut self.sync_failures
        } else {
            &mut self.commit_failures
        };
        let (counter, name) = if *own > 0 {
            let name = if sync {
                "fail_next_syncs"
            } else {
                "fail_next_commits"
            };
            (own, name)
        } else if self.failures > 0 {
            (&mut self.failures, "fail_next_writes")
        } else {
            return Ok(());
        };
        *counter -= 1;
        Err(StoreError::Injected {
            detail: format!("{} failed ({name})", op()),
        })
    }
}

impl CrashableStore {
    /// An empty store with no pending failures.
    pub fn new() -> CrashableStore {
        CrashableStore::default()
    }

    /// Simulates a power loss: drops every batch committed since the last sync. Reads then see
    /// the durable state only. Pending injected failures stay pending.
    pub fn crash(&self) {
        let mut state = lock(&self.state);
        state.committed -= state.unsynced.len() as u64;
        state.unsynced.clear();
        state.visible = state.durable.clone();
    }

    /// Makes the next `n` writes ([`Store::commit`] or [`Store::sync`] calls, counted together)
    /// fail with [`StoreError::Injected`] naming the operation, leaving the store unchanged.
    /// Replaces any count set before; `0` cancels pending failures.
    pub fn fail_next_writes(&self, n: u32) {
        lock(&self.state).failures = n;
    }

    /// Makes the next `n` [`Store::commit`] calls fail (the batch is not applied), as a disk
    /// that refuses a write. Adds to any failures pending.
    pub fn fail_next_commits(&self, n: u32) {
        let mut state = lock(&self.state);
        state.commit_failures = state.commit_failures.saturating_add(n);
    }

    /// Makes the next `n` [`Store::sync`] calls fail, leaving what they would have synced
    /// unsynced (a crash then loses it), as a disk whose `fsync` reports an error. Adds to
    /// any failures pending.
    pub fn fail_next_syncs(&self, n: u32) {
        let mut state = lock(&self.state);
        state.sync_failures = state.sync_failures.saturating_add(n);
    }

    /// How many non-empty batches were committed and are still here: the number of the last
    /// one (a crash takes back those it loses, so numbers go on from the durable ones). For
    /// a harness telling which writes a crash took: a write in batch `k` survives a crash
    /// that lost `n` batches if `k <= committed() - n`.
    pub fn committed(&self) -> u64 {
        lock(&self.state).committed
    }

    /// The value of `key` in `table` that a [`crash`](CrashableStore::crash) now would leave:
    /// the durable state only (for a harness checking what a node treated as durable).
    pub fn durable_get(&self, table: Table, key: &[u8]) -> Option<Vec<u8>> {
        lock(&self.state).durable.get(table, key)
    }

    /// How many committed batches a [`crash`](CrashableStore::crash) now would lose: the
    /// non-empty batches committed since the last sync.
    pub fn lost_on_crash(&self) -> usize {
        lock(&self.state).unsynced.len()
    }
}

impl Store for CrashableStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        state.inject(false, || {
            format!("commit of a batch of {} writes", batch.ops().len())
        })?;
        if !batch.is_empty() {
            state.visible.apply(batch);
            state.unsynced.push(batch.clone());
            state.committed += 1;
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        let unsynced = state.unsynced.len();
        state.inject(true, || format!("sync of {unsynced} unsynced batches"))?;
        let State {
            durable, unsynced, ..
        } = &mut *state;
        for batch in unsynced.drain(..) {
            durable.apply(&batch);
        }
        Ok(())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.state).visible.get(table, key))
    }

    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        Ok(lock(&self.state).visible.scan(table, prefix))
    }
}
