//! `--diagram FILE.html`, looked at in headless Chromium: the DOM after the page's scripts
//! ran has one arrow per frame of the trace, one box per checkpoint block instance and the
//! crash mark on the crashed participant's lifeline; a screenshot is saved; a 10,000-event
//! diagram stays small and its load time is printed.
#![cfg(madsim)]

mod browser;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `rehearsal run ARGS --diagram DIR/NAME.html --trace DIR/NAME.jsonl`; returns the
/// two paths.
fn run_with_diagram(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, PathBuf) {
    let html = dir.join(format!("{name}.html"));
    let trace = dir.join(format!("{name}.jsonl"));
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .current_dir(repo())
        .arg("run")
        .args(args)
        .arg("--diagram")
        .arg(&html)
        .arg("--trace")
        .arg(&trace)
        .output()
        .expect("the rehearsal binary runs");
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (html, trace)
}

/// The trace's events, read from its JSON lines (independently of the crate's reader).
fn events(trace: &Path) -> Vec<Value> {
    std::fs::read_to_string(trace)
        .expect("the trace was written")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .filter(|v| v["type"] == "event")
        .collect()
}

const FRAME_KINDS: [&str; 10] = [
    "send",
    "deliver",
    "receive",
    "retransmit",
    "duplicate",
    "net-drop",
    "net-duplicate",
    "hold",
    "drop-finished",
    "drop-stale",
];

/// Distinct frames: (session, from, to, lane, seq) of every frame event.
fn frames(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| FRAME_KINDS.contains(&e["kind"].as_str().unwrap_or("")))
        .map(|e| {
            (
                e["session"].to_string(),
                e["from"].to_string(),
                e["to"].to_string(),
                e["lane"].to_string(),
                e["seq"].to_string(),
            )
        })
        .collect::<BTreeSet<_>>()
        .len()
}

