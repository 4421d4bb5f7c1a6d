//! The warehouse: Accompanist's order-fulfilment saga over a ring Warehouse -> Payment ->
//! Loyalty -> Warehouse. Warehouse reserves stock (compensation restores it), Payment takes
//! the payment (compensation refunds it), Loyalty awards a point (compensation removes it),
//! and Warehouse packages and ships the order (it fails when the shipping capacity is
//! exhausted; compensation deletes the order and restores the capacity).
//!
//! Stock, capacity, money taken and points live in each node's store (shared by every
//! session on that node), so the multi-session workload (`orders`) runs this same saga many
//! times over the same records. Parameter `abort` makes a single order abort at the first step
//! (no stock), at the last step (no capacity), or not at all.

use rehearsal::{Choreo, ChoreoError, Choreography, Outcomes, Roles, Tx, roles};
use serde::{Deserialize, Serialize};

use crate::saga_support::{Either, Param, Params, Scenario, outcome_of, outcomes_oracle};

roles!(Warehouse, Payment, Loyalty);

/// Parameters.
pub const PARAMS: &[Param] = &[
    Param {
        name: "abort",
        default: 3,
        summary: "0: the order ships; 1: it aborts at the first step (no stock); 2: at the last step (no shipping capacity); 3: three orders in turn, one per path",
    },
    Param {
        name: "qty",
        default: 2,
        summary: "items ordered",
    },
    Param {
        name: "stock",
        default: 5,
        summary: "items in stock at the start",
    },
    Param {
        name: "capacity",
        default: 3,
        summary: "orders the warehouse can still ship",
    },
];

/// Oracles beyond the reference oracle and the saga oracles.
pub const ORACLES: &[(&str, &str)] = &[(
    "warehouse-path",
    "abort=0: every role ends with the shipped order; abort=1: every role ends aborted at `reserve`; abort=2: at `ship`; abort=3: the three orders end that way, in turn",
)];

/// The price of one item.
pub const PRICE: u64 = 10;

/// One order of the saga, and the records it starts from where the store has none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The shop: the prefix of its records in the stores (so shops on the same nodes keep
    /// their own stock).
    pub shop: String,
    /// Items ordered.
    pub qty: u64,
    /// Stock at the start (where the store has no `stock` record yet).
    pub stock: u64,
    /// Shipping capacity at the start (where the store has no `capacity` record yet).
    pub capacity: u64,
}

/// What every role ends with when the order ships.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipped {
    /// Items shipped.
    pub qty: u64,
    /// Money taken.
    pub paid: u64,
    /// Loyalty points awarded.
    pub points: u64,
    /// The shipment's number: the shipping capacity it took (capacity left before it).
    pub shipment: u64,
}

/// Stock left, at Warehouse (after the shop's prefix).
pub const STOCK: &str = "stock";
/// Shipping capacity left, at Warehouse.
pub const CAPACITY: &str = "capacity";
/// Money taken, at Payment.
pub const TAKEN: &str = "taken";
/// Points awarded, at Loyalty.
pub const POINTS: &str = "points";

fn add(tx: &mut Tx<'_>, key: &str, default: u64, delta: i64) -> u64 {
    let now = tx.get_or(key, default);
    let next = now.saturating_add_signed(delta);
    tx.put(key, &next);
    next
}

