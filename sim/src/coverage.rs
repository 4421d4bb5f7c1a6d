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

use std::collections::{BTreeMap, BTreeSet};

use crate::trace::Trace;

/// Which trace events walk a path.
#[derive(Clone, Copy, Debug)]
enum Walk {
    /// Every event of this kind.
    Kind(&'static str),
    /// Every event of this kind whose detail starts so.
    Detail(&'static str, &'static str),
    /// A `kill` of a node that restarted and had not yet ended every session it started
    /// since: a crash while it replayed or recovered.
    KillWhileResuming,
}

/// A built-in recovery path: its name in summaries, and which trace events walk it.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryPath {
    /// Its name in summaries (a column of the coverage table, a key in JSON).
    pub name: &'static str,
    /// What it is, for the table's legend.
    pub what: &'static str,
    walk: Walk,
}

const fn path(name: &'static str, what: &'static str, walk: Walk) -> RecoveryPath {
    RecoveryPath { name, what, walk }
}

/// Every built-in recovery path, in table order.
pub const PATHS: [RecoveryPath; 11] = [
    path(
        "retransmit",
        "an unacknowledged frame sent again",
        Walk::Kind("retransmit"),
    ),
    path(
        "dup-suppressed",
        "a copy of a frame already accepted discarded",
        Walk::Kind("duplicate"),
    ),
    path(
        "held",
        "a frame held until its session opened at the receiver",
        Walk::Kind("hold"),
    ),
    path(
        "stale",
        "a frame of an abandoned attempt discarded",
        Walk::Kind("drop-stale"),
    ),
    path(
        "late",
        "a frame for a receive that had timed out discarded",
        Walk::Kind("drop-late"),
    ),
    path(
        "timeout",
        "a receive with a timeout gave up",
        Walk::Kind("timed-out"),
    ),
    path(
        "rescue",
        "a participant ran a checkpoint's rescue",
        Walk::Kind("rescue"),
    ),
    path(
        "restart",
        "a killed node restarted and replayed its journal",
        Walk::Kind("restart"),
    ),
    path(
        "replay-crash",
        "a restarted node killed again before the sessions it resumed had ended",
        Walk::KillWhileResuming,
    ),
    path(
        "failure-reported",
        "a session failed and a peer's report of it was agreed",
        Walk::Detail("failure", "reported"),
    ),
    path(
        "compensate",
        "a saga commit compensated",
        Walk::Kind("saga-compensate"),
    ),
];

/// What one run walked: how often each path of [`PATHS`] (same order), and which of the
/// choreography's own goals (`ch.sometimes`) it checked and reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Events per path.
    pub events: [u32; PATHS.len()],
    /// Every goal the run checked, by label: whether some check reached it.
    pub goals: BTreeMap<String, bool>,
}

impl Coverage {
    /// Counts the paths `trace` walked and the goals it checked.
    pub fn of(trace: &Trace) -> Coverage {
        let mut c = Coverage::default();
        // Per node: restarted since its last kill, and the sessions started since then that
        // have not ended there.
        let mut resuming: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
        for e in &trace.events {
            let session = e.session.as_deref().unwrap_or_default();
            let mut killed_resuming = false;
            match e.kind {
                "restart" => {
                    resuming.insert(e.node, BTreeSet::new());
                }
                "session-start" => {
                    if let Some(open) = resuming.get_mut(&e.node) {
                        open.insert(session);
                    }
                }
                "session-end" => {
                    if let Some(open) = resuming.get_mut(&e.node) {
                        open.remove(session);
                    }
                }
                "kill" => {
                    killed_resuming = resuming.remove(&e.node).is_some_and(|o| !o.is_empty());
                }
                "sometimes" => {
                    if let Some((how, label)) = e.detail.as_deref().and_then(|d| d.split_once(' '))
                    {
                        *c.goals.entry(label.to_string()).or_insert(false) |= how == "reached";
                    }
                }
                _ => {}
            }
            for (n, path) in c.events.iter_mut().zip(&PATHS) {
                let walked = match path.walk {
                    Walk::Kind(kind) => e.kind == kind,
                    Walk::Detail(kind, prefix) => {
                        e.kind == kind && e.detail.as_deref().is_some_and(|d| d.starts_with(prefix))
                    }
                    Walk::KillWhileResuming => killed_resuming,
                };
                if walked {
                    *n = n.saturating_add(1);
                }
            }
        }
        c
    }
}

/// Per scenario: how many runs walked each path and reached each goal, and how many path
/// events in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoverageTotals {
    /// Runs that walked each path at least once, in [`PATHS`] order.
    pub seeds: [u64; PATHS.len()],
    /// Events per path over all runs.
    pub events: [u64; PATHS.len()],
    /// Every goal some run checked, by label: how many runs reached it (0: checked, never
    /// reached).
    pub goals: BTreeMap<String, u64>,
}

impl CoverageTotals {
    /// Adds one run's coverage.
    pub fn add(&mut self, run: &Coverage) {
        for (i, &n) in run.events.iter().enumerate() {
            if n > 0 {
                self.seeds[i] += 1;
                self.events[i] = self.events[i].saturating_add(u64::from(n));
            }
        }
        for (label, &reached) in &run.goals {
            *self.goals.entry(label.clone()).or_insert(0) += u64::from(reached);
        }
    }

    /// The paths no run walked, by name.
    pub fn unreached(&self) -> Vec<&'static str> {
        PATHS
            .iter()
            .zip(&self.seeds)
            .filter(|(_, n)| **n == 0)
            .map(|(p, _)| p.name)
            .collect()
    }
}

