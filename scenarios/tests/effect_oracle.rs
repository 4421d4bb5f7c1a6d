//! The replay layer's own oracle, `effect-logged`: a replay that draws a random number or
//! reads the clock again, instead of using the value its journal logged, is caught where it
//! happens. One test per binary: a planted defect holds for the whole process.
#![cfg(madsim)]

use rehearsal::planted::{Bug, plant};
mod support;

use support::every_fault_kind as explore;

#[test]
fn effect_logged_catches_a_replay_that_draws_again() {
    let scenarios = ["srp", "tcp-server"];
    let seeds = 300;
    plant(Some(Bug::RedrawOnReplay));
    let planted = explore(&scenarios, seeds).run(&|_| {});
    plant(None);
    for s in planted.expect("the explorations run") {
        // Every seed that failed failed here, at the layer that broke.
        for f in &s.failures {
            assert!(
                f.violations
                    .iter()
                    .any(|v| v.starts_with("effect-logged: ")),
                "{} seed {}: {:?}",
                s.scenario,
                f.seed,
                f.violations
            );
        }
        // And on some seeds the end oracles held (nobody had seen the value drawn before
        // the restart): only this oracle catches the defect there, well within 2,000 seeds.
        let hidden = s
            .failures
            .iter()
            .find(|f| {
                f.violations
                    .iter()
                    .all(|v| v.starts_with("effect-logged: "))
            })
            .unwrap_or_else(|| {
                panic!(
                    "{}: the end oracles caught every planted redraw",
                    s.scenario
                )
            });
        assert!(hidden.seed < 2_000, "{}: seed {}", s.scenario, hidden.seed);
    }
    // Without the defect, the same seeds pass every oracle.
    support::assert_no_violation(&explore(&scenarios, seeds));
}
