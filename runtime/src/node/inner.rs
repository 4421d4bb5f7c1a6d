//! A node's state and its wire side.
//!
//! [`NodeInner`] holds what a [`Node`](super::Node) shares among its tasks: its config and
//! counters, the sessions open (and finished) here, frames held for sessions not open yet,
//! and the link layer's unacknowledged frames. Its dispatcher task ([`dispatch`]) decodes
//! arriving bytes and routes each frame to the open session it names, storing it before
//! acknowledging it; frames of finished sessions are acknowledged and dropped; corrupt bytes
//! are counted and dropped, never a panic. Its retransmitter task ([`retransmit`]) resends
//! unacknowledged frames with backoff.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::inbox::Arrival;
use crate::engine::journal::Journal;
use crate::engine::notice::Control;
use crate::engine::session::Session;
use crate::error::ChoreoError;
use crate::ident::{ParticipantId, SessionId};
use crate::net::civ::Civ;
use crate::net::link::{FrameKey, LinkConfig, LinkTx, Packet, Unacked};
use crate::net::transport::{NodeId, Transport, lock};
use crate::observer::{Event, FrameEvent, Observer};
use crate::store::Store;

/// How a node behaves.
#[derive(Clone, Default)]
pub struct NodeConfig {
    /// Retransmission timing.
    pub link: LinkConfig,
    /// Sees every event of the node; `None` costs nothing.
    pub observer: Option<Arc<dyn Observer>>,
    /// Where the node journals its participants' sessions, so a restarted participant
    /// replays instead of starting over. `None`: nothing is journaled (no recovery). A
    /// write or sync the store fails makes the node fail-stop
    /// ([`Node::fail_stopped`](super::Node::fail_stopped)): its host restarts it.
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
pub(super) struct Sessions {
    pub(super) open: BTreeMap<SessionKey, Arc<Session>>,
    pub(super) finished: BTreeSet<SessionKey>,
    pub(super) held: BTreeMap<SessionKey, Vec<Held>>,
    pub(super) held_len: usize,
}

pub(super) struct NodeInner {
    pub(super) id: NodeId,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) config: NodeConfig,
    pub(super) sessions: Mutex<Sessions>,
    pub(super) link: Mutex<LinkTx>,
    pub(super) link_wake: Notify,
    pub(super) stats: Mutex<NodeStats>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Serializes the commits and compensations of every session here, so two sessions'
    /// read-modify-writes of shared application records never interleave.
    pub(super) saga_lock: Mutex<()>,
    /// Where transactions keep their records when the node has no store (lost with it).
    pub(super) volatile: Arc<dyn Store>,
    /// Frames sent from here are kept until acknowledged and retransmitted: always, but over
    /// a transport that delivers every frame from a node that journals nothing (where a lost
    /// acknowledgement or a replay cannot happen).
    pub(super) acks: bool,
    /// Trips on the first store failure: the node fail-stops (see `fail_stop`).
    pub(super) halted: Arc<super::fail_stop::Tripwire>,
}

impl NodeInner {
    /// Observes an event on which no verdict can act (the link layer's own events).
    pub(super) fn observe(&self, event: Event<'_>) {
        if self.halted.tripped() {
            return;
        }
        if let Some(o) = &self.config.observer {
            let _ = o.on_event(self.id, &event);
        }
    }

    pub(super) fn transmit(&self, node: NodeId, bytes: Vec<u8>) {
        if self.halted.tripped() {
            return;
        }
        if self.transport.send(node, bytes).is_err() {
            lock(&self.stats).send_errors += 1;
        }
    }

    /// Encodes and sends a frame sent before and not acknowledged, keeping it for
    /// retransmission.
    pub(super) fn track_and_transmit(&self, node: NodeId, civ: Civ, payload: Vec<u8>) {
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
    pub(super) fn track_and_send(&self, node: NodeId, civ: Civ, bytes: Vec<u8>) {
        let rto = self.config.link.initial_rto;
        let key = FrameKey::of(&civ);
        let unacked = Unacked {
            node,
            civ,
            bytes: bytes.clone(),
            due: Instant::now() + rto,
            rto,
        };
        if lock(&self.link).track(key, unacked) {
            self.link_wake.notify_one();
        }
        self.transmit(node, bytes);
    }

    /// At start: the sessions whose participants ended here before (their journals say so)
    /// are finished here, so their late frames are acknowledged and dropped, not held for
    /// a session that will never open again.
    pub(super) fn recover_ended(&self) {
        let Some(store) = &self.config.store else {
            return;
        };
        let ended = match Journal::ended_in(&**store) {
            Ok(ended) => ended,
            Err(_) => {
                lock(&self.stats).store_errors += 1;
                return;
            }
        };
        lock(&self.sessions).finished.extend(ended.iter().copied());
        // What they still owe their peers goes out again now: a peer that lost this
        // participant's end notice waits for it, and nothing else would resend it.
        for (session, me) in ended {
            match Journal::new(store.clone(), session, me).owed() {
                Ok(owed) => {
                    for (node, civ, payload) in owed {
                        self.track_and_transmit(node, civ, payload);
                    }
                }
                Err(_) => lock(&self.stats).store_errors += 1,
            }
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
                    payload: None,
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
                    payload: None,
                });
                if ack {
                    self.ack(from, FrameKey::of(&civ));
                }
            }
        }
    }

    pub(super) fn arrive(
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
                payload: None,
            });
        }
        // Stored first, acknowledged second: an acknowledged frame is never lost here.
        if ack {
            self.ack(from, ack_key);
        }
    }
}

pub(super) async fn dispatch(inner: Arc<NodeInner>) {
    let transport = inner.transport.clone();
    while let Ok((from, bytes)) = transport.recv().await {
        inner.on_bytes(from, &bytes);
    }
}

pub(super) async fn retransmit(inner: Arc<NodeInner>) {
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
                payload: None,
            });
            inner.transmit(node, bytes);
        }
    }
}
