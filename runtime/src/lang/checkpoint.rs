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
//! A participant's crash is announced from the body's own task the moment it happens, and a
//! body that knows its block is rescued runs no further operator, so peers do not start work
//! the rescue throws away while the block's future waits its turn to be polled.
//!
//! In the fault-free path a checkpoint costs a clone of the state, a task for the body, one
//! `Done` frame to each other participant, and the wait for theirs: no serialization, no store
//! write beyond the journaling of those frames. The body runs as a task of its own, so the cost
//! of a wake-up does not depend on how deep blocks nest.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::engine::blocks::{BlockEnd, block_id};
use crate::engine::notice::Control;
use crate::engine::session::Session;
use crate::error::{ChoreoError, Rescued};
use crate::ident::{ParticipantId, Site};
use crate::lang::body::Body;
use crate::lang::census::RoleSet;
use crate::lang::choreo::{Choreo, Ctx, spawn_point};
use crate::lang::task::Child;
use crate::net::civ::Lane;
use crate::net::transport::lock;
use crate::node::Node;
use crate::observer::{CheckpointPath, Event, Verdict};

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

/// A block's body, running as a task of its own, watched for its block's rescue.
///
/// The body is a task, so a wake-up inside it polls only the body (not every block around
/// it), and a nest of blocks does not grow the thread's stack. This future is polled only when
/// the body ends or when the session wakes the block (a rescue notice for it, or the session's
/// failure): dropping it aborts the body.
struct Watched<'a, T> {
    session: &'a Session,
    block: u64,
    body: Child<Result<T, ChoreoError>>,
}

impl<T: Send + 'static> Future for Watched<'_, T> {
    type Output = Ended<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended<T>> {
        if let Some(signal) = self.session.watch(self.block, cx.waker()) {
            return Poll::Ready(Ended::Signal(signal));
        }
        Pin::new(&mut self.body).poll(cx).map(Ended::Body)
    }
}

impl<T> Drop for Watched<'_, T> {
    fn drop(&mut self) {
        self.session.unwatch(self.block);
    }
}

impl<C: RoleSet> Choreo<C> {
    /// Runs `body` as a checkpoint block: if any participant crashes inside it, every
    /// participant abandons it and runs `rescue` with the state as it was at entry and why
    /// the rescue runs. Body and rescue get a handle of their own and run as tasks of their
    /// own, so they own what they use (`async move`); blocks nest at no cost per level.
    ///
    /// ```
    /// # use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
    /// # roles!(Alice, Bob);
    /// # #[derive(Clone)] struct Divide;
    /// # impl Choreography for Divide {
    /// #     type Census = Roles![Alice, Bob];
    /// #     type Output = String;
    /// #     async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
    /// let said = ch
    ///     .checkpoint(
    ///         0i32,
    ///         |ch, zero| async move {
    ///             let q = ch.locally(Alice, |_| 10i32.checked_div(zero).expect("divide by zero")).await?;
    ///             Ok(format!("{:?}", ch.broadcast(Alice, q).await?))
    ///         },
    ///         |_ch, _zero, why| async move { Ok(format!("rescued: {}", why.message)) },
    ///     )
    ///     .await?;
    /// # Ok(said) } }
    /// ```
    #[track_caller]
    pub fn checkpoint<S, T, B, BF, R, RF>(
        &self,
        state: S,
        body: B,
        rescue: R,
    ) -> impl Future<Output = Result<T, ChoreoError>> + Send
    where
        S: Clone + Send + 'static,
        T: Send + 'static,
        B: FnOnce(Choreo<C>, S) -> BF + Send,
        BF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
        R: FnOnce(Choreo<C>, S, Rescued) -> RF + Send,
        RF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
    {
        self.checkpoint_with(Policy::Rescue, state, body, rescue)
    }

    /// [`Choreo::checkpoint`] with a policy for process deaths inside the body.
    #[track_caller]
    pub fn checkpoint_with<S, T, B, BF, R, RF>(
        &self,
        policy: Policy,
        state: S,
        body: B,
        rescue: R,
    ) -> impl Future<Output = Result<T, ChoreoError>> + Send
    where
        S: Clone + Send + 'static,
        T: Send + 'static,
        B: FnOnce(Choreo<C>, S) -> BF + Send,
        BF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
        R: FnOnce(Choreo<C>, S, Rescued) -> RF + Send,
        RF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
    {
        let site = self.site();
        self.block(site, policy, state, body, rescue)
    }

