//! Project chores for Rehearsal, following the [xtask convention]: `cargo xtask <command>`
//! (the alias lives in `.cargo/config.toml`) runs this binary from the workspace root.
//!
//! ```text
//! cargo xtask test              fmt check, layers, then clippy + tests in std mode, then sim mode
//! cargo xtask test --quick      tests only (no fmt, no layers, no clippy)
//! cargo xtask test --std-only   std mode only
//! cargo xtask test --sim-only   sim mode only (`--cfg madsim`, target dir `target/sim`)
//! cargo xtask bench-report      Chorex's benchmarks (release), then their table of ratios
//! cargo xtask bench-check       Chorex's benchmarks, their ratios checked against a baseline
//! cargo xtask compile-scaling   build time of a generated N-role choreography vs Chorex
//! cargo xtask update-baseline   rewrite benches/cost-baseline.json from the simulator
//! cargo xtask layers            the runtime's imports against runtime/layers.toml
//! cargo xtask guide             every ```sh command of docs/guide.md, run as written
//! cargo xtask planted-bug       the example's planted bug is caught, shrunk and replayed
//! ```
//!
//! Every step is printed as `==> step name: command` before it runs. The first failing step
//! stops the run with a message naming it, and the process exits with status 1; bad usage exits
//! with status 2 after printing the usage.
//!
//! Tests run under `cargo nextest` when `cargo nextest --version` succeeds, else under
//! `cargo test`. Nextest does not run doc tests, so std mode runs `cargo test --doc`
//! separately. rustdoc does not receive `build.rustflags`, so sim mode's doc-test step also sets
//! `build.rustdocflags` to `--cfg madsim` (the examples of the simulator's modules compile and
//! run only there).
//!
//! `cargo xtask bench-check [--tolerance PCT] [--update] [--report FILE] [--baseline FILE]`
//! runs the same bench (or reads the JSON report `--report` names) and fails when a ratio
//! (`chk` or `chk+crash` over the baseline variant) exceeds its value in
//! `benches/ratio-baseline.json` by more than the tolerance (default 25%); `--update` rewrites
//! that baseline instead. Wall-clock figures are noisy, so `cargo xtask test` never runs it (see
//! the `bench_check` module).
//!
//! `cargo xtask layers [--layers FILE] [--src DIR]` reads every `.rs` file under `runtime/src`
//! (or `DIR`) and fails on any circle between files and on any import against the layer order
//! of `runtime/layers.toml` (or `FILE`), naming the file and line of each offending import;
//! `cargo xtask test` runs it right after the fmt check (see the `layers` module).
//!
//! To add a command (`bench-report`, `bench-check`, ...), write a function taking the remaining
//! arguments and returning `Result<(), Failure>`, add it to [`COMMANDS`] and to the `match` in
//! [`dispatch`].
//!
//! Dependencies: serde and serde_json, to read and write the JSON of `bench-check`, and
//! toml_edit, to read `runtime/layers.toml` (with the error positions of its parser). The
//! workspace uses all three already (toml_edit in the simulator), so nothing new is downloaded;
//! `cargo xtask` resolves features for xtask alone, so its first build compiles its own serde
//! and serde_derive (about 6 s on the 2-core project machine), cached from then on. Anything
//! more (clap, anyhow) stays out so that a fresh `cargo xtask` stays quick.
//!
//! [xtask convention]: https://github.com/matklad/cargo-xtask

