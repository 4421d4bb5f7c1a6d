//! # rehearsal-benches: shared pieces of Rehearsal's benchmarks
//!
//! The criterion benches live in `benches/`; this library holds what they share.
//!
//! The simulator bench (`benches/sim.rs`, run with `cargo sim-bench -p rehearsal-benches
//! --bench sim`) measures how fast the simulator runs and what Rehearsal's layers cost on top
//! of raw madsim message passing. Everything runs on simulated time, so wall-clock time
//! measures only the CPU cost of the code. Its workloads:
//!
//! * [`PingPong`]: a choreography of [`ROUND_TRIPS`] round trips of a `u64`
//!   (`comm(Ping, Pong)` then `comm(Pong, Ping)`), available in both build modes;
//! * in sim mode (`--cfg madsim`), the [`sim`] module: the same round trips as raw madsim
//!   [`Endpoint`](https://docs.rs/madsim/latest/madsim/net/struct.Endpoint.html) datagrams,
//!   through bare Rehearsal nodes, and through the full simulator ([`rehearsal_sim::Sim`]).

use std::sync::Arc;

use rehearsal::net::transport::NodeId;
use rehearsal::{
    Choreo, ChoreoError, Choreography, FamilySizes, Node, ParticipantId, Program, RoleOutcome,
    Roles, SessionId, roles,
};

roles!(Ping, Pong);

/// Runs session 1 of `program` with participant `i` on `nodes[i]`, as `LocalCluster::run`
/// does: every participant's session is opened first, then all run as tasks. Returns the
/// outcomes in participant order.
pub async fn run_session(program: &Program, nodes: &[Node]) -> Vec<RoleOutcome> {
    let placement: Arc<[NodeId]> = nodes.iter().map(Node::id).collect();
    let runs: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            program.start(
                node,
                SessionId(1),
                ParticipantId(i as u16),
                placement.clone(),
            )
        })
        .collect();
    let tasks: Vec<_> = runs.into_iter().map(tokio::spawn).collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("a participant's task"));
    }
    outcomes
}

/// Round trips per link-layer measurement.
pub const ROUND_TRIPS: u64 = 1000;

/// `round_trips` round trips of a `u64`: Ping sends it to Pong (`comm(Ping, Pong)`), Pong
/// sends it back (`comm(Pong, Ping)`). Nothing is computed in between, so the run costs only
/// the messaging. Every participant returns the number of round trips.
///
/// ```
/// use rehearsal::LocalCluster;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let program = rehearsal_benches::ping_pong_program(3);
/// let outcomes = LocalCluster::new().run(&program).await;
/// assert_eq!(outcomes, program.reference().await);
/// assert_eq!(outcomes.get("Ping"), Some(&Ok("3".to_string())));
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PingPong {
    /// How many round trips.
    pub round_trips: u64,
}

impl Choreography for PingPong {
    type Census = Roles![Ping, Pong];
    type Output = u64;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
        let mut ball = ch.locally(Ping, |_| 0u64).await?;
        for _ in 0..self.round_trips {
            let at_pong = ch.at("ping").comm(Ping, Pong, &ball).await?;
            ball = ch.at("pong").comm(Pong, Ping, &at_pong).await?;
        }
        Ok(self.round_trips)
    }
}

/// The [`PingPong`] program of `round_trips` round trips.
pub fn ping_pong_program(round_trips: u64) -> Program {
    Program::new(PingPong { round_trips }, &FamilySizes::new())
        .expect("PingPong's census has two plain roles and cannot fail")
}

/// The simulator workloads (sim mode only).
///
/// Every function here runs on a fresh OS thread with a fresh madsim runtime, as
/// [`rehearsal_sim::Sim::run`] does, so the thread and runtime set-up (small next to 1000 round
/// trips) is part of every measurement alike. All link-layer workloads use [`net`]: a fixed
/// one-way latency of [`LATENCY_US`] microseconds, nothing lost, duplicated or reordered.
#[cfg(madsim)]
pub mod sim {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::sync::Arc;

    use madsim::net::Endpoint;
    use madsim::runtime::{Handle, Runtime};
    use rehearsal::error::TransportError;
    use rehearsal::net::link::LinkConfig;
    use rehearsal::net::transport::{BoxFuture, NodeId, Transport};
    use rehearsal::{Node, NodeConfig, Outcomes, ParticipantId, Program, RoleOutcome, SessionId};
    use rehearsal_sim::recorder::Recorder;
    use rehearsal_sim::{NetConfig, Report, Sim};
    use tokio::sync::{mpsc, oneshot};

