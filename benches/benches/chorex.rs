//! Chorex's benchmark suite on Rehearsal: what checkpoints cost, and what a rescued crash
//! costs, next to the slowdowns the Chorex paper reports.
//!
//! `cargo bench -p rehearsal-benches --bench chorex` (std mode, release), or
//! `cargo xtask bench-report`, which runs it and prints the table it writes. In sim mode the
//! bench only says so.
//!
//! The benchmarks are the scenarios of `rehearsal_scenarios::chorex`, found in the registry
//! and run with Chorex's sizes, doing the work of Chorex's artifact: `state machine` (one
//! whole game, twice: `as Chorex`, `global=1`, with Gateway in every turn's checkpoint as
//! Chorex's global barrier has it, and `as written`, `global=0`, the turn's checkpoint inside
//! the turn's enclave of Worker and Player), `mini blockchain` (201 attempts from nonce 42),
//! `flat-10k` (`flat-loop`, `laps=10000`: 10,001 laps of `work_hard`, 1,001 sha256 hashes of
//! `"foo0"` .. `"foo1000"`, at each role; the crashing variant is Chorex's `CrashyLoop`),
//! `nest-1k` and `nest-10k` (`nest-loop`, `laps=1000` and `laps=10000`: 1,001 and 10,001
//! laps). Each runs as `baseline` (no checkpoint), `chk` (checkpoints, nothing crashes) and
//! `chk+crash` (checkpoints and Chorex's crashes, each rescued): `variant=0|1|2`.
//!
//! Every run is one session on fresh in-process nodes without a store
//! (`NodeConfig::default()`: Chorex has no durability either), joined by a perfect
//! [`InProcessNetwork`](rehearsal::net::transport::InProcessNetwork), on a fresh current-thread
//! tokio runtime, so the roles take turns on one core and the time is the CPU cost of the
//! whole session: from opening every participant's session until every participant has
//! returned (`iter_custom`; starting the runtime and the nodes is not timed). Deep nests
//! (10,001 blocks in the checkpointed `nest-10k`, 10,001 calls in the crashing `flat-10k`) do
//! not grow the stack: bodies and sub-choreographies run as tasks of their own.
//!
//! Before timing, each case runs once in each variant and its outcomes are checked against
//! the reference run and the scenario's oracles. Criterion then times every variant whose
//! checked run took at most 5 s (a slower one would need at least 11 runs). After criterion,
//! the bench times the three variants of each case alternately in the same process (about
//! 20 s per case, at least 3 repetitions, the checked run counting as the first for cases
//! that take seconds) and prints a Markdown table of the medians' ratios
//! to the baseline, next to Chorex's figures (the paper's slowdowns, and the times measured on
//! a machine like this one given in the project's REFERENCE.md), and writes it to
//! `target/bench-report.md` (in `CARGO_TARGET_DIR` if set). The same figures go to
//! `target/bench-report.json` for `cargo xtask bench-check`, which compares the ratios with
//! the committed `benches/ratio-baseline.json`: one object with `test_mode`, `machine` (cores,
//! memory, OS) and `benchmarks`, a list in the table's order, each with `name`, `reps`, the
//! medians `baseline_seconds`, `chk_seconds` and `chk+crash_seconds`, `ratios` (`chk` and
//! `chk+crash`, each variant's median over the baseline's) and `frames` per run of each variant.
//!
//! Under `cargo test --benches` or `cargo bench -- --test`, every case runs once, the loops
//! with 10 laps.

#[cfg(madsim)]
fn main() {
    println!(
        "the chorex bench runs in std mode: `cargo bench -p rehearsal-benches --bench chorex` \
         or `cargo xtask bench-report`"
    );
}

#[cfg(not(madsim))]
fn main() {
    bench::main();
}

#[cfg(not(madsim))]
mod bench {
    use std::fmt::Write as _;
    use std::hint::black_box;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use criterion::{Criterion, SamplingMode};
    use rehearsal::net::transport::{InProcessNetwork, NodeId};
    use rehearsal::{Node, NodeConfig, Outcomes, Program};
    use rehearsal_benches::run_session;
    use rehearsal_scenarios::chorex::Variant;
    use rehearsal_scenarios::{Params, Scenario, find};
    use serde::Serialize;

