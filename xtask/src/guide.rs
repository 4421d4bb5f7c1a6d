//! `cargo xtask guide`: every shell command of `docs/guide.md` runs, as written, from the
//! workspace root.
//!
//! The commands are the lines of the guide's ` ```sh ` blocks (blocks of any other language are
//! prose). Within one, blank lines and `#` comments are skipped, and a line ending in `\` goes
//! on on the next line, as in a shell. Each command runs with `bash -c` and must exit 0; a
//! command that is meant to fail is written `! command`, which the shell turns into success
//! exactly when the command fails. The first failing command stops the check with the guide's
//! line, the command and everything it printed.
//!
//! `cargo xtask guide --list` prints the commands without running them; `--file PATH` checks
//! another guide.
//!
//! `cargo xtask planted-bug` is the guide's "replaying a failure", checked end to end: with
//! the example's `planted-bug` feature, its exploration test must fail, shrink the case to at
//! most two faults and print one replay command; that command, run as printed, must fail the
//! same way with the same trace hash.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{Failure, format_duration, workspace_root};

/// The guide checked by default, relative to the workspace root.
const GUIDE: &str = "docs/guide.md";

/// One command of the guide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GuideCommand {
    /// The guide's line where the command starts (from 1).
    pub(crate) line: usize,
    /// The command, continuation lines joined.
    pub(crate) text: String,
}

/// Options of `cargo xtask guide`.
#[derive(Debug, PartialEq, Eq)]
struct GuideOptions {
    /// Print the commands instead of running them.
    list: bool,
    /// The guide to check.
    file: PathBuf,
}

impl GuideOptions {
    fn parse(args: &[String]) -> Result<GuideOptions, Failure> {
        let mut options = GuideOptions {
            list: false,
            file: PathBuf::from(GUIDE),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--list" => options.list = true,
                "--file" => {
                    let path = args.next().ok_or_else(|| {
                        Failure::Usage("`--file` needs a path to a markdown file".into())
                    })?;
                    options.file = PathBuf::from(path);
                }
                other => {
                    return Err(Failure::Usage(format!(
                        "unknown option `{other}` for `cargo xtask guide`; expected --list or --file PATH"
                    )));
                }
            }
        }
        Ok(options)
    }
}

/// `cargo xtask guide [--list] [--file PATH]`.
pub(crate) fn guide(args: &[String]) -> Result<(), Failure> {
    let options = GuideOptions::parse(args)?;
    let root = workspace_root();
    let path = root.join(&options.file);
    let shown = options.file.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::Step(format!("cannot read the guide {}: {e}", path.display())))?;
    let commands = commands(&text).map_err(|e| Failure::Step(format!("{shown}:{e}")))?;
    if commands.is_empty() {
        return Err(Failure::Step(format!(
            "{shown} has no ```sh block: nothing to check (expected the guide's commands in ```sh blocks)"
        )));
    }
    if options.list {
        for c in &commands {
            println!("{shown}:{}: {}", c.line, c.text);
        }
        return Ok(());
    }
    let started = Instant::now();
    for c in &commands {
        run(&root, &shown, c)?;
    }
    println!(
        "==> guide: all {} commands of {shown} passed in {}",
        commands.len(),
        format_duration(started.elapsed())
    );
    Ok(())
}

