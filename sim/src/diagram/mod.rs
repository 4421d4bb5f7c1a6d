//! Sequence diagrams of runs: a self-contained HTML page with an SVG drawn from the trace.
//!
//! [`Page`] gathers what the page shows besides the trace (the scenario, seed, network, fault
//! plan, outcomes and verdict); [`Page::html`] lays the trace out with [`model::Model`] and
//! writes one HTML file: the SVG is built here, in Rust, so the page needs no library and no
//! network; a few lines of inline JavaScript show the full events of whatever the pointer is
//! over. Layout is a pure function of the trace, so the same run gives the same bytes.

pub mod elements;
pub mod html;
mod layout;
pub mod model;

use std::fmt::Write as _;

use crate::report::Report;
use crate::trace::Trace;

/// Everything a diagram page shows.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The page title, like `alice-bob seed 7`.
    pub title: String,
    /// Header lines: scenario, seed, params, network, stats, trace hash, reproduction.
    pub facts: Vec<(String, String)>,
    /// The fault plan as TOML (empty: no plan).
    pub plan: String,
    /// Every participant's outcome, as `(participant, outcome)`.
    pub outcomes: Vec<(String, String)>,
    /// Violated oracles; empty when every oracle held.
    pub violations: Vec<String>,
    /// Extra verdict lines (a replay's divergence).
    pub notes: Vec<String>,
    /// The trace.
    pub trace: Trace,
}

impl Page {
    /// The page of a run: its report, its parameters (as printed), its plan as TOML and the
    /// command that reproduces it.
    pub fn of_report(report: &Report, params: &str, plan: &str, reproduce: &str) -> Page {
        let st = &report.stats;
        let mut facts = vec![
            ("scenario".to_string(), report.name.clone()),
            ("seed".to_string(), report.seed.to_string()),
        ];
        if !params.is_empty() {
            facts.push(("params".into(), params.to_string()));
        }
        facts.push(("network".into(), report.net.to_string()));
        let mut stats = String::new();
        let _ = write!(
            stats,
            "{} events, {} frames sent, {} delivered, {} dropped, {} duplicated, {} retransmitted, {}.{:06} s simulated",
            report.trace.events.len(),
            st.frames_sent,
            st.delivered,
            st.dropped,
            st.duplicated,
            st.retransmitted,
            st.sim_time_us / 1_000_000,
            st.sim_time_us % 1_000_000
        );
        facts.push(("stats".into(), stats));
        facts.push(("trace-hash".into(), report.hash_hex()));
        if !reproduce.is_empty() {
            facts.push(("reproduce".into(), reproduce.to_string()));
        }
        Page {
            title: format!("{} seed {}", report.name, report.seed),
            facts,
            plan: plan.to_string(),
            outcomes: report
                .outcomes
                .entries()
                .iter()
                .map(|(p, o)| {
                    (
                        p.to_string(),
                        match o {
                            Ok(v) => v.to_string(),
                            Err(e) => format!("error: {e}"),
                        },
                    )
                })
                .collect(),
            violations: report.violations.clone(),
            notes: Vec::new(),
            trace: report.trace.clone(),
        }
    }

    /// The page as one self-contained HTML document.
    pub fn html(&self) -> String {
        html::render(self)
    }

    /// Writes the page to `path`; the error names the file.
    pub fn write(&self, path: &std::path::Path) -> Result<(), String> {
        std::fs::write(path, self.html())
            .map_err(|e| format!("cannot write the diagram to {}: {e}", path.display()))
    }
}
