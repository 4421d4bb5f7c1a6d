//! Control notices: what the participants of a session tell each other about the session
//! itself rather than about the choreography's values.
//!
//! They travel on the control lane of the link (reliably, in order per channel, like data) and
//! are journaled like any frame: a participant's exit notices and rescue notices are how its
//! replay knows which way it left a checkpoint block, and an abort carries a session's failure
//! to every participant.

use serde::{Deserialize, Serialize};

use crate::error::{ChoreoError, Rescued};

/// Session control messages, carried on the control lane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// The session failed at the sender; every participant ends with this error.
    Abort(ChoreoError),
    /// The sender finished the body of checkpoint block instance `block` (exit agreement).
    Done {
        /// The block instance.
        block: u64,
        /// How many blocks around this one, innermost first, do nothing at the sender but
        /// wait for this one (see `lang::body`): when every member's chain covers a block,
        /// that block is left without notices of its own.
        chain: u32,
    },
    /// A member crashed in the body of `block`: every member runs its rescue.
    Rescue {
        /// The block instance.
        block: u64,
        /// Who crashed, where and why.
        cause: Rescued,
    },
}
