//! The scenario registry: names, parameters and oracles.

use std::collections::BTreeMap;
use std::fmt;

use rehearsal::{ChoreoError, Outcomes, Program};

/// A numeric parameter of a scenario.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its name, as given on the command line (`name=value`).
    pub name: &'static str,
    /// Its value when not given.
    pub default: u64,
    /// What it sets.
    pub summary: &'static str,
}

/// Parameter values of one run: every parameter of the scenario, defaults filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<&'static str, u64>);

impl Params {
    /// The value of parameter `name` (0 if the scenario has no such parameter).
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Iterates over `(name, value)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(" "))
    }
}

/// The reference oracle's name: every participant's outcome equals the reference run's.
pub const REFERENCE_ORACLE: &str = "outcome-equals-reference";

/// A shipped choreography with its parameters and oracles.
pub struct Scenario {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line on what the protocol does.
    pub summary: &'static str,
    /// The roles (and families) it runs over.
    pub roles: &'static [&'static str],
    /// Its numeric parameters.
    pub params: &'static [Param],
    /// Names of its oracles beyond the reference oracle, with what each checks.
    pub oracles: &'static [(&'static str, &'static str)],
    build: fn(&Params) -> Result<Program, ChoreoError>,
    oracle: fn(&Params, &Outcomes) -> Vec<String>,
}

impl Scenario {
    /// The parameters with every default.
    pub fn default_params(&self) -> Params {
        Params(self.params.iter().map(|p| (p.name, p.default)).collect())
    }

    /// Parses `name=value` settings over the defaults; an unknown name or a bad number is an
    /// error naming it and the parameters this scenario has.
    pub fn parse_params<'a>(
        &self,
        settings: impl IntoIterator<Item = &'a str>,
    ) -> Result<Params, String> {
        let mut params = self.default_params();
        let known = || {
            let names: Vec<&str> = self.params.iter().map(|p| p.name).collect();
            if names.is_empty() {
                format!("scenario `{}` has no parameters", self.name)
            } else {
                format!("scenario `{}` has: {}", self.name, names.join(", "))
            }
        };
        for s in settings {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| format!("parameter `{s}`: expected name=value; {}", known()))?;
            let p = self
                .params
                .iter()
                .find(|p| p.name == k)
                .ok_or_else(|| format!("unknown parameter `{k}`; {}", known()))?;
            let v: u64 = v
                .parse()
                .map_err(|_| format!("parameter `{k}`: `{v}` is not a whole number"))?;
            params.0.insert(p.name, v);
        }
        Ok(params)
    }

    /// The choreography with its census fixed for these parameters.
    pub fn program(&self, params: &Params) -> Result<Program, ChoreoError> {
        (self.build)(params)
    }

    /// Checks a run's outcomes against the reference run and the scenario's own oracles;
    /// returns one line per violation (empty when every oracle held).
    pub fn check(&self, params: &Params, outcomes: &Outcomes, reference: &Outcomes) -> Vec<String> {
        let mut violations: Vec<String> = outcomes
            .differences(reference)
            .into_iter()
            .map(|d| format!("{REFERENCE_ORACLE}: {d}"))
            .collect();
        violations.extend((self.oracle)(params, outcomes));
        violations
    }
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .finish()
    }
}

/// The name matched no scenario.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario `{name}`; known scenarios: {}", known.join(", "))]
pub struct UnknownScenario {
    /// The name asked for.
    pub name: String,
    /// Every scenario's name.
    pub known: Vec<&'static str>,
}

/// Every shipped scenario, by name.
pub fn registry() -> &'static [Scenario] {
    static REGISTRY: [Scenario; 8] = [
        Scenario {
            name: "bookseller",
            summary: "Buyer asks a title, Seller quotes, Buyer decides under budget, Seller sends a delivery date",
            roles: &["Buyer", "Seller"],
            params: crate::bookseller::PARAMS,
            oracles: crate::bookseller::ORACLES,
            build: crate::bookseller::program,
            oracle: crate::bookseller::oracle,
        },
        Scenario {
            name: "alice-bob",
            summary: "Alice and Bob exchange messages and each returns what it received",
            roles: &["Alice", "Bob"],
            params: crate::alice_bob::PARAMS,
            oracles: crate::alice_bob::ORACLES,
            build: crate::alice_bob::program,
            oracle: crate::alice_bob::oracle,
        },
        Scenario {
            name: "counter",
            summary: "Client decides each round whether to go on and sends the round number; Server sums to 55",
            roles: &["Client", "Server"],
            params: crate::counter::PARAMS,
            oracles: crate::counter::ORACLES,
            build: crate::counter::program,
            oracle: crate::counter::oracle,
        },
        Scenario {
            name: "workers",
            summary: "Coordinator scatters work to n Workers (n chosen at run time) and gathers the results",
            roles: &["Coordinator", "Worker[n]"],
            params: crate::workers::PARAMS,
            oracles: crate::workers::ORACLES,
            build: crate::workers::program,
            oracle: crate::workers::oracle,
        },
        Scenario {
            name: "state-machine",
            summary: "Chorex's text adventure: Worker leads Player from atrium to end, one move per turn (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Gateway", "Worker", "Player"],
            params: crate::chorex::state_machine::PARAMS,
            oracles: crate::chorex::state_machine::ORACLES,
            build: crate::chorex::state_machine::program,
            oracle: crate::chorex::state_machine::oracle,
        },
        Scenario {
            name: "mini-blockchain",
            summary: "Chorex's nonce search: Searcher hashes \"hello\" ++ byte(n + x) until Verifier sees a 0 first byte (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Searcher", "Verifier"],
            params: crate::chorex::mini_blockchain::PARAMS,
            oracles: crate::chorex::mini_blockchain::ORACLES,
            build: crate::chorex::mini_blockchain::program,
            oracle: crate::chorex::mini_blockchain::oracle,
        },
        Scenario {
            name: "flat-loop",
            summary: "Chorex's flat loop: Runner and Monitor do 1,001 sha256 hashes per lap, one checkpoint per lap (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Runner", "Monitor"],
            params: crate::chorex::flat_loop::PARAMS,
            oracles: crate::chorex::flat_loop::ORACLES,
            build: crate::chorex::flat_loop::program,
            oracle: crate::chorex::flat_loop::oracle,
        },
        Scenario {
            name: "nest-loop",
            summary: "Chorex's nested loop: as flat-loop, but each lap runs inside the previous lap's checkpoint (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Runner", "Monitor"],
            params: crate::chorex::nest_loop::PARAMS,
            oracles: crate::chorex::nest_loop::ORACLES,
            build: crate::chorex::nest_loop::program,
            oracle: crate::chorex::nest_loop::oracle,
        },
    ];
    &REGISTRY
}

/// Test-only scenarios with planted bugs (for testing the explorer); [`find`] knows them,
/// [`registry`] does not list them.
pub fn testing_registry() -> &'static [Scenario] {
    static TESTING: [Scenario; 1] = [Scenario {
        name: "planted-impatience",
        summary: "TEST ONLY: Requester silently gives up when a reply takes over 1.5 s (a planted, fault-sensitive bug)",
        roles: &["Requester", "Responder"],
        params: crate::planted::PARAMS,
        oracles: crate::planted::ORACLES,
        build: crate::planted::program,
        oracle: crate::planted::oracle,
    }];
    &TESTING
}

/// The scenario called `name` (shipped or test-only).
pub fn find(name: &str) -> Result<&'static Scenario, UnknownScenario> {
    registry()
        .iter()
        .chain(testing_registry())
        .find(|s| s.name == name)
        .ok_or_else(|| UnknownScenario {
            name: name.to_string(),
            known: registry().iter().map(|s| s.name).collect(),
        })
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
