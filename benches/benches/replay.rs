//! Replay's cost in the fault-free path: the journal writes a run makes when nothing fails,
//! against the same run with no journal at all.
//!
//! Run with `cargo bench -p rehearsal-benches --bench replay` (std mode, release). In sim mode
//! the bench only says so: it measures real stores and real time.
//!
//! The workload is [`PingPong`](rehearsal_benches::PingPong) with
//! [`ROUND_TRIPS`](rehearsal_benches::ROUND_TRIPS) round trips of a `u64` (2,000 frames), both
//! participants on in-process nodes joined by a perfect [`InProcessNetwork`] on a tokio
//! current-thread runtime. Every node gets its own store, so the nodes are started the way
//! [`LocalCluster::run`](rehearsal::LocalCluster::run) starts them but each with its own
//! [`NodeConfig`] (a `LocalCluster` gives all its nodes one config, hence one store). The
//! group `replay/1000rt` has one benchmark per way of journaling:
//!
//! * `no-journal`: `NodeConfig::store` is `None` (no recovery possible);
//! * `memory-store`: a fresh [`MemoryStore`] per node, the volatile store: every journal write
//!   happens (encoding, batches, ordered maps), none reaches a disk;
//! * `crashable-store`: a fresh [`CrashableStore`] per node, the simulator's model of a disk
//!   (keeps the unsynced batches until a sync folds them in);
//! * `file-store`: a fresh [`FileStore`] (redb) per node, one file each in a fresh directory
//!   under the system temp directory (`TMPDIR`). Every `Store::sync` with something committed
//!   since the last one is a durable redb commit, which flushes and fsyncs the file.
//!
//! Every iteration is a fresh runtime, fresh nodes and fresh stores running session 1 (a store
//! that already held session 1 would turn the run into the replay of a finished session). Only
//! the session is timed (`iter_custom`): from opening both participants' sessions (which
//! journals their first state) until both have returned their outcome. Creating the runtime,
//! the stores and the files (a file store's creation is itself a durable commit), and closing
//! and deleting them, are not timed.
//!
//! After criterion, the bench times [`REPETITIONS`](bench::REPETITIONS) alternating repetitions
//! of every variant in the same process and prints their medians and the ratios to
//! `no-journal` (`replay overhead (memory store / no journal, 1000 round trips): X.XXx`, ...).
//! Then it runs every journaling variant once more with each node's store wrapped in a counting
//! [`Store`] and prints the journal writes (`Store::commit` calls) and syncs per frame sent,
//! and how much of the run was spent inside the store's `commit` and `sync`.
//!
//! [`InProcessNetwork`]: rehearsal::net::transport::InProcessNetwork
//! [`NodeConfig`]: rehearsal::NodeConfig
//! [`MemoryStore`]: rehearsal::store::MemoryStore
//! [`CrashableStore`]: rehearsal::store::CrashableStore
//! [`FileStore`]: rehearsal::store::FileStore
//! [`Store`]: rehearsal::store::Store

#[cfg(madsim)]
fn main() {
    println!(
        "the replay bench measures real stores in std mode: \
         run `cargo bench -p rehearsal-benches --bench replay`"
    );
}

#[cfg(not(madsim))]
fn main() {
    bench::main();
}

#[cfg(not(madsim))]
mod bench {
    use std::hint::black_box;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use criterion::{Criterion, SamplingMode, Throughput};
    use rehearsal::net::transport::{InProcessNetwork, NodeId};
    use rehearsal::store::{
        Batch, CrashableStore, Entry, FileStore, MemoryStore, Store, StoreError, Table,
    };
    use rehearsal::{Node, NodeConfig, NodeStats, Program};
    use rehearsal_benches::{ROUND_TRIPS, ping_pong_program, run_session};

    /// Alternating repetitions of each variant for the printed ratios.
    pub const REPETITIONS: usize = 10;

