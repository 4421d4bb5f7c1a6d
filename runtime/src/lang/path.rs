//! The path a projected run took, for the reference run to follow.
//!
//! A fault-free reference run takes no rescue and no timeout, so it cannot be the expected
//! outcome of a run whose blocks were rescued or whose timed receives gave up. A [`RunPath`]
//! records, from a projected run's observer events, the two things that choose a path:
//!
//! * **Rescued block instances**, keyed by (session, block instance id), with the cause each
//!   participant saw. A block instance's id is derived from the enclosing block instance, the
//!   checkpoint's site, the block's participants and how many blocks were entered there
//!   before (see `engine::blocks::block_id`), and the central run derives it the same way:
//!   nested blocks, blocks in `ch.repeat` loops (an iteration's blocks are counted on) and in
//!   enclaves and family code have the same id in both runs. Nested sessions are keyed by
//!   their own ids, which the central run also derives as the projected runs do.
//! * **Timed-out receives**, keyed by (session, receiver, sender, site, enclosing block
//!   instance, occurrence): which receive at that site it was.
//! * **Draws** (`ch.random`, `ch.now`): the values each participant drew, by their place in
//!   its effect log, with their site and enclosing block instance. A replay after a restart
//!   draws the same values from its journal again (counted once), and a loop resumed from a
//!   snapshot starts past the draws of the iterations it skips; an incarnation that drew
//!   anew (its journal was lost) replaces what the lost one drew from that point on. The central run takes the
//!   n-th value drawn by that role at that site in that block instance, and draws a fresh one
//!   only where the projected run drew none (a body it skips, say).
//!
//! The central run along a path ([`Program::reference_along`](crate::Program::reference_along))
//! does, at a block instance the path says was rescued, **not run the body at all** and runs
//! the rescue with the entry state and the recorded cause; at a receive the path says timed
//! out it returns [`TimedOut`](crate::TimedOut); everywhere else it runs as the fault-free
//! reference does. So a body's partial effects are not in the reference: nothing a body
//! computed before the crash reaches the rescue (which sees only the state cloned at entry),
//! and what a body did outside the choreography's values (a side effect's call to the outside
//! world, a write through shared memory) is not repeated by the reference either.
//!
//! Participants that crash in the same block instance at once may each see their own cause.
//! The reference for a participant then uses *its* cause for the blocks it rescued, and for a
//! block it did not rescue itself (it is not a member, or it never got there) the cause of the
//! participant that comes first by name.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Rescued;
use crate::ident::{Participant, SessionId, Site};
use crate::observer::{CheckpointPath, Event};

/// Which receive timed out: (session, receiver, sender, site, enclosing block instance,
/// occurrence).
pub(crate) type TimeoutKey = (SessionId, Participant, Participant, Site, u64, u64);

/// The rescues and timeouts of a projected run, for the reference run to follow.
///
/// ```
/// use rehearsal::{RunPath, SessionId};
/// use rehearsal::observer::{CheckpointPath, Event};
/// use rehearsal::{Participant, Rescued, Site};
///
/// let mut path = RunPath::new(SessionId(1));
/// assert!(path.is_empty());
/// let site = Site::caller(Some("transfer"));
/// let cause = Rescued { role: "Bank".into(), site: site.clone(), message: "disk full".into() };
/// path.record(&Event::Checkpoint {
///     session: SessionId(1),
///     participant: Participant::role("Bank"),
///     site: &site,
///     block: 7,
///     path: CheckpointPath::Rescue { cause: &cause, dropped: 0 },
/// });
/// assert_eq!((path.rescues(), path.timeouts()), (1, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunPath {
    root: SessionId,
    rescues: BTreeMap<(SessionId, u64), BTreeMap<Participant, Rescued>>,
    timeouts: BTreeSet<TimeoutKey>,
    draws: BTreeMap<(SessionId, Participant), Draws>,
}

/// One participant's draws in one session, by their place in its effect log (a replay
/// returns a logged draw at the same place; a loop resumed from a snapshot starts past the
/// draws of the iterations it skips).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Draws {
    values: BTreeMap<u64, (u64, Site, Vec<u8>)>,
}

impl RunPath {
    /// An empty path of a run whose top-level session is `root` (the reference along it runs
    /// as that session, so nested sessions get the ids they had in the run).
    pub fn new(root: SessionId) -> RunPath {
        RunPath {
            root,
            ..RunPath::default()
        }
    }

