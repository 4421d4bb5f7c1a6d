//! Checkpoint and rescue in the simulator, case by case (with pinned seeds), plus random
//! crash and panic plans over the scenarios with checkpoints.
#![cfg(madsim)]

use std::collections::BTreeMap;
use std::time::Duration;

use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, Policy, Program, Roles, roles};
use rehearsal_scenarios::{find, registry};
use rehearsal_sim::explore::{Explore, Shard};
use rehearsal_sim::{
    Action, Fault, FaultKind, FaultPlan, NetConfig, Report, Sim, SiteRef, Swarm, Trigger,
};

roles!(A, B, C);

fn at(site: &str, role: &str, occurrence: u32, action: Action) -> Fault {
    Fault {
        trigger: Trigger::Site {
            site: SiteRef::Label(site.into()),
            role: Some(role.into()),
            occurrence,
        },
        action,
    }
}

fn panic(message: &str) -> Action {
    Action::Panic {
        message: message.into(),
    }
}

fn run(choreo: impl Choreography + Clone + Sync, seed: u64, faults: Vec<Fault>) -> Report {
    let program = Program::new(choreo, &FamilySizes::new()).unwrap();
    Sim::new(seed)
        .net(NetConfig {
            loss: 0.1,
            duplicate: 0.05,
            ..NetConfig::default()
        })
        .plan(FaultPlan { faults })
        .time_limit(Duration::from_secs(120))
        .run("checkpoint-test", &program)
        .unwrap()
}

/// Per participant: the checkpoint events (`block-enter`, `block-exit`, `rescue`) in order,
/// with the checkpoint's label.
fn paths(report: &Report) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &report.trace.events {
        if matches!(e.kind, "block-enter" | "block-exit" | "rescue") {
            let label = e
                .site
                .as_deref()
                .and_then(|s| s.split('"').nth(1))
                .unwrap_or("?");
            out.entry(e.from.clone().unwrap_or_default())
                .or_default()
                .push(format!("{} {label}", e.kind));
        }
    }
    out
}

/// The built-in oracles held: no hang, every block instance left the same way by all, and
/// every outcome equals the reference run's along the run's path. (These choreographies
/// return which path ran, so the fault-free reference is not their outcome when a rescue
/// ran: the reference that follows the rescues is; each test also asserts the outcomes.)
fn passed(report: &Report) {
    let broken = &report.violations;
    assert!(broken.is_empty(), "{broken:#?}\n{}", report.summary());
    assert!(report.outcomes.all_ok(), "{}", report.summary());
}

/// outer { inner { A computes, sends to B } } with labelled sites; each rescue returns a
/// marker of which path ran.
#[derive(Clone)]
struct Nested {
    inner_rescue_crashes: bool,
}

impl Choreography for Nested {
    type Census = Roles![A, B];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        let crashes = self.inner_rescue_crashes;
        ch.at("outer")
            .checkpoint(
                (),
                move |ch, ()| async move {
                    let inner = ch
                        .at("inner")
                        .checkpoint(
                            (),
                            |ch, ()| async move {
                                let x = ch.at("work").locally(A, |_| 6u32).await?;
                                let x = ch.at("send").comm(A, B, &x).await?;
                                let y = ch.locally(B, |b| b.get(&x) * 7).await?;
                                Ok(format!(
                                    "inner body {}",
                                    ch.at("answer").broadcast(B, y).await?
                                ))
                            },
                            move |ch, (), why| async move {
                                ch.at("inner-rescue")
                                    .locally(A, |_| {
                                        assert!(!crashes, "the inner rescue crashes too");
                                    })
                                    .await?;
                                Ok(format!("inner rescued after {}", why.message))
                            },
                        )
                        .await?;
                    Ok(format!("outer body, {inner}"))
                },
                |_ch, (), why| async move { Ok(format!("outer rescued after {}", why.message)) },
            )
            .await
    }
}