    async fn block<S, T, B, BF, R, RF>(
        &self,
        site: Site,
        policy: Policy,
        state: S,
        body: B,
        rescue: R,
    ) -> Result<T, ChoreoError>
    where
        S: Clone + Send + 'static,
        T: Send + 'static,
        B: FnOnce(Choreo<C>, S) -> BF + Send,
        BF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
        R: FnOnce(Choreo<C>, S, Rescued) -> RF + Send,
        RF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
    {
        let _op = self.begin();
        self.proceed().await?;
        let (node, session) = match &*self.ctx {
            Ctx::Central {
                session,
                follow,
                counts,
                ..
            } => {
                let key = spawn_point(&site, &self.scope);
                let n = lock(counts).next_block(self.epoch, key);
                let id = block_id(self.epoch, key, n);
                let rescued = follow.rescue(*session, id);
                return self.central_block(id, rescued, state, body, rescue).await;
            }
            Ctx::Projected { node, session } => (node, session),
        };
        let members: Vec<ParticipantId> = self.scope.to_vec();
        let id = session.next_block(self.epoch, spawn_point(&site, &members));
        session.enter(id, self.epoch);
        let inner = self.enter_block(id);
        let block = Block {
            ch: self,
            node,
            session,
            site,
            members,
            id,
            body: inner.body.clone(),
        };
        // Someone crashed in this block before we got here: straight to the rescue.
        if let Some(cause) = session.rescue_notice(id) {
            return block.rescue(state, rescue, cause).await;
        }
        // Replaying after our process died inside this block.
        if policy == Policy::Rescue && session.died_inside(id) {
            return block.died_inside(state, rescue).await;
        }
        let entry = state.clone();
        // An injected crash at the checkpoint's own site: its body crashes at once.
        let verdict = block.observe(CheckpointPath::Enter);
        if let Err(crash) = self.obey(verdict, &block.site).await {
            return block.settle(Ended::Body(Err(crash)), entry, rescue).await;
        }
        let announcing = Announcing {
            ctx: inner.ctx.clone(),
            members: inner.scope.clone(),
            block: id,
            site: block.site.clone(),
        };
        let ended = Watched {
            session,
            block: id,
            body: Child::spawn(announcing.around(body(inner, state))),
        }
        .await;
        block.settle(ended, entry, rescue).await
    }

    /// The reference run's block instance `id` (numbered as the participants number it): one
    /// the followed path rescued (`rescued`) skips its body and runs the rescue with the path's cause
    /// (see `lang::path`); otherwise a crash in the body is rescued, as it would be anywhere.
    async fn central_block<S, T, B, BF, R, RF>(
        &self,
        id: u64,
        rescued: Option<Rescued>,
        state: S,
        body: B,
        rescue: R,
    ) -> Result<T, ChoreoError>
    where
        S: Clone + Send + 'static,
        T: Send + 'static,
        B: FnOnce(Choreo<C>, S) -> BF + Send,
        BF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
        R: FnOnce(Choreo<C>, S, Rescued) -> RF + Send,
        RF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
    {
        if let Some(cause) = rescued {
            return Child::spawn(rescue(self.clone(), state, cause)).await;
        }
        let entry = state.clone();
        match Child::spawn(body(self.enter_block(id), state)).await {
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
                Child::spawn(rescue(self.clone(), entry, cause)).await
            }
            other => other,
        }
    }
}

/// What a body needs to announce its own crash: the body's task tells the block's other
/// members the moment it crashes, before anyone else runs, so that a peer does not start work
/// the rescue throws away while this participant's block future waits its turn to be polled.
struct Announcing {
    ctx: Arc<Ctx>,
    members: Arc<[ParticipantId]>,
    block: u64,
    site: Site,
}

impl Announcing {
    /// `body`, announcing a crash that the block rescues (as [`Block::settle`] decides: not a
    /// crash of a replay, not after the session failed) and noting the rescue here, so the
    /// block's future goes to the rescue with this cause.
    async fn around<T>(
        self,
        body: impl Future<Output = Result<T, ChoreoError>>,
    ) -> Result<T, ChoreoError> {
        let ended = body.await;
        if let Err(ChoreoError::Crashed {
            role,
            site,
            message,
        }) = &ended
            && let Ctx::Projected { node, session } = &*self.ctx
            && rescuable(session, self.block)
        {
            let control = Control::Rescue {
                block: self.block,
                cause: Rescued {
                    role: role.clone(),
                    site: (**site).clone(),
                    message: message.clone(),
                },
            };
            let halted = announce(node, session, &self.members, &self.site, &control);
            session.note(session.me, &control);
            if halted {
                std::future::pending::<()>().await;
            }
        }
        ended
    }
}

/// Whether a crash in `block`'s body is rescued: not a crash of the replay (retried at the
/// top), and not once the session failed.
fn rescuable(session: &Session, block: u64) -> bool {
    !replay_crash(session, block) && session.failure().is_none()
}

