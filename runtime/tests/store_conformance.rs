//! The store conformance suite: one set of cases, run against [`MemoryStore`],
//! [`CrashableStore`] and [`FileStore`], plus the cases only one store has (fault injection,
//! damaged files) and property tests against a model of a disk.
//!
//! A "crash" is what a restarted process sees: a new, empty `MemoryStore` (it is volatile);
//! `CrashableStore::crash` on a handle kept across the restart; and for `FileStore`, the bytes
//! the file holds while the store is still open (what a killed process leaves behind), copied
//! to a new file and opened there.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rehearsal::store::{Batch, CrashableStore, FileStore, MemoryStore, Store, StoreError, Table};
use tempfile::TempDir;

/// A store under test and how it crashes.
trait Subject {
    /// The store.
    type S: Store;
    /// Whether a crash loses the batches committed since the last sync.
    const LOSES_UNSYNCED: bool;
    /// Whether a crash keeps the batches committed before the last sync.
    const KEEPS_SYNCED: bool;
    /// A fresh, empty store.
    fn new() -> Self;
    /// The store, as the running process sees it.
    fn store(&self) -> &Self::S;
    /// Crashes the process and restarts it: afterwards [`Subject::store`] is the reopened store.
    fn crash(&mut self);
}

struct Memory(MemoryStore);

impl Subject for Memory {
    type S = MemoryStore;
    const LOSES_UNSYNCED: bool = true;
    const KEEPS_SYNCED: bool = false;
    fn new() -> Self {
        Memory(MemoryStore::new())
    }
    fn store(&self) -> &MemoryStore {
        &self.0
    }
    fn crash(&mut self) {
        self.0 = MemoryStore::new();
    }
}

struct Crashable(CrashableStore);

impl Subject for Crashable {
    type S = CrashableStore;
    const LOSES_UNSYNCED: bool = true;
    const KEEPS_SYNCED: bool = true;
    fn new() -> Self {
        Crashable(CrashableStore::new())
    }
    fn store(&self) -> &CrashableStore {
        &self.0
    }
    fn crash(&mut self) {
        // The simulator keeps a handle, crashes it, and gives the restarted node a clone.
        let kept = self.0.clone();
        kept.crash();
        self.0 = kept.clone();
    }
}

struct File {
    dir: TempDir,
    store: Option<FileStore>,
    crashes: u32,
}

impl Subject for File {
    type S = FileStore;
    const LOSES_UNSYNCED: bool = true;
    const KEEPS_SYNCED: bool = true;
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path().join("node.redb")).unwrap();
        File {
            dir,
            store: Some(store),
            crashes: 0,
        }
    }
    fn store(&self) -> &FileStore {
        self.store.as_ref().unwrap()
    }
    fn crash(&mut self) {
        // The file's bytes while the store is open are what a killed process leaves: dropping
        // the store would close it cleanly instead.
        self.crashes += 1;
        let after = self
            .dir
            .path()
            .join(format!("after-crash-{}.redb", self.crashes));
        fs::copy(self.store().path(), &after).unwrap();
        self.store = None;
        self.store = Some(FileStore::open(&after).unwrap());
    }
}

fn put(table: Table, key: &[u8], value: &[u8]) -> Batch {
    let mut batch = Batch::new();
    batch.put(table, key, value);
    batch
}

fn get(store: &impl Store, table: Table, key: &[u8]) -> Option<Vec<u8>> {
    store.get(table, key).unwrap()
}

fn keys(rows: &[(Vec<u8>, Vec<u8>)]) -> Vec<&[u8]> {
    rows.iter().map(|(key, _)| key.as_slice()).collect()
}

/// Every row of every table.
fn everything(store: &impl Store) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
    Table::ALL
        .into_iter()
        .flat_map(|table| {
            store
                .scan(table, b"")
                .unwrap()
                .into_iter()
                .map(move |(key, value)| (table, key, value))
        })
        .collect()
}

