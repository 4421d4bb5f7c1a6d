//! The session engine: one participant's state in one session.
//!
//! A [`Session`] numbers outgoing frames per (receiver, lane), suppresses duplicate arrivals,
//! keeps arrived data frames in an inbox keyed by (sender, sequence number), and hands them to
//! receive operators strictly in send order: each receive claims the next number from its
//! sender when it starts, so frames from one sender are consumed in send order even while the
//! participant waits on someone else. It also records the session's failure, after which
//! every waiting or later operator returns that error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::census::Census;
use crate::civ::{Civ, Lane, SessionId};
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
    dedup: BTreeMap<(ParticipantId, Lane), Dedup>,
    next_send: BTreeMap<(ParticipantId, Lane), u64>,
    next_recv: BTreeMap<ParticipantId, u64>,
    failure: Option<Failure>,
    children: u64,
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

    /// Claims the next frame from `from`; the caller then waits for it with [`Self::take`].
    pub fn claim_receive(&self, from: ParticipantId) -> u64 {
        let mut st = lock(&self.state);
        let n = st.next_recv.entry(from).or_insert(0);
        let seq = *n;
        *n += 1;
        seq
    }

    /// Numbers the `n`-th child session spawned here.
    pub fn next_child(&self) -> u64 {
        let mut st = lock(&self.state);
        st.children += 1;
        st.children - 1
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
                st.inbox.insert((civ.from, civ.seq), (civ, payload));
                drop(st);
                self.arrived.notify_waiters();
                Arrival::Stored
            }
        }
    }

    /// Waits for frame `seq` from `from`, or for the session's failure.
    pub async fn take(&self, from: ParticipantId, seq: u64) -> Result<(Civ, Vec<u8>), ChoreoError> {
        loop {
            let notified = self.arrived.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = lock(&self.state);
                if let Some(f) = &st.failure {
                    return Err(f.error.clone());
                }
                if let Some(frame) = st.inbox.remove(&(from, seq)) {
                    return Ok(frame);
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
