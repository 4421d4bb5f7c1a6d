//! Typed outcomes: each participant's view of a choreography's output, decoded.
//!
//! A run's [`Outcomes`] hold each participant's output as JSON (its view: values located
//! elsewhere are absent). Oracles see them as [`Outputs<T>`]: per participant, the view
//! decoded as `T` (the choreography's `Output`, or any type that reads the JSON), or why it
//! could not be ([`OutcomeError`]).

use std::fmt;

use rehearsal::{ChoreoError, Outcomes, Participant};
use serde::de::DeserializeOwned;

/// Why a participant has no typed outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutcomeError {
    /// The participant ended with an error.
    Failed(ChoreoError),
    /// Its output's JSON does not decode as the type asked for.
    Undecodable {
        /// The output as JSON.
        json: String,
        /// What the decoder said.
        detail: String,
    },
}

impl fmt::Display for OutcomeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutcomeError::Failed(e) => write!(f, "failed: {e}"),
            OutcomeError::Undecodable { json, detail } => {
                write!(f, "outcome `{json}` is not the expected shape: {detail}")
            }
        }
    }
}

/// Every participant's outcome, decoded as `T`, in census order.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs<T> {
    entries: Vec<(Participant, Result<T, OutcomeError>)>,
}

/// Decodes one participant's output (the one place outcomes turn from JSON into values).
fn decode<T: DeserializeOwned>(json: &str) -> Result<T, OutcomeError> {
    serde_json::from_str(json).map_err(|e| OutcomeError::Undecodable {
        json: json.to_string(),
        detail: e.to_string(),
    })
}

impl<T: DeserializeOwned> Outputs<T> {
    /// Decodes every participant's outcome of `outcomes`.
    pub fn decode(outcomes: &Outcomes) -> Outputs<T> {
        Outputs {
            entries: outcomes
                .entries()
                .iter()
                .map(|(p, o)| {
                    let typed = match o {
                        Ok(json) => decode(json),
                        Err(e) => Err(OutcomeError::Failed(e.clone())),
                    };
                    (*p, typed)
                })
                .collect(),
        }
    }
}

impl<T> Outputs<T> {
    /// The outcomes, in census order.
    pub fn entries(&self) -> &[(Participant, Result<T, OutcomeError>)] {
        &self.entries
    }

    /// Iterates over `(participant, outcome)` in census order.
    pub fn iter(&self) -> impl Iterator<Item = (Participant, Result<&T, &OutcomeError>)> + '_ {
        self.entries.iter().map(|(p, o)| (*p, o.as_ref()))
    }

    /// The outcome of `participant` (as displayed: `Alice`, `Worker[2]`), if it is one.
    pub fn get(&self, participant: &str) -> Option<Result<&T, &OutcomeError>> {
        self.entries
            .iter()
            .find(|(p, _)| p.to_string() == participant)
            .map(|(_, o)| o.as_ref())
    }

    /// The value `participant` ended with, or a sentence saying why there is none (ready to
    /// be an oracle's violation).
    pub fn of(&self, participant: &str) -> Result<&T, String> {
        match self.get(participant) {
            None => Err(format!("{participant} has no outcome")),
            Some(Err(OutcomeError::Failed(e))) => Err(format!("{participant} failed: {e}")),
            Some(Err(e)) => Err(format!("{participant}'s {e}")),
            Some(Ok(v)) => Ok(v),
        }
    }

    /// Every participant's value, or the first sentence saying why one has none.
    pub fn values(&self) -> Result<Vec<(Participant, &T)>, String> {
        self.entries
            .iter()
            .map(|(p, _)| self.of(&p.to_string()).map(|v| (*p, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(a: &str) -> Outcomes {
        let alice = Participant {
            role: "Alice",
            index: None,
        };
        let bob = Participant {
            role: "Bob",
            index: None,
        };
        Outcomes::new(vec![
            (alice, Ok(a.to_string())),
            (
                bob,
                Err(ChoreoError::Closed {
                    session: rehearsal::SessionId(1),
                    participant: "Bob".into(),
                }),
            ),
        ])
    }

    #[test]
    fn decodes_each_view_and_says_why_one_is_missing() {
        let typed = Outputs::<u64>::decode(&outcomes("55"));
        assert_eq!(typed.of("Alice"), Ok(&55));
        assert!(typed.of("Bob").unwrap_err().starts_with("Bob failed: "));
        assert_eq!(typed.of("Carol").unwrap_err(), "Carol has no outcome");
        assert!(typed.values().is_err());
        let bad = Outputs::<u64>::decode(&outcomes("\"x\""));
        let e = bad.of("Alice").unwrap_err();
        assert!(
            e.starts_with("Alice's outcome `\"x\"` is not the expected shape"),
            "{e}"
        );
    }
}
