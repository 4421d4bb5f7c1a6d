//! `ack-durable` (journal and link): nothing is acknowledged before it is durable. A journal
//! that acknowledges a frame before its inbox record is synced ([`Bug::AckBeforeDurable`]) is caught
//! within 2,000 seeds, also on seeds where the end oracles (outcomes equal the reference,
//! everybody finishes, the saga oracles) hold; without it the same seeds pass. One test per
//! binary: a planted defect holds for the whole process.
#![cfg(madsim)]

use rehearsal::planted::Bug;
mod support;

#[test]
fn ack_durable_catches_an_acknowledgement_before_the_inbox_record_is_synced() {
    let scenarios = ["bookseller", "alice-bob"];
    let caught = support::assert_caught_by(Bug::AckBeforeDurable, "ack-durable", &scenarios, 200);
    eprintln!("{caught:?}");
}
