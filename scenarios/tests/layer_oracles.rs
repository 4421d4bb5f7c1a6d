//! Each per-layer oracle catches a defect planted in its own layer that the end oracles
//! (outcomes equal the reference, everybody finishes) do not: a defence above must not hide
//! a broken layer below. One test per binary: a planted defect holds for the whole process.
#![cfg(madsim)]

use rehearsal::planted::{Bug, plant};
mod support;

use support::every_fault_kind as explore;

#[test]
fn link_once_catches_a_link_that_hands_copies_to_the_session_again() {
    let scenarios = ["bookseller", "alice-bob", "counter"];
    let seeds = 300;
    plant(Some(Bug::RedeliverCopies));
    let planted = explore(&scenarios, seeds).run(&|_| {});
    plant(None);
    let planted = planted.expect("the explorations run");
    for s in &planted {
        // Caught, early: well within 2,000 seeds.
        let first = s
            .failures
            .first()
            .unwrap_or_else(|| panic!("{}: the planted redelivery went unnoticed", s.scenario));
        assert!(
            first.seed < 2_000,
            "{}: first caught at seed {}",
            s.scenario,
            first.seed
        );
        // And only the link's oracles caught it: every end oracle held on every failing seed
        // (a copy handed over again is even consumed again: the inbox absorbs both).
        assert!(
            s.failures
                .iter()
                .any(|f| f.violations.iter().any(|v| v.starts_with("link-once: "))),
            "{}: link-once never fired",
            s.scenario
        );
        for f in &s.failures {
            assert!(
                f.violations.iter().all(|v| v.starts_with("link-")),
                "{} seed {}: {:?}",
                s.scenario,
                f.seed,
                f.violations
            );
        }
    }
    // Without the defect, the same seeds pass every oracle, the link's included.
    support::assert_no_violation(&explore(&scenarios, seeds));
}
