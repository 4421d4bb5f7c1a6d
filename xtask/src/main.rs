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
//! separately. Sim mode skips doc tests: rustdoc does not receive `build.rustflags`, so doc tests
//! would not be built with `--cfg madsim`.
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
        "compile-scaling" => compile_scaling(rest),
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
        (Mode::Sim, true) => vec![Step::cargo(name, &["nextest", "run", "--workspace"], &[])],
        // Everything `cargo test` runs by default except the doc tests (see the crate doc).
        (Mode::Sim, false) => vec![Step::cargo(
            name,
            &["test", "--workspace", "--lib", "--bins", "--tests"],
            &[],
        )],
    }
    .into_iter()
    .map(|step| step.in_mode(mode))
    .collect()
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
        assert_eq!(tests.len(), 1);
        assert!(!tests[0].display().contains("--doc"));
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

/// Chorex's compile times measured on a machine like this one (REFERENCE.md): its `BigChor`
/// (a dispatcher and N workers, three nested `try` blocks around the daisy chain), and a
/// chain in a single checkpoint: `(workers, BigChor seconds, single-checkpoint seconds)`.
const CHOREX_COMPILE_SECONDS: &[(usize, f64, f64)] = &[
    (10, 3.0, 1.4),
    (50, 11.7, 5.0),
    (100, 27.9, 10.9),
    (200, 120.8, 25.2),
];

/// The role counts `cargo xtask compile-scaling` measures when given none.
const SCALING_DEFAULT_ROLES: &[usize] = &[10, 50, 100, 200];

/// `cargo xtask compile-scaling [--release] [--runs K] [N...]`: how the build time of a
/// choreography grows with its number of roles, next to Chorex's figures.
///
/// For each N, writes a throwaway crate `target/compile-scaling/n<N>/` (its own workspace,
/// depending on the runtime by path) whose choreography is Chorex's `BigChor` with N workers
/// (N + 1 roles): a daisy chain `W1 -> .. -> W<N> -> W1` run three times, in three nested
/// checkpoints or none, as `Dispatch` decides (see [`scaling_source`]). Every crate shares the target directory `target/compile-scaling/target`,
/// so the dependencies are built once, by an untimed warm-up build of the N=2 crate; each timed
/// `cargo build` (debug, or release with `--release`) then compiles only the generated crate,
/// from scratch (its incremental cache is deleted first); with `--runs K` each crate is built K
/// times and the fastest counts (other load on the machine only ever slows a build down).
/// Prints a Markdown table and writes it to `target/compile-scaling.md`
/// (`target/compile-scaling-release.md` with `--release`).
fn compile_scaling(args: &[String]) -> Result<(), Failure> {
    let ScalingOptions {
        release,
        runs,
        roles,
    } = ScalingOptions::parse(args)?;
    let profile = if release { "release" } else { "debug" };
    let root = workspace_root();
    let base = root.join("target").join("compile-scaling");
    let target_dir = base.join("target");
    let load_before = load_average();
    let started = Instant::now();

    println!("==> warm-up ({profile}, untimed): dependencies and the N=2 crate");
    let warm_up = write_scaling_crate(&root, 2)?;
    scaling_build(&warm_up, &target_dir, release)
        .map_err(|error| Failure::Step(format!("compile-scaling warm-up: {error}")))?;

    let mut rows = Vec::new();
    for &n in &roles {
        let mut fastest: Option<Duration> = None;
        for run in 1..=runs {
            let dir = write_scaling_crate(&root, n)?;
            forget_incremental(&target_dir.join(profile).join("incremental"), n);
            let flag = if release { " --release" } else { "" };
            println!("==> {n} roles, run {run}/{runs}: cargo build{flag}");
            match scaling_build(&dir, &target_dir, release) {
                Ok(elapsed) => {
                    println!("    {:.2} s", elapsed.as_secs_f64());
                    fastest = Some(fastest.map_or(elapsed, |best| best.min(elapsed)));
                }
                Err(error) => {
                    eprintln!("    failed: {error}");
                    fastest = None;
                    break;
                }
            }
        }
        rows.push((n, fastest));
    }

    let command = if release {
        "cargo build --release"
    } else {
        "cargo build"
    };
    let mut report = format!(
        "Build time of a generated choreography crate (`{command}`, dependencies prebuilt, \
         fastest of {runs}): Chorex's `BigChor`, a dispatcher and N workers, a daisy chain \
         over the workers in three nested checkpoints or none, by the dispatcher's choice \
         (`cargo xtask compile-scaling`). Chorex's figures were measured on a machine like \
         this one (REFERENCE.md).\n\n"
    );
    report.push_str(&scaling_table(&rows));
    let load_after = load_average();
    if let (Some(before), Some(after)) = (load_before, load_after) {
        report.push_str(&format!(
            "\nLoad average (1, 5, 15 min) before: {before}; after: {after}.\n"
        ));
    }
    println!("\n{report}");
    let file = root.join("target").join(if release {
        "compile-scaling-release.md"
    } else {
        "compile-scaling.md"
    });
    std::fs::write(&file, &report)
        .map_err(|error| Failure::Step(format!("writing {}: {error}", file.display())))?;
    println!(
        "==> wrote {} in {}",
        file.display(),
        format_duration(started.elapsed())
    );
    match rows.iter().find(|(_, time)| time.is_none()) {
        Some((n, _)) => Err(Failure::Step(format!(
            "compile-scaling: the build for {n} roles failed (see above)"
        ))),
        None => Ok(()),
    }
}

