//! Chorex's state machine: a text adventure with roles Gateway, Worker and Player.
//!
//! Player sends its name to Gateway, Gateway to Worker. Each turn Worker sends Player the
//! prompt for the current room, Player answers a move, Worker computes the next room (an
//! illegal move panics in Worker's local code), Worker tells Player where it is now, and
//! Player reports its feedback (its configuration, `good` or `bad`) back to Worker. Then
//! Worker decides whether the game is over (broadcast); if not, it sends Player its
//! configuration for the next turn. Rooms: `atrium` -open-> `mailbox` -take-> `leaflet`
//! -read-> `read-leaflet` -any-> `end`. At the end Worker thanks the player by name.
//!
//! * `variant=0`: the turns as they are (a `good` player: four legal moves).
//! * `variant=1`: each turn runs inside a checkpoint whose rescue sends Player a failure text,
//!   has Player report, and keeps the old room. Nothing crashes.
//! * `variant=2`: the same, with a `bad` player, who answers the mailbox's prompt with `read`
//!   (illegal there): Worker crashes once per game, every role runs the rescue, the failure
//!   text turns the player `good`, and the game goes on from the mailbox (five turns).
//!
//! Where the turn's checkpoint sits (`global`):
//!
//! * `global=0` (as written in Rehearsal, the default): a turn is an enclave of Worker and
//!   Player, and its checkpoint is inside the enclave, so Gateway, which takes no part in a
//!   turn, takes no part in the block's exit agreement either.
//! * `global=1` (as Chorex): the checkpoint is over all three roles, its body and rescue the
//!   same enclave, so Gateway enters every turn's block and agrees on its exit, as in Chorex,
//!   whose barrier at a block's exit is over every actor of the session.
//!
//! The baseline is the same program either way. Every variant ends in room `end`, with Player
//! thanked by name.

use rehearsal::{At, Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::scenario::Outputs;
use rehearsal_sim::scenario::{Scenario, ScenarioBuilder};
use serde::{Deserialize, Serialize};

use super::{VARIANT_PARAM, Variant};
use rehearsal_sim::scenario::{Param, Params};

roles!(Gateway, Worker, Player);

/// The roles.
pub type Census = Roles![Gateway, Worker, Player];

/// Parameters: the variant and where the turn's checkpoint sits.
pub const PARAMS: &[Param] = &[
    VARIANT_PARAM,
    Param {
        name: "global",
        default: 0,
        summary: "0: each turn's checkpoint is inside the Worker-Player enclave (as written in \
                  Rehearsal); 1: it is over all three roles, Gateway included (as Chorex)",
    },
];

/// Oracles beyond the reference oracle.
pub const ORACLES: &[(&str, &str)] = &[(
    "game-reaches-the-end",
    "Worker ends in room `end`, Gateway with the player's name, Player thanked by name",
)];

/// The name Player gives.
pub const PLAYER_NAME: &str = "cretin";

/// What Worker says after a failed turn.
pub const FAILURE: &str = "I'm sorry, that's not something I can do.";

/// The start of the panic message of an illegal move.
pub const ILLEGAL_MOVE: &str = "illegal move";

/// A room of the adventure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Room {
    /// Where the game starts.
    Atrium,
    /// The mailbox is open.
    Mailbox,
    /// The leaflet is taken.
    Leaflet,
    /// The leaflet is read.
    ReadLeaflet,
    /// The game is over.
    End,
}

/// A move Player can make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Move {
    /// Open the mailbox.
    Open,
    /// Take the leaflet.
    Take,
    /// Read the leaflet.
    Read,
    /// Anything goes at the end.
    Jump,
}

/// Player's configuration: a `bad` player answers the mailbox with an illegal move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conf {
    /// Plays the four legal moves.
    Good,
    /// Reads the leaflet before taking it (once: the failure text makes it good).
    Bad,
}

/// Worker's prompt for `room`.
pub fn prompt(room: Room) -> &'static str {
    match room {
        Room::Atrium => {
            "You are standing in an open field west of a white house with a boarded front \
             door. There is a small mailbox here."
        }
        Room::Mailbox => "Opening the mailbox reveals a small leaflet.",
        Room::Leaflet => "Leaflet: (taken)",
        Room::ReadLeaflet => "The leaflet says, 'Welcome to this homage to Zork!'",
        Room::End => "The game is over.",
    }
}

/// Player's answer to `prompt`.
pub fn make_move(prompt: &str, conf: Conf) -> Move {
    if prompt.starts_with("You are standing in an open field") {
        Move::Open
    } else if prompt.starts_with("Opening the mailbox reveals a small leaflet") {
        match conf {
            Conf::Good => Move::Take,
            Conf::Bad => Move::Read,
        }
    } else if prompt.starts_with("Leaflet: (taken)") {
        Move::Read
    } else {
        Move::Jump
    }
}