#[test]
fn a_crash_in_a_nested_checkpoint_rescues_only_the_innermost_block() {
    let report = run(
        Nested {
            inner_rescue_crashes: false,
        },
        11,
        vec![at("work", "A", 1, panic("boom"))],
    );
    passed(&report);
    for who in ["A", "B"] {
        assert_eq!(
            report.outcomes.get(who),
            Some(&Ok("\"outer body, inner rescued after boom\"".into()))
        );
        assert_eq!(
            paths(&report)[who],
            [
                "block-enter outer",
                "block-enter inner",
                "rescue inner",
                "block-exit outer"
            ],
            "{who}"
        );
    }
}

#[test]
fn a_crash_in_a_rescue_escalates_to_the_enclosing_checkpoint() {
    let report = run(
        Nested {
            inner_rescue_crashes: true,
        },
        12,
        vec![at("work", "A", 1, panic("boom"))],
    );
    passed(&report);
    for who in ["A", "B"] {
        let outcome = report.outcomes.get(who).unwrap().as_ref().unwrap();
        assert!(
            outcome.contains("outer rescued after the inner rescue crashes too"),
            "{who}: {outcome}"
        );
    }
    let p = paths(&report);
    // A crashed in the inner body, ran the inner rescue, crashed there: the outer block
    // rescues. B may hear of the inner rescue first, or only of the outer one (then it drops
    // the inner block with the outer body); either way it never leaves a block through its
    // body.
    assert_eq!(
        p["A"],
        [
            "block-enter outer",
            "block-enter inner",
            "rescue inner",
            "rescue outer"
        ]
    );
    assert!(
        p["B"]
            == [
                "block-enter outer",
                "block-enter inner",
                "rescue inner",
                "rescue outer"
            ]
            || p["B"] == ["block-enter outer", "block-enter inner", "rescue outer"],
        "{:?}",
        p["B"]
    );
}

/// C is held up before the block (its input is delayed) while A crashes inside it.
#[derive(Clone)]
struct Lagging;

impl Choreography for Lagging {
    type Census = Roles![A, B, C];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        let go = ch.locally(B, |_| 1u8).await?;
        ch.at("slow").comm(B, C, &go).await?;
        ch.at("block")
            .checkpoint(
                (),
                |ch, ()| async move {
                    ch.at("work").locally(A, |_| ()).await?;
                    let v = ch.locally(C, |_| 5u8).await?;
                    let v = ch.at("from-c").comm(C, A, &v).await?;
                    let v = ch.locally(A, |a| *a.get(&v)).await?;
                    Ok(format!("body {}", ch.broadcast(A, v).await?))
                },
                |ch, (), why| async move {
                    let who = ch.locally(A, |_| why.role.clone()).await?;
                    Ok(format!(
                        "rescued after {} crashed",
                        ch.at("who").broadcast(A, who).await?
                    ))
                },
            )
            .await
    }
}

#[test]
fn a_lagging_participant_goes_straight_to_the_rescue() {
    let report = run(
        Lagging,
        13,
        vec![
            at(
                "slow",
                "B",
                1,
                Action::Delay {
                    by: Duration::from_secs(2),
                },
            ),
            at("work", "A", 1, panic("boom")),
        ],
    );
    passed(&report);
    let p = paths(&report);
    assert_eq!(p["A"], ["block-enter block", "rescue block"]);
    assert_eq!(p["B"], ["block-enter block", "rescue block"]);
    assert_eq!(
        p["C"],
        ["rescue block"],
        "C never enters the body it reaches late"
    );
    for who in ["A", "B", "C"] {
        assert_eq!(
            report.outcomes.get(who),
            Some(&Ok("\"rescued after A crashed\"".into()))
        );
    }
}

/// Both A and B crash in the same block instance.
#[derive(Clone)]
struct Both;

impl Choreography for Both {
    type Census = Roles![A, B];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        ch.at("block")
            .checkpoint(
                0u32,
                |ch, n| async move {
                    ch.at("a-work").locally(A, |_| n).await?;
                    ch.at("b-work").locally(B, |_| n).await?;
                    Ok("body".to_string())
                },
                |ch, n, _why| async move {
                    let v = ch.locally(A, |_| n + 1).await?;
                    Ok(format!("rescued with {}", ch.broadcast(A, v).await?))
                },
            )
            .await
    }
}

