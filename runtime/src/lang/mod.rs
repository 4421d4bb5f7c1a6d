//! The choreography language: what a user writes.
//!
//! Roles and families ([`role`]), censuses as type-level role sets ([`census`]), values located
//! at roles ([`located`]), the [`Choreography`](choreo::Choreography) trait and the operator
//! handle [`Choreo`](choreo::Choreo) with its operators ([`choreo`] and the files beside it),
//! checkpoint blocks ([`checkpoint`]), time ([`time`]: sleeps and receives with a timeout) and
//! the path a projected run took, for the reference run to follow ([`path`]). Every participant runs the same body; each operator
//! acts according to the participant it runs as, through the session engine below
//! (`crate::engine`): computing, sending, receiving, or skipping. This layer imports the
//! engine, the node, the observer events and the net's tokens; nothing below imports it.

mod body;
pub mod census;
pub mod checkpoint;
pub mod choreo;
mod comm;
pub mod compose;
mod effect;
mod family;
pub mod located;
pub mod path;
pub mod repeat;
pub mod role;
pub(crate) mod run;
pub(crate) mod saga;
mod sometimes;
mod step;
mod task;
pub mod time;
