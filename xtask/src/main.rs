//! Project chores for Rehearsal, following the [xtask convention]: `cargo xtask <command>`
//! (the alias lives in `.cargo/config.toml`) runs this binary from the workspace root.
//!
//! ```text
//! cargo xtask test              fmt check, then clippy + tests in std mode, then in sim mode
//! cargo xtask test --quick      tests only (no fmt, no clippy)
//! cargo xtask test --std-only   std mode only
//! cargo xtask test --sim-only   sim mode only (`--cfg madsim`, target dir `target/sim`)
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
//! To add a command (`bench-report`, `bench-check`, ...), write a function taking the remaining
//! arguments and returning `Result<(), Failure>`, add it to [`COMMANDS`] and to the `match` in
//! [`dispatch`].
//!
//! Only the standard library is used, so this builds fast on a fresh machine.
//!
//! [xtask convention]: https://github.com/matklad/cargo-xtask

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The commands `cargo xtask` understands, with a one-line description each (for the usage).
const COMMANDS: &[(&str, &str)] = &[(
    "test [--quick] [--std-only | --sim-only]",
    "fmt check, clippy and tests in std mode, then in sim mode",
)];

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
        text.push_str(&format!("    {synopsis:<44} {description}\n"));
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
/// 1. `cargo fmt --all -- --check` (unless `--quick`);
/// 2. for each mode: `cargo clippy --workspace --all-targets -- -D warnings` (unless `--quick`),
///    the tests (nextest if installed, else `cargo test`), and in std mode the doc tests.
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
        steps.extend(test_steps(mode, nextest));
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
                "clippy (std): cargo clippy --workspace --all-targets -- -D warnings".to_string(),
                "tests (std): cargo nextest run --workspace".to_string(),
                "doc tests (std): cargo test --workspace --doc".to_string(),
                format!(
                    "clippy (sim): cargo clippy --workspace --all-targets {sim} -- -D warnings"
                ),
                format!("tests (sim): cargo nextest run --workspace {sim}"),
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
