//! A trace read as a sequence diagram: lifelines, frames, blocks, marks and spans.
//!
//! [`Model::of`] walks a [`Trace`] once and groups its events into what a sequence diagram
//! draws. Every element keeps the indices of the trace events it stands for, so a renderer
//! can show the full events on demand. The HTML page ([`super::html`]) and the Mermaid text
//! ([`crate::mermaid`]) both draw this model; neither reads the trace's events directly.
//! Everything is ordered by first appearance in the trace (no hash-map order), so the same
//! trace gives the same model.

use std::collections::{BTreeMap, BTreeSet};

use crate::trace::{Trace, TraceEvent};

pub use super::elements::{Block, Frame, Lifeline, Mark, MarkKind, Span, SpanKind, short_site};

/// How a frame's key reads: session, sender, receiver, lane and sequence number.
type FrameKey = (Option<String>, String, String, &'static str, u64);

/// A trace as a sequence diagram.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Lifelines, grouped by node (nodes in increasing order), each node's participants in
    /// order of first appearance.
    pub lifelines: Vec<Lifeline>,
    /// Sessions (`s1`, ...) in order of first appearance.
    pub sessions: Vec<String>,
    /// Frames in order of their first event.
    pub frames: Vec<Frame>,
    /// Checkpoint block instances in order of their first event.
    pub blocks: Vec<Block>,
    /// Marks in trace order.
    pub marks: Vec<Mark>,
    /// Shaded spans in order of their start.
    pub spans: Vec<Span>,
}

/// The participant a frame event happens at: the sender for what the sender's side
/// records, the receiver for the rest.
fn frame_actor(e: &TraceEvent) -> Option<&str> {
    match e.kind {
        "send" | "retransmit" | "net-drop" | "net-duplicate" => e.from.as_deref(),
        "deliver" | "receive" | "duplicate" | "hold" | "drop-finished" | "drop-stale"
        | "drop-late" => e.to.as_deref(),
        _ => None,
    }
}

fn is_frame(e: &TraceEvent) -> bool {
    frame_actor(e).is_some() && e.lane.is_some() && e.seq.is_some()
}

/// The participant whose lifeline an event belongs to.
fn actor(e: &TraceEvent) -> Option<&str> {
    let who = if is_frame(e) {
        frame_actor(e)
    } else {
        match e.kind {
            // A fault names its target in its description: `crash Seller (...)`.
            "fault" => fault_target(e).or(e.from.as_deref()),
            _ => e.from.as_deref(),
        }
    };
    // A fault fired by time has no participant (its role is empty).
    who.filter(|w| !w.is_empty())
}

/// The participant a crash, panic or pause fault names (`panic Alice (...)`).
fn fault_target(e: &TraceEvent) -> Option<&str> {
    let mut words = e.detail.as_deref()?.split_whitespace();
    match words.next()? {
        "crash" | "panic" | "pause" => words.next(),
        _ => None,
    }
}

/// The first word of an event's detail.
fn detail_word(e: &TraceEvent) -> &str {
    e.detail
        .as_deref()
        .and_then(|d| d.split_whitespace().next())
        .unwrap_or("")
}

