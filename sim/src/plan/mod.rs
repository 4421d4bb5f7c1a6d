//! Fault plans: which faults to inject, where and when.
//!
//! A plan is a list of faults, each a *trigger* and an *action*. A trigger is a CIV site
//! (a label given with `ch.at("label")`, or `file.rs:LINE`), optionally narrowed to one role
//! and to its n-th occurrence there, or a simulated time. Actions: `crash`, `panic`,
//! `delay`, `drop`, `duplicate`, `partition`, `pause`. Plans are TOML (see
//! `fault-plans/README.md`); [`FaultPlan::parse`] checks a plan against the scenario it is
//! for, so a plan that names an unknown role or site, or asks for the impossible, is
//! rejected before the run with its file, line and column. A site (or an occurrence) that
//! only a rescue or a replay reaches is accepted when the plan's own faults lead there: the
//! check runs the scenario with the plan's faults accepted so far until nothing new is
//! reached (see [`PlanContext::probe`]).
//!
//! The module's files: this one holds the plan's types, `parse.rs` reads the TOML,
//! `validate.rs` checks site triggers against what runs reach, `write.rs` writes plans out.

use std::fmt;
use std::time::Duration;

mod parse;
#[cfg(test)]
mod tests;
mod validate;
mod write;

pub use validate::{PlanContext, SiteProbe, SiteUse};
pub(crate) use write::quote;
pub use write::{scenario_of, show_duration};

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
    /// The operator at the site crashes (at a time: the role's next local step).
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
    /// The role's disk fails a write or a sync: its node fail-stops and restarts.
    Disk,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Crash,
        FaultKind::Panic,
        FaultKind::Delay,
        FaultKind::Drop,
        FaultKind::Duplicate,
        FaultKind::Partition,
        FaultKind::Pause,
        FaultKind::Disk,
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
            FaultKind::Disk => "disk",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether it takes a node down for a while (a crash, a pause, or a disk failure's
    /// fail-stop and restart): what `--max-down` bounds.
    pub fn takes_down(self) -> bool {
        matches!(self, FaultKind::Crash | FaultKind::Pause | FaultKind::Disk)
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

/// Which disk operation a [`Action::Disk`] fault fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiskOp {
    /// A write: the batch being committed is not applied.
    Write,
    /// A sync (`fsync`): what it would have made durable stays unsynced, and the fail-stop
    /// that follows loses it.
    Sync,
}

impl DiskOp {
    /// Its name in plans.
    pub fn name(self) -> &'static str {
        match self {
            DiskOp::Write => "write",
            DiskOp::Sync => "sync",
        }
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
    /// The operator at the site panics with this message (at a time: the role's next local
    /// step).
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
    /// The next `count` operations `op` of the role's disk fail. The node fail-stops at the
    /// first ([`Node::fail_stopped`](rehearsal::Node::fail_stopped)) and its supervisor
    /// restarts it on what the disk made durable. Without a store, nothing happens.
    Disk {
        /// Which operation fails.
        op: DiskOp,
        /// How many in a row (the restarted node meets the rest).
        count: u32,
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
            Action::Disk { .. } => FaultKind::Disk,
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

impl FaultPlan {
    /// Parses plan `text` (read from `file`) and checks it against `ctx`: its roles, and that
    /// every site trigger names a site, role and occurrence that the fault-free run reaches,
    /// or (when `ctx` has a [`SiteProbe`]) that a run with the plan's other valid faults does.
    pub fn parse(text: &str, file: &str, ctx: &PlanContext) -> Result<FaultPlan, PlanError> {
        let p = parse::Parser {
            file,
            text,
            roles: &ctx.roles,
        };
        let parsed = p.document()?;
        let faults = validate::validate(&p, parsed, ctx)?;
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
}
