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

use std::sync::{Arc, Mutex};
use std::task::Waker;

use tokio::sync::Notify;

use crate::engine::journal::{Journal, Recovered, SessionState};
use crate::engine::notice::Control;
use crate::engine::saga::SagaLog;
use crate::engine::state::{Failure, State};
use crate::error::ChoreoError;
use crate::ident::{Census, Participant, ParticipantId, SessionId, Site};
use crate::net::civ::Lane;
use crate::net::transport::{NodeId, lock};
use crate::store::StoreError;

/// The number of the `n`th child session (from 1) spawned at spawn point `key`; the central
/// reference run numbers its children the same way.
pub(crate) fn child_number(key: u64, n: u64) -> u64 {
    key.wrapping_add((n - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// One participant's state in one session.
pub(crate) struct Session {
    pub id: SessionId,
    pub me: ParticipantId,
    pub census: Arc<Census>,
    pub placement: Arc<[NodeId]>,
    pub(super) journal: Option<Journal>,
    /// The outcome the previous incarnation finished with, if it did.
    pub finished: Option<SessionState>,
    pub(super) state: Mutex<State>,
    /// Woken by data frames (receives wait on it) and by failures.
    pub(super) arrived: Notify,
    /// Woken by checkpoint notices (exit and rescue waits) and by failures: kept apart from
    /// `arrived` so that data frames do not wake every level of a deep nest of checkpoints.
    pub(super) noticed: Notify,
    /// The saga log of `ch.transaction` (read from the store on first use).
    pub saga: SagaLog,
    /// The nested sessions this incarnation started here, with their tasks (see
    /// [`Session::abort_children`]).
    children_running: Mutex<Vec<(Arc<Session>, tokio::task::AbortHandle)>>,
    /// Replay: the failure notice the journal holds (received or sent), if any. A replay runs
    /// on as far as its journal serves it (so its commits register their compensations, and
    /// it computes what it computed before), but no new commit is accepted after it; where
    /// the journal runs out (see [`Session::past_the_log`]) the session fails with it.
    pub recovered_abort: Option<ChoreoError>,
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
            journal: None,
            finished: None,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
            noticed: Notify::new(),
            saga: SagaLog::new(id, me),
            children_running: Mutex::new(Vec::new()),
            recovered_abort: None,
        }
    }

    /// A session with a journal, filled with what a previous incarnation recorded.
    pub fn durable(
        id: SessionId,
        me: ParticipantId,
        census: Arc<Census>,
        placement: Arc<[NodeId]>,
        journal: Journal,
        recovered: Recovered,
    ) -> Session {
        let mut st = State::default();
        let mut recovered_abort = None;
        for (civ, _, _) in recovered.outbox.values() {
            st.replay_epochs.insert(civ.epoch);
        }
        for (civ, payload, _) in recovered.outbox.values() {
            if civ.lane != Lane::Control {
                continue;
            }
            match postcard::from_bytes::<Control>(payload) {
                // It finished the body: replaying the block leaves it the same way.
                Ok(Control::Done { block, chain }) => {
                    st.replay_left.insert(block);
                    st.replay_chains.insert(block, chain);
                }
                // It decided on the rescue (and said so): the replay takes the rescue again.
                Ok(Control::Rescue { block, cause }) => {
                    st.replay_left.insert(block);
                    st.blocks
                        .entry(block)
                        .or_default()
                        .rescue
                        .get_or_insert(cause);
                }
                Ok(Control::Abort(error)) => {
                    recovered_abort.get_or_insert(error);
                }
                _ => {}
            }
        }
        for (civ, payload) in recovered.inbox {
            if !st
                .dedup
                .entry((civ.from, civ.lane))
                .or_default()
                .accept(civ.seq)
            {
                continue;
            }
            match civ.lane {
                Lane::Data => {
                    st.replay_epochs.insert(civ.epoch);
                    st.by_site.insert(
                        (civ.from, civ.site.clone(), civ.epoch, civ.occurrence),
                        civ.seq,
                    );
                    st.inbox.insert((civ.from, civ.seq), (civ, payload));
                }
                Lane::Control => match postcard::from_bytes::<Control>(&payload) {
                    Ok(Control::Done { block, chain }) => {
                        st.blocks
                            .entry(block)
                            .or_default()
                            .done
                            .insert(civ.from, chain);
                    }
                    Ok(Control::Rescue { block, cause }) => {
                        st.blocks
                            .entry(block)
                            .or_default()
                            .rescue
                            .get_or_insert(cause);
                    }
                    Ok(Control::Abort(error)) => {
                        recovered_abort.get_or_insert(error);
                    }
                    _ => {}
                },
            }
        }
        st.logged_out = recovered
            .outbox
            .into_iter()
            .map(|(k, (_, payload, acked))| (k, (payload, acked)))
            .collect();
        st.effects = recovered.effects;
        st.snapshots = recovered.snapshots;
        st.floors = recovered.floors;
        st.waited = recovered.waits.into_iter().collect();
        // A frame for a receive that timed out before the restart is discarded when it
        // arrives, also if the replay never gets back to that receive (it resumes a loop
        // past it, say).
        st.expired = st
            .waited
            .iter()
            .filter(|key| !st.by_site.contains_key(*key))
            .cloned()
            .collect();
        let finished = match recovered.state {
            Some(
                s @ (SessionState::Done(_)
                | SessionState::Failed(_)
                | SessionState::Returned { .. }),
            ) => Some(s),
            _ => None,
        };
        Session {
            id,
            me,
            census,
            placement,
            journal: Some(journal),
            finished,
            state: Mutex::new(st),
            arrived: Notify::new(),
            noticed: Notify::new(),
            saga: SagaLog::new(id, me),
            children_running: Mutex::new(Vec::new()),
            recovered_abort,
        }
    }

    /// Records how this participant's session ended, durably, so a participant restarted
    /// after finishing returns its outcome instead of running again: the outcome as JSON and,
    /// for a nested session, the output's encoding.
    pub fn record_end(
        &self,
        outcome: Result<(&str, Option<Vec<u8>>), &ChoreoError>,
    ) -> Result<(), StoreError> {
        match &self.journal {
            Some(j) => j.finish(
                &match outcome {
                    Ok((json, None)) => SessionState::Done(json.to_string()),
                    Ok((json, Some(value))) => SessionState::Returned {
                        json: json.to_string(),
                        value,
                    },
                    Err(e) => SessionState::Failed(e.clone()),
                },
                &self.placement,
            ),
            None => Ok(()),
        }
    }

    /// Records what the participant waits for (informational: not synced).
    pub fn record_waiting(&self, from: ParticipantId, site: &Site) {
        if let Some(j) = &self.journal {
            let _ = j.state(
                &SessionState::Running {
                    waiting: Some((from, site.clone())),
                },
                false,
            );
        }
    }

    /// The journal, when the node has a store.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
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

    /// Numbers the next frame to `to` at `site` in `epoch`.
    pub fn next_occurrence(&self, to: ParticipantId, site: &Site, epoch: u64) -> u64 {
        let mut st = lock(&self.state);
        st.site_sent.bump((to, site, epoch))
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
        child_number(key, *n)
    }

    /// Remembers a nested session this incarnation started here, and its task (forgetting
    /// those that ended).
    pub fn adopt(&self, child: Arc<Session>, task: tokio::task::AbortHandle) {
        let mut running = lock(&self.children_running);
        running.retain(|(_, t)| !t.is_finished());
        running.push((child, task));
    }

    /// Stops the tasks of the nested sessions this incarnation started here (and of theirs),
    /// as a crash of this participant's process would: the incarnation is being replaced,
    /// and its replay reopens each of them from its journal. (Left running, a child would run
    /// twice at once: once for the old incarnation, once for the replay.)
    pub fn abort_children(&self) {
        let running = std::mem::take(&mut *lock(&self.children_running));
        for (child, task) in running {
            child.abort_children();
            task.abort();
        }
    }

    /// Records the session's failure; true if it is the first.
    pub fn fail(&self, error: ChoreoError) -> bool {
        let first = {
            let mut st = lock(&self.state);
            if st.failure.is_some() {
                false
            } else {
                st.failure = Some(Failure {
                    error: error.clone(),
                });
                true
            }
        };
        // A saga marks its failure durably before anything waits on it (see `engine::saga`).
        // If the mark cannot be written, compensation still follows from the failure in
        // memory; only a restart before it ends would miss the mark.
        if first {
            let _ = self.saga.mark_failed(&error);
        }
        let wakers: Vec<Waker> = lock(&self.state)
            .blocks
            .values_mut()
            .filter_map(|b| b.waker.take())
            .collect();
        wakers.into_iter().for_each(Waker::wake);
        self.arrived.notify_waiters();
        self.noticed.notify_waiters();
        first
    }

    /// A replay reached a point its journal cannot serve (a receive or notice not in it, a
    /// new data frame, a new effect). If the journal holds the session's failure notice, the
    /// session failed before the restart and a failure is final: it fails now, rather than
    /// wait for frames that peers, having closed the session, will never send. True if the
    /// session failed.
    pub fn past_the_log(&self) -> bool {
        match &self.recovered_abort {
            Some(e) => {
                self.fail(e.clone());
                true
            }
            None => false,
        }
    }

    /// The session's failure, if it failed.
    pub fn failure(&self) -> Option<ChoreoError> {
        lock(&self.state).failure.as_ref().map(|f| f.error.clone())
    }

    /// Whether the body of block `epoch` is doomed here: abandoned, or rescued by a notice
    /// (someone's, or this participant's own crash) that its block's future has yet to act
    /// on. Such a body runs no further operator: the rescue replaces whatever it would do.
    /// Outside every block (`epoch` 0), never.
    pub fn doomed(&self, epoch: u64) -> bool {
        epoch != 0
            && lock(&self.state)
                .blocks
                .get(&epoch)
                .is_some_and(|b| b.abandoned || b.rescue.is_some())
    }
}
