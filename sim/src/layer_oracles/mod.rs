//! Per-layer oracles: each layer's own promise, checked on every run.
//!
//! The end oracles (outcomes equal the reference, everybody finishes, the saga oracles) see
//! only what reaches the top; a layer that breaks its promise while a layer above happens to
//! absorb it passes them, and ships. These oracles check a layer directly, from the events it
//! reports as it acts (the trace, [`violations`]) or from what the recorder sees as the run
//! goes (draws, the wire, the stores' disk model), and each violation names the layer and the
//! event that broke it:
//!
//! * `link-once` (link): within one incarnation of a node, the link hands each frame
//!   (session, sender, receiver, lane, sequence number) to its session at most once: a copy
//!   is a `duplicate`, never a second `deliver`;
//! * `link-consumed-once` (link): within one run of its projection, a participant consumes
//!   each data frame at most once. (Not in the sender's order: receives that run side by
//!   side, in a `join!`, consume their frames in whichever order they complete.)
//! * `epoch-fenced` (checkpoint): once a participant's rescue abandoned a block instance, no
//!   data frame of that instance (its epoch) is accepted into its inbox (`deliver`) or
//!   consumed by it (`receive`) in that run of its projection: each is dropped as stale.
//!   (Blocks nested in the abandoned one are abandoned with it; the trace does not say which
//!   they are, so only the rescued instance itself is checked.)
//! * `session-ids-unique` (node): within one incarnation of a node, a participant's
//!   projection that ended under a session id starts under that id again only as a replay:
//!   after a session the participant started there before it (its parent, say) started
//!   again. Session ids are derived, never drawn; one that comes back otherwise names another
//!   session, or a session run twice.
//! * `effect-logged` (replay, [`EffectLog`]): a participant whose projection runs again (a
//!   restart, a replay) draws the random numbers and clock readings its earlier runs drew, at
//!   the same places of its effect log: once an effect's result is logged, every later run
//!   uses the logged one. Draws are not in the trace; the recorder feeds them as they happen.
//! * `ack-durable` (journal and link, [`WireLog`]): nothing is acknowledged before it is
//!   durable. When a node with a store puts the acknowledgement of a frame on the wire and
//!   its store holds the frame's inbox record, the record is in the store's durable state:
//!   the store has no unsynced batch, or the record was durable when the frame was
//!   acknowledged before. Read from the disk model, not from the runtime's bookkeeping.
//! * `replay-resends-logged` (replay and link, [`WireLog`]): every copy of a frame a node
//!   puts on the wire (a retransmission, or a restarted participant's resend of its
//!   journaled frames) is a frame that node sent before, in this incarnation or an earlier
//!   one, with the same token (channel, sequence number, site, epoch, occurrence) and the
//!   same payload; and none is one its journal holds as acknowledged.
//!
//! A kill ends an incarnation: what the node had not made durable is gone with it, and the
//! next incarnation may be handed a frame again (the sender retransmits what was never
//! acknowledged as durable). A participant that starts its projection again (a restart, or
//! the replay after a crash outside every checkpoint) consumes its frames again.

mod effects;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};

use crate::trace::{Trace, TraceEvent};

pub use effects::{DrawAt, EffectLog};
pub use wire::WireLog;

/// The per-layer oracles' names; each of their violations starts with its oracle's name and
/// `": "`.
pub const NAMES: [&str; 7] = [
    "link-once",
    "link-consumed-once",
    "epoch-fenced",
    "session-ids-unique",
    "effect-logged",
    "ack-durable",
    "replay-resends-logged",
];

/// Whether `violation` is a per-layer oracle's (one of [`NAMES`]), not an end oracle's.
pub fn is_layer_violation(violation: &str) -> bool {
    NAMES.iter().any(|o| {
        violation
            .strip_prefix(o)
            .is_some_and(|rest| rest.starts_with(": "))
    })
}

/// A frame: session, sender, receiver, lane.
type Channel<'a> = (&'a str, &'a str, &'a str, &'a str);

fn channel(e: &TraceEvent) -> Channel<'_> {
    (
        e.session.as_deref().unwrap_or_default(),
        e.from.as_deref().unwrap_or_default(),
        e.to.as_deref().unwrap_or_default(),
        e.lane.unwrap_or_default(),
    )
}

/// A participant's projection of a session at a node: (node, session, participant).
type Who<'a> = (u32, &'a str, &'a str);

/// What `session-ids-unique` knows of one incarnation of a node.
#[derive(Default)]
struct Starts<'t> {
    /// Session-starts at the node so far.
    count: u64,
    /// Per (session, participant): the number of its first start.
    first: BTreeMap<(&'t str, &'t str), u64>,
    /// Per (session, participant) that ended: the number of starts when it did.
    ended: BTreeMap<(&'t str, &'t str), u64>,
    /// Per participant, its restarts: (number of the start, number of the session's first).
    restarts: BTreeMap<&'t str, Vec<(u64, u64)>>,
}