/// Options of `cargo xtask compile-scaling`.
#[derive(Debug, PartialEq, Eq)]
struct ScalingOptions {
    /// Build with `--release` instead of the debug profile.
    release: bool,
    /// How many times each crate is built (the fastest counts); at least 1.
    runs: usize,
    /// The role counts, in order; each at least 2.
    roles: Vec<usize>,
}

impl ScalingOptions {
    /// Parses the arguments after `compile-scaling`: `--release`, `--runs K` and role counts.
    fn parse(args: &[String]) -> Result<ScalingOptions, Failure> {
        let bad = |what: &str, expected: &str| {
            Failure::Usage(format!(
                "`{what}` for `cargo xtask compile-scaling`: expected {expected}"
            ))
        };
        let mut options = ScalingOptions {
            release: false,
            runs: 1,
            roles: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--release" => options.release = true,
                "--runs" => {
                    let runs = args.next().map(String::as_str).unwrap_or("");
                    options.runs = match runs.parse::<usize>() {
                        Ok(k) if k >= 1 => k,
                        _ => return Err(bad(runs, "a number of runs (at least 1) after `--runs`")),
                    };
                }
                other => match other.parse::<usize>() {
                    Ok(n) if n >= 2 => options.roles.push(n),
                    _ => {
                        return Err(bad(
                            other,
                            "`--release`, `--runs K` or a number of roles (at least 2)",
                        ));
                    }
                },
            }
        }
        if options.roles.is_empty() {
            options.roles = SCALING_DEFAULT_ROLES.to_vec();
        }
        Ok(options)
    }
}

