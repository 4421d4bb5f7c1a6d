//! The arguments of each verb, and how the values a person types are read.
//!
//! Numbers are read by the parsers at the end of this file rather than by clap's defaults,
//! so that `-1` is a value (and gets "must be at least 0"), a number past the type's range
//! says the range, and durations take fractions of a second.

use std::path::PathBuf;
use std::time::Duration;

use super::{Format, RunFormat};

#[derive(Debug, clap::Args)]
pub(super) struct ExploreArgs {
    /// Scenarios to explore (default: every shipped scenario).
    pub(super) scenarios: Vec<String>,
    /// Seeds per scenario (at least 1; any u64: the range is streamed, not held in memory).
    #[arg(long, default_value = "100", value_parser = count_u64, allow_negative_numbers = true)]
    pub(super) seeds: u64,
    /// Scenario parameters as name=value (repeatable), for every scenario explored (each must
    /// have them; `rehearsal list` shows their ranges).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub(super) params: Vec<String>,
    /// First seed of the range.
    #[arg(long, default_value = "0", value_parser = whole_u64, allow_negative_numbers = true)]
    pub(super) first_seed: u64,
    /// Swarm testing: each seed enables a random subset of the fault kinds.
    #[arg(long)]
    pub(super) swarm: bool,
    /// Fault kinds: `network` (delay, drop, duplicate, partition, pause), `all` (also crash,
    /// panic, disk), or a list like drop,delay.
    #[arg(long, default_value = "network")]
    pub(super) faults: String,
    /// Most faults per run (at least 1).
    #[arg(long, default_value = "4", value_parser = count_usize, allow_negative_numbers = true)]
    pub(super) max_faults: usize,
    /// Most faults that take a node down (crash, pause, disk) per run.
    #[arg(long, default_value = "1", value_parser = whole_usize, allow_negative_numbers = true)]
    pub(super) max_down: usize,
    /// Worker threads; 0 or none: one per core.
    #[arg(long, value_parser = whole_usize, allow_negative_numbers = true)]
    pub(super) jobs: Option<usize>,
    /// Run only shard I of N of the seed range (a CI matrix), like 2/4.
    #[arg(long, value_name = "I/N")]
    pub(super) shard: Option<String>,
    /// The store each node journals to: `model` (the in-memory model of a disk) or `file`
    /// (the real redb `FileStore` on a simulated disk that loses unsynced writes on a crash).
    #[arg(long, default_value = "model", value_parser = store_kind)]
    pub(super) store: crate::StoreKind,
    /// Keep exploring after a violation.
    #[arg(long)]
    pub(super) keep_going: bool,
    /// Run every seed twice and report differing trace hashes as violations.
    #[arg(long)]
    pub(super) check_determinism: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    /// Where repro files go (checked before the first seed runs).
    #[arg(long, default_value = "fault-plans/regressions")]
    pub(super) out: PathBuf,
    /// Runs the shrinker may spend per failure.
    #[arg(long, default_value = "200", value_parser = whole_usize, allow_negative_numbers = true)]
    pub(super) shrink_budget: usize,
    /// Simulated seconds after which unfinished participants are a liveness violation
    /// (fractions allowed, like 0.5).
    #[arg(long, value_name = "SECONDS", default_value = "120", value_parser = seconds, allow_negative_numbers = true)]
    pub(super) time_limit: Duration,
    /// Fail (exit 1) when a scenario's seeds never walked one of these recovery paths: a
    /// list like rescue,retransmit (the coverage table's columns); `goals`: every
    /// `ch.sometimes` goal checked; `all`: both; `expected`: the paths and goals each
    /// scenario expects of itself.
    #[arg(long, value_name = "PATHS")]
    pub(super) require_coverage: Option<String>,
    /// Instead of random plans, run every single fault at every (participant, site,
    /// occurrence) of each scenario's fault-free run, then a second fault at each site those
    /// runs newly reached (a rescue, a replay); every case at seed --first-seed.
    #[arg(long, conflicts_with_all = ["seeds", "shard", "swarm", "max_faults", "max_down"])]
    pub(super) exhaustive: bool,
    /// Run a different generated choreography at every seed: the scenario `generated`
    /// (or the scenarios named, each with a parameter `shape`) with `shape` set to the
    /// seed. Repro files record the shape; shrinking also deletes operators.
    #[arg(long)]
    pub(super) generated: bool,
    /// With --exhaustive: 1, single faults and the paths they open; 2, also every pair of
    /// faults (the first fault, then any fault at any site of its run).
    #[arg(long, default_value = "1", value_parser = depth, requires = "exhaustive")]
    pub(super) depth: u8,
    /// With --exhaustive: the most cases to run; more is an error before they run, never a
    /// sample.
    #[arg(long, default_value = "300000", value_parser = count_u64, allow_negative_numbers = true, requires = "exhaustive")]
    pub(super) max_cases: u64,
}

