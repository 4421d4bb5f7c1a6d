//! The explorer: many seeds, random fault plans, shrinking and repro files.
//!
//! [`Explore`] runs every (scenario, seed) of its range on a pool of worker threads (each
//! simulation on its own OS thread and madsim runtime). Each seed draws its network
//! conditions and its fault plan from the seed. Without `keep_going`, the explorer stops at
//! the first violation *in seed order*: seeds above the smallest failing seed are skipped,
//! every seed below it still runs, so the result never depends on the number of jobs.
//!
//! The seed range is streamed: workers take seeds from a shared cursor, seed by seed (every
//! scenario of a seed before the next seed), and fold each result into per-scenario totals
//! as soon as the seeds below it are in. What stays in memory is those totals, the results
//! that finished ahead of a slower seed below them, and the failures: memory does not depend
//! on the size of the range, which may be any range of `u64`. [`Hooks`] let the caller see
//! every result and every failure as it happens (to write its repro at once) and stop the
//! workers early (an interrupt): the summary then covers the seeds that ran.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::coverage::{Coverage, CoverageTotals};
use crate::disk::StoreKind;
use crate::net::NetConfig;
use crate::plan::{FaultKind, FaultPlan, PlanContext, SiteUse};
use crate::random::Swarm;
use crate::repro::{Repro, current_commit};
use crate::scenario::{Params, Scenario};
use crate::shrink::Shrunk;
pub use crate::shrink::{shrink_run, shrink_run_until};
use crate::sim::{Sim, SimError};

pub use crate::shard::Shard;

/// What one seed did.
#[derive(Clone, Debug)]
pub struct SeedResult {
    /// The scenario.
    pub scenario: &'static str,
    /// The seed.
    pub seed: u64,
    /// The case number, from 1, in an exhaustive exploration ([`crate::exhaustive`]).
    pub case: Option<u64>,
    /// The scenario's parameters in this run (with [`Explore::vary`], the varied one set
    /// to the seed).
    pub params: Params,
    /// Its network conditions.
    pub net: NetConfig,
    /// The store its nodes journaled to.
    pub store: StoreKind,
    /// Its fault plan.
    pub plan: FaultPlan,
    /// Violated oracles (empty: all held).
    pub violations: Vec<String>,
    /// Faults that fired, by kind.
    pub fired: BTreeMap<String, u64>,
    /// Simulated time of the run, in microseconds.
    pub sim_time_us: u64,
    /// Trace hash of the run.
    pub trace_hash: u64,
    /// The recovery paths the run walked.
    pub coverage: Coverage,
}

impl SeedResult {
    /// How the run is named in reports: `seed 17`, or `case 12` in an exhaustive
    /// exploration (every case runs at one seed).
    pub fn name(&self) -> String {
        match self.case {
            Some(c) => format!("case {c}"),
            None => format!("seed {}", self.seed),
        }
    }

    /// Its place among its scenario's runs: the case number, or the seed.
    pub fn id(&self) -> u64 {
        self.case.unwrap_or(self.seed)
    }

    /// The stem of its repro file: `bookseller-17`, or `bookseller-case12`.
    pub fn file_stem(&self) -> String {
        match self.case {
            Some(c) => format!("{}-case{c}", self.scenario),
            None => format!("{}-{}", self.scenario, self.seed),
        }
    }
}

/// What an exploration keeps of a seed until it is folded into its scenario's totals: its
/// counts, and the whole result only when it failed.
struct Kept {
    sim_time_us: u64,
    /// Faults fired, by [`FaultKind::ALL`] index; other kinds (none today) under the last.
    fired: [u32; FaultKind::ALL.len() + 1],
    coverage: Coverage,
    failure: Option<Box<SeedResult>>,
}

