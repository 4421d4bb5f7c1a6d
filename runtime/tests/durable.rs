//! Std mode, real files: a participant journals to its own store file; its node is killed
//! in the middle of a session and a new node opens the same file; the participant replays
//! from it and the session completes with the reference outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rehearsal::net::transport::{InProcessNetwork, NodeId};
use rehearsal::observer::{Event, FrameEvent, Observer, Verdict};
use rehearsal::store::{FileStore, Store, Table};
use rehearsal::{
    Choreo, ChoreoError, Choreography, FamilySizes, Node, NodeConfig, ParticipantId, Program,
    Roles, SessionId, roles,
};

roles!(Left, Right);

/// Twenty round trips; Right keeps a running sum it reports at the end.
#[derive(Clone)]
struct Relay;

impl Choreography for Relay {
    type Census = Roles![Left, Right];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let mut sum = ch.locally(Right, |_| 0u64).await?;
        for i in 0..20u64 {
            let x = ch.locally(Left, |_| i * i).await?;
            let x = ch.at("ping").comm(Left, Right, &x).await?;
            sum = ch.locally(Right, |r| r.get(&sum) + r.get(&x)).await?;
            let s = ch.locally(Right, |r| *r.get(&sum)).await?;
            ch.at("pong").comm(Right, Left, &s).await?;
        }
        ch.at("total").broadcast(Right, sum).await
    }
}

/// Halts Right (its process is dying) when it receives its `n`-th ping.
struct HaltOnPing {
    n: u32,
    seen: AtomicU32,
    halted: tokio::sync::Notify,
}

impl Observer for HaltOnPing {
    fn on_event(&self, _: NodeId, event: &Event<'_>) -> Verdict {
        if let Event::Frame {
            kind: FrameEvent::Receive,
            civ,
            ..
        } = event
        {
            if civ.site.label.as_deref() == Some("ping")
                && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.n
            {
                self.halted.notify_one();
                return Verdict::Halt;
            }
        }
        Verdict::Continue
    }
}

async fn open_when_released(path: &std::path::Path) -> FileStore {
    // The killed node's tasks drop its handle on the file asynchronously.
    for _ in 0..500 {
        match FileStore::open(path) {
            Ok(store) => return store,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    FileStore::open(path).expect("the store file reopens once the killed node released it")
}

#[tokio::test]
async fn a_killed_role_replays_from_its_store_file_and_the_session_completes() {
    let dir = tempfile::tempdir().unwrap();
    let files = [dir.path().join("left.redb"), dir.path().join("right.redb")];
    let net = InProcessNetwork::new();
    let program = Program::new(Relay, &FamilySizes::new()).unwrap();
    let placement: Arc<[NodeId]> = Arc::from([NodeId(0), NodeId(1)]);
    let mut config = NodeConfig::default();
    config.link.initial_rto = Duration::from_millis(20);
    let node = |i: u32, store: FileStore, observer: Option<Arc<dyn Observer>>| {
        let mut c = config.clone();
        c.store = Some(Arc::new(store));
        c.observer = observer;
        Node::start(NodeId(i), Arc::new(net.endpoint(NodeId(i))), c)
    };

    let left = node(0, FileStore::open(&files[0]).unwrap(), None);
    let halt = Arc::new(HaltOnPing {
        n: 11,
        seen: AtomicU32::new(0),
        halted: tokio::sync::Notify::new(),
    });
    let right = node(1, FileStore::open(&files[1]).unwrap(), Some(halt.clone()));
    let session = SessionId(7);
    let left_run = tokio::spawn(program.start(&left, session, ParticipantId(0), placement.clone()));
    let right_run =
        tokio::spawn(program.start(&right, session, ParticipantId(1), placement.clone()));

    // Right dies right after its 11th ping: kill its process (task and node).
    tokio::time::timeout(Duration::from_secs(10), halt.halted.notified())
        .await
        .expect("Right reaches its 11th ping");
    right_run.abort();
    right.shutdown();
    drop(right);
    assert!(right_run.await.is_err(), "the killed run never returns");

    // A new process for Right on the same file replays and finishes the session.
    let right = node(1, open_when_released(&files[1]).await, None);
    let right_run =
        tokio::spawn(program.start(&right, session, ParticipantId(1), placement.clone()));
    let (l, r) = tokio::time::timeout(Duration::from_secs(30), async {
        (left_run.await.unwrap(), right_run.await.unwrap())
    })
    .await
    .expect("the session completes after the restart");

    let reference = program.reference().await;
    assert_eq!(Some(&l), reference.get("Left"));
    assert_eq!(Some(&r), reference.get("Right"));
    let want: u64 = (0..20u64).map(|i| i * i).sum();
    assert_eq!(r, Ok(want.to_string()));
    let stats = right.stats();
    assert!(
        stats.replayed_sends >= 10,
        "the 10 pongs sent before the kill were not sent again: {stats:?}"
    );

    // A third process finds the session finished in the file and returns its outcome.
    for _ in 0..500 {
        if right.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        right.in_flight(),
        0,
        "Left acknowledges every frame of Right"
    );
    right.shutdown();
    drop(right);
    let again = node(1, open_when_released(&files[1]).await, None);
    let outcome = program
        .start(&again, session, ParticipantId(1), placement.clone())
        .await;
    assert_eq!(outcome, Ok(want.to_string()));
    assert_eq!(
        again.stats().frames_sent,
        0,
        "a finished participant sends nothing"
    );
    left.shutdown();
    again.shutdown();
    drop(again);

    // The session ended and every frame was acknowledged: Right's journal is one record.
    let store = open_when_released(&files[1]).await;
    for table in Table::ALL {
        let left_over = store.scan(table, &[]).unwrap().len();
        let want = usize::from(table == Table::Sessions);
        assert_eq!(
            left_over,
            want,
            "{}: {left_over} entries left",
            table.name()
        );
    }
}
