//! The operators beyond `locally`/`comm`/`broadcast`, end to end on the in-process cluster:
//! enclaves, multicasts, recursive calls, nested sessions, family operators (and their shape
//! errors), and operators awaited concurrently with `tokio::join!` on a lossy network. Every
//! test also compares the projected outcomes with the central reference run.

use std::time::Duration;

use rehearsal::net::transport::{InProcessNetwork, NetFaults};
use rehearsal::{
    At, Choreo, ChoreoError, Choreography, Faceted, FamilySizes, LocalCluster, NodeConfig,
    Outcomes, Participant, Program, Roles, Shared, families, roles,
};
use serde::{Deserialize, Serialize};

roles!(A, B, C, D, Coordinator, Bystander);
families!(Worker);

/// No run in this file may take longer than this: a hang is a failure, not a stuck test.
const LIMIT: Duration = Duration::from_secs(10);

/// Runs one session of `program` on `cluster` (failing on a hang) and checks that every
/// participant's outcome equals the reference run's.
async fn run_like_reference(cluster: &LocalCluster, program: &Program) -> Outcomes {
    let outcomes = tokio::time::timeout(LIMIT, cluster.run(program))
        .await
        .expect("the run must not hang");
    let reference = program.reference().await;
    assert_eq!(
        outcomes,
        reference,
        "projected outcomes differ from the reference run: {:#?}",
        outcomes.differences(&reference)
    );
    outcomes
}

/// The JSON outcome of `who`, which must have ended without error.
fn ok(outcomes: &Outcomes, who: &str) -> String {
    match outcomes.get(who) {
        Some(Ok(json)) => json.clone(),
        other => panic!("{who}: expected an outcome, got {other:?}\n{outcomes}"),
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..2_500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("condition not reached in time: {what}");
}

/// A cluster on a network that loses, duplicates and reorders frames.
fn lossy_cluster(seed: u64) -> LocalCluster {
    let faults = NetFaults {
        loss: 0.2,
        duplicate: 0.1,
        max_delay: Duration::from_millis(3),
    };
    let mut config = NodeConfig::default();
    config.link.initial_rto = Duration::from_millis(10);
    LocalCluster::with_network(InProcessNetwork::with_faults(seed, faults), config)
}

// ---------------------------------------------------------------------------------------------
// enclave

/// A negotiation between A and B only: A decides, broadcasts its choice within the enclave,
/// and both branch on it. C never learns the choice.
#[derive(Clone)]
struct Negotiate {
    offer: u32,
}

impl Choreography for Negotiate {
    type Census = Roles![A, B];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        let accept = ch.locally(A, |_| self.offer >= 10).await?;
        if ch.broadcast(A, accept).await? {
            let price = ch.locally(A, |_| self.offer * 2).await?;
            let price = ch.comm(A, B, &price).await?;
            let note = ch
                .locally(B, |b| format!("deal at {}", b.get(&price)))
                .await?;
            ch.broadcast(B, note).await
        } else {
            let why = ch.locally(B, |_| "no deal".to_string()).await?;
            ch.broadcast(B, why).await
        }
    }
}

/// A and B negotiate in an enclave; afterwards C (which took no part) broadcasts to everyone.
#[derive(Clone)]
struct Market {
    offer: u32,
}

impl Choreography for Market {
    type Census = Roles![A, B, C];
    type Output = (Shared<String, Roles![A, B]>, u32);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let deal = ch.enclave(Negotiate { offer: self.offer }).await?;
        let tail = ch.locally(C, |_| 7u32).await?;
        let tail = ch.broadcast(C, tail).await?;
        Ok((deal, tail))
    }
}

