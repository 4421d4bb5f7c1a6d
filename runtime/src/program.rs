//! Programs: choreographies with their census fixed, ready to run anywhere.
//!
//! A [`Program`] erases a choreography's types so harnesses (the in-process cluster, the
//! simulator, real processes) can start any participant of it and compare [`Outcomes`]. A
//! participant's outcome is the choreography's output serialized as JSON *as that participant
//! sees it* (values located elsewhere are absent), so the central reference run and the
//! projected runs compare participant by participant.
//!
//! The end of a session is agreed: a participant that finished its part sends each other
//! participant a notice (on the control lane, at the site labelled `session-end`) and waits
//! for theirs. So a session ends either with every participant's output, or with the same
//! failure at every participant, also at one that had finished its part before a peer's
//! crash ended the session. It costs one notice per ordered pair of participants and one
//! network delay per session.

use std::fmt;
use std::sync::Arc;

use crate::engine::saga::CentralSaga;
use crate::error::ChoreoError;
use crate::ident::{Census, FamilySizes, Participant, ParticipantId, SessionId};
use crate::lang::choreo::Choreography;
use crate::lang::path::{Follow, RunPath};
use crate::lang::run::{participate, run_central, view};
use crate::net::transport::{BoxFuture, NodeId};
use crate::node::Node;

/// One participant's result: its view of the output as JSON, or the error it ended with.
pub type RoleOutcome = Result<String, ChoreoError>;

/// Every participant's result, in census order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcomes {
    entries: Vec<(Participant, RoleOutcome)>,
}

impl Outcomes {
    /// Builds outcomes from per-participant results.
    pub fn new(entries: Vec<(Participant, RoleOutcome)>) -> Self {
        Outcomes { entries }
    }

    /// The results, in census order.
    pub fn entries(&self) -> &[(Participant, RoleOutcome)] {
        &self.entries
    }

    /// The result of `participant`.
    pub fn get(&self, participant: &str) -> Option<&RoleOutcome> {
        self.entries
            .iter()
            .find(|(p, _)| p.to_string() == participant)
            .map(|(_, o)| o)
    }

    /// Whether every participant ended without error.
    pub fn all_ok(&self) -> bool {
        self.entries.iter().all(|(_, o)| o.is_ok())
    }

    /// The participants whose results differ from `expected`, with both results.
    pub fn differences(&self, expected: &Outcomes) -> Vec<String> {
        let mut out = Vec::new();
        for (p, got) in &self.entries {
            let want = expected
                .entries
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, o)| o);
            match want {
                Some(want) if want == got => {}
                Some(want) => out.push(format!("{p}: expected {}, got {}", show(want), show(got))),
                None => out.push(format!("{p}: not in the expected outcomes")),
            }
        }
        for (p, _) in &expected.entries {
            if !self.entries.iter().any(|(q, _)| q == p) {
                out.push(format!("{p}: missing"));
            }
        }
        out
    }
}

fn show(o: &RoleOutcome) -> String {
    match o {
        Ok(v) => v.clone(),
        Err(e) => format!("error: {e}"),
    }
}

impl fmt::Display for Outcomes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (p, o) in &self.entries {
            writeln!(f, "{p}: {}", show(o))?;
        }
        Ok(())
    }
}

trait Erased: Send + Sync {
    fn start(
        &self,
        node: &Node,
        session: SessionId,
        me: ParticipantId,
        placement: Arc<[NodeId]>,
    ) -> BoxFuture<'static, RoleOutcome>;
    fn reference(&self, session: SessionId, follow: Arc<Follow>) -> BoxFuture<'static, Outcomes>;
}

struct Typed<Ch> {
    choreo: Ch,
    census: Arc<Census>,
}

impl<Ch: Choreography + Clone + Sync> Erased for Typed<Ch> {
    fn start(
        &self,
        node: &Node,
        session: SessionId,
        me: ParticipantId,
        placement: Arc<[NodeId]>,
    ) -> BoxFuture<'static, RoleOutcome> {
        let s = node.open_session(session, me, self.census.clone(), placement);
        let choreo = self.choreo.clone();
        let node = node.clone();
        Box::pin(async move {
            participate(choreo, node, s, false)
                .await
                .map(|ended| ended.json().to_string())
        })
    }

    fn reference(&self, session: SessionId, follow: Arc<Follow>) -> BoxFuture<'static, Outcomes> {
        let choreo = self.choreo.clone();
        let census = self.census.clone();
        Box::pin(async move {
            let result =
                run_central(choreo, census.clone(), session, follow, CentralSaga::root()).await;
            Outcomes::new(
                census
                    .participants()
                    .iter()
                    .map(|&p| {
                        let o = match &result {
                            Ok(out) => view(p, out),
                            Err(e) => Err(e.clone()),
                        };
                        (p, o)
                    })
                    .collect(),
            )
        })
    }
}

