//! Rehearse a scenario inside `cargo test`: explore, shrink, save, report, replay.
//!
//! [`Rehearse`] is the harness for a `#[test]`: it explores a [`Scenario`] (or a bare
//! choreography value) over a seed range with random fault plans, checks the reference oracle,
//! liveness, the scenario's oracles and the test's own ([`Rehearse::oracle`]), and
//! [`Rehearse::check`] panics on the first failing seed (in seed order, whatever the number
//! of jobs) after shrinking its plan and writing a repro file. The panic message ends with
//! the command that replays the case:
//!
//! ```text
//! REHEARSAL_REPLAY=target/sim/rehearsal/double-17.toml cargo sim-test -p my-crate --test explore -- double_explores --exact --nocapture
//! ```
//!
//! **Replay.** With `REHEARSAL_REPLAY=FILE` in the environment, `check` runs exactly the case
//! of that repro file instead of exploring, prints its trace, and fails unless the trace hash
//! matches the recorded one and the recorded failure happens again (a test that replays a
//! repro of another scenario skips). With `REHEARSAL_SEED=N`, it runs seed `N` of the
//! exploration alone and prints its trace (a failure is shrunk and reported as usual).
//!
//! Long explorations print a progress line on stderr every ten seconds (wall clock; runs
//! and traces do not depend on it).
//!
//! ```
//! # #[cfg(madsim)] {
//! use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
//! use rehearsal_sim::{FaultKind, Rehearse};
//!
//! roles!(Client, Server);
//!
//! #[derive(Clone)]
//! struct Double(u64);
//!
//! impl Choreography for Double {
//!     type Census = Roles![Client, Server];
//!     type Output = u64;
//!     async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
//!         let x = ch.locally(Client, |_| self.0).await?;
//!         let x = ch.at("request").comm(Client, Server, &x).await?;
//!         let y = ch.locally(Server, |s| s.get(&x) * 2).await?;
//!         ch.at("result").broadcast(Server, y).await
//!     }
//! }
//!
//! Rehearse::choreography("double", Double(21))
//!     .seeds(0..20)
//!     .faults(FaultKind::ALL)
//!     .jobs(2)
//!     .oracle("doubles", |_, out: &rehearsal_sim::Outputs<u64>| {
//!         for (who, y) in out.values()? {
//!             if *y != 42 {
//!                 return Err(format!("{who} ended with {y}; expected 42"));
//!             }
//!         }
//!         Ok(())
//!     })
//!     .check();
//! # }
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rehearsal::{ChoreoError, Choreography};
use serde::de::DeserializeOwned;

use crate::coverage::Required;
use crate::exhaustive::Exhaustive;
use crate::explore::{Explore, Hooks, ScenarioSummary, SeedResult, Shard};
use crate::outputs::Outputs;
use crate::plan::{FaultKind, FaultPlan};
use crate::random::Swarm;
use crate::repro::{Repro, write_atomically};
use crate::scenario::{Oracle, Params, Scenario, Verdict};
use crate::shrink::Shrunk;
use crate::sim::{Sim, SimError};

mod files;
use files::{default_out_dir, test_target};
pub use files::{load_repro, replay};

/// The environment variable naming a repro file for [`Rehearse::check`] to replay.
pub const REPLAY_VAR: &str = "REHEARSAL_REPLAY";

/// The environment variable naming the one seed [`Rehearse::check`] runs.
pub const SEED_VAR: &str = "REHEARSAL_SEED";

/// Why a rehearsal could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RehearseError {
    /// A simulation could not run.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The repro file could not be written.
    #[error("cannot write the repro file {path}: {detail}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// An exploration of one scenario for a test, configured: see the [module](self) docs.
#[derive(Clone, Debug)]
pub struct Rehearse {
    scenario: Scenario,
    params: Params,
    seeds: Range<u64>,
    swarm: Swarm,
    shrink_budget: usize,
    time_limit: Duration,
    jobs: usize,
    determinism: bool,
    vary: Option<&'static str>,
    store: crate::StoreKind,
    out_dir: Option<PathBuf>,
    test_command: String,
    exhaustive: Option<Exhaustive>,
    required: Required,
}

