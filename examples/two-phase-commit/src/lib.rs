//! # A two-phase commit, rehearsed
//!
//! A coordinator asks two participants to debit an amount from their ledgers. Each
//! participant votes from its local state (yes when its balance covers the amount) and may
//! fail while it prepares (its disk is full). The coordinator waits a bounded time for each
//! vote, commits when both said yes in time and aborts otherwise, and everybody learns the
//! decision and applies it.
//!
//! Voting and deciding run inside a checkpoint whose rescue aborts: if any role crashes while
//! preparing or deciding, every role abandons the round and the coordinator decides
//! [`Decision::Abort`]. A vote that does not arrive within [`TwoPhaseCommit::vote_timeout`]
//! counts as a no.
//!
//! This crate is written as a user of Rehearsal writes their own: it depends on `rehearsal`,
//! `rehearsal-sim`, `serde` and `tokio` (madsim's, as the harness needs) and nothing else.
//! `docs/guide.md` walks through it.
//!
//! ```
//! use two_phase_commit::{Decision, Ledger, TwoPhaseCommit};
//!
//! let tx = TwoPhaseCommit::new(30, Ledger::new(100), Ledger::new(50));
//! assert_eq!(tx.expected(), Decision::Commit);
//! let poor = TwoPhaseCommit::new(80, Ledger::new(100), Ledger::new(50));
//! assert_eq!(poor.expected(), Decision::Abort);
//! ```

use std::time::Duration;

use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
use serde::{Deserialize, Serialize};

pub mod scenario;

roles!(Coordinator, P1, P2);

/// What a participant answers when asked to prepare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vote {
    /// It can apply the debit and has reserved it.
    Yes,
    /// It cannot.
    No,
}

/// What the coordinator decides, and what each role applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Every participant applies the debit.
    Commit,
    /// No participant does.
    Abort,
}

/// A participant's local state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// What the account holds.
    pub balance: u64,
    /// Whether its disk has room to log the reservation; without it, preparing fails.
    pub disk_full: bool,
}

impl Ledger {
    /// An account holding `balance`, with room on its disk.
    pub fn new(balance: u64) -> Ledger {
        Ledger {
            balance,
            disk_full: false,
        }
    }

    /// Prepares to debit `amount`: a yes vote when the balance covers it. Fails (panics, as
    /// a real participant's storage layer would) when the disk is full.
    pub fn prepare(&self, who: &str, amount: u64) -> Vote {
        if self.disk_full {
            panic!("disk full at {who}");
        }
        if self.balance >= amount {
            Vote::Yes
        } else {
            Vote::No
        }
    }
}

/// The choreography: one debit of `amount` from both ledgers, all or nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwoPhaseCommit {
    /// What to debit from each ledger.
    pub amount: u64,
    /// P1's ledger.
    pub p1: Ledger,
    /// P2's ledger.
    pub p2: Ledger,
    /// How long the coordinator waits for each vote before counting it as a no.
    pub vote_timeout: Duration,
}

impl TwoPhaseCommit {
    /// A debit of `amount` from the two ledgers, with a 500 ms vote timeout.
    pub fn new(amount: u64, p1: Ledger, p2: Ledger) -> TwoPhaseCommit {
        TwoPhaseCommit {
            amount,
            p1,
            p2,
            vote_timeout: Duration::from_millis(500),
        }
    }

    /// The decision of a run without faults: commit exactly when both ledgers can prepare
    /// and cover the amount.
    pub fn expected(&self) -> Decision {
        let able = |l: &Ledger| !l.disk_full && l.balance >= self.amount;
        if able(&self.p1) && able(&self.p2) {
            Decision::Commit
        } else {
            Decision::Abort
        }
    }

    /// Whether committing is allowed at all: both ledgers cover the amount (a fault can
    /// still make the round abort).
    pub fn may_commit(&self) -> bool {
        self.expected() == Decision::Commit
    }
}

/// The round's first phase as each role holds it: the coordinator's decision, and each
/// participant's own vote.
struct Phase1 {
    decided: At<Decision, Coordinator>,
    vote1: At<Vote, P1>,
    vote2: At<Vote, P2>,
}

