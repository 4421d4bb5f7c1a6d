//! Checking a plan's site triggers against what runs of the scenario reach.
//!
//! A trigger is valid when some run reaches its site, with its role, at least `occurrence`
//! times. The fault-free run's sites are in [`PlanContext::sites`]; a site that only a rescue
//! reaches (alice-bob's `to-bob-after-rescue`), or an occurrence that only a retry reaches,
//! is not there. So the check is a fixpoint: accept every fault the sites known so far allow,
//! run the scenario with the accepted faults (through [`PlanContext::probe`]), add the sites
//! that run reached, and accept again, until every fault is accepted or a run adds no fault.
//! Each run has strictly more accepted faults than the last, so a plan of `n` faults needs at
//! most `n` runs, and none when the fault-free sites already allow every fault. A site no run
//! reaches is rejected with its file:line:column and the sites that were reached.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::parse::{Parsed, Parser, SiteCheck};
use super::{Fault, FaultPlan, PlanError, SiteRef, Trigger};

/// One way a participant uses a site in a run.
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

impl SiteUse {
    /// The trigger that fires at this use's `occurrence`-th time (from 1): by its label when
    /// it has one, else by its file and line; always for its role.
    ///
    /// ```
    /// use rehearsal_sim::plan::{SiteRef, SiteUse, Trigger};
    ///
    /// let u = SiteUse {
    ///     label: None,
    ///     file: "shop.rs".into(),
    ///     line: 12,
    ///     role: "Seller".into(),
    ///     event: "send",
    ///     count: 2,
    /// };
    /// let Trigger::Site { site, role, occurrence } = u.trigger(2) else { unreachable!() };
    /// assert_eq!(site, SiteRef::Line { file: "shop.rs".into(), line: 12 });
    /// assert_eq!((role.as_deref(), occurrence), (Some("Seller"), 2));
    /// ```
    pub fn trigger(&self, occurrence: u32) -> Trigger {
        Trigger::Site {
            site: match &self.label {
                Some(l) => SiteRef::Label(l.clone()),
                None => SiteRef::Line {
                    file: self.file.clone(),
                    line: self.line,
                },
            },
            role: Some(self.role.clone()),
            occurrence,
        }
    }
}

/// Runs the scenario with a plan and returns every site that run reached, with how often
/// each participant acted there (the [`SiteUse`]s of its report), or why it could not run.
///
/// ```
/// use rehearsal_sim::plan::{SiteProbe, SiteUse};
/// use rehearsal_sim::FaultPlan;
///
/// let probe = SiteProbe::new(|plan: &FaultPlan| {
///     Ok(vec![SiteUse { label: Some("retry".into()), file: "x.rs".into(), line: 3,
///                       role: "A".into(), event: "send", count: plan.faults.len() as u32 }])
/// });
/// assert_eq!(probe.run(&FaultPlan::default()).unwrap()[0].count, 0);
/// ```
#[derive(Clone)]
pub struct SiteProbe(Arc<ProbeFn>);

type ProbeFn = dyn Fn(&FaultPlan) -> Result<Vec<SiteUse>, String> + Send + Sync;

impl SiteProbe {
    /// A probe that runs `f`.
    pub fn new(
        f: impl Fn(&FaultPlan) -> Result<Vec<SiteUse>, String> + Send + Sync + 'static,
    ) -> SiteProbe {
        SiteProbe(Arc::new(f))
    }

    /// The sites a run with `plan` reaches.
    pub fn run(&self, plan: &FaultPlan) -> Result<Vec<SiteUse>, String> {
        (self.0)(plan)
    }
}

impl fmt::Debug for SiteProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SiteProbe(..)")
    }
}

/// What a plan is checked against: the scenario's participants and sites.
#[derive(Clone, Debug, Default)]
pub struct PlanContext {
    /// Participant names, in census order.
    pub roles: Vec<String>,
    /// Every (site, role) use in a fault-free run.
    pub sites: Vec<SiteUse>,
    /// Runs the scenario with some of a plan's faults, so that sites and occurrences reached
    /// only after those faults (a rescue, a retry, a replay) are accepted too; `None`: a plan
    /// is checked against `sites` alone. [`crate::Sim::plan_context`] sets one.
    pub probe: Option<SiteProbe>,
}

