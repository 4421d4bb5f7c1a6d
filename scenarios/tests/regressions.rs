//! Every repro committed in `fault-plans/regressions/` found a real bug: with the fix, each
//! now runs with every oracle holding (its trace differs from the recorded failing one).
#![cfg(madsim)]

use std::path::PathBuf;

use rehearsal_scenarios::find;
use rehearsal_sim::repro::Repro;
use rehearsal_sim::{FaultPlan, Sim};

fn regressions() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fault-plans/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fault-plans/regressions is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_regression_now_passes() {
    let files = regressions();
    assert!(!files.is_empty(), "no repro files found");
    for path in files {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).expect("the repro is readable");
        let header = Repro::header(&text, &file).expect("the repro's header parses");
        let scenario = find(&header.scenario).expect("the repro names a shipped scenario");
        let params = scenario
            .parse_params(header.params.iter().map(String::as_str))
            .expect("the repro's parameters parse");
        let program = scenario.program(&params).expect("the program builds");
        let ctx = Sim::plan_context(&program).expect("the site census builds");
        let plan = FaultPlan::parse(&text, &file, &ctx).expect("the repro's plan parses");
        // A repro without faults is a program that failed on its own (a generated one).
        let faulted = !plan.faults.is_empty();
        assert!(
            faulted || header.scenario == "generated",
            "{file}: a repro without faults"
        );
        let report = Sim::new(header.seed)
            .net(header.net)
            .store(header.store)
            .plan(plan)
            .time_limit(header.time_limit)
            .run_scenario(scenario, &params)
            .expect("the simulation runs");
        assert!(
            report.passed(),
            "{file} still fails: {:#?}",
            report.violations
        );
        // The fault plan fired: the run is not passing because nothing happened.
        assert!(
            !faulted || !report.faults_fired().is_empty(),
            "{file}: none of the planned faults fired"
        );
    }
}
