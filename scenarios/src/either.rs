//! One of two choreographies over the same census, chosen when the scenario is built: how a
//! scenario whose parameter picks between a single run and a sequence of runs (the saga
//! scenarios' "every path in turn" modes) stays one typed [`Scenario`](rehearsal_sim::scenario::Scenario).

use rehearsal::{Choreo, ChoreoError, Choreography};
use serde::{Deserialize, Serialize};

/// `A` or `B`, run as itself.
#[derive(Clone, Debug)]
pub enum Either<A, B> {
    /// Runs `A`.
    First(A),
    /// Runs `B`.
    Second(B),
}

/// The output of an [`Either`]: serialized as the chosen choreography's own output, so
/// traces and oracles see exactly what that choreography returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EitherOutput<A, B> {
    /// `A`'s output.
    First(A),
    /// `B`'s output.
    Second(B),
}

impl<A, B> Choreography for Either<A, B>
where
    A: Choreography + Sync,
    B: Choreography<Census = A::Census> + Sync,
{
    type Census = A::Census;
    type Output = EitherOutput<A::Output, B::Output>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        match self {
            Either::First(a) => a.run(ch).await.map(EitherOutput::First),
            Either::Second(b) => b.run(ch).await.map(EitherOutput::Second),
        }
    }
}
