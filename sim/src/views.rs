//! The command line's ways of looking at runs besides their text: the `diff` verb, the diff
//! a diverged `replay` prints, and the diagram and trace the explorer writes beside each
//! repro file.
//!
//! A side of a diff is a trace file (JSON lines, as `run --trace FILE` or `--format json`
//! write them) or a repro file, which is re-run (sim mode only). The comparison itself is
//! [`crate::diff`]'s; the pages are [`crate::diagram`]'s.

use std::path::{Path, PathBuf};

use crate::diff::{Side, first_difference, render};
use crate::shrink::Shrunk;
use crate::trace_file::{TraceFile, looks_like_json_lines};

/// Width of each column of the side-by-side continuations.
const COLUMN: usize = 64;

/// `rehearsal diff A B`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The first run: a trace (JSON lines) or a repro file (re-run).
    a: PathBuf,
    /// The second run.
    b: PathBuf,
    /// How many events of each continuation to show.
    #[arg(long, default_value_t = 12)]
    context: usize,
}

fn error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    2
}

/// The label of a trace read from a file.
fn trace_label(path: &Path, t: &TraceFile) -> String {
    match (&t.scenario, t.seed) {
        (Some(s), Some(seed)) => format!("{}: {s} seed {seed}", path.display()),
        _ => path.display().to_string(),
    }
}

/// Reads one side: a trace file as it is, a repro file by running it.
fn side(path: &Path, registry: &crate::scenario::Registry) -> Result<Side, i32> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(format!("cannot read {}: {e}", path.display())))?;
    if looks_like_json_lines(&text) {
        let t = TraceFile::parse(&text, &path.display().to_string()).map_err(error)?;
        return Ok(Side {
            label: trace_label(path, &t),
            trace: t.trace,
        });
    }
    rerun(path, registry)
}

#[cfg(madsim)]
fn rerun(path: &Path, registry: &crate::scenario::Registry) -> Result<Side, i32> {
    let (scenario, params, sim, _) = crate::cli::load_repro(path, registry)?;
    let report = sim.run_scenario(&scenario, &params).map_err(|e| {
        eprintln!("error: {}: {e}", path.display());
        1
    })?;
    Ok(Side {
        label: format!(
            "{} (re-run): {} seed {}",
            path.display(),
            scenario.name(),
            sim.seed()
        ),
        trace: report.trace,
    })
}

#[cfg(not(madsim))]
fn rerun(path: &Path, _: &crate::scenario::Registry) -> Result<Side, i32> {
    Err(error(format!(
        "{} is not a trace (JSON lines); re-running it as a repro file needs the simulator: \
         run `cargo rehearsal diff ...`, which builds with --cfg madsim",
        path.display()
    )))
}

/// Runs `rehearsal diff`: exit status 0 when the runs are identical, 1 when they differ,
/// 2 on bad input.
pub fn diff(args: DiffArgs, registry: &crate::scenario::Registry) -> i32 {
    if args.context == 0 {
        return error("--context must be at least 1 event");
    }
    let a = match side(&args.a, registry) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let b = match side(&args.b, registry) {
        Ok(s) => s,
        Err(code) => return code,
    };
    print!("{}", render(&a, &b, args.context, COLUMN));
    match first_difference(&a.trace, &b.trace) {
        None => 0,
        Some(_) => 1,
    }
}

/// Where the explorer keeps a repro's trace: beside it, as `NAME.jsonl`.
pub fn recorded_trace_path(repro: &Path) -> PathBuf {
    repro.with_extension("jsonl")
}

/// What a diverged replay prints: the diff against the recorded trace beside the repro
/// file when there is one; else the diff against a second run of this build when the two
/// differ (the build is nondeterministic); else why there is nothing to compare.
pub fn divergence(
    repro: &Path,
    report: &crate::Report,
    again: impl FnOnce() -> Result<crate::Report, String>,
) -> String {
    let this = Side {
        label: format!("this replay of {}", repro.display()),
        trace: report.trace.clone(),
    };
    let recorded = recorded_trace_path(repro);
    if recorded.exists() {
        return match TraceFile::read(&recorded) {
            Ok(t) => {
                let before = Side {
                    label: format!("recorded {}", trace_label(&recorded, &t)),
                    trace: t.trace,
                };
                indent(&render(&before, &this, 12, COLUMN))
            }
            Err(e) => format!("replay    cannot compare with the recorded trace: {e}\n"),
        };
    }
    match again() {
        Ok(second) if second.trace_hash != report.trace_hash => {
            let other = Side {
                label: "a second run of this build (the build is nondeterministic)".into(),
                trace: second.trace,
            };
            indent(&render(&this, &other, 12, COLUMN))
        }
        Ok(_) => format!(
            "replay    no recorded trace at {} to compare with (explore writes one beside each \
             repro); a second run gives this run's trace again, so the recorded run came from \
             other code (see the file's `commit`)\n",
            recorded.display()
        ),
        Err(e) => format!("replay    a second run to compare with failed: {e}\n"),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Writes the shrunk failure's diagram (`NAME.html`) and trace (`NAME.jsonl`, JSON lines
/// from `json`) beside its repro file; returns the lines to add to the failure report.
pub fn write_beside(
    repro: &Path,
    shrunk: &Shrunk,
    params: &crate::scenario::Params,
    replay: &str,
    json: impl FnOnce(&crate::Report) -> String,
) -> String {
    let html = repro.with_extension("html");
    let page = crate::diagram::Page::of_report(
        &shrunk.report,
        &params.to_string(),
        &shrunk.plan.to_toml(),
        replay,
    );
    let mut lines = String::new();
    match page.write(&html) {
        Ok(()) => lines.push_str(&format!("  diagram: {}\n", html.display())),
        Err(e) => lines.push_str(&format!("  {e}\n")),
    }
    let trace = recorded_trace_path(repro);
    if let Err(e) = std::fs::write(&trace, json(&shrunk.report)) {
        lines.push_str(&format!("  cannot write {}: {e}\n", trace.display()));
    }
    lines
}