/// A failure found by [`Rehearse::run`]: the seed as found, its shrunk plan, its repro file.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The failing seed as the exploration ran it.
    pub found: SeedResult,
    /// Its plan shrunk (the same seed and network), if the shrunk plan still failed.
    pub shrunk: Option<Shrunk>,
    /// The repro file written (the shrunk case, else the case as found).
    pub repro: PathBuf,
    /// The repro's contents.
    pub contents: Repro,
}

/// What [`Rehearse::run`] found.
#[derive(Clone, Debug)]
pub struct Rehearsal {
    /// The scenario's totals.
    pub summary: ScenarioSummary,
    /// The first failing seed, shrunk and saved (none when every oracle held).
    pub failure: Option<Failure>,
    /// What [`Rehearse::require_coverage`] asked for and the runs left unmet: each as
    /// (path or goal, what it is).
    pub unmet: Vec<(String, String)>,
    /// With [`Rehearse::exhaustive`]: its single-fault and two-fault cases.
    pub cases: Option<(u64, u64)>,
}

impl Rehearse {
    /// Rehearses `scenario` with its default parameters over seeds `0..1000`, every fault
    /// kind (at most 4 faults a plan, one node down at a time), swarm testing on, one job
    /// per core.
    pub fn new(scenario: &Scenario) -> Rehearse {
        Rehearse {
            params: scenario.default_params(),
            scenario: scenario.clone(),
            seeds: 0..1000,
            swarm: Swarm {
                kinds: FaultKind::ALL.to_vec(),
                ..Swarm::default()
            },
            shrink_budget: 200,
            time_limit: Duration::from_secs(600),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            determinism: false,
            vary: None,
            store: crate::StoreKind::Model,
            out_dir: None,
            test_command: "cargo sim-test".to_string(),
            exhaustive: None,
            required: Required::default(),
        }
    }

    /// Instead of a random plan per seed, runs every exhaustive case ([`crate::exhaustive`]:
    /// each single fault at each site, occurrence and participant of the fault-free run, then
    /// a second fault where those runs went new ways), each at the first seed of the range,
    /// with the fault kinds of [`faults`](Self::faults). More cases than `ex.max_cases` is
    /// an error, never a sample.
    pub fn exhaustive(mut self, ex: Exhaustive) -> Rehearse {
        self.exhaustive = Some(ex);
        self
    }

    /// Fails the rehearsal (in [`check`](Self::check)) when its runs never walk a recovery
    /// path or reach a goal that `required` names, like `coverage::parse_paths("expected")`:
    /// the paths and goals the scenario expects of itself.
    pub fn require_coverage(mut self, required: Required) -> Rehearse {
        self.required = required;
        self
    }

    /// Rehearses a choreography value as a scenario called `name` without parameters.
    pub fn choreography<C: Choreography + Clone + Sync>(name: &'static str, choreo: C) -> Rehearse {
        let scenario = Scenario::new(name, "", move |_| Ok::<C, ChoreoError>(choreo.clone()));
        Rehearse::new(&scenario.build())
    }

