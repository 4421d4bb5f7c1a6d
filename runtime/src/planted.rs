//! Defects that tests plant in the runtime, to check that the oracles catch each one.
//!
//! Test-only: planting needs the cargo feature `planted-bugs`, which no release build
//! enables; without it [`planted`] is always `None` and compiles away. A planted defect holds
//! for the whole process (tests that plant one run in a process of their own).

#[cfg(feature = "planted-bugs")]
use std::sync::atomic::{AtomicU8, Ordering};

/// A defect a test plants, one per layer it breaks.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// Saga: each compensation runs twice.
    CompensateTwice,
    /// Saga: a commit is accepted after the failure notice: the check is skipped, and the
    /// commit is handed to a worker that runs it a little later.
    CommitAfterNotice,
    /// Saga: compensations run in commit order instead of reverse commit order.
    CompensateInCommitOrder,
    /// Link: the duplicate filter forgets what it accepted, so a copy of a frame (a
    /// retransmission, a duplicate the network made) is handed to the session again. The
    /// session's inbox, keyed by sequence number, absorbs it: no outcome changes.
    RedeliverCopies,
    /// Replay: a replayed `ch.random` or `ch.now` draws again instead of returning the value
    /// its journal logged.
    RedrawOnReplay,
    /// Journal: a received frame's inbox record is committed but not synced before the frame
    /// is acknowledged (the next write that syncs makes it durable). Only a crash in between
    /// loses it, and even then only a replay that needs the frame notices (its sender, told
    /// it was stored, never sends it again): no outcome changes on almost every run.
    AckBeforeDurable,
    /// Checkpoint: a data frame of a block instance this participant abandoned (rescued) is
    /// admitted into the inbox instead of being dropped as stale. No receive of the abandoned
    /// body runs any more, so nothing takes it: it lies unconsumed until the session ends,
    /// and no outcome changes.
    AdmitAbandonedFrames,
    /// Replay: a restarted participant sends again every frame its journal logged, also the
    /// ones the journal holds as acknowledged. Their receivers discard the copies (and
    /// acknowledge them again): no outcome changes.
    ResendAcknowledged,
    /// Node: a nested session that ended here is opened again under its id once it ended,
    /// and closed at once. Its journal returns the end it recorded, so the second run does
    /// nothing: no outcome changes.
    ReopenEnded,
}

#[cfg(feature = "planted-bugs")]
const ALL: [Bug; 9] = [
    Bug::CompensateTwice,
    Bug::CommitAfterNotice,
    Bug::CompensateInCommitOrder,
    Bug::RedeliverCopies,
    Bug::RedrawOnReplay,
    Bug::AckBeforeDurable,
    Bug::AdmitAbandonedFrames,
    Bug::ResendAcknowledged,
    Bug::ReopenEnded,
];

#[cfg(feature = "planted-bugs")]
static PLANTED: AtomicU8 = AtomicU8::new(0);

/// Plants `bug` in every node of this process (`None` removes it).
#[cfg(feature = "planted-bugs")]
#[doc(hidden)]
pub fn plant(bug: Option<Bug>) {
    let v = bug.map_or(0, |b| ALL.iter().position(|x| *x == b).map_or(0, |i| i + 1));
    PLANTED.store(v as u8, Ordering::SeqCst);
}

/// The bug planted, if any.
#[cfg(feature = "planted-bugs")]
pub fn planted() -> Option<Bug> {
    match PLANTED.load(Ordering::Relaxed) {
        0 => None,
        i => ALL.get(usize::from(i) - 1).copied(),
    }
}

/// No bug is ever planted without the `planted-bugs` feature.
#[cfg(not(feature = "planted-bugs"))]
#[inline(always)]
pub fn planted() -> Option<Bug> {
    None
}
