//! Choreographies and their operators.
//!
//! A [`Choreography`] is one program for every role. Each participant runs the same body with
//! its own [`Choreo`] handle; every operator acts according to the participant it runs as
//! (computes, sends, receives, or skips): that is projection, done at run time. The same body
//! also runs *centrally* (every role's local code in one place, no transport): the reference
//! run whose outcome the projected runs must reproduce.
//!
//! Every operator takes its site from its caller (`#[track_caller]`), so frames name the line
//! and column of the `ch.comm(..)` that sent them; `ch.at("label")` adds a stable label.
//!
//! This file holds the handle and `locally`, with the plumbing every operator shares (codec,
//! send, receive, local steps); the other operators are methods of the same handle in the files
//! beside it: `comm` (comm, broadcast, multicast), `compose` (enclave, call, spawn_session),
//! `effect` (side_effect, random, now), `time` (sleep, comm_within), `repeat`, `family`
//! (scatter, gather, locally_each) and `checkpoint`.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Census, ParticipantId, SessionId, Site};
use crate::lang::body::{Body, OpGuard};
use crate::lang::census::RoleSet;
use crate::lang::located::At;
use crate::lang::path::{CentralCounts, Follow};
use crate::lang::role::Role;
use crate::net::civ::Lane;
use crate::node::Node;
use crate::observer::{Event, FrameEvent, Verdict};

/// One program for every role of census `Self::Census`.
///
/// ```
/// use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
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
///         let hello = ch.locally(Alice, |_| "hello".to_string()).await?;
///         let hello = ch.comm(Alice, Bob, &hello).await?;
///         let reply = ch.locally(Bob, |bob| format!("{}, Alice", bob.get(&hello))).await?;
///         ch.broadcast(Bob, reply).await
///     }
/// }
/// ```
pub trait Choreography: Send + 'static {
    /// The roles (and families) the choreography runs over.
    type Census: RoleSet;
    /// What the choreography returns at each participant.
    type Output: Serialize + Send + 'static;

    /// The body, run by every participant (and once centrally for the reference run).
    fn run(
        self,
        ch: &Choreo<Self::Census>,
    ) -> impl Future<Output = Result<Self::Output, ChoreoError>> + Send;
}

/// Where a choreography body is being evaluated.
pub(crate) enum Ctx {
    /// As one participant, on a node.
    Projected { node: Node, session: Arc<Session> },
    /// As every role at once: the reference run.
    Central {
        session: SessionId,
        census: Arc<Census>,
        /// What the run follows (empty: the fault-free reference).
        follow: Arc<Follow>,
        counts: Mutex<CentralCounts>,
        /// The reference run's sagas (application records and commits).
        saga: crate::engine::saga::CentralSaga,
    },
}

impl Ctx {
    pub(crate) fn census(&self) -> &Arc<Census> {
        match self {
            Ctx::Projected { session, .. } => &session.census,
            Ctx::Central { census, .. } => census,
        }
    }
}

/// The operator handle of one participant (or of the central reference run) for census `C`.
///
/// An owned handle: cloning it costs two reference-count increments, and a checkpoint body or
/// a sub-choreography gets a handle of its own, so it can run as a task of its own (a wake-up
/// inside a deep nest of blocks polls only the innermost one). [`Choreo::at`] gives a handle
/// whose next operators carry a stable label.
pub struct Choreo<C: RoleSet> {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) scope: Arc<[ParticipantId]>,
    label: Option<&'static str>,
    /// The checkpoint block instance this handle runs in (0: none).
    pub(crate) epoch: u64,
    /// The body this handle's operators count in (`None` in the reference run).
    pub(crate) body: Option<Arc<Body>>,
    _census: PhantomData<fn() -> C>,
}

impl<C: RoleSet> Clone for Choreo<C> {
    fn clone(&self) -> Self {
        Choreo {
            ctx: self.ctx.clone(),
            scope: self.scope.clone(),
            label: self.label,
            epoch: self.epoch,
            body: self.body.clone(),
            _census: PhantomData,
        }
    }
}

impl<C: RoleSet> Choreo<C> {
    /// A handle at the top level of a session (`body` is `None` in the reference run).
    pub(crate) fn new(ctx: Arc<Ctx>, scope: Arc<[ParticipantId]>) -> Self {
        let body = match &*ctx {
            Ctx::Projected { .. } => Some(Body::top(scope.clone())),
            Ctx::Central { .. } => None,
        };
        Choreo {
            ctx,
            scope,
            label: None,
            epoch: 0,
            body,
            _census: PhantomData,
        }
    }

