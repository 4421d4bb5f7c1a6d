//! `cargo xtask bench-check`: the wall-clock regression check of Chorex's benchmark ratios.
//!
//! The chorex bench (`cargo bench -p rehearsal-benches --bench chorex`) writes
//! `target/bench-report.json`: for each benchmark, each checkpointed variant's median over the
//! baseline's (`chk`, `chk+crash`). This module reads that report and the committed baseline
//! `benches/ratio-baseline.json` (both parsed into [`RatioFile`]), compares every ratio with its
//! baseline ([`compare`]: a ratio fails above `baseline * (1 + tolerance)`), prints the table and
//! turns failures into a [`Failure::Step`]; `--update` instead rewrites the baseline from the
//! report ([`baseline_json`]). Ratios rather than times are checked because they hold across
//! machines better than absolute times do; timings are still noisy, so this is not part of
//! `cargo xtask test`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::{Failure, bench_report_path, format_duration, run_chorex_bench, workspace_root};

/// The default tolerance, as a fraction: a ratio fails when it exceeds its baseline by more
/// than 25%. Run-to-run noise on the 2-core project machine, with other builds running on it:
/// over four full runs of the bench (two of them on identical code), the largest and smallest
/// value of a ratio differed by up to 16% (nest-10k `chk+crash` and flat-10k, each timed in 3
/// or 4 repetitions of a second or more); the cheap benchmarks, timed in about 300
/// repetitions, moved by under 5%. 25% clears the worst spread with a margin, so a noisy run
/// does not fail, while a slowdown of a quarter or more is caught.
pub const DEFAULT_TOLERANCE: f64 = 0.25;

/// The committed baseline, relative to the workspace root.
pub const BASELINE_FILE: &str = "benches/ratio-baseline.json";

/// What a ratio file must look like, for error messages.
const EXPECTED_SHAPE: &str = "a JSON object like {\"machine\": \"...\", \"benchmarks\": \
                              [{\"name\": \"nest-10k\", \"ratios\": {\"chk\": 1.5, \
                              \"chk+crash\": 1.1}}, ...]}";

/// The ratios of the suite that are checked: each checkpointed variant over the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RatioKind {
    /// Checkpoints, nothing crashes.
    Chk,
    /// Checkpoints and Chorex's crashes, each rescued.
    ChkCrash,
}

impl RatioKind {
    /// Every kind, in the order of the report's columns.
    pub const ALL: [RatioKind; 2] = [RatioKind::Chk, RatioKind::ChkCrash];

    /// Its key in the `ratios` object of a ratio file, and its name in the table.
    pub fn key(self) -> &'static str {
        match self {
            RatioKind::Chk => "chk",
            RatioKind::ChkCrash => "chk+crash",
        }
    }
}

/// The ratios of one benchmark, measured (in a report) or expected (in the baseline).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct BenchRatios {
    /// The benchmark's name in the table, e.g. `nest-10k`.
    pub name: String,
    /// Alternating repetitions behind the medians, if the file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reps: Option<u64>,
    /// The baseline variant's median in seconds, if the file says (shown, never checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_seconds: Option<f64>,
    /// The checked ratios.
    pub ratios: Ratios,
}

/// The `ratios` object of a benchmark: each checkpointed variant's median over the baseline's.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
pub struct Ratios {
    /// [`RatioKind::Chk`].
    pub chk: f64,
    /// [`RatioKind::ChkCrash`].
    #[serde(rename = "chk+crash")]
    pub chk_crash: f64,
}

impl Ratios {
    /// The ratio of `kind`.
    pub fn of(self, kind: RatioKind) -> f64 {
        match kind {
            RatioKind::Chk => self.chk,
            RatioKind::ChkCrash => self.chk_crash,
        }
    }
}

/// A report of the chorex bench or the baseline: both have this shape (the report has more
/// members, which are ignored).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RatioFile {
    /// The machine the figures were measured on, if the file says.
    pub machine: Option<String>,
    /// Written by the bench in test mode (one run, 10 laps): not a measurement.
    #[serde(default)]
    pub test_mode: bool,
    /// The benchmarks, in the file's order.
    pub benchmarks: Vec<BenchRatios>,
}