    /// Where the nodes journal.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Variant {
        NoJournal,
        Memory,
        Crashable,
        File,
    }

    impl Variant {
        const ALL: [Variant; 4] = [
            Variant::NoJournal,
            Variant::Memory,
            Variant::Crashable,
            Variant::File,
        ];

        /// The benchmark's name in the criterion group.
        fn id(self) -> &'static str {
            match self {
                Variant::NoJournal => "no-journal",
                Variant::Memory => "memory-store",
                Variant::Crashable => "crashable-store",
                Variant::File => "file-store",
            }
        }
    }

    /// A fresh directory under the system temp directory for the file stores, removed (with
    /// whatever is left in it) when dropped.
    struct Scratch {
        dir: PathBuf,
        next: AtomicU64,
    }

    impl Scratch {
        fn new() -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "rehearsal-replay-bench-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default()
            ));
            std::fs::create_dir_all(&dir).expect("the bench creates its scratch directory");
            Scratch {
                dir,
                next: AtomicU64::new(0),
            }
        }

        /// A path no store file has used yet.
        fn fresh_file(&self, node: u32) -> PathBuf {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            self.dir.join(format!("run{n}-node{node}.redb"))
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// What a counting store saw.
    #[derive(Clone, Copy, Debug, Default)]
    struct Counts {
        commits: u64,
        empty_commits: u64,
        ops: u64,
        bytes: u64,
        syncs: u64,
        commit_time: Duration,
        sync_time: Duration,
        reads: u64,
        /// Writes (puts and deletes) per table, in the order of [`Table::ALL`].
        by_table: [u64; 5],
    }

    impl std::ops::AddAssign for Counts {
        fn add_assign(&mut self, o: Counts) {
            self.commits += o.commits;
            self.empty_commits += o.empty_commits;
            self.ops += o.ops;
            self.bytes += o.bytes;
            self.syncs += o.syncs;
            self.commit_time += o.commit_time;
            self.sync_time += o.sync_time;
            self.reads += o.reads;
            for (mine, theirs) in self.by_table.iter_mut().zip(o.by_table) {
                *mine += theirs;
            }
        }
    }

    /// A [`Store`] that counts and times the calls it passes on to `inner`.
    struct Counting {
        inner: Arc<dyn Store>,
        commits: AtomicU64,
        empty_commits: AtomicU64,
        ops: AtomicU64,
        bytes: AtomicU64,
        syncs: AtomicU64,
        commit_nanos: AtomicU64,
        sync_nanos: AtomicU64,
        reads: AtomicU64,
        by_table: [AtomicU64; 5],
    }

    impl Counting {
        fn new(inner: Arc<dyn Store>) -> Counting {
            Counting {
                inner,
                commits: AtomicU64::new(0),
                empty_commits: AtomicU64::new(0),
                ops: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
                syncs: AtomicU64::new(0),
                commit_nanos: AtomicU64::new(0),
                sync_nanos: AtomicU64::new(0),
                reads: AtomicU64::new(0),
                by_table: Default::default(),
            }
        }

        fn counts(&self) -> Counts {
            let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
            Counts {
                commits: get(&self.commits),
                empty_commits: get(&self.empty_commits),
                ops: get(&self.ops),
                bytes: get(&self.bytes),
                syncs: get(&self.syncs),
                commit_time: Duration::from_nanos(get(&self.commit_nanos)),
                sync_time: Duration::from_nanos(get(&self.sync_nanos)),
                reads: get(&self.reads),
                by_table: self.by_table.each_ref().map(get),
            }
        }
    }

    fn nanos(d: Duration) -> u64 {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    impl Store for Counting {
        fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
            self.commits.fetch_add(1, Ordering::Relaxed);
            if batch.is_empty() {
                self.empty_commits.fetch_add(1, Ordering::Relaxed);
            }
            let bytes: usize = batch
                .ops()
                .iter()
                .map(|(_, k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
                .sum();
            self.ops
                .fetch_add(batch.ops().len() as u64, Ordering::Relaxed);
            for (table, _, _) in batch.ops() {
                let i = Table::ALL.iter().position(|t| t == table).unwrap_or(0);
                self.by_table[i].fetch_add(1, Ordering::Relaxed);
            }
            self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            let start = Instant::now();
            let result = self.inner.commit(batch);
            self.commit_nanos
                .fetch_add(nanos(start.elapsed()), Ordering::Relaxed);
            result
        }

        fn sync(&self) -> Result<(), StoreError> {
            self.syncs.fetch_add(1, Ordering::Relaxed);
            let start = Instant::now();
            let result = self.inner.sync();
            self.sync_nanos
                .fetch_add(nanos(start.elapsed()), Ordering::Relaxed);
            result
        }

        fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.inner.get(table, key)
        }

        fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.inner.scan(table, prefix)
        }
    }

    /// A fresh store of `variant` for node `node` (`None` for no journal); a file store's path
    /// goes to `files`.
    fn fresh_store(
        variant: Variant,
        node: u32,
        scratch: &Scratch,
        files: &mut Vec<PathBuf>,
    ) -> Option<Arc<dyn Store>> {
        match variant {
            Variant::NoJournal => None,
            Variant::Memory => Some(Arc::new(MemoryStore::new())),
            Variant::Crashable => Some(Arc::new(CrashableStore::new())),
            Variant::File => {
                let path = scratch.fresh_file(node);
                let store = FileStore::open(&path).expect("the bench opens a fresh store file");
                files.push(path);
                Some(Arc::new(store))
            }
        }
    }

    /// The result of one run.
    struct Run {
        /// The session alone: opening both participants until both returned.
        elapsed: Duration,
        /// Both nodes' counters, summed.
        stats: NodeStats,
        /// What the counting stores saw (zero unless counting).
        counts: Counts,
    }

    /// One session of `program` on two fresh nodes with fresh `variant` stores (wrapped in
    /// counting stores if `counting`), on a fresh current-thread runtime. Only the session is
    /// timed. Panics unless both participants return `ROUND_TRIPS`.
    fn run_once(program: &Program, variant: Variant, scratch: &Scratch, counting: bool) -> Run {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the bench builds a tokio runtime");
        let mut counters: Vec<Arc<Counting>> = Vec::new();
        let mut files: Vec<PathBuf> = Vec::new();
        let stores: Vec<Option<Arc<dyn Store>>> = (0..2u32)
            .map(|i| {
                let store = fresh_store(variant, i, scratch, &mut files);
                match store {
                    Some(store) if counting => {
                        let c = Arc::new(Counting::new(store));
                        counters.push(c.clone());
                        Some(c as Arc<dyn Store>)
                    }
                    other => other,
                }
            })
            .collect();
        let net = InProcessNetwork::new();
        let (elapsed, stats) = runtime.block_on(async {
            let nodes: Vec<Node> = stores
                .into_iter()
                .enumerate()
                .map(|(i, store)| {
                    let id = NodeId(i as u32);
                    let config = NodeConfig {
                        store,
                        ..NodeConfig::default()
                    };
                    Node::start(id, Arc::new(net.endpoint(id)), config)
                })
                .collect();
            let start = Instant::now();
            let outcomes = run_session(program, &nodes).await;
            let elapsed = start.elapsed();
            for outcome in &outcomes {
                assert_eq!(
                    outcome.as_deref(),
                    Ok(ROUND_TRIPS.to_string().as_str()),
                    "{} round trips",
                    ROUND_TRIPS
                );
            }
            let mut stats = NodeStats::default();
            for node in &nodes {
                let s = node.stats();
                stats.frames_sent += s.frames_sent;
                stats.bytes_sent += s.bytes_sent;
                stats.retransmitted += s.retransmitted;
                stats.delivered += s.delivered;
                stats.duplicates += s.duplicates;
                stats.acks_sent += s.acks_sent;
                stats.acks_received += s.acks_received;
                stats.store_errors += s.store_errors;
                node.shutdown();
            }
            (elapsed, stats)
        });
        let mut counts = Counts::default();
        for c in &counters {
            counts += c.counts();
        }
        // Dropping the runtime drops the nodes' tasks and with them the stores (a file store
        // closes its file with one more durable commit: not timed).
        drop(counters);
        drop(runtime);
        for file in files {
            let _ = std::fs::remove_file(file);
        }
        Run {
            elapsed,
            stats,
            counts,
        }
    }

    pub fn main() {
        // As criterion decides: `cargo bench` passes `--bench`, `cargo bench -- --test` adds
        // `--test`, `cargo test --benches` passes neither. Unless benchmarking, criterion runs
        // each benchmark once, and the ratio section runs each variant once too.
        let args: Vec<String> = std::env::args().collect();
        let test_mode = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
        let scratch = Scratch::new();
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
            .sample_size(20)
            .configure_from_args();
        bench_replay(&mut c, &scratch);
        c.final_summary();
        ratios(&scratch, if test_mode { 1 } else { REPETITIONS });
        writes_per_frame(&scratch);
    }

    fn bench_replay(c: &mut Criterion, scratch: &Scratch) {
        let program = ping_pong_program(ROUND_TRIPS);
        let mut group = c.benchmark_group(format!("replay/{ROUND_TRIPS}rt"));
        group.throughput(Throughput::Elements(ROUND_TRIPS));
        group.sampling_mode(SamplingMode::Flat);
        for variant in Variant::ALL {
            if variant == Variant::File {
                // Thousands of fsyncs per iteration: fewer, longer samples.
                group.sample_size(10);
                group.measurement_time(Duration::from_secs(20));
            }
            group.bench_function(variant.id(), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += black_box(run_once(&program, variant, scratch, false)).elapsed;
                    }
                    total
                })
            });
        }
        group.finish();
    }

    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        let n = times.len();
        if n % 2 == 1 {
            times[n / 2]
        } else {
            (times[n / 2 - 1] + times[n / 2]) / 2
        }
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    /// Times the variants alternately, `repetitions` times each, and prints the medians and
    /// their ratios to the run without a journal.
    fn ratios(scratch: &Scratch, repetitions: usize) {
        let program = ping_pong_program(ROUND_TRIPS);
        // Warm up every variant once (allocator, caches, the file system).
        for variant in Variant::ALL {
            run_once(&program, variant, scratch, false);
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); Variant::ALL.len()];
        for _ in 0..repetitions {
            for (i, variant) in Variant::ALL.into_iter().enumerate() {
                times[i].push(run_once(&program, variant, scratch, false).elapsed);
            }
        }
        let medians: Vec<Duration> = times.into_iter().map(median).collect();
        let [none, memory, crashable, file] = [medians[0], medians[1], medians[2], medians[3]];
        let ratio = |d: Duration| d.as_secs_f64() / none.as_secs_f64();
        let frames = 2 * ROUND_TRIPS;
        println!();
        println!(
            "medians of {repetitions} alternating repetitions, {ROUND_TRIPS} round trips \
             ({frames} frames) each, session only:"
        );
        for (name, d) in [
            ("no journal:     ", none),
            ("memory store:   ", memory),
            ("crashable store:", crashable),
            ("file store:     ", file),
        ] {
            println!(
                "  {name} {:9.3} ms  {:8.2} us/frame  ({:.2}x no journal)",
                ms(d),
                d.as_secs_f64() * 1e6 / frames as f64,
                ratio(d)
            );
        }
        println!(
            "replay overhead (memory store / no journal, {ROUND_TRIPS} round trips): {:.2}x",
            ratio(memory)
        );
        println!(
            "replay overhead (crashable store / no journal): {:.2}x",
            ratio(crashable)
        );
        println!(
            "replay overhead (file store / no journal): {:.2}x",
            ratio(file)
        );
    }

    /// Runs every journaling variant once with counting stores and prints the writes and syncs
    /// per frame sent, and the share of the run spent inside the store.
    fn writes_per_frame(scratch: &Scratch) {
        let program = ping_pong_program(ROUND_TRIPS);
        println!();
        println!("one run per store with counting stores (both nodes together):");
        let mut headline = None;
        for variant in [Variant::Memory, Variant::Crashable, Variant::File] {
            let run = run_once(&program, variant, scratch, true);
            let (c, s) = (run.counts, run.stats);
            let frames = s.frames_sent.max(1) as f64;
            let per = |n: u64| n as f64 / frames;
            let share = |d: Duration| 100.0 * d.as_secs_f64() / run.elapsed.as_secs_f64();
            println!(
                "  {:15}  {} frames sent, {} retransmitted, {} store errors; {:.2} commits \
                 ({:.2} ops, {:.1} bytes) and {:.2} syncs per frame; {} reads in all",
                variant.id(),
                s.frames_sent,
                s.retransmitted,
                s.store_errors,
                per(c.commits),
                per(c.ops),
                per(c.bytes),
                per(c.syncs),
                c.reads
            );
            println!(
                "  {:15}  run {:.3} ms: {:.3} ms in commit ({:.1}%), {:.3} ms in sync ({:.1}%), \
                 {:.2} us per sync",
                "",
                ms(run.elapsed),
                ms(c.commit_time),
                share(c.commit_time),
                ms(c.sync_time),
                share(c.sync_time),
                c.sync_time.as_secs_f64() * 1e6 / c.syncs.max(1) as f64
            );
            let tables: Vec<String> = Table::ALL
                .iter()
                .zip(c.by_table)
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| format!("{} {:.2}", t.name(), per(n)))
                .collect();
            println!(
                "  {:15}  writes per frame by table: {}",
                "",
                tables.join(", ")
            );
            if variant == Variant::Memory {
                headline = Some((per(c.commits), per(c.syncs)));
            }
        }
        if let Some((commits, syncs)) = headline {
            println!("journal writes per frame: {commits:.2}");
            println!("journal syncs per frame: {syncs:.2}");
        }
    }
}
