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

/// The values a parameter takes: what its choreography accepts and the simulator runs in
/// reasonable time and memory. A parameter without one takes any `u64`.
#[derive(Clone, Copy, Debug)]
pub struct ParamRange {
    /// The parameter.
    pub name: &'static str,
    /// Its smallest value.
    pub min: u64,
    /// Its largest value.
    pub max: u64,
    /// Why the range ends there (empty when it is just the choreography's).
    pub why: &'static str,
}

impl ParamRange {
    /// Any `u64`.
    pub const ANY: ParamRange = ParamRange {
        name: "",
        min: 0,
        max: u64::MAX,
        why: "",
    };
}

/// The range of Chorex's `variant`: baseline, chk, chk+crash.
const VARIANT: ParamRange = ParamRange {
    name: "variant",
    min: 0,
    max: 2,
    why: "",
};

/// Laps of Chorex's loops, whose `laps=N` runs laps 0..=N (Chorex's argument): up to their
/// largest benchmark, 10,000.
const LAPS: ParamRange = ParamRange {
    name: "laps",
    min: 0,
    max: 10_000,
    why: "laps=N runs N + 1 laps of 1,001 sha256 hashes at each role; Chorex's largest benchmark is 10,000",
};

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
    /// The ranges of its parameters (a parameter not listed takes any `u64`).
    pub ranges: &'static [ParamRange],
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

    /// The values parameter `name` takes.
    pub fn range(&self, name: &str) -> ParamRange {
        self.ranges
            .iter()
            .find(|r| r.name == name)
            .copied()
            .unwrap_or(ParamRange {
                name: "",
                ..ParamRange::ANY
            })
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
            let r = self.range(p.name);
            let range = format!("expected a whole number from {} to {}", r.min, r.max);
            let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
            let v: u64 = match v.parse() {
                Ok(v) if (r.min..=r.max).contains(&v) => v,
                Ok(v) => return Err(format!("parameter `{k}`: {v} is out of range; {range}")),
                Err(_) if v.strip_prefix('-').is_some_and(digits) => {
                    return Err(format!("parameter `{k}`: {v} is negative; {range}"));
                }
                Err(_) if digits(v) => {
                    return Err(format!("parameter `{k}`: {v} is out of range; {range}"));
                }
                Err(_) => {
                    return Err(format!(
                        "parameter `{k}`: `{v}` is not a whole number; {range}"
                    ));
                }
            };
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
    static REGISTRY: [Scenario; 11] = [
        Scenario {
            name: "bookseller",
            summary: "Buyer asks a title, Seller quotes, Buyer decides under budget, Seller sends a delivery date",
            roles: &["Buyer", "Seller"],
            params: crate::bookseller::PARAMS,
            ranges: &[],
            oracles: crate::bookseller::ORACLES,
            build: crate::bookseller::program,
            oracle: crate::bookseller::oracle,
        },
        Scenario {
            name: "alice-bob",
            summary: "Alice and Bob exchange messages and each returns what it received",
            roles: &["Alice", "Bob"],
            params: crate::alice_bob::PARAMS,
            ranges: &[],
            oracles: crate::alice_bob::ORACLES,
            build: crate::alice_bob::program,
            oracle: crate::alice_bob::oracle,
        },
        Scenario {
            name: "counter",
            summary: "Client decides each round whether to go on and sends the round number; Server sums to 55",
            roles: &["Client", "Server"],
            params: crate::counter::PARAMS,
            ranges: &[ParamRange {
                name: "rounds",
                min: 1,
                max: 100_000,
                why: "a round costs two network delays, so 100,000 take hours of simulated time",
            }],
            oracles: crate::counter::ORACLES,
            build: crate::counter::program,
            oracle: crate::counter::oracle,
        },
        Scenario {
            name: "workers",
            summary: "Coordinator scatters work to n Workers (n chosen at run time) and gathers the results",
            roles: &["Coordinator", "Worker[n]"],
            params: crate::workers::PARAMS,
            ranges: &[ParamRange {
                name: "n",
                min: 1,
                max: 500,
                why: "ending a session costs a notice per ordered pair of participants, so a run \
                      grows with n squared (n=500: about 46 s and 1.5 GB)",
            }],
            oracles: crate::workers::ORACLES,
            build: crate::workers::program,
            oracle: crate::workers::oracle,
        },
        Scenario {
            name: "state-machine",
            summary: "Chorex's text adventure: Worker leads Player from atrium to end, one move per turn (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Gateway", "Worker", "Player"],
            params: crate::chorex::state_machine::PARAMS,
            ranges: &[
                VARIANT,
                ParamRange {
                    name: "global",
                    min: 0,
                    max: 1,
                    why: "0: the turn's checkpoint over Worker and Player (as written); 1: over every role (as Chorex)",
                },
            ],
            oracles: crate::chorex::state_machine::ORACLES,
            build: crate::chorex::state_machine::program,
            oracle: crate::chorex::state_machine::oracle,
        },
        Scenario {
            name: "mini-blockchain",
            summary: "Chorex's nonce search: Searcher hashes \"hello\" ++ byte(n + x) until Verifier sees a 0 first byte (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Searcher", "Verifier"],
            params: crate::chorex::mini_blockchain::PARAMS,
            ranges: &[
                VARIANT,
                ParamRange {
                    name: "start",
                    min: 0,
                    max: u64::MAX - 256,
                    why: "the nonces tried, n to n + 256, must not pass u64::MAX",
                },
            ],
            oracles: crate::chorex::mini_blockchain::ORACLES,
            build: crate::chorex::mini_blockchain::program,
            oracle: crate::chorex::mini_blockchain::oracle,
        },
        Scenario {
            name: "flat-loop",
            summary: "Chorex's flat loop: Runner and Monitor do 1,001 sha256 hashes per lap, one checkpoint per lap (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Runner", "Monitor"],
            params: crate::chorex::flat_loop::PARAMS,
            ranges: &[VARIANT, LAPS],
            oracles: crate::chorex::flat_loop::ORACLES,
            build: crate::chorex::flat_loop::program,
            oracle: crate::chorex::flat_loop::oracle,
        },
        Scenario {
            name: "nest-loop",
            summary: "Chorex's nested loop: as flat-loop, but each lap runs inside the previous lap's checkpoint (variant=0|1|2: baseline|chk|chk+crash)",
            roles: &["Runner", "Monitor"],
            params: crate::chorex::nest_loop::PARAMS,
            ranges: &[VARIANT, LAPS],
            oracles: crate::chorex::nest_loop::ORACLES,
            build: crate::chorex::nest_loop::program,
            oracle: crate::chorex::nest_loop::oracle,
        },
        Scenario {
            name: "warehouse",
            summary: "Order-fulfilment saga over the ring Warehouse -> Payment -> Loyalty -> Warehouse: reserve, pay, award, ship; abort=0|1|2|3: ships|no stock|no capacity|all three in turn",
            roles: &["Warehouse", "Payment", "Loyalty"],
            params: crate::warehouse::PARAMS,
            ranges: &[
                ParamRange {
                    name: "abort",
                    min: 0,
                    max: 3,
                    why: "",
                },
                ParamRange {
                    name: "qty",
                    min: 1,
                    max: 1_000_000,
                    why: "an order of nothing is no order",
                },
            ],
            oracles: crate::warehouse::ORACLES,
            build: crate::warehouse::program,
            oracle: crate::warehouse::oracle,
        },
        Scenario {
            name: "travel",
            summary: "Client books a flight (Flight) and a hotel (Geo picks it, Reservation books it) side by side; full=0|1|2|3: both book|flight full|hotel full|all three in turn",
            roles: &["Client", "Flight", "Geo", "Reservation"],
            params: crate::travel::PARAMS,
            ranges: &[ParamRange {
                name: "full",
                min: 0,
                max: 3,
                why: "",
            }],
            oracles: crate::travel::ORACLES,
            build: crate::travel::program,
            oracle: crate::travel::oracle,
        },
        Scenario {
            name: "orders",
            summary: "K concurrent warehouse sagas (nested sessions) over the same stock, capacity, money and points in the nodes' stores; then an audit",
            roles: &["Warehouse", "Payment", "Loyalty"],
            params: crate::orders::PARAMS,
            ranges: &[
                ParamRange {
                    name: "orders",
                    min: 1,
                    max: 64,
                    why: "each order is a session of its own with four store batches per role",
                },
                ParamRange {
                    name: "qty",
                    min: 1,
                    max: 1_000_000,
                    why: "an order of nothing is no order",
                },
            ],
            oracles: crate::orders::ORACLES,
            build: crate::orders::program,
            oracle: crate::orders::oracle,
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
        ranges: &[],
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

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn parameters_check_their_ranges_and_say_them() {
        for s in registry().iter().chain(testing_registry()) {
            for p in s.params {
                let r = s.range(p.name);
                assert!(
                    r.min <= p.default && p.default <= r.max,
                    "{}.{}",
                    s.name,
                    p.name
                );
            }
        }
        let workers = find("workers").unwrap();
        for s in registry().iter().chain(testing_registry()) {
            for r in s.ranges {
                assert!(
                    s.params.iter().any(|p| p.name == r.name),
                    "{}.{}",
                    s.name,
                    r.name
                );
            }
        }
        let e = workers.parse_params(["n=65534"]).unwrap_err();
        assert!(
            e.contains("65534 is out of range; expected a whole number from 1 to 500"),
            "{e}"
        );
        let e = workers.parse_params(["n=-1"]).unwrap_err();
        assert!(e.contains("-1 is negative"), "{e}");
        let e = find("bookseller")
            .unwrap()
            .parse_params(["budget=18446744073709551616"])
            .unwrap_err();
        assert!(e.contains("18446744073709551616 is out of range"), "{e}");
        let e = find("flat-loop")
            .unwrap()
            .parse_params(["laps=10000000"])
            .unwrap_err();
        assert!(e.contains("from 0 to 10000"), "{e}");
        assert_eq!(workers.parse_params(["n=500"]).unwrap().get("n"), 500);
    }
}
