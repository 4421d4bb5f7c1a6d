//! Chorex's mini blockchain: Searcher looks for a nonce, Verifier checks it.
//!
//! Verifier sends Searcher the data (`"hello"`) and a start nonce `n` (Chorex's 42 with
//! `start=42`).
//! Attempt `x` (from 0): Searcher hashes `sha256(data ++ byte(n + x))` (the byte is
//! `(n + x) mod 256`) and sends Verifier the hash and `x`; Verifier decides (broadcast)
//! whether the hash's first byte is 0. If so, Searcher sends the nonce `n + x` and Verifier
//! ends with the nonce and the hash; if not, attempt `x + 1`. From 42 only the byte 242 gives
//! a first byte of 0, so the search makes exactly 201 attempts (200 bad ones) and ends with
//! nonce 242 and hash `00ef494c…`.
//!
//! * `variant=0` (Chorex's `search_no_try`): the attempts in a loop; Searcher sends the hash
//!   alone.
//! * `variant=1` (`search`): Searcher sends the hash and `x`; each attempt runs inside a
//!   checkpoint, and the next attempt runs inside the previous attempt's checkpoint (201
//!   nested blocks from 42). Nothing crashes.
//! * `variant=2` (`search` with Chorex's `VolitileVerifier`): the same code, but Verifier's
//!   check panics on every bad hash; the next attempt runs from the rescue (flat: one crash and
//!   one rescue per bad attempt, 200 from 42).
//!
//! **The rescue sends nothing**, as Chorex's. It goes on with the next attempt, `x + 1`, as a
//! tail call (a loop around the checkpointed search, so crashing searches stay flat). Under
//! the planned crashes that is all it does. A fault from outside can also crash the one good
//! attempt, after which Chorex's rescue would skip the good nonce and search on (here the byte
//! wraps around: the same hash 256 attempts later, with another nonce). So that the outcome
//! stays the reference outcome under any fault, the rescue goes on with `x + 1` only when
//! attempt `x`'s hash is bad, and retries `x` otherwise: every role can tell, since the data
//! and the start nonce are plain values of the choreography, at the price of one sha256 per
//! rescue at each role (and no message). The rescue does not look at its cause, which
//! participants that crash in the same block at once may each see differently.
//!
//! The registry's default start nonce is 232 (11 attempts, the same answer), so that
//! exploring it stays fast; the benches use 42. Each block's body runs as a task of its own,
//! so 201 nested blocks do not grow the stack.

use rehearsal::net::transport::BoxFuture;
use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::scenario::Outputs;
use rehearsal_sim::scenario::{Scenario, ScenarioBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{VARIANT_PARAM, Variant, hex};
use rehearsal_sim::scenario::{Param, Params};

roles!(Searcher, Verifier);

/// The roles.
pub type Census = Roles![Searcher, Verifier];

/// The data the nonce is searched for.
pub const DATA: &str = "hello";

/// Chorex's start nonce.
pub const START_NONCE: u64 = 42;

/// The registry's default start nonce: 11 attempts to the same answer as from 42.
pub const DEFAULT_START: u64 = 232;

/// The start of the message of Verifier's planned panic (crashing variant).
pub const BAD_HASH: &str = "bad hash";

/// Parameters: the variant and the start nonce.
pub const PARAMS: &[Param] = &[
    VARIANT_PARAM,
    Param {
        name: "start",
        default: DEFAULT_START,
        summary: "start nonce n; attempt x hashes \"hello\" ++ byte((n + x) mod 256) \
                  (Chorex's 42: 201 attempts)",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "finds-the-first-good-nonce",
    "Verifier ends with the first nonce n + x whose hash starts with a 0 byte (242 from 42 or \
     232) and its hash, Searcher with the number of attempts (201 from 42, 11 from 232)",
)];

/// Searcher's hash of attempt nonce `nonce`: `sha256(data ++ byte(nonce mod 256))`.
pub fn hash(data: &str, nonce: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data.as_bytes());
    h.update([nonce as u8]);
    h.finalize().into()
}