impl Kept {
    fn of(result: SeedResult) -> Kept {
        let mut fired = [0u32; FaultKind::ALL.len() + 1];
        for (kind, n) in &result.fired {
            let i = FaultKind::ALL
                .iter()
                .position(|k| k.name() == kind)
                .unwrap_or(FaultKind::ALL.len());
            fired[i] = fired[i].saturating_add(u32::try_from(*n).unwrap_or(u32::MAX));
        }
        Kept {
            sim_time_us: result.sim_time_us,
            fired,
            coverage: result.coverage.clone(),
            failure: (!result.violations.is_empty()).then(|| Box::new(result)),
        }
    }
}

/// The most failures a summary keeps whole per scenario; it counts every one.
pub const KEPT_FAILURES: usize = 100;

/// One scenario's running totals: the seeds folded so far form a prefix of its shard's
/// seeds; results that finished ahead of a slower seed wait in `ahead`.
struct Tally {
    summary: ScenarioSummary,
    /// Shard position of the next seed to fold.
    next: u64,
    /// Finished results not yet folded, by shard position.
    ahead: BTreeMap<u64, Kept>,
    /// A failure was folded and the exploration stops at it (no `keep_going`).
    stopped: bool,
}

impl Tally {
    /// Goes on from `summary` (a fresh one, or the totals of an earlier batch of runs),
    /// at shard position 0.
    fn continuing(summary: ScenarioSummary, keep_going: bool) -> Tally {
        Tally {
            stopped: !keep_going && summary.violations > 0,
            summary,
            next: 0,
            ahead: BTreeMap::new(),
        }
    }

    /// Adds the result at shard position `j` and folds every result now in order; returns
    /// the failures folded, each with its place among the scenario's failures (from 0).
    fn add(&mut self, j: u64, kept: Kept, keep_going: bool) -> Vec<(SeedResult, u64)> {
        let mut settled = Vec::new();
        if self.stopped {
            return settled;
        }
        self.ahead.insert(j, kept);
        while let Some(kept) = self.ahead.remove(&self.next) {
            self.next += 1;
            if let Some(f) = &kept.failure {
                settled.push(((**f).clone(), self.summary.violations));
            }
            let failed = kept.failure.is_some();
            self.fold(kept);
            if failed && !keep_going {
                self.stopped = true;
                self.ahead.clear();
                break;
            }
        }
        settled
    }

    fn fold(&mut self, kept: Kept) {
        let sum = &mut self.summary;
        sum.seeds += 1;
        sum.sim_time_us = sum.sim_time_us.saturating_add(kept.sim_time_us);
        sum.coverage.add(&kept.coverage);
        for (i, &n) in kept.fired.iter().enumerate() {
            if n > 0 {
                let kind = FaultKind::ALL.get(i).map_or("?", |k| k.name());
                *sum.fired.entry(kind.to_string()).or_insert(0) += u64::from(n);
            }
        }
        if let Some(failure) = kept.failure {
            sum.violations += 1;
            if sum.failures.len() < KEPT_FAILURES {
                sum.failures.push(*failure);
            }
        }
    }

    /// The totals; after an interrupt they also cover the results that finished above a
    /// seed that did not (up to the first failure without `keep_going`).
    fn finish(mut self, keep_going: bool) -> ScenarioSummary {
        let ahead = std::mem::take(&mut self.ahead);
        for (_, kept) in ahead {
            if self.stopped {
                break;
            }
            let failed = kept.failure.is_some();
            self.fold(kept);
            self.stopped = failed && !keep_going;
        }
        self.summary
    }
}

/// What a caller of [`Explore::run_with`] sees while the exploration runs.
pub struct Hooks<'a> {
    /// Called with every seed's result as it finishes (on a worker thread).
    pub progress: &'a (dyn Fn(&SeedResult) + Sync),
    /// Called with every failing result right after `progress`, on the worker that ran it:
    /// the place to save its repro at once.
    pub failure: &'a (dyn Fn(&SeedResult) + Sync),
    /// Called with every failure the summary counts once every seed below it is in (so in
    /// seed order per scenario, whatever the number of jobs), with its place among the
    /// scenario's failures, from 0; a worker calls it and runs no seed meanwhile: the place
    /// to shrink it. Failures above the first one are never settled without `keep_going`.
    pub settled: &'a (dyn Fn(&SeedResult, u64) + Sync),
    /// Set it (from a signal handler, say) to stop the workers after their current seed.
    pub interrupt: &'a AtomicBool,
}

