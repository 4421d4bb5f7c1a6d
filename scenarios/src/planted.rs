//! Test-only scenarios with planted bugs, for testing the explorer. Not in [`registry`]
//! (so `rehearsal list` and a plain `explore` never run them), but [`find`] knows them.
//!
//! [`registry`]: crate::registry
//! [`find`]: crate::find

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};

use rehearsal_sim::scenario::{Param, Scenario, ScenarioBuilder};

roles!(Requester, Responder);

/// Parameters: none.
pub const PARAMS: &[Param] = &[];

/// Oracles beyond the reference oracle: none (the reference oracle catches the bug).
pub const ORACLES: &[(&str, &str)] = &[];

/// The planted bug: Requester reads the clock in its local code (outside the determinism
/// contract) and, if the reply took more than 1.5 s, gives up *on its own*, without telling
/// Responder. Any fault that holds the request or the reply back that long (a delay, a
/// partition, a pause, a run of losses) makes the two roles' outcomes disagree with the
/// reference run.
#[derive(Clone, Debug, Default)]
pub struct ImpatientRequester;

impl Choreography for ImpatientRequester {
    type Census = Roles![Requester, Responder];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        let started = ch
            .locally(Requester, |_| tokio::time::Instant::now())
            .await?;
        let req = ch.locally(Requester, |_| 21u64).await?;
        let req = ch.at("request").comm(Requester, Responder, &req).await?;
        let rep = ch.locally(Responder, |r| r.get(&req) * 2).await?;
        let rep = ch.at("reply").comm(Responder, Requester, &rep).await?;
        let verdict = ch
            .locally(Requester, |r| {
                if r.get(&started).elapsed() > std::time::Duration::from_millis(1_500) {
                    "gave up".to_string()
                } else {
                    format!("got {}", r.get(&rep))
                }
            })
            .await?;
        let ack = ch.locally(Responder, |_| "served".to_string()).await?;
        let ack = ch.at("ack").comm(Responder, Requester, &ack).await?;
        let done = ch
            .locally(Requester, |r| {
                format!("{} ({})", r.get(&verdict), r.get(&ack))
            })
            .await?;
        ch.at("result").broadcast(Requester, done).await
    }
}

/// The scenario `planted-impatience`: no parameters, no oracle beyond the reference oracle
/// (which catches the bug).
pub fn impatience() -> ScenarioBuilder<ImpatientRequester> {
    Scenario::new(
        "planted-impatience",
        "TEST ONLY: Requester silently gives up when a reply takes over 1.5 s (a planted, fault-sensitive bug)",
        |_| Ok(ImpatientRequester),
    )
    .roles(["Requester", "Responder"])
}
