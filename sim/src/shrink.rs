//! Shrinking: from a failing plan to a minimal one that still fails.
//!
//! Delta debugging over the faults first (drop whole faults while the run still fails), then
//! over each remaining fault's parameters (earlier occurrences and times, shorter delays and
//! durations, immediate restarts, smaller partition groups). Every candidate is a full run
//! with the same seed and network, so the result is a plan that fails, not one that might.

#[cfg(madsim)]
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::plan::{Action, Fault, FaultPlan, Trigger};
use crate::report::Report;
#[cfg(madsim)]
use crate::scenario::{Params, Scenario};
#[cfg(madsim)]
use crate::sim::{Sim, SimError};

/// A minimal failing plan and its run.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing plan found.
    pub plan: FaultPlan,
    /// Its run (failing).
    pub report: Report,
    /// Runs spent.
    pub runs: usize,
    /// Simpler scenario parameters it still fails with, when the scenario offers them
    /// ([`crate::scenario::Scenario::simpler`]); `None`: the parameters it was found with.
    pub params: Option<crate::scenario::Params>,
}

/// Shrinks `plan` for a run given by `run`; `None` if `plan` does not fail. Spends at most
/// `budget` runs.
pub fn shrink(
    plan: FaultPlan,
    budget: usize,
    mut run: impl FnMut(&FaultPlan) -> Report,
) -> Option<Shrunk> {
    let first = run(&plan);
    if first.passed() {
        return None;
    }
    let mut best = Shrunk {
        plan,
        report: first,
        runs: 1,
        params: None,
    };
    let mut attempt = |best: &mut Shrunk, candidate: FaultPlan| -> bool {
        if best.runs >= budget || candidate == best.plan {
            return false;
        }
        best.runs += 1;
        let report = run(&candidate);
        if report.passed() {
            return false;
        }
        best.plan = candidate;
        best.report = report;
        true
    };
    // Faults: try removing each (restarting after every success) until none can go.
    let mut progress = true;
    while progress && best.plan.faults.len() > 1 {
        progress = false;
        for i in 0..best.plan.faults.len() {
            let mut c = best.plan.clone();
            c.faults.remove(i);
            if attempt(&mut best, c) {
                progress = true;
                break;
            }
        }
    }
    if best.plan.faults.len() == 1 {
        let mut c = best.plan.clone();
        c.faults.clear();
        attempt(&mut best, c);
    }
    // Parameters: each simplification repeated while it keeps failing.
    for i in 0..best.plan.faults.len() {
        loop {
            let candidates = simpler(&best.plan.faults[i]);
            let mut improved = false;
            for f in candidates {
                let mut c = best.plan.clone();
                c.faults[i] = f;
                if attempt(&mut best, c) {
                    improved = true;
                    break;
                }
            }
            if !improved {
                break;
            }
        }
    }
    Some(best)
}

fn halve(d: Duration) -> Option<Duration> {
    let h = Duration::from_millis((d.as_millis() / 2) as u64);
    (h < d && !d.is_zero()).then_some(h)
}

