//! Fault plans: which faults to inject, where and when.
//!
//! A plan is a list of faults, each a *trigger* and an *action*. A trigger is a CIV site
//! (a label given with `ch.at("label")`, or `file.rs:LINE`), optionally narrowed to one role
//! and to its n-th occurrence there, or a simulated time. Actions: `crash`, `panic`,
//! `delay`, `drop`, `duplicate`, `partition`, `pause`. Plans are TOML (see
//! `fault-plans/README.md`); [`FaultPlan::parse`] checks a plan against the scenario it is
//! for, so a plan that names an unknown role or site, or asks for the impossible, is
//! rejected before the run with its file, line and column.

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;
use std::time::Duration;

use toml_edit::{ImDocument, Item, TableLike, Value};

/// Where in the choreography a trigger fires.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SiteRef {
    /// A stable label (`ch.at("quote")`).
    Label(String),
    /// A source line (`bookseller.rs:76`).
    Line {
        /// File name, without directories.
        file: String,
        /// Line number.
        line: u32,
    },
}

impl SiteRef {
    /// Reads `"label"` or `"file.rs:LINE"`.
    pub fn parse(s: &str) -> SiteRef {
        if let Some((file, line)) = s.rsplit_once(':') {
            if let Ok(line) = line.parse() {
                if file.ends_with(".rs") {
                    return SiteRef::Line {
                        file: file.rsplit(['/', '\\']).next().unwrap_or(file).to_string(),
                        line,
                    };
                }
            }
        }
        SiteRef::Label(s.to_string())
    }

    /// Whether a site, given as its label and `file_name:line`, is this one.
    pub fn matches(&self, label: Option<&str>, file_name: &str, line: u32) -> bool {
        match self {
            SiteRef::Label(l) => label == Some(l.as_str()),
            SiteRef::Line { file, line: n } => file == file_name && *n == line,
        }
    }
}

impl fmt::Display for SiteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteRef::Label(l) => f.write_str(l),
            SiteRef::Line { file, line } => write!(f, "{file}:{line}"),
        }
    }
}

/// When a fault fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// When `role` (any role if `None`) acts at `site` for the `occurrence`-th time (from 1):
    /// sends from it, receives at it, or runs a local step at it.
    Site {
        /// The site.
        site: SiteRef,
        /// The acting role, by participant name (`Seller`, `Worker[2]`).
        role: Option<String>,
        /// Which occurrence, from 1.
        occurrence: u32,
    },
    /// At a simulated time since the run started.
    Time {
        /// The time.
        at: Duration,
        /// The role a crash, panic or pause acts on.
        role: Option<String>,
    },
}

impl Trigger {
    /// The role the trigger names, if any.
    pub fn role(&self) -> Option<&str> {
        match self {
            Trigger::Site { role, .. } | Trigger::Time { role, .. } => role.as_deref(),
        }
    }
}