    /// A handle over fewer (or the same) participants, in the same body.
    pub(crate) fn sub<D: RoleSet>(&self, scope: Arc<[ParticipantId]>) -> Choreo<D> {
        Choreo {
            ctx: self.ctx.clone(),
            scope,
            label: None,
            epoch: self.epoch,
            body: self.body.clone(),
            _census: PhantomData,
        }
    }

    /// The handle for the body of checkpoint block instance `block`.
    pub(crate) fn enter_block(&self, block: u64) -> Choreo<C> {
        let body = self
            .body
            .as_ref()
            .map(|parent| Body::new(block, self.scope.clone(), Some(parent.clone())));
        Choreo {
            epoch: block,
            label: None,
            body,
            ..self.clone()
        }
    }

    /// Counts an operator in this handle's body while the guard lives (see [`Body`]). Every
    /// operator starts with it, also where it skips, so every member counts the same ones.
    pub(crate) fn begin(&self) -> OpGuard {
        OpGuard::new(self.body.as_ref())
    }

    /// A handle whose operators carry the stable label `label` in their sites, so fault plans
    /// and traces can name them independently of line numbers.
    pub fn at(&self, label: &'static str) -> Choreo<C> {
        Choreo {
            label: Some(label),
            ..self.clone()
        }
    }

    #[track_caller]
    pub(crate) fn site(&self) -> Site {
        Site::caller(self.label)
    }

    pub(crate) fn role_id(&self, name: &'static str) -> Result<ParticipantId, ChoreoError> {
        self.ctx
            .census()
            .role_id(name)
            .ok_or_else(|| ChoreoError::Census {
                detail: format!("role `{name}` is not a participant of this session"),
            })
    }

    pub(crate) fn me(&self) -> Option<ParticipantId> {
        match &*self.ctx {
            Ctx::Projected { session, .. } => Some(session.me),
            Ctx::Central { .. } => None,
        }
    }

    /// Records a failure detected here and tells the other participants.
    pub(crate) fn fail(&self, error: ChoreoError, site: &Site) -> ChoreoError {
        if let Ctx::Projected { node, session } = &*self.ctx {
            node.fail_session(session, error.clone(), site.clone());
        }
        error
    }

    pub(crate) fn check_failed(&self) -> Result<(), ChoreoError> {
        match &*self.ctx {
            Ctx::Projected { session, .. } => session.failure().map_or(Ok(()), Err),
            Ctx::Central { .. } => Ok(()),
        }
    }

    /// What every operator does first: the session's failure if it failed; never returns in
    /// the body of a block this participant abandoned (rescued) or knows to be rescued (a
    /// rescue notice for it arrived). Such a body is being aborted, and until it is, it must
    /// not run another local step or send another frame: the rescue runs in its place.
    pub(crate) async fn proceed(&self) -> Result<(), ChoreoError> {
        if let Ctx::Projected { session, .. } = &*self.ctx {
            if session.doomed(self.epoch) {
                std::future::pending::<()>().await;
            }
        }
        self.check_failed()
    }

