//! Time in choreographies: `sleep` (a role waits) and `comm_within` (a receive that gives up
//! after a timeout).
//!
//! Both wait on madsim-tokio's clock: simulated time in sim mode, real time in std mode.
//! Both are journaled, so a replayed participant does not wait again for what its journal
//! already holds:
//!
//! * A sleep that finished is recorded; its replay returns at once. (One interrupted by a crash
//!   was not finished: the replay sleeps it in full.)
//! * A receive that timed out is recorded as timed out before the choreography goes on, and
//!   stays timed out on replay, even if its frame has arrived meanwhile. A receive that got
//!   its value gets the same value on replay: the frame is in the journaled inbox.
//! * The frame a timed-out receive waited for is discarded when it arrives (counted as
//!   consumed, with a [`FrameEvent::DropLate`](crate::observer::FrameEvent::DropLate) event),
//!   never matched to a later receive, and never left over at the session's end.
//!
//! Only the receiver knows whether it timed out (knowledge of choice): it must tell the others
//! by a later `comm` or `broadcast` before they branch on it.
//!
//! The central reference run does not wait: a sleep returns at once, and a timed receive gets
//! its value unless the path it follows says that receive timed out in the projected run (see
//! [`RunPath`](crate::RunPath)).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::engine::inbox::{Expired, Expiry};
use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Participant, ParticipantId, Site};
use crate::lang::census::{Member, RoleSet};
use crate::lang::choreo::{Choreo, Ctx};
use crate::lang::located::At;
use crate::lang::role::Role;
use crate::net::transport::lock;
use crate::node::Node;
use crate::observer::{Event, FrameEvent};
use crate::store::StoreError;

/// What [`Choreo::comm_within`] gives the receiver when the value did not arrive in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedOut {
    /// How long the receiver waited.
    pub after: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {:?}", self.after)
    }
}

impl std::error::Error for TimedOut {}

