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

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::census::{Census, Member, RoleSet, Subset};
use crate::civ::{Lane, SessionId, Site};
use crate::error::ChoreoError;
use crate::link::Control;
use crate::located::{At, Faceted, Local, LocalMember, Shared};
use crate::node::Node;
use crate::observer::{Event, FrameEvent, Verdict};
use crate::role::{Family, Participant, ParticipantId, Role};
use crate::session::Session;
use crate::task::Child;
use crate::transport::NodeId;

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
        children: AtomicU64,
    },
}

impl Ctx {
    fn census(&self) -> &Arc<Census> {
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
    _census: PhantomData<fn() -> C>,
}

impl<C: RoleSet> Clone for Choreo<C> {
    fn clone(&self) -> Self {
        Choreo {
            ctx: self.ctx.clone(),
            scope: self.scope.clone(),
            label: self.label,
            epoch: self.epoch,
            _census: PhantomData,
        }
    }
}

impl<C: RoleSet> Choreo<C> {
    fn new(ctx: Arc<Ctx>, scope: Arc<[ParticipantId]>) -> Self {
        Choreo {
            ctx,
            scope,
            label: None,
            epoch: 0,
            _census: PhantomData,
        }
    }

    fn sub<D: RoleSet>(&self, scope: Arc<[ParticipantId]>) -> Choreo<D> {
        Choreo {
            epoch: self.epoch,
            ..Choreo::new(self.ctx.clone(), scope)
        }
    }

