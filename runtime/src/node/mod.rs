//! Nodes: a process's share of the runtime.
//!
//! A [`Node`] owns one [`Transport`] endpoint and hosts any number of participants of any
//! number of sessions. This file is its face to the sessions: opening one (recovering its
//! journal, taking in frames held for it), sending a frame reliably (journaled first; a
//! replay does not send again what a peer acknowledged), failing a session and telling its
//! peers, closing it. What arrives is handled by the node's dispatcher and retransmitter in
//! [`inner`](self::inner), which also holds the state they share.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::engine::journal::{Journal, Recovered, SessionState};
use crate::engine::notice::Control;
use crate::engine::replay::LoggedSend;
use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{Census, ParticipantId, SessionId, Site};
use crate::net::civ::{Civ, Lane};
use crate::net::link::{LinkTx, Packet};
use crate::net::transport::{NodeId, Transport, lock};
use crate::observer::{Event, FrameEvent, Observer, Verdict};
use crate::store::Store;

mod fail_stop;
mod inner;

use fail_stop::{FailStopStore, Tripwire};
pub use inner::{NodeConfig, NodeStats};
use inner::{NodeInner, Sessions, dispatch, retransmit};

/// A node: hosts participants of sessions over one transport endpoint.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

impl Node {
    /// Starts a node on `transport`: spawns its dispatcher and retransmitter on the current
    /// runtime (in simulation: on the current simulated node).
    ///
    /// A failed store write or sync makes the node fail-stop (see [`Node::fail_stopped`]).
    pub fn start(id: NodeId, transport: Arc<dyn Transport>, mut config: NodeConfig) -> Node {
        let acks = !transport.guarantees().reliable || config.store.is_some();
        let halted = Arc::new(Tripwire::default());
        config.store = config
            .store
            .map(|s| Arc::new(FailStopStore::new(s, halted.clone())) as Arc<dyn Store>);
        let inner = Arc::new(NodeInner {
            id,
            transport,
            config,
            acks,
            halted,
            sessions: Mutex::new(Sessions::default()),
            link: Mutex::new(LinkTx::default()),
            link_wake: Notify::new(),
            stats: Mutex::new(NodeStats::default()),
            tasks: Mutex::new(Vec::new()),
            saga_lock: Mutex::new(()),
            volatile: Arc::new(crate::store::MemoryStore::new()),
        });
        inner.recover_ended();
        let dispatcher = tokio::spawn(dispatch(inner.clone()));
        lock(&inner.tasks).push(dispatcher);
        if acks {
            let retransmitter = tokio::spawn(retransmit(inner.clone()));
            lock(&inner.tasks).push(retransmitter);
        }
        Node { inner }
    }

    /// Resolves when the node has fail-stopped, with the store failure that stopped it.
    ///
    /// A store that fails a write or a sync leaves the node unsure of what is durable, so the
    /// node stops at that point as if its process had died there: from then on it sends
    /// nothing, acknowledges nothing, writes nothing, reports nothing to its observer, and
    /// every participant halts at its next operator (its session's outcome is never
    /// reported). Its host must then restart it on the same store: the restarted node
    /// recovers from what the store made durable, and its participants replay. This is how
    /// Rehearsal answers a failed `fsync`: a retry that succeeds would prove nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rehearsal::net::transport::{InProcessNetwork, NodeId};
    /// use rehearsal::store::{CrashableStore, Store};
    /// use rehearsal::{Node, NodeConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let disk = CrashableStore::new();
    /// let config = NodeConfig {
    ///     store: Some(Arc::new(disk.clone()) as Arc<dyn Store>),
    ///     ..NodeConfig::default()
    /// };
    /// let net = InProcessNetwork::new();
    /// let node = Node::start(NodeId(0), Arc::new(net.endpoint(NodeId(0))), config);
    /// // A host restarts the node when this resolves.
    /// let host = tokio::spawn({
    ///     let node = node.clone();
    ///     async move { node.fail_stopped().await }
    /// });
    /// assert!(!node.is_fail_stopped());
    /// # drop(host);
    /// # }
    /// ```
    pub async fn fail_stopped(&self) -> crate::store::StoreError {
        self.inner.halted.tripped_by().await
    }

