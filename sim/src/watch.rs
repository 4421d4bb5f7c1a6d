//! Watching a run from outside: how far a long simulation has got, for progress on stderr.
//!
//! A [`RunWatch`] is a handful of counters that [`crate::Sim`] updates as a run goes through
//! its phases (the reference run, starting the nodes, running until every participant has
//! finished) and that the recorder bumps with every datagram. Another thread reads them to
//! print progress; nothing here reaches the trace, so a watched run is the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one run in progress, shared between the simulation and a watcher.
#[derive(Debug, Default)]
pub struct RunWatch {
    phase: AtomicU64,
    participants: AtomicU64,
    nodes: AtomicU64,
    finished: AtomicU64,
    datagrams: AtomicU64,
    sim_us: AtomicU64,
}

/// The phases of a run, in order.
const PHASES: [&str; 4] = ["setting up", "reference run", "starting nodes", "running"];

impl RunWatch {
    /// Fresh counters.
    pub fn new() -> Arc<RunWatch> {
        Arc::new(RunWatch::default())
    }

    /// The run began its reference run, over `participants` participants.
    pub fn reference(&self, participants: usize) {
        self.participants.store(participants as u64, Relaxed);
        self.phase.store(1, Relaxed);
    }

    /// The run is starting its nodes.
    pub fn starting(&self) {
        self.phase.store(2, Relaxed);
    }

    /// One more node is up.
    pub fn node_started(&self) {
        self.nodes.fetch_add(1, Relaxed);
    }

    /// Every node is up; the participants run.
    pub fn running(&self) {
        self.phase.store(3, Relaxed);
    }

    /// `n` participants have finished.
    pub fn finished(&self, n: usize) {
        self.finished.store(n as u64, Relaxed);
    }

    /// A datagram went on the wire at simulated time `sim_us`.
    pub fn datagram(&self, sim_us: u64) {
        self.datagrams.fetch_add(1, Relaxed);
        self.sim_us.fetch_max(sim_us, Relaxed);
    }

    /// One line on where the run is.
    pub fn line(&self) -> String {
        let phase = PHASES[(self.phase.load(Relaxed) as usize).min(PHASES.len() - 1)];
        let n = self.participants.load(Relaxed);
        format!(
            "{phase}: {} of {n} nodes started, {} of {n} participants finished, {} datagrams, {:.3} s simulated",
            self.nodes.load(Relaxed),
            self.finished.load(Relaxed),
            self.datagrams.load(Relaxed),
            self.sim_us.load(Relaxed) as f64 / 1e6
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_follows_the_counters() {
        let w = RunWatch::new();
        assert!(
            w.line().starts_with("setting up: 0 of 0 nodes"),
            "{}",
            w.line()
        );
        w.reference(3);
        w.starting();
        w.node_started();
        w.datagram(1_500_000);
        w.datagram(1_000_000);
        assert_eq!(
            w.line(),
            "starting nodes: 1 of 3 nodes started, 0 of 3 participants finished, 2 datagrams, 1.500 s simulated"
        );
        w.running();
        w.finished(2);
        assert!(
            w.line()
                .starts_with("running: 1 of 3 nodes started, 2 of 3"),
            "{}",
            w.line()
        );
    }
}
