//! Canonical traces of every scenario at two pinned seeds, kept as insta snapshots in the
//! workspace's `snapshots/` folder. A change to what crosses the wire, or in what order,
//! changes a snapshot.
#![cfg(madsim)]

use rehearsal_scenarios::registry;
use rehearsal_sim::Sim;

const SEEDS: [u64; 2] = [7, 1_000_003];

#[test]
fn canonical_traces_of_every_scenario_at_pinned_seeds() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for scenario in &registry() {
            let program = scenario.program(&scenario.default_params()).unwrap();
            for seed in SEEDS {
                let report = Sim::new(seed)
                    .run_scenario(scenario, &scenario.default_params())
                    .unwrap();
                assert!(report.passed(), "{}", report.summary());
                let _ = &program;
                let body = format!(
                    "network: {}\ntrace-hash: {}\n{}",
                    report.net,
                    report.hash_hex(),
                    report.trace.canonical()
                );
                insta::assert_snapshot!(format!("{}-seed-{seed}", scenario.name()), body);
            }
        }
    });
}

#[test]
fn reordering_two_frames_changes_the_canonical_trace() {
    let scenario = rehearsal_scenarios::find("bookseller").unwrap();
    let report = Sim::new(7)
        .run_scenario(scenario, &scenario.default_params())
        .unwrap();
    let mut trace = report.trace.clone();
    let frames: Vec<usize> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == "send")
        .map(|(i, _)| i)
        .collect();
    assert!(frames.len() >= 2);
    trace.events.swap(frames[0], frames[1]);
    assert_ne!(trace.canonical(), report.trace.canonical());
    assert_ne!(trace.hash(), report.trace_hash);
}

/// The warehouse saga committing (abort=0) and aborting at its last step (abort=2, every
/// commit compensated), at the pinned seeds.
#[test]
fn canonical_traces_of_a_committing_and_an_aborting_warehouse_saga() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    let scenario = rehearsal_scenarios::find("warehouse").unwrap();
    settings.bind(|| {
        for abort in [0, 2] {
            let params = scenario
                .parse_params([format!("abort={abort}").as_str()])
                .unwrap();
            for seed in SEEDS {
                let report = Sim::new(seed).run_scenario(scenario, &params).unwrap();
                assert!(report.passed(), "{}", report.summary());
                assert_eq!(
                    report.trace.count("saga-compensate") > 0,
                    abort == 2,
                    "only the aborting saga compensates"
                );
                let body = format!(
                    "network: {}\ntrace-hash: {}\n{}",
                    report.net,
                    report.hash_hex(),
                    report.trace.canonical()
                );
                insta::assert_snapshot!(format!("warehouse-abort-{abort}-seed-{seed}"), body);
            }
        }
    });
}