/// An exhaustive depth: 1 or 2.
fn depth(s: &str) -> Result<u8, String> {
    match s.trim() {
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!(
            "`{s}`: expected 1 (single faults and the paths they open) or 2 (also every pair)"
        )),
    }
}

#[derive(Debug, clap::Args)]
pub(super) struct ReplayArgs {
    /// The repro file.
    pub(super) file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(super) format: RunFormat,
    /// Also write the run's sequence diagram to this HTML file.
    #[arg(long, value_name = "FILE.html")]
    pub(super) diagram: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(super) struct ShrinkArgs {
    /// The repro file (rewritten with the shrunk plan unless --out is given).
    pub(super) file: PathBuf,
    /// Write the shrunk repro here instead (checked before the shrinking starts).
    #[arg(long)]
    pub(super) out: Option<PathBuf>,
    /// Runs the shrinker may spend.
    #[arg(long, default_value = "200", value_parser = whole_usize, allow_negative_numbers = true)]
    pub(super) budget: usize,
}

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// The scenario (see `rehearsal list`).
    pub(super) scenario: String,
    /// The seed: same seed, same trace.
    #[arg(long, default_value = "0", value_parser = whole_u64, allow_negative_numbers = true)]
    pub(super) seed: u64,
    /// Scenario parameters as name=value (repeatable; `rehearsal list` shows their ranges).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub(super) params: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub(super) format: RunFormat,
    /// Also write the JSON-lines output to this file (checked before the run).
    #[arg(long, value_name = "FILE")]
    pub(super) trace: Option<PathBuf>,
    /// Also write the run's sequence diagram to this HTML file.
    #[arg(long, value_name = "FILE.html")]
    pub(super) diagram: Option<PathBuf>,
    /// The store each node journals to: `model` (the in-memory model of a disk) or `file`
    /// (the real redb `FileStore` on a simulated disk that loses unsynced writes on a crash).
    #[arg(long, default_value = "model", value_parser = store_kind)]
    pub(super) store: crate::StoreKind,
    /// Inject the faults of this plan (TOML; see fault-plans/README.md).
    #[arg(long, value_name = "FILE")]
    pub(super) plan: Option<PathBuf>,
    /// Network: loss probability, in [0, 1) (default: drawn from the seed).
    #[arg(long, value_parser = probability, allow_negative_numbers = true)]
    pub(super) loss: Option<f64>,
    /// Network: duplication probability, in [0, 1) (default: drawn from the seed).
    #[arg(long, value_parser = probability, allow_negative_numbers = true)]
    pub(super) duplicate: Option<f64>,
    /// Network: probability of extra reordering delay, in [0, 1) (default: drawn from the seed).
    #[arg(long, value_parser = probability, allow_negative_numbers = true)]
    pub(super) reorder: Option<f64>,
    /// Network: one-way latency range in milliseconds, as MIN..MAX (default: drawn from the seed).
    #[arg(long, value_name = "MIN..MAX", allow_hyphen_values = true)]
    pub(super) latency: Option<String>,
    /// Simulated seconds after which unfinished participants are a liveness violation
    /// (fractions allowed, like 0.5).
    #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = seconds, allow_negative_numbers = true)]
    pub(super) time_limit: Duration,
    /// Show progress on stderr once a run has taken this many (wall-clock) seconds.
    #[arg(long, value_name = "SECONDS", default_value = "3", value_parser = wall_seconds, allow_negative_numbers = true)]
    pub(super) progress_after: Duration,
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
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("--latency `{s}`: `{x}` is not a number of milliseconds"))
            .and_then(|v| {
                if v < 0.0 {
                    Err(format!("--latency `{s}`: {v} ms must be at least 0"))
                } else if v > 1e9 {
                    Err(format!(
                        "--latency `{s}`: {v} ms must be at most 1000000000 (11.6 days)"
                    ))
                } else {
                    Ok((v * 1000.0).round() as u64)
                }
            })
    };
    let (min, max) = (ms(a)?, ms(b)?);
    if min > max {
        return Err(format!("--latency `{s}`: expected MIN <= MAX"));
    }
    Ok((min, max))
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