impl Choreography for Order {
    type Census = Roles![Warehouse, Payment, Loyalty];
    type Output = Shipped;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Shipped, ChoreoError> {
        let Order {
            shop,
            qty,
            stock,
            capacity,
        } = self;
        let [stock_key, capacity_key, taken_key, points_key] =
            [STOCK, CAPACITY, TAKEN, POINTS].map(|k| format!("{shop}{k}"));
        let (stock_c, capacity_c, taken_c, points_c) = (
            stock_key.clone(),
            capacity_key.clone(),
            taken_key.clone(),
            points_key.clone(),
        );
        let reserved = ch
            .transaction(
                Warehouse,
                "reserve",
                |_, tx| {
                    let left = tx.get_or(&stock_key, stock);
                    if left < qty {
                        return Err(format!("{left} in stock, {qty} ordered"));
                    }
                    tx.put(&stock_key, &(left - qty));
                    Ok(qty)
                },
                move |tx, qty: &u64| {
                    add(tx, &stock_c, stock, *qty as i64);
                },
            )
            .await?;
        let amount = ch.locally(Warehouse, |w| w.get(&reserved) * PRICE).await?;
        let amount = ch.at("charge").comm(Warehouse, Payment, &amount).await?;
        let paid = ch
            .transaction(
                Payment,
                "payment",
                |p, tx| {
                    let amount = *p.get(&amount);
                    add(tx, &taken_key, 0, amount as i64);
                    let receipt = format!("receipt/{}", tx.idempotency_key());
                    tx.put(&receipt, &amount);
                    Ok(amount)
                },
                move |tx, amount: &u64| {
                    add(tx, &taken_c, 0, -(*amount as i64));
                    let receipt = format!("receipt/{}", tx.idempotency_key());
                    tx.delete(&receipt);
                },
            )
            .await?;
        let paid = ch.at("paid").comm(Payment, Loyalty, &paid).await?;
        let points = ch
            .transaction(
                Loyalty,
                "loyalty",
                |_, tx| {
                    add(tx, &points_key, 0, 1);
                    Ok(1u64)
                },
                move |tx, points: &u64| {
                    add(tx, &points_c, 0, -(*points as i64));
                },
            )
            .await?;
        let award = ch
            .locally(Loyalty, |l| (*l.get(&paid), *l.get(&points)))
            .await?;
        let award = ch.at("awarded").comm(Loyalty, Warehouse, &award).await?;
        let shipment = ch
            .transaction(
                Warehouse,
                "ship",
                |_, tx| {
                    let left = tx.get_or(&capacity_key, capacity);
                    if left == 0 {
                        return Err("no shipping capacity left".to_string());
                    }
                    tx.put(&capacity_key, &(left - 1));
                    let key = format!("order/{}", tx.idempotency_key());
                    tx.put(&key, &qty);
                    Ok(left)
                },
                move |tx, _shipment: &u64| {
                    let key = format!("order/{}", tx.idempotency_key());
                    tx.delete(&key);
                    add(tx, &capacity_c, capacity, 1);
                },
            )
            .await?;
        let shipped = ch
            .locally(Warehouse, |w| {
                let (paid, points) = *w.get(&award);
                Shipped {
                    qty: *w.get(&reserved),
                    paid,
                    points,
                    shipment: *w.get(&shipment),
                }
            })
            .await?;
        ch.at("shipped").broadcast(Warehouse, shipped).await
    }
}

/// How one order of the every-path run ended, as every role sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum End {
    /// It shipped.
    Shipped,
    /// Its saga aborted at this transaction (and every commit was compensated).
    Aborted(String),
}

/// `abort=3`: three orders, one after another, each a nested session of its own: one ships,
/// one aborts at the first step, one at the last, so every seed reaches every path.
#[derive(Clone, Debug)]
pub struct EveryPath {
    /// The orders, in the order they run.
    pub orders: Vec<Order>,
}

impl Choreography for EveryPath {
    type Census = Roles![Warehouse, Payment, Loyalty];
    type Output = Vec<End>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Vec<End>, ChoreoError> {
        let mut ends = Vec::new();
        for order in self.orders {
            let end = match ch.spawn_session(order)?.join().await? {
                Ok(_) => End::Shipped,
                Err(ChoreoError::Aborted { transaction, .. }) => End::Aborted(transaction),
                Err(e) => return Err(e),
            };
            ends.push(end);
        }
        Ok(ends)
    }
}

