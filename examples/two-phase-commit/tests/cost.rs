//! The two-phase commit's cost counters (frames, datagrams, bytes, store writes and syncs,
//! simulated time at pinned seeds) against `cost-baseline.json`: the test fails when the
//! protocol starts costing more. After an intended change, rerun with
//! `REHEARSAL_UPDATE_BASELINE=1` and commit the new baseline.
#![cfg(madsim)]

use std::path::{Path, PathBuf};

use rehearsal::{Choreo, ChoreoError, Choreography, Roles};
use rehearsal_sim::Registry;
use rehearsal_sim::Scenario;
use rehearsal_sim::cost::Baseline;
use two_phase_commit::scenario::{NAME, PARAMS, registry};
use two_phase_commit::{Applied, Coordinator, P1, P2, TwoPhaseCommit};

fn baseline_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cost-baseline.json")
}

#[test]
fn cost_stays_within_the_baseline() {
    Baseline::new(baseline_file()).assert(&registry());
}

/// The protocol with its decision announced twice: one frame per participant more.
#[derive(Clone)]
struct Chatty(TwoPhaseCommit);

impl Choreography for Chatty {
    type Census = Roles![Coordinator, P1, P2];
    type Output = Applied;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Applied, ChoreoError> {
        let applied = self.0.run(ch).await?;
        let again = ch.locally(Coordinator, |_| applied.decision).await?;
        ch.at("decision-again")
            .broadcast(Coordinator, again)
            .await?;
        Ok(applied)
    }
}

#[test]
fn a_doubled_frame_fails_the_check_until_the_baseline_is_updated() {
    let chatty = Registry::new().with(
        Scenario::new(NAME, "the decision announced twice", |p| {
            Ok(Chatty(TwoPhaseCommit::from_params(p)))
        })
        .params(PARAMS),
    );
    let grew = Baseline::new(baseline_file())
        .update(false)
        .check(&chatty)
        .unwrap_err();
    assert!(grew.contains("frames"), "{grew}");
    // Updating a copy of the baseline accepts the new cost, and the check passes again.
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join("two-phase-commit-baseline.json");
    std::fs::copy(baseline_file(), &copy).unwrap();
    Baseline::new(&copy).update(true).check(&chatty).unwrap();
    let note = Baseline::new(&copy).update(false).check(&chatty).unwrap();
    assert!(note.contains("within"), "{note}");
}
