//! Traces: every event of a simulated run, in simulated-time order.
//!
//! The [`Recorder`](crate::recorder::Recorder) makes them, from the events of every node. A
//! [`Trace`] renders
//! as canonical text (stable across machines: simulated time, participant names and sites
//! only; no addresses, no wall-clock time, no hash-map order), as JSON lines, and hashes its
//! canonical text to the 64-bit trace hash that identifies a run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use rehearsal::net::transport::NodeId;
use serde::Serialize;

/// One event of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceEvent {
    /// Simulated time since the run started, in microseconds.
    pub t_us: u64,
    /// The node where it happened.
    pub node: u32,
    /// What happened: `send`, `deliver`, `receive`, `retransmit`, `duplicate`, `net-drop`,
    /// `net-duplicate`, `hold`, `drop-finished`, `local`, `session-start`, `session-end`,
    /// `failure`, `corrupt`, `saga-commit`, `saga-abort`, `saga-compensate`.
    pub kind: &'static str,
    /// The session, as `s<hex>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The participant acting (for frames: the sender).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The receiving participant, for frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `data` or `control`, for frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<&'static str>,
    /// Sequence number on the frame's channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The CIV site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Encoded size, for frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// Anything else: an outcome, an error, a decoder message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The encoded value a `send` carried, for oracles that read what went on the wire. Kept
    /// in memory only: canonical text, JSON lines and the trace hash leave it out, and a
    /// trace read back from a file has none.
    #[serde(skip)]
    pub payload: Option<Arc<[u8]>>,
    /// The checkpoint block instance of a frame (its epoch; 0 outside every block) or of a
    /// `block-enter`, `block-exit` or `rescue`, for oracles. Like `payload`, in memory only.
    #[serde(skip)]
    pub epoch: Option<u64>,
}

impl TraceEvent {
    pub(crate) fn new(t_us: u64, node: NodeId, kind: &'static str) -> Self {
        TraceEvent {
            t_us,
            node: node.0,
            kind,
            session: None,
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

    /// The event as one canonical text line.
    pub fn canonical(&self) -> String {
        let mut s = String::with_capacity(96);
        self.write_canonical(&mut s);
        s
    }

    /// Appends the event's canonical text line (without its newline) to `s`.
    pub fn write_canonical(&self, s: &mut String) {
        let _ = write!(
            s,
            "{:>4}.{:06}s n{:<3} {:<13}",
            self.t_us / 1_000_000,
            self.t_us % 1_000_000,
            self.node,
            self.kind
        );
        if let Some(x) = &self.session {
            s.push(' ');
            s.push_str(x);
        }
        match (&self.from, &self.to) {
            (Some(f), Some(t)) => {
                s.push(' ');
                s.push_str(f);
                s.push_str("->");
                s.push_str(t);
            }
            (Some(f), None) => {
                s.push(' ');
                s.push_str(f);
            }
            _ => {}
        }
        if let (Some(lane), Some(seq)) = (self.lane, self.seq) {
            let _ = write!(s, " {lane}#{seq}");
        }
        if let Some(x) = &self.site {
            s.push_str(" at ");
            s.push_str(x);
        }
        if let Some(x) = self.bytes {
            let _ = write!(s, " {x}B");
        }
        if let Some(x) = &self.detail {
            s.push(' ');
            s.push_str(x);
        }
    }
}

/// All events of a run, in the order they happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The events.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// The canonical text: one line per event.
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 96);
        for e in &self.events {
            e.write_canonical(&mut out);
            out.push('\n');
        }
        out
    }

    /// The trace hash: FNV-1a (64 bit) of the canonical text, hashed a line at a time (the
    /// text of a long run is never built whole).
    pub fn hash(&self) -> u64 {
        let mut line = String::with_capacity(256);
        let mut h = Fnv1a::new();
        for e in &self.events {
            line.clear();
            e.write_canonical(&mut line);
            line.push('\n');
            h.eat(line.as_bytes());
        }
        h.finish()
    }

    /// One JSON object per event, one per line.
    pub fn json_lines(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            if let Some(obj) = v.as_object_mut() {
                obj.insert("type".into(), "event".into());
            }
            out.push_str(&v.to_string());
            out.push('\n');
        }
        out
    }

    /// The rescue-agreement oracle: for every checkpoint block instance, every participant
    /// that left it left the same way (all through the body, or all through the rescue).
    /// Returns one line per disagreeing block.
    pub fn rescue_disagreements(&self) -> Vec<String> {
        let mut paths: BTreeMap<(String, String), (Vec<String>, Vec<String>)> = BTreeMap::new();
        for e in &self.events {
            let (exit, rescue) = match e.kind {
                "block-exit" => (true, false),
                "rescue" => (false, true),
                _ => continue,
            };
            let block = e
                .detail
                .as_deref()
                .and_then(|d| d.split(':').next())
                .unwrap_or_default()
                .to_string();
            let key = (e.session.clone().unwrap_or_default(), block);
            let who = e.from.clone().unwrap_or_default();
            let entry = paths.entry(key).or_default();
            if exit {
                entry.0.push(who);
            } else if rescue {
                entry.1.push(who);
            }
        }
        paths
            .into_iter()
            .filter(|(_, (exits, rescues))| !exits.is_empty() && !rescues.is_empty())
            .map(|((session, block), (exits, rescues))| {
                format!(
                    "rescue-agreement: in {session}, {block}: {} left through the body but {} ran the rescue",
                    exits.join(", "),
                    rescues.join(", ")
                )
            })
            .collect()
    }

    /// How many events of kind `kind`.
    pub fn count(&self, kind: &str) -> u64 {
        self.events.iter().filter(|e| e.kind == kind).count() as u64
    }
}

/// FNV-1a, 64 bit: a fixed, platform-independent hash.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a::new();
    h.eat(bytes);
    h.finish()
}

/// FNV-1a fed in pieces: the same hash as [`fnv1a`] of the pieces joined.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn eat(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_its_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_hash_is_fnv1a_of_the_canonical_text() {
        let mut send = TraceEvent::new(1_234_567, NodeId(3), "send");
        send.session = Some("s00ab".into());
        send.from = Some("Buyer".into());
        send.to = Some("Seller".into());
        send.lane = Some("data");
        send.seq = Some(7);
        send.site = Some("bookseller.rs:10:5".into());
        send.bytes = Some(12);
        let mut end = TraceEvent::new(2_000_000, NodeId(0), "session-end");
        end.from = Some("Worker[2]".into());
        end.detail = Some("ok {\"x\":1}".into());
        let trace = Trace {
            events: vec![send, end],
        };
        assert_eq!(
            trace.canonical(),
            "   1.234567s n3   send          s00ab Buyer->Seller data#7 at bookseller.rs:10:5 12B\n   \
             2.000000s n0   session-end   Worker[2] ok {\"x\":1}\n"
        );
        assert_eq!(trace.hash(), fnv1a(trace.canonical().as_bytes()));
        assert_eq!(Trace::default().hash(), fnv1a(b""));
    }

    #[test]
    fn swapping_two_events_changes_the_hash() {
        let a = TraceEvent::new(5, NodeId(0), "send");
        let b = TraceEvent::new(5, NodeId(1), "deliver");
        let t1 = Trace {
            events: vec![a.clone(), b.clone()],
        };
        let t2 = Trace { events: vec![b, a] };
        assert_ne!(t1.hash(), t2.hash());
    }
}
