//! The diagram page: an HTML header (verdict, facts, plan, outcomes) over an SVG sequence
//! diagram, with the trace's events embedded as compact JSON for the hover tooltips.
//!
//! One column per lifeline, grouped by node; one row per trace event, top to bottom (the
//! `layout` module). Every drawn element carries `data-e`, the indices of the events it
//! stands for; classes name what it is (`frame`, `block`, `mark crash`, ...), which is what
//! tests count.

use std::fmt::Write as _;

use super::Page;
use super::layout::{HEAD, LEFT, Layout};
use super::model::{Frame, MarkKind, Model, SpanKind, short_site};
use crate::trace::TraceEvent;

/// Colours of sessions, in order of first appearance (the first is the default ink).
const SESSION_COLOURS: [&str; 6] = [
    "#1f4e9c", "#b8336a", "#2a7f62", "#8a5a00", "#6b3fa0", "#00707f",
];

/// Escapes text for HTML and SVG text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn seconds(t_us: u64) -> String {
    format!("{}.{:06} s", t_us / 1_000_000, t_us % 1_000_000)
}

fn duration(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{}.{:03} s", us / 1_000_000, (us % 1_000_000) / 1_000)
    } else {
        format!("{}.{:03} ms", us / 1_000, us % 1_000)
    }
}

fn ids(events: &[usize]) -> String {
    let mut s = String::new();
    for (k, i) in events.iter().enumerate() {
        if k > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{i}");
    }
    s
}

/// The whole page.
pub fn render(page: &Page) -> String {
    let model = Model::of(&page.trace);
    let layout = Layout::of(&page.trace.events, model.lifelines.len());
    let mut out = String::with_capacity(256 + page.trace.events.len() * 160);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(out, "<title>{} · rehearsal</title>", escape(&page.title));
    let _ = writeln!(
        out,
        "<style>\n{}</style>\n</head>\n<body>",
        include_str!("page.css")
    );
    header(&mut out, page, &model);
    let _ = writeln!(
        out,
        "<div id=\"diagram\" style=\"width:{}px\">",
        layout.width
    );
    heads(&mut out, &model, &layout);
    body(&mut out, page, &model, &layout);
    out.push_str("</div>\n<div id=\"tip\" hidden></div>\n");
    out.push_str("<script type=\"application/json\" id=\"trace-data\">");
    out.push_str(&event_data(&page.trace.events).replace("</", "<\\/"));
    out.push_str("</script>\n<script>\n");
    out.push_str(include_str!("page.js"));
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, page: &Page, model: &Model) {
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", escape(&page.title));
    if page.violations.is_empty() {
        out.push_str("<p class=\"verdict pass\">every oracle held</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<div class=\"verdict fail\"><p>{} violation(s)</p><ul>",
            page.violations.len()
        );
        for v in &page.violations {
            let _ = writeln!(out, "<li>{}</li>", escape(v));
        }
        out.push_str("</ul></div>\n");
    }
    for n in &page.notes {
        let _ = writeln!(out, "<p class=\"verdict note\">{}</p>", escape(n));
    }
    out.push_str("<div class=\"facts\"><table>\n");
    for (k, v) in &page.facts {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    if model.sessions.len() > 1 {
        let sessions: Vec<String> = model
            .sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "<span style=\"color:{}\">{}</span>",
                    SESSION_COLOURS[i % SESSION_COLOURS.len()],
                    escape(s)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><th>sessions</th><td>{}</td></tr>",
            sessions.join(" ")
        );
    }
    // Many participants' outcomes fold away, so the diagram stays near the top.
    let _ = writeln!(
        out,
        "</table>\n<details class=\"outcomes\"{}><summary>{} outcome(s)</summary><table>",
        if page.outcomes.len() <= 8 {
            " open"
        } else {
            ""
        },
        page.outcomes.len()
    );
    for (p, o) in &page.outcomes {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(p), escape(o));
    }
    out.push_str("</table></details>\n");
    if page.plan.trim().is_empty() {
        out.push_str("<p class=\"plan\">no fault plan</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<details class=\"plan\" open><summary>fault plan</summary><pre>{}</pre></details>",
            escape(page.plan.trim_end())
        );
    }
    out.push_str("</div>\n");
    out.push_str(include_str!("legend.html"));
    out.push_str("</header>\n");
}

