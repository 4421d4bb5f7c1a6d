//! Network conditions of one simulated run.
//!
//! Latency is madsim's (each datagram gets a uniform latency from the range, which already
//! reorders frames); loss, duplication and extra reordering delay are applied by the
//! simulator's transport so that each one is traced with the frame it hit.

use std::fmt;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How the simulated network misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Smallest one-way latency, in microseconds.
    pub latency_min_us: u64,
    /// Largest one-way latency, in microseconds.
    pub latency_max_us: u64,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by up to one more maximum latency.
    pub reorder: f64,
}

impl Default for NetConfig {
    /// A well-behaved network: 1-10 ms latency, nothing lost.
    fn default() -> Self {
        NetConfig {
            latency_min_us: 1_000,
            latency_max_us: 10_000,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }
}

impl NetConfig {
    /// Conditions drawn from `seed`: latency within 0-50 ms, loss up to 30%, duplication up
    /// to 20%, reordering up to 30%. Used when a run names no conditions.
    pub fn from_seed(seed: u64) -> NetConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6E65_745F_636F_6E66);
        let a = rng.gen_range(0..=50_000u64);
        let b = rng.gen_range(0..=50_000u64);
        let round = |p: f64| (p * 1000.0).round() / 1000.0;
        NetConfig {
            latency_min_us: a.min(b),
            latency_max_us: a.max(b).max(a.min(b) + 1),
            loss: round(rng.gen_range(0.0..=0.3)),
            duplicate: round(rng.gen_range(0.0..=0.2)),
            reorder: round(rng.gen_range(0.0..=0.3)),
        }
    }

    /// The latency range.
    pub fn latency(&self) -> std::ops::Range<Duration> {
        Duration::from_micros(self.latency_min_us)
            ..Duration::from_micros(self.latency_max_us.max(self.latency_min_us + 1))
    }

    /// Checks the settings; the error names the bad one and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{name} = {p}; expected a probability in [0, 1)"));
            }
        }
        if self.latency_min_us > self.latency_max_us {
            return Err(format!(
                "latency {}..{} us; expected min <= max",
                self.latency_min_us, self.latency_max_us
            ));
        }
        Ok(())
    }
}

impl fmt::Display for NetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "latency {:.1}-{:.1} ms, loss {:.1}%, duplicate {:.1}%, reorder {:.1}%",
            self.latency_min_us as f64 / 1000.0,
            self.latency_max_us as f64 / 1000.0,
            self.loss * 100.0,
            self.duplicate * 100.0,
            self.reorder * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_conditions_are_stable_and_within_bounds() {
        for seed in 0..500 {
            let c = NetConfig::from_seed(seed);
            assert_eq!(c, NetConfig::from_seed(seed));
            c.validate().unwrap();
            assert!(c.latency_max_us <= 50_001 && c.loss <= 0.3 && c.duplicate <= 0.2);
        }
        assert_ne!(NetConfig::from_seed(1), NetConfig::from_seed(2));
    }
}
