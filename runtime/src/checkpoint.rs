//! Checkpoint and rescue: what every participant of a block does when one of them crashes
//! inside it.
//!
//! `ch.checkpoint(state, body, rescue)` runs `body` in a new *block instance*, whose id every
//! participant derives the same way (the enclosing block, the site, the participants, and a
//! count). Frames sent inside carry the block instance as their epoch, so the frames of an
//! abandoned body can never be taken for anyone else's. Leaving the body is agreed: each
//! participant that finishes it tells the others (`Done`) and waits for them, so nobody runs
//! past a block that may still be rescued. A participant that crashes in the body (its local
//! code panics, or a nested rescue crashes) tells the others (`Rescue`, with who crashed,
//! where and why); every participant drops its body and runs `rescue` with the state cloned
//! at entry. A participant that has not reached the block yet goes straight to `rescue`
//! when it does; further crashes in the same block instance change nothing. A crash in
//! `rescue` is a crash in the enclosing block. A participant whose *process* dies in the
//! body replays to the block after its restart, and then (under [`Policy::Rescue`], the
//! default) announces the rescue, or (under [`Policy::Replay`]) keeps replaying, which masks
//! the death.
//!
//! In the fault-free path a checkpoint costs a clone of the state, one `Done` frame to each
//! other participant, and the wait for theirs: no serialization, no store write beyond the
//! journaling of those frames.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};

use crate::census::RoleSet;
use crate::choreo::{Choreo, Ctx, spawn_point};
use crate::civ::{Lane, Site};
use crate::error::ChoreoError;
use crate::link::Control;
use crate::node::Node;
use crate::observer::{CheckpointPath, Event, Verdict};
use crate::role::ParticipantId;
use crate::session::{BlockEnd, Session};
use crate::transport::BoxFuture;

/// Why a rescue runs: which participant crashed in the block, where, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescued {
    /// The participant that crashed.
    pub role: String,
    /// Where it crashed.
    pub site: Site,
    /// The panic message (or what happened to the process).
    pub message: String,
}

/// What a process death inside a checkpoint's body leads to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Every participant runs the rescue (Chorex's meaning).
    #[default]
    Rescue,
    /// The restarted participant replays the body from its journal; peers see only delay.
    Replay,
}

enum Ended<T> {
    Body(Result<T, ChoreoError>),
    Signal(Result<Rescued, ChoreoError>),
}

/// A block's body, dropped as soon as the block is rescued or the session fails.
///
/// A rescue notice wakes whatever the participant waits for (every wait of a session wakes
/// on it) and bumps the session's signal count; each enclosing body looks up its block only
/// when the count changed. So a poll through a nest of blocks costs one atomic load per
/// level, and no level registers a waker of its own (tokio's `select!` on a notice per
/// level made every poll, and every notice, cost as much as the nest is deep).
struct Watched<'a, T> {
    session: &'a Session,
    block: u64,
    /// The signal count when the block was last looked up.
    seen: u64,
    body: BoxFuture<'a, Result<T, ChoreoError>>,
}

impl<T> Future for Watched<'_, T> {
    type Output = Ended<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended<T>> {
        let signals = self.session.signals();
        if signals != self.seen {
            self.seen = signals;
            if let Some(signal) = self.session.rescue_or_failure(self.block) {
                return Poll::Ready(Ended::Signal(signal));
            }
        }
        self.body.as_mut().poll(cx).map(Ended::Body)
    }
}