impl<'t> Starts<'t> {
    /// A session-start; `Some` when it starts a session that ended here, and is no replay.
    fn start(&mut self, session: &'t str, who: &'t str) -> Option<()> {
        let n = self.count;
        self.count += 1;
        let Some(&first) = self.first.get(&(session, who)) else {
            self.first.insert((session, who), n);
            return None;
        };
        let restarts = self.restarts.entry(who).or_default();
        restarts.push((n, first));
        let ended = self.ended.remove(&(session, who))?;
        // A replay: a session started before this one started again since it ended.
        let replay = restarts
            .iter()
            .rev()
            .take_while(|(at, _)| *at >= ended)
            .any(|(_, f)| *f < first);
        (!replay).then_some(())
    }

    fn end(&mut self, session: &'t str, who: &'t str) {
        self.ended.insert((session, who), self.count);
    }
}

/// Every trace-checked per-layer oracle's violations in `trace`, one line each (empty: all
/// hold), the first of each kind per channel.
pub fn violations<'t>(trace: &'t Trace) -> Vec<String> {
    let mut out = Vec::new();
    // Per node: its incarnation (kills so far).
    let mut incarnation: BTreeMap<u32, u32> = BTreeMap::new();
    // (node, incarnation, channel) -> delivered sequence numbers / last consumed one.
    let mut delivered: BTreeMap<(u32, u32, Channel<'t>), BTreeSet<u64>> = BTreeMap::new();
    // (node, session, participant) -> how often it started its projection there.
    let mut runs: BTreeMap<Who<'t>, u32> = BTreeMap::new();
    let mut consumed: BTreeMap<(u32, u32, u32, Channel<'t>), BTreeSet<u64>> = BTreeMap::new();
    // (node, incarnation, run, session, participant, block): block instances abandoned.
    let mut abandoned: BTreeSet<(u32, u32, u32, &'t str, &'t str, u64)> = BTreeSet::new();
    let mut starts: BTreeMap<(u32, u32), Starts<'t>> = BTreeMap::new();
    let mut reported: BTreeSet<(&'static str, Channel<'t>)> = BTreeSet::new();
    for e in &trace.events {
        let life = *incarnation.get(&e.node).unwrap_or(&0);
        let mut report = |oracle: &'static str, ch: Channel<'t>, what: String| {
            if reported.insert((oracle, ch)) {
                out.push(format!(
                    "{oracle}: at n{} (incarnation {}), {what}: `{}`",
                    e.node,
                    life + 1,
                    e.canonical()
                ));
            }
        };
        let session = e.session.as_deref().unwrap_or_default();
        match e.kind {
            "kill" => *incarnation.entry(e.node).or_insert(0) += 1,
            "session-start" => {
                let who = e.from.as_deref().unwrap_or_default();
                *runs.entry((e.node, session, who)).or_insert(0) += 1;
                let again = starts
                    .entry((e.node, life))
                    .or_default()
                    .start(session, who);
                if again.is_some() {
                    report(
                        "session-ids-unique",
                        (session, who, "", ""),
                        format!(
                            "{who} started {session} again after it ended here, and no \
                             session it started before {session} started again"
                        ),
                    );
                }
            }
            "session-end" => {
                let who = e.from.as_deref().unwrap_or_default();
                starts.entry((e.node, life)).or_default().end(session, who);
            }
            "rescue" => {
                let who = e.from.as_deref().unwrap_or_default();
                let run = *runs.get(&(e.node, session, who)).unwrap_or(&0);
                if let Some(block) = e.epoch {
                    abandoned.insert((e.node, life, run, session, who, block));
                }
            }
            "deliver" | "receive" => {
                let (ch, Some(seq)) = (channel(e), e.seq) else {
                    continue;
                };
                let data = e.lane == Some("data");
                let run = *runs.get(&(e.node, ch.0, ch.2)).unwrap_or(&0);
                if let Some(epoch) = e.epoch
                    && data
                    && abandoned.contains(&(e.node, life, run, ch.0, ch.2, epoch))
                {
                    let how = if e.kind == "deliver" {
                        "admitted into its inbox"
                    } else {
                        "consumed"
                    };
                    report(
                        "epoch-fenced",
                        ch,
                        format!(
                            "frame #{seq} of block {epoch:016x}, which {} abandoned (rescued) \
                             in this run, was {how}",
                            ch.2
                        ),
                    );
                }
                if e.kind == "deliver" {
                    let seen = delivered.entry((e.node, life, ch)).or_default();
                    if !seen.insert(seq) {
                        report(
                            "link-once",
                            ch,
                            format!("the link handed frame #{seq} to its session a second time"),
                        );
                    }
                } else if data {
                    let seen = consumed.entry((e.node, life, run, ch)).or_default();
                    if !seen.insert(seq) {
                        report(
                            "link-consumed-once",
                            ch,
                            format!("frame #{seq} consumed a second time"),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal::net::transport::NodeId;

    fn frame(node: u32, kind: &'static str, seq: u64) -> TraceEvent {
        let mut e = TraceEvent::new(0, NodeId(node), kind);
        e.session = Some("s1".into());
        e.from = Some("Alice".into());
        e.to = Some("Bob".into());
        e.lane = Some("data");
        e.seq = Some(seq);
        e
    }

    #[test]
    fn a_second_delivery_in_one_incarnation_breaks_link_once() {
        let once = [frame(1, "deliver", 0), frame(1, "duplicate", 0)];
        assert!(
            violations(&Trace {
                events: once.to_vec()
            })
            .is_empty()
        );
        let twice = [frame(1, "deliver", 0), frame(1, "deliver", 0)];
        let v = violations(&Trace {
            events: twice.to_vec(),
        });
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("link-once: at n1 (incarnation 1), the link handed frame #0"));
        // After a kill the node may be handed it again: what it had not synced is gone.
        let again = [
            frame(1, "deliver", 0),
            TraceEvent::new(0, NodeId(1), "kill"),
            frame(1, "deliver", 0),
        ];
        assert!(
            violations(&Trace {
                events: again.to_vec()
            })
            .is_empty()
        );
    }

    #[test]
    fn consuming_a_frame_twice_in_one_run_breaks_link_consumed_once() {
        // Side-by-side receives may consume a channel's frames in either order.
        let swapped = vec![frame(1, "receive", 1), frame(1, "receive", 0)];
        assert!(violations(&Trace { events: swapped }).is_empty());
        let twice = vec![frame(1, "receive", 0), frame(1, "receive", 0)];
        let v = violations(&Trace { events: twice });
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with(
                "link-consumed-once: at n1 (incarnation 1), frame #0 consumed a second time"
            ),
            "{v:?}"
        );
        // Bob's projection starting again (its replay) consumes its frames again.
        let mut start = TraceEvent::new(0, NodeId(1), "session-start");
        start.session = Some("s1".into());
        start.from = Some("Bob".into());
        let replayed = vec![frame(1, "receive", 0), start, frame(1, "receive", 0)];
        assert!(violations(&Trace { events: replayed }).is_empty());
    }

    fn at(node: u32, kind: &'static str, session: &str, who: &str) -> TraceEvent {
        let mut e = TraceEvent::new(0, NodeId(node), kind);
        e.session = Some(session.into());
        e.from = Some(who.into());
        e
    }

    #[test]
    fn a_frame_of_an_abandoned_block_taken_in_breaks_epoch_fenced() {
        let of = |kind, seq, epoch| {
            let mut e = frame(1, kind, seq);
            e.epoch = Some(epoch);
            e
        };
        let mut rescue = at(1, "rescue", "s1", "Bob");
        rescue.epoch = Some(7);
        // Before the rescue, and of another block after it: fine.
        let fine = vec![of("deliver", 0, 7), of("receive", 0, 7), rescue.clone()];
        let mut fine2 = fine.clone();
        fine2.extend([of("deliver", 1, 8), of("receive", 1, 8)]);
        assert!(violations(&Trace { events: fine2 }).is_empty());
        let mut late = fine.clone();
        late.push(of("deliver", 1, 7));
        let v = violations(&Trace { events: late });
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with(
                "epoch-fenced: at n1 (incarnation 1), frame #1 of block 0000000000000007, which \
                 Bob abandoned (rescued) in this run, was admitted into its inbox"
            ),
            "{v:?}"
        );
        // A new run of Bob's projection (its replay) may take the block's frames again.
        let mut replayed = fine;
        replayed.extend([at(1, "session-start", "s1", "Bob"), of("deliver", 1, 7)]);
        assert!(violations(&Trace { events: replayed }).is_empty());
    }

    #[test]
    fn a_session_started_again_after_it_ended_breaks_session_ids_unique() {
        let start = |s| at(1, "session-start", s, "Bob");
        let end = |s| at(1, "session-end", s, "Bob");
        // The parent s1 started again (its replay) and re-opens s2, which had ended.
        let replay = vec![
            start("s1"),
            start("s2"),
            end("s2"),
            start("s1"),
            start("s2"),
        ];
        assert!(violations(&Trace { events: replay }).is_empty());
        // A kill: the next incarnation starts everything again.
        let kill = TraceEvent::new(0, NodeId(1), "kill");
        let killed = vec![
            start("s1"),
            start("s2"),
            end("s2"),
            kill,
            start("s1"),
            start("s2"),
        ];
        assert!(violations(&Trace { events: killed }).is_empty());
        // s2 restarting while it runs (its own replay) is no reuse either.
        let own = vec![start("s1"), start("s2"), start("s2"), end("s2")];
        assert!(violations(&Trace { events: own }).is_empty());
        // A session started after s2 (a sibling) starting again does not excuse it.
        let reused = vec![
            start("s1"),
            start("s2"),
            end("s2"),
            start("s3"),
            start("s2"),
        ];
        let v = violations(&Trace { events: reused });
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with(
                "session-ids-unique: at n1 (incarnation 1), Bob started s2 again after it ended \
                 here, and no session it started before s2 started again"
            ),
            "{v:?}"
        );
    }
}
