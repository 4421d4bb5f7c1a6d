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
//! The source tree shows the layers, and arrows point down only (`cargo xtask layers` checks it
//! against `runtime/layers.toml`):
//!
//! ```text
//! program, local,  run a choreography: a program's projections, a cluster in one process,
//! typed            typed outcomes
//! lang/            roles, censuses, located values, the Choreography trait and its operators
//! engine/, node    a participant's session: inbox, blocks and rescue, journal and replay;
//!                  the node that ties one transport and one store to many sessions
//! observer         events for observers, plain data
//! net/             CIV tokens, the link layer, transports
//! store/           a node's durable state
//! error, ident     errors and the names every layer speaks
//! ```
//!
//! The runtime never depends on the simulator: the simulator implements
//! [`Transport`](net::transport::Transport), [`Store`](store::Store) and
//! [`Observer`](observer::Observer). The items users need are re-exported here, so the layout can
//! change without breaking them.

pub mod engine;
pub mod error;
pub mod ident;
pub mod lang;
pub mod local;
pub mod net;
pub mod node;
pub mod observer;
#[doc(hidden)]
pub mod planted;
pub mod program;
pub mod store;
pub mod typed;

pub use engine::saga::Tx;
pub use error::{ChoreoError, Rescued};
pub use ident::{Census, FamilySizes, Participant, ParticipantId, SessionId, Site};
pub use lang::census::{Member, RoleSet, Subset};
pub use lang::checkpoint::Policy;
pub use lang::choreo::{Choreo, Choreography};
pub use lang::compose::Spawned;
pub use lang::located::{At, Faceted, Local, LocalMember, Shared};
pub use lang::path::RunPath;
pub use lang::repeat::Loop;
pub use lang::role::{CensusEntry, Family, Role};
pub use lang::time::TimedOut;
pub use local::LocalCluster;
pub use node::{Node, NodeConfig, NodeStats};
pub use program::{Outcomes, Program, RoleOutcome};
pub use typed::TypedOutcomes;
