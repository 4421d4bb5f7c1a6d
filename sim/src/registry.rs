//! Registries: ordered lists of scenarios, found by name.
//!
//! A [`Registry`] lists the scenarios `list` shows and a plain `explore` runs, in order, and
//! may hold hidden ones (test-only scenarios with planted bugs) that [`Registry::find`] knows
//! but listing skips. It also knows the command that runs its CLI, so the replay commands
//! printed by the CLI and by [`crate::rehearse::Rehearse`] are ones the user can paste.

use std::fmt;

use crate::scenario::Scenario;

/// The command of the shipped scenarios' CLI.
pub const DEFAULT_COMMAND: &str = "cargo rehearsal";

/// An ordered list of scenarios (plus hidden ones), and the command that runs its CLI.
#[derive(Clone, Debug)]
pub struct Registry {
    listed: Vec<Scenario>,
    hidden: Vec<Scenario>,
    command: String,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry whose CLI is `cargo rehearsal`.
    pub fn new() -> Registry {
        Registry {
            listed: Vec::new(),
            hidden: Vec::new(),
            command: DEFAULT_COMMAND.to_string(),
        }
    }

    /// Adds a scenario (a [`Scenario`] or its builder).
    pub fn with(mut self, scenario: impl Into<Scenario>) -> Registry {
        self.listed.push(scenario.into());
        self
    }

    /// Adds a hidden scenario: [`Registry::find`] knows it, listing and a plain `explore`
    /// skip it (for test-only scenarios with planted bugs).
    pub fn with_hidden(mut self, scenario: impl Into<Scenario>) -> Registry {
        self.hidden.push(scenario.into());
        self
    }

    /// Sets the command that runs this registry's CLI, as printed in replay commands (like
    /// `cargo run -p my-crate --bin my-rehearsal --`).
    pub fn command(mut self, command: impl Into<String>) -> Registry {
        self.command = command.into();
        self
    }

    /// The command that runs this registry's CLI.
    pub fn cli_command(&self) -> &str {
        &self.command
    }

    /// The listed scenarios, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scenario> + '_ {
        self.listed.iter()
    }

    /// The listed scenarios, then the hidden ones.
    pub fn all(&self) -> impl Iterator<Item = &Scenario> + '_ {
        self.listed.iter().chain(&self.hidden)
    }

    /// How many scenarios are listed.
    pub fn len(&self) -> usize {
        self.listed.len()
    }

    /// Whether no scenario is listed.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// The names of the listed scenarios, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.listed.iter().map(Scenario::name).collect()
    }

    /// The scenario called `name` (listed or hidden); the error names the closest listed
    /// one and every listed name.
    pub fn find(&self, name: &str) -> Result<&Scenario, UnknownScenario> {
        self.all()
            .find(|s| s.name() == name)
            .ok_or_else(|| UnknownScenario {
                name: name.to_string(),
                known: self.names(),
            })
    }
}

impl IntoIterator for Registry {
    type Item = Scenario;
    type IntoIter = std::vec::IntoIter<Scenario>;

    /// The listed scenarios, in order.
    fn into_iter(self) -> Self::IntoIter {
        self.listed.into_iter()
    }
}

impl<'r> IntoIterator for &'r Registry {
    type Item = &'r Scenario;
    type IntoIter = std::slice::Iter<'r, Scenario>;

    /// The listed scenarios, in order.
    fn into_iter(self) -> Self::IntoIter {
        self.listed.iter()
    }
}

/// The name matched no scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario {
    /// The name asked for.
    pub name: String,
    /// Every listed scenario's name.
    pub known: Vec<&'static str>,
}

impl UnknownScenario {
    /// The known name closest to the one asked for, if any is close (at most a third of its
    /// letters edited).
    pub fn suggestion(&self) -> Option<&'static str> {
        self.known
            .iter()
            .map(|k| (edit_distance(&self.name, k), *k))
            .filter(|(d, k)| *d * 3 <= k.chars().count().max(3))
            .min()
            .map(|(_, k)| k)
    }
}

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown scenario `{}`", self.name)?;
        if let Some(s) = self.suggestion() {
            write!(f, "; did you mean `{s}`?")?;
        }
        if self.known.is_empty() {
            write!(f, "; the registry has no scenarios")
        } else {
            write!(f, "; known scenarios: {}", self.known.join(", "))
        }
    }
}

impl std::error::Error for UnknownScenario {}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_suggests_the_closest_and_lists_all() {
        let e = UnknownScenario {
            name: "alice-bbo".into(),
            known: vec!["bookseller", "alice-bob"],
        };
        assert_eq!(e.suggestion(), Some("alice-bob"));
        assert_eq!(
            e.to_string(),
            "unknown scenario `alice-bbo`; did you mean `alice-bob`?; known scenarios: bookseller, alice-bob"
        );
        let far = UnknownScenario {
            name: "zzz".into(),
            known: vec!["bookseller"],
        };
        assert_eq!(
            far.to_string(),
            "unknown scenario `zzz`; known scenarios: bookseller"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
