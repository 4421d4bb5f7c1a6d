//! The simulation: a choreography's participants on madsim nodes, from a seed to a report.
//!
//! [`Sim`] is the builder: seed, network conditions, time limit. Each run gets a fresh OS
//! thread and madsim runtime (madsim seeds hash maps and its generator per thread), puts
//! every participant on its own node at a fixed address with a supervisor, runs the
//! reference run, waits for every participant (or the time limit, a liveness violation), and
//! returns a [`Report`].

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::scenario::{Params, RunView, Scenario};
use rehearsal::net::link::LinkConfig;
use rehearsal::net::transport::NodeId;
use rehearsal::{ChoreoError, Outcomes, Program, RoleOutcome, SessionId};
use tokio::sync::mpsc;

use crate::disk::{NodeDisk, NodeStore, StoreKind};
use crate::faults::{FaultEngine, SimObserver, control};
use crate::net::NetConfig;
use crate::plan::{FaultPlan, PlanContext};
use crate::recorder::Recorder;
use crate::report::{Report, SimStats};
use crate::supervise::{Post, supervise};
use crate::transport::address;
use crate::watch::RunWatch;

/// Why a simulation could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The choreography could not be set up (a census error).
    #[error("cannot set up the choreography: {0}")]
    Setup(#[from] ChoreoError),
    /// The network settings are invalid.
    #[error("bad network settings: {0}")]
    Net(String),
    /// The simulation itself panicked: a bug in Rehearsal, reproducible from the seed.
    #[error("the simulation of seed {seed} panicked: {message}")]
    Panicked {
        /// The seed.
        seed: u64,
        /// The panic message.
        message: String,
    },
    /// Two runs of the same seed gave different traces.
    #[error(
        "seed {seed} is not deterministic: trace hashes {first:016x} and {second:016x} differ; \
         first difference at event {index}:\n  first:  {left}\n  second: {right}"
    )]
    Nondeterministic {
        /// The seed.
        seed: u64,
        /// The first run's hash.
        first: u64,
        /// The second run's hash.
        second: u64,
        /// Index of the first differing event.
        index: usize,
        /// That event in the first run.
        left: String,
        /// That event in the second run.
        right: String,
    },
    /// An exhaustive exploration would run more cases than its bound allows; it runs none
    /// of them rather than a sample.
    #[error(
        "--exhaustive: {level} come to {}{cases} case(s), more than --max-cases {max}; raise \
         the bound, or explore fewer scenarios or fault kinds",
        lower_bound_word(.at_least)
    )]
    TooManyCases {
        /// Which cases: `the single faults` or `the pairs of faults`.
        level: &'static str,
        /// How many cases they come to.
        cases: u64,
        /// `cases` is a lower bound: counting stopped once the bound was surely passed.
        at_least: bool,
        /// The bound.
        max: u64,
    },
}

fn lower_bound_word(lower_bound: &bool) -> &'static str {
    if *lower_bound { "at least " } else { "" }
}

/// A simulation, configured: build with [`Sim::new`], run with [`Sim::run`] or
/// [`Sim::run_scenario`].
///
/// ```
/// # #[cfg(madsim)] {
/// use rehearsal::{Choreo, ChoreoError, Choreography, Roles, roles};
/// use rehearsal_sim::{Scenario, Sim};
///
/// roles!(Client, Server);
///
/// #[derive(Clone)]
/// struct Echo;
///
/// impl Choreography for Echo {
///     type Census = Roles![Client, Server];
///     type Output = u64;
///     async fn run(self, ch: &Choreo<Self::Census>) -> Result<u64, ChoreoError> {
///         let x = ch.locally(Client, |_| 7u64).await?;
///         let x = ch.at("ping").comm(Client, Server, &x).await?;
///         let y = ch.locally(Server, |s| *s.get(&x)).await?;
///         ch.at("pong").broadcast(Server, y).await
///     }
/// }
///
/// let scenario = Scenario::new("echo", "Server echoes Client's number", |_| Ok(Echo)).build();
/// let report = Sim::new(7).run_scenario(&scenario, &scenario.default_params()).unwrap();
/// assert!(report.passed(), "{}", report.summary());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Sim {
    seed: u64,
    net: Option<NetConfig>,
    time_limit: Duration,
    link: LinkConfig,
    plan: FaultPlan,
    durable: bool,
    store: StoreKind,
    watch: Option<Arc<RunWatch>>,
}

