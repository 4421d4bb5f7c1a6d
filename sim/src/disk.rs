//! Simulated disks: what a node's store lives on in a simulated run, and what a crash of the
//! node does to it.
//!
//! A run journals to one of two stores ([`StoreKind`]): the in-memory model of a disk
//! ([`CrashableStore`], the default: fast, and it numbers its batches for the oracles), or
//! the real [`FileStore`], redb and all, on a [`SimDisk`]: storage in memory that keeps
//! what was synced and loses every write since the last sync when its node crashes. So the
//! durability of the store a deployment uses is rehearsed under every plan, not only tested
//! once.
//!
//! Both fail writes and syncs on demand (the `disk` fault kind): the node fail-stops at the
//! first failure and its supervisor restarts it.

use std::io;
use std::sync::{Arc, Mutex};

#[cfg_attr(not(madsim), allow(unused_imports))]
use rehearsal::store::FileStore;
use rehearsal::store::StorageBackend;
#[cfg(madsim)]
use rehearsal::store::{CountingStore, CrashableStore, Store, StoreCounts, StoreError};

use crate::plan::DiskOp;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Which store a simulated node journals to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreKind {
    /// [`CrashableStore`]: the in-memory model of a disk (the default).
    #[default]
    Model,
    /// [`FileStore`] (redb) on a [`SimDisk`]: the store a deployment uses.
    File,
}

impl StoreKind {
    /// Every kind.
    pub const ALL: [StoreKind; 2] = [StoreKind::Model, StoreKind::File];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Model => "model",
            StoreKind::File => "file",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<StoreKind> {
        StoreKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A write not yet synced.
#[derive(Debug)]
enum Pending {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

#[derive(Debug, Default)]
struct DiskState {
    /// What survives a crash.
    durable: Vec<u8>,
    /// What reads see: `durable` with `pending` applied.
    visible: Vec<u8>,
    /// Writes and length changes since the last sync, in order.
    pending: Vec<Pending>,
    /// Crashes so far: a handle of an earlier life is dead.
    life: u64,
    write_failures: u32,
    sync_failures: u32,
}

fn apply(bytes: &mut Vec<u8>, op: &Pending) {
    match op {
        Pending::Write(offset, data) => {
            let start = *offset as usize;
            let end = start + data.len();
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            bytes[start..end].copy_from_slice(data);
        }
        Pending::SetLen(len) => bytes.resize(*len as usize, 0),
    }
}

/// A simulated disk: storage in memory that survives its node's crash minus every write
/// since the last sync (the worst a disk that honours `fsync` may do), and fails writes or
/// syncs when told to. Clones share one disk.
///
/// [`SimDisk::backend`] gives the storage a [`FileStore`] opens for one life of the node;
/// after [`SimDisk::crash`] that handle is dead (every operation fails), as the old process's
/// file descriptors are, so nothing the dead node's database does on its way out (redb
/// writes on close) reaches the disk.
///
/// ```
/// use rehearsal::store::{Batch, FileStore, Store, Table};
/// use rehearsal_sim::disk::SimDisk;
///
/// let disk = SimDisk::new();
/// let store = FileStore::with_backend("n0.redb", disk.backend()).unwrap();
/// store.commit(Batch::new().put(Table::App, b"kept".to_vec(), b"1".to_vec())).unwrap();
/// store.sync().unwrap();
/// store.commit(Batch::new().put(Table::App, b"lost".to_vec(), b"2".to_vec())).unwrap();
/// disk.crash();
/// drop(store);
/// let store = FileStore::with_backend("n0.redb", disk.backend()).unwrap();
/// assert_eq!(store.get(Table::App, b"kept").unwrap(), Some(b"1".to_vec()));
/// assert_eq!(store.get(Table::App, b"lost").unwrap(), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    state: Arc<Mutex<DiskState>>,
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    /// Storage for one life of the node, until the next [`SimDisk::crash`].
    pub fn backend(&self) -> DiskBackend {
        DiskBackend {
            disk: self.clone(),
            life: lock(&self.state).life,
        }
    }

    /// The node died: every write since the last sync is lost, and the handles of its life
    /// are dead. Returns how many writes (and length changes) it lost.
    pub fn crash(&self) -> usize {
        let mut st = lock(&self.state);
        let lost = st.pending.len();
        st.pending.clear();
        st.visible = st.durable.clone();
        st.life += 1;
        lost
    }

    /// Writes (and length changes) a crash now would lose.
    pub fn unsynced(&self) -> usize {
        lock(&self.state).pending.len()
    }

    /// Makes the next `n` writes fail (`DiskOp::Write`, leaving the storage unchanged) or the
    /// next `n` syncs (`DiskOp::Sync`, leaving what they would have synced unsynced). Adds to
    /// any failures pending.
    pub fn fail_next(&self, op: DiskOp, n: u32) {
        let mut st = lock(&self.state);
        let counter = match op {
            DiskOp::Write => &mut st.write_failures,
            DiskOp::Sync => &mut st.sync_failures,
        };
        *counter = counter.saturating_add(n);
    }
}

/// The storage of one life of a node on a [`SimDisk`] (redb's [`StorageBackend`]).
#[derive(Debug)]
pub struct DiskBackend {
    disk: SimDisk,
    life: u64,
}

impl DiskBackend {
    fn with<T>(&self, op: impl FnOnce(&mut DiskState) -> io::Result<T>) -> io::Result<T> {
        let mut st = lock(&self.disk.state);
        if st.life != self.life {
            return Err(io::Error::other(
                "the simulated disk's node crashed: this handle belongs to the dead process",
            ));
        }
        op(&mut st)
    }
}

impl StorageBackend for DiskBackend {
    fn len(&self) -> io::Result<u64> {
        self.with(|st| Ok(st.visible.len() as u64))
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.with(|st| {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            match st.visible.get(start..start.saturating_add(len)) {
                Some(bytes) => Ok(bytes.to_vec()),
                None => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "read of {len} bytes at {offset} past the end of the simulated disk ({} bytes)",
                        st.visible.len()
                    ),
                )),
            }
        })
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|st| {
            let op = Pending::SetLen(len);
            apply(&mut st.visible, &op);
            st.pending.push(op);
            Ok(())
        })
    }

    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        self.with(|st| {
            if st.sync_failures > 0 {
                st.sync_failures -= 1;
                return Err(io::Error::other("injected disk fault: fsync failed"));
            }
            let DiskState {
                durable, pending, ..
            } = st;
            for op in pending.drain(..) {
                apply(durable, &op);
            }
            Ok(())
        })
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.with(|st| {
            if st.write_failures > 0 {
                st.write_failures -= 1;
                return Err(io::Error::other("injected disk fault: write failed"));
            }
            let op = Pending::Write(offset, data.to_vec());
            apply(&mut st.visible, &op);
            st.pending.push(op);
            Ok(())
        })
    }
}

