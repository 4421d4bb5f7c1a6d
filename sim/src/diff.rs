//! Where two runs diverge: the first differing event of two traces, the shared prefix
//! summarised, and both continuations side by side.
//!
//! Events are compared by their canonical text (what the trace hash covers), so two traces
//! are identical here exactly when their trace hashes are equal. `rehearsal diff A B` and a
//! diverged `rehearsal replay` print [`render`]'s text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::diagram::model::short_site;
use crate::trace::{Trace, TraceEvent};

/// One side of a comparison: a trace and how to name it.
#[derive(Clone, Debug)]
pub struct Side {
    /// What the trace is (`run-a.jsonl: alice-bob seed 7`).
    pub label: String,
    /// The trace.
    pub trace: Trace,
}

/// The index of the first event where `a` and `b` differ; `None` when they are identical.
/// When one trace is a prefix of the other, it is the length of the shorter one.
pub fn first_difference(a: &Trace, b: &Trace) -> Option<usize> {
    let (x, y) = (&a.events, &b.events);
    match x
        .iter()
        .zip(y)
        .position(|(p, q)| p.canonical() != q.canonical())
    {
        Some(i) => Some(i),
        None if x.len() == y.len() => None,
        None => Some(x.len().min(y.len())),
    }
}

/// How many events of each kind `trace` has in `range`, as `3 send, 2 deliver`.
fn kinds(trace: &Trace, range: std::ops::Range<usize>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &trace.events[range] {
        *counts.entry(e.kind).or_insert(0) += 1;
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by(|p, q| q.1.cmp(&p.1).then(p.0.cmp(q.0)));
    by_count
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn seconds(t_us: u64) -> String {
    format!("{}.{:06} s", t_us / 1_000_000, t_us % 1_000_000)
}

/// An event in few characters, for the side-by-side columns: its canonical text with the
/// site shortened to its label (or `file.rs:line`).
fn compact(e: &TraceEvent) -> String {
    let mut short = e.clone();
    short.site = e.site.as_deref().map(short_site);
    short.canonical()
}

/// A line squeezed to `width` characters (its runs of spaces collapsed), padded.
fn squeeze(line: &str, width: usize) -> String {
    let compact = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if compact.chars().count() <= width {
        format!("{compact:<width$}")
    } else {
        let cut: String = compact.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

/// The comparison as text: identical, or where they diverge, with `context` events of each
/// continuation side by side in columns of `width` characters.
pub fn render(a: &Side, b: &Side, context: usize, width: usize) -> String {
    let mut s = String::new();
    for (name, side) in [("A", a), ("B", b)] {
        let _ = writeln!(
            s,
            "{name}  {}: {} events, trace-hash {:016x}",
            side.label,
            side.trace.events.len(),
            side.trace.hash()
        );
    }
    let Some(at) = first_difference(&a.trace, &b.trace) else {
        let _ = writeln!(
            s,
            "identical: the same {} events (trace-hash {:016x})",
            a.trace.events.len(),
            a.trace.hash()
        );
        return s;
    };
    if at == 0 {
        let _ = writeln!(s, "shared prefix: none (the first events differ)");
    } else {
        let (first, last) = (&a.trace.events[0], &a.trace.events[at - 1]);
        let _ = writeln!(
            s,
            "shared prefix: {at} event(s), {} to {}: {}",
            seconds(first.t_us),
            seconds(last.t_us),
            kinds(&a.trace, 0..at)
        );
        for i in at.saturating_sub(3)..at {
            let _ = writeln!(
                s,
                "  #{i:<5} {}",
                squeeze(&a.trace.events[i].canonical(), 2 * width).trim_end()
            );
        }
    }
    let _ = writeln!(s, "first difference: event #{at}");
    for (name, side) in [("A", a), ("B", b)] {
        match side.trace.events.get(at) {
            Some(e) => {
                let _ = writeln!(
                    s,
                    "  {name} {}",
                    squeeze(&e.canonical(), 2 * width).trim_end()
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "  {name} (ends: its trace has only {} events)",
                    side.trace.events.len()
                );
            }
        }
    }
    let _ = writeln!(s, "continuations, side by side:");
    let _ = writeln!(s, "  {:<6} {:<width$} | B", "", "A");
    for i in at..at + context {
        let (x, y) = (a.trace.events.get(i), b.trace.events.get(i));
        if x.is_none() && y.is_none() {
            break;
        }
        let col = |e: Option<&TraceEvent>| {
            e.map(|e| squeeze(&compact(e), width))
                .unwrap_or_else(|| format!("{:<width$}", "-", width = width))
        };
        let same = match (x, y) {
            (Some(p), Some(q)) if p.canonical() == q.canonical() => "=",
            _ => "|",
        };
        let _ = writeln!(s, "  #{i:<5} {} {same} {}", col(x), col(y).trim_end());
    }
    let rest = |side: &Side| side.trace.events.len().saturating_sub(at + context);
    if rest(a) > 0 || rest(b) > 0 {
        let _ = writeln!(
            s,
            "  ... A has {} more event(s), B {} more",
            rest(a),
            rest(b)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t_us: u64, kind: &'static str) -> TraceEvent {
        TraceEvent {
            t_us,
            node: 0,
            kind,
            session: None,
            from: Some("A".into()),
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

    fn side(events: Vec<TraceEvent>) -> Side {
        Side {
            label: "x".into(),
            trace: Trace { events },
        }
    }

    #[test]
    fn the_first_differing_event_is_named_with_both_continuations() {
        let a = side(vec![ev(0, "local"), ev(1, "send"), ev(2, "deliver")]);
        let b = side(vec![ev(0, "local"), ev(1, "send"), ev(3, "deliver")]);
        assert_eq!(first_difference(&a.trace, &b.trace), Some(2));
        let text = render(&a, &b, 5, 40);
        assert!(text.contains("shared prefix: 2 event(s)"), "{text}");
        assert!(text.contains("1 local, 1 send"), "{text}");
        assert!(text.contains("first difference: event #2"), "{text}");
        assert!(text.contains("0.000002s"), "{text}");
        assert!(text.contains("0.000003s"), "{text}");
    }

    #[test]
    fn identical_traces_and_prefixes_are_told_apart() {
        let a = side(vec![ev(0, "local"), ev(1, "send")]);
        assert_eq!(first_difference(&a.trace, &a.trace), None);
        assert!(render(&a, &a, 5, 40).contains("identical: the same 2 events"));
        let b = side(vec![ev(0, "local")]);
        assert_eq!(first_difference(&a.trace, &b.trace), Some(1));
        assert!(render(&a, &b, 5, 40).contains("B (ends: its trace has only 1 events)"));
    }
}
