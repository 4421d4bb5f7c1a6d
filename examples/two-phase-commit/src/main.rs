//! This crate's own `rehearsal` command line: `list`, `run`, `explore`, `replay` and `shrink`
//! over its scenarios (build in sim mode: `cargo sim-run -p two-phase-commit -- list`).

fn main() -> std::process::ExitCode {
    rehearsal_sim::cli::main(two_phase_commit::scenario::registry())
}
