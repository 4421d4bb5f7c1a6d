//! The explorer's failure report: the shrunk failing case gets its diagram (`NAME.html`)
//! and its trace (`NAME.jsonl`) written beside its repro file, and the trace is the run the
//! repro records.
#![cfg(madsim)]

use std::process::Command;

#[test]
fn the_explorer_writes_the_shrunk_failures_diagram_and_trace_beside_its_repro() {
    let dir =
        std::env::temp_dir().join(format!("rehearsal-explore-diagram-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .args([
            "explore",
            "planted-impatience",
            "--seeds",
            "2000",
            "--swarm",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let html = stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("diagram: "))
        .unwrap_or_else(|| panic!("no diagram line in:\n{stdout}"));
    let html = std::path::Path::new(html);
    let repro = html.with_extension("toml");
    let trace = html.with_extension("jsonl");
    let page = std::fs::read_to_string(html).expect("the diagram was written");
    assert!(page.contains("violation(s)"), "the page shows the verdict");
    assert!(page.contains("[[fault]]"), "the page shows the shrunk plan");
    let repro = std::fs::read_to_string(&repro).expect("the repro was written");
    let recorded = repro
        .lines()
        .find_map(|l| l.strip_prefix("trace_hash = "))
        .expect("the repro records a trace hash")
        .trim_matches('"')
        .to_string();
    let summary = std::fs::read_to_string(&trace)
        .expect("the trace was written")
        .lines()
        .last()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .unwrap();
    assert_eq!(
        summary["trace_hash"],
        recorded.as_str(),
        "the trace is the recorded run's"
    );
    assert!(page.contains(&recorded), "the page names the trace hash");
    std::fs::remove_dir_all(&dir).unwrap();
}
