//! The journal: what a participant writes to its node's store, and what a restarted
//! participant reads back to replay.
//!
//! Per (session, participant) the journal keeps: a session record (running, waiting for
//! which input, or finished with which outcome), every frame received (stored *before* it is
//! acknowledged), every frame sent (stored *before* it leaves) and whether it was
//! acknowledged, the results of side effects, random numbers and clock readings in call
//! order, and the loop snapshots of `ch.repeat`. Each change is one store batch. A restarted
//! participant re-runs its projection against the recovered journal: receives are served
//! from the stored inbox, sends are checked against the outbox (and not sent again once
//! acknowledged), effects return their logged results, and a loop resumes from its latest
//! snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ident::{ParticipantId, SessionId, Site};
use crate::net::civ::{Civ, Lane};
use crate::net::link::FrameKey;
use crate::net::transport::NodeId;
use crate::store::{Batch, Store, StoreError, Table};

/// The state of a participant's session, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SessionState {
    /// Running; waiting for a frame from a participant at a site, if blocked.
    Running {
        waiting: Option<(ParticipantId, Site)>,
    },
    /// Finished with this outcome (JSON) at this participant.
    Done(String),
    /// Failed with this error.
    Failed(crate::error::ChoreoError),
    /// A nested session finished with this outcome (JSON), and `value`, the output's wire
    /// encoding (lossless, unlike the JSON view), which a replayed parent gets back instead
    /// of running the session again.
    Returned { json: String, value: Vec<u8> },
}

/// A logged result of `ch.random()`, `ch.now()` or `ch.side_effect(..)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Effect {
    pub kind: String,
    pub site: Site,
    pub result: Vec<u8>,
}

/// Everything needed to resume a loop at an iteration boundary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// The iteration about to run.
    pub iteration: u64,
    /// The loop state, encoded.
    pub state: Vec<u8>,
    /// The session's counters at the boundary.
    pub counters: Counters,
}

/// A frame's place in the choreography: (peer, site, epoch).
pub(crate) type Spot = (ParticipantId, Site, u64);

/// The counters of a participant's session that fix which frames and effects come next.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    pub next_send: Vec<((ParticipantId, Lane), u64)>,
    pub site_sent: Vec<(Spot, u64)>,
    pub site_taken: Vec<(Spot, u64)>,
    pub children: Vec<(u64, u64)>,
    pub effects: u64,
    pub repeats: Vec<(u64, u64)>,
    /// Checkpoint block instances entered per (parent epoch, site key).
    pub blocks: Vec<((u64, u64), u64)>,
}

/// Frames a participant sent, by (to, lane, seq): the token, the payload, and whether the
/// receiver acknowledged it.
pub(crate) type Outbox = BTreeMap<(ParticipantId, Lane, u64), (Civ, Vec<u8>, bool)>;

/// What a restarted participant finds in its journal.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub state: Option<SessionState>,
    pub inbox: Vec<(Civ, Vec<u8>)>,
    /// (to, lane, seq) -> (payload, acknowledged)
    pub outbox: Outbox,
    pub effects: Vec<Effect>,
    pub snapshots: BTreeMap<u64, Snapshot>,
    /// Sequence floors recorded at rescues, by block instance.
    pub floors: BTreeMap<u64, Floors>,
    /// Waits that are over: sleeps that finished, receives that timed out.
    pub waits: Vec<Wait>,
}

/// A wait that is over, by what it waited at: (peer, site, epoch, occurrence). For a sleep the
/// peer is the sleeper itself and the wait finished; for a receive with a timeout the peer is
/// the sender and the receive timed out (one that got its value needs no record: the frame is
/// in the inbox).
pub(crate) type Wait = (ParticipantId, Site, u64, u64);

/// Where each channel's sequence numbers continue after a rescue: recorded the first time a
/// block is rescued, so every replay of the rescue numbers its frames the same way.
pub(crate) type Floors = Vec<((ParticipantId, Lane), u64)>;

impl Recovered {
    /// Whether the journal held anything: the participant ran before.
    pub fn is_replay(&self) -> bool {
        self.state.is_some()
    }
}

/// One participant's journal in one session.
pub(crate) struct Journal {
    store: Arc<dyn Store>,
    prefix: [u8; 10],
}