impl<'s, C: RoleSet> Choreo<'s, C> {
    /// Runs `body` as a checkpoint block: if any participant crashes inside it, every
    /// participant abandons it and runs `rescue` with the state as it was at entry and why
    /// the rescue runs. Both are closures returning boxed futures:
    ///
    /// ```
    /// # use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
    /// # roles!(Alice, Bob);
    /// # #[derive(Clone)] struct Divide;
    /// # impl Choreography for Divide {
    /// #     type Census = Roles![Alice, Bob];
    /// #     type Output = String;
    /// #     async fn run(self, ch: &Choreo<'_, Self::Census>) -> Result<String, ChoreoError> {
    /// let said = ch
    ///     .checkpoint(
    ///         0i32,
    ///         |ch, zero| Box::pin(async move {
    ///             let q = ch.locally(Alice, |_| 10i32.checked_div(zero).expect("divide by zero")).await?;
    ///             Ok(format!("{:?}", ch.broadcast(Alice, q).await?))
    ///         }),
    ///         |_ch, _zero, why| Box::pin(async move { Ok(format!("rescued: {}", why.message)) }),
    ///     )
    ///     .await?;
    /// # Ok(said) } }
    /// ```
    #[track_caller]
    pub fn checkpoint<'c, S, T, B, R>(
        &'c self,
        state: S,
        body: B,
        rescue: R,
    ) -> impl Future<Output = Result<T, ChoreoError>> + Send + 'c
    where
        S: Clone + Send + 'c,
        T: Send + 'c,
        B: for<'a> FnOnce(&'a Choreo<'s, C>, S) -> BoxFuture<'a, Result<T, ChoreoError>>
            + Send
            + 'c,
        R: for<'a> FnOnce(&'a Choreo<'s, C>, S, Rescued) -> BoxFuture<'a, Result<T, ChoreoError>>
            + Send
            + 'c,
    {
        self.checkpoint_with(Policy::Rescue, state, body, rescue)
    }

    /// [`Choreo::checkpoint`] with a policy for process deaths inside the body.
    #[track_caller]
    pub fn checkpoint_with<'c, S, T, B, R>(
        &'c self,
        policy: Policy,
        state: S,
        body: B,
        rescue: R,
    ) -> impl Future<Output = Result<T, ChoreoError>> + Send + 'c
    where
        S: Clone + Send + 'c,
        T: Send + 'c,
        B: for<'a> FnOnce(&'a Choreo<'s, C>, S) -> BoxFuture<'a, Result<T, ChoreoError>>
            + Send
            + 'c,
        R: for<'a> FnOnce(&'a Choreo<'s, C>, S, Rescued) -> BoxFuture<'a, Result<T, ChoreoError>>
            + Send
            + 'c,
    {
        let site = self.site();
        self.block(site, policy, state, body, rescue)
    }

    async fn block<S, T, B, R>(
        &self,
        site: Site,
        policy: Policy,
        state: S,
        body: B,
        rescue: R,
    ) -> Result<T, ChoreoError>
    where
        S: Clone + Send,
        T: Send,
        B: for<'a> FnOnce(&'a Choreo<'s, C>, S) -> BoxFuture<'a, Result<T, ChoreoError>> + Send,
        R: for<'a> FnOnce(&'a Choreo<'s, C>, S, Rescued) -> BoxFuture<'a, Result<T, ChoreoError>>
            + Send,
    {
        // Only the wait for the body is awaited inline; every other phase is boxed, so that
        // while the body runs this future is a few words (see `Watched`).
        self.check_failed()?;
        let (node, session) = match self.ctx {
            Ctx::Central { .. } => return Box::pin(self.central_block(state, body, rescue)).await,
            Ctx::Projected { node, session } => (node, session),
        };
        let members: Vec<ParticipantId> = self.scope.to_vec();
        let id = session.next_block(self.epoch, spawn_point(&site, &members));
        session.enter(id, self.epoch);
        let block = Block {
            ch: self,
            node,
            session,
            site,
            members,
            id,
        };
        // Read before looking for a notice, so that one arriving after the look is seen.
        let signals = session.signals();
        // Someone crashed in this block before we got here: straight to the rescue.
        if let Some(cause) = session.rescue_notice(id) {
            return Box::pin(block.rescue(state, rescue, cause)).await;
        }
        // Replaying after our process died inside this block.
        if policy == Policy::Rescue && session.died_inside(id) {
            return Box::pin(block.died_inside(state, rescue)).await;
        }
        block.observe(CheckpointPath::Enter);
        let cold = Box::new((block, state.clone(), rescue, self.enter_block(id)));
        let ended = Watched {
            session,
            block: id,
            seen: signals,
            body: body(&cold.3, state),
        }
        .await;
        let (block, entry, rescue, _) = *cold;
        Box::pin(block.settle(ended, entry, rescue)).await
    }

    /// The reference run's block: a crash in the body is rescued, as it would be anywhere.
    async fn central_block<S, T, B, R>(
        &self,
        state: S,
        body: B,
        rescue: R,
    ) -> Result<T, ChoreoError>
    where
        S: Clone + Send,
        T: Send,
        B: for<'a> FnOnce(&'a Choreo<'s, C>, S) -> BoxFuture<'a, Result<T, ChoreoError>> + Send,
        R: for<'a> FnOnce(&'a Choreo<'s, C>, S, Rescued) -> BoxFuture<'a, Result<T, ChoreoError>>
            + Send,
    {
        let entry = state.clone();
        match body(self, state).await {
            Err(ChoreoError::Crashed {
                role,
                site,
                message,
            }) => {
                let cause = Rescued {
                    role,
                    site: *site,
                    message,
                };
                rescue(self, entry, cause).await
            }
            other => other,
        }
    }
}

