//! `epoch-fenced` (checkpoint): no frame of a block instance a participant abandoned is
//! taken in. A rescue that admits them ([`Bug::AdmitAbandonedFrames`]) is caught
//! within 2,000 seeds, also on seeds where the end oracles (outcomes equal the reference,
//! everybody finishes, the saga oracles) hold; without it the same seeds pass. One test per
//! binary: a planted defect holds for the whole process.
#![cfg(madsim)]

use rehearsal::planted::Bug;
mod support;

#[test]
fn epoch_fenced_catches_a_frame_of_an_abandoned_block_admitted_into_the_inbox() {
    let scenarios = ["counter", "alice-bob"];
    let caught =
        support::assert_caught_by(Bug::AdmitAbandonedFrames, "epoch-fenced", &scenarios, 300);
    eprintln!("{caught:?}");
}
