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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use tokio::sync::Notify;

use crate::census::Census;
use crate::checkpoint::Rescued;
use crate::civ::{Civ, Lane, SessionId, Site};
use crate::error::ChoreoError;
use crate::link::{Control, Dedup};
use crate::replay::{Counters, Effect, Floors, Journal, Recovered, SessionState, Snapshot};
use crate::role::{Participant, ParticipantId};
use crate::store::StoreError;
use crate::transport::{NodeId, lock};

/// What became of an arriving frame.
pub(crate) enum Arrival {
    /// First copy of a data frame: stored in the inbox.
    Stored,
    /// A copy of a frame seen before: discarded.
    Duplicate,
    /// First copy of a control frame: handed back to be acted on.
    Control(Vec<u8>),
    /// A data frame of a checkpoint attempt this participant abandoned: discarded.
    Stale,
}

/// A frame's place in the choreography: (peer, site, epoch).
pub(crate) type Spot = (ParticipantId, Site, u64);

/// Frames counted per [`Spot`], grouped by epoch so that a block's counters go at once when
/// it ends (a nest of blocks keeps one group per level open).
#[derive(Default)]
struct SiteCounts(BTreeMap<u64, BTreeMap<(ParticipantId, Site), u64>>);

impl SiteCounts {
    /// The count at `spot` before this call; counts one more.
    fn bump(&mut self, (peer, site, epoch): (ParticipantId, &Site, u64)) -> u64 {
        let group = self.0.entry(epoch).or_default();
        let n = match group.get_mut(&(peer, site.clone())) {
            Some(n) => n,
            None => group.entry((peer, site.clone())).or_insert(0),
        };
        *n += 1;
        *n - 1
    }

    fn get(&self, (peer, site, epoch): (ParticipantId, &Site, u64)) -> Option<u64> {
        self.0.get(&epoch)?.get(&(peer, site.clone())).copied()
    }

    fn remove_epoch(&mut self, epoch: u64) {
        self.0.remove(&epoch);
    }

    fn retain_epochs(&mut self, mut keep: impl FnMut(u64) -> bool) {
        self.0.retain(|&epoch, _| keep(epoch));
    }

    fn to_vec(&self) -> Vec<(Spot, u64)> {
        self.0
            .iter()
            .flat_map(|(&epoch, group)| {
                group
                    .iter()
                    .map(move |((peer, site), n)| ((*peer, site.clone(), epoch), *n))
            })
            .collect()
    }

    fn from_slice(counts: &[(Spot, u64)]) -> SiteCounts {
        let mut all = SiteCounts::default();
        for ((peer, site, epoch), n) in counts {
            all.0
                .entry(*epoch)
                .or_default()
                .insert((*peer, site.clone()), *n);
        }
        all
    }
}

/// What members of one checkpoint block instance told this participant.
#[derive(Default)]
struct BlockNotes {
    /// Members that finished the body (exit notices).
    done: BTreeSet<ParticipantId>,
    /// Why the block is being rescued, once anyone said so.
    rescue: Option<Rescued>,
    /// This participant abandoned the body: its frames are stale.
    abandoned: bool,
    /// The enclosing block instance (0: none), once this participant entered the block.
    parent: u64,
    /// Block instances this participant entered inside this one and has not left.
    children: BTreeSet<u64>,
    /// The block's waiting future, woken by a rescue notice for it or the session's failure.
    waker: Option<Waker>,
}

/// Whether `epoch`'s block, or a block enclosing it, was abandoned here (abandoning a block
/// marks every block entered inside it, so this is one lookup however deep the nest).
fn abandoned(blocks: &BTreeMap<u64, BlockNotes>, epoch: u64) -> bool {
    blocks.get(&epoch).is_some_and(|b| b.abandoned)
}

/// How a checkpoint block instance ends at this participant.
pub(crate) enum BlockEnd {
    /// Every member finished the body.
    Exit,
    /// Some member crashed in it.
    Rescue(Rescued),
}

struct Failure {
    error: ChoreoError,
}