/// The lifeline heads: node groups and participant names (kept in view while scrolling).
fn heads(out: &mut String, model: &Model, layout: &Layout) {
    let _ = writeln!(
        out,
        "<svg id=\"heads\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{HEAD}\">",
        layout.width
    );
    for (node, first, end) in model.nodes() {
        let x = LEFT + layout.col * first as i64 + 3;
        let w = layout.col * (end - first) as i64 - 6;
        let _ = writeln!(
            out,
            "<g class=\"node\"><rect x=\"{x}\" y=\"2\" width=\"{w}\" height=\"{}\" rx=\"5\"/><text x=\"{}\" y=\"15\">node n{node}</text></g>",
            HEAD - 4,
            x + 6
        );
    }
    for (i, l) in model.lifelines.iter().enumerate() {
        let x = layout.x(i);
        let w = layout.col - 18;
        let _ = writeln!(
            out,
            "<g class=\"head\"><rect x=\"{}\" y=\"22\" width=\"{w}\" height=\"28\" rx=\"4\"/><text x=\"{x}\" y=\"41\">{}</text></g>",
            x - w / 2,
            escape(&l.name)
        );
    }
    out.push_str("</svg>\n");
}

fn body(out: &mut String, page: &Page, model: &Model, layout: &Layout) {
    let events = &page.trace.events;
    let ys = &layout.ys;
    let _ = writeln!(
        out,
        "<svg id=\"body\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">",
        layout.width, layout.height
    );
    out.push_str(include_str!("defs.svg"));

    // Spans behind everything.
    for s in &model.spans {
        let y0 = ys[s.start];
        let y1 = s.end.map(|e| ys[e]).unwrap_or(layout.height - 20);
        let (l0, l1) = (
            s.lifelines.iter().min().copied().unwrap_or(0),
            s.lifelines.iter().max().copied().unwrap_or(0),
        );
        let x = LEFT + layout.col * l0 as i64 + 2;
        let w = layout.col * (l1 - l0 + 1) as i64 - 4;
        let class = match s.kind {
            SpanKind::Partition => "span partition",
            SpanKind::Pause => "span pause",
        };
        let evs: Vec<usize> = std::iter::once(s.start).chain(s.end).collect();
        let _ = writeln!(
            out,
            "<g class=\"{class}\" data-e=\"{}\"><rect x=\"{x}\" y=\"{y0}\" width=\"{w}\" height=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            ids(&evs),
            (y1 - y0).max(4),
            x + w - 4,
            y0 + 12,
            escape(&s.label)
        );
    }

    // Checkpoint blocks, outermost first so inner boxes paint on top.
    let mut order: Vec<usize> = (0..model.blocks.len()).collect();
    order.sort_by_key(|&i| (model.blocks[i].depth, model.blocks[i].start));
    for i in order {
        let b = &model.blocks[i];
        let l0 = b.lifelines.iter().min().copied().unwrap_or(0);
        let l1 = b.lifelines.iter().max().copied().unwrap_or(0);
        let inset = 8 + 5 * b.depth.min(8) as i64;
        let x = layout.x(l0) - layout.col / 2 + inset;
        let w = layout.x(l1) - layout.x(l0) + layout.col - 2 * inset;
        let y0 = ys[b.start] - 7;
        let y1 = ys[b.end] + 7;
        let class = if b.rescued() {
            "block rescued"
        } else {
            "block"
        };
        let session = b.session.map(|s| model.sessions[s].as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "<g class=\"{class}\" data-e=\"{}\"><rect x=\"{x}\" y=\"{y0}\" width=\"{w}\" height=\"{}\" rx=\"6\"/><text x=\"{}\" y=\"{}\">checkpoint {} {session} {}{}</text></g>",
            ids(&b.events()),
            y1 - y0,
            x + 5,
            y0 + 10,
            escape(&short_site(&b.site)),
            b.short_id(),
            if b.rescued() { " rescued" } else { "" }
        );
    }

    // Time axis and gap breaks.
    let mut last_label: Option<i64> = None;
    let mut last_t = u64::MAX;
    out.push_str("<g class=\"axis\">");
    for (i, e) in events.iter().enumerate() {
        if e.t_us != last_t && last_label.is_none_or(|l| ys[i] - l >= 14) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                LEFT - 8,
                ys[i] + 4,
                seconds(e.t_us)
            );
            last_label = Some(ys[i]);
        }
        last_t = e.t_us;
    }
    out.push_str("</g>\n");
    for (y, gap) in &layout.breaks {
        let _ = writeln!(
            out,
            "<g class=\"break\"><line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/><text x=\"{}\" y=\"{}\">+{} (compressed)</text></g>",
            LEFT,
            layout.width - 20,
            LEFT + 4,
            y - 2,
            duration(*gap)
        );
    }

    // Lifelines.
    out.push_str("<g class=\"lives\">");
    for i in 0..model.lifelines.len() {
        let x = layout.x(i);
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{}\"/>",
            layout.height
        );
    }
    out.push_str("</g>\n");

    for f in &model.frames {
        frame(out, model, layout, f);
    }
    for mk in &model.marks {
        mark(out, layout, events, mk.kind, mk.event, mk.lifeline);
    }
    out.push_str("</svg>\n");
}

