//! Reading traces back: the JSON lines that `--trace FILE` and `--format json` write.
//!
//! [`TraceFile::parse`] turns each `{"type":"event",...}` line back into a [`TraceEvent`]
//! (so its canonical text, and the trace hash, are what the run printed) and keeps the
//! run's summary line. Anything malformed is an error naming the file, the line and what
//! was expected.

use crate::trace::{Trace, TraceEvent};

/// Every event kind a trace may hold (what the recorder and the fault engine write).
pub const EVENT_KINDS: [&str; 32] = [
    "send",
    "deliver",
    "receive",
    "retransmit",
    "duplicate",
    "net-drop",
    "net-duplicate",
    "hold",
    "drop-finished",
    "drop-stale",
    "drop-late",
    "timed-out",
    "local",
    "iteration",
    "session-start",
    "session-end",
    "failure",
    "corrupt",
    "fault",
    "kill",
    "restart",
    "pause",
    "resume",
    "heal",
    "block-enter",
    "block-exit",
    "rescue",
    "saga-commit",
    "saga-abort",
    "saga-compensate",
    "sometimes",
    "note",
];

/// A trace read from JSON lines, with what its summary line says about the run.
#[derive(Clone, Debug, Default)]
pub struct TraceFile {
    /// The events.
    pub trace: Trace,
    /// The scenario, from the summary line.
    pub scenario: Option<String>,
    /// The seed, from the summary line.
    pub seed: Option<u64>,
    /// The recorded trace hash, from the summary line.
    pub trace_hash: Option<String>,
}

/// Whether `text` looks like JSON lines (its first non-blank character opens an object).
pub fn looks_like_json_lines(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn intern(kind: &str, choices: &[&'static str]) -> Option<&'static str> {
    choices.iter().copied().find(|k| *k == kind)
}

impl TraceFile {
    /// Reads the JSON lines `text` of file `file`.
    pub fn parse(text: &str, file: &str) -> Result<TraceFile, String> {
        let mut out = TraceFile::default();
        for (n, line) in text.lines().enumerate() {
            let at = |what: String| format!("{file}:{}: {what}", n + 1);
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| at(format!("not a JSON object ({e}); expected one object per line as `rehearsal run --format json` writes")))?;
            let obj = v
                .as_object()
                .ok_or_else(|| at("expected a JSON object".into()))?;
            match obj.get("type").and_then(|t| t.as_str()) {
                Some("event") => out.trace.events.push(event(obj).map_err(at)?),
                Some("summary") => {
                    out.scenario = obj
                        .get("scenario")
                        .and_then(|s| s.as_str())
                        .map(String::from);
                    out.seed = obj.get("seed").and_then(|s| s.as_u64());
                    out.trace_hash = obj
                        .get("trace_hash")
                        .and_then(|s| s.as_str())
                        .map(String::from);
                }
                Some(_) => {}
                None => {
                    return Err(at(
                        "the object has no \"type\"; expected \"event\", \"outcome\", \"violation\" or \"summary\"".into(),
                    ));
                }
            }
        }
        if out.trace.events.is_empty() {
            return Err(format!(
                "{file}: no events; expected the JSON lines of `rehearsal run --format json` or `--trace FILE`"
            ));
        }
        Ok(out)
    }

    /// Reads the file at `path`.
    pub fn read(path: &std::path::Path) -> Result<TraceFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        TraceFile::parse(&text, &path.display().to_string())
    }
}

fn event(obj: &serde_json::Map<String, serde_json::Value>) -> Result<TraceEvent, String> {
    let text = |k: &str| -> Result<Option<String>, String> {
        match obj.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("`{k}` is {other}; expected a string")),
        }
    };
    let number = |k: &str| -> Result<Option<u64>, String> {
        match obj.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("`{k}` is {v}; expected a whole number")),
        }
    };
    let kind = text("kind")?.ok_or("an event needs a \"kind\"")?;
    let kind = intern(&kind, &EVENT_KINDS).ok_or_else(|| {
        format!(
            "unknown event kind `{kind}`; expected one of: {}",
            EVENT_KINDS.join(", ")
        )
    })?;
    let lane = match text("lane")? {
        None => None,
        Some(l) => Some(
            intern(&l, &["data", "control"])
                .ok_or_else(|| format!("unknown lane `{l}`; expected data or control"))?,
        ),
    };
    let node = number("node")?.ok_or("an event needs a \"node\"")?;
    Ok(TraceEvent {
        t_us: number("t_us")?.ok_or("an event needs \"t_us\"")?,
        node: u32::try_from(node).map_err(|_| format!("`node` {node} is out of range"))?,
        kind,
        session: text("session")?,
        from: text("from")?,
        to: text("to")?,
        lane,
        seq: number("seq")?,
        site: text("site")?,
        bytes: number("bytes")?.map(|b| b as usize),
        detail: text("detail")?,
        payload: None,
        epoch: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_round_trip_to_the_same_canonical_trace() {
        let trace = Trace {
            events: vec![TraceEvent {
                t_us: 1_000,
                node: 1,
                kind: "send",
                session: Some("s1".into()),
                from: Some("A".into()),
                to: Some("B".into()),
                lane: Some("data"),
                seq: Some(0),
                site: Some("\"x\"@a.rs:1:2".into()),
                bytes: Some(7),
                detail: None,
                payload: None,
                epoch: None,
            }],
        };
        let mut text = trace.json_lines();
        text.push_str(
            "{\"type\":\"summary\",\"scenario\":\"s\",\"seed\":3,\"trace_hash\":\"ab\"}\n",
        );
        let back = TraceFile::parse(&text, "t.jsonl").unwrap();
        assert_eq!(back.trace, trace);
        assert_eq!(back.seed, Some(3));
        assert_eq!(back.trace_hash.as_deref(), Some("ab"));
    }

    #[test]
    fn bad_lines_name_the_line_and_what_was_expected() {
        let e = TraceFile::parse("{\"type\":\"event\"}\n", "t.jsonl").unwrap_err();
        assert!(e.starts_with("t.jsonl:1:") && e.contains("kind"), "{e}");
        let e = TraceFile::parse(
            "{\"type\":\"event\",\"kind\":\"teleport\",\"node\":0,\"t_us\":0}",
            "t",
        )
        .unwrap_err();
        assert!(e.contains("unknown event kind `teleport`"), "{e}");
        let e = TraceFile::parse("not json", "t").unwrap_err();
        assert!(e.contains("t:1: not a JSON object"), "{e}");
        assert!(TraceFile::parse("", "t").unwrap_err().contains("no events"));
    }
}