/// Runs one command from `root`; on failure, the error holds its output.
fn run(root: &Path, guide: &str, c: &GuideCommand) -> Result<(), Failure> {
    println!("==> {guide}:{}: {}", c.line, c.text);
    let out = Command::new("bash")
        .args(["-c", &c.text])
        .current_dir(root)
        .output()
        .map_err(|e| {
            Failure::Step(format!(
                "{guide}:{}: cannot start bash for `{}`: {e}",
                c.line, c.text
            ))
        })?;
    if out.status.success() {
        return Ok(());
    }
    let mut printed = String::from_utf8_lossy(&out.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(Failure::Step(format!(
        "{guide}:{}: the guide's command failed ({}):\n    {}\nits output:\n{}",
        c.line,
        out.status,
        c.text,
        tail(&printed, 200)
    )))
}

/// The planted bug's exploration, run as a user would (see the example's `tests/explore.rs`).
const PLANTED: &str = "cargo sim-test -p two-phase-commit --features planted-bug --test explore -- \
                       commits_atomically_under_every_fault_kind --exact";

/// The most faults the planted bug's shrunk case may keep.
const MOST_FAULTS: usize = 2;

/// `cargo xtask planted-bug`: see the module docs.
pub(crate) fn planted_bug(args: &[String]) -> Result<(), Failure> {
    if let Some(arg) = args.first() {
        return Err(Failure::Usage(format!(
            "unknown argument `{arg}` for `cargo xtask planted-bug`; it takes none"
        )));
    }
    let root = workspace_root();
    let fail = |m: String| Failure::Step(format!("planted bug: {m}"));
    println!("==> planted bug: {PLANTED}");
    let (ok, found) = shell(&root, PLANTED).map_err(fail)?;
    if ok {
        return Err(fail(format!(
            "the exploration passed with the bug planted; expected it to fail\n{}",
            tail(&found, 40)
        )));
    }
    let report =
        FailureReport::read(&found).map_err(|e| fail(format!("{e}\n{}", tail(&found, 60))))?;
    if report.faults > MOST_FAULTS {
        return Err(fail(format!(
            "the case shrank to {} faults; expected at most {MOST_FAULTS}\n{}",
            report.faults,
            tail(&found, 40)
        )));
    }
    println!(
        "    failed as expected, shrunk to {} fault(s), trace-hash {}",
        report.faults, report.trace_hash
    );
    println!("==> planted bug, replay: {}", report.replay);
    let (ok, replayed) = shell(&root, &report.replay).map_err(fail)?;
    let same = format!("trace-hash matches the recorded {}", report.trace_hash);
    if ok || !replayed.contains(&same) || !replayed.contains("an oracle was violated") {
        return Err(fail(format!(
            "the printed command did not reproduce the failure with trace-hash {} (exit {}):\n{}",
            report.trace_hash,
            if ok { "0" } else { "non-zero" },
            tail(&replayed, 60)
        )));
    }
    println!(
        "    reproduced: the same violation, trace-hash {}",
        report.trace_hash
    );
    Ok(())
}

/// Runs `command` with bash from `root`: whether it succeeded, and its stdout and stderr.
fn shell(root: &Path, command: &str) -> Result<(bool, String), String> {
    let out = Command::new("bash")
        .args(["-c", command])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot start bash for `{command}`: {e}"))?;
    let mut printed = String::from_utf8_lossy(&out.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), printed))
}

/// What a failing `Rehearse::check` printed: the shrunk plan's size, the trace hash and the
/// replay command.
#[derive(Debug, PartialEq, Eq)]
struct FailureReport {
    faults: usize,
    trace_hash: String,
    replay: String,
}

