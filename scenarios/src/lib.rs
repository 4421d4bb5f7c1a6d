//! The choreographies Rehearsal ships, each with its oracles.
//!
//! Each module defines a choreography and its [`Scenario`](rehearsal_sim::Scenario) (roles,
//! numeric parameters with defaults and ranges, oracles over typed outcomes), built with
//! `rehearsal-sim`'s public API exactly as a user's crate would build its own. Every
//! scenario's first oracle is the reference oracle: each participant's outcome equals the
//! central reference run's. [`registry`] lists them all; the `rehearsal` binary of this crate
//! is `rehearsal_sim::cli::main(registry())`.
//!
//! ```
//! use rehearsal::LocalCluster;
//! use rehearsal_scenarios::registry;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let registry = registry();
//! let scenario = registry.find("counter").unwrap();
//! let params = scenario.default_params();
//! let program = scenario.program(&params).unwrap();
//! let outcomes = LocalCluster::new().run(&program).await;
//! let reference = program.reference().await;
//! assert_eq!(scenario.check(&params, &outcomes, &reference), Vec::<String>::new());
//! # }
//! ```

pub mod alice_bob;
pub mod bookseller;
pub mod chorex;
pub mod counter;
pub mod either;
pub mod generated;
pub mod listener;
pub mod orders;
pub mod planted;
mod saga_support;
mod scenario;
pub mod srp;
pub mod tcp_server;
pub mod travel;
pub mod warehouse;
pub mod workers;

pub use rehearsal_sim::scenario::{
    Param, ParamRange, Params, REFERENCE_ORACLE, Registry, Scenario, UnknownScenario,
};
pub use scenario::{find, registry};
