//! Repro files: everything needed to replay a failing run exactly.
//!
//! A repro is a fault plan with a header: the scenario, its parameters, the seed, the
//! network settings, the commit it was found at, the trace hash of the failing run and its
//! violations. `rehearsal replay FILE` re-runs it and checks the trace hash.

use std::fmt::Write as _;
use std::ops::Range;

use toml_edit::{ImDocument, Item, Value};

use crate::net::NetConfig;
use crate::plan::{FaultPlan, PlanError, quote};

/// A failing run, ready to replay.
#[derive(Clone, Debug, PartialEq)]
pub struct Repro {
    /// The scenario.
    pub scenario: String,
    /// Its parameters (every one, defaults included).
    pub params: Vec<(String, u64)>,
    /// The seed.
    pub seed: u64,
    /// The network settings.
    pub net: NetConfig,
    /// Simulated seconds after which unfinished participants were a liveness violation.
    pub time_limit_s: u64,
    /// The (shrunk) plan.
    pub plan: FaultPlan,
    /// The commit the failure was found at.
    pub commit: String,
    /// The failing run's trace hash, 16 hex digits.
    pub trace_hash: String,
    /// What was violated.
    pub violations: Vec<String>,
}

/// A repro's header, read before its plan (the plan is checked against the scenario).
#[derive(Clone, Debug, PartialEq)]
pub struct ReproHeader {
    /// The scenario.
    pub scenario: String,
    /// Parameter settings as `name=value`.
    pub params: Vec<String>,
    /// The seed.
    pub seed: u64,
    /// The network settings.
    pub net: NetConfig,
    /// The time limit of the recorded run, in simulated seconds.
    pub time_limit_s: u64,
    /// The recorded trace hash.
    pub trace_hash: Option<String>,
}

