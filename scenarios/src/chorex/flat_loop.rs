//! Chorex's flat loop: `laps` laps of hard work, each in its own checkpoint.
//!
//! Each lap Runner sends Monitor the lap number, Monitor decides (broadcast) whether the lap
//! is one of the `laps`, and both do [`work_hard`] (1,001 sha256 hashes of the lap number),
//! folding the result into a running digest. The loop goes on outside the checkpoint, so
//! blocks never nest.
//!
//! * `variant=0`: the work without checkpoints.
//! * `variant=1`: each lap's work inside a checkpoint whose rescue does the work again from
//!   the digests at entry. Nothing crashes.
//! * `variant=2`: Monitor divides by zero at the start of every lap's block; every role runs
//!   the rescue, which does the lap's work. (Chorex's crashing flat loop returns a constant
//!   from its rescue and does its work outside the block; here the work stays in the block so
//!   every variant does the same work per lap.)
//!
//! Every role ends with the number of laps and its digest: `d = sha256(d ++ work_hard(lap))`
//! over laps `0..laps`, from 32 zero bytes.

use rehearsal::{At, Choreo, ChoreoError, Choreography, FamilySizes, Outcomes, Program, Roles};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Monitor, Runner, VARIANT_PARAM, Variant, hex, laps_of, work_hard};
use crate::scenario::{Param, Params, outcome_of};

/// The roles.
pub type Census = Roles![Runner, Monitor];

/// Parameters: the variant and the number of laps.
pub const PARAMS: &[Param] = &[
    VARIANT_PARAM,
    Param {
        name: "laps",
        default: 3,
        summary: "laps of 1,001 sha256 hashes at each role (Chorex's flat-10k: 10000)",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "every-lap-done-once",
    "every role ends with `laps` laps and its digest of work_hard(0..laps) in order",
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

/// The digest after `laps` laps.
pub fn expected_digest(laps: u64) -> Digest32 {
    (0..laps).fold([0; 32], |d, lap| fold(&d, &work_hard(lap)))
}

/// What each role ends with.
#[derive(Debug, Serialize)]
pub struct Laps {
    /// Laps done.
    pub laps: u64,
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
    /// How many laps.
    pub laps: u64,
}

/// Both roles' digests.
type Digests = (At<Digest32, Runner>, At<Digest32, Monitor>);

impl Choreography for FlatLoop {
    type Census = Census;
    type Output = Laps;

    async fn run(self, ch: &Choreo<Census>) -> Result<Laps, ChoreoError> {
        let laps = self.laps;
        let mut digests: Digests = (
            ch.locally(Runner, |_| [0; 32]).await?,
            ch.locally(Monitor, |_| [0; 32]).await?,
        );
        let mut lap = 0u64;
        loop {
            let n = ch.locally(Runner, |_| lap).await?;
            let l = ch.at("lap").comm(Runner, Monitor, &n).await?;
            let more = ch.locally(Monitor, |m| *m.get(&l) < laps).await?;
            if !ch.at("more").broadcast(Monitor, more).await? {
                break;
            }
            digests = match self.variant {
                Variant::Baseline => work(ch, lap, &l, digests).await?,
                Variant::Chk => {
                    ch.checkpoint(
                        (digests, l),
                        move |ch, (d, l)| async move { work(&ch, lap, &l, d).await },
                        move |ch, (d, l), _why| async move { work(&ch, lap, &l, d).await },
                    )
                    .await?
                }
                Variant::ChkCrash => {
                    ch.checkpoint(
                        (digests, l),
                        move |ch, (d, l)| async move {
                            ch.at("explode").locally(Monitor, |_| explode(0)).await?;
                            work(&ch, lap, &l, d).await
                        },
                        move |ch, (d, l), _why| async move { work(&ch, lap, &l, d).await },
                    )
                    .await?
                }
            };
            lap += 1;
        }
        let runner = ch.locally(Runner, |r| hex(r.get(&digests.0))).await?;
        let monitor = ch.locally(Monitor, |m| hex(m.get(&digests.1))).await?;
        Ok(Laps {
            laps: lap,
            runner,
            monitor,
        })
    }
}

/// Monitor's `1 / divisor` (a crash when `divisor` is 0).
fn explode(divisor: u64) -> u64 {
    1 / divisor
}

/// One lap's work at both roles: Runner on its lap number, Monitor on the one it received.
async fn work(
    ch: &Choreo<Census>,
    lap: u64,
    l: &At<u64, Monitor>,
    (runner, monitor): Digests,
) -> Result<Digests, ChoreoError> {
    let runner = ch
        .at("runner-work")
        .locally(Runner, |r| fold(r.get(&runner), &work_hard(lap)))
        .await?;
    let monitor = ch
        .at("monitor-work")
        .locally(Monitor, |m| fold(m.get(&monitor), &work_hard(*m.get(l))))
        .await?;
    Ok((runner, monitor))
}

pub(crate) fn program(p: &Params) -> Result<Program, ChoreoError> {
    let variant = Variant::from_params(p)?;
    let laps = laps_of(p)?;
    Program::new(FlatLoop { variant, laps }, &FamilySizes::new())
}

pub(crate) fn oracle(p: &Params, outcomes: &Outcomes) -> Vec<String> {
    #[derive(Deserialize)]
    struct Seen {
        laps: u64,
        runner: Option<String>,
        monitor: Option<String>,
    }
    let laps = p.get("laps");
    let want = hex(expected_digest(laps));
    let mut violations = Vec::new();
    for role in ["Runner", "Monitor"] {
        let seen = match outcome_of::<Seen>(outcomes, role) {
            Ok(seen) => seen,
            Err(e) => {
                violations.push(format!("every-lap-done-once: {e}"));
                continue;
            }
        };
        let digest = if role == "Runner" {
            seen.runner
        } else {
            seen.monitor
        };
        if seen.laps != laps || digest.as_deref() != Some(want.as_str()) {
            violations.push(format!(
                "every-lap-done-once: {role} ended with {} laps and digest {digest:?}; \
                 expected {laps} laps and {want}",
                seen.laps
            ));
        }
    }
    violations
}