#[derive(Default)]
struct State {
    inbox: BTreeMap<(ParticipantId, u64), (Civ, Vec<u8>)>,
    /// (sender, site, epoch, occurrence) -> sequence number of the frame in `inbox`.
    by_site: BTreeMap<(ParticipantId, Site, u64, u64), u64>,
    site_sent: SiteCounts,
    site_taken: SiteCounts,
    dedup: BTreeMap<(ParticipantId, Lane), Dedup>,
    consumed: BTreeMap<ParticipantId, Dedup>,
    next_send: BTreeMap<(ParticipantId, Lane), u64>,
    receiving: usize,
    failure: Option<Failure>,
    children: BTreeMap<u64, u64>,
    /// Replay: frames the previous incarnation sent, by (to, lane, seq): payload, acked.
    logged_out: BTreeMap<(ParticipantId, Lane, u64), (Vec<u8>, bool)>,
    /// Replay: logged effects, in call order, and how many this incarnation used.
    effects: Vec<Effect>,
    effect_next: u64,
    /// Replay: loop snapshots by loop key, and invocations per loop site.
    snapshots: BTreeMap<u64, Snapshot>,
    repeats: BTreeMap<u64, u64>,
    /// Checkpoint blocks, by block instance id.
    blocks: BTreeMap<u64, BlockNotes>,
    /// Block instances entered per (parent epoch, site key).
    block_counts: BTreeMap<(u64, u64), u64>,
    /// Replay: epochs the previous incarnation sent or received frames in, and blocks it
    /// sent its exit notice or a rescue notice for.
    replay_epochs: BTreeSet<u64>,
    replay_left: BTreeSet<u64>,
    /// Sequence floors of rescues, by block instance (recorded or recovered).
    floors: BTreeMap<u64, Floors>,
    /// A crash of the replay is propagating (see `mark_replay_crash`).
    replay_crash: bool,
    /// Local steps run by this incarnation, and the step the last crash happened in.
    steps: u64,
    crashed_at: Option<u64>,
}

