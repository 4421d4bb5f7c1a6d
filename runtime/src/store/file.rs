//! [`FileStore`]: a store in one file, on the redb embedded database.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{Builder, Database, Durability, StorageBackend, TableDefinition, TableError};

use super::{Batch, Entry, Store, StoreError, Table};

/// The most memory redb may use to cache pages of one store.
const CACHE_BYTES: usize = 32 << 20;

/// A store in one database file, on [redb](https://docs.rs/redb/2): a pure-Rust embedded
/// ACID key-value database (copy-on-write B-trees, checksummed pages, crash-safe commits,
/// damage detected on open). Pure Rust means no C toolchain in either build mode; one file
/// means a node's whole state is one path to keep, copy or move away.
///
/// Each [`Table`] is a redb table of byte strings named [`Table::name`]. A [`Store::commit`]
/// is one redb write transaction, so a batch is applied all or nothing, and is visible to
/// reads as soon as `commit` returns.
///
/// # Durability
///
/// Commits are *non-durable* (`Durability::None`): redb applies them in memory (and may write
/// their pages to the file) but does not fsync and does not point the file's header at them.
/// [`Store::sync`] runs an empty `Durability::Immediate` transaction, which flushes and fsyncs
/// every page and the header: redb then persists that commit together with every non-durable
/// commit before it. So:
///
/// - after `sync` returns `Ok`, every batch committed before it survives any crash (process
///   kill or power loss, given a disk that honours fsync);
/// - a crash before the next `sync` loses every batch committed since the last one (all of
///   them, never part of a batch, never a synced one); the file reopens at the last sync;
/// - a clean close (dropping the store) makes redb run one more durable commit, so batches
///   committed but not synced are kept too (observed behaviour of redb 2.6, not something
///   to rely on: sync before telling anyone).
///
/// This lets the runtime commit every state change cheaply and pay one fsync per
/// [`Store::sync`], which it calls only before something leaves the node. A `sync` with
/// nothing committed since the last one does nothing. redb frees pages only at durable
/// commits, so many commits with no sync grow the file (1,000 small commits with a sync every
/// 200 made a 17 MB file, against 1.6 MB syncing each); the runtime's frequent syncs keep that
/// bounded.
///
/// After a crash, opening the file runs redb's repair (it rescans the file to rebuild its
/// allocator state), which takes time proportional to the file size.
///
/// # Errors
///
/// Every error names the file. A file that is not a redb database, or one that fails redb's
/// checks (bad header, checksum mismatch, truncated), is [`StoreError::Corrupt`]; the store
/// never starts empty over it. Anything else (missing directory, permissions, the file
/// already opened by another store) is [`StoreError::Io`]. An empty (zero-length) file holds
/// nothing and opens as a new store. redb checks a few invariants of an existing file with
/// assertions (a truncated file trips one): `open` catches that panic and reports the file as
/// corrupt, though the panic message still goes to the panic hook (stderr).
pub struct FileStore {
    /// Dropped under a panic guard (see `Drop`): redb may check a damaged file on close too.
    db: Option<Database>,
    path: PathBuf,
    /// Whether something was committed since the last successful sync.
    dirty: AtomicBool,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The redb table holding `table`.
fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "no message".to_string()
    }
}

impl FileStore {
    /// Opens the store in the file at `path`, creating an empty store if the file does not
    /// exist (its directory must). Fails with [`StoreError::Corrupt`] if the file exists but is
    /// not an intact store, and with [`StoreError::Io`] if it cannot be opened (missing
    /// directory, permissions, already open).
    pub fn open(path: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let create = |path: &Path| Builder::new().set_cache_size(CACHE_BYTES).create(path);
        FileStore::opened(path.clone(), || create(&path))
    }

    /// Opens the store on `backend` instead of a file: the same database code over storage
    /// of the caller's (the simulator's disk, which loses unsynced writes on a crash, is
    /// one). `name` stands for the file in error messages. As with [`FileStore::open`],
    /// empty storage opens as a new store and damaged storage is [`StoreError::Corrupt`].
    ///
    /// ```
    /// use rehearsal::store::{Batch, FileStore, Store, Table};
    ///
    /// let memory = redb::backends::InMemoryBackend::new();
    /// let store = FileStore::with_backend("n1.redb", memory).unwrap();
    /// store.commit(Batch::new().put(Table::App, b"k".to_vec(), b"v".to_vec())).unwrap();
    /// store.sync().unwrap();
    /// assert_eq!(store.get(Table::App, b"k").unwrap(), Some(b"v".to_vec()));
    /// ```
    pub fn with_backend(
        name: impl Into<PathBuf>,
        backend: impl StorageBackend,
    ) -> Result<FileStore, StoreError> {
        FileStore::opened(name.into(), || {
            Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create_with_backend(backend)
        })
    }

