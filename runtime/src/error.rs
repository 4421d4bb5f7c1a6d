//! Errors of choreographies, transports and the wire format.

use serde::{Deserialize, Serialize};

use crate::ident::{SessionId, Site};

/// Why a choreography operator, and with it the session at this participant, failed.
///
/// A failure at one participant is sent to every other participant of the session, so every
/// participant still running ends with the same error instead of waiting forever. (A
/// participant that already finished its part keeps its outcome.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ChoreoError {
    /// Two roles' projections diverged: a frame arrived from a different site than the
    /// receiver's code expected.
    #[error(
        "integrity violation in session {session}: {receiver} expected a frame from {sender} \
         for site {expected}, but {sender}'s next frame (#{seq}) was sent at site {got}: the \
         roles' projections diverged (does control flow depend on something that differs \
         between roles, like a value that was not broadcast, the clock or a random number?)"
    )]
    Integrity {
        /// The session.
        session: SessionId,
        /// The participant that sent the frame.
        sender: String,
        /// The participant that detected the mismatch.
        receiver: String,
        /// The frame's sequence number on its channel.
        seq: u64,
        /// The site the receiver was executing.
        expected: Box<Site>,
        /// The site the sender was executing.
        got: Box<Site>,
    },
    /// A role's local code panicked (an application crash) and nothing rescued it.
    #[error("{role} crashed at {site}: {message}")]
    Crashed {
        /// The participant that crashed.
        role: String,
        /// The operator whose local code crashed.
        site: Box<Site>,
        /// The panic message.
        message: String,
    },
    /// A payload could not be encoded or decoded as the type the code names at its site.
    #[error("cannot {action} the value at {site} (from {sender}): {detail}")]
    Codec {
        /// `encode` or `decode`.
        action: String,
        /// The site of the operator.
        site: Box<Site>,
        /// The sender of the value.
        sender: String,
        /// What the codec reported.
        detail: String,
    },
    /// A census could not be built or an operator's shape does not fit it.
    #[error("census: {detail}")]
    Census {
        /// What was wrong and what was expected.
        detail: String,
    },
    /// The transport failed for good (not a lost frame, which the link layer repairs).
    #[error("transport failed: {detail}")]
    Transport {
        /// What the transport reported.
        detail: String,
    },
    /// A replayed participant did something other than what its log says it did: a send
    /// with a different payload, or a side effect of another kind or at another site. Its
    /// code is not deterministic given its inputs (a clock, a random number or an outside
    /// call that does not go through `ch.now()`, `ch.random()` or `ch.side_effect(..)`).
    #[error("nondeterminism in {role} at {site}: {detail}")]
    Nondeterminism {
        /// The replayed participant.
        role: String,
        /// Where the replay diverged from the log.
        site: Box<Site>,
        /// What differed.
        detail: String,
    },
    /// The participant's durable store failed.
    #[error("store failed at {role}: {detail}")]
    Store {
        /// The participant.
        role: String,
        /// What the store reported.
        detail: String,
    },
    /// A transaction's commit said no (or the choreography called `ch.abort`): a business
    /// abort. Every participant ends the session with this error, after compensating every
    /// commit it made in the session, in reverse commit order.
    #[error("saga aborted by {role} at transaction `{transaction}`: {reason}")]
    Aborted {
        /// The participant whose commit said no.
        role: String,
        /// The transaction (or the abort's label).
        transaction: String,
        /// The reason the commit gave.
        reason: String,
    },
    /// The node hosting this participant shut down before the session finished.
    #[error("session {session} was closed at {participant} before it finished")]
    Closed {
        /// The session.
        session: SessionId,
        /// The participant whose node closed.
        participant: String,
    },
}

/// A transport's failure to move a frame. Loss is not an error: transports may drop frames.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The transport was shut down.
    #[error("transport closed")]
    Closed,
    /// No route to the node.
    #[error("no route to node {0}")]
    Unreachable(u32),
    /// An I/O error, as text.
    #[error("I/O: {0}")]
    Io(String),
}

/// A frame from the wire could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "corrupt frame of {len} bytes from node {from}: {detail}; expected a postcard-encoded rehearsal packet"
)]
pub struct FrameError {
    /// The node the bytes came from.
    pub from: u32,
    /// How many bytes arrived.
    pub len: usize,
    /// What the decoder reported.
    pub detail: String,
}

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