    /// Time spent on the alternating repetitions of one case (all three variants).
    const RATIO_BUDGET: Duration = Duration::from_secs(20);
    /// Fewest alternating repetitions per case.
    const MIN_REPS: usize = 3;
    /// Most alternating repetitions per case.
    const MAX_REPS: usize = 301;
    /// A variant whose single run takes longer than this is left out of criterion (which
    /// needs at least 11 runs) and timed only in the alternating repetitions.
    const SLOW: Duration = Duration::from_secs(5);

    /// One benchmark of the suite.
    struct Case {
        /// Its name in the table and in criterion.
        name: &'static str,
        /// The scenario it runs.
        scenario: &'static str,
        /// Laps (Chorex's argument N: laps `0..=N`), for the loops.
        laps: Option<u64>,
        /// Other parameters.
        settings: &'static [&'static str],
        /// Chorex's slowdowns from the paper (chk, chk+rescue), if it reports any.
        paper: Option<(&'static str, &'static str)>,
        /// Chorex's medians measured on a machine like this one (REFERENCE.md: Chorex d5dfade
        /// with its artifact, Elixir 1.14 / OTP 25, 2 cores, whole runs): baseline, chk and
        /// chk+rescue, in seconds.
        measured: [f64; 3],
    }

    /// The state machine's Chorex figures (one Chorex program for both of its rows).
    const STATE_MACHINE_PAPER: Option<(&str, &str)> = Some(("1.01x", "1.04x"));
    const STATE_MACHINE_MEASURED: [f64; 3] = [313.6e-6, 437.4e-6, 543.7e-6];

    const CASES: [Case; 6] = [
        Case {
            name: "state machine (as Chorex)",
            scenario: "state-machine",
            laps: None,
            // Gateway in every turn's checkpoint: Chorex's global barrier.
            settings: &["global=1"],
            paper: STATE_MACHINE_PAPER,
            measured: STATE_MACHINE_MEASURED,
        },
        Case {
            name: "state machine (as written)",
            scenario: "state-machine",
            laps: None,
            // The turn's checkpoint inside the Worker-Player enclave.
            settings: &["global=0"],
            paper: STATE_MACHINE_PAPER,
            measured: STATE_MACHINE_MEASURED,
        },
        Case {
            name: "mini blockchain",
            scenario: "mini-blockchain",
            laps: None,
            // Chorex's start nonce (the registry's default is 232: 11 attempts).
            settings: &["start=42"],
            paper: Some(("6.76x", "4.71x")),
            measured: [3.446e-3, 17.685e-3, 14.423e-3],
        },
        Case {
            name: "flat-10k",
            scenario: "flat-loop",
            laps: Some(10_000),
            settings: &[],
            paper: None,
            measured: [8.234, 9.469, 26.772],
        },
        Case {
            name: "nest-1k",
            scenario: "nest-loop",
            laps: Some(1_000),
            settings: &[],
            paper: None,
            measured: [0.756, 1.066, 1.166],
        },
        Case {
            name: "nest-10k",
            scenario: "nest-loop",
            laps: Some(10_000),
            settings: &[],
            paper: Some(("3.48x", "1.96x")),
            measured: [8.310, 33.575, 12.542],
        },
    ];

    /// The 10x targets of issue 19 for the in-process baselines: a tenth of Chorex's median
    /// measured here, for the state machine and the mini blockchain.
    const TEN_X: &[(&str, f64)] = &[("state machine", 31e-6), ("mini blockchain", 345e-6)];

    /// One case in one variant, ready to run.
    struct Prepared {
        scenario: &'static Scenario,
        params: Params,
        program: Program,
    }

    impl Case {
        /// The case's program in `variant` (the loops with 10 laps when `quick`).
        fn prepare(&self, variant: Variant, quick: bool) -> Prepared {
            let scenario = find(self.scenario).expect("a Chorex scenario is registered");
            let mut settings = vec![format!("variant={}", variant.number())];
            settings.extend(self.settings.iter().map(|s| s.to_string()));
            if let Some(laps) = self.laps {
                settings.push(format!("laps={}", if quick { 10 } else { laps }));
            }
            let params = scenario
                .parse_params(settings.iter().map(String::as_str))
                .expect("the bench's parameters are valid");
            let program = scenario.program(&params).expect("the program builds");
            Prepared {
                scenario,
                params,
                program,
            }
        }
    }

    /// What one run measured.
    struct Run {
        /// The session alone.
        elapsed: Duration,
        /// Every participant's outcome.
        outcomes: Outcomes,
        /// Frames sent by all nodes (data and control, acknowledgements not counted).
        frames: u64,
    }

    /// One session of `program` on fresh in-process nodes (no store) on a fresh
    /// current-thread runtime; only the session is timed.
    fn run_once(program: &Program) -> Run {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the bench builds a tokio runtime");
        runtime.block_on(async {
            let net = InProcessNetwork::new();
            let n = program.census().participants().len();
            let nodes: Vec<Node> = (0..n as u32)
                .map(|i| {
                    let id = NodeId(i);
                    Node::start(id, Arc::new(net.endpoint(id)), NodeConfig::default())
                })
                .collect();
            let start = Instant::now();
            let outcomes = run_session(program, &nodes).await;
            let elapsed = start.elapsed();
            let entries = program
                .census()
                .participants()
                .iter()
                .copied()
                .zip(outcomes)
                .collect();
            let frames = nodes.iter().map(|node| node.stats().frames_sent).sum();
            for node in &nodes {
                node.shutdown();
            }
            Run {
                elapsed,
                outcomes: Outcomes::new(entries),
                frames,
            }
        })
    }

    /// Runs `prepared` once and checks it against its reference run and its oracles.
    fn verify(case: &Case, variant: Variant, prepared: &Prepared) -> Run {
        let run = run_once(&prepared.program);
        let reference = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("the bench builds a tokio runtime")
            .block_on(prepared.program.reference());
        let violations = prepared
            .scenario
            .check(&prepared.params, &run.outcomes, &reference);
        assert!(
            violations.is_empty(),
            "{} {}: {violations:#?}\n{}",
            case.name,
            variant.name(),
            run.outcomes
        );
        run
    }

    pub fn main() {
        // As criterion decides: `cargo bench` passes `--bench`; `cargo bench -- --test` adds
        // `--test`; `cargo test --benches` passes neither.
        let args: Vec<String> = std::env::args().collect();
        let quick = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
        let prepared: Vec<[Prepared; 3]> = CASES
            .iter()
            .map(|case| Variant::ALL.map(|v| case.prepare(v, quick)))
            .collect();
        // One checked run of every variant: its frames, and its time as an estimate.
        let mut checked: Vec<Vec<(u64, Duration)>> = Vec::new();
        for (case, programs) in CASES.iter().zip(&prepared) {
            let runs = Variant::ALL
                .iter()
                .zip(programs)
                .map(|(v, p)| {
                    let run = verify(case, *v, p);
                    println!(
                        "checked {} {}: one run {}, {} frames",
                        case.name,
                        v.name(),
                        show(run.elapsed),
                        run.frames
                    );
                    (run.frames, run.elapsed)
                })
                .collect();
            checked.push(runs);
        }
        println!("every case in every variant matches its reference run and passes its oracles");

        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(if quick { 1 } else { 500 }))
            .measurement_time(Duration::from_secs(if quick { 1 } else { 3 }))
            .sample_size(10)
            .configure_from_args();
        for ((case, programs), checked) in CASES.iter().zip(&prepared).zip(&checked) {
            let mut group = c.benchmark_group(format!("chorex/{}", slug(case.name)));
            group.sampling_mode(SamplingMode::Flat);
            if case.laps.is_some_and(|laps| laps >= 10_000) && !quick {
                // Seconds per run: one warm-up run, then ten samples of one run each.
                group.warm_up_time(Duration::from_millis(1));
                group.measurement_time(Duration::from_secs(15));
            } else if case.laps.is_some() && !quick {
                group.measurement_time(Duration::from_secs(5));
            } else {
                group.sample_size(if quick { 10 } else { 20 });
            }
            for ((variant, p), (_, once)) in Variant::ALL.iter().zip(programs).zip(checked) {
                if *once > SLOW && !quick {
                    println!(
                        "chorex/{}/{}: one run takes {}: left out of criterion, timed in the \
                         alternating repetitions only",
                        slug(case.name),
                        variant.name(),
                        show(*once)
                    );
                    continue;
                }
                group.bench_function(variant.name(), |b| {
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| black_box(run_once(&p.program)).elapsed)
                            .sum()
                    })
                });
            }
            group.finish();
        }
        c.final_summary();

        let mut rows = Vec::new();
        for ((case, programs), checked) in CASES.iter().zip(&prepared).zip(checked) {
            rows.push(ratios(case, programs, &checked, quick));
        }
        let machine = machine();
        let report = report(&rows, quick, &machine);
        println!("\n{report}");
        let json = serde_json::to_string_pretty(&JsonReport::new(&rows, quick, machine))
            .expect("the JSON report serializes");
        for (path, contents) in [
            (report_path("bench-report.md"), report),
            (report_path("bench-report.json"), json + "\n"),
        ] {
            match std::fs::write(&path, contents) {
                Ok(()) => println!("written to {}", path.display()),
                Err(e) => eprintln!("cannot write {}: {e}", path.display()),
            }
        }
    }

    /// The medians of one case.
    struct Row {
        name: &'static str,
        paper: Option<(&'static str, &'static str)>,
        measured: [f64; 3],
        /// Medians of baseline, chk, chk+crash.
        medians: [Duration; 3],
        /// Frames per run of each variant.
        frames: Vec<u64>,
        reps: usize,
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

    /// Times the three variants of `case` alternately, as many times as fit in
    /// [`RATIO_BUDGET`] by the checked runs' times (within [`MIN_REPS`]..=[`MAX_REPS`]), and
    /// returns their medians. Cheap cases (under 2 s for all three) get one warm-up run of
    /// each variant first; for the others the checked runs count as the first repetition.
    fn ratios(
        case: &Case,
        programs: &[Prepared; 3],
        checked: &[(u64, Duration)],
        quick: bool,
    ) -> Row {
        let once: Duration = checked.iter().map(|(_, d)| *d).sum();
        let reps = if quick {
            1
        } else {
            let fit = RATIO_BUDGET.as_secs_f64() / once.as_secs_f64().max(1e-9);
            (fit as usize).clamp(MIN_REPS, MAX_REPS)
        };
        let mut times: [Vec<Duration>; 3] = Default::default();
        if quick {
            // One run each, no warm-up.
        } else if once < Duration::from_secs(2) {
            for p in programs {
                run_once(&p.program);
            }
        } else {
            for (t, (_, d)) in times.iter_mut().zip(checked) {
                t.push(*d);
            }
        }
        for _ in times[0].len()..reps {
            for (i, p) in programs.iter().enumerate() {
                times[i].push(run_once(&p.program).elapsed);
            }
        }
        Row {
            name: case.name,
            paper: case.paper,
            measured: case.measured,
            medians: times.map(median),
            frames: checked.iter().map(|(f, _)| *f).collect(),
            reps,
        }
    }

    /// `1.234 ms`, `56.7 us` or `2.345 s`.
    fn show(d: Duration) -> String {
        let s = d.as_secs_f64();
        if s >= 1.0 {
            format!("{s:.3} s")
        } else if s >= 1e-3 {
            format!("{:.3} ms", s * 1e3)
        } else {
            format!("{:.1} us", s * 1e6)
        }
    }

    /// The machine the bench runs on, for the reports: cores, memory (where `/proc/meminfo`
    /// says), OS and architecture, e.g. `2 cores, 24 GiB, linux x86_64`.
    fn machine() -> String {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(format!("{:.0} GiB, ", kib / (1024.0 * 1024.0)))
            })
            .unwrap_or_default();
        format!(
            "{cores} cores, {memory}{} {}",
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    }

    /// `target/bench-report.json`, read by `cargo xtask bench-check` (see the crate doc).
    #[derive(Serialize)]
    struct JsonReport {
        /// Written under `cargo bench -- --test` or `cargo test --benches`: one run of each
        /// case, loops with 10 laps; not a measurement.
        test_mode: bool,
        machine: String,
        benchmarks: Vec<JsonBenchmark>,
    }

    /// One row of [`JsonReport`].
    #[derive(Serialize)]
    struct JsonBenchmark {
        name: &'static str,
        reps: usize,
        baseline_seconds: f64,
        chk_seconds: f64,
        #[serde(rename = "chk+crash_seconds")]
        chk_crash_seconds: f64,
        ratios: JsonRatios,
        frames: JsonFrames,
    }

    /// Each variant's median over the baseline's.
    #[derive(Serialize)]
    struct JsonRatios {
        chk: f64,
        #[serde(rename = "chk+crash")]
        chk_crash: f64,
    }

    /// Frames sent per run of each variant (the checked run's).
    #[derive(Serialize)]
    struct JsonFrames {
        baseline: u64,
        chk: u64,
        #[serde(rename = "chk+crash")]
        chk_crash: u64,
    }

    impl JsonReport {
        fn new(rows: &[Row], quick: bool, machine: String) -> JsonReport {
            let benchmarks = rows
                .iter()
                .map(|r| {
                    let [base, chk, crash] = r.medians.map(|d| d.as_secs_f64());
                    JsonBenchmark {
                        name: r.name,
                        reps: r.reps,
                        baseline_seconds: base,
                        chk_seconds: chk,
                        chk_crash_seconds: crash,
                        ratios: JsonRatios {
                            chk: chk / base,
                            chk_crash: crash / base,
                        },
                        frames: JsonFrames {
                            baseline: r.frames[0],
                            chk: r.frames[1],
                            chk_crash: r.frames[2],
                        },
                    }
                })
                .collect();
            JsonReport {
                test_mode: quick,
                machine,
                benchmarks,
            }
        }
    }

    /// A case's name in criterion: `state-machine-as-Chorex`.
    fn slug(name: &str) -> String {
        name.replace(['(', ')'], "").replace(' ', "-")
    }

    /// `1.234 ms`, `56.7 us` or `2.345 s`, from seconds.
    fn show_secs(s: f64) -> String {
        show(Duration::from_secs_f64(s))
    }

    /// The Markdown report: the ratio table next to Chorex's figures, the 10x targets, then
    /// the medians and frame counts behind it.
    fn report(rows: &[Row], quick: bool, machine: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## Chorex's benchmarks on Rehearsal: slowdown over the baseline\n"
        );
        if quick {
            let _ = writeln!(
                out,
                "**Test mode: one run each, loops with 10 laps; not a measurement.**\n"
            );
        }
        let _ = writeln!(
            out,
            "| benchmark | baseline | chk / baseline | chk+crash / baseline | Chorex baseline (here) | \
             Chorex chk / chk+rescue (here) | Chorex chk / chk+rescue (paper) | \
             Chorex / Rehearsal baseline / chk / chk+crash |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in rows {
            let [base, chk, crash] = r.medians.map(|d| d.as_secs_f64());
            let [cb, cc, cr] = r.measured;
            let (pk, pc) = r.paper.unwrap_or(("n/a", "n/a"));
            let _ = writeln!(
                out,
                "| {} | {} | {:.2}x | {:.2}x | {} | {:.2}x / {:.2}x | {pk} / {pc} | \
                 {:.1} / {:.1} / {:.1} |",
                r.name,
                show(r.medians[0]),
                chk / base,
                crash / base,
                show_secs(cb),
                cc / cb,
                cr / cb,
                cb / base,
                cc / chk,
                cr / crash,
            );
        }
        let _ = writeln!(
            out,
            "\nMedians of alternating repetitions in one process; every run is one whole \
             session on in-process nodes without a store, on one current-thread runtime \
             (the roles share one core). Chorex's columns: \"here\" are the medians measured \
             on a machine like this one (REFERENCE.md: Chorex d5dfade and its artifact, Elixir \
             1.14 / OTP 25, whole runs, alternating repetitions; a second run drifted by up to \
             58% in absolute time, not in ratios), \"paper\" the slowdowns of the Chorex \
             paper (Benchee, BEAM). Machine: {machine}.\n"
        );
        for (prefix, target) in TEN_X {
            for r in rows.iter().filter(|r| r.name.starts_with(prefix)) {
                let base = r.medians[0].as_secs_f64();
                let _ = writeln!(
                    out,
                    "* {} baseline: {} against the 10x target of {} ({}).",
                    r.name,
                    show(r.medians[0]),
                    show_secs(*target),
                    if base <= *target {
                        "met".to_string()
                    } else {
                        format!("missed by {:.1}x", base / target)
                    }
                );
            }
        }
        let _ = writeln!(
            out,
            "\n| benchmark | reps | baseline | chk | chk+crash | frames baseline / chk / chk+crash |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for r in rows {
            let frames: Vec<String> = r.frames.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.name,
                r.reps,
                show(r.medians[0]),
                show(r.medians[1]),
                show(r.medians[2]),
                frames.join(" / ")
            );
        }
        out
    }

    /// `file` in the target directory: `CARGO_TARGET_DIR` if set (a relative one taken from
    /// the workspace root, as `cargo xtask` does: cargo runs the bench in `benches/`), else
    /// `target/` in the workspace.
    fn report_path(file: &str) -> PathBuf {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("benches/ lives in the workspace");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .filter(|dir| !dir.is_empty())
            .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
        target.join(file)
    }
}
