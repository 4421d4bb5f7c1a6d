//! Per-layer oracles: each layer's own promise, checked from the trace of every run.
//!
//! The end oracles (outcomes equal the reference, everybody finishes, the saga oracles) see
//! only what reaches the top; a layer that breaks its promise while a layer above happens to
//! absorb it passes them, and ships. These oracles check a layer directly, from the events it
//! reports as it acts, and each violation names the layer and the event that broke it:
//!
//! * `link-once`: within one incarnation of a node, the link hands each frame (session,
//!   sender, receiver, lane, sequence number) to its session at most once: a copy is a
//!   `duplicate`, never a second `deliver`;
//! * `link-consumed-once`: within one run of its projection, a participant consumes each
//!   data frame at most once. (Not in the sender's order: receives that run side by side, in
//!   a `join!`, consume their frames in whichever order they complete.)
//!
//! * `effect-logged`: a participant whose projection runs again (a restart, a replay) draws
//!   the random numbers and clock readings its earlier runs drew, at the same places of its
//!   effect log: once an effect's result is logged, every later run uses the logged one.
//!   Draws are not in the trace; the recorder feeds them to an [`EffectLog`] as they happen.
//!
//! A kill ends an incarnation: what the node had not made durable is gone with it, and the
//! next incarnation may be handed a frame again (the sender retransmits what was never
//! acknowledged as durable). A participant that starts its projection again (a restart, or
//! the replay after a crash outside every checkpoint) consumes its frames again.

use std::collections::{BTreeMap, BTreeSet};

use rehearsal::{Participant, SessionId, Site};

use crate::trace::{Trace, TraceEvent};

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

