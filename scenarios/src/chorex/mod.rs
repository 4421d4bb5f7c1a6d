//! Chorex's benchmark suite as scenarios: the [state machine](state_machine) (a text
//! adventure), the [mini blockchain](mini_blockchain) (a nonce search), the
//! [flat loop](flat_loop) and the [nested loop](nest_loop).
//!
//! Each comes in the three variants of the Chorex paper's benchmarks, chosen by the
//! `variant` parameter ([`Variant`]): `variant=0` is the baseline (no checkpoint),
//! `variant=1` puts checkpoints where Chorex's `chk` variant has `try` blocks (nothing
//! crashes), and `variant=2` adds the crashes of Chorex's `chk+rescue` variant, each rescued.
//! Every variant ends with the same outcome as the baseline, so the reference oracle holds
//! for all three, and each scenario has an oracle checking its known answer.
//!
//! ```text
//! cargo rehearsal run state-machine -p variant=2
//! cargo rehearsal run flat-loop -p variant=1 -p laps=100
//! ```
//!
//! The benches (`benches/benches/chorex.rs`, `cargo xtask bench-report`) run them with
//! Chorex's sizes (`laps=1000` and `laps=10000`); the registry's defaults are small so that
//! exploring every scenario stays fast.
//!
//! **Deep nesting needs a big stack.** The checkpointed variants of `mini-blockchain` (201
//! nested blocks) and `nest-loop` (one nested block per lap) recurse through boxed futures,
//! and polling a chain of N nested futures recurses N levels on the thread's stack (so do the
//! central reference run and dropping the chain): about 6 KiB per level in a release build
//! and 20 KiB in a debug build. A spawned thread has 2 MiB, enough for about 300 levels in
//! release and 100 in debug; deeper nests need a thread with a big stack, e.g.
//! `std::thread::Builder::new().stack_size(512 << 20)` running a current-thread runtime, as
//! the tests and benches do. The crashing variants go on from their rescues through a loop
//! (a tail call), so they stay flat.
//!
//! **Planned crashes are quiet.** Building a program of the crashing variant installs (once
//! per process) a panic hook that skips the panic message of this module's *planned* crashes
//! (a panic located in this module's files whose message is one of the planned ones); every
//! other panic goes to the hook that was there before. Rescues still see the message in
//! [`Rescued`](rehearsal::Rescued), and traces record it.
//!
//! Differences from Chorex's artifact (`utahplt/chorex_benchmarks`):
//!
//! * The outcome stays the reference outcome under any fault, not only under the planned
//!   crashes: in the mini blockchain's rescue Verifier decides (one broadcast per rescue)
//!   whether to go on with the next attempt (after its planned crash) or retry this one (after
//!   any other cause), where Chorex always goes on and would skip the one good nonce after an
//!   unplanned crash; the nested loop's rescue of the last lap runs it again. No rescue lets
//!   every role branch on its cause ([`Rescued`](rehearsal::Rescued)): participants that
//!   crash in the same block at once may each see their own.
//! * `work_hard` hashes the lap number 1,001 times over (`sha256` of the previous hash)
//!   instead of hashing `"foo0"` .. `"foo1000"`, and its result goes into the outcome, so the
//!   work cannot be optimised away and the oracle can check it.
//! * `laps=N` runs exactly N laps (Chorex's loops run one more).
//! * Chorex's crashing flat loop crashes in an otherwise empty block and does its work
//!   outside it; here the crash comes first in the lap's block and the rescue does the lap's
//!   work, so every variant does the same work per lap.
//! * Where a rescue goes on with the next attempt or lap, it does so as a tail call: the
//!   rescue returns where to go on and a loop around the checkpointed code goes there (the
//!   same blocks, the same frames, but no growing chain of futures).
//! * Chorex's baselines are tail-recursive functions, which the BEAM runs as loops; the
//!   baselines here are loops.

use std::sync::Once;

use rehearsal::{ChoreoError, roles};
use sha2::{Digest, Sha256};

use crate::scenario::{Param, Params};

pub mod flat_loop;
pub mod mini_blockchain;
pub mod nest_loop;
pub mod state_machine;

roles!(Runner, Monitor);

/// The benchmark variant of a Chorex scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// No checkpoint (`variant=0`).
    Baseline,
    /// Checkpoints where Chorex has `try` blocks, nothing crashes (`variant=1`).
    Chk,
    /// Checkpoints and Chorex's crashes, each rescued (`variant=2`).
    ChkCrash,
}