fn batch_is_atomic_and_visible<T: Subject>() {
    let subject = T::new();
    let store = subject.store();
    let mut batch = Batch::new();
    batch
        .put(Table::Sessions, b"s1", b"running")
        .put(Table::Inbox, b"f1", b"frame")
        .put(Table::Sessions, b"gone", b"x")
        .delete(Table::Sessions, b"gone")
        .put(Table::Effects, b"e", b"first")
        .put(Table::Effects, b"e", b"second")
        .delete(Table::Outbox, b"never-there");
    store.commit(&batch).unwrap();
    assert_eq!(
        get(store, Table::Sessions, b"s1").as_deref(),
        Some(&b"running"[..])
    );
    assert_eq!(
        get(store, Table::Inbox, b"f1").as_deref(),
        Some(&b"frame"[..])
    );
    assert_eq!(
        get(store, Table::Sessions, b"gone"),
        None,
        "a delete after a put wins"
    );
    assert_eq!(
        get(store, Table::Effects, b"e").as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(get(store, Table::Outbox, b"never-there"), None);
    assert_eq!(get(store, Table::Inbox, b"s1"), None, "tables are separate");
    assert_eq!(everything(store).len(), 3);
}

fn later_batches_override_earlier<T: Subject>() {
    let subject = T::new();
    let store = subject.store();
    store.commit(&put(Table::Outbox, b"k", b"1")).unwrap();
    store.commit(&put(Table::Outbox, b"k", b"2")).unwrap();
    assert_eq!(get(store, Table::Outbox, b"k").as_deref(), Some(&b"2"[..]));
    let mut delete = Batch::new();
    delete.delete(Table::Outbox, b"k");
    store.commit(&delete).unwrap();
    assert_eq!(get(store, Table::Outbox, b"k"), None);
    store.commit(&put(Table::Outbox, b"k", b"3")).unwrap();
    assert_eq!(get(store, Table::Outbox, b"k").as_deref(), Some(&b"3"[..]));
}

fn scan_returns_prefix_matches_in_byte_order<T: Subject>() {
    let subject = T::new();
    let store = subject.store();
    let mut batch = Batch::new();
    for key in [
        &b"b"[..],
        b"ab",
        b"a",
        b"abc",
        b"a\xff",
        b"ab\x00",
        b"",
        b"\xff",
        b"\xff\xff",
        b"A",
    ] {
        batch.put(Table::Snapshots, key, [b"v:".as_slice(), key].concat());
    }
    batch.put(Table::Inbox, b"a1", b"other table");
    batch.put(Table::Sessions, b"ab", b"other table");
    store.commit(&batch).unwrap();

    let rows = store.scan(Table::Snapshots, b"a").unwrap();
    assert_eq!(keys(&rows), [&b"a"[..], b"ab", b"ab\x00", b"abc", b"a\xff"]);
    for (key, value) in &rows {
        assert_eq!(value, &[b"v:".as_slice(), key].concat());
    }
    assert_eq!(
        keys(&store.scan(Table::Snapshots, b"ab").unwrap()),
        [&b"ab"[..], b"ab\x00", b"abc"]
    );
    assert_eq!(
        keys(&store.scan(Table::Snapshots, b"\xff").unwrap()),
        [&b"\xff"[..], b"\xff\xff"]
    );
    assert_eq!(
        keys(&store.scan(Table::Snapshots, b"").unwrap()),
        [
            &b""[..],
            b"A",
            b"a",
            b"ab",
            b"ab\x00",
            b"abc",
            b"a\xff",
            b"b",
            b"\xff",
            b"\xff\xff"
        ]
    );
    assert!(store.scan(Table::Snapshots, b"abcd").unwrap().is_empty());
    assert!(store.scan(Table::Snapshots, b"c").unwrap().is_empty());
    assert!(
        store.scan(Table::Outbox, b"").unwrap().is_empty(),
        "an empty table"
    );
    assert_eq!(keys(&store.scan(Table::Inbox, b"a").unwrap()), [&b"a1"[..]]);
}

fn empty_batch_is_fine<T: Subject>() {
    let mut subject = T::new();
    subject
        .store()
        .commit(&put(Table::Sessions, b"k", b"v"))
        .unwrap();
    subject.store().sync().unwrap();
    let before = everything(subject.store());
    subject.store().commit(&Batch::new()).unwrap();
    subject.store().sync().unwrap();
    subject.store().sync().unwrap();
    assert_eq!(everything(subject.store()), before);
    subject.store().commit(&Batch::new()).unwrap();
    subject.crash();
    let expected = if T::KEEPS_SYNCED { before } else { Vec::new() };
    assert_eq!(everything(subject.store()), expected);
}

fn large_values_round_trip<T: Subject>() {
    let mut subject = T::new();
    let large: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let other: Vec<u8> = large.iter().rev().copied().collect();
    let mut batch = Batch::new();
    batch
        .put(Table::Snapshots, b"big", large.clone())
        .put(Table::Effects, b"big2", other.clone());
    subject.store().commit(&batch).unwrap();
    assert_eq!(
        get(subject.store(), Table::Snapshots, b"big").as_ref(),
        Some(&large)
    );
    assert_eq!(
        subject.store().scan(Table::Effects, b"big").unwrap(),
        [(b"big2".to_vec(), other.clone())]
    );
    subject.store().sync().unwrap();
    subject.crash();
    if T::KEEPS_SYNCED {
        assert_eq!(
            get(subject.store(), Table::Snapshots, b"big").as_ref(),
            Some(&large)
        );
        assert_eq!(
            get(subject.store(), Table::Effects, b"big2").as_ref(),
            Some(&other)
        );
    }
}

fn unsynced_write_is_lost_on_crash<T: Subject>() {
    let mut subject = T::new();
    let mut synced = Batch::new();
    synced
        .put(Table::Sessions, b"s", b"synced")
        .put(Table::Inbox, b"kept", b"1");
    subject.store().commit(&synced).unwrap();
    subject.store().sync().unwrap();
    let mut unsynced = Batch::new();
    unsynced
        .put(Table::Sessions, b"s", b"unsynced")
        .put(Table::Outbox, b"new", b"2")
        .delete(Table::Inbox, b"kept");
    subject.store().commit(&unsynced).unwrap();
    subject
        .store()
        .commit(&put(Table::Effects, b"e", b"3"))
        .unwrap();
    assert_eq!(
        get(subject.store(), Table::Sessions, b"s").as_deref(),
        Some(&b"unsynced"[..])
    );
    subject.crash();
    let store = subject.store();
    if T::LOSES_UNSYNCED {
        assert_eq!(get(store, Table::Outbox, b"new"), None);
        assert_eq!(get(store, Table::Effects, b"e"), None);
    }
    if T::LOSES_UNSYNCED && T::KEEPS_SYNCED {
        assert_eq!(
            get(store, Table::Sessions, b"s").as_deref(),
            Some(&b"synced"[..])
        );
        assert_eq!(
            get(store, Table::Inbox, b"kept").as_deref(),
            Some(&b"1"[..])
        );
        assert_eq!(everything(store).len(), 2);
    }
    if !T::KEEPS_SYNCED {
        assert_eq!(
            everything(store),
            Vec::new(),
            "a volatile store loses everything"
        );
    }
}

fn synced_write_survives_crash<T: Subject>() {
    let mut subject = T::new();
    let mut batch = Batch::new();
    batch
        .put(Table::Sessions, b"s", b"1")
        .put(Table::Inbox, b"i", b"2")
        .put(Table::Outbox, b"o", b"3")
        .put(Table::Effects, b"e", b"4")
        .put(Table::Snapshots, b"n", b"5")
        .put(Table::Sessions, b"deleted", b"6");
    subject.store().commit(&batch).unwrap();
    let mut delete = Batch::new();
    delete.delete(Table::Sessions, b"deleted");
    subject.store().commit(&delete).unwrap();
    subject.store().sync().unwrap();
    let expected = everything(subject.store());
    assert_eq!(expected.len(), 5);
    subject.crash();
    if T::KEEPS_SYNCED {
        assert_eq!(everything(subject.store()), expected);
    } else {
        assert_eq!(
            everything(subject.store()),
            Vec::new(),
            "a volatile store loses everything"
        );
    }
}

fn store_works_across_repeated_crashes<T: Subject>() {
    let mut subject = T::new();
    for round in 0..3u8 {
        subject
            .store()
            .commit(&put(Table::Effects, &[round], b"synced"))
            .unwrap();
        subject.store().sync().unwrap();
        subject
            .store()
            .commit(&put(Table::Effects, &[round, 0], b"unsynced"))
            .unwrap();
        subject.crash();
        let keys_now = keys(&subject.store().scan(Table::Effects, b"").unwrap())
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        let expected: Vec<Vec<u8>> = match (T::KEEPS_SYNCED, T::LOSES_UNSYNCED) {
            (true, true) => (0..=round).map(|r| vec![r]).collect(),
            (false, true) => Vec::new(),
            _ => unreachable!("no store keeps unsynced writes across a crash"),
        };
        assert_eq!(keys_now, expected, "round {round}");
    }
}

/// Declares one `#[test]` per case for a store.
macro_rules! conformance {
    ($module:ident, $subject:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn batch_is_atomic_and_visible() {
                super::batch_is_atomic_and_visible::<$subject>();
            }
            #[test]
            fn later_batches_override_earlier() {
                super::later_batches_override_earlier::<$subject>();
            }
            #[test]
            fn scan_returns_prefix_matches_in_byte_order() {
                super::scan_returns_prefix_matches_in_byte_order::<$subject>();
            }
            #[test]
            fn empty_batch_is_fine() {
                super::empty_batch_is_fine::<$subject>();
            }
            #[test]
            fn large_values_round_trip() {
                super::large_values_round_trip::<$subject>();
            }
            #[test]
            fn unsynced_write_is_lost_on_crash() {
                super::unsynced_write_is_lost_on_crash::<$subject>();
            }
            #[test]
            fn synced_write_survives_crash() {
                super::synced_write_survives_crash::<$subject>();
            }
            #[test]
            fn store_works_across_repeated_crashes() {
                super::store_works_across_repeated_crashes::<$subject>();
            }
        }
    };
}

