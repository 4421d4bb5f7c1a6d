//! Nodes: a process's share of the runtime.
//!
//! A [`Node`] owns one [`Transport`] endpoint and hosts any number of participants of any
//! number of sessions. Its dispatcher task decodes arriving bytes, routes frames to the open
//! session they name (storing before acknowledging), holds frames of sessions it has not
//! opened yet, and drops (but acknowledges) frames of sessions that finished. Its
//! retransmitter task resends unacknowledged frames with backoff. Corrupt bytes are counted
//! and dropped, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::inbox::Arrival;
use crate::engine::journal::{Journal, Recovered, SessionState};
use crate::engine::notice::Control;
use crate::engine::replay::LoggedSend;
use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Census, ParticipantId, SessionId, Site};
use crate::net::civ::{Civ, Lane};
use crate::net::link::{FrameKey, LinkConfig, LinkTx, Packet, Unacked};
use crate::net::transport::{NodeId, Transport, lock};
use crate::observer::{Event, FrameEvent, Observer, Verdict};
use crate::store::Store;

/// How a node behaves.
#[derive(Clone, Default)]
pub struct NodeConfig {
    /// Retransmission timing.
    pub link: LinkConfig,
    /// Sees every event of the node; `None` costs nothing.
    pub observer: Option<Arc<dyn Observer>>,
    /// Where the node journals its participants' sessions, so a restarted participant
    /// replays instead of starting over. `None`: nothing is journaled (no recovery).
    pub store: Option<Arc<dyn Store>>,
}

/// Counters of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Frames sent for the first time.
    pub frames_sent: u64,
    /// Bytes of first sends.
    pub bytes_sent: u64,
    /// Retransmissions.
    pub retransmitted: u64,
    /// New frames accepted into an inbox.
    pub delivered: u64,
    /// Copies of frames already accepted.
    pub duplicates: u64,
    /// Acknowledgements sent.
    pub acks_sent: u64,
    /// Acknowledgements that retired an unacknowledged frame.
    pub acks_received: u64,
    /// Frames of finished sessions, dropped.
    pub dropped_finished: u64,
    /// Frames of sessions not open here, held until the session opens.
    pub held_unknown: u64,
    /// Frames of sessions not open here that did not fit the holding area, dropped.
    pub dropped_unknown: u64,
    /// Byte strings that did not decode as a packet.
    pub corrupt: u64,
    /// Frames still in an inbox when their session finished here.
    pub unconsumed: u64,
    /// Sends the transport refused (retried by retransmission).
    pub send_errors: u64,
    /// Store writes that failed (the frame was not acknowledged, or the session failed).
    pub store_errors: u64,
    /// Sends a replaying participant did not repeat (the peer already acknowledged them).
    pub replayed_sends: u64,
    /// Frames of checkpoint attempts abandoned here, discarded on arrival.
    pub stale: u64,
    /// Frames for receives that had timed out here, discarded on arrival.
    pub late: u64,
}

/// At most this many frames of not-yet-open sessions are held per node.
const HOLD_CAPACITY: usize = 65_536;

type SessionKey = (SessionId, ParticipantId);

/// A frame of a session not open here yet: (sender's node, token, payload, acknowledge it).
type Held = (NodeId, Civ, Vec<u8>, bool);

#[derive(Default)]
struct Sessions {
    open: BTreeMap<SessionKey, Arc<Session>>,
    finished: BTreeSet<SessionKey>,
    held: BTreeMap<SessionKey, Vec<Held>>,
    held_len: usize,
}

struct NodeInner {
    id: NodeId,
    transport: Arc<dyn Transport>,
    config: NodeConfig,
    sessions: Mutex<Sessions>,
    link: Mutex<LinkTx>,
    link_wake: Notify,
    stats: Mutex<NodeStats>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Serializes the commits and compensations of every session here, so two sessions'
    /// read-modify-writes of shared application records never interleave.
    saga_lock: Mutex<()>,
    /// Where transactions keep their records when the node has no store (lost with it).
    volatile: Arc<dyn Store>,
    /// Frames sent from here are kept until acknowledged and retransmitted: always, but over
    /// a transport that delivers every frame from a node that journals nothing (where a lost
    /// acknowledgement or a replay cannot happen).
    acks: bool,
}

/// A node: hosts participants of sessions over one transport endpoint.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

