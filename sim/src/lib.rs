//! # rehearsal-sim: choreographies on a seeded, deterministic simulated network
//!
//! Every participant of a choreography runs on its own [madsim](https://docs.rs/madsim) node;
//! frames travel as datagrams through madsim's network, which delays, and this crate's
//! transport loses, duplicates and reorders them. The same seed gives the same trace, byte
//! for byte. Build with `--cfg madsim` (the `cargo sim-*` aliases and `cargo rehearsal`).
//!
//! ```
//! # #[cfg(madsim)] {
//! use rehearsal_sim::{NetConfig, Sim};
//!
//! let scenario = rehearsal_scenarios::find("bookseller").unwrap();
//! let net = NetConfig { loss: 0.2, duplicate: 0.1, ..NetConfig::default() };
//! let report = Sim::new(7).net(net).check_determinism(scenario.name, &scenario.program(&scenario.default_params()).unwrap()).unwrap();
//! assert!(report.passed(), "{}", report.summary());
//! println!("trace-hash {}", report.hash_hex());
//! # }
//! ```

pub mod cli;
pub mod diagram;
pub mod diff;
#[cfg(madsim)]
pub mod explore;
#[cfg(madsim)]
pub mod faults;
pub mod mermaid;
pub mod net;
pub mod plan;
pub mod random;
pub mod report;
pub mod repro;
pub mod saga;
pub mod shrink;
#[cfg(madsim)]
pub mod sim;
pub mod strategy;
pub mod trace;
pub mod trace_file;
#[cfg(madsim)]
pub mod transport;
pub mod views;
pub mod watch;

pub use net::NetConfig;
pub use plan::{Action, Fault, FaultKind, FaultPlan, PlanContext, PlanError, SiteRef, Trigger};
pub use random::Swarm;
pub use report::{Report, SimStats};
#[cfg(madsim)]
pub use sim::{Sim, SimError};
pub use trace::{Trace, TraceEvent};
