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
    /// A data frame for a receive that timed out here before it arrived: discarded.
    Late,
}

/// What a timed-out receive does with its frame, should it be here after all.
pub(crate) enum Expiry {
    /// The frame arrived meanwhile: the receive takes it (a live receive's race with its
    /// timer is won by the frame).
    Take,
    /// The receive stays timed out (a replay of a receive the journal says timed out): a
    /// frame already here is discarded too.
    Discard,
}

/// What became of a timed-out receive.
pub(crate) enum Expired {
    /// The frame was here after all ([`Expiry::Take`]).
    Took(Civ, Vec<u8>),
    /// Timed out; the frame, if it was already here, was discarded (its token and payload
    /// size are given).
    TimedOut(Option<(Civ, usize)>),
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
            && crate::planted::planted() != Some(crate::planted::Bug::RedeliverCopies)
        {
            return Ok(Arrival::Duplicate);
        }
        if civ.lane == Lane::Data
            && abandoned(&st.blocks, civ.epoch)
            && crate::planted::planted() != Some(crate::planted::Bug::AdmitAbandonedFrames)
        {
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
        if civ.lane == Lane::Data
            && st
                .expired
                .remove(&(civ.from, civ.site.clone(), civ.epoch, civ.occurrence))
        {
            // Its receive gave up waiting: counted as consumed like a stale frame, so the
            // channel keeps no gap and the frame is never matched to a later receive.
            st.dedup
                .entry((civ.from, civ.lane))
                .or_default()
                .accept(civ.seq);
            st.consumed.entry(civ.from).or_default().accept(civ.seq);
            return Ok(Arrival::Late);
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
        let occurrence = self.next_take(from, site, epoch);
        self.take_at(from, site, epoch, occurrence).await
    }

    /// Numbers the next receive from `from` at `site` in `epoch` (its occurrence: the
    /// sender's frame with the same occurrence is the one it takes).
    pub fn next_take(&self, from: ParticipantId, site: &Site, epoch: u64) -> u64 {
        lock(&self.state).site_taken.bump((from, site, epoch))
    }

    /// [`Session::take`] for a receive already numbered with [`Session::next_take`].
    pub async fn take_at(
        &self,
        from: ParticipantId,
        site: &Site,
        epoch: u64,
        occurrence: u64,
    ) -> Result<(Civ, Vec<u8>), ChoreoError> {
        lock(&self.state).receiving += 1;
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
            if self.past_the_log() {
                continue;
            }
            if !recorded {
                self.record_waiting(from, site);
                recorded = true;
            }
            notified.await;
        }
    }

    /// Ends receive `occurrence` from `from` at `site` in `epoch` without waiting longer: its
    /// frame, if it is here, is taken or discarded (see [`Expiry`]); otherwise it is recorded
    /// (durably, with a journal) that the receive timed out, and its frame is discarded when
    /// it arrives. A store error leaves the receive waiting (nothing was decided).
    pub fn expire(
        &self,
        from: ParticipantId,
        site: &Site,
        epoch: u64,
        occurrence: u64,
        expiry: Expiry,
    ) -> Result<Expired, StoreError> {
        let mut st = lock(&self.state);
        let key = (from, site.clone(), epoch, occurrence);
        let held = st.by_site.get(&key).copied();
        if let (Some(seq), Expiry::Take) = (held, &expiry) {
            st.by_site.remove(&key);
            st.consumed.entry(from).or_default().accept(seq);
            if let Some((civ, payload)) = st.inbox.remove(&(from, seq)) {
                return Ok(Expired::Took(civ, payload));
            }
        }
        if !st.waited.contains(&key) {
            if let Some(j) = &self.journal {
                j.waited(&key)?;
            }
            st.waited.insert(key.clone());
        }
        let discarded = match held {
            Some(seq) => {
                st.by_site.remove(&key);
                st.consumed.entry(from).or_default().accept(seq);
                st.inbox
                    .remove(&(from, seq))
                    .map(|(civ, payload)| (civ, payload.len()))
            }
            None => {
                st.expired.insert(key);
                None
            }
        };
        Ok(Expired::TimedOut(discarded))
    }

    /// Whether the wait at (`peer`, `site`, `epoch`, `occurrence`) is over according to the
    /// journal or this incarnation (a finished sleep, a timed-out receive).
    pub fn waited(&self, peer: ParticipantId, site: &Site, epoch: u64, occurrence: u64) -> bool {
        lock(&self.state)
            .waited
            .contains(&(peer, site.clone(), epoch, occurrence))
    }

    /// Records (durably, with a journal) that the wait at (`peer`, `site`, `epoch`,
    /// `occurrence`) is over.
    pub fn finish_wait(
        &self,
        peer: ParticipantId,
        site: &Site,
        epoch: u64,
        occurrence: u64,
    ) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        let key = (peer, site.clone(), epoch, occurrence);
        if !st.waited.contains(&key) {
            if let Some(j) = &self.journal {
                j.waited(&key)?;
            }
            st.waited.insert(key);
        }
        Ok(())
    }

    /// Frames that arrived and were never consumed.
    pub fn unconsumed(&self) -> usize {
        lock(&self.state).inbox.len()
    }
}