/// A store kind: `model` or `file`.
fn store_kind(s: &str) -> Result<crate::StoreKind, String> {
    crate::StoreKind::from_name(s.trim()).ok_or_else(|| {
        format!("`{s}`: expected `model` (the in-memory model of a disk) or `file` (redb on a simulated disk)")
    })
}

/// A whole number from 0 to `max`; the error says which rule `s` broke.
fn whole(s: &str, max: u64) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    if let Some(rest) = t.strip_prefix('-') {
        if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{s} is negative: must be at least 0"));
        }
    }
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("`{s}` is not a whole number (expected 0 to {max})"));
    }
    match t.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(format!("{s} is out of range: must be at most {max}")),
    }
}

/// A whole `u64`.
pub(super) fn whole_u64(s: &str) -> Result<u64, String> {
    whole(s, u64::MAX)
}

/// A whole `u64` of at least 1 (a count of things to do).
pub(super) fn count_u64(s: &str) -> Result<u64, String> {
    match whole(s, u64::MAX)? {
        0 => Err("0 leaves nothing to do: must be at least 1".into()),
        v => Ok(v),
    }
}

/// A whole `usize`.
pub(super) fn whole_usize(s: &str) -> Result<usize, String> {
    whole(s, usize::MAX as u64).map(|v| v as usize)
}

/// A whole `usize` of at least 1.
pub(super) fn count_usize(s: &str) -> Result<usize, String> {
    count_u64(s).and_then(|v| {
        usize::try_from(v)
            .map_err(|_| format!("{s} is out of range: must be at most {}", usize::MAX))
    })
}

/// A probability in [0, 1).
pub(super) fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .trim()
        .parse()
        .ok()
        .filter(|p: &f64| p.is_finite())
        .ok_or_else(|| format!("`{s}` is not a number (expected a probability in [0, 1))"))?;
    if p < 0.0 {
        Err(format!("{s} is negative: must be at least 0"))
    } else if p >= 1.0 {
        Err(format!("{s} is out of range: must be less than 1"))
    } else {
        Ok(p)
    }
}

/// Simulated seconds, more than 0 (fractions allowed).
pub(super) fn seconds(s: &str) -> Result<Duration, String> {
    let x: f64 = s
        .trim()
        .parse()
        .ok()
        .ok_or_else(|| format!("`{s}` is not a number of seconds (like 120 or 0.05)"))?;
    if x < 0.0 {
        return Err(format!("{s} is negative: must be more than 0"));
    }
    crate::repro::duration_from_seconds(x)
}

/// Wall-clock seconds, 0 or more (fractions allowed).
pub(super) fn wall_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x < 0.0 => Err(format!("{s} is negative: must be at least 0")),
        Ok(0.0) => Ok(Duration::ZERO),
        Ok(x) => crate::repro::duration_from_seconds(x),
        Err(_) => Err(format!("`{s}` is not a number of seconds (like 3 or 0.5)")),
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
        assert!(
            parse_latency("-1..2")
                .unwrap_err()
                .contains("must be at least 0")
        );
        assert!(parse_latency("5..2").unwrap_err().contains("MIN <= MAX"));
    }

    #[test]
    fn numbers_say_what_was_wrong() {
        assert_eq!(whole_u64("18446744073709551615"), Ok(u64::MAX));
        assert!(whole_u64("-1").unwrap_err().contains("must be at least 0"));
        assert!(
            whole_u64("18446744073709551616")
                .unwrap_err()
                .contains("must be at most 18446744073709551615")
        );
        assert!(whole_u64("x").unwrap_err().contains("not a whole number"));
        assert!(count_u64("0").unwrap_err().contains("at least 1"));
        assert!(
            probability("-0.1")
                .unwrap_err()
                .contains("must be at least 0")
        );
        assert!(probability("1").unwrap_err().contains("less than 1"));
        assert!(probability("nan").unwrap_err().contains("not a number"));
        assert_eq!(seconds("0.05"), Ok(Duration::from_millis(50)));
        assert!(seconds("0").unwrap_err().contains("more than 0"));
        assert!(seconds("-2").unwrap_err().contains("negative"));
        assert_eq!(wall_seconds("0"), Ok(Duration::ZERO));
        assert_eq!(store_kind("file"), Ok(crate::StoreKind::File));
        assert!(store_kind("tape").unwrap_err().contains("expected `model`"));
    }
}
