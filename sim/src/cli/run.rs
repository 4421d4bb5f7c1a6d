//! `rehearsal run`: one scenario from a seed, with its trace, outcomes, verdict and hash.

use super::args::RunArgs;
#[cfg(madsim)]
use super::args::parse_latency;
use super::find;
#[cfg(not(madsim))]
use super::needs_sim;
#[cfg(madsim)]
use super::{RunFormat, usage_error};
#[cfg(madsim)]
use crate::scenario::Scenario;

/// The command that reproduces a run with these arguments.
#[cfg_attr(not(madsim), allow(dead_code))]
fn repro(args: &RunArgs, command: &str) -> String {
    let mut cmd = format!("{command} run {} --seed {}", args.scenario, args.seed);
    for p in &args.params {
        cmd.push_str(&format!(" -p {p}"));
    }
    for (flag, v) in [
        ("loss", args.loss),
        ("duplicate", args.duplicate),
        ("reorder", args.reorder),
    ] {
        if let Some(v) = v {
            cmd.push_str(&format!(" --{flag} {v}"));
        }
    }
    if let Some(l) = &args.latency {
        cmd.push_str(&format!(" --latency {l}"));
    }
    if args.time_limit != std::time::Duration::from_secs(600) {
        cmd.push_str(&format!(" --time-limit {}", args.time_limit.as_secs_f64()));
    }
    if args.store != crate::StoreKind::Model {
        cmd.push_str(&format!(" --store {}", args.store.name()));
    }
    if let Some(p) = &args.plan {
        cmd.push_str(&format!(" --plan {}", p.display()));
    }
    cmd
}

/// Reads and checks a plan file for `scenario`; the error is ready to print.
#[cfg(madsim)]
pub fn load_plan(
    path: &std::path::Path,
    scenario: &Scenario,
    program: &rehearsal::Program,
) -> Result<crate::FaultPlan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read plan {}: {e}", path.display()))?;
    let file = path.display().to_string();
    if let Some(other) = crate::plan::scenario_of(&text) {
        if other != scenario.name() {
            return Err(format!(
                "{file}: this plan is for scenario `{other}`; expected `{}` (or no `scenario` key)",
                scenario.name()
            ));
        }
    }
    let ctx = crate::Sim::plan_context(program).map_err(|e| e.to_string())?;
    crate::FaultPlan::parse(&text, &file, &ctx).map_err(|e| e.to_string())
}

#[cfg(not(madsim))]
pub(super) fn run(args: RunArgs, registry: &crate::scenario::Registry) -> i32 {
    if let Err(code) = find(registry, &args.scenario) {
        return code;
    }
    needs_sim()
}

#[cfg(madsim)]
pub(super) fn run(args: RunArgs, registry: &crate::scenario::Registry) -> i32 {
    use crate::Sim;

    let scenario = match find(registry, &args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let params = match scenario.parse_params(args.params.iter().map(String::as_str)) {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    let mut net = crate::NetConfig::from_seed(args.seed);
    if let Some(v) = args.loss {
        net.loss = v;
    }
    if let Some(v) = args.duplicate {
        net.duplicate = v;
    }
    if let Some(v) = args.reorder {
        net.reorder = v;
    }
    if let Some(l) = &args.latency {
        match parse_latency(l) {
            Ok((a, b)) => {
                net.latency_min_us = a;
                net.latency_max_us = b;
            }
            Err(e) => return usage_error(e),
        }
    }
    if let Err(e) = net.validate() {
        return usage_error(format!("network settings: {e}"));
    }
    if let Some(path) = &args.trace {
        if let Err(e) = crate::repro::check_writable(path) {
            return usage_error(format!("--trace: {e}"));
        }
    }
    // A census the scenario cannot build (too large, say) is refused before anything runs.
    if let Err(e) = scenario.program(&params) {
        return usage_error(e);
    }
    let mut sim = Sim::new(args.seed)
        .net(net)
        .time_limit(args.time_limit)
        .store(args.store);
    let mut plan_toml = String::new();
    if let Some(path) = &args.plan {
        let program = match scenario.program(&params) {
            Ok(p) => p,
            Err(e) => return usage_error(e),
        };
        match load_plan(path, scenario, &program) {
            Ok(plan) => {
                plan_toml = plan.to_toml();
                sim = sim.plan(plan);
            }
            Err(e) => return usage_error(e),
        }
    }
    let report = match watched(sim, scenario, &params, args.progress_after) {
        Ok(r) => r,
        Err(crate::SimError::Setup(e)) => return usage_error(e),
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("reproduce: {}", repro(&args, registry.cli_command()));
            return 1;
        }
    };
    let repro = repro(&args, registry.cli_command());
    if let Some(path) = &args.diagram {
        let page =
            crate::diagram::Page::of_report(&report, &params.to_string(), &plan_toml, &repro);
        if let Err(e) = page.write(path) {
            return usage_error(e);
        }
    }
    if let Err(code) = print_report(
        &report,
        &params,
        &repro,
        args.format,
        args.trace.as_deref(),
        "",
        &serde_json::Map::new(),
    ) {
        return code;
    }
    if report.passed() { 0 } else { 1 }
}

/// Runs `sim` on another thread; once it has taken `after` (wall-clock), prints where it is
/// on stderr every two seconds.
#[cfg(madsim)]
fn watched(
    sim: crate::Sim,
    scenario: &Scenario,
    params: &crate::scenario::Params,
    after: std::time::Duration,
) -> Result<crate::Report, crate::SimError> {
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::{Duration, Instant};

    let watch = crate::watch::RunWatch::new();
    let seed = sim.seed();
    let sim = sim.watch(watch.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let _ = tx.send(sim.run_scenario(scenario, params));
        });
        let started = Instant::now();
        let mut next = after;
        loop {
            match rx.recv_timeout(next.saturating_sub(started.elapsed())) {
                Ok(result) => return result,
                Err(RecvTimeoutError::Timeout) => {
                    eprintln!(
                        "progress after {:.0} s: {}",
                        started.elapsed().as_secs_f64(),
                        watch.line()
                    );
                    next = started.elapsed() + Duration::from_secs(2);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(crate::SimError::Panicked {
                        seed,
                        message: "the simulation thread ended without a report".into(),
                    });
                }
            }
        }
    })
}