/// Whether Verifier accepts `hash`: its first byte is 0.
pub fn good_hash(hash: &[u8; 32]) -> bool {
    hash[0] == 0
}

/// The known answer from start nonce `start`: the attempts made, the nonce and its hash.
pub fn expected(start: u64) -> (u64, u64, [u8; 32]) {
    let mut x = 0;
    loop {
        let h = hash(DATA, start + x);
        if good_hash(&h) {
            return (x + 1, start + x, h);
        }
        x += 1;
    }
}

/// What each role ends with.
#[derive(Debug, Serialize)]
pub struct Block {
    /// The nonce found.
    pub nonce: At<u64, Verifier>,
    /// Its hash, in hex.
    pub hash: At<String, Verifier>,
    /// How many attempts the search made.
    pub attempts: At<u64, Searcher>,
}

/// The choreography.
#[derive(Clone, Copy, Debug)]
pub struct MiniBlockchain {
    /// Which benchmark variant.
    pub variant: Variant,
    /// The start nonce.
    pub start: u64,
}

/// The data and the start nonce, as Searcher holds them.
type Job = At<(String, u64), Searcher>;

impl Choreography for MiniBlockchain {
    type Census = Census;
    type Output = Block;

    async fn run(self, ch: &Choreo<Census>) -> Result<Block, ChoreoError> {
        let job = ch
            .locally(Verifier, |_| (DATA.to_string(), self.start))
            .await?;
        let job = ch.at("job").comm(Verifier, Searcher, &job).await?;
        match self.variant {
            Variant::Baseline => {
                let mut x = 0;
                loop {
                    if let Some(block) = attempt(ch, &job, x, self.variant).await? {
                        return Ok(block);
                    }
                    x += 1;
                }
            }
            Variant::Chk | Variant::ChkCrash => {
                let mut x = 0;
                loop {
                    match search(ch, self, job.clone(), x).await? {
                        Searched::Found(block) => return Ok(block),
                        Searched::Retry(next) => x = next,
                    }
                }
            }
        }
    }
}

/// How a checkpointed search ended.
enum Searched {
    /// The good nonce was found.
    Found(Block),
    /// A rescue ran: go on with this attempt.
    Retry(u64),
}

/// Attempt `x` in a checkpoint: a bad hash leads to attempt `x + 1` inside this block. The
/// rescue sends nothing: it goes on with attempt `x + 1` from outside every block of the
/// search (a tail call from the rescue, written as a loop so that crashing searches do not
/// nest), or with `x` again if attempt `x` was the good one (only a fault from outside can
/// crash that one).
fn search<'a>(
    ch: &'a Choreo<Census>,
    cfg: MiniBlockchain,
    job: Job,
    x: u64,
) -> BoxFuture<'a, Result<Searched, ChoreoError>> {
    Box::pin(async move {
        ch.checkpoint(
            job,
            move |ch, job| async move {
                match attempt(&ch, &job, x, cfg.variant).await? {
                    Some(block) => Ok(Searched::Found(block)),
                    None => search(&ch, cfg, job, x + 1).await,
                }
            },
            move |_ch, _job, _why| async move {
                // Plain values: every role computes the same attempt.
                let good = good_hash(&hash(DATA, cfg.start + x));
                Ok(Searched::Retry(if good { x } else { x + 1 }))
            },
        )
        .await
    })
}

