//! Choreographies made of choreographies: `enclave` (a sub-choreography over fewer roles),
//! `call` (over the same roles; recursion) and `spawn_session` (a nested session of its own,
//! with its own id, started now and joined later). Sub-choreographies run as tasks of their
//! own, so recursion does not grow the stack.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::engine::session::{Session, child_number};
use crate::error::ChoreoError;
use crate::ident::{Census, ParticipantId, Site};
use crate::lang::census::{Nil, RoleSet, Subset};
use crate::lang::choreo::{Choreo, Choreography, Ctx, spawn_point};
use crate::lang::located::Shared;
use crate::lang::run::{Ended, participate, run_central};
use crate::lang::task::Child;
use crate::net::transport::{NodeId, lock};
use crate::node::Node;
use crate::observer::Verdict;

impl<C: RoleSet> Choreo<C> {
    /// Runs sub-choreography `sub` over its own, smaller census: only its roles take part
    /// (so only they need to know its choices); the result exists at them. It runs as a task
    /// of its own, like [`Choreo::call`].
    pub async fn enclave<Sub, I>(
        &self,
        sub: Sub,
    ) -> Result<Shared<Sub::Output, Sub::Census>, ChoreoError>
    where
        Sub: Choreography,
        Sub::Census: Subset<C, I>,
    {
        {
            let _op = self.begin();
            self.proceed().await?;
            let members: Arc<[ParticipantId]> = self
                .ctx
                .census()
                .ids_of_set::<Sub::Census>()
                .into_iter()
                .filter(|p| self.scope.contains(p))
                .collect();
            if let Some(me) = self.me() {
                if !members.contains(&me) {
                    return Ok(Shared::absent());
                }
            }
            let ch = self.sub::<Sub::Census>(members);
            Child::spawn(async move { sub.run(&ch).await })
                .await
                .map(Shared::present)
        }
    }

    /// Runs sub-choreography `sub` over the same roles and returns its result. It runs as a
    /// task of its own, so a choreography may call itself recursively, as deep as it likes,
    /// without growing the stack.
    pub async fn call<Sub, I, J>(&self, sub: Sub) -> Result<Sub::Output, ChoreoError>
    where
        Sub: Choreography,
        Sub::Census: Subset<C, I>,
        C: Subset<Sub::Census, J>,
    {
        {
            let _op = self.begin();
            self.proceed().await?;
            let ch = self.sub::<Sub::Census>(self.scope.clone());
            Child::spawn(async move { sub.run(&ch).await }).await
        }
    }

