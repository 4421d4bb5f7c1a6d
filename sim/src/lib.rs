//! # rehearsal-sim: choreographies on a seeded, deterministic simulated network
//!
//! Every participant of a choreography runs on its own [madsim](https://docs.rs/madsim) node;
//! frames travel as datagrams through madsim's network, which delays, and this crate's
//! transport loses, duplicates and reorders them. The same seed gives the same trace, byte
//! for byte. Build with `--cfg madsim` (the `cargo sim-*` aliases and `cargo rehearsal`).
//!
//! The harness works on any choreography: a [`Scenario`](scenario::Scenario) names one with
//! its parameters and oracles (closures over typed outcomes), a
//! [`Registry`](scenario::Registry) lists scenarios, [`Rehearse`] explores one inside a
//! `#[test]` (shrinking a failure to a repro file and printing the command that replays it),
//! [`cli::main`] gives a crate's own binary the `rehearsal` command over its registry, and
//! [`cost::Baseline`] tracks a registry's deterministic cost counters.
//!
//! ```
//! # #[cfg(madsim)] {
//! use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, Program, Roles, roles};
//! use rehearsal_sim::{NetConfig, Sim};
//!
//! roles!(Alice, Bob);
//!
//! #[derive(Clone)]
//! struct Hello;
//!
//! impl Choreography for Hello {
//!     type Census = Roles![Alice, Bob];
//!     type Output = String;
//!     async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
//!         let hi = ch.locally(Alice, |_| "hi".to_string()).await?;
//!         let hi = ch.at("hello").comm(Alice, Bob, &hi).await?;
//!         ch.at("echo").broadcast(Bob, ch.locally(Bob, |b| b.get(&hi).clone()).await?).await
//!     }
//! }
//!
//! let program = Program::new(Hello, &FamilySizes::new()).unwrap();
//! let net = NetConfig { loss: 0.2, duplicate: 0.1, ..NetConfig::default() };
//! let report = Sim::new(7).net(net).check_determinism("hello", &program).unwrap();
//! assert!(report.passed(), "{}", report.summary());
//! println!("trace-hash {}", report.hash_hex());
//! # }
//! ```

pub mod cli;
pub mod cost;
pub mod coverage;
pub mod diagram;
pub mod diff;
pub mod disk;
#[cfg(madsim)]
pub mod exhaustive;
#[cfg(madsim)]
pub mod explore;
#[cfg(madsim)]
pub mod faults;
pub mod layer_oracles;
pub mod mermaid;
pub mod net;
pub mod outputs;
pub mod params;
pub mod plan;
pub mod random;
pub mod recorder;
pub mod registry;
#[cfg(madsim)]
pub mod rehearse;
pub mod report;
pub mod repro;
pub mod saga;
pub mod scenario;
pub mod shard;
pub mod shrink;
#[cfg(madsim)]
pub mod sim;
pub mod strategy;
#[cfg(madsim)]
mod supervise;
pub mod trace;
pub mod trace_file;
#[cfg(madsim)]
pub mod transport;
pub mod views;
pub mod watch;

pub use disk::StoreKind;
pub use net::NetConfig;
pub use outputs::{OutcomeError, Outputs};
pub use plan::{
    Action, DiskOp, Fault, FaultKind, FaultPlan, PlanContext, PlanError, SiteRef, Trigger,
};
pub use random::Swarm;
#[cfg(madsim)]
pub use rehearse::Rehearse;
pub use report::{Report, SimStats};
pub use scenario::{Param, Params, Registry, Scenario};
#[cfg(madsim)]
pub use sim::{Sim, SimError};
pub use trace::{Trace, TraceEvent};