impl Variant {
    /// Every variant, in parameter order.
    pub const ALL: [Variant; 3] = [Variant::Baseline, Variant::Chk, Variant::ChkCrash];

    /// The variant of parameter value `n`.
    pub fn from_number(n: u64) -> Option<Variant> {
        match n {
            0 => Some(Variant::Baseline),
            1 => Some(Variant::Chk),
            2 => Some(Variant::ChkCrash),
            _ => None,
        }
    }

    /// The parameter value of this variant.
    pub fn number(self) -> u64 {
        match self {
            Variant::Baseline => 0,
            Variant::Chk => 1,
            Variant::ChkCrash => 2,
        }
    }

    /// The name used in Chorex's paper: `baseline`, `chk` or `chk+crash`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Baseline => "baseline",
            Variant::Chk => "chk",
            Variant::ChkCrash => "chk+crash",
        }
    }

    /// Whether blocks are checkpointed.
    pub fn checkpoints(self) -> bool {
        self != Variant::Baseline
    }

    /// Reads the `variant` parameter; for the crashing variant, quiets the planned panics.
    pub(crate) fn from_params(p: &Params) -> Result<Variant, ChoreoError> {
        let n = p.get("variant");
        let variant = Variant::from_number(n).ok_or_else(|| ChoreoError::Census {
            detail: format!(
                "variant = {n}; expected 0 (baseline), 1 (chk: checkpoints) or 2 (chk+crash: \
                 checkpoints and rescued crashes)"
            ),
        })?;
        if variant == Variant::ChkCrash {
            quiet_planned_crashes();
        }
        Ok(variant)
    }
}

/// The `variant` parameter every Chorex scenario has.
pub const VARIANT_PARAM: Param = Param {
    name: "variant",
    default: 2,
    summary: "0 baseline (no checkpoint), 1 chk (checkpoints, no crash), 2 chk+crash (checkpoints and Chorex's rescued crashes)",
};

/// Reads the `laps` parameter: at least one lap.
pub(crate) fn laps_of(p: &Params) -> Result<u64, ChoreoError> {
    match p.get("laps") {
        0 => Err(ChoreoError::Census {
            detail: "laps = 0; expected at least 1 lap".into(),
        }),
        n => Ok(n),
    }
}

/// How many sha256 hashes one [`work_hard`] computes.
pub const WORK_HASHES: usize = 1001;

/// Chorex's `work_hard`: 1,001 sha256 hashes, here the lap number's little-endian bytes
/// hashed, then the hash hashed 1,000 more times. Returns the last hash.
pub fn work_hard(lap: u64) -> [u8; 32] {
    let mut h: [u8; 32] = Sha256::digest(lap.to_le_bytes()).into();
    for _ in 1..WORK_HASHES {
        h = Sha256::digest(h).into();
    }
    h
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The panic messages of the planned crashes (prefixes).
const PLANNED: &[&str] = &[
    "attempt to divide by zero",
    mini_blockchain::BAD_HASH,
    state_machine::ILLEGAL_MOVE,
];

/// Whether a rescue's cause is a planned crash of these scenarios (its message starts with
/// one of the planned messages), rather than a fault from outside.
pub(crate) fn planned(message: &str) -> bool {
    PLANNED.iter().any(|p| message.starts_with(p))
}

/// Installs, once per process, a panic hook that skips the message of the planned crashes
/// (located in this module's files, with a planned message) and passes every other panic to
/// the hook that was installed before.
pub fn quiet_planned_crashes() {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let here = info.location().is_some_and(|l| {
                let file = l.file().replace('\\', "/");
                file.contains("src/chorex/")
            });
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !(here && message.is_some_and(planned)) {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_hard_hashes_1001_times() {
        let mut h: [u8; 32] = Sha256::digest(7u64.to_le_bytes()).into();
        for _ in 0..1000 {
            h = Sha256::digest(h).into();
        }
        assert_eq!(work_hard(7), h);
        assert_ne!(work_hard(7), work_hard(8));
        assert_eq!(hex([0, 0xab, 0x10]), "00ab10");
    }

    #[test]
    fn variants_round_trip_through_their_numbers() {
        for v in Variant::ALL {
            assert_eq!(Variant::from_number(v.number()), Some(v));
        }
        assert_eq!(Variant::from_number(3), None);
        assert!(planned("attempt to divide by zero"));
        assert!(!planned("injected panic"));
    }
}