/// Worker's rules: the room after `mv` in `room`. Panics on an illegal move.
pub fn realize_move(mv: Move, room: Room) -> Room {
    match (mv, room) {
        (Move::Open, Room::Atrium) => Room::Mailbox,
        (Move::Take, Room::Mailbox) => Room::Leaflet,
        (Move::Read, Room::Leaflet) => Room::ReadLeaflet,
        (_, Room::ReadLeaflet) => Room::End,
        (mv, room) => panic!("{ILLEGAL_MOVE} {mv:?} in room {room:?}"),
    }
}

/// What Worker tells Player after a move: the room it is in now.
pub fn inform(room: Room) -> String {
    format!("You are in the {room:?} now.")
}

/// Player's report on `feedback`: the failure text makes it good, anything else keeps it.
pub fn report(feedback: &str, conf: Conf) -> Conf {
    if feedback == FAILURE {
        Conf::Good
    } else {
        conf
    }
}

/// What each role ends with.
#[derive(Debug, Serialize)]
pub struct Game {
    /// The player's name, as Gateway got it.
    pub name: At<String, Gateway>,
    /// The room the game ended in.
    pub room: At<Room, Worker>,
    /// Worker's farewell, as Player got it.
    pub farewell: At<String, Player>,
}

/// The choreography.
#[derive(Clone, Copy, Debug)]
pub struct StateMachine {
    /// Which benchmark variant.
    pub variant: Variant,
    /// Whether each turn's checkpoint is over every role, Gateway included (Chorex's global
    /// barrier), rather than inside the turn's enclave of Worker and Player.
    pub global: bool,
}

/// The room after a turn, and Player's configuration as Worker holds it.
type Turn = (At<Room, Worker>, At<Conf, Worker>);

impl Choreography for StateMachine {
    type Census = Census;
    type Output = Game;

    async fn run(self, ch: &Choreo<Census>) -> Result<Game, ChoreoError> {
        let name = ch.locally(Player, |_| PLAYER_NAME.to_string()).await?;
        let name = ch.at("name").comm(Player, Gateway, &name).await?;
        let worker_name = ch.at("name-to-worker").comm(Gateway, Worker, &name).await?;
        let start = match self.variant {
            Variant::ChkCrash => Conf::Bad,
            Variant::Baseline | Variant::Chk => Conf::Good,
        };
        let mut conf = ch.locally(Player, |_| start).await?;
        let mut room = ch.locally(Worker, |_| Room::Atrium).await?;
        loop {
            let played = if self.global && self.variant.checkpoints() {
                ch.checkpoint(
                    (room, conf),
                    |ch, (room, conf)| async move {
                        ch.enclave(Turns {
                            checkpoint: false,
                            room,
                            conf,
                        })
                        .await
                    },
                    |ch, (room, conf), _why| async move {
                        ch.enclave(FailedTurn { room, conf }).await
                    },
                )
                .await?
            } else {
                ch.enclave(Turns {
                    checkpoint: self.variant.checkpoints(),
                    room,
                    conf,
                })
                .await?
            };
            room = played.clone().into_located(|(room, _)| room);
            let next_conf = played.into_located(|(_, conf)| conf);
            let over = ch.locally(Worker, |w| *w.get(&room) == Room::End).await?;
            if ch.at("game-over").broadcast(Worker, over).await? {
                let bye = ch
                    .locally(Worker, |w| {
                        format!("Thank you for playing {}", w.get(&worker_name))
                    })
                    .await?;
                let farewell = ch.at("farewell").comm(Worker, Player, &bye).await?;
                return Ok(Game {
                    name,
                    room,
                    farewell,
                });
            }
            conf = ch.at("conf").comm(Worker, Player, &next_conf).await?;
        }
    }
}

/// A turn, played by Worker and Player alone, in a checkpoint of its own if `checkpoint`
/// (then Gateway is not a member of the turn's block either: the exit agreement is among the
/// block's members).
struct Turns {
    checkpoint: bool,
    room: At<Room, Worker>,
    conf: At<Conf, Player>,
}

/// The roles of a turn.
type TurnCensus = Roles![Worker, Player];

impl Choreography for Turns {
    type Census = TurnCensus;
    type Output = Turn;

    async fn run(self, ch: &Choreo<TurnCensus>) -> Result<Turn, ChoreoError> {
        if self.checkpoint {
            ch.checkpoint(
                (self.room, self.conf),
                |ch, (room, conf)| async move { turn(&ch, room, conf).await },
                |ch, (room, conf), _why| async move { failed_turn(&ch, room, conf).await },
            )
            .await
        } else {
            turn(ch, self.room, self.conf).await
        }
    }
}

