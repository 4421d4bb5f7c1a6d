//! Chorex's flat loop: laps of hard work, each in a checkpoint of its own, and Chorex's
//! crashing loop (`CrashyLoop`) for the crashing variant.
//!
//! **Laps.** `laps=N` is the argument of Chorex's benchmark: laps `0..=N`, that is N + 1
//! laps (flat-10k, `laps=10000`, runs 10,001). Each lap Runner sends Monitor the lap number
//! and Monitor decides (broadcast) whether it is at most N; a lap number past N ends the
//! loop.
//!
//! * `variant=0` (Chorex's `FlatLoop` without `try`): in every lap both roles do
//!   [`work_hard`] (sha256 of `"foo0"` .. `"foo1000"`). The loop is a loop (Chorex's is a tail
//!   call).
//! * `variant=1` (`FlatLoop` with `try`): each lap's work inside a checkpoint whose rescue does
//!   the work again from the digests at entry; the loop goes on outside it, so blocks never
//!   nest. Nothing crashes.
//! * `variant=2` (Chorex's `CrashyLoop`): each lap Runner sends the lap number, then a
//!   checkpoint whose body is only Monitor's `1 / 0` and whose rescue does nothing; then
//!   Monitor decides (broadcast) whether the lap number is N: if so the loop ends, if not the
//!   next lap runs as a *non-tail* recursive call (a [`call`](rehearsal::Choreo::call) of
//!   the same choreography, a task of its own, so N levels deep do not grow the stack) and
//!   both roles do their work when it returns. N + 1 laps, N + 1 crashes and rescues, and N
//!   works per role (the last lap does none), as in Chorex.
//!
//! Every role ends with the laps run, the works done and its digest
//! `d = sha256(d ++ work_hard())` folded over its works, from 32 zero bytes.

use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
        summary: "Chorex's argument N: laps 0..=N (N + 1 laps) of work_hard at each role \
                  (Chorex's flat-10k: 10000)",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "every-lap-done-once",
    "every role ends with N + 1 laps and its digest of work_hard over its works: N + 1 works, \
     N in the crashing variant (CrashyLoop's last lap does none)",
)];

/// A digest folded over the laps' work.
pub type Digest32 = [u8; 32];

/// Folds lap work `work` into `digest`.
pub fn fold(digest: &Digest32, work: &Digest32) -> Digest32 {
    let mut h = Sha256::new();
    h.update(digest);
    h.update(work);
    h.finalize().into()
}

/// The digest after `works` works.
pub fn expected_digest(works: u64) -> Digest32 {
    let work = work_hard();
    (0..works).fold([0; 32], |d, _| fold(&d, &work))
}

/// How many works each role does with `laps=laps` in `variant`.
pub fn expected_works(variant: Variant, laps: u64) -> u64 {
    match variant {
        Variant::ChkCrash => laps,
        Variant::Baseline | Variant::Chk => laps + 1,
    }
}

/// What each role ends with.
#[derive(Debug, Serialize)]
pub struct Laps {
    /// Laps run (N + 1).
    pub laps: u64,
    /// Works done by each role.
    pub works: u64,
    /// Runner's digest, in hex.
    pub runner: At<String, Runner>,
    /// Monitor's digest, in hex.
    pub monitor: At<String, Monitor>,
}

/// The choreography.
#[derive(Clone, Copy, Debug)]
pub struct FlatLoop {
    /// Which benchmark variant.
    pub variant: Variant,
    /// Chorex's argument N: laps `0..=N`.
    pub laps: u64,
}

/// Both roles' digests.
type Digests = (At<Digest32, Runner>, At<Digest32, Monitor>);

impl Choreography for FlatLoop {
    type Census = Census;
    type Output = Laps;

    async fn run(self, ch: &Choreo<Census>) -> Result<Laps, ChoreoError> {
        let (digests, works) = if self.variant == Variant::ChkCrash {
            ch.call(CrashyLap {
                laps: self.laps,
                lap: 0,
            })
            .await?
        } else {
            flat(ch, self).await?
        };
        let runner = ch.locally(Runner, |r| hex(r.get(&digests.0))).await?;
        let monitor = ch.locally(Monitor, |m| hex(m.get(&digests.1))).await?;
        Ok(Laps {
            laps: self.laps + 1,
            works,
            runner,
            monitor,
        })
    }
}

