//! Time in choreographies, std mode on the in-process cluster (real time): `ch.sleep` waits,
//! `ch.comm_within` times out when the sender is late and not when it is prompt, the late
//! frame is discarded without leftovers, and the reference run along the run's path agrees
//! with the projected run in both cases.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rehearsal::net::transport::{InProcessNetwork, NodeId};
use rehearsal::observer::{Event, FrameEvent, Observer, Verdict};
use rehearsal::{
    Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, NodeConfig, Outcomes, Program,
    Roles, RunPath, SessionId, TimedOut, roles,
};
use serde::{Deserialize, Serialize};

roles!(Coordinator, Voter);

/// No run in this file may take longer than this: a hang is a failure, not a stuck test.
const LIMIT: Duration = Duration::from_secs(10);

/// The voter votes yes after `delay`; the coordinator waits `timeout` for the vote, counts a
/// missing one as no, and tells the voter what it decided.
#[derive(Clone)]
struct Vote {
    delay: Duration,
    timeout: Duration,
}

/// What each side ends with.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Decision {
    commit: bool,
    timed_out: bool,
}

impl Choreography for Vote {
    type Census = Roles![Coordinator, Voter];
    type Output = Decision;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Decision, ChoreoError> {
        ch.at("think").sleep(Voter, self.delay).await?;
        let yes = ch.locally(Voter, |_| true).await?;
        let vote = ch
            .at("vote")
            .comm_within(Voter, Coordinator, &yes, self.timeout)
            .await?;
        let decision = ch
            .locally(Coordinator, |c| match c.get(&vote) {
                Ok(yes) => (*yes, false),
                Err(TimedOut { .. }) => (false, true),
            })
            .await?;
        let (commit, timed_out) = ch.at("decision").broadcast(Coordinator, decision).await?;
        Ok(Decision { commit, timed_out })
    }
}

/// Records every participant's path events into a [`RunPath`], and counts late frames.
struct PathRecorder {
    path: Mutex<RunPath>,
    late: Mutex<u32>,
}

impl Observer for PathRecorder {
    fn on_event(&self, _: NodeId, event: &Event<'_>) -> Verdict {
        self.path
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(event);
        if let Event::Frame {
            kind: FrameEvent::DropLate,
            ..
        } = event
        {
            *self.late.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        }
        Verdict::Continue
    }
}

/// Runs one session of `vote` on a cluster with a [`PathRecorder`]; the outcomes, the path,
/// how many late frames were discarded, and how many frames were left over.
async fn run(vote: Vote) -> (Program, Outcomes, RunPath, u32, u64) {
    let recorder = Arc::new(PathRecorder {
        path: Mutex::new(RunPath::new(SessionId(1))),
        late: Mutex::new(0),
    });
    let config = NodeConfig {
        observer: Some(recorder.clone()),
        ..NodeConfig::default()
    };
    let cluster = LocalCluster::with_network(InProcessNetwork::new(), config);
    let program = Program::new(vote, &FamilySizes::new()).expect("a two-role census");
    let outcomes = tokio::time::timeout(LIMIT, cluster.run(&program))
        .await
        .expect("the run must not hang");
    // The voter's late frame may still be on its way when the session ends: give it time to
    // arrive and be discarded, then look at the counters.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let path = recorder.path.lock().expect("no panic").clone();
    let late = *recorder.late.lock().expect("no panic");
    (program, outcomes, path, late, cluster.stats().unconsumed)
}

fn decision(outcomes: &Outcomes, who: &str) -> Decision {
    match outcomes.get(who) {
        Some(Ok(json)) => serde_json::from_str(json).expect("a decision"),
        other => panic!("{who} ended with {other:?}"),
    }
}

#[tokio::test]
async fn a_prompt_sender_does_not_time_out() {
    let (program, outcomes, path, late, unconsumed) = run(Vote {
        delay: Duration::ZERO,
        timeout: Duration::from_secs(5),
    })
    .await;
    let want = Decision {
        commit: true,
        timed_out: false,
    };
    assert_eq!(decision(&outcomes, "Coordinator"), want);
    assert_eq!(decision(&outcomes, "Voter"), want);
    assert!(path.is_empty(), "no timeout, no rescue: {path:?}");
    assert_eq!((late, unconsumed), (0, 0));
    assert_eq!(program.reference_along(&path).await, outcomes);
}

#[tokio::test]
async fn a_late_sender_times_out_and_its_frame_is_discarded() {
    let (program, outcomes, path, late, unconsumed) = run(Vote {
        delay: Duration::from_millis(300),
        timeout: Duration::from_millis(20),
    })
    .await;
    let want = Decision {
        commit: false,
        timed_out: true,
    };
    assert_eq!(decision(&outcomes, "Coordinator"), want);
    assert_eq!(decision(&outcomes, "Voter"), want);
    assert_eq!(path.timeouts(), 1, "{path:?}");
    assert_eq!(
        late, 1,
        "the vote arrives after the timeout and is discarded"
    );
    assert_eq!(unconsumed, 0, "a late frame is never left over");
    // The fault-free reference votes yes; the reference along the run's path times out too.
    assert_ne!(program.reference().await, outcomes);
    assert_eq!(program.reference_along(&path).await, outcomes);
}

#[tokio::test]
async fn sleep_waits_at_its_role_only() {
    let start = tokio::time::Instant::now();
    let (_, outcomes, _, _, _) = run(Vote {
        delay: Duration::from_millis(150),
        timeout: Duration::from_secs(5),
    })
    .await;
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(decision(&outcomes, "Coordinator").commit);
    // The reference run does not wait.
    let program = Program::new(
        Vote {
            delay: Duration::from_secs(3600),
            timeout: Duration::from_secs(1),
        },
        &FamilySizes::new(),
    )
    .expect("a two-role census");
    let reference = tokio::time::timeout(Duration::from_secs(1), program.reference())
        .await
        .expect("the reference run does not sleep");
    assert_eq!(
        reference.get("Voter"),
        Some(&Ok(r#"{"commit":true,"timed_out":false}"#.to_string()))
    );
}
