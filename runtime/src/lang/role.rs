//! Roles, role families and participants.
//!
//! A *role* is a zero-sized type with a name; a *family* is a role that stands for `n`
//! participants `Family[0] .. Family[n-1]`, with `n` chosen at run time (census polymorphism).
//! At run time every role instance taking part in a session is a [`Participant`](crate::Participant); frames name
//! participants by their [`ParticipantId`](crate::ParticipantId), the participant's index in the session's census.

/// A role of a choreography: a zero-sized type with a name. Declare roles with [`roles!`].
///
/// [`roles!`]: crate::roles
pub trait Role: Copy + Default + Send + Sync + 'static {
    /// The role's name, as it appears in traces, outcomes and fault plans.
    const NAME: &'static str;
}

/// A role family: one name for `n` participants, `n` chosen when a session starts.
/// Declare families with [`families!`].
///
/// [`families!`]: crate::families
pub trait Family: Copy + Default + Send + Sync + 'static {
    /// The family's name; its members are shown as `Name[i]`.
    const NAME: &'static str;
}

/// One entry of a census type: a single role or a family.
pub trait CensusEntry: 'static {
    /// The entry's name.
    const NAME: &'static str;
    /// Whether the entry is a family (sized at run time) rather than a single role.
    const FAMILY: bool;
}

/// Declares roles: `roles!(Client, Server);` makes two public zero-sized role types.
///
/// ```
/// rehearsal::roles!(Buyer, Seller);
/// use rehearsal::Role;
/// assert_eq!(Buyer::NAME, "Buyer");
/// ```
#[macro_export]
macro_rules! roles {
    ($($name:ident),+ $(,)?) => {
        $(
            #[doc = concat!("The role `", stringify!($name), "`.")]
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct $name;
            impl $crate::Role for $name {
                const NAME: &'static str = stringify!($name);
            }
            impl $crate::CensusEntry for $name {
                const NAME: &'static str = stringify!($name);
                const FAMILY: bool = false;
            }
        )+
    };
}

/// Declares role families: `families!(Worker);` makes a family whose size is set per session.
///
/// ```
/// rehearsal::families!(Worker);
/// use rehearsal::Family;
/// assert_eq!(Worker::NAME, "Worker");
/// ```
#[macro_export]
macro_rules! families {
    ($($name:ident),+ $(,)?) => {
        $(
            #[doc = concat!("The role family `", stringify!($name), "[i]`.")]
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct $name;
            impl $crate::Family for $name {
                const NAME: &'static str = stringify!($name);
            }
            impl $crate::CensusEntry for $name {
                const NAME: &'static str = stringify!($name);
                const FAMILY: bool = true;
            }
        )+
    };
}
