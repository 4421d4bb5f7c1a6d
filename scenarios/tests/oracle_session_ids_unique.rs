//! `session-ids-unique` (node): a session id names one session on a node. A node that
//! opens an ended session again under its id ([`Bug::ReopenEnded`]) is caught
//! within 2,000 seeds, also on seeds where the end oracles (outcomes equal the reference,
//! everybody finishes, the saga oracles) hold; without it the same seeds pass. One test per
//! binary: a planted defect holds for the whole process.
#![cfg(madsim)]

use rehearsal::planted::Bug;
mod support;

#[test]
fn session_ids_unique_catches_an_ended_session_opened_again_under_its_id() {
    let scenarios = ["travel", "listener"];
    let caught = support::assert_caught_by(Bug::ReopenEnded, "session-ids-unique", &scenarios, 200);
    eprintln!("{caught:?}");
}
