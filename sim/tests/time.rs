//! Time in choreographies, simulated: a receive with a timeout times out when its sender is
//! partitioned away, crashed, or delayed (thinking, a slow network) past the timeout, and not when it is not; a replay
//! after a crash right after a timed-out receive (or a finished sleep) does not wait again, in
//! simulated time; the same seed gives the same trace; and the reference oracle, following
//! the run's timeouts, holds throughout.
#![cfg(madsim)]

use std::time::Duration;

use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, Program, Roles, TimedOut, roles};
use rehearsal_sim::{Action, Fault, FaultPlan, NetConfig, Report, Sim, SiteRef, Trigger};

roles!(Coordinator, Voter);

/// How long the coordinator waits for the vote.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The voter thinks for `think`, then votes yes; the coordinator waits [`TIMEOUT`] for the
/// vote, counts a missing one as no, and tells the voter what it decided (and whether it
/// timed out).
#[derive(Clone)]
struct Vote {
    think: Duration,
}

impl Choreography for Vote {
    type Census = Roles![Coordinator, Voter];
    type Output = (bool, bool);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(bool, bool), ChoreoError> {
        ch.at("think").sleep(Voter, self.think).await?;
        let yes = ch.at("yes").locally(Voter, |_| true).await?;
        let vote = ch
            .at("vote")
            .comm_within(Voter, Coordinator, &yes, TIMEOUT)
            .await?;
        let decision = ch
            .at("decide")
            .locally(Coordinator, |c| match c.get(&vote) {
                Ok(yes) => (*yes, false),
                Err(TimedOut { .. }) => (false, true),
            })
            .await?;
        ch.at("decision").broadcast(Coordinator, decision).await
    }
}

fn perfect() -> NetConfig {
    NetConfig {
        latency_min_us: 1_000,
        latency_max_us: 1_001,
        ..NetConfig::default()
    }
}

fn at(site: &str, role: &str, action: Action) -> Fault {
    Fault {
        trigger: Trigger::Site {
            site: SiteRef::Label(site.into()),
            role: Some(role.into()),
            occurrence: 1,
        },
        action,
    }
}

fn run(think: Duration, seed: u64, faults: Vec<Fault>) -> Report {
    let program = Program::new(Vote { think }, &FamilySizes::new()).unwrap();
    let report = Sim::new(seed)
        .net(perfect())
        .plan(FaultPlan { faults })
        .time_limit(Duration::from_secs(300))
        .check_determinism("vote", &program)
        .unwrap();
    assert!(
        report.passed(),
        "{:#?}\n{}",
        report.violations,
        report.summary()
    );
    report
}

fn decided(report: &Report) -> String {
    let want = report.outcomes.get("Coordinator").cloned();
    assert_eq!(report.outcomes.get("Voter").cloned(), want, "one decision");
    want.unwrap().unwrap()
}

/// Times (in simulated microseconds) of `kind` events of `who`.
fn times(report: &Report, kind: &str, who: &str) -> Vec<u64> {
    report
        .trace
        .events
        .iter()
        .filter(|e| e.kind == kind && e.from.as_deref() == Some(who))
        .map(|e| e.t_us)
        .collect()
}

#[test]
fn a_prompt_voter_is_counted() {
    let report = run(Duration::from_secs(1), 3, Vec::new());
    assert_eq!(decided(&report), "[true,false]");
    assert!(times(&report, "timed-out", "Coordinator").is_empty());
}

#[test]
fn a_voter_thinking_past_the_timeout_is_timed_out_and_its_vote_discarded() {
    let report = run(Duration::from_secs(20), 3, Vec::new());
    assert_eq!(decided(&report), "[false,true]");
    let out = times(&report, "timed-out", "Coordinator");
    assert_eq!(out.len(), 1);
    assert!(
        (5_000_000..5_100_000).contains(&out[0]),
        "the timeout fires after 5 s of simulated time: {out:?}"
    );
    let late = report.trace.events.iter().filter(|e| e.kind == "drop-late");
    assert_eq!(late.count(), 1, "the late vote is discarded on arrival");
    // The fault-free reference counts the vote; the one the oracle used follows the timeout.
    assert_eq!(
        report.reference.get("Coordinator"),
        Some(&Ok("[false,true]".into()))
    );
}

#[test]
fn a_vote_delayed_by_a_slow_network_times_out() {
    // Every datagram takes 6 s: the vote (and its retransmissions) arrives after the timeout.
    let slow = NetConfig {
        latency_min_us: 6_000_000,
        latency_max_us: 6_000_001,
        ..NetConfig::default()
    };
    let program = Program::new(
        Vote {
            think: Duration::ZERO,
        },
        &FamilySizes::new(),
    )
    .unwrap();
    let report = Sim::new(5)
        .net(slow)
        .time_limit(Duration::from_secs(300))
        .check_determinism("vote", &program)
        .unwrap();
    assert!(
        report.passed(),
        "{:#?}\n{}",
        report.violations,
        report.summary()
    );
    assert_eq!(decided(&report), "[false,true]");
}

#[test]
fn a_partitioned_or_crashed_voter_times_out() {
    let partition = Fault {
        trigger: Trigger::Time {
            at: Duration::ZERO,
            role: None,
        },
        action: Action::Partition {
            groups: [vec!["Coordinator".into()], vec!["Voter".into()]],
            one_way: false,
            duration: Duration::from_secs(8),
        },
    };
    let report = run(Duration::ZERO, 7, vec![partition]);
    assert_eq!(decided(&report), "[false,true]");

    let crash = at(
        "yes",
        "Voter",
        Action::Crash {
            restart_after: Some(Duration::from_secs(10)),
        },
    );
    let report = run(Duration::ZERO, 7, vec![crash]);
    assert_eq!(decided(&report), "[false,true]");
}

#[test]
fn a_replay_right_after_a_timeout_does_not_wait_again() {
    let crash = at(
        "decide",
        "Coordinator",
        Action::Crash {
            restart_after: Some(Duration::ZERO),
        },
    );
    let report = run(Duration::from_secs(20), 11, vec![crash]);
    assert_eq!(decided(&report), "[false,true]");
    let out = times(&report, "timed-out", "Coordinator");
    assert_eq!(
        out.len(),
        2,
        "the replay finds the timeout in its journal: {out:?}"
    );
    assert!(
        out[1] - out[0] < 1_000_000,
        "the replay does not wait another 5 s: {out:?}"
    );
}

#[test]
fn a_replay_right_after_a_sleep_does_not_sleep_again() {
    let crash = at(
        "yes",
        "Voter",
        Action::Crash {
            restart_after: Some(Duration::ZERO),
        },
    );
    let report = run(Duration::from_secs(3), 13, vec![crash]);
    assert_eq!(decided(&report), "[true,false]");
    let thinking: Vec<u64> = report
        .trace
        .events
        .iter()
        .filter(|e| e.kind == "local" && e.site.as_deref().is_some_and(|s| s.contains("yes")))
        .map(|e| e.t_us)
        .collect();
    assert_eq!(
        thinking.len(),
        2,
        "the vote's step runs again after the restart"
    );
    assert!(
        thinking[1] - thinking[0] < 1_000_000,
        "the replay does not sleep another 3 s: {thinking:?}"
    );
}
