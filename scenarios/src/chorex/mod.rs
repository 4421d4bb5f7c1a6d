//! Chorex's benchmark suite as scenarios: the [state machine](state_machine) (a text
//! adventure), the [mini blockchain](mini_blockchain) (a nonce search), the
//! [flat loop](flat_loop) and the [nested loop](nest_loop).
//!
//! Each comes in the three variants of the Chorex paper's benchmarks, chosen by the
//! `variant` parameter ([`Variant`]): `variant=0` is the baseline (no checkpoint),
//! `variant=1` puts checkpoints where Chorex's `chk` variant has `try` blocks (nothing
//! crashes), and `variant=2` adds the crashes of Chorex's `chk+rescue` variant, each rescued.
//! Each does the work of Chorex's artifact (`utahplt/chorex_benchmarks`): the same kernel
//! ([`work_hard`]: sha256 of `"foo0"` .. `"foo1000"`, building the list of digests), the same
//! laps (`laps=N` is Chorex's argument: laps `0..=N`), the same crash pattern and the same
//! messages, rescues included. Every variant ends with the same outcome as the baseline,
//! except the crashing flat loop, which is Chorex's `CrashyLoop` and does one work fewer per
//! role; the reference oracle holds for all, and each scenario has an oracle checking its
//! known answer.
//!
//! ```text
//! cargo rehearsal run state-machine -p variant=2 -p global=1
//! cargo rehearsal run flat-loop -p variant=1 -p laps=100
//! ```
//!
//! The benches (`benches/benches/chorex.rs`, `cargo xtask bench-report`) run them with
//! Chorex's sizes (`laps=10000` for flat-10k, `laps=1000` and `laps=10000` for nest-1k and
//! nest-10k: 10,001, 1,001 and 10,001 laps); the registry's defaults are small so that
//! exploring every scenario stays fast.
//!
//! **Nesting is flat on the stack.** The checkpointed variants of `mini-blockchain` (201
//! nested blocks from Chorex's start nonce) and `nest-loop` (one nested block per lap), and
//! the crashing `flat-loop` (one nested [`call`](rehearsal::Choreo::call) per lap) nest
//! thousands deep, but every checkpoint body and every sub-choreography runs as a task of its
//! own, so a wake-up polls only the innermost and the depth does not grow the thread's stack.
//!
//! **Planned crashes are quiet.** Building a program of the crashing variant installs (once
//! per process) a panic hook that skips the panic message of this module's *planned* crashes
//! (a panic located in this module's files whose message is one of the planned ones); every
//! other panic goes to the hook that was there before. Rescues still see the message in
//! [`Rescued`](rehearsal::Rescued), and traces record it.
//!
//! Differences from Chorex's artifact that remain:
//!
//! * The outcome stays the reference outcome under any fault, not only under the planned
//!   crashes. The mini blockchain's rescue, like Chorex's, sends nothing and goes on with the
//!   next attempt, except after a crash of the one good attempt (only a fault from outside
//!   can cause it), which it retries where Chorex would skip the good nonce: every role tells
//!   from plain values, at one sha256 per rescue. The nested loop's rescue of the last lap
//!   runs it again. No rescue branches on its cause ([`Rescued`](rehearsal::Rescued)):
//!   participants that crash in the same block at once may each see their own.
//! * [`work_hard`] returns the XOR of its digests (Chorex returns the list's length), and
//!   each scenario folds it into its outcome, so the work cannot be optimised away and the
//!   oracles can check it.
//! * Where a rescue goes on with the next attempt or lap, it does so as a tail call: the
//!   rescue returns where to go on and a loop around the checkpointed code goes there (the
//!   same blocks, the same frames, but no growing chain of tasks). Chorex's baselines and
//!   `FlatLoop` are tail-recursive functions, which the BEAM runs as loops; here they are
//!   loops. `CrashyLoop`'s recursion, not a tail call, stays a recursion.
//! * The state machine's turn checkpoint is, as written in Rehearsal, inside an enclave of
//!   Worker and Player; `global=1` puts Gateway in every turn's block, as Chorex's global
//!   barrier does. The benches report both.
//! * Chorex's state-machine artifact timed only the session's start-up; the benches time the
//!   whole game.

use std::sync::Once;

use rehearsal::{ChoreoError, roles};
use sha2::{Digest, Sha256};

use rehearsal_sim::scenario::{Param, Params};

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

/// The largest `laps` accepted (far more than any benchmark runs).
pub const MAX_LAPS: u64 = 1_000_000_000;

/// Reads the `laps` parameter, Chorex's argument N (laps `0..=N`): at most [`MAX_LAPS`].
pub(crate) fn laps_of(p: &Params) -> Result<u64, ChoreoError> {
    match p.get("laps") {
        n if n > MAX_LAPS => Err(ChoreoError::Census {
            detail: format!("laps = {n}; expected at most {MAX_LAPS} (laps 0..=N)"),
        }),
        n => Ok(n),
    }
}

/// How many sha256 hashes one [`work_hard`] computes: the strings `"foo0"` .. `"foo1000"`.
pub const WORK_HASHES: usize = 1001;

/// Chorex's `work_hard`: hashes the strings `"foo0"` .. `"foo1000"` with sha256 and builds the
/// list of the 1,001 digests (Chorex then takes the list's length). Returns the XOR of the
/// digests, so the work cannot be optimised away and an oracle can check it; every call
/// returns the same value.
pub fn work_hard() -> [u8; 32] {
    let digests: Vec<[u8; 32]> = (0..WORK_HASHES)
        .map(|i| Sha256::digest(format!("foo{i}")).into())
        .collect();
    digests.iter().fold([0; 32], |mut acc, d| {
        acc.iter_mut().zip(d).for_each(|(a, b)| *a ^= b);
        acc
    })
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
    crate::listener::REFUSED,
    crate::generated::PANICS,
];

/// Whether a rescue's cause is a planned crash of these scenarios (its message starts with
/// one of the planned messages), rather than a fault from outside.
pub(crate) fn planned(message: &str) -> bool {
    PLANNED.iter().any(|p| message.starts_with(p))
}

/// The files whose planned crashes are quiet: this module's, the listener's (whose
/// failing connection crashes with [`crate::listener::REFUSED`]) and the generated
/// choreographies' ([`crate::generated::PANICS`]).
const QUIET_IN: &[&str] = &["src/chorex/", "src/listener.rs", "src/generated/"];

/// Installs, once per process, a panic hook that skips the message of the planned crashes
/// (located in this module's files or the listener's, with a planned message) and passes
/// every other panic to the hook that was installed before.
pub fn quiet_planned_crashes() {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let here = info.location().is_some_and(|l| {
                let file = l.file().replace('\\', "/");
                QUIET_IN.iter().any(|q| file.contains(q))
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

/// Why `laps` ends at 10,000 on the command line.
pub const LAPS_WHY: &str = "laps=N runs N + 1 laps of 1,001 sha256 hashes at each role; Chorex's largest benchmark is 10,000";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_hard_hashes_foo0_to_foo1000() {
        let mut xor = [0u8; 32];
        for i in 0..=1000 {
            let d: [u8; 32] = Sha256::digest(format!("foo{i}").as_bytes()).into();
            xor.iter_mut().zip(d).for_each(|(a, b)| *a ^= b);
        }
        assert_eq!(work_hard(), xor);
        // Leaving out the last string changes the result.
        let last: [u8; 32] = Sha256::digest(b"foo1000").into();
        let mut short = xor;
        short.iter_mut().zip(last).for_each(|(a, b)| *a ^= b);
        assert_ne!(work_hard(), short);
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
