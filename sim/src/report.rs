//! Reports: what a simulated run returns.

use std::fmt::Write as _;
use std::time::Duration;

use rehearsal::Outcomes;
use serde::Serialize;

use crate::net::NetConfig;
use crate::trace::Trace;

/// Counters of one run, taken from its trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SimStats {
    /// Frames sent for the first time.
    pub frames_sent: u64,
    /// New frames accepted by their receivers.
    pub delivered: u64,
    /// Frames the network lost.
    pub dropped: u64,
    /// Frames the network delivered twice.
    pub duplicated: u64,
    /// Copies discarded by the receivers' duplicate suppression.
    pub duplicates_suppressed: u64,
    /// Retransmissions.
    pub retransmitted: u64,
    /// Bytes of first sends.
    pub bytes: u64,
    /// Simulated time until the last participant finished, in microseconds.
    pub sim_time_us: u64,
    /// Datagrams the nodes handed to the network (frames, acknowledgements,
    /// retransmissions).
    pub datagrams: u64,
    /// Their bytes.
    pub wire_bytes: u64,
    /// Store transactions committed by every node's journal.
    pub store_commits: u64,
    /// Single writes in them.
    pub store_writes: u64,
    /// Store syncs.
    pub store_syncs: u64,
}

impl SimStats {
    /// Counts the events of `trace`.
    pub fn of(trace: &Trace, sim_time: Duration) -> SimStats {
        SimStats {
            frames_sent: trace.count("send"),
            delivered: trace.count("deliver"),
            dropped: trace.count("net-drop"),
            duplicated: trace.count("net-duplicate"),
            duplicates_suppressed: trace.count("duplicate"),
            retransmitted: trace.count("retransmit"),
            bytes: trace
                .events
                .iter()
                .filter(|e| e.kind == "send")
                .filter_map(|e| e.bytes)
                .sum::<usize>() as u64,
            sim_time_us: sim_time.as_micros() as u64,
            ..SimStats::default()
        }
    }
}

/// The result of one simulated run.
#[derive(Clone, Debug)]
pub struct Report {
    /// What ran (a scenario name, or a user program's label).
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// The network conditions.
    pub net: NetConfig,
    /// The store its nodes journaled to.
    pub store: crate::disk::StoreKind,
    /// Every participant's outcome.
    pub outcomes: Outcomes,
    /// The reference run's outcomes.
    pub reference: Outcomes,
    /// One line per violated oracle; empty when every oracle held.
    pub violations: Vec<String>,
    /// Every event.
    pub trace: Trace,
    /// Counters.
    pub stats: SimStats,
    /// Hash of the canonical trace.
    pub trace_hash: u64,
    /// Every (site, acting participant) of the run, with counts: what plans may name.
    pub site_uses: Vec<crate::plan::SiteUse>,
}

impl Report {
    /// A report that passed, standing in for a run that could not be made (used only where a
    /// candidate must count as not failing).
    pub fn passing_placeholder(seed: u64, net: NetConfig) -> Report {
        Report {
            name: String::new(),
            seed,
            net,
            store: crate::disk::StoreKind::Model,
            outcomes: Outcomes::new(Vec::new()),
            reference: Outcomes::new(Vec::new()),
            violations: Vec::new(),
            trace: Trace::default(),
            stats: SimStats::default(),
            trace_hash: 0,
            site_uses: Vec::new(),
        }
    }

    /// Faults that fired, by kind (`crash`, `drop`, ...).
    pub fn faults_fired(&self) -> std::collections::BTreeMap<String, u64> {
        let mut out = std::collections::BTreeMap::new();
        for e in self.trace.events.iter().filter(|e| e.kind == "fault") {
            let kind = e
                .detail
                .as_deref()
                .and_then(|d| d.split_whitespace().next())
                .unwrap_or("?");
            *out.entry(kind.to_string()).or_insert(0) += 1;
        }
        out
    }

    /// Whether every oracle held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The trace hash as 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.trace_hash)
    }

    /// A human summary: conditions, outcomes, counters, verdict (no trace).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "scenario  {}", self.name);
        let _ = writeln!(s, "seed      {}", self.seed);
        let _ = writeln!(s, "network   {}", self.net);
        let _ = writeln!(s, "outcomes");
        for (p, o) in self.outcomes.entries() {
            match o {
                Ok(v) => {
                    let _ = writeln!(s, "  {p}: {v}");
                }
                Err(e) => {
                    let _ = writeln!(s, "  {p}: error: {e}");
                }
            }
        }
        let st = &self.stats;
        let _ = writeln!(
            s,
            "stats     {} frames sent, {} delivered, {} dropped, {} duplicated, {} duplicates \
             suppressed, {} retransmitted, {} bytes, {} store writes, {}.{:06}s simulated",
            st.frames_sent,
            st.delivered,
            st.dropped,
            st.duplicated,
            st.duplicates_suppressed,
            st.retransmitted,
            st.bytes,
            st.store_writes,
            st.sim_time_us / 1_000_000,
            st.sim_time_us % 1_000_000
        );
        if self.violations.is_empty() {
            let _ = writeln!(s, "verdict   every oracle held");
        } else {
            let _ = writeln!(s, "verdict   {} violation(s)", self.violations.len());
            for v in &self.violations {
                let _ = writeln!(s, "  {v}");
            }
        }
        s
    }
}
