//! The choreographies Rehearsal ships, each with its oracles.
//!
//! A [`Scenario`] names a choreography, its roles, its numeric parameters (with defaults) and
//! its oracles. Every scenario's first oracle is the reference oracle: each participant's
//! outcome equals the central reference run's. Scenarios add their own on top ("the server's
//! sum is 55"). Harnesses (the in-process cluster, the simulator, the CLI) find scenarios in
//! the [`registry`] by name.
//!
//! ```
//! use rehearsal::LocalCluster;
//! use rehearsal_scenarios::{Params, find};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let scenario = find("counter").unwrap();
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
pub mod orders;
pub mod planted;
mod scenario;
pub mod travel;
pub mod warehouse;
pub mod workers;

pub use scenario::{
    Param, ParamRange, Params, REFERENCE_ORACLE, Scenario, UnknownScenario, find, registry,
    testing_registry,
};
