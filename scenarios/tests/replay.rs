//! Replay: a crashed participant's node is killed (volatile state and unsynced store writes
//! gone), restarted, and the participant re-runs its projection from its journal, so its
//! peers see only a delay. Loops resume at their latest snapshot, and code that is not
//! deterministic is caught when it is replayed.
#![cfg(madsim)]

use std::time::Duration;

use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, Loop, Program, Roles, roles};
use rehearsal_scenarios::{find, registry};
use rehearsal_sim::explore::{Explore, Shard};
use rehearsal_sim::{Action, Fault, FaultKind, FaultPlan, NetConfig, Sim, SiteRef, Swarm, Trigger};

roles!(Pinger, Ponger);

fn crash(site: &str, role: &str, occurrence: u32, restart_after: Duration) -> Fault {
    Fault {
        trigger: Trigger::Site {
            site: SiteRef::Label(site.into()),
            role: Some(role.into()),
            occurrence,
        },
        action: Action::Crash {
            restart_after: Some(restart_after),
        },
    }
}

fn seeds() -> u64 {
    std::env::var("REHEARSAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

#[test]
fn crashes_anywhere_plus_network_faults_give_the_reference_outcome() {
    let mut kinds = FaultKind::NETWORK.to_vec();
    kinds.push(FaultKind::Crash);
    let ex = Explore {
        scenarios: registry()
            .into_iter()
            .map(|s| {
                let p = s.default_params();
                (s, p)
            })
            .collect(),
        first_seed: 0,
        seeds: seeds(),
        shard: Shard::ALL,
        jobs: 2,
        swarm: Swarm {
            kinds,
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
    };
    let summary = ex.run(&|_| {}).unwrap();
    for s in &summary {
        assert_eq!(s.violations, 0, "{}: {:#?}", s.scenario, s.failures.first());
        assert_eq!(s.seeds, seeds());
        assert!(
            s.fired.get("crash").copied().unwrap_or(0) > seeds() / 4,
            "{}: {:?}",
            s.scenario,
            s.fired
        );
    }
}

#[test]
fn a_crash_loses_unsynced_writes_and_the_replay_still_matches() {
    // Crash counter's roles at many points in time: a crash between a write and the next
    // sync loses that write (the trace says how many batches), and the replay still ends
    // with the reference outcome.
    let scenario = find("counter").unwrap();
    let mut lost = 0;
    for ms in (1..=120).step_by(7) {
        for role in ["Client", "Server"] {
            let plan = FaultPlan {
                faults: vec![Fault {
                    trigger: Trigger::Time {
                        at: Duration::from_millis(ms),
                        role: Some(role.into()),
                    },
                    action: Action::Crash {
                        restart_after: Some(Duration::from_millis(40)),
                    },
                }],
            };
            let report = Sim::new(ms)
                .net(NetConfig::default())
                .plan(plan)
                .run_scenario(scenario, &scenario.default_params())
                .unwrap();
            assert!(report.passed(), "{role} at {ms} ms: {}", report.summary());
            for e in report.trace.events.iter().filter(|e| e.kind == "kill") {
                let detail = e.detail.as_deref().unwrap_or_default();
                if !detail.contains(" 0 unsynced") {
                    lost += 1;
                }
            }
        }
    }
    assert!(
        lost > 0,
        "the simulated disk must lose unsynced writes on some crash"
    );
}

/// Pinger and Ponger play `n` rounds in a `ch.repeat` loop; Ponger sums the numbers.
#[derive(Clone)]
struct Ticker {
    n: u64,
}

impl Choreography for Ticker {
    type Census = Roles![Pinger, Ponger];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let n = self.n;
        let zero = ch.locally(Ponger, |_| 0u64).await?;
        let (_, sum) = ch
            .repeat((0u64, zero), move |ch, (i, sum)| async move {
                let more = ch.locally(Pinger, |_| i < n).await?;
                if !ch.at("more").broadcast(Pinger, more).await? {
                    return Ok(Loop::Done((i, sum)));
                }
                let x = ch.locally(Pinger, |_| i).await?;
                let x = ch.at("tick").comm(Pinger, Ponger, &x).await?;
                let sum = ch.locally(Ponger, |p| p.get(&sum) + p.get(&x)).await?;
                let ack = ch.locally(Ponger, |_| ()).await?;
                ch.at("tock").comm(Ponger, Pinger, &ack).await?;
                Ok(Loop::Next((i + 1, sum)))
            })
            .await?;
        ch.at("sum").broadcast(Ponger, sum).await
    }
}

#[test]
fn a_role_crashed_in_iteration_9000_of_10000_re_executes_at_most_one_iteration() {
    let program = Program::new(Ticker { n: 10_000 }, &FamilySizes::new()).unwrap();
    let plan = FaultPlan {
        faults: vec![crash("tick", "Ponger", 9_000, Duration::from_millis(100))],
    };
    let report = Sim::new(1)
        .net(NetConfig::default())
        .time_limit(Duration::from_secs(3_600))
        .plan(plan)
        .run("ticker", &program)
        .unwrap();
    assert!(report.passed(), "{}", report.summary());
    assert_eq!(
        report.outcomes.get("Ponger"),
        Some(&Ok((0..10_000u64).sum::<u64>().to_string()))
    );
    let events = &report.trace.events;
    let kill = events
        .iter()
        .position(|e| e.kind == "kill")
        .expect("the crash fired");
    let iteration = |e: &rehearsal_sim::TraceEvent| -> u64 {
        e.detail
            .as_deref()
            .unwrap_or("#0")
            .trim_start_matches('#')
            .parse()
            .unwrap()
    };
    let ponger = |e: &&rehearsal_sim::TraceEvent| {
        e.kind == "iteration" && e.from.as_deref() == Some("Ponger")
    };
    let last_before = events[..kill]
        .iter()
        .filter(ponger)
        .map(iteration)
        .max()
        .unwrap();
    let after: Vec<u64> = events[kill..]
        .iter()
        .filter(ponger)
        .map(iteration)
        .collect();
    assert_eq!(
        last_before, 8_999,
        "the crash hit iteration 9,000 (index 8,999)"
    );
    let resumed_at = *after.first().expect("Ponger ran again");
    let re_executed = last_before + 1 - resumed_at;
    assert!(
        re_executed <= 1,
        "re-executed {re_executed} iterations (resumed at {resumed_at})"
    );
    // ... and not one iteration from the start of the loop.
    assert_eq!(after.len() as u64, 10_001 - resumed_at);
}

/// Stamper sends a value its local code takes from `source` (unlogged), then waits.
#[derive(Clone)]
struct Stamp {
    source: fn() -> u64,
    logged: bool,
}

impl Choreography for Stamp {
    type Census = Roles![Pinger, Ponger];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let source = self.source;
        let v = if self.logged {
            ch.at("stamp-source")
                .side_effect(Pinger, |_| source())
                .await?
        } else {
            ch.locally(Pinger, |_| source()).await?
        };
        let v = ch.at("stamp").comm(Pinger, Ponger, &v).await?;
        let got = ch.locally(Ponger, |p| *p.get(&v)).await?;
        let got = ch.at("got").comm(Ponger, Pinger, &got).await?;
        let done = ch.locally(Pinger, |p| *p.get(&got)).await?;
        let _ = ch.at("done").broadcast(Pinger, done).await?;
        Ok(0)
    }
}

fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn unlogged_random() -> u64 {
    rand::random()
}

#[test]
fn unlogged_clocks_and_random_numbers_are_caught_as_nondeterminism_at_their_site() {
    for source in [wall_clock as fn() -> u64, unlogged_random] {
        let program = Program::new(
            Stamp {
                source,
                logged: false,
            },
            &FamilySizes::new(),
        )
        .unwrap();
        let plan = FaultPlan {
            faults: vec![crash("stamp", "Pinger", 1, Duration::from_millis(300))],
        };
        let report = Sim::new(4).plan(plan).run("stamp", &program).unwrap();
        for (who, outcome) in report.outcomes.entries() {
            match outcome {
                Err(ChoreoError::Nondeterminism { role, site, .. }) => {
                    assert_eq!(role, "Pinger", "{who}");
                    assert_eq!(site.label.as_deref(), Some("stamp"), "{who}");
                }
                other => panic!(
                    "{who}: expected a nondeterminism error, got {other:?}\n{}",
                    report.summary()
                ),
            }
        }
    }
    // The same value taken through ch.side_effect is logged, and the replay agrees.
    for source in [wall_clock as fn() -> u64, unlogged_random] {
        let program = Program::new(
            Stamp {
                source,
                logged: true,
            },
            &FamilySizes::new(),
        )
        .unwrap();
        let plan = FaultPlan {
            faults: vec![crash("stamp", "Pinger", 1, Duration::from_millis(300))],
        };
        let report = Sim::new(4).plan(plan).run("stamp", &program).unwrap();
        assert!(report.outcomes.all_ok(), "{}", report.summary());
        assert_eq!(report.trace.count("kill"), 1);
    }
}
