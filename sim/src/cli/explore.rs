//! `rehearsal explore`: many seeds with random fault plans, or with `--exhaustive` every
//! single fault and the paths it opens ([`crate::exhaustive`]); failures shrunk and saved.
//!
//! The verb checks its input before the first seed (a vacuous range, an empty shard, fault
//! kinds that cannot fire, an output folder it cannot write), then streams the range through
//! [`crate::explore::Explore::run_with`]. Every failure's repro file is written the moment it
//! is found (write then rename), then shrunk and rewritten; SIGINT or SIGTERM stops the
//! workers after their current seed and prints the summary of the seeds that ran (a second
//! signal exits at once). The summary ends with the coverage table: per scenario, how many
//! seeds walked each recovery path ([`crate::coverage`]). Exit status: 0 no violation, 1 a
//! violation (its repro is on disk) or a path `--require-coverage` names that some
//! scenario's seeds never walked, 130 interrupted before any violation, 2 bad usage or input.

use super::args::ExploreArgs;
#[cfg(madsim)]
use super::args::parse_kinds;
#[cfg(not(madsim))]
use super::needs_sim;
#[cfg(madsim)]
use super::{Format, find, usage_error};

/// The exit status of an exploration interrupted before it found a violation.
#[cfg(madsim)]
const INTERRUPTED: i32 = 130;

/// The scenario `--generated` explores when none is named.
#[cfg(madsim)]
const GENERATED: &str = "generated";

/// The parameter `--generated` sets to each seed: the generator's seed.
#[cfg(madsim)]
const SHAPE: &str = "shape";

/// How many failures per scenario an exploration with `--keep-going` shrinks, the first in
/// seed order (the others are saved as found).
#[cfg(madsim)]
const SHRUNK_WITH_KEEP_GOING: u64 = 10;

#[cfg(not(madsim))]
pub(super) fn explore(_: ExploreArgs, _: &crate::scenario::Registry) -> i32 {
    needs_sim()
}