mod bench_check;
mod compile_scaling;
mod guide;
mod layers;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The commands `cargo xtask` understands, with a one-line description each (for the usage).
const COMMANDS: &[(&str, &str)] = &[
    (
        "test [--quick] [--std-only | --sim-only]",
        "fmt check, layers, clippy and tests in std mode, then in sim mode",
    ),
    (
        "layers [--layers FILE] [--src DIR]",
        "fail on circles between runtime/src files and on imports against runtime/layers.toml",
    ),
    (
        "compile-scaling [--release] [--runs K] [N..]",
        "build time of a generated N-role choreography vs Chorex",
    ),
    (
        "bench-report",
        "run Chorex's benchmarks (release) and print their slowdown table",
    ),
    (
        "bench-check [--tolerance PCT] [--update] [--report FILE] [--baseline FILE]",
        "run Chorex's benchmarks and check their ratios against benches/ratio-baseline.json",
    ),
    (
        "guide [--list] [--file PATH]",
        "run every ```sh command of docs/guide.md from the workspace root",
    ),
    (
        "planted-bug",
        "the example's planted bug: its test fails, shrinks to <= 2 faults, and its replay command reproduces it",
    ),
    (
        "update-baseline",
        "rewrite the cost-counter baseline benches/cost-baseline.json (commit it with the change)",
    ),
];

/// The extra cargo arguments that select sim mode (see DESIGN.md "Build modes" and the `sim-*`
/// aliases in `.cargo/config.toml`): compile with `--cfg madsim` into a separate target directory
/// so the two modes never invalidate each other's cache.
const SIM_ARGS: &[&str] = &[
    "--config",
    "build.rustflags=['--cfg','madsim']",
    "--target-dir",
    "target/sim",
];

/// Why `cargo xtask` stopped early; each variant maps to an exit status.
#[derive(Debug)]
enum Failure {
    /// The command line was not understood (exit status 2). The message says what was wrong.
    Usage(String),
    /// A step failed, or could not run (exit status 1). The message names the step.
    Step(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n");
            eprint!("{}", usage());
            ExitCode::from(2)
        }
        Err(Failure::Step(message)) => {
            eprintln!("\nerror: {message}");
            ExitCode::from(1)
        }
    }
}

/// Runs the command named by the first argument with the rest of the arguments.
fn dispatch(args: &[String]) -> Result<(), Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Failure::Usage("no command given".into()));
    };
    match command.as_str() {
        "test" => test(rest),
        "compile-scaling" => compile_scaling::compile_scaling(rest),
        "bench-report" => bench_report(rest),
        "bench-check" => bench_check::bench_check(rest),
        "layers" => layers::layers(rest),
        "guide" => guide::guide(rest),
        "planted-bug" => guide::planted_bug(rest),
        "update-baseline" => update_baseline(rest),
        "help" | "-h" | "--help" => {
            print!("{}", usage());
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command `{other}`"))),
    }
}

/// The usage text, listing every command in [`COMMANDS`].
fn usage() -> String {
    let mut text = String::from("usage: cargo xtask <command> [options]\n\ncommands:\n");
    for (synopsis, description) in COMMANDS {
        if synopsis.len() > 44 {
            // Too long for the column: the description goes on the next line.
            text.push_str(&format!("    {synopsis}\n    {:<44} {description}\n", ""));
        } else {
            text.push_str(&format!("    {synopsis:<44} {description}\n"));
        }
    }
    text.push_str(&format!("    {:<44} {}\n", "help", "print this message"));
    text
}

/// A build mode of the workspace (see DESIGN.md "Build modes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Plain cargo: real tokio, real TCP, real files.
    Std,
    /// `--cfg madsim`: the deterministic simulation, built into `target/sim`.
    Sim,
}

impl Mode {
    /// The label used in step names.
    fn label(self) -> &'static str {
        match self {
            Mode::Std => "std",
            Mode::Sim => "sim",
        }
    }

    /// The cargo arguments that select this mode (placed before any `--`).
    fn cargo_args(self) -> &'static [&'static str] {
        match self {
            Mode::Std => &[],
            Mode::Sim => SIM_ARGS,
        }
    }
}

/// Options of `cargo xtask test`.
#[derive(Debug, PartialEq, Eq)]
struct TestOptions {
    /// Skip `cargo fmt` and `cargo clippy`.
    quick: bool,
    /// The modes to test, in order.
    modes: Vec<Mode>,
}

