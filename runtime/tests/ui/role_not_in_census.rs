// Shows that an operator cannot use a role outside the choreography's census: `Carol` is a
// role, but not one of `Roles![Alice, Bob]`. (The future is not awaited only so that rustc
// reports the error once; `.await?` repeats the same error at the call and at the `.await`.)

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};

roles!(Alice, Bob, Carol);

struct RoleNotInCensus;

impl Choreography for RoleNotInCensus {
    type Census = Roles![Alice, Bob];
    type Output = ();

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
        let _ = ch.locally(Carol, |_| 5u32);
        Ok(())
    }
}

fn main() {}
