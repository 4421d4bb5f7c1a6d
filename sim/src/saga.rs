//! Saga oracles: what every run of a choreography that uses `ch.transaction` must show in its
//! trace, whatever faults hit it. The simulator checks them on every run (shipped scenarios
//! and users' programs alike); [`violations`] takes any [`Trace`].
//!
//! * `saga-commit-once`: each (session, participant, transaction) commits at most once, and
//!   each commit index is used once;
//! * `saga-compensate-once`: each commit is compensated at most once, and only if it was
//!   committed (same index, same transaction);
//! * `saga-reverse-order`: a participant compensates in reverse commit order;
//! * `saga-no-commit-after-failure`: nothing commits at a participant after the session
//!   failed there (its `failure` or `saga-abort` event);
//! * `saga-atomicity`: in every session that committed something, either every participant
//!   ends with an outcome and nothing was compensated (the outcomes themselves are compared
//!   with the fault-free reference run by the reference oracle), or every participant ends
//!   failed with every one of its commits compensated.

use std::collections::{BTreeMap, BTreeSet};

use crate::trace::{Trace, TraceEvent};

/// (session, participant)
type Who = (String, String);

/// What one participant did in one session's saga, in trace order.
#[derive(Default)]
struct Part {
    /// (index, transaction) per commit, in trace order.
    commits: Vec<(u64, String)>,
    /// (index, transaction) per compensation, in trace order.
    compensations: Vec<(u64, String)>,
    /// Whether the session failed here (so far, while reading the trace).
    failed: bool,
    /// Commits seen after it failed.
    late: Vec<String>,
    /// How the participant's session ended (its last `session-end`): true if ok.
    ended_ok: Option<bool>,
}

fn step(e: &TraceEvent) -> Option<(u64, String)> {
    let detail = e.detail.as_deref()?;
    let (index, name) = detail.strip_prefix('#')?.split_once(' ')?;
    Some((index.parse().ok()?, name.to_string()))
}

fn who(e: &TraceEvent) -> Who {
    (
        e.session.clone().unwrap_or_default(),
        e.from.clone().unwrap_or_default(),
    )
}

/// Every saga oracle's violations in `trace`, one line each (empty: all hold).
pub fn violations(trace: &Trace) -> Vec<String> {
    let mut parts: BTreeMap<Who, Part> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &trace.events {
        match e.kind {
            "saga-commit" => {
                let part = parts.entry(who(e)).or_default();
                match step(e) {
                    Some(c) => {
                        if part.failed {
                            part.late.push(format!("#{} {}", c.0, c.1));
                        }
                        part.commits.push(c);
                    }
                    None => out.push(format!(
                        "saga-trace: unreadable commit event `{}`",
                        e.canonical()
                    )),
                }
            }
            "saga-compensate" => match step(e) {
                Some(c) => parts.entry(who(e)).or_default().compensations.push(c),
                None => out.push(format!(
                    "saga-trace: unreadable compensation event `{}`",
                    e.canonical()
                )),
            },
            "failure" | "saga-abort" => parts.entry(who(e)).or_default().failed = true,
            "session-end" => {
                let ok = e.detail.as_deref().is_some_and(|d| d.starts_with("ok "));
                parts.entry(who(e)).or_default().ended_ok = Some(ok);
            }
            _ => {}
        }
    }
    for ((session, participant), part) in &parts {
        let at = format!("in {session} at {participant}");
        let mut names = BTreeMap::new();
        let mut indices = BTreeMap::new();
        for (index, name) in &part.commits {
            *names.entry(name.as_str()).or_insert(0u32) += 1;
            *indices.entry(*index).or_insert(0u32) += 1;
        }
        for (name, n) in names.iter().filter(|(_, n)| **n > 1) {
            out.push(format!(
                "saga-commit-once: {at}, `{name}` committed {n} times"
            ));
        }
        for (index, n) in indices.iter().filter(|(_, n)| **n > 1) {
            out.push(format!(
                "saga-commit-once: {at}, commit #{index} recorded {n} times"
            ));
        }
        let committed: BTreeSet<&(u64, String)> = part.commits.iter().collect();
        let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
        for c in &part.compensations {
            *seen.entry(c.0).or_insert(0) += 1;
            if !committed.contains(c) {
                out.push(format!(
                    "saga-compensate-once: {at}, #{} `{}` compensated but never committed",
                    c.0, c.1
                ));
            }
        }
        for (index, n) in seen.iter().filter(|(_, n)| **n > 1) {
            out.push(format!(
                "saga-compensate-once: {at}, commit #{index} compensated {n} times"
            ));
        }
        let order: Vec<u64> = part.compensations.iter().map(|c| c.0).collect();
        if order.windows(2).any(|w| w[0] <= w[1]) && seen.values().all(|n| *n == 1) {
            out.push(format!(
                "saga-reverse-order: {at}, compensations ran in order {order:?}; expected \
                 reverse commit order"
            ));
        }
        if !part.late.is_empty() {
            out.push(format!(
                "saga-no-commit-after-failure: {at}, committed {} after the session failed there",
                part.late.join(", ")
            ));
        }
    }
    out.extend(atomicity(&parts));
    out
}

