//! The oracles of what a node puts on the wire, fed by the recorder as the run goes:
//! `ack-durable` (journal and link) and `replay-resends-logged` (replay and link).
//!
//! Acknowledgements and resends from a journal are not in the trace; the simulated
//! transport hands the recorder every datagram a node sends ([`WireLog::outgoing`]), and the
//! oracles read the node's store where they need to know what is durable or logged: its disk
//! model ([`CrashableStore`]), never the runtime's own bookkeeping. A node whose store is not
//! the model (or that has none) is checked for resends only.

use std::collections::{BTreeMap, BTreeSet};

use rehearsal::engine::{ack_mark_key, inbox_record_key};
use rehearsal::net::link::{FrameKey, Packet};
use rehearsal::store::{CrashableStore, Store, Table};

use crate::trace::{TraceEvent, fnv1a};

/// The two oracles' state: per node, its incarnation, the frames it sent (a fingerprint of
/// each as it first went out) and the inbox records known durable.
#[derive(Debug, Default)]
pub struct WireLog {
    /// Per node: its current incarnation (kills so far).
    incarnation: BTreeMap<u32, u32>,
    /// Per (node, frame): the fingerprint of the datagram that first carried it (the latest
    /// `send` of it: a node without a store that restarts sends its frames anew).
    sent: BTreeMap<(u32, FrameKey), u64>,
    /// The frame whose `send` the node just reported: its next datagram is its first.
    fresh: Option<(u32, FrameKey)>,
    /// (node, frame) whose inbox record was durable when the node acknowledged it (durable
    /// records survive kills).
    durable: BTreeSet<(u32, FrameKey)>,
    /// (oracle, node, session, sender, receiver): reported already.
    reported: BTreeSet<(&'static str, u32, FrameKey)>,
    violations: Vec<String>,
}

/// What a datagram was, for the violation's canonical event.
pub enum Sent {
    /// An acknowledgement of a frame.
    Ack,
    /// A copy of a frame sent before.
    Copy,
}

impl WireLog {
    /// Node `node` was killed.
    pub fn killed(&mut self, node: u32) {
        *self.incarnation.entry(node).or_insert(0) += 1;
        self.fresh = None;
    }

    /// Node `node` reported the first `send` of frame `key` (it goes on the wire next).
    pub fn send(&mut self, node: u32, key: FrameKey) {
        self.fresh = Some((node, key));
    }

    /// Node `node` puts `bytes` on the wire; `store`: its disk model, if it has one;
    /// `event`: renders the datagram as a trace event, for a violation.
    pub fn outgoing(
        &mut self,
        node: u32,
        bytes: &[u8],
        store: Option<&CrashableStore>,
        event: impl FnOnce(Sent, &FrameKey) -> TraceEvent,
    ) {
        let Ok(packet) = Packet::decode(rehearsal::net::transport::NodeId(node), bytes) else {
            return;
        };
        match packet {
            Packet::Ack { key } => {
                let Some(store) = store else { return };
                let record = inbox_record_key(&key);
                if !matches!(store.get(Table::Inbox, &record), Ok(Some(_)))
                    || self.durable.contains(&(node, key))
                {
                    return;
                }
                if store.durable_get(Table::Inbox, &record).is_some() {
                    self.durable.insert((node, key));
                    return;
                }
                let unsynced = store.lost_on_crash();
                let what = format!(
                    "acknowledged frame #{} while its inbox record was not durable ({unsynced} \
                     store batch(es) unsynced)",
                    key.seq
                );
                self.report("ack-durable", node, key, what, event(Sent::Ack, &key));
            }
            Packet::Frame { civ, .. } => {
                let key = FrameKey::of(&civ);
                let print = fnv1a(bytes);
                if self.fresh == Some((node, key)) {
                    self.fresh = None;
                    self.sent.insert((node, key), print);
                    return;
                }
                let what = match self.sent.get(&(node, key)) {
                    None => format!("put frame #{} on the wire, but never sent it", key.seq),
                    Some(p) if *p != print => format!(
                        "sent frame #{} again with another token or payload than it sent",
                        key.seq
                    ),
                    Some(_) => {
                        let acked = store.is_some_and(|s| {
                            matches!(s.get(Table::Outbox, &ack_mark_key(&key)), Ok(Some(_)))
                        });
                        if !acked {
                            return;
                        }
                        format!(
                            "sent frame #{} again, which its journal holds as acknowledged",
                            key.seq
                        )
                    }
                };
                let e = event(Sent::Copy, &key);
                self.report("replay-resends-logged", node, key, what, e);
            }
        }
    }

