//! The `rehearsal` command line: `list` and `run` (more verbs come with fault plans).
//!
//! Exit status: 0 when every oracle held, 1 when one was violated (the output names it and
//! the command that reproduces the run), 2 on bad usage or input.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use rehearsal_scenarios::{Scenario, registry};

/// Rehearse choreographies on a seeded, deterministic simulated network.
#[derive(Debug, Parser)]
#[command(name = "rehearsal", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the shipped scenarios, their roles, parameters and oracles.
    List,
    /// Run one scenario on the simulated network from a seed.
    Run(RunArgs),
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The canonical trace, a summary, the reproduction command and the trace hash.
    Text,
    /// One JSON object per line; the last is the summary with `trace_hash`.
    Json,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The scenario (see `rehearsal list`).
    scenario: String,
    /// The seed: same seed, same trace.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scenario parameters as name=value (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write the JSON-lines output to this file.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Inject the faults of this plan (TOML; see fault-plans/README.md).
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Network: loss probability (default: drawn from the seed).
    #[arg(long)]
    loss: Option<f64>,
    /// Network: duplication probability (default: drawn from the seed).
    #[arg(long)]
    duplicate: Option<f64>,
    /// Network: probability of extra reordering delay (default: drawn from the seed).
    #[arg(long)]
    reorder: Option<f64>,
    /// Network: one-way latency range in milliseconds, as MIN..MAX (default: drawn from the seed).
    #[arg(long, value_name = "MIN..MAX")]
    latency: Option<String>,
}

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::List => {
            print!("{}", list());
            0
        }
        Command::Run(args) => run(args),
    }
}

/// The `list` output.
pub fn list() -> String {
    let mut s = String::new();
    for sc in registry() {
        s.push_str(&format!("{:<12} {}\n", sc.name, sc.summary));
        s.push_str(&format!("{:<12} roles: {}\n", "", sc.roles.join(", ")));
        for p in sc.params {
            s.push_str(&format!(
                "{:<12} param {}={} ({})\n",
                "", p.name, p.default, p.summary
            ));
        }
        s.push_str(&format!(
            "{:<12} oracle {}: every participant's outcome equals the reference run's\n",
            "",
            rehearsal_scenarios::REFERENCE_ORACLE
        ));
        for (name, what) in sc.oracles {
            s.push_str(&format!("{:<12} oracle {name}: {what}\n", ""));
        }
    }
    s
}

fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    2
}

fn find(name: &str) -> Result<&'static Scenario, i32> {
    rehearsal_scenarios::find(name).map_err(usage_error)
}

#[cfg_attr(not(madsim), allow(dead_code))]
fn parse_latency(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("--latency `{s}`: expected MIN..MAX in milliseconds, like 1..20"))?;
    let ms = |x: &str| {
        x.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| (v * 1000.0) as u64)
            .ok_or_else(|| format!("--latency `{s}`: `{x}` is not a number of milliseconds"))
    };
    Ok((ms(a)?, ms(b)?))
}

/// The command that reproduces a run with these arguments.
#[cfg_attr(not(madsim), allow(dead_code))]
fn repro(args: &RunArgs) -> String {
    let mut cmd = format!("cargo rehearsal run {} --seed {}", args.scenario, args.seed);
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
        if other != scenario.name {
            return Err(format!(
                "{file}: this plan is for scenario `{other}`; expected `{}` (or no `scenario` key)",
                scenario.name
            ));
        }
    }
    let ctx = crate::Sim::plan_context(program).map_err(|e| e.to_string())?;
    crate::FaultPlan::parse(&text, &file, &ctx).map_err(|e| e.to_string())
}

#[cfg(not(madsim))]
fn run(args: RunArgs) -> i32 {
    if let Err(code) = find(&args.scenario) {
        return code;
    }
    usage_error(
        "this binary was built without the simulator; run it as `cargo rehearsal run ...`, \
         which builds with --cfg madsim",
    )
}

#[cfg(madsim)]
fn run(args: RunArgs) -> i32 {
    use crate::Sim;

    let scenario = match find(&args.scenario) {
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
    let mut sim = Sim::new(args.seed).net(net);
    if let Some(path) = &args.plan {
        let program = match scenario.program(&params) {
            Ok(p) => p,
            Err(e) => return usage_error(e),
        };
        match load_plan(path, scenario, &program) {
            Ok(plan) => sim = sim.plan(plan),
            Err(e) => return usage_error(e),
        }
    }
    let report = match sim.run_scenario(scenario, &params) {
        Ok(r) => r,
        Err(crate::SimError::Setup(e)) => return usage_error(e),
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("reproduce: {}", repro(&args));
            return 1;
        }
    };
    let repro = repro(&args);
    let json = json_lines(&report, &params, &repro);
    if let Some(path) = &args.trace {
        if let Err(e) = std::fs::write(path, &json) {
            return usage_error(format!("cannot write the trace to {}: {e}", path.display()));
        }
    }
    let out = match args.format {
        Format::Json => json,
        Format::Text => {
            let mut s = report.trace.canonical();
            s.push_str(&report.summary());
            if params.iter().next().is_some() {
                s.push_str(&format!("params    {params}\n"));
            }
            s.push_str(&format!("reproduce {repro}\n"));
            s.push_str(&format!("trace-hash {}\n", report.hash_hex()));
            s
        }
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error of the run.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    if report.passed() { 0 } else { 1 }
}

/// The JSON-lines rendering of a report: events, outcomes, violations, then the summary.
#[cfg(madsim)]
fn json_lines(report: &crate::Report, params: &rehearsal_scenarios::Params, repro: &str) -> String {
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
    let summary = json!({
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
    out.push_str(&summary.to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_ranges_parse_and_bad_ones_are_named() {
        assert_eq!(parse_latency("1..20"), Ok((1_000, 20_000)));
        assert_eq!(parse_latency("0.5..2"), Ok((500, 2_000)));
        assert!(
            parse_latency("1-20")
                .unwrap_err()
                .contains("expected MIN..MAX")
        );
        assert!(
            parse_latency("x..2")
                .unwrap_err()
                .contains("`x` is not a number")
        );
    }

    #[test]
    fn list_names_every_scenario_and_its_oracles() {
        let l = list();
        for s in registry() {
            assert!(l.contains(s.name), "{l}");
            for (o, _) in s.oracles {
                assert!(l.contains(o), "{l}");
            }
        }
    }
}
