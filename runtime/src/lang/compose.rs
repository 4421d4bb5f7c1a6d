//! Choreographies made of choreographies: `enclave` (a sub-choreography over fewer roles),
//! `call` (over the same roles; recursion) and `spawn_session` (a nested session of its own,
//! with its own id, started now and joined later). Sub-choreographies run as tasks of their
//! own, so recursion does not grow the stack.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::engine::session::{Session, child_number};
use crate::error::ChoreoError;
use crate::ident::{Census, ParticipantId, Site};
use crate::lang::census::{RoleSet, Subset};
use crate::lang::choreo::{Choreo, Choreography, Ctx, spawn_point};
use crate::lang::located::Shared;
use crate::lang::run::{finish_projected, run_central, run_projected};
use crate::lang::task::Child;
use crate::net::transport::{NodeId, lock};
use crate::node::Node;

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
    #[track_caller]
    pub fn spawn_session<Sub, I>(
        &self,
        sub: Sub,
    ) -> Result<Spawned<Sub::Output, Sub::Census>, ChoreoError>
    where
        Sub: Choreography,
        Sub::Census: Subset<C, I>,
    {
        drop(self.begin());
        self.check_failed()?;
        let site = self.site();
        if let Ctx::Projected { session, .. } = &*self.ctx
            && session.abandoned(self.epoch)
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
                // session of the projected run names this one.
                let key = spawn_point(&site, &members);
                let n = lock(counts).next_child(key);
                let id = session.child(child_number(key, n));
                let task = tokio::spawn(run_central(sub, census, id, follow.clone(), saga.child()));
                Ok(Spawned::running(task))
            }
            Ctx::Projected { node, session } => {
                let id = session
                    .id
                    .child(session.next_child(spawn_point(&site, &members)));
                let Some(me) = parent.participant(session.me).and_then(|p| census.id_of(p)) else {
                    return Ok(Spawned::absent());
                };
                let placement: Arc<[NodeId]> = members
                    .iter()
                    .map(|p| session.placement[usize::from(p.0)])
                    .collect();
                let child = node.open_session(id, me, census, placement);
                let task = tokio::spawn(run_child(sub, node.clone(), child));
                Ok(Spawned::running(task))
            }
        }
    }
}

/// A nested session started by [`Choreo::spawn_session`].
pub struct Spawned<O, S: RoleSet> {
    task: Option<tokio::task::JoinHandle<Result<O, ChoreoError>>>,
    _set: PhantomData<fn() -> S>,
}

impl<O, S: RoleSet> Spawned<O, S> {
    pub(crate) fn running(task: tokio::task::JoinHandle<Result<O, ChoreoError>>) -> Self {
        Spawned {
            task: Some(task),
            _set: PhantomData,
        }
    }

    pub(crate) fn absent() -> Self {
        Spawned {
            task: None,
            _set: PhantomData,
        }
    }

    /// Waits for the nested session to end here; its result exists at its roles.
    pub async fn join(self) -> Result<Shared<O, S>, ChoreoError> {
        match self.task {
            None => Ok(Shared::absent()),
            Some(task) => match task.await {
                Ok(result) => result.map(Shared::present),
                Err(e) => Err(ChoreoError::Crashed {
                    role: "nested session".into(),
                    site: Box::new(Site::caller(None)),
                    message: e.to_string(),
                }),
            },
        }
    }
}

/// A nested session: run, then finish.
async fn run_child<Ch: Choreography>(
    choreo: Ch,
    node: Node,
    session: Arc<Session>,
) -> Result<Ch::Output, ChoreoError> {
    let result = run_projected(choreo, node.clone(), session.clone()).await;
    finish_projected(&node, &session, result)
}