conformance!(memory, Memory);
conformance!(crashable, Crashable);
conformance!(file, File);

// ---- CrashableStore only: fault injection and its handle ----

#[test]
fn crashable_injected_commit_failure_leaves_store_unchanged_and_names_the_op() {
    let store = CrashableStore::new();
    store
        .commit(&put(Table::Sessions, b"k", b"before"))
        .unwrap();
    store.fail_next_writes(1);
    let mut batch = Batch::new();
    batch
        .put(Table::Sessions, b"k", b"after")
        .put(Table::Inbox, b"i", b"x");
    let error = store.commit(&batch).unwrap_err();
    assert!(
        matches!(&error, StoreError::Injected { detail } if detail.contains("commit")),
        "{error}"
    );
    assert!(error.to_string().contains("injected"), "{error}");
    assert_eq!(
        get(&store, Table::Sessions, b"k").as_deref(),
        Some(&b"before"[..])
    );
    assert_eq!(get(&store, Table::Inbox, b"i"), None);
    assert_eq!(
        store.lost_on_crash(),
        1,
        "the failed batch is not pending either"
    );
    store.commit(&batch).unwrap();
    assert_eq!(
        get(&store, Table::Sessions, b"k").as_deref(),
        Some(&b"after"[..])
    );
}

#[test]
fn crashable_injected_sync_failure_leaves_batches_unsynced_and_names_the_op() {
    let store = CrashableStore::new();
    store.commit(&put(Table::Outbox, b"o", b"1")).unwrap();
    store.fail_next_writes(1);
    let error = store.sync().unwrap_err();
    assert!(
        matches!(&error, StoreError::Injected { detail } if detail.contains("sync")),
        "{error}"
    );
    assert_eq!(store.lost_on_crash(), 1);
    assert_eq!(
        get(&store, Table::Outbox, b"o").as_deref(),
        Some(&b"1"[..]),
        "still visible"
    );
    store.crash();
    assert_eq!(
        get(&store, Table::Outbox, b"o"),
        None,
        "the failed sync made nothing durable"
    );
}