/// The orders of parameters `p`: one, or (abort=3) one per path.
pub fn orders(p: &Params) -> Vec<Order> {
    let path = |abort: u64, shop: &str| Order {
        shop: shop.into(),
        qty: p.get("qty"),
        stock: if abort == 1 { 0 } else { p.get("stock") },
        capacity: if abort == 2 { 0 } else { p.get("capacity") },
    };
    match p.get("abort") {
        3 => vec![
            path(0, "warehouse/ships/"),
            path(1, "warehouse/no-stock/"),
            path(2, "warehouse/no-capacity/"),
        ],
        abort => vec![path(abort, "warehouse/")],
    }
}

/// Where an order ends in a fault-free run: shipped, or aborted at `reserve` or `ship`.
pub fn expected_end(o: &Order) -> Option<&'static str> {
    if o.qty > o.stock {
        Some("reserve")
    } else if o.capacity == 0 {
        Some("ship")
    } else {
        None
    }
}

/// The scenario: one order (abort=0|1|2) or every path in turn (abort=3).
pub fn scenario() -> Scenario {
    Scenario::new(
        "warehouse",
        "Order-fulfilment saga over the ring Warehouse -> Payment -> Loyalty -> Warehouse: reserve, pay, award, ship; abort=0|1|2|3: ships|no stock|no capacity|all three in turn",
        choreography,
    )
    .roles(["Warehouse", "Payment", "Loyalty"])
    .params(PARAMS.iter().copied())
    .range("abort", 0, 3, "")
    .range("qty", 1, 1_000_000, "an order of nothing is no order")
    .build()
    .with_oracle(outcomes_oracle(ORACLES[0], oracle))
}

fn choreography(p: &Params) -> Result<Either<Order, EveryPath>, ChoreoError> {
    match p.get("abort") {
        3 => Ok(Either::Second(EveryPath { orders: orders(p) })),
        0..=2 => Ok(Either::First(orders(p).remove(0))),
        other => Err(ChoreoError::Census {
            detail: format!("warehouse: abort={other} is not a path; expected 0, 1, 2 or 3"),
        }),
    }
}

fn check_shipped(role: &str, o: &Order, s: &Shipped) -> Option<String> {
    (s.qty != o.qty || s.paid != o.qty * PRICE || s.points != 1).then(|| {
        format!(
            "warehouse-path: {role} ended with {s:?}; expected {} items paid {} and 1 point",
            o.qty,
            o.qty * PRICE
        )
    })
}

pub(crate) fn oracle(p: &Params, outcomes: &Outcomes) -> Vec<String> {
    let orders = orders(p);
    let mut out = Vec::new();
    for role in ["Warehouse", "Payment", "Loyalty"] {
        if p.get("abort") == 3 {
            match outcome_of::<Vec<End>>(outcomes, role) {
                Ok(ends) if ends.len() == orders.len() => {
                    for (o, end) in orders.iter().zip(&ends) {
                        match (expected_end(o), end) {
                            (None, End::Shipped) => {}
                            (Some(step), End::Aborted(t)) if t == step => {}
                            (want, got) => out.push(format!(
                                "warehouse-path: {role}: order {} ended {got:?}; expected {want:?}",
                                o.shop
                            )),
                        }
                    }
                }
                Ok(ends) => out.push(format!(
                    "warehouse-path: {role} ended {} orders; expected {}",
                    ends.len(),
                    orders.len()
                )),
                Err(e) => out.push(format!("warehouse-path: {e}")),
            }
            continue;
        }
        let o = &orders[0];
        match (expected_end(o), outcomes.get(role)) {
            (None, _) => match outcome_of::<Shipped>(outcomes, role) {
                Ok(s) => out.extend(check_shipped(role, o, &s)),
                Err(e) => out.push(format!("warehouse-path: {e}")),
            },
            (Some(step), Some(Err(ChoreoError::Aborted { transaction, .. })))
                if transaction == step => {}
            (Some(step), got) => out.push(format!(
                "warehouse-path: {role} ended with {got:?}; expected the saga aborted at `{step}`"
            )),
        }
    }
    out
}
