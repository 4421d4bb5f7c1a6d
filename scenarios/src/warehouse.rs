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

use rehearsal::{
    Choreo, ChoreoError, Choreography, FamilySizes, Outcomes, Program, Roles, Tx, roles,
};
use serde::{Deserialize, Serialize};

use crate::scenario::{Param, Params, outcome_of};

roles!(Warehouse, Payment, Loyalty);

/// Parameters.
pub const PARAMS: &[Param] = &[
    Param {
        name: "abort",
        default: 0,
        summary: "0: the order ships; 1: it aborts at the first step (no stock); 2: at the last step (no shipping capacity)",
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
    "abort=0: every role ends with the shipped order; abort=1: every role ends aborted at `reserve`; abort=2: at `ship`",
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

/// The order of parameters `p`.
pub fn order(p: &Params) -> Order {
    let abort = p.get("abort");
    Order {
        shop: "warehouse/".into(),
        qty: p.get("qty"),
        stock: if abort == 1 { 0 } else { p.get("stock") },
        capacity: if abort == 2 { 0 } else { p.get("capacity") },
    }
}

pub(crate) fn program(p: &Params) -> Result<Program, ChoreoError> {
    if p.get("abort") > 2 {
        return Err(ChoreoError::Census {
            detail: format!(
                "warehouse: abort={} is not a path; expected 0, 1 or 2",
                p.get("abort")
            ),
        });
    }
    Program::new(order(p), &FamilySizes::new())
}

pub(crate) fn oracle(p: &Params, outcomes: &Outcomes) -> Vec<String> {
    let o = order(p);
    let expected = match p.get("abort") {
        0 if o.qty <= o.stock && o.capacity > 0 => None,
        0 if o.qty > o.stock => Some("reserve"),
        0 => Some("ship"),
        1 if o.qty == 0 => Some("ship"),
        1 => Some("reserve"),
        _ => Some("ship"),
    };
    let mut out = Vec::new();
    for role in ["Warehouse", "Payment", "Loyalty"] {
        match (expected, outcomes.get(role)) {
            (None, _) => match outcome_of::<Shipped>(outcomes, role) {
                Ok(s) if s.qty == o.qty && s.paid == o.qty * PRICE && s.points == 1 => {}
                Ok(s) => out.push(format!(
                    "warehouse-path: {role} ended with {s:?}; expected {} items paid {}",
                    o.qty,
                    o.qty * PRICE
                )),
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