#[tokio::test]
async fn an_enclave_result_exists_only_at_its_roles_and_outsiders_exchange_nothing_for_it() {
    for (offer, deal) in [(12, "\"deal at 24\""), (5, "\"no deal\"")] {
        let cluster = LocalCluster::new();
        let program = Program::new(Market { offer }, &FamilySizes::new()).unwrap();
        let outcomes = run_like_reference(&cluster, &program).await;
        assert_eq!(ok(&outcomes, "A"), format!("[{deal},7]"), "offer {offer}");
        assert_eq!(ok(&outcomes, "B"), format!("[{deal},7]"), "offer {offer}");
        assert_eq!(ok(&outcomes, "C"), "[null,7]", "offer {offer}");

        let [a, b, c] = ["A", "B", "C"].map(|r| cluster.node(Participant::role(r)));
        // Every frame sent has been acknowledged, so every frame has arrived somewhere.
        until("all frames acknowledged", || {
            a.in_flight() + b.in_flight() + c.in_flight() == 0
        })
        .await;
        let (sa, sb, sc) = (a.stats(), b.stats(), c.stats());
        // Besides its data, every participant sends (and gets) a notice of the session's end
        // to (and from) each of the 2 others.
        let end = 2;
        // A: the enclave broadcast goes to B only (not C), plus the price when accepted.
        let a_frames = if offer >= 10 { 2 } else { 1 };
        assert_eq!(sa.frames_sent, a_frames + end, "offer {offer}: A {sa:?}");
        // B: the enclave's closing broadcast goes to A only.
        assert_eq!(sb.frames_sent, 1 + end, "offer {offer}: B {sb:?}");
        // C: only its own broadcast to A and B; it received nothing but the end notices.
        assert_eq!(sc.frames_sent, 2 + end, "offer {offer}: C {sc:?}");
        assert_eq!(
            sc.delivered + sc.dropped_finished + sc.held_unknown + sc.duplicates,
            end,
            "offer {offer}: C received a frame: {sc:?}"
        );
        assert_eq!(
            sa.delivered,
            2 + end,
            "offer {offer}: A gets B's and C's: {sa:?}"
        );
        assert_eq!(
            sb.delivered,
            a_frames + 1 + end,
            "offer {offer}: B gets A's and C's: {sb:?}"
        );
    }
}

/// An enclave whose local code crashes at A.
#[derive(Clone)]
struct CrashingPair;

impl Choreography for CrashingPair {
    type Census = Roles![A, B];
    type Output = u32;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
        let v = ch
            .at("crash")
            .locally(A, |_| -> u32 { panic!("enclave crash") })
            .await?;
        ch.broadcast(A, v).await
    }
}

#[derive(Clone)]
struct CrashInEnclave;

impl Choreography for CrashInEnclave {
    type Census = Roles![A, B, C];
    type Output = Shared<u32, Roles![A, B]>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        ch.enclave(CrashingPair).await
    }
}

#[tokio::test]
async fn a_crash_inside_an_enclave_ends_the_session_with_crashed_even_at_outsiders() {
    let program = Program::new(CrashInEnclave, &FamilySizes::new()).unwrap();
    let reference = program.reference().await;
    for (who, o) in reference.entries() {
        assert!(
            matches!(o, Err(ChoreoError::Crashed { .. })),
            "reference {who}: {o:?}"
        );
    }
    run_like_reference(&LocalCluster::new(), &program).await;
}

// ---------------------------------------------------------------------------------------------
// multicast

/// A multicasts a greeting to B and C only; each reads it, C forwards a derived value to B.
#[derive(Clone)]
struct Announce;

impl Choreography for Announce {
    type Census = Roles![A, B, C, D];
    type Output = (Shared<String, Roles![B, C]>, At<usize, B>, At<String, B>);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let hello = ch.locally(A, |_| "hello".to_string()).await?;
        let hello: Shared<String, Roles![B, C]> = ch.multicast(A, hello).await?;
        let len = ch.locally(B, |b| b.get_shared(&hello).len()).await?;
        let shout = ch
            .locally(C, |c| format!("{}!", c.get_shared(&hello)))
            .await?;
        let shout = ch.comm(C, B, &shout).await?;
        Ok((hello, len, shout))
    }
}

