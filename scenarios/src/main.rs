//! The `rehearsal` command over the shipped scenarios: see `rehearsal --help` and
//! `rehearsal_sim::cli`.

fn main() -> std::process::ExitCode {
    rehearsal_sim::cli::main(rehearsal_scenarios::registry())
}