    /// The run's top-level session.
    pub fn session(&self) -> SessionId {
        self.root
    }

    /// Takes note of one event of the run: a rescue (the first cause each participant saw
    /// for a block instance counts; a replay sees the same one again) or a timeout. Other
    /// events change nothing.
    pub fn record(&mut self, event: &Event<'_>) {
        match event {
            Event::Checkpoint {
                session,
                participant,
                block,
                path: CheckpointPath::Rescue { cause, .. },
                ..
            } => {
                self.rescues
                    .entry((*session, *block))
                    .or_default()
                    .entry(*participant)
                    .or_insert_with(|| (*cause).clone());
            }
            Event::TimedOut {
                session,
                participant,
                from,
                site,
                epoch,
                occurrence,
            } => {
                self.timeouts.insert((
                    *session,
                    *participant,
                    *from,
                    (*site).clone(),
                    *epoch,
                    *occurrence,
                ));
            }
            Event::Draw {
                session,
                participant,
                site,
                epoch,
                index,
                value,
            } => {
                let d = self.draws.entry((*session, *participant)).or_default();
                let same = d
                    .values
                    .get(index)
                    .is_some_and(|(e, s, v)| e == epoch && s == *site && v.as_slice() == *value);
                if !same {
                    // A fresh draw where the lost incarnation drew: what that one drew from
                    // here on is gone with it.
                    d.values.split_off(index);
                    d.values
                        .insert(*index, (*epoch, (*site).clone(), value.to_vec()));
                }
            }
            _ => {}
        }
    }

    /// Whether the run took no rescue and no timeout and drew nothing: the fault-free
    /// reference holds.
    pub fn is_empty(&self) -> bool {
        self.rescues.is_empty() && self.timeouts.is_empty() && self.draws.is_empty()
    }

    /// How many values were drawn (`ch.random`, `ch.now`), counted once per participant
    /// however often a replay drew them again.
    pub fn draws(&self) -> usize {
        self.draws.values().map(|d| d.values.len()).sum()
    }

    /// How many block instances were rescued.
    pub fn rescues(&self) -> usize {
        self.rescues.len()
    }

    /// How many receives timed out.
    pub fn timeouts(&self) -> usize {
        self.timeouts.len()
    }

    /// What the central run follows to compute `viewer`'s expected outcome.
    pub(crate) fn follow_for(&self, viewer: Participant) -> Follow {
        Follow {
            rescues: self
                .rescues
                .iter()
                .filter_map(|(key, causes)| {
                    let cause = causes.get(&viewer).or_else(|| causes.values().next())?;
                    Some((*key, cause.clone()))
                })
                .collect(),
            timeouts: self.timeouts.clone(),
            draws: self
                .draws
                .iter()
                .fold(BTreeMap::new(), |mut all, ((session, who), d)| {
                    for (epoch, site, value) in d.values.values() {
                        all.entry((*session, *who, *epoch, site.clone()))
                            .or_insert_with(Vec::new)
                            .push(value.clone());
                    }
                    all
                }),
        }
    }
}

/// The choices a central run makes where the projected run's path chose: empty for the
/// fault-free reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Follow {
    rescues: BTreeMap<(SessionId, u64), Rescued>,
    timeouts: BTreeSet<TimeoutKey>,
    /// Values drawn per (session, participant, block instance, site), in order.
    draws: BTreeMap<(SessionId, Participant, u64, Site), Vec<Vec<u8>>>,
}

impl Follow {
    /// The cause block instance `block` of `session` was rescued with, if it was.
    pub(crate) fn rescue(&self, session: SessionId, block: u64) -> Option<Rescued> {
        self.rescues.get(&(session, block)).cloned()
    }

    /// Whether the receive `key` names timed out.
    pub(crate) fn timed_out(&self, key: &TimeoutKey) -> bool {
        self.timeouts.contains(key)
    }

    /// The `n`-th value (from 0) `who` drew at `site` in block instance `epoch` of
    /// `session`, if the projected run drew it.
    pub(crate) fn draw(
        &self,
        session: SessionId,
        who: Participant,
        epoch: u64,
        site: &Site,
        n: u64,
    ) -> Option<&[u8]> {
        let values = self.draws.get(&(session, who, epoch, site.clone()))?;
        values.get(usize::try_from(n).ok()?).map(Vec::as_slice)
    }
}