/// What an exploration requires its runs to have walked (`--require-coverage`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Required {
    /// Built-in paths every scenario must walk, as indices into [`PATHS`].
    pub paths: Vec<usize>,
    /// Each scenario must walk the paths and reach the goals it expects
    /// ([`crate::scenario::ScenarioBuilder::expects`]), and reach every goal its runs checked.
    pub expected: bool,
    /// Each scenario must reach every goal its runs checked (`ch.sometimes`).
    pub goals: bool,
}

impl Required {
    /// What a scenario expecting `expects` (path names, and labels of its own goals) left
    /// unmet in `totals`: each as (name, what it is).
    pub fn unmet(
        &self,
        expects: &[&'static str],
        totals: &CoverageTotals,
    ) -> Vec<(String, String)> {
        let mut paths = self.paths.clone();
        let mut goals: Vec<&str> = Vec::new();
        if self.expected {
            for name in expects {
                match PATHS.iter().position(|p| p.name == *name) {
                    Some(i) => paths.push(i),
                    None => goals.push(name),
                }
            }
        }
        if self.goals || self.expected {
            goals.extend(totals.goals.keys().map(String::as_str));
        }
        paths.sort_unstable();
        paths.dedup();
        goals.sort_unstable();
        goals.dedup();
        let mut out: Vec<(String, String)> = paths
            .into_iter()
            .filter(|&i| totals.seeds[i] == 0)
            .map(|i| (PATHS[i].name.to_string(), PATHS[i].what.to_string()))
            .collect();
        for goal in goals {
            let what = match totals.goals.get(goal) {
                Some(0) => "a ch.sometimes goal: checked, never reached",
                Some(_) => continue,
                None => "a ch.sometimes goal the scenario expects: no run even checked it",
            };
            out.push((goal.to_string(), what.to_string()));
        }
        out
    }
}

/// Reads `--require-coverage`: a comma-separated list of path names, `all` (every built-in
/// path and every goal), `expected` (each scenario's own expected paths and its goals) and
/// `goals` (every goal the choreography checks with `ch.sometimes`).
///
/// ```
/// use rehearsal_sim::coverage::{PATHS, parse_paths};
///
/// assert_eq!(parse_paths("all").unwrap().paths.len(), PATHS.len());
/// assert_eq!(parse_paths("rescue").unwrap().paths, vec![6]);
/// assert!(parse_paths("restart,expected").unwrap().expected);
/// assert!(parse_paths("rescu").unwrap_err().contains("expected"));
/// ```
pub fn parse_paths(s: &str) -> Result<Required, String> {
    let names: Vec<&str> = PATHS.iter().map(|p| p.name).collect();
    let mut out = Required::default();
    for name in s.split(',').map(str::trim) {
        match name {
            "all" => {
                out.paths = (0..PATHS.len()).collect();
                out.goals = true;
            }
            "expected" => out.expected = true,
            "goals" => out.goals = true,
            _ => match names.iter().position(|n| *n == name) {
                Some(i) if !out.paths.contains(&i) => out.paths.push(i),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "--require-coverage: unknown recovery path `{name}`; expected `all`, `expected`, `goals` or a comma-separated list of {}",
                        names.join(", ")
                    ));
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceEvent;
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

    fn on(node: u32, kind: &'static str, session: Option<&str>) -> TraceEvent {
        let mut e = TraceEvent::new(0, NodeId(node), kind);
        e.session = session.map(str::to_string);
        e
    }

    #[test]
    fn a_kill_counts_as_a_replay_crash_only_while_a_resumed_session_is_open() {
        let at = PATHS.iter().position(|p| p.name == "replay-crash").unwrap();
        let run = |events: Vec<TraceEvent>| Coverage::of(&Trace { events }).events[at];
        // Killed, restarted, resumed s1, killed again before s1 ended: a replay crash.
        let twice = vec![
            on(1, "session-start", Some("s1")),
            on(1, "kill", None),
            on(1, "restart", None),
            on(1, "session-start", Some("s1")),
            on(1, "kill", None),
        ];
        assert_eq!(run(twice.clone()), 1);
        // The first kill is not one; nor is a kill after the resumed session ended, or a
        // kill of another node.
        assert_eq!(run(twice[..2].to_vec()), 0);
        let mut ended = twice.clone();
        ended.insert(4, on(1, "session-end", Some("s1")));
        assert_eq!(run(ended), 0);
        let mut other = twice;
        other[4] = on(2, "kill", None);
        assert_eq!(run(other), 0);
    }

    #[test]
    fn goals_count_the_runs_that_reached_them_and_unmet_names_the_rest() {
        let goal = |detail: &str| {
            let mut e = TraceEvent::new(0, NodeId(0), "sometimes");
            e.detail = Some(detail.to_string());
            e
        };
        let hit = Coverage::of(&Trace {
            events: vec![
                goal("missed sold-out"),
                goal("reached sold-out"),
                goal("missed rare"),
            ],
        });
        assert_eq!(hit.goals.get("sold-out"), Some(&true));
        assert_eq!(hit.goals.get("rare"), Some(&false));
        let mut totals = CoverageTotals::default();
        totals.add(&hit);
        totals.add(&hit);
        assert_eq!(totals.goals.get("sold-out"), Some(&2));
        let required = parse_paths("expected").unwrap();
        let unmet: Vec<String> = required
            .unmet(&["restart", "nosuch"], &totals)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(unmet, ["restart", "nosuch", "rare"]);
        assert!(
            parse_paths("retransmit")
                .unwrap()
                .unmet(&["restart"], &totals)
                .len()
                == 1
        );
    }

    #[test]
    fn path_names_are_unique() {
        let mut names: Vec<_> = PATHS.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PATHS.len());
    }
}
