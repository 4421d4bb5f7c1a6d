//! The counter: each round Client decides whether to go on; if so it sends the round number
//! and Server adds it. With 10 rounds Server's sum is 55.
//!
//! Each round's transfer runs in a checkpoint: if either role crashes in it, both run the
//! rescue, which transfers the number again, so the sum is 55 on every path.

use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::scenario::Outputs;
use rehearsal_sim::scenario::{Scenario, ScenarioBuilder};

use rehearsal_sim::scenario::{Param, Params};

roles!(Client, Server);

/// Parameters: the number of rounds.
pub const PARAMS: &[Param] = &[Param {
    name: "rounds",
    default: 10,
    summary: "how many numbers Client sends (1..=rounds)",
}];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "sum-is-triangular",
    "both roles end with rounds*(rounds+1)/2 (55 for 10 rounds)",
)];

/// The choreography.
#[derive(Clone, Debug)]
pub struct Counter {
    /// How many rounds Client plays.
    pub rounds: u64,
}

impl Choreography for Counter {
    type Census = Roles![Client, Server];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let mut sum = ch.locally(Server, |_| 0u64).await?;
        let mut round = 1u64;
        loop {
            let more = ch.locally(Client, |_| round <= self.rounds).await?;
            if !ch.at("continue").broadcast(Client, more).await? {
                break;
            }
            sum = ch
                .checkpoint(
                    sum,
                    move |ch, sum| async move { add(&ch, round, sum, "number").await },
                    move |ch, sum, _why| async move { add(&ch, round, sum, "number-again").await },
                )
                .await?;
            round += 1;
        }
        ch.at("total").broadcast(Server, sum).await
    }
}

/// Client sends the round number; Server adds it to its sum.
async fn add(
    ch: &Choreo<Roles![Client, Server]>,
    round: u64,
    sum: At<u64, Server>,
    label: &'static str,
) -> Result<At<u64, Server>, ChoreoError> {
    let n = ch.locally(Client, |_| round).await?;
    let n = ch.at(label).comm(Client, Server, &n).await?;
    ch.at("add")
        .locally(Server, |s| s.get(&sum) + s.get(&n))
        .await
}

/// The scenario: parameter `rounds`; its oracle checks the sum.
pub fn scenario() -> ScenarioBuilder<Counter> {
    Scenario::new(
        "counter",
        "Client decides each round whether to go on and sends the round number; Server sums to 55",
        |p| {
            Ok(Counter {
                rounds: p.get("rounds"),
            })
        },
    )
    .roles(["Client", "Server"])
    .params(PARAMS.iter().copied())
    .range(
        "rounds",
        1,
        100_000,
        "a round costs two network delays, so 100,000 take hours of simulated time",
    )
    .oracle(ORACLES[0].0, ORACLES[0].1, oracle)
}

fn oracle(p: &Params, outcomes: &Outputs<u64>) -> Vec<String> {
    let n = p.get("rounds");
    let want = n * (n + 1) / 2;
    ["Client", "Server"]
        .into_iter()
        .filter_map(|role| match outcomes.of(role) {
            Ok(sum) if *sum == want => None,
            Ok(sum) => Some(format!("{role} ended with {sum}; expected {want}")),
            Err(e) => Some(e),
        })
        .collect()
}