/// A choreography with its census fixed: what harnesses start and compare.
///
/// ```
/// use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, Program, Roles, roles};
///
/// roles!(Ping, Pong);
///
/// #[derive(Clone)]
/// struct Echo(u32);
///
/// impl Choreography for Echo {
///     type Census = Roles![Ping, Pong];
///     type Output = u32;
///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
///         let n = ch.locally(Ping, |_| self.0).await?;
///         let n = ch.comm(Ping, Pong, &n).await?;
///         let m = ch.locally(Pong, |pong| pong.get(&n) + 1).await?;
///         ch.broadcast(Pong, m).await
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let program = Program::new(Echo(41), &FamilySizes::new()).unwrap();
/// let cluster = LocalCluster::new();
/// let outcomes = cluster.run(&program).await;
/// assert_eq!(outcomes, program.reference().await);
/// assert_eq!(outcomes.get("Pong"), Some(&Ok("42".to_string())));
/// # }
/// ```
#[derive(Clone)]
pub struct Program {
    census: Arc<Census>,
    inner: Arc<dyn Erased>,
}

impl Program {
    /// Fixes `choreo`'s census with the given family sizes.
    pub fn new<Ch: Choreography + Clone + Sync>(
        choreo: Ch,
        sizes: &FamilySizes,
    ) -> Result<Program, ChoreoError> {
        let census = Arc::new(Census::of::<Ch::Census>(sizes)?);
        Ok(Program {
            census: census.clone(),
            inner: Arc::new(Typed { choreo, census }),
        })
    }

    /// The participants, in census order.
    pub fn census(&self) -> &Census {
        &self.census
    }

    /// Opens participant `me`'s part of session `session` on `node` now (so frames for it are
    /// accepted from this moment) and returns the future that runs it. `placement[i]` is the
    /// node hosting participant `i`.
    pub fn start(
        &self,
        node: &Node,
        session: SessionId,
        me: ParticipantId,
        placement: Arc<[NodeId]>,
    ) -> BoxFuture<'static, RoleOutcome> {
        self.inner.start(node, session, me, placement)
    }

    /// The reference run: the choreography evaluated centrally, no transport, no fault.
    pub async fn reference(&self) -> Outcomes {
        self.inner
            .reference(SessionId(0), Arc::new(Follow::default()))
            .await
    }

    /// The reference run along the path a projected run took: the central run takes the
    /// rescue in the block instances `path` says were rescued (skipping their bodies, with the
    /// recorded cause) and times out the receives it says timed out; see [`RunPath`] for
    /// exactly what it does. With an empty path it is [`Program::reference`] (run as the
    /// path's session). Where participants saw different causes for one block instance, each
    /// participant's expected outcome comes from a central run with its own cause (one run
    /// per distinct set of choices).
    ///
    /// ```
    /// use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, Program, Roles, RunPath, SessionId, roles};
    ///
    /// roles!(Alice, Bob);
    ///
    /// #[derive(Clone)]
    /// struct Greet;
    ///
    /// impl Choreography for Greet {
    ///     type Census = Roles![Alice, Bob];
    ///     type Output = String;
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
    ///         let hi = ch.locally(Alice, |_| "hi".to_string()).await?;
    ///         ch.broadcast(Alice, hi).await
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let program = Program::new(Greet, &FamilySizes::new()).unwrap();
    /// // A run that took no rescue and no timeout expects the fault-free outcome.
    /// let path = RunPath::new(SessionId(1));
    /// assert_eq!(program.reference_along(&path).await, program.reference().await);
    /// # }
    /// ```
    pub async fn reference_along(&self, path: &RunPath) -> Outcomes {
        if path.is_empty() {
            return self
                .inner
                .reference(path.session(), Arc::new(Follow::default()))
                .await;
        }
        let mut runs: Vec<(Follow, Outcomes)> = Vec::new();
        let mut entries = Vec::new();
        for &p in self.census.participants() {
            let follow = path.follow_for(p);
            let i = match runs.iter().position(|(f, _)| *f == follow) {
                Some(i) => i,
                None => {
                    let outcomes = self
                        .inner
                        .reference(path.session(), Arc::new(follow.clone()))
                        .await;
                    runs.push((follow, outcomes));
                    runs.len() - 1
                }
            };
            let outcome = runs[i]
                .1
                .entries()
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| {
                    Err(ChoreoError::Census {
                        detail: format!("the reference run has no outcome for {p}"),
                    })
                });
            entries.push((p, outcome));
        }
        Outcomes::new(entries)
    }
}
