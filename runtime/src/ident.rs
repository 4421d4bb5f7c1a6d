//! The names things go by, which every layer speaks: sessions, sites, participants and the
//! census of a session.
//!
//! A [`SessionId`] names one running instance of a choreography; a [`Site`] names where in the
//! choreography an operator was called; a [`Participant`] is a role instance taking part in a
//! session, and its [`ParticipantId`] is its place in the session's [`Census`]. The type-level
//! side of censuses (role sets, membership) belongs to the language (`lang::census`); this is
//! the run-time side that frames, stores and observers carry.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

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

/// A role instance taking part in a session: a single role, or one member of a family.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Participant {
    /// The role or family name.
    pub role: &'static str,
    /// The member index, for family members.
    pub index: Option<u32>,
}

impl Participant {
    /// The participant playing single role `role`.
    pub const fn role(role: &'static str) -> Self {
        Participant { role, index: None }
    }

    /// Member `index` of family `family`.
    pub const fn member(family: &'static str, index: u32) -> Self {
        Participant {
            role: family,
            index: Some(index),
        }
    }
}

impl fmt::Display for Participant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            None => f.write_str(self.role),
            Some(i) => write!(f, "{}[{i}]", self.role),
        }
    }
}

/// A participant's position in its session's census; what frames carry on the wire.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct ParticipantId(pub u16);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
/// How many members each family has in one session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilySizes(BTreeMap<&'static str, u32>);

impl FamilySizes {
    /// No families.
    pub fn new() -> Self {
        FamilySizes::default()
    }

    /// Sets family `name` to `n` members.
    pub fn with(mut self, name: &'static str, n: u32) -> Self {
        self.0.insert(name, n);
        self
    }

    /// The size of family `name`, if set.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.0.get(name).copied()
    }
}

/// The participants of one session, numbered in census order (families expanded in place).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Census {
    participants: Vec<Participant>,
}

impl Census {
    /// Builds a census from an explicit participant list (used by sub-sessions).
    pub fn from_participants(participants: Vec<Participant>) -> Census {
        Census { participants }
    }

    /// All participants, in census order.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// Number of participants.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// Whether the census is empty.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// The participant with id `id`.
    pub fn participant(&self, id: ParticipantId) -> Option<Participant> {
        self.participants.get(usize::from(id.0)).copied()
    }

    /// The id of `p`, if it takes part.
    pub fn id_of(&self, p: Participant) -> Option<ParticipantId> {
        self.participants
            .iter()
            .position(|q| *q == p)
            .map(|i| ParticipantId(i as u16))
    }

    /// The id of single role `name`.
    pub fn role_id(&self, name: &str) -> Option<ParticipantId> {
        self.participants
            .iter()
            .position(|q| q.role == name && q.index.is_none())
            .map(|i| ParticipantId(i as u16))
    }

    /// The ids of all members of family `name`, in index order.
    pub fn family_ids(&self, name: &str) -> Vec<ParticipantId> {
        self.ids_where(|p| p.role == name && p.index.is_some())
    }

    pub(crate) fn ids_where(&self, keep: impl Fn(&Participant) -> bool) -> Vec<ParticipantId> {
        self.participants
            .iter()
            .enumerate()
            .filter(|(_, p)| keep(p))
            .map(|(i, _)| ParticipantId(i as u16))
            .collect()
    }

    /// The display name of `id` (`"?#7"` for an id outside the census, which only a corrupt
    /// frame can carry).
    pub fn name(&self, id: ParticipantId) -> String {
        self.participant(id)
            .map(|p| p.to_string())
            .unwrap_or_else(|| format!("?{id}"))
    }
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
