//! Chorex's nested loop (`CrashyNestedLoop`): like the [flat loop](super::flat_loop), but
//! the next lap runs *inside* the current lap's checkpoint, so the checkpointed variant nests
//! one block per lap.
//!
//! **Laps.** `laps=N` is the argument of Chorex's benchmark: laps `0..=N`, that is N + 1 laps
//! (nest-1k and nest-10k, `laps=1000` and `laps=10000`, run 1,001 and 10,001). Each lap both
//! roles do [`work_hard`] (sha256 of `"foo0"` .. `"foo1000"`), then Runner sends Monitor the
//! lap number and Monitor decides (broadcast) whether it is below N, that is whether another
//! lap follows. Every role ends with the laps run and the hex of its last lap's work.
//!
//! * `variant=0` (Chorex's `loop_plain`): a loop, no checkpoint.
//! * `variant=1` (`loop_try` with a Monitor that does not explode): each lap is a checkpoint;
//!   when another lap follows, Monitor calls its harmless `1 / 1`, and the next lap runs
//!   inside this lap's block (N + 1 nested blocks). Nothing crashes.
//! * `variant=2` (`loop_try` with the exploding Monitor): the same, but Monitor divides by
//!   zero instead (N crashes: the last lap does not explode); every role runs the rescue, and
//!   the next lap runs from the rescue, so blocks do not nest.
//!
//! Each block's body runs as a task of its own, so N nested blocks do not grow the stack and
//! a wake-up polls only the innermost. The rescue's "go on with the next lap" is a tail call,
//! written as a loop around the checkpointed laps. As in Chorex the rescue goes on with the
//! next lap (whatever crashed: the lap's work is dropped with the block), except that a rescue
//! of the last lap (which only a fault from outside can cause) runs it again, so the outcome
//! is the same under any fault. The rescue sends nothing and does not look at its cause:
//! participants that crash in the same block at once may each see their own.

use rehearsal::net::transport::BoxFuture;
use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles};
use serde::{Deserialize, Serialize};

use super::{Monitor, Runner, VARIANT_PARAM, Variant, hex, laps_of, work_hard};
use rehearsal_sim::scenario::{Outputs, Param, Params, Scenario, ScenarioBuilder};

/// The roles.
pub type Census = Roles![Runner, Monitor];

/// Parameters: the variant and the number of laps.
pub const PARAMS: &[Param] = &[
    VARIANT_PARAM,
    Param {
        name: "laps",
        default: 2,
        summary: "Chorex's argument N: laps 0..=N (N + 1 laps) of work_hard at each role, \
                  one nested checkpoint each (Chorex's nest-1k and nest-10k: 1000 and 10000)",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "last-lap-reached",
    "every role ends with N + 1 laps and the hex of work_hard()",
)];

/// What each role ends with.
#[derive(Debug, Serialize)]
pub struct Laps {
    /// Laps run (N + 1).
    pub laps: u64,
    /// Runner's last work, in hex.
    pub runner: At<String, Runner>,
    /// Monitor's last work, in hex.
    pub monitor: At<String, Monitor>,
}

/// The choreography.
#[derive(Clone, Copy, Debug)]
pub struct NestLoop {
    /// Which benchmark variant.
    pub variant: Variant,
    /// Chorex's argument N: laps `0..=N`.
    pub laps: u64,
}

impl Choreography for NestLoop {
    type Census = Census;
    type Output = Laps;

    async fn run(self, ch: &Choreo<Census>) -> Result<Laps, ChoreoError> {
        let mut lap = 0;
        if self.variant.checkpoints() {
            loop {
                match nest(ch, self, lap).await? {
                    Nested::Done(laps) => return Ok(laps),
                    Nested::Resume(next) => lap = next,
                }
            }
        }
        loop {
            match step(ch, self, lap).await? {
                Step::Next => lap += 1,
                Step::Last(laps) => return Ok(laps),
            }
        }
    }
}

/// How a checkpointed lap ended.
enum Nested {
    /// The last lap ended the loop.
    Done(Laps),
    /// A rescue ran: go on with this lap.
    Resume(u64),
}

/// Where a lap leads.
enum Step {
    /// Another lap follows.
    Next,
    /// This was the last lap.
    Last(Laps),
}