impl Node {
    /// Starts a node on `transport`: spawns its dispatcher and retransmitter on the current
    /// runtime (in simulation: on the current simulated node).
    pub fn start(id: NodeId, transport: Arc<dyn Transport>, config: NodeConfig) -> Node {
        let acks = !transport.guarantees().reliable || config.store.is_some();
        let inner = Arc::new(NodeInner {
            id,
            transport,
            config,
            acks,
            sessions: Mutex::new(Sessions::default()),
            link: Mutex::new(LinkTx::default()),
            link_wake: Notify::new(),
            stats: Mutex::new(NodeStats::default()),
            tasks: Mutex::new(Vec::new()),
            saga_lock: Mutex::new(()),
            volatile: Arc::new(crate::store::MemoryStore::new()),
        });
        let dispatcher = tokio::spawn(dispatch(inner.clone()));
        lock(&inner.tasks).push(dispatcher);
        if acks {
            let retransmitter = tokio::spawn(retransmit(inner.clone()));
            lock(&inner.tasks).push(retransmitter);
        }
        Node { inner }
    }

    /// This node's address.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The node's counters so far.
    pub fn stats(&self) -> NodeStats {
        *lock(&self.inner.stats)
    }

    pub(crate) fn count_store_error(&self) {
        lock(&self.inner.stats).store_errors += 1;
    }

