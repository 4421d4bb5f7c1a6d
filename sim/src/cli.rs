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
    /// Search many seeds with random fault plans; shrink and save any failure.
    Explore(ExploreArgs),
    /// Re-run a repro file exactly and check its trace hash.
    Replay(ReplayArgs),
    /// Shrink the plan of a repro file to a minimal one that still fails.
    Shrink(ShrinkArgs),
    /// Compare two runs (traces written by --trace or --format json, or repro files, which
    /// are re-run): the first differing event and both continuations.
    Diff(crate::views::DiffArgs),
}

#[derive(Debug, clap::Args)]
struct ExploreArgs {
    /// Scenarios to explore (default: every shipped scenario).
    scenarios: Vec<String>,
    /// Seeds per scenario.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed of the range.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Swarm testing: each seed enables a random subset of the fault kinds.
    #[arg(long)]
    swarm: bool,
    /// Fault kinds: `network` (all but crash and panic), `all`, or a list like drop,delay.
    #[arg(long, default_value = "network")]
    faults: String,
    /// Most faults per run.
    #[arg(long, default_value_t = 4)]
    max_faults: usize,
    /// Most faults that take a node down (crash, pause) per run.
    #[arg(long, default_value_t = 1)]
    max_down: usize,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard I of N of the seed range (a CI matrix), like 2/4.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Keep exploring after a violation.
    #[arg(long)]
    keep_going: bool,
    /// Run every seed twice and report differing trace hashes as violations.
    #[arg(long)]
    check_determinism: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Where repro files go.
    #[arg(long, default_value = "fault-plans/regressions")]
    out: PathBuf,
    /// Runs the shrinker may spend per failure.
    #[arg(long, default_value_t = 200)]
    shrink_budget: usize,
    /// Simulated seconds after which unfinished participants are a liveness violation.
    #[arg(long, default_value_t = 120)]
    time_limit: u64,
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The repro file.
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    format: RunFormat,
    /// Also write the run's sequence diagram to this HTML file.
    #[arg(long, value_name = "FILE.html")]
    diagram: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ShrinkArgs {
    /// The repro file (rewritten with the shrunk plan unless --out is given).
    file: PathBuf,
    /// Write the shrunk repro here instead.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs the shrinker may spend.
    #[arg(long, default_value_t = 200)]
    budget: usize,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The canonical trace, a summary, the reproduction command and the trace hash.
    Text,
    /// One JSON object per line; the last is the summary with `trace_hash`.
    Json,
}

/// Output formats of `run` and `replay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    /// The canonical trace, a summary, the reproduction command and the trace hash.
    Text,
    /// One JSON object per line; the last is the summary with `trace_hash`.
    Json,
    /// A Mermaid `sequenceDiagram` of the run.
    Mermaid,
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
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    format: RunFormat,
    /// Also write the JSON-lines output to this file.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Also write the run's sequence diagram to this HTML file.
    #[arg(long, value_name = "FILE.html")]
    diagram: Option<PathBuf>,
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
        Command::Explore(args) => explore(args),
        Command::Replay(args) => replay(args),
        Command::Shrink(args) => shrink(args),
        Command::Diff(args) => crate::views::diff(args),
    }
}

#[cfg(not(madsim))]
fn explore(_: ExploreArgs) -> i32 {
    needs_sim()
}

#[cfg(not(madsim))]
fn replay(_: ReplayArgs) -> i32 {
    needs_sim()
}

#[cfg(not(madsim))]
fn shrink(_: ShrinkArgs) -> i32 {
    needs_sim()
}

#[cfg(not(madsim))]
fn needs_sim() -> i32 {
    usage_error(
        "this binary was built without the simulator; run it as `cargo rehearsal ...`, \
         which builds with --cfg madsim",
    )
}

