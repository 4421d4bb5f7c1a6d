//! The arguments of each verb, and how the values a person types are read.

use std::path::PathBuf;

use super::Format;

#[derive(Debug, clap::Args)]
pub(super) struct ExploreArgs {
    /// Scenarios to explore (default: every shipped scenario).
    pub(super) scenarios: Vec<String>,
    /// Seeds per scenario.
    #[arg(long, default_value_t = 100)]
    pub(super) seeds: u64,
    /// First seed of the range.
    #[arg(long, default_value_t = 0)]
    pub(super) first_seed: u64,
    /// Swarm testing: each seed enables a random subset of the fault kinds.
    #[arg(long)]
    pub(super) swarm: bool,
    /// Fault kinds: `network` (all but crash and panic), `all`, or a list like drop,delay.
    #[arg(long, default_value = "network")]
    pub(super) faults: String,
    /// Most faults per run.
    #[arg(long, default_value_t = 4)]
    pub(super) max_faults: usize,
    /// Most faults that take a node down (crash, pause) per run.
    #[arg(long, default_value_t = 1)]
    pub(super) max_down: usize,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub(super) jobs: Option<usize>,
    /// Run only shard I of N of the seed range (a CI matrix), like 2/4.
    #[arg(long, value_name = "I/N")]
    pub(super) shard: Option<String>,
    /// Keep exploring after a violation.
    #[arg(long)]
    pub(super) keep_going: bool,
    /// Run every seed twice and report differing trace hashes as violations.
    #[arg(long)]
    pub(super) check_determinism: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    /// Where repro files go.
    #[arg(long, default_value = "fault-plans/regressions")]
    pub(super) out: PathBuf,
    /// Runs the shrinker may spend per failure.
    #[arg(long, default_value_t = 200)]
    pub(super) shrink_budget: usize,
    /// Simulated seconds after which unfinished participants are a liveness violation.
    #[arg(long, default_value_t = 120)]
    pub(super) time_limit: u64,
}

#[derive(Debug, clap::Args)]
pub(super) struct ReplayArgs {
    /// The repro file.
    pub(super) file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
}

#[derive(Debug, clap::Args)]
pub(super) struct ShrinkArgs {
    /// The repro file (rewritten with the shrunk plan unless --out is given).
    pub(super) file: PathBuf,
    /// Write the shrunk repro here instead.
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
    /// Runs the shrinker may spend.
    #[arg(long, default_value_t = 200)]
    pub(super) budget: usize,
}

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// The scenario (see `rehearsal list`).
    pub(super) scenario: String,
    /// The seed: same seed, same trace.
    #[arg(long, default_value_t = 0)]
    pub(super) seed: u64,
    /// Scenario parameters as name=value (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub(super) params: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    /// Also write the JSON-lines output to this file.
    #[arg(long, value_name = "FILE")]
    pub(super) trace: Option<PathBuf>,
    /// Inject the faults of this plan (TOML; see fault-plans/README.md).
    #[arg(long, value_name = "FILE")]
    pub(super) plan: Option<PathBuf>,
    /// Network: loss probability (default: drawn from the seed).
    #[arg(long)]
    pub(super) loss: Option<f64>,
    /// Network: duplication probability (default: drawn from the seed).
    #[arg(long)]
    pub(super) duplicate: Option<f64>,
    /// Network: probability of extra reordering delay (default: drawn from the seed).
    #[arg(long)]
    pub(super) reorder: Option<f64>,
    /// Network: one-way latency range in milliseconds, as MIN..MAX (default: drawn from the seed).
    #[arg(long, value_name = "MIN..MAX")]
    pub(super) latency: Option<String>,
}

#[cfg_attr(not(madsim), allow(dead_code))]
pub(super) fn parse_latency(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("--latency `{s}`: expected MIN..MAX in milliseconds, like 1..20"))?;
    let ms = |x: &str| {
        x.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| (v * 1000.0) as u64)
            .ok_or_else(|| format!("--latency `{s}`: `{x}` is not a number of milliseconds"))
    };
    Ok((ms(a)?, ms(b)?))
}

/// Reads the fault kinds of `--faults`.
#[cfg_attr(not(madsim), allow(dead_code))]
pub(super) fn parse_kinds(s: &str) -> Result<Vec<crate::FaultKind>, String> {
    use crate::FaultKind;
    match s {
        "network" => Ok(FaultKind::NETWORK.to_vec()),
        "all" => Ok(FaultKind::ALL.to_vec()),
        list => list
            .split(',')
            .map(|k| {
                FaultKind::from_name(k.trim()).ok_or_else(|| {
                    let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                    format!(
                        "--faults: unknown fault kind `{k}`; expected network, all, or a list of: {}",
                        names.join(", ")
                    )
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_ranges_parse_and_bad_ones_are_named() {
        assert_eq!(parse_latency("1..20"), Ok((1_000, 20_000)));
        assert_eq!(parse_latency("0.5..2"), Ok((500, 2_000)));
        assert!(
            parse_latency("1-20")
                .unwrap_err()
                .contains("expected MIN..MAX")
        );
        assert!(
            parse_latency("x..2")
                .unwrap_err()
                .contains("`x` is not a number")
        );
    }
}
