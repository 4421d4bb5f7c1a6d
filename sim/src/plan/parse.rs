//! Reading a plan's TOML: keys, roles, durations, triggers and actions, each checked where it
//! is written. Whether a site trigger is reachable is left to [`super::validate`].

use std::ops::Range;
use std::time::Duration;

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::{Action, DiskOp, Fault, FaultKind, PlanError, SiteRef, Trigger};

/// The most failures in a row one `disk` fault may ask for.
const MAX_DISK_FAILURES: i64 = 16;

/// A plan's text and what its roles may be.
pub(super) struct Parser<'a> {
    /// The plan's file name, for errors.
    pub(super) file: &'a str,
    /// The plan's text.
    pub(super) text: &'a str,
    /// The participants a plan may name.
    pub(super) roles: &'a [String],
}

/// What remains to check of a site trigger once the plan is read: that some run reaches it.
#[derive(Clone, Debug)]
pub(super) struct SiteCheck {
    /// The fault's kind: faults on a frame count sends only.
    pub(super) kind: FaultKind,
    /// Where the `site` value is written.
    pub(super) site_span: Option<Range<usize>>,
    /// Where the whole `at` trigger is written.
    pub(super) at_span: Option<Range<usize>>,
}

/// One fault as read, with the reachability check its trigger still needs.
#[derive(Clone, Debug)]
pub(super) struct Parsed {
    /// The fault.
    pub(super) fault: Fault,
    /// `None` for a time trigger, which needs no site.
    pub(super) check: Option<SiteCheck>,
}

impl Parser<'_> {
    /// An error at the start of `span` (the file's start without one), as file:line:column.
    pub(super) fn error(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> PlanError {
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
        if self.roles.contains(&role) {
            Ok(role)
        } else {
            Err(self.error(
                v.span(),
                format!(
                    "unknown role `{role}`; expected one of: {}",
                    self.roles.join(", ")
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

    /// Reads a trigger. Whether its site, role and occurrence are reachable is checked later,
    /// against the runs [`super::validate`] makes; this returns what that check needs.
    fn trigger(
        &self,
        v: &Value,
        kind: FaultKind,
    ) -> Result<(Trigger, Option<SiteCheck>), PlanError> {
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
                let check = SiteCheck {
                    kind,
                    site_span: site_v.span(),
                    at_span: v.span(),
                };
                Ok((
                    Trigger::Site {
                        site,
                        role,
                        occurrence,
                    },
                    Some(check),
                ))
            }
            (None, Some(time)) => {
                if let Some(o) = self.value(t, "occurrence") {
                    return Err(self.error(o.span(), "occurrence applies to site triggers only"));
                }
                let trigger = Trigger::Time {
                    at: self.duration(time, "time")?,
                    role,
                };
                Ok((trigger, None))
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

    fn fault(&self, t: &toml_edit::Table) -> Result<Parsed, PlanError> {
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
            FaultKind::Disk => &["fail", "count"],
        };
        let mut allowed = vec!["action", "at"];
        allowed.extend_from_slice(extra);
        self.check_keys(t, &allowed, &format!("a `{kind}` fault"))?;
        let at = self.required(t, "at", &format!("a `{kind}` fault"), span.clone())?;
        let (trigger, check) = self.trigger(at, kind)?;
        if kind.on_frame() && matches!(trigger, Trigger::Time { .. }) {
            return Err(self.error(
                at.span(),
                format!("a `{kind}` fault acts on a frame, so it needs a site trigger (the frame sent there), not a time"),
            ));
        }
        if matches!(
            kind,
            FaultKind::Crash | FaultKind::Panic | FaultKind::Pause | FaultKind::Disk
        ) && matches!(trigger, Trigger::Time { role: None, .. })
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
            FaultKind::Disk => Action::Disk {
                op: match self.value(t, "fail") {
                    None => DiskOp::Sync,
                    Some(v) => match v.as_str() {
                        Some("write") => DiskOp::Write,
                        Some("sync") => DiskOp::Sync,
                        _ => {
                            return Err(
                                self.error(v.span(), "fail: expected \"write\" or \"sync\"")
                            );
                        }
                    },
                },
                count: match self.value(t, "count") {
                    None => 1,
                    Some(v) => match v.as_integer() {
                        Some(n @ 1..=MAX_DISK_FAILURES) => n as u32,
                        _ => {
                            return Err(self.error(
                                v.span(),
                                format!(
                                    "count: expected a whole number of failures from 1 to {MAX_DISK_FAILURES}"
                                ),
                            ));
                        }
                    },
                },
            },
        };
        Ok(Parsed {
            fault: Fault { trigger, action },
            check,
        })
    }
}

impl Parser<'_> {
    /// Reads the whole plan: its keys, and every `[[fault]]` with its trigger's pending check.
    pub(super) fn document(&self) -> Result<Vec<Parsed>, PlanError> {
        let doc = ImDocument::parse(self.text.to_string()).map_err(|e| {
            self.error(
                e.span(),
                format!("invalid TOML: {}", e.message().trim_end()),
            )
        })?;
        let root = doc.as_table();
        for (k, _) in root.iter() {
            if !TOP_KEYS.contains(&k) {
                let span = root.key(k).and_then(|k| k.span());
                return Err(self.error(
                    span,
                    format!("unknown key `{k}`; a plan holds [[fault]] entries"),
                ));
            }
        }
        let mut faults = Vec::new();
        if let Some(item) = root.get("fault") {
            let tables = item
                .as_array_of_tables()
                .ok_or_else(|| self.error(item.span(), "`fault`: expected [[fault]] tables"))?;
            for t in tables.iter() {
                faults.push(self.fault(t)?);
            }
        }
        Ok(faults)
    }
}

/// The top-level keys a plan (or a repro file, which is a plan with a header) may hold.
const TOP_KEYS: [&str; 9] = [
    "fault",
    "scenario",
    "seed",
    "time_limit_s",
    "commit",
    "trace_hash",
    "violations",
    "params",
    "net",
];
