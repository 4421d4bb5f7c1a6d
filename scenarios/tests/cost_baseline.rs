//! Deterministic cost counters per shipped scenario (frames, bytes, store transactions,
//! simulated time, at a pinned seed), compared with the baseline committed in
//! `benches/cost-baseline.json` through the same helper a user's crate uses
//! ([`rehearsal_sim::cost::Baseline`]). A counter that grows fails the test, unless the
//! baseline is updated in the same change: `cargo xtask update-baseline` (or this test with
//! `REHEARSAL_UPDATE_BASELINE=1`) rewrites it.
#![cfg(madsim)]

use rehearsal_scenarios::registry;
use rehearsal_sim::cost::Baseline;

fn baseline() -> Baseline {
    Baseline::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../benches/cost-baseline.json"
    ))
}

#[test]
fn cost_counters_do_not_grow_beyond_the_committed_baseline() {
    baseline().assert(&registry());
}

#[test]
fn a_grown_counter_fails_naming_scenario_counter_and_both_values() {
    let dir = std::env::temp_dir().join(format!("rehearsal-cost-grow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cost-baseline.json");
    let one = registry()
        .find("counter")
        .map(|s| rehearsal_sim::Registry::new().with(s.clone()))
        .unwrap();
    let halved = Baseline::new(&path).update(true);
    halved.check(&one).unwrap();
    let mut costs = rehearsal_sim::cost::read(&path).unwrap();
    let frames = costs
        .get_mut("counter")
        .and_then(|c| c.get_mut("frames_sent"))
        .unwrap();
    let was = *frames;
    *frames = was / 2;
    rehearsal_sim::cost::write(&path, &costs).unwrap();
    let e = Baseline::new(&path).update(false).check(&one).unwrap_err();
    assert!(
        e.contains(&format!(
            "counter.frames_sent grew from {} to {was}",
            was / 2
        )),
        "{e}"
    );
    Baseline::new(&path).update(true).check(&one).unwrap();
    Baseline::new(&path).update(false).check(&one).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