/// One lap: both roles work, Runner sends the lap number, Monitor decides whether another
/// lap follows.
async fn step(ch: &Choreo<Census>, cfg: NestLoop, lap: u64) -> Result<Step, ChoreoError> {
    let runner = ch
        .at("runner-work")
        .locally(Runner, |_| work_hard())
        .await?;
    let monitor = ch
        .at("monitor-work")
        .locally(Monitor, |_| work_hard())
        .await?;
    let n = ch.locally(Runner, |_| lap).await?;
    let l = ch.at("lap").comm(Runner, Monitor, &n).await?;
    let laps = cfg.laps;
    let more = ch.locally(Monitor, |m| *m.get(&l) < laps).await?;
    if ch.at("more").broadcast(Monitor, more).await? {
        return Ok(Step::Next);
    }
    let runner = ch.locally(Runner, |r| hex(r.get(&runner))).await?;
    let monitor = ch.locally(Monitor, |m| hex(m.get(&monitor))).await?;
    Ok(Step::Last(Laps {
        laps: lap + 1,
        runner,
        monitor,
    }))
}

/// Lap `lap` in a checkpoint; the next lap runs inside it. The rescue says where to go on:
/// the next lap (the last lap again if this was the last), from outside every block (a tail
/// call from the rescue, written as a loop so that crashing laps do not nest futures).
fn nest<'a>(
    ch: &'a Choreo<Census>,
    cfg: NestLoop,
    lap: u64,
) -> BoxFuture<'a, Result<Nested, ChoreoError>> {
    Box::pin(async move {
        ch.checkpoint(
            lap,
            move |ch, lap| async move {
                match step(&ch, cfg, lap).await? {
                    Step::Next => {
                        let divisor = if cfg.variant == Variant::ChkCrash {
                            0
                        } else {
                            1
                        };
                        ch.at("explode")
                            .locally(Monitor, |_| explode(divisor))
                            .await?;
                        nest(&ch, cfg, lap + 1).await
                    }
                    Step::Last(laps) => Ok(Nested::Done(laps)),
                }
            },
            move |_ch, lap, _why| async move {
                // Every role computes the same lap from plain values; the cause is not used,
                // as participants that crash at once may each see their own.
                Ok(Nested::Resume((lap + 1).min(cfg.laps)))
            },
        )
        .await
    })
}

/// Monitor's `1 / divisor` (a crash when `divisor` is 0).
fn explode(divisor: u64) -> u64 {
    1 / divisor
}

/// The scenario `nest-loop`: parameters [`PARAMS`]; its oracle checks the known answer.
pub fn scenario() -> ScenarioBuilder<NestLoop> {
    Scenario::new(
        "nest-loop",
        "Chorex's nested loop: as flat-loop, but each lap runs inside the previous lap's checkpoint (variant=0|1|2: baseline|chk|chk+crash)",
        choreography,
    )
    .roles(["Runner", "Monitor"])
    .params(PARAMS.iter().copied())
    .range("variant", 0, 2, "")
    .range("laps", 0, 10_000, super::LAPS_WHY)
    .oracle_as::<Seen, _>(
        ORACLES[0].0,
        ORACLES[0].1,
        oracle,
    )
}

fn choreography(p: &Params) -> Result<NestLoop, ChoreoError> {
    let variant = Variant::from_params(p)?;
    let laps = laps_of(p)?;
    Ok(NestLoop { variant, laps })
}

/// A participant's view of the output, as the oracle reads it.
#[derive(Deserialize)]
struct Seen {
    laps: u64,
    runner: Option<String>,
    monitor: Option<String>,
}

fn oracle(p: &Params, outcomes: &Outputs<Seen>) -> Vec<String> {
    let laps = p.get("laps").saturating_add(1);
    let want = hex(work_hard());
    let mut violations = Vec::new();
    for role in ["Runner", "Monitor"] {
        let seen = match outcomes.of(role) {
            Ok(seen) => seen,
            Err(e) => {
                violations.push(e);
                continue;
            }
        };
        let last = if role == "Runner" {
            &seen.runner
        } else {
            &seen.monitor
        };
        if seen.laps != laps || last.as_deref() != Some(want.as_str()) {
            violations.push(format!(
                "{role} ended with {} laps and last work {last:?}; \
                 expected {laps} laps and {want}",
                seen.laps
            ));
        }
    }
    violations
}
