//! CIV tokens: the identity every frame carries.
//!
//! A token names the session, the *site* (the source location of the operator, plus an
//! optional stable label), the sender, the receiver, the frame's sequence number on its
//! (session, sender, receiver) channel, and the recovery epoch. The receiver checks the site
//! it expects against the token's, so a divergence between two roles' projections is caught
//! as an integrity error instead of being read as a wrong value.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::role::ParticipantId;

/// Identifies one session (one running instance of a choreography).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct SessionId(pub u64);

impl SessionId {
    /// The id of child session `n` of this one: a pure function of both, so every participant
    /// derives the same child id without talking.
    pub fn child(self, n: u64) -> SessionId {
        // splitmix64 over the pair: well spread, so children of different parents don't collide.
        let mut z = self
            .0
            .wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(n.wrapping_add(1)));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        SessionId(z ^ (z >> 31))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{:x}", self.0)
    }
}

/// A communication site: where in the choreography an operator was called.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Site {
    /// Source file of the call, as the compiler names it.
    pub file: Cow<'static, str>,
    /// Line of the call.
    pub line: u32,
    /// Column of the call.
    pub column: u32,
    /// A stable label given with `ch.at("label")`.
    pub label: Option<Cow<'static, str>>,
}

impl Site {
    /// The site of the caller (operators are `#[track_caller]`).
    #[track_caller]
    pub fn caller(label: Option<&'static str>) -> Site {
        let loc = std::panic::Location::caller();
        Site {
            file: Cow::Borrowed(loc.file()),
            line: loc.line(),
            column: loc.column(),
            label: label.map(Cow::Borrowed),
        }
    }

    /// The site of the agreement that ends a session (see `Program`): not in any source file,
    /// so traces and fault plans name it by its label, `session-end`.
    pub fn session_end() -> Site {
        Site {
            file: Cow::Borrowed("session"),
            line: 0,
            column: 0,
            label: Some(Cow::Borrowed("session-end")),
        }
    }

    /// The file name without directories, as used in fault plans (`bookseller.rs:42`).
    pub fn file_name(&self) -> &str {
        self.file
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(self.file.as_ref())
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(label) = &self.label {
            write!(f, "\"{label}\"@")?;
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_ids_differ_by_index_and_parent() {
        let a = SessionId(1);
        assert_ne!(a.child(0), a.child(1));
        assert_ne!(a.child(0), SessionId(2).child(0));
        assert_eq!(a.child(5), a.child(5));
    }

    #[test]
    fn sites_show_label_and_short_file() {
        let s = Site {
            file: "scenarios/src/bookseller.rs".into(),
            line: 4,
            column: 9,
            label: Some("quote".into()),
        };
        assert_eq!(s.to_string(), "\"quote\"@scenarios/src/bookseller.rs:4:9");
        assert_eq!(s.file_name(), "bookseller.rs");
    }
}