/// One block instance at one participant, once entered.
struct Block<'b, 's, C: RoleSet> {
    ch: &'b Choreo<'s, C>,
    node: &'b Node,
    session: &'b Session,
    site: Site,
    members: Vec<ParticipantId>,
    id: u64,
}

impl<'b, 's, C: RoleSet> Block<'b, 's, C> {
    fn observe(&self, path: CheckpointPath<'_>) {
        if self.node.observer().is_some() {
            let _ = self.node.observe(Event::Checkpoint {
                session: self.session.id,
                participant: self.session.participant(),
                site: &self.site,
                block: self.id,
                path,
            });
        }
    }

    /// Sends `control` to every other member; true if the process is to die here.
    fn announce(&self, control: &Control) -> bool {
        let bytes = postcard::to_stdvec(control).unwrap_or_default();
        let mut halted = false;
        for &m in self.members.iter().filter(|&&m| m != self.session.me) {
            halted |= self.node.send(
                self.session,
                m,
                Lane::Control,
                self.site.clone(),
                bytes.clone(),
                0,
            ) == Verdict::Halt;
        }
        halted
    }

    /// Abandons the body and runs `rescue` with `state`.
    async fn rescue<S, T, R>(self, state: S, rescue: R, cause: Rescued) -> Result<T, ChoreoError>
    where
        R: for<'a> FnOnce(&'a Choreo<'s, C>, S, Rescued) -> BoxFuture<'a, Result<T, ChoreoError>>,
    {
        let dropped = self.session.abandon(self.id);
        if let Err(e) = self.session.rescue_floors(self.id) {
            self.node.count_store_error();
            let err = ChoreoError::Store {
                role: self.session.participant().to_string(),
                detail: e.to_string(),
            };
            return Err(self.ch.fail(err, &self.site));
        }
        self.observe(CheckpointPath::Rescue {
            cause: &cause,
            dropped,
        });
        rescue(self.ch, state, cause).await
    }

    /// The replay reached the block its process died in: announce the rescue and run it.
    async fn died_inside<S, T, R>(self, state: S, rescue: R) -> Result<T, ChoreoError>
    where
        R: for<'a> FnOnce(&'a Choreo<'s, C>, S, Rescued) -> BoxFuture<'a, Result<T, ChoreoError>>,
    {
        let cause = Rescued {
            role: self.session.participant().to_string(),
            site: self.site.clone(),
            message: "its process died inside the block".into(),
        };
        let halted = self.announce(&Control::Rescue {
            block: self.id,
            cause: cause.clone(),
        });
        self.ch.halt_if(halted).await;
        self.rescue(state, rescue, cause).await
    }

    /// After the body: agree on the exit, or go to the rescue.
    async fn settle<S, T, R>(self, ended: Ended<T>, entry: S, rescue: R) -> Result<T, ChoreoError>
    where
        R: for<'a> FnOnce(&'a Choreo<'s, C>, S, Rescued) -> BoxFuture<'a, Result<T, ChoreoError>>,
    {
        let session = self.session;
        let cause = match ended {
            Ended::Signal(Ok(cause)) => cause,
            Ended::Signal(Err(e)) => return Err(e),
            Ended::Body(Ok(value)) => {
                let halted = self.announce(&Control::Done { block: self.id });
                self.ch.halt_if(halted).await;
                match session.wait_exit(self.id, &self.members).await? {
                    BlockEnd::Exit => {
                        session.exited(self.id);
                        self.observe(CheckpointPath::Exit);
                        return Ok(value);
                    }
                    BlockEnd::Rescue(cause) => cause,
                }
            }
            Ended::Body(Err(e @ ChoreoError::Crashed { .. }))
                if session.replay_crashed()
                    || session.left_through_body(self.id)
                    || session.replay_ahead() =>
            {
                // The journal says this block was left through its body, or that the logged
                // run got past this point: a crash while re-executing it is a crash of the
                // replay, retried at the top, not rescued.
                session.mark_replay_crash();
                return Err(e);
            }
            Ended::Body(Err(ChoreoError::Crashed {
                role,
                site: at,
                message,
            })) if session.failure().is_none() => {
                let cause = Rescued {
                    role,
                    site: *at,
                    message,
                };
                let halted = self.announce(&Control::Rescue {
                    block: self.id,
                    cause: cause.clone(),
                });
                self.ch.halt_if(halted).await;
                cause
            }
            Ended::Body(Err(e)) => return Err(e),
        };
        self.rescue(entry, rescue, cause).await
    }
}