/// The kinds of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// The role's process dies.
    Crash,
    /// The role's next local step crashes.
    Panic,
    /// A frame is held back.
    Delay,
    /// A frame is lost.
    Drop,
    /// A frame arrives twice.
    Duplicate,
    /// Two groups of roles cannot reach each other.
    Partition,
    /// A node stops running but keeps receiving.
    Pause,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Crash,
        FaultKind::Panic,
        FaultKind::Delay,
        FaultKind::Drop,
        FaultKind::Duplicate,
        FaultKind::Partition,
        FaultKind::Pause,
    ];

    /// The kinds that hit the network only (no recovery needed to survive them).
    pub const NETWORK: [FaultKind; 5] = [
        FaultKind::Delay,
        FaultKind::Drop,
        FaultKind::Duplicate,
        FaultKind::Partition,
        FaultKind::Pause,
    ];

    /// Its name in plans.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Panic => "panic",
            FaultKind::Delay => "delay",
            FaultKind::Drop => "drop",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Partition => "partition",
            FaultKind::Pause => "pause",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether it acts on one frame (and so needs a site trigger).
    pub fn on_frame(self) -> bool {
        matches!(
            self,
            FaultKind::Delay | FaultKind::Drop | FaultKind::Duplicate
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The role's process dies; restarted after the delay, or never.
    Crash {
        /// Time until the supervisor restarts it; `None`: never.
        restart_after: Option<Duration>,
    },
    /// The role's next local step panics with this message.
    Panic {
        /// The panic message.
        message: String,
    },
    /// The frame sent at the trigger is held back this long.
    Delay {
        /// How long.
        by: Duration,
    },
    /// The frame sent at the trigger is lost (its retransmission is not).
    Drop,
    /// The frame sent at the trigger arrives twice.
    Duplicate,
    /// The two groups cannot reach each other for `duration`.
    Partition {
        /// The two groups, by participant name.
        groups: [Vec<String>; 2],
        /// Only the first group's frames to the second are cut.
        one_way: bool,
        /// How long.
        duration: Duration,
    },
    /// The role's node stops running (frames still arrive) for `duration`.
    Pause {
        /// How long.
        duration: Duration,
    },
}

impl Action {
    /// Its kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Action::Crash { .. } => FaultKind::Crash,
            Action::Panic { .. } => FaultKind::Panic,
            Action::Delay { .. } => FaultKind::Delay,
            Action::Drop => FaultKind::Drop,
            Action::Duplicate => FaultKind::Duplicate,
            Action::Partition { .. } => FaultKind::Partition,
            Action::Pause { .. } => FaultKind::Pause,
        }
    }
}

/// One fault: a trigger and an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub action: Action,
}

/// A list of faults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// The faults, in plan order.
    pub faults: Vec<Fault>,
}

/// One way a participant uses a site in a fault-free run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SiteUse {
    /// The site's label, if it has one.
    pub label: Option<String>,
    /// Its file name, without directories.
    pub file: String,
    /// Its line.
    pub line: u32,
    /// The participant acting there.
    pub role: String,
    /// How it acts there: `send`, `receive` or `local`.
    pub event: &'static str,
    /// How often it acts there.
    pub count: u32,
}

/// What a plan is checked against: the scenario's participants and sites.
#[derive(Clone, Debug, Default)]
pub struct PlanContext {
    /// Participant names, in census order.
    pub roles: Vec<String>,
    /// Every (site, role) use in a fault-free run.
    pub sites: Vec<SiteUse>,
}

impl PlanContext {
    fn uses<'a>(&'a self, site: &'a SiteRef) -> impl Iterator<Item = &'a SiteUse> + 'a {
        self.sites
            .iter()
            .filter(move |u| site.matches(u.label.as_deref(), &u.file, u.line))
    }
}

/// A rejected plan: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct PlanError {
    /// The plan's file name.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

struct Parser<'a> {
    file: &'a str,
    text: &'a str,
    ctx: &'a PlanContext,
}