/// Whether a crash in `block`'s body now is a crash of the replay: the journal says the block
/// was left through its body, or that the logged run got past this point (peers acted on what
/// came after, so nobody may rescue it).
fn replay_crash(session: &Session, block: u64) -> bool {
    session.replay_crashed() || session.left_through_body(block) || session.replay_ahead()
}

/// Sends `control` about a block to every other member; true if the process is to die here.
fn announce(
    node: &Node,
    session: &Session,
    members: &[ParticipantId],
    site: &Site,
    control: &Control,
) -> bool {
    let bytes = postcard::to_stdvec(control).unwrap_or_default();
    let others = members.iter().copied().filter(|&m| m != session.me);
    node.send_each(session, others, Lane::Control, site, &bytes, 0) == Verdict::Halt
}

/// One block instance at one participant, once entered.
struct Block<'b, C: RoleSet> {
    ch: &'b Choreo<C>,
    node: &'b Node,
    session: &'b Session,
    site: Site,
    members: Vec<ParticipantId>,
    id: u64,
    /// The block's body at this participant.
    body: Option<Arc<Body>>,
}

impl<C: RoleSet> Block<'_, C> {
    /// Tells the observer; its verdict counts on the block's entry only.
    fn observe(&self, path: CheckpointPath<'_>) -> Verdict {
        if self.node.observer().is_none() {
            return Verdict::Continue;
        }
        self.node.observe(Event::Checkpoint {
            session: self.session.id,
            participant: self.session.participant(),
            site: &self.site,
            block: self.id,
            path,
        })
    }

    /// Sends `control` to every other member; true if the process is to die here.
    fn announce(&self, control: &Control) -> bool {
        announce(self.node, self.session, &self.members, &self.site, control)
    }

    /// Abandons the body and runs `rescue` with `state`, as a task of its own.
    async fn rescue<S, T, R, RF>(
        self,
        state: S,
        rescue: R,
        cause: Rescued,
    ) -> Result<T, ChoreoError>
    where
        T: Send + 'static,
        R: FnOnce(Choreo<C>, S, Rescued) -> RF,
        RF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
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
        let _ = self.observe(CheckpointPath::Rescue {
            cause: &cause,
            dropped,
        });
        Child::spawn(rescue(self.ch.clone(), state, cause)).await
    }

    /// The replay reached the block its process died in: announce the rescue and run it.
    async fn died_inside<S, T, R, RF>(self, state: S, rescue: R) -> Result<T, ChoreoError>
    where
        T: Send + 'static,
        R: FnOnce(Choreo<C>, S, Rescued) -> RF,
        RF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
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
    async fn settle<S, T, R, RF>(
        self,
        ended: Ended<T>,
        entry: S,
        rescue: R,
    ) -> Result<T, ChoreoError>
    where
        T: Send + 'static,
        R: FnOnce(Choreo<C>, S, Rescued) -> RF,
        RF: Future<Output = Result<T, ChoreoError>> + Send + 'static,
    {
        let session = self.session;
        let cause = match ended {
            Ended::Signal(Ok(cause)) => cause,
            Ended::Signal(Err(e)) => return Err(e),
            Ended::Body(Ok(value)) => {
                if self.body.as_ref().is_some_and(|b| b.ended_by_nested_exit()) {
                    // The body's last operator was a nested block whose agreed exit covered
                    // this one (see `lang::body`): every member is done with this body too.
                    session.exited(self.id);
                    let _ = self.observe(CheckpointPath::Exit);
                    return Ok(value);
                }
                // A replay sends the notice its previous incarnation sent.
                let chain = session
                    .logged_chain(self.id)
                    .unwrap_or_else(|| self.ch.body.as_ref().map_or(0, |b| b.chain(&self.members)));
                let halted = self.announce(&Control::Done {
                    block: self.id,
                    chain,
                });
                self.ch.halt_if(halted).await;
                match session.wait_exit(self.id, &self.members, chain).await? {
                    BlockEnd::Exit { chain } => {
                        session.exited(self.id);
                        if let Some(around) = &self.ch.body {
                            around.nested_exited(chain);
                        }
                        let _ = self.observe(CheckpointPath::Exit);
                        return Ok(value);
                    }
                    BlockEnd::Rescue(cause) => cause,
                }
            }
            Ended::Body(Err(e @ ChoreoError::Crashed { .. })) if replay_crash(session, self.id) => {
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
                if let Some(noted) = session.rescue_notice(self.id) {
                    // The body announced its crash as it happened (see `Announcing`), or a
                    // member's notice came first: everyone is told already.
                    noted
                } else {
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
            }
            Ended::Body(Err(e)) => return Err(e),
        };
        self.rescue(entry, rescue, cause).await
    }
}
