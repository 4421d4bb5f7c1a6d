//! The harness as a library, on choreographies defined here (not the shipped ones): a
//! registry of a test's own, typed oracles, `Rehearse::check` passing, a planted bug found,
//! shrunk, saved and replayed from the printed command with the same trace hash.
#![cfg(madsim)]

use std::path::PathBuf;
use std::process::Command;

use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
use rehearsal_sim::rehearse::{REPLAY_VAR, replay};
use rehearsal_sim::scenario::{Param, Registry, Scenario};
use rehearsal_sim::{FaultKind, Outputs, Rehearse};

roles!(Client, Server);

/// Client sends `x`, Server doubles it, both learn the result.
#[derive(Clone)]
struct Double(u64);

impl Choreography for Double {
    type Census = Roles![Client, Server];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let x = ch.locally(Client, |_| self.0).await?;
        let x = ch.at("request").comm(Client, Server, &x).await?;
        let y = ch.locally(Server, |s| s.get(&x) * 2).await?;
        ch.at("result").broadcast(Server, y).await
    }
}

/// The planted bug: Client gives up on its own when the reply takes over 1.5 s of
/// simulated time, without telling Server.
#[derive(Clone)]
struct Impatient;

impl Choreography for Impatient {
    type Census = Roles![Client, Server];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        let started = ch.locally(Client, |_| tokio::time::Instant::now()).await?;
        let req = ch.locally(Client, |_| 21u64).await?;
        let req = ch.at("request").comm(Client, Server, &req).await?;
        let rep = ch.locally(Server, |s| s.get(&req) * 2).await?;
        let rep = ch.at("reply").comm(Server, Client, &rep).await?;
        let verdict = ch
            .locally(Client, |c| {
                if c.get(&started).elapsed() > std::time::Duration::from_millis(1_500) {
                    "gave up".to_string()
                } else {
                    format!("got {}", c.get(&rep))
                }
            })
            .await?;
        ch.at("verdict").broadcast(Client, verdict).await
    }
}

fn double() -> Scenario {
    Scenario::new("double", "Server doubles Client's number", |p| {
        Ok(Double(p.get("x")))
    })
    .param(Param {
        name: "x",
        default: 21,
        summary: "the number sent",
    })
    .range("x", 0, 1_000_000, "")
    .oracle("doubles", "every participant ends with 2x", |p, out| {
        for (who, y) in out.values()? {
            if *y != 2 * p.get("x") {
                return Err(format!("{who} ended with {y}; expected {}", 2 * p.get("x")));
            }
        }
        Ok(())
    })
    .build()
}

fn impatient() -> Rehearse {
    Rehearse::choreography("impatient", Impatient)
        .seeds(0..300)
        .faults([FaultKind::Delay, FaultKind::Partition, FaultKind::Pause])
        .jobs(2)
        .out_dir(out_dir())
}

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rehearse")
}

#[test]
fn a_users_registry_explores_with_typed_oracles_and_every_fault_kind() {
    let registry = Registry::new().with(double());
    let scenario = registry.find("double").unwrap();
    Rehearse::new(scenario)
        .params(["x=7"])
        .seeds(0..120)
        .jobs(2)
        .oracle("client-sees-14", |_, out: &Outputs<u64>| {
            out.of("Client")
                .and_then(|y| (*y == 14).then_some(()).ok_or(format!("Client saw {y}")))
        })
        .check();
}

#[test]
fn a_wrong_custom_oracle_is_reported_by_name_with_the_typed_value() {
    let r = Rehearse::new(&double())
        .seeds(0..3)
        .jobs(1)
        .out_dir(out_dir())
        .oracle("wants-43", |_, out: &Outputs<u64>| {
            out.of("Server").and_then(|y| {
                (*y == 43)
                    .then_some(())
                    .ok_or(format!("Server ended with {y}"))
            })
        })
        .run()
        .unwrap();
    let f = r.failure.expect("the oracle cannot hold");
    assert_eq!(f.found.seed, 0, "the first failing seed in seed order");
    assert!(
        f.contents
            .violations
            .contains(&"wants-43: Server ended with 42".to_string()),
        "{:?}",
        f.contents.violations
    );
}