fn frame(out: &mut String, model: &Model, layout: &Layout, f: &Frame) {
    let ys = &layout.ys;
    let x1 = layout.x(f.from);
    let start = f.send.unwrap_or(f.first);
    let y1 = ys[start];
    let xt = f.to.map(|t| layout.x(t)).unwrap_or(x1 + layout.col / 2);
    let dir = if xt >= x1 { 1 } else { -1 };
    let colour = f
        .session
        .filter(|_| model.sessions.len() > 1)
        .map(|s| SESSION_COLOURS[s % SESSION_COLOURS.len()]);
    let mut class = format!("frame {}", f.lane);
    // Delivered: to the delivery. Arrived but discarded (stale, for a finished session):
    // to where it was discarded. Never arrived: a short arrow ending in a cross.
    let arrived = f.deliver.or_else(|| f.others.first().copied());
    let (x2, y2) = match arrived {
        Some(d) => (xt, ys[d]),
        None => (x1 + (xt - x1) * 45 / 100, y1 + 12),
    };
    if f.deliver.is_none() {
        class.push_str(if arrived.is_some() {
            " discarded"
        } else {
            " lost"
        });
    }
    let style = colour
        .map(|c| format!(" style=\"color:{c}\""))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<g class=\"{class}\"{style} data-e=\"{}\">",
        ids(&f.events())
    );
    if x1 == x2 {
        let _ = write!(
            out,
            "<path class=\"arrow\" d=\"M{x1} {y1}C{} {y1} {} {y2} {x2} {y2}\"/>",
            x1 + 44,
            x1 + 44
        );
    } else {
        let _ = write!(
            out,
            "<line class=\"arrow\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\"/>"
        );
    }
    if arrived.is_none() {
        let _ = write!(out, "<use href=\"#x\" x=\"{x2}\" y=\"{y2}\"/>");
    }
    let mut label = format!("{} {}#{}", short_site(&f.site), f.lane, f.seq);
    if let Some(b) = f.bytes {
        let _ = write!(label, " {b}B");
    }
    if model.sessions.len() > 1 {
        if let Some(s) = f.session {
            let _ = write!(label, " {}", model.sessions[s]);
        }
    }
    let anchor = if dir > 0 { "start" } else { "end" };
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
        x1 + dir * 8,
        y1 - 3,
        escape(&label)
    );
    // What else happened to the frame, each with its own event for the tooltip.
    let stub = (xt - x1) * 40 / 100;
    for &r in &f.retransmits {
        let y = ys[r];
        let _ = write!(
            out,
            "<line class=\"rt\" data-e=\"{r}\" x1=\"{x1}\" y1=\"{y}\" x2=\"{}\" y2=\"{}\"/>",
            x1 + if stub == 0 { 30 } else { stub },
            y + 6
        );
    }
    for &l in &f.losses {
        let _ = write!(
            out,
            "<use class=\"loss\" data-e=\"{l}\" href=\"#x\" x=\"{}\" y=\"{}\"/>",
            x1 + dir * 22,
            ys[l]
        );
    }
    for &c in &f.copies {
        let _ = write!(
            out,
            "<text class=\"copy\" data-e=\"{c}\" x=\"{}\" y=\"{}\">×2</text>",
            x1 + dir * 10,
            ys[c] + 12
        );
    }
    for &d in &f.suppressed {
        let _ = write!(
            out,
            "<circle class=\"dup\" data-e=\"{d}\" cx=\"{xt}\" cy=\"{}\" r=\"4\"/>",
            ys[d]
        );
    }
    if let Some(r) = f.receive {
        let _ = write!(
            out,
            "<line class=\"recv\" data-e=\"{r}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
            xt - 6,
            ys[r],
            xt + 6,
            ys[r]
        );
    }
    for &o in &f.others {
        let _ = write!(
            out,
            "<rect class=\"other\" data-e=\"{o}\" x=\"{}\" y=\"{}\" width=\"8\" height=\"8\"/>",
            xt - 4,
            ys[o] - 4
        );
    }
    out.push_str("</g>\n");
}