/// What a replayed send finds in the outbox.
pub(crate) enum LoggedSend {
    /// Nothing: a new send.
    New,
    /// Sent before and acknowledged: do not send again.
    Acknowledged,
    /// Sent before, not acknowledged: the retransmitter already has it.
    InFlight,
    /// Sent before with another payload.
    Differs,
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
    journal: Option<Journal>,
    /// The outcome the previous incarnation finished with, if it did.
    pub finished: Option<SessionState>,
    state: Mutex<State>,
    /// Woken by data frames (receives wait on it) and by failures.
    arrived: Notify,
    /// Woken by checkpoint notices (exit and rescue waits) and by failures: kept apart from
    /// `arrived` so that data frames do not wake every level of a deep nest of checkpoints.
    noticed: Notify,
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
        for (civ, _, _) in recovered.outbox.values() {
            st.replay_epochs.insert(civ.epoch);
        }
        for (civ, payload, _) in recovered.outbox.values() {
            if civ.lane != Lane::Control {
                continue;
            }
            match postcard::from_bytes::<Control>(payload) {
                // It finished the body: replaying the block leaves it the same way.
                Ok(Control::Done { block }) => {
                    st.replay_left.insert(block);
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
                    Ok(Control::Done { block }) => {
                        st.blocks.entry(block).or_default().done.insert(civ.from);
                    }
                    Ok(Control::Rescue { block, cause }) => {
                        st.blocks
                            .entry(block)
                            .or_default()
                            .rescue
                            .get_or_insert(cause);
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
        let finished = match recovered.state {
            Some(s @ (SessionState::Done(_) | SessionState::Failed(_))) => Some(s),
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
        }
    }

    /// Records how this participant's session ended, durably, so a participant restarted
    /// after finishing returns its outcome instead of running again.
    pub fn record_end(&self, outcome: &Result<String, ChoreoError>) -> Result<(), StoreError> {
        match &self.journal {
            Some(j) => j.finish(&match outcome {
                Ok(json) => SessionState::Done(json.clone()),
                Err(e) => SessionState::Failed(e.clone()),
            }),
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

    /// Checks a send against what a previous incarnation sent.
    pub fn logged_send(
        &self,
        to: ParticipantId,
        lane: Lane,
        seq: u64,
        payload: &[u8],
    ) -> LoggedSend {
        let st = lock(&self.state);
        match st.logged_out.get(&(to, lane, seq)) {
            None => LoggedSend::New,
            Some((p, _)) if p != payload => LoggedSend::Differs,
            Some((_, true)) => LoggedSend::Acknowledged,
            Some((_, false)) => LoggedSend::InFlight,
        }
    }

    /// The logged result of this incarnation's next effect, checked against its kind and
    /// site; `Ok(None)` when the log is exhausted (the effect runs for real).
    pub fn replay_effect(&self, kind: &str, site: &Site) -> Result<Option<Vec<u8>>, String> {
        let mut st = lock(&self.state);
        let n = st.effect_next as usize;
        let Some(logged) = st.effects.get(n) else {
            return Ok(None);
        };
        if logged.kind != kind || logged.site != *site {
            return Err(format!(
                "effect #{n} was `{}` at {} when first run, but the replay asks for `{kind}` here",
                logged.kind, logged.site
            ));
        }
        let result = logged.result.clone();
        st.effect_next += 1;
        Ok(Some(result))
    }

    /// Logs this incarnation's next effect durably.
    pub fn log_effect(&self, kind: &str, site: &Site, result: &[u8]) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        let n = st.effect_next;
        if let Some(j) = &self.journal {
            let effect = Effect {
                kind: kind.to_string(),
                site: site.clone(),
                result: result.to_vec(),
            };
            j.effect(n, &effect)?;
            st.effects.push(effect);
        }
        st.effect_next += 1;
        Ok(())
    }

    /// Numbers the next run of the loop at `site_key` (every participant of the loop runs it
    /// the same number of times).
    pub fn next_repeat(&self, site_key: u64) -> u64 {
        let mut st = lock(&self.state);
        let n = st.repeats.entry(site_key).or_insert(0);
        *n += 1;
        site_key.wrapping_add((*n - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The latest snapshot of loop `key`, if a previous incarnation saved one.
    pub fn snapshot(&self, key: u64) -> Option<Snapshot> {
        lock(&self.state).snapshots.get(&key).cloned()
    }

    fn counters(st: &State) -> Counters {
        Counters {
            next_send: st.next_send.iter().map(|(k, v)| (*k, *v)).collect(),
            site_sent: st.site_sent.to_vec(),
            site_taken: st.site_taken.to_vec(),
            children: st.children.iter().map(|(k, v)| (*k, *v)).collect(),
            effects: st.effect_next,
            repeats: st.repeats.iter().map(|(k, v)| (*k, *v)).collect(),
            blocks: st.block_counts.iter().map(|(k, v)| (*k, *v)).collect(),
        }
    }

    /// Saves a snapshot of loop `key` at the boundary before `iteration`.
    pub fn save_snapshot(
        &self,
        key: u64,
        iteration: u64,
        state: Vec<u8>,
    ) -> Result<(), StoreError> {
        let Some(j) = &self.journal else {
            return Ok(());
        };
        let snapshot = {
            let st = lock(&self.state);
            Snapshot {
                iteration,
                state,
                counters: Self::counters(&st),
            }
        };
        j.snapshot(key, &snapshot)
    }

    /// Resumes at a snapshot: the session's counters jump to the boundary, and frames
    /// consumed before it are dropped from the inbox.
    pub fn restore(&self, counters: &Counters) {
        let mut st = lock(&self.state);
        st.next_send = counters.next_send.iter().cloned().collect();
        st.site_sent = SiteCounts::from_slice(&counters.site_sent);
        st.site_taken = SiteCounts::from_slice(&counters.site_taken);
        st.children = counters.children.iter().cloned().collect();
        st.effect_next = counters.effects;
        st.repeats = counters.repeats.iter().cloned().collect();
        st.block_counts = counters.blocks.iter().cloned().collect();
        let stale: Vec<((ParticipantId, Site, u64, u64), u64)> = st
            .by_site
            .iter()
            .filter(|((from, site, epoch, occ), _)| {
                st.site_taken
                    .get((*from, site, *epoch))
                    .is_some_and(|taken| *occ < taken)
            })
            .map(|(k, seq)| (k.clone(), *seq))
            .collect();
        for (key, seq) in stale {
            st.by_site.remove(&key);
            st.inbox.remove(&(key.0, seq));
            st.consumed.entry(key.0).or_default().accept(seq);
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
        key.wrapping_add((*n - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Stores an arriving frame unless it is a duplicate. With a journal, the frame is made
    /// durable first; if that fails the frame is not admitted (nor acknowledged), so its
    /// retransmission is taken as new.
    pub fn accept(&self, civ: Civ, payload: Vec<u8>) -> Result<Arrival, StoreError> {
        let mut st = lock(&self.state);
        if st
            .dedup
            .entry((civ.from, civ.lane))
            .or_default()
            .seen(civ.seq)
        {
            return Ok(Arrival::Duplicate);
        }
        if civ.lane == Lane::Data && abandoned(&st.blocks, civ.epoch) {
            // Acknowledged (so the sender stops) but neither stored nor delivered.
            st.dedup
                .entry((civ.from, civ.lane))
                .or_default()
                .accept(civ.seq);
            return Ok(Arrival::Stale);
        }
        if let Some(j) = &self.journal {
            j.received(&civ, &payload)?;
        }
        st.dedup
            .entry((civ.from, civ.lane))
            .or_default()
            .accept(civ.seq);
        match civ.lane {
            Lane::Control => Ok(Arrival::Control(payload)),
            Lane::Data => {
                st.by_site.insert(
                    (civ.from, civ.site.clone(), civ.epoch, civ.occurrence),
                    civ.seq,
                );
                st.inbox.insert((civ.from, civ.seq), (civ, payload));
                drop(st);
                self.arrived.notify_waiters();
                Ok(Arrival::Stored)
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
        epoch: u64,
    ) -> Result<(Civ, Vec<u8>), ChoreoError> {
        let occurrence = {
            let mut st = lock(&self.state);
            st.receiving += 1;
            st.site_taken.bump((from, site, epoch))
        };
        let _receiving = Receiving(self);
        let key = (from, site.clone(), epoch, occurrence);
        let mut recorded = false;
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
                    // Only a frame of this receive's own epoch can prove a divergence: one of
                    // another epoch comes from a participant that already left (or has not
                    // yet entered) the block this receive runs in.
                    if civ.ordered && civ.epoch == epoch && st.receiving == 1 {
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
            if !recorded {
                self.record_waiting(from, site);
                recorded = true;
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

    /// The session's failure, if it failed.
    pub fn failure(&self) -> Option<ChoreoError> {
        lock(&self.state).failure.as_ref().map(|f| f.error.clone())
    }

    /// Numbers the next block instance entered at a checkpoint site inside `parent`.
    pub fn next_block(&self, parent: u64, site_key: u64) -> u64 {
        let mut st = lock(&self.state);
        let n = st.block_counts.entry((parent, site_key)).or_insert(0);
        *n += 1;
        let mut h = parent ^ site_key.rotate_left(17);
        h = h.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        // 0 means "outside every block".
        (h ^ (h >> 29)).max(1)
    }

    /// This participant enters block instance `block` inside `parent`.
    pub fn enter(&self, block: u64, parent: u64) {
        let mut st = lock(&self.state);
        let inherited = match st.blocks.get_mut(&parent) {
            Some(p) if parent != 0 => {
                p.children.insert(block);
                p.abandoned
            }
            _ => false,
        };
        let notes = st.blocks.entry(block).or_default();
        notes.parent = parent;
        notes.abandoned |= inherited;
    }

    /// Why `block` is being rescued, or the session's failure, if either happened; otherwise
    /// `waker` is woken when one does.
    pub fn watch(&self, block: u64, waker: &Waker) -> Option<Result<Rescued, ChoreoError>> {
        let mut st = lock(&self.state);
        if let Some(f) = &st.failure {
            return Some(Err(f.error.clone()));
        }
        let notes = st.blocks.entry(block).or_default();
        if let Some(cause) = &notes.rescue {
            return Some(Ok(cause.clone()));
        }
        match &mut notes.waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        None
    }

    /// Stops waking `block`'s waiting future (it ended).
    pub fn unwatch(&self, block: u64) {
        if let Some(notes) = lock(&self.state).blocks.get_mut(&block) {
            notes.waker = None;
        }
    }

    /// Records a member's control notice about a block (exit or rescue).
    pub fn note(&self, from: ParticipantId, control: &Control) {
        let mut waker = None;
        {
            let mut st = lock(&self.state);
            match control {
                Control::Done { block } => {
                    st.blocks.entry(*block).or_default().done.insert(from);
                }
                Control::Rescue { block, cause } => {
                    let notes = st.blocks.entry(*block).or_default();
                    notes.rescue.get_or_insert_with(|| cause.clone());
                    waker = notes.waker.take();
                }
                Control::Abort(_) => return,
            }
        }
        // The rescued block's own future wakes and drops its body (with every block nested in
        // it); exit waits look at their block again.
        if let Some(w) = waker {
            w.wake();
        }
        self.noticed.notify_waiters();
    }

    /// Why `block` is being rescued, if anyone said so.
    pub fn rescue_notice(&self, block: u64) -> Option<Rescued> {
        lock(&self.state)
            .blocks
            .get(&block)
            .and_then(|b| b.rescue.clone())
    }

    /// Waits until `check` finds what it waits for in the state, or the session fails.
    async fn wait_for<T>(&self, check: impl Fn(&State) -> Option<T>) -> Result<T, ChoreoError> {
        loop {
            let notified = self.noticed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let st = lock(&self.state);
                if let Some(f) = &st.failure {
                    return Err(f.error.clone());
                }
                if let Some(found) = check(&st) {
                    return Ok(found);
                }
            }
            notified.await;
        }
    }

    /// Waits until every member of `block` but this one finished the body, or the block is
    /// rescued, or the session fails.
    pub async fn wait_exit(
        &self,
        block: u64,
        members: &[ParticipantId],
    ) -> Result<BlockEnd, ChoreoError> {
        self.wait_for(|st| {
            let notes = st.blocks.get(&block);
            if let Some(cause) = notes.and_then(|b| b.rescue.clone()) {
                return Some(BlockEnd::Rescue(cause));
            }
            members
                .iter()
                .all(|m| *m == self.me || notes.is_some_and(|b| b.done.contains(m)))
                .then_some(BlockEnd::Exit)
        })
        .await
    }

    /// Abandons `block`'s body here: its frames, pending and late, are discarded, and its
    /// counters dropped.
    pub fn abandon(&self, block: u64) -> usize {
        let mut st = lock(&self.state);
        let mut marking = vec![block];
        while let Some(b) = marking.pop() {
            let notes = st.blocks.entry(b).or_default();
            if !notes.abandoned || b == block {
                notes.abandoned = true;
                marking.extend(notes.children.iter().copied());
            }
        }
        let stale: Vec<((ParticipantId, Site, u64, u64), u64)> = st
            .by_site
            .iter()
            .filter(|((_, _, epoch, _), _)| abandoned(&st.blocks, *epoch))
            .map(|(k, seq)| (k.clone(), *seq))
            .collect();
        for (key, seq) in &stale {
            st.by_site.remove(key);
            st.inbox.remove(&(key.0, *seq));
            st.consumed.entry(key.0).or_default().accept(*seq);
        }
        let State {
            blocks,
            site_sent,
            site_taken,
            ..
        } = &mut *st;
        site_sent.retain_epochs(|e| !abandoned(blocks, e));
        site_taken.retain_epochs(|e| !abandoned(blocks, e));
        stale.len()
    }

    /// Moves every channel's sequence numbers to the floors of `block`'s rescue: the ones a
    /// previous incarnation recorded for it, or (the first time) past everything this
    /// participant sent or logged, recorded now. A replay that takes a rescue the logged run
    /// did not (or skips a body the logged run ran) thus numbers its frames as the logged
    /// run did, and never reuses a number a peer has already seen.
    pub fn rescue_floors(&self, block: u64) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        let floors = match st.floors.get(&block) {
            Some(f) => f.clone(),
            None => {
                let mut f: BTreeMap<(ParticipantId, Lane), u64> = st.next_send.clone();
                for &(to, lane, seq) in st.logged_out.keys() {
                    let n = f.entry((to, lane)).or_insert(0);
                    *n = (*n).max(seq + 1);
                }
                let f: Floors = f.into_iter().collect();
                if let Some(j) = &self.journal {
                    j.floors(block, &f)?;
                }
                st.floors.insert(block, f.clone());
                f
            }
        };
        for (channel, floor) in floors {
            let n = st.next_send.entry(channel).or_insert(0);
            *n = (*n).max(floor);
        }
        Ok(())
    }

    /// Forgets a block that every member left through its body.
    pub fn exited(&self, block: u64) {
        let mut st = lock(&self.state);
        if let Some(notes) = st.blocks.remove(&block)
            && let Some(parent) = st.blocks.get_mut(&notes.parent)
        {
            parent.children.remove(&block);
        }
        st.site_sent.remove_epoch(block);
        st.site_taken.remove_epoch(block);
    }

    /// Replay: whether the journal says this participant left `block` through its body (it
    /// sent its exit notice and never chose the rescue): that decision is committed.
    pub fn left_through_body(&self, block: u64) -> bool {
        let st = lock(&self.state);
        st.replay_left.contains(&block) && st.blocks.get(&block).is_none_or(|b| b.rescue.is_none())
    }

    /// A crash happened while re-executing a block the journal says was left through its
    /// body: it is a crash of the replay, which no checkpoint may rescue.
    pub fn mark_replay_crash(&self) {
        lock(&self.state).replay_crash = true;
    }

    /// Counts a local step; returns its index in this incarnation.
    pub fn step(&self) -> u64 {
        let mut st = lock(&self.state);
        st.steps += 1;
        st.steps
    }

    /// Records that local step `step` crashed.
    pub fn crashed_in(&self, step: u64) {
        lock(&self.state).crashed_at = Some(step);
    }

    /// The local step the last crash happened in (replays re-execute deterministically, so
    /// a deterministic crash happens in the same step again).
    pub fn crash_step(&self) -> Option<u64> {
        lock(&self.state).crashed_at
    }

    /// Whether a crash of the replay is on its way to the top.
    pub fn replay_crashed(&self) -> bool {
        lock(&self.state).replay_crash
    }

    /// Replay: whether the previous incarnation died inside `block`'s body (it had sent or
    /// received frames in it but never left it).
    pub fn died_inside(&self, block: u64) -> bool {
        let st = lock(&self.state);
        // Only once every checkpoint notice the previous incarnation sent has been sent again
        // can the replay be at the point where it died: while the log is ahead (it died in a
        // block nested deeper, say, after deciding that block's fate), the body is replayed.
        !log_ahead(&st, Some(Lane::Control))
            && st.replay_epochs.contains(&block)
            && !st.replay_left.contains(&block)
    }

    /// Replay: whether the previous incarnation sent frames this one has not sent again yet,
    /// so that it went further than where this incarnation is. A crash here then is a crash
    /// of the replay, not of the logged run (which got past this point): nobody may rescue
    /// it, since peers acted on what came after.
    pub fn replay_ahead(&self) -> bool {
        log_ahead(&lock(&self.state), None)
    }

    /// Frames that arrived and were never consumed.
    pub fn unconsumed(&self) -> usize {
        lock(&self.state).inbox.len()
    }
}

/// Whether some frame the previous incarnation logged (on `lane`, or on any lane) has a
/// sequence number this incarnation has not reached on its channel.
fn log_ahead(st: &State, lane: Option<Lane>) -> bool {
    st.logged_out.keys().any(|&(to, l, seq)| {
        lane.is_none_or(|lane| lane == l) && st.next_send.get(&(to, l)).copied().unwrap_or(0) <= seq
    })
}
