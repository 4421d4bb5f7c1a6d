//! madsim's own determinism check on a scenario: the run is repeated with madsim logging
//! every use of its random generator and clock the first time and comparing the second.
#![cfg(madsim)]

use std::time::Duration;

use rehearsal_sim::{NetConfig, Sim};

async fn lossy_workers() {
    let scenario = rehearsal_scenarios::find("workers").unwrap();
    let params = scenario.parse_params(["n=5"]).unwrap();
    let program = scenario.program(&params).unwrap();
    let net = NetConfig {
        loss: 0.2,
        duplicate: 0.1,
        reorder: 0.2,
        ..NetConfig::default()
    };
    let report = Sim::new(11)
        .net(net)
        .simulate(scenario.name(), &program)
        .await;
    assert!(report.passed(), "{}", report.summary());
    assert!(report.stats.retransmitted > 0);
}

#[test]
fn a_lossy_scenario_passes_madsims_determinism_check() {
    let mut config = madsim::Config::default();
    config.net.send_latency = Duration::from_millis(1)..Duration::from_millis(20);
    madsim::runtime::Runtime::check_determinism(11, config, lossy_workers);
}
