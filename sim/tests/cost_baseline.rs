//! Deterministic cost counters per shipped scenario (frames, bytes, store transactions,
//! simulated time, at a pinned seed), compared with the baseline committed in
//! `benches/cost-baseline.json`. A counter that grows fails the test, unless the baseline is
//! updated in the same change: `cargo xtask update-baseline` (or this test with
//! `REHEARSAL_UPDATE_BASELINE=1`) rewrites it.
#![cfg(madsim)]

use std::collections::BTreeMap;

use rehearsal_scenarios::registry;
use rehearsal_sim::Sim;

const SEED: u64 = 1;

fn baseline_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/cost-baseline.json")
}

fn measure() -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for scenario in registry() {
        let report = Sim::new(SEED)
            .run_scenario(scenario, &scenario.default_params())
            .unwrap();
        assert!(report.passed(), "{}", report.summary());
        let s = report.stats;
        let counters: BTreeMap<String, u64> = [
            ("frames_sent", s.frames_sent),
            ("bytes", s.bytes),
            ("datagrams", s.datagrams),
            ("wire_bytes", s.wire_bytes),
            ("store_commits", s.store_commits),
            ("store_writes", s.store_writes),
            ("store_syncs", s.store_syncs),
            ("sim_time_us", s.sim_time_us),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        out.insert(scenario.name.to_string(), counters);
    }
    out
}

#[test]
fn cost_counters_do_not_grow_beyond_the_committed_baseline() {
    let current = measure();
    let path = baseline_path();
    if std::env::var_os("REHEARSAL_UPDATE_BASELINE").is_some() {
        let json = serde_json::to_string_pretty(&current).unwrap();
        std::fs::write(&path, json + "\n").unwrap();
        println!("wrote {}", path.display());
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the baseline {}: {e}", path.display()));
    let baseline: BTreeMap<String, BTreeMap<String, u64>> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a cost baseline: {e}", path.display()));
    let mut grew = Vec::new();
    for (scenario, counters) in &current {
        let Some(base) = baseline.get(scenario) else {
            grew.push(format!("{scenario}: no baseline"));
            continue;
        };
        for (counter, value) in counters {
            match base.get(counter) {
                None => grew.push(format!("{scenario}.{counter}: no baseline")),
                Some(b) if value > b => {
                    grew.push(format!("{scenario}.{counter} grew from {b} to {value}"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(
        grew.is_empty(),
        "cost counters grew beyond {} (seed {SEED}):\n  {}\nIf this is intended, run \
         `cargo xtask update-baseline` and commit the new baseline with the change.",
        path.display(),
        grew.join("\n  ")
    );
}