impl Parser<'_> {
    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> PlanError {
        let at = span.map(|s| s.start).unwrap_or(0).min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        PlanError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn string(&self, v: &Value, what: &str) -> Result<String, PlanError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.error(v.span(), format!("{what}: expected a string")))
    }

    fn duration(&self, v: &Value, what: &str) -> Result<Duration, PlanError> {
        let bad = || {
            self.error(
                v.span(),
                format!("{what}: expected a duration like \"200ms\", \"1.5s\" or \"300us\""),
            )
        };
        let s = v.as_str().ok_or_else(bad)?.trim();
        let (num, unit) = s
            .find(|c: char| c.is_ascii_alphabetic())
            .map(|i| s.split_at(i))
            .ok_or_else(bad)?;
        let n: f64 = num.trim().parse().map_err(|_| bad())?;
        let micros = match unit {
            "us" => n,
            "ms" => n * 1e3,
            "s" => n * 1e6,
            _ => return Err(bad()),
        };
        if !(0.0..=3.6e9).contains(&micros) {
            return Err(self.error(v.span(), format!("{what}: `{s}` is outside 0..=1h")));
        }
        Ok(Duration::from_micros(micros.round() as u64))
    }

    fn role(&self, v: &Value) -> Result<String, PlanError> {
        let role = self.string(v, "role")?;
        if self.ctx.roles.contains(&role) {
            Ok(role)
        } else {
            Err(self.error(
                v.span(),
                format!(
                    "unknown role `{role}`; expected one of: {}",
                    self.ctx.roles.join(", ")
                ),
            ))
        }
    }

    fn check_keys(&self, t: &dyn TableLike, allowed: &[&str], what: &str) -> Result<(), PlanError> {
        for (k, item) in t.iter() {
            if !allowed.contains(&k) {
                let span = t.key(k).and_then(|k| k.span()).or_else(|| item.span());
                return Err(self.error(
                    span,
                    format!(
                        "unknown key `{k}` in {what}; expected one of: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn value<'t>(&self, t: &'t dyn TableLike, key: &str) -> Option<&'t Value> {
        t.get(key).and_then(Item::as_value)
    }

    fn required<'t>(
        &self,
        t: &'t dyn TableLike,
        key: &str,
        what: &str,
        span: Option<Range<usize>>,
    ) -> Result<&'t Value, PlanError> {
        self.value(t, key)
            .ok_or_else(|| self.error(span, format!("{what} needs `{key}`")))
    }

    fn trigger(&self, v: &Value, kind: FaultKind) -> Result<Trigger, PlanError> {
        let t = v.as_inline_table().ok_or_else(|| {
            self.error(
                v.span(),
                "`at`: expected { site = \"label\" | \"file.rs:LINE\", role = \"..\", occurrence = N } or { time = \"150ms\", role = \"..\" }",
            )
        })?;
        self.check_keys(t, &["site", "role", "occurrence", "time"], "`at`")?;
        let role = self.value(t, "role").map(|r| self.role(r)).transpose()?;
        match (self.value(t, "site"), self.value(t, "time")) {
            (Some(site_v), None) => {
                let site = SiteRef::parse(&self.string(site_v, "site")?);
                let uses: Vec<&SiteUse> = self
                    .ctx
                    .uses(&site)
                    .filter(|u| !kind.on_frame() || u.event == "send")
                    .collect();
                if uses.is_empty() {
                    let mut known: Vec<String> = self
                        .ctx
                        .sites
                        .iter()
                        .map(|u| {
                            u.label
                                .clone()
                                .unwrap_or_else(|| format!("{}:{}", u.file, u.line))
                        })
                        .collect();
                    known.dedup();
                    return Err(self.error(
                        site_v.span(),
                        format!("unknown site `{site}`; expected a label or file.rs:LINE of this scenario: {}", known.join(", ")),
                    ));
                }
                let occurrence = match self.value(t, "occurrence") {
                    None => 1,
                    Some(o) => o
                        .as_integer()
                        .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
                        .map(|n| n as u32)
                        .ok_or_else(|| {
                            self.error(o.span(), "occurrence: expected a whole number from 1")
                        })?,
                };
                let at_role: u32 = uses
                    .iter()
                    .filter(|u| role.as_deref().is_none_or(|r| u.role == r))
                    .map(|u| u.count)
                    .sum();
                if at_role == 0 {
                    let who: Vec<&str> = uses.iter().map(|u| u.role.as_str()).collect();
                    return Err(self.error(
                        v.span(),
                        format!(
                            "role `{}` never {} at site `{site}`; roles acting there: {}",
                            role.as_deref().unwrap_or("?"),
                            if kind.on_frame() { "sends" } else { "acts" },
                            who.join(", ")
                        ),
                    ));
                }
                if occurrence > at_role {
                    return Err(self.error(
                        v.span(),
                        format!(
                            "occurrence {occurrence} never happens: site `{site}` is used {at_role} time(s){} in a fault-free run",
                            role.as_deref().map(|r| format!(" by {r}")).unwrap_or_default()
                        ),
                    ));
                }
                Ok(Trigger::Site {
                    site,
                    role,
                    occurrence,
                })
            }
            (None, Some(time)) => {
                if let Some(o) = self.value(t, "occurrence") {
                    return Err(self.error(o.span(), "occurrence applies to site triggers only"));
                }
                Ok(Trigger::Time {
                    at: self.duration(time, "time")?,
                    role,
                })
            }
            _ => Err(self.error(v.span(), "`at` needs exactly one of `site` or `time`")),
        }
    }

    fn groups(&self, v: &Value) -> Result<[Vec<String>; 2], PlanError> {
        let bad = || {
            self.error(
                v.span(),
                "groups: expected two lists of roles, like [[\"Buyer\"], [\"Seller\"]]",
            )
        };
        let a = v.as_array().ok_or_else(bad)?;
        if a.len() != 2 {
            return Err(bad());
        }
        let mut out: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        for (i, g) in a.iter().enumerate() {
            let g = g.as_array().ok_or_else(bad)?;
            for r in g.iter() {
                let role = self.role(r)?;
                if out[0].contains(&role) || out[1].contains(&role) {
                    return Err(self.error(
                        r.span(),
                        format!(
                            "role `{role}` is in both groups or twice; expected disjoint groups"
                        ),
                    ));
                }
                out[i].push(role);
            }
            if out[i].is_empty() {
                return Err(self.error(v.span(), "groups: each group needs at least one role"));
            }
        }
        Ok(out)
    }

    fn fault(&self, t: &toml_edit::Table) -> Result<Fault, PlanError> {
        let span = t.span();
        let kind_v = self.required(t, "action", "a fault", span.clone())?;
        let kind_name = self.string(kind_v, "action")?;
        let kind = FaultKind::from_name(&kind_name).ok_or_else(|| {
            let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
            self.error(
                kind_v.span(),
                format!(
                    "unknown fault kind `{kind_name}`; expected one of: {}",
                    names.join(", ")
                ),
            )
        })?;
        let extra: &[&str] = match kind {
            FaultKind::Crash => &["restart_after"],
            FaultKind::Panic => &["message"],
            FaultKind::Delay => &["by"],
            FaultKind::Drop | FaultKind::Duplicate => &[],
            FaultKind::Partition => &["groups", "direction", "duration"],
            FaultKind::Pause => &["duration"],
        };
        let mut allowed = vec!["action", "at"];
        allowed.extend_from_slice(extra);
        self.check_keys(t, &allowed, &format!("a `{kind}` fault"))?;
        let at = self.required(t, "at", &format!("a `{kind}` fault"), span.clone())?;
        let trigger = self.trigger(at, kind)?;
        if kind.on_frame() && matches!(trigger, Trigger::Time { .. }) {
            return Err(self.error(
                at.span(),
                format!("a `{kind}` fault acts on a frame, so it needs a site trigger (the frame sent there), not a time"),
            ));
        }
        if matches!(kind, FaultKind::Crash | FaultKind::Panic | FaultKind::Pause)
            && matches!(trigger, Trigger::Time { role: None, .. })
        {
            return Err(self.error(
                at.span(),
                format!("a `{kind}` fault at a time needs `role` in `at`: which role it hits"),
            ));
        }
        let what = |k: &str| format!("`{k}` of a `{kind}` fault");
        let action = match kind {
            FaultKind::Crash => Action::Crash {
                restart_after: match self.value(t, "restart_after") {
                    None => Some(Duration::ZERO),
                    Some(v) if v.as_str() == Some("never") => None,
                    Some(v) => Some(self.duration(v, &what("restart_after"))?),
                },
            },
            FaultKind::Panic => Action::Panic {
                message: match self.value(t, "message") {
                    None => "injected panic".to_string(),
                    Some(v) => self.string(v, &what("message"))?,
                },
            },
            FaultKind::Delay => Action::Delay {
                by: self.duration(
                    self.required(t, "by", &format!("a `{kind}` fault"), span.clone())?,
                    &what("by"),
                )?,
            },
            FaultKind::Drop => Action::Drop,
            FaultKind::Duplicate => Action::Duplicate,
            FaultKind::Partition => Action::Partition {
                groups: self.groups(self.required(
                    t,
                    "groups",
                    "a `partition` fault",
                    span.clone(),
                )?)?,
                one_way: match self.value(t, "direction") {
                    None => false,
                    Some(v) => match v.as_str() {
                        Some("both") => false,
                        Some("one-way") => true,
                        _ => {
                            return Err(
                                self.error(v.span(), "direction: expected \"both\" or \"one-way\"")
                            );
                        }
                    },
                },
                duration: self.duration(
                    self.required(t, "duration", "a `partition` fault", span.clone())?,
                    &what("duration"),
                )?,
            },
            FaultKind::Pause => Action::Pause {
                duration: self.duration(
                    self.required(t, "duration", "a `pause` fault", span.clone())?,
                    &what("duration"),
                )?,
            },
        };
        Ok(Fault { trigger, action })
    }
}

impl FaultPlan {
    /// Parses plan `text` (read from `file`) and checks it against `ctx`.
    pub fn parse(text: &str, file: &str, ctx: &PlanContext) -> Result<FaultPlan, PlanError> {
        let p = Parser { file, text, ctx };
        let doc = ImDocument::parse(text.to_string()).map_err(|e| {
            p.error(
                e.span(),
                format!("invalid TOML: {}", e.message().trim_end()),
            )
        })?;
        let root = doc.as_table();
        let top: Vec<&str> = root.iter().map(|(k, _)| k).collect();
        for k in top {
            if ![
                "fault",
                "scenario",
                "seed",
                "time_limit_s",
                "commit",
                "trace_hash",
                "violations",
                "params",
                "net",
            ]
            .contains(&k)
            {
                let span = root.key(k).and_then(|k| k.span());
                return Err(p.error(
                    span,
                    format!("unknown key `{k}`; a plan holds [[fault]] entries"),
                ));
            }
        }
        let mut faults = Vec::new();
        if let Some(item) = root.get("fault") {
            let tables = item
                .as_array_of_tables()
                .ok_or_else(|| p.error(item.span(), "`fault`: expected [[fault]] tables"))?;
            for t in tables.iter() {
                faults.push(p.fault(t)?);
            }
        }
        Ok(FaultPlan { faults })
    }

    /// Gives every panic of the plan its own message, `injected panic #N` (N: its place in
    /// the plan, from 1). The runtime takes a crash outside every checkpoint that repeats
    /// under replay at the same step with the same message for a deterministic one, which
    /// ends the session; numbered, planned panics stay what they model: transient crashes,
    /// each its own, however many of them land on the same step.
    pub fn number_panics(mut self) -> FaultPlan {
        for (i, fault) in self.faults.iter_mut().enumerate() {
            if let Action::Panic { message } = &mut fault.action {
                *message = format!("injected panic #{}", i + 1);
            }
        }
        self
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PlanContext {
        PlanContext {
            roles: vec!["Buyer".into(), "Seller".into()],
            sites: vec![
                SiteUse {
                    label: Some("title".into()),
                    file: "bookseller.rs".into(),
                    line: 76,
                    role: "Buyer".into(),
                    event: "send",
                    count: 1,
                },
                SiteUse {
                    label: Some("title".into()),
                    file: "bookseller.rs".into(),
                    line: 76,
                    role: "Seller".into(),
                    event: "receive",
                    count: 1,
                },
            ],
        }
    }

    #[test]
    fn every_action_round_trips_through_toml() {
        let text = r#"
[[fault]]
action = "crash"
at = { site = "title", role = "Seller", occurrence = 1 }
restart_after = "200ms"

[[fault]]
action = "crash"
at = { time = "1s", role = "Buyer" }
restart_after = "never"

[[fault]]
action = "panic"
at = { site = "bookseller.rs:76", role = "Seller" }
message = "boom \"x\""

[[fault]]
action = "delay"
at = { site = "title" }
by = "1.5s"

[[fault]]
action = "drop"
at = { site = "title", role = "Buyer" }

[[fault]]
action = "duplicate"
at = { site = "title" }

[[fault]]
action = "partition"
at = { time = "10ms" }
groups = [["Buyer"], ["Seller"]]
direction = "one-way"
duration = "300us"

[[fault]]
action = "pause"
at = { site = "title", role = "Seller" }
duration = "2s"
"#;
        let plan = FaultPlan::parse(text, "p.toml", &ctx()).unwrap();
        assert_eq!(plan.faults.len(), 8);
        assert_eq!(
            plan.faults[3].action,
            Action::Delay {
                by: Duration::from_millis(1500)
            }
        );
        let again = FaultPlan::parse(&plan.to_toml(), "again.toml", &ctx()).unwrap();
        assert_eq!(again, plan);
    }

    fn err(text: &str) -> PlanError {
        FaultPlan::parse(text, "bad.toml", &ctx()).unwrap_err()
    }

    #[test]
    fn errors_carry_file_line_column_and_what_was_expected() {
        let e = err("[[fault]]\naction = \"crash\"\nat = { site = \"title\", role = \"Carol\" }\n");
        assert_eq!((e.line, e.column), (3, 31), "{e}");
        assert!(
            e.to_string()
                .starts_with("bad.toml:3:31: unknown role `Carol`; expected one of: Buyer, Seller"),
            "{e}"
        );
        let e = err("[[fault]]\naction = \"explode\"\nat = { site = \"title\" }\n");
        assert_eq!((e.line, e.column), (2, 10), "{e}");
        assert!(
            e.message
                .contains("unknown fault kind `explode`; expected one of: crash"),
            "{e}"
        );
        let e = err("[[fault]\naction = \"drop\"\n");
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.starts_with("invalid TOML"), "{e}");
        let e = err("[[fault]]\naction = \"drop\"\nat = { time = \"5ms\" }\n");
        assert!(e.message.contains("needs a site trigger"), "{e}");
        let e = err("[[fault]]\naction = \"drop\"\nat = { site = \"nosuch\" }\n");
        assert!(
            e.message.contains("unknown site `nosuch`") && e.message.contains("title"),
            "{e}"
        );
        let e = err(
            "[[fault]]\naction = \"drop\"\nat = { site = \"title\", role = \"Buyer\", occurrence = 2 }\n",
        );
        assert!(e.message.contains("occurrence 2 never happens"), "{e}");
        let e = err("[[fault]]\naction = \"delay\"\nat = { site = \"title\" }\nby = \"soon\"\n");
        assert!(e.message.contains("expected a duration like"), "{e}");
        let e = err(
            "[[fault]]\naction = \"pause\"\nat = { site = \"title\" }\nduration = \"1s\"\nspeed = 3\n",
        );
        assert!(e.message.contains("unknown key `speed`"), "{e}");
    }

    #[test]
    fn site_references_read_labels_and_lines() {
        assert_eq!(SiteRef::parse("quote"), SiteRef::Label("quote".into()));
        assert_eq!(
            SiteRef::parse("scenarios/src/bookseller.rs:76"),
            SiteRef::Line {
                file: "bookseller.rs".into(),
                line: 76
            }
        );
        assert!(SiteRef::parse("bookseller.rs:76").matches(None, "bookseller.rs", 76));
    }
}
