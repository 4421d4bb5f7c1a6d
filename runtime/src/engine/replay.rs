//! What a replaying participant decides from its journal: whether a send was made before (and
//! acknowledged), the logged results of its effects and loop snapshots, whether it left a block
//! through its body, died inside one, or is still behind its log (a crash then is a crash of the
//! replay, retried, never rescued), and which local step a crash happened in.

use crate::engine::journal::{Counters, Effect, Snapshot};
use crate::engine::session::Session;
use crate::engine::state::{SiteCounts, State};
use crate::ident::{ParticipantId, Site};
use crate::net::civ::Lane;
use crate::net::transport::lock;
use crate::store::StoreError;

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

/// Whether some frame the previous incarnation logged (on `lane`, or on any lane) has a
/// sequence number this incarnation has not reached on its channel.
fn log_ahead(st: &State, lane: Option<Lane>) -> bool {
    st.logged_out.keys().any(|&(to, l, seq)| {
        lane.is_none_or(|lane| lane == l) && st.next_send.get(&(to, l)).copied().unwrap_or(0) <= seq
    })
}

impl Session {
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
            drop(st);
            // A new effect: none runs in a session that failed before the restart.
            self.past_the_log();
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

    /// The number of this participant's next effect (its place in the effect log; a loop
    /// resumed from a snapshot starts at the snapshot's count).
    pub fn effect_index(&self) -> u64 {
        lock(&self.state).effect_next
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
}
