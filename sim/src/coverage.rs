//! Coverage: which recovery paths a run reached, read from its trace.
//!
//! A seed that passes says nothing about a recovery path it never walked. Each run's trace
//! is counted against a fixed list of built-in paths (a retransmission, a duplicate
//! suppressed, a frame held until its session opened, a stale or late frame discarded, a
//! receive that timed out, a rescue, a restart from the journal, a failure a peer reported,
//! a compensation), and the explorer's summary says, per scenario, how many seeds reached
//! each one. The counts come from the trace events the runtime's observer reports, not from
//! the state the recovery code keeps.
//!
//! ```
//! use rehearsal_sim::coverage::{Coverage, PATHS};
//! use rehearsal_sim::trace::Trace;
//!
//! let empty = Coverage::of(&Trace::default());
//! assert_eq!(empty.events.len(), PATHS.len());
//! assert!(empty.events.iter().all(|&n| n == 0));
//! ```

use crate::trace::{Trace, TraceEvent};

/// A built-in recovery path: its name in summaries, and which trace events walk it.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryPath {
    /// Its name in summaries (a column of the coverage table, a key in JSON).
    pub name: &'static str,
    /// What it is, for the table's legend.
    pub what: &'static str,
    walked: fn(&TraceEvent) -> bool,
}

impl RecoveryPath {
    /// Whether `event` walks this path.
    pub fn walked_by(&self, event: &TraceEvent) -> bool {
        (self.walked)(event)
    }
}

/// Every built-in recovery path, in table order.
pub const PATHS: [RecoveryPath; 10] = [
    RecoveryPath {
        name: "retransmit",
        what: "an unacknowledged frame sent again",
        walked: |e| e.kind == "retransmit",
    },
    RecoveryPath {
        name: "dup-suppressed",
        what: "a copy of a frame already accepted discarded",
        walked: |e| e.kind == "duplicate",
    },
    RecoveryPath {
        name: "held",
        what: "a frame held until its session opened at the receiver",
        walked: |e| e.kind == "hold",
    },
    RecoveryPath {
        name: "stale",
        what: "a frame of an abandoned attempt discarded",
        walked: |e| e.kind == "drop-stale",
    },
    RecoveryPath {
        name: "late",
        what: "a frame for a receive that had timed out discarded",
        walked: |e| e.kind == "drop-late",
    },
    RecoveryPath {
        name: "timeout",
        what: "a receive with a timeout gave up",
        walked: |e| e.kind == "timed-out",
    },
    RecoveryPath {
        name: "rescue",
        what: "a participant ran a checkpoint's rescue",
        walked: |e| e.kind == "rescue",
    },
    RecoveryPath {
        name: "restart",
        what: "a killed node restarted and replayed its journal",
        walked: |e| e.kind == "restart",
    },
    RecoveryPath {
        name: "failure-reported",
        what: "a session failed and a peer's report of it was agreed",
        walked: |e| {
            e.kind == "failure"
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with("reported"))
        },
    },
    RecoveryPath {
        name: "compensate",
        what: "a saga commit compensated",
        walked: |e| e.kind == "saga-compensate",
    },
];

/// How often one run walked each path of [`PATHS`] (same order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Events per path.
    pub events: [u32; PATHS.len()],
}

impl Coverage {
    /// Counts the paths `trace` walked.
    pub fn of(trace: &Trace) -> Coverage {
        let mut c = Coverage::default();
        for e in &trace.events {
            for (n, path) in c.events.iter_mut().zip(&PATHS) {
                if path.walked_by(e) {
                    *n = n.saturating_add(1);
                }
            }
        }
        c
    }
}

/// Per scenario: how many seeds walked each path, and how many events in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoverageTotals {
    /// Seeds that walked each path at least once, in [`PATHS`] order.
    pub seeds: [u64; PATHS.len()],
    /// Events per path over all seeds.
    pub events: [u64; PATHS.len()],
}

impl CoverageTotals {
    /// Adds one seed's coverage.
    pub fn add(&mut self, run: &Coverage) {
        for (i, &n) in run.events.iter().enumerate() {
            if n > 0 {
                self.seeds[i] += 1;
                self.events[i] = self.events[i].saturating_add(u64::from(n));
            }
        }
    }

    /// The paths no seed walked, by name.
    pub fn unreached(&self) -> Vec<&'static str> {
        PATHS
            .iter()
            .zip(&self.seeds)
            .filter(|(_, n)| **n == 0)
            .map(|(p, _)| p.name)
            .collect()
    }
}

/// Reads a list of path names (`rescue,retransmit`) or `all`, as indices into [`PATHS`].
///
/// ```
/// use rehearsal_sim::coverage::{PATHS, parse_paths};
///
/// assert_eq!(parse_paths("all").unwrap().len(), PATHS.len());
/// assert_eq!(parse_paths("rescue").unwrap(), vec![6]);
/// assert!(parse_paths("rescu").unwrap_err().contains("expected"));
/// ```
pub fn parse_paths(s: &str) -> Result<Vec<usize>, String> {
    if s.trim() == "all" {
        return Ok((0..PATHS.len()).collect());
    }
    let names: Vec<&str> = PATHS.iter().map(|p| p.name).collect();
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim) {
        match names.iter().position(|n| *n == name) {
            Some(i) if !out.contains(&i) => out.push(i),
            Some(_) => {}
            None => {
                return Err(format!(
                    "--require-coverage: unknown recovery path `{name}`; expected `all` or a comma-separated list of {}",
                    names.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal::net::transport::NodeId;

    fn event(kind: &'static str, detail: Option<&str>) -> TraceEvent {
        let mut e = TraceEvent::new(0, NodeId(0), kind);
        e.detail = detail.map(str::to_string);
        e
    }

    #[test]
    fn each_path_counts_its_own_events_and_totals_count_seeds() {
        let trace = Trace {
            events: vec![
                event("send", None),
                event("retransmit", None),
                event("retransmit", None),
                event("rescue", None),
                event("failure", Some("detected boom")),
                event("failure", Some("reported boom")),
            ],
        };
        let run = Coverage::of(&trace);
        let at = |name: &str| PATHS.iter().position(|p| p.name == name).unwrap();
        assert_eq!(run.events[at("retransmit")], 2);
        assert_eq!(run.events[at("rescue")], 1);
        assert_eq!(run.events[at("failure-reported")], 1);
        assert_eq!(run.events.iter().sum::<u32>(), 4);

        let mut totals = CoverageTotals::default();
        totals.add(&run);
        totals.add(&run);
        totals.add(&Coverage::default());
        assert_eq!(totals.seeds[at("retransmit")], 2);
        assert_eq!(totals.events[at("retransmit")], 4);
        let unreached = totals.unreached();
        assert!(unreached.contains(&"compensate") && !unreached.contains(&"rescue"));
        assert_eq!(unreached.len(), PATHS.len() - 3);
    }

    #[test]
    fn path_names_are_unique() {
        let mut names: Vec<_> = PATHS.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PATHS.len());
    }
}
