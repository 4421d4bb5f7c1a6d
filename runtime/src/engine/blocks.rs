//! Checkpoint block instances as a session sees them: what members said about each block
//! (exit notices, the rescue and its cause), which blocks this participant abandoned (their
//! frames are stale), the exit agreement's wait, and the sequence floors that let a rescue
//! number its frames as the logged run did. A rescue notice wakes the rescued block's own
//! waiting future, not every wait of the session.

use std::collections::{BTreeMap, BTreeSet};
use std::task::Waker;

use crate::engine::journal::Floors;
use crate::engine::notice::Control;
use crate::engine::session::Session;
use crate::engine::state::State;
use crate::error::{ChoreoError, Rescued};
use crate::ident::{ParticipantId, Site};
use crate::net::civ::Lane;
use crate::net::transport::lock;
use crate::store::StoreError;

/// Where a rescue's floors keep the effect log's position: under a channel no participant
/// has (participant ids stop below `u16::MAX`), so the record stays one list. A body's
/// logged effects stay in the log; the rescue's effects come after them, in every replay.
const EFFECT_FLOOR: (ParticipantId, Lane) = (ParticipantId(u16::MAX), Lane::Data);

/// How a checkpoint block instance ends at this participant.
pub(crate) enum BlockEnd {
    /// Every member finished the body; `chain` is the least chain of their exit notices (this
    /// participant's own included): how many blocks around this one are left with it.
    Exit {
        /// The agreed chain.
        chain: u32,
    },
    /// Some member crashed in it.
    Rescue(Rescued),
}

/// The id of the `n`th block instance (from 1) entered at a checkpoint site (`site_key`: the
/// site and the block's participants) inside block instance `parent` (0: none). Every member
/// derives the same id, and so does the central reference run, which counts the same way.
pub(crate) fn block_id(parent: u64, site_key: u64, n: u64) -> u64 {
    let mut h = parent ^ site_key.rotate_left(17);
    h = h.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    // 0 means "outside every block".
    (h ^ (h >> 29)).max(1)
}

impl Session {
    /// Numbers the next block instance entered at a checkpoint site inside `parent`.
    pub fn next_block(&self, parent: u64, site_key: u64) -> u64 {
        let mut st = lock(&self.state);
        let n = st.block_counts.entry((parent, site_key)).or_insert(0);
        *n += 1;
        block_id(parent, site_key, *n)
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
        if inherited {
            // Entered inside an abandoned body: its frames are stale from the start.
            discard(&mut st, &BTreeSet::from([block]));
        }
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
                Control::Done { block, chain } => {
                    st.blocks
                        .entry(*block)
                        .or_default()
                        .done
                        .insert(from, *chain);
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

    /// Waits until the session fails: its failure.
    pub async fn failed(&self) -> ChoreoError {
        loop {
            let notified = self.noticed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(f) = &lock(&self.state).failure {
                return f.error.clone();
            }
            notified.await;
        }
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
            if self.past_the_log() {
                continue;
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
        chain: u32,
    ) -> Result<BlockEnd, ChoreoError> {
        self.wait_for(|st| {
            let notes = st.blocks.get(&block);
            if let Some(cause) = notes.and_then(|b| b.rescue.clone()) {
                return Some(BlockEnd::Rescue(cause));
            }
            let mut least = chain;
            for m in members.iter().filter(|&&m| m != self.me) {
                least = least.min(*notes?.done.get(m)?);
            }
            Some(BlockEnd::Exit { chain: least })
        })
        .await
    }

    /// Replay: the chain this participant's exit notice for `block` carried before its
    /// restart, if it sent one (a replay sends the same notice again).
    pub fn logged_chain(&self, block: u64) -> Option<u32> {
        lock(&self.state).replay_chains.get(&block).copied()
    }

    /// Abandons `block`'s body here: its frames, pending and late, are discarded, and its
    /// counters dropped.
    ///
    /// The cost is that of the blocks abandoned now (`block` and the blocks nested in it not
    /// abandoned before) and of the frames waiting to be taken, never of the blocks around it
    /// or rescued before: a block abandoned earlier had its counters dropped then, and
    /// accepts no frame since (see `accept`).
    pub fn abandon(&self, block: u64) -> usize {
        let mut st = lock(&self.state);
        let mut marking = vec![block];
        let mut marked = BTreeSet::new();
        while let Some(b) = marking.pop() {
            let notes = st.blocks.entry(b).or_default();
            if !notes.abandoned || b == block {
                notes.abandoned = true;
                marked.insert(b);
                marking.extend(notes.children.iter().copied());
            }
        }
        discard(&mut st, &marked)
    }

    /// Moves every channel's sequence numbers, and the effect log's position, to the floors
    /// of `block`'s rescue: the ones a previous incarnation recorded for it, or (the first
    /// time) past everything this participant sent, logged or drew, recorded now. A replay
    /// that takes a rescue the logged run did not (or skips a body the logged run ran) thus
    /// numbers its frames and finds its effects as the logged run did, and never reuses a
    /// number a peer has already seen.
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
                let effects = st.effect_next.max(st.effects.len() as u64);
                f.insert(EFFECT_FLOOR, effects);
                let f: Floors = f.into_iter().collect();
                if let Some(j) = &self.journal {
                    j.floors(block, &f)?;
                }
                st.floors.insert(block, f.clone());
                f
            }
        };
        for (channel, floor) in floors {
            if channel == EFFECT_FLOOR {
                st.effect_next = st.effect_next.max(floor);
                continue;
            }
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
}

/// Discards the pending frames and drops the counters of the blocks in `epochs`, which this
/// participant abandoned; returns how many frames it discarded. Each discarded frame counts
/// as consumed, or its channel would keep a gap there forever.
fn discard(st: &mut State, epochs: &BTreeSet<u64>) -> usize {
    let stale: Vec<((ParticipantId, Site, u64, u64), u64)> = st
        .by_site
        .iter()
        .filter(|((_, _, epoch, _), _)| epochs.contains(epoch))
        .map(|(k, seq)| (k.clone(), *seq))
        .collect();
    for (key, seq) in &stale {
        st.by_site.remove(key);
        st.inbox.remove(&(key.0, *seq));
        st.consumed.entry(key.0).or_default().accept(*seq);
    }
    for &epoch in epochs {
        st.site_sent.remove_epoch(epoch);
        st.site_taken.remove_epoch(epoch);
    }
    stale.len()
}