    fn report(
        &mut self,
        oracle: &'static str,
        node: u32,
        key: FrameKey,
        what: String,
        e: TraceEvent,
    ) {
        let channel = FrameKey { seq: 0, ..key };
        if self.violations.len() >= 10 || !self.reported.insert((oracle, node, channel)) {
            return;
        }
        let life = self.incarnation.get(&node).copied().unwrap_or(0);
        self.violations.push(format!(
            "{oracle}: at n{node} (incarnation {}), {what}: `{}`",
            life + 1,
            e.canonical()
        ));
    }

    /// What it found, taken out.
    pub fn take_violations(&mut self) -> Vec<String> {
        std::mem::take(&mut self.violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal::net::civ::{Civ, Lane};
    use rehearsal::net::transport::NodeId;
    use rehearsal::store::Batch;
    use rehearsal::{ParticipantId, SessionId, Site};

    fn civ_to(to: u16, seq: u64) -> Civ {
        Civ {
            session: SessionId(1),
            site: Site::caller(Some("x")),
            from: ParticipantId(0),
            to: ParticipantId(to),
            lane: Lane::Data,
            seq,
            occurrence: seq,
            epoch: 0,
            ordered: true,
        }
    }

    fn civ(seq: u64) -> Civ {
        civ_to(1, seq)
    }

    fn frame(to: u16, seq: u64, payload: u8) -> Vec<u8> {
        Packet::Frame {
            civ: civ_to(to, seq),
            payload: vec![payload],
            ack: true,
        }
        .encode()
    }

    fn ack(seq: u64) -> Vec<u8> {
        Packet::Ack {
            key: FrameKey::of(&civ(seq)),
        }
        .encode()
    }

    fn ev(_: Sent, key: &FrameKey) -> TraceEvent {
        let mut e = TraceEvent::new(0, NodeId(1), "ack");
        e.seq = Some(key.seq);
        e
    }

    #[test]
    fn an_acknowledgement_before_the_record_is_synced_breaks_ack_durable() {
        let disk = CrashableStore::new();
        let mut log = WireLog::default();
        let mut b = Batch::new();
        b.put(
            Table::Inbox,
            inbox_record_key(&FrameKey::of(&civ(0))),
            vec![1],
        );
        disk.commit(&b).unwrap();
        disk.sync().unwrap();
        log.outgoing(1, &ack(0), Some(&disk), ev);
        // Acknowledged again (a copy came) while other batches are unsynced: durable before.
        disk.commit(
            &Batch::new()
                .put(Table::App, b"k".to_vec(), b"v".to_vec())
                .clone(),
        )
        .unwrap();
        log.outgoing(1, &ack(0), Some(&disk), ev);
        // A frame it stored nothing for (a stale one): nothing to check.
        log.outgoing(1, &ack(5), Some(&disk), ev);
        assert!(log.take_violations().is_empty());
        let mut b = Batch::new();
        b.put(
            Table::Inbox,
            inbox_record_key(&FrameKey::of(&civ(1))),
            vec![1],
        );
        disk.commit(&b).unwrap();
        log.outgoing(1, &ack(1), Some(&disk), ev);
        let v = log.take_violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with(
                "ack-durable: at n1 (incarnation 1), acknowledged frame #1 while its inbox \
                 record was not durable (2 store batch(es) unsynced)"
            ),
            "{v:?}"
        );
    }

    #[test]
    fn a_copy_that_differs_or_was_acknowledged_breaks_replay_resends_logged() {
        let disk = CrashableStore::new();
        let mut log = WireLog::default();
        let key = |to, seq| FrameKey::of(&civ_to(to, seq));
        log.send(0, key(1, 0));
        log.outgoing(0, &frame(1, 0, 7), Some(&disk), ev);
        // Retransmitted, and sent again by the next incarnation from its journal.
        log.outgoing(0, &frame(1, 0, 7), Some(&disk), ev);
        log.killed(0);
        log.outgoing(0, &frame(1, 0, 7), Some(&disk), ev);
        assert!(log.take_violations().is_empty());
        log.outgoing(0, &frame(1, 0, 8), Some(&disk), ev);
        log.outgoing(0, &frame(2, 3, 8), Some(&disk), ev);
        let v = log.take_violations();
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v[0].contains("(incarnation 2), sent frame #0 again with another token or payload"),
            "{v:?}"
        );
        assert!(
            v[1].contains("put frame #3 on the wire, but never sent it"),
            "{v:?}"
        );
        // Once its journal marks it acknowledged, it never goes out again.
        log.send(0, key(3, 1));
        log.outgoing(0, &frame(3, 1, 1), Some(&disk), ev);
        let mut b = Batch::new();
        b.put(Table::Outbox, ack_mark_key(&key(3, 1)), Vec::new());
        disk.commit(&b).unwrap();
        log.outgoing(0, &frame(3, 1, 1), Some(&disk), ev);
        let v = log.take_violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].contains("which its journal holds as acknowledged"),
            "{v:?}"
        );
    }
}
