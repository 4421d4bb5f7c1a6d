//! The `rehearsal` command line over any [`Registry`]: `list`, `run`, `explore`, `replay`,
//! `shrink` and `diff`.
//!
//! A crate with scenarios of its own gets the same command for them with a one-line binary
//! (built in sim mode, `--cfg madsim`, to run anything):
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     rehearsal_sim::cli::main(rehearsal_sim::scenario::Registry::new())
//! }
//! ```
//!
//! This module owns the command tree and the dispatch; each verb lives in its own file
//! (`run`, `explore`, `replay` for `replay` and `shrink`), and `args` holds the arguments a
//! person types and how they are read.
//!
//! Exit status: 0 when every oracle held, 1 when one was violated (the output names it and
//! the command that reproduces the run), 2 on bad usage or input; an interrupted `explore`
//! with no violation exits 130. Each verb's `--help` gives its own.

mod args;
mod explore;
mod replay;
mod run;

use crate::scenario::{REFERENCE_ORACLE, Registry, Scenario};
use clap::{Parser, Subcommand, ValueEnum};

use args::{ExploreArgs, ReplayArgs, RunArgs, ShrinkArgs};
#[cfg(madsim)]
pub(crate) use replay::load_repro;
#[cfg(madsim)]
pub use run::load_plan;

/// Rehearse choreographies on a seeded, deterministic simulated network.
#[derive(Debug, Parser)]
#[command(
    name = "rehearsal",
    version,
    about,
    after_help = "Exit status: 0 every oracle held; 1 an oracle was violated (or a replay diverged); \
                  2 bad usage or input. Each verb's --help gives its own."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the scenarios, their roles, parameters (with their ranges) and oracles.
    List,
    /// Run one scenario on the simulated network from a seed.
    #[command(
        after_help = "Exit status: 0 every oracle held; 1 an oracle was violated; \
                            2 bad usage or input (refused before the run starts).\n\
                            A run that takes longer than --progress-after shows progress on stderr."
    )]
    Run(RunArgs),
    /// Search many seeds with random fault plans (or, with --exhaustive, every single fault
    /// and the paths it opens); shrink and save any failure.
    #[command(
        after_help = "Each failure's repro file is written as soon as it is found, then \
                            shrunk and rewritten (write then rename). SIGINT or SIGTERM stops the \
                            workers after their current seed and prints the summary of the seeds \
                            that ran; a second one exits at once.\n\
                            Exit status: 0 no violation; 1 a violation (its repro is saved), or \
                            a path or goal --require-coverage names that a scenario's runs never \
                            reached; 130 interrupted before any violation; 2 bad usage or input \
                            (0 seeds, an empty shard, faults that cannot fire, an unwritable --out, \
                            more exhaustive cases than --max-cases)."
    )]
    Explore(ExploreArgs),
    /// Re-run a repro file exactly and check its trace hash.
    #[command(
        after_help = "Exit status: 0 the trace hash matches the recorded one (or none is \
                            recorded) and every oracle held; 1 an oracle was violated or the run \
                            diverged from the recorded one (the `result` line and the JSON \
                            summary's `result` and `replay` fields say which); 2 bad usage or input."
    )]
    Replay(ReplayArgs),
    /// Shrink the plan of a repro file to a minimal one that still fails.
    #[command(
        after_help = "Exit status: 0 it wrote a smaller or equal failing plan; 1 the repro \
                            does not fail, so there is nothing to shrink; 2 bad usage or input \
                            (including an output file it cannot write, checked before shrinking)."
    )]
    Shrink(ShrinkArgs),
    /// Compare two runs (traces written by --trace or --format json, or repro files, which
    /// are re-run): the first differing event and both continuations.
    #[command(
        after_help = "Exit status: 0 the runs are identical; 1 they differ; 2 bad usage \
                            or input."
    )]
    Diff(crate::views::DiffArgs),
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

/// Runs the command line of the process over `registry`; returns the exit status for `main`.
pub fn main(registry: Registry) -> std::process::ExitCode {
    let code = run_args(&registry, std::env::args_os());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs the command line `args` (the program name first) over `registry`; returns the exit
/// status (0, 1, 2 or 130).
pub fn run_args<I, T>(registry: &Registry, args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::List => {
            print!("{}", list(registry));
            0
        }
        Command::Run(args) => run::run(args, registry),
        Command::Explore(args) => explore::explore(args, registry),
        Command::Replay(args) => replay::replay(args, registry),
        Command::Shrink(args) => replay::shrink(args, registry),
        Command::Diff(args) => crate::views::diff(args, registry),
    }
}

#[cfg(not(madsim))]
fn needs_sim() -> i32 {
    usage_error(
        "this binary was built without the simulator; run it as `cargo rehearsal ...`, \
         which builds with --cfg madsim",
    )
}

/// The `list` output for `registry`.
pub fn list(registry: &Registry) -> String {
    let width = registry.iter().map(|s| s.name().len()).max().unwrap_or(0) + 2;
    let mut s = String::new();
    let mut line = |head: &str, text: String| {
        s.push_str(&format!("{head:<width$}{text}\n"));
    };
    for sc in registry.iter() {
        line(sc.name(), sc.summary().to_string());
        line("", format!("roles: {}", sc.roles().join(", ")));
        for p in sc.params() {
            line("", {
                let r = sc.range(p.name);
                let why = if r.why.is_empty() {
                    String::new()
                } else {
                    format!("; at most {} because {}", r.max, r.why)
                };
                format!(
                    "param {}={} in {}..={} ({}{why})",
                    p.name, p.default, r.min, r.max, p.summary
                )
            });
        }
        line(
            "",
            format!(
                "oracle {REFERENCE_ORACLE}: every participant's outcome equals the reference run's"
            ),
        );
        for o in sc.oracles() {
            line("", format!("oracle {}: {}", o.name, o.what));
        }
    }
    s
}

fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    2
}

fn find<'r>(registry: &'r Registry, name: &str) -> Result<&'r Scenario, i32> {
    registry.find(name).map_err(usage_error)
}