#[tokio::test]
async fn a_multicast_reaches_its_set_only() {
    let cluster = LocalCluster::new();
    let program = Program::new(Announce, &FamilySizes::new()).unwrap();
    let outcomes = run_like_reference(&cluster, &program).await;
    assert_eq!(ok(&outcomes, "A"), "[null,null,null]");
    assert_eq!(ok(&outcomes, "B"), r#"["hello",5,"hello!"]"#);
    assert_eq!(ok(&outcomes, "C"), r#"["hello",null,null]"#);
    assert_eq!(ok(&outcomes, "D"), "[null,null,null]");

    let [a, b, c, d] = ["A", "B", "C", "D"].map(|r| cluster.node(Participant::role(r)));
    until("all frames acknowledged", || {
        a.in_flight() + b.in_flight() + c.in_flight() + d.in_flight() == 0
    })
    .await;
    // Besides its data, every participant sends (and gets) a notice of the session's end to
    // (and from) each of the 3 others.
    let end = 3;
    assert_eq!(a.stats().frames_sent, 2 + end, "A sends to B and C only");
    let sd = d.stats();
    assert_eq!(
        (
            sd.frames_sent,
            sd.delivered,
            sd.dropped_finished + sd.held_unknown
        ),
        (end, end, 0),
        "D takes no part: {sd:?}"
    );
}

/// A multicasts to a set that includes itself.
#[derive(Clone)]
struct SelfIncluded;

impl Choreography for SelfIncluded {
    type Census = Roles![A, B, C, D];
    type Output = (Shared<u32, Roles![C, A]>, At<u32, A>, At<u32, C>);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let n = ch.locally(A, |_| 21u32).await?;
        let n: Shared<u32, Roles![C, A]> = ch.multicast(A, n).await?;
        let at_a = ch.locally(A, |a| a.get_shared(&n) * 2).await?;
        let at_c = ch.locally(C, |c| c.get_shared(&n) + 1).await?;
        Ok((n, at_a, at_c))
    }
}

#[tokio::test]
async fn a_multicast_to_a_set_including_the_sender_keeps_it_there() {
    let program = Program::new(SelfIncluded, &FamilySizes::new()).unwrap();
    let outcomes = run_like_reference(&LocalCluster::new(), &program).await;
    assert_eq!(ok(&outcomes, "A"), "[21,42,null]");
    assert_eq!(ok(&outcomes, "B"), "[null,null,null]");
    assert_eq!(ok(&outcomes, "C"), "[21,null,22]");
    assert_eq!(ok(&outcomes, "D"), "[null,null,null]");
}

/// A value whose wire format does not carry every field: what a receiver gets differs from
/// what the sender holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sealed {
    shown: u32,
    #[serde(skip)]
    hidden: u32,
}

/// The same value sent by `comm`, by `multicast` and by `broadcast`; every participant reports
/// the field the wire drops, as it received it.
#[derive(Clone)]
struct SealedSends;

impl Choreography for SealedSends {
    type Census = Roles![A, B, C];
    type Output = (u32, u32, u32);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let make = || Sealed {
            shown: 1,
            hidden: 99,
        };
        let by_comm = ch.locally(A, |_| make()).await?;
        let by_comm = ch.comm(A, B, &by_comm).await?;
        let by_comm = ch.locally(B, |b| b.get(&by_comm).hidden).await?;
        let by_comm = ch.broadcast(B, by_comm).await?;
        let by_multicast = ch.locally(A, |_| make()).await?;
        let by_multicast: Shared<Sealed, Roles![B, C]> = ch.multicast(A, by_multicast).await?;
        let by_multicast = ch
            .locally(B, |b| b.get_shared(&by_multicast).hidden)
            .await?;
        let by_multicast = ch.broadcast(B, by_multicast).await?;
        let by_broadcast = ch.locally(A, |_| make()).await?;
        let by_broadcast = ch.broadcast(A, by_broadcast).await?.hidden;
        Ok((by_comm, by_multicast, by_broadcast))
    }
}

#[tokio::test]
async fn multicast_and_broadcast_values_pass_through_the_codec_like_comm() {
    let program = Program::new(SealedSends, &FamilySizes::new()).unwrap();
    let outcomes = run_like_reference(&LocalCluster::new(), &program).await;
    // `hidden` does not cross the wire: receivers get its default, and so must everyone.
    for who in ["A", "B", "C"] {
        assert_eq!(ok(&outcomes, who), "[0,0,0]", "{who}");
    }
}

// ---------------------------------------------------------------------------------------------
// call