#[test]
fn crashable_failures_count_commits_and_syncs_together() {
    let store = CrashableStore::new();
    store.fail_next_writes(3);
    assert!(store.commit(&put(Table::Effects, b"a", b"1")).is_err());
    assert!(store.sync().is_err());
    assert!(
        store.commit(&Batch::new()).is_err(),
        "an empty commit is a write too"
    );
    store.commit(&put(Table::Effects, b"a", b"1")).unwrap();
    store.sync().unwrap();
    assert_eq!(
        get(&store, Table::Effects, b"a").as_deref(),
        Some(&b"1"[..])
    );

    store.fail_next_writes(5);
    store.fail_next_writes(0);
    store.commit(&put(Table::Effects, b"b", b"2")).unwrap();
    // Reads never fail.
    store.fail_next_writes(1);
    assert_eq!(
        get(&store, Table::Effects, b"b").as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(store.scan(Table::Effects, b"").unwrap().len(), 2);
    assert!(store.sync().is_err());
}

#[test]
fn crashable_counts_what_a_crash_would_lose_and_clones_share_state() {
    let store = CrashableStore::new();
    let handle = store.clone();
    assert_eq!(store.lost_on_crash(), 0);
    store.commit(&put(Table::Inbox, b"1", b"a")).unwrap();
    store.commit(&Batch::new()).unwrap();
    store.commit(&put(Table::Inbox, b"2", b"b")).unwrap();
    assert_eq!(handle.lost_on_crash(), 2, "empty batches lose nothing");
    assert_eq!(get(&handle, Table::Inbox, b"2").as_deref(), Some(&b"b"[..]));
    handle.sync().unwrap();
    assert_eq!(store.lost_on_crash(), 0);
    store.commit(&put(Table::Inbox, b"3", b"c")).unwrap();
    drop(store);
    handle.crash();
    assert_eq!(handle.lost_on_crash(), 0);
    assert_eq!(
        keys(&handle.scan(Table::Inbox, b"").unwrap()),
        [&b"1"[..], b"2"]
    );
}

// ---- FileStore only: files ----

/// Asserts `result` is a `Corrupt` error naming `path`.
fn assert_corrupt(result: Result<FileStore, StoreError>, path: &Path) {
    let error = result.expect_err("a damaged file must not open");
    let message = error.to_string();
    assert!(
        matches!(&error, StoreError::Corrupt { path: p, .. } if p == path),
        "{error:?}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("corrupt"), "{message}");
}

/// Asserts `result` is an `Io` error naming `path`.
fn assert_io(result: Result<FileStore, StoreError>, path: &Path) {
    let error = result.expect_err("the file cannot be opened");
    let message = error.to_string();
    assert!(
        matches!(&error, StoreError::Io { path: p, .. } if p == path),
        "{error:?}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
}

/// A store file holding some synced data, closed; its path.
fn written_store(dir: &Path) -> PathBuf {
    let path = dir.join("written.redb");
    let store = FileStore::open(&path).unwrap();
    for i in 0..200u32 {
        let mut batch = Batch::new();
        batch
            .put(Table::Inbox, i.to_be_bytes(), vec![i as u8; 300])
            .put(Table::Sessions, b"state", i.to_be_bytes());
        store.commit(&batch).unwrap();
    }
    store.sync().unwrap();
    drop(store);
    path
}

#[test]
fn file_garbage_is_reported_corrupt_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        (
            "text.redb",
            b"this is not a database, just some text\n".repeat(200),
        ),
        ("short.redb", b"xyz".to_vec()),
        ("zeros.redb", vec![0u8; 8192]),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, &bytes).unwrap();
        assert_corrupt(FileStore::open(&path), &path);
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "{name}: a damaged file is left as it was"
        );
    }
}