    /// The handle for the body of checkpoint block instance `block`.
    pub(crate) fn enter_block(&self, block: u64) -> Choreo<C> {
        Choreo {
            epoch: block,
            label: None,
            ..self.clone()
        }
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

    fn role_id(&self, name: &'static str) -> Result<ParticipantId, ChoreoError> {
        self.ctx
            .census()
            .role_id(name)
            .ok_or_else(|| ChoreoError::Census {
                detail: format!("role `{name}` is not a participant of this session"),
            })
    }

    fn me(&self) -> Option<ParticipantId> {
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

    fn encode<T: Serialize>(&self, value: &T, site: &Site) -> Result<Vec<u8>, ChoreoError> {
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

    fn decode<T: DeserializeOwned>(
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
    fn round_trip<T: Serialize + DeserializeOwned>(
        &self,
        value: &T,
        from: ParticipantId,
        site: &Site,
    ) -> Result<T, ChoreoError> {
        let bytes = self.encode(value, site)?;
        self.decode(&bytes, from, site)
    }

    /// Sends bytes to `to`; true if an observer halted this participant at the send.
    fn send_bytes(&self, to: ParticipantId, site: &Site, bytes: Vec<u8>) -> bool {
        match &*self.ctx {
            Ctx::Projected { node, session } => {
                node.send(session, to, Lane::Data, site.clone(), bytes, self.epoch) == Verdict::Halt
            }
            Ctx::Central { .. } => false,
        }
    }

    /// Never returns when `halted`: the participant's process is dying at this site.
    pub(crate) async fn halt_if(&self, halted: bool) {
        if halted {
            std::future::pending::<()>().await;
        }
    }

    async fn receive<T: DeserializeOwned>(
        &self,
        from: ParticipantId,
        site: &Site,
    ) -> Result<T, ChoreoError> {
        let Ctx::Projected { node, session } = &*self.ctx else {
            return Err(ChoreoError::Census {
                detail: "the reference run does not receive".into(),
            });
        };
        let (civ, payload) = match session.take(from, site, self.epoch).await {
            Ok(frame) => frame,
            Err(e @ ChoreoError::Integrity { .. }) => return Err(self.fail(e, site)),
            Err(e) => return Err(e),
        };
        let verdict = node.observe(Event::Frame {
            kind: FrameEvent::Receive,
            civ: &civ,
            census: Some(&session.census),
            bytes: payload.len(),
        });
        self.halt_if(verdict == Verdict::Halt).await;
        self.decode(&payload, from, site)
    }

    fn present<'v, T, R: Role>(
        &self,
        value: &'v At<T, R>,
        site: &Site,
    ) -> Result<&'v T, ChoreoError> {
        value.as_option().ok_or_else(|| {
            self.fail(
                ChoreoError::Census {
                    detail: format!(
                        "a value located at {} is missing there at {site}; expected a value \
                         made by an operator of this session",
                        R::NAME
                    ),
                },
                site,
            )
        })
    }

    fn observe_local(&self, site: &Site) -> Verdict {
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

    /// Runs one local step: a panic in it (or one an observer injects) is an application
    /// crash of `role` at `site`.
    async fn run_local<T>(
        &self,
        role: String,
        site: &Site,
        f: impl FnOnce() -> T,
    ) -> Result<T, ChoreoError> {
        self.check_failed()?;
        let step = match &*self.ctx {
            Ctx::Projected { session, .. } => Some((session, session.step())),
            Ctx::Central { .. } => None,
        };
        let outcome = match self.observe_local(site) {
            Verdict::Continue => {
                std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
            }
            Verdict::Panic(message) => Err(message),
            Verdict::Halt => {
                std::future::pending::<()>().await;
                unreachable!("a halted participant never resumes")
            }
        };
        // A crash is not a session failure yet: the innermost checkpoint rescues it, or, at
        // top level, the participant is replayed once and fails the session only if the
        // crash repeats.
        if let (Err(_), Some((session, step))) = (&outcome, step) {
            session.crashed_in(step);
        }
        outcome.map_err(|message| ChoreoError::Crashed {
            role,
            site: Box::new(site.clone()),
            message,
        })
    }

    /// Runs `f` at role `R` only; elsewhere it is skipped. `f` reads values located at `R`
    /// through its [`Local<R>`] argument. A panic in `f` is an application crash of `R`.
    #[track_caller]
    pub fn locally<T, R, I, F>(
        &self,
        _role: R,
        f: F,
    ) -> impl Future<Output = Result<At<T, R>, ChoreoError>> + Send
    where
        T: Send,
        R: Role + Member<C, I>,
        F: FnOnce(Local<'_, R>) -> T + Send,
    {
        let site = self.site();
        async move {
            let here = match &*self.ctx {
                Ctx::Central { .. } => true,
                Ctx::Projected { session, .. } => {
                    session.participant() == Participant::role(R::NAME)
                }
            };
            if !here {
                return Ok(At::absent());
            }
            self.run_local(R::NAME.to_string(), &site, || f(Local::new()))
                .await
                .map(At::present)
        }
    }

    /// Sends a value located at `A` to `B`; the result is located at `B`.
    #[track_caller]
    pub fn comm<T, A, B, IA, IB>(
        &self,
        _from: A,
        _to: B,
        value: &At<T, A>,
    ) -> impl Future<Output = Result<At<T, B>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send + Sync,
        A: Role + Member<C, IA>,
        B: Role + Member<C, IB>,
    {
        let site = self.site();
        async move {
            self.check_failed()?;
            let (a, b) = (self.role_id(A::NAME)?, self.role_id(B::NAME)?);
            match self.me() {
                None => {
                    let v = self.present(value, &site)?;
                    self.round_trip(v, a, &site).map(At::present)
                }
                Some(me) if me == a && me == b => {
                    let v = self.present(value, &site)?;
                    self.round_trip(v, a, &site).map(At::present)
                }
                Some(me) if me == a => {
                    let bytes = self.encode(self.present(value, &site)?, &site)?;
                    let halted = self.send_bytes(b, &site, bytes);
                    self.halt_if(halted).await;
                    Ok(At::absent())
                }
                Some(me) if me == b => self.receive(a, &site).await.map(At::present),
                Some(_) => Ok(At::absent()),
            }
        }
    }

    /// Sends a value located at `A` to every participant of this (sub-)choreography; every
    /// participant gets it as a plain value and may branch on it (knowledge of choice).
    #[track_caller]
    pub fn broadcast<T, A, IA>(
        &self,
        _from: A,
        value: At<T, A>,
    ) -> impl Future<Output = Result<T, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        A: Role + Member<C, IA>,
    {
        let site = self.site();
        async move {
            self.check_failed()?;
            let a = self.role_id(A::NAME)?;
            match self.me() {
                Some(me) if me != a => self.receive(a, &site).await,
                me => {
                    // Every role, the sender included, gets the value as the wire carries it.
                    let bytes = self.encode(self.present(&value, &site)?, &site)?;
                    if me.is_some() {
                        let mut halted = false;
                        for &p in self.scope.iter().filter(|&&p| p != a) {
                            halted |= self.send_bytes(p, &site, bytes.clone());
                        }
                        self.halt_if(halted).await;
                    }
                    self.decode(&bytes, a, &site)
                }
            }
        }
    }

    /// Sends a value located at `A` to the roles of set `S` only; the result exists at them.
    #[track_caller]
    pub fn multicast<S, T, A, IA, IS>(
        &self,
        _from: A,
        value: At<T, A>,
    ) -> impl Future<Output = Result<Shared<T, S>, ChoreoError>> + Send
    where
        S: RoleSet + Subset<C, IS>,
        T: Serialize + DeserializeOwned + Send,
        A: Role + Member<C, IA>,
    {
        let site = self.site();
        async move {
            self.check_failed()?;
            let a = self.role_id(A::NAME)?;
            let to: Vec<ParticipantId> = self
                .ctx
                .census()
                .ids_of_set::<S>()
                .into_iter()
                .filter(|p| self.scope.contains(p))
                .collect();
            match self.me() {
                None => self
                    .round_trip(self.present(&value, &site)?, a, &site)
                    .map(Shared::present),
                Some(me) if me == a => {
                    let bytes = self.encode(self.present(&value, &site)?, &site)?;
                    let mut halted = false;
                    for &p in to.iter().filter(|&&p| p != a) {
                        halted |= self.send_bytes(p, &site, bytes.clone());
                    }
                    self.halt_if(halted).await;
                    if to.contains(&me) {
                        self.decode(&bytes, a, &site).map(Shared::present)
                    } else {
                        Ok(Shared::absent())
                    }
                }
                Some(me) if to.contains(&me) => self.receive(a, &site).await.map(Shared::present),
                Some(_) => Ok(Shared::absent()),
            }
        }
    }

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
            self.check_failed()?;
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
            self.check_failed()?;
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
        self.check_failed()?;
        let site = self.site();
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
                session, children, ..
            } => {
                let id = session.child(children.fetch_add(1, Ordering::Relaxed));
                let task = tokio::spawn(run_central(sub, census, id));
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

    /// Runs `effect` once at role `R` and logs its result; a replay after a crash returns
    /// the logged result instead of running it again. Use it for every call to the outside
    /// world whose result the choreography depends on.
    #[track_caller]
    pub fn side_effect<T, R, I, F>(
        &self,
        _role: R,
        effect: F,
    ) -> impl Future<Output = Result<At<T, R>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        R: Role + Member<C, I>,
        F: FnOnce(Local<'_, R>) -> T + Send,
    {
        let site = self.site();
        async move {
            self.logged::<T, R>("side-effect", &site, || effect(Local::new()))
                .await
        }
    }

    /// A random number at role `R`, logged so a replay sees the same one.
    #[track_caller]
    pub fn random<R, I>(
        &self,
        _role: R,
    ) -> impl Future<Output = Result<At<u64, R>, ChoreoError>> + Send
    where
        R: Role + Member<C, I>,
    {
        let site = self.site();
        async move {
            self.logged::<u64, R>("random", &site, rand::random::<u64>)
                .await
        }
    }

    /// The clock at role `R` (simulated time in a simulation), logged so a replay sees the
    /// same reading.
    #[track_caller]
    pub fn now<R, I>(
        &self,
        _role: R,
    ) -> impl Future<Output = Result<At<std::time::SystemTime, R>, ChoreoError>> + Send
    where
        R: Role + Member<C, I>,
    {
        let site = self.site();
        async move {
            self.logged::<std::time::SystemTime, R>("now", &site, std::time::SystemTime::now)
                .await
        }
    }

    /// Runs `f` at role `R` through the effect log: the first run logs its result durably
    /// before it is used; a replay returns the logged result (and checks it is the same kind
    /// of effect at the same site).
    async fn logged<T, R: Role>(
        &self,
        kind: &str,
        site: &Site,
        f: impl FnOnce() -> T + Send,
    ) -> Result<At<T, R>, ChoreoError>
    where
        T: Serialize + DeserializeOwned + Send,
    {
        self.check_failed()?;
        let (node, session) = match &*self.ctx {
            Ctx::Central { .. } => {
                return self
                    .run_local(R::NAME.to_string(), site, f)
                    .await
                    .map(At::present);
            }
            Ctx::Projected { node, session } => (node, session),
        };
        if session.participant() != Participant::role(R::NAME) {
            return Ok(At::absent());
        }
        match session.replay_effect(kind, site) {
            Ok(Some(bytes)) => {
                let _ = self.observe_local(site);
                return self.decode(&bytes, session.me, site).map(At::present);
            }
            Ok(None) => {}
            Err(detail) => {
                let err = ChoreoError::Nondeterminism {
                    role: R::NAME.to_string(),
                    site: Box::new(site.clone()),
                    detail,
                };
                return Err(self.fail(err, site));
            }
        }
        let value = self.run_local(R::NAME.to_string(), site, f).await?;
        let bytes = self.encode(&value, site)?;
        if let Err(e) = session.log_effect(kind, site, &bytes) {
            node.count_store_error();
            let err = ChoreoError::Store {
                role: R::NAME.to_string(),
                detail: e.to_string(),
            };
            return Err(self.fail(err, site));
        }
        Ok(At::present(value))
    }

    /// Runs `body` as a loop: each iteration gets a handle and the state and returns
    /// [`Loop::Next`] with the next state or [`Loop::Done`] with the final one. With a store,
    /// every participant snapshots its loop state at every iteration boundary, so a
    /// participant restarted in iteration k resumes at iteration k instead of replaying the
    /// whole history (like continue-as-new). Every participant must make the same decision
    /// (branch on broadcast values).
    ///
    /// `ch.repeat(0u64, |ch, n| async move { ..; Ok(Loop::Next(n + 1)) })`.
    #[track_caller]
    pub fn repeat<S, F, Fut>(
        &self,
        init: S,
        mut body: F,
    ) -> impl Future<Output = Result<S, ChoreoError>> + Send
    where
        S: Serialize + DeserializeOwned + Send,
        F: FnMut(Choreo<C>, S) -> Fut + Send,
        Fut: Future<Output = Result<Loop<S>, ChoreoError>> + Send,
    {
        let site = self.site();
        async move {
            self.check_failed()?;
            let Ctx::Projected { node, session } = &*self.ctx else {
                let mut state = init;
                loop {
                    match body(self.clone(), state).await? {
                        Loop::Next(s) => state = s,
                        Loop::Done(s) => return Ok(s),
                    }
                }
            };
            let key = session.next_repeat(spawn_point(&site, &[]) ^ self.epoch);
            let durable = session.journal().is_some();
            let (mut iteration, mut state) = match session.snapshot(key) {
                Some(snap) => {
                    session.restore(&snap.counters);
                    let state = self.decode(&snap.state, session.me, &site)?;
                    (snap.iteration, state)
                }
                None => (0, init),
            };
            loop {
                if durable {
                    let bytes = self.encode(&state, &site)?;
                    if let Err(e) = session.save_snapshot(key, iteration, bytes) {
                        node.count_store_error();
                        let err = ChoreoError::Store {
                            role: session.participant().to_string(),
                            detail: e.to_string(),
                        };
                        return Err(self.fail(err, &site));
                    }
                }
                if node.observer().is_some() {
                    let _ = node.observe(Event::Iteration {
                        session: session.id,
                        participant: session.participant(),
                        site: &site,
                        iteration,
                    });
                }
                match body(self.clone(), state).await? {
                    Loop::Next(s) => {
                        state = s;
                        iteration += 1;
                    }
                    Loop::Done(s) => return Ok(s),
                }
            }
        }
    }

    /// Number of members of family `F` taking part here.
    pub fn family_size<F: Family + Member<C, I>, I>(&self, _family: F) -> u32 {
        self.family_ids::<F>().len() as u32
    }

    fn family_ids<F: Family>(&self) -> Vec<ParticipantId> {
        self.ctx
            .census()
            .family_ids(F::NAME)
            .into_iter()
            .filter(|p| self.scope.contains(p))
            .collect()
    }

    fn my_index<F: Family>(&self) -> Option<u32> {
        let me = self.me()?;
        let p = self.ctx.census().participant(me)?;
        (p.role == F::NAME).then_some(p.index).flatten()
    }

    /// Every member of family `F` runs `f` on its own; the results form a faceted value.
    #[track_caller]
    pub fn locally_each<T, F, I, G>(
        &self,
        _family: F,
        f: G,
    ) -> impl Future<Output = Result<Faceted<T, F>, ChoreoError>> + Send
    where
        T: Send,
        F: Family + Member<C, I>,
        G: Fn(LocalMember<'_, F>) -> T + Send + Sync,
    {
        let site = self.site();
        async move {
            let ids = self.family_ids::<F>();
            let size = ids.len() as u32;
            let census = self.ctx.census();
            let indices: Vec<u32> = match self.me() {
                None => ids
                    .iter()
                    .filter_map(|&p| census.participant(p).and_then(|p| p.index))
                    .collect(),
                Some(_) => self.my_index::<F>().into_iter().collect(),
            };
            let mut out = std::collections::BTreeMap::new();
            for i in indices {
                let name = Participant::member(F::NAME, i).to_string();
                let v = self
                    .run_local(name, &site, || f(LocalMember::new(i, size)))
                    .await?;
                out.insert(i, v);
            }
            Ok(Faceted::from_map(out))
        }
    }

    /// `A` sends element `i` of its vector to `F[i]`. The vector must have one element per
    /// member of `F`.
    #[track_caller]
    pub fn scatter<T, A, F, IA, IF>(
        &self,
        _from: A,
        _to: F,
        values: At<Vec<T>, A>,
    ) -> impl Future<Output = Result<Faceted<T, F>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        A: Role + Member<C, IA>,
        F: Family + Member<C, IF>,
    {
        let site = self.site();
        async move {
            self.check_failed()?;
            let a = self.role_id(A::NAME)?;
            let ids = self.family_ids::<F>();
            let me = self.me();
            if me.is_none() || me == Some(a) {
                let v = values.into_option().ok_or_else(|| ChoreoError::Census {
                    detail: format!("scatter values missing at {}", A::NAME),
                })?;
                if v.len() != ids.len() {
                    let err = ChoreoError::Census {
                        detail: format!(
                            "scatter at {site}: {} values for family {} of {} members; expected \
                             one value per member",
                            v.len(),
                            F::NAME,
                            ids.len()
                        ),
                    };
                    return Err(self.fail(err, &site));
                }
                let mut out = std::collections::BTreeMap::new();
                let mut halted = false;
                for (i, (value, &p)) in v.into_iter().zip(&ids).enumerate() {
                    if me.is_some() {
                        let bytes = self.encode(&value, &site)?;
                        halted |= self.send_bytes(p, &site, bytes);
                    } else {
                        out.insert(i as u32, self.round_trip(&value, a, &site)?);
                    }
                }
                self.halt_if(halted).await;
                return Ok(Faceted::from_map(out));
            }
            match self.my_index::<F>() {
                Some(i) => {
                    let v = self.receive(a, &site).await?;
                    Ok(Faceted::from_map([(i, v)].into_iter().collect()))
                }
                None => Ok(Faceted::from_map(Default::default())),
            }
        }
    }

    /// Every member `F[i]` sends its facet to `A`, which gets them as a vector in index order.
    #[track_caller]
    pub fn gather<T, F, A, IF, IA>(
        &self,
        _from: F,
        _to: A,
        values: Faceted<T, F>,
    ) -> impl Future<Output = Result<At<Vec<T>, A>, ChoreoError>> + Send
    where
        T: Serialize + DeserializeOwned + Send,
        F: Family + Member<C, IF>,
        A: Role + Member<C, IA>,
    {
        let site = self.site();
        async move {
            self.check_failed()?;
            let a = self.role_id(A::NAME)?;
            let ids = self.family_ids::<F>();
            let mut values = values;
            match self.me() {
                None => {
                    let mut out = Vec::with_capacity(ids.len());
                    for i in 0..ids.len() as u32 {
                        let v = values.take(i).ok_or_else(|| ChoreoError::Census {
                            detail: format!("facet {}[{i}] missing in the reference run", F::NAME),
                        })?;
                        out.push(self.round_trip(&v, a, &site)?);
                    }
                    Ok(At::present(out))
                }
                Some(me) if me == a => {
                    let mut out = Vec::with_capacity(ids.len());
                    for &p in &ids {
                        out.push(self.receive(p, &site).await?);
                    }
                    Ok(At::present(out))
                }
                Some(_) => {
                    if let Some(i) = self.my_index::<F>() {
                        let v = values.take(i).ok_or_else(|| ChoreoError::Census {
                            detail: format!("facet {}[{i}] missing at its member", F::NAME),
                        })?;
                        let bytes = self.encode(&v, &site)?;
                        let halted = self.send_bytes(a, &site, bytes);
                        self.halt_if(halted).await;
                    }
                    Ok(At::absent())
                }
            }
        }
    }
}

/// What one iteration of [`Choreo::repeat`] decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loop<S> {
    /// Run another iteration with this state.
    Next(S),
    /// Stop with this state.
    Done(S),
}

/// A nested session started by [`Choreo::spawn_session`].
pub struct Spawned<O, S: RoleSet> {
    task: Option<tokio::task::JoinHandle<Result<O, ChoreoError>>>,
    _set: PhantomData<fn() -> S>,
}

impl<O, S: RoleSet> Spawned<O, S> {
    fn running(task: tokio::task::JoinHandle<Result<O, ChoreoError>>) -> Self {
        Spawned {
            task: Some(task),
            _set: PhantomData,
        }
    }

    fn absent() -> Self {
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

/// Runs `choreo` as participant `session.me` on `node` until it ends (without closing the
/// session: see [`finish_projected`]).
pub(crate) async fn run_projected<Ch: Choreography>(
    choreo: Ch,
    node: Node,
    session: Arc<Session>,
) -> Result<Ch::Output, ChoreoError> {
    let ctx = Ctx::Projected {
        node: node.clone(),
        session: session.clone(),
    };
    let scope: Arc<[ParticipantId]> = (0..session.census.len())
        .map(|i| ParticipantId(i as u16))
        .collect();
    let ch = Choreo::<Ch::Census>::new(Arc::new(ctx), scope.clone());
    let output = choreo.run(&ch).await?;
    agree_on_end(&ch, &node, &session, &scope).await?;
    Ok(output)
}

/// The end of a session is agreed, like the exit of a checkpoint: a participant that finished
/// its part tells every other participant and waits for all of them, so a session ends
/// either with every participant's output or with the same failure at every participant
/// (also at one that had finished its part before a peer crashed).
async fn agree_on_end<C: RoleSet>(
    ch: &Choreo<C>,
    node: &Node,
    session: &Session,
    members: &[ParticipantId],
) -> Result<(), ChoreoError> {
    session.failure().map_or(Ok(()), Err)?;
    if members.len() < 2 {
        return Ok(());
    }
    let site = Site::session_end();
    let bytes = postcard::to_stdvec(&Control::Done { block: 0 }).unwrap_or_default();
    let mut halted = false;
    for &m in members.iter().filter(|&&m| m != session.me) {
        halted |=
            node.send(session, m, Lane::Control, site.clone(), bytes.clone(), 0) == Verdict::Halt;
    }
    ch.halt_if(halted).await;
    session.wait_exit(0, members).await.map(|_| ())
}

/// Ends `session` here with `result`: a failure detected here (a crash that escaped every
/// checkpoint, say) is sent to the other participants, then the session is closed.
pub(crate) fn finish_projected<T>(
    node: &Node,
    session: &Session,
    result: Result<T, ChoreoError>,
) -> Result<T, ChoreoError> {
    let result = match (result, session.failure()) {
        (Ok(_), Some(failure)) => Err(failure),
        (Err(e), None) => {
            let site = match &e {
                ChoreoError::Crashed { site, .. } => (**site).clone(),
                _ => Site::caller(None),
            };
            node.fail_session(session, e.clone(), site);
            Err(e)
        }
        (r, _) => r,
    };
    node.close_session(session);
    result
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

/// Runs `choreo` centrally: every role's local code, values passed through the codec, no
/// transport. This is the reference run.
pub(crate) async fn run_central<Ch: Choreography>(
    choreo: Ch,
    census: Arc<Census>,
    session: SessionId,
) -> Result<Ch::Output, ChoreoError> {
    let scope: Arc<[ParticipantId]> = (0..census.len()).map(|i| ParticipantId(i as u16)).collect();
    let ctx = Ctx::Central {
        session,
        census,
        children: AtomicU64::new(0),
    };
    let ch = Choreo::<Ch::Census>::new(Arc::new(ctx), scope);
    choreo.run(&ch).await
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

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}