/// Attempt `x`: the block if its hash is good, else `None`. Searcher sends the hash (the
/// baseline, as Chorex's `search_no_try`) or the hash and `x` (the checkpointed variants, as
/// `search`); in the crashing variant Verifier panics on a bad hash instead of rejecting it.
async fn attempt(
    ch: &Choreo<Census>,
    job: &Job,
    x: u64,
    variant: Variant,
) -> Result<Option<Block>, ChoreoError> {
    let h = if variant == Variant::Baseline {
        let h = ch
            .locally(Searcher, |s| {
                let (data, n) = s.get(job);
                hash(data, n + x)
            })
            .await?;
        ch.at("hash").comm(Searcher, Verifier, &h).await?
    } else {
        let found = ch
            .locally(Searcher, |s| {
                let (data, n) = s.get(job);
                (hash(data, n + x), x)
            })
            .await?;
        let found = ch.at("hash").comm(Searcher, Verifier, &found).await?;
        ch.locally(Verifier, |v| v.get(&found).0).await?
    };
    let crashy = variant == Variant::ChkCrash;
    let good = ch
        .at("verify")
        .locally(Verifier, |v| {
            let h = v.get(&h);
            let good = good_hash(h);
            if crashy && !good {
                panic!("{BAD_HASH} at attempt {x}: first byte {:#04x}", h[0]);
            }
            good
        })
        .await?;
    if !ch.at("good").broadcast(Verifier, good).await? {
        return Ok(None);
    }
    let nonce = ch.locally(Searcher, |s| s.get(job).1 + x).await?;
    let nonce = ch.at("nonce").comm(Searcher, Verifier, &nonce).await?;
    let hash = ch.locally(Verifier, |v| hex(v.get(&h))).await?;
    let attempts = ch.locally(Searcher, |_| x + 1).await?;
    Ok(Some(Block {
        nonce,
        hash,
        attempts,
    }))
}

/// The scenario `mini-blockchain`: parameters [`PARAMS`]; its oracle checks the known answer.
pub fn scenario() -> ScenarioBuilder<MiniBlockchain> {
    Scenario::new(
        "mini-blockchain",
        "Chorex's nonce search: Searcher hashes \"hello\" ++ byte(n + x) until Verifier sees a 0 first byte (variant=0|1|2: baseline|chk|chk+crash)",
        choreography,
    )
    .roles(["Searcher", "Verifier"])
    .params(PARAMS.iter().copied())
    .range("variant", 0, 2, "")
    .range(
        "start",
        0,
        u64::MAX - 256,
        "the nonces tried, n to n + 256, must not pass u64::MAX",
    )
    .oracle_as::<Seen, _>(
        ORACLES[0].0,
        ORACLES[0].1,
        oracle,
    )
}

fn choreography(p: &Params) -> Result<MiniBlockchain, ChoreoError> {
    let variant = Variant::from_params(p)?;
    let start = p.get("start");
    if start.checked_add(256).is_none() {
        return Err(ChoreoError::Census {
            detail: format!("start = {start}; expected at most {}", u64::MAX - 256),
        });
    }
    Ok(MiniBlockchain { variant, start })
}

/// A participant's view of the output, as the oracle reads it.
#[derive(Deserialize)]
struct Seen {
    nonce: Option<u64>,
    hash: Option<String>,
    attempts: Option<u64>,
}

fn oracle(p: &Params, outcomes: &Outputs<Seen>) -> Vec<String> {
    let (attempts, nonce, h) = expected(p.get("start"));
    let h = hex(h);
    let mut violations = Vec::new();
    for role in ["Searcher", "Verifier"] {
        let seen = match outcomes.of(role) {
            Ok(seen) => seen,
            Err(e) => {
                violations.push(e);
                continue;
            }
        };
        if role == "Searcher" && seen.attempts != Some(attempts) {
            violations.push(format!(
                "Searcher made {:?} attempts; expected {attempts}",
                seen.attempts
            ));
        }
        if role == "Verifier" && (seen.nonce != Some(nonce) || seen.hash.as_deref() != Some(&h)) {
            violations.push(format!(
                "Verifier found nonce {:?} with hash {:?}; \
                 expected {nonce} with {h}",
                seen.nonce, seen.hash
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_42_the_search_makes_201_attempts() {
        let (attempts, nonce, h) = expected(START_NONCE);
        assert_eq!((attempts, nonce), (201, 242));
        assert!(hex(h).starts_with("00ef494c"), "{}", hex(h));
        assert_eq!(expected(DEFAULT_START), (11, 242, h));
    }
}