#[test]
fn a_planted_bug_is_shrunk_saved_and_its_command_replays_the_same_trace() {
    let rehearse = impatient();
    let result = rehearse.run().unwrap();
    let f = result
        .failure
        .expect("delays and partitions make Client give up");
    let shrunk = f.shrunk.as_ref().expect("the shrunk plan still fails");
    assert!(shrunk.plan.faults.len() <= 2, "{}", shrunk.plan.to_toml());
    assert!(f.repro.exists());
    let report = rehearse.failure_report(&result.summary, &f);
    let last = report.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "replay: {REPLAY_VAR}={} cargo sim-test -p rehearsal-sim --test rehearse",
            f.repro.display()
        )),
        "{report}"
    );
    assert!(report.contains("outcome-equals-reference"), "{report}");
    // Replayed in-process: the same trace hash, the same failure.
    let (again, recorded) = replay(rehearse.scenario(), &f.repro).unwrap();
    assert_eq!(recorded.as_deref(), Some(again.hash_hex().as_str()));
    assert!(!again.passed());
    // And through the environment variable, as the printed command does it.
    let out = Command::new(std::env::current_exe().unwrap())
        .env(REPLAY_VAR, &f.repro)
        .args([
            "replays_what_the_environment_names",
            "--exact",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "trace-hash matches the recorded {}",
            again.hash_hex()
        )),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("an oracle was violated, as recorded"),
        "{stderr}"
    );
    // Every panic of the check is the report: it ends with the command.
    let panic = std::panic::catch_unwind(|| impatient().check()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.lines().last().unwrap().starts_with("replay: "),
        "{message}"
    );
}

/// Explores the planted bug; run alone with `REHEARSAL_REPLAY` set, it replays that file.
#[test]
fn replays_what_the_environment_names() {
    if std::env::var_os(REPLAY_VAR).is_none() {
        return;
    }
    impatient().check();
}

#[test]
fn rehearsal_seed_runs_one_seed_and_prints_its_trace() {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(rehearsal_sim::rehearse::SEED_VAR, "5")
        .args(["one_seed_of_double", "--exact", "--nocapture"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("seed") && l.split_whitespace().nth(1) == Some("5")),
        "{stdout}"
    );
    assert!(stdout.contains("verdict   every oracle held"), "{stdout}");
}

/// Rehearses `double`; with `REHEARSAL_SEED` set it runs that seed alone.
#[test]
fn one_seed_of_double() {
    Rehearse::new(&double()).seeds(0..20).jobs(1).check();
}

#[test]
fn a_users_registry_gets_the_whole_cli_with_its_own_replay_command() {
    let registry = Registry::new()
        .with(double())
        .command("cargo run -p my-crate --bin my-rehearsal --");
    let cli = |args: &[&str]| {
        let mut all = vec!["my-rehearsal"];
        all.extend_from_slice(args);
        rehearsal_sim::cli::run_args(&registry, all)
    };
    assert_eq!(cli(&["list"]), 0);
    assert!(
        rehearsal_sim::cli::list(&registry)
            .contains("oracle doubles: every participant ends with 2x")
    );
    assert_eq!(cli(&["run", "double", "--seed", "3", "-p", "x=4"]), 0);
    assert_eq!(
        cli(&["run", "dubble"]),
        2,
        "an unknown scenario is bad usage"
    );
    assert_eq!(cli(&["run", "double", "-p", "x=-1"]), 2);
    let dir = out_dir().join("cli");
    let dir = dir.to_str().unwrap();
    assert_eq!(
        cli(&["explore", "double", "--seeds", "30", "--out", dir]),
        0
    );
}