/// One level of a rally: the ball goes A → B → A, changed at each side, then the rally calls
/// itself for the remaining levels.
struct Volley {
    left: u32,
    ball: At<u64, A>,
}

const MODULUS: u64 = 1_000_003;

impl Choreography for Volley {
    type Census = Roles![A, B];
    type Output = (u64, u32);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(u64, u32), ChoreoError> {
        if self.left == 0 {
            let ball = ch.broadcast(A, self.ball).await?;
            return Ok((ball, 0));
        }
        let left = self.left;
        let ball = ch.comm(A, B, &self.ball).await?;
        let ball = ch.locally(B, |b| (b.get(&ball) * 3 + 1) % MODULUS).await?;
        let ball = ch.comm(B, A, &ball).await?;
        let ball = ch
            .locally(A, |a| (a.get(&ball) + u64::from(left)) % MODULUS)
            .await?;
        let (ball, depth) = ch
            .call(Volley {
                left: left - 1,
                ball,
            })
            .await?;
        Ok((ball, depth + 1))
    }
}

#[derive(Clone)]
struct Rally {
    levels: u32,
}

impl Choreography for Rally {
    type Census = Roles![A, B];
    type Output = (u64, u32);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<(u64, u32), ChoreoError> {
        let ball = ch.locally(A, |_| 5u64).await?;
        ch.call(Volley {
            left: self.levels,
            ball,
        })
        .await
    }
}

fn rally(levels: u32) -> u64 {
    (1..=levels).rev().fold(5, |ball, left| {
        ((ball * 3 + 1) % MODULUS + u64::from(left)) % MODULUS
    })
}

#[tokio::test]
async fn a_choreography_calls_itself_recursively_50_levels_deep() {
    let cluster = LocalCluster::new();
    for levels in [0, 1, 50] {
        let program = Program::new(Rally { levels }, &FamilySizes::new()).unwrap();
        let before = cluster.stats().frames_sent;
        let outcomes = run_like_reference(&cluster, &program).await;
        let want = format!("[{},{levels}]", rally(levels));
        assert_eq!(ok(&outcomes, "A"), want);
        assert_eq!(ok(&outcomes, "B"), want);
        assert_eq!(
            cluster.stats().frames_sent - before,
            2 * u64::from(levels) + 1 + 2,
            "two frames per level, the final broadcast and the two end notices"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// spawn_session

/// One connection: A and B bounce the connection's input a few times.
#[derive(Clone)]
struct Conn {
    input: u32,
}

const ROUNDS: u32 = 8;

fn conn_answer(input: u32) -> u32 {
    (0..ROUNDS).fold(input, |x, _| x * 2 + 1)
}

impl Choreography for Conn {
    type Census = Roles![A, B];
    type Output = u32;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
        let mut acc = ch.locally(A, |_| self.input).await?;
        for _ in 0..ROUNDS {
            let x = ch.comm(A, B, &acc).await?;
            let y = ch.locally(B, |b| b.get(&x) * 2 + 1).await?;
            let y = ch.comm(B, A, &y).await?;
            acc = ch.locally(A, |a| *a.get(&y)).await?;
        }
        ch.broadcast(A, acc).await
    }
}

/// A short exchange between C and B, whose census lists the roles in the opposite order of
/// the parent's.
#[derive(Clone)]
struct Tell {
    n: u32,
}

impl Choreography for Tell {
    type Census = Roles![C, B];
    type Output = String;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<String, ChoreoError> {
        let m = ch.locally(C, |_| format!("msg{}", self.n)).await?;
        let m = ch.comm(C, B, &m).await?;
        let r = ch.locally(B, |b| format!("{}-ack", b.get(&m))).await?;
        ch.broadcast(B, r).await
    }
}

/// Accepts one nested session per connection, all running at once, then two more nested
/// sessions one after the other.
#[derive(Clone)]
struct Listener {
    inputs: Vec<u32>,
}

type ListenerOutput = (
    Vec<Shared<u32, Roles![A, B]>>,
    Vec<Shared<String, Roles![C, B]>>,
);

impl Choreography for Listener {
    type Census = Roles![A, B, C];
    type Output = ListenerOutput;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<ListenerOutput, ChoreoError> {
        let mut handles = Vec::new();
        for &input in &self.inputs {
            handles.push(ch.spawn_session(Conn { input })?);
        }
        let mut answers = Vec::new();
        for h in handles {
            answers.push(h.join().await??);
        }
        let mut tells = Vec::new();
        for n in 0..2 {
            tells.push(ch.spawn_session(Tell { n })?.join().await??);
        }
        Ok((answers, tells))
    }
}

#[tokio::test]
async fn nested_sessions_run_side_by_side_each_with_its_own_answer() {
    let inputs = vec![1, 2, 3, 4, 5];
    let cluster = LocalCluster::new();
    let program = Program::new(
        Listener {
            inputs: inputs.clone(),
        },
        &FamilySizes::new(),
    )
    .unwrap();
    // Twice on the same nodes: the second session's children must not meet the first's.
    for _ in 0..2 {
        let outcomes = run_like_reference(&cluster, &program).await;
        let answers: Vec<u32> = inputs.iter().map(|&i| conn_answer(i)).collect();
        let answers = serde_json::to_string(&answers).unwrap();
        let tells = r#"["msg0-ack","msg1-ack"]"#;
        assert_eq!(ok(&outcomes, "A"), format!("[{answers},[null,null]]"));
        assert_eq!(ok(&outcomes, "B"), format!("[{answers},{tells}]"));
        assert_eq!(
            ok(&outcomes, "C"),
            format!("[[null,null,null,null,null],{tells}]")
        );
    }
}

/// A and B spawn a nested session inside an enclave (C does not take part), then everyone
/// spawns a nested session that includes C.
#[derive(Clone)]
struct SpawnInPair;

impl Choreography for SpawnInPair {
    type Census = Roles![A, B];
    type Output = Shared<u32, Roles![A, B]>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        ch.spawn_session(Conn { input: 1 })?.join().await?
    }
}

#[derive(Clone)]
struct SpawnAfterEnclave;

impl Choreography for SpawnAfterEnclave {
    type Census = Roles![A, B, C];
    type Output = (
        Shared<Shared<u32, Roles![A, B]>, Roles![A, B]>,
        Shared<String, Roles![C, B]>,
    );

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let pair = ch.enclave(SpawnInPair).await?;
        let tell = ch.spawn_session(Tell { n: 9 })?.join().await??;
        Ok((pair, tell))
    }
}