/// One scenario's totals.
#[derive(Clone, Debug, Default)]
pub struct ScenarioSummary {
    /// The scenario.
    pub scenario: &'static str,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds with a violation.
    pub violations: u64,
    /// Faults fired over all seeds, by kind.
    pub fired: BTreeMap<String, u64>,
    /// Simulated time over all seeds, in microseconds.
    pub sim_time_us: u64,
    /// How many seeds walked each recovery path.
    pub coverage: CoverageTotals,
    /// The failing seeds, in seed order.
    pub failures: Vec<SeedResult>,
}

/// An exploration, configured.
#[derive(Clone, Debug)]
pub struct Explore {
    /// Scenarios to explore, with their parameters.
    pub scenarios: Vec<(Scenario, Params)>,
    /// First seed of the range.
    pub first_seed: u64,
    /// Seeds in the range.
    pub seeds: u64,
    /// Which part of the range this machine runs.
    pub shard: Shard,
    /// Worker threads.
    pub jobs: usize,
    /// How fault plans are drawn.
    pub swarm: Swarm,
    /// Run every seed even after a violation.
    pub keep_going: bool,
    /// Simulated time after which unfinished participants are a liveness violation.
    pub time_limit: Duration,
    /// Run every seed twice; differing trace hashes are a violation.
    pub check_determinism: bool,
    /// A parameter set to each run's seed, so every seed runs a different program
    /// (`explore --generated` varies `shape`); its sites are counted per seed.
    pub vary: Option<&'static str>,
    /// The store the nodes journal to (default: the model of a disk; `File`: the real
    /// `FileStore` on a simulated disk).
    pub store: StoreKind,
}

impl Explore {
    /// An exploration of `scenarios` over seeds `0..100`: network faults drawn by the default
    /// [`Swarm`], stopping at the first violation, 120 s of simulated time per run, one job
    /// per core. Change any field with struct update syntax:
    ///
    /// ```
    /// # #[cfg(madsim)] {
    /// use rehearsal_sim::explore::Explore;
    ///
    /// let ex = Explore { seeds: 2_000, keep_going: true, ..Explore::new(Vec::new()) };
    /// assert_eq!((ex.first_seed, ex.seeds), (0, 2_000));
    /// # }
    /// ```
    pub fn new(scenarios: Vec<(Scenario, Params)>) -> Explore {
        Explore {
            scenarios,
            first_seed: 0,
            seeds: 100,
            shard: Shard::ALL,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            swarm: Swarm::default(),
            keep_going: false,
            time_limit: Duration::from_secs(120),
            check_determinism: false,
            vary: None,
            store: StoreKind::Model,
        }
    }

    /// The parameters of scenario `s` at `seed`: its own, with [`Explore::vary`] set to the
    /// seed.
    pub fn params_at(&self, s: usize, seed: u64) -> Params {
        let params = &self.scenarios[s].1;
        match self.vary {
            Some(name) => params.with(name, seed),
            None => params.clone(),
        }
    }

    /// The seed's run: network from the seed, plan from the seed.
    pub fn sim(&self, seed: u64, ctx: &PlanContext) -> Sim {
        Sim::new(seed)
            .plan(self.swarm.plan(seed, ctx))
            .time_limit(self.time_limit)
            .store(self.store)
    }

    /// Runs the exploration; `progress` sees each seed's result as it finishes.
    pub fn run(
        &self,
        progress: &(dyn Fn(&SeedResult) + Sync),
    ) -> Result<Vec<ScenarioSummary>, SimError> {
        self.run_with(&Hooks {
            progress,
            failure: &|_| {},
            settled: &|_, _| {},
            interrupt: &AtomicBool::new(false),
        })
    }

