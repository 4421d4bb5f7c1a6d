//! What the planted-defect tests share: an exploration of shipped scenarios under every
//! fault kind that keeps going after a violation, so that every failing seed is counted.

use rehearsal_scenarios::{Scenario, find};
use rehearsal_sim::explore::Explore;
use rehearsal_sim::{FaultKind, Swarm};

/// Seeds `0..seeds` of the shipped scenarios `names` (default parameters), every fault kind,
/// two jobs, keeping going after violations.
pub fn every_fault_kind(names: &[&str], seeds: u64) -> Explore {
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
            kinds: FaultKind::ALL.to_vec(),
            ..Swarm::default()
        },
        keep_going: true,
        ..Explore::new(scenarios)
    }
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
