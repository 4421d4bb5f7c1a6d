//! Alice and Bob: each sends the other a greeting and returns what it received.
//!
//! Chorex's minimal crash example: the exchange runs inside a checkpoint whose first step is
//! a division at Alice (`ch.at("divide")`). When Alice crashes there (say, dividing by zero:
//! `fault-plans/alice-divides-by-zero.toml`), both roles abandon the block, run the rescue,
//! and still exchange their messages and return, so the outcome is the same on both paths.
//! Each role's outcome holds only its own value, so it also checks that outcomes are
//! compared per participant.

use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::scenario::ScenarioBuilder;
use rehearsal_sim::scenario::{Outputs, Param};
use rehearsal_sim::scenario::{Params, Scenario};
use serde::Deserialize;
use serde::Serialize;

roles!(Alice, Bob);

/// Parameters: none.
pub const PARAMS: &[Param] = &[];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "each-receives-the-other",
    "Alice ends with Bob's message and Bob with Alice's",
)];

/// Each role's received message, located at it.
#[derive(Debug, Serialize)]
pub struct Received {
    /// What Alice received.
    pub alice: At<String, Alice>,
    /// What Bob received.
    pub bob: At<String, Bob>,
}

/// The choreography.
#[derive(Clone, Debug, Default)]
pub struct AliceBob;

impl Choreography for AliceBob {
    type Census = Roles![Alice, Bob];
    type Output = Received;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Received, ChoreoError> {
        ch.checkpoint(
            100u32,
            |ch, dividend| async move {
                let divisor = ch.locally(Alice, |_| 4u32).await?;
                let _share = ch
                    .at("divide")
                    .locally(Alice, |a| {
                        dividend
                            .checked_div(*a.get(&divisor))
                            .expect("attempt to divide by zero")
                    })
                    .await?;
                exchange(&ch, "to-bob", "to-alice").await
            },
            |ch, _, _why| async move {
                let received =
                    exchange(&ch, "to-bob-after-rescue", "to-alice-after-rescue").await?;
                // A goal of its own: some run should see Alice get Bob's answer in the rescue.
                ch.sometimes(Alice, "answered-after-rescue", |a| {
                    !a.get(&received.alice).is_empty()
                });
                Ok(received)
            },
        )
        .await
    }
}

/// Alice greets Bob, Bob answers with the length of the greeting.
async fn exchange(
    ch: &Choreo<Roles![Alice, Bob]>,
    to_bob: &'static str,
    to_alice: &'static str,
) -> Result<Received, ChoreoError> {
    let hello = ch
        .locally(Alice, |_| "hello from Alice".to_string())
        .await?;
    let bob = ch.at(to_bob).comm(Alice, Bob, &hello).await?;
    let reply = ch
        .locally(Bob, |b| format!("Bob got {} bytes", b.get(&bob).len()))
        .await?;
    let alice = ch.at(to_alice).comm(Bob, Alice, &reply).await?;
    Ok(Received { alice, bob })
}

/// The scenario: no parameters; its oracle checks what each role received.
pub fn scenario() -> ScenarioBuilder<AliceBob> {
    Scenario::new(
        "alice-bob",
        "Alice and Bob exchange messages and each returns what it received",
        |_| Ok(AliceBob),
    )
    .roles(["Alice", "Bob"])
    .oracle_as::<Seen, _>(ORACLES[0].0, ORACLES[0].1, oracle)
}

/// A participant's view of [`Received`]: the value of the other role is absent.
#[derive(Deserialize)]
struct Seen {
    alice: Option<String>,
    bob: Option<String>,
}

fn oracle(_: &Params, outcomes: &Outputs<Seen>) -> Vec<String> {
    let mut violations = Vec::new();
    let checks = [
        ("Alice", "Bob got 16 bytes", true),
        ("Bob", "hello from Alice", false),
    ];
    for (role, want, is_alice) in checks {
        match outcomes.of(role) {
            Ok(seen) => {
                let got = if is_alice { &seen.alice } else { &seen.bob };
                if got.as_deref() != Some(want) {
                    violations.push(format!("{role} received {got:?}; expected {want:?}"));
                }
            }
            Err(e) => violations.push(e),
        }
    }
    violations
}
