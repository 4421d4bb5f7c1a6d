//! Typed outcomes: every participant's result as the choreography's output type.
//!
//! [`Outcomes`] keep each participant's view of the output as JSON, because that is what
//! traces, reports and repro files write out and what compares participant by participant.
//! [`Outcomes::decode`] reads them back as `C::Output` (or any type that deserializes from
//! the same JSON), so harness users and oracles work with the choreography's own values.
//! Located values deserialize from a participant's view: an [`At<T, R>`](crate::At) is
//! present in the outcome of `R` and absent in everyone else's ([`At::view`](crate::At::view)
//! reads it), a [`Shared<T, S>`](crate::Shared) at the roles of `S`, a
//! [`Faceted<T, F>`](crate::Faceted) holds the member's own facet.

use serde::de::DeserializeOwned;

use crate::error::ChoreoError;
use crate::ident::{Participant, Site};
use crate::program::Outcomes;

/// Every participant's result as type `O`, in census order.
#[derive(Clone, Debug)]
pub struct TypedOutcomes<O> {
    entries: Vec<(Participant, Result<O, ChoreoError>)>,
}

impl<O> TypedOutcomes<O> {
    /// The results, in census order.
    pub fn entries(&self) -> &[(Participant, Result<O, ChoreoError>)] {
        &self.entries
    }

    /// The result of `participant` (`"Alice"`, or `"Worker[2]"` for a family member).
    pub fn get(&self, participant: &str) -> Option<&Result<O, ChoreoError>> {
        self.entries
            .iter()
            .find(|(p, _)| p.to_string() == participant)
            .map(|(_, o)| o)
    }

    /// The results, in census order.
    pub fn iter(&self) -> impl Iterator<Item = (&Participant, &Result<O, ChoreoError>)> {
        self.entries.iter().map(|(p, o)| (p, o))
    }

    /// How many participants there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no participants.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether every participant ended without error.
    pub fn all_ok(&self) -> bool {
        self.entries.iter().all(|(_, o)| o.is_ok())
    }
}

impl<'a, O> IntoIterator for &'a TypedOutcomes<O> {
    type Item = (&'a Participant, &'a Result<O, ChoreoError>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Participant, Result<O, ChoreoError>)>,
        fn(&'a (Participant, Result<O, ChoreoError>)) -> Self::Item,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(p, o)| (p, o))
    }
}

impl Outcomes {
    /// Every participant's view of the output, decoded as `O` (the choreography's `Output`;
    /// `Located` values decode as present at their role and absent elsewhere). A participant
    /// that ended with an error keeps its error; a view that does not decode as `O` is a
    /// [`ChoreoError::Codec`] naming the participant, what the JSON was and what did not
    /// fit.
    ///
    /// ```
    /// use rehearsal::{At, Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, Program, Roles, roles};
    /// use serde::{Deserialize, Serialize};
    ///
    /// roles!(Buyer, Seller);
    ///
    /// #[derive(Clone)]
    /// struct Quote;
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Deal {
    ///     price: u32,
    ///     paid_from: At<String, Buyer>,
    /// }
    ///
    /// impl Choreography for Quote {
    ///     type Census = Roles![Buyer, Seller];
    ///     type Output = Deal;
    ///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<Deal, ChoreoError> {
    ///         let price = ch.locally(Seller, |_| 80u32).await?;
    ///         let price = ch.broadcast(Seller, price).await?;
    ///         let paid_from = ch.locally(Buyer, |_| "savings".to_string()).await?;
    ///         Ok(Deal { price, paid_from })
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let program = Program::new(Quote, &FamilySizes::new()).unwrap();
    /// let outcomes = LocalCluster::new().run(&program).await;
    /// let deals = outcomes.decode::<Deal>().unwrap();
    /// let at_buyer = deals.get("Buyer").unwrap().as_ref().unwrap();
    /// assert_eq!((at_buyer.price, at_buyer.paid_from.view()), (80, Some(&"savings".to_string())));
    /// let at_seller = deals.get("Seller").unwrap().as_ref().unwrap();
    /// assert_eq!((at_seller.price, at_seller.paid_from.view()), (80, None));
    /// # }
    /// ```
    pub fn decode<O: DeserializeOwned>(&self) -> Result<TypedOutcomes<O>, ChoreoError> {
        let mut entries = Vec::with_capacity(self.entries().len());
        for (p, outcome) in self.entries() {
            let typed = match outcome {
                Ok(json) => {
                    Ok(
                        serde_json::from_str::<O>(json).map_err(|e| ChoreoError::Codec {
                            action: "decode".into(),
                            site: Box::new(Site::caller(Some("outcome"))),
                            sender: p.to_string(),
                            detail: format!(
                                "{p}'s outcome {json} does not decode as {}: {e}",
                                std::any::type_name::<O>()
                            ),
                        })?,
                    )
                }
                Err(e) => Err(e.clone()),
            };
            entries.push((*p, typed));
        }
        Ok(TypedOutcomes { entries })
    }
}
