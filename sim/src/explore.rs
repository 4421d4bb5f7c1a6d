//! The explorer: many seeds, random fault plans, shrinking and repro files.
//!
//! [`Explore`] runs every (scenario, seed) of its range on a pool of worker threads (each
//! simulation on its own OS thread and madsim runtime). Each seed draws its network
//! conditions and its fault plan from the seed. Without `keep_going`, the explorer stops at
//! the first violation *in seed order*: seeds above the smallest failing seed are skipped,
//! every seed below it still runs, so the result never depends on the number of jobs.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rehearsal_scenarios::Scenario;

use crate::net::NetConfig;
use crate::plan::{FaultKind, FaultPlan, PlanContext};
use crate::random::Swarm;
use crate::repro::{Repro, current_commit};
use crate::shrink::{Shrunk, shrink};
use crate::sim::{Sim, SimError};

/// Which part of a seed range a machine covers: shard `index` of `count`, from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 1.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Reads `I/N` (1 <= I <= N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard `{s}`: expected I/N with 1 <= I <= N, like 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The seeds of `first..first + n` this shard runs: every `count`-th from its offset.
    pub fn seeds(&self, first: u64, n: u64) -> Vec<u64> {
        (0..n)
            .filter(|k| k % self.count == self.index - 1)
            .map(|k| first + k)
            .collect()
    }
}

/// What one seed did.
#[derive(Clone, Debug)]
pub struct SeedResult {
    /// The scenario.
    pub scenario: &'static str,
    /// The seed.
    pub seed: u64,
    /// Its network conditions.
    pub net: NetConfig,
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
}

/// What an exploration keeps of a seed: its counts, and the whole result only when it
/// failed (a million passing seeds then take tens of megabytes, not gigabytes).
struct Kept {
    scenario: usize,
    seed: u64,
    sim_time_us: u64,
    /// Faults fired, by [`FaultKind::ALL`] index; other kinds (none today) under the last.
    fired: [u32; FaultKind::ALL.len() + 1],
    failure: Option<Box<SeedResult>>,
}

impl Kept {
    fn of(scenario: usize, result: SeedResult) -> Kept {
        let mut fired = [0u32; FaultKind::ALL.len() + 1];
        for (kind, n) in &result.fired {
            let i = FaultKind::ALL
                .iter()
                .position(|k| k.name() == kind)
                .unwrap_or(FaultKind::ALL.len());
            fired[i] = fired[i].saturating_add(u32::try_from(*n).unwrap_or(u32::MAX));
        }
        Kept {
            scenario,
            seed: result.seed,
            sim_time_us: result.sim_time_us,
            fired,
            failure: (!result.violations.is_empty()).then(|| Box::new(result)),
        }
    }
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
    /// The failing seeds, in seed order.
    pub failures: Vec<SeedResult>,
}

/// An exploration, configured.
#[derive(Clone, Debug)]
pub struct Explore {
    /// Scenarios to explore, with their parameters.
    pub scenarios: Vec<(&'static Scenario, rehearsal_scenarios::Params)>,
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
}

impl Explore {
    /// The seed's run: network from the seed, plan from the seed.
    pub fn sim(&self, seed: u64, ctx: &PlanContext) -> Sim {
        Sim::new(seed)
            .plan(self.swarm.plan(seed, ctx))
            .time_limit(self.time_limit)
    }