/// A site use's identity: label, file, line, role, event.
type UseKey = (Option<String>, String, u32, String, &'static str);

/// The sites every run so far reached: per use, the most times one run acted there.
struct Reached {
    uses: BTreeMap<UseKey, u32>,
    /// How many runs with faults contributed (for the error messages).
    probes: usize,
}

impl Reached {
    fn new(sites: &[SiteUse]) -> Reached {
        let mut r = Reached {
            uses: BTreeMap::new(),
            probes: 0,
        };
        r.add(sites.iter().cloned());
        r
    }

    fn add(&mut self, sites: impl IntoIterator<Item = SiteUse>) {
        for u in sites {
            let count = self
                .uses
                .entry((u.label, u.file, u.line, u.role, u.event))
                .or_insert(0);
            *count = (*count).max(u.count);
        }
    }

    /// The uses of `site`: (role, event, count).
    fn of<'a>(&'a self, site: &'a SiteRef) -> impl Iterator<Item = (&'a str, &'a str, u32)> {
        self.uses
            .iter()
            .filter(move |((label, file, line, _, _), _)| {
                site.matches(label.as_deref(), file, *line)
            })
            .map(|((_, _, _, role, event), count)| (role.as_str(), *event, *count))
    }

    /// Every site, by label or file:line, once each, in order.
    fn names(&self) -> Vec<String> {
        let mut known: Vec<String> = self
            .uses
            .keys()
            .map(|(label, file, line, _, _)| {
                label.clone().unwrap_or_else(|| format!("{file}:{line}"))
            })
            .collect();
        known.dedup();
        known
    }

    /// Which runs the sites come from, for messages.
    fn runs(&self) -> &'static str {
        if self.probes == 0 {
            "in a fault-free run"
        } else {
            "in a fault-free run or in a run with this plan's other valid faults"
        }
    }
}

/// Checks one fault's site trigger against the sites reached so far.
fn check(
    p: &Parser<'_>,
    fault: &Fault,
    at: &SiteCheck,
    reached: &Reached,
) -> Result<(), PlanError> {
    let Trigger::Site {
        site,
        role,
        occurrence,
    } = &fault.trigger
    else {
        return Ok(());
    };
    let uses: Vec<(&str, &str, u32)> = reached
        .of(site)
        .filter(|(_, event, _)| !at.kind.on_frame() || *event == "send")
        .collect();
    if uses.is_empty() {
        let reached_where = if reached.probes == 0 {
            ""
        } else {
            " (reached with or without this plan's other faults)"
        };
        return Err(p.error(
            at.site_span.clone(),
            format!(
                "unknown site `{site}`; expected a label or file.rs:LINE of this scenario{reached_where}: {}",
                reached.names().join(", ")
            ),
        ));
    }
    let at_role: u32 = uses
        .iter()
        .filter(|(r, _, _)| role.as_deref().is_none_or(|want| *r == want))
        .map(|(_, _, count)| count)
        .sum();
    if at_role == 0 {
        let mut who: Vec<&str> = uses.iter().map(|(r, _, _)| *r).collect();
        who.dedup();
        return Err(p.error(
            at.at_span.clone(),
            format!(
                "role `{}` never {} at site `{site}` {}; roles acting there: {}",
                role.as_deref().unwrap_or("?"),
                if at.kind.on_frame() { "sends" } else { "acts" },
                reached.runs(),
                who.join(", ")
            ),
        ));
    }
    if *occurrence > at_role {
        return Err(p.error(
            at.at_span.clone(),
            format!(
                "occurrence {occurrence} never happens: site `{site}` is used {at_role} time(s){} {}",
                role.as_deref().map(|r| format!(" by {r}")).unwrap_or_default(),
                reached.runs()
            ),
        ));
    }
    Ok(())
}

/// Checks every site trigger of `parsed` (see the module docs) and returns the faults in plan
/// order, or the first fault (in plan order) that no run reached.
pub(super) fn validate(
    p: &Parser<'_>,
    parsed: Vec<Parsed>,
    ctx: &PlanContext,
) -> Result<Vec<Fault>, PlanError> {
    let mut reached = Reached::new(&ctx.sites);
    let mut accepted = vec![false; parsed.len()];
    let mut last_run: Option<Vec<bool>> = None;
    loop {
        let mut first_error = None;
        for (f, ok) in parsed.iter().zip(accepted.iter_mut()) {
            if *ok {
                continue;
            }
            let result = match &f.check {
                None => Ok(()),
                Some(at) => check(p, &f.fault, at, &reached),
            };
            match result {
                Ok(()) => *ok = true,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(error) = first_error else {
            return Ok(parsed.into_iter().map(|f| f.fault).collect());
        };
        let Some(probe) = &ctx.probe else {
            return Err(error);
        };
        // Nothing to run that was not run already: the remaining faults are unreachable.
        if !accepted.contains(&true) || last_run.as_ref() == Some(&accepted) {
            return Err(error);
        }
        let plan = FaultPlan {
            faults: parsed
                .iter()
                .zip(&accepted)
                .filter(|(_, ok)| **ok)
                .map(|(f, _)| f.fault.clone())
                .collect(),
        };
        let pending = parsed
            .iter()
            .zip(&accepted)
            .find(|(_, ok)| !**ok)
            .and_then(|(f, _)| f.check.as_ref())
            .and_then(|c| c.at_span.clone());
        let uses = probe.run(&plan).map_err(|e| {
            p.error(
                pending,
                format!(
                    "cannot check this trigger against a run with the plan's other {} fault(s): {e}",
                    plan.faults.len()
                ),
            )
        })?;
        reached.add(uses);
        reached.probes += 1;
        last_run = Some(accepted.clone());
    }
}
