//! Frames on the wire: CIV tokens ([`civ`]), the link layer that makes delivery
//! effectively-once and in order per channel over a lossy transport ([`link`]), and the
//! [`Transport`](transport::Transport) trait with the in-process transport ([`transport`]).
//!
//! This layer knows frames, channels, sequence numbers and acknowledgements, never
//! choreographies, blocks or rescues; what a frame's payload means is the engine's business.

pub mod civ;
pub mod link;
pub mod transport;