    /// Frames sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        lock(&self.inner.link).in_flight()
    }

    /// Stops the node's tasks; every session still open here fails with
    /// [`ChoreoError::Closed`].
    pub fn shutdown(&self) {
        for t in lock(&self.inner.tasks).drain(..) {
            t.abort();
        }
        let open: Vec<Arc<Session>> = lock(&self.inner.sessions).open.values().cloned().collect();
        for s in open {
            s.fail(ChoreoError::Closed {
                session: s.id,
                participant: s.participant().to_string(),
            });
        }
    }

    /// The store transactions write to: the node's, or a volatile one if it has none.
    pub(crate) fn saga_store(&self) -> Arc<dyn Store> {
        self.inner
            .config
            .store
            .clone()
            .unwrap_or_else(|| self.inner.volatile.clone())
    }

    /// Held while a commit or compensation reads and writes application records.
    pub(crate) fn saga_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.inner.saga_lock)
    }

    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.inner.config.observer.as_ref()
    }

    pub(crate) fn observe(&self, event: Event<'_>) -> Verdict {
        match &self.inner.config.observer {
            Some(o) => o.on_event(self.inner.id, &event),
            None => Verdict::Continue,
        }
    }

    /// Opens `me`'s part of session `id` here and takes in any frames held for it. With a
    /// store, a participant that ran here before recovers its journal: it will replay.
    pub(crate) fn open_session(
        &self,
        id: SessionId,
        me: ParticipantId,
        census: Arc<Census>,
        placement: Arc<[NodeId]>,
    ) -> Arc<Session> {
        let (session, unacked, failure) = match &self.inner.config.store {
            None => (Session::new(id, me, census, placement), Vec::new(), None),
            Some(store) => {
                let journal = Journal::new(store.clone(), id, me);
                let (recovered, failure) = match journal.recover() {
                    Ok(r) => (r, None),
                    Err(e) => (Recovered::default(), Some(e)),
                };
                let fresh = !recovered.is_replay();
                let unacked: Vec<(Civ, Vec<u8>)> = recovered
                    .outbox
                    .values()
                    .filter(|(_, _, acked)| !acked)
                    .map(|(civ, payload, _)| (civ.clone(), payload.clone()))
                    .collect();
                let failure = failure.or_else(|| {
                    fresh
                        .then(|| journal.state(&SessionState::Running { waiting: None }, true))
                        .and_then(Result::err)
                });
                let s = Session::durable(id, me, census, placement, journal, recovered);
                (s, unacked, failure)
            }
        };
        let session = Arc::new(session);
        if let Some(e) = failure {
            lock(&self.inner.stats).store_errors += 1;
            session.fail(ChoreoError::Store {
                role: session.participant().to_string(),
                detail: e.to_string(),
            });
        }
        let held = {
            let mut s = lock(&self.inner.sessions);
            s.open.insert((id, me), session.clone());
            let held = s.held.remove(&(id, me)).unwrap_or_default();
            s.held_len -= held.len();
            held
        };
        let _ = self.observe(Event::SessionStart {
            session: id,
            participant: session.participant(),
        });
        // Frames the previous incarnation sent and nobody acknowledged go out again now.
        for (civ, payload) in unacked {
            if let Some(&node) = session.placement.get(usize::from(civ.to.0)) {
                self.track_and_transmit(node, civ, payload);
            }
        }
        for (from, civ, payload, ack) in held {
            let bytes = payload.len();
            self.inner.arrive(&session, from, civ, payload, ack, bytes);
        }
        session
    }

    /// Encodes and sends a frame the previous incarnation sent but nobody acknowledged.
    fn track_and_transmit(&self, node: NodeId, civ: Civ, payload: Vec<u8>) {
        let packet = Packet::Frame {
            civ,
            payload,
            ack: true,
        };
        let bytes = packet.encode();
        if let Packet::Frame { civ, .. } = packet {
            self.track_and_send(node, civ, bytes);
        }
    }

    /// Keeps an encoded frame for retransmission until it is acknowledged, and sends it.
    fn track_and_send(&self, node: NodeId, civ: Civ, bytes: Vec<u8>) {
        let rto = self.inner.config.link.initial_rto;
        let key = FrameKey::of(&civ);
        let unacked = Unacked {
            node,
            civ,
            bytes: bytes.clone(),
            due: Instant::now() + rto,
            rto,
        };
        if lock(&self.inner.link).track(key, unacked) {
            self.inner.link_wake.notify_one();
        }
        self.inner.transmit(node, bytes);
    }

    /// Restarts `session`'s participant in this process: a fresh session recovered from the
    /// journal replaces it (its replay starts over from the log).
    pub(crate) fn reopen_session(&self, session: &Arc<Session>) -> Arc<Session> {
        lock(&self.inner.sessions)
            .open
            .remove(&(session.id, session.me));
        session.fail(ChoreoError::Closed {
            session: session.id,
            participant: session.participant().to_string(),
        });
        self.open_session(
            session.id,
            session.me,
            session.census.clone(),
            session.placement.clone(),
        )
    }

    /// Closes `session` here: later frames for it are acknowledged and dropped.
    pub(crate) fn close_session(&self, session: &Session) {
        let key = (session.id, session.me);
        let mut s = lock(&self.inner.sessions);
        s.open.remove(&key);
        s.finished.insert(key);
        drop(s);
        lock(&self.inner.stats).unconsumed += session.unconsumed() as u64;
    }

    /// Sends `payload` from `session`'s participant to `to` on `lane`, reliably. Returns the
    /// observer's verdict on the send.
    pub(crate) fn send(
        &self,
        session: &Session,
        to: ParticipantId,
        lane: Lane,
        site: Site,
        payload: Vec<u8>,
        epoch: u64,
    ) -> Verdict {
        let seq = session.next_send_seq(to, lane);
        let occurrence = match lane {
            Lane::Data => session.next_occurrence(to, &site, epoch),
            Lane::Control => seq,
        };
        let civ = Civ {
            session: session.id,
            site,
            from: session.me,
            to,
            lane,
            seq,
            epoch,
            ordered: session.is_sequential(),
            occurrence,
        };
        let Some(&node) = session.placement.get(usize::from(to.0)) else {
            // The census and placement are built together; a participant outside both is a
            // bug in the caller, reported as a failed session rather than a panic.
            session.fail(ChoreoError::Census {
                detail: format!("no node hosts participant {to} of session {}", session.id),
            });
            return Verdict::Continue;
        };
        match session.logged_send(to, lane, seq, &payload) {
            // No new data frame goes out of a session that failed before the restart.
            LoggedSend::New if lane == Lane::Data && session.past_the_log() => {
                return Verdict::Continue;
            }
            LoggedSend::New => {}
            LoggedSend::Acknowledged | LoggedSend::InFlight => {
                // Replaying: the previous incarnation sent exactly this frame.
                lock(&self.inner.stats).replayed_sends += 1;
                return Verdict::Continue;
            }
            LoggedSend::Differs => {
                let error = ChoreoError::Nondeterminism {
                    role: session.participant().to_string(),
                    site: Box::new(civ.site.clone()),
                    detail: format!(
                        "the replayed send of frame {seq} to {} carries another payload than the \
                         one sent before the restart",
                        session.name(to)
                    ),
                };
                let site = civ.site.clone();
                self.fail_session(session, error, site);
                return Verdict::Continue;
            }
        }
        if let Some(journal) = session.journal() {
            if let Err(e) = journal.sending(&civ, &payload) {
                lock(&self.inner.stats).store_errors += 1;
                let error = ChoreoError::Store {
                    role: session.participant().to_string(),
                    detail: e.to_string(),
                };
                if session.fail(error.clone()) {
                    let _ = self.observe(Event::Failure {
                        session: session.id,
                        participant: session.participant(),
                        error: &error,
                        remote: false,
                    });
                }
                return Verdict::Continue;
            }
        }
        let packet = Packet::Frame {
            civ,
            payload,
            ack: self.inner.acks,
        };
        let bytes = packet.encode();
        let Packet::Frame { civ, .. } = packet else {
            return Verdict::Continue;
        };
        {
            let mut st = lock(&self.inner.stats);
            st.frames_sent += 1;
            st.bytes_sent += bytes.len() as u64;
        }
        let verdict = self.observe(Event::Frame {
            kind: FrameEvent::Send,
            civ: &civ,
            census: Some(&session.census),
            bytes: bytes.len(),
        });
        if self.inner.acks {
            self.track_and_send(node, civ, bytes);
        } else {
            self.inner.transmit(node, bytes);
        }
        verdict
    }

    /// Fails `session` here with `error` and, if this participant detected it, tells every
    /// other participant so that no one waits forever.
    pub(crate) fn fail_session(&self, session: &Session, error: ChoreoError, site: Site) {
        if !session.fail(error.clone()) {
            return;
        }
        self.observe(Event::Failure {
            session: session.id,
            participant: session.participant(),
            error: &error,
            remote: false,
        });
        let notice = postcard::to_stdvec(&Control::Abort(error)).unwrap_or_default();
        for i in 0..session.census.len() {
            let to = ParticipantId(i as u16);
            if to != session.me {
                // A failure notice goes out whatever an observer says.
                let _ = self.send(session, to, Lane::Control, site.clone(), notice.clone(), 0);
            }
        }
    }
}

