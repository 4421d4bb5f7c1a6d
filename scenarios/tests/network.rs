//! Every scenario over a network that loses up to 30%, duplicates up to 20%, reorders, and
//! delays up to 50 ms: outcomes equal the reference run's, every scenario oracle holds, and
//! each seed run twice gives the same trace hash.
//!
//! `REHEARSAL_SEEDS` sets the seeds per scenario (default 200); proptest's generator is pinned,
//! so every run tries the same cases.
#![cfg(madsim)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rehearsal_scenarios::registry;
use rehearsal_sim::{NetConfig, Sim};

fn net_strategy() -> impl Strategy<Value = NetConfig> {
    (
        0u64..=50_000,
        0u64..=50_000,
        0.0..0.3f64,
        0.0..0.2f64,
        0.0..0.3f64,
    )
        .prop_map(|(a, b, loss, duplicate, reorder)| NetConfig {
            latency_min_us: a.min(b),
            latency_max_us: a.max(b),
            loss,
            duplicate,
            reorder,
        })
}

fn seeds() -> u32 {
    std::env::var("REHEARSAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

#[test]
fn every_scenario_matches_its_reference_on_a_faulty_network_deterministically() {
    for scenario in &registry() {
        let params = scenario.default_params();
        let program = scenario.program(&params).unwrap();
        let config = Config {
            cases: seeds(),
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let faults_seen = std::cell::Cell::new((0u64, 0u64, 0u64));
        runner
            .run(&(any::<u64>(), net_strategy()), |(seed, net)| {
                let sim = Sim::new(seed).net(net);
                let report = sim
                    .check_determinism(scenario.name(), &program)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let mut violations = report.violations.clone();
                violations.extend(scenario.check(&params, &report.outcomes, &report.reference));
                prop_assert!(
                    violations.is_empty(),
                    "{} seed {seed} ({net}): {violations:#?}",
                    scenario.name()
                );
                let (d, u, r) = faults_seen.get();
                faults_seen.set((
                    d + report.stats.dropped,
                    u + report.stats.duplicated,
                    r + report.stats.retransmitted,
                ));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", scenario.name()));
        let (dropped, duplicated, retransmitted) = faults_seen.get();
        assert!(
            dropped > 0 && duplicated > 0 && retransmitted > 0,
            "{}: the network faults must actually fire: {:?}",
            scenario.name(),
            faults_seen.get()
        );
    }
}

#[test]
fn a_total_outage_of_one_link_never_completes_but_reports_liveness_not_a_hang() {
    // 99% loss: the run either completes late (retransmission wins) or hits the time limit
    // and reports a liveness violation; it never hangs the harness.
    let scenario = rehearsal_scenarios::find("counter").unwrap();
    let program = scenario.program(&scenario.default_params()).unwrap();
    let net = NetConfig {
        loss: 0.99,
        ..NetConfig::default()
    };
    let report = Sim::new(1)
        .net(net)
        .time_limit(std::time::Duration::from_secs(5))
        .run(scenario.name(), &program)
        .unwrap();
    assert!(
        report.violations.iter().any(|v| v.starts_with("liveness")),
        "{:#?}",
        report.violations
    );
}