/// The `list` output.
pub fn list() -> String {
    let width = registry().iter().map(|s| s.name.len()).max().unwrap_or(0) + 2;
    let mut s = String::new();
    let mut line = |head: &str, text: String| {
        s.push_str(&format!("{head:<width$}{text}\n"));
    };
    for sc in registry() {
        line(sc.name, sc.summary.to_string());
        line("", format!("roles: {}", sc.roles.join(", ")));
        for p in sc.params {
            line(
                "",
                format!("param {}={} ({})", p.name, p.default, p.summary),
            );
        }
        line(
            "",
            format!(
                "oracle {}: every participant's outcome equals the reference run's",
                rehearsal_scenarios::REFERENCE_ORACLE
            ),
        );
        for (name, what) in sc.oracles {
            line("", format!("oracle {name}: {what}"));
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
    needs_sim()
}

/// Reads the fault kinds of `--faults`.
#[cfg_attr(not(madsim), allow(dead_code))]
fn parse_kinds(s: &str) -> Result<Vec<crate::FaultKind>, String> {
    use crate::FaultKind;
    match s {
        "network" => Ok(FaultKind::NETWORK.to_vec()),
        "all" => Ok(FaultKind::ALL.to_vec()),
        list => list
            .split(',')
            .map(|k| {
                FaultKind::from_name(k.trim()).ok_or_else(|| {
                    let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                    format!(
                        "--faults: unknown fault kind `{k}`; expected network, all, or a list of: {}",
                        names.join(", ")
                    )
                })
            })
            .collect(),
    }
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
    ) {
        return code;
    }
    if report.passed() { 0 } else { 1 }
}

/// Prints a report as `run` and `replay` do; returns what was printed.
#[cfg(madsim)]
fn print_report(
    report: &crate::Report,
    params: &rehearsal_scenarios::Params,
    repro: &str,
    format: RunFormat,
    trace: Option<&std::path::Path>,
    extra: &str,
) -> Result<(), i32> {
    use std::io::Write;
    let json = json_lines(report, params, repro);
    if let Some(path) = trace {
        std::fs::write(path, &json).map_err(|e| {
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

#[cfg(madsim)]
fn explore(args: ExploreArgs) -> i32 {
    use crate::explore::{Explore, Shard, repro as make_repro};
    use std::time::Instant;

    let names: Vec<String> = if args.scenarios.is_empty() {
        registry().iter().map(|s| s.name.to_string()).collect()
    } else {
        args.scenarios.clone()
    };
    let mut scenarios = Vec::new();
    for n in &names {
        match find(n) {
            Ok(s) => scenarios.push((s, s.default_params())),
            Err(code) => return code,
        }
    }
    let kinds = match parse_kinds(&args.faults) {
        Ok(k) => k,
        Err(e) => return usage_error(e),
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s.unwrap_or(Shard::ALL),
        Err(e) => return usage_error(e),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let explore = Explore {
        scenarios,
        first_seed: args.first_seed,
        seeds: args.seeds,
        shard,
        jobs,
        swarm: crate::Swarm {
            kinds,
            swarm: args.swarm,
            max_faults: args.max_faults,
            max_down: args.max_down,
            ..crate::Swarm::default()
        },
        keep_going: args.keep_going,
        check_determinism: args.check_determinism,
        time_limit: std::time::Duration::from_secs(args.time_limit),
    };
    let total = shard.seeds(args.first_seed, args.seeds).len() as u64 * names.len() as u64;
    let started = Instant::now();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} seeds, {per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let done = std::sync::atomic::AtomicU64::new(0);
    let progress = |r: &crate::explore::SeedResult| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        match &bar {
            Some(bar) => {
                bar.inc(1);
                if !r.violations.is_empty() {
                    bar.set_message(format!("violation: {} seed {}", r.scenario, r.seed));
                }
            }
            None => {
                if !r.violations.is_empty() {
                    eprintln!(
                        "violation: {} seed {}: {}",
                        r.scenario,
                        r.seed,
                        r.violations.join("; ")
                    );
                }
                if total >= 10 && n % (total / 10).max(1) == 0 {
                    eprintln!("explored {n}/{total} seeds");
                }
            }
        }
    };
    let summaries = match explore.run(&progress) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let seeds_run: u64 = summaries.iter().map(|s| s.seeds).sum();
    let failures: Vec<&crate::explore::SeedResult> =
        summaries.iter().flat_map(|s| s.failures.iter()).collect();
    let mut out = String::new();
    let mut json = String::new();
    if args.format == Format::Text {
        out.push_str(&format!(
            "{:<20} {:>7} {:>10}  {:<56} {:>14}\n",
            "scenario", "seeds", "violations", "faults fired", "simulated"
        ));
    }
    for s in &summaries {
        let fired: Vec<String> = s.fired.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let fired = if fired.is_empty() {
            "-".to_string()
        } else {
            fired.join(", ")
        };
        match args.format {
            Format::Text => out.push_str(&format!(
                "{:<20} {:>7} {:>10}  {:<56} {:>12.1} s\n",
                s.scenario,
                s.seeds,
                s.violations,
                fired,
                s.sim_time_us as f64 / 1e6
            )),
            Format::Json => json.push_str(&format!(
                "{}\n",
                serde_json::json!({"type": "scenario", "scenario": s.scenario, "seeds": s.seeds,
                    "violations": s.violations, "faults_fired": s.fired,
                    "simulated_s": s.sim_time_us as f64 / 1e6})
            )),
        }
    }
    // Shrink and save the first failure of each scenario (all of them with --keep-going,
    // up to ten).
    let mut saved = Vec::new();
    let firsts: Vec<&crate::explore::SeedResult> = if args.keep_going {
        failures.iter().take(10).copied().collect()
    } else {
        summaries
            .iter()
            .filter_map(|s| s.failures.first())
            .collect()
    };
    for f in firsts {
        let (scenario, params) = match explore.scenarios.iter().find(|(s, _)| s.name == f.scenario)
        {
            Some(x) => x,
            None => continue,
        };
        let shrunk = match explore.shrink(f, args.shrink_budget) {
            Ok(Some(s)) => s,
            Ok(None) => {
                eprintln!(
                    "note: {} seed {} did not fail again when shrinking",
                    f.scenario, f.seed
                );
                continue;
            }
            Err(e) => {
                eprintln!("error while shrinking {} seed {}: {e}", f.scenario, f.seed);
                continue;
            }
        };
        let repro = make_repro(scenario, params, f.seed, explore.time_limit, &shrunk);
        if let Err(e) = std::fs::create_dir_all(&args.out) {
            return usage_error(format!("cannot create {}: {e}", args.out.display()));
        }
        let path = args.out.join(format!("{}-{}.toml", f.scenario, f.seed));
        if let Err(e) = std::fs::write(&path, repro.to_toml()) {
            return usage_error(format!("cannot write {}: {e}", path.display()));
        }
        let beside = crate::views::write_beside(&path, &shrunk, params, |r| {
            json_lines(
                r,
                params,
                &format!("cargo rehearsal replay {}", path.display()),
            )
        });
        let line = format!(
            "violation: {} seed {}: {} (plan shrunk from {} to {} fault(s) in {} runs)\n  {}\n  replay: cargo rehearsal replay {}\n{beside}",
            f.scenario,
            f.seed,
            f.violations.first().cloned().unwrap_or_default(),
            f.plan.faults.len(),
            shrunk.plan.faults.len(),
            shrunk.runs,
            shrunk
                .plan
                .faults
                .iter()
                .map(|x| x.action.kind().name())
                .collect::<Vec<_>>()
                .join(", "),
            path.display()
        );
        match args.format {
            Format::Text => out.push_str(&line),
            Format::Json => json.push_str(&format!(
                "{}\n",
                serde_json::json!({"type": "violation", "scenario": f.scenario, "seed": f.seed,
                    "violations": f.violations, "faults": f.plan.faults.len(),
                    "shrunk_faults": shrunk.plan.faults.len(), "repro": path.display().to_string(),
                    "diagram": path.with_extension("html").display().to_string(),
                    "replay": format!("cargo rehearsal replay {}", path.display())})
            )),
        }
        saved.push(path);
    }
    let rate = seeds_run as f64 / elapsed.max(1e-9);
    match args.format {
        Format::Text => {
            out.push_str(&format!(
                "{seeds_run} seeds, {} violation(s), {elapsed:.1} s, {rate:.0} seeds/s, {jobs} job(s){}\n",
                failures.len(),
                if shard == Shard::ALL { String::new() } else { format!(", shard {}/{}", shard.index, shard.count) }
            ));
            print!("{out}");
        }
        Format::Json => {
            json.push_str(&format!(
                "{}\n",
                serde_json::json!({"type": "summary", "seeds": seeds_run, "violations": failures.len(),
                    "seconds": elapsed, "seeds_per_second": rate, "jobs": jobs,
                    "shard": format!("{}/{}", shard.index, shard.count)})
            ));
            print!("{json}");
        }
    }
    if failures.is_empty() { 0 } else { 1 }
}

/// Reads a repro file and sets up its run.
#[cfg(madsim)]
pub(crate) fn load_repro(
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
fn replay(args: ReplayArgs) -> i32 {
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
    let (matches, mut note) = match &recorded {
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
    if !matches {
        let divergence = crate::views::divergence(&args.file, &report, || {
            sim.run_scenario(scenario, &params)
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
    if let Err(code) = print_report(&report, &params, &repro, args.format, None, &note) {
        return code;
    }
    if !matches {
        eprintln!("error: the replay diverged from the recorded run");
    }
    if matches && report.passed() { 0 } else { 1 }
}

#[cfg(madsim)]
fn shrink(args: ShrinkArgs) -> i32 {
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
