//! Orders: K concurrent warehouse sagas over the same nodes. Each order is a nested session of
//! its own (`ch.spawn_session`) running the warehouse saga ([`crate::warehouse::Order`]), and
//! every order reads and writes the same stock, capacity, money and points records in the
//! nodes' stores. When all orders ended, each role audits its records and Warehouse announces
//! the tally.
//!
//! Whatever the interleaving, the orders that complete are min(stock / qty, capacity, K): a
//! ship step commits last, so capacity once taken is never given back, and an order that finds
//! no stock only does so while other orders hold all of it, each of which ships or finds the
//! capacity exhausted. So the tally is the same in every run, and conservation can be checked
//! on it: stock and money conserved, nothing oversold, every order complete or compensated.

use rehearsal::{Choreo, ChoreoError, Choreography, Outcomes, Roles};
use serde::{Deserialize, Serialize};

use crate::saga_support::{Param, Params, Scenario, outcome_of, outcomes_oracle};
use crate::warehouse::{CAPACITY, Loyalty, Order, POINTS, PRICE, Payment, STOCK, TAKEN, Warehouse};

/// Parameters.
pub const PARAMS: &[Param] = &[
    Param {
        name: "orders",
        default: 4,
        summary: "concurrent orders (K)",
    },
    Param {
        name: "qty",
        default: 1,
        summary: "items per order",
    },
    Param {
        name: "stock",
        default: 3,
        summary: "items in stock at the start",
    },
    Param {
        name: "capacity",
        default: 2,
        summary: "orders the warehouse can ship",
    },
];

/// Oracles beyond the reference oracle and the saga oracles.
pub const ORACLES: &[(&str, &str)] = &[(
    "orders-conserved",
    "every order completes or is compensated; completed = min(stock/qty, capacity, K); stock, capacity, money and points match the completed orders (nothing oversold)",
)];

/// What every role ends with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Orders that shipped.
    pub completed: u64,
    /// Orders aborted (and compensated).
    pub aborted: u64,
    /// Stock left at Warehouse.
    pub stock: u64,
    /// Capacity left at Warehouse.
    pub capacity: u64,
    /// Money taken at Payment.
    pub taken: u64,
    /// Points at Loyalty.
    pub points: u64,
}

/// K orders side by side.
#[derive(Clone, Debug)]
pub struct Orders {
    /// How many.
    pub k: u64,
    /// Each order.
    pub order: Order,
}

impl Choreography for Orders {
    type Census = Roles![Warehouse, Payment, Loyalty];
    type Output = Tally;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Tally, ChoreoError> {
        let mut running = Vec::new();
        for _ in 0..self.k {
            running.push(ch.spawn_session(self.order.clone())?);
        }
        let (mut completed, mut aborted) = (0u64, 0u64);
        for order in running {
            match order.join().await? {
                Ok(_) => completed += 1,
                Err(ChoreoError::Aborted { .. }) => aborted += 1,
                Err(e) => return Err(e),
            }
        }
        let Order {
            shop,
            stock,
            capacity,
            ..
        } = self.order;
        let key = |k: &str| format!("{shop}{k}");
        let left = ch
            .transaction(
                Warehouse,
                "audit-stock",
                |_, tx| {
                    Ok((
                        tx.get_or(&key(STOCK), stock),
                        tx.get_or(&key(CAPACITY), capacity),
                    ))
                },
                |_, _: &(u64, u64)| {},
            )
            .await?;
        let taken = ch
            .transaction(
                Payment,
                "audit-money",
                |_, tx| Ok(tx.get_or(&key(TAKEN), 0u64)),
                |_, _: &u64| {},
            )
            .await?;
        let points = ch
            .transaction(
                Loyalty,
                "audit-points",
                |_, tx| Ok(tx.get_or(&key(POINTS), 0u64)),
                |_, _: &u64| {},
            )
            .await?;
        let taken = ch.at("taken").comm(Payment, Warehouse, &taken).await?;
        let points = ch.at("points").comm(Loyalty, Warehouse, &points).await?;
        let tally = ch
            .locally(Warehouse, |w| {
                let (stock, capacity) = *w.get(&left);
                Tally {
                    completed,
                    aborted,
                    stock,
                    capacity,
                    taken: *w.get(&taken),
                    points: *w.get(&points),
                }
            })
            .await?;
        ch.at("tally").broadcast(Warehouse, tally).await
    }
}

/// The workload of parameters `p`.
pub fn orders(p: &Params) -> Orders {
    Orders {
        k: p.get("orders"),
        order: Order {
            shop: "orders/".into(),
            qty: p.get("qty"),
            stock: p.get("stock"),
            capacity: p.get("capacity"),
        },
    }
}

/// The scenario: K concurrent orders over shared records, then an audit.
pub fn scenario() -> Scenario {
    Scenario::new(
        "orders",
        "K concurrent warehouse sagas (nested sessions) over the same stock, capacity, money and points in the nodes' stores; then an audit",
        |p| Ok(orders(p)),
    )
    .roles(["Warehouse", "Payment", "Loyalty"])
    .params(PARAMS.iter().copied())
    .range(
        "orders",
        1,
        64,
        "each order is a session of its own with four store batches per role",
    )
    .range("qty", 1, 1_000_000, "an order of nothing is no order")
    .build()
    .with_oracle(outcomes_oracle(ORACLES[0], oracle))
}

pub(crate) fn oracle(p: &Params, outcomes: &Outcomes) -> Vec<String> {
    let o = orders(p);
    let qty = o.order.qty;
    let by_stock = o.order.stock.checked_div(qty).unwrap_or(o.k);
    let want = by_stock.min(o.order.capacity).min(o.k);
    let mut out = Vec::new();
    for role in ["Warehouse", "Payment", "Loyalty"] {
        let t = match outcome_of::<Tally>(outcomes, role) {
            Ok(t) => t,
            Err(e) => {
                out.push(format!("orders-conserved: {e}"));
                continue;
            }
        };
        let mut bad = Vec::new();
        if t.completed + t.aborted != o.k {
            bad.push(format!(
                "{} + {} orders ended of {}",
                t.completed, t.aborted, o.k
            ));
        }
        if t.completed != want {
            bad.push(format!("{} completed; expected {want}", t.completed));
        }
        if t.stock + t.completed * qty != o.order.stock {
            bad.push(format!(
                "stock {} + shipped {} is not the initial {}",
                t.stock,
                t.completed * qty,
                o.order.stock
            ));
        }
        if t.capacity + t.completed != o.order.capacity {
            bad.push(format!(
                "capacity {} after {} shipped",
                t.capacity, t.completed
            ));
        }
        if t.taken != t.completed * qty * PRICE {
            bad.push(format!(
                "money taken {} for {} shipped",
                t.taken, t.completed
            ));
        }
        if t.points != t.completed {
            bad.push(format!("{} points for {} shipped", t.points, t.completed));
        }
        if !bad.is_empty() {
            out.push(format!("orders-conserved: {role}: {}", bad.join("; ")));
        }
    }
    out
}