/// Prints a report as `run` and `replay` do; returns what was printed.
#[cfg(madsim)]
pub(super) fn print_report(
    report: &crate::Report,
    params: &crate::scenario::Params,
    repro: &str,
    format: RunFormat,
    trace: Option<&std::path::Path>,
    extra: &str,
    extra_json: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), i32> {
    use std::io::Write;
    let json = json_lines(report, params, repro, extra_json);
    if let Some(path) = trace {
        crate::repro::write_atomically(path, json.as_bytes()).map_err(|e| {
            usage_error(format!("cannot write the trace to {}: {e}", path.display()))
        })?;
    }
    let out = match format {
        RunFormat::Json => json,
        RunFormat::Mermaid => crate::mermaid::sequence_diagram(
            &report.trace,
            &format!("{} seed {}", report.name, report.seed),
        ),
        RunFormat::Text => {
            let mut s = report.trace.canonical();
            s.push_str(&report.summary());
            if params.iter().next().is_some() {
                s.push_str(&format!("params    {params}\n"));
            }
            s.push_str(extra);
            s.push_str(&format!("reproduce {repro}\n"));
            s.push_str(&format!("trace-hash {}\n", report.hash_hex()));
            s
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error of the run.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(())
}

/// The JSON-lines rendering of a report: events, outcomes, violations, then the summary.
#[cfg(madsim)]
pub(super) fn json_lines(
    report: &crate::Report,
    params: &crate::scenario::Params,
    repro: &str,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> String {
    use serde_json::json;

    let mut out = report.trace.json_lines();
    for (p, o) in report.outcomes.entries() {
        let line = match o {
            Ok(v) => json!({"type": "outcome", "participant": p.to_string(), "ok": true,
                            "value": serde_json::from_str::<serde_json::Value>(v).unwrap_or_else(|_| json!(v))}),
            Err(e) => json!({"type": "outcome", "participant": p.to_string(), "ok": false,
                             "error": e.to_string()}),
        };
        out.push_str(&line.to_string());
        out.push('\n');
    }
    for v in &report.violations {
        out.push_str(&json!({"type": "violation", "message": v}).to_string());
        out.push('\n');
    }
    let params: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let mut summary = json!({
        "type": "summary",
        "scenario": report.name,
        "seed": report.seed,
        "params": params,
        "net": report.net,
        "stats": report.stats,
        "passed": report.passed(),
        "violations": report.violations.len(),
        "reproduce": repro,
        "trace_hash": report.hash_hex(),
    });
    if let Some(fields) = summary.as_object_mut() {
        fields.extend(extra.clone());
    }
    out.push_str(&summary.to_string());
    out.push('\n');
    out
}
