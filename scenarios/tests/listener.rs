//! Nested sessions under faults, on the `listener` scenario (a server running each connection
//! as a nested session, one of which always fails at Cli): the four ways they used to break.
//!
//! * A hang: Srv crashed early and restarted replayed a connection that had failed, waiting for
//!   a reply from Cli, which had closed it (the failure notice in Srv's journal was ignored).
//! * Crashes not masked: a one-off panic inside a connection failed it, where the same panic
//!   in a top-level session is masked by replay.
//! * A reference that disagrees: Obs, in no connection, saw a failed connection as `Ok`.
//! * Panics far away: a panic planted at a send or a checkpoint fired at the role's next
//!   local step, somewhere else.
#![cfg(madsim)]

use std::time::Duration;

use rehearsal_sim::{FaultPlan, NetConfig, Report, Sim};

fn run(seed: u64, plan: &str, net: Option<NetConfig>) -> Report {
    let scenario = rehearsal_scenarios::find("listener").unwrap();
    let params = scenario.default_params();
    let program = scenario.program(&params).unwrap();
    let ctx = Sim::plan_context(&program).unwrap();
    let plan = FaultPlan::parse(plan, "test plan", &ctx).unwrap();
    let mut sim = Sim::new(seed)
        .plan(plan)
        .time_limit(Duration::from_secs(120));
    if let Some(net) = net {
        sim = sim.net(net);
    }
    sim.run_scenario(scenario, &params).unwrap()
}

fn events<'r>(report: &'r Report, kind: &str) -> Vec<&'r str> {
    report
        .trace
        .events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.detail.as_deref().unwrap_or_default())
        .collect()
}

/// Srv's process crashes at every 5 ms of the first 200 ms (restarted 100 ms later), over
/// a network of 10-30 ms latency: the session ends every time, with the reference run's
/// outcomes.
#[test]
fn a_crash_of_srv_in_the_first_200ms_never_hangs_the_session() {
    let net = NetConfig {
        latency_min_us: 10_000,
        latency_max_us: 30_000,
        ..NetConfig::default()
    };
    let mut fired = 0;
    for ms in (0..200).step_by(5) {
        let plan = format!(
            "[[fault]]\naction = \"crash\"\nat = {{ time = \"{ms}ms\", role = \"Srv\" }}\nrestart_after = \"100ms\"\n"
        );
        let report = run(1, &plan, Some(net));
        fired += events(&report, "fault").len();
        assert!(report.passed(), "crash at {ms} ms: {}", report.summary());
    }
    assert!(
        fired >= 30,
        "only {fired} of 40 crashes hit a running session"
    );
}

/// Srv crashes right after the failing connection's failure notice reached it (its journal
/// holds the notice; Cli has closed the connection): the replay does not wait for Cli.
#[test]
fn srv_restarted_after_a_connection_failed_does_not_wait_for_its_closed_peer() {
    let plan = "[[fault]]\naction = \"crash\"\nat = { site = \"sum\", role = \"Srv\", occurrence = 1 }\nrestart_after = \"100ms\"\n";
    let report = run(2, plan, Some(NetConfig::default()));
    assert!(report.passed(), "{}", report.summary());
    let srv = report.outcomes.get("Srv").unwrap().as_ref().unwrap();
    assert!(srv.contains("connection refused at Cli"), "{srv}");
}

/// A one-off panic of Cli inside connection 1 (outside its checkpoint: at the result
/// broadcast) is masked by replaying the connection: its answer still counts.
#[test]
fn a_one_off_panic_inside_a_connection_is_masked_by_replay() {
    let plan = "[[fault]]\naction = \"panic\"\nat = { site = \"result\", role = \"Cli\", occurrence = 1 }\nmessage = \"one-off\"\n";
    let report = run(3, plan, Some(NetConfig::default()));
    assert_eq!(events(&report, "fault").len(), 1);
    assert!(report.passed(), "{}", report.summary());
    let obs = report.outcomes.get("Obs").unwrap().as_ref().unwrap();
    // 1*1+1 + 3*3+1 + 4*4+1: connection 1 counts despite the panic.
    assert!(obs.contains("\"sum\":29"), "{obs}");
}

/// Fault-free, Obs (in no connection) sees the failing connection's error, as the reference
/// run does, and every role agrees on every connection's status.
#[test]
fn obs_sees_the_failed_connection_as_the_reference_run_does() {
    let report = run(4, "", None);
    assert!(report.passed(), "{}", report.summary());
    let obs = report.outcomes.get("Obs").unwrap().as_ref().unwrap();
    assert!(
        obs.contains("{\"Err\":\"Cli crashed at") && obs.contains("connection refused at Cli"),
        "{obs}"
    );
    assert_eq!(report.outcomes, report.reference);
}

/// A panic planted at Srv's `request` send crashes that send's operator: the connection's
/// checkpoint is rescued with the send's site as the cause.
#[test]
fn a_panic_at_a_send_site_crashes_the_operator_there() {
    let plan = "[[fault]]\naction = \"panic\"\nat = { site = \"request\", role = \"Srv\", occurrence = 1 }\nmessage = \"at the send\"\n";
    let report = run(5, plan, Some(NetConfig::default()));
    assert!(report.passed(), "{}", report.summary());
    let rescues = events(&report, "rescue");
    assert!(
        rescues
            .iter()
            .any(|r| r.contains("Srv crashed at \"request\"") && r.contains("at the send")),
        "{rescues:#?}"
    );
}

/// A panic planted at the checkpoint `attempt` crashes the block at its entry: it is rescued
/// with the checkpoint's own site as the cause.
#[test]
fn a_panic_at_a_checkpoint_site_crashes_its_block_at_entry() {
    let plan = "[[fault]]\naction = \"panic\"\nat = { site = \"attempt\", role = \"Cli\", occurrence = 3 }\nmessage = \"at the entry\"\n";
    let report = run(6, plan, Some(NetConfig::default()));
    assert!(report.passed(), "{}", report.summary());
    let rescues = events(&report, "rescue");
    assert!(
        rescues
            .iter()
            .any(|r| r.contains("Cli crashed at \"attempt\"") && r.contains("at the entry")),
        "{rescues:#?}"
    );
}