#[tokio::test]
async fn a_spawn_inside_an_enclave_does_not_shift_later_nested_sessions() {
    let program = Program::new(SpawnAfterEnclave, &FamilySizes::new()).unwrap();
    let outcomes = run_like_reference(&LocalCluster::new(), &program).await;
    let answer = conn_answer(1);
    assert_eq!(ok(&outcomes, "B"), format!("[{answer},\"msg9-ack\"]"));
    assert_eq!(ok(&outcomes, "C"), "[null,\"msg9-ack\"]");
}

// ---------------------------------------------------------------------------------------------
// family operators

/// The coordinator scatters a vector `extra` elements longer than the family (shorter when
/// negative), each worker doubles its element, the coordinator gathers and announces the sum.
#[derive(Clone)]
struct Scatter {
    extra: i64,
}

impl Choreography for Scatter {
    type Census = Roles![Coordinator, Worker];
    type Output = u32;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u32, ChoreoError> {
        let len = (i64::from(ch.family_size(Worker)) + self.extra).max(0) as u32;
        let values = ch
            .locally(Coordinator, |_| (0..len).collect::<Vec<u32>>())
            .await?;
        let parts = ch.at("parts").scatter(Coordinator, Worker, values).await?;
        let doubled = ch.locally_each(Worker, |w| w.get(&parts) * 2).await?;
        let all = ch.gather(Worker, Coordinator, doubled).await?;
        let sum = ch
            .locally(Coordinator, |c| c.get(&all).iter().sum::<u32>())
            .await?;
        ch.broadcast(Coordinator, sum).await
    }
}