impl Sim {
    /// The perfect network the site census runs on ([`Sim::plan_context`]): 1 ms latency,
    /// nothing lost, duplicated or reordered. Exhaustive cases run on it too, so each case
    /// meets its site at the occurrence the census counted.
    pub const CENSUS_NET: NetConfig = NetConfig {
        latency_min_us: 1_000,
        latency_max_us: 1_001,
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
    };

    /// A simulation of seed `seed`, network conditions drawn from the seed.
    pub fn new(seed: u64) -> Sim {
        Sim {
            seed,
            net: None,
            time_limit: Duration::from_secs(600),
            link: LinkConfig::default(),
            plan: FaultPlan::default(),
            durable: true,
            store: StoreKind::Model,
            watch: None,
        }
    }

    /// Reports how far each run gets into `watch` (for progress on stderr; the run and its
    /// trace are the same with or without it).
    pub fn watch(mut self, watch: Arc<RunWatch>) -> Sim {
        self.watch = Some(watch);
        self
    }

    /// Whether nodes journal to a simulated disk (default: yes). Without it a crashed role
    /// restarts from nothing; with it the role replays from its journal, losing only what it
    /// had not synced when it died.
    pub fn durable(mut self, durable: bool) -> Sim {
        self.durable = durable;
        self
    }

    /// Which store a durable node journals to (default: the in-memory model of a disk;
    /// [`StoreKind::File`]: the real `FileStore` on a simulated disk).
    pub fn store(mut self, kind: StoreKind) -> Sim {
        self.store = kind;
        self
    }

    /// Injects the faults of `plan`.
    pub fn plan(mut self, plan: FaultPlan) -> Sim {
        self.plan = plan;
        self
    }

    /// The fault plan.
    pub fn fault_plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// What a plan for `program` may name: its participants, and every site each one acts at
    /// in a fault-free run on a perfect network; its probe runs the same way with some of a
    /// plan's faults, so sites reached only on a rescue or retry path are accepted too.
    pub fn plan_context(program: &Program) -> Result<PlanContext, SimError> {
        let perfect = Sim::CENSUS_NET;
        let report = Sim::new(0).net(perfect).run("site census", program)?;
        let probed = program.clone();
        let probe = crate::plan::SiteProbe::new(move |plan: &FaultPlan| {
            let sim = Sim::new(0).net(perfect).plan(plan.clone());
            sim.run("site census", &probed)
                .map(|report| report.site_uses)
                .map_err(|e| e.to_string())
        });
        Ok(PlanContext {
            roles: program
                .census()
                .participants()
                .iter()
                .map(|p| p.to_string())
                .collect(),
            sites: report.site_uses,
            probe: Some(probe),
        })
    }

    /// Uses these network conditions instead of drawing them from the seed.
    pub fn net(mut self, net: NetConfig) -> Sim {
        self.net = Some(net);
        self
    }

    /// Participants that have not finished after this much simulated time are a liveness
    /// violation (default 600 s).
    pub fn time_limit(mut self, limit: Duration) -> Sim {
        self.time_limit = limit;
        self
    }