#[test]
fn file_truncated_store_is_reported_corrupt_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let original = fs::read(written_store(dir.path())).unwrap();
    assert!(
        original.len() > 64 << 10,
        "the store spans many pages: {}",
        original.len()
    );
    for length in [
        1,
        8,
        100,
        4095,
        4096,
        4097,
        original.len() / 2,
        original.len() - 1,
    ] {
        let path = dir.path().join(format!("truncated-{length}.redb"));
        fs::write(&path, &original[..length]).unwrap();
        assert_corrupt(FileStore::open(&path), &path);
    }
}

#[test]
fn file_damaged_header_is_reported_corrupt_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = fs::read(written_store(dir.path())).unwrap();
    // Keep the magic number (the first 9 bytes); scramble the rest of the header page.
    for (i, byte) in bytes[9..4096].iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    let path = dir.path().join("header.redb");
    fs::write(&path, &bytes).unwrap();
    assert_corrupt(FileStore::open(&path), &path);
}

#[test]
fn file_in_a_missing_directory_is_an_io_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-directory").join("node.redb");
    assert_io(FileStore::open(&path), &path);
    assert!(!path.exists());
}

#[test]
fn file_that_is_a_directory_is_an_io_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    assert_io(FileStore::open(dir.path()), dir.path());
}

