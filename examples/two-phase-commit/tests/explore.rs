//! Rehearses the two-phase commit: thousands of seeds, each with random faults of every kind
//! (crashes, panics, delays, drops, duplicates, partitions, pauses), checked against the
//! harness's oracles (outcome equals the reference along the run's path, liveness), the
//! scenario's (agreement, validity) and this test's own.
//!
//! `TPC_SEEDS=N` explores N seeds instead of 2,000. A failure is shrunk, saved as a repro
//! file, and reported with the one command that replays it.
#![cfg(madsim)]

use rehearsal_sim::coverage::parse_paths;
use rehearsal_sim::exhaustive::Exhaustive;
use rehearsal_sim::{FaultKind, Outputs, Rehearse, Trace};
use two_phase_commit::scenario::scenario;
use two_phase_commit::{Applied, Decision, TwoPhaseCommit};

/// How many seeds each exploration runs.
fn seeds(default: u64) -> u64 {
    match std::env::var("TPC_SEEDS") {
        Ok(n) => n
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("TPC_SEEDS=`{n}`: expected a number of seeds")),
        Err(_) => default,
    }
}

fn rehearse(default_seeds: u64) -> Rehearse {
    // The replay command must build the same code: with the planted bug when it is planted.
    let command = if cfg!(feature = "planted-bug") {
        "cargo sim-test --features planted-bug"
    } else {
        "cargo sim-test"
    };
    Rehearse::new(&scenario())
        .seeds(0..seeds(default_seeds))
        .faults(FaultKind::ALL)
        .test_command(command)
}

/// A committable transaction that aborted must show why in its trace: a fault, a rescue, or
/// a vote that timed out.
fn abort_has_a_cause(
    params: &rehearsal_sim::Params,
    outputs: &Outputs<Applied>,
    trace: &Trace,
) -> Result<(), String> {
    if !TwoPhaseCommit::from_params(params).may_commit() {
        return Ok(());
    }
    let aborted = outputs
        .iter()
        .any(|(_, v)| matches!(v, Ok(v) if v.applied() == Decision::Abort));
    let cause = ["fault", "rescue", "timed-out"]
        .iter()
        .any(|kind| trace.count(kind) > 0);
    if aborted && !cause {
        return Err("the transaction could commit and aborted with no fault, rescue or timeout in the trace".into());
    }
    Ok(())
}

#[test]
fn commits_atomically_under_every_fault_kind() {
    rehearse(2_000)
        .trace_oracle("abort-has-a-cause", abort_has_a_cause)
        .check();
}

#[test]
fn every_single_fault_at_every_site_commits_atomically_and_walks_what_it_expects() {
    // Every fault kind at every (participant, site, occurrence) of the fault-free run, then
    // a second fault wherever those runs went new ways (the rescue, the replay); the rescue,
    // a timed-out vote and a restart must each have been walked.
    let expected = parse_paths("expected").expect("a path list");
    rehearse(1)
        .exhaustive(Exhaustive::default())
        .require_coverage(expected)
        .trace_oracle("abort-has-a-cause", abort_has_a_cause)
        .check();
}

#[test]
fn aborts_when_a_ledger_cannot_pay() {
    rehearse(300).params(["p2-balance=10"]).check();
}

#[test]
fn aborts_when_a_disk_is_full() {
    rehearse(300).params(["disk-full=1"]).check();
}
