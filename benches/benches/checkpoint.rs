//! What a checkpoint costs in the fault-free path: the same loop of 1,000 round trips with
//! and without a checkpoint around each iteration, on in-process nodes, as a ratio measured
//! in one run; and, with a counting volatile store, the store writes per iteration of each,
//! so the difference shows what a checkpoint adds: the journaling of its exit agreement
//! (the `Done` frames), and no snapshot or serialization of the state.
//!
//! `cargo bench -p rehearsal-benches --bench checkpoint` (std mode).

#[cfg(madsim)]
fn main() {
    println!(
        "the checkpoint bench runs in std mode: `cargo bench -p rehearsal-benches --bench checkpoint`"
    );
}

#[cfg(not(madsim))]
fn main() {
    bench::main();
}

#[cfg(not(madsim))]
mod bench {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use criterion::{Criterion, Throughput};
    use rehearsal::net::transport::{InProcessNetwork, NodeId};
    use rehearsal::store::{CountingStore, MemoryStore, Store};
    use rehearsal::{
        Choreo, ChoreoError, Choreography, FamilySizes, Node, NodeConfig, ParticipantId, Program,
        Roles, SessionId, roles,
    };

    roles!(Runner, Monitor);

    const LAPS: u64 = 1_000;

    /// Runner sends the lap to Monitor, Monitor answers; in a checkpoint or not.
    #[derive(Clone)]
    struct Laps {
        checkpointed: bool,
    }

    async fn lap(ch: &Choreo<Roles![Runner, Monitor]>, i: u64) -> Result<u64, ChoreoError> {
        let x = ch.locally(Runner, |_| i).await?;
        let x = ch.comm(Runner, Monitor, &x).await?;
        let y = ch.locally(Monitor, |m| m.get(&x) * 2).await?;
        let y = ch.comm(Monitor, Runner, &y).await?;
        ch.locally(Runner, |r| *r.get(&y)).await.map(|_| i)
    }

    impl Choreography for Laps {
        type Census = Roles![Runner, Monitor];
        type Output = u64;

        async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
            let mut done = 0;
            for i in 0..LAPS {
                done += if self.checkpointed {
                    ch.checkpoint(
                        i,
                        |ch, i| async move { lap(&ch, i).await.map(|_| 1) },
                        |_ch, _i, _why| async move { Ok(0) },
                    )
                    .await?
                } else {
                    lap(ch, i).await.map(|_| 1)?
                };
            }
            Ok(done)
        }
    }

    /// Runs one session on two fresh in-process nodes; returns the time of the session and
    /// the stores' counts (commits, writes, syncs).
    fn run(checkpointed: bool, journal: bool) -> (Duration, (u64, u64, u64)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            let program = Program::new(Laps { checkpointed }, &FamilySizes::new()).unwrap();
            let net = InProcessNetwork::new();
            let stores: Vec<Arc<CountingStore>> = (0..2)
                .map(|_| Arc::new(CountingStore::new(Arc::new(MemoryStore::new()))))
                .collect();
            let nodes: Vec<Node> = (0..2u32)
                .map(|i| {
                    let config = NodeConfig {
                        store: journal.then(|| stores[i as usize].clone() as Arc<dyn Store>),
                        ..NodeConfig::default()
                    };
                    Node::start(NodeId(i), Arc::new(net.endpoint(NodeId(i))), config)
                })
                .collect();
            let placement: Arc<[NodeId]> = Arc::from([NodeId(0), NodeId(1)]);
            let start = Instant::now();
            let runs: Vec<_> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    tokio::spawn(program.start(
                        n,
                        SessionId(1),
                        ParticipantId(i as u16),
                        placement.clone(),
                    ))
                })
                .collect();
            for r in runs {
                assert_eq!(r.await.unwrap(), Ok(LAPS.to_string()));
            }
            let elapsed = start.elapsed();
            for n in &nodes {
                n.shutdown();
            }
            let counts = stores.iter().map(|s| s.counts()).fold((0, 0, 0), |a, c| {
                (a.0 + c.commits, a.1 + c.writes, a.2 + c.syncs)
            });
            (elapsed, counts)
        })
    }

    fn median(mut v: Vec<Duration>) -> Duration {
        v.sort();
        v[v.len() / 2]
    }

    pub fn main() {
        let quick =
            std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
        let mut c = Criterion::default()
            .measurement_time(Duration::from_secs(if quick { 1 } else { 5 }))
            .sample_size(10)
            .configure_from_args();
        let mut g = c.benchmark_group("checkpoint/1000laps");
        g.throughput(Throughput::Elements(LAPS));
        for (name, chk) in [("plain", false), ("checkpointed", true)] {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(chk, false).0).sum())
            });
        }
        g.finish();
        c.final_summary();

        let reps = if quick { 1 } else { 10 };
        let (mut plain, mut chk) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            plain.push(run(false, false).0);
            chk.push(run(true, false).0);
        }
        let (p, k) = (median(plain), median(chk));
        println!(
            "plain loop:        {:>9.3} ms for {LAPS} laps",
            p.as_secs_f64() * 1e3
        );
        println!(
            "checkpointed loop: {:>9.3} ms for {LAPS} laps",
            k.as_secs_f64() * 1e3
        );
        println!(
            "checkpoint overhead (checkpointed / plain, {LAPS} laps, no journal): {:.2}x",
            k.as_secs_f64() / p.as_secs_f64()
        );
        let (_, a) = run(false, true);
        let (_, b) = run(true, true);
        let per = |x: u64| x as f64 / LAPS as f64;
        println!(
            "store per lap, plain:        {:.2} commits, {:.2} writes, {:.2} syncs",
            per(a.0),
            per(a.1),
            per(a.2)
        );
        println!(
            "store per lap, checkpointed: {:.2} commits, {:.2} writes, {:.2} syncs",
            per(b.0),
            per(b.1),
            per(b.2)
        );
        println!(
            "added by each checkpoint: {:.2} commits, {:.2} syncs (the journaled exit agreement: 2 Done frames)",
            per(b.0 - a.0),
            per(b.2 - a.2)
        );
    }
}
