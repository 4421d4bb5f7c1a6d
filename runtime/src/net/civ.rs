//! CIV tokens: the identity every frame carries.
//!
//! A token names the session, the *site* (the source location of the operator, plus an
//! optional stable label), the sender, the receiver, the frame's sequence number on its
//! (session, sender, receiver) channel, and the recovery epoch. The receiver checks the site
//! it expects against the token's, so a divergence between two roles' projections is caught
//! as an integrity error instead of being read as a wrong value.

use serde::{Deserialize, Serialize};

use crate::ident::{ParticipantId, SessionId, Site};

/// Which sequence space a frame belongs to: choreography data, or session control
/// (failure notices) that must overtake data.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum Lane {
    /// Values sent by communication operators, consumed in send order.
    Data,
    /// Session control: processed on arrival.
    Control,
}

/// The token on every frame.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Civ {
    /// The session the frame belongs to.
    pub session: SessionId,
    /// Where the sender sent it.
    pub site: Site,
    /// Sending participant.
    pub from: ParticipantId,
    /// Receiving participant.
    pub to: ParticipantId,
    /// The lane whose sequence `seq` counts.
    pub lane: Lane,
    /// Sequence number on the (session, from, to, lane) channel, from 0.
    pub seq: u64,
    /// Number of this frame among the frames from `from` to `to` at this site, from 0:
    /// receives at one site take frames in this order, whatever order they arrive in.
    pub occurrence: u64,
    /// Recovery epoch of the sender when it sent the frame: the checkpoint block instance
    /// it was running in (0 outside every block). Frames of a block a receiver abandoned
    /// (rescued) are discarded by this.
    pub epoch: u64,
    /// The sender had no other operation waiting in this session when it sent the frame, so
    /// the frame's place in channel order is its place in the sender's program order (what
    /// lets a receiver tell a diverged projection from concurrency).
    pub ordered: bool,
}
