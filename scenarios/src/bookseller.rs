//! The bookseller: Buyer asks for a title, Seller quotes a price, Buyer decides under its
//! budget, and if it buys, Seller tells the delivery date.

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::scenario::{Outputs, Param, Params};
use rehearsal_sim::scenario::{Scenario, ScenarioBuilder};
use serde::{Deserialize, Serialize};

roles!(Buyer, Seller);

/// Seller's catalogue: title, price, delivery date.
pub const CATALOGUE: &[(&str, u64, &str)] = &[
    ("Types and Programming Languages", 80, "2026-12-03"),
    ("The Art of Multiprocessor Programming", 120, "2026-12-10"),
    (
        "Practical Foundations for Programming Languages",
        95,
        "2026-12-07",
    ),
];

/// Parameters: which book (index into [`CATALOGUE`]) and the buyer's budget.
pub const PARAMS: &[Param] = &[
    Param {
        name: "book",
        default: 0,
        summary: "index of the title in the catalogue; past its end asks for a title it lacks",
    },
    Param {
        name: "budget",
        default: 100,
        summary: "the most Buyer pays",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "buys-iff-affordable",
    "both roles agree on the decision, which is to buy exactly when the price is within budget",
)];

/// What both roles end with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deal {
    /// Bought; delivery on this date.
    Bought {
        /// Price paid.
        price: u64,
        /// Delivery date.
        delivery: String,
    },
    /// Too expensive.
    Declined {
        /// The quoted price.
        price: u64,
    },
    /// The seller does not have the title.
    Unavailable,
}

/// The choreography.
#[derive(Clone, Debug)]
pub struct Bookseller {
    /// The title Buyer asks for.
    pub title: String,
    /// Buyer's budget.
    pub budget: u64,
}

impl Choreography for Bookseller {
    type Census = Roles![Buyer, Seller];
    type Output = Deal;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Deal, ChoreoError> {
        let title = ch.locally(Buyer, |_| self.title.clone()).await?;
        let title = ch.at("title").comm(Buyer, Seller, &title).await?;
        let quote = ch
            .locally(Seller, |seller| {
                let wanted = seller.get(&title);
                CATALOGUE
                    .iter()
                    .find(|(t, _, _)| t == wanted)
                    .map(|(_, price, _)| *price)
            })
            .await?;
        let Some(price) = ch.at("quote").broadcast(Seller, quote).await? else {
            return Ok(Deal::Unavailable);
        };
        let buy = ch.locally(Buyer, |_| price <= self.budget).await?;
        if !ch.at("decision").broadcast(Buyer, buy).await? {
            return Ok(Deal::Declined { price });
        }
        let date = ch
            .locally(Seller, |seller| {
                let wanted = seller.get(&title);
                CATALOGUE
                    .iter()
                    .find(|(t, _, _)| t == wanted)
                    .map(|(_, _, d)| d.to_string())
                    .unwrap_or_default()
            })
            .await?;
        let delivery = ch.at("delivery").broadcast(Seller, date).await?;
        Ok(Deal::Bought { price, delivery })
    }
}

impl Bookseller {
    /// The choreography for parameters `p`.
    pub fn from_params(p: &Params) -> Self {
        let title = CATALOGUE
            .get(p.get("book") as usize)
            .map(|(t, _, _)| t.to_string())
            .unwrap_or_else(|| "A Book Nobody Stocks".to_string());
        Bookseller {
            title,
            budget: p.get("budget"),
        }
    }
}

/// The scenario: parameters [`PARAMS`]; its oracle checks the decision against the price.
pub fn scenario() -> ScenarioBuilder<Bookseller> {
    Scenario::new(
        "bookseller",
        "Buyer asks a title, Seller quotes, Buyer decides under budget, Seller sends a delivery date",
        |p| Ok(Bookseller::from_params(p)),
    )
    .roles(["Buyer", "Seller"])
    .params(PARAMS.iter().copied())
    .oracle(
        ORACLES[0].0,
        ORACLES[0].1,
        oracle,
    )
}

fn oracle(p: &Params, outcomes: &Outputs<Deal>) -> Vec<String> {
    let expected = match CATALOGUE.get(p.get("book") as usize) {
        None => Deal::Unavailable,
        Some((_, price, date)) if *price <= p.get("budget") => Deal::Bought {
            price: *price,
            delivery: date.to_string(),
        },
        Some((_, price, _)) => Deal::Declined { price: *price },
    };
    let mut violations = Vec::new();
    for role in ["Buyer", "Seller"] {
        match outcomes.of(role) {
            Ok(deal) if *deal == expected => {}
            Ok(deal) => {
                violations.push(format!("{role} ended with {deal:?}; expected {expected:?}"))
            }
            Err(e) => violations.push(e),
        }
    }
    violations
}
