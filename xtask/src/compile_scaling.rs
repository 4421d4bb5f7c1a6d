//! `cargo xtask compile-scaling`: how the build time of a choreography grows with its number
//! of roles, on Chorex's own compile-time benchmark (`BigChor`), next to Chorex's figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Failure, cargo, format_duration, workspace_root};

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
/// For each N, writes two throwaway crates, `target/compile-scaling/n<N>/` and `n<N>-one/`
/// (each its own workspace, depending on the runtime by path), whose choreography is Chorex's
/// `BigChor` with N workers (N + 1 roles, a named census): a daisy chain
/// `W1 -> .. -> W<N> -> W1` run three times, in three nested checkpoints or none, as
/// `Dispatch` decides (see [`scaling_source`]), the chain written in segments of [`SEGMENT`]
/// hops or in one function ([`Form`]). Every crate shares the target directory
/// `target/compile-scaling/target`, so the dependencies are built once, by an untimed warm-up
/// build of the N=2 crate; each timed `cargo build` (debug, or release with `--release`) then
/// compiles only the generated crate, from scratch (its incremental cache is deleted first);
/// with `--runs K` each crate is built K times and the fastest counts (other load on the
/// machine only ever slows a build down). Prints a Markdown table and writes it to
/// `target/compile-scaling.md` (`target/compile-scaling-release.md` with `--release`).
pub fn compile_scaling(args: &[String]) -> Result<(), Failure> {
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
    let warm_up = write_scaling_crate(&root, 2, Form::Segments)?;
    scaling_build(&warm_up, &target_dir, release)
        .map_err(|error| Failure::Step(format!("compile-scaling warm-up: {error}")))?;

    let mut rows = Vec::new();
    for &n in &roles {
        let mut row = Row {
            workers: n,
            segments: None,
            one_function: None,
        };
        for form in [Form::Segments, Form::OneFunction] {
            let fastest = fastest_build(&root, &target_dir, n, form, release, runs)?;
            match form {
                Form::Segments => row.segments = fastest,
                Form::OneFunction => row.one_function = fastest,
            }
        }
        rows.push(row);
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
         (`cargo xtask compile-scaling`), the chain written in segments of {SEGMENT} hops or \
         in one function. Chorex's figures were measured on a machine like \
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
    match rows
        .iter()
        .find(|row| row.segments.is_none() || row.one_function.is_none())
    {
        Some(row) => Err(Failure::Step(format!(
            "compile-scaling: a build for {} workers failed (see above)",
            row.workers
        ))),
        None => Ok(()),
    }
}

/// How the generated crate writes the daisy chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// In segments of [`SEGMENT`] hops, each an `async fn`, which `work` calls in turn: how a
    /// long chain is written in Rust (rustc's type checking and code generation of one
    /// `async fn` grow faster than its number of awaits).
    Segments,
    /// Every hop in the one `async fn work`, as Chorex's generator writes it.
    OneFunction,
}

/// Hops per segment in [`Form::Segments`].
const SEGMENT: usize = 10;

impl Form {
    /// The suffix of the generated crate's name and directory.
    fn suffix(self) -> &'static str {
        match self {
            Form::Segments => "",
            Form::OneFunction => "-one",
        }
    }
}

/// One line of the table: the fastest build of each form (`None`: it failed).
struct Row {
    workers: usize,
    segments: Option<Duration>,
    one_function: Option<Duration>,
}

/// Builds the crate for `n` workers in form `form` `runs` times, from scratch each time, and
/// returns the fastest (`None` if a build failed, after printing why).
fn fastest_build(
    root: &Path,
    target_dir: &Path,
    n: usize,
    form: Form,
    release: bool,
    runs: usize,
) -> Result<Option<Duration>, Failure> {
    let profile = if release { "release" } else { "debug" };
    let mut fastest: Option<Duration> = None;
    for run in 1..=runs {
        let dir = write_scaling_crate(root, n, form)?;
        forget_incremental(
            &target_dir.join(profile).join("incremental"),
            &crate_name(n, form),
        );
        let flag = if release { " --release" } else { "" };
        let what = match form {
            Form::Segments => format!("in segments of {SEGMENT} hops"),
            Form::OneFunction => "in one function".to_string(),
        };
        println!("==> {n} workers, chain {what}, run {run}/{runs}: cargo build{flag}");
        match scaling_build(&dir, target_dir, release) {
            Ok(elapsed) => {
                println!("    {:.2} s", elapsed.as_secs_f64());
                fastest = Some(fastest.map_or(elapsed, |best| best.min(elapsed)));
            }
            Err(error) => {
                eprintln!("    failed: {error}");
                return Ok(None);
            }
        }
    }
    Ok(fastest)
}