/// What every role ends with: the decision the coordinator announced, and the decision each
/// participant applied (each participant's outcome holds its own; the others are absent).
#[derive(Debug, Serialize, Deserialize)]
pub struct Applied {
    /// The announced decision, known to every role.
    pub decision: Decision,
    /// What P1 applied.
    pub p1: At<Decision, P1>,
    /// What P2 applied.
    pub p2: At<Decision, P2>,
}

impl Applied {
    /// What the participant whose outcome this is applied (for the coordinator, which
    /// applies nothing: what it announced).
    pub fn applied(&self) -> Decision {
        self.p1
            .view()
            .or(self.p2.view())
            .copied()
            .unwrap_or(self.decision)
    }
}

impl Choreography for TwoPhaseCommit {
    type Census = Roles![Coordinator, P1, P2];
    type Output = Applied;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Applied, ChoreoError> {
        let phase1 = ch
            .checkpoint(
                self,
                |ch, tx| async move { vote(&ch, &tx).await },
                |ch, _tx, _why| async move {
                    // Somebody crashed while the round was undecided: nobody has committed,
                    // so everybody aborts.
                    let decided = ch
                        .at("abort")
                        .locally(Coordinator, |_| Decision::Abort)
                        .await?;
                    Ok(Phase1 {
                        decided,
                        vote1: ch.locally(P1, |_| Vote::No).await?,
                        vote2: ch.locally(P2, |_| Vote::No).await?,
                    })
                },
            )
            .await?;
        let decision = ch
            .at("decision")
            .broadcast(Coordinator, phase1.decided)
            .await?;
        let p1 = ch
            .at("apply-p1")
            .locally(P1, |me| apply(*me.get(&phase1.vote1), decision))
            .await?;
        let p2 = ch
            .at("apply-p2")
            .locally(P2, |me| apply(*me.get(&phase1.vote2), decision))
            .await?;
        Ok(Applied { decision, p1, p2 })
    }
}

/// Phase one: both participants prepare and vote; the coordinator waits for each vote at most
/// `vote_timeout` and decides.
async fn vote(
    ch: &Choreo<Roles![Coordinator, P1, P2]>,
    tx: &TwoPhaseCommit,
) -> Result<Phase1, ChoreoError> {
    let (amount, timeout) = (tx.amount, tx.vote_timeout);
    let (l1, l2) = (tx.p1, tx.p2);
    let vote1 = ch
        .at("prepare-p1")
        .locally(P1, |_| l1.prepare("P1", amount))
        .await?;
    let vote2 = ch
        .at("prepare-p2")
        .locally(P2, |_| l2.prepare("P2", amount))
        .await?;
    let got1 = ch
        .at("vote-p1")
        .comm_within(P1, Coordinator, &vote1, timeout)
        .await?;
    let got2 = ch
        .at("vote-p2")
        .comm_within(P2, Coordinator, &vote2, timeout)
        .await?;
    let decided = ch
        .at("decide")
        .locally(Coordinator, |me| {
            // A vote that timed out counts as a no.
            let yes = |v: &Result<Vote, _>| matches!(v, Ok(Vote::Yes));
            if yes(me.get(&got1)) && yes(me.get(&got2)) {
                Decision::Commit
            } else {
                Decision::Abort
            }
        })
        .await?;
    // A coverage goal of this protocol: some explored runs should see a vote time out.
    ch.sometimes(Coordinator, "vote-timed-out", |me| {
        me.get(&got1).is_err() || me.get(&got2).is_err()
    });
    Ok(Phase1 {
        decided,
        vote1,
        vote2,
    })
}

/// What a participant that voted `vote` applies once `decision` is announced.
#[cfg(not(feature = "planted-bug"))]
fn apply(_vote: Vote, decision: Decision) -> Decision {
    decision
}

/// The planted bug: a participant that voted yes commits on its own vote, whatever the
/// coordinator decided (say, after the other vote timed out).
#[cfg(feature = "planted-bug")]
fn apply(vote: Vote, decision: Decision) -> Decision {
    match vote {
        Vote::Yes => Decision::Commit,
        Vote::No => decision,
    }
}
