//! `ch.sometimes`: a choreography's own coverage goals.
//!
//! A run that passes says nothing about a path it never took. `ch.sometimes(role, label,
//! cond)` names a condition that some runs of an exploration should reach (an order rejected,
//! a retry that succeeded, a quorum reached with one member down): the participant playing
//! `role` evaluates `cond` on its local values and reports the label with the answer to the
//! node's observer. The explorer counts, per scenario, how many runs reached each label, and
//! fails an exploration asked to require it when none did.
//!
//! It is an observation, not an operator: it sends nothing, counts no step, is no fault site,
//! and changes nothing a replay re-executes. Without an observer `cond` is not evaluated.

use std::panic::AssertUnwindSafe;

use crate::lang::census::{Member, RoleSet};
use crate::lang::choreo::{Choreo, Ctx};
use crate::lang::located::Local;
use crate::lang::role::Role;
use crate::observer::Event;

impl<C: RoleSet> Choreo<C> {
    /// Declares the coverage goal `label`: `cond`, evaluated at role `R` on its local values,
    /// should be true in some runs. Every participant playing `R` that gets here reports the
    /// label and whether `cond` held to its node's observer ([`Event::Sometimes`]); elsewhere,
    /// in the reference run and on a node without an observer, nothing happens and `cond`
    /// does not run. A panic in `cond` counts as not reached.
    ///
    /// ```
    /// use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
    ///
    /// roles!(Shop, Customer);
    ///
    /// #[derive(Clone)]
    /// struct Order { wanted: u32 }
    ///
    /// impl Choreography for Order {
    ///     type Census = Roles![Shop, Customer];
    ///     type Output = ();
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
    ///         let wanted = self.wanted;
    ///         let stock = ch.locally(Shop, |_| 3u32.saturating_sub(wanted)).await?;
    ///         // An exploration should see the shop sold out at least once.
    ///         ch.sometimes(Shop, "sold-out", |un| *un.get(&stock) == 0);
    ///         Ok(())
    ///     }
    /// }
    /// ```
    #[track_caller]
    pub fn sometimes<R, I, F>(&self, _role: R, label: &'static str, cond: F)
    where
        R: Role + Member<C, I>,
        F: FnOnce(Local<'_, R>) -> bool,
    {
        let Ctx::Projected { node, session } = &*self.ctx else {
            return;
        };
        if node.observer().is_none() || !self.plays(R::NAME) {
            return;
        }
        let site = self.site();
        let reached =
            std::panic::catch_unwind(AssertUnwindSafe(|| cond(Local::new()))).unwrap_or(false);
        let _ = node.observe(Event::Sometimes {
            session: session.id,
            participant: session.participant(),
            site: &site,
            label,
            reached,
        });
    }
}
