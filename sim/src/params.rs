//! A scenario's numeric parameters: what each is ([`Param`]), the values it takes
//! ([`ParamRange`]) and the values of one run ([`Params`]).

use std::collections::BTreeMap;
use std::fmt;

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

/// Parameter values of one run: every parameter of the scenario, defaults filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub(crate) BTreeMap<&'static str, u64>);

impl Params {
    /// The value of parameter `name` (0 if the scenario has no such parameter).
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// These values with parameter `name` set to `value` (unchanged if there is no such
    /// parameter). For harnesses varying a parameter (`explore --generated` sets `shape`
    /// to each seed) and for simplifications ([`ScenarioBuilder::simplify`](crate::scenario::ScenarioBuilder::simplify)).
    pub fn with(&self, name: &str, value: u64) -> Params {
        let mut p = self.clone();
        if let Some(key) = p.0.keys().copied().find(|k| *k == name) {
            p.0.insert(key, value);
        }
        p
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