/// A failure's repro file, as saved.
#[cfg(madsim)]
struct Saved {
    path: std::path::PathBuf,
    violation: String,
    faults: usize,
    /// `(faults, runs, kinds)` of the shrunk plan, if it was shrunk.
    shrunk: Option<(usize, usize, Vec<&'static str>)>,
    /// Where the shrunk case's diagram and trace were written (lines of the report).
    beside: String,
}

/// Checks the arguments against each other; the error is ready to print.
#[cfg(madsim)]
fn vacuous(
    args: &ExploreArgs,
    shard: crate::explore::Shard,
    kinds: &[crate::FaultKind],
) -> Result<(), String> {
    use crate::FaultKind;
    if args.exhaustive {
        // One seed per case; no seed range, shard or down budget to check.
        return Ok(());
    }
    if args.first_seed.checked_add(args.seeds - 1).is_none() {
        return Err(format!(
            "--first-seed {} with --seeds {}: the range passes the last seed, {}; expected at most {} seeds from there",
            args.first_seed,
            args.seeds,
            u64::MAX,
            u64::MAX - args.first_seed + 1
        ));
    }
    if shard.is_empty(args.seeds) {
        return Err(format!(
            "--shard {}/{} of {} seed(s) is empty: only shards 1 to {} get a seed; use fewer shards or more seeds",
            shard.index, shard.count, args.seeds, args.seeds
        ));
    }
    let downs = |k: &FaultKind| k.takes_down();
    if args.max_down == 0 && kinds.iter().all(downs) {
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        return Err(format!(
            "--faults {} with --max-down 0: no fault can fire ({} take a node down); allow --max-down 1 or add other kinds",
            args.faults,
            names.join(", ")
        ));
    }
    Ok(())
}

/// The coverage table: per scenario, how many seeds walked each recovery path.
#[cfg(madsim)]
fn coverage_table(summaries: &[crate::explore::ScenarioSummary], unit: &str) -> String {
    use crate::coverage::PATHS;
    let mut out = format!("coverage: {unit} that walked each recovery path\n");
    out.push_str(&format!("{:<20}", "scenario"));
    for p in &PATHS {
        out.push_str(&format!(" {:>w$}", p.name, w = p.name.len().max(4)));
    }
    out.push('\n');
    for s in summaries {
        out.push_str(&format!("{:<20}", s.scenario));
        for (p, n) in PATHS.iter().zip(&s.coverage.seeds) {
            let cell = if *n == 0 {
                "-".to_string()
            } else {
                n.to_string()
            };
            out.push_str(&format!(" {:>w$}", cell, w = p.name.len().max(4)));
        }
        out.push('\n');
    }
    for s in summaries.iter().filter(|s| !s.coverage.goals.is_empty()) {
        let goals: Vec<String> = s
            .coverage
            .goals
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
        out.push_str(&format!(
            "goals of {} (ch.sometimes), {unit} that reached each: {}\n",
            s.scenario,
            goals.join(", ")
        ));
    }
    out
}

#[cfg(madsim)]
pub(super) fn explore(args: ExploreArgs, registry: &crate::scenario::Registry) -> i32 {
    use crate::explore::{Explore, Hooks, SeedResult, Shard, found_repro, repro as make_repro};
    use crate::repro::{check_writable, write_atomically};
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Instant;

    let names: Vec<String> = if args.generated && args.scenarios.is_empty() {
        vec![GENERATED.to_string()]
    } else if args.scenarios.is_empty() {
        registry.iter().map(|s| s.name().to_string()).collect()
    } else {
        args.scenarios.clone()
    };
    let mut scenarios = Vec::new();
    for n in &names {
        match find(registry, n) {
            Ok(s) => match s.parse_params(args.params.iter().map(String::as_str)) {
                Ok(params) => scenarios.push((s.clone(), params)),
                Err(e) => return usage_error(e),
            },
            Err(code) => return code,
        }
    }
    if args.generated {
        if let Some((s, _)) = scenarios
            .iter()
            .find(|(s, _)| !s.params().iter().any(|p| p.name == SHAPE))
        {
            return usage_error(format!(
                "--generated sets parameter `{SHAPE}` to each seed, and scenario `{}` has no \
                 such parameter; expected a generated scenario (like `{GENERATED}`)",
                s.name()
            ));
        }
    }
    let kinds = match parse_kinds(&args.faults) {
        Ok(k) => k,
        Err(e) => return usage_error(e),
    };
    let required = match args
        .require_coverage
        .as_deref()
        .map(crate::coverage::parse_paths)
    {
        None => crate::coverage::Required::default(),
        Some(Ok(r)) => r,
        Some(Err(e)) => return usage_error(e),
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s.unwrap_or(Shard::ALL),
        Err(e) => return usage_error(e),
    };
    if let Err(e) = vacuous(&args, shard, &kinds) {
        return usage_error(e);
    }
    if kinds == [crate::FaultKind::Partition] {
        for (s, _) in &scenarios {
            let roles = s.roles();
            if roles.len() < 2 && !roles.iter().any(|r| r.contains('[')) {
                return usage_error(format!(
                    "--faults partition: scenario `{}` has one role, so no partition can fire",
                    s.name()
                ));
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return usage_error(format!("cannot create {}: {e}", args.out.display()));
    }
    if let Err(e) = check_writable(&args.out.join("probe.toml")) {
        return usage_error(e);
    }
    let jobs = match args.jobs {
        Some(j) if j > 0 => j,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
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
        time_limit: args.time_limit,
        vary: args.generated.then_some(SHAPE),
        store: args.store,
    };

    // SIGINT and SIGTERM set the flag; a second one (the flag already set) exits at once.
    let interrupt = std::sync::Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let registered = signal_hook::flag::register_conditional_shutdown(
            signal,
            INTERRUPTED,
            interrupt.clone(),
        )
        .and_then(|_| signal_hook::flag::register(signal, interrupt.clone()));
        if let Err(e) = registered {
            eprintln!(
                "warning: cannot catch signal {signal}: {e}; an interrupt will lose the summary"
            );
        }
    }

    // Runs to go: the seed range times the scenarios, or the cases of each batch as the
    // exhaustive exploration announces it.
    let unit = if args.exhaustive { "cases" } else { "seeds" };
    let total = AtomicU64::new(if args.exhaustive {
        0
    } else {
        shard
            .len(args.seeds)
            .saturating_mul(explore.scenarios.len() as u64)
    });
    let started = Instant::now();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let bar = indicatif::ProgressBar::new(total.load(Ordering::Relaxed));
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit}, {{per_sec}} {{msg}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let done = AtomicU64::new(0);
    let found = AtomicU64::new(0);
    let last_report = Mutex::new(Instant::now());
    let progress = |r: &SeedResult| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if !r.violations.is_empty() {
            found.fetch_add(1, Ordering::Relaxed);
        }
        match &bar {
            Some(bar) => {
                bar.inc(1);
                if !r.violations.is_empty() {
                    bar.set_message(format!("violation: {} {}", r.scenario, r.name()));
                }
            }
            None => {
                let mut last = last_report.lock().unwrap_or_else(|p| p.into_inner());
                if last.elapsed().as_secs() >= 10 {
                    *last = Instant::now();
                    let secs = started.elapsed().as_secs_f64().max(1e-9);
                    let of = total.load(Ordering::Relaxed);
                    let (seeds, scenarios) = (shard.len(args.seeds), explore.scenarios.len());
                    let what = if args.exhaustive {
                        format!("{scenarios} scenario(s); of the cases announced so far")
                    } else {
                        format!("{seeds} seed(s) x {scenarios} scenario(s)")
                    };
                    eprintln!(
                        "explored {n} of {of} {unit} ({what}), {:.0} {unit}/s, {} violation(s)",
                        n as f64 / secs,
                        found.load(Ordering::Relaxed)
                    );
                }
            }
        }
    };

    let saved = Mutex::new(BTreeMap::<(&'static str, u64), Saved>::new());
    let path_of = |f: &SeedResult| args.out.join(format!("{}.toml", f.file_stem()));
    // Found: saved at once, as found.
    let failure = |f: &SeedResult| {
        let Some((scenario, _)) = explore
            .scenarios
            .iter()
            .find(|(s, _)| s.name() == f.scenario)
        else {
            return;
        };
        let path = path_of(f);
        let first = f.violations.first().cloned().unwrap_or_default();
        let found = found_repro(scenario, &f.params, explore.time_limit, f);
        if let Err(e) = write_atomically(&path, found.to_toml().as_bytes()) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return;
        }
        eprintln!(
            "violation: {} {}: {first}\n  saved {}",
            f.scenario,
            f.name(),
            path.display()
        );
        let entry = Saved {
            path,
            violation: first,
            faults: f.plan.faults.len(),
            shrunk: None,
            beside: String::new(),
        };
        saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((f.scenario, f.id()), entry);
    };
    // Settled (in seed order): shrunk and rewritten; with --keep-going, the first few of
    // each scenario.
    let settled = |f: &SeedResult, place: u64| {
        if args.keep_going && place >= SHRUNK_WITH_KEEP_GOING || interrupt.load(Ordering::Relaxed) {
            return;
        }
        let Some((scenario, _)) = explore
            .scenarios
            .iter()
            .find(|(s, _)| s.name() == f.scenario)
        else {
            return;
        };
        let path = path_of(f);
        match explore.shrink_until(f, args.shrink_budget, &interrupt) {
            Ok(Some(shrunk)) => {
                let params = shrunk.params.as_ref().unwrap_or(&f.params);
                let r = make_repro(scenario, params, f.seed, explore.time_limit, &shrunk);
                if let Err(e) = write_atomically(&path, r.to_toml().as_bytes()) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return;
                }
                let replay = format!("{} replay {}", registry.cli_command(), path.display());
                let beside = crate::views::write_beside(&path, &shrunk, params, &replay, |r| {
                    super::run::json_lines(r, params, &replay, &serde_json::Map::new())
                });
                let kinds = shrunk
                    .plan
                    .faults
                    .iter()
                    .map(|x| x.action.kind().name())
                    .collect();
                let mut all = saved.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(entry) = all.get_mut(&(f.scenario, f.id())) {
                    if let Some(v) = shrunk.report.violations.first() {
                        entry.violation = v.clone();
                    }
                    entry.shrunk = Some((shrunk.plan.faults.len(), shrunk.runs, kinds));
                    entry.beside = beside;
                }
            }
            Ok(None) => eprintln!(
                "note: {} {} did not fail again when shrinking; {} keeps the plan as found",
                f.scenario,
                f.name(),
                path.display()
            ),
            Err(e) => eprintln!("error while shrinking {} {}: {e}", f.scenario, f.name()),
        }
    };

    let hooks = Hooks {
        progress: &progress,
        failure: &failure,
        settled: &settled,
        interrupt: &interrupt,
    };
    // Per scenario, its (single, two-fault) cases in an exhaustive exploration.
    let mut cases: Vec<(u64, u64)> = Vec::new();
    let ran = if args.exhaustive {
        let ex = crate::exhaustive::Exhaustive {
            depth: args.depth,
            max_cases: args.max_cases,
        };
        let level = |name: &str, n: u64| {
            let all = total.fetch_add(n, Ordering::Relaxed) + n;
            match &bar {
                Some(bar) => bar.set_length(all),
                None => eprintln!("exhaustive: {n} case(s) of {name}"),
            }
        };
        explore.run_exhaustive(&ex, &hooks, &level).map(|all| {
            cases = all.iter().map(|e| (e.single, e.pairs)).collect();
            all.into_iter().map(|e| e.summary).collect()
        })
    } else {
        explore.run_with(&hooks)
    };
    let summaries = match ran {
        Ok(s) => s,
        Err(e @ crate::SimError::TooManyCases { .. }) => return usage_error(e.to_string()),
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let interrupted = interrupt.load(Ordering::Relaxed);
    let saved = saved.into_inner().unwrap_or_else(|p| p.into_inner());
    let elapsed = started.elapsed().as_secs_f64();
    let seeds_run: u64 = summaries.iter().map(|s| s.seeds).sum();
    let violations: u64 = summaries.iter().map(|s| s.violations).sum();
    let mut out = String::new();
    if args.format == Format::Text {
        out.push_str(&format!(
            "{:<20} {:>7} {:>10}  {:<56} {:>14}\n",
            "scenario", unit, "violations", "faults fired", "simulated"
        ));
    }
    for (i, s) in summaries.iter().enumerate() {
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
            Format::Json => {
                let coverage: serde_json::Map<String, serde_json::Value> = crate::coverage::PATHS
                    .iter()
                    .zip(&s.coverage.seeds)
                    .map(|(p, n)| (p.name.to_string(), (*n).into()))
                    .collect();
                out.push_str(&format!(
                    "{}\n",
                    serde_json::json!({"type": "scenario", "scenario": s.scenario, unit: s.seeds,
                        "violations": s.violations, "faults_fired": s.fired,
                        "simulated_s": s.sim_time_us as f64 / 1e6, "coverage": coverage,
                        "goals": s.coverage.goals,
                        "exhaustive": cases.get(i).map(|(single, pairs)|
                            serde_json::json!({"single_faults": single, "pairs": pairs}))})
                ))
            }
        }
    }
    if args.format == Format::Text {
        for (s, (single, pairs)) in summaries.iter().zip(&cases) {
            out.push_str(&format!(
                "exhaustive: {} has {single} single-fault case(s) and {pairs} two-fault case(s)\n",
                s.scenario
            ));
        }
        out.push_str(&coverage_table(&summaries, unit));
    }
    // Required recovery paths that some scenario's seeds never walked.
    let mut uncovered = Vec::new();
    for (s, (scenario, _)) in summaries.iter().zip(&explore.scenarios) {
        if s.seeds == 0 {
            continue;
        }
        for (name, what) in required.unmet(scenario.expected(), &s.coverage) {
            uncovered.push(format!(
                "{}: no {} walked `{name}` ({what})",
                s.scenario,
                unit.trim_end_matches('s'),
            ));
        }
    }
    for u in &uncovered {
        match args.format {
            Format::Text => out.push_str(&format!("coverage not reached: {u}\n")),
            Format::Json => out.push_str(&format!(
                "{}\n",
                serde_json::json!({"type": "coverage-not-reached", "detail": u})
            )),
        }
    }
    // The saved repros of the failures the summary counts, in seed order (a failure found
    // above the first one, before the explorer knew, is saved too but not listed).
    for s in &summaries {
        for f in &s.failures {
            let Some(entry) = saved.get(&(f.scenario, f.id())) else {
                continue;
            };
            let how = match &entry.shrunk {
                Some((faults, runs, _)) => format!(
                    "plan shrunk from {} to {faults} fault(s) in {runs} runs",
                    entry.faults
                ),
                None => format!("plan not shrunk: {} fault(s)", entry.faults),
            };
            let kinds = entry
                .shrunk
                .as_ref()
                .map(|(_, _, k)| k.join(", "))
                .unwrap_or_else(|| {
                    f.plan
                        .faults
                        .iter()
                        .map(|x| x.action.kind().name())
                        .collect::<Vec<_>>()
                        .join(", ")
                });
            match args.format {
                Format::Text => out.push_str(&format!(
                    "violation: {} {}: {} ({how})\n  {kinds}\n  replay: {} replay {}\n{}",
                    f.scenario,
                    f.name(),
                    entry.violation,
                    registry.cli_command(),
                    entry.path.display(),
                    entry.beside
                )),
                Format::Json => out.push_str(&format!(
                    "{}\n",
                    serde_json::json!({"type": "violation", "scenario": f.scenario, "seed": f.seed, "case": f.case,
                        "violations": f.violations, "faults": entry.faults,
                        "shrunk_faults": entry.shrunk.as_ref().map(|s| s.0),
                        "repro": entry.path.display().to_string(),
                        "diagram": (!entry.beside.is_empty())
                            .then(|| entry.path.with_extension("html").display().to_string()),
                        "replay": format!("{} replay {}", registry.cli_command(), entry.path.display())})
                )),
            }
        }
    }
    let rate = seeds_run as f64 / elapsed.max(1e-9);
    let shard_note = if shard == Shard::ALL {
        String::new()
    } else {
        format!(", shard {}/{}", shard.index, shard.count)
    };
    match args.format {
        Format::Text => {
            if interrupted {
                out.push_str(&format!(
                    "interrupted: the summary covers the {unit} that ran\n"
                ));
            }
            let at_seed = if args.exhaustive {
                format!(", every case at seed {}", args.first_seed)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{seeds_run} {unit}, {violations} violation(s), {elapsed:.1} s, {rate:.0} {unit}/s, {jobs} job(s){shard_note}{at_seed}\n",
            ));
        }
        Format::Json => out.push_str(&format!(
            "{}\n",
            serde_json::json!({"type": "summary", unit: seeds_run, "violations": violations,
                "interrupted": interrupted, "seconds": elapsed, format!("{unit}_per_second"): rate,
                "jobs": jobs, "shard": format!("{}/{}", shard.index, shard.count)})
        )),
    }
    print!("{out}");
    if violations > 0 || !uncovered.is_empty() {
        1
    } else if interrupted {
        INTERRUPTED
    } else {
        0
    }
}