fn lane_byte(lane: Lane) -> u8 {
    match lane {
        Lane::Data => 0,
        Lane::Control => 1,
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain owned data always encodes.
    postcard::to_stdvec(value).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        path: "(journal)".into(),
        detail: format!("a {what} record does not decode: {e}"),
    })
}

const ACKED: u8 = 0xFF;

/// The tag of an ended session's placement record (see [`Journal::finish`]).
const PLACEMENT: &[u8] = b"P";

/// The key prefix of `me`'s journal in `session`.
fn prefix(session: SessionId, me: ParticipantId) -> [u8; 10] {
    let mut prefix = [0u8; 10];
    prefix[..8].copy_from_slice(&session.0.to_be_bytes());
    prefix[8..].copy_from_slice(&me.0.to_be_bytes());
    prefix
}

/// The key of a frame's record in `prefix`'s journal: the peer, the lane, the number.
fn frame_record(prefix: &[u8], peer: ParticipantId, lane: Lane, seq: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&peer.0.to_be_bytes());
    k.push(lane_byte(lane));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Where the receiver's journal keeps the frame `key` names once it stored it: its key in
/// [`Table::Inbox`]. For harnesses that read a store's disk model rather than the runtime's
/// own bookkeeping (the simulator's per-layer oracles); the layout is the journal's.
pub fn inbox_record_key(key: &FrameKey) -> Vec<u8> {
    frame_record(&prefix(key.session, key.to), key.from, key.lane, key.seq)
}

/// Where the sender's journal marks the frame `key` names as acknowledged: the mark's key
/// in [`Table::Outbox`] (see [`inbox_record_key`]).
pub fn ack_mark_key(key: &FrameKey) -> Vec<u8> {
    let mut k = frame_record(&prefix(key.session, key.from), key.to, key.lane, key.seq);
    k.push(ACKED);
    k
}

impl Journal {
    pub fn new(store: Arc<dyn Store>, session: SessionId, me: ParticipantId) -> Journal {
        Journal {
            store,
            prefix: prefix(session, me),
        }
    }

    fn key(&self, rest: &[u8]) -> Vec<u8> {
        let mut k = self.prefix.to_vec();
        k.extend_from_slice(rest);
        k
    }

    fn frame_key(&self, peer: ParticipantId, lane: Lane, seq: u64) -> Vec<u8> {
        frame_record(&self.prefix, peer, lane, seq)
    }

    fn write(&self, batch: &Batch, sync: bool) -> Result<(), StoreError> {
        self.store.commit(batch)?;
        if sync {
            self.store.sync()?;
        }
        Ok(())
    }

    /// Records the session's state; `durable` syncs it.
    pub fn state(&self, state: &SessionState, durable: bool) -> Result<(), StoreError> {
        let mut b = Batch::new();
        b.put(Table::Sessions, self.key(&[]), encode(state));
        self.write(&b, durable)
    }

    /// Records how the session ended here, durably, and forgets in the same batch everything
    /// only a replay needed: received frames, effects, loop snapshots, rescue floors and the
    /// sent frames that were acknowledged. A restarted participant returns the recorded
    /// outcome without replaying, so a finished session keeps one record, plus the frames no
    /// peer acknowledged yet (they go out again after a restart; [`Journal::forget_sent`]
    /// drops each when its acknowledgement comes).
    ///
    /// While it still owes frames, it also records where the session's participants are
    /// (`placement`): what it owes goes out again when the node restarts, even if no replay
    /// ever opens this session again (a parent that resumed a loop past it, say); the record
    /// goes with the last owed frame.
    pub fn finish(&self, state: &SessionState, placement: &[NodeId]) -> Result<(), StoreError> {
        let mut b = Batch::new();
        b.put(Table::Sessions, self.key(&[]), encode(state));
        let mut owes = false;
        for tag in [b"F", b"W"] {
            for (k, _) in self.store.scan(Table::Sessions, &self.key(tag))? {
                b.delete(Table::Sessions, k);
            }
        }
        for table in [Table::Inbox, Table::Effects, Table::Snapshots] {
            for (k, _) in self.store.scan(table, &self.prefix)? {
                b.delete(table, k);
            }
        }
        let outbox = self.store.scan(Table::Outbox, &self.prefix)?;
        let acked: std::collections::BTreeSet<&[u8]> = outbox
            .iter()
            .filter(|(k, _)| k.len() == self.prefix.len() + 12 && k.last() == Some(&ACKED))
            .map(|(k, _)| &k[..k.len() - 1])
            .collect();
        for (k, _) in &outbox {
            let marker = k.len() == self.prefix.len() + 12 && k.last() == Some(&ACKED);
            if marker || acked.contains(k.as_slice()) {
                b.delete(Table::Outbox, k.clone());
            } else {
                owes = true;
            }
        }
        if owes {
            let nodes: Vec<u32> = placement.iter().map(|n| n.0).collect();
            b.put(Table::Sessions, self.key(PLACEMENT), encode(&nodes));
        }
        self.write(&b, true)
    }