    /// Starts a nested session of `sub` over its roles (a subset of this census) and returns
    /// at once; [`Spawned::join`] waits for its result. Sessions are isolated by their ids,
    /// which every participant derives the same way, so many may run side by side.
    ///
    /// A nested session recovers like any session: a crash inside it that escaped its
    /// checkpoints is replayed from its own journal (a transient crash is masked), and its end
    /// is recorded durably with its output, so a parent replayed after a restart gets the
    /// recorded result back instead of running it again against peers that have closed it.
    /// Whether it succeeded is agreed with the parent's participants outside it (see
    /// [`Spawned::join`]).
    #[track_caller]
    pub fn spawn_session<Sub, I>(
        &self,
        sub: Sub,
    ) -> Result<Spawned<Sub::Output, Sub::Census>, ChoreoError>
    where
        Sub: Choreography + Clone,
        Sub::Output: DeserializeOwned,
        Sub::Census: Subset<C, I>,
    {
        drop(self.begin());
        self.check_failed()?;
        let site = self.site();
        if let Ctx::Projected { session, .. } = &*self.ctx
            && session.doomed(self.epoch)
        {
            // A rescued body being aborted starts no session (see `Choreo::proceed`).
            return Ok(Spawned::absent());
        }
        let parent = self.ctx.census();
        let members: Vec<ParticipantId> = parent
            .ids_of_set::<Sub::Census>()
            .into_iter()
            .filter(|p| self.scope.contains(p))
            .collect();
        let census = Arc::new(Census::from_participants(
            members
                .iter()
                .filter_map(|&p| parent.participant(p))
                .collect(),
        ));
        match &*self.ctx {
            Ctx::Central {
                session,
                follow,
                counts,
                saga,
                ..
            } => {
                // Numbered as the participants number it, so a path recorded in a nested
                // session of the projected run names this one. The count is per spawn point
                // *in its block instance*: a participant that leaves a block early (rescued
                // before it got to the spawn) and one that spawned in it would otherwise
                // number the next instance's session differently, and two sessions that
                // are not the same would share an id.
                let key = spawn_point(&site, &members) ^ self.epoch;
                let n = lock(counts).next_child(key);
                let id = session.child(child_number(key, n));
                let task = tokio::spawn(run_central(sub, census, id, follow.clone(), saga.child()));
                Ok(Spawned::new(Some(task), None))
            }
            Ctx::Projected { node, session } => {
                let id = session
                    .id
                    .child(session.next_child(spawn_point(&site, &members) ^ self.epoch));
                let agree = self.agreement(&members);
                let Some(me) = parent.participant(session.me).and_then(|p| census.id_of(p)) else {
                    return Ok(Spawned::new(None, agree));
                };
                let placement: Arc<[NodeId]> = members
                    .iter()
                    .map(|p| session.placement[usize::from(p.0)])
                    .collect();
                let child = node.open_session(id, me, census, placement);
                let task = tokio::spawn(run_child(sub, node.clone(), child.clone()));
                session.adopt(child, task.abort_handle());
                Ok(Spawned::new(Some(task), agree).in_parent(session))
            }
        }
    }

    /// How the fate of a nested session over `members` reaches the participants of this
    /// handle outside it: none are, none needed.
    fn agreement(&self, members: &[ParticipantId]) -> Option<Agreement> {
        let teller = members.iter().copied().min()?;
        let outside: Vec<ParticipantId> = self
            .scope
            .iter()
            .copied()
            .filter(|p| !members.contains(p))
            .collect();
        (!outside.is_empty()).then(|| Agreement {
            parent: self.sub::<Nil>(self.scope.clone()),
            teller,
            outside,
        })
    }
}

/// How a nested session's participants outside it learn whether it succeeded: its first
/// member (in census order) tells them at the join, in the parent session.
struct Agreement {
    /// A handle of the parent, where the join runs.
    parent: Choreo<Nil>,
    teller: ParticipantId,
    outside: Vec<ParticipantId>,
}

/// A nested session started by [`Choreo::spawn_session`].
pub struct Spawned<O, S: RoleSet> {
    task: Option<tokio::task::JoinHandle<Result<O, ChoreoError>>>,
    agree: Option<Agreement>,
    /// The parent session at this participant (projected runs): a join stops waiting for
    /// the nested session once the parent failed.
    parent: Option<Arc<Session>>,
    _set: PhantomData<fn() -> S>,
}

impl<O, S: RoleSet> Spawned<O, S> {
    fn new(
        task: Option<tokio::task::JoinHandle<Result<O, ChoreoError>>>,
        agree: Option<Agreement>,
    ) -> Self {
        Spawned {
            task,
            agree,
            parent: None,
            _set: PhantomData,
        }
    }

    fn in_parent(mut self, parent: &Arc<Session>) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    fn absent() -> Self {
        Spawned::new(None, None)
    }

