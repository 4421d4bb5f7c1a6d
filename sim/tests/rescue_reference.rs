//! The reference oracle follows the run's rescues: a correct rescue (computed from the state
//! at the block's entry and the cause) matches the reference run along the run's path, nested
//! in loops and in nested sessions, while a planted wrong rescue (one that reads what the abandoned body did
//! through memory the body shares with it) is reported as a violation of
//! outcome-equals-reference.
#![cfg(madsim)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rehearsal::{
    Choreo, ChoreoError, Choreography, FamilySizes, Loop, Program, Roles, Shared, roles,
};
use rehearsal_sim::{Action, Fault, FaultPlan, Report, Sim, SiteRef, Trigger};

roles!(Teller, Auditor);

/// Three rounds (a `ch.repeat` loop); each round runs a checkpoint whose body counts the
/// round at the teller (in a tally shared with the rescue), does a risky step and reports
/// 10 per round; the rescue reports 1, or, when `planted`, what the tally says (which the
/// abandoned body has changed: the body's partial effect leaks into the rescue).
#[derive(Clone)]
struct Rounds {
    planted: bool,
}

impl Choreography for Rounds {
    type Census = Roles![Teller, Auditor];
    type Output = u32;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
        let planted = self.planted;
        let total = ch
            .repeat((0u32, 0u32), move |ch, (round, total)| async move {
                let tally = Arc::new(AtomicU32::new(0));
                let got = ch
                    .at("round")
                    .checkpoint(
                        tally,
                        |ch, tally| async move {
                            ch.at("count")
                                .locally(Teller, |_| tally.fetch_add(1, Ordering::SeqCst))
                                .await?;
                            ch.at("risky").locally(Teller, |_| ()).await?;
                            let v = ch.locally(Teller, |_| 10u32).await?;
                            ch.at("report").broadcast(Teller, v).await
                        },
                        move |ch, tally, _why| async move {
                            let v = ch
                                .locally(Teller, |_| {
                                    if planted {
                                        tally.load(Ordering::SeqCst) + 1
                                    } else {
                                        1
                                    }
                                })
                                .await?;
                            ch.at("report-rescued").broadcast(Teller, v).await
                        },
                    )
                    .await?;
                let total = total + got;
                Ok(if round == 2 {
                    Loop::Done((round, total))
                } else {
                    Loop::Next((round + 1, total))
                })
            })
            .await?;
        Ok(total.1)
    }
}

fn run(planted: bool, seed: u64, occurrences: &[u32]) -> Report {
    let program = Program::new(Rounds { planted }, &FamilySizes::new()).unwrap();
    let faults = occurrences
        .iter()
        .map(|&occurrence| Fault {
            trigger: Trigger::Site {
                site: SiteRef::Label("risky".into()),
                role: Some("Teller".into()),
                occurrence,
            },
            action: Action::Panic {
                message: "injected panic".into(),
            },
        })
        .collect();
    Sim::new(seed)
        .plan(FaultPlan { faults })
        .time_limit(Duration::from_secs(120))
        .run("rounds", &program)
        .unwrap()
}

#[test]
fn a_correct_rescue_matches_the_reference_along_the_path() {
    for seed in 0..8 {
        // Rounds 1 and 2 rescued: 1 + 1 + 10.
        let report = run(false, seed, &[1, 2]);
        assert!(
            report.passed(),
            "{:#?}\n{}",
            report.violations,
            report.summary()
        );
        assert_eq!(report.outcomes.get("Auditor"), Some(&Ok("12".into())));
        assert_eq!(report.reference.get("Auditor"), Some(&Ok("12".into())));
    }
    let report = run(false, 0, &[]);
    assert!(report.passed(), "{:#?}", report.violations);
    assert_eq!(report.outcomes.get("Teller"), Some(&Ok("30".into())));
}

#[test]
fn a_planted_wrong_rescue_is_caught() {
    for seed in 0..8 {
        let report = run(true, seed, &[1]);
        let caught: Vec<&String> = report
            .violations
            .iter()
            .filter(|v| v.starts_with("outcome-equals-reference"))
            .collect();
        // The run's rescue saw the body's count (2 + 10 + 10); the reference skips the body
        // of the rescued round (1 + 10 + 10).
        assert_eq!(report.outcomes.get("Auditor"), Some(&Ok("22".into())));
        assert_eq!(report.reference.get("Auditor"), Some(&Ok("21".into())));
        assert_eq!(caught.len(), 2, "at both roles: {:#?}", report.violations);
    }
    // Without a rescue the planted bug is silent.
    assert!(run(true, 0, &[]).passed());
}

/// One connection: a checkpoint whose rescue reports that it ran (not what the body would
/// have said), so only a reference that follows the rescue in this nested session agrees.
#[derive(Clone)]
struct Connection {
    n: u32,
}

impl Choreography for Connection {
    type Census = Roles![Teller, Auditor];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        let n = self.n;
        ch.at("connection")
            .checkpoint(
                n,
                |ch, n| async move {
                    ch.at("serve").locally(Teller, |_| ()).await?;
                    let v = ch.locally(Teller, move |_| format!("served {n}")).await?;
                    ch.at("served").broadcast(Teller, v).await
                },
                |ch, n, why| async move {
                    let v = ch
                        .locally(Teller, move |_| {
                            format!("connection {n} rescued: {}", why.message)
                        })
                        .await?;
                    ch.at("rescued").broadcast(Teller, v).await
                },
            )
            .await
    }
}

/// Three connections, each a nested session of its own.
#[derive(Clone)]
struct Server;

impl Choreography for Server {
    type Census = Roles![Teller, Auditor];
    type Output = Vec<Shared<String, Roles![Teller, Auditor]>>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let mut handles = Vec::new();
        for n in 0..3 {
            handles.push(ch.spawn_session(Connection { n })?);
        }
        let mut served = Vec::new();
        for h in handles {
            served.push(h.join().await??);
        }
        Ok(served)
    }
}

#[test]
fn rescues_in_nested_sessions_are_followed() {
    let program = Program::new(Server, &FamilySizes::new()).unwrap();
    // The second connection to serve crashes (whichever it is at this seed).
    let panic = Fault {
        trigger: Trigger::Site {
            site: SiteRef::Label("serve".into()),
            role: Some("Teller".into()),
            occurrence: 2,
        },
        action: Action::Panic {
            message: "injected panic".into(),
        },
    };
    for seed in 0..4 {
        let report = Sim::new(seed)
            .plan(FaultPlan {
                faults: vec![panic.clone()],
            })
            .time_limit(Duration::from_secs(120))
            .run("server", &program)
            .unwrap();
        assert!(
            report.passed(),
            "{:#?}\n{}",
            report.violations,
            report.summary()
        );
        let Some(Ok(json)) = report.outcomes.get("Auditor") else {
            panic!("{}", report.summary());
        };
        assert_eq!(json.matches("rescued: injected panic").count(), 1, "{json}");
        assert_eq!(json.matches("served").count(), 2, "{json}");
    }
}