/// The source of the generated crate for `n` workers: Chorex's `BigChor` (its compile-time
/// benchmark, `bench_maker.pl`). The census is `Dispatch` and workers `W1` .. `W<n>`. `work`
/// passes a number along the daisy chain `W1 -> W2 -> .. -> W<n> -> W1`, each sender applying
/// `work_hard` before it sends. `Dispatch` decides (broadcast) between the checkpointed path,
/// three `work` laps each in a checkpoint nested in the previous one's (each rescue returning a
/// constant at `W1`), and the path without checkpoints, the same three laps in a row; the
/// result is `W1`'s.
fn scaling_source(n: usize) -> String {
    let workers: Vec<String> = (1..=n).map(|i| format!("W{i}")).collect();
    let all = format!("Dispatch, {}", workers.join(", "));
    let mut src = format!(
        "//! Generated by `cargo xtask compile-scaling`: Chorex's `BigChor` with {n} workers, a\n\
         //! daisy chain inside three nested checkpoints or none, chosen by `Dispatch`.\n"
    );
    src.push_str(&format!(
        r#"
use rehearsal::{{At, Choreo, ChoreoError, Choreography, FamilySizes, Program, Roles, roles}};

roles!({all});

/// Every role.
pub type Census = Roles![{all}];

/// A worker's local step (Chorex's hashes the number; any function does for compile time).
fn work_hard(x: u64) -> u64 {{
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ x
}}

/// One lap of the daisy chain: W1 -> .. -> W{n} -> W1, each sender working before it sends.
async fn work(ch: &Choreo<Census>, x: At<u64, W1>) -> Result<At<u64, W1>, ChoreoError> {{
"#
    ));
    for i in 0..n {
        let (from, to) = (&workers[i], &workers[(i + 1) % n]);
        src.push_str(&format!(
            "    let x = ch.locally({from}, |l| work_hard(*l.get(&x))).await?;\n    \
             let x = ch.comm({from}, {to}, &x).await?;\n"
        ));
    }
    src.push_str(SCALING_RUN);
    src
}

/// The end of [`scaling_source`]: `Dispatch`'s branch between three laps in three nested
/// checkpoints and three laps without.
const SCALING_RUN: &str = r#"    Ok(x)
}

/// Chorex's `BigChor`: `Dispatch` chooses the path, `W1` holds the start and the result.
#[derive(Clone)]
pub struct BigChor {
    /// Take the checkpointed path.
    pub checkpoints: bool,
    /// `W1`'s start value.
    pub start: u64,
}

impl Choreography for BigChor {
    type Census = Census;
    type Output = At<u64, W1>;

    async fn run(self, ch: &Choreo<Census>) -> Result<At<u64, W1>, ChoreoError> {
        let choice = ch.locally(Dispatch, |_| self.checkpoints).await?;
        let x = ch.locally(W1, |_| self.start).await?;
        if !ch.broadcast(Dispatch, choice).await? {
            let y = work(ch, x).await?;
            let z = work(ch, y).await?;
            return work(ch, z).await;
        }
        ch.checkpoint(
            x,
            |ch, x| async move {
                let y = work(&ch, x).await?;
                ch.checkpoint(
                    y,
                    |ch, y| async move {
                        let z = work(&ch, y).await?;
                        ch.checkpoint(
                            z,
                            |ch, z| async move { work(&ch, z).await },
                            |ch, _z, _why| async move { ch.locally(W1, |_| 2).await },
                        )
                        .await
                    },
                    |ch, _y, _why| async move { ch.locally(W1, |_| 1).await },
                )
                .await
            },
            |ch, _x, _why| async move { ch.locally(W1, |_| 0).await },
        )
        .await
    }
}

/// The choreography with its census fixed (instantiates the projection of every role).
pub fn program() -> Result<Program, ChoreoError> {
    Program::new(
        BigChor {
            checkpoints: true,
            start: 1,
        },
        &FamilySizes::new(),
    )
}
"#;

/// The manifest of the generated crate for `n` roles: its own workspace, so the main workspace
/// does not claim it, with the runtime at `runtime` (an absolute path).
fn scaling_manifest(n: usize, runtime: &Path) -> String {
    let runtime = runtime.display().to_string().replace('\\', "/");
    format!(
        "# Generated by `cargo xtask compile-scaling`.\n\
         [package]\n\
         name = \"compile-scaling-n{n}\"\n\
         version = \"0.0.0\"\n\
         edition = \"2024\"\n\
         publish = false\n\n\
         [dependencies]\n\
         rehearsal = {{ path = \"{runtime}\" }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\n\
         [workspace]\n"
    )
}

/// Writes (or rewrites, which marks it changed for cargo) the crate for `n` roles under
/// `target/compile-scaling/` of workspace `root`, with the workspace's `Cargo.lock` so dependency
/// versions match it; returns its directory.
fn write_scaling_crate(root: &Path, n: usize) -> Result<PathBuf, Failure> {
    let dir = root
        .join("target")
        .join("compile-scaling")
        .join(format!("n{n}"));
    let write = |path: PathBuf, contents: &str| {
        std::fs::write(&path, contents)
            .map_err(|error| Failure::Step(format!("writing {}: {error}", path.display())))
    };
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|error| Failure::Step(format!("creating {}: {error}", dir.display())))?;
    write(
        dir.join("Cargo.toml"),
        &scaling_manifest(n, &root.join("runtime")),
    )?;
    write(dir.join("src").join("lib.rs"), &scaling_source(n))?;
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        // Best effort: without it cargo resolves the dependencies afresh.
        let _ = std::fs::copy(root.join("Cargo.lock"), &lock);
    }
    Ok(dir)
}

