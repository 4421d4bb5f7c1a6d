//! Generated choreographies (`explore --generated`): every seed runs another program, a
//! failure's repro rebuilds its program, and shrinking deletes operators as well as faults.
#![cfg(madsim)]

use rehearsal_scenarios::find;
use rehearsal_scenarios::generated::{Generated, Shape};
use rehearsal_sim::explore::{Explore, repro};
use rehearsal_sim::scenario::{Oracle, Params};
use rehearsal_sim::{FaultKind, Swarm};

fn explore_generated(scenario: rehearsal_sim::scenario::Scenario, seeds: u64) -> Explore {
    let params = scenario.default_params();
    Explore {
        seeds,
        jobs: 2,
        swarm: Swarm {
            kinds: FaultKind::ALL.to_vec(),
            ..Swarm::default()
        },
        vary: Some("shape"),
        store: Default::default(),
        ..Explore::new(vec![(scenario, params)])
    }
}

#[test]
fn generated_programs_recover_under_every_fault_kind() {
    let scenario = find("generated").unwrap().clone();
    let summary = explore_generated(scenario, 200)
        .run(&|_| {})
        .expect("the exploration runs")
        .pop()
        .unwrap();
    assert_eq!(
        summary.violations,
        0,
        "{:?}",
        summary.failures.first().map(|f| (f.seed, &f.violations))
    );
    // Different seeds ran different programs, and faults reached their recovery paths.
    let programs: std::collections::BTreeSet<String> = (0..200)
        .map(|seed| Shape::generate(seed, 24).to_string())
        .collect();
    assert!(programs.len() > 190, "{} distinct programs", programs.len());
    let unreached = summary.coverage.unreached();
    for path in ["rescue", "restart", "retransmit"] {
        assert!(
            !unreached.contains(&path),
            "{path} never walked: {unreached:?}"
        );
    }
}

#[test]
fn a_failure_records_its_program_and_shrinks_it() {
    // An oracle that fails every program holding a comm: the shrinker should delete every
    // operator but one comm (and what encloses it).
    let has_comm = |p: &Params| Generated::of(p).shape().to_string().contains(": comm");
    let scenario = find("generated").unwrap().with_oracle(Oracle::erased(
        "no-comm",
        "the program has no comm",
        move |run| {
            Some(
                has_comm(run.params)
                    .then(|| "a comm".to_string())
                    .into_iter()
                    .collect(),
            )
        },
    ));
    let ex = Explore {
        keep_going: false,
        ..explore_generated(scenario.clone(), 20)
    };
    let summary = ex
        .run(&|_| {})
        .expect("the exploration runs")
        .pop()
        .unwrap();
    let found = summary
        .failures
        .first()
        .expect("some program has a comm")
        .clone();
    assert_eq!(
        found.params.get("shape"),
        found.seed,
        "the seed names the program"
    );
    let before = Generated::of(&found.params).shape().count();
    let shrunk = ex.shrink(&found, 300).unwrap().expect("it fails again");
    let params = shrunk.params.clone().expect("the program was simplified");
    let after = Generated::of(&params).shape().clone();
    assert!(after.to_string().contains(": comm"), "{after}");
    assert!(
        after.count() < before && after.count() <= 5,
        "{before} -> {after}"
    );
    // The repro records the generator's seed and what was pruned: the program is rebuilt.
    let r = repro(&scenario, &found.params, found.seed, ex.time_limit, &shrunk);
    let text = r.to_toml();
    assert!(text.contains(&format!("shape = {}", found.seed)), "{text}");
    assert!(
        text.contains(&format!("prune = {}", params.get("prune"))),
        "{text}"
    );
}
