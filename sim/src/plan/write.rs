//! Writing plans back out: a plan as TOML, and the small helpers TOML output needs.

use std::fmt::Write as _;
use std::time::Duration;

use toml_edit::{ImDocument, Item};

use super::{Action, FaultPlan, Trigger};

impl FaultPlan {
    /// The plan as TOML, in the format [`FaultPlan::parse`] reads.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        for f in &self.faults {
            let _ = writeln!(s, "[[fault]]");
            let _ = writeln!(s, "action = \"{}\"", f.action.kind());
            let role = f
                .trigger
                .role()
                .map(|r| format!(", role = {}", quote(r)))
                .unwrap_or_default();
            match &f.trigger {
                Trigger::Site {
                    site, occurrence, ..
                } => {
                    let _ = writeln!(
                        s,
                        "at = {{ site = {}{role}, occurrence = {occurrence} }}",
                        quote(&site.to_string())
                    );
                }
                Trigger::Time { at, .. } => {
                    let _ = writeln!(s, "at = {{ time = \"{}\"{role} }}", show_duration(*at));
                }
            }
            match &f.action {
                Action::Crash { restart_after } => {
                    let after = restart_after
                        .map(show_duration)
                        .unwrap_or_else(|| "never".into());
                    let _ = writeln!(s, "restart_after = \"{after}\"");
                }
                Action::Panic { message } => {
                    let _ = writeln!(s, "message = {}", quote(message));
                }
                Action::Delay { by } => {
                    let _ = writeln!(s, "by = \"{}\"", show_duration(*by));
                }
                Action::Drop | Action::Duplicate => {}
                Action::Partition {
                    groups,
                    one_way,
                    duration,
                } => {
                    let list =
                        |g: &Vec<String>| g.iter().map(|r| quote(r)).collect::<Vec<_>>().join(", ");
                    let _ = writeln!(
                        s,
                        "groups = [[{}], [{}]]",
                        list(&groups[0]),
                        list(&groups[1])
                    );
                    let _ = writeln!(
                        s,
                        "direction = \"{}\"",
                        if *one_way { "one-way" } else { "both" }
                    );
                    let _ = writeln!(s, "duration = \"{}\"", show_duration(*duration));
                }
                Action::Pause { duration } => {
                    let _ = writeln!(s, "duration = \"{}\"", show_duration(*duration));
                }
                Action::Disk { op, count } => {
                    let _ = writeln!(s, "fail = \"{}\"", op.name());
                    let _ = writeln!(s, "count = {count}");
                }
            }
            s.push('\n');
        }
        s
    }
}

/// The `scenario = ".."` a plan or repro file names, if it parses and names one.
pub fn scenario_of(text: &str) -> Option<String> {
    let doc = ImDocument::parse(text.to_string()).ok()?;
    doc.as_table()
        .get("scenario")
        .and_then(Item::as_str)
        .map(str::to_string)
}

/// A TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A duration in the plan syntax (`1500us`, `200ms`, `2s`).
pub fn show_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us % 1_000_000 == 0 {
        format!("{}s", us / 1_000_000)
    } else if us % 1_000 == 0 {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}
