//! What the saga scenarios (warehouse, travel, orders) share: the harness's scenario types,
//! the [`Either`] choreography for their "every path in turn" modes, and oracles that read
//! their outcomes as JSON.

pub(crate) use crate::either::Either;
use rehearsal::Outcomes;
pub(crate) use rehearsal_sim::scenario::{Oracle, Param, Params, Scenario};

/// An oracle over the run's outcomes as JSON, for the saga scenarios whose checks read
/// several output shapes (one order, or every path in turn) and errors alike.
pub(crate) fn outcomes_oracle(
    (name, what): (&'static str, &'static str),
    check: fn(&Params, &Outcomes) -> Vec<String>,
) -> Oracle {
    Oracle::erased(name, what, move |run| Some(check(run.params, run.outcomes)))
}

/// Decodes one participant's outcome as `T`, or says why it could not.
pub(crate) fn outcome_of<T: serde::de::DeserializeOwned>(
    outcomes: &Outcomes,
    participant: &str,
) -> Result<T, String> {
    match outcomes.get(participant) {
        None => Err(format!("{participant} has no outcome")),
        Some(Err(e)) => Err(format!("{participant} failed: {e}")),
        Some(Ok(json)) => serde_json::from_str(json).map_err(|e| {
            format!("{participant}'s outcome `{json}` is not the expected shape: {e}")
        }),
    }
}