    /// Runs the exploration with `hooks`; after an interrupt, the summaries cover the seeds
    /// that ran.
    pub fn run_with(&self, hooks: &Hooks<'_>) -> Result<Vec<ScenarioSummary>, SimError> {
        let mut contexts = Vec::new();
        for (scenario, params) in &self.scenarios {
            if self.vary.is_none() {
                contexts.push(Sim::plan_context(&scenario.program(params)?)?);
            }
        }
        let n = self.shard.len(self.seeds);
        let fresh = self.fresh_summaries();
        let run = |s: usize, j: u64| {
            let seed = self
                .shard
                .nth(self.first_seed, self.seeds, j)
                .ok_or_else(|| {
                    SimError::Net(format!("shard position {j} is past the seed range"))
                })?;
            let sim = match contexts.get(s) {
                Some(ctx) => self.sim(seed, ctx),
                None => {
                    let program = self.scenarios[s].0.program(&self.params_at(s, seed))?;
                    self.sim(seed, &Sim::plan_context(&program)?)
                }
            };
            self.run_sim(s, &sim, None).map(|(result, _)| result)
        };
        self.run_batch(&vec![n; self.scenarios.len()], fresh, &run, hooks)
    }

    /// Empty totals, one per scenario, in order.
    pub(crate) fn fresh_summaries(&self) -> Vec<ScenarioSummary> {
        self.scenarios
            .iter()
            .map(|(s, _)| ScenarioSummary {
                scenario: s.name(),
                ..ScenarioSummary::default()
            })
            .collect()
    }