impl NodeInner {
    /// Observes an event on which no verdict can act (the link layer's own events).
    fn observe(&self, event: Event<'_>) {
        if let Some(o) = &self.config.observer {
            let _ = o.on_event(self.id, &event);
        }
    }

    fn transmit(&self, node: NodeId, bytes: Vec<u8>) {
        if self.transport.send(node, bytes).is_err() {
            lock(&self.stats).send_errors += 1;
        }
    }

    fn ack(&self, to: NodeId, key: FrameKey) {
        lock(&self.stats).acks_sent += 1;
        let ack = Packet::Ack { key };
        self.transmit(to, ack.encode());
    }

    fn on_bytes(&self, from: NodeId, bytes: &[u8]) {
        let packet = match Packet::decode(from, bytes) {
            Ok(p) => p,
            Err(e) => {
                lock(&self.stats).corrupt += 1;
                self.observe(Event::Corrupt {
                    from,
                    detail: &e.to_string(),
                });
                return;
            }
        };
        match packet {
            Packet::Ack { key } => {
                if lock(&self.link).ack(&key) {
                    lock(&self.stats).acks_received += 1;
                    let (session, finished) = {
                        let s = lock(&self.sessions);
                        let at = (key.session, key.from);
                        (s.open.get(&at).cloned(), s.finished.contains(&at))
                    };
                    let stored = match (session.as_deref().and_then(Session::journal), finished) {
                        (Some(journal), _) => journal.acked(&key),
                        // A frame its session kept after ending (see `Journal::finish`).
                        (None, true) => match &self.config.store {
                            Some(store) => {
                                Journal::new(store.clone(), key.session, key.from).forget_sent(&key)
                            }
                            None => Ok(()),
                        },
                        (None, false) => Ok(()),
                    };
                    if stored.is_err() {
                        lock(&self.stats).store_errors += 1;
                    }
                }
            }
            Packet::Frame { civ, payload, ack } => {
                self.on_frame(from, civ, payload, ack, bytes.len())
            }
        }
    }

