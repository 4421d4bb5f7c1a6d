//! Observers: hooks that see every event of a node, and may act on it.
//!
//! The simulator uses them to build traces and to fire faults at exact sites: an observer's
//! [`Verdict`] on a send, a receive or a local step can halt the participant right there (its
//! process is dying) or make the local step crash. A node without an observer pays one branch
//! per event and builds nothing.

use crate::error::ChoreoError;
use crate::ident::{Census, Participant, SessionId, Site};
use crate::net::civ::Civ;
use crate::net::transport::NodeId;

/// What happened to a frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameEvent {
    /// A frame was sent for the first time.
    Send,
    /// An unacknowledged frame was sent again.
    Retransmit,
    /// A new frame was accepted into the receiver's inbox (and acknowledged).
    Deliver,
    /// A copy of a frame already accepted arrived and was discarded (and acknowledged again).
    Duplicate,
    /// A choreography operator consumed the frame.
    Receive,
    /// The frame's session had already finished at the receiver: dropped.
    DropFinished,
    /// The frame's session is not open at the receiver (yet): held, not acknowledged.
    HoldUnknown,
    /// The frame came from an attempt that recovery abandoned: discarded.
    DropStale,
    /// The frame was for a receive that had already timed out: discarded (and counted as
    /// consumed, so it is never matched to a later receive).
    DropLate,
}

/// Which way a participant went at a checkpoint block instance.
#[derive(Debug)]
pub enum CheckpointPath<'a> {
    /// It entered the body.
    Enter,
    /// It left through the body: every participant finished it.
    Exit,
    /// It runs the rescue.
    Rescue {
        /// Why.
        cause: &'a crate::error::Rescued,
        /// Frames of the abandoned body it discarded.
        dropped: usize,
    },
}

/// What a participant did in a session's saga (see `Choreo::transaction`).
#[derive(Debug)]
pub enum SagaStep<'a> {
    /// It committed transaction `name`, the `index`-th commit of the session here (from 0).
    Commit {
        /// The transaction's name.
        name: &'a str,
        /// Its place in this participant's commit order.
        index: u64,
    },
    /// It learned that the session failed (or failed it) and marked its saga failed: no
    /// commit is accepted here after this, and its compensations follow.
    Abort {
        /// Why the session failed.
        error: &'a ChoreoError,
        /// How many of its commits remain to be compensated.
        pending: u64,
    },
    /// It compensated commit `index` (transaction `name`).
    Compensate {
        /// The transaction's name.
        name: &'a str,
        /// The commit's place in this participant's commit order.
        index: u64,
    },
}

/// One event of a node.
#[derive(Debug)]
pub enum Event<'a> {
    /// A participant started running its projection of a session.
    SessionStart {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
    },
    /// A participant finished its projection of a session.
    SessionEnd {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// Its result: the outcome as JSON, or the error.
        outcome: Result<&'a str, &'a ChoreoError>,
    },
    /// Something happened to a frame.
    Frame {
        /// What happened.
        kind: FrameEvent,
        /// The frame's token.
        civ: &'a Civ,
        /// The session's census at this node, when the session is known here.
        census: Option<&'a Census>,
        /// Encoded size of the frame.
        bytes: usize,
        /// The encoded value the frame carries, on [`FrameEvent::Send`] only (borrowed: a
        /// node without an observer builds nothing).
        payload: Option<&'a [u8]>,
    },
    /// A participant drew a random number or read the clock (`ch.random`, `ch.now`), also
    /// when a replay took the value from its journal. The reference run along a path draws
    /// the same values (see [`RunPath`](crate::RunPath)).
    Draw {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// The operator's site.
        site: &'a Site,
        /// The checkpoint block instance the draw runs in (0: none).
        epoch: u64,
        /// Its place in the participant's effect log (every `side_effect`, `random` and
        /// `now` counts): the same draw has the same index when a replay returns it.
        index: u64,
        /// The value, encoded as the journal keeps it.
        value: &'a [u8],
    },
    /// A participant ran a local step.
    Local {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// The operator's site.
        site: &'a Site,
    },
    /// A participant starts an iteration of a `ch.repeat` loop.
    Iteration {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// The loop's site.
        site: &'a Site,
        /// The iteration about to run, from 0 (after a restart: the one it resumes at).
        iteration: u64,
    },
    /// A participant entered, left, or rescued a checkpoint block instance.
    Checkpoint {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// The checkpoint's site.
        site: &'a Site,
        /// The block instance.
        block: u64,
        /// Which way.
        path: CheckpointPath<'a>,
    },
    /// A receive with a timeout ([`Choreo::comm_within`](crate::Choreo::comm_within)) gave
    /// up waiting (also when a replay finds in its journal that it did).
    TimedOut {
        /// The session.
        session: SessionId,
        /// The receiving participant.
        participant: Participant,
        /// The sender it waited for.
        from: Participant,
        /// The operator's site.
        site: &'a Site,
        /// The checkpoint block instance the receive runs in (0: none).
        epoch: u64,
        /// Which receive from `from` at `site` in `epoch` it was, from 0.
        occurrence: u64,
    },
    /// A participant committed, aborted or compensated in a session's saga. Observers may
    /// halt the participant at a commit or a compensation (after it is durable).
    Saga {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// What it did.
        step: SagaStep<'a>,
    },
    /// A session failed at a participant.
    Failure {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// Why.
        error: &'a ChoreoError,
        /// Whether the failure was reported by a peer rather than detected here.
        remote: bool,
    },
    /// A participant checked a coverage goal ([`Choreo::sometimes`](crate::Choreo::sometimes)).
    Sometimes {
        /// The session.
        session: SessionId,
        /// The participant.
        participant: Participant,
        /// Where the goal is declared.
        site: &'a Site,
        /// The goal's label.
        label: &'a str,
        /// Whether its condition held.
        reached: bool,
    },
    /// Bytes that do not decode as a frame arrived and were dropped.
    Corrupt {
        /// The node they came from.
        from: NodeId,
        /// What the decoder reported.
        detail: &'a str,
    },
}

/// What the runtime does after an observer has seen an event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    #[default]
    Continue,
    /// The participant's process is dying here: the operator never returns. Honoured after
    /// sends, receives and before local steps.
    Halt,
    /// The operator crashes here with this panic message (an injected application crash of
    /// the acting participant at this site, rescued or replayed like a panic in its code).
    /// Honoured on [`Event::Local`] (the local step crashes instead of running), on data
    /// frames sent and received (the operator crashes after its send or receive) and on a
    /// checkpoint's entry (its body crashes at once).
    Panic(String),
}

impl Verdict {
    /// The verdict on one operator that acted several times (a broadcast's sends): halting
    /// beats crashing, which beats going on; of two crashes, the first.
    ///
    /// ```
    /// use rehearsal::observer::Verdict;
    ///
    /// let v = Verdict::Continue.and(Verdict::Panic("boom".into()));
    /// assert_eq!(v, Verdict::Panic("boom".into()));
    /// assert_eq!(v.and(Verdict::Halt), Verdict::Halt);
    /// ```
    pub fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Halt, _) | (_, Verdict::Halt) => Verdict::Halt,
            (p @ Verdict::Panic(_), _) | (_, p @ Verdict::Panic(_)) => p,
            _ => Verdict::Continue,
        }
    }
}

/// Sees every event of the nodes it is attached to.
pub trait Observer: Send + Sync + 'static {
    /// Called synchronously for each event at node `node`; must not block. Observers that
    /// only watch return [`Verdict::Continue`].
    fn on_event(&self, node: NodeId, event: &Event<'_>) -> Verdict;
}