impl TestOptions {
    /// Parses the arguments after `test`.
    fn parse(args: &[String]) -> Result<TestOptions, Failure> {
        let (mut quick, mut std_only, mut sim_only) = (false, false, false);
        for arg in args {
            match arg.as_str() {
                "--quick" => quick = true,
                "--std-only" => std_only = true,
                "--sim-only" => sim_only = true,
                other => {
                    return Err(Failure::Usage(format!(
                        "unknown option `{other}` for `cargo xtask test`"
                    )));
                }
            }
        }
        let modes = match (std_only, sim_only) {
            (true, true) => {
                return Err(Failure::Usage(
                    "`--std-only` and `--sim-only` exclude each other".into(),
                ));
            }
            (true, false) => vec![Mode::Std],
            (false, true) => vec![Mode::Sim],
            (false, false) => vec![Mode::Std, Mode::Sim],
        };
        Ok(TestOptions { quick, modes })
    }
}

/// `cargo xtask test`: every check, in order, stopping at the first failure.
///
/// 1. `cargo fmt --all -- --check` and `cargo xtask layers` (unless `--quick`);
/// 2. for each mode: `cargo clippy --workspace --all-targets -- -D warnings` (unless `--quick`;
///    in std mode also `-p rehearsal` alone, without the features other crates' tests enable),
///    the tests (nextest if installed, else `cargo test`), and in std mode the doc tests;
/// 3. with sim mode: `cargo xtask planted-bug` and `cargo xtask guide` (see the `guide` module).
fn test(args: &[String]) -> Result<(), Failure> {
    let options = TestOptions::parse(args)?;
    if options.modes.contains(&Mode::Sim) {
        check_no_rustflags_override()?;
    }
    let root = workspace_root();
    let started = Instant::now();
    let nextest = nextest_available(&root);
    if !nextest {
        println!("note: `cargo nextest --version` failed; running tests with `cargo test`");
    }

    let steps = test_plan(&options, nextest);
    for step in &steps {
        step.run(&root)?;
    }
    let names: Vec<&str> = steps.iter().map(|step| step.name.as_str()).collect();
    let count = match steps.len() {
        1 => "1 step".to_string(),
        n => format!("all {n} steps"),
    };
    println!(
        "\n==> {count} passed in {}: {}",
        format_duration(started.elapsed()),
        names.join(", ")
    );
    Ok(())
}

/// Every step of `cargo xtask test` with these options, in order.
fn test_plan(options: &TestOptions, nextest: bool) -> Vec<Step> {
    let mut steps = vec![];
    if !options.quick {
        steps.push(Step::cargo("fmt", &["fmt", "--all", "--", "--check"], &[]));
        // Cheap, so before the long builds; through cargo, like every other step.
        steps.push(Step::cargo("layers", &["xtask", "layers"], &[]));
    }
    for &mode in &options.modes {
        if !options.quick {
            steps.push(
                Step::cargo(
                    format!("clippy ({})", mode.label()),
                    &["clippy", "--workspace", "--all-targets"],
                    &["--", "-D", "warnings"],
                )
                .in_mode(mode),
            );
        }
        if !options.quick && mode == Mode::Std {
            // The workspace build turns on test-only features (the scenarios' tests plant saga
            // bugs through `rehearsal/planted-bugs`), so the runtime is also linted as a
            // user's build sees it: without them.
            steps.push(Step::cargo(
                "clippy (runtime alone)",
                &["clippy", "-p", "rehearsal", "--all-targets"],
                &["--", "-D", "warnings"],
            ));
        }
        steps.extend(test_steps(mode, nextest));
    }
    if options.modes.contains(&Mode::Sim) {
        // The example's planted bug, and the guide's commands as a user runs them (both
        // build in sim mode, so they come after its tests).
        steps.push(Step::cargo("planted bug", &["xtask", "planted-bug"], &[]));
        steps.push(Step::cargo("guide", &["xtask", "guide"], &[]));
    }
    steps
}

