//! Every shipped scenario on the in-process runtime: each participant's outcome equals the
//! reference run's, and the scenario's own oracles hold, on a perfect network and on one that
//! loses, duplicates and reorders frames.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rehearsal::net::transport::{InProcessNetwork, NetFaults, NodeId};
use rehearsal::observer::{Event, Observer, Verdict};
use rehearsal::{LocalCluster, NodeConfig, RunPath};
use rehearsal_scenarios::{Params, Scenario, find, registry};

/// Records the path of the next session a cluster runs (from the first session that opens
/// after [`PathRecorder::reset`]), so the expected outcome of a scenario that draws random
/// numbers follows the draws the run made.
#[derive(Default)]
struct PathRecorder(Mutex<Option<RunPath>>);

impl Observer for PathRecorder {
    fn on_event(&self, _: NodeId, event: &Event<'_>) -> Verdict {
        let mut path = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let (None, Event::SessionStart { session, .. }) = (&*path, event) {
            *path = Some(RunPath::new(*session));
        }
        if let Some(path) = path.as_mut() {
            path.record(event);
        }
        Verdict::Continue
    }
}

impl PathRecorder {
    fn reset(&self) -> Option<RunPath> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A cluster whose nodes report to a [`PathRecorder`].
struct Cluster {
    cluster: LocalCluster,
    path: Arc<PathRecorder>,
}

impl Cluster {
    fn new(net: InProcessNetwork, mut config: NodeConfig) -> Cluster {
        let path = Arc::new(PathRecorder::default());
        config.observer = Some(path.clone());
        Cluster {
            cluster: LocalCluster::with_network(net, config),
            path,
        }
    }

    fn perfect() -> Cluster {
        Cluster::new(InProcessNetwork::new(), NodeConfig::default())
    }
}

async fn check(cluster: &Cluster, scenario: &Scenario, params: &Params) {
    let program = scenario.program(params).unwrap();
    let reference = program.reference().await;
    assert!(
        reference.all_ok(),
        "{}: reference run failed:\n{reference}",
        scenario.name()
    );
    cluster.path.reset();
    let outcomes = cluster.cluster.run(&program).await;
    let expected = match cluster.path.reset() {
        Some(path) => program.reference_along(&path).await,
        None => reference,
    };
    let violations = scenario.check(params, &outcomes, &expected);
    assert!(
        violations.is_empty(),
        "{} ({params}): {violations:#?}\noutcomes:\n{outcomes}",
        scenario.name()
    );
}

#[tokio::test]
async fn every_scenario_matches_its_reference_run() {
    let cluster = Cluster::perfect();
    for scenario in &registry() {
        check(&cluster, scenario, &scenario.default_params()).await;
    }
    assert_eq!(
        cluster.cluster.stats().retransmitted,
        0,
        "a perfect network needs no retransmission"
    );
}

#[tokio::test]
async fn workers_runs_for_1_3_and_64_workers() {
    let cluster = Cluster::perfect();
    let workers = find("workers").unwrap();
    for n in ["n=1", "n=3", "n=64"] {
        let params = workers.parse_params([n]).unwrap();
        check(&cluster, workers, &params).await;
    }
}

#[tokio::test]
async fn bookseller_declines_and_reports_unavailable_titles() {
    let cluster = Cluster::perfect();
    let s = find("bookseller").unwrap();
    for settings in [
        ["book=1", "budget=100"],
        ["book=9", "budget=100"],
        ["book=2", "budget=95"],
    ] {
        check(&cluster, s, &s.parse_params(settings).unwrap()).await;
    }
}

#[tokio::test]
async fn every_scenario_survives_a_lossy_duplicating_reordering_network() {
    for seed in 0..8 {
        let faults = NetFaults {
            loss: 0.25,
            duplicate: 0.2,
            max_delay: Duration::from_millis(5),
        };
        let mut config = NodeConfig::default();
        config.link.initial_rto = Duration::from_millis(10);
        config.link.max_rto = Duration::from_millis(40);
        let cluster = Cluster::new(InProcessNetwork::with_faults(seed, faults), config);
        for scenario in &registry() {
            check(&cluster, scenario, &scenario.default_params()).await;
        }
        let net = cluster.cluster.network().stats();
        assert!(
            net.lost > 0 && net.duplicated > 0,
            "seed {seed}: faults never fired: {net:?}"
        );
        let stats = cluster.cluster.stats();
        assert!(
            stats.retransmitted > 0,
            "seed {seed}: losses must be repaired: {stats:?}"
        );
        assert!(
            stats.duplicates > 0,
            "seed {seed}: duplicates must be suppressed: {stats:?}"
        );
    }
}

#[test]
fn unknown_scenarios_and_parameters_are_named() {
    let err = find("nosuch").unwrap_err().to_string();
    assert!(
        err.contains("unknown scenario `nosuch`") && err.contains("bookseller"),
        "{err}"
    );
    let err = find("workers").unwrap().parse_params(["m=3"]).unwrap_err();
    assert!(
        err.contains("unknown parameter `m`") && err.contains("n"),
        "{err}"
    );
    let err = find("workers")
        .unwrap()
        .parse_params(["n=three"])
        .unwrap_err();
    assert!(err.contains("`three` is not a whole number"), "{err}");
}
