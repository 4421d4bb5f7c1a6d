//! The simulator's throughput, and the link layer's cost over raw madsim message passing.
//!
//! Run with `cargo sim-bench -p rehearsal-benches --bench sim` (sim mode, release). In std
//! mode the bench only says so. Everything runs on madsim's simulated time, so wall-clock time
//! measures the CPU cost of the code alone. What is measured:
//!
//! * `sim/bookseller`: one full simulated run of the shipped `bookseller` scenario (default
//!   parameters, default network: 1-10 ms latency, nothing lost) per iteration, the seed
//!   changing every iteration: [`Sim::run_scenario`](rehearsal_sim::Sim::run_scenario), which
//!   spawns a thread and a madsim runtime, runs the reference run and the distributed run,
//!   records and hashes the trace and checks every oracle. Reported in runs per second.
//! * `link/raw-endpoint-1000rt`: 1000 round trips of 8-byte datagrams between two madsim
//!   nodes over raw `madsim::net::Endpoint` (`send_to`, echo with `send_to`, `recv_from`).
//! * `link/rehearsal-1000rt`: the same 1000 round trips as a choreography
//!   ([`PingPong`](rehearsal_benches::PingPong): `comm(Ping, Pong)` then `comm(Pong, Ping)` of
//!   a `u64`) under [`Sim::run`](rehearsal_sim::Sim::run) on the same fixed-latency network
//!   (1 ms one way, no loss, duplication or reordering). This is *everything* `Sim::run` does:
//!   besides the distributed run over the link layer (sequence numbers, one acknowledgement
//!   datagram per frame, retransmission timers, the session inbox, serialization) it includes
//!   the central reference run of the same 1000 round trips, the recorder observing every
//!   node (the trace), the trace hash, the statistics and the reference oracle.
//!
//! Each iteration of either link benchmark is one fresh thread and madsim runtime with two
//! nodes, so set-up costs are included alike. (madsim 0.2 also sleeps at least 1 ms of
//! simulated time in every `send_to` and every `recv_from`, so a hop takes 3 ms of simulated
//! time on both paths; that costs no wall-clock time beyond a timer each.)
//!
//! After criterion, the bench times [`REPETITIONS`](bench::REPETITIONS) alternating
//! repetitions of every workload in the same process and prints the medians and their ratios
//! to the raw ping-pong: `link-layer ratio (rehearsal / raw endpoint, 1000 round trips)` is
//! the full `Sim::run` against raw endpoints; a breakdown separates what `Sim::run` adds to
//! the distributed run:
//!
//! * the reference run alone (`Program::reference` on a fresh runtime);
//! * hashing the trace (`Trace::hash` of the run's trace, as `Sim::run` does once);
//! * the distributed run alone: two Rehearsal nodes (session engine, link layer) over a
//!   minimal endpoint transport, without the reference run and the statistics, once without
//!   and once with the simulator's trace recorder as observer. Its ratio is printed as
//!   `link-layer ratio without the reference run and the trace`.
//!
//! Last, bookseller runs per second from batches of 50 runs back to back (as an exploration
//! runs its seeds). The ratio and the runs per second are printed against issue 19's
//! targets (at most 3x raw, at least 5,000 runs per second), each marked met or missed.

#[cfg(not(madsim))]
fn main() {
    println!(
        "the simulator bench needs sim mode (`--cfg madsim`): \
         run `cargo sim-bench -p rehearsal-benches --bench sim`"
    );
}

#[cfg(madsim)]
fn main() {
    bench::main();
}

#[cfg(madsim)]
mod bench {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use criterion::{Criterion, SamplingMode, Throughput};
    use rehearsal_benches::{ROUND_TRIPS, ping_pong_program, sim};

    /// Alternating repetitions of each workload for the printed ratios.
    pub const REPETITIONS: usize = 10;

    /// Bookseller runs per repetition, back to back.
    const BOOKSELLER_BATCH: u64 = 50;

    /// Issue 19's targets: the full `Sim::run` of 1000 round trips at most this many times
    /// raw madsim endpoint ping-pong, and at least this many bookseller runs per second.
    const TARGET_RATIO: f64 = 3.0;
    const TARGET_RUNS_PER_SECOND: f64 = 5000.0;

    pub fn main() {
        // `cargo test --benches` runs the bench with `--test`: criterion runs each benchmark
        // once; the ratio section then runs each workload once too.
        let test_mode = std::env::args().any(|arg| arg == "--test");
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
            .sample_size(20)
            .configure_from_args();
        bench_bookseller(&mut c);
        bench_link(&mut c);
        c.final_summary();
        ratios(if test_mode { 1 } else { REPETITIONS });
    }