/// The test steps of one mode.
fn test_steps(mode: Mode, nextest: bool) -> Vec<Step> {
    let name = format!("tests ({})", mode.label());
    match (mode, nextest) {
        (Mode::Std, true) => vec![
            Step::cargo(name, &["nextest", "run", "--workspace"], &[]),
            // nextest does not run doc tests.
            Step::cargo("doc tests (std)", &["test", "--workspace", "--doc"], &[]),
        ],
        // Plain `cargo test` runs the doc tests too: no separate step.
        (Mode::Std, false) => vec![Step::cargo(name, &["test", "--workspace"], &[])],
        (Mode::Sim, true) => vec![
            Step::cargo(name, &["nextest", "run", "--workspace"], &[]),
            sim_doc_tests(),
        ],
        // Everything `cargo test` runs by default but the doc tests, which need rustdoc's flags.
        (Mode::Sim, false) => vec![
            Step::cargo(
                name,
                &["test", "--workspace", "--lib", "--bins", "--tests"],
                &[],
            ),
            sim_doc_tests(),
        ],
    }
    .into_iter()
    .map(|step| step.in_mode(mode))
    .collect()
}

/// Sim mode's doc tests: rustdoc takes `build.rustdocflags`, not `build.rustflags`.
fn sim_doc_tests() -> Step {
    Step::cargo(
        "doc tests (sim)",
        &[
            "test",
            "--workspace",
            "--doc",
            "--config",
            "build.rustdocflags=['--cfg','madsim']",
        ],
        &[],
    )
}

/// Fails if the environment would silently turn sim mode into std mode: `RUSTFLAGS` and
/// `CARGO_ENCODED_RUSTFLAGS` take precedence over `build.rustflags`, so `--cfg madsim` would be
/// dropped.
fn check_no_rustflags_override() -> Result<(), Failure> {
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        if std::env::var_os(var).is_some_and(|value| !value.is_empty()) {
            return Err(Failure::Step(format!(
                "sim mode: {var} is set in the environment; it overrides `build.rustflags`, so \
                 the sim-mode build would lose `--cfg madsim`. Unset {var} (or use --std-only)."
            )));
        }
    }
    Ok(())
}

/// One command of a chore, run from the workspace root.
#[derive(Debug)]
struct Step {
    /// The name printed before the step and in the failure message.
    name: String,
    /// Cargo arguments, in order: subcommand and its options (mode arguments are appended to
    /// these by [`Step::in_mode`]).
    args: Vec<String>,
    /// Arguments after the mode arguments, typically `--` and what follows it.
    trailing: Vec<String>,
}

impl Step {
    /// A `cargo` step: `cargo <args> <trailing>`.
    fn cargo(name: impl Into<String>, args: &[&str], trailing: &[&str]) -> Step {
        Step {
            name: name.into(),
            args: args.iter().map(|arg| arg.to_string()).collect(),
            trailing: trailing.iter().map(|arg| arg.to_string()).collect(),
        }
    }

    /// This step with the arguments of `mode` added before the trailing arguments.
    fn in_mode(mut self, mode: Mode) -> Step {
        self.args
            .extend(mode.cargo_args().iter().map(|arg| arg.to_string()));
        self
    }

    /// Every argument after `cargo`.
    fn all_args(&self) -> impl Iterator<Item = &String> {
        self.args.iter().chain(&self.trailing)
    }

