// Shows that only the role a value is located at can send it: `x` is at Alice, so
// `ch.comm(Bob, Alice, &x)` (which needs an `At<_, Bob>`) does not compile.

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};

roles!(Alice, Bob);

struct CommFromWrongRole;

impl Choreography for CommFromWrongRole {
    type Census = Roles![Alice, Bob];
    type Output = ();

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
        let x = ch.locally(Alice, |_| 5u32).await?;
        ch.comm(Bob, Alice, &x).await?;
        Ok(())
    }
}

fn main() {}