impl FailureReport {
    fn read(output: &str) -> Result<FailureReport, String> {
        let line = |prefix: &str| {
            output
                .lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix(prefix))
                .map(str::trim)
                .ok_or_else(|| format!("the failing test printed no `{prefix}` line"))
        };
        let shrunk = line("plan shrunk from ")?;
        let faults = shrunk
            .split_once(" to ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                format!("cannot read the shrunk plan's size from `plan shrunk from {shrunk}`")
            })?;
        let replays = output
            .lines()
            .filter(|l| l.trim().starts_with("replay: "))
            .count();
        if replays != 1 {
            return Err(format!(
                "the failing test printed {replays} replay commands; expected exactly one"
            ));
        }
        Ok(FailureReport {
            faults,
            trace_hash: line("trace-hash ")?.to_string(),
            replay: line("replay: ")?.to_string(),
        })
    }
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skipped = lines.len().saturating_sub(n);
    let mut out = String::new();
    if skipped > 0 {
        out.push_str(&format!("[{skipped} earlier lines left out]\n"));
    }
    for l in &lines[skipped..] {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The commands of the ` ```sh ` blocks of `markdown`; an error (`LINE: message`) for a block
/// that is never closed or a continuation that runs past its block's end.
pub(crate) fn commands(markdown: &str) -> Result<Vec<GuideCommand>, String> {
    let mut out = Vec::new();
    // The fence that opened the current block, and whether it is a shell block.
    let mut open: Option<(usize, String, bool)> = None;
    let mut pending: Option<GuideCommand> = None;
    for (i, raw) in markdown.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim_start();
        match &open {
            None => {
                if let Some(fence) = fence(trimmed) {
                    let info = trimmed[fence.len()..].trim();
                    let lang = info.split([' ', ',', '{']).next().unwrap_or("");
                    open = Some((line, fence, lang == "sh"));
                }
            }
            Some((start, fence, shell)) => {
                if trimmed.starts_with(fence.as_str()) && trimmed[fence.len()..].trim().is_empty() {
                    if let Some(c) = pending.take() {
                        return Err(format!(
                            "{}: the command continues with `\\` past the end of its block (opened at line {start})",
                            c.line
                        ));
                    }
                    open = None;
                    continue;
                }
                if !shell {
                    continue;
                }
                let body = raw.trim();
                if let Some(c) = &mut pending {
                    c.text.push(' ');
                    c.text.push_str(body.trim_end_matches('\\').trim_end());
                    if !body.ends_with('\\') {
                        out.extend(pending.take());
                    }
                    continue;
                }
                if body.is_empty() || body.starts_with('#') {
                    continue;
                }
                let c = GuideCommand {
                    line,
                    text: body.trim_end_matches('\\').trim_end().to_string(),
                };
                if body.ends_with('\\') {
                    pending = Some(c);
                } else {
                    out.push(c);
                }
            }
        }
    }
    if let Some((start, fence, _)) = open {
        return Err(format!(
            "{start}: the code block opened with {fence} is never closed"
        ));
    }
    Ok(out)
}

/// The fence (three or more backticks or tildes) a line opens a code block with.
fn fence(line: &str) -> Option<String> {
    let c = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = line.chars().take_while(|x| *x == c).count();
    (n >= 3).then(|| c.to_string().repeat(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(markdown: &str) -> Vec<(usize, String)> {
        commands(markdown)
            .unwrap()
            .into_iter()
            .map(|c| (c.line, c.text))
            .collect()
    }

    #[test]
    fn only_sh_blocks_hold_commands() {
        let md = "# Guide\n\n```toml\n[dependencies]\n```\n\n```sh\n# build first\ncargo build\n\n! cargo test --features bug\n```\n\n```\nnot a command\n```\n";
        assert_eq!(
            texts(md),
            [
                (9, "cargo build".to_string()),
                (11, "! cargo test --features bug".to_string())
            ]
        );
    }

    #[test]
    fn continuation_lines_join_and_longer_fences_nest() {
        let md = "````sh\ncargo sim-test \\\n    -p two-phase-commit \\\n    --test explore\n```\n````\n";
        // The inner ``` does not close a ```` block, so it is a command line: it fails loudly
        // in the check rather than being skipped.
        assert_eq!(
            texts(md),
            [
                (
                    2,
                    "cargo sim-test -p two-phase-commit --test explore".to_string()
                ),
                (5, "```".to_string())
            ]
        );
    }

    #[test]
    fn unclosed_blocks_and_dangling_continuations_are_errors() {
        assert_eq!(
            commands("text\n```sh\ncargo build\n").unwrap_err(),
            "2: the code block opened with ``` is never closed"
        );
        assert_eq!(
            commands("```sh\ncargo build \\\n```\n").unwrap_err(),
            "2: the command continues with `\\` past the end of its block (opened at line 1)"
        );
    }

    #[test]
    fn options_parse() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            GuideOptions::parse(&args(&["--list", "--file", "x.md"])).unwrap(),
            GuideOptions {
                list: true,
                file: PathBuf::from("x.md")
            }
        );
        assert!(matches!(
            GuideOptions::parse(&args(&["--file"])),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            GuideOptions::parse(&args(&["--run"])),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn a_failure_report_gives_its_size_hash_and_command() {
        let out = "running 1 test\n---- x stdout ----\nrehearse `two-phase-commit`: an oracle was violated at seed 44\n  agreement: P1 applied Commit\nplan shrunk from 3 to 1 fault(s) in 12 runs: pause\nrepro: /t/x.toml\ntrace-hash 00ff\nreplay: REHEARSAL_REPLAY=/t/x.toml cargo sim-test -p two-phase-commit --test explore\n";
        assert_eq!(
            FailureReport::read(out).unwrap(),
            FailureReport {
                faults: 1,
                trace_hash: "00ff".into(),
                replay:
                    "REHEARSAL_REPLAY=/t/x.toml cargo sim-test -p two-phase-commit --test explore"
                        .into()
            }
        );
        let twice = format!("{out}replay: again\n");
        assert!(
            FailureReport::read(&twice)
                .unwrap_err()
                .contains("2 replay commands")
        );
        assert!(
            FailureReport::read("nothing")
                .unwrap_err()
                .contains("plan shrunk from")
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "[1 earlier lines left out]\nb\nc\n");
        assert_eq!(tail("a\n", 5), "a\n");
    }
}
