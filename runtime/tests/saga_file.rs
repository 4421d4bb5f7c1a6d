//! Std mode, real files: a saga aborts, and Warehouse's process is killed in the middle of
//! its compensation (after the first of its two compensations is durable). A new process on
//! the same store file replays the saga and compensates the rest: every commit is compensated
//! exactly once, in reverse commit order, and the application's records are back where they
//! started.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rehearsal::net::transport::{InProcessNetwork, NodeId};
use rehearsal::observer::{Event, Observer, SagaStep, Verdict};
use rehearsal::store::{FileStore, Store, Table};
use rehearsal::{
    Choreo, ChoreoError, Choreography, FamilySizes, Node, NodeConfig, ParticipantId, Program,
    Roles, SessionId, roles,
};

roles!(Warehouse, Payment);

/// Warehouse reserves stock and packages the order (two commits); Payment refuses a charge
/// over its limit, which aborts the saga.
#[derive(Clone)]
struct Order;

impl Choreography for Order {
    type Census = Roles![Warehouse, Payment];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        ch.transaction(
            Warehouse,
            "reserve",
            |_, tx| {
                let stock = tx.get_or("stock", 10u64);
                tx.put("stock", &(stock - 4));
                Ok(4u64)
            },
            |tx, qty: &u64| {
                let stock = tx.get_or("stock", 10u64);
                tx.put("stock", &(stock + qty));
            },
        )
        .await?;
        ch.transaction(
            Warehouse,
            "package",
            |_, tx| {
                tx.put("package", &"box 1".to_string());
                Ok(())
            },
            |tx, _: &()| tx.delete("package"),
        )
        .await?;
        let amount = ch.locally(Warehouse, |_| 400u64).await?;
        let amount = ch.comm(Warehouse, Payment, &amount).await?;
        ch.transaction(
            Payment,
            "charge",
            |p, _| Err(format!("{} is over the limit", p.get(&amount))),
            |_, _: &()| {},
        )
        .await?;
        Ok(0)
    }
}

/// Records Warehouse's compensations; halts it after the first (once it is durable).
#[derive(Default)]
struct Watch {
    halt_after_first: bool,
    compensated: Mutex<Vec<u64>>,
    halted: tokio::sync::Notify,
}

impl Observer for Watch {
    fn on_event(&self, _: NodeId, event: &Event<'_>) -> Verdict {
        if let Event::Saga {
            step: SagaStep::Compensate { index, .. },
            ..
        } = event
        {
            let mut done = self.compensated.lock().unwrap();
            done.push(*index);
            if self.halt_after_first && done.len() == 1 {
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
async fn a_warehouse_killed_mid_compensation_compensates_every_commit_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        dir.path().join("warehouse.redb"),
        dir.path().join("payment.redb"),
    ];
    let net = InProcessNetwork::new();
    let program = Program::new(Order, &FamilySizes::new()).unwrap();
    let placement: Arc<[NodeId]> = Arc::from([NodeId(0), NodeId(1)]);
    let mut config = NodeConfig::default();
    config.link.initial_rto = Duration::from_millis(20);
    let node = |i: u32, store: FileStore, observer: Arc<dyn Observer>| {
        let mut c = config.clone();
        c.store = Some(Arc::new(store));
        c.observer = Some(observer);
        Node::start(NodeId(i), Arc::new(net.endpoint(NodeId(i))), c)
    };
    let first = Arc::new(Watch {
        halt_after_first: true,
        ..Watch::default()
    });
    let warehouse = node(0, FileStore::open(&files[0]).unwrap(), first.clone());
    let payment = node(
        1,
        FileStore::open(&files[1]).unwrap(),
        Arc::new(Watch::default()),
    );
    let session = SessionId(3);
    let w_run =
        tokio::spawn(program.start(&warehouse, session, ParticipantId(0), placement.clone()));
    let p_run = tokio::spawn(program.start(&payment, session, ParticipantId(1), placement.clone()));

    tokio::time::timeout(Duration::from_secs(10), first.halted.notified())
        .await
        .expect("Warehouse starts compensating");
    assert_eq!(
        *first.compensated.lock().unwrap(),
        vec![1],
        "the last commit first"
    );
    w_run.abort();
    warehouse.shutdown();
    drop(warehouse);
    assert!(w_run.await.is_err(), "the killed run never returns");

    let second = Arc::new(Watch::default());
    let warehouse = node(0, open_when_released(&files[0]).await, second.clone());
    let w_run =
        tokio::spawn(program.start(&warehouse, session, ParticipantId(0), placement.clone()));
    let (w, p) = tokio::time::timeout(Duration::from_secs(30), async {
        (w_run.await.unwrap(), p_run.await.unwrap())
    })
    .await
    .expect("the saga ends after the restart");

    assert_eq!(
        *second.compensated.lock().unwrap(),
        vec![0],
        "the restarted process compensates only what was left"
    );
    let reference = program.reference().await;
    assert_eq!(Some(&w), reference.get("Warehouse"));
    assert_eq!(Some(&p), reference.get("Payment"));
    assert!(
        matches!(w, Err(ChoreoError::Aborted { ref transaction, .. }) if transaction == "charge")
    );

    // The application's records are back: stock restored once, the package gone.
    warehouse.shutdown();
    drop(warehouse);
    let store = open_when_released(&files[0]).await;
    let stock: u64 =
        postcard::from_bytes(&store.get(Table::App, b"stock").unwrap().unwrap()).unwrap();
    assert_eq!(stock, 10, "the reservation was undone exactly once");
    assert_eq!(store.get(Table::App, b"package").unwrap(), None);
    // And the saga log holds one done-mark per commit.
    let marks = store
        .scan(Table::Saga, &[])
        .unwrap()
        .into_iter()
        .filter(|(k, _)| k.get(10) == Some(&b'X'))
        .count();
    assert_eq!(marks, 2);
}