    /// One-way latency of the link-layer workloads, in microseconds.
    pub const LATENCY_US: u64 = 1_000;

    /// The tag of the raw ping-pong's datagrams.
    const TAG: u64 = 0x7069_6e67;

    /// The link-layer workloads' network: [`LATENCY_US`] one way (madsim draws from
    /// `LATENCY_US..LATENCY_US + 1` µs), no loss, no duplication, no reordering.
    pub fn net() -> NetConfig {
        NetConfig {
            latency_min_us: LATENCY_US,
            latency_max_us: LATENCY_US,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }

    /// The madsim configuration [`Sim::run`] builds for [`net`].
    pub fn madsim_config() -> madsim::Config {
        let mut config = madsim::Config::default();
        config.net.packet_loss_rate = 0.0;
        config.net.send_latency = net().latency();
        config
    }

    /// Runs `f`'s future to completion on a fresh thread and madsim runtime of `seed`.
    fn on_fresh_runtime<F, Fut>(seed: u64, f: F) -> Fut::Output
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future,
        Fut::Output: Send + 'static,
    {
        std::thread::spawn(move || {
            Runtime::with_seed_and_config(seed, madsim_config()).block_on(f())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, last, 1))
    }

    /// The address of node `id` in [`bare_nodes`]: `10.0.<id + 1>.1:7000`.
    fn address(id: NodeId) -> SocketAddr {
        SocketAddr::new(ip(id.0 as u8 + 1), 7000)
    }

    /// The smallest [`Transport`] over a madsim [`Endpoint`]: what the simulator's transport
    /// does on a perfect network (a queue drained by a sender task, so `send` never blocks;
    /// `recv_from_raw` on the other side), without its loss, duplication and reordering
    /// draws. Node `id` (below 255) listens at `10.0.<id + 1>.1:7000`.
    pub struct EndpointTransport {
        endpoint: Endpoint,
        queue: mpsc::UnboundedSender<(NodeId, Vec<u8>)>,
    }

    impl EndpointTransport {
        /// Binds node `id`'s address and starts its sender task (call on the node).
        pub async fn bind(id: NodeId) -> std::io::Result<EndpointTransport> {
            let endpoint = Endpoint::bind(address(id)).await?;
            let (queue, mut rx) = mpsc::unbounded_channel::<(NodeId, Vec<u8>)>();
            let out = endpoint.clone();
            tokio::spawn(async move {
                while let Some((to, bytes)) = rx.recv().await {
                    let _ = out.send_to_raw(address(to), TAG, Box::new(bytes)).await;
                }
            });
            Ok(EndpointTransport { endpoint, queue })
        }
    }

    impl Transport for EndpointTransport {
        fn send(&self, to: NodeId, frame: Vec<u8>) -> Result<(), TransportError> {
            self.queue
                .send((to, frame))
                .map_err(|_| TransportError::Closed)
        }

        fn recv(&self) -> BoxFuture<'_, Result<(NodeId, Vec<u8>), TransportError>> {
            Box::pin(async move {
                loop {
                    let (payload, from) = self
                        .endpoint
                        .recv_from_raw(TAG)
                        .await
                        .map_err(|e| TransportError::Io(e.to_string()))?;
                    let IpAddr::V4(ip) = from.ip() else { continue };
                    let node = NodeId(u32::from(ip.octets()[2]) - 1);
                    if let Ok(bytes) = payload.downcast::<Vec<u8>>() {
                        return Ok((node, *bytes));
                    }
                }
            })
        }
    }

    /// `round_trips` round trips of raw madsim datagrams between two nodes: node A sends
    /// 8 bytes with [`Endpoint::send_to`], node B receives them with [`Endpoint::recv_from`]
    /// and sends them back, A awaits the echo before the next. Returns the round trips made.
    pub fn raw_endpoint_ping_pong(seed: u64, round_trips: u64) -> u64 {
        on_fresh_runtime(seed, move || async move {
            let handle = Handle::current();
            let a_addr = SocketAddr::new(ip(1), 7000);
            let b_addr = SocketAddr::new(ip(2), 7000);
            let (ready_tx, ready_rx) = oneshot::channel::<()>();
            let b = handle.create_node().name("B").ip(ip(2)).build();
            let a = handle.create_node().name("A").ip(ip(1)).build();
            b.spawn(async move {
                let endpoint = Endpoint::bind(b_addr).await.expect("B binds");
                let _ = ready_tx.send(());
                let mut buf = [0u8; 8];
                for _ in 0..round_trips {
                    let (len, from) = endpoint.recv_from(TAG, &mut buf).await.expect("B receives");
                    endpoint
                        .send_to(from, TAG, &buf[..len])
                        .await
                        .expect("B echoes");
                }
            });
            let ping = a.spawn(async move {
                let endpoint = Endpoint::bind(a_addr).await.expect("A binds");
                ready_rx.await.expect("B is ready");
                let mut buf = [0u8; 8];
                for i in 0..round_trips {
                    endpoint
                        .send_to(b_addr, TAG, &i.to_le_bytes())
                        .await
                        .expect("A sends");
                    let (len, _) = endpoint.recv_from(TAG, &mut buf).await.expect("A receives");
                    assert_eq!((len, u64::from_le_bytes(buf)), (8, i), "the echo");
                }
                round_trips
            });
            ping.await.expect("A's task")
        })
    }