    fn bench_bookseller(c: &mut Criterion) {
        let mut group = c.benchmark_group("sim");
        group.throughput(Throughput::Elements(1));
        let mut seed = 0u64;
        group.bench_function("bookseller", |b| {
            b.iter(|| {
                seed += 1;
                black_box(sim::bookseller(seed))
            })
        });
        group.finish();
    }

    fn bench_link(c: &mut Criterion) {
        let program = ping_pong_program(ROUND_TRIPS);
        let mut group = c.benchmark_group("link");
        // Throughput in round trips per second; a flat sampling plan suits iterations of
        // milliseconds.
        group.throughput(Throughput::Elements(ROUND_TRIPS));
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function("raw-endpoint-1000rt", |b| {
            b.iter(|| black_box(sim::raw_endpoint_ping_pong(7, ROUND_TRIPS)))
        });
        group.bench_function("rehearsal-1000rt", |b| {
            b.iter(|| black_box(sim::full_sim(7, &program)))
        });
        group.finish();
    }

    /// Wall-clock time of one call of `f`.
    fn time<T>(f: impl FnOnce() -> T) -> Duration {
        let start = Instant::now();
        black_box(f());
        start.elapsed()
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

    /// Times the workloads alternately, `repetitions` times each, and prints the medians and
    /// their ratios to the raw endpoint ping-pong.
    fn ratios(repetitions: usize) {
        let program = ping_pong_program(ROUND_TRIPS);
        // Warm up every workload once (thread creation, allocator, caches).
        sim::raw_endpoint_ping_pong(1, ROUND_TRIPS);
        sim::full_sim(1, &program);
        sim::bookseller(1);
        let mut raw = Vec::new();
        let mut full = Vec::new();
        let mut reference = Vec::new();
        let mut hashing = Vec::new();
        let mut bare = Vec::new();
        let mut traced = Vec::new();
        let mut bookseller = Vec::new();
        for i in 0..repetitions {
            let seed = 100 + i as u64;
            raw.push(time(|| sim::raw_endpoint_ping_pong(seed, ROUND_TRIPS)));
            let start = Instant::now();
            let report = black_box(sim::full_sim(seed, &program));
            full.push(start.elapsed());
            hashing.push(time(|| report.trace.hash()));
            reference.push(time(|| sim::reference_only(seed, &program)));
            bare.push(time(|| sim::bare_nodes(seed, &program, false)));
            traced.push(time(|| sim::bare_nodes(seed, &program, true)));
            // Back to back, as an exploration runs its seeds: the time of one run of a batch.
            let batch = time(|| {
                for k in 0..BOOKSELLER_BATCH {
                    black_box(sim::bookseller(seed * 1000 + k));
                }
            });
            bookseller.push(batch / BOOKSELLER_BATCH as u32);
        }
        let (raw, full, reference, hashing, bare, traced, bookseller) = (
            median(raw),
            median(full),
            median(reference),
            median(hashing),
            median(bare),
            median(traced),
            median(bookseller),
        );
        let ratio = |d: Duration| d.as_secs_f64() / raw.as_secs_f64();
        println!();
        println!(
            "medians of {repetitions} alternating repetitions, {ROUND_TRIPS} round trips each:"
        );
        println!("  raw endpoint ping-pong:             {:9.3} ms", ms(raw));
        println!(
            "  rehearsal, full Sim::run:           {:9.3} ms  ({:.2}x raw)",
            ms(full),
            ratio(full)
        );
        println!(
            "    of which the reference run alone: {:9.3} ms  ({:.2}x raw)",
            ms(reference),
            ratio(reference)
        );
        println!(
            "    of which hashing the trace:       {:9.3} ms  ({:.2}x raw)",
            ms(hashing),
            ratio(hashing)
        );
        println!(
            "  rehearsal nodes, no trace, no ref:  {:9.3} ms  ({:.2}x raw)",
            ms(bare),
            ratio(bare)
        );
        println!(
            "  rehearsal nodes, traced, no ref:    {:9.3} ms  ({:.2}x raw)",
            ms(traced),
            ratio(traced)
        );
        let verdict = |met: bool| if met { "met" } else { "missed" };
        println!(
            "link-layer ratio (rehearsal / raw endpoint, {ROUND_TRIPS} round trips): {:.2}x \
             (target: at most {TARGET_RATIO:.1}x, {})",
            ratio(full),
            verdict(ratio(full) <= TARGET_RATIO)
        );
        println!(
            "link-layer ratio without the reference run and the trace: {:.2}x",
            ratio(bare)
        );
        let per_second = 1.0 / bookseller.as_secs_f64();
        println!(
            "bookseller simulated runs per second ({BOOKSELLER_BATCH} back to back): \
             {per_second:.0} (target: at least {TARGET_RUNS_PER_SECOND:.0}, {})",
            verdict(per_second >= TARGET_RUNS_PER_SECOND)
        );
    }
}
