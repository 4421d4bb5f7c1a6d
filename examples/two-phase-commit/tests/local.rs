//! The same choreography in std mode: real tokio, the in-process cluster, no simulator.
#![cfg(not(madsim))]

use rehearsal::{FamilySizes, LocalCluster, Program};
use two_phase_commit::{Applied, Decision, Ledger, TwoPhaseCommit};

async fn decisions(tx: TwoPhaseCommit) -> Vec<Decision> {
    let program = Program::new(tx, &FamilySizes::new()).unwrap();
    let outcomes = LocalCluster::new().run(&program).await;
    outcomes
        .decode::<Applied>()
        .unwrap()
        .iter()
        .map(|(who, o)| match o {
            Ok(applied) => applied.applied(),
            Err(e) => panic!("{who} failed: {e}"),
        })
        .collect()
}

#[tokio::test]
async fn commits_when_both_can_pay_and_aborts_otherwise() {
    let tx = TwoPhaseCommit::new(30, Ledger::new(100), Ledger::new(50));
    assert_eq!(decisions(tx).await, [Decision::Commit; 3]);
    let poor = TwoPhaseCommit::new(60, Ledger::new(100), Ledger::new(50));
    assert_eq!(decisions(poor).await, [Decision::Abort; 3]);
    let mut full = TwoPhaseCommit::new(30, Ledger::new(100), Ledger::new(50));
    full.p2.disk_full = true;
    assert_eq!(decisions(full).await, [Decision::Abort; 3]);
}
