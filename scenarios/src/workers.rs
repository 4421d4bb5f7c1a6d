//! Workers: a Coordinator scatters one task to each of `n` Workers (`n` chosen at run time),
//! each computes its part, and the Coordinator gathers the parts and announces the total.

use rehearsal::{Choreo, ChoreoError, Choreography, Faceted, FamilySizes, Roles};
use rehearsal::{families, roles};
use rehearsal_sim::scenario::Outputs;
use rehearsal_sim::scenario::{Scenario, ScenarioBuilder};
use serde::{Deserialize, Serialize};

use rehearsal_sim::scenario::{Param, Params};

roles!(Coordinator);
families!(Worker);

/// Parameters: how many workers.
pub const PARAMS: &[Param] = &[Param {
    name: "n",
    default: 3,
    summary: "number of Worker participants",
}];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "total-is-sum-of-parts",
    "every participant ends with the sum over i < n of the sum of squares 1..=10(i+1)",
)];

/// What each worker computes for task `k`: the sum of squares 1..=k.
pub fn part(k: u64) -> u64 {
    (1..=k).map(|j| j * j).sum()
}

/// The total the coordinator must announce for `n` workers.
pub fn expected_total(n: u64) -> u64 {
    (0..n).map(|i| part(10 * (i + 1))).sum()
}

/// What every participant ends with.
#[derive(Debug, Serialize, Deserialize)]
pub struct Tally {
    /// The announced total (known to all).
    pub total: u64,
    /// Each worker's own part (each worker sees only its own).
    pub parts: Faceted<u64, Worker>,
}

/// The choreography.
#[derive(Clone, Debug, Default)]
pub struct Workers;

impl Choreography for Workers {
    type Census = Roles![Coordinator, Worker];
    type Output = Tally;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Tally, ChoreoError> {
        let n = u64::from(ch.family_size(Worker));
        let tasks = ch
            .locally(Coordinator, |_| {
                (0..n).map(|i| 10 * (i + 1)).collect::<Vec<u64>>()
            })
            .await?;
        let tasks = ch.at("tasks").scatter(Coordinator, Worker, tasks).await?;
        let parts = ch.locally_each(Worker, |w| part(*w.get(&tasks))).await?;
        let gathered = ch
            .at("parts")
            .gather(Worker, Coordinator, parts.clone())
            .await?;
        let total = ch
            .locally(Coordinator, |c| c.get(&gathered).iter().sum::<u64>())
            .await?;
        let total = ch.at("total").broadcast(Coordinator, total).await?;
        Ok(Tally { total, parts })
    }
}

/// The scenario: parameter `n`, the number of workers; its oracle checks the total.
pub fn scenario() -> ScenarioBuilder<Workers> {
    Scenario::new(
        "workers",
        "Coordinator scatters work to n Workers (n chosen at run time) and gathers the results",
        |_| Ok(Workers),
    )
    .roles(["Coordinator", "Worker[n]"])
    .params(PARAMS.iter().copied())
    .range(
        "n",
        1,
        500,
        "ending a session costs a notice per ordered pair of participants, so a run \
         grows with n squared (n=500: about 46 s and 1.5 GB)",
    )
    .families(|p| {
        let n = u32::try_from(p.get("n")).map_err(|_| ChoreoError::Census {
            detail: format!("n = {} workers; expected at most {}", p.get("n"), u32::MAX),
        })?;
        Ok(FamilySizes::new().with("Worker", n))
    })
    .oracle(ORACLES[0].0, ORACLES[0].1, oracle)
}

fn oracle(p: &Params, outcomes: &Outputs<Tally>) -> Vec<String> {
    let want = expected_total(p.get("n"));
    outcomes
        .entries()
        .iter()
        .filter_map(|(who, _)| {
            let who = who.to_string();
            match outcomes.of(&who) {
                Ok(seen) if seen.total == want => None,
                Ok(seen) => Some(format!("{who} ended with {}; expected {want}", seen.total)),
                Err(e) => Some(e),
            }
        })
        .collect()
}