/// Every per-layer oracle's violations in `trace`, one line each (empty: all hold), the
/// first of each kind per channel.
pub fn violations<'t>(trace: &'t Trace) -> Vec<String> {
    let mut out = Vec::new();
    // Per node: its incarnation (kills so far).
    let mut incarnation: BTreeMap<u32, u32> = BTreeMap::new();
    // (node, incarnation, channel) -> delivered sequence numbers / last consumed one.
    let mut delivered: BTreeMap<(u32, u32, Channel<'t>), BTreeSet<u64>> = BTreeMap::new();
    // (node, session, participant) -> how often it started its projection there.
    let mut runs: BTreeMap<(u32, &'t str, &'t str), u32> = BTreeMap::new();
    let mut consumed: BTreeMap<(u32, u32, u32, Channel<'t>), BTreeSet<u64>> = BTreeMap::new();
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
        match e.kind {
            "kill" => *incarnation.entry(e.node).or_insert(0) += 1,
            "session-start" => {
                let who = (
                    e.node,
                    e.session.as_deref().unwrap_or_default(),
                    e.from.as_deref().unwrap_or_default(),
                );
                *runs.entry(who).or_insert(0) += 1;
            }
            "deliver" => {
                let (ch, Some(seq)) = (channel(e), e.seq) else {
                    continue;
                };
                let seen = delivered.entry((e.node, life, ch)).or_default();
                if !seen.insert(seq) {
                    report(
                        "link-once",
                        ch,
                        format!("the link handed frame #{seq} to its session a second time"),
                    );
                }
            }
            "receive" if e.lane == Some("data") => {
                let (ch, Some(seq)) = (channel(e), e.seq) else {
                    continue;
                };
                let run = *runs.get(&(e.node, ch.0, ch.2)).unwrap_or(&0);
                let seen = consumed.entry((e.node, life, run, ch)).or_default();
                if !seen.insert(seq) {
                    report(
                        "link-consumed-once",
                        ch,
                        format!("frame #{seq} consumed a second time"),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Where a draw happened: on which node, in which session, by whom, at which place of its
/// effect log, and in which store batch its log entry went (`None`: no store).
#[derive(Clone, Copy, Debug)]
pub struct DrawAt {
    /// The node.
    pub node: u32,
    /// The session.
    pub session: SessionId,
    /// The participant.
    pub participant: Participant,
    /// Its place in the participant's effect log.
    pub index: u64,
    /// The store batch its log entry was committed in (numbered by
    /// [`CrashableStore::committed`](rehearsal::store::CrashableStore::committed)).
    pub batch: Option<u64>,
}

/// One draw: its site, its block, its value, the incarnation of the node that drew it and
/// the store batch its log entry went into.
#[derive(Debug)]
struct Drawn {
    site: Site,
    block: u64,
    value: Vec<u8>,
    by: (u32, u32),
    batch: Option<u64>,
}

/// The `effect-logged` oracle, fed the draws of a run (and the kills of its nodes) as they
/// happen.
///
/// A draw is keyed by its place in the participant's effect log, so a loop resumed from a
/// snapshot (which skips the draws of the iterations before it) is compared draw by draw.
/// A draw at a place an earlier run drew at must repeat that draw, unless the earlier one's
/// log entry is gone: it went into a store batch that the kill of its incarnation lost
/// (unsynced), or its node had no store. Drawing again is then right.
#[derive(Debug, Default)]
pub struct EffectLog {
    /// Per (session, participant): its draws by place in its effect log.
    draws: BTreeMap<(SessionId, Participant), BTreeMap<u64, Drawn>>,
    /// Per node: its current incarnation (kills so far).
    incarnation: BTreeMap<u32, u32>,
    /// Incarnations whose kill lost unsynced batches: the last batch that survived.
    kept: BTreeMap<(u32, u32), u64>,
    violations: Vec<String>,
}

impl EffectLog {
    /// Node `node` was killed; `kept`: when the kill lost unsynced store batches, the number
    /// of the last one that survived (`Some(0)` for a node without a store).
    pub fn killed(&mut self, node: u32, kept: Option<u64>) {
        let life = self.incarnation.entry(node).or_insert(0);
        if let Some(kept) = kept {
            self.kept.insert((node, *life), kept);
        }
        *life += 1;
    }

    /// A draw of `value` at `site` in block `epoch`, where `at` says.
    pub fn draw(&mut self, at: DrawAt, site: &Site, epoch: u64, value: &[u8]) {
        let by = (at.node, *self.incarnation.get(&at.node).unwrap_or(&0));
        let drawn = self.draws.entry((at.session, at.participant)).or_default();
        let now = Drawn {
            site: site.clone(),
            block: epoch,
            value: value.to_vec(),
            by,
            batch: at.batch,
        };
        let Some(before) = drawn.get(&at.index) else {
            drawn.insert(at.index, now);
            return;
        };
        let lost = self
            .kept
            .get(&before.by)
            .is_some_and(|kept| before.batch.is_none_or(|b| b > *kept));
        if lost {
            drawn.insert(at.index, now);
            return;
        }
        let problem = if before.site != *site || before.block != epoch {
            format!(
                "was at {} in an earlier run and at {site} when it ran again",
                before.site
            )
        } else if before.value != value {
            format!(
                "at {site} was {:02x?} in an earlier run and {value:02x?} when it ran again: a \
                 logged result was not used",
                before.value
            )
        } else {
            return;
        };
        if self.violations.len() < 10 {
            let (session, participant, index) = (at.session, at.participant, at.index);
            self.violations.push(format!(
                "effect-logged: in {session}, {participant}'s effect #{index} {problem}"
            ));
        }
    }

    /// What it found, taken out.
    pub fn take_violations(&mut self) -> Vec<String> {
        std::mem::take(&mut self.violations)
    }
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

    #[test]
    fn a_draw_that_differs_when_the_projection_runs_again_breaks_effect_logged() {
        let site = Site::caller(Some("dice"));
        let at = |index: u64, batch: u64| DrawAt {
            node: 1,
            session: SessionId(1),
            participant: Participant::role("Alice"),
            index,
            batch: Some(batch),
        };
        let mut log = EffectLog::default();
        log.draw(at(0, 1), &site, 0, &[4]);
        log.draw(at(0, 1), &site, 0, &[4]);
        log.draw(at(1, 2), &site, 0, &[6]);
        assert!(
            log.take_violations().is_empty(),
            "the same value, then a new draw"
        );
        // A loop resumed past its first iteration draws effect #1 first.
        log.draw(at(1, 3), &site, 0, &[6]);
        assert!(log.take_violations().is_empty());
        log.draw(at(1, 3), &site, 0, &[5]);
        let v = log.take_violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with("effect-logged: in s1, Alice's effect #1 at"),
            "{v:?}"
        );
        // A kill that kept every batch: the draws of the dead incarnation still bind.
        log.killed(1, None);
        log.draw(at(0, 1), &site, 0, &[3]);
        assert_eq!(log.take_violations().len(), 1);
        // A kill that lost the batches after 4: a draw logged in batch 5 may be drawn
        // again, one logged in batch 4 may not.
        log.draw(at(2, 4), &site, 0, &[8]);
        log.draw(at(3, 5), &site, 0, &[8]);
        log.killed(1, Some(4));
        log.draw(at(3, 5), &site, 0, &[9]);
        assert!(log.take_violations().is_empty());
        log.draw(at(2, 5), &site, 0, &[9]);
        assert_eq!(log.take_violations().len(), 1);
    }
}