/// Chorex's `FlatLoop`: laps `0..=N` as a loop, each lap's work in a checkpoint (`variant=1`)
/// or not (`variant=0`). Returns the digests and the works done.
async fn flat(ch: &Choreo<Census>, cfg: FlatLoop) -> Result<(Digests, u64), ChoreoError> {
    let mut digests: Digests = (
        ch.locally(Runner, |_| [0; 32]).await?,
        ch.locally(Monitor, |_| [0; 32]).await?,
    );
    let mut lap = 0u64;
    loop {
        let n = ch.locally(Runner, |_| lap).await?;
        let l = ch.at("lap").comm(Runner, Monitor, &n).await?;
        let more = ch.locally(Monitor, |m| *m.get(&l) <= cfg.laps).await?;
        if !ch.at("more").broadcast(Monitor, more).await? {
            return Ok((digests, lap));
        }
        digests = if cfg.variant.checkpoints() {
            ch.checkpoint(
                digests,
                |ch, d| async move { work(&ch, d).await },
                |ch, d, _why| async move { work(&ch, d).await },
            )
            .await?
        } else {
            work(ch, digests).await?
        };
        lap += 1;
    }
}

/// One lap of Chorex's `CrashyLoop` and, inside it, every lap after it: returns both roles'
/// digests and the works each did.
struct CrashyLap {
    /// Chorex's argument N.
    laps: u64,
    /// This lap's number.
    lap: u64,
}

impl Choreography for CrashyLap {
    type Census = Census;
    type Output = (Digests, u64);

    async fn run(self, ch: &Choreo<Census>) -> Result<(Digests, u64), ChoreoError> {
        let n = ch.locally(Runner, |_| self.lap).await?;
        let l = ch.at("lap").comm(Runner, Monitor, &n).await?;
        ch.checkpoint(
            (),
            |ch, ()| async move {
                ch.at("explode").locally(Monitor, |_| explode(0)).await?;
                Ok(())
            },
            // Chorex's rescue is Monitor's `:good_now`: a value, no message.
            |_ch, (), _why| async move { Ok(()) },
        )
        .await?;
        let last = ch.locally(Monitor, |m| *m.get(&l) >= self.laps).await?;
        if ch.at("last").broadcast(Monitor, last).await? {
            let digests = (
                ch.locally(Runner, |_| [0; 32]).await?,
                ch.locally(Monitor, |_| [0; 32]).await?,
            );
            return Ok((digests, 0));
        }
        let (digests, works) = ch
            .call(CrashyLap {
                laps: self.laps,
                lap: self.lap + 1,
            })
            .await?;
        Ok((work(ch, digests).await?, works + 1))
    }
}

/// Monitor's `1 / divisor` (a crash when `divisor` is 0).
fn explode(divisor: u64) -> u64 {
    1 / divisor
}

/// One lap's work at both roles: each folds [`work_hard`] into its digest.
async fn work(ch: &Choreo<Census>, (runner, monitor): Digests) -> Result<Digests, ChoreoError> {
    let monitor = ch
        .at("monitor-work")
        .locally(Monitor, |m| fold(m.get(&monitor), &work_hard()))
        .await?;
    let runner = ch
        .at("runner-work")
        .locally(Runner, |r| fold(r.get(&runner), &work_hard()))
        .await?;
    Ok((runner, monitor))
}

/// The scenario `flat-loop`: parameters [`PARAMS`]; its oracle checks the known answer.
pub fn scenario() -> ScenarioBuilder<FlatLoop> {
    Scenario::new(
        "flat-loop",
        "Chorex's flat loop: Runner and Monitor do 1,001 sha256 hashes per lap, one checkpoint per lap (variant=0|1|2: baseline|chk|chk+crash)",
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

fn choreography(p: &Params) -> Result<FlatLoop, ChoreoError> {
    let variant = Variant::from_params(p)?;
    let laps = laps_of(p)?;
    Ok(FlatLoop { variant, laps })
}

/// A participant's view of the output, as the oracle reads it.
#[derive(Deserialize)]
struct Seen {
    laps: u64,
    works: u64,
    runner: Option<String>,
    monitor: Option<String>,
}

fn oracle(p: &Params, outcomes: &Outputs<Seen>) -> Vec<String> {
    let laps = p.get("laps").min(super::MAX_LAPS);
    let Some(variant) = Variant::from_number(p.get("variant")) else {
        return vec![format!(
            "variant = {}; expected 0, 1 or 2",
            p.get("variant")
        )];
    };
    let works = expected_works(variant, laps);
    let want = hex(expected_digest(works));
    let mut violations = Vec::new();
    for role in ["Runner", "Monitor"] {
        let seen = match outcomes.of(role) {
            Ok(seen) => seen,
            Err(e) => {
                violations.push(e);
                continue;
            }
        };
        let digest = if role == "Runner" {
            &seen.runner
        } else {
            &seen.monitor
        };
        if seen.laps != laps + 1 || seen.works != works || digest.as_deref() != Some(&want) {
            violations.push(format!(
                "{role} ended with {} laps, {} works and digest \
                 {digest:?}; expected {} laps, {works} works and {want}",
                seen.laps,
                seen.works,
                laps + 1
            ));
        }
    }
    violations
}
