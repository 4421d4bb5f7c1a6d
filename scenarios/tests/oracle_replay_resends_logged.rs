//! `replay-resends-logged` (replay): a restarted participant resends exactly its logged,
//! unacknowledged frames. One that resends acknowledged ones too ([`Bug::ResendAcknowledged`]) is caught
//! within 2,000 seeds, also on seeds where the end oracles (outcomes equal the reference,
//! everybody finishes, the saga oracles) hold; without it the same seeds pass. One test per
//! binary: a planted defect holds for the whole process.
#![cfg(madsim)]

use rehearsal::planted::Bug;
mod support;

#[test]
fn replay_resends_logged_catches_a_restart_that_resends_acknowledged_frames() {
    let scenarios = ["bookseller", "counter"];
    let caught = support::assert_caught_by(
        Bug::ResendAcknowledged,
        "replay-resends-logged",
        &scenarios,
        300,
    );
    eprintln!("{caught:?}");
}