    /// The full simulator on `program`: [`Sim::run`] with [`net`]. Besides the distributed
    /// run itself this includes everything `Sim::run` does: the central reference run, a
    /// recorder observing every node (the trace), the trace hash, the statistics and the
    /// reference oracle. Panics unless the run passed.
    pub fn full_sim(seed: u64, program: &Program) -> Report {
        let report = Sim::new(seed)
            .net(net())
            .run("ping-pong", program)
            .expect("the simulation runs");
        assert!(report.passed(), "{}", report.summary());
        report
    }

    /// Only the reference run of `program` ([`Program::reference`]: the body evaluated
    /// centrally, no transport), on a fresh thread and runtime: the share of
    /// [`full_sim`] that is not the distributed run.
    pub fn reference_only(seed: u64, program: &Program) -> Outcomes {
        let program = program.clone();
        on_fresh_runtime(seed, move || async move { program.reference().await })
    }

    /// The distributed run alone: every participant of `program` (at most 255) on its own
    /// madsim node running a Rehearsal [`Node`] (session engine and link layer) over an
    /// [`EndpointTransport`], as [`Sim`] places them, but without the reference run, the
    /// statistics, the oracles and, unless `traced`, without the simulator's recorder (the
    /// trace). Returns every participant's outcome.
    pub fn bare_nodes(seed: u64, program: &Program, traced: bool) -> Vec<RoleOutcome> {
        let program = program.clone();
        on_fresh_runtime(seed, move || async move {
            let handle = Handle::current();
            let recorder = Recorder::new();
            let n = program.census().participants().len();
            assert!(n < 256, "bare_nodes places at most 255 participants");
            let placement: Arc<[NodeId]> = (0..n as u32).map(NodeId).collect();
            let (tx, mut rx) = mpsc::unbounded_channel::<(usize, RoleOutcome)>();
            for i in 0..n {
                let id = NodeId(i as u32);
                let (program, placement, recorder, tx) = (
                    program.clone(),
                    placement.clone(),
                    recorder.clone(),
                    tx.clone(),
                );
                let node = handle.create_node().ip(address(id).ip()).build();
                node.spawn(async move {
                    let transport = EndpointTransport::bind(id)
                        .await
                        .expect("the node binds its address");
                    let config = NodeConfig {
                        link: LinkConfig::default(),
                        observer: traced.then_some(recorder as _),
                        store: None,
                    };
                    let node = Node::start(id, Arc::new(transport), config);
                    let me = ParticipantId(i as u16);
                    let outcome = program.start(&node, SessionId(1), me, placement).await;
                    let _ = tx.send((i, outcome));
                    // Keep the node (and its link layer) alive until the runtime ends.
                    std::future::pending::<()>().await
                });
            }
            let mut outcomes: Vec<Option<RoleOutcome>> = vec![None; n];
            for _ in 0..n {
                let (i, o) = rx.recv().await.expect("every participant reports");
                outcomes[i] = Some(o);
            }
            outcomes.into_iter().map(Option::unwrap).collect()
        })
    }

    /// One run of the shipped `bookseller` scenario with its default parameters on the
    /// default network ([`NetConfig::default`]: 1-10 ms latency, nothing lost):
    /// [`Sim::run_scenario`], which includes the reference run, the trace and every oracle.
    /// Panics unless the run passed.
    pub fn bookseller(seed: u64) -> Report {
        let scenario = rehearsal_scenarios::find("bookseller").expect("bookseller ships");
        let report = Sim::new(seed)
            .net(NetConfig::default())
            .run_scenario(scenario, &scenario.default_params())
            .expect("the simulation runs");
        assert!(report.passed(), "{}", report.summary());
        report
    }
}