#[test]
fn file_open_twice_is_an_io_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let _store = FileStore::open(&path).unwrap();
    assert_io(FileStore::open(&path), &path);
}

#[test]
fn file_empty_file_opens_as_an_empty_store() {
    // A zero-length file holds nothing to lose (e.g. created just before a crash).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.redb");
    fs::write(&path, b"").unwrap();
    let store = FileStore::open(&path).unwrap();
    assert_eq!(everything(&store), Vec::new());
}

#[test]
fn file_reopened_after_a_clean_close_has_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = written_store(dir.path());
    let store = FileStore::open(&path).unwrap();
    assert_eq!(store.path(), path);
    assert_eq!(store.scan(Table::Inbox, b"").unwrap().len(), 200);
    assert_eq!(
        get(&store, Table::Sessions, b"state"),
        Some(199u32.to_be_bytes().to_vec())
    );
}

#[test]
fn file_clean_close_keeps_unsynced_writes() {
    // Not a guarantee of the `Store` contract: it pins what redb 2.6 does when the database
    // is dropped (one more durable commit), which `FileStore`'s docs describe.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let store = FileStore::open(&path).unwrap();
    store
        .commit(&put(Table::Outbox, b"o", b"unsynced"))
        .unwrap();
    drop(store);
    let store = FileStore::open(&path).unwrap();
    assert_eq!(
        get(&store, Table::Outbox, b"o").as_deref(),
        Some(&b"unsynced"[..])
    );
}

// ---- Property tests: random histories against a model of a disk ----

/// One write: `Some(value)` sets, `None` deletes.
type Write = (Table, Vec<u8>, Option<Vec<u8>>);

/// One step of a history.
#[derive(Clone, Debug)]
enum Step {
    Commit(Vec<Write>),
    Sync,
    Crash,
    FailNext(u32),
}

fn table() -> impl Strategy<Value = Table> {
    prop::sample::select(Table::ALL.to_vec())
}

/// A step of a history; `FailNext` only if `fail`.
fn step(fail: bool) -> BoxedStrategy<Step> {
    // Short keys over a small alphabet, so writes collide and keys are prefixes of each other.
    let write = (
        table(),
        prop::collection::vec(0u8..3, 0..3),
        prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..4)),
    );
    let commit = prop::collection::vec(write, 0..5).prop_map(Step::Commit);
    if fail {
        prop_oneof![
            6 => commit,
            2 => Just(Step::Sync),
            1 => Just(Step::Crash),
            1 => (0u32..3).prop_map(Step::FailNext),
        ]
        .boxed()
    } else {
        prop_oneof![
            6 => commit,
            2 => Just(Step::Sync),
            1 => Just(Step::Crash),
        ]
        .boxed()
    }
}

fn batch_of(ops: &[Write]) -> Batch {
    let mut batch = Batch::new();
    for (table, key, value) in ops {
        match value {
            Some(value) => batch.put(*table, key.clone(), value.clone()),
            None => batch.delete(*table, key.clone()),
        };
    }
    batch
}

/// The model: a disk's durable state and the batches written since the last sync.
#[derive(Default)]
struct Model {
    durable: std::collections::BTreeMap<(Table, Vec<u8>), Vec<u8>>,
    unsynced: Vec<Vec<Write>>,
    failures: u32,
}