/// Faults one step simpler than `f`, most promising first.
fn simpler(f: &Fault) -> Vec<Fault> {
    let mut out = Vec::new();
    let with_trigger = |t: Trigger| Fault {
        trigger: t,
        action: f.action.clone(),
    };
    let with_action = |a: Action| Fault {
        trigger: f.trigger.clone(),
        action: a,
    };
    match &f.trigger {
        Trigger::Site {
            site,
            role,
            occurrence,
        } if *occurrence > 1 => {
            for o in [1, occurrence / 2] {
                out.push(with_trigger(Trigger::Site {
                    site: site.clone(),
                    role: role.clone(),
                    occurrence: o.max(1),
                }));
            }
        }
        Trigger::Time { at, role } => {
            if let Some(h) = halve(*at) {
                out.push(with_trigger(Trigger::Time {
                    at: h,
                    role: role.clone(),
                }));
            }
        }
        _ => {}
    }
    match &f.action {
        Action::Crash {
            restart_after: Some(d),
        } if !d.is_zero() => {
            out.push(with_action(Action::Crash {
                restart_after: Some(Duration::ZERO),
            }));
            if let Some(h) = halve(*d) {
                out.push(with_action(Action::Crash {
                    restart_after: Some(h),
                }));
            }
        }
        Action::Disk { op, count } if *count > 1 => {
            out.push(with_action(Action::Disk { op: *op, count: 1 }));
        }
        Action::Delay { by } => {
            if let Some(h) = halve(*by) {
                out.push(with_action(Action::Delay { by: h }));
            }
        }
        Action::Pause { duration } => {
            if let Some(h) = halve(*duration) {
                out.push(with_action(Action::Pause { duration: h }));
            }
        }
        Action::Partition {
            groups,
            one_way,
            duration,
        } => {
            if let Some(h) = halve(*duration) {
                out.push(with_action(Action::Partition {
                    groups: groups.clone(),
                    one_way: *one_way,
                    duration: h,
                }));
            }
            for g in 0..2 {
                if groups[g].len() > 1 {
                    for r in 0..groups[g].len() {
                        let mut gs = groups.clone();
                        gs[g].remove(r);
                        out.push(with_action(Action::Partition {
                            groups: gs,
                            one_way: *one_way,
                            duration: *duration,
                        }));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// Shrinks the plan of `sim`'s run of `scenario`: each candidate runs as `sim` does (its
/// seed, network, time limit and store) with the candidate plan.
#[cfg(madsim)]
pub fn shrink_run(
    scenario: &Scenario,
    params: &Params,
    sim: &Sim,
    budget: usize,
) -> Result<Option<Shrunk>, SimError> {
    shrink_run_until(scenario, params, sim, budget, &AtomicBool::new(false))
}

/// As [`shrink_run`], but once `interrupt` is set every further candidate counts as passing,
/// so the shrinker ends at once with the smallest failing plan it has (every plan it keeps
/// failed a real run). `None` when the plan does not fail, or the interrupt came before its
/// first run.
#[cfg(madsim)]
pub fn shrink_run_until(
    scenario: &Scenario,
    params: &Params,
    sim: &Sim,
    budget: usize,
    interrupt: &AtomicBool,
) -> Result<Option<Shrunk>, SimError> {
    let (seed, net) = (sim.seed(), sim.net_config());
    let base = sim.clone().net(net);
    let mut failure = None;
    let mut run = |candidate: &FaultPlan, params: &Params| {
        if interrupt.load(Ordering::Relaxed) {
            return crate::report::Report::passing_placeholder(seed, net);
        }
        match base
            .clone()
            .plan(candidate.clone())
            .run_scenario(scenario, params)
        {
            Ok(r) => r,
            Err(e) => {
                failure.get_or_insert(e);
                // An erroring candidate counts as passing so the shrinker moves on.
                crate::report::Report::passing_placeholder(seed, net)
            }
        }
    };
    let plan = sim.fault_plan().clone();
    let mut shrunk = shrink(plan, budget, |candidate| run(candidate, params));
    // Then the scenario itself, where it offers simpler parameters (a smaller program):
    // the first simpler candidate that still fails with the shrunk plan is kept, until
    // none does or the budget is spent.
    if let Some(best) = shrunk.as_mut() {
        let mut current = params.clone();
        'simpler: while best.runs < budget {
            for candidate in scenario.simpler(&current) {
                if best.runs >= budget {
                    break 'simpler;
                }
                best.runs += 1;
                let report = run(&best.plan, &candidate);
                if !report.passed() {
                    best.report = report;
                    best.params = Some(candidate.clone());
                    current = candidate;
                    continue 'simpler;
                }
            }
            break;
        }
    }
    match failure {
        Some(e) if shrunk.is_none() => Err(e),
        _ => Ok(shrunk),
    }
}
