//! Listener: a server that runs each connection as a nested session, one of which always fails.
//!
//! Srv opens `connections` nested sessions (`ch.spawn_session`) over Srv and Cli, side by
//! side; connection n asks Cli for n·n + 1 inside a checkpoint whose rescue asks again.
//! Connection `failing` crashes at Cli every time it answers (body and rescue alike), so that
//! session fails. Srv then sums the answers of the connections that succeeded and reports the
//! sum to Obs, who is in no connection; every role ends with every connection's status.
//!
//! It pins down how nested sessions recover: a crash of Srv or Cli anywhere (also after a
//! connection ended, with its peer gone) is recovered by replay without re-running a finished
//! connection; a one-off panic inside a connection is masked; Obs learns each connection's
//! fate from the join, so it agrees with the reference run; and a panic planted at a site
//! crashes the operator there (`request` is a send, `attempt` the checkpoint).

use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::scenario::{Outputs, Param, Params, Scenario, ScenarioBuilder};
use serde::{Deserialize, Serialize};

roles!(Srv, Cli, Obs);

/// Parameters.
pub const PARAMS: &[Param] = &[
    Param {
        name: "connections",
        default: 4,
        summary: "connections, each a nested session",
    },
    Param {
        name: "failing",
        default: 2,
        summary: "the connection that always fails at Cli (0: none)",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "sum-of-the-connections-that-succeeded",
    "every role sees the failing connection (and only it) failed; Obs gets the sum of n*n+1 over the others",
)];

/// How the failing connection's crash at Cli begins (a planned crash: quiet, see
/// [`crate::chorex::quiet_planned_crashes`]).
pub const REFUSED: &str = "connection refused at Cli:";

/// One connection's answer.
pub fn answer(n: u64) -> u64 {
    n * n + 1
}

/// One connection: Srv asks, Cli answers, inside a checkpoint that asks again on a crash.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Which connection (from 1).
    pub n: u64,
    /// Whether Cli crashes whenever it answers.
    pub fails: bool,
}

impl Choreography for Connection {
    type Census = Roles![Srv, Cli];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let (n, fails) = (self.n, self.fails);
        ch.at("attempt")
            .checkpoint(
                n,
                move |ch, n| async move { exchange(&ch, n, fails, ["request", "reply"]).await },
                move |ch, n, _why| async move {
                    exchange(&ch, n, fails, ["request-again", "reply-again"]).await
                },
            )
            .await
    }
}

async fn exchange(
    ch: &Choreo<Roles![Srv, Cli]>,
    n: u64,
    fails: bool,
    [request, reply]: [&'static str; 2],
) -> Result<u64, ChoreoError> {
    let asked = ch.locally(Srv, |_| n).await?;
    let asked = ch.at(request).comm(Srv, Cli, &asked).await?;
    let answered = ch
        .at("answer")
        .locally(Cli, |c| {
            let n = *c.get(&asked);
            assert!(!fails, "{REFUSED} connection {n}");
            answer(n)
        })
        .await?;
    let answered = ch.at(reply).comm(Cli, Srv, &answered).await?;
    ch.at("result").broadcast(Srv, answered).await
}

/// What every role ends with.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// Each connection's status, in order: `Ok`, or its error.
    pub statuses: Vec<Result<(), String>>,
    /// The sum of the answers of the connections that succeeded, at Obs.
    pub sum: At<u64, Obs>,
}

/// The listener.
#[derive(Clone, Debug)]
pub struct Listener {
    /// How many connections.
    pub connections: u64,
    /// The one that always fails (0: none).
    pub failing: u64,
}

impl Choreography for Listener {
    type Census = Roles![Srv, Cli, Obs];
    type Output = Report;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Report, ChoreoError> {
        let mut running = Vec::new();
        for n in 1..=self.connections {
            let fails = n == self.failing;
            running.push(ch.at("connect").spawn_session(Connection { n, fails })?);
        }
        let (mut statuses, mut answers) = (Vec::new(), Vec::new());
        for connection in running {
            match connection.join().await? {
                Ok(answer) => {
                    statuses.push(Ok(()));
                    answers.push(answer);
                }
                Err(e) => statuses.push(Err(e.to_string())),
            }
        }
        let sum = ch
            .at("sum")
            .locally(Srv, |s| {
                answers.iter().map(|a| *s.get_shared(a)).sum::<u64>()
            })
            .await?;
        let sum = ch.at("report").comm(Srv, Obs, &sum).await?;
        Ok(Report { statuses, sum })
    }
}

/// The scenario.
pub fn scenario() -> ScenarioBuilder<Listener> {
    Scenario::new(
        "listener",
        "a server runs each connection as a nested session (one always fails at Cli); Obs gets the sum of the others",
        |p| {
            crate::chorex::quiet_planned_crashes();
            Ok(Listener {
                connections: p.get("connections"),
                failing: p.get("failing"),
            })
        },
    )
    .roles(["Srv", "Cli", "Obs"])
    .params(PARAMS.iter().copied())
    .range("connections", 1, 64, "each connection is a session of its own")
    .range("failing", 0, 64, "a connection's number, or 0 for none")
    .oracle_as::<Seen, _>(ORACLES[0].0, ORACLES[0].1, oracle)
}

/// A participant's view of [`Report`].
#[derive(Deserialize)]
struct Seen {
    statuses: Vec<Result<(), String>>,
    sum: Option<u64>,
}

fn oracle(p: &Params, outcomes: &Outputs<Seen>) -> Vec<String> {
    let (connections, failing) = (p.get("connections"), p.get("failing"));
    let want: u64 = (1..=connections)
        .filter(|&n| n != failing)
        .map(answer)
        .sum();
    let mut out = Vec::new();
    for role in ["Srv", "Cli", "Obs"] {
        let seen = match outcomes.of(role) {
            Ok(seen) => seen,
            Err(e) => {
                out.push(e);
                continue;
            }
        };
        let failed: Vec<u64> = (1..=connections)
            .zip(&seen.statuses)
            .filter(|(_, s)| s.is_err())
            .map(|(n, _)| n)
            .collect();
        let expected: Vec<u64> = (1..=connections).filter(|&n| n == failing).collect();
        if seen.statuses.len() as u64 != connections || failed != expected {
            out.push(format!(
                "{role} sees connections {failed:?} of {} failed; expected {expected:?} of {connections}",
                seen.statuses.len()
            ));
        }
        if role == "Obs" && seen.sum != Some(want) {
            out.push(format!("Obs got the sum {:?}; expected {want}", seen.sum));
        }
    }
    out
}
