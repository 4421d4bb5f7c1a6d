//! Travel: Client books a trip. Flight books a seat; Geo picks the hotel nearest the
//! destination and passes the booking to Reservation, which books a room. The two bookings run
//! side by side; either aborts the saga when it is full, and then the other is compensated
//! (its seat or room released) wherever it had committed.

use rehearsal::{Choreo, ChoreoError, Choreography, Outcomes, Roles, Tx, roles};
use serde::{Deserialize, Serialize};

use crate::saga_support::{Either, Param, Params, Scenario, outcome_of, outcomes_oracle};

roles!(Client, Flight, Geo, Reservation);

/// Parameters.
pub const PARAMS: &[Param] = &[
    Param {
        name: "full",
        default: 3,
        summary: "0: both bookings succeed; 1: the flight is full; 2: the hotel is full; 3: three trips in turn, one per path",
    },
    Param {
        name: "seats",
        default: 2,
        summary: "seats left on the flight at the start",
    },
    Param {
        name: "rooms",
        default: 2,
        summary: "rooms left at the hotel at the start",
    },
];

/// Oracles beyond the reference oracle and the saga oracles.
pub const ORACLES: &[(&str, &str)] = &[(
    "travel-path",
    "full=0: every role ends with the itinerary; full=1: aborted at `flight`; full=2: aborted at `hotel`; full=3: the three trips end that way, in turn",
)];

/// A trip: where to, and what is left where the stores have no record yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    /// The agency: the prefix of its records in the stores.
    pub agency: String,
    /// The destination.
    pub to: String,
    /// Seats left at the start.
    pub seats: u64,
    /// Rooms left at the start.
    pub rooms: u64,
}

/// What every role ends with when both bookings succeed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Itinerary {
    /// The seat booked (its number).
    pub seat: u64,
    /// The hotel.
    pub hotel: String,
    /// The room booked (its number).
    pub room: u64,
}

fn book(tx: &mut Tx<'_>, key: &str, start: u64, what: &str) -> Result<u64, String> {
    let left = tx.get_or(key, start);
    if left == 0 {
        return Err(format!("no {what} left"));
    }
    tx.put(key, &(left - 1));
    Ok(left)
}

fn release(tx: &mut Tx<'_>, key: &str, start: u64) {
    let left = tx.get_or(key, start);
    tx.put(key, &(left + 1));
}

/// The hotel Geo picks for a destination.
pub fn hotel_near(to: &str) -> String {
    format!("Grand Hotel {to}")
}

impl Choreography for Trip {
    type Census = Roles![Client, Flight, Geo, Reservation];
    type Output = Itinerary;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Itinerary, ChoreoError> {
        let Trip {
            agency,
            to,
            seats,
            rooms,
        } = self;
        let seats_key = format!("{agency}seats");
        let rooms_key = format!("{agency}rooms");
        let (seats_c, rooms_c) = (seats_key.clone(), rooms_key.clone());
        let dest = ch.locally(Client, |_| to.clone()).await?;
        // Both requests leave before either answer is awaited: the bookings run side by side.
        let seat_req = ch.at("book-flight").comm(Client, Flight, &dest).await?;
        let geo_req = ch.at("find-hotel").comm(Client, Geo, &dest).await?;
        let hotel = ch
            .locally(Geo, |g| hotel_near(g.get::<String>(&geo_req)))
            .await?;
        let hotel = ch.at("book-hotel").comm(Geo, Reservation, &hotel).await?;
        let seat = ch
            .transaction(
                Flight,
                "flight",
                |f, tx| {
                    let _to = f.get(&seat_req);
                    book(tx, &seats_key, seats, "seat")
                },
                move |tx, _seat: &u64| release(tx, &seats_c, seats),
            )
            .await?;
        let room = ch
            .transaction(
                Reservation,
                "hotel",
                |r, tx| {
                    let _hotel = r.get(&hotel);
                    book(tx, &rooms_key, rooms, "room")
                },
                move |tx, _room: &u64| release(tx, &rooms_c, rooms),
            )
            .await?;
        let hotel_name = ch.locally(Reservation, |r| r.get(&hotel).clone()).await?;
        let seat = ch.at("seat").comm(Flight, Client, &seat).await?;
        let room = ch
            .at("room")
            .comm(
                Reservation,
                Client,
                &ch.locally(Reservation, |r| (r.get(&hotel_name).clone(), *r.get(&room)))
                    .await?,
            )
            .await?;
        let itinerary = ch
            .locally(Client, |c| {
                let (hotel, room) = c.get(&room).clone();
                Itinerary {
                    seat: *c.get(&seat),
                    hotel,
                    room,
                }
            })
            .await?;
        ch.at("itinerary").broadcast(Client, itinerary).await
    }
}