/// The block id of a `block-enter`, `block-exit` or `rescue` event (`block 8fdc...`).
fn block_id(e: &TraceEvent) -> String {
    let d = e.detail.as_deref().unwrap_or("");
    d.strip_prefix("block ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_hexdigit()).next())
        .unwrap_or(d)
        .to_string()
}

impl Model {
    /// Reads `trace` as a sequence diagram.
    pub fn of(trace: &Trace) -> Model {
        let events = &trace.events;
        let mut m = Model::default();
        let mut session_index: BTreeMap<String, usize> = BTreeMap::new();
        for e in events {
            if let Some(s) = &e.session {
                if !session_index.contains_key(s) {
                    session_index.insert(s.clone(), m.sessions.len());
                    m.sessions.push(s.clone());
                }
            }
        }

        // Lifelines: every (node, participant) that acts, grouped by node.
        let mut seen: Vec<(u32, String)> = Vec::new();
        let mut known: BTreeSet<(u32, String)> = BTreeSet::new();
        for e in events {
            if let Some(a) = actor(e) {
                if known.insert((e.node, a.to_string())) {
                    seen.push((e.node, a.to_string()));
                }
            }
        }
        // A node that only has notes (a kill before anything ran) still gets a lifeline.
        let mut nodes: BTreeSet<u32> = seen.iter().map(|(n, _)| *n).collect();
        for e in events {
            if nodes.insert(e.node) {
                seen.push((e.node, format!("n{}", e.node)));
            }
        }
        let mut order: Vec<usize> = (0..seen.len()).collect();
        order.sort_by_key(|&i| (seen[i].0, i));
        m.lifelines = order
            .into_iter()
            .map(|i| Lifeline {
                node: seen[i].0,
                name: seen[i].1.clone(),
            })
            .collect();
        let line_index: BTreeMap<(u32, String), usize> = m
            .lifelines
            .iter()
            .enumerate()
            .map(|(i, l)| ((l.node, l.name.clone()), i))
            .collect();

        // Where each (session, participant) lives: its first acting node.
        let mut home: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
        for e in events {
            if let Some(a) = actor(e) {
                if let Some(&l) = line_index.get(&(e.node, a.to_string())) {
                    home.entry((e.session.clone(), a.to_string())).or_insert(l);
                }
            }
        }
        let find = |m: &Model, session: &Option<String>, name: &str, node: Option<u32>| {
            home.get(&(session.clone(), name.to_string()))
                .copied()
                .or_else(|| node.and_then(|n| line_index.get(&(n, name.to_string())).copied()))
                .or_else(|| m.lifelines.iter().position(|l| l.name == name))
        };

        let mut frames: BTreeMap<FrameKey, usize> = BTreeMap::new();
        let mut blocks: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
        let mut open_partitions: Vec<usize> = Vec::new();
        let mut open_pauses: BTreeMap<u32, usize> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            let here = actor(e).and_then(|a| find(&m, &e.session, a, Some(e.node)));
            if is_frame(e) {
                let (from, to) = (
                    e.from.clone().unwrap_or_default(),
                    e.to.clone().unwrap_or_default(),
                );
                let key = (
                    e.session.clone(),
                    from.clone(),
                    to.clone(),
                    e.lane.unwrap_or(""),
                    e.seq.unwrap_or(0),
                );
                let fi = match frames.get(&key) {
                    Some(&fi) => fi,
                    None => {
                        let sender_node = (frame_actor(e) == Some(from.as_str())).then_some(e.node);
                        let receiver_node = (frame_actor(e) == Some(to.as_str())).then_some(e.node);
                        let frame = Frame {
                            session: e.session.as_ref().map(|s| session_index[s]),
                            from: find(&m, &e.session, &from, sender_node).unwrap_or(0),
                            to: find(&m, &e.session, &to, receiver_node),
                            lane: e.lane.unwrap_or(""),
                            seq: e.seq.unwrap_or(0),
                            site: e.site.clone().unwrap_or_default(),
                            bytes: None,
                            first: i,
                            ..Frame::default()
                        };
                        frames.insert(key, m.frames.len());
                        m.frames.push(frame);
                        m.frames.len() - 1
                    }
                };
                let f = &mut m.frames[fi];
                match e.kind {
                    "send" if f.send.is_none() => {
                        f.send = Some(i);
                        f.bytes = e.bytes;
                    }
                    "send" | "retransmit" => f.retransmits.push(i),
                    "deliver" if f.deliver.is_none() => f.deliver = Some(i),
                    "receive" if f.receive.is_none() => f.receive = Some(i),
                    "deliver" | "receive" | "duplicate" => f.suppressed.push(i),
                    "net-drop" => f.losses.push(i),
                    "net-duplicate" => f.copies.push(i),
                    _ => f.others.push(i),
                }
                if f.bytes.is_none() {
                    f.bytes = e.bytes;
                }
                continue;
            }
            let node_lines = |m: &Model| -> Vec<usize> {
                (0..m.lifelines.len())
                    .filter(|&l| m.lifelines[l].node == e.node)
                    .collect()
            };
            let mark = |m: &mut Model, kind: MarkKind, lines: Vec<usize>| {
                for lifeline in lines {
                    m.marks.push(Mark {
                        kind,
                        event: i,
                        lifeline,
                    });
                }
            };
            match e.kind {
                "block-enter" | "block-exit" | "rescue" => {
                    let key = (e.session.clone(), block_id(e));
                    let bi = *blocks.entry(key).or_insert_with(|| {
                        m.blocks.push(Block {
                            session: e.session.as_ref().map(|s| session_index[s]),
                            id: block_id(e),
                            site: e.site.clone().unwrap_or_default(),
                            start: i,
                            ..Block::default()
                        });
                        m.blocks.len() - 1
                    });
                    let b = &mut m.blocks[bi];
                    if let Some(l) = here {
                        if !b.lifelines.contains(&l) {
                            b.lifelines.push(l);
                        }
                    }
                    match e.kind {
                        "block-enter" => b.enters.push(i),
                        "block-exit" => b.exits.push(i),
                        _ => {
                            b.rescues.push(i);
                            mark(&mut m, MarkKind::Rescue, here.into_iter().collect());
                        }
                    }
                }
                "fault" => match detail_word(e) {
                    "crash" | "panic" => mark(&mut m, MarkKind::Crash, here.into_iter().collect()),
                    "partition" => {
                        open_partitions.push(m.spans.len());
                        m.spans.push(Span {
                            kind: SpanKind::Partition,
                            start: i,
                            end: None,
                            lifelines: (0..m.lifelines.len()).collect(),
                            label: e.detail.clone().unwrap_or_default(),
                        });
                    }
                    _ => mark(&mut m, MarkKind::Fault, here.into_iter().collect()),
                },
                "heal" => {
                    if !open_partitions.is_empty() {
                        let s = open_partitions.remove(0);
                        m.spans[s].end = Some(i);
                    }
                }
                "pause" => {
                    open_pauses.insert(e.node, m.spans.len());
                    m.spans.push(Span {
                        kind: SpanKind::Pause,
                        start: i,
                        end: None,
                        lifelines: node_lines(&m),
                        label: e.detail.clone().unwrap_or_default(),
                    });
                }
                "resume" => {
                    if let Some(s) = open_pauses.remove(&e.node) {
                        m.spans[s].end = Some(i);
                    }
                }
                "kill" => {
                    let lines = node_lines(&m);
                    mark(&mut m, MarkKind::Kill, lines)
                }
                "restart" => {
                    let lines = node_lines(&m);
                    mark(&mut m, MarkKind::Restart, lines)
                }
                "corrupt" => {
                    let lines = node_lines(&m);
                    mark(&mut m, MarkKind::Corrupt, lines)
                }
                kind => {
                    let k = match kind {
                        "session-start" => MarkKind::Start,
                        "session-end" => MarkKind::End,
                        "failure" => MarkKind::Failure,
                        "iteration" => MarkKind::Iteration,
                        _ => MarkKind::Local,
                    };
                    let lines = match here {
                        Some(l) => vec![l],
                        None => node_lines(&m),
                    };
                    mark(&mut m, k, lines);
                }
            }
        }
        m.close_blocks(trace);
        m
    }

    /// The lifeline of participant `name` on `node`.
    pub fn line_at(&self, node: u32, name: &str) -> Option<usize> {
        self.lifelines
            .iter()
            .position(|l| l.node == node && l.name == name)
    }

    /// Ends every block instance and computes how deeply it nests.
    fn close_blocks(&mut self, trace: &Trace) {
        let last_on: Vec<usize> = {
            let mut last = vec![0usize; self.lifelines.len()];
            for mk in &self.marks {
                last[mk.lifeline] = last[mk.lifeline].max(mk.event);
            }
            for f in &self.frames {
                last[f.from] = last[f.from].max(f.last());
            }
            last
        };
        for b in &mut self.blocks {
            let left: Vec<usize> = b.exits.iter().chain(&b.rescues).copied().collect();
            b.end = match left.iter().max() {
                // Everyone who entered left it: the instance ends at the last one.
                Some(&end) if left.len() >= b.enters.len() => end,
                // Someone never left (crashed, or the trace ended): to their last event.
                _ => b
                    .lifelines
                    .iter()
                    .map(|&l| last_on[l])
                    .chain(left.iter().copied())
                    .max()
                    .unwrap_or(b.start)
                    .min(trace.events.len().saturating_sub(1))
                    .max(b.start),
            };
        }
        // Nesting: sweep in start order with a stack of the blocks still open.
        let mut order: Vec<usize> = (0..self.blocks.len()).collect();
        order.sort_by_key(|&i| (self.blocks[i].start, std::cmp::Reverse(self.blocks[i].end)));
        let mut stack: Vec<usize> = Vec::new();
        for i in order {
            while let Some(&top) = stack.last() {
                if self.blocks[top].end < self.blocks[i].start {
                    stack.pop();
                } else {
                    break;
                }
            }
            self.blocks[i].depth = stack.len();
            stack.push(i);
        }
    }

    /// The lifeline indices grouped by node: (node, first lifeline, one past the last).
    pub fn nodes(&self) -> Vec<(u32, usize, usize)> {
        let mut out: Vec<(u32, usize, usize)> = Vec::new();
        for (i, l) in self.lifelines.iter().enumerate() {
            match out.last_mut() {
                Some(last) if last.0 == l.node => last.2 = i + 1,
                _ => out.push((l.node, i, i + 1)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t_us: u64, node: u32, kind: &'static str) -> TraceEvent {
        TraceEvent {
            t_us,
            node,
            kind,
            session: Some("s1".into()),
            from: None,
            to: None,
            lane: None,
            seq: None,
            site: None,
            bytes: None,
            detail: None,
            payload: None,
            epoch: None,
        }
    }

    fn frame(
        t_us: u64,
        node: u32,
        kind: &'static str,
        session: &str,
        from: &str,
        to: &str,
    ) -> TraceEvent {
        TraceEvent {
            session: Some(session.into()),
            from: Some(from.into()),
            to: Some(to.into()),
            lane: Some("data"),
            seq: Some(0),
            site: Some("\"hello\"@a.rs:1:2".into()),
            bytes: Some(40),
            ..ev(t_us, node, kind)
        }
    }

    fn actor(mut e: TraceEvent, who: &str) -> TraceEvent {
        e.from = Some(who.into());
        e
    }

    #[test]
    fn frames_pair_sends_with_deliveries_and_sessions_stay_apart() {
        let trace = Trace {
            events: vec![
                actor(ev(0, 0, "session-start"), "A"),
                actor(ev(0, 1, "session-start"), "B"),
                frame(1, 0, "send", "s1", "A", "B"),
                frame(1, 0, "net-drop", "s1", "A", "B"),
                frame(5, 0, "retransmit", "s1", "A", "B"),
                frame(9, 1, "deliver", "s1", "A", "B"),
                frame(9, 1, "receive", "s1", "A", "B"),
                frame(10, 0, "send", "s2", "A", "B"),
                frame(12, 1, "deliver", "s2", "A", "B"),
            ],
        };
        let m = Model::of(&trace);
        assert_eq!(m.lifelines.len(), 2);
        assert_eq!(m.sessions, vec!["s1", "s2"]);
        assert_eq!(
            m.frames.len(),
            2,
            "one frame per (session, from, to, lane, seq)"
        );
        let f = &m.frames[0];
        assert_eq!((f.send, f.deliver, f.receive), (Some(2), Some(5), Some(6)));
        assert_eq!(
            (f.losses.clone(), f.retransmits.clone()),
            (vec![3], vec![4])
        );
        assert_eq!((f.from, f.to), (0, Some(1)));
        assert_eq!(m.frames[1].session, Some(1));
    }

    #[test]
    fn blocks_nest_and_crashes_mark_the_named_participant() {
        let mut crash = frame(3, 1, "fault", "s1", "A", "B");
        crash.detail = Some("crash B (occurrence 1; restart never)".into());
        let block = |t, node, kind, who: &str, id: &str| {
            let mut e = actor(ev(t, node, kind), who);
            e.detail = Some(format!("block {id}"));
            e
        };
        let trace = Trace {
            events: vec![
                block(0, 0, "block-enter", "A", "aa"),
                block(0, 1, "block-enter", "B", "aa"),
                block(1, 0, "block-enter", "A", "bb"),
                crash,
                block(4, 0, "block-exit", "A", "bb"),
                block(5, 0, "block-exit", "A", "aa"),
                block(6, 1, "rescue", "B", "aa"),
            ],
        };
        let m = Model::of(&trace);
        assert_eq!(m.blocks.len(), 2);
        assert_eq!((m.blocks[0].depth, m.blocks[1].depth), (0, 1));
        assert_eq!((m.blocks[0].start, m.blocks[0].end), (0, 6));
        assert!(m.blocks[0].rescued());
        let crashes: Vec<&Mark> = m
            .marks
            .iter()
            .filter(|mk| mk.kind == MarkKind::Crash)
            .collect();
        assert_eq!(crashes.len(), 1);
        assert_eq!(m.lifelines[crashes[0].lifeline].name, "B");
    }
}