    fn opened(
        path: PathBuf,
        create: impl FnOnce() -> Result<Database, redb::DatabaseError>,
    ) -> Result<FileStore, StoreError> {
        // redb checks some invariants of an existing file with assertions (e.g. a file shorter
        // than its header says panics): a damaged file must be an error, not a crash.
        let opened = panic::catch_unwind(AssertUnwindSafe(create));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(error)) => return Err(open_error(&path, error.into())),
            Err(payload) => {
                return Err(StoreError::Corrupt {
                    detail: format!(
                        "the database failed a consistency check while opening ({})",
                        panic_message(payload.as_ref())
                    ),
                    path,
                });
            }
        };
        let store = FileStore {
            db: Some(db),
            path,
            dirty: AtomicBool::new(false),
        };
        store.guarded("creating its tables", || store.create_tables())?;
        Ok(store)
    }

    /// Runs `op` on the database, turning a panic of redb's into [`StoreError::Corrupt`]:
    /// redb checks invariants of the pages it reads with assertions, so a file damaged in the
    /// middle can pass `open` and trip one later (in the first commit, or a read). A damaged
    /// file is an error naming it, never a crash of the node.
    fn guarded<T>(
        &self,
        doing: &str,
        op: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        panic::catch_unwind(AssertUnwindSafe(op)).unwrap_or_else(|payload| {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "the database failed a consistency check while {doing} ({})",
                    panic_message(payload.as_ref())
                ),
            })
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> &Database {
        // Taken only by `Drop`.
        self.db
            .as_ref()
            .expect("the database is open until the store is dropped")
    }

    /// Creates every table that does not exist yet (durably), and checks that the ones that
    /// exist hold byte strings.
    fn create_tables(&self) -> Result<(), StoreError> {
        let txn = self.db().begin_write().map_err(|e| self.error(e.into()))?;
        for table in Table::ALL {
            txn.open_table(definition(table))
                .map_err(|e| self.error(e.into()))?;
        }
        txn.commit().map_err(|e| self.error(e.into()))
    }

    /// `error`, naming the file.
    fn error(&self, error: redb::Error) -> StoreError {
        classify(&self.path, error)
    }
}

/// An error from opening the database at `path`: on open, redb reports a file that is not a
/// database (wrong magic number) or too short to be one as invalid or truncated data.
fn open_error(path: &Path, error: redb::Error) -> StoreError {
    match error {
        redb::Error::Io(io) if io.kind() == ErrorKind::InvalidData => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("not a redb database ({io})"),
        },
        redb::Error::Io(io) if io.kind() == ErrorKind::UnexpectedEof => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("the file is truncated ({io})"),
        },
        error => classify(path, error),
    }
}

/// Sorts a redb error into [`StoreError::Corrupt`] (the file's content is wrong) or
/// [`StoreError::Io`] (anything else).
fn classify(path: &Path, error: redb::Error) -> StoreError {
    let path = path.to_path_buf();
    match error {
        redb::Error::Corrupted(detail) => StoreError::Corrupt { path, detail },
        error @ (redb::Error::UpgradeRequired(_)
        | redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. }) => StoreError::Corrupt {
            path,
            detail: error.to_string(),
        },
        redb::Error::DatabaseAlreadyOpen => StoreError::Io {
            path,
            detail: "the database is already open (in this or another process)".to_string(),
        },
        redb::Error::PreviousIo => StoreError::Io {
            path,
            detail: "an earlier I/O error made the database unusable; reopen it".to_string(),
        },
        error => StoreError::Io {
            path,
            detail: error.to_string(),
        },
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        // Closing a damaged database can trip one of redb's assertions too (a store whose
        // `open` failed on a damaged file is dropped right away): never a crash of the node.
        if let Some(db) = self.db.take() {
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(db)));
        }
    }
}

impl Store for FileStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        self.guarded("committing", || self.commit_batch(batch))
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.guarded("syncing", || self.sync_now())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.guarded("reading", || self.read(table, key))
    }

    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.guarded("reading", || self.read_prefix(table, prefix))
    }
}

impl FileStore {
    fn commit_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut txn = self.db().begin_write().map_err(|e| self.error(e.into()))?;
        txn.set_durability(Durability::None);
        {
            let mut open = BTreeMap::new();
            for (table, key, value) in batch.ops() {
                let rows = match open.entry(*table) {
                    std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::btree_map::Entry::Vacant(entry) => entry.insert(
                        txn.open_table(definition(*table))
                            .map_err(|e| self.error(e.into()))?,
                    ),
                };
                match value {
                    Some(value) => rows.insert(key.as_slice(), value.as_slice()).map(drop),
                    None => rows.remove(key.as_slice()).map(drop),
                }
                .map_err(|e| self.error(e.into()))?;
            }
        }
        // On any error above, dropping `txn` aborts it: none of the batch is applied.
        txn.commit().map_err(|e| self.error(e.into()))?;
        self.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn sync_now(&self) -> Result<(), StoreError> {
        // Cleared before the durable commit: a batch committed concurrently sets it again, so
        // the next sync covers it even if this one ran first.
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let result = self
            .db()
            .begin_write()
            .map_err(|e| self.error(e.into()))
            .and_then(|mut txn| {
                txn.set_durability(Durability::Immediate);
                txn.commit().map_err(|e| self.error(e.into()))
            });
        if result.is_err() {
            self.dirty.store(true, Ordering::SeqCst);
        }
        result
    }

    fn read(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db().begin_read().map_err(|e| self.error(e.into()))?;
        let rows = match txn.open_table(definition(table)) {
            Ok(rows) => rows,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.error(e.into())),
        };
        let value = rows.get(key).map_err(|e| self.error(e.into()))?;
        Ok(value.map(|value| value.value().to_vec()))
    }

    fn read_prefix(&self, table: Table, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        let txn = self.db().begin_read().map_err(|e| self.error(e.into()))?;
        let rows = match txn.open_table(definition(table)) {
            Ok(rows) => rows,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e.into())),
        };
        let mut found = Vec::new();
        for row in rows.range(prefix..).map_err(|e| self.error(e.into()))? {
            let (key, value) = row.map_err(|e| self.error(e.into()))?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            found.push((key.to_vec(), value.value().to_vec()));
        }
        Ok(found)
    }
}
