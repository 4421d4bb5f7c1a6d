//! `ch.abort`: a choreography-level business abort, decided at a role outside any commit,
//! under every fault kind. Shop reserves an item and Bank takes the payment (two commits at
//! two participants); then Customer, who committed nothing, cancels. Every participant ends
//! with the same `Aborted` outcome, both commits are compensated exactly once (the built-in
//! saga oracles check it on every run), and the trace shows the two compensations.
#![cfg(madsim)]

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::{FaultKind, OutcomeError, Outputs, Rehearse, Sim};

roles!(Shop, Bank, Customer);

#[derive(Clone)]
struct Order {
    cancel: bool,
}

impl Choreography for Order {
    type Census = Roles![Shop, Bank, Customer];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        ch.transaction(
            Shop,
            "reserve",
            |_, tx| {
                let stock = tx.get_or("stock", 3u64);
                tx.put("stock", &(stock - 1));
                Ok(())
            },
            |tx, _: &()| {
                let stock = tx.get_or("stock", 3u64);
                tx.put("stock", &(stock + 1));
            },
        )
        .await?;
        let price = ch.locally(Shop, |_| 30u64).await?;
        let price = ch.at("price").comm(Shop, Bank, &price).await?;
        let paid = ch
            .transaction(
                Bank,
                "pay",
                |b, tx| {
                    let taken = tx.get_or("taken", 0u64);
                    tx.put("taken", &(taken + b.get(&price)));
                    Ok(*b.get(&price))
                },
                |tx, amount: &u64| {
                    let taken = tx.get_or("taken", 0u64);
                    tx.put("taken", &(taken - amount));
                },
            )
            .await?;
        let paid = ch.at("receipt").comm(Bank, Customer, &paid).await?;
        let cancel = self.cancel;
        let why = ch
            .locally(Customer, |c| {
                cancel.then(|| format!("changed my mind after paying {}", c.get(&paid)))
            })
            .await?;
        ch.at("cancel").abort(Customer, "cancel", why).await?;
        ch.at("done").broadcast(Customer, paid).await
    }
}

fn every_role_aborted_at_cancel(_: &rehearsal_sim::Params, out: &Outputs<u64>) -> Vec<String> {
    out.entries()
        .iter()
        .filter_map(|(who, outcome)| match outcome {
            Err(OutcomeError::Failed(ChoreoError::Aborted {
                role, transaction, ..
            })) if role == "Customer" && transaction == "cancel" => None,
            other => Some(format!(
                "{who} ended with {other:?}; expected Customer's abort `cancel`"
            )),
        })
        .collect()
}

#[test]
fn a_cancelled_order_is_compensated_at_every_participant_under_every_fault() {
    Rehearse::choreography("cancelled-order", Order { cancel: true })
        .seeds(0..300)
        .faults(FaultKind::ALL)
        .jobs(2)
        .oracle("aborted-at-cancel", every_role_aborted_at_cancel)
        .check();
}

#[test]
fn a_kept_order_commits_and_ends_with_the_payment() {
    Rehearse::choreography("kept-order", Order { cancel: false })
        .seeds(0..100)
        .faults(FaultKind::ALL)
        .jobs(2)
        .oracle("paid", |_, out: &Outputs<u64>| {
            for (who, paid) in out.values()? {
                if *paid != 30 {
                    return Err(format!("{who} ended with {paid}; expected 30"));
                }
            }
            Ok(())
        })
        .check();
}

#[test]
fn the_trace_of_a_cancelled_order_shows_both_compensations() {
    let scenario = Rehearse::choreography("cancelled-order", Order { cancel: true })
        .scenario()
        .clone();
    let report = Sim::new(7)
        .run_scenario(&scenario, &scenario.default_params())
        .unwrap();
    assert!(report.passed(), "{}", report.summary());
    assert_eq!(report.trace.count("saga-commit"), 2);
    assert_eq!(report.trace.count("saga-compensate"), 2);
}