impl Model {
    fn visible(&self) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
        let mut state = self.durable.clone();
        for ops in &self.unsynced {
            apply(&mut state, ops);
        }
        state
            .into_iter()
            .map(|((table, key), value)| (table, key, value))
            .collect()
    }
}

fn apply(state: &mut std::collections::BTreeMap<(Table, Vec<u8>), Vec<u8>>, ops: &[Write]) {
    for (table, key, value) in ops {
        match value {
            Some(value) => state.insert((*table, key.clone()), value.clone()),
            None => state.remove(&(*table, key.clone())),
        };
    }
}

/// Checks every read of `store` against the model's visible state.
fn check_reads(store: &impl Store, model: &Model) -> Result<(), TestCaseError> {
    let expected = model.visible();
    prop_assert_eq!(everything(store), expected.clone());
    for table in Table::ALL {
        for prefix in [&[][..], &[0], &[1, 2], &[2, 2]] {
            let want: Vec<(Vec<u8>, Vec<u8>)> = expected
                .iter()
                .filter(|(t, key, _)| *t == table && key.starts_with(prefix))
                .map(|(_, key, value)| (key.clone(), value.clone()))
                .collect();
            prop_assert_eq!(store.scan(table, prefix).unwrap(), want);
        }
        for key in [&[][..], &[0], &[1, 1], &[2, 0, 1]] {
            let want = expected
                .iter()
                .find(|(t, k, _)| *t == table && k == key)
                .map(|(_, _, value)| value.clone());
            prop_assert_eq!(store.get(table, key).unwrap(), want);
        }
    }
    Ok(())
}

#[test]
fn crashable_store_matches_a_model_of_a_disk() {
    let config = Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]));
    runner
        .run(&prop::collection::vec(step(true), 0..40), |history| {
            let store = CrashableStore::new();
            let mut model = Model::default();
            for step in history {
                match step {
                    Step::Commit(ops) => {
                        let result = store.commit(&batch_of(&ops));
                        if model.failures > 0 {
                            model.failures -= 1;
                            let injected = matches!(result, Err(StoreError::Injected { .. }));
                            prop_assert!(injected, "expected an injected failure: {:?}", result);
                        } else {
                            prop_assert!(result.is_ok());
                            if !ops.is_empty() {
                                model.unsynced.push(ops);
                            }
                        }
                    }
                    Step::Sync => {
                        let result = store.sync();
                        if model.failures > 0 {
                            model.failures -= 1;
                            let injected = matches!(result, Err(StoreError::Injected { .. }));
                            prop_assert!(injected, "expected an injected failure: {:?}", result);
                        } else {
                            prop_assert!(result.is_ok());
                            for ops in std::mem::take(&mut model.unsynced) {
                                apply(&mut model.durable, &ops);
                            }
                        }
                    }
                    Step::Crash => {
                        store.crash();
                        model.unsynced.clear();
                    }
                    Step::FailNext(n) => {
                        store.fail_next_writes(n);
                        model.failures = n;
                    }
                }
                prop_assert_eq!(store.lost_on_crash(), model.unsynced.len());
                check_reads(&store, &model)?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn file_store_matches_a_model_of_a_disk() {
    // Fewer cases: every sync is an fsync and every crash copies and reopens the file.
    let config = Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[13; 32]));
    runner
        .run(&prop::collection::vec(step(false), 0..30), |history| {
            let mut subject = File::new();
            let mut model = Model::default();
            for step in history {
                match step {
                    Step::Commit(ops) => {
                        subject.store().commit(&batch_of(&ops)).unwrap();
                        model.unsynced.push(ops);
                    }
                    Step::Sync => {
                        subject.store().sync().unwrap();
                        for ops in std::mem::take(&mut model.unsynced) {
                            apply(&mut model.durable, &ops);
                        }
                    }
                    Step::Crash => {
                        subject.crash();
                        model.unsynced.clear();
                    }
                    Step::FailNext(_) => unreachable!("not generated for FileStore"),
                }
                check_reads(subject.store(), &model)?;
            }
            Ok(())
        })
        .unwrap();
}