impl Repro {
    /// The repro as TOML (a header, then the plan's `[[fault]]` entries).
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Rehearsal repro: a run that violated an oracle, its plan shrunk."
        );
        let _ = writeln!(s, "scenario = {}", quote(&self.scenario));
        let _ = writeln!(s, "seed = {}", self.seed);
        let _ = writeln!(s, "time_limit_s = {}", self.time_limit_s);
        let _ = writeln!(s, "commit = {}", quote(&self.commit));
        let _ = writeln!(s, "trace_hash = {}", quote(&self.trace_hash));
        let v: Vec<String> = self.violations.iter().map(|v| quote(v)).collect();
        let _ = writeln!(s, "violations = [{}]", v.join(", "));
        let _ = writeln!(s, "\n[params]");
        for (k, v) in &self.params {
            let _ = writeln!(s, "{k} = {v}");
        }
        let n = &self.net;
        let _ = writeln!(s, "\n[net]");
        let _ = writeln!(s, "latency_min_us = {}", n.latency_min_us);
        let _ = writeln!(s, "latency_max_us = {}", n.latency_max_us);
        let _ = writeln!(s, "loss = {:?}", n.loss);
        let _ = writeln!(s, "duplicate = {:?}", n.duplicate);
        let _ = writeln!(s, "reorder = {:?}\n", n.reorder);
        s.push_str(&self.plan.to_toml());
        s
    }

    /// Reads a repro's header from `text` (file `file`).
    pub fn header(text: &str, file: &str) -> Result<ReproHeader, PlanError> {
        let at = |span: Option<Range<usize>>, message: String| {
            let pos = span.map(|s| s.start).unwrap_or(0).min(text.len());
            let before = &text[..pos];
            PlanError {
                file: file.to_string(),
                line: before.matches('\n').count() + 1,
                column: before
                    .rsplit('\n')
                    .next()
                    .map(|l| l.chars().count())
                    .unwrap_or(0)
                    + 1,
                message,
            }
        };
        let doc = ImDocument::parse(text.to_string()).map_err(|e| {
            at(
                e.span(),
                format!("invalid TOML: {}", e.message().trim_end()),
            )
        })?;
        let root = doc.as_table();
        let scenario = root
            .get("scenario")
            .and_then(Item::as_str)
            .ok_or_else(|| at(None, "a repro needs `scenario = \"name\"`".into()))?
            .to_string();
        let seed_item = root
            .get("seed")
            .ok_or_else(|| at(None, "a repro needs `seed = N`".into()))?;
        let seed = seed_item
            .as_integer()
            .filter(|s| *s >= 0)
            .ok_or_else(|| at(seed_item.span(), "seed: expected a whole number".into()))?
            as u64;
        let mut params = Vec::new();
        if let Some(p) = root.get("params") {
            let t = p
                .as_table_like()
                .ok_or_else(|| at(p.span(), "params: expected a table of name = number".into()))?;
            for (k, v) in t.iter() {
                let n = v
                    .as_integer()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| at(v.span(), format!("params.{k}: expected a whole number")))?;
                params.push(format!("{k}={n}"));
            }
        }
        let mut net = NetConfig::from_seed(seed);
        if let Some(n) = root.get("net") {
            let t = n
                .as_table_like()
                .ok_or_else(|| at(n.span(), "net: expected a table".into()))?;
            for (k, v) in t.iter() {
                let num = |v: &Item| -> Option<f64> {
                    match v.as_value()? {
                        Value::Float(f) => Some(*f.value()),
                        Value::Integer(i) => Some(*i.value() as f64),
                        _ => None,
                    }
                };
                let x =
                    num(v).ok_or_else(|| at(v.span(), format!("net.{k}: expected a number")))?;
                match k {
                    "latency_min_us" => net.latency_min_us = x as u64,
                    "latency_max_us" => net.latency_max_us = x as u64,
                    "loss" => net.loss = x,
                    "duplicate" => net.duplicate = x,
                    "reorder" => net.reorder = x,
                    _ => {
                        return Err(at(
                            t.key(k).and_then(|k| k.span()),
                            format!(
                                "unknown key `net.{k}`; expected latency_min_us, latency_max_us, loss, duplicate, reorder"
                            ),
                        ));
                    }
                }
            }
            net.validate()
                .map_err(|e| at(n.span(), format!("net: {e}")))?;
        }
        let trace_hash = root
            .get("trace_hash")
            .and_then(Item::as_str)
            .map(str::to_string);
        let time_limit_s = match root.get("time_limit_s") {
            None => 600,
            Some(t) => t.as_integer().filter(|t| *t > 0).ok_or_else(|| {
                at(
                    t.span(),
                    "time_limit_s: expected a whole number of seconds".into(),
                )
            })? as u64,
        };
        Ok(ReproHeader {
            scenario,
            params,
            seed,
            net,
            time_limit_s,
            trace_hash,
        })
    }
}

/// The current commit (`git rev-parse --short HEAD`), or `unknown` outside a git checkout.
pub fn current_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let r = Repro {
            scenario: "workers".into(),
            params: vec![("n".into(), 4)],
            seed: 99,
            net: NetConfig::from_seed(5),
            time_limit_s: 120,
            plan: FaultPlan::default(),
            commit: "abc".into(),
            trace_hash: "00112233aabbccdd".into(),
            violations: vec!["x \"y\"".into()],
        };
        let h = Repro::header(&r.to_toml(), "r.toml").unwrap();
        assert_eq!(h.scenario, "workers");
        assert_eq!(h.seed, 99);
        assert_eq!(h.params, vec!["n=4".to_string()]);
        assert_eq!(h.net, r.net);
        assert_eq!(h.time_limit_s, 120);
        assert_eq!(h.trace_hash.as_deref(), Some("00112233aabbccdd"));
    }

    #[test]
    fn a_bad_header_names_the_place() {
        let e = Repro::header("scenario = \"x\"\nseed = \"seven\"\n", "r.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("seed: expected a whole number"));
        let e =
            Repro::header("scenario = \"x\"\nseed = 1\n[net]\nspeed = 3\n", "r.toml").unwrap_err();
        assert!(e.message.contains("unknown key `net.speed`"), "{e}");
    }
}
