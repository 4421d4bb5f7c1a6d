//! The two-phase commit as a scenario: its parameters and its oracles, for the exploration
//! test, the cost baseline and this crate's `rehearsal`-style command line.

use rehearsal_sim::{OutcomeError, Outputs, Param, Params, Registry, Scenario};

use crate::{Applied, Decision, Ledger, TwoPhaseCommit};

/// The scenario's name, in repro files and on the command line.
pub const NAME: &str = "two-phase-commit";

/// The parameters: the amount, the two balances, and whose disk is full.
pub const PARAMS: [Param; 4] = [
    Param {
        name: "amount",
        default: 30,
        summary: "what to debit from each ledger",
    },
    Param {
        name: "p1-balance",
        default: 100,
        summary: "what P1's ledger holds",
    },
    Param {
        name: "p2-balance",
        default: 50,
        summary: "what P2's ledger holds",
    },
    Param {
        name: "disk-full",
        default: 0,
        summary: "whose disk is full, so that preparing fails there: 0 nobody, 1 P1, 2 P2",
    },
];

impl TwoPhaseCommit {
    /// The transaction that parameters `p` describe (see [`PARAMS`]).
    pub fn from_params(p: &Params) -> TwoPhaseCommit {
        let ledger = |balance: &str, who: u64| Ledger {
            balance: p.get(balance),
            disk_full: p.get("disk-full") == who,
        };
        TwoPhaseCommit::new(
            p.get("amount"),
            ledger("p1-balance", 1),
            ledger("p2-balance", 2),
        )
    }
}

/// Agreement: every role that finished applied the decision that was announced, and every
/// role heard the same announcement. (A role that did not finish is the liveness oracle's.)
pub fn agreement(_: &Params, outputs: &Outputs<Applied>) -> Vec<String> {
    let mut violations = Vec::new();
    let mut announced: Option<(String, Decision)> = None;
    for (who, view) in outputs.iter() {
        let view = match view {
            Ok(v) => v,
            Err(OutcomeError::Failed(_)) => continue,
            Err(e) => {
                violations.push(format!("{who}'s {e}"));
                continue;
            }
        };
        if view.applied() != view.decision {
            violations.push(format!(
                "{who} applied {:?} but the coordinator announced {:?}",
                view.applied(),
                view.decision
            ));
        }
        match &announced {
            None => announced = Some((who.to_string(), view.decision)),
            Some((first, d)) if *d != view.decision => violations.push(format!(
                "{first} heard {d:?} announced, {who} heard {:?}",
                view.decision
            )),
            Some(_) => {}
        }
    }
    violations
}

/// Validity: nobody commits unless both ledgers could prepare and cover the amount.
pub fn validity(params: &Params, outputs: &Outputs<Applied>) -> Vec<String> {
    let tx = TwoPhaseCommit::from_params(params);
    if tx.may_commit() {
        return Vec::new();
    }
    outputs
        .iter()
        .filter_map(|(who, view)| match view {
            Ok(v) if v.applied() == Decision::Commit => Some(format!(
                "{who} committed, but the transaction cannot commit ({tx:?})"
            )),
            _ => None,
        })
        .collect()
}

/// The scenario: [`TwoPhaseCommit::from_params`] with the [`agreement`] and [`validity`]
/// oracles (besides the harness's own: outcome equals reference, liveness).
pub fn scenario() -> Scenario {
    Scenario::new(
        NAME,
        "Coordinator asks P1 and P2 to debit an amount; both vote, it decides within a timeout, all apply",
        |p| Ok(TwoPhaseCommit::from_params(p)),
    )
    .params(PARAMS)
    .range("disk-full", 0, 2, "")
    .roles(["Coordinator", "P1", "P2"])
    // What an exploration of every fault kind should walk: rescues, timed-out votes (and
    // this crate's own goal for them), restarts from the journal.
    .expects(["rescue", "timeout", "restart", "vote-timed-out"])
    .oracle(
        "agreement",
        "every role that finished applied the announced decision, and all heard the same",
        agreement,
    )
    .oracle(
        "validity",
        "nobody commits unless both ledgers can prepare and cover the amount",
        validity,
    )
    .build()
}

/// This crate's scenarios: the one above.
pub fn registry() -> Registry {
    Registry::new().with(scenario())
}