impl<C: RoleSet> Choreo<C> {
    /// Role `R` waits for `duration` (simulated time in a simulation); elsewhere it is
    /// skipped. The finished sleep is journaled, so a replay after a crash does not sleep
    /// again. A fault plan can name the site like a local step's.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
    /// # roles!(Client, Server);
    /// # #[derive(Clone)] struct Backoff;
    /// # impl Choreography for Backoff {
    /// #     type Census = Roles![Client, Server];
    /// #     type Output = ();
    /// #     async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
    /// // The client backs off before it asks again.
    /// ch.at("backoff").sleep(Client, Duration::from_millis(200)).await?;
    /// # Ok(()) } }
    /// ```
    #[track_caller]
    pub fn sleep<R, I>(
        &self,
        _role: R,
        duration: Duration,
    ) -> impl Future<Output = Result<(), ChoreoError>> + Send
    where
        R: Role + Member<C, I>,
    {
        let site = self.site();
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let Ctx::Projected { node, session } = &*self.ctx else {
                return Ok(());
            };
            if session.participant() != Participant::role(R::NAME) {
                return Ok(());
            }
            let me = session.me;
            let occurrence = session.next_take(me, &site, self.epoch);
            if session.waited(me, &site, self.epoch, occurrence) {
                let _ = self.observe_local(&site);
                return Ok(());
            }
            self.run_local(R::NAME.to_string(), &site, || ()).await?;
            tokio::time::sleep(duration).await;
            let logged = session.finish_wait(me, &site, self.epoch, occurrence);
            self.store_result(node, session, &site, logged)
        }
    }

    /// Sends a value located at `A` to `B`, where `B` waits for it at most `timeout`
    /// (simulated time in a simulation): `B` gets `Ok(value)`, or `Err(TimedOut)` if the
    /// value did not arrive in time (its frame is then discarded when it comes). Only `B`
    /// knows which: it must tell the others (a later `comm` or `broadcast`) before they
    /// branch on it. A timeout is journaled and stays a timeout on replay.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
    /// # roles!(Coordinator, Voter);
    /// # #[derive(Clone)] struct Vote;
    /// # impl Choreography for Vote {
    /// #     type Census = Roles![Coordinator, Voter];
    /// #     type Output = bool;
    /// #     async fn run(self, ch: &Choreo<Self::Census>) -> Result<bool, ChoreoError> {
    /// let yes = ch.locally(Voter, |_| true).await?;
    /// let vote = ch.comm_within(Voter, Coordinator, &yes, Duration::from_secs(2)).await?;
    /// // A missing vote counts as no; the coordinator tells everyone what it decided.
    /// let commit = ch.locally(Coordinator, |c| c.get(&vote).clone().unwrap_or(false)).await?;
    /// ch.broadcast(Coordinator, commit).await
    /// # } }
    /// ```
    #[track_caller]
    pub fn comm_within<T, A, B, IA, IB>(
        &self,
        _from: A,
        _to: B,
        value: &At<T, A>,
        timeout: Duration,
    ) -> impl Future<Output = Result<At<Result<T, TimedOut>, B>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send + Sync,
        A: Role + Member<C, IA>,
        B: Role + Member<C, IB>,
    {
        let site = self.site();
        async move {
            let _op = self.begin();
            self.proceed().await?;
            let (a, b) = (self.role_id(A::NAME)?, self.role_id(B::NAME)?);
            let timed_out = TimedOut { after: timeout };
            let (node, session) = match &*self.ctx {
                Ctx::Central {
                    session,
                    follow,
                    counts,
                    ..
                } => {
                    if a != b {
                        let (to, from) = (Participant::role(B::NAME), Participant::role(A::NAME));
                        let occurrence = lock(counts).next_take(self.epoch, to, from, &site);
                        let key = (*session, to, from, site.clone(), self.epoch, occurrence);
                        if follow.timed_out(&key) {
                            return Ok(At::present(Err(timed_out)));
                        }
                    }
                    let v = self.present(value, &site)?;
                    return self.round_trip(v, a, &site).map(|v| At::present(Ok(v)));
                }
                Ctx::Projected { node, session } => (node, session),
            };
            match session.me {
                me if me == a && me == b => {
                    let v = self.present(value, &site)?;
                    self.round_trip(v, a, &site).map(|v| At::present(Ok(v)))
                }
                me if me == a => {
                    let bytes = self.encode(self.present(value, &site)?, &site)?;
                    let verdict = self.send_bytes(b, &site, bytes);
                    self.obey(verdict, &site).await?;
                    Ok(At::absent())
                }
                me if me == b => self
                    .receive_within(node, session, a, &site, timed_out)
                    .await
                    .map(At::present),
                _ => Ok(At::absent()),
            }
        }
    }

    /// The receiver's side of [`Choreo::comm_within`].
    async fn receive_within<T: DeserializeOwned>(
        &self,
        node: &Node,
        session: &Session,
        from: ParticipantId,
        site: &Site,
        timed_out: TimedOut,
    ) -> Result<Result<T, TimedOut>, ChoreoError> {
        let epoch = self.epoch;
        let occurrence = session.next_take(from, site, epoch);
        let expiry = if session.waited(from, site, epoch, occurrence) {
            // The journal says it timed out: it stays timed out.
            Expiry::Discard
        } else {
            let waiting = session.take_at(from, site, epoch, occurrence);
            match tokio::time::timeout(timed_out.after, waiting).await {
                Ok(frame) => {
                    return self
                        .received(node, session, from, site, frame)
                        .await
                        .map(Ok);
                }
                Err(_) => Expiry::Take,
            }
        };
        let expired = session.expire(from, site, epoch, occurrence, expiry);
        match expired {
            Ok(Expired::Took(civ, payload)) => self
                .received(node, session, from, site, Ok((civ, payload)))
                .await
                .map(Ok),
            Ok(Expired::TimedOut(discarded)) => {
                if let Some((civ, bytes)) = &discarded {
                    let _ = node.observe(Event::Frame {
                        kind: FrameEvent::DropLate,
                        civ,
                        census: Some(&session.census),
                        bytes: *bytes,
                        payload: None,
                    });
                }
                if node.observer().is_some() {
                    let _ = node.observe(Event::TimedOut {
                        session: session.id,
                        participant: session.participant(),
                        from: session
                            .census
                            .participant(from)
                            .unwrap_or(Participant::role("?")),
                        site,
                        epoch,
                        occurrence,
                    });
                }
                Ok(Err(timed_out))
            }
            Err(e) => self
                .store_result(node, session, site, Err(e))
                .map(|()| Err(timed_out)),
        }
    }

    /// A journal write's result as the operator's: a store error fails the session.
    fn store_result(
        &self,
        node: &Node,
        session: &Session,
        site: &Site,
        result: Result<(), StoreError>,
    ) -> Result<(), ChoreoError> {
        result.map_err(|e| {
            node.count_store_error();
            let err = ChoreoError::Store {
                role: session.participant().to_string(),
                detail: e.to_string(),
            };
            self.fail(err, site)
        })
    }
}