/// The generated crate's package name for `n` workers in form `form`.
fn crate_name(n: usize, form: Form) -> String {
    format!("compile-scaling-n{n}{}", form.suffix())
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
fn scaling_source(n: usize, form: Form) -> String {
    let workers: Vec<String> = (1..=n).map(|i| format!("W{i}")).collect();
    let all = format!("Dispatch, {}", workers.join(", "));
    let written = match form {
        Form::Segments => format!("in segments of {SEGMENT} hops"),
        Form::OneFunction => "in one function".to_string(),
    };
    let mut src = format!(
        "//! Generated by `cargo xtask compile-scaling`: Chorex's `BigChor` with {n} workers, a\n\
         //! daisy chain inside three nested checkpoints or none, chosen by `Dispatch`; the\n\
         //! chain written {written}.\n"
    );
    src.push_str(&format!(
        r#"
use rehearsal::{{At, Choreo, ChoreoError, Choreography, FamilySizes, Program, census, roles}};

roles!({all});

census!(
    /// Every role: a named census, which the compiler checks membership of without a walk.
    pub Census = [{all}]
);

/// A worker's local step (Chorex's hashes the number; any function does for compile time).
fn work_hard(x: u64) -> u64 {{
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ x
}}
"#
    ));
    let hop = |i: usize| {
        let (from, to) = (&workers[i], &workers[(i + 1) % n]);
        format!(
            "    let x = ch.locally({from}, |l| work_hard(*l.get(&x))).await?;\n    \
             let x = ch.comm({from}, {to}, &x).await?;\n"
        )
    };
    let lap =
        "\n/// One lap of the daisy chain: W1 -> .. -> W{n} -> W1, each sender working before it \
               sends.\nasync fn work(ch: &Choreo<Census>, x: At<u64, W1>) -> Result<At<u64, W1>, \
               ChoreoError> {\n"
            .replace("{n}", &n.to_string());
    match form {
        Form::OneFunction => {
            src.push_str(&lap);
            (0..n).for_each(|i| src.push_str(&hop(i)));
        }
        Form::Segments => {
            let starts: Vec<usize> = (0..n).step_by(SEGMENT).collect();
            for (k, &start) in starts.iter().enumerate() {
                let end = (start + SEGMENT).min(n);
                let (from, to) = (&workers[start], &workers[end % n]);
                src.push_str(&format!(
                    "\n/// Hops {} to {} of the chain: {from} -> .. -> {to}.\n\
                     async fn segment{k}(ch: &Choreo<Census>, x: At<u64, {from}>) \
                     -> Result<At<u64, {to}>, ChoreoError> {{\n",
                    start + 1,
                    end
                ));
                (start..end).for_each(|i| src.push_str(&hop(i)));
                src.push_str("    Ok(x)\n}\n");
            }
            src.push_str(&lap);
            for k in 0..starts.len() {
                src.push_str(&format!("    let x = segment{k}(ch, x).await?;\n"));
            }
        }
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

/// The manifest of generated crate `name`: its own workspace, so the main workspace
/// does not claim it, with the runtime at `runtime` (an absolute path).
fn scaling_manifest(name: &str, runtime: &Path) -> String {
    let runtime = runtime.display().to_string().replace('\\', "/");
    format!(
        "# Generated by `cargo xtask compile-scaling`.\n\
         [package]\n\
         name = \"{name}\"\n\
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
fn write_scaling_crate(root: &Path, n: usize, form: Form) -> Result<PathBuf, Failure> {
    let dir = root
        .join("target")
        .join("compile-scaling")
        .join(format!("n{n}{}", form.suffix()));
    let write = |path: PathBuf, contents: &str| {
        std::fs::write(&path, contents)
            .map_err(|error| Failure::Step(format!("writing {}: {error}", path.display())))
    };
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|error| Failure::Step(format!("creating {}: {error}", dir.display())))?;
    write(
        dir.join("Cargo.toml"),
        &scaling_manifest(&crate_name(n, form), &root.join("runtime")),
    )?;
    write(dir.join("src").join("lib.rs"), &scaling_source(n, form))?;
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        // Best effort: without it cargo resolves the dependencies afresh.
        let _ = std::fs::copy(root.join("Cargo.lock"), &lock);
    }
    Ok(dir)
}

/// Deletes the incremental-compilation caches of crate `name` in `incremental`, so
/// the next debug build compiles it from scratch even when its source is unchanged.
fn forget_incremental(incremental: &Path, name: &str) {
    let prefix = format!("{}-", name.replace('-', "_"));
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

/// The Markdown table of build times (`None`: the build failed) next to Chorex's, with the
/// growth from 100 to 200 workers when both were built.
fn scaling_table(rows: &[Row]) -> String {
    let mut table = format!(
        "| workers (roles) | build (s), chain in segments of {SEGMENT} | build (s), chain in one \
         function | Chorex BigChor (s) | Chorex, one checkpoint (s) |\n\
         |---:|---:|---:|---:|---:|\n"
    );
    let seconds = |time: Option<Duration>| {
        time.map_or("failed".to_string(), |t| format!("{:.2}", t.as_secs_f64()))
    };
    for row in rows {
        let n = row.workers;
        let chorex = CHOREX_COMPILE_SECONDS
            .iter()
            .find(|&&(workers, _, _)| workers == n);
        let (big, single) = chorex.map_or(("n/a".to_string(), "n/a".to_string()), |c| {
            (format!("{:.1}", c.1), format!("{:.1}", c.2))
        });
        table.push_str(&format!(
            "| {n} ({}) | {} | {} | {big} | {single} |\n",
            n + 1,
            seconds(row.segments),
            seconds(row.one_function)
        ));
    }
    let at = |n: usize| rows.iter().find(|row| row.workers == n);
    if let (Some(small), Some(large)) = (at(100), at(200)) {
        let growth = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}x", b.as_secs_f64() / a.as_secs_f64()),
            _ => "n/a".to_string(),
        };
        table.push_str(&format!(
            "\nFrom 100 to 200 workers: {} in segments, {} in one function (Chorex: {:.2}x).\n",
            growth(small.segments, large.segments),
            growth(small.one_function, large.one_function),
            120.8 / 27.9
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
mod tests {
    use super::*;

    #[test]
    fn the_generated_choreography_is_chorex_big_chor() {
        for form in [Form::Segments, Form::OneFunction] {
            let src = scaling_source(3, form);
            assert!(src.contains("roles!(Dispatch, W1, W2, W3);"), "{src}");
            assert!(src.contains("pub Census = [Dispatch, W1, W2, W3]"), "{src}");
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
            assert!(!scaling_source(200, form).contains("recursion_limit"));
        }
    }

    #[test]
    fn the_segments_chain_every_hop_once_in_order() {
        let src = scaling_source(25, Form::Segments);
        // 25 hops in segments of 10: W1 -> W11, W11 -> W21, W21 -> W1.
        for signature in [
            "async fn segment0(ch: &Choreo<Census>, x: At<u64, W1>) -> Result<At<u64, W11>,",
            "async fn segment1(ch: &Choreo<Census>, x: At<u64, W11>) -> Result<At<u64, W21>,",
            "async fn segment2(ch: &Choreo<Census>, x: At<u64, W21>) -> Result<At<u64, W1>,",
        ] {
            assert!(src.contains(signature), "{signature} missing:\n{src}");
        }
        assert_eq!(src.matches("ch.comm(").count(), 25, "{src}");
        let work = &src[src.find("async fn work(").unwrap()..];
        let calls: Vec<usize> = (0..3)
            .map(|k| work.find(&format!("segment{k}(ch, x)")).unwrap())
            .collect();
        assert!(calls.windows(2).all(|w| w[0] < w[1]), "{work}");
        let one = scaling_source(25, Form::OneFunction);
        assert!(!one.contains("async fn segment"), "{one}");
        assert_eq!(one.matches("ch.comm(").count(), 25, "{one}");
    }

    #[test]
    fn the_generated_manifest_is_its_own_workspace() {
        let manifest = scaling_manifest(
            &crate_name(10, Form::OneFunction),
            Path::new("/abs/runtime"),
        );
        assert!(manifest.contains("name = \"compile-scaling-n10-one\""));
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
        let row = |workers, segments: Option<u64>, one: Option<u64>| Row {
            workers,
            segments: segments.map(Duration::from_millis),
            one_function: one.map(Duration::from_millis),
        };
        let table = scaling_table(&[
            row(10, Some(1500), Some(1600)),
            row(100, Some(2000), Some(6000)),
            row(200, Some(4200), None),
        ]);
        assert!(
            table.contains("| 10 (11) | 1.50 | 1.60 | 3.0 | 1.4 |"),
            "{table}"
        );
        assert!(
            table.contains("| 200 (201) | 4.20 | failed | 120.8 | 25.2 |"),
            "{table}"
        );
        assert!(
            table.contains("From 100 to 200 workers: 2.10x in segments, n/a in one function"),
            "{table}"
        );
    }
}
