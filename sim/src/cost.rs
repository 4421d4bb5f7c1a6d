//! Cost baselines: a registry's deterministic cost counters, checked against a committed file.
//!
//! Each scenario of a registry runs once with its default parameters at a pinned seed (the
//! same seed gives the same run, so the counters are exact): frames and bytes sent,
//! datagrams and wire bytes, store commits, writes and syncs, simulated time. A
//! [`Baseline`] compares them with a JSON file (`{"scenario": {"counter": value}}`) and
//! fails when a counter grew, naming the scenario, the counter and both values; with
//! `REHEARSAL_UPDATE_BASELINE=1` in the environment (or [`Baseline::update`]) it rewrites the
//! file instead, to commit with the change that made the protocol cost more.
//!
//! ```no_run
//! # #[cfg(madsim)] {
//! use rehearsal_sim::cost::Baseline;
//! # let registry = rehearsal_sim::Registry::new();
//! // In a `#[test]` of a crate with its own registry:
//! Baseline::new(concat!(env!("CARGO_MANIFEST_DIR"), "/cost-baseline.json")).assert(&registry);
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::report::SimStats;

/// The environment variable that makes a baseline check rewrite its file.
pub const UPDATE_VAR: &str = "REHEARSAL_UPDATE_BASELINE";

/// The seed the counters are measured at, unless [`Baseline::seed`] says otherwise.
pub const DEFAULT_SEED: u64 = 1;

/// One scenario's counters, by name.
pub type Counters = BTreeMap<String, u64>;

/// Every scenario's counters, by scenario name.
pub type Costs = BTreeMap<String, Counters>;

/// The counters of a run's statistics.
pub fn counters(s: &SimStats) -> Counters {
    [
        ("frames_sent", s.frames_sent),
        ("bytes", s.bytes),
        ("datagrams", s.datagrams),
        ("wire_bytes", s.wire_bytes),
        ("store_commits", s.store_commits),
        ("store_writes", s.store_writes),
        ("store_syncs", s.store_syncs),
        ("sim_time_us", s.sim_time_us),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What grew from `baseline` to `current`: one line per counter that grew or has no
/// baseline (`scenario.counter grew from OLD to NEW`). Counters that shrank are fine.
pub fn growth(baseline: &Costs, current: &Costs) -> Vec<String> {
    let mut grew = Vec::new();
    for (scenario, counters) in current {
        let Some(base) = baseline.get(scenario) else {
            grew.push(format!("{scenario}: no baseline"));
            continue;
        };
        for (counter, value) in counters {
            match base.get(counter) {
                None => grew.push(format!("{scenario}.{counter}: no baseline")),
                Some(b) if value > b => {
                    grew.push(format!("{scenario}.{counter} grew from {b} to {value}"))
                }
                Some(_) => {}
            }
        }
    }
    grew
}

/// Reads a baseline file; the error names the file and what was expected.
pub fn read(path: &Path) -> Result<Costs, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the cost baseline {}: {e}; write it with {UPDATE_VAR}=1",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a cost baseline (expected {{\"scenario\": {{\"counter\": number}}}}): {e}",
            path.display()
        )
    })
}

/// Writes a baseline file (sorted, one counter a line).
pub fn write(path: &Path, costs: &Costs) -> Result<(), String> {
    let json = serde_json::to_string_pretty(costs)
        .map_err(|e| format!("cannot encode the cost baseline: {e}"))?;
    crate::repro::write_atomically(path, (json + "\n").as_bytes())
        .map_err(|e| format!("cannot write the cost baseline {}: {e}", path.display()))
}

/// A registry's cost baseline file, checked or rewritten.
#[derive(Clone, Debug)]
pub struct Baseline {
    path: PathBuf,
    seed: u64,
    update: bool,
}

impl Baseline {
    /// The baseline in file `path`, measured at [`DEFAULT_SEED`]; it rewrites the file when
    /// `REHEARSAL_UPDATE_BASELINE` is set in the environment.
    pub fn new(path: impl Into<PathBuf>) -> Baseline {
        Baseline {
            path: path.into(),
            seed: DEFAULT_SEED,
            update: std::env::var_os(UPDATE_VAR).is_some(),
        }
    }

    /// Measures at `seed` instead.
    pub fn seed(mut self, seed: u64) -> Baseline {
        self.seed = seed;
        self
    }

    /// Rewrites the file (`true`) or checks it (`false`), whatever the environment says.
    pub fn update(mut self, update: bool) -> Baseline {
        self.update = update;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every listed scenario's counters, each run once with its default parameters; a run
    /// that violates an oracle is an error (its cost would not mean much).
    #[cfg(madsim)]
    pub fn measure(&self, registry: &crate::scenario::Registry) -> Result<Costs, String> {
        let mut out = Costs::new();
        for scenario in registry.iter() {
            let report = crate::Sim::new(self.seed)
                .run_scenario(scenario, &scenario.default_params())
                .map_err(|e| format!("{}: {e}", scenario.name()))?;
            if !report.passed() {
                return Err(format!(
                    "{} seed {} violates an oracle, so its cost is not measured:\n{}",
                    scenario.name(),
                    self.seed,
                    report.summary()
                ));
            }
            out.insert(scenario.name().to_string(), counters(&report.stats));
        }
        Ok(out)
    }

    /// Measures `registry` and checks the counters against the file (or rewrites it); `Ok`
    /// says what was done, `Err` what grew and how to accept it.
    #[cfg(madsim)]
    pub fn check(&self, registry: &crate::scenario::Registry) -> Result<String, String> {
        let current = self.measure(registry)?;
        if self.update {
            write(&self.path, &current)?;
            return Ok(format!("wrote {}", self.path.display()));
        }
        let grew = growth(&read(&self.path)?, &current);
        if grew.is_empty() {
            return Ok(format!(
                "{} scenario(s) within {}",
                current.len(),
                self.path.display()
            ));
        }
        Err(format!(
            "cost counters grew beyond {} (seed {}):\n  {}\nIf this is intended, rerun with \
             {UPDATE_VAR}=1 and commit the new baseline with the change.",
            self.path.display(),
            self.seed,
            grew.join("\n  ")
        ))
    }

    /// As [`Baseline::check`], for a `#[test]`: panics with the error.
    #[cfg(madsim)]
    pub fn assert(&self, registry: &crate::scenario::Registry) {
        match self.check(registry) {
            Ok(note) => println!("{note}"),
            Err(e) => panic!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs(frames: u64) -> Costs {
        let mut c = Counters::new();
        c.insert("frames_sent".into(), frames);
        let mut all = Costs::new();
        all.insert("two-phase-commit".into(), c);
        all
    }

    #[test]
    fn a_counter_that_grows_is_named_with_both_values() {
        assert!(growth(&costs(12), &costs(12)).is_empty());
        assert!(growth(&costs(12), &costs(6)).is_empty());
        assert_eq!(
            growth(&costs(12), &costs(24)),
            vec!["two-phase-commit.frames_sent grew from 12 to 24"]
        );
        assert_eq!(
            growth(&Costs::new(), &costs(1)),
            vec!["two-phase-commit: no baseline"]
        );
    }

    #[test]
    fn a_baseline_file_round_trips_and_a_bad_one_is_named() {
        let dir = std::env::temp_dir().join(format!("rehearsal-cost-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cost-baseline.json");
        write(&path, &costs(3)).unwrap();
        assert_eq!(read(&path).unwrap(), costs(3));
        std::fs::write(&path, "[1]").unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.contains("is not a cost baseline"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