    pub(crate) fn encode<T: Serialize>(
        &self,
        value: &T,
        site: &Site,
    ) -> Result<Vec<u8>, ChoreoError> {
        postcard::to_stdvec(value).map_err(|e| {
            let me = self.me().map(|m| self.ctx.census().name(m));
            self.fail(
                ChoreoError::Codec {
                    action: "encode".into(),
                    site: Box::new(site.clone()),
                    sender: me.unwrap_or_else(|| "reference run".into()),
                    detail: e.to_string(),
                },
                site,
            )
        })
    }

    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        from: ParticipantId,
        site: &Site,
    ) -> Result<T, ChoreoError> {
        postcard::from_bytes(bytes).map_err(|e| {
            self.fail(
                ChoreoError::Codec {
                    action: "decode".into(),
                    site: Box::new(site.clone()),
                    sender: self.ctx.census().name(from),
                    detail: e.to_string(),
                },
                site,
            )
        })
    }

    /// Passes a value through the wire format without a network (self-sends, reference run),
    /// so every run sees exactly what a receiver would.
    pub(crate) fn round_trip<T: Serialize + DeserializeOwned>(
        &self,
        value: &T,
        from: ParticipantId,
        site: &Site,
    ) -> Result<T, ChoreoError> {
        let bytes = self.encode(value, site)?;
        self.decode(&bytes, from, site)
    }

    /// Sends bytes to `to` on the data lane; the observer's verdict on the send (to
    /// [`Choreo::obey`] once the operator sent all it sends).
    pub(crate) fn send_bytes(&self, to: ParticipantId, site: &Site, bytes: Vec<u8>) -> Verdict {
        match &*self.ctx {
            Ctx::Projected { node, session } => {
                node.send(session, to, Lane::Data, site.clone(), bytes, self.epoch)
            }
            Ctx::Central { .. } => Verdict::Continue,
        }
    }

    /// Does what an observer's verdict on this participant's operator at `site` says: go
    /// on; never return (the process is dying here); or crash here, as a panic in the
    /// participant's code at this site would (rescued by the innermost checkpoint, or
    /// replayed at the top).
    pub(crate) async fn obey(&self, verdict: Verdict, site: &Site) -> Result<(), ChoreoError> {
        match verdict {
            Verdict::Continue => Ok(()),
            Verdict::Halt => std::future::pending().await,
            Verdict::Panic(message) => {
                let Ctx::Projected { session, .. } = &*self.ctx else {
                    return Ok(());
                };
                session.crashed_in(session.step());
                Err(ChoreoError::Crashed {
                    role: session.participant().to_string(),
                    site: Box::new(site.clone()),
                    message,
                })
            }
        }
    }

    /// Never returns when `halted`: the participant's process is dying at this site.
    pub(crate) async fn halt_if(&self, halted: bool) {
        if halted {
            std::future::pending::<()>().await;
        }
    }

    pub(crate) async fn receive<T: DeserializeOwned>(
        &self,
        from: ParticipantId,
        site: &Site,
    ) -> Result<T, ChoreoError> {
        let Ctx::Projected { node, session } = &*self.ctx else {
            return Err(ChoreoError::Census {
                detail: "the reference run does not receive".into(),
            });
        };
        let frame = session.take(from, site, self.epoch).await;
        self.received(node, session, from, site, frame).await
    }

    /// What a receive does with the frame it took: tells the observer (which may halt the
    /// participant here) and decodes the value.
    pub(crate) async fn received<T: DeserializeOwned>(
        &self,
        node: &Node,
        session: &Session,
        from: ParticipantId,
        site: &Site,
        frame: Result<(crate::net::civ::Civ, Vec<u8>), ChoreoError>,
    ) -> Result<T, ChoreoError> {
        let (civ, payload) = match frame {
            Ok(frame) => frame,
            Err(e @ ChoreoError::Integrity { .. }) => return Err(self.fail(e, site)),
            Err(e) => return Err(e),
        };
        let verdict = node.observe(Event::Frame {
            kind: FrameEvent::Receive,
            civ: &civ,
            census: Some(&session.census),
            bytes: payload.len(),
            payload: None,
        });
        self.obey(verdict, site).await?;
        self.decode(&payload, from, site)
    }

    pub(crate) fn present<'v, T, R: Role>(
        &self,
        value: &'v At<T, R>,
        site: &Site,
    ) -> Result<&'v T, ChoreoError> {
        self.present_at(value.as_option(), R::NAME, site)
    }

    /// [`present`](Self::present) for a value whose role is named at run time: the operators'
    /// bodies take the role's name, not its type, so one body serves every pair of roles.
    pub(crate) fn present_at<'v, T>(
        &self,
        value: Option<&'v T>,
        role: &'static str,
        site: &Site,
    ) -> Result<&'v T, ChoreoError> {
        value.ok_or_else(|| {
            self.fail(
                ChoreoError::Census {
                    detail: format!(
                        "a value located at {role} is missing there at {site}; expected a \
                         value made by an operator of this session"
                    ),
                },
                site,
            )
        })
    }

    pub(crate) fn observe_local(&self, site: &Site) -> Verdict {
        match &*self.ctx {
            Ctx::Projected { node, session } if node.observer().is_some() => {
                node.observe(Event::Local {
                    session: session.id,
                    participant: session.participant(),
                    site,
                })
            }
            _ => Verdict::Continue,
        }
    }

    /// Counts a local step of this participant (none in the reference run): the session and
    /// the step's index, for [`crash_of`](crate::lang::step::crash_of).
    pub(crate) fn count_step(&self) -> Option<(&Session, u64)> {
        match &*self.ctx {
            Ctx::Projected { session, .. } => Some((session, session.step())),
            Ctx::Central { .. } => None,
        }
    }
}

/// Identifies a spawn point (or a checkpoint or loop site): the site and the participants
/// (FNV-1a).
pub(crate) fn spawn_point(site: &Site, members: &[ParticipantId]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(site.to_string().as_bytes());
    for m in members {
        eat(&m.0.to_le_bytes());
    }
    h
}