impl RatioFile {
    /// What the types do not say: names are non-empty and unique, ratios are positive.
    fn check(&self) -> Result<(), String> {
        for (i, bench) in self.benchmarks.iter().enumerate() {
            let name = &bench.name;
            if name.is_empty() {
                return Err(format!("benchmarks[{i}]: `name` is empty"));
            }
            if self.benchmarks[..i].iter().any(|b| b.name == *name) {
                return Err(format!(
                    "benchmarks[{i}]: the benchmark `{name}` appears twice"
                ));
            }
            for kind in RatioKind::ALL {
                // JSON has no NaN or infinity, so this is every ratio that is not positive.
                let x = bench.ratios.of(kind);
                if x <= 0.0 {
                    return Err(format!(
                        "benchmarks[{i}] (`{name}`): `ratios.{}` is {x}, not a positive number",
                        kind.key()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The baseline file as `--update` writes it, members in this order.
#[derive(Serialize)]
struct BaselineFile<'a> {
    /// What the file is and how to rewrite it.
    about: &'a str,
    /// [`RatioFile::machine`].
    #[serde(skip_serializing_if = "Option::is_none")]
    machine: Option<&'a str>,
    /// The benchmarks, figures rounded.
    benchmarks: Vec<BenchRatios>,
}

/// Reads and parses the ratio file `path`; every error names it.
pub fn read_ratio_file(path: &Path) -> Result<RatioFile, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Failure::Step(format!("cannot read {}: {error}", path.display())))?;
    parse_ratio_file(&text, path)
}

/// Parses `text`, the contents of ratio file `path` (named in every error, with the line and
/// column serde_json reports and the shape that was expected).
pub fn parse_ratio_file(text: &str, path: &Path) -> Result<RatioFile, Failure> {
    let bad = |what: String| {
        Failure::Step(format!(
            "{} is not a valid ratio file: {what}\n       expected {EXPECTED_SHAPE}",
            path.display()
        ))
    };
    let file: RatioFile = serde_json::from_str(text).map_err(|error| bad(error.to_string()))?;
    file.check().map_err(bad)?;
    Ok(file)
}

/// How one measured ratio compares with its baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// At most the limit and not far below the baseline.
    Ok,
    /// Below `baseline / (1 + tolerance)`: faster by more than the noise; a hint to update the
    /// baseline, never a failure.
    Improved,
    /// Above the limit `baseline * (1 + tolerance)`.
    Failed,
}

/// One line of the table: a ratio of a benchmark in the baseline and in the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// The benchmark.
    pub benchmark: String,
    /// Which ratio.
    pub kind: RatioKind,
    /// The baseline's ratio.
    pub baseline: f64,
    /// The report's ratio.
    pub measured: f64,
    /// `baseline * (1 + tolerance)`: above this, the ratio fails.
    pub limit: f64,
    /// The outcome.
    pub verdict: Verdict,
}

/// The outcome of comparing a report with the baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Every ratio of every benchmark on both sides, in the report's order.
    pub checked: Vec<Checked>,
    /// Benchmarks of the baseline that the report lacks.
    pub missing_from_report: Vec<String>,
    /// Benchmarks of the report that the baseline lacks.
    pub missing_from_baseline: Vec<String>,
}

impl Comparison {
    /// The ratios with `verdict`.
    pub fn with(&self, verdict: Verdict) -> Vec<&Checked> {
        self.checked
            .iter()
            .filter(|c| c.verdict == verdict)
            .collect()
    }