    /// Runs with these parameter settings (`name=value`, over the defaults); bad settings
    /// panic with the scenario's message (they are the test's own mistake).
    pub fn params<'a>(mut self, settings: impl IntoIterator<Item = &'a str>) -> Rehearse {
        self.params = self
            .scenario
            .parse_params(settings)
            .unwrap_or_else(|e| panic!("rehearse `{}`: {e}", self.scenario.name()));
        self
    }

    /// Explores these seeds.
    pub fn seeds(mut self, seeds: Range<u64>) -> Rehearse {
        self.seeds = seeds;
        self
    }

    /// Draws faults of these kinds (default: every kind).
    pub fn faults(mut self, kinds: impl IntoIterator<Item = FaultKind>) -> Rehearse {
        self.swarm.kinds = kinds.into_iter().collect();
        self
    }

    /// Swarm testing: each seed draws a subset of the kinds (default: on).
    pub fn swarm(mut self, swarm: bool) -> Rehearse {
        self.swarm.swarm = swarm;
        self
    }

    /// At most this many faults per plan.
    pub fn max_faults(mut self, n: usize) -> Rehearse {
        self.swarm.max_faults = n;
        self
    }

    /// At most this many nodes down (crashed or paused) at once.
    pub fn max_down(mut self, n: usize) -> Rehearse {
        self.swarm.max_down = n;
        self
    }

    /// Spends at most this many runs shrinking a failure (default 200).
    pub fn shrink_budget(mut self, runs: usize) -> Rehearse {
        self.shrink_budget = runs;
        self
    }

    /// Participants unfinished after this much simulated time are a liveness violation.
    pub fn time_limit(mut self, limit: Duration) -> Rehearse {
        self.time_limit = limit;
        self
    }

    /// Worker threads (the result does not depend on it).
    pub fn jobs(mut self, jobs: usize) -> Rehearse {
        self.jobs = jobs.max(1);
        self
    }

    /// Runs every seed twice; different trace hashes are a violation.
    pub fn determinism(mut self, check: bool) -> Rehearse {
        self.determinism = check;
        self
    }

    /// Sets parameter `name` to each seed, so every seed runs a different program (a
    /// generated choreography's `shape`; see [`Explore::vary`]).
    pub fn vary(mut self, name: &'static str) -> Rehearse {
        self.vary = Some(name);
        self
    }

    /// The store the nodes journal to (default: the model of a disk;
    /// [`StoreKind::File`](crate::StoreKind::File): the real `FileStore` on a simulated disk,
    /// so its durability is rehearsed too).
    pub fn store(mut self, kind: crate::StoreKind) -> Rehearse {
        self.store = kind;
        self
    }

    /// Writes repro files into `dir` (default: `rehearsal/` in the target directory of the
    /// test binary, like `target/sim/rehearsal/`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Rehearse {
        self.out_dir = Some(dir.into());
        self
    }

    /// The cargo command the replay line starts with (default `cargo sim-test`, the alias
    /// of the sim-mode build; `-p`, `--test` and the test's name are added).
    pub fn test_command(mut self, command: impl Into<String>) -> Rehearse {
        self.test_command = command.into();
        self
    }

    /// Adds an oracle over every participant's outcome decoded as `V` (the choreography's
    /// output, or a view of it); its violations read `name: ...`.
    pub fn oracle<V: DeserializeOwned, R: Verdict>(
        mut self,
        name: &'static str,
        check: impl Fn(&Params, &Outputs<V>) -> R + Send + Sync + 'static,
    ) -> Rehearse {
        self.scenario = self
            .scenario
            .with_oracle(Oracle::typed(name, "the test's oracle", check));
        self
    }

    /// Adds an oracle over the typed outcomes and the run's trace.
    pub fn trace_oracle<V: DeserializeOwned, R: Verdict>(
        mut self,
        name: &'static str,
        check: impl Fn(&Params, &Outputs<V>, &crate::Trace) -> R + Send + Sync + 'static,
    ) -> Rehearse {
        self.scenario =
            self.scenario
                .with_oracle(Oracle::with_trace(name, "the test's oracle", check));
        self
    }

    /// The scenario as rehearsed (with the test's oracles).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    fn explore(&self, seeds: Range<u64>) -> Explore {
        Explore {
            scenarios: vec![(self.scenario.clone(), self.params.clone())],
            first_seed: seeds.start,
            seeds: seeds.end.saturating_sub(seeds.start),
            shard: Shard::ALL,
            jobs: self.jobs,
            swarm: self.swarm.clone(),
            keep_going: false,
            time_limit: self.time_limit,
            check_determinism: self.determinism,
            vary: self.vary,
            store: self.store,
        }
    }

    /// Where repro files go.
    pub fn repro_dir(&self) -> PathBuf {
        self.out_dir.clone().unwrap_or_else(default_out_dir)
    }

    /// Explores the seed range; the first failing seed is shrunk and its repro written.
    pub fn run(&self) -> Result<Rehearsal, RehearseError> {
        self.run_seeds(self.seeds.clone())
    }

    fn run_seeds(&self, seeds: Range<u64>) -> Result<Rehearsal, RehearseError> {
        let explore = self.explore(seeds);
        let total = explore.seeds;
        let done = AtomicU64::new(0);
        let started = Instant::now();
        let last = Mutex::new(Instant::now());
        let name = self.scenario.name();
        let of = match self.exhaustive {
            Some(_) => "exhaustive case(s)".to_string(),
            None => format!("of {total} seed(s)"),
        };
        let progress = |r: &SeedResult| {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() >= Duration::from_secs(10) {
                *last = Instant::now();
                eprintln!(
                    "rehearse `{name}`: {n} {of} in {:.0} s (last: {})",
                    started.elapsed().as_secs_f64(),
                    r.name()
                );
            }
        };
        let hooks = Hooks {
            progress: &progress,
            failure: &|_| {},
            settled: &|_, _| {},
            interrupt: &AtomicBool::new(false),
        };
        let (summary, cases) = match &self.exhaustive {
            Some(ex) => match explore.run_exhaustive(ex, &hooks, &|_, _| {})?.pop() {
                Some(e) => (e.summary, Some((e.single, e.pairs))),
                None => (ScenarioSummary::default(), Some((0, 0))),
            },
            None => (explore.run_with(&hooks)?.pop().unwrap_or_default(), None),
        };
        let unmet = self
            .required
            .unmet(self.scenario.expected(), &summary.coverage);
        let Some(found) = summary.failures.first().cloned() else {
            return Ok(Rehearsal {
                summary,
                failure: None,
                unmet,
                cases,
            });
        };
        let shrunk = explore.shrink(&found, self.shrink_budget)?;
        let contents = match &shrunk {
            Some(s) => crate::explore::repro(
                &self.scenario,
                &found.params,
                found.seed,
                self.time_limit,
                s,
            ),
            None => {
                crate::explore::found_repro(&self.scenario, &found.params, self.time_limit, &found)
            }
        };
        let dir = self.repro_dir();
        let repro = dir.join(format!("{}.toml", found.file_stem()));
        std::fs::create_dir_all(&dir)
            .and_then(|_| write_atomically(&repro, contents.to_toml().as_bytes()))
            .map_err(|e| RehearseError::Write {
                path: repro.clone(),
                detail: e.to_string(),
            })?;
        Ok(Rehearsal {
            summary,
            failure: Some(Failure {
                found,
                shrunk,
                repro,
                contents,
            }),
            unmet,
            cases,
        })
    }

    /// The command that replays the repro file `repro` in this test.
    pub fn replay_command(&self, repro: &Path) -> String {
        let (package, target) = test_target();
        let mut cmd = format!(
            "{REPLAY_VAR}={} {} -p {package} {target}",
            repro.display(),
            self.test_command
        );
        if let Some(test) = std::thread::current()
            .name()
            .filter(|n| *n != "main" && !n.is_empty())
        {
            cmd.push_str(&format!(" -- {test} --exact --nocapture"));
        }
        cmd
    }

    /// For a `#[test]`: explores (or replays what the environment names) and panics with a
    /// report ending in the replay command when an oracle is violated.
    pub fn check(&self) {
        if let Some(path) = std::env::var_os(REPLAY_VAR) {
            return self.check_replay(Path::new(&path));
        }
        let seeds = match std::env::var(SEED_VAR) {
            Ok(s) => match s.trim().parse::<u64>() {
                Ok(seed) => seed..seed.saturating_add(1),
                Err(_) => panic!("{SEED_VAR}=`{s}`: expected a seed, a whole number"),
            },
            Err(_) => self.seeds.clone(),
        };
        let single = seeds.end.saturating_sub(seeds.start) == 1;
        let result = self
            .run_seeds(seeds.clone())
            .unwrap_or_else(|e| panic!("rehearse `{}`: {e}", self.scenario.name()));
        if single && result.failure.is_none() {
            let sim = self.explore(seeds.clone()).sim(
                seeds.start,
                &Sim::plan_context(&self.program()).unwrap_or_else(|e| panic!("{e}")),
            );
            let report = sim
                .run_scenario(&self.scenario, &self.params)
                .unwrap_or_else(|e| panic!("rehearse `{}`: {e}", self.scenario.name()));
            print!("{}{}", report.trace.canonical(), report.summary());
        }
        if let Some(f) = &result.failure {
            panic!("{}", self.failure_report(&result.summary, f));
        }
        if !result.unmet.is_empty() {
            let unmet: Vec<String> = result
                .unmet
                .iter()
                .map(|(name, what)| format!("  `{name}`: {what}"))
                .collect();
            panic!(
                "rehearse `{}`: {} run(s) passed, but none walked:\n{}",
                self.scenario.name(),
                result.summary.seeds,
                unmet.join("\n")
            );
        }
    }

    fn program(&self) -> rehearsal::Program {
        self.scenario
            .program(&self.params)
            .unwrap_or_else(|e| panic!("rehearse `{}`: {e}", self.scenario.name()))
    }

    /// The readable report of a failure, ending with the replay command.
    pub fn failure_report(&self, summary: &ScenarioSummary, f: &Failure) -> String {
        let mut s = format!(
            "rehearse `{}`: an oracle was violated at {} ({} run(s), {} failing)\n",
            self.scenario.name(),
            f.found.name(),
            summary.seeds,
            summary.violations
        );
        for v in &f.contents.violations {
            s.push_str(&format!("  {v}\n"));
        }
        let kinds = |plan: &FaultPlan| {
            plan.faults
                .iter()
                .map(|x| x.action.kind().name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &f.shrunk {
            Some(sh) => s.push_str(&format!(
                "plan shrunk from {} to {} fault(s) in {} runs: {}\n",
                f.found.plan.faults.len(),
                sh.plan.faults.len(),
                sh.runs,
                kinds(&sh.plan)
            )),
            None => s.push_str(&format!(
                "plan not shrunk (it did not fail again): {} fault(s): {}\n",
                f.found.plan.faults.len(),
                kinds(&f.found.plan)
            )),
        }
        s.push_str(&format!("repro: {}\n", f.repro.display()));
        s.push_str(&format!("trace-hash {}\n", f.contents.trace_hash));
        s.push_str(&format!("replay: {}", self.replay_command(&f.repro)));
        s
    }

    fn check_replay(&self, path: &Path) {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{REPLAY_VAR}: cannot read {}: {e}", path.display()));
        let file = path.display().to_string();
        let header = Repro::header(&text, &file).unwrap_or_else(|e| panic!("{REPLAY_VAR}: {e}"));
        if header.scenario != self.scenario.name() {
            println!(
                "{REPLAY_VAR}={file} replays scenario `{}`; this test rehearses `{}`, so it skips",
                header.scenario,
                self.scenario.name()
            );
            return;
        }
        let (report, recorded) =
            replay(&self.scenario, path).unwrap_or_else(|e| panic!("{REPLAY_VAR}: {e}"));
        print!("{}{}", report.trace.canonical(), report.summary());
        let this = report.hash_hex();
        println!("trace-hash {this}");
        match recorded {
            Some(h) if h != this => panic!(
                "replay of {file} DIVERGED: recorded trace-hash {h}, this run {this} (the code \
                 changed since the repro was written, or the run is not deterministic)"
            ),
            Some(h) => println!("replay    trace-hash matches the recorded {h}"),
            None => println!("replay    {file} records no trace-hash to compare"),
        }
        assert!(
            report.passed(),
            "replay of {file}: an oracle was violated, as recorded:\n  {}",
            report.violations.join("\n  ")
        );
    }
}