/// How far the central run got, counted as a participant counts, so that it derives the same
/// block instance ids, child session ids and receive occurrences as the projected runs.
#[derive(Default)]
pub(crate) struct CentralCounts {
    /// Block instances entered per (enclosing block instance, site key).
    blocks: BTreeMap<(u64, u64), u64>,
    /// Child sessions spawned per spawn point.
    children: BTreeMap<u64, u64>,
    /// Timed receives per (enclosing block instance, receiver, sender, site).
    taken: BTreeMap<(u64, Participant, Participant, Site), u64>,
    /// Draws per (enclosing block instance, role, site).
    draws: BTreeMap<(u64, Participant, Site), u64>,
}

impl CentralCounts {
    /// Counts one more block instance at `(parent, site_key)`; how many there are now.
    pub(crate) fn next_block(&mut self, parent: u64, site_key: u64) -> u64 {
        bump(self.blocks.entry((parent, site_key)).or_insert(0))
    }

    /// Counts one more child session at spawn point `key`; how many there are now.
    pub(crate) fn next_child(&mut self, key: u64) -> u64 {
        bump(self.children.entry(key).or_insert(0))
    }

    /// Numbers the next timed receive of `to` from `from` at `site` in `epoch`, from 0.
    pub(crate) fn next_take(
        &mut self,
        epoch: u64,
        to: Participant,
        from: Participant,
        site: &Site,
    ) -> u64 {
        bump(
            self.taken
                .entry((epoch, to, from, site.clone()))
                .or_insert(0),
        ) - 1
    }
}

impl CentralCounts {
    /// Numbers the next draw of `who` at `site` in `epoch`, from 0.
    pub(crate) fn next_draw(&mut self, epoch: u64, who: Participant, site: &Site) -> u64 {
        bump(self.draws.entry((epoch, who, site.clone())).or_insert(0)) - 1
    }
}

fn bump(n: &mut u64) -> u64 {
    *n += 1;
    *n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(path: &mut RunPath, who: &'static str, site: &Site, index: u64, value: &[u8]) {
        path.record(&Event::Draw {
            session: SessionId(1),
            participant: Participant::role(who),
            site,
            epoch: 0,
            index,
            value,
        });
    }

    fn restart(path: &mut RunPath, who: &'static str) {
        path.record(&Event::SessionStart {
            session: SessionId(1),
            participant: Participant::role(who),
        });
    }

    #[test]
    fn a_replayed_draw_counts_once_and_a_fresh_one_replaces_the_lost_ones() {
        let site = Site::caller(Some("salt"));
        let mut path = RunPath::new(SessionId(1));
        restart(&mut path, "Server");
        draw(&mut path, "Server", &site, 0, &[1]);
        draw(&mut path, "Server", &site, 1, &[2]);
        draw(&mut path, "Client", &site, 0, &[9]);
        assert!(!path.is_empty());
        assert_eq!(path.draws(), 3);
        // A restart replays the journal: the same values again.
        restart(&mut path, "Server");
        draw(&mut path, "Server", &site, 0, &[1]);
        draw(&mut path, "Server", &site, 1, &[2]);
        assert_eq!(path.draws(), 3);
        let follow = path.follow_for(Participant::role("Client"));
        let server = Participant::role("Server");
        assert_eq!(
            follow.draw(SessionId(1), server, 0, &site, 1),
            Some(&[2u8][..])
        );
        assert_eq!(follow.draw(SessionId(1), server, 0, &site, 2), None);
        // An incarnation that lost its journal draws anew from its second value on.
        restart(&mut path, "Server");
        draw(&mut path, "Server", &site, 0, &[1]);
        draw(&mut path, "Server", &site, 1, &[5]);
        assert_eq!(path.draws(), 3);
        let follow = path.follow_for(server);
        assert_eq!(
            follow.draw(SessionId(1), server, 0, &site, 1),
            Some(&[5u8][..])
        );
        let client = Participant::role("Client");
        assert_eq!(
            follow.draw(SessionId(1), client, 0, &site, 0),
            Some(&[9u8][..])
        );
        // A loop resumed from a snapshot skips the draws before it; they still count.
        restart(&mut path, "Client");
        draw(&mut path, "Client", &site, 1, &[7]);
        let follow = path.follow_for(client);
        assert_eq!(
            follow.draw(SessionId(1), client, 0, &site, 0),
            Some(&[9u8][..])
        );
        assert_eq!(
            follow.draw(SessionId(1), client, 0, &site, 1),
            Some(&[7u8][..])
        );
        assert_eq!(follow.draw(SessionId(2), client, 0, &site, 0), None);
    }
}