    /// Waits for the nested session to end and returns its fate: `Ok(output)` (the output
    /// exists at its roles) or the error it failed with. The fate is the same at every
    /// participant of the parent, inside the nested session or not (its first member tells
    /// the others, in the parent session, at this site), so every participant may branch on
    /// it, as the central reference run does.
    ///
    /// The outer error is this participant's own, not the nested session's: the parent
    /// session failed, or the participant crashed at the join. Pass it on with `?`, as after
    /// any operator, so a checkpoint rescues it or a replay masks it:
    ///
    /// ```
    /// use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
    ///
    /// roles!(Srv, Cli, Obs);
    ///
    /// #[derive(Clone)]
    /// struct Connection;
    ///
    /// impl Choreography for Connection {
    ///     type Census = Roles![Srv, Cli];
    ///     type Output = u32;
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
    ///         let n = ch.locally(Cli, |_| 7).await?;
    ///         ch.broadcast(Cli, n).await
    ///     }
    /// }
    ///
    /// #[derive(Clone)]
    /// struct Listener;
    ///
    /// impl Choreography for Listener {
    ///     type Census = Roles![Srv, Cli, Obs];
    ///     type Output = bool;
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<bool, ChoreoError> {
    ///         let connection = ch.spawn_session(Connection)?;
    ///         // Obs is not in the connection, yet learns whether it succeeded.
    ///         Ok(connection.join().await?.is_ok())
    ///     }
    /// }
    /// ```
    #[track_caller]
    #[allow(clippy::type_complexity)]
    pub fn join(
        self,
    ) -> impl Future<Output = Result<Result<Shared<O, S>, ChoreoError>, ChoreoError>> + Send
    where
        O: Send + 'static,
    {
        let site = Site::caller(None);
        async move {
            let op = self.agree.as_ref().map(|a| a.parent.begin());
            let ended = match (self.task, &self.parent) {
                (None, _) => None,
                (Some(task), None) => Some(task.await),
                // A parent that fails (a saga aborted by a participant that never starts
                // this session, say) ends the wait: the members that will not come are not
                // waited for, and the parent's failure is this participant's.
                (Some(mut task), Some(parent)) => tokio::select! {
                    biased;
                    r = &mut task => Some(r),
                    e = parent.failed() => {
                        task.abort();
                        return Err(e);
                    }
                },
            };
            let fate = match ended {
                None => Ok(Shared::absent()),
                Some(ended) => match ended {
                    Ok(result) => result.map(Shared::present),
                    Err(e) => Err(ChoreoError::Crashed {
                        role: "nested session".into(),
                        site: Box::new(site.clone()),
                        message: e.to_string(),
                    }),
                },
            };
            let Some(agree) = self.agree else {
                return Ok(fate);
            };
            agree.parent.proceed().await?;
            let me = agree.parent.me();
            let told = if me == Some(agree.teller) {
                let failed: Option<&ChoreoError> = fate.as_ref().err();
                let bytes = agree.parent.encode(&failed, &site)?;
                let mut verdict = Verdict::Continue;
                for &p in &agree.outside {
                    verdict = verdict.and(agree.parent.send_bytes(p, &site, bytes.clone()));
                }
                agree.parent.obey(verdict, &site).await?;
                fate
            } else if me.is_some_and(|m| agree.outside.contains(&m)) {
                let failed = agree
                    .parent
                    .receive::<Option<ChoreoError>>(agree.teller, &site);
                match failed.await? {
                    None => Ok(Shared::absent()),
                    Some(e) => Err(e),
                }
            } else {
                fate
            };
            drop(op);
            Ok(told)
        }
    }
}

/// A nested session: its participant's whole part (replayed after a crash, recorded at its
/// end); a parent replayed after a restart gets the recorded output back.
async fn run_child<Ch>(
    choreo: Ch,
    node: Node,
    session: Arc<Session>,
) -> Result<Ch::Output, ChoreoError>
where
    Ch: Choreography + Clone,
    Ch::Output: DeserializeOwned,
{
    let participant = session.participant();
    let decoded = match participate(choreo, node, session, true).await? {
        Ended::Ran(output, _) => return Ok(output),
        Ended::Recorded(_, Some(value)) => postcard::from_bytes(&value).map_err(|e| e.to_string()),
        Ended::Recorded(json, None) => serde_json::from_str(&json).map_err(|e| e.to_string()),
    };
    decoded.map_err(|detail| ChoreoError::Codec {
        action: "decode".into(),
        site: Box::new(Site::caller(Some("nested-session-output"))),
        sender: participant.to_string(),
        detail: format!(
            "the output this nested session recorded at its end does not decode: {detail}"
        ),
    })
}
