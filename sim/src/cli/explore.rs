//! `rehearsal explore`: many seeds with random fault plans; failures shrunk and saved.

use super::args::ExploreArgs;
#[cfg(madsim)]
use super::args::parse_kinds;
#[cfg(not(madsim))]
use super::needs_sim;
#[cfg(madsim)]
use super::{Format, find, usage_error};
#[cfg(madsim)]
use rehearsal_scenarios::registry;

#[cfg(not(madsim))]
pub(super) fn explore(_: ExploreArgs) -> i32 {
    needs_sim()
}

#[cfg(madsim)]
pub(super) fn explore(args: ExploreArgs) -> i32 {
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
        let line = format!(
            "violation: {} seed {}: {} (plan shrunk from {} to {} fault(s) in {} runs)\n  {}\n  replay: cargo rehearsal replay {}\n",
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
