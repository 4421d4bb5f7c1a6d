//! Issue 12, done-when 4: the reference oracle stays exact under random panics and crashes.
//! alice-bob and Chorex's checkpointed scenarios (the state machine, with and without its
//! planned crash, and the mini blockchain's nested blocks) run under random crash and panic
//! plans, and no seed violates outcome-equals-reference: a run whose blocks were rescued is
//! compared with the reference run along its path (the rescue in the same block instances,
//! with the same cause), not with the fault-free one.
//!
//! `REHEARSAL_SEEDS` sets the seeds per scenario (default 2,000; about 2 minutes in debug):
//! `REHEARSAL_SEEDS=20000 cargo sim-test --release -p rehearsal-scenarios --test rescue_reference`.
#![cfg(madsim)]

use std::time::Duration;

use rehearsal_scenarios::find;
use rehearsal_sim::{FaultKind, Sim, Swarm};

fn seeds() -> u64 {
    std::env::var("REHEARSAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000)
}

/// Runs `seeds()` seeds of scenario `name` with `settings` under random crashes and panics;
/// returns (seeds with a rescue, seeds the fault-free reference would have flagged). The
/// shipped scenarios' rescues are written to end as the body would, so the second count is
/// informational (`sim/tests/rescue_reference.rs` has choreographies whose rescues do not).
fn explore(name: &str, settings: &[&str]) -> (u64, u64) {
    let scenario = find(name).unwrap();
    let params = scenario.parse_params(settings.iter().copied()).unwrap();
    let program = scenario.program(&params).unwrap();
    let ctx = Sim::plan_context(&program).unwrap();
    let swarm = Swarm {
        kinds: vec![FaultKind::Crash, FaultKind::Panic],
        swarm: true,
        max_faults: 5,
        max_down: 3,
        ..Swarm::default()
    };
    let fault_free = Sim::new(0).run(name, &program).unwrap().reference;
    let (mut rescued, mut flagged) = (0, 0);
    for seed in 0..seeds() {
        let report = Sim::new(seed)
            .plan(swarm.plan(seed, &ctx))
            .time_limit(Duration::from_secs(300))
            .run(name, &program)
            .unwrap();
        let wrong: Vec<&String> = report
            .violations
            .iter()
            .filter(|v| v.starts_with("outcome-equals-reference"))
            .collect();
        assert!(
            wrong.is_empty(),
            "{name} ({params}), seed {seed}: {wrong:#?}\n{}",
            report.summary()
        );
        if report.trace.events.iter().any(|e| e.kind == "rescue") {
            rescued += 1;
            if !report.outcomes.differences(&fault_free).is_empty() {
                flagged += 1;
            }
        }
    }
    eprintln!(
        "{name} ({params}): {} seeds, {rescued} with a rescue, {flagged} of them flagged by the \
         fault-free reference",
        seeds()
    );
    (rescued, flagged)
}

#[test]
fn alice_bob_under_random_crashes_and_panics() {
    let (rescued, _) = explore("alice-bob", &[]);
    assert!(rescued > 0, "some seeds rescue the block");
}

#[test]
fn the_state_machine_under_random_crashes_and_panics() {
    let (rescued, _) = explore("state-machine", &["variant=1"]);
    assert!(rescued > 0, "some seeds rescue a turn");
    let (rescued, _) = explore("state-machine", &["variant=2", "global=1"]);
    assert!(rescued > 0);
}

#[test]
fn the_mini_blockchain_under_random_crashes_and_panics() {
    let (rescued, _) = explore("mini-blockchain", &["variant=1"]);
    assert!(rescued > 0, "some seeds rescue a nested attempt");
}