    /// Forgets a sent frame of a finished session once it is acknowledged (not synced:
    /// losing this only costs a resend after a restart).
    pub fn forget_sent(&self, key: &FrameKey) -> Result<(), StoreError> {
        let k = self.frame_key(key.to, key.lane, key.seq);
        let mut marker = k.clone();
        marker.push(ACKED);
        let mut b = Batch::new();
        b.delete(Table::Outbox, k);
        b.delete(Table::Outbox, marker);
        self.write(&b, false)?;
        // The last frame it owed: where its peers are is no longer needed.
        if self.store.scan(Table::Outbox, &self.prefix)?.is_empty() {
            let mut b = Batch::new();
            b.delete(Table::Sessions, self.key(PLACEMENT));
            self.write(&b, false)?;
        }
        Ok(())
    }

    /// Records the sequence floors of a rescue, durably.
    pub fn floors(&self, block: u64, floors: &Floors) -> Result<(), StoreError> {
        let mut rest = vec![b'F'];
        rest.extend_from_slice(&block.to_be_bytes());
        let mut b = Batch::new();
        b.put(Table::Sessions, self.key(&rest), encode(floors));
        self.write(&b, true)
    }

    /// Records durably that a wait is over (before the choreography goes on past it).
    pub fn waited(&self, wait: &Wait) -> Result<(), StoreError> {
        let mut rest = vec![b'W'];
        rest.extend_from_slice(&encode(wait));
        let mut b = Batch::new();
        b.put(Table::Sessions, self.key(&rest), encode(wait));
        self.write(&b, true)
    }

    /// Stores a received frame durably (before it is acknowledged).
    pub fn received(&self, civ: &Civ, payload: &[u8]) -> Result<(), StoreError> {
        let mut b = Batch::new();
        b.put(
            Table::Inbox,
            self.frame_key(civ.from, civ.lane, civ.seq),
            encode(&(civ, payload)),
        );
        let planted = crate::planted::planted() == Some(crate::planted::Bug::AckBeforeDurable);
        self.write(&b, !planted)
    }

    /// Stores frames about to be sent durably (before they leave), in one batch: a failed
    /// write leaves none of them stored.
    pub fn sending(&self, frames: &[(NodeId, Civ, Vec<u8>)]) -> Result<(), StoreError> {
        let mut b = Batch::new();
        for (_, civ, payload) in frames {
            b.put(
                Table::Outbox,
                self.frame_key(civ.to, civ.lane, civ.seq),
                encode(&(civ, payload.as_slice())),
            );
        }
        self.write(&b, true)
    }

    /// Marks a sent frame acknowledged (losing the mark only costs a resend).
    pub fn acked(&self, key: &FrameKey) -> Result<(), StoreError> {
        let mut k = self.frame_key(key.to, key.lane, key.seq);
        k.push(ACKED);
        let mut b = Batch::new();
        b.put(Table::Outbox, k, Vec::new());
        self.write(&b, false)
    }

    /// Logs effect number `n` durably (before its result is used).
    pub fn effect(&self, n: u64, effect: &Effect) -> Result<(), StoreError> {
        let mut b = Batch::new();
        b.put(Table::Effects, self.key(&n.to_be_bytes()), encode(effect));
        self.write(&b, true)
    }

    /// Stores a loop snapshot (synced with the next frame; losing it only means replaying
    /// from the one before).
    pub fn snapshot(&self, repeat: u64, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut b = Batch::new();
        b.put(
            Table::Snapshots,
            self.key(&repeat.to_be_bytes()),
            encode(snapshot),
        );
        self.write(&b, false)
    }