/// The atomicity oracle over each session that committed something.
fn atomicity(parts: &BTreeMap<Who, Part>) -> Vec<String> {
    let mut sessions: BTreeMap<&str, Vec<(&str, &Part)>> = BTreeMap::new();
    for ((session, participant), part) in parts {
        sessions
            .entry(session.as_str())
            .or_default()
            .push((participant.as_str(), part));
    }
    let mut out = Vec::new();
    for (session, members) in sessions {
        if members.iter().all(|(_, p)| p.commits.is_empty()) {
            continue;
        }
        // Participants that never ended are the liveness oracle's to report.
        let ended: Vec<&(&str, &Part)> = members
            .iter()
            .filter(|(_, p)| p.ended_ok.is_some())
            .collect();
        let ok: Vec<&str> = ended
            .iter()
            .filter(|(_, p)| p.ended_ok == Some(true))
            .map(|(w, _)| *w)
            .collect();
        let failed: Vec<&str> = ended
            .iter()
            .filter(|(_, p)| p.ended_ok == Some(false))
            .map(|(w, _)| *w)
            .collect();
        if !ok.is_empty() && !failed.is_empty() {
            out.push(format!(
                "saga-atomicity: in {session}, {} completed but {} failed",
                ok.join(", "),
                failed.join(", ")
            ));
            continue;
        }
        for (participant, part) in &ended {
            let done: BTreeSet<u64> = part.compensations.iter().map(|c| c.0).collect();
            if part.ended_ok == Some(true) && !done.is_empty() {
                out.push(format!(
                    "saga-atomicity: in {session}, {participant} completed but compensated {done:?}"
                ));
            }
            if part.ended_ok == Some(false) {
                let missing: Vec<String> = part
                    .commits
                    .iter()
                    .filter(|(i, _)| !done.contains(i))
                    .map(|(i, n)| format!("#{i} {n}"))
                    .collect();
                if !missing.is_empty() {
                    out.push(format!(
                        "saga-atomicity: in {session}, {participant} failed without compensating {}",
                        missing.join(", ")
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal::net::transport::NodeId;

    fn ev(kind: &'static str, from: &str, detail: &str) -> TraceEvent {
        let mut e = TraceEvent {
            t_us: 0,
            node: NodeId(0).0,
            kind,
            session: Some("s1".into()),
            from: Some(from.into()),
            to: None,
            lane: None,
            seq: None,
            site: None,
            bytes: None,
            detail: None,
            payload: None,
            epoch: None,
        };
        e.detail = Some(detail.into());
        e
    }

    #[test]
    fn a_clean_compensation_passes_and_each_planted_fault_is_named() {
        let clean = Trace {
            events: vec![
                ev("saga-commit", "W", "#0 reserve"),
                ev("saga-commit", "W", "#1 ship"),
                ev("failure", "W", "reported x"),
                ev("saga-compensate", "W", "#1 ship"),
                ev("saga-compensate", "W", "#0 reserve"),
                ev("session-end", "W", "error x"),
                ev("session-end", "P", "error x"),
            ],
        };
        assert_eq!(violations(&clean), Vec::<String>::new());

        let mut twice = clean.clone();
        twice
            .events
            .insert(4, ev("saga-compensate", "W", "#1 ship"));
        assert!(
            violations(&twice)
                .iter()
                .any(|v| v.starts_with("saga-compensate-once"))
        );

        let mut forward = clean.clone();
        forward.events.swap(3, 4);
        assert!(
            violations(&forward)
                .iter()
                .any(|v| v.starts_with("saga-reverse-order"))
        );

        let mut late = clean.clone();
        late.events.insert(3, ev("saga-commit", "W", "#2 award"));
        let v = violations(&late);
        assert!(
            v.iter()
                .any(|v| v.starts_with("saga-no-commit-after-failure")),
            "{v:?}"
        );
        assert!(v.iter().any(|v| v.starts_with("saga-atomicity")), "{v:?}");

        let mut mixed = clean.clone();
        mixed.events[6] = ev("session-end", "P", "ok 3");
        assert!(
            violations(&mixed)
                .iter()
                .any(|v| v.starts_with("saga-atomicity"))
        );
    }
}
