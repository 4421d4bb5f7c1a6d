//! The `rehearsal` command: see `rehearsal --help` and `rehearsal_sim::cli`.

fn main() {
    std::process::exit(rehearsal_sim::cli::main());
}