    /// The frames this participant sent that no peer has acknowledged yet.
    pub fn unacked(&self) -> Result<Vec<(Civ, Vec<u8>)>, StoreError> {
        Ok(self
            .recover()?
            .outbox
            .into_values()
            .filter(|(_, _, acked)| !acked)
            .map(|(civ, payload, _)| (civ, payload))
            .collect())
    }

    /// The frames an ended session still owes its peers, each with the node it goes to
    /// (from the placement [`Journal::finish`] recorded).
    pub fn owed(&self) -> Result<Vec<(NodeId, Civ, Vec<u8>)>, StoreError> {
        let Some(nodes) = self.store.get(Table::Sessions, &self.key(PLACEMENT))? else {
            return Ok(Vec::new());
        };
        let nodes: Vec<u32> = decode(&nodes, "placement")?;
        Ok(self
            .unacked()?
            .into_iter()
            .filter_map(|(civ, payload)| {
                let node = *nodes.get(usize::from(civ.to.0))?;
                Some((NodeId(node), civ, payload))
            })
            .collect())
    }

    /// Every (session, participant) whose journal in `store` records that it ended here
    /// (finished, failed, or returned to its parent), in key order.
    pub fn ended_in(store: &dyn Store) -> Result<Vec<(SessionId, ParticipantId)>, StoreError> {
        let mut ended = Vec::new();
        for (k, v) in store.scan(Table::Sessions, &[])? {
            if k.len() != 10 {
                continue;
            }
            let state: SessionState = decode(&v, "session")?;
            if !matches!(state, SessionState::Running { .. }) {
                let mut id = [0u8; 8];
                id.copy_from_slice(&k[..8]);
                ended.push((
                    SessionId(u64::from_be_bytes(id)),
                    ParticipantId(u16::from_be_bytes([k[8], k[9]])),
                ));
            }
        }
        Ok(ended)
    }

    /// Reads everything recorded for this participant in this session.
    pub fn recover(&self) -> Result<Recovered, StoreError> {
        let mut r = Recovered {
            state: self
                .store
                .get(Table::Sessions, &self.key(&[]))?
                .map(|v| decode(&v, "session"))
                .transpose()?,
            ..Recovered::default()
        };
        for (k, v) in self.store.scan(Table::Sessions, &self.key(b"F"))? {
            if k.len() == self.prefix.len() + 9 {
                let mut id = [0u8; 8];
                id.copy_from_slice(&k[11..19]);
                r.floors
                    .insert(u64::from_be_bytes(id), decode(&v, "floors")?);
            }
        }
        for (_, v) in self.store.scan(Table::Sessions, &self.key(b"W"))? {
            r.waits.push(decode(&v, "wait")?);
        }
        for (_, v) in self.store.scan(Table::Inbox, &self.prefix)? {
            let (civ, payload): (Civ, Vec<u8>) = decode(&v, "inbox")?;
            r.inbox.push((civ, payload));
        }
        let mut acked = Vec::new();
        for (k, v) in self.store.scan(Table::Outbox, &self.prefix)? {
            if k.len() == self.prefix.len() + 12 && k.last() == Some(&ACKED) {
                acked.push(k);
                continue;
            }
            let (civ, payload): (Civ, Vec<u8>) = decode(&v, "outbox")?;
            r.outbox
                .insert((civ.to, civ.lane, civ.seq), (civ, payload, false));
        }
        for k in acked {
            let to = ParticipantId(u16::from_be_bytes([k[10], k[11]]));
            let lane = if k[12] == 0 {
                Lane::Data
            } else {
                Lane::Control
            };
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&k[13..21]);
            if let Some(entry) = r.outbox.get_mut(&(to, lane, u64::from_be_bytes(seq))) {
                entry.2 = true;
            }
        }
        for (_, v) in self.store.scan(Table::Effects, &self.prefix)? {
            r.effects.push(decode(&v, "effect")?);
        }
        for (k, v) in self.store.scan(Table::Snapshots, &self.prefix)? {
            let mut id = [0u8; 8];
            id.copy_from_slice(&k[10..18]);
            r.snapshots
                .insert(u64::from_be_bytes(id), decode(&v, "snapshot")?);
        }
        Ok(r)
    }
}