#[test]
fn two_crashes_in_one_block_lead_to_one_rescue() {
    let report = run(
        Both,
        14,
        vec![
            at("a-work", "A", 1, panic("a")),
            at("b-work", "B", 1, panic("b")),
        ],
    );
    passed(&report);
    assert_eq!(
        report.trace.count("rescue"),
        2,
        "one rescue per participant"
    );
    for who in ["A", "B"] {
        assert_eq!(
            report.outcomes.get(who),
            Some(&Ok("\"rescued with 1\"".into()))
        );
    }
}

/// A step outside every checkpoint, which crashes always (`deterministic`) or not.
#[derive(Clone)]
struct Outside {
    deterministic: bool,
}

impl Choreography for Outside {
    type Census = Roles![A, B];
    type Output = u32;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
        let det = self.deterministic;
        let x = ch.locally(A, |_| 20u32).await?;
        let x = ch.at("first").comm(A, B, &x).await?;
        let y = ch
            .at("outside")
            .locally(B, |b| {
                let zero = if det { 0 } else { 1 };
                b.get(&x)
                    .checked_div(zero)
                    .expect("attempt to divide by zero")
            })
            .await?;
        ch.at("result").broadcast(B, y).await
    }
}

#[test]
fn a_crash_outside_every_checkpoint_is_masked_when_transient() {
    let report = run(
        Outside {
            deterministic: false,
        },
        15,
        vec![at("first", "B", 1, panic("transient"))],
    );
    passed(&report);
    assert_eq!(report.outcomes.get("A"), Some(&Ok("20".into())));
    assert_eq!(report.trace.count("failure"), 0);
}

#[test]
fn a_deterministic_crash_outside_every_checkpoint_ends_the_session_at_every_role() {
    let report = run(
        Outside {
            deterministic: true,
        },
        16,
        vec![],
    );
    for who in ["A", "B"] {
        match report.outcomes.get(who) {
            Some(Err(ChoreoError::Crashed {
                role,
                site,
                message,
            })) => {
                assert_eq!(role, "B");
                assert_eq!(site.label.as_deref(), Some("outside"));
                assert_eq!(message, "attempt to divide by zero");
            }
            other => panic!("{who}: expected Crashed, got {other:?}"),
        }
    }
    assert!(
        report.violations.iter().all(|v| !v.starts_with("liveness")),
        "no hang"
    );
}

/// A sends B a frame in the body, then crashes; the frame is held back past the rescue.
#[derive(Clone)]
struct Stale;

impl Choreography for Stale {
    type Census = Roles![A, B];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        ch.at("block")
            .checkpoint(
                (),
                |ch, ()| async move {
                    let v = ch.locally(A, |_| 1u8).await?;
                    let v = ch.at("early").comm(A, B, &v).await?;
                    ch.at("crash-here").locally(A, |_| ()).await?;
                    let w = ch.locally(B, |b| *b.get(&v)).await?;
                    Ok(format!("body {}", ch.broadcast(B, w).await?))
                },
                |ch, (), _| async move {
                    let v = ch.locally(A, |_| 2u8).await?;
                    let v = ch.at("again").comm(A, B, &v).await?;
                    let w = ch.locally(B, |b| *b.get(&v)).await?;
                    Ok(format!("rescue {}", ch.broadcast(B, w).await?))
                },
            )
            .await
    }
}

