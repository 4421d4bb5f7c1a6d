//! The exit agreement of checkpoint blocks, counted in notices: a cascade of blocks that exit
//! one after another with nothing in between costs one round of exit notices, not one per
//! level; a block whose body does anything after its nested block, or runs another operator
//! beside it, agrees on its own exit; and nesting Chorex's nest-10k does not need a big stack.
#![cfg(madsim)]

use std::time::Duration;

use rehearsal::net::transport::BoxFuture;
use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, Program, Roles, roles};
use rehearsal_sim::{NetConfig, Report, Sim};

roles!(A, B);

type Census = Roles![A, B];

/// Exit notices sent (control frames of checkpoint sites; the session's end not counted).
fn exit_notices(report: &Report) -> usize {
    report
        .trace
        .events
        .iter()
        .filter(|e| e.kind == "send" && e.lane == Some("control"))
        .filter(|e| {
            !e.site
                .as_deref()
                .unwrap_or_default()
                .contains("session-end")
        })
        .count()
}

fn block_exits(report: &Report) -> usize {
    report
        .trace
        .events
        .iter()
        .filter(|e| e.kind == "block-exit")
        .count()
}

fn run(choreo: impl Choreography + Clone + Sync, seed: u64) -> Report {
    let program = Program::new(choreo, &FamilySizes::new()).unwrap();
    let report = Sim::new(seed)
        .net(NetConfig {
            loss: 0.1,
            duplicate: 0.05,
            ..NetConfig::default()
        })
        .time_limit(Duration::from_secs(600))
        .run("exit-agreement-test", &program)
        .unwrap();
    assert!(report.passed(), "{}", report.summary());
    report
}

/// `depth` blocks, each nested in the previous one's body as its last operator; `after`
/// adds a broadcast after each nested block (so no body ends with its nested block).
#[derive(Clone, Copy)]
struct Nest {
    depth: u32,
    after: bool,
}

fn level(ch: Choreo<Census>, n: u32, cfg: Nest) -> BoxFuture<'static, Result<u32, ChoreoError>> {
    Box::pin(async move {
        let x = ch.locally(A, |_| n).await?;
        let x = ch.at("down").comm(A, B, &x).await?;
        let y = ch.locally(B, |b| *b.get(&x)).await?;
        let y = ch.at("up").broadcast(B, y).await?;
        if y + 1 == cfg.depth {
            return Ok(y);
        }
        let inner = ch
            .checkpoint(
                y + 1,
                move |ch, m| level(ch, m, cfg),
                |_ch, m, _why| async move { Ok(m) },
            )
            .await?;
        if cfg.after {
            let z = ch.locally(A, |_| inner).await?;
            return ch.at("after").broadcast(A, z).await;
        }
        Ok(inner)
    })
}

impl Choreography for Nest {
    type Census = Census;
    type Output = u32;

    async fn run(self, ch: &Choreo<Census>) -> Result<u32, ChoreoError> {
        let cfg = self;
        ch.checkpoint(
            0u32,
            move |ch, n| level(ch, n, cfg),
            |_ch, n, _why| async move { Ok(n) },
        )
        .await
    }
}

#[test]
fn a_cascade_of_exits_costs_one_round_of_notices() {
    let report = run(
        Nest {
            depth: 40,
            after: false,
        },
        3,
    );
    // 40 blocks at each of 2 participants, all left through their bodies.
    assert_eq!(block_exits(&report), 80);
    // The innermost block's notices (one each way) carry the exit of all 40.
    assert_eq!(exit_notices(&report), 2, "{}", report.trace.canonical());
}

#[test]
fn a_body_with_work_after_its_nested_block_agrees_on_its_own_exit() {
    let report = run(
        Nest {
            depth: 10,
            after: true,
        },
        3,
    );
    assert_eq!(block_exits(&report), 20);
    // Every level agrees on its own exit: one notice each way per block.
    assert_eq!(exit_notices(&report), 20, "{}", report.trace.canonical());
}

