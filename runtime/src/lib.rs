//! # Rehearsal: resilient choreographic programming
//!
//! Write a distributed protocol once, as a [`Choreography`]: who computes what
//! ([`Choreo::locally`]), who sends what to whom ([`Choreo::comm`]), who decides
//! ([`Choreo::broadcast`]). Every role runs the same program; each operator acts according to
//! the role running it. Values that live at one role ([`At<T, R>`]) can be read only by that
//! role's code, which the compiler checks.
//!
//! ```
//! use rehearsal::{At, Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, Program, Roles, roles};
//!
//! roles!(Buyer, Seller);
//!
//! #[derive(Clone)]
//! struct Bookseller { title: String, budget: u32 }
//!
//! impl Choreography for Bookseller {
//!     type Census = Roles![Buyer, Seller];
//!     type Output = Option<u32>; // the delivery day, if the buyer bought
//!
//!     async fn run(self, ch: &Choreo<Self::Census>) -> Result<Option<u32>, ChoreoError> {
//!         let title = ch.locally(Buyer, |_| self.title.clone()).await?;
//!         let title = ch.comm(Buyer, Seller, &title).await?;
//!         let price = ch.locally(Seller, |s| if s.get(&title) == "TAPL" { 80 } else { 200 }).await?;
//!         let price = ch.comm(Seller, Buyer, &price).await?;
//!         let buy = ch.locally(Buyer, |b| *b.get(&price) <= self.budget).await?;
//!         if ch.broadcast(Buyer, buy).await? {
//!             let day = ch.locally(Seller, |_| 3).await?;
//!             Ok(Some(ch.broadcast(Seller, day).await?))
//!         } else {
//!             Ok(None)
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let program = Program::new(Bookseller { title: "TAPL".into(), budget: 100 }, &FamilySizes::new()).unwrap();
//! let outcomes = LocalCluster::new().run(&program).await;
//! assert_eq!(outcomes, program.reference().await);
//! assert_eq!(outcomes.get("Buyer"), Some(&Ok("3".to_string())));
//! # }
//! ```
//!
//! ## Layers
//!
//! choreography body → operators ([`choreo`]) → session engine (CIV tokens, inbox, failures)
//! → [`link`] layer (sequence numbers, acknowledgements, retransmission, duplicate
//! suppression) → [`Transport`](transport::Transport) (in-process, simulated, TCP). The runtime
//! never depends on the simulator: the simulator implements [`transport::Transport`] and
//! [`observer::Observer`].

pub mod census;
pub mod checkpoint;
pub mod choreo;
pub mod civ;
pub mod error;
pub mod link;
pub mod local;
pub mod located;
pub mod node;
pub mod observer;
pub mod program;
mod replay;
pub mod role;
mod session;
pub mod store;
mod task;
pub mod transport;

pub use census::{Census, FamilySizes, Member, RoleSet, Subset};
pub use checkpoint::{Policy, Rescued};
pub use choreo::{Choreo, Choreography, Loop, Spawned};
pub use civ::{SessionId, Site};
pub use error::ChoreoError;
pub use local::LocalCluster;
pub use located::{At, Faceted, Local, LocalMember, Shared};
pub use node::{Node, NodeConfig, NodeStats};
pub use program::{Outcomes, Program, RoleOutcome};
pub use role::{CensusEntry, Family, Participant, ParticipantId, Role};