/// The rescue of a turn over every role (`global=1`), played by Worker and Player alone.
struct FailedTurn {
    room: At<Room, Worker>,
    conf: At<Conf, Player>,
}

impl Choreography for FailedTurn {
    type Census = TurnCensus;
    type Output = Turn;

    async fn run(self, ch: &Choreo<TurnCensus>) -> Result<Turn, ChoreoError> {
        failed_turn(ch, self.room, self.conf).await
    }
}

/// One turn: prompt, move, next room (panics on an illegal move), feedback, report.
async fn turn(
    ch: &Choreo<TurnCensus>,
    room: At<Room, Worker>,
    conf: At<Conf, Player>,
) -> Result<Turn, ChoreoError> {
    let text = ch
        .locally(Worker, |w| prompt(*w.get(&room)).to_string())
        .await?;
    let text = ch.at("prompt").comm(Worker, Player, &text).await?;
    let mv = ch
        .locally(Player, |p| make_move(p.get(&text).as_str(), *p.get(&conf)))
        .await?;
    let mv = ch.at("move").comm(Player, Worker, &mv).await?;
    let room = ch
        .at("realize-move")
        .locally(Worker, |w| realize_move(*w.get(&mv), *w.get(&room)))
        .await?;
    let feedback = ch.locally(Worker, |w| inform(*w.get(&room))).await?;
    let feedback = ch.at("feedback").comm(Worker, Player, &feedback).await?;
    let conf = ch
        .locally(Player, |p| report(p.get(&feedback).as_str(), *p.get(&conf)))
        .await?;
    let conf = ch.at("report").comm(Player, Worker, &conf).await?;
    Ok((room, conf))
}

/// The rescue of a turn: Worker sends the failure text, Player reports, the room stays.
async fn failed_turn(
    ch: &Choreo<TurnCensus>,
    room: At<Room, Worker>,
    conf: At<Conf, Player>,
) -> Result<Turn, ChoreoError> {
    let failure = ch.locally(Worker, |_| FAILURE.to_string()).await?;
    let failure = ch.at("failure").comm(Worker, Player, &failure).await?;
    let conf = ch
        .locally(Player, |p| report(p.get(&failure).as_str(), *p.get(&conf)))
        .await?;
    let conf = ch
        .at("report-after-failure")
        .comm(Player, Worker, &conf)
        .await?;
    Ok((room, conf))
}

/// The scenario `state-machine`: parameters [`PARAMS`]; its oracle checks the known answer.
pub fn scenario() -> ScenarioBuilder<StateMachine> {
    Scenario::new(
        "state-machine",
        "Chorex's text adventure: Worker leads Player from atrium to end, one move per turn (variant=0|1|2: baseline|chk|chk+crash)",
        choreography,
    )
    .roles(["Gateway", "Worker", "Player"])
    .params(PARAMS.iter().copied())
    .range("variant", 0, 2, "")
    .range(
        "global",
        0,
        1,
        "0: the turn's checkpoint over Worker and Player (as written); 1: over every role (as Chorex)",
    )
    .oracle_as::<Seen, _>(
        ORACLES[0].0,
        ORACLES[0].1,
        oracle,
    )
}

fn choreography(p: &Params) -> Result<StateMachine, ChoreoError> {
    let variant = Variant::from_params(p)?;
    let global = match p.get("global") {
        0 => false,
        1 => true,
        n => {
            return Err(ChoreoError::Census {
                detail: format!(
                    "global = {n}; expected 0 (the turn's checkpoint inside the Worker-Player \
                     enclave) or 1 (over every role, as Chorex)"
                ),
            });
        }
    };
    Ok(StateMachine { variant, global })
}

/// A participant's view of the output, as the oracle reads it.
#[derive(Deserialize)]
struct Seen {
    name: Option<String>,
    room: Option<Room>,
    farewell: Option<String>,
}

fn oracle(_: &Params, outcomes: &Outputs<Seen>) -> Vec<String> {
    let farewell = format!("Thank you for playing {PLAYER_NAME}");
    let mut violations = Vec::new();
    for role in ["Gateway", "Worker", "Player"] {
        let seen = match outcomes.of(role) {
            Ok(seen) => seen,
            Err(e) => {
                violations.push(e);
                continue;
            }
        };
        let wrong = match role {
            "Gateway" => (seen.name.as_deref() != Some(PLAYER_NAME))
                .then(|| format!("Gateway got name {:?}; expected {PLAYER_NAME:?}", seen.name)),
            "Worker" => (seen.room != Some(Room::End))
                .then(|| format!("Worker ended in room {:?}; expected End", seen.room)),
            _ => (seen.farewell.as_deref() != Some(farewell.as_str())).then(|| {
                format!(
                    "Player got farewell {:?}; expected {farewell:?}",
                    seen.farewell
                )
            }),
        };
        violations.extend(wrong);
    }
    violations
}
