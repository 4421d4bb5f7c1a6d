//! Disk faults: a node whose store fails a write or a sync fail-stops, and its supervisor
//! restarts it on what the disk made durable, on the model of a disk and on the real
//! `FileStore` (redb) over a simulated disk that loses unsynced writes when its node dies.
#![cfg(madsim)]

use rehearsal_scenarios::find;
use rehearsal_sim::coverage::PATHS;
use rehearsal_sim::explore::Explore;
use rehearsal_sim::{FaultKind, StoreKind, Swarm};

#[test]
fn a_failed_write_or_sync_fail_stops_the_node_and_the_restart_recovers_on_both_stores() {
    for store in StoreKind::ALL {
        let scenarios = ["bookseller", "travel", "tcp-server"]
            .iter()
            .map(|n| {
                let s = find(n).unwrap();
                (s.clone(), s.default_params())
            })
            .collect();
        let ex = Explore {
            seeds: 60,
            jobs: 2,
            swarm: Swarm {
                kinds: vec![FaultKind::Disk, FaultKind::Drop],
                ..Swarm::default()
            },
            keep_going: true,
            store,
            ..Explore::new(scenarios)
        };
        for s in ex.run(&|_| {}).expect("the explorations run") {
            assert_eq!(
                s.violations,
                0,
                "{} on {store:?}: {:?}",
                s.scenario,
                s.failures.first().map(|f| &f.violations)
            );
            assert!(
                s.fired.get("disk").copied().unwrap_or(0) > 5,
                "{}: {:?}",
                s.scenario,
                s.fired
            );
            // Each fail-stop is a restart: the recovery path was walked, not skipped.
            let at = PATHS.iter().position(|p| p.name == "restart").unwrap();
            let restarts = s.coverage.seeds[at];
            assert!(
                restarts > 3,
                "{} on {store:?}: {restarts} restarts",
                s.scenario
            );
        }
    }
}