#[test]
fn a_stale_frame_of_an_abandoned_attempt_is_discarded() {
    let program = Program::new(Stale, &FamilySizes::new()).unwrap();
    let faults = vec![
        // The body's frame arrives after 50 ms, while B waits in the rescue for the rescue's
        // frame, whose first copy is lost (its retransmission comes at 120 ms).
        at(
            "early",
            "A",
            1,
            Action::Delay {
                by: Duration::from_millis(50),
            },
        ),
        at("crash-here", "A", 1, panic("boom")),
        at("again", "A", 1, Action::Drop),
    ];
    let report = Sim::new(17)
        .net(NetConfig::default())
        .plan(FaultPlan { faults })
        .run("stale", &program)
        .unwrap();
    passed(&report);
    assert!(
        report.trace.count("drop-stale") >= 1,
        "{}",
        report.trace.canonical()
    );
    for who in ["A", "B"] {
        assert_eq!(report.outcomes.get(who), Some(&Ok("\"rescue 2\"".into())));
    }
}

/// A process death inside the body: rescued under the default policy, masked under Replay.
#[derive(Clone)]
struct Dies {
    policy: Policy,
}

impl Choreography for Dies {
    type Census = Roles![A, B];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        ch.at("block")
            .checkpoint_with(
                self.policy,
                (),
                |ch, ()| async move {
                    let v = ch.locally(A, |_| 3u8).await?;
                    let v = ch.at("to-b").comm(A, B, &v).await?;
                    let w = ch.locally(B, |b| *b.get(&v)).await?;
                    Ok(format!("body {}", ch.at("back").broadcast(B, w).await?))
                },
                |_ch, (), why| async move { Ok(format!("rescued: {}", why.message)) },
            )
            .await
    }
}

#[test]
fn a_process_death_in_a_body_is_rescued_or_replayed_by_policy() {
    let crash = || {
        vec![at(
            "to-b",
            "B",
            1,
            Action::Crash {
                restart_after: Some(Duration::from_millis(200)),
            },
        )]
    };
    let rescued = run(
        Dies {
            policy: Policy::Rescue,
        },
        18,
        crash(),
    );
    passed(&rescued);
    for who in ["A", "B"] {
        assert_eq!(
            rescued.outcomes.get(who),
            Some(&Ok("\"rescued: its process died inside the block\"".into()))
        );
    }
    let replayed = run(
        Dies {
            policy: Policy::Replay,
        },
        18,
        crash(),
    );
    passed(&replayed);
    assert_eq!(replayed.trace.count("rescue"), 0);
    for who in ["A", "B"] {
        assert_eq!(replayed.outcomes.get(who), Some(&Ok("\"body 3\"".into())));
    }
}

fn seeds() -> u64 {
    std::env::var("REHEARSAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

fn explore(names: &[&'static str], kinds: &[FaultKind], seeds: u64) -> Explore {
    Explore {
        scenarios: names
            .iter()
            .map(|n| {
                let s = find(n).unwrap();
                (s.clone(), s.default_params())
            })
            .collect(),
        first_seed: 0,
        seeds,
        shard: Shard::ALL,
        jobs: 2,
        swarm: Swarm {
            kinds: kinds.to_vec(),
            swarm: true,
            max_faults: 5,
            max_down: 3,
            ..Swarm::default()
        },
        keep_going: true,
        time_limit: Duration::from_secs(300),
        check_determinism: true,
        vary: None,
        store: Default::default(),
    }
}

#[test]
fn random_crashes_and_panics_keep_every_checkpoint_in_agreement() {
    let ex = explore(
        &["alice-bob", "counter"],
        &[FaultKind::Crash, FaultKind::Panic],
        seeds(),
    );
    for s in ex.run(&|_| {}).unwrap() {
        assert_eq!(s.violations, 0, "{}: {:#?}", s.scenario, s.failures.first());
        assert!(
            s.fired.get("panic").copied().unwrap_or(0) > seeds() / 4,
            "{}: {:?}",
            s.scenario,
            s.fired
        );
    }
}

#[test]
fn every_fault_kind_over_every_shipped_scenario_finds_no_violation() {
    let names: Vec<&'static str> = registry().iter().map(|s| s.name()).collect();
    let n = std::env::var("REHEARSAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let ex = explore(&names, &FaultKind::ALL, n);
    for s in ex.run(&|_| {}).unwrap() {
        assert_eq!(s.violations, 0, "{}: {:#?}", s.scenario, s.failures.first());
        assert_eq!(s.seeds, n);
    }
}