/// `full=3`: three trips, one after another, each a nested session of its own: one books
/// both, one finds the flight full, one the hotel, so every seed reaches every path.
#[derive(Clone, Debug)]
pub struct EveryPath {
    /// The trips, in the order they run.
    pub trips: Vec<Trip>,
}

impl Choreography for EveryPath {
    type Census = Roles![Client, Flight, Geo, Reservation];
    /// Per trip: `None` if it was booked, or the transaction its saga aborted at.
    type Output = Vec<Option<String>>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Vec<Option<String>>, ChoreoError> {
        let mut ends = Vec::new();
        for trip in self.trips {
            ends.push(match ch.spawn_session(trip)?.join().await? {
                Ok(_) => None,
                Err(ChoreoError::Aborted { transaction, .. }) => Some(transaction),
                Err(e) => return Err(e),
            });
        }
        Ok(ends)
    }
}

/// The trips of parameters `p`: one, or (full=3) one per path.
pub fn trips(p: &Params) -> Vec<Trip> {
    let path = |full: u64, agency: &str| Trip {
        agency: agency.into(),
        to: "Lisbon".into(),
        seats: if full == 1 { 0 } else { p.get("seats") },
        rooms: if full == 2 { 0 } else { p.get("rooms") },
    };
    match p.get("full") {
        3 => vec![
            path(0, "travel/booked/"),
            path(1, "travel/flight-full/"),
            path(2, "travel/hotel-full/"),
        ],
        full => vec![path(full, "travel/")],
    }
}

/// Where a trip ends in a fault-free run: booked, or aborted at `flight` or `hotel`.
pub fn expected_end(t: &Trip) -> Option<&'static str> {
    match (t.seats, t.rooms) {
        (0, _) => Some("flight"),
        (_, 0) => Some("hotel"),
        _ => None,
    }
}

/// The scenario: one trip (full=0|1|2) or every path in turn (full=3).
pub fn scenario() -> Scenario {
    Scenario::new(
        "travel",
        "Client books a flight (Flight) and a hotel (Geo picks it, Reservation books it) side by side; full=0|1|2|3: both book|flight full|hotel full|all three in turn",
        choreography,
    )
    .roles(["Client", "Flight", "Geo", "Reservation"])
    .params(PARAMS.iter().copied())
    .range("full", 0, 3, "")
    .build()
    .with_oracle(outcomes_oracle(ORACLES[0], oracle))
}

fn choreography(p: &Params) -> Result<Either<Trip, EveryPath>, ChoreoError> {
    match p.get("full") {
        3 => Ok(Either::Second(EveryPath { trips: trips(p) })),
        0..=2 => Ok(Either::First(trips(p).remove(0))),
        other => Err(ChoreoError::Census {
            detail: format!("travel: full={other} is not a path; expected 0, 1, 2 or 3"),
        }),
    }
}

pub(crate) fn oracle(p: &Params, outcomes: &Outcomes) -> Vec<String> {
    let trips = trips(p);
    let mut out = Vec::new();
    for role in ["Client", "Flight", "Geo", "Reservation"] {
        if p.get("full") == 3 {
            let want: Vec<Option<String>> = trips
                .iter()
                .map(|t| expected_end(t).map(str::to_string))
                .collect();
            match outcome_of::<Vec<Option<String>>>(outcomes, role) {
                Ok(ends) if ends == want => {}
                Ok(ends) => out.push(format!(
                    "travel-path: {role} ended {ends:?}; expected {want:?}"
                )),
                Err(e) => out.push(format!("travel-path: {e}")),
            }
            continue;
        }
        let t = &trips[0];
        match (expected_end(t), outcomes.get(role)) {
            (None, _) => match outcome_of::<Itinerary>(outcomes, role) {
                Ok(i) if i.seat == t.seats && i.room == t.rooms && i.hotel == hotel_near(&t.to) => {
                }
                Ok(i) => out.push(format!(
                    "travel-path: {role} ended with {i:?}; expected seat {} and room {} at {}",
                    t.seats,
                    t.rooms,
                    hotel_near(&t.to)
                )),
                Err(e) => out.push(format!("travel-path: {e}")),
            },
            (Some(step), Some(Err(ChoreoError::Aborted { transaction, .. })))
                if transaction == step => {}
            (Some(step), got) => out.push(format!(
                "travel-path: {role} ended with {got:?}; expected the saga aborted at `{step}`"
            )),
        }
    }
    out
}
