//! Fault plans end to end: every example plan in `fault-plans/` fires its fault at the site
//! and occurrence it names, every fault kind has an example, and malformed plans are
//! rejected by the CLI with exit 2 and file:line:column.
#![cfg(madsim)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rehearsal_sim::plan::{Action, Trigger, scenario_of};
use rehearsal_sim::{FaultKind, FaultPlan, Sim};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fault-plans");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no example plans in {}", dir.display());
    files
}

#[test]
fn every_example_plan_fires_its_fault_at_the_named_site_and_occurrence() {
    let mut kinds = BTreeSet::new();
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name =
            scenario_of(&text).unwrap_or_else(|| panic!("{} names no scenario", path.display()));
        let scenario = rehearsal_scenarios::find(&name).unwrap();
        let program = scenario.program(&scenario.default_params()).unwrap();
        let ctx = Sim::plan_context(&program).unwrap();
        let plan = FaultPlan::parse(&text, &path.display().to_string(), &ctx).unwrap();
        let report = Sim::new(3)
            .plan(plan.clone())
            .time_limit(Duration::from_secs(30))
            .run_scenario(scenario, &scenario.default_params())
            .unwrap();
        let fired: Vec<_> = report
            .trace
            .events
            .iter()
            .filter(|e| e.kind == "fault")
            .collect();
        assert_eq!(
            fired.len(),
            plan.faults.len(),
            "{}: {fired:#?}",
            path.display()
        );
        for (fault, event) in plan.faults.iter().zip(&fired) {
            kinds.insert(fault.action.kind());
            let detail = event.detail.as_deref().unwrap_or_default();
            assert!(
                detail.starts_with(fault.action.kind().name()),
                "{}: {detail}",
                path.display()
            );
            match &fault.trigger {
                Trigger::Site {
                    site, occurrence, ..
                } => {
                    let at = event.site.as_deref().unwrap_or_default();
                    assert!(
                        at.contains(&format!("\"{site}\"")),
                        "{}: fired at {at}",
                        path.display()
                    );
                    assert!(
                        detail.contains(&format!("occurrence {occurrence}")),
                        "{}: {detail}",
                        path.display()
                    );
                }
                Trigger::Time { at, .. } => {
                    // madsim advances its clock 50-100 ns per task poll, so the controller
                    // wakes at the first scheduling point at or after `at`: within a few
                    // microseconds of it, never before.
                    let at = at.as_micros() as u64;
                    assert!(
                        (at..at + 50).contains(&event.t_us),
                        "{}: fired at {} us, planned at {at} us",
                        path.display(),
                        event.t_us
                    );
                }
            }
            // The action's effect is in the trace too.
            let effect = match fault.action {
                Action::Crash { .. } => Some("kill"),
                Action::Pause { .. } => Some("resume"),
                Action::Partition { .. } => Some("heal"),
                Action::Disk { .. } => Some("fail-stop"),
                _ => None,
            };
            if let Some(kind) = effect {
                assert!(
                    report.trace.count(kind) > 0,
                    "{}: no `{kind}` event",
                    path.display()
                );
            }
        }
    }
    let all: BTreeSet<FaultKind> = FaultKind::ALL.into_iter().collect();
    assert_eq!(kinds, all, "every fault kind needs an example plan");
}

#[test]
fn network_faults_are_masked_and_a_panic_in_a_checkpoint_is_rescued() {
    for file in [
        "delay-quote.toml",
        "drop-fifth-number.toml",
        "duplicate-decision.toml",
        "partition-after-decision.toml",
        "partition-one-way-at-time.toml",
        "pause-worker-on-tasks.toml",
        "panic-server-after-third-number.toml",
        "alice-divides-by-zero.toml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fault-plans")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario = rehearsal_scenarios::find(&scenario_of(&text).unwrap()).unwrap();
        let program = scenario.program(&scenario.default_params()).unwrap();
        let plan = FaultPlan::parse(&text, file, &Sim::plan_context(&program).unwrap()).unwrap();
        for seed in 0..5 {
            let report = Sim::new(seed)
                .plan(plan.clone())
                .run_scenario(scenario, &scenario.default_params())
                .unwrap();
            assert!(report.passed(), "{file} seed {seed}: {}", report.summary());
            if file.starts_with("panic") || file.starts_with("alice") {
                // Both roles ran the rescue of the block the panic hit.
                let rescuers: std::collections::BTreeSet<&str> = report
                    .trace
                    .events
                    .iter()
                    .filter(|e| e.kind == "rescue")
                    .filter_map(|e| e.from.as_deref())
                    .collect();
                assert_eq!(rescuers.len(), 2, "{file} seed {seed}: {rescuers:?}");
            }
        }
    }
}

#[test]
fn malformed_plans_exit_2_with_file_line_and_column() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans");
    for (file, scenario, position, message) in [
        ("bad-syntax.toml", "bookseller", ":3:", "invalid TOML"),
        (
            "unknown-role.toml",
            "bookseller",
            ":3:31:",
            "unknown role `Carol`; expected one of: Buyer, Seller",
        ),
        (
            "unknown-kind.toml",
            "bookseller",
            ":3:10:",
            "unknown fault kind `explode`; expected one of: crash, panic",
        ),
    ] {
        let path = dir.join(file);
        let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
            .args(["run", scenario, "--plan", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(&format!("{file}{position}")), "{file}: {err}");
        assert!(err.contains(message), "{file}: {err}");
    }
}

#[test]
fn a_plan_for_another_scenario_is_refused() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fault-plans/drop-fifth-number.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .args(["run", "bookseller", "--plan", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("this plan is for scenario `counter`; expected `bookseller`"),
        "{err}"
    );
}
