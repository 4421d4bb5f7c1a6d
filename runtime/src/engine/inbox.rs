//! A session's inbox: how an arriving frame is accepted (stored before it is acknowledged,
//! duplicates and frames of abandoned blocks discarded) and how a receive takes the oldest
//! frame from its sender at its own site, so frames from one sender at one site are consumed in
//! send order even while the participant waits on someone else, and operations awaited together
//! may complete in any order. A certain divergence of two projections is reported as an
//! integrity error here.

use crate::engine::session::Session;
use crate::engine::state::abandoned;
use crate::error::ChoreoError;
use crate::ident::{ParticipantId, Site};
use crate::net::civ::{Civ, Lane};
use crate::net::link::Dedup;
use crate::net::transport::lock;
use crate::store::StoreError;

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

/// Counts a receive as waiting while it lives (also when its future is dropped).
struct Receiving<'a>(&'a Session);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).receiving -= 1;
    }
}

impl Session {
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
            // Acknowledged (so the sender stops) but neither stored nor delivered; counted as
            // consumed too, or the sender's channel would keep a gap there forever (and with
            // it, no divergence could be told on that channel again).
            st.dedup
                .entry((civ.from, civ.lane))
                .or_default()
                .accept(civ.seq);
            st.consumed.entry(civ.from).or_default().accept(civ.seq);
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

    /// Frames that arrived and were never consumed.
    pub fn unconsumed(&self) -> usize {
        lock(&self.state).inbox.len()
    }
}