    /// The liveness time limit.
    pub fn limit(&self) -> Duration {
        self.time_limit
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The network conditions this run uses.
    pub fn net_config(&self) -> NetConfig {
        self.net.unwrap_or_else(|| NetConfig::from_seed(self.seed))
    }

    /// Runs a scenario; its own oracles are checked besides the reference oracle.
    pub fn run_scenario(&self, scenario: &Scenario, params: &Params) -> Result<Report, SimError> {
        let program = scenario.program(params)?;
        let mut report = self.run(scenario.name(), &program)?;
        let liveness: Vec<String> = report
            .violations
            .iter()
            .filter(|v| {
                v.starts_with("liveness")
                    || v.starts_with("rescue-agreement")
                    || v.starts_with("saga-")
                    || crate::layer_oracles::is_layer_violation(v)
            })
            .cloned()
            .collect();
        report.violations = liveness;
        let own = scenario.check_run(&RunView {
            params,
            outcomes: &report.outcomes,
            reference: &report.reference,
            trace: Some(&report.trace),
        });
        report.violations.extend(own);
        Ok(report)
    }

    /// Runs any program on a fresh thread and madsim runtime. Oracles: every participant's
    /// outcome equals the reference run's, and every participant finishes in time.
    pub fn run(&self, name: &str, program: &Program) -> Result<Report, SimError> {
        let net = self.net_config();
        net.validate().map_err(SimError::Net)?;
        let mut config = madsim::Config::default();
        config.net.packet_loss_rate = 0.0;
        config.net.send_latency = net.latency();
        let sim = self.clone();
        let name = name.to_string();
        let program = program.clone();
        let seed = self.seed;
        std::thread::Builder::new()
            .name(format!("rehearsal-sim-{seed}"))
            .spawn(move || {
                let rt = madsim::runtime::Runtime::with_seed_and_config(seed, config);
                rt.block_on(async move { sim.simulate(&name, &program).await })
            })
            .map_err(|e| SimError::Panicked {
                seed,
                message: format!("cannot start the simulation thread: {e}"),
            })?
            .join()
            .map_err(|panic| SimError::Panicked {
                seed,
                message: panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic with a non-text payload".into()),
            })
    }

    /// Runs the seed twice and fails unless both traces are identical.
    pub fn check_determinism(&self, name: &str, program: &Program) -> Result<Report, SimError> {
        let first = self.run(name, program)?;
        let second = self.run(name, program)?;
        if first.trace_hash == second.trace_hash {
            return Ok(first);
        }
        let (a, b) = (&first.trace.events, &second.trace.events);
        let index = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        let show = |e: Option<&crate::trace::TraceEvent>| {
            e.map(|e| e.canonical())
                .unwrap_or_else(|| "(end of trace)".into())
        };
        Err(SimError::Nondeterministic {
            seed: self.seed,
            first: first.trace_hash,
            second: second.trace_hash,
            index,
            left: show(a.get(index)),
            right: show(b.get(index)),
        })
    }

    /// Runs `program` inside the current madsim runtime (as `#[madsim::test]` provides).
    pub async fn simulate(&self, name: &str, program: &Program) -> Report {
        let net = self.net_config();
        let recorder = Recorder::watched(self.watch.clone());
        let participants = program.census().participants().to_vec();
        let n = participants.len();
        let watch = self.watch.clone().unwrap_or_default();
        watch.reference(n);
        let reference = program.reference().await;
        watch.starting();
        let placement: Arc<[NodeId]> = (0..n as u32).map(NodeId).collect();
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, RoleOutcome)>();
        let handle = madsim::runtime::Handle::current();
        let session = SessionId(1);
        recorder.follow(session);
        let stores: Vec<Option<Arc<NodeStore>>> = participants
            .iter()
            .map(|p| {
                self.durable
                    .then(|| Arc::new(NodeStore::new(NodeDisk::new(self.store), p.to_string())))
            })
            .collect();
        let disks: Vec<Option<NodeDisk>> = stores
            .iter()
            .map(|s| s.as_ref().map(|s| s.disk.clone()))
            .collect();
        recorder.watch_stores(
            disks
                .iter()
                .map(|d| d.as_ref().and_then(NodeDisk::model))
                .collect(),
        );
        let (engine, commands) = if self.plan.faults.is_empty() {
            (None, None)
        } else {
            let names = participants.iter().map(|p| p.to_string()).collect();
            let (engine, commands) =
                FaultEngine::new(self.plan.clone(), names, recorder.clone(), disks.clone());
            (Some(engine), Some(commands))
        };
        let observer = Arc::new(SimObserver {
            recorder: recorder.clone(),
            engine: engine.clone(),
        });
        let mut node_ids = Vec::with_capacity(n);
        for (i, p) in participants.iter().enumerate() {
            let post = Arc::new(Post {
                index: i,
                seed: self.seed,
                net,
                link: self.link,
                program: program.clone(),
                session,
                placement: placement.clone(),
                recorder: recorder.clone(),
                observer: observer.clone(),
                engine: engine.clone(),
                store: stores[i].clone(),
                outcomes: tx.clone(),
                incarnation: AtomicU64::new(0),
            });
            let node = handle
                .create_node()
                .name(p.to_string())
                .ip(address(NodeId(i as u32)).ip())
                .init(move || supervise(post.clone()))
                .build();
            node_ids.push(node.id());
            watch.node_started();
        }
        watch.running();
        let controller = if let (Some(engine), Some(commands)) = (engine, commands) {
            Some(tokio::spawn(control(
                engine,
                commands,
                node_ids.clone(),
                disks,
                recorder.clone(),
            )))
        } else {
            None
        };
        let mut outcomes: Vec<Option<RoleOutcome>> = vec![None; n];
        let collect = async {
            let mut left = n;
            while left > 0 {
                let Some((i, o)) = rx.recv().await else { break };
                if outcomes[i].is_none() {
                    left -= 1;
                    watch.finished(n - left);
                }
                outcomes[i] = Some(o);
            }
        };
        let finished = tokio::time::timeout(self.time_limit, collect).await.is_ok();
        let sim_time = recorder.elapsed();
        let mut violations = Vec::new();
        let entries = participants
            .iter()
            .zip(outcomes)
            .map(|(p, o)| {
                let o = o.unwrap_or_else(|| {
                    violations.push(format!(
                        "liveness: {p} did not finish within {:?} of simulated time",
                        self.time_limit
                    ));
                    Err(ChoreoError::Closed {
                        session,
                        participant: p.to_string(),
                    })
                });
                (*p, o)
            })
            .collect();
        debug_assert!(finished || !violations.is_empty());
        let outcomes = Outcomes::new(entries);
        let path = recorder.take_run_path();
        let layer_violations = recorder.take_layer_violations();
        let trace = recorder.take_trace();
        let mut stats = SimStats::of(&trace, sim_time);
        (stats.datagrams, stats.wire_bytes) = recorder.wire();
        for s in stores.iter().flatten() {
            let c = s.counts();
            stats.store_commits += c.commits;
            stats.store_writes += c.writes;
            stats.store_syncs += c.syncs;
        }
        let site_uses = recorder.site_uses();
        // The run is over: kill every node and stop the controller, so that their tasks (and
        // what those hold: sessions, stores, the recorder) are dropped now; madsim does not
        // free the tasks still pending when its runtime ends.
        for id in &node_ids {
            handle.kill(*id);
        }
        if let Some(controller) = controller {
            controller.abort();
        }
        tokio::task::yield_now().await;
        for s in stores.iter().flatten() {
            s.close();
        }
        // A run that took rescues or timeouts is compared with the reference run along its
        // path (computed now, with the nodes gone, so nothing it does reaches the trace);
        // otherwise with the fault-free reference computed before the run.
        let reference = match path {
            Some(path) if !path.is_empty() => program.reference_along(&path).await,
            _ => reference,
        };
        violations.extend(
            outcomes
                .differences(&reference)
                .into_iter()
                .map(|d| format!("{}: {d}", crate::scenario::REFERENCE_ORACLE)),
        );
        violations.extend(trace.rescue_disagreements());
        violations.extend(crate::saga::violations(&trace));
        violations.extend(crate::layer_oracles::violations(&trace));
        violations.extend(layer_violations);
        Report {
            name: name.to_string(),
            seed: self.seed,
            net,
            store: self.store,
            stats,
            trace_hash: trace.hash(),
            site_uses,
            outcomes,
            reference,
            violations,
            trace,
        }
    }
}