/// Deletes the incremental-compilation caches of the crate for `n` roles in `incremental`, so
/// the next debug build compiles it from scratch even when its source is unchanged.
fn forget_incremental(incremental: &Path, n: usize) {
    let prefix = format!("compile_scaling_n{n}-");
    let Ok(entries) = std::fs::read_dir(incremental) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs `cargo build` (with `--release` if `release`) in crate directory `dir` with target
/// directory `target_dir` and returns how long it took; on failure, the end of cargo's output.
fn scaling_build(dir: &Path, target_dir: &Path, release: bool) -> Result<Duration, String> {
    let mut command = Command::new(cargo());
    command
        .arg("build")
        .args(release.then_some("--release"))
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(dir)
        .stdin(Stdio::null());
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|error| format!("cargo could not start: {error}"))?;
    let elapsed = started.elapsed();
    if output.status.success() {
        return Ok(elapsed);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(format!(
        "`cargo build` in {} failed ({}):\n{tail}",
        dir.display(),
        output.status
    ))
}

/// The Markdown table of build times (`None`: the build failed) next to Chorex's.
fn scaling_table(rows: &[(usize, Option<Duration>)]) -> String {
    let mut table = String::from(
        "| workers (roles) | build time (s) | Chorex BigChor (s) | Chorex, one checkpoint (s) |\n\
         |---:|---:|---:|---:|\n",
    );
    for &(n, time) in rows {
        let ours = time.map_or("failed".to_string(), |t| format!("{:.2}", t.as_secs_f64()));
        let chorex = CHOREX_COMPILE_SECONDS
            .iter()
            .find(|&&(workers, _, _)| workers == n);
        let (big, single) = chorex.map_or(("n/a".to_string(), "n/a".to_string()), |c| {
            (format!("{:.1}", c.1), format!("{:.1}", c.2))
        });
        table.push_str(&format!(
            "| {n} ({}) | {ours} | {big} | {single} |\n",
            n + 1
        ));
    }
    table
}

/// The first three fields of `/proc/loadavg`, where there is one.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod compile_scaling_tests {
    use super::*;

    #[test]
    fn the_generated_choreography_is_chorex_big_chor() {
        let src = scaling_source(3);
        assert!(src.contains("roles!(Dispatch, W1, W2, W3);"), "{src}");
        assert!(src.contains("Roles![Dispatch, W1, W2, W3]"), "{src}");
        // Dispatch's branch: three nested checkpoints, or none.
        assert!(src.contains("ch.broadcast(Dispatch, choice)"), "{src}");
        assert_eq!(src.matches("ch.checkpoint(").count(), 3, "{src}");
        assert_eq!(src.matches("work(&ch, ").count(), 3, "{src}");
        assert_eq!(src.matches("work(ch, ").count(), 3, "{src}");
        // The daisy chain: each sender works, then sends to the next, the last to W1.
        for (from, to) in [("W1", "W2"), ("W2", "W3"), ("W3", "W1")] {
            let hop = format!(
                "ch.locally({from}, |l| work_hard(*l.get(&x))).await?;\n    \
                 let x = ch.comm({from}, {to}, &x)"
            );
            assert!(src.contains(&hop), "{hop} missing:\n{src}");
        }
        assert!(!scaling_source(200).contains("recursion_limit"));
    }

    #[test]
    fn the_generated_manifest_is_its_own_workspace() {
        let manifest = scaling_manifest(10, Path::new("/abs/runtime"));
        assert!(manifest.contains("name = \"compile-scaling-n10\""));
        assert!(manifest.contains("rehearsal = { path = \"/abs/runtime\" }"));
        assert!(manifest.contains("\n[workspace]\n"));
    }

    #[test]
    fn parses_compile_scaling_options_and_tabulates_against_chorex() {
        let given = |list: &[&str]| {
            ScalingOptions::parse(&list.iter().map(|arg| arg.to_string()).collect::<Vec<_>>())
        };
        let options = |release, runs, roles: &[usize]| ScalingOptions {
            release,
            runs,
            roles: roles.to_vec(),
        };
        assert_eq!(given(&[]).unwrap(), options(false, 1, &[10, 50, 100, 200]));
        assert_eq!(
            given(&["--release", "25", "--runs", "3", "50"]).unwrap(),
            options(true, 3, &[25, 50])
        );
        for bad in [&["1"][..], &["--bogus"], &["--runs"], &["--runs", "0"]] {
            assert!(matches!(given(bad), Err(Failure::Usage(_))), "{bad:?}");
        }
        let table = scaling_table(&[(10, Some(Duration::from_millis(1500))), (200, None)]);
        assert!(table.contains("| 10 (11) | 1.50 | 3.0 | 1.4 |"), "{table}");
        assert!(
            table.contains("| 200 (201) | failed | 120.8 | 25.2 |"),
            "{table}"
        );
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