    fn on_frame(&self, from: NodeId, civ: Civ, payload: Vec<u8>, ack: bool, bytes: usize) {
        let key = (civ.session, civ.to);
        let open = {
            let mut s = lock(&self.sessions);
            if let Some(session) = s.open.get(&key) {
                Some(session.clone())
            } else if s.finished.contains(&key) {
                None
            } else {
                let kind = if s.held_len < HOLD_CAPACITY {
                    s.held_len += 1;
                    s.held
                        .entry(key)
                        .or_default()
                        .push((from, civ.clone(), payload, ack));
                    lock(&self.stats).held_unknown += 1;
                    FrameEvent::HoldUnknown
                } else {
                    lock(&self.stats).dropped_unknown += 1;
                    FrameEvent::HoldUnknown
                };
                drop(s);
                self.observe(Event::Frame {
                    kind,
                    civ: &civ,
                    census: None,
                    bytes,
                });
                return;
            }
        };
        match open {
            Some(session) => self.arrive(&session, from, civ, payload, ack, bytes),
            None => {
                lock(&self.stats).dropped_finished += 1;
                self.observe(Event::Frame {
                    kind: FrameEvent::DropFinished,
                    civ: &civ,
                    census: None,
                    bytes,
                });
                if ack {
                    self.ack(from, FrameKey::of(&civ));
                }
            }
        }
    }

    fn arrive(
        &self,
        session: &Session,
        from: NodeId,
        civ: Civ,
        payload: Vec<u8>,
        ack: bool,
        bytes: usize,
    ) {
        let observed = self.config.observer.is_some().then(|| civ.clone());
        let ack_key = FrameKey::of(&civ);
        let kind = match session.accept(civ, payload) {
            Err(e) => {
                // Not stored, so not acknowledged: the sender retransmits it. A sender that
                // does not retransmit never sends it again, so the session cannot go on.
                lock(&self.stats).store_errors += 1;
                if !ack {
                    let error = ChoreoError::Store {
                        role: session.participant().to_string(),
                        detail: e.to_string(),
                    };
                    if session.fail(error.clone()) {
                        self.observe(Event::Failure {
                            session: session.id,
                            participant: session.participant(),
                            error: &error,
                            remote: false,
                        });
                    }
                }
                return;
            }
            Ok(Arrival::Stored) => {
                lock(&self.stats).delivered += 1;
                FrameEvent::Deliver
            }
            Ok(Arrival::Duplicate) => {
                lock(&self.stats).duplicates += 1;
                FrameEvent::Duplicate
            }
            Ok(Arrival::Control(bytes)) => {
                lock(&self.stats).delivered += 1;
                match postcard::from_bytes::<Control>(&bytes) {
                    Ok(Control::Abort(error)) => {
                        if session.fail(error.clone()) {
                            self.observe(Event::Failure {
                                session: session.id,
                                participant: session.participant(),
                                error: &error,
                                remote: true,
                            });
                        }
                    }
                    Ok(notice) => session.note(ack_key.from, &notice),
                    Err(_) => lock(&self.stats).corrupt += 1,
                }
                FrameEvent::Deliver
            }
            Ok(Arrival::Stale) => {
                lock(&self.stats).stale += 1;
                FrameEvent::DropStale
            }
            Ok(Arrival::Late) => {
                lock(&self.stats).late += 1;
                FrameEvent::DropLate
            }
        };
        if let Some(civ) = &observed {
            self.observe(Event::Frame {
                kind,
                civ,
                census: Some(&session.census),
                bytes,
            });
        }
        // Stored first, acknowledged second: an acknowledged frame is never lost here.
        if ack {
            self.ack(from, ack_key);
        }
    }
}

async fn dispatch(inner: Arc<NodeInner>) {
    let transport = inner.transport.clone();
    while let Ok((from, bytes)) = transport.recv().await {
        inner.on_bytes(from, &bytes);
    }
}

async fn retransmit(inner: Arc<NodeInner>) {
    loop {
        let next = lock(&inner.link).next_due();
        match next {
            None => inner.link_wake.notified().await,
            Some(due) => {
                // `biased`: tokio's select! otherwise picks a branch with its own thread RNG,
                // seeded from a process-wide counter, which would make simulations depend on
                // what else ran in the process.
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(due) => {}
                    _ = inner.link_wake.notified() => {}
                }
            }
        }
        let due = lock(&inner.link).due(Instant::now(), &inner.config.link);
        for (node, civ, bytes) in due {
            lock(&inner.stats).retransmitted += 1;
            inner.observe(Event::Frame {
                kind: FrameEvent::Retransmit,
                civ: &civ,
                census: None,
                bytes: bytes.len(),
            });
            inner.transmit(node, bytes);
        }
    }
}