    /// The command as a user would type it in a shell.
    fn display(&self) -> String {
        std::iter::once("cargo")
            .chain(self.all_args().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Prints and runs the step; a non-zero exit (or a failure to start) is a [`Failure::Step`].
    fn run(&self, root: &Path) -> Result<(), Failure> {
        let shown = self.display();
        println!("==> {}: {shown}", self.name);
        let status = Command::new(cargo())
            .args(self.all_args())
            .current_dir(root)
            .status()
            .map_err(|error| {
                Failure::Step(format!(
                    "step `{}` could not start: {error}\n       command: {shown}",
                    self.name
                ))
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(Failure::Step(format!(
                "step `{}` failed ({status})\n       command: {shown}",
                self.name
            )))
        }
    }
}

/// The cargo to run: the one that started us (`$CARGO`), so the toolchain stays the same.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace root: the parent directory of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask/ lives inside the workspace root")
        .to_path_buf()
}

/// Whether `cargo nextest --version` succeeds (its output is discarded).
fn nextest_available(root: &Path) -> bool {
    Command::new(cargo())
        .args(["nextest", "--version"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Quotes `arg` for a POSIX shell when it contains anything but plainly safe characters.
fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_string()
    } else if !arg.contains(['"', '$', '`', '\\', '!']) {
        format!("\"{arg}\"")
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// `1m05s` or `42s`.
fn format_duration(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn parses_test_options() {
        let all = TestOptions::parse(&[]).unwrap();
        assert_eq!(
            all,
            TestOptions {
                quick: false,
                modes: vec![Mode::Std, Mode::Sim]
            }
        );
        let quick_sim = TestOptions::parse(&args(&["--sim-only", "--quick"])).unwrap();
        assert_eq!(
            quick_sim,
            TestOptions {
                quick: true,
                modes: vec![Mode::Sim]
            }
        );
        assert!(matches!(
            TestOptions::parse(&args(&["--std-only", "--sim-only"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            TestOptions::parse(&args(&["--bogus"])),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn bad_commands_are_usage_errors() {
        assert!(matches!(dispatch(&[]), Err(Failure::Usage(_))));
        assert!(matches!(
            dispatch(&args(&["frobnicate"])),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn sim_steps_put_mode_args_before_the_double_dash() {
        let clippy = Step::cargo(
            "clippy (sim)",
            &["clippy", "--workspace", "--all-targets"],
            &["--", "-D", "warnings"],
        )
        .in_mode(Mode::Sim);
        assert_eq!(
            clippy.display(),
            "cargo clippy --workspace --all-targets --config \
             \"build.rustflags=['--cfg','madsim']\" --target-dir target/sim -- -D warnings"
        );
        let tests = test_steps(Mode::Sim, false);
        assert_eq!(tests.len(), 2);
        assert!(!tests[0].display().contains("--doc"));
        assert!(tests[1].display().contains("--doc"));
        assert!(tests[1].display().contains("rustdocflags"));
        assert_eq!(test_steps(Mode::Std, true).len(), 2);
    }

    #[test]
    fn the_full_plan_runs_every_step_in_order() {
        let options = TestOptions::parse(&[]).unwrap();
        let shown: Vec<String> = test_plan(&options, true)
            .iter()
            .map(|step| format!("{}: {}", step.name, step.display()))
            .collect();
        let sim = "--config \"build.rustflags=['--cfg','madsim']\" --target-dir target/sim";
        assert_eq!(
            shown,
            [
                "fmt: cargo fmt --all -- --check".to_string(),
                "layers: cargo xtask layers".to_string(),
                "clippy (std): cargo clippy --workspace --all-targets -- -D warnings".to_string(),
                "clippy (runtime alone): cargo clippy -p rehearsal --all-targets -- -D warnings"
                    .to_string(),
                "tests (std): cargo nextest run --workspace".to_string(),
                "doc tests (std): cargo test --workspace --doc".to_string(),
                format!(
                    "clippy (sim): cargo clippy --workspace --all-targets {sim} -- -D warnings"
                ),
                format!("tests (sim): cargo nextest run --workspace {sim}"),
                format!(
                    "doc tests (sim): cargo test --workspace --doc --config \"build.rustdocflags=['--cfg','madsim']\" {sim}"
                ),
                "planted bug: cargo xtask planted-bug".to_string(),
                "guide: cargo xtask guide".to_string(),
            ]
        );
        let quick = TestOptions::parse(&args(&["--quick", "--std-only"])).unwrap();
        let names: Vec<String> = test_plan(&quick, false)
            .into_iter()
            .map(|step| step.name)
            .collect();
        assert_eq!(names, ["tests (std)"]);
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("--workspace"), "--workspace");
        assert_eq!(shell_quote("a b"), "\"a b\"");
        assert_eq!(shell_quote("it's $x"), r"'it'\''s $x'");
        assert_eq!(shell_quote(""), "\"\"");
    }
}

/// `cargo xtask bench-report`: runs Chorex's benchmark suite on Rehearsal
/// (`cargo bench -p rehearsal-benches --bench chorex`, std mode, the release-based bench
/// profile), which writes its Markdown table of slowdowns to `target/bench-report.md`, then
/// prints that table. The old report is deleted first, so a run that writes none (a failed
/// bench, or a sim-mode build that only prints a note) is an error, not a stale table.
fn bench_report(args: &[String]) -> Result<(), Failure> {
    if let Some(arg) = args.first() {
        return Err(Failure::Usage(format!(
            "`cargo xtask bench-report` takes no arguments; got `{arg}`"
        )));
    }
    let root = workspace_root();
    let report = bench_report_path(&root, std::env::var_os("CARGO_TARGET_DIR"));
    let started = Instant::now();
    run_chorex_bench(&root)?;
    let table = std::fs::read_to_string(&report).map_err(|error| {
        Failure::Step(format!(
            "the chorex bench wrote no report at {}: {error}",
            report.display()
        ))
    })?;
    println!(
        "
==> bench-report ({}), from {}:
",
        format_duration(started.elapsed()),
        report.display()
    );
    print!("{table}");
    Ok(())
}

/// Runs the chorex bench (see [`bench_report_step`]) from workspace `root`, after deleting its
/// old reports (`bench-report.md` and `bench-report.json`), so that a run that writes none (a
/// failed bench, or a sim-mode build that only prints a note) is an error, not a stale report.
fn run_chorex_bench(root: &Path) -> Result<(), Failure> {
    let markdown = bench_report_path(root, std::env::var_os("CARGO_TARGET_DIR"));
    for report in [markdown.with_extension("json"), markdown] {
        match std::fs::remove_file(&report) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(Failure::Step(format!(
                    "cannot remove the old report {}: {error}",
                    report.display()
                )));
            }
        }
    }
    bench_report_step().run(root)
}

/// The step of `cargo xtask bench-report` and `cargo xtask bench-check`.
fn bench_report_step() -> Step {
    Step::cargo(
        "chorex bench",
        &["bench", "-p", "rehearsal-benches", "--bench", "chorex"],
        &[],
    )
}

/// Where the chorex bench writes its report: `bench-report.md` in the target directory
/// (`CARGO_TARGET_DIR`, relative to the workspace root, if set; else `target/`). Its JSON twin
/// is the same path with extension `json`.
fn bench_report_path(root: &Path, target_dir: Option<OsString>) -> PathBuf {
    let target = target_dir
        .filter(|dir| !dir.is_empty())
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"));
    target.join("bench-report.md")
}

#[cfg(test)]
mod bench_report_tests {
    use super::*;

    #[test]
    fn bench_report_runs_the_chorex_bench_and_reads_its_report() {
        assert_eq!(
            bench_report_step().display(),
            "cargo bench -p rehearsal-benches --bench chorex"
        );
        let root = Path::new("/ws");
        assert_eq!(
            bench_report_path(root, None),
            Path::new("/ws/target/bench-report.md")
        );
        assert_eq!(
            bench_report_path(root, Some("out".into())),
            Path::new("/ws/out/bench-report.md")
        );
        assert!(matches!(
            dispatch(&["bench-report".to_string(), "--fast".to_string()]),
            Err(Failure::Usage(_))
        ));
    }
}

/// `cargo xtask update-baseline`: runs the simulator's cost-counter test in its update mode,
/// which rewrites `benches/cost-baseline.json` with the counters of the current code.
fn update_baseline(args: &[String]) -> Result<(), Failure> {
    if let Some(extra) = args.first() {
        return Err(Failure::Usage(format!(
            "update-baseline takes no arguments; got `{extra}`"
        )));
    }
    // SAFETY: xtask is single-threaded here; the variable is read by the test that cargo starts.
    unsafe { std::env::set_var("REHEARSAL_UPDATE_BASELINE", "1") };
    Step::cargo(
        "update cost baseline",
        &[
            "test",
            "-p",
            "rehearsal-scenarios",
            "--test",
            "cost_baseline",
        ],
        &[],
    )
    .in_mode(Mode::Sim)
    .run(&workspace_root())
}