/// Distinct checkpoint block instances: (session, block id) of every block-enter.
fn blocks(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["kind"] == "block-enter")
        .map(|e| {
            (
                e["session"].to_string(),
                e["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect::<BTreeSet<_>>()
        .len()
}

/// The x coordinate of the lifeline head named `name` in the dumped DOM.
fn head_x(dom: &str, name: &str) -> String {
    let needle = format!("\">{name}</text>");
    let end = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("no head {name}"));
    let start = dom[..end].rfind("<text x=\"").expect("a text tag") + "<text x=\"".len();
    dom[start..start + dom[start..].find('"').unwrap()].to_string()
}

#[test]
fn alice_divides_by_zero_renders_its_frames_block_and_crash_in_chromium() {
    let dir = browser::fresh_dir("diagram-alice-bob");
    let (html, trace) = run_with_diagram(
        &dir,
        "alice-bob-7",
        &[
            "alice-bob",
            "--seed",
            "7",
            "--plan",
            "fault-plans/alice-divides-by-zero.toml",
        ],
    );
    let page = std::fs::read_to_string(&html).expect("the diagram was written");
    // Same seed and plan, same page, byte for byte.
    let (again, _) = run_with_diagram(
        &dir,
        "alice-bob-7-again",
        &[
            "alice-bob",
            "--seed",
            "7",
            "--plan",
            "fault-plans/alice-divides-by-zero.toml",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        page,
        "the page is deterministic"
    );
    // Self-contained: no external script, style, image or font; the only URL is the SVG
    // namespace.
    assert!(!page.contains(" src="), "the page loads a resource");
    assert!(!page.contains("@import") && !page.contains("url(http"));
    assert_eq!(
        page.matches("http").count(),
        page.matches("http://www.w3.org/2000/svg").count(),
        "the page names a URL besides the SVG namespace"
    );
    let events = events(&trace);
    let (want_frames, want_blocks) = (frames(&events), blocks(&events));
    assert!(
        want_frames >= 4 && want_blocks == 1,
        "{want_frames} {want_blocks}"
    );

    let Some(chromium) = browser::browser() else {
        return;
    };
    let (dom, took) = browser::dump_dom(&chromium, &html, 2_000);
    println!("alice-bob seed 7: {} bytes, loaded in {took:?}", page.len());
    // The script ran: it counted the hoverable elements and read every event.
    let ready: usize = browser::attribute(&dom, "<body", "data-ready")
        .expect("the page's script ran")
        .parse()
        .unwrap();
    assert!(ready > want_frames, "{ready}");
    assert_eq!(
        browser::attribute(&dom, "<body", "data-events"),
        Some(events.len().to_string())
    );
    assert_eq!(
        browser::count(&dom, "<g class=\"frame "),
        want_frames,
        "one arrow per frame"
    );
    assert_eq!(
        browser::count(&dom, "<g class=\"block"),
        want_blocks,
        "one box per block"
    );
    assert_eq!(
        browser::count(&dom, "<g class=\"block rescued\""),
        1,
        "the block was rescued"
    );
    // The crash mark sits on Alice's lifeline and stands for the planned panic.
    assert_eq!(browser::count(&dom, "<g class=\"mark crash\""), 1);
    let crash = &dom[dom.find("<g class=\"mark crash\"").unwrap()..];
    let index: usize = browser::attribute(crash, "<g", "data-e")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(events[index]["kind"], "fault");
    assert!(
        events[index]["detail"]
            .as_str()
            .unwrap()
            .starts_with("panic Alice")
    );
    assert_eq!(
        browser::attribute(crash, "<use", "x"),
        Some(head_x(&dom, "Alice")),
        "the crash mark is on Alice's lifeline"
    );
    assert_eq!(
        browser::count(&dom, "<g class=\"mark rescue\""),
        2,
        "both rescued"
    );

    // Hovering the crash mark shows its full event: the page's own script, driven by a
    // synthetic pointer event appended to a copy of the page.
    let hover = dir.join("hover.html");
    std::fs::write(
        &hover,
        page.replace(
            "</body>",
            "<script>var m = document.querySelector('g.mark.crash use');\
             var r = m.getBoundingClientRect();\
             m.dispatchEvent(new MouseEvent('mouseover', {bubbles: true, clientX: r.x, clientY: r.y}));\
             </script></body>",
        ),
    )
    .unwrap();
    let (dom, _) = browser::dump_dom(&chromium, &hover, 2_000);
    let tip = &dom[dom.find("<div id=\"tip\"").expect("the tooltip")..];
    let tip = &tip[..tip.find("</div>").unwrap()];
    assert!(!tip.contains("hidden"), "the tooltip is shown: {tip}");
    assert!(
        tip.contains(&format!("#{index}  0.001000 s  n0  fault")) && tip.contains("panic Alice"),
        "the tooltip shows the crash's event: {tip}"
    );
    assert!(
        tip.contains("site \"divide\"@scenarios/src/alice_bob.rs"),
        "{tip}"
    );

    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram-alice-bob-7.png");
    let _ = std::fs::remove_file(&png);
    browser::screenshot(&chromium, &html, &png, 1000, 900);
    let shot = std::fs::read(&png).expect("the screenshot was saved");
    assert!(
        shot.starts_with(b"\x89PNG") && shot.len() > 10_000,
        "{}",
        shot.len()
    );
    println!("screenshot: {}", png.display());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_ten_thousand_event_diagram_is_small_and_opens_in_chromium() {
    let dir = browser::fresh_dir("diagram-workers");
    let (html, trace) = run_with_diagram(
        &dir,
        "workers-64",
        &["workers", "-p", "n=64", "--seed", "3"],
    );
    let events = events(&trace);
    assert!(events.len() >= 10_000, "only {} events", events.len());
    let size = std::fs::metadata(&html).unwrap().len();
    println!(
        "workers n=64 seed 3: {} events, diagram {size} bytes ({:.2} MB)",
        events.len(),
        size as f64 / 1e6
    );
    assert!(size < 5_000_000, "the diagram is {size} bytes");
    let Some(chromium) = browser::browser() else {
        return;
    };
    let (dom, took) = browser::dump_dom(&chromium, &html, 1_000);
    println!("workers n=64 seed 3: chromium loaded and ran the page in {took:?}");
    assert_eq!(browser::count(&dom, "<g class=\"frame "), frames(&events));
    assert_eq!(
        browser::attribute(&dom, "<body", "data-events"),
        Some(events.len().to_string())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