fn assert_scatter_census_error(outcomes: &Outcomes) {
    for (who, o) in outcomes.entries() {
        match o {
            Err(ChoreoError::Census { detail }) => assert!(
                detail.contains("scatter") && detail.contains("one value per member"),
                "{who}: {detail}"
            ),
            other => panic!("{who}: expected a census error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_scatter_of_the_wrong_length_is_a_census_error_at_every_participant() {
    let cluster = LocalCluster::new();
    let sizes = FamilySizes::new().with("Worker", 3);
    // The right length works (0 + 2 + 4).
    let good = Program::new(Scatter { extra: 0 }, &sizes).unwrap();
    let outcomes = run_like_reference(&cluster, &good).await;
    assert_eq!(ok(&outcomes, "Worker[2]"), "6");
    for extra in [1, -1, -3] {
        let program = Program::new(Scatter { extra }, &sizes).unwrap();
        let outcomes = run_like_reference(&cluster, &program).await;
        assert_eq!(outcomes.entries().len(), 4);
        assert_scatter_census_error(&outcomes);
    }
}

/// Like [`Scatter`] but with a participant that takes no part after the failing scatter.
#[derive(Clone)]
struct ScatterWithBystander;

impl Choreography for ScatterWithBystander {
    type Census = Roles![Coordinator, Worker, Bystander];
    type Output = At<Vec<u32>, Coordinator>;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let values = ch.locally(Coordinator, |_| vec![1u32; 5]).await?;
        let parts = ch.scatter(Coordinator, Worker, values).await?;
        ch.gather(Worker, Coordinator, parts).await
    }
}

#[tokio::test]
async fn a_failed_scatter_ends_with_the_census_error_even_at_an_uninvolved_participant() {
    let program =
        Program::new(ScatterWithBystander, &FamilySizes::new().with("Worker", 2)).unwrap();
    let outcomes = run_like_reference(&LocalCluster::new(), &program).await;
    assert_scatter_census_error(&outcomes);
}

/// Every worker computes from its index and the family size; the coordinator gathers.
#[derive(Clone)]
struct Squares;

impl Choreography for Squares {
    type Census = Roles![Coordinator, Worker];
    type Output = (At<Vec<u64>, Coordinator>, Faceted<u64, Worker>, u64);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let mine = ch
            .locally_each(Worker, |w| {
                let i = u64::from(w.index()) + 1;
                i * i + 1000 * u64::from(w.family_size())
            })
            .await?;
        let all = ch.gather(Worker, Coordinator, mine.clone()).await?;
        let total = ch
            .locally(Coordinator, |c| c.get(&all).iter().sum::<u64>())
            .await?;
        let total = ch.broadcast(Coordinator, total).await?;
        Ok((all, mine, total))
    }
}

#[tokio::test]
async fn locally_each_and_gather_with_1_and_16_members() {
    let cluster = LocalCluster::new();
    for n in [1u32, 16] {
        let program = Program::new(Squares, &FamilySizes::new().with("Worker", n)).unwrap();
        let outcomes = run_like_reference(&cluster, &program).await;
        assert_eq!(outcomes.entries().len(), n as usize + 1);
        let parts: Vec<u64> = (1..=u64::from(n))
            .map(|i| i * i + 1000 * u64::from(n))
            .collect();
        let total: u64 = parts.iter().sum();
        let parts_json = serde_json::to_string(&parts).unwrap();
        assert_eq!(
            ok(&outcomes, "Coordinator"),
            format!("[{parts_json},{{}},{total}]")
        );
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(
                ok(&outcomes, &format!("Worker[{i}]")),
                format!("[null,{{\"{i}\":{part}}},{total}]"),
                "n = {n}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// operators awaited together

/// Several comms awaited at once with `tokio::join!`, round after round.
#[derive(Clone)]
struct Together {
    rounds: u32,
}

fn together_round(r: u32) -> [u32; 6] {
    let base = 10 * r;
    [base + 1, base + 2, base + 3, base + 4, base + 5, base + 6]
}

impl Choreography for Together {
    type Census = Roles![A, B, C];
    type Output = (Vec<u32>, At<Vec<u32>, A>);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let mut log = Vec::new();
        let mut at_a = ch.locally(A, |_| Vec::new()).await?;
        for r in 0..self.rounds {
            let [v1, v2, v3, v4, v5, v6] = together_round(r);
            // A → B and C → B at once.
            let a = ch.locally(A, |_| v1).await?;
            let c = ch.locally(C, |_| v2).await?;
            let (x, y) = tokio::join!(ch.comm(A, B, &a), ch.comm(C, B, &c));
            let (x, y) = (x?, y?);
            // Two comms A → B at once.
            let a1 = ch.locally(A, |_| v3).await?;
            let a2 = ch.locally(A, |_| v4).await?;
            let (p, q) = tokio::join!(ch.comm(A, B, &a1), ch.comm(A, B, &a2));
            let (p, q) = (p?, q?);
            // A → B and B → A at once.
            let a3 = ch.locally(A, |_| v5).await?;
            let b3 = ch.locally(B, |_| v6).await?;
            let (s, t) = tokio::join!(ch.comm(A, B, &a3), ch.comm(B, A, &b3));
            let (s, t) = (s?, t?);
            at_a = ch
                .locally(A, move |l| {
                    let mut v = l.take(at_a);
                    v.push(*l.get(&t));
                    v
                })
                .await?;
            let seen = ch
                .locally(B, |l| {
                    vec![*l.get(&x), *l.get(&y), *l.get(&p), *l.get(&q), *l.get(&s)]
                })
                .await?;
            log.extend(ch.broadcast(B, seen).await?);
        }
        Ok((log, at_a))
    }
}

#[tokio::test]
async fn comms_awaited_together_with_join_deliver_the_right_values_on_a_lossy_network() {
    let rounds = 10;
    let program = Program::new(Together { rounds }, &FamilySizes::new()).unwrap();
    let log: Vec<u32> = (0..rounds)
        .flat_map(|r| together_round(r)[..5].to_vec())
        .collect();
    let from_b: Vec<u32> = (0..rounds).map(|r| together_round(r)[5]).collect();
    let log = serde_json::to_string(&log).unwrap();
    let from_b = serde_json::to_string(&from_b).unwrap();
    let perfect = LocalCluster::new();
    let outcomes = run_like_reference(&perfect, &program).await;
    assert_eq!(ok(&outcomes, "A"), format!("[{log},{from_b}]"));
    for seed in 0..4 {
        let cluster = lossy_cluster(seed);
        let outcomes = run_like_reference(&cluster, &program).await;
        assert_eq!(
            ok(&outcomes, "A"),
            format!("[{log},{from_b}]"),
            "seed {seed}"
        );
        assert_eq!(ok(&outcomes, "B"), format!("[{log},null]"), "seed {seed}");
        assert_eq!(ok(&outcomes, "C"), format!("[{log},null]"), "seed {seed}");
        let net = cluster.network().stats();
        assert!(
            net.lost > 0,
            "seed {seed}: the network lost nothing: {net:?}"
        );
    }
}

/// Two comms A → B awaited together, where one branch first waits on C: B's receives claim
/// A's frames in the order its branches reach them, which depends on when C's frame arrives,
/// while A sends in its own branch order.
#[derive(Clone)]
struct Staggered;

impl Choreography for Staggered {
    type Census = Roles![A, B, C];
    type Output = (u32, u32, u32);

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Self::Output, ChoreoError> {
        let c = ch.locally(C, |_| 1u32).await?;
        let a1 = ch.locally(A, |_| 10u32).await?;
        let a2 = ch.locally(A, |_| 20u32).await?;
        let (first, second) = tokio::join!(
            async {
                let c = ch.comm(C, B, &c).await?;
                let x = ch.comm(A, B, &a1).await?;
                Ok::<_, ChoreoError>((c, x))
            },
            ch.comm(A, B, &a2),
        );
        let ((c, x), y) = (first?, second?);
        let seen = ch
            .locally(B, |b| (*b.get(&c), *b.get(&x), *b.get(&y)))
            .await?;
        ch.broadcast(B, seen).await
    }
}

#[tokio::test]
async fn comms_from_one_sender_in_join_branches_that_progress_differently() {
    let program = Program::new(Staggered, &FamilySizes::new()).unwrap();
    let outcomes = run_like_reference(&LocalCluster::new(), &program).await;
    assert_eq!(ok(&outcomes, "B"), "[1,10,20]");
}
