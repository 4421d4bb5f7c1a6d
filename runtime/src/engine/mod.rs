//! The session engine: one participant's state in one session, and how it recovers.
//!
//! [`session`] holds a participant's counters, inbox and failure; the files beside it add
//! inbox matching, checkpoint blocks (exit agreement, rescue, abandonment) and the
//! [`journal`] through which a restarted participant replays. [`saga`] keeps the saga log of
//! `ch.transaction` (commits, compensations, failure) and its store transactions. [`notice`] is the control
//! vocabulary participants exchange about a session (exit, rescue, abort). The engine speaks
//! to the link and the store below it and is driven by the language above it and by the node
//! (`crate::node`), which routes arriving frames to sessions.

pub(crate) mod blocks;
pub(crate) mod inbox;
pub(crate) mod journal;
pub mod notice;
pub(crate) mod replay;
pub mod saga;
pub(crate) mod session;
mod state;

pub use journal::{ack_mark_key, inbox_record_key};