    /// Runs the exploration; `progress` sees each seed's result as it finishes.
    pub fn run(
        &self,
        progress: &(dyn Fn(&SeedResult) + Sync),
    ) -> Result<Vec<ScenarioSummary>, SimError> {
        let mut contexts = Vec::new();
        for (scenario, params) in &self.scenarios {
            contexts.push(Sim::plan_context(&scenario.program(params)?)?);
        }
        let seeds = self.shard.seeds(self.first_seed, self.seeds);
        let items: Vec<(usize, u64)> = (0..self.scenarios.len())
            .flat_map(|s| seeds.iter().map(move |&seed| (s, seed)))
            .collect();
        let stop: Vec<AtomicU64> = self
            .scenarios
            .iter()
            .map(|_| AtomicU64::new(u64::MAX))
            .collect();
        let next = AtomicUsize::new(0);
        let results = Mutex::new(Vec::<Kept>::new());
        let error = Mutex::new(None::<SimError>);
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.max(1) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(s, seed)) = items.get(i) else { break };
                        if !self.keep_going && seed > stop[s].load(Ordering::Relaxed) {
                            continue;
                        }
                        let (scenario, params) = &self.scenarios[s];
                        let sim = self.sim(seed, &contexts[s]);
                        let report = match sim.run_scenario(scenario, params).and_then(|mut r| {
                            if self.check_determinism {
                                let again = sim.run_scenario(scenario, params)?;
                                if again.trace_hash != r.trace_hash {
                                    r.violations.push(format!(
                                        "determinism: a second run of seed {seed} gave trace hash {:016x}, the first {:016x}",
                                        again.trace_hash, r.trace_hash
                                    ));
                                }
                            }
                            Ok(r)
                        }) {
                            Ok(r) => r,
                            Err(e) => {
                                let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
                                slot.get_or_insert(e);
                                continue;
                            }
                        };
                        let result = SeedResult {
                            scenario: scenario.name,
                            seed,
                            net: report.net,
                            plan: sim.fault_plan().clone(),
                            fired: report.faults_fired(),
                            violations: report.violations,
                            sim_time_us: report.stats.sim_time_us,
                            trace_hash: report.trace_hash,
                        };
                        if !result.violations.is_empty() {
                            stop[s].fetch_min(seed, Ordering::Relaxed);
                        }
                        progress(&result);
                        let kept = Kept::of(s, result);
                        results.lock().unwrap_or_else(|p| p.into_inner()).push(kept);
                    }
                });
            }
        });
        if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.sort_by_key(|r| (r.scenario, r.seed));
        let mut out = Vec::new();
        for (s, (scenario, _)) in self.scenarios.iter().enumerate() {
            let last = if self.keep_going {
                u64::MAX
            } else {
                stop[s].load(Ordering::Relaxed)
            };
            let mut sum = ScenarioSummary {
                scenario: scenario.name,
                ..ScenarioSummary::default()
            };
            for r in results.iter().filter(|r| r.scenario == s && r.seed <= last) {
                sum.seeds += 1;
                sum.sim_time_us += r.sim_time_us;
                for (i, &n) in r.fired.iter().enumerate() {
                    if n > 0 {
                        let kind = FaultKind::ALL.get(i).map_or("?", |k| k.name());
                        *sum.fired.entry(kind.to_string()).or_insert(0) += u64::from(n);
                    }
                }
                if let Some(failure) = &r.failure {
                    sum.violations += 1;
                    sum.failures.push((**failure).clone());
                }
            }
            out.push(sum);
        }
        Ok(out)
    }

    /// Shrinks a failing seed's plan (same seed, same network) to a minimal failing plan.
    pub fn shrink(&self, failure: &SeedResult, budget: usize) -> Result<Option<Shrunk>, SimError> {
        let (scenario, params) = self
            .scenarios
            .iter()
            .find(|(s, _)| s.name == failure.scenario)
            .ok_or_else(|| {
                SimError::Net(format!("scenario {} is not explored", failure.scenario))
            })?;
        shrink_run(
            scenario,
            params,
            failure.seed,
            failure.net,
            failure.plan.clone(),
            self.time_limit,
            budget,
        )
    }
}

/// Shrinks `plan` for `scenario` at `seed` on network `net`.
pub fn shrink_run(
    scenario: &Scenario,
    params: &rehearsal_scenarios::Params,
    seed: u64,
    net: NetConfig,
    plan: FaultPlan,
    time_limit: Duration,
    budget: usize,
) -> Result<Option<Shrunk>, SimError> {
    let mut failure = None;
    let shrunk = shrink(plan, budget, |candidate| {
        match Sim::new(seed)
            .net(net)
            .plan(candidate.clone())
            .time_limit(time_limit)
            .run_scenario(scenario, params)
        {
            Ok(r) => r,
            Err(e) => {
                failure.get_or_insert(e);
                // An erroring candidate counts as passing so the shrinker moves on.
                crate::report::Report::passing_placeholder(seed, net)
            }
        }
    });
    match failure {
        Some(e) if shrunk.is_none() => Err(e),
        _ => Ok(shrunk),
    }
}

/// The repro for a shrunk failure.
pub fn repro(
    scenario: &Scenario,
    params: &rehearsal_scenarios::Params,
    seed: u64,
    time_limit: Duration,
    shrunk: &Shrunk,
) -> Repro {
    Repro {
        scenario: scenario.name.to_string(),
        params: params.iter().map(|(k, v)| (k.to_string(), v)).collect(),
        seed,
        net: shrunk.report.net,
        time_limit_s: time_limit.as_secs().max(1),
        plan: shrunk.plan.clone(),
        commit: current_commit(),
        trace_hash: shrunk.report.hash_hex(),
        violations: shrunk.report.violations.clone(),
    }
}
