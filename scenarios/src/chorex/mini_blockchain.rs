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
//! * `variant=0`: the attempts in a loop.
//! * `variant=1`: each attempt runs inside a checkpoint, and the next attempt runs inside the
//!   previous attempt's checkpoint (201 nested blocks). Nothing crashes.
//! * `variant=2`: the same code, but Verifier's check panics on every bad hash; the next
//!   attempt runs from the rescue (flat: one crash and one rescue per bad attempt).
//!
//! The rescue's "go on with the next attempt" is a tail call, written as a loop around the
//! checkpointed search, so the crashing variant is flat on the stack too. In the rescue
//! Verifier decides (broadcast) where to go on: the next attempt after its planned panic,
//! the same attempt again after any other cause (a fault injected from outside), so the
//! search never skips the good nonce. (The cause is Verifier's own view: participants that
//! crash in the same block at once may each see their own, so the roles cannot all branch on
//! it. Chorex's rescue always goes on with `x + 1` and needs no broadcast.)
//!
//! The registry's default start nonce is 232 (11 attempts, the same answer), so that
//! exploring it stays fast; the benches use 42. From 42 the checkpointed variant nests 201
//! blocks, which needs about 1.5 MiB of stack in a release build and 4 MiB in a debug build:
//! more than the 2 MiB of a spawned thread in debug (see [the module docs](super)).

use rehearsal::net::transport::BoxFuture;
use rehearsal::{
    At, Choreo, ChoreoError, Choreography, FamilySizes, Outcomes, Program, Roles, roles,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{VARIANT_PARAM, Variant, hex, planned};
use crate::scenario::{Param, Params, outcome_of};

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
                    if let Some(block) = attempt(ch, &job, x, false).await? {
                        return Ok(block);
                    }
                    x += 1;
                }
            }
            Variant::Chk | Variant::ChkCrash => {
                let crashy = self.variant == Variant::ChkCrash;
                let mut x = 0;
                loop {
                    match search(ch, job.clone(), x, crashy).await? {
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

/// Attempt `x` in a checkpoint: a bad hash leads to attempt `x + 1` inside this block. In
/// the rescue Verifier decides (broadcast) where to go on: attempt `x + 1` after its planned
/// crash (attempt `x` is bad), `x` again after any other; the search goes there from outside
/// every block of the search (a tail call from the rescue, written as a loop so that
/// crashing searches do not nest futures).
fn search<'a>(
    ch: &'a Choreo<Census>,
    job: Job,
    x: u64,
    crashy: bool,
) -> BoxFuture<'a, Result<Searched, ChoreoError>> {
    Box::pin(async move {
        ch.checkpoint(
            job,
            move |ch, job| async move {
                match attempt(&ch, &job, x, crashy).await? {
                    Some(block) => Ok(Searched::Found(block)),
                    None => search(&ch, job, x + 1, crashy).await,
                }
            },
            move |ch, _job, why| async move {
                // Verifier decides from its own view of the cause (participants that
                // crash in the same block at once may each see their own).
                let next = ch
                    .locally(Verifier, |_| if planned(&why.message) { x + 1 } else { x })
                    .await?;
                let next = ch.at("retry").broadcast(Verifier, next).await?;
                Ok(Searched::Retry(next))
            },
        )
        .await
    })
}

/// Attempt `x`: the block if its hash is good, else `None`. With `crashy`, Verifier panics
/// on a bad hash instead of rejecting it.
async fn attempt(
    ch: &Choreo<Census>,
    job: &Job,
    x: u64,
    crashy: bool,
) -> Result<Option<Block>, ChoreoError> {
    let found = ch
        .locally(Searcher, |s| {
            let (data, n) = s.get(job);
            (hash(data, n + x), x)
        })
        .await?;
    let found = ch.at("hash").comm(Searcher, Verifier, &found).await?;
    let good = ch
        .at("verify")
        .locally(Verifier, |v| {
            let (h, x) = v.get(&found);
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
    let hash = ch.locally(Verifier, |v| hex(v.get(&found).0)).await?;
    let attempts = ch.locally(Searcher, |_| x + 1).await?;
    Ok(Some(Block {
        nonce,
        hash,
        attempts,
    }))
}

pub(crate) fn program(p: &Params) -> Result<Program, ChoreoError> {
    let variant = Variant::from_params(p)?;
    let start = p.get("start");
    if start.checked_add(256).is_none() {
        return Err(ChoreoError::Census {
            detail: format!("start = {start}; expected at most {}", u64::MAX - 256),
        });
    }
    Program::new(MiniBlockchain { variant, start }, &FamilySizes::new())
}

pub(crate) fn oracle(p: &Params, outcomes: &Outcomes) -> Vec<String> {
    #[derive(Deserialize)]
    struct Seen {
        nonce: Option<u64>,
        hash: Option<String>,
        attempts: Option<u64>,
    }
    let (attempts, nonce, h) = expected(p.get("start"));
    let h = hex(h);
    let mut violations = Vec::new();
    for role in ["Searcher", "Verifier"] {
        let seen = match outcome_of::<Seen>(outcomes, role) {
            Ok(seen) => seen,
            Err(e) => {
                violations.push(format!("finds-the-first-good-nonce: {e}"));
                continue;
            }
        };
        if role == "Searcher" && seen.attempts != Some(attempts) {
            violations.push(format!(
                "finds-the-first-good-nonce: Searcher made {:?} attempts; expected {attempts}",
                seen.attempts
            ));
        }
        if role == "Verifier" && (seen.nonce != Some(nonce) || seen.hash.as_deref() != Some(&h)) {
            violations.push(format!(
                "finds-the-first-good-nonce: Verifier found nonce {:?} with hash {:?}; \
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