/// A node's disk in one run, of either kind.
#[cfg(madsim)]
#[derive(Clone, Debug)]
pub(crate) enum NodeDisk {
    Model(CrashableStore),
    File(SimDisk, Arc<Life>),
}

/// The database a node's current life has open on its [`SimDisk`]: a crash closes it, so
/// the dead life's database (its page cache with it) is gone even where a task of the dead
/// node still holds the store.
#[cfg(madsim)]
#[derive(Debug, Default)]
pub(crate) struct Life {
    db: Mutex<Option<FileStore>>,
}

#[cfg(madsim)]
impl Life {
    fn with<T>(
        &self,
        op: impl FnOnce(&FileStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &*lock(&self.db) {
            Some(db) => op(db),
            None => Err(StoreError::Io {
                path: "simulated disk".into(),
                detail: "the node's process died: its database is closed".into(),
            }),
        }
    }

    fn close(&self) {
        let db = lock(&self.db).take();
        drop(db);
    }
}

#[cfg(madsim)]
impl Store for Life {
    fn commit(&self, batch: &rehearsal::store::Batch) -> Result<(), StoreError> {
        self.with(|db| db.commit(batch))
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.with(|db| db.sync())
    }

    fn get(
        &self,
        table: rehearsal::store::Table,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|db| db.get(table, key))
    }

    fn scan(
        &self,
        table: rehearsal::store::Table,
        prefix: &[u8],
    ) -> Result<Vec<rehearsal::store::Entry>, StoreError> {
        self.with(|db| db.scan(table, prefix))
    }
}

#[cfg(madsim)]
impl NodeDisk {
    pub(crate) fn new(kind: StoreKind) -> NodeDisk {
        match kind {
            StoreKind::Model => NodeDisk::Model(CrashableStore::new()),
            StoreKind::File => NodeDisk::File(SimDisk::new(), Arc::default()),
        }
    }

    /// The model store, which numbers its batches (the `effect-logged` oracle uses them).
    pub(crate) fn model(&self) -> Option<CrashableStore> {
        match self {
            NodeDisk::Model(s) => Some(s.clone()),
            NodeDisk::File(..) => None,
        }
    }

