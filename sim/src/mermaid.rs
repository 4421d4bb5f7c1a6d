//! `--format mermaid`: a run as a Mermaid `sequenceDiagram`, for docs and pull requests.
//!
//! Mermaid draws messages one after another, so this is a linearisation of the run: each
//! frame is one message, placed where it was first sent, and what else happened to it (lost
//! copies, retransmissions, network duplicates, suppressed duplicates) is summarised in its
//! text; a frame never delivered ends in a cross. Crashes, kills, restarts, other faults,
//! rescues, failures, session ends, partitions, pauses and checkpoint blocks are notes. Each
//! node is a `box` around its participants. The model is [`crate::diagram::model`]'s.

use std::fmt::Write as _;

use crate::diagram::model::{MarkKind, Model, SpanKind, short_site};
use crate::trace::Trace;

/// Mermaid message and note text: characters Mermaid would read as syntax become its
/// `#code;` entities, and line breaks become spaces.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '"' => out.push_str("#quot;"),
            '%' => out.push_str("#37;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// At most `n` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n - 1).collect();
        format!("{cut}…")
    }
}

/// A rescue's cause, shortened: `block 8fdc...: Alice crashed at "divide"@a.rs:53:26:
/// attempt to divide by zero (0 stale frame(s) dropped)` -> `Alice crashed at divide:
/// attempt to divide by zero`.
fn rescue_cause(detail: &str) -> String {
    let cause = detail.split_once(": ").map(|x| x.1).unwrap_or(detail);
    let cause = cause.rsplit_once(" (").map(|x| x.0).unwrap_or(cause);
    match cause.split_once(" crashed at ") {
        Some((who, tail)) => match tail.split_once(": ") {
            Some((site, message)) => format!("{who} crashed at {}: {message}", short_site(site)),
            None => cause.to_string(),
        },
        None => cause.to_string(),
    }
}

/// What goes into the diagram, keyed by the trace event it happens at.
enum Item {
    Frame(usize),
    Mark(usize),
    BlockStart(usize),
    BlockEnd(usize),
    SpanStart(usize),
    SpanEnd(usize),
}

