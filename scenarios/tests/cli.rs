//! The `rehearsal` command line, run as a user runs it (sim mode only: the binary needs the
//! simulator).
#![cfg(madsim)]

use std::process::{Command, Output};

fn rehearsal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .args(args)
        .output()
        .expect("the rehearsal binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

fn hash_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_string()
}

#[test]
fn the_same_seed_prints_the_same_output_and_another_seed_another_hash() {
    let a = rehearsal(&["run", "bookseller", "--seed", "7"]);
    let b = rehearsal(&["run", "bookseller", "--seed", "7"]);
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(stdout(&a), stdout(&b));
    let last = hash_line(&a);
    let hex = last
        .strip_prefix("trace-hash ")
        .expect("the output ends with the trace hash");
    assert_eq!(hex.len(), 16);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{last}");
    assert!(stdout(&a).contains("reproduce cargo rehearsal run bookseller --seed 7"));
    let c = rehearsal(&["run", "bookseller", "--seed", "8"]);
    assert_ne!(hash_line(&c), last);
}

#[test]
fn an_unknown_scenario_exits_2_and_names_the_known_ones() {
    let o = rehearsal(&["run", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for name in ["bookseller", "alice-bob", "counter", "workers"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn bad_parameters_and_network_settings_exit_2_with_the_reason() {
    let o = rehearsal(&["run", "workers", "-p", "n=lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("`lots` is not a whole number"));
    let o = rehearsal(&["run", "counter", "--loss", "1.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1.5 is out of range: must be less than 1")
    );
    let o = rehearsal(&["run"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn json_output_parses_line_by_line_and_trace_file_holds_it() {
    let dir = std::env::temp_dir().join(format!("rehearsal-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("trace.jsonl");
    let o = rehearsal(&[
        "run",
        "workers",
        "--seed",
        "3",
        "-p",
        "n=4",
        "--format",
        "json",
        "--trace",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(lines.iter().filter(|v| v["type"] == "event").count() > 10);
    assert_eq!(lines.iter().filter(|v| v["type"] == "outcome").count(), 5);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["passed"], true);
    assert_eq!(summary["trace_hash"].as_str().unwrap().len(), 16);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), out);
    // The text form of the same run carries the same hash.
    let text = rehearsal(&["run", "workers", "--seed", "3", "-p", "n=4"]);
    assert_eq!(
        hash_line(&text),
        format!("trace-hash {}", summary["trace_hash"].as_str().unwrap())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn list_shows_every_scenario() {
    let o = rehearsal(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("sum-is-triangular") && out.contains("Worker[n]"),
        "{out}"
    );
}

#[test]
fn explore_takes_parameters_for_every_scenario_it_explores() {
    let out = std::env::temp_dir().join(format!("rehearsal-cli-params-{}", std::process::id()));
    let out = out.to_str().unwrap();
    let o = rehearsal(&[
        "explore",
        "warehouse",
        "-p",
        "abort=2",
        "--seeds",
        "20",
        "--faults",
        "all",
        "--out",
        out,
    ]);
    let text = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("20 seeds, 0 violation(s)"), "{text}");
    // Each scenario must have the parameters: travel has no `abort`.
    let o = rehearsal(&[
        "explore",
        "warehouse",
        "travel",
        "-p",
        "abort=2",
        "--out",
        out,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown parameter `abort`; scenario `travel` has"),
        "{err}"
    );
    let o = rehearsal(&["explore", "warehouse", "-p", "qty=0", "--out", out]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("parameter `qty`: 0 is out of range"), "{err}");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn explore_prints_coverage_and_fails_when_a_required_path_is_never_walked() {
    let out = std::env::temp_dir().join(format!("rehearsal-cli-cover-{}", std::process::id()));
    let out = out.to_str().unwrap();
    let explore = |faults: &str, required: &str| {
        rehearsal(&[
            "explore",
            "bookseller",
            "--seeds",
            "30",
            "--faults",
            faults,
            "--require-coverage",
            required,
            "--out",
            out,
        ])
    };
    // Crashes restart nodes: the required path is walked, and the table says how often.
    let o = explore("crash", "restart");
    let text = stdout(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{text}{err}");
    assert!(
        text.contains("coverage: seeds that walked each recovery path"),
        "{text}"
    );
    let mut table = text
        .lines()
        .skip_while(|l| !l.starts_with("coverage:"))
        .skip(1);
    let header: Vec<&str> = table
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let row: Vec<&str> = table
        .find(|l| l.starts_with("bookseller"))
        .unwrap_or_else(|| panic!("no coverage row: {text}"))
        .split_whitespace()
        .collect();
    let restart = header.iter().position(|h| *h == "restart").unwrap();
    let seeds: u64 = row[restart].parse().unwrap_or_else(|_| panic!("{row:?}"));
    assert!((1..=30).contains(&seeds), "{text}");
    assert!(!text.contains("coverage not reached"), "{text}");
    // Bookseller has no saga: no seed compensates, and requiring it fails the exploration.
    let o = explore("delay", "compensate");
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("coverage not reached: bookseller: no seed walked `compensate`"),
        "{text}"
    );
    assert!(text.contains("30 seeds, 0 violation(s)"), "{text}");
    // A name that is not a path is bad usage, named with the paths there are.
    let o = explore("delay", "rescu");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "unknown recovery path `rescu`; expected `all`, `expected`, `goals` or a comma-separated list of retransmit"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn explore_exhaustive_runs_every_single_fault_and_the_pairs_it_opens_within_its_bound() {
    let out = std::env::temp_dir().join(format!("rehearsal-cli-exh-{}", std::process::id()));
    let dir = out.to_str().unwrap();
    let exhaustive = |extra: &[&str]| {
        let mut args = vec!["explore", "bookseller", "--exhaustive", "--out", dir];
        args.extend_from_slice(extra);
        rehearsal(&args)
    };
    // Crashes at every (participant, site, occurrence) of bookseller's fault-free run, then a
    // second crash at each site or occurrence the replay after the first one reached.
    let o = exhaustive(&["--faults", "crash"]);
    let text = stdout(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{text}{err}");
    let line = text
        .lines()
        .find(|l| l.starts_with("exhaustive: bookseller has "))
        .unwrap_or_else(|| panic!("no case count: {text}"));
    let counts: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [single, pairs] = counts[..] else {
        panic!("{line}")
    };
    assert!(single >= 10 && pairs >= 1, "{line}");
    assert!(
        text.contains(&format!("{} cases, 0 violation(s)", single + pairs)),
        "{text}"
    );
    assert!(text.contains("coverage: cases that walked"), "{text}");
    // The same run, the same counts: nothing is sampled.
    assert_eq!(
        stdout(&exhaustive(&["--faults", "crash"]))
            .lines()
            .find(|l| l.starts_with("exhaustive: ")),
        Some(line)
    );
    // A bound below the cases is bad usage, naming the count, and no sample runs instead.
    let o = exhaustive(&["--faults", "crash", "--max-cases", "3"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{single} case(s), more than --max-cases 3")),
        "{err}"
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    // At depth 2 the pairs are counted only until they surely pass the bound: never held
    // in memory past it.
    let o = exhaustive(&["--faults", "all", "--depth", "2", "--max-cases", "500"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the single faults and the pairs of faults come to at least "),
        "{err}"
    );
    // Random-plan options make no sense with it.
    let o = exhaustive(&["--seeds", "5"]);
    assert_eq!(o.status.code(), Some(2));
    // A failing case is saved under its case number and replays to the same violation.
    let o = exhaustive(&["--faults", "delay", "--time-limit", "0.001"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("violation: bookseller case 1: "), "{text}");
    let repro = out.join("bookseller-case1.toml");
    let r = rehearsal(&["replay", repro.to_str().unwrap()]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}{}",
        stdout(&r),
        String::from_utf8_lossy(&r.stderr)
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn explore_requires_each_scenarios_expected_paths_and_its_own_goals() {
    let out = std::env::temp_dir().join(format!("rehearsal-cli-expect-{}", std::process::id()));
    let dir = out.to_str().unwrap();
    let explore = |seeds: &str, faults: &str| {
        rehearsal(&[
            "explore",
            "alice-bob",
            "--seeds",
            seeds,
            "--faults",
            faults,
            "--max-down",
            "2",
            "--require-coverage",
            "expected",
            "--out",
            dir,
        ])
    };
    // Every fault kind, two nodes down at a time: alice-bob rescues, replays, is killed while
    // it replays, and reaches its own goal (Alice answered inside the rescue).
    let o = explore("300", "all");
    let text = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let goals = text
        .lines()
        .find(|l| l.starts_with("goals of alice-bob (ch.sometimes)"))
        .unwrap_or_else(|| panic!("no goal line: {text}"));
    let reached: u64 = goals
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{goals}"));
    assert!((1..=300).contains(&reached), "{goals}");
    // Delays alone never kill a node nor run the rescue: the expected paths go unwalked, and
    // the goal in the rescue is never even checked; both are named.
    let o = explore("20", "delay");
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    for missing in [
        "coverage not reached: alice-bob: no seed walked `restart`",
        "no seed walked `replay-crash`",
        "no seed walked `answered-after-rescue` (a ch.sometimes goal the scenario expects: no run even checked it)",
    ] {
        assert!(text.contains(missing), "{missing}: {text}");
    }
    assert!(text.contains("20 seeds, 0 violation(s)"), "{text}");
    let _ = std::fs::remove_dir_all(&out);
}
