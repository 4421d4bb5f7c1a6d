//! `rehearsal replay` and `rehearsal shrink`: the verbs over a repro file.

#[cfg(madsim)]
use super::RunFormat;
use super::args::{ReplayArgs, ShrinkArgs};
#[cfg(not(madsim))]
use super::needs_sim;
#[cfg(madsim)]
use super::run::print_report;
#[cfg(madsim)]
use super::{find, usage_error};
#[cfg(madsim)]
use crate::scenario::{Registry, Scenario};

#[cfg(not(madsim))]
pub(super) fn replay(_: ReplayArgs, _: &crate::scenario::Registry) -> i32 {
    needs_sim()
}

#[cfg(not(madsim))]
pub(super) fn shrink(_: ShrinkArgs, _: &crate::scenario::Registry) -> i32 {
    needs_sim()
}

/// Reads a repro file and sets up its run.
#[cfg(madsim)]
pub(crate) fn load_repro(
    path: &std::path::Path,
    registry: &Registry,
) -> Result<
    (
        Scenario,
        crate::scenario::Params,
        crate::Sim,
        Option<String>,
    ),
    i32,
> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage_error(format!("cannot read {}: {e}", path.display())))?;
    let header =
        crate::repro::Repro::header(&text, &path.display().to_string()).map_err(usage_error)?;
    let scenario = find(registry, &header.scenario)?.clone();
    let (params, sim, recorded) =
        crate::rehearse::load_repro(&scenario, path).map_err(usage_error)?;
    Ok((scenario, params, sim, recorded))
}

#[cfg(madsim)]
pub(super) fn replay(args: ReplayArgs, registry: &Registry) -> i32 {
    let (scenario, params, sim, recorded) = match load_repro(&args.file, registry) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let report = match sim.run_scenario(&scenario, &params) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let repro = format!("{} replay {}", registry.cli_command(), args.file.display());
    let this = report.hash_hex();
    let (replay, mut note) = match &recorded {
        Some(h) if *h == this => (
            "matched",
            format!("replay    trace-hash matches the recorded {h}\n"),
        ),
        Some(h) => (
            "diverged",
            format!("replay    DIVERGED: recorded trace-hash {h}, this run {this}\n"),
        ),
        None => (
            "unrecorded",
            "replay    the file records no trace-hash to compare\n".to_string(),
        ),
    };
    if let Some(program) = scenario.describe(&params) {
        note.push_str("program\n");
        for line in program.lines() {
            note.push_str(&format!("  {line}\n"));
        }
    }
    let diverged = replay == "diverged";
    let result = match (report.passed(), diverged) {
        (true, false) => "passed",
        (true, true) => "diverged",
        (false, false) => "violated",
        (false, true) => "violated-and-diverged",
    };
    note.push_str(&format!(
        "result    {}\n",
        match result {
            "passed" => "passed: every oracle held (exit 0)",
            "diverged" => {
                "diverged: every oracle held, but the run is not the recorded one (the recorded failure no longer happens, or the code changed; exit 1)"
            }
            "violated" => "violated: an oracle was violated, as recorded (exit 1)",
            _ => "violated and diverged: an oracle was violated, in a run that is not the recorded one (exit 1)",
        }
    ));
    if diverged {
        let divergence = crate::views::divergence(&args.file, &report, || {
            sim.run_scenario(&scenario, &params)
                .map_err(|e| e.to_string())
        });
        if args.format == RunFormat::Text {
            note.push_str(&divergence);
        } else {
            eprint!("{divergence}");
        }
    }
    if let Some(path) = &args.diagram {
        let mut page = crate::diagram::Page::of_report(
            &report,
            &params.to_string(),
            &sim.fault_plan().to_toml(),
            &repro,
        );
        page.notes = note.lines().take(1).map(|l| l.trim().to_string()).collect();
        if let Err(e) = page.write(path) {
            return usage_error(e);
        }
    }
    let mut extra = serde_json::Map::new();
    extra.insert("replay".into(), replay.into());
    extra.insert(
        "recorded_trace_hash".into(),
        recorded.clone().map_or(serde_json::Value::Null, Into::into),
    );
    extra.insert("result".into(), result.into());
    if let Err(code) = print_report(&report, &params, &repro, args.format, None, &note, &extra) {
        return code;
    }
    if diverged {
        eprintln!("error: the replay diverged from the recorded run");
    }
    if result == "passed" { 0 } else { 1 }
}

#[cfg(madsim)]
pub(super) fn shrink(args: ShrinkArgs, registry: &Registry) -> i32 {
    let (scenario, params, sim, _) = match load_repro(&args.file, registry) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let out = args.out.clone().unwrap_or_else(|| args.file.clone());
    if let Err(e) = crate::repro::check_writable(&out) {
        return usage_error(e);
    }
    let before = sim.fault_plan().faults.len();
    let shrunk = match crate::explore::shrink_run(&scenario, &params, &sim, args.budget) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!(
                "{}: the run does not fail, so there is nothing to shrink",
                args.file.display()
            );
            return 1;
        }
        Err(e @ (crate::SimError::Setup(_) | crate::SimError::Net(_))) => {
            return usage_error(e);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let repro = crate::explore::repro(&scenario, &params, sim.seed(), sim.limit(), &shrunk);
    if let Err(e) = crate::repro::write_atomically(&out, repro.to_toml().as_bytes()) {
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
    println!(
        "replay: {} replay {}",
        registry.cli_command(),
        out.display()
    );
    0
}
