//! The mutable state of one participant's session, behind the session's lock: the inbox and
//! its index by site, per-channel sequence numbers and duplicate filters, what the journal held
//! for a replay, and the notes about checkpoint blocks. The files of `engine/` that act on a
//! session (`session`, `inbox`, `blocks`, `replay`) share these types; only they see them.

use std::collections::{BTreeMap, BTreeSet};
use std::task::Waker;

use crate::engine::journal::{Effect, Floors, Snapshot, Spot, Wait};
use crate::error::{ChoreoError, Rescued};
use crate::ident::{ParticipantId, Site};
use crate::net::civ::{Civ, Lane};
use crate::net::link::Dedup;

/// Frames counted per [`Spot`], grouped by epoch so that a block's counters go at once when
/// it ends (a nest of blocks keeps one group per level open).
#[derive(Default)]
pub(super) struct SiteCounts(BTreeMap<u64, BTreeMap<(ParticipantId, Site), u64>>);

impl SiteCounts {
    /// The count at `spot` before this call; counts one more.
    pub(super) fn bump(&mut self, (peer, site, epoch): (ParticipantId, &Site, u64)) -> u64 {
        let group = self.0.entry(epoch).or_default();
        let n = match group.get_mut(&(peer, site.clone())) {
            Some(n) => n,
            None => group.entry((peer, site.clone())).or_insert(0),
        };
        *n += 1;
        *n - 1
    }

    pub(super) fn get(&self, (peer, site, epoch): (ParticipantId, &Site, u64)) -> Option<u64> {
        self.0.get(&epoch)?.get(&(peer, site.clone())).copied()
    }

    pub(super) fn remove_epoch(&mut self, epoch: u64) {
        self.0.remove(&epoch);
    }

    pub(super) fn to_vec(&self) -> Vec<(Spot, u64)> {
        self.0
            .iter()
            .flat_map(|(&epoch, group)| {
                group
                    .iter()
                    .map(move |((peer, site), n)| ((*peer, site.clone(), epoch), *n))
            })
            .collect()
    }

    pub(super) fn from_slice(counts: &[(Spot, u64)]) -> SiteCounts {
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

pub(super) struct Failure {
    pub(super) error: ChoreoError,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) inbox: BTreeMap<(ParticipantId, u64), (Civ, Vec<u8>)>,
    /// (sender, site, epoch, occurrence) -> sequence number of the frame in `inbox`.
    pub(super) by_site: BTreeMap<(ParticipantId, Site, u64, u64), u64>,
    pub(super) site_sent: SiteCounts,
    pub(super) site_taken: SiteCounts,
    /// Receives that timed out, as (sender, site, epoch, occurrence): the frame each waited
    /// for is discarded when it arrives (see `inbox`).
    pub(super) expired: BTreeSet<(ParticipantId, Site, u64, u64)>,
    /// Waits that are over (journaled; see `journal::Wait`): a replay does not wait again.
    pub(super) waited: BTreeSet<Wait>,
    pub(super) dedup: BTreeMap<(ParticipantId, Lane), Dedup>,
    pub(super) consumed: BTreeMap<ParticipantId, Dedup>,
    pub(super) next_send: BTreeMap<(ParticipantId, Lane), u64>,
    pub(super) receiving: usize,
    pub(super) failure: Option<Failure>,
    pub(super) children: BTreeMap<u64, u64>,
    /// Replay: frames the previous incarnation sent, by (to, lane, seq): payload, acked.
    pub(super) logged_out: BTreeMap<(ParticipantId, Lane, u64), (Vec<u8>, bool)>,
    /// Replay: logged effects, in call order, and how many this incarnation used.
    pub(super) effects: Vec<Effect>,
    pub(super) effect_next: u64,
    /// Replay: loop snapshots by loop key, and invocations per loop site.
    pub(super) snapshots: BTreeMap<u64, Snapshot>,
    pub(super) repeats: BTreeMap<u64, u64>,
    /// Checkpoint blocks, by block instance id.
    pub(super) blocks: BTreeMap<u64, BlockNotes>,
    /// Block instances entered per (parent epoch, site key).
    pub(super) block_counts: BTreeMap<(u64, u64), u64>,
    /// Replay: epochs the previous incarnation sent or received frames in, and blocks it
    /// sent its exit notice or a rescue notice for.
    pub(super) replay_epochs: BTreeSet<u64>,
    pub(super) replay_left: BTreeSet<u64>,
    /// Replay: the chain the previous incarnation's exit notice for a block carried.
    pub(super) replay_chains: BTreeMap<u64, u32>,
    /// Sequence floors of rescues, by block instance (recorded or recovered).
    pub(super) floors: BTreeMap<u64, Floors>,
    /// A crash of the replay is propagating (see `mark_replay_crash`).
    pub(super) replay_crash: bool,
    /// Local steps run by this incarnation, and the step the last crash happened in.
    pub(super) steps: u64,
    pub(super) crashed_at: Option<u64>,
}

/// What members of one checkpoint block instance told this participant.
#[derive(Default)]
pub(super) struct BlockNotes {
    /// Members that finished the body (exit notices).
    pub(super) done: BTreeMap<ParticipantId, u32>,
    /// Why the block is being rescued, once anyone said so.
    pub(super) rescue: Option<Rescued>,
    /// This participant abandoned the body: its frames are stale.
    pub(super) abandoned: bool,
    /// The enclosing block instance (0: none), once this participant entered the block.
    pub(super) parent: u64,
    /// Block instances this participant entered inside this one and has not left.
    pub(super) children: BTreeSet<u64>,
    /// The block's waiting future, woken by a rescue notice for it or the session's failure.
    pub(super) waker: Option<Waker>,
}

/// Whether `epoch`'s block, or a block enclosing it, was abandoned here (abandoning a block
/// marks every block entered inside it, so this is one lookup however deep the nest).
pub(super) fn abandoned(blocks: &BTreeMap<u64, BlockNotes>, epoch: u64) -> bool {
    blocks.get(&epoch).is_some_and(|b| b.abandoned)
}