fn mark(
    out: &mut String,
    layout: &Layout,
    events: &[TraceEvent],
    kind: MarkKind,
    event: usize,
    lifeline: usize,
) {
    let x = layout.x(lifeline);
    let y = layout.ys[event];
    let e = &events[event];
    let class = kind.class();
    let text = match kind {
        MarkKind::Crash | MarkKind::Fault => e.detail.as_deref().map(|d| {
            // `panic Alice (occurrence 1; ...)` -> `panic Alice`
            d.split(" (").next().unwrap_or(d).to_string()
        }),
        MarkKind::Kill => Some("killed".into()),
        MarkKind::Restart => Some("restarted".into()),
        MarkKind::Rescue => Some("rescue".into()),
        MarkKind::Failure => Some("failure".into()),
        MarkKind::Corrupt => Some("corrupt frame".into()),
        MarkKind::End => e.detail.as_deref().map(|d| {
            if d.starts_with("ok") {
                "ok".into()
            } else {
                "error".into()
            }
        }),
        MarkKind::Iteration => e.detail.clone(),
        MarkKind::Start | MarkKind::Local => None,
    };
    let _ = write!(
        out,
        "<g class=\"mark {class}\" data-e=\"{event}\"><use href=\"#m-{class}\" x=\"{x}\" y=\"{y}\"/>"
    );
    if let Some(t) = text {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            x - 10,
            y + 4,
            escape(&t)
        );
    }
    out.push_str("</g>\n");
}

/// The events as compact JSON for the tooltips: a string table and one array per event,
/// `[t_us, node, kind, session, from, to, lane, seq, site, bytes, detail]`, strings as
/// indices into the table (-1 for none), numbers as numbers (-1 for none).
fn event_data(events: &[TraceEvent]) -> String {
    let mut strings: Vec<String> = Vec::new();
    let mut index: std::collections::BTreeMap<String, i64> = Default::default();
    let mut intern = |s: Option<&str>| -> i64 {
        match s {
            None => -1,
            Some(s) => *index.entry(s.to_string()).or_insert_with(|| {
                strings.push(s.to_string());
                strings.len() as i64 - 1
            }),
        }
    };
    let mut rows = String::new();
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            rows.push(',');
        }
        let _ = write!(
            rows,
            "[{},{},{},{},{},{},{},{},{},{},{}]",
            e.t_us,
            e.node,
            intern(Some(e.kind)),
            intern(e.session.as_deref()),
            intern(e.from.as_deref()),
            intern(e.to.as_deref()),
            intern(e.lane),
            e.seq.map(|s| s as i64).unwrap_or(-1),
            intern(e.site.as_deref()),
            e.bytes.map(|b| b as i64).unwrap_or(-1),
            intern(e.detail.as_deref()),
        );
    }
    let strings = serde_json::to_string(&strings).unwrap_or_else(|_| "[]".into());
    format!("{{\"strings\":{strings},\"events\":[{rows}]}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Trace;

    fn ev(t_us: u64, node: u32, kind: &'static str, who: &str) -> TraceEvent {
        TraceEvent {
            t_us,
            node,
            kind,
            session: Some("s1".into()),
            from: Some(who.into()),
            to: None,
            lane: None,
            seq: None,
            site: None,
            bytes: None,
            detail: Some("ok 1 </script>".into()),
            payload: None,
            epoch: None,
        }
    }

    #[test]
    fn nested_sessions_get_their_own_colours_and_labels() {
        let frame = |session: &str, t_us, node, kind: &'static str| TraceEvent {
            session: Some(session.into()),
            from: Some("A".into()),
            to: Some("B".into()),
            lane: Some("data"),
            seq: Some(0),
            site: Some("a.rs:1:1".into()),
            bytes: Some(3),
            detail: None,
            ..ev(t_us, node, kind, "A")
        };
        let page = Page {
            trace: Trace {
                events: vec![
                    ev(0, 1, "session-start", "B"),
                    frame("s1", 1, 0, "send"),
                    frame("s2", 2, 0, "send"),
                    frame("s1", 3, 1, "deliver"),
                    frame("s2", 4, 1, "deliver"),
                ],
            },
            ..Page::default()
        };
        let html = page.html();
        assert_eq!(html.matches("<g class=\"frame ").count(), 2);
        assert!(html.contains(&format!("style=\"color:{}\"", SESSION_COLOURS[0])));
        assert!(html.contains(&format!("style=\"color:{}\"", SESSION_COLOURS[1])));
        assert!(
            html.contains("a.rs:1 data#0 3B s2"),
            "labels name the session"
        );
        assert!(html.contains("<th>sessions</th>"));
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_its_data() {
        let page = Page {
            title: "t <b>".into(),
            trace: Trace {
                events: vec![ev(0, 0, "session-start", "A"), ev(5, 0, "session-end", "A")],
            },
            ..Page::default()
        };
        let html = page.html();
        assert!(html.contains("t &lt;b&gt;"));
        assert!(
            !html.contains("ok 1 </script>"),
            "data must not close its script"
        );
        assert!(!html.contains("http://") || !html.contains("src=\"http"));
        assert!(!html.contains("<script src"));
        assert_eq!(html.matches("class=\"mark end\"").count(), 1);
    }
}
