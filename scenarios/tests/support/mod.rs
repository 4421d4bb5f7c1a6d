//! What the planted-defect tests share: an exploration of shipped scenarios under every
//! fault kind that keeps going after a violation, so that every failing seed is counted.

use rehearsal_scenarios::{Scenario, find};
use rehearsal_sim::explore::Explore;
use rehearsal_sim::{FaultKind, Swarm};

/// Seeds `0..seeds` of the shipped scenarios `names` (default parameters), every fault kind,
/// two jobs, keeping going after violations.
#[allow(dead_code)]
pub fn every_fault_kind(names: &[&str], seeds: u64) -> Explore {
    explore_kinds(names, seeds, FaultKind::ALL.to_vec())
}

/// [`every_fault_kind`] drawing its plans from `kinds` only.
pub fn explore_kinds(names: &[&str], seeds: u64, kinds: Vec<FaultKind>) -> Explore {
    let scenarios = names
        .iter()
        .map(|n| {
            let s: &'static Scenario = find(n).unwrap();
            (s.clone(), s.default_params())
        })
        .collect();
    Explore {
        seeds,
        jobs: 2,
        swarm: Swarm {
            kinds,
            ..Swarm::default()
        },
        keep_going: true,
        ..Explore::new(scenarios)
    }
}

/// The kinds the planted-defect tests draw from: every kind but `disk` (a failing write
/// fail-stops the node, which the planted defects do not need to be told apart).
#[allow(dead_code)]
pub fn planted_kinds() -> Vec<FaultKind> {
    FaultKind::ALL
        .into_iter()
        .filter(|k| *k != FaultKind::Disk)
        .collect()
}

/// Asserts that `ex` finds no violation in any scenario (the run without a planted defect).
pub fn assert_no_violation(ex: &Explore) {
    for s in ex.run(&|_| {}).expect("the explorations run") {
        assert_eq!(
            s.violations,
            0,
            "{}: {:?}",
            s.scenario,
            s.failures.first().map(|f| &f.violations)
        );
    }
}

/// Explores `names` with `bug` planted, then without it: asserts that `oracle` catches the
/// defect in every scenario within 2,000 seeds, that on some failing seed only per-layer
/// oracles fired (the end oracles alone miss it), and that without the defect every seed
/// passes. Returns, per scenario, how many seeds failed and how many of those only a
/// per-layer oracle caught.
#[allow(dead_code)]
pub fn assert_caught_by(
    bug: rehearsal::planted::Bug,
    oracle: &str,
    names: &[&str],
    seeds: u64,
) -> Vec<(&'static str, u64, usize)> {
    use rehearsal::planted::plant;
    use rehearsal_sim::layer_oracles::is_layer_violation;
    plant(Some(bug));
    let planted = explore_kinds(names, seeds, planted_kinds()).run(&|_| {});
    plant(None);
    let mut out = Vec::new();
    for s in planted.expect("the explorations run") {
        let named = |f: &rehearsal_sim::explore::SeedResult| {
            f.violations
                .iter()
                .any(|v| v.starts_with(&format!("{oracle}: ")))
        };
        let first = s
            .failures
            .iter()
            .find(|f| named(f))
            .unwrap_or_else(|| panic!("{}: {oracle} never caught {bug:?}", s.scenario));
        assert!(
            first.seed < 2_000,
            "{}: first caught at seed {}",
            s.scenario,
            first.seed
        );
        let hidden = s
            .failures
            .iter()
            .filter(|f| named(f) && f.violations.iter().all(|v| is_layer_violation(v)))
            .count();
        assert!(
            hidden > 0,
            "{}: the end oracles caught {bug:?} on every failing seed: {:?}",
            s.scenario,
            s.failures.first().map(|f| &f.violations)
        );
        out.push((s.scenario, s.violations, hidden));
    }
    assert_no_violation(&explore_kinds(names, seeds, planted_kinds()));
    out
}
