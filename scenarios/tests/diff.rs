//! `rehearsal diff A B` on traces and repro files, and the diff a diverged `replay` prints.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rehearsal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("the rehearsal binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rehearsal-diff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs bookseller at `seed` and writes its trace to `dir/NAME.jsonl`.
fn trace(dir: &Path, seed: &str) -> PathBuf {
    let path = dir.join(format!("seed-{seed}.jsonl"));
    let o = rehearsal(&[
        "run",
        "bookseller",
        "--seed",
        seed,
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    path
}

/// The event lines of a trace file, as written.
fn event_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "event")
        .collect()
}

#[test]
fn two_seeds_differ_at_their_first_differing_event_and_one_seed_is_identical() {
    let d = dir("seeds");
    let (a, b, a2) = (trace(&d, "7"), trace(&d, "8"), trace(&d, "7"));
    // The same seed twice: identical.
    let same = rehearsal(&["diff", a.to_str().unwrap(), a2.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    let events = event_lines(&a).len();
    assert!(
        stdout(&same).contains(&format!("identical: the same {events} events")),
        "{}",
        stdout(&same)
    );
    // Two seeds: the first differing event, found here from the JSON itself.
    let (x, y) = (event_lines(&a), event_lines(&b));
    let first = x
        .iter()
        .zip(&y)
        .position(|(p, q)| p != q)
        .expect("the seeds differ");
    let o = rehearsal(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("first difference: event #{first}")),
        "expected #{first}:\n{text}"
    );
    assert!(
        text.contains(&format!("shared prefix: {first} event(s)")) || first == 0,
        "{text}"
    );
    assert!(
        text.contains("bookseller seed 7") && text.contains("bookseller seed 8"),
        "{text}"
    );
    // Both continuations: the differing event of each side is named, with its time.
    let t = |v: &serde_json::Value| {
        let us = v["t_us"].as_u64().unwrap();
        format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
    };
    let (ta, tb) = (t(&x[first]), t(&y[first]));
    let line_a = text.lines().find(|l| l.starts_with("  A ")).unwrap();
    let line_b = text.lines().find(|l| l.starts_with("  B ")).unwrap();
    assert!(line_a.contains(&ta) && line_b.contains(&tb), "{text}");
    assert!(text.contains("continuations, side by side"), "{text}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_repro_file_is_re_run_and_bad_input_is_named() {
    let repro = "fault-plans/regressions/nest-loop-817.toml";
    let o = rehearsal(&["diff", repro, repro]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("(re-run): nest-loop seed 817"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("identical"), "{}", stdout(&o));

    let d = dir("bad");
    let bad = d.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"type\":\"event\",\"kind\":\"teleport\",\"node\":0,\"t_us\":0}\n",
    )
    .unwrap();
    let o = rehearsal(&["diff", bad.to_str().unwrap(), repro]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.jsonl:1: unknown event kind `teleport`"),
        "{err}"
    );
    let o = rehearsal(&["diff", "no/such/file.jsonl", repro]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read no/such/file.jsonl"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_diverged_replay_prints_where_it_diverged_from_the_recorded_trace() {
    let d = dir("replay");
    // A committed regression: fixed since, so its replay diverges from the recorded hash.
    let repro = d.join("nest-loop-817.toml");
    std::fs::copy(
        repo().join("fault-plans/regressions/nest-loop-817.toml"),
        &repro,
    )
    .unwrap();
    let o = rehearsal(&["replay", repro.to_str().unwrap()]);
    let text = stdout(&o);
    assert!(text.contains("DIVERGED"), "{text}");
    assert!(text.contains("no recorded trace at"), "{text}");
    // With a recorded trace beside it (here: another seed's), the replay shows the diff.
    let recorded = d.join("nest-loop-817.jsonl");
    let o = rehearsal(&[
        "run",
        "nest-loop",
        "--seed",
        "1",
        "--trace",
        recorded.to_str().unwrap(),
    ]);
    assert!(o.status.code().is_some());
    let html = d.join("replay.html");
    let o = rehearsal(&[
        "replay",
        repro.to_str().unwrap(),
        "--diagram",
        html.to_str().unwrap(),
    ]);
    let text = stdout(&o);
    assert!(text.contains("first difference: event #"), "{text}");
    assert!(text.contains("recorded "), "{text}");
    assert!(
        text.lines().last().unwrap().starts_with("trace-hash "),
        "the output still ends with the trace hash:\n{text}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("DIVERGED"),
        "the diagram notes the divergence"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
