//! Plan validation that knows rescue paths: a plan may name a site, or an occurrence, that
//! only its own faults lead to (a rescue, a retry), and the run then fires there; a site no
//! run reaches is still rejected with file:line:column and the sites that were reached.
#![cfg(madsim)]

use std::path::Path;
use std::process::Command;

use rehearsal::{FamilySizes, Program};
use rehearsal_scenarios::alice_bob::AliceBob;
use rehearsal_scenarios::counter::Counter;
use rehearsal_sim::{FaultPlan, Report, Sim};

fn alice_bob() -> Program {
    Program::new(AliceBob, &FamilySizes::new()).unwrap()
}

fn counter(rounds: u64) -> Program {
    Program::new(Counter { rounds }, &FamilySizes::new()).unwrap()
}

fn parse(program: &Program, text: &str) -> Result<FaultPlan, rehearsal_sim::PlanError> {
    FaultPlan::parse(text, "plan.toml", &Sim::plan_context(program).unwrap())
}

/// The `fault` events of a run, as (site, detail).
fn fired(report: &Report) -> Vec<(String, String)> {
    report
        .trace
        .events
        .iter()
        .filter(|e| e.kind == "fault")
        .map(|e| {
            (
                e.site.clone().unwrap_or_default(),
                e.detail.clone().unwrap_or_default(),
            )
        })
        .collect()
}

const DIVIDE_BY_ZERO: &str = r#"
[[fault]]
action = "panic"
at = { site = "divide", role = "Alice" }
message = "attempt to divide by zero"
"#;

#[test]
fn alice_bobs_rescue_path_site_is_accepted_with_the_panic_that_leads_there() {
    let program = alice_bob();
    let drop_after_rescue = r#"
[[fault]]
action = "drop"
at = { site = "to-bob-after-rescue", role = "Alice" }
"#;
    // Alone, the site is not reached: the fault-free run never rescues.
    let e = parse(&program, drop_after_rescue).unwrap_err();
    assert_eq!((e.line, e.column), (4, 15), "{e}");
    assert!(
        e.message.contains("unknown site `to-bob-after-rescue`")
            && e.message.ends_with("divide, session-end, to-alice, to-bob"),
        "{e}"
    );
    // With the panic that leads to the rescue, it is, and the drop fires there.
    let plan = parse(&program, &format!("{DIVIDE_BY_ZERO}{drop_after_rescue}")).unwrap();
    assert_eq!(plan.faults.len(), 2);
    for seed in 0..3 {
        let report = Sim::new(seed)
            .plan(plan.clone())
            .run("alice-bob", &program)
            .unwrap();
        assert!(report.passed(), "seed {seed}: {}", report.summary());
        let fired = fired(&report);
        assert_eq!(fired.len(), 2, "seed {seed}: {fired:?}");
        assert!(fired[0].1.starts_with("panic"), "seed {seed}: {fired:?}");
        assert!(
            fired[1].0.contains("\"to-bob-after-rescue\"") && fired[1].1.starts_with("drop"),
            "seed {seed}: {fired:?}"
        );
    }
}

#[test]
fn an_occurrence_only_a_rescue_reaches_is_accepted() {
    // Each round's checkpoint adds at `add`; a panic there makes the rescue add again, so
    // Server acts at `add` once more than the three rounds of a fault-free run.
    let program = counter(3);
    let panic_third_add = r#"
[[fault]]
action = "panic"
at = { site = "add", role = "Server", occurrence = 3 }
message = "attempt to add with overflow"
"#;
    let crash_at_extra_add = r#"
[[fault]]
action = "crash"
at = { site = "add", role = "Server", occurrence = 4 }
restart_after = "10ms"
"#;
    let e = parse(&program, crash_at_extra_add).unwrap_err();
    assert_eq!((e.line, e.column), (4, 6), "{e}");
    assert!(
        e.message.contains(
            "occurrence 4 never happens: site `add` is used 3 time(s) by Server in a fault-free run"
        ),
        "{e}"
    );
    let plan = parse(&program, &format!("{panic_third_add}{crash_at_extra_add}")).unwrap();
    let report = Sim::new(1).plan(plan).run("counter", &program).unwrap();
    let fired = fired(&report);
    assert_eq!(fired.len(), 2, "{fired:?}");
    assert!(
        fired[1].1.starts_with("crash") && fired[1].1.contains("occurrence 4"),
        "{fired:?}"
    );
    // One further occurrence is still beyond every run's count, and says so.
    let beyond = crash_at_extra_add.replace("occurrence = 4", "occurrence = 6");
    let e = parse(&program, &format!("{panic_third_add}{beyond}")).unwrap_err();
    assert_eq!((e.line, e.column), (9, 6), "{e}");
    assert!(
        e.message.contains("occurrence 6 never happens")
            && e.message
                .contains("in a run with this plan's other valid faults"),
        "{e}"
    );
}

#[test]
fn a_site_no_code_path_reaches_is_rejected_by_the_cli_with_its_location() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans/unknown-site.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .args(["run", "alice-bob", "--plan", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "unknown-site.toml:11:15: unknown site `to-carol`; expected a label or file.rs:LINE of \
             this scenario (reached with or without this plan's other faults): "
        ) && err.contains(
            "divide, session-end, to-alice, to-alice-after-rescue, to-bob, to-bob-after-rescue"
        ),
        "{err}"
    );
}