/// A block that runs beside a receive in its body: the body around it must not end by the
/// nested block's exit, whatever order the two finish in at each participant.
#[derive(Clone)]
struct Beside;

impl Choreography for Beside {
    type Census = Census;
    type Output = (u32, u32);

    async fn run(self, ch: &Choreo<Census>) -> Result<(u32, u32), ChoreoError> {
        ch.at("outer")
            .checkpoint(
                (),
                |ch, ()| async move {
                    let v = ch.locally(B, |_| 5u32).await?;
                    let side = async {
                        let v = ch.at("side").comm(B, A, &v).await?;
                        let v = ch.locally(A, |a| *a.get(&v)).await?;
                        ch.at("side-back").broadcast(A, v).await
                    };
                    let inner = ch.at("inner");
                    let nested = inner.checkpoint(
                        7u32,
                        |ch, n| async move {
                            let n = ch.locally(A, |_| n).await?;
                            ch.at("n").broadcast(A, n).await
                        },
                        |_ch, n, _why| async move { Ok(n) },
                    );
                    let (a, b) = tokio::join!(side, nested);
                    Ok((a?, b?))
                },
                |_ch, (), _why| async move { Ok((0, 0)) },
            )
            .await
    }
}

#[test]
fn a_block_beside_another_operator_does_not_end_the_body_around_it() {
    for seed in 0..20 {
        let report = run(Beside, seed);
        assert_eq!(block_exits(&report), 4, "seed {seed}");
        // Both blocks agree on their own exits.
        assert_eq!(exit_notices(&report), 4, "seed {seed}");
    }
}

#[test]
fn nest_10k_runs_in_the_simulator_on_the_default_stack() {
    // `Sim::run` runs the simulation on a spawned thread with the default 2 MiB stack.
    let scenario = rehearsal_scenarios::find("nest-loop").unwrap();
    let params = scenario.parse_params(["variant=1", "laps=10000"]).unwrap();
    let report = Sim::new(1)
        .time_limit(Duration::from_secs(100_000))
        .run_scenario(scenario, &params)
        .unwrap();
    assert!(report.passed(), "{}", report.summary());
    // `laps=10000` is Chorex's argument: laps 0..=10000, a block each, at both roles.
    assert_eq!(block_exits(&report), 2 * 10_001);
}

fn seeds() -> u64 {
    std::env::var("REHEARSAL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

/// The checkpointed (nesting) variants of nest-loop and mini-blockchain, whose blocks exit in
/// cascades, under random plans of every fault kind (`REHEARSAL_SEEDS` for a longer run):
/// every oracle holds, and every run is deterministic.
#[test]
fn nested_checkpoints_under_every_fault_kind_keep_every_oracle() {
    use rehearsal_sim::explore::{Explore, Shard};
    use rehearsal_sim::{FaultKind, Swarm};
    let with = |name: &str, settings: &[&str]| {
        let s = rehearsal_scenarios::find(name).unwrap();
        (s.clone(), s.parse_params(settings.iter().copied()).unwrap())
    };
    let ex = Explore {
        scenarios: vec![
            with("nest-loop", &["variant=1", "laps=6"]),
            with("mini-blockchain", &["variant=1"]),
        ],
        first_seed: 0,
        seeds: seeds(),
        shard: Shard::ALL,
        jobs: 2,
        swarm: Swarm {
            kinds: FaultKind::ALL.to_vec(),
            swarm: true,
            max_faults: 5,
            max_down: 2,
            ..Swarm::default()
        },
        keep_going: true,
        time_limit: Duration::from_secs(300),
        check_determinism: true,
        vary: None,
        store: Default::default(),
    };
    for s in ex.run(&|_| {}).unwrap() {
        assert_eq!(s.violations, 0, "{}: {:#?}", s.scenario, s.failures.first());
    }
}