    /// Whether the node has fail-stopped (see [`Node::fail_stopped`]).
    pub fn is_fail_stopped(&self) -> bool {
        self.inner.halted.tripped()
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
        if self.inner.halted.tripped() {
            // Fail-stopped: the participant goes no further, and nothing is reported.
            return Verdict::Halt;
        }
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
                    .filter(|(_, _, acked)| {
                        !acked
                            || crate::planted::planted()
                                == Some(crate::planted::Bug::ResendAcknowledged)
                    })
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
        self.inner.track_and_transmit(node, civ, payload);
    }

    /// Keeps an encoded frame for retransmission until it is acknowledged, and sends it.
    fn track_and_send(&self, node: NodeId, civ: Civ, bytes: Vec<u8>) {
        self.inner.track_and_send(node, civ, bytes);
    }

    /// Restarts `session`'s participant in this process: a fresh session recovered from the
    /// journal replaces it (its replay starts over from the log).
    pub(crate) fn reopen_session(&self, session: &Arc<Session>) -> Arc<Session> {
        session.abort_children();
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
        match self.prepare(session, to, lane, site, payload, epoch) {
            Some(frame) => self.send_prepared(session, vec![frame]),
            None => Verdict::Continue,
        }
    }

    /// Sends `payload` to each of `to` (a notice to every other member of a block), journaled
    /// as one batch before any of them leaves: a store failure leaves all of them logged or
    /// none, so a replay that finds the notice logged owes it to every member (it resends
    /// those not acknowledged), and one that does not runs the step again. Returns the
    /// verdicts, combined.
    pub(crate) fn send_each(
        &self,
        session: &Session,
        to: impl IntoIterator<Item = ParticipantId>,
        lane: Lane,
        site: &Site,
        payload: &[u8],
        epoch: u64,
    ) -> Verdict {
        let frames = to
            .into_iter()
            .filter_map(|m| self.prepare(session, m, lane, site.clone(), payload.to_vec(), epoch))
            .collect();
        self.send_prepared(session, frames)
    }

    /// Numbers a frame to `to` and decides whether it goes out: `None` when a replay finds it
    /// sent before (or the session cannot send it).
    fn prepare(
        &self,
        session: &Session,
        to: ParticipantId,
        lane: Lane,
        site: Site,
        payload: Vec<u8>,
        epoch: u64,
    ) -> Option<(NodeId, Civ, Vec<u8>)> {
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
            return None;
        };
        match session.logged_send(to, lane, seq, &payload) {
            // No new data frame goes out of a session that failed before the restart.
            LoggedSend::New if lane == Lane::Data && session.past_the_log() => None,
            LoggedSend::New => Some((node, civ, payload)),
            LoggedSend::Acknowledged | LoggedSend::InFlight => {
                // Replaying: the previous incarnation sent exactly this frame.
                lock(&self.inner.stats).replayed_sends += 1;
                None
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
                None
            }
        }
    }

    /// Journals `frames` (one batch) and sends each.
    fn send_prepared(&self, session: &Session, frames: Vec<(NodeId, Civ, Vec<u8>)>) -> Verdict {
        if frames.is_empty() {
            return Verdict::Continue;
        }
        if let Some(journal) = session.journal() {
            if let Err(e) = journal.sending(&frames) {
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
        let mut verdict = Verdict::Continue;
        for (node, civ, payload) in frames {
            let packet = Packet::Frame {
                civ,
                payload,
                ack: self.inner.acks,
            };
            let bytes = packet.encode();
            let Packet::Frame { civ, payload, .. } = packet else {
                continue;
            };
            {
                let mut st = lock(&self.inner.stats);
                st.frames_sent += 1;
                st.bytes_sent += bytes.len() as u64;
            }
            let seen = self.observe(Event::Frame {
                kind: FrameEvent::Send,
                civ: &civ,
                census: Some(&session.census),
                bytes: bytes.len(),
                payload: Some(&payload),
            });
            if self.inner.acks {
                self.track_and_send(node, civ, bytes);
            } else {
                self.inner.transmit(node, bytes);
            }
            verdict = verdict.and(seen);
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
        let others = (0..session.census.len() as u16)
            .map(ParticipantId)
            .filter(|&to| to != session.me);
        // A failure notice goes out whatever an observer says.
        let _ = self.send_each(session, others, Lane::Control, &site, &notice, 0);
    }
}
