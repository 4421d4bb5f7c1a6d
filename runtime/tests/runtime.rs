//! The runtime's guarantees, end to end on the in-process cluster: diverging projections are
//! integrity errors at every role, frames from one sender are consumed in send order, and
//! frames that are corrupt or belong to unknown or finished sessions are never delivered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rehearsal::net::civ::{Civ, Lane};
use rehearsal::net::link::Packet;
use rehearsal::net::transport::{InProcessNetwork, NetFaults, NodeId, Transport};
use rehearsal::{
    At, Choreo, ChoreoError, Choreography, FamilySizes, LocalCluster, NodeConfig, Participant,
    ParticipantId, Program, Roles, roles,
};
use rehearsal::{SessionId, Site};

roles!(Left, Right, Third);

/// Takes a different branch at whichever role gets here first: a deliberately
/// nondeterministic choreography.
#[derive(Clone)]
struct Diverge(&'static AtomicUsize);

impl Choreography for Diverge {
    type Census = Roles![Left, Right];
    type Output = u32;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
        let first = self.0.fetch_add(1, Ordering::SeqCst) == 0;
        let x = ch.locally(Left, |_| 1u32).await?;
        let x = if first {
            ch.at("first-branch").comm(Left, Right, &x).await?
        } else {
            ch.at("second-branch").comm(Left, Right, &x).await?
        };
        let y = ch.locally(Right, |r| r.get(&x) + 1).await?;
        ch.at("reply").broadcast(Right, y).await
    }
}

#[tokio::test]
async fn diverging_projections_end_in_an_integrity_error_at_every_role() {
    static FLIP: AtomicUsize = AtomicUsize::new(0);
    let program = Program::new(Diverge(&FLIP), &FamilySizes::new()).unwrap();
    let outcomes = tokio::time::timeout(Duration::from_secs(10), LocalCluster::new().run(&program))
        .await
        .expect("a divergence must not hang");
    for (who, outcome) in outcomes.entries() {
        match outcome {
            Err(ChoreoError::Integrity { expected, got, .. }) => {
                let labels = [expected.label.as_deref(), got.label.as_deref()];
                assert!(
                    labels.contains(&Some("first-branch"))
                        && labels.contains(&Some("second-branch")),
                    "{who}: the error names both sites: {outcome:?}"
                );
            }
            other => panic!("{who}: expected an integrity error, got {other:?}"),
        }
    }
}

/// Sender floods Receiver with 1,000 frames while Receiver first waits on Third, which
/// answers only after hearing from Sender.
#[derive(Clone)]
struct Flood;

impl Choreography for Flood {
    type Census = Roles![Left, Right, Third];
    type Output = At<Vec<u32>, Right>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let go = ch.locally(Left, |_| ()).await?;
        let go = ch.comm(Left, Third, &go).await?;
        let t = ch.locally(Third, |t| *t.get(&go)).await?;
        ch.comm(Third, Right, &t).await?;
        let mut got = ch.locally(Right, |_| Vec::with_capacity(1000)).await?;
        for i in 0..1000u32 {
            let v = ch.locally(Left, |_| i).await?;
            let v = ch.at("flood").comm(Left, Right, &v).await?;
            got = ch
                .locally(Right, move |r| {
                    let mut got = r.take(got);
                    got.push(*r.get(&v));
                    got
                })
                .await?;
        }
        Ok(got)
    }
}

#[tokio::test]
async fn frames_from_one_sender_are_consumed_in_send_order() {
    let faults = NetFaults {
        loss: 0.1,
        duplicate: 0.1,
        max_delay: Duration::from_millis(3),
    };
    let mut config = NodeConfig::default();
    config.link.initial_rto = Duration::from_millis(10);
    let cluster = LocalCluster::with_network(InProcessNetwork::with_faults(3, faults), config);
    let program = Program::new(Flood, &FamilySizes::new()).unwrap();
    let outcomes = cluster.run(&program).await;
    let want: Vec<u32> = (0..1000).collect();
    assert_eq!(
        outcomes.get("Right"),
        Some(&Ok(serde_json::to_string(&want).unwrap()))
    );
    assert_eq!(outcomes, program.reference().await);
}

