// Shows that a census declared with `census!` checks membership like `Roles![..]`: `Carol`
// is a role, but not one of the named census `Pair`, and the error says so.

use rehearsal::{Choreo, ChoreoError, Choreography, census, roles};

roles!(Alice, Bob, Carol);

census!(Pair = [Alice, Bob]);

struct RoleNotInNamedCensus;

impl Choreography for RoleNotInNamedCensus {
    type Census = Pair;
    type Output = ();

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
        let _ = ch.locally(Carol, |_| 5u32);
        Ok(())
    }
}

fn main() {}