    /// Whether the check passes: no ratio failed and no benchmark is missing from either side.
    pub fn passed(&self) -> bool {
        self.with(Verdict::Failed).is_empty()
            && self.missing_from_report.is_empty()
            && self.missing_from_baseline.is_empty()
    }
}

/// Compares every ratio of `measured` with `baseline`'s: it fails when
/// `measured > baseline * (1 + tolerance)`, and counts as improved when
/// `measured < baseline / (1 + tolerance)` (the same factor of noise the other way).
pub fn compare(baseline: &RatioFile, measured: &RatioFile, tolerance: f64) -> Comparison {
    let mut comparison = Comparison {
        checked: Vec::new(),
        missing_from_report: Vec::new(),
        missing_from_baseline: Vec::new(),
    };
    for bench in &measured.benchmarks {
        let Some(expected) = baseline.benchmarks.iter().find(|b| b.name == bench.name) else {
            comparison.missing_from_baseline.push(bench.name.clone());
            continue;
        };
        for kind in RatioKind::ALL {
            let (base, got) = (expected.ratios.of(kind), bench.ratios.of(kind));
            let limit = base * (1.0 + tolerance);
            let verdict = if got > limit {
                Verdict::Failed
            } else if got < base / (1.0 + tolerance) {
                Verdict::Improved
            } else {
                Verdict::Ok
            };
            comparison.checked.push(Checked {
                benchmark: bench.name.clone(),
                kind,
                baseline: base,
                measured: got,
                limit,
                verdict,
            });
        }
    }
    for bench in &baseline.benchmarks {
        if !measured.benchmarks.iter().any(|b| b.name == bench.name) {
            comparison.missing_from_report.push(bench.name.clone());
        }
    }
    comparison
}

/// The table of `comparison`: benchmark, ratio, baseline, measured, change, limit, verdict.
pub fn table(comparison: &Comparison) -> String {
    let header = [
        "benchmark",
        "ratio",
        "baseline",
        "measured",
        "change",
        "limit",
        "verdict",
    ];
    let rows: Vec<[String; 7]> = comparison
        .checked
        .iter()
        .map(|c| {
            let verdict = match c.verdict {
                Verdict::Ok => "ok",
                Verdict::Improved => "improved (update the baseline?)",
                Verdict::Failed => "FAILED",
            };
            [
                c.benchmark.clone(),
                c.kind.key().to_string(),
                format!("{:.2}x", c.baseline),
                format!("{:.2}x", c.measured),
                format!("{:+.1}%", (c.measured / c.baseline - 1.0) * 100.0),
                format!("{:.2}x", c.limit),
                verdict.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = header.map(String::from);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            // Names and words to the left, figures to the right.
            if matches!(i, 0 | 1 | 6) {
                let _ = write!(line, "{cell:<width$}  ");
            } else {
                let _ = write!(line, "{cell:>width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The baseline file for `report`: pretty JSON, members in a fixed order, benchmarks in the
/// report's (the suite's) order, figures rounded to four significant digits so that an update
/// changes only the lines whose figures moved.
pub fn baseline_json(report: &RatioFile) -> String {
    let rounded = |ratios: Ratios| Ratios {
        chk: significant(ratios.chk),
        chk_crash: significant(ratios.chk_crash),
    };
    let file = BaselineFile {
        about: "Chorex benchmark ratios (median of a variant / median of the baseline) checked \
                by `cargo xtask bench-check`; rewrite with `cargo xtask bench-check --update`",
        machine: report.machine.as_deref(),
        benchmarks: report
            .benchmarks
            .iter()
            .map(|bench| BenchRatios {
                name: bench.name.clone(),
                reps: bench.reps,
                baseline_seconds: bench.baseline_seconds.map(significant),
                ratios: rounded(bench.ratios),
            })
            .collect(),
    };
    // Strings, integers and floats (non-finite ones become `null`): serializing cannot fail.
    serde_json::to_string_pretty(&file).expect("a baseline always serializes") + "\n"
}

/// `x` rounded to four significant digits (`0.0000675`, `34.24`, `1.0` once serialized).
fn significant(x: f64) -> f64 {
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// Options of `cargo xtask bench-check`.
#[derive(Debug, PartialEq)]
pub struct CheckOptions {
    /// The tolerance as a fraction (`--tolerance 25` is 0.25).
    pub tolerance: f64,
    /// Rewrite the baseline from the report instead of checking.
    pub update: bool,
    /// An existing JSON report to read instead of running the bench.
    pub report: Option<PathBuf>,
    /// The baseline file, if not [`BASELINE_FILE`].
    pub baseline: Option<PathBuf>,
}

impl CheckOptions {
    /// Parses the arguments after `bench-check`.
    pub fn parse(args: &[String]) -> Result<CheckOptions, Failure> {
        let mut options = CheckOptions {
            tolerance: DEFAULT_TOLERANCE,
            update: false,
            report: None,
            baseline: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |what: &str| {
                args.next().cloned().ok_or_else(|| {
                    Failure::Usage(format!(
                        "`{arg}` for `cargo xtask bench-check` needs {what}"
                    ))
                })
            };
            match arg.as_str() {
                "--update" => options.update = true,
                "--tolerance" => {
                    let given = value("a percentage, e.g. `25`")?;
                    options.tolerance = parse_percent(&given).ok_or_else(|| {
                        Failure::Usage(format!(
                            "`--tolerance {given}`: expected a percentage of at least 0, \
                             e.g. `25` or `25%`"
                        ))
                    })?;
                }
                "--report" => options.report = Some(value("a JSON report file")?.into()),
                "--baseline" => options.baseline = Some(value("a baseline file")?.into()),
                other => {
                    return Err(Failure::Usage(format!(
                        "unknown option `{other}` for `cargo xtask bench-check`"
                    )));
                }
            }
        }
        Ok(options)
    }
}

/// `25`, `25%` or `7.5` as a fraction (0.25, 0.075); `None` unless a finite number >= 0.
fn parse_percent(given: &str) -> Option<f64> {
    let number: f64 = given
        .strip_suffix('%')
        .unwrap_or(given)
        .trim()
        .parse()
        .ok()?;
    (number.is_finite() && number >= 0.0).then_some(number / 100.0)
}

/// `path` relative to `root` when it lies inside it, for shorter messages.
fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `cargo xtask bench-check [--tolerance PCT] [--update] [--report FILE] [--baseline FILE]`.
///
/// Runs the chorex bench (as `bench-report` does, ~7 minutes on the project machine) unless
/// `--report` names a JSON report to read instead, then compares its ratios with the baseline
/// (`benches/ratio-baseline.json` unless `--baseline`): fails (exit status 1) when a ratio
/// exceeds its baseline by more than the tolerance (default [`DEFAULT_TOLERANCE`]) or a
/// benchmark is on one side only. A ratio that improved by more than the tolerance is a hint
/// to update the baseline. With `--update`, rewrites the baseline from the report instead
/// (after showing the comparison with the old one, if it can be read).
pub fn bench_check(args: &[String]) -> Result<(), Failure> {
    let options = CheckOptions::parse(args)?;
    let root = workspace_root();
    let baseline_path = options
        .baseline
        .clone()
        .unwrap_or_else(|| root.join(BASELINE_FILE));
    // Check the baseline before a seven-minute bench run, not after.
    let baseline = if options.update {
        read_ratio_file(&baseline_path).ok()
    } else {
        Some(read_ratio_file(&baseline_path)?)
    };

    let started = Instant::now();
    let report_path = match &options.report {
        Some(path) => {
            if !path.is_file() {
                return Err(Failure::Step(format!(
                    "the report {} does not exist; run `cargo xtask bench-check` without \
                     `--report` to run the bench and write one",
                    path.display()
                )));
            }
            path.clone()
        }
        None => {
            let report = bench_report_path(&root, std::env::var_os("CARGO_TARGET_DIR"))
                .with_extension("json");
            run_chorex_bench(&root)?;
            report
        }
    };
    let report = read_ratio_file(&report_path)?;
    if report.test_mode {
        return Err(Failure::Step(format!(
            "{} was written in test mode (one run each, loops with 10 laps): not a \
             measurement; run `cargo bench -p rehearsal-benches --bench chorex` or \
             `cargo xtask bench-check` without `--report`",
            report_path.display()
        )));
    }

    let machine = |file: Option<&RatioFile>| match file {
        Some(RatioFile {
            machine: Some(machine),
            ..
        }) => machine.clone(),
        Some(_) => "machine unknown".into(),
        None => "none yet".into(),
    };
    println!(
        "\n==> bench-check ({}): report {} ({}), baseline {} ({}), tolerance {}%\n",
        format_duration(started.elapsed()),
        shown(&report_path, &root),
        machine(Some(&report)),
        shown(&baseline_path, &root),
        machine(baseline.as_ref()),
        options.tolerance * 100.0
    );
    if baseline.is_some() && report.machine != baseline.as_ref().and_then(|b| b.machine.clone()) {
        println!(
            "note: the report and the baseline come from different machines; ratios travel \
             better than times, but not perfectly\n"
        );
    }

    if options.update {
        if let Some(old) = &baseline {
            println!("Against the old baseline (for information):\n");
            print!("{}", table(&compare(old, &report, options.tolerance)));
        }
        std::fs::write(&baseline_path, baseline_json(&report)).map_err(|error| {
            Failure::Step(format!("writing {}: {error}", baseline_path.display()))
        })?;
        println!(
            "\n==> wrote {} from {} ({} benchmarks); commit it with the change that moved the \
             ratios",
            shown(&baseline_path, &root),
            shown(&report_path, &root),
            report.benchmarks.len()
        );
        return Ok(());
    }

    let baseline = baseline.expect("read above unless updating");
    let comparison = compare(&baseline, &report, options.tolerance);
    print!("{}", table(&comparison));
    verdict(
        &comparison,
        &shown(&baseline_path, &root),
        &shown(&report_path, &root),
        options.tolerance,
    )
}

/// Prints the summary of `comparison` and turns failures and missing benchmarks into a
/// [`Failure::Step`] naming each of them.
fn verdict(
    comparison: &Comparison,
    baseline: &str,
    report: &str,
    tolerance: f64,
) -> Result<(), Failure> {
    let percent = tolerance * 100.0;
    let improved = comparison.with(Verdict::Improved);
    if !improved.is_empty() {
        let names: Vec<String> = improved
            .iter()
            .map(|c| format!("{} {}", c.benchmark, c.kind.key()))
            .collect();
        println!(
            "\nhint: {} improved by more than {percent}%: {}; if that holds, lower the \
             baseline with `cargo xtask bench-check --update` and commit {baseline}",
            plural(improved.len(), "ratio"),
            names.join(", ")
        );
    }
    if comparison.passed() {
        println!(
            "\n==> bench-check passed: {} within {percent}% of {baseline}",
            plural(comparison.checked.len(), "ratio")
        );
        return Ok(());
    }
    let mut problems = Vec::new();
    for c in comparison.with(Verdict::Failed) {
        problems.push(format!(
            "{} {}: {:.2}x is above the limit {:.2}x (baseline {:.2}x + {percent}%)",
            c.benchmark,
            c.kind.key(),
            c.measured,
            c.limit,
            c.baseline
        ));
    }
    for name in &comparison.missing_from_report {
        problems.push(format!(
            "benchmark `{name}` is in the baseline {baseline} but not in the report {report}"
        ));
    }
    for name in &comparison.missing_from_baseline {
        problems.push(format!(
            "benchmark `{name}` is in the report {report} but not in the baseline {baseline} \
             (a new benchmark? add it with `cargo xtask bench-check --update`)"
        ));
    }
    println!("\n==> bench-check FAILED");
    Err(Failure::Step(format!(
        "bench-check: {}:\n       {}\n       If the change is intended, rewrite the baseline \
         with `cargo xtask bench-check --update` and commit it.",
        plural(problems.len(), "problem"),
        problems.join("\n       ")
    )))
}

/// `1 ratio`, `3 ratios`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(name: &str, chk: f64, crash: f64) -> BenchRatios {
        BenchRatios {
            name: name.into(),
            reps: Some(3),
            baseline_seconds: Some(1.25),
            ratios: Ratios {
                chk,
                chk_crash: crash,
            },
        }
    }

    fn file(benchmarks: Vec<BenchRatios>) -> RatioFile {
        RatioFile {
            machine: Some("2 cores, linux x86_64".into()),
            test_mode: false,
            benchmarks,
        }
    }

    fn message(failure: Failure) -> String {
        match failure {
            Failure::Step(message) | Failure::Usage(message) => message,
        }
    }

    /// A file with `contents` in a fresh temporary directory, named `name`.
    fn temp_file(test: &str, name: &str, contents: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-bench-check-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn ratios_within_the_tolerance_pass() {
        let baseline = file(vec![
            bench("nest-10k", 34.0, 1.08),
            bench("flat-10k", 1.02, 1.01),
        ]);
        // +20% and exactly at the limit (+25%) both pass; -10% is noise, not an improvement.
        let measured = file(vec![
            bench("nest-10k", 40.8, 1.35),
            bench("flat-10k", 0.92, 1.01),
        ]);
        let comparison = compare(&baseline, &measured, 0.25);
        assert!(comparison.passed(), "{comparison:#?}");
        assert_eq!(comparison.checked.len(), 4);
        assert!(comparison.checked.iter().all(|c| c.verdict == Verdict::Ok));
        assert_eq!(comparison.checked[1].limit, 1.08 * 1.25);
        assert!(verdict(&comparison, "base.json", "report.json", 0.25).is_ok());
    }

    #[test]
    fn a_ratio_above_the_tolerance_fails_and_names_itself() {
        let baseline = file(vec![bench("state machine", 1.54, 1.96)]);
        let measured = file(vec![bench("state machine", 1.54, 2.46)]);
        let comparison = compare(&baseline, &measured, 0.25);
        assert!(!comparison.passed());
        let failed = comparison.with(Verdict::Failed);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].kind, RatioKind::ChkCrash);
        let table = table(&comparison);
        assert!(table.contains("FAILED"), "{table}");
        assert!(table.contains("+25.5%"), "{table}");
        let error = message(verdict(&comparison, "base.json", "report.json", 0.25).unwrap_err());
        assert!(error.contains("state machine chk+crash: 2.46x"), "{error}");
        assert!(error.contains("--update"), "{error}");
        // A tighter tolerance catches a smaller slowdown.
        let slower = file(vec![bench("state machine", 1.70, 1.96)]);
        assert!(compare(&baseline, &slower, 0.25).passed());
        assert!(!compare(&baseline, &slower, 0.05).passed());
    }

    #[test]
    fn improvements_are_a_hint_not_a_failure() {
        let baseline = file(vec![bench("nest-10k", 34.0, 1.08)]);
        let measured = file(vec![bench("nest-10k", 3.4, 1.08)]);
        let comparison = compare(&baseline, &measured, 0.25);
        assert!(comparison.passed());
        assert_eq!(comparison.with(Verdict::Improved).len(), 1);
        assert!(table(&comparison).contains("improved"));
    }

    #[test]
    fn a_benchmark_missing_from_either_side_is_an_error_naming_it() {
        let baseline = file(vec![
            bench("nest-1k", 2.25, 1.07),
            bench("nest-10k", 34.0, 1.08),
        ]);
        let measured = file(vec![
            bench("nest-10k", 34.0, 1.08),
            bench("nest-100k", 9.0, 1.0),
        ]);
        let comparison = compare(&baseline, &measured, 0.25);
        assert!(!comparison.passed());
        assert_eq!(comparison.missing_from_report, ["nest-1k"]);
        assert_eq!(comparison.missing_from_baseline, ["nest-100k"]);
        let error = message(verdict(&comparison, "base.json", "report.json", 0.25).unwrap_err());
        assert!(
            error.contains("`nest-1k` is in the baseline base.json but not in the report"),
            "{error}"
        );
        assert!(
            error.contains("`nest-100k` is in the report report.json but not in the baseline"),
            "{error}"
        );
    }

    #[test]
    fn a_malformed_file_is_an_error_naming_it_and_the_expected_shape() {
        let path = Path::new("benches/ratio-baseline.json");
        let error = |text: &str| message(parse_ratio_file(text, path).unwrap_err());
        let broken = error("{\"benchmarks\": [\n  {\"name\": \"nest-1k\" \"ratios\": {}}\n]}");
        assert!(
            broken.starts_with(
                "benches/ratio-baseline.json is not a valid ratio file: expected `,` or `}` at \
                 line 2 column 22"
            ),
            "{broken}"
        );
        assert!(broken.contains("expected a JSON object like"), "{broken}");
        let ratios = |chk: &str| format!("\"ratios\": {{\"chk\": {chk}, \"chk+crash\": 1}}");
        for (text, says) in [
            (
                "{}".to_string(),
                "missing field `benchmarks` at line 1 column 2",
            ),
            (
                "{\"benchmarks\": {}}".into(),
                "invalid type: map, expected a sequence",
            ),
            (
                format!("{{\"benchmarks\": [{{{}}}]}}", ratios("1")),
                "missing field `name`",
            ),
            (
                "{\"benchmarks\": [{\"name\": \"nest-1k\", \"ratios\": {\"chk\": 2.0}}]}".into(),
                "missing field `chk+crash`",
            ),
            (
                format!(
                    "{{\"benchmarks\": [{{\"name\": \"a\", {}}}]}}",
                    ratios("\"2x\"")
                ),
                "invalid type: string \"2x\", expected f64 at line 1 column 52",
            ),
            (
                format!("{{\"benchmarks\": [{{\"name\": \"a\", {}}}]}}", ratios("0")),
                "benchmarks[0] (`a`): `ratios.chk` is 0, not a positive number",
            ),
            (
                format!(
                    "{{\"benchmarks\": [{{\"name\": \"a\", {0}}}, {{\"name\": \"a\", {0}}}]}}",
                    ratios("1")
                ),
                "benchmarks[1]: the benchmark `a` appears twice",
            ),
            // serde reads a struct from an array of its members too, so this is the complaint.
            ("[]".into(), "expected struct RatioFile"),
        ] {
            let got = error(&text);
            assert!(got.contains(says), "{text}: {got}");
            assert!(got.contains("benches/ratio-baseline.json"), "{got}");
            assert!(got.contains("expected a JSON object like"), "{got}");
        }
        let missing = message(read_ratio_file(Path::new("/nonexistent/ratios.json")).unwrap_err());
        assert!(
            missing.contains("cannot read /nonexistent/ratios.json"),
            "{missing}"
        );
    }

    #[test]
    fn reads_the_report_the_chorex_bench_writes() {
        // The shape `benches/benches/chorex.rs` writes with serde_json.
        let report = r#"{
  "test_mode": false,
  "machine": "2 cores, 24 GiB, linux x86_64",
  "benchmarks": [
    {
      "name": "state machine",
      "reps": 301,
      "baseline_seconds": 6.75e-5,
      "chk_seconds": 0.0001039,
      "chk+crash_seconds": 0.0001325,
      "ratios": {
        "chk": 1.5392592592592593,
        "chk+crash": 1.962962962962963
      },
      "frames": {
        "baseline": 30,
        "chk": 54,
        "chk+crash": 65
      }
    }
  ]
}"#;
        let mut parsed = parse_ratio_file(report, Path::new("report.json")).unwrap();
        // serde_json without its `float_roundtrip` feature may read a 17-digit float one unit
        // in the last place off: nothing next to a 25% tolerance and four-digit rounding.
        let ratios = parsed.benchmarks[0].ratios;
        assert!(
            (ratios.chk - 1.5392592592592593).abs() < 1e-12,
            "{ratios:?}"
        );
        assert!(
            (ratios.chk_crash - 1.962962962962963).abs() < 1e-12,
            "{ratios:?}"
        );
        parsed.benchmarks[0].ratios = Ratios {
            chk: 1.0,
            chk_crash: 2.0,
        };
        assert_eq!(
            parsed,
            RatioFile {
                machine: Some("2 cores, 24 GiB, linux x86_64".into()),
                test_mode: false,
                benchmarks: vec![BenchRatios {
                    name: "state machine".into(),
                    reps: Some(301),
                    baseline_seconds: Some(6.75e-5),
                    ratios: Ratios {
                        chk: 1.0,
                        chk_crash: 2.0,
                    },
                }],
            }
        );
    }

    #[test]
    fn the_baseline_written_by_update_reads_back_and_is_stable() {
        let report = file(vec![
            bench("state machine", 1.5392592592592593, 1.962962962962963),
            BenchRatios {
                baseline_seconds: Some(6.75e-5),
                ..bench("nest-10k", 34.2411, 1.0)
            },
        ]);
        let text = baseline_json(&report);
        assert_eq!(text, baseline_json(&report));
        assert!(text.contains("\"chk\": 1.539,\n"), "{text}");
        assert!(text.contains("\"chk+crash\": 1.0\n"), "{text}");
        assert!(
            text.contains("\"baseline_seconds\": 0.0000675,\n"),
            "{text}"
        );
        let name_at = text.find("\"name\": \"state machine\"").unwrap();
        assert!(
            name_at < text.find("\"name\": \"nest-10k\"").unwrap(),
            "{text}"
        );
        let back = parse_ratio_file(&text, Path::new("baseline.json")).unwrap();
        assert_eq!(back.machine, report.machine);
        assert_eq!(back.benchmarks[1].ratios.chk, 34.24);
        assert!(compare(&back, &report, 0.001).passed());
        let empty = baseline_json(&file(vec![]));
        assert!(
            parse_ratio_file(&empty, Path::new("e.json")).is_ok(),
            "{empty}"
        );
    }

    #[test]
    fn parses_bench_check_options() {
        let given = |list: &[&str]| {
            CheckOptions::parse(&list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            given(&[]).unwrap(),
            CheckOptions {
                tolerance: 0.25,
                update: false,
                report: None,
                baseline: None
            }
        );
        let options = given(&[
            "--tolerance",
            "10%",
            "--update",
            "--report",
            "r.json",
            "--baseline",
            "/tmp/b.json",
        ])
        .unwrap();
        assert_eq!(options.tolerance, 0.1);
        assert!(options.update);
        assert_eq!(options.report.as_deref(), Some(Path::new("r.json")));
        assert_eq!(options.baseline.as_deref(), Some(Path::new("/tmp/b.json")));
        assert_eq!(given(&["--tolerance", "7.5"]).unwrap().tolerance, 0.075);
        for bad in [
            &["--tolerance"][..],
            &["--tolerance", "-5"],
            &["--tolerance", "lots"],
            &["--tolerance", "NaN"],
            &["--report"],
            &["--bogus"],
        ] {
            assert!(matches!(given(bad), Err(Failure::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn checks_a_given_report_without_running_the_bench() {
        let report = "{\"machine\": \"m\", \"benchmarks\": [{\"name\": \"nest-1k\", \"ratios\": \
                      {\"chk\": 2.5, \"chk+crash\": 1.07}}]}";
        let report = temp_file("given", "report.json", report);
        let base = |chk: f64| {
            baseline_json(&file(vec![BenchRatios {
                reps: None,
                baseline_seconds: None,
                ..bench("nest-1k", chk, 1.07)
            }]))
        };
        let passing = temp_file("given", "passing.json", &base(2.25));
        let failing = temp_file("given", "failing.json", &base(1.5));
        let run = |baseline: &Path, extra: &[&str]| {
            let mut args = vec![
                "--report".to_string(),
                report.display().to_string(),
                "--baseline".to_string(),
                baseline.display().to_string(),
            ];
            args.extend(extra.iter().map(|a| a.to_string()));
            bench_check(&args)
        };
        assert!(run(&passing, &[]).is_ok());
        let error = message(run(&failing, &[]).unwrap_err());
        assert!(
            error.contains("nest-1k chk: 2.50x is above the limit 1.88x"),
            "{error}"
        );
        assert!(run(&failing, &["--tolerance", "70"]).is_ok());
        // --update rewrites the baseline from the report; then it passes.
        assert!(run(&failing, &["--update"]).is_ok());
        assert!(run(&failing, &[]).is_ok());
        let rewritten = read_ratio_file(&failing).unwrap();
        assert_eq!(rewritten.benchmarks[0].ratios.of(RatioKind::Chk), 2.5);

        let malformed = temp_file("given", "malformed.json", "{\"benchmarks\": [");
        let error = message(run(&malformed, &[]).unwrap_err());
        assert!(
            error.contains("malformed.json is not a valid ratio file"),
            "{error}"
        );
        let test_mode = temp_file(
            "given",
            "test-mode.json",
            "{\"test_mode\": true, \"benchmarks\": []}",
        );
        let error = message(
            bench_check(&[
                "--report".to_string(),
                test_mode.display().to_string(),
                "--baseline".to_string(),
                passing.display().to_string(),
            ])
            .unwrap_err(),
        );
        assert!(error.contains("test mode"), "{error}");
        let error = message(
            bench_check(&[
                "--report".to_string(),
                "/nonexistent/report.json".to_string(),
                "--baseline".to_string(),
                passing.display().to_string(),
            ])
            .unwrap_err(),
        );
        assert!(
            error.contains("/nonexistent/report.json does not exist"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(report.parent().unwrap());
    }
}
