//! The session engine: one participant's state in one session.
//!
//! A [`Session`] numbers outgoing frames per (receiver, lane), suppresses duplicate arrivals,
//! and keeps arrived data frames in an inbox keyed by (sender, sequence number). A receive
//! operator takes the oldest frame from its sender *at its own site*: frames from one sender
//! at one site are consumed in send order, even while the participant waits on someone else,
//! and operations awaited together may complete in any order.
//!
//! Divergence (two roles' projections disagreeing) is caught where it is certain: the oldest
//! unconsumed frame from the sender was sent in program order (no concurrency at the sender),
//! this receive is the only one waiting here (no concurrency at the receiver), and the sites
//! differ. The session also records its failure, after which every waiting or later operator
//! returns that error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::census::Census;
use crate::civ::{Civ, Lane, SessionId, Site};
use crate::error::ChoreoError;
use crate::link::Dedup;
use crate::role::{Participant, ParticipantId};
use crate::transport::{NodeId, lock};

/// What became of an arriving frame.
pub(crate) enum Arrival {
    /// First copy of a data frame: stored in the inbox.
    Stored,
    /// A copy of a frame seen before: discarded.
    Duplicate,
    /// First copy of a control frame: handed back to be acted on.
    Control(Vec<u8>),
}

struct Failure {
    error: ChoreoError,
}

#[derive(Default)]
struct State {
    inbox: BTreeMap<(ParticipantId, u64), (Civ, Vec<u8>)>,
    /// (sender, site, occurrence) -> sequence number of the frame in `inbox`.
    by_site: BTreeMap<(ParticipantId, Site, u64), u64>,
    site_sent: BTreeMap<(ParticipantId, Site), u64>,
    site_taken: BTreeMap<(ParticipantId, Site), u64>,
    dedup: BTreeMap<(ParticipantId, Lane), Dedup>,
    consumed: BTreeMap<ParticipantId, Dedup>,
    next_send: BTreeMap<(ParticipantId, Lane), u64>,
    receiving: usize,
    failure: Option<Failure>,
    children: BTreeMap<u64, u64>,
}

/// Counts a receive as waiting while it lives (also when its future is dropped).
struct Receiving<'a>(&'a Session);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).receiving -= 1;
    }
}

/// One participant's state in one session.
pub(crate) struct Session {
    pub id: SessionId,
    pub me: ParticipantId,
    pub census: Arc<Census>,
    pub placement: Arc<[NodeId]>,
    state: Mutex<State>,
    arrived: Notify,
}

impl Session {
    pub fn new(
        id: SessionId,
        me: ParticipantId,
        census: Arc<Census>,
        placement: Arc<[NodeId]>,
    ) -> Session {
        Session {
            id,
            me,
            census,
            placement,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
        }
    }

    /// This participant.
    pub fn participant(&self) -> Participant {
        self.census
            .participant(self.me)
            .unwrap_or(Participant::role("?"))
    }

    /// Display name of participant `id` in this session.
    pub fn name(&self, id: ParticipantId) -> String {
        self.census.name(id)
    }

    /// The next sequence number on the channel to `to`.
    pub fn next_send_seq(&self, to: ParticipantId, lane: Lane) -> u64 {
        let mut st = lock(&self.state);
        let n = st.next_send.entry((to, lane)).or_insert(0);
        let seq = *n;
        *n += 1;
        seq
    }

    /// Numbers the next frame to `to` at `site`.
    pub fn next_occurrence(&self, to: ParticipantId, site: &Site) -> u64 {
        let mut st = lock(&self.state);
        let n = st.site_sent.entry((to, site.clone())).or_insert(0);
        *n += 1;
        *n - 1
    }

    /// Whether no receive is waiting here: a frame sent now is in program order.
    pub fn is_sequential(&self) -> bool {
        lock(&self.state).receiving == 0
    }

    /// Numbers the next child session spawned at a spawn point (`key`: the site and the
    /// child's members). Every member runs the same spawns at one spawn point, so all derive
    /// the same number, whatever enclaves some of them skipped.
    pub fn next_child(&self, key: u64) -> u64 {
        let mut st = lock(&self.state);
        let n = st.children.entry(key).or_insert(0);
        *n += 1;
        key.wrapping_add((*n - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Stores an arriving frame unless it is a duplicate.
    pub fn accept(&self, civ: Civ, payload: Vec<u8>) -> Arrival {
        let mut st = lock(&self.state);
        if !st
            .dedup
            .entry((civ.from, civ.lane))
            .or_default()
            .accept(civ.seq)
        {
            return Arrival::Duplicate;
        }
        match civ.lane {
            Lane::Control => Arrival::Control(payload),
            Lane::Data => {
                st.by_site
                    .insert((civ.from, civ.site.clone(), civ.occurrence), civ.seq);
                st.inbox.insert((civ.from, civ.seq), (civ, payload));
                drop(st);
                self.arrived.notify_waiters();
                Arrival::Stored
            }
        }
    }

    /// Waits for the next frame from `from` sent at `site` (in the sender's order at that
    /// site), or for the session's failure.
    /// A certain divergence is an [`ChoreoError::Integrity`] error (see the module docs); the
    /// caller reports it.
    pub async fn take(
        &self,
        from: ParticipantId,
        site: &Site,
    ) -> Result<(Civ, Vec<u8>), ChoreoError> {
        let occurrence = {
            let mut st = lock(&self.state);
            st.receiving += 1;
            let n = st.site_taken.entry((from, site.clone())).or_insert(0);
            *n += 1;
            *n - 1
        };
        let _receiving = Receiving(self);
        let key = (from, site.clone(), occurrence);
        loop {
            let notified = self.arrived.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = lock(&self.state);
                if let Some(f) = &st.failure {
                    return Err(f.error.clone());
                }
                if let Some(seq) = st.by_site.remove(&key) {
                    st.consumed.entry(from).or_default().accept(seq);
                    if let Some(frame) = st.inbox.remove(&(from, seq)) {
                        return Ok(frame);
                    }
                }
                let next = st.consumed.get(&from).map_or(0, Dedup::next_missing);
                if let Some((civ, _)) = st.inbox.get(&(from, next)) {
                    if civ.ordered && st.receiving == 1 {
                        return Err(ChoreoError::Integrity {
                            session: self.id,
                            sender: self.name(from),
                            receiver: self.name(self.me),
                            seq: next,
                            expected: Box::new(site.clone()),
                            got: Box::new(civ.site.clone()),
                        });
                    }
                }
            }
            notified.await;
        }
    }

    /// Records the session's failure; true if it is the first.
    pub fn fail(&self, error: ChoreoError) -> bool {
        let first = {
            let mut st = lock(&self.state);
            if st.failure.is_some() {
                false
            } else {
                st.failure = Some(Failure { error });
                true
            }
        };
        self.arrived.notify_waiters();
        first
    }

    /// The session's failure, if it failed.
    pub fn failure(&self) -> Option<ChoreoError> {
        lock(&self.state).failure.as_ref().map(|f| f.error.clone())
    }

    /// Frames that arrived and were never consumed.
    pub fn unconsumed(&self) -> usize {
        lock(&self.state).inbox.len()
    }
}
