//! The link layer: effectively-once, per-channel delivery over a lossy transport.
//!
//! Every data frame is numbered on its (session, sender, receiver, lane) channel. The sender
//! keeps each frame until the receiver acknowledges it and retransmits it with exponential
//! backoff; the receiver acknowledges every copy it gets, keeps the first and discards the
//! rest ([`Dedup`]). Over a transport that declares it delivers every frame exactly once
//! (an in-process channel), a node without a store neither keeps nor retransmits frames and
//! asks for no acknowledgements: the link does only the work its transport needs. Ordering is restored above, in the session inbox, which hands frames to
//! operators strictly by sequence number. This module owns the wire format ([`Packet`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::FrameError;
use crate::ident::{ParticipantId, SessionId};
use crate::net::civ::{Civ, Lane};
use crate::net::transport::NodeId;

/// Timing of retransmissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// Time before the first retransmission of an unacknowledged frame.
    pub initial_rto: Duration,
    /// Upper bound of the doubling retransmission timeout.
    pub max_rto: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            initial_rto: Duration::from_millis(120),
            max_rto: Duration::from_millis(1_000),
        }
    }
}

/// Everything that crosses the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Packet {
    /// A frame of a session: a value (data lane) or a control message (control lane).
    Frame {
        /// Its token.
        civ: Civ,
        /// The encoded value or control message.
        payload: Vec<u8>,
        /// The sender keeps the frame until it is acknowledged (retransmitting it): the
        /// receiver must acknowledge every copy. False only over a transport that delivers
        /// every frame (see [`Guarantees`](crate::net::transport::Guarantees)) from a node
        /// that journals nothing, where an acknowledgement would change nothing.
        ack: bool,
    },
    /// The receiver has stored the frame `key` names.
    Ack {
        /// The acknowledged frame's channel and number.
        key: FrameKey,
    },
}

/// Names one frame: its channel and sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct FrameKey {
    /// Session.
    pub session: SessionId,
    /// Sender.
    pub from: ParticipantId,
    /// Receiver.
    pub to: ParticipantId,
    /// Lane.
    pub lane: Lane,
    /// Sequence number.
    pub seq: u64,
}

impl FrameKey {
    /// The key of the frame `civ` belongs to.
    pub fn of(civ: &Civ) -> FrameKey {
        FrameKey {
            session: civ.session,
            from: civ.from,
            to: civ.to,
            lane: civ.lane,
            seq: civ.seq,
        }
    }
}

impl Packet {
    /// Encodes the packet for the wire.
    pub fn encode(&self) -> Vec<u8> {
        // Encoding a packet of owned plain data into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes bytes from node `from`; any malformed input is an error, never a panic.
    pub fn decode(from: NodeId, bytes: &[u8]) -> Result<Packet, FrameError> {
        postcard::from_bytes(bytes).map_err(|e| FrameError {
            from: from.0,
            len: bytes.len(),
            detail: e.to_string(),
        })
    }
}

/// Receiver-side duplicate suppression for one channel.
#[derive(Clone, Debug, Default)]
pub struct Dedup {
    below: u64,
    above: BTreeSet<u64>,
}

impl Dedup {
    /// The smallest sequence number not yet seen.
    pub fn next_missing(&self) -> u64 {
        self.below
    }

    /// Whether `seq` was seen.
    pub fn seen(&self, seq: u64) -> bool {
        seq < self.below || self.above.contains(&seq)
    }

    /// Records `seq`; true the first time it is seen.
    pub fn accept(&mut self, seq: u64) -> bool {
        if seq < self.below || !self.above.insert(seq) {
            return false;
        }
        while self.above.remove(&self.below) {
            self.below += 1;
        }
        true
    }
}

/// A frame waiting for its acknowledgement.
pub(crate) struct Unacked {
    pub node: NodeId,
    pub civ: Civ,
    pub bytes: Vec<u8>,
    pub due: Instant,
    pub rto: Duration,
}

/// Sender-side state of a node: every frame sent and not yet acknowledged.
#[derive(Default)]
pub(crate) struct LinkTx {
    unacked: BTreeMap<FrameKey, Unacked>,
}

impl LinkTx {
    /// Starts tracking a frame; true if the set was empty (the retransmitter may be idle).
    pub fn track(&mut self, key: FrameKey, frame: Unacked) -> bool {
        let was_empty = self.unacked.is_empty();
        self.unacked.insert(key, frame);
        was_empty
    }

    /// The frame was acknowledged.
    pub fn ack(&mut self, key: &FrameKey) -> bool {
        self.unacked.remove(key).is_some()
    }

    /// When the next retransmission is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.unacked.values().map(|u| u.due).min()
    }

    /// Takes every frame due at `now` and schedules its next retransmission.
    pub fn due(&mut self, now: Instant, cfg: &LinkConfig) -> Vec<(NodeId, Civ, Vec<u8>)> {
        let mut out = Vec::new();
        for u in self.unacked.values_mut() {
            if u.due <= now {
                u.rto = (u.rto * 2).min(cfg.max_rto);
                u.due = now + u.rto;
                out.push((u.node, u.civ.clone(), u.bytes.clone()));
            }
        }
        out
    }

    /// Number of frames in flight.
    pub fn in_flight(&self) -> usize {
        self.unacked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ident::Site;

    #[test]
    fn dedup_accepts_each_sequence_number_once_in_any_order() {
        let mut d = Dedup::default();
        assert!(d.accept(2));
        assert!(d.accept(0));
        assert!(!d.accept(0));
        assert!(d.accept(1));
        assert!(!d.accept(2));
        assert!(!d.accept(1));
        assert!(d.accept(3));
        assert_eq!(d.below, 4);
        assert!(d.above.is_empty());
    }

    #[test]
    fn packets_round_trip_and_garbage_is_an_error() {
        let p = Packet::Frame {
            civ: Civ {
                session: SessionId(3),
                site: Site::caller(Some("x")),
                from: ParticipantId(0),
                to: ParticipantId(1),
                lane: Lane::Data,
                seq: 9,
                epoch: 7,
                ordered: true,
                occurrence: 0,
            },
            payload: vec![1, 2, 3],
            ack: true,
        };
        let bytes = p.encode();
        assert_eq!(Packet::decode(NodeId(0), &bytes).unwrap(), p);
        let err = Packet::decode(NodeId(4), &[0xff, 0xff, 0xff]).unwrap_err();
        assert!(
            err.to_string()
                .contains("corrupt frame of 3 bytes from node 4"),
            "{err}"
        );
    }
}
