// Shows that a located value (`At<bool, Alice>`) cannot be branched on: every role must know
// the choice, so it has to be broadcast first (`ch.broadcast(Alice, c).await?`).

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};

roles!(Alice, Bob);

struct BranchWithoutBroadcast;

impl Choreography for BranchWithoutBroadcast {
    type Census = Roles![Alice, Bob];
    type Output = u32;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
        let c = ch.locally(Alice, |_| true).await?;
        if c { Ok(1) } else { Ok(2) }
    }
}

fn main() {}
