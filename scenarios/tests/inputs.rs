//! The harness survives its own input (issue 18): every bad or large input a new user tried
//! gets a clear error or its documented result, never a panic, a hang or unbounded memory.
//! Each test runs the `rehearsal` binary as a user does (sim mode only).
#![cfg(madsim)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rehearsal")
}

fn rehearsal(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("the rehearsal binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts exit status 2 (within a minute: a refusal comes before any work) and an error on
/// stderr containing `want`, and nothing on stdout.
fn refused(args: &[&str], want: &str) {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rehearsal binary runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} ran for a minute instead of being refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: expected `{want}` in: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(stdout(&o).is_empty(), "{args:?} ran anyway: {}", stdout(&o));
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rehearsal-inputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `rehearsal args` under a 1.5 GB address-space limit, stdout and stderr piped.
fn spawn_limited(args: &[&str]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1500000 && exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs")
}

/// Sends SIGINT to `child`.
fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
}

/// Waits for `child` to exit, at most `limit`; kills it and fails the test past that.
fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Forwards `child`'s stderr lines to a channel (and keeps reading so it never blocks).
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn numbers_a_person_types_say_what_was_wrong() {
    refused(
        &["run", "bookseller", "--seed", "-1"],
        "-1 is negative: must be at least 0",
    );
    refused(
        &["run", "counter", "--loss", "-0.1"],
        "-0.1 is negative: must be at least 0",
    );
    refused(
        &["run", "bookseller", "-p", "budget=18446744073709551616"],
        "18446744073709551616 is out of range; expected a whole number from 0 to 18446744073709551615",
    );
    refused(
        &["run", "bookseller", "--seed", "18446744073709551616"],
        "must be at most 18446744073709551615",
    );
    refused(
        &["run", "counter", "--latency", "-5..2"],
        "must be at least 0",
    );
    refused(&["explore", "--seeds", "0"], "0 leaves nothing to do");
    refused(
        &["explore", "counter", "--shard", "5/10", "--seeds", "3"],
        "--shard 5/10 of 3 seed(s) is empty",
    );
    refused(
        &[
            "explore",
            "counter",
            "--faults",
            "crash,pause",
            "--max-down",
            "0",
        ],
        "no fault can fire",
    );
    refused(
        &[
            "explore",
            "counter",
            "--first-seed",
            "2",
            "--seeds",
            "18446744073709551615",
        ],
        "the range passes the last seed",
    );
    refused(&["explore", "counter", "--time-limit", "0"], "more than 0");
    refused(
        &["run", "counter", "--time-limit", "-1"],
        "must be more than 0",
    );
}

#[test]
fn jobs_0_means_one_per_core() {
    let dir = temp_dir("jobs");
    let o = rehearsal(&[
        "explore",
        "counter",
        "--seeds",
        "2",
        "--jobs",
        "0",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let last = stdout(&o).lines().last().unwrap_or_default().to_string();
    assert!(last.contains(&format!(", {cores} job(s)")), "{last}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn censuses_past_the_simulators_range_are_refused_before_anything_runs() {
    // The runtime accepts 65,535 participants; the workers scenario runs at most 500 (its
    // session end grows with n squared), and says so at once.
    for n in ["n=65534", "n=2000"] {
        refused(
            &["run", "workers", "-p", n],
            "is out of range; expected a whole number from 1 to 500",
        );
    }
    refused(
        &["run", "flat-loop", "-p", "laps=10000000"],
        "expected a whole number from 0 to 10000",
    );
    let list = stdout(&rehearsal(&["list"]));
    assert!(
        list.contains("param n=3 in 1..=500") && list.contains("n squared"),
        "{list}"
    );
}

#[test]
fn a_long_run_shows_progress_on_stderr() {
    let o = rehearsal(&["run", "workers", "-p", "n=16", "--progress-after", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.lines().any(|l| l.starts_with("progress after 0 s: ")
            && l.contains(" nodes started, ")
            && l.contains(" participants finished, ")),
        "{err}"
    );
    // Progress is stderr only: stdout is the run's, byte for byte.
    let quiet = rehearsal(&["run", "workers", "-p", "n=16"]);
    assert_eq!(stdout(&o), stdout(&quiet));
    assert!(stderr(&quiet).is_empty(), "{}", stderr(&quiet));
}

#[test]
fn fractions_of_a_second_are_time_limits_and_replay_as_recorded() {
    let o = rehearsal(&["run", "counter", "--time-limit", "0.05"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("within 50ms of simulated time"), "{out}");
    assert!(out.contains("--time-limit 0.05"), "{out}");

    let dir = temp_dir("fraction");
    let o = rehearsal(&[
        "explore",
        "counter",
        "--seeds",
        "1",
        "--time-limit",
        "0.05",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let file = dir.join("counter-0.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("time_limit_s = 0.05\n"), "{text}");
    let r = rehearsal(&["replay", file.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        stdout(&r).contains("trace-hash matches the recorded")
            && stdout(&r).contains("result    violated"),
        "{}",
        stdout(&r)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replay_says_whether_it_matched_diverged_or_violated() {
    // A shipped regression whose bug is fixed: every oracle holds, the trace differs.
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fault-plans/regressions/nest-loop-817.toml");
    let o = rehearsal(&["replay", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("verdict   every oracle held"), "{out}");
    assert!(
        out.contains("result    diverged: every oracle held"),
        "{out}"
    );
    let o = rehearsal(&["replay", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(summary["passed"], true);
    assert_eq!(summary["replay"], "diverged");
    assert_eq!(summary["result"], "diverged");
    assert_eq!(
        summary["recorded_trace_hash"].as_str().map(str::len),
        Some(16)
    );

    // A repro that matches and still fails: `violated`; the same file without its hash and
    // with a fixed oracle would be `passed` (exit 0), which `run` shows for the plan-free case.
    let dir = temp_dir("replay");
    let o = rehearsal(&[
        "explore",
        "counter",
        "--seeds",
        "1",
        "--time-limit",
        "0.02",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let file = dir.join("counter-0.toml");
    let o = rehearsal(&["replay", "--format", "json", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(summary["replay"], "matched");
    assert_eq!(summary["result"], "violated");
    // Without a recorded hash and with a time limit that lets it finish, it passes: exit 0.
    let text = std::fs::read_to_string(&file).unwrap();
    let passing: String = text
        .lines()
        .filter(|l| !l.starts_with("trace_hash"))
        .map(|l| {
            if l.starts_with("time_limit_s") {
                "time_limit_s = 600\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let fixed = dir.join("fixed.toml");
    std::fs::write(&fixed, passing).unwrap();
    let o = rehearsal(&["replay", "--format", "json", fixed.to_str().unwrap()]);
    let summary: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(summary["replay"], "unrecorded");
    assert_eq!(summary["result"], "passed");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // shrink: 1 when the input does not fail, 0 when it wrote a failing plan, 2 (before any
    // work) when it cannot write its output.
    let o = rehearsal(&["shrink", fixed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing to shrink"), "{}", stderr(&o));
    let out = dir.join("shrunk.toml");
    let o = rehearsal(&[
        "shrink",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("trace_hash")
    );
    let before = std::fs::read_to_string(&file).unwrap();
    refused(
        &[
            "shrink",
            file.to_str().unwrap(),
            "--out",
            "/nonexistent-dir/shrunk.toml",
        ],
        "cannot write /nonexistent-dir/shrunk.toml",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    refused(
        &["run", "counter", "--trace", "/nonexistent-dir/t.jsonl"],
        "cannot write /nonexistent-dir/t.jsonl",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_whole_u64_seed_range_runs_in_bounded_memory_and_an_interrupt_prints_the_summary() {
    let dir = temp_dir("range");
    let mut child = spawn_limited(&[
        "explore",
        "counter",
        "--seeds",
        "18446744073709551615",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let _lines = stderr_lines(&mut child);
    // Materialising the range took 6.7 GB in 10 s; under the 1.5 GB limit such a run dies.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the explorer exited early"
    );
    interrupt(&child);
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(
        out.contains("interrupted: the summary covers the seeds that ran"),
        "{out}"
    );
    let last = out.lines().last().unwrap_or_default();
    assert!(last.contains("seeds, 0 violation(s)"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_interrupt_after_a_failure_keeps_its_repro_and_it_replays() {
    let dir = temp_dir("interrupt");
    let mut child = spawn_limited(&[
        "explore",
        "planted-impatience",
        "--seeds",
        "18446744073709551615",
        "--swarm",
        "--keep-going",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let lines = stderr_lines(&mut child);
    let start = Instant::now();
    let saved = loop {
        match lines.recv_timeout(Duration::from_secs(300)) {
            Ok(line) => {
                if let Some(rest) = line.trim_start().strip_prefix("saved ") {
                    break PathBuf::from(rest.trim_end_matches(" (shrinking)"));
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no failure saved after {:?}", start.elapsed());
            }
        }
    };
    // The file is there before the interrupt: written as soon as the failure was found.
    assert!(saved.exists(), "{}", saved.display());
    interrupt(&child);
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(1), "a violation was found: {out}");
    assert!(out.contains("interrupted"), "{out}");
    assert!(
        out.contains(&format!(
            "replay: cargo rehearsal replay {}",
            saved.display()
        )),
        "{out}"
    );
    // Nothing half-written: only finished repro files in the folder, each shrunk one with its
    // diagram and trace beside it (no temporary file of a write-then-rename left behind).
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name.starts_with("planted-impatience-")
                && [".toml", ".html", ".jsonl"]
                    .iter()
                    .any(|e| name.ends_with(e)),
            "{name}"
        );
    }
    let r = rehearsal(&["replay", saved.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    assert!(
        stdout(&r).contains("trace-hash matches the recorded"),
        "{}",
        stdout(&r)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
