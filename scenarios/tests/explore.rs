//! The explorer: it finds a planted fault-sensitive bug, shrinks its plan, writes a repro
//! that replays to the same trace hash; it finds nothing in the shipped scenarios under
//! network faults; its shards cover a range exactly; its result does not depend on --jobs.
#![cfg(madsim)]

use std::process::Command;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rehearsal_scenarios::{Scenario, find, registry};
use rehearsal_sim::explore::{Explore, Shard, repro};
use rehearsal_sim::{FaultKind, Sim, Swarm, strategy::fault_plans};

fn explore(names: &[&str], seeds: u64, jobs: usize, kinds: &[FaultKind]) -> Explore {
    Explore {
        scenarios: names
            .iter()
            .map(|n| {
                let s: &'static Scenario = find(n).unwrap();
                (s.clone(), s.default_params())
            })
            .collect(),
        first_seed: 0,
        seeds,
        shard: Shard::ALL,
        jobs,
        swarm: Swarm {
            kinds: kinds.to_vec(),
            ..Swarm::default()
        },
        keep_going: false,
        time_limit: Duration::from_secs(120),
        check_determinism: true,
        vary: None,
        store: Default::default(),
    }
}

#[test]
fn a_planted_bug_is_found_shrunk_written_and_replayed_exactly() {
    let ex = explore(&["planted-impatience"], 2_000, 2, &FaultKind::NETWORK);
    let summary = ex.run(&|_| {}).unwrap();
    let failure = summary[0]
        .failures
        .first()
        .expect("the planted bug is found within 2,000 seeds");
    assert_eq!(
        summary[0].violations, 1,
        "the explorer stops at the first failing seed"
    );
    assert_eq!(
        summary[0].seeds,
        failure.seed + 1,
        "every seed below the failure ran"
    );

    let shrunk = ex
        .shrink(failure, 200)
        .unwrap()
        .expect("the failure reproduces");
    assert!(shrunk.plan.faults.len() <= 2, "shrunk to {:?}", shrunk.plan);
    assert!(!shrunk.report.passed());
    // The shrunk plan really fails, by itself, when run again.
    let (scenario, params) = &ex.scenarios[0];
    let again = Sim::new(failure.seed)
        .net(failure.net)
        .plan(shrunk.plan.clone())
        .run_scenario(scenario, params)
        .unwrap();
    assert!(!again.passed());
    assert_eq!(again.trace_hash, shrunk.report.trace_hash);

    let dir = std::env::temp_dir().join(format!("rehearsal-explore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("planted-impatience-{}.toml", failure.seed));
    let r = repro(scenario, params, failure.seed, ex.time_limit, &shrunk);
    std::fs::write(&file, r.to_toml()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .args(["replay", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the replayed run violates again: {stdout}"
    );
    assert!(
        stdout.contains("trace-hash matches the recorded"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some(format!("trace-hash {}", r.trace_hash).as_str())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cli_explorer_writes_a_repro_and_prints_the_replay_command() {
    let dir = std::env::temp_dir().join(format!("rehearsal-cli-explore-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .args([
            "explore",
            "planted-impatience",
            "--seeds",
            "2000",
            "--swarm",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("replay: cargo rehearsal replay ")
        })
        .unwrap_or_else(|| panic!("no replay command in:\n{stdout}"));
    let path = line
        .trim_start()
        .trim_start_matches("replay: cargo rehearsal replay ");
    assert!(std::path::Path::new(path).exists(), "{path}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn seeds_per_scenario() -> u64 {
    std::env::var("REHEARSAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

#[test]
fn shipped_scenarios_survive_every_network_fault_kind() {
    let names: Vec<&str> = registry().iter().map(|s| s.name()).collect();
    let mut ex = explore(&names, seeds_per_scenario(), 2, &FaultKind::NETWORK);
    ex.keep_going = true;
    for swarm in [false, true] {
        ex.swarm.swarm = swarm;
        let summary = ex.run(&|_| {}).unwrap();
        for s in &summary {
            assert_eq!(s.violations, 0, "{}: {:#?}", s.scenario, s.failures.first());
            assert_eq!(s.seeds, seeds_per_scenario());
            for kind in FaultKind::NETWORK {
                assert!(
                    s.fired.get(kind.name()).copied().unwrap_or(0) > 0,
                    "{}: no {kind} fired",
                    s.scenario
                );
            }
        }
    }
}

#[test]
fn shards_cover_exactly_the_seeds_of_an_unsharded_run() {
    for (first, n) in [(0, 10), (5, 7), (100, 1)] {
        let all: Vec<u64> = Shard::ALL.seeds(first, n).collect();
        let a: Vec<u64> = Shard { index: 1, count: 2 }.seeds(first, n).collect();
        let b: Vec<u64> = Shard { index: 2, count: 2 }.seeds(first, n).collect();
        assert_eq!(a.len() as u64, Shard { index: 1, count: 2 }.len(n));
        assert!(a.iter().all(|s| !b.contains(s)), "shards overlap");
        let mut both = [a, b].concat();
        both.sort();
        assert_eq!(both, all);
    }
    // Any range of u64 is a range of seeds, taken lazily.
    let last = Shard { index: 3, count: 3 };
    assert_eq!(last.len(u64::MAX), u64::MAX / 3);
    assert_eq!(last.nth(0, u64::MAX, u64::MAX / 3 - 1), Some(u64::MAX - 1));
    assert_eq!(last.nth(0, u64::MAX, u64::MAX / 3), None);
    assert_eq!(
        Shard {
            index: 5,
            count: 10
        }
        .len(3),
        0
    );
    assert!(
        Shard::parse("0/2").is_err() && Shard::parse("3/2").is_err() && Shard::parse("x").is_err()
    );
    // Through the explorer: the two shards' results are the unsharded result.
    let mut ex = explore(&["bookseller"], 40, 2, &FaultKind::NETWORK);
    ex.keep_going = true;
    let whole = ex.run(&|_| {}).unwrap();
    let mut seen = Vec::new();
    let mut fired = std::collections::BTreeMap::new();
    for index in 1..=2 {
        ex.shard = Shard { index, count: 2 };
        let collected = std::sync::Mutex::new(Vec::new());
        let part = ex
            .run(&|r| collected.lock().unwrap().push((r.seed, r.trace_hash)))
            .unwrap();
        seen.extend(collected.into_inner().unwrap());
        for (k, v) in &part[0].fired {
            *fired.entry(k.clone()).or_insert(0) += v;
        }
    }
    seen.sort();
    assert_eq!(
        seen.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (0..40).collect::<Vec<_>>()
    );
    assert_eq!(fired, whole[0].fired);
}

#[test]
fn the_result_does_not_depend_on_the_number_of_jobs() {
    let run = |jobs| {
        let ex = explore(
            &["planted-impatience", "counter"],
            300,
            jobs,
            &FaultKind::NETWORK,
        );
        ex.run(&|_| {})
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.scenario,
                    s.seeds,
                    s.violations,
                    s.fired,
                    s.sim_time_us,
                    s.failures
                        .iter()
                        .map(|f| (f.seed, f.trace_hash))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn the_plan_strategy_property_tests_a_choreography_with_shrinking() {
    let scenario = find("bookseller").unwrap();
    let program = scenario.program(&scenario.default_params()).unwrap();
    let ctx = Sim::plan_context(&program).unwrap();
    let config = Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]));
    runner
        .run(
            &(
                any::<u64>(),
                fault_plans(ctx.clone(), FaultKind::NETWORK.to_vec(), 4),
            ),
            |(seed, plan)| {
                let report = Sim::new(seed)
                    .plan(plan)
                    .run_scenario(scenario, &scenario.default_params())
                    .unwrap();
                prop_assert!(report.passed(), "{}", report.summary());
                Ok(())
            },
        )
        .unwrap();
    // And on the planted bug the strategy finds a counterexample and shrinks it.
    let planted = find("planted-impatience").unwrap();
    let program = planted.program(&planted.default_params()).unwrap();
    let ctx = Sim::plan_context(&program).unwrap();
    let config = Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[5; 32]));
    let result = runner.run(
        &fault_plans(ctx, vec![FaultKind::Delay, FaultKind::Partition], 4),
        |plan| {
            let report = Sim::new(1)
                .plan(plan)
                .run_scenario(planted, &planted.default_params())
                .unwrap();
            prop_assert!(report.passed());
            Ok(())
        },
    );
    match result {
        Err(proptest::test_runner::TestError::Fail(_, plan)) => {
            assert_eq!(plan.faults.len(), 1, "shrunk to one fault: {plan:?}");
        }
        other => panic!("expected a shrunk counterexample, got {other:?}"),
    }
}