    /// Runs positions `0..lens[s]` of every scenario `s` through `run` on the worker pool,
    /// position-major (every scenario of a position before the next), and folds the results
    /// into `prior` (one summary per scenario) in position order. Without `keep_going`, a
    /// scenario stops at its first failing position (positions below it still run), and a
    /// scenario whose `prior` has a violation runs nothing.
    pub(crate) fn run_batch(
        &self,
        lens: &[u64],
        prior: Vec<ScenarioSummary>,
        run: &(dyn Fn(usize, u64) -> Result<SeedResult, SimError> + Sync),
        hooks: &Hooks<'_>,
    ) -> Result<Vec<ScenarioSummary>, SimError> {
        let longest = lens.iter().copied().max().unwrap_or(0);
        let tallies: Vec<Mutex<Tally>> = prior
            .into_iter()
            .map(|p| Mutex::new(Tally::continuing(p, self.keep_going)))
            .collect();
        // Per scenario, the smallest failing position so far (u64::MAX: none).
        let stop: Vec<AtomicU64> = lens.iter().map(|_| AtomicU64::new(u64::MAX)).collect();
        // A scenario stopped by an earlier batch runs nothing in this one.
        let stopped_before: Vec<bool> = tallies.iter().map(|t| lock(t).stopped).collect();
        let cursor = Mutex::new((0u64, 0usize));
        let error = Mutex::new(None::<SimError>);
        let failed = AtomicBool::new(false);
        let take = || -> Option<(u64, usize)> {
            let mut c = lock(&cursor);
            loop {
                if hooks.interrupt.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                    return None;
                }
                let (j, s) = *c;
                if j >= longest || s >= lens.len() {
                    return None;
                }
                let open = |s: usize| {
                    !stopped_before[s] && (self.keep_going || j <= stop[s].load(Ordering::Relaxed))
                };
                if !self.keep_going && (0..lens.len()).all(|s| !open(s) || j >= lens[s]) {
                    return None;
                }
                *c = if s + 1 < lens.len() {
                    (j, s + 1)
                } else {
                    (j + 1, 0)
                };
                if j < lens[s] && open(s) {
                    return Some((j, s));
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.max(1) {
                scope.spawn(|| {
                    while let Some((j, s)) = take() {
                        match run(s, j) {
                            Ok(result) => {
                                if !result.violations.is_empty() {
                                    stop[s].fetch_min(j, Ordering::Relaxed);
                                }
                                (hooks.progress)(&result);
                                if !result.violations.is_empty() {
                                    (hooks.failure)(&result);
                                }
                                let settled =
                                    lock(&tallies[s]).add(j, Kept::of(result), self.keep_going);
                                for (failure, place) in settled {
                                    (hooks.settled)(&failure, place);
                                }
                            }
                            Err(e) => {
                                lock(&error).get_or_insert(e);
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        Ok(tallies
            .into_iter()
            .map(|t| {
                t.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .finish(self.keep_going)
            })
            .collect())
    }

    /// Runs `sim` on scenario `s` (twice with `check_determinism`): the result, and the
    /// sites the run reached.
    pub(crate) fn run_sim(
        &self,
        s: usize,
        sim: &Sim,
        case: Option<u64>,
    ) -> Result<(SeedResult, Vec<SiteUse>), SimError> {
        let scenario = &self.scenarios[s].0;
        let seed = sim.seed();
        let params = self.params_at(s, seed);
        let mut report = sim.run_scenario(scenario, &params)?;
        if self.check_determinism {
            let again = sim.run_scenario(scenario, &params)?;
            if again.trace_hash != report.trace_hash {
                report.violations.push(format!(
                    "determinism: a second run of seed {seed} gave trace hash {:016x}, the first {:016x}",
                    again.trace_hash, report.trace_hash
                ));
            }
        }
        let result = SeedResult {
            scenario: scenario.name(),
            seed,
            case,
            params,
            net: report.net,
            store: report.store,
            plan: sim.fault_plan().clone(),
            fired: report.faults_fired(),
            sim_time_us: report.stats.sim_time_us,
            trace_hash: report.trace_hash,
            coverage: Coverage::of(&report.trace),
            violations: report.violations,
        };
        Ok((result, report.site_uses))
    }

    /// Shrinks a failing seed's plan (same seed, same network) to a minimal failing plan.
    pub fn shrink(&self, failure: &SeedResult, budget: usize) -> Result<Option<Shrunk>, SimError> {
        self.shrink_until(failure, budget, &AtomicBool::new(false))
    }

    /// As [`Explore::shrink`], but stops trying candidates once `interrupt` is set: the plan
    /// returned is then the smallest failing one found so far.
    pub fn shrink_until(
        &self,
        failure: &SeedResult,
        budget: usize,
        interrupt: &AtomicBool,
    ) -> Result<Option<Shrunk>, SimError> {
        let (scenario, _) = self
            .scenarios
            .iter()
            .find(|(s, _)| s.name() == failure.scenario)
            .ok_or_else(|| {
                SimError::Net(format!("scenario {} is not explored", failure.scenario))
            })?;
        let sim = Sim::new(failure.seed)
            .net(failure.net)
            .plan(failure.plan.clone())
            .time_limit(self.time_limit)
            .store(self.store);
        shrink_run_until(scenario, &failure.params, &sim, budget, interrupt)
    }
}

/// The repro of a failure as it was found, before shrinking (written at once, so that an
/// interrupt during the shrinking loses nothing).
pub fn found_repro(
    scenario: &Scenario,
    params: &Params,
    time_limit: Duration,
    failure: &SeedResult,
) -> Repro {
    Repro {
        scenario: scenario.name().to_string(),
        params: params.iter().map(|(k, v)| (k.to_string(), v)).collect(),
        seed: failure.seed,
        net: failure.net,
        store: failure.store,
        time_limit,
        plan: failure.plan.clone(),
        commit: current_commit(),
        trace_hash: format!("{:016x}", failure.trace_hash),
        violations: failure.violations.clone(),
    }
}

/// The repro for a shrunk failure.
pub fn repro(
    scenario: &Scenario,
    params: &Params,
    seed: u64,
    time_limit: Duration,
    shrunk: &Shrunk,
) -> Repro {
    let params = shrunk.params.as_ref().unwrap_or(params);
    Repro {
        scenario: scenario.name().to_string(),
        params: params.iter().map(|(k, v)| (k.to_string(), v)).collect(),
        seed,
        net: shrunk.report.net,
        store: shrunk.report.store,
        time_limit,
        plan: shrunk.plan.clone(),
        commit: current_commit(),
        trace_hash: shrunk.report.hash_hex(),
        violations: shrunk.report.violations.clone(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
