//! Repro files: everything needed to replay a failing run exactly.
//!
//! A repro is a fault plan with a header: the scenario, its parameters, the seed, the
//! network settings, the commit it was found at, the trace hash of the failing run and its
//! violations. `rehearsal replay FILE` re-runs it and checks the trace hash.

use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml_edit::{ImDocument, Item, Value};

use crate::disk::StoreKind;
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
    /// The store the nodes journaled to.
    pub store: StoreKind,
    /// Simulated time after which unfinished participants were a liveness violation.
    pub time_limit: Duration,
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
    /// The store the nodes journaled to (`store = "file"`; default: the model).
    pub store: StoreKind,
    /// The time limit of the recorded run, in simulated time.
    pub time_limit: Duration,
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
        let _ = writeln!(s, "seed = {}", toml_u64(self.seed));
        let _ = writeln!(s, "time_limit_s = {}", seconds(self.time_limit));
        if self.store != StoreKind::Model {
            let _ = writeln!(s, "store = {}", quote(self.store.name()));
        }
        let _ = writeln!(s, "commit = {}", quote(&self.commit));
        let _ = writeln!(s, "trace_hash = {}", quote(&self.trace_hash));
        let v: Vec<String> = self.violations.iter().map(|v| quote(v)).collect();
        let _ = writeln!(s, "violations = [{}]", v.join(", "));
        let _ = writeln!(s, "\n[params]");
        for (k, v) in &self.params {
            let _ = writeln!(s, "{k} = {}", toml_u64(*v));
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
        let seed = read_u64(seed_item).map_err(|e| at(seed_item.span(), format!("seed: {e}")))?;
        let mut params = Vec::new();
        if let Some(p) = root.get("params") {
            let t = p
                .as_table_like()
                .ok_or_else(|| at(p.span(), "params: expected a table of name = number".into()))?;
            for (k, v) in t.iter() {
                let n = read_u64(v).map_err(|e| at(v.span(), format!("params.{k}: {e}")))?;
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
                let micros = || {
                    (x.is_finite() && (0.0..=1e12).contains(&x))
                        .then_some(x.round() as u64)
                        .ok_or_else(|| {
                            at(
                                v.span(),
                                format!("net.{k}: expected microseconds from 0 to 10^12, not {x}"),
                            )
                        })
                };
                match k {
                    "latency_min_us" => net.latency_min_us = micros()?,
                    "latency_max_us" => net.latency_max_us = micros()?,
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
        let store = match root.get("store") {
            None => StoreKind::Model,
            Some(item) => item
                .as_str()
                .and_then(StoreKind::from_name)
                .ok_or_else(|| {
                    at(
                        item.span(),
                        "store: expected \"model\" or \"file\"".to_string(),
                    )
                })?,
        };
        let trace_hash = root
            .get("trace_hash")
            .and_then(Item::as_str)
            .map(str::to_string);
        let time_limit = match root.get("time_limit_s") {
            None => Duration::from_secs(600),
            Some(t) => {
                let x = match t.as_value() {
                    Some(Value::Float(f)) => Some(*f.value()),
                    Some(Value::Integer(i)) => Some(*i.value() as f64),
                    _ => None,
                };
                x.ok_or_else(|| "expected a number of seconds".to_string())
                    .and_then(duration_from_seconds)
                    .map_err(|e| at(t.span(), format!("time_limit_s: {e}")))?
            }
        };
        Ok(ReproHeader {
            scenario,
            params,
            seed,
            net,
            store,
            time_limit,
            trace_hash,
        })
    }
}

/// The most simulated time a run may be given: about 11.6 days.
pub const MAX_SECONDS: f64 = 1_000_000.0;

/// A duration of `x` seconds, to the microsecond; the error says what was expected.
pub fn duration_from_seconds(x: f64) -> Result<Duration, String> {
    if !x.is_finite() || x <= 0.0 {
        return Err(format!(
            "{x} s; expected a number of seconds more than 0 (like 120 or 0.05)"
        ));
    }
    if x > MAX_SECONDS {
        return Err(format!("{x} s; expected at most {MAX_SECONDS} s"));
    }
    let micros = (x * 1e6).round() as u64;
    if micros == 0 {
        return Err(format!(
            "{x} s; expected at least 0.000001 s (one microsecond)"
        ));
    }
    Ok(Duration::from_micros(micros))
}

/// `d` in seconds as TOML: a whole number when it is one, else a decimal fraction.
fn seconds(d: Duration) -> String {
    let micros = d.as_micros();
    if micros % 1_000_000 == 0 {
        format!("{}", micros / 1_000_000)
    } else {
        let s = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        s.trim_end_matches('0').to_string()
    }
}

/// A `u64` as TOML, whose integers stop at `i64::MAX`: larger ones are written as strings.
fn toml_u64(v: u64) -> String {
    if i64::try_from(v).is_ok() {
        v.to_string()
    } else {
        format!("\"{v}\"")
    }
}

/// Reads what [`toml_u64`] writes: a whole number from 0 to `u64::MAX`, or one in a string.
fn read_u64(item: &Item) -> Result<u64, String> {
    let expected = format!("expected a whole number from 0 to {}", u64::MAX);
    match item.as_value() {
        Some(Value::Integer(i)) => {
            u64::try_from(*i.value()).map_err(|_| format!("{} is negative; {expected}", i.value()))
        }
        Some(Value::String(s)) => s
            .value()
            .parse()
            .map_err(|_| format!("`{}` is not a number; {expected}", s.value())),
        _ => Err(expected),
    }
}

/// Writes `contents` to `path` through a temporary file in the same folder and a rename, so
/// that `path` is never seen half-written (not after a crash, not after an interrupt).
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = temporary_beside(path);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Checks that a file can be written at `path` (its folder exists and takes new files)
/// without touching `path` itself; the error names the path.
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!(
            "cannot write {}: it is a folder; expected a file name",
            path.display()
        ));
    }
    let tmp = temporary_beside(path);
    std::fs::File::create(&tmp)
        .and_then(|_| std::fs::remove_file(&tmp))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn temporary_beside(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// The current commit (`git rev-parse --short HEAD`), or `unknown` outside a git checkout;
/// asked once per process.
pub fn current_commit() -> String {
    static COMMIT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COMMIT
        .get_or_init(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".into())
        })
        .clone()
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
            store: StoreKind::File,
            time_limit: Duration::from_millis(50),
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
        assert_eq!(h.store, StoreKind::File);
        assert_eq!(h.time_limit, Duration::from_millis(50));
        assert_eq!(h.trace_hash.as_deref(), Some("00112233aabbccdd"));
    }

    #[test]
    fn a_bad_header_names_the_place() {
        let e = Repro::header("scenario = \"x\"\nseed = \"seven\"\n", "r.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("seed: `seven` is not a number"), "{e}");
        let e =
            Repro::header("scenario = \"x\"\nseed = 1\n[net]\nspeed = 3\n", "r.toml").unwrap_err();
        assert!(e.message.contains("unknown key `net.speed`"), "{e}");
        let e = Repro::header("scenario = \"x\"\nseed = -1\n", "r.toml").unwrap_err();
        assert!(e.message.contains("-1 is negative"), "{e}");
        let e =
            Repro::header("scenario = \"x\"\nseed = 1\ntime_limit_s = 0\n", "r.toml").unwrap_err();
        assert!(e.message.contains("more than 0"), "{e}");
        let e =
            Repro::header("scenario = \"x\"\nseed = 1\nstore = \"tape\"\n", "r.toml").unwrap_err();
        assert!(
            e.message.contains("store: expected \"model\" or \"file\""),
            "{e}"
        );
        assert_eq!(e.line, 3);
    }

    #[test]
    fn seeds_past_i64_max_and_fractions_of_seconds_round_trip() {
        let r = Repro {
            scenario: "counter".into(),
            params: vec![("rounds".into(), u64::MAX)],
            seed: u64::MAX,
            net: NetConfig::default(),
            store: StoreKind::Model,
            time_limit: Duration::from_micros(1_500_001),
            plan: FaultPlan::default(),
            commit: "abc".into(),
            trace_hash: "00112233aabbccdd".into(),
            violations: vec![],
        };
        let toml = r.to_toml();
        assert!(toml.contains("seed = \"18446744073709551615\""), "{toml}");
        assert!(toml.contains("time_limit_s = 1.500001"), "{toml}");
        let h = Repro::header(&toml, "r.toml").unwrap();
        assert_eq!(h.seed, u64::MAX);
        assert_eq!(h.params, vec![format!("rounds={}", u64::MAX)]);
        assert_eq!(h.time_limit, Duration::from_micros(1_500_001));
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("rehearsal-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.toml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("r.toml")]);
        assert!(
            check_writable(&dir.join("nosuch").join("x.toml"))
                .unwrap_err()
                .contains("cannot write")
        );
        assert!(check_writable(&dir).unwrap_err().contains("it is a folder"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
