// Shows that a value located at Alice (`At<u32, Alice>`) cannot be read by Bob's local code:
// `Local<Bob>::get` accepts only `At<_, Bob>`.

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};

roles!(Alice, Bob);

struct ReadAtWrongRole;

impl Choreography for ReadAtWrongRole {
    type Census = Roles![Alice, Bob];
    type Output = ();

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(), ChoreoError> {
        let x = ch.locally(Alice, |_| 5u32).await?;
        ch.locally(Bob, |bob| *bob.get(&x)).await?;
        Ok(())
    }
}

fn main() {}