/// The run as a Mermaid `sequenceDiagram`, headed by `title` (empty: no title).
pub fn sequence_diagram(trace: &Trace, title: &str) -> String {
    let m = Model::of(trace);
    let mut s = String::from("sequenceDiagram\n");
    if !title.is_empty() {
        let _ = writeln!(s, "    title {}", text(title));
    }
    for (node, first, end) in m.nodes() {
        let _ = writeln!(s, "    box transparent node n{node}");
        for i in first..end {
            let _ = writeln!(
                s,
                "        participant p{i} as {}",
                text(&m.lifelines[i].name)
            );
        }
        s.push_str("    end\n");
    }
    let mut items: Vec<(usize, u8, Item)> = Vec::new();
    for (i, f) in m.frames.iter().enumerate() {
        items.push((f.send.unwrap_or(f.first), 2, Item::Frame(i)));
    }
    for (i, mk) in m.marks.iter().enumerate() {
        if !matches!(
            mk.kind,
            MarkKind::Local | MarkKind::Start | MarkKind::Iteration
        ) {
            items.push((mk.event, 2, Item::Mark(i)));
        }
    }
    for (i, b) in m.blocks.iter().enumerate() {
        items.push((b.start, 0, Item::BlockStart(i)));
        items.push((b.end, 3, Item::BlockEnd(i)));
    }
    for (i, sp) in m.spans.iter().enumerate() {
        items.push((sp.start, 1, Item::SpanStart(i)));
        if let Some(e) = sp.end {
            items.push((e, 3, Item::SpanEnd(i)));
        }
    }
    // Stable: ties keep the order they were pushed in.
    items.sort_by_key(|(event, rank, _)| (*event, *rank));
    let over = |lines: &[usize]| -> String {
        let lo = lines.iter().min().copied().unwrap_or(0);
        let hi = lines.iter().max().copied().unwrap_or(0);
        if lo == hi {
            format!("p{lo}")
        } else {
            format!("p{lo},p{hi}")
        }
    };
    for (_, _, item) in items {
        match item {
            Item::Frame(i) => {
                let f = &m.frames[i];
                let mut label = format!("{} {}#{}", short_site(&f.site), f.lane, f.seq);
                if let Some(b) = f.bytes {
                    let _ = write!(label, " {b}B");
                }
                if m.sessions.len() > 1 {
                    if let Some(sn) = f.session {
                        let _ = write!(label, " {}", m.sessions[sn]);
                    }
                }
                let mut fates = Vec::new();
                for (n, what) in [
                    (f.losses.len(), "lost"),
                    (f.retransmits.len(), "retransmitted"),
                    (f.copies.len(), "duplicated"),
                    (f.suppressed.len(), "duplicate suppressed"),
                ] {
                    if n > 0 {
                        fates.push(format!("{what} x{n}"));
                    }
                }
                if f.deliver.is_none() {
                    fates.push("never delivered".into());
                }
                if !fates.is_empty() {
                    let _ = write!(label, " ({})", fates.join(", "));
                }
                let arrow = match (f.lane, f.deliver.is_some()) {
                    ("control", true) => "-->>",
                    ("control", false) => "--x",
                    (_, true) => "->>",
                    (_, false) => "-x",
                };
                let to = f.to.unwrap_or(f.from);
                let _ = writeln!(s, "    p{}{arrow}p{to}: {}", f.from, text(&label));
            }
            Item::Mark(i) => {
                let mk = &m.marks[i];
                let e = &trace.events[mk.event];
                let detail = e.detail.as_deref().unwrap_or("");
                let note = match mk.kind {
                    MarkKind::Crash | MarkKind::Fault => {
                        let at = e.site.as_deref().map(short_site);
                        format!(
                            "fault: {}{}",
                            detail.split(" (").next().unwrap_or(detail),
                            at.map(|a| format!(" at {a}")).unwrap_or_default()
                        )
                    }
                    MarkKind::Kill => format!("node n{} killed", e.node),
                    MarkKind::Restart => format!("node n{} restarted", e.node),
                    MarkKind::Rescue => format!("rescue: {}", clip(&rescue_cause(detail), 90)),
                    MarkKind::Failure => format!("failure: {}", clip(detail, 90)),
                    MarkKind::Corrupt => format!("corrupt frame: {}", clip(detail, 90)),
                    MarkKind::End => format!("session end: {}", clip(detail, 90)),
                    MarkKind::Local | MarkKind::Start | MarkKind::Iteration => continue,
                };
                let _ = writeln!(s, "    Note over p{}: {}", mk.lifeline, text(&note));
            }
            Item::BlockStart(i) => {
                let b = &m.blocks[i];
                let _ = writeln!(
                    s,
                    "    Note over {}: checkpoint {} (block {}) entered",
                    over(&b.lifelines),
                    text(&short_site(&b.site)),
                    b.short_id()
                );
            }
            Item::BlockEnd(i) => {
                let b = &m.blocks[i];
                let how = if b.rescued() { "rescued" } else { "left" };
                let _ = writeln!(
                    s,
                    "    Note over {}: checkpoint {} (block {}) {how}",
                    over(&b.lifelines),
                    text(&short_site(&b.site)),
                    b.short_id()
                );
            }
            Item::SpanStart(i) => {
                let sp = &m.spans[i];
                let what = match sp.kind {
                    SpanKind::Partition => {
                        format!("fault: {}", sp.label.split(" (").next().unwrap_or(""))
                    }
                    SpanKind::Pause => sp.label.clone(),
                };
                let _ = writeln!(s, "    Note over {}: {}", over(&sp.lifelines), text(&what));
            }
            Item::SpanEnd(i) => {
                let sp = &m.spans[i];
                let what = match sp.kind {
                    SpanKind::Partition => "partition healed".to_string(),
                    SpanKind::Pause => trace.events[sp.end.unwrap_or(sp.start)]
                        .detail
                        .clone()
                        .unwrap_or_default(),
                };
                let _ = writeln!(s, "    Note over {}: {}", over(&sp.lifelines), text(&what));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceEvent;

    #[test]
    fn rescue_causes_are_shortened() {
        assert_eq!(
            rescue_cause(
                "block 8f: Alice crashed at \"divide\"@a.rs:53:26: boom (0 stale frame(s) dropped)"
            ),
            "Alice crashed at divide: boom"
        );
    }

    #[test]
    fn syntax_characters_become_entities() {
        assert_eq!(
            text("data#0; <b> {x} 5%"),
            "data#35;0#59; #lt;b#gt; #123;x#125; 5#37;"
        );
    }

    #[test]
    fn a_lost_frame_ends_in_a_cross_and_nodes_are_boxes() {
        let send = TraceEvent {
            t_us: 0,
            node: 0,
            kind: "send",
            session: Some("s1".into()),
            from: Some("A".into()),
            to: Some("B".into()),
            lane: Some("data"),
            seq: Some(0),
            site: Some("\"hi\"@a.rs:1:1".into()),
            bytes: Some(9),
            detail: None,
            payload: None,
            epoch: None,
        };
        let start = TraceEvent {
            node: 1,
            kind: "session-start",
            from: Some("B".into()),
            to: None,
            lane: None,
            seq: None,
            site: None,
            bytes: None,
            ..send.clone()
        };
        let d = sequence_diagram(
            &Trace {
                events: vec![start, send],
            },
            "t",
        );
        assert!(d.starts_with("sequenceDiagram\n"), "{d}");
        assert!(d.contains("box transparent node n0"), "{d}");
        assert!(
            d.contains("p0-xp1: hi data#35;0 9B (never delivered)"),
            "{d}"
        );
    }
}
