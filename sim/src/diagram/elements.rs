//! The elements a sequence diagram draws: lifelines, frames, checkpoint blocks, marks and
//! shaded spans, each holding the indices of the trace events it stands for.
//!
//! [`super::model::Model::of`] makes them from a trace; the renderers only read them.

/// One participant's lifeline: a participant name on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifeline {
    /// The node the participant runs on.
    pub node: u32,
    /// The participant's name (`Alice`, `Worker[3]`).
    pub name: String,
}

/// One frame (a CIV: session, sender, receiver, lane, sequence number) and everything that
/// happened to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// Index of its session in [`super::model::Model::sessions`], when the frame names one.
    pub session: Option<usize>,
    /// The sender's lifeline.
    pub from: usize,
    /// The receiver's lifeline, when the receiver was seen anywhere in the trace.
    pub to: Option<usize>,
    /// `data` or `control`.
    pub lane: &'static str,
    /// Sequence number on its channel.
    pub seq: u64,
    /// Its CIV site.
    pub site: String,
    /// Its encoded size at the first send.
    pub bytes: Option<usize>,
    /// The first event of the frame (its send, when the trace has it).
    pub first: usize,
    /// Its first send.
    pub send: Option<usize>,
    /// Its first delivery to the receiver's link.
    pub deliver: Option<usize>,
    /// Its first receive by the receiver's choreography.
    pub receive: Option<usize>,
    /// Retransmissions by the sender's link (and sends repeated by a replay).
    pub retransmits: Vec<usize>,
    /// Copies the network lost (`net-drop`).
    pub losses: Vec<usize>,
    /// Copies the network duplicated (`net-duplicate`).
    pub copies: Vec<usize>,
    /// Copies the receiver suppressed as duplicates, and later deliveries or receives.
    pub suppressed: Vec<usize>,
    /// Other fates: held for an unknown session, dropped as stale or for a finished session.
    pub others: Vec<usize>,
}

impl Frame {
    /// Every event of this frame, in trace order.
    pub fn events(&self) -> Vec<usize> {
        let mut all: Vec<usize> = [self.send, self.deliver, self.receive]
            .into_iter()
            .flatten()
            .chain(self.retransmits.iter().copied())
            .chain(self.losses.iter().copied())
            .chain(self.copies.iter().copied())
            .chain(self.suppressed.iter().copied())
            .chain(self.others.iter().copied())
            .collect();
        all.push(self.first);
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The last event of this frame.
    pub fn last(&self) -> usize {
        self.events().last().copied().unwrap_or(self.first)
    }
}

/// One checkpoint block instance (a session and a block id) across its participants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// Index of its session in [`super::model::Model::sessions`].
    pub session: Option<usize>,
    /// The block id, 16 hex digits.
    pub id: String,
    /// The checkpoint's site.
    pub site: String,
    /// The lifelines of its participants, in first-appearance order.
    pub lifelines: Vec<usize>,
    /// Its `block-enter` events.
    pub enters: Vec<usize>,
    /// Its `block-exit` events.
    pub exits: Vec<usize>,
    /// Its `rescue` events.
    pub rescues: Vec<usize>,
    /// First event index of the instance.
    pub start: usize,
    /// Last event index of the instance (its last exit or rescue, else its participants'
    /// last event in the trace).
    pub end: usize,
    /// How many other blocks enclose it in time (0: outermost).
    pub depth: usize,
}

impl Block {
    /// Every event of this block instance, in trace order.
    pub fn events(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self
            .enters
            .iter()
            .chain(&self.exits)
            .chain(&self.rescues)
            .copied()
            .collect();
        all.sort_unstable();
        all
    }

    /// The block id's first 8 characters, as diagrams print it.
    pub fn short_id(&self) -> String {
        self.id.chars().take(8).collect()
    }

    /// Whether any participant ran the rescue.
    pub fn rescued(&self) -> bool {
        !self.rescues.is_empty()
    }
}

/// What a mark on a lifeline stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkKind {
    /// A planned crash or panic of a participant (the fault firing).
    Crash,
    /// A node killed (its process died).
    Kill,
    /// A node restarted.
    Restart,
    /// Any other planned fault firing (delay, drop or duplicate of a frame).
    Fault,
    /// A participant's session started.
    Start,
    /// A participant's session ended, with its outcome.
    End,
    /// A participant detected or was told of a session failure.
    Failure,
    /// A participant ran local code.
    Local,
    /// A loop iteration boundary (`ch.repeat`).
    Iteration,
    /// A participant ran the rescue of a block.
    Rescue,
    /// A node received bytes it could not decode.
    Corrupt,
}

impl MarkKind {
    /// The CSS class naming this kind.
    pub fn class(self) -> &'static str {
        match self {
            MarkKind::Crash => "crash",
            MarkKind::Kill => "kill",
            MarkKind::Restart => "restart",
            MarkKind::Fault => "fault",
            MarkKind::Start => "start",
            MarkKind::End => "end",
            MarkKind::Failure => "failure",
            MarkKind::Local => "local",
            MarkKind::Iteration => "iteration",
            MarkKind::Rescue => "rescue",
            MarkKind::Corrupt => "corrupt",
        }
    }
}

/// A mark at one event on one lifeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// What it stands for.
    pub kind: MarkKind,
    /// The event.
    pub event: usize,
    /// The lifeline.
    pub lifeline: usize,
}

/// What a shaded span stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// A network partition, from the fault firing to its healing (over every lifeline).
    Partition,
    /// A paused node, from its pause to its resume (over the node's lifelines).
    Pause,
}

/// A shaded span of time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// What it stands for.
    pub kind: SpanKind,
    /// The event that opened it.
    pub start: usize,
    /// The event that closed it; `None` if it lasted to the end of the trace.
    pub end: Option<usize>,
    /// The lifelines it covers.
    pub lifelines: Vec<usize>,
    /// What to print beside it (the fault's description).
    pub label: String,
}

/// A site as a diagram prints it: its label if it has one, else `file.rs:line`.
pub fn short_site(site: &str) -> String {
    if let Some(rest) = site.strip_prefix('"') {
        if let Some((label, _)) = rest.split_once("\"@") {
            return label.to_string();
        }
    }
    let file = site.rsplit('/').next().unwrap_or(site);
    // Drop the column: `alice_bob.rs:46:12` -> `alice_bob.rs:46`.
    match file.rsplit_once(':') {
        Some((head, col)) if col.chars().all(|c| c.is_ascii_digit()) && head.contains(':') => {
            head.to_string()
        }
        _ => file.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sites_prefer_labels() {
        assert_eq!(short_site("\"divide\"@scenarios/src/a.rs:53:26"), "divide");
        assert_eq!(
            short_site("scenarios/src/alice_bob.rs:46:12"),
            "alice_bob.rs:46"
        );
        assert_eq!(short_site("session:0:0"), "session:0");
    }
}
