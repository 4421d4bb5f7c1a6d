//! `ch.side_effect_async`: an asynchronous effect runs once and is logged, so a participant
//! replayed after a crash gets the logged result without calling out again; a panic in its
//! future is an application crash that the replay masks.
#![cfg(madsim)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rehearsal::{Choreo, ChoreoError, Choreography, FamilySizes, Program, Roles, roles};
use rehearsal_sim::{Action, Fault, FaultPlan, Sim, SiteRef, Trigger};

roles!(Caller, Peer);

/// How often each test's effect ran (the reference run's included), across crashes.
static FETCHED: AtomicU64 = AtomicU64::new(0);
static PANICKY: AtomicU64 = AtomicU64::new(0);

/// Caller fetches a number from the outside world (an effect that takes a while) and sends
/// it to Peer; with `panic_on`, the effect's future panics on that run of it.
#[derive(Clone)]
struct Fetch {
    calls: &'static AtomicU64,
    panic_on: Option<u64>,
}

impl Choreography for Fetch {
    type Census = Roles![Caller, Peer];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let (calls, panic_on) = (self.calls, self.panic_on);
        let n = ch
            .at("fetch")
            .side_effect_async(Caller, |_| async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let call = calls.fetch_add(1, Ordering::SeqCst);
                assert_ne!(Some(call), panic_on, "the outside world failed");
                41u64
            })
            .await?;
        let n = ch.at("fetched").comm(Caller, Peer, &n).await?;
        let m = ch.locally(Peer, |p| p.get(&n) + 1).await?;
        ch.at("answer").broadcast(Peer, m).await
    }
}

fn crash_at(site: &str, role: &str) -> FaultPlan {
    FaultPlan {
        faults: vec![Fault {
            trigger: Trigger::Site {
                site: SiteRef::Label(site.into()),
                role: Some(role.into()),
                occurrence: 1,
            },
            action: Action::Crash {
                restart_after: Some(Duration::from_millis(300)),
            },
        }],
    }
}

#[test]
fn a_replay_after_a_crash_returns_the_logged_result_without_calling_out_again() {
    let program = Program::new(
        Fetch {
            calls: &FETCHED,
            panic_on: None,
        },
        &FamilySizes::new(),
    )
    .unwrap();
    let report = Sim::new(3)
        .plan(crash_at("fetched", "Caller"))
        .run("fetch", &program)
        .unwrap();
    assert!(report.passed(), "{}", report.summary());
    assert_eq!(report.trace.count("kill"), 1);
    assert_eq!(report.trace.count("restart"), 1);
    // Once in the reference run, once in Caller's first run; not in its replay.
    assert_eq!(FETCHED.load(Ordering::SeqCst), 2);
}

#[test]
fn a_panic_in_the_effects_future_is_a_crash_the_replay_masks() {
    // Call 0 is the reference run's, call 1 Caller's first run (it panics), call 2 its replay.
    let program = Program::new(
        Fetch {
            calls: &PANICKY,
            panic_on: Some(1),
        },
        &FamilySizes::new(),
    )
    .unwrap();
    let report = Sim::new(5).run("fetch", &program).unwrap();
    assert!(report.passed(), "{}", report.summary());
    assert_eq!(report.outcomes.get("Caller"), Some(&Ok("42".to_string())));
    assert_eq!(PANICKY.load(Ordering::SeqCst), 3);
}
