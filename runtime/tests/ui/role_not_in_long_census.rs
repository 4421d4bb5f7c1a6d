// Shows that a census longer than one chunk of 16 entries still rejects a role outside it:
// `Outsider` is a role, but not one of the 18 in the census, whose last two sit in a second
// chunk. (The future is not awaited only so that rustc reports the error once.)

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};

roles!(
    R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15, R16, R17, Outsider
);

struct RoleNotInLongCensus;

impl Choreography for RoleNotInLongCensus {
    type Census =
        Roles![R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15, R16, R17];
    type Output = ();

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
        let _ = ch.locally(R17, |_| 5u32);
        let _ = ch.locally(Outsider, |_| 5u32);
        Ok(())
    }
}

fn main() {}