    /// The node died: what the disk loses. Returns a note for the trace and, when it lost
    /// something, the number of the last batch that survived (`Some(0)` where the disk
    /// cannot tell batches apart: every batch of the dead life may be lost).
    pub(crate) fn crash(&self) -> (String, Option<u64>) {
        match self {
            NodeDisk::Model(store) => {
                let lost = store.lost_on_crash();
                let kept = (lost > 0).then(|| store.committed() - lost as u64);
                store.crash();
                (format!(", {lost} unsynced store batch(es) lost"), kept)
            }
            NodeDisk::File(disk, life) => {
                let lost = disk.crash();
                life.close();
                (
                    format!(", {lost} unsynced disk write(s) lost"),
                    (lost > 0).then_some(0),
                )
            }
        }
    }

    /// Makes the next `n` operations `op` fail.
    pub(crate) fn fail_next(&self, op: DiskOp, n: u32) {
        match self {
            NodeDisk::Model(store) => match op {
                DiskOp::Write => store.fail_next_commits(n),
                DiskOp::Sync => store.fail_next_syncs(n),
            },
            NodeDisk::File(disk, _) => disk.fail_next(op, n),
        }
    }
}

/// A node's disk and the stores opened on it: one per life of the node on a [`SimDisk`]
/// (a restarted process opens its file again), one for every life on the model.
#[cfg(madsim)]
pub(crate) struct NodeStore {
    pub(crate) disk: NodeDisk,
    name: String,
    opened: Mutex<Vec<Arc<CountingStore>>>,
}

#[cfg(madsim)]
impl NodeStore {
    pub(crate) fn new(disk: NodeDisk, name: String) -> NodeStore {
        NodeStore {
            disk,
            name,
            opened: Mutex::new(Vec::new()),
        }
    }

    /// The store for the node's life starting now.
    pub(crate) fn open(&self) -> Result<Arc<CountingStore>, StoreError> {
        let mut opened = lock(&self.opened);
        let store: Arc<dyn Store> = match &self.disk {
            NodeDisk::Model(store) => {
                if let Some(s) = opened.first() {
                    return Ok(s.clone());
                }
                Arc::new(store.clone())
            }
            NodeDisk::File(disk, life) => {
                let db = FileStore::with_backend(format!("{}.redb", self.name), disk.backend())?;
                *lock(&life.db) = Some(db);
                life.clone()
            }
        };
        let counted = Arc::new(CountingStore::new(store));
        opened.push(counted.clone());
        Ok(counted)
    }

    /// What went through every store opened on it.
    pub(crate) fn counts(&self) -> StoreCounts {
        lock(&self.opened)
            .iter()
            .map(|s| s.counts())
            .fold(StoreCounts::default(), |a, c| StoreCounts {
                commits: a.commits + c.commits,
                writes: a.writes + c.writes,
                syncs: a.syncs + c.syncs,
            })
    }

    /// Drops the stores it opened (at the end of a run: a file store holds its database).
    pub(crate) fn close(&self) {
        lock(&self.opened).clear();
        if let NodeDisk::File(_, life) = &self.disk {
            life.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal::store::{Batch, Store, Table};

    fn put(store: &FileStore, key: &[u8]) {
        store
            .commit(Batch::new().put(Table::Inbox, key.to_vec(), vec![7; 100]))
            .unwrap();
    }

    #[test]
    fn a_file_store_on_a_sim_disk_keeps_what_was_synced_across_crashes() {
        let disk = SimDisk::new();
        for round in 0..5u8 {
            let store = FileStore::with_backend("n0.redb", disk.backend()).unwrap();
            for k in 0..round {
                assert!(store.get(Table::Inbox, &[k, 0]).unwrap().is_some(), "{k}");
                assert!(store.get(Table::Inbox, &[k, 1]).unwrap().is_none(), "{k}");
            }
            put(&store, &[round, 0]);
            store.sync().unwrap();
            put(&store, &[round, 1]);
            assert!(disk.unsynced() > 0 || round > 0);
            disk.crash();
        }
    }

    #[test]
    fn a_failed_sync_leaves_the_batch_unsynced_and_a_dead_handle_writes_nothing() {
        let disk = SimDisk::new();
        let store = FileStore::with_backend("n0.redb", disk.backend()).unwrap();
        put(&store, b"a");
        disk.fail_next(DiskOp::Sync, 1);
        assert!(store.sync().is_err());
        disk.crash();
        // The old database's close cannot persist anything.
        drop(store);
        let store = FileStore::with_backend("n0.redb", disk.backend()).unwrap();
        assert_eq!(store.get(Table::Inbox, b"a").unwrap(), None);
        put(&store, b"b");
        disk.fail_next(DiskOp::Write, 1);
        assert!(store.sync().is_err(), "the durable commit writes pages");
    }
}
