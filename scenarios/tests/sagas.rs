//! The saga scenarios on the in-process runtime, on every path: each participant's outcome
//! equals the reference run's (also when the saga aborts) and the scenario's own oracles hold.

use rehearsal::{ChoreoError, LocalCluster};
use rehearsal_scenarios::find;

async fn check(name: &str, settings: &[&str], aborted_at: Option<&str>) {
    let scenario = find(name).unwrap();
    let params = scenario.parse_params(settings.iter().copied()).unwrap();
    let program = scenario.program(&params).unwrap();
    let reference = program.reference().await;
    let outcomes = LocalCluster::new().run(&program).await;
    let violations = scenario.check(&params, &outcomes, &reference);
    assert!(
        violations.is_empty(),
        "{name} ({params}): {violations:#?}\n{outcomes}"
    );
    for (p, o) in outcomes.entries() {
        match (aborted_at, o) {
            (None, Ok(_)) => {}
            (Some(step), Err(ChoreoError::Aborted { transaction, .. })) if transaction == step => {}
            (want, got) => {
                panic!("{name} ({params}) at {p}: expected abort at {want:?}, got {got:?}")
            }
        }
    }
}

#[tokio::test]
async fn warehouse_ships_or_aborts_at_the_first_or_the_last_step() {
    check("warehouse", &["abort=0"], None).await;
    check("warehouse", &["abort=1"], Some("reserve")).await;
    check("warehouse", &["abort=2"], Some("ship")).await;
    check("warehouse", &["abort=0", "qty=9"], Some("reserve")).await;
    check("warehouse", &["abort=3"], None).await;
}

#[tokio::test]
async fn travel_books_both_or_aborts_when_either_is_full() {
    check("travel", &["full=0"], None).await;
    check("travel", &["full=1"], Some("flight")).await;
    check("travel", &["full=2"], Some("hotel")).await;
    check("travel", &["full=3"], None).await;
}

#[tokio::test]
async fn orders_conserve_stock_and_money_under_contention() {
    check("orders", &[], None).await;
    check("orders", &["orders=8", "stock=5", "capacity=8"], None).await;
    check(
        "orders",
        &["orders=6", "qty=2", "stock=7", "capacity=6"],
        None,
    )
    .await;
    check("orders", &["orders=3", "stock=0"], None).await;
}
