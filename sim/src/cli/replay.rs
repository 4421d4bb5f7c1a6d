//! `rehearsal replay` and `rehearsal shrink`: the verbs over a repro file.

use super::args::{ReplayArgs, ShrinkArgs};
#[cfg(not(madsim))]
use super::needs_sim;
#[cfg(madsim)]
use super::run::print_report;
#[cfg(madsim)]
use super::{find, usage_error};
#[cfg(madsim)]
use rehearsal_scenarios::Scenario;

#[cfg(not(madsim))]
pub(super) fn replay(_: ReplayArgs) -> i32 {
    needs_sim()
}

#[cfg(not(madsim))]
pub(super) fn shrink(_: ShrinkArgs) -> i32 {
    needs_sim()
}

/// Reads a repro file and sets up its run.
#[cfg(madsim)]
fn load_repro(
    path: &std::path::Path,
) -> Result<
    (
        &'static Scenario,
        rehearsal_scenarios::Params,
        crate::Sim,
        Option<String>,
    ),
    i32,
> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage_error(format!("cannot read {}: {e}", path.display())))?;
    let file = path.display().to_string();
    let header = crate::repro::Repro::header(&text, &file).map_err(usage_error)?;
    let scenario = find(&header.scenario)?;
    let params = scenario
        .parse_params(header.params.iter().map(String::as_str))
        .map_err(|e| usage_error(format!("{file}: {e}")))?;
    let program = scenario.program(&params).map_err(usage_error)?;
    let ctx = crate::Sim::plan_context(&program).map_err(|e| usage_error(e.to_string()))?;
    let plan = crate::FaultPlan::parse(&text, &file, &ctx).map_err(usage_error)?;
    let sim = crate::Sim::new(header.seed)
        .net(header.net)
        .plan(plan)
        .time_limit(std::time::Duration::from_secs(header.time_limit_s));
    Ok((scenario, params, sim, header.trace_hash))
}

#[cfg(madsim)]
pub(super) fn replay(args: ReplayArgs) -> i32 {
    let (scenario, params, sim, recorded) = match load_repro(&args.file) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let report = match sim.run_scenario(scenario, &params) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let repro = format!("cargo rehearsal replay {}", args.file.display());
    let (matches, note) = match &recorded {
        Some(h) if *h == report.hash_hex() => (
            true,
            format!("replay    trace-hash matches the recorded {h}\n"),
        ),
        Some(h) => (
            false,
            format!(
                "replay    DIVERGED: recorded trace-hash {h}, this run {}\n",
                report.hash_hex()
            ),
        ),
        None => (
            true,
            "replay    the file records no trace-hash to compare\n".to_string(),
        ),
    };
    if let Err(code) = print_report(&report, &params, &repro, args.format, None, &note) {
        return code;
    }
    if !matches {
        eprintln!("error: the replay diverged from the recorded run");
    }
    if matches && report.passed() { 0 } else { 1 }
}

#[cfg(madsim)]
pub(super) fn shrink(args: ShrinkArgs) -> i32 {
    let (scenario, params, sim, _) = match load_repro(&args.file) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let before = sim.fault_plan().faults.len();
    let shrunk = match crate::explore::shrink_run(
        scenario,
        &params,
        sim.seed(),
        sim.net_config(),
        sim.fault_plan().clone(),
        sim.limit(),
        args.budget,
    ) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!(
                "{}: the run does not fail, so there is nothing to shrink",
                args.file.display()
            );
            return 1;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let repro = crate::explore::repro(scenario, &params, sim.seed(), sim.limit(), &shrunk);
    let out = args.out.clone().unwrap_or_else(|| args.file.clone());
    if let Err(e) = std::fs::write(&out, repro.to_toml()) {
        return usage_error(format!("cannot write {}: {e}", out.display()));
    }
    println!(
        "shrunk {} from {before} to {} fault(s) in {} runs; still fails: {}",
        args.file.display(),
        shrunk.plan.faults.len(),
        shrunk.runs,
        shrunk
            .report
            .violations
            .first()
            .cloned()
            .unwrap_or_default()
    );
    println!("replay: cargo rehearsal replay {}", out.display());
    1
}