#[tokio::test]
async fn two_sessions_on_the_same_nodes_keep_their_frames_apart() {
    #[derive(Clone)]
    struct Echo(u32);
    impl Choreography for Echo {
        type Census = Roles![Left, Right];
        type Output = u32;
        async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
            let mut acc = 0;
            for _ in 0..50 {
                let v = ch.locally(Left, |_| self.0).await?;
                let v = ch.comm(Left, Right, &v).await?;
                let w = ch.locally(Right, |r| *r.get(&v) * 2).await?;
                acc += ch.broadcast(Right, w).await?;
            }
            Ok(acc)
        }
    }
    let cluster = LocalCluster::new();
    let a = Program::new(Echo(1), &FamilySizes::new()).unwrap();
    let b = Program::new(Echo(1000), &FamilySizes::new()).unwrap();
    let (ra, rb) = tokio::join!(cluster.run(&a), cluster.run(&b));
    assert_eq!(ra.get("Left"), Some(&Ok("100".to_string())));
    assert_eq!(rb.get("Right"), Some(&Ok("100000".to_string())));
}

async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("condition not reached in time");
}

#[tokio::test]
async fn corrupt_unknown_and_finished_session_frames_are_counted_never_delivered() {
    #[derive(Clone)]
    struct One;
    impl Choreography for One {
        type Census = Roles![Left, Right];
        type Output = u32;
        async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
            let v = ch.locally(Left, |_| 7u32).await?;
            ch.broadcast(Left, v).await
        }
    }
    let cluster = LocalCluster::new();
    let program = Program::new(One, &FamilySizes::new()).unwrap();
    assert!(cluster.run(&program).await.all_ok());
    let right = cluster.node(Participant::role("Right"));
    let intruder = cluster.network().endpoint(NodeId(99));
    let frame = |session: u64| {
        Packet::Frame {
            civ: Civ {
                session: SessionId(session),
                site: Site::caller(None),
                from: ParticipantId(0),
                to: ParticipantId(1),
                lane: Lane::Data,
                seq: 1,
                epoch: 0,
                ordered: true,
                occurrence: 0,
            },
            payload: vec![7],
            ack: true,
        }
        .encode()
    };
    intruder
        .send(right.id(), vec![0xde, 0xad, 0xbe, 0xef, 0xff])
        .unwrap();
    intruder.send(right.id(), frame(1)).unwrap(); // session 1 finished
    intruder.send(right.id(), frame(4242)).unwrap(); // never opened
    until(|| {
        let s = right.stats();
        s.corrupt == 1 && s.dropped_finished == 1 && s.held_unknown == 1
    })
    .await;
    let s = right.stats();
    // The broadcast and Left's notice of the session's end.
    assert_eq!(s.delivered, 2, "only the real frames were delivered: {s:?}");
    // The node still works after garbage.
    assert!(cluster.run(&program).await.all_ok());
}

#[tokio::test]
async fn a_panic_in_local_code_ends_the_session_with_crashed_at_every_role() {
    #[derive(Clone)]
    struct Divide;
    impl Choreography for Divide {
        type Census = Roles![Left, Right];
        type Output = i32;
        async fn run(self, ch: &Choreo<Self::Census>) -> Result<i32, ChoreoError> {
            let zero = ch.locally(Right, |_| 0i32).await?;
            let zero = ch.comm(Right, Left, &zero).await?;
            let q = ch
                .at("divide")
                .locally(Left, |l| {
                    10i32.checked_div(*l.get(&zero)).expect("division by zero")
                })
                .await?;
            ch.broadcast(Left, q).await
        }
    }
    let program = Program::new(Divide, &FamilySizes::new()).unwrap();
    let outcomes = LocalCluster::new().run(&program).await;
    for (who, o) in outcomes.entries() {
        match o {
            Err(ChoreoError::Crashed {
                role,
                site,
                message,
            }) => {
                assert_eq!(role, "Left", "{who}");
                assert_eq!(site.label.as_deref(), Some("divide"), "{who}");
                assert_eq!(message, "division by zero", "{who}");
            }
            other => panic!("{who}: expected Crashed, got {other:?}"),
        }
    }
    assert_eq!(outcomes, program.reference().await);
}
