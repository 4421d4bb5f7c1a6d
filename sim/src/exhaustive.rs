//! Exhaustive fault sites: every single fault a scenario's fault-free run offers, then the
//! paths those faults open.
//!
//! Random plans strike a given (participant, site, occurrence) rarely, and nobody can say
//! which ones a run of seeds struck. An exhaustive exploration enumerates them instead:
//!
//! * **Single faults.** For every use of the site census ([`crate::Sim::plan_context`]: each
//!   participant at each site of the fault-free run, with how often it acts there), every
//!   occurrence of it, and every allowed fault kind that can strike it: a delay, drop or
//!   duplicate where the participant sends; a crash, panic or pause at any use; a partition
//!   cutting the participant off from all the others (when there are others).
//! * **The paths they open.** A crash sends its participant into replay, a panic into a
//!   rescue: the run of a single fault reaches sites, or occurrences of sites, that the
//!   fault-free run never did. Each of those becomes a two-fault case, the first fault and
//!   then each allowed fault there: a crash during replay, a drop inside a rescue.
//! * **Pairs** (`depth` 2): the first fault and then each allowed fault at *every* use of
//!   its run, each unordered pair once.
//!
//! Every fault has fixed parameters ([`RESTART_AFTER`], [`HOLD`]), so a case is its sites
//! and kinds alone, and every case runs at one seed on [`crate::Sim::CENSUS_NET`], the
//! network the census ran on, so its fault meets the occurrence the census counted. When the
//! cases come to more than the bound, the exploration is refused before it runs
//! ([`SimError::TooManyCases`]): exhaustive never samples. Failures are saved, shrunk and
//! replayed like random ones: a case's repro file is an ordinary seed, network and plan.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::explore::{Explore, Hooks, ScenarioSummary};
use crate::plan::{Action, DiskOp, Fault, FaultKind, FaultPlan, SiteUse};
use crate::sim::{Sim, SimError};

/// How long after an exhaustive crash its participant restarts.
pub const RESTART_AFTER: Duration = Duration::from_millis(100);

/// How long an exhaustive delay holds its frame back, and a pause or partition lasts.
pub const HOLD: Duration = Duration::from_millis(500);

/// How an exhaustive exploration enumerates its cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhaustive {
    /// 1: single faults and the paths they open; 2: also every pair of faults.
    pub depth: u8,
    /// The most cases (single and two-fault, over every scenario) it may run.
    pub max_cases: u64,
}

impl Default for Exhaustive {
    /// Depth 1, at most 300,000 cases.
    fn default() -> Self {
        Exhaustive {
            depth: 1,
            max_cases: 300_000,
        }
    }
}

/// One scenario's exhaustive totals.
#[derive(Clone, Debug)]
pub struct Exhausted {
    /// The totals over its cases (`seeds` counts the cases run).
    pub summary: ScenarioSummary,
    /// Its single-fault cases.
    pub single: u64,
    /// Its two-fault cases: on the paths the single faults opened, and at depth 2 every
    /// pair.
    pub pairs: u64,
}

/// The actions of `kinds` that can strike use `u`, with the fixed exhaustive parameters:
/// frame faults only where it sends; a partition cuts its participant off from the others
/// of `roles`, and needs one.
///
/// ```
/// use rehearsal_sim::exhaustive::actions;
/// use rehearsal_sim::plan::SiteUse;
/// use rehearsal_sim::FaultKind;
///
/// let receive = SiteUse {
///     label: Some("price".into()),
///     file: "shop.rs".into(),
///     line: 9,
///     role: "Buyer".into(),
///     event: "receive",
///     count: 1,
/// };
/// let roles = ["Buyer".to_string(), "Seller".to_string()];
/// let kinds: Vec<FaultKind> = actions(&receive, &FaultKind::ALL, &roles)
///     .iter()
///     .map(|a| a.kind())
///     .collect();
/// // No frame fault where the buyer only receives.
/// assert_eq!(
///     kinds,
///     [
///         FaultKind::Crash,
///         FaultKind::Panic,
///         FaultKind::Partition,
///         FaultKind::Pause,
///         FaultKind::Disk, // its write fails
///         FaultKind::Disk, // its sync fails
///     ]
/// );
/// ```
pub fn actions(u: &SiteUse, kinds: &[FaultKind], roles: &[String]) -> Vec<Action> {
    let others: Vec<String> = roles.iter().filter(|r| **r != u.role).cloned().collect();
    let mut out = Vec::new();
    for kind in FaultKind::ALL.iter().filter(|k| kinds.contains(k)) {
        if kind.on_frame() && u.event != "send" {
            continue;
        }
        out.push(match kind {
            FaultKind::Crash => Action::Crash {
                restart_after: Some(RESTART_AFTER),
            },
            FaultKind::Panic => Action::Panic {
                message: "injected panic".into(),
            },
            FaultKind::Delay => Action::Delay { by: HOLD },
            FaultKind::Drop => Action::Drop,
            FaultKind::Duplicate => Action::Duplicate,
            FaultKind::Partition if others.is_empty() => continue,
            FaultKind::Partition => Action::Partition {
                groups: [vec![u.role.clone()], others.clone()],
                one_way: false,
                duration: HOLD,
            },
            FaultKind::Pause => Action::Pause { duration: HOLD },
            FaultKind::Disk => {
                // Both of its operations: a write that fails, a sync that fails.
                for op in [DiskOp::Write, DiskOp::Sync] {
                    out.push(Action::Disk { op, count: 1 });
                }
                continue;
            }
        });
    }
    out
}

/// Every fault of `kinds` at the occurrences `at` of use `u`.
fn faults_at(
    u: &SiteUse,
    at: RangeInclusive<u32>,
    kinds: &[FaultKind],
    roles: &[String],
) -> Vec<Fault> {
    let actions = actions(u, kinds, roles);
    at.flat_map(|occurrence| {
        actions.iter().map(move |action| Fault {
            trigger: u.trigger(occurrence),
            action: action.clone(),
        })
    })
    .collect()
}

/// A use's identity without its count.
type UseKey<'a> = (&'a Option<String>, &'a str, u32, &'a str, &'static str);

fn key(u: &SiteUse) -> UseKey<'_> {
    (&u.label, &u.file, u.line, &u.role, u.event)
}

/// The uses of `run` that `census` did not count, each with its new occurrences: a site
/// only a rescue or a replay reaches (every occurrence), or a census site acted at more
/// often (the occurrences past the census count).
///
/// ```
/// use rehearsal_sim::exhaustive::opened;
/// use rehearsal_sim::plan::SiteUse;
///
/// let at = |label: &str, count| SiteUse {
///     label: Some(label.into()),
///     file: "a.rs".into(),
///     line: 1,
///     role: "Alice".into(),
///     event: "send",
///     count,
/// };
/// let census = [at("greet", 1)];
/// let run = [at("greet", 2), at("after-rescue", 1)];
/// let opened: Vec<(&str, u32, u32)> = opened(&census, &run)
///     .into_iter()
///     .map(|(u, at)| (u.label.as_deref().unwrap(), *at.start(), *at.end()))
///     .collect();
/// assert_eq!(opened, [("greet", 2, 2), ("after-rescue", 1, 1)]);
/// ```
pub fn opened<'a>(
    census: &[SiteUse],
    run: &'a [SiteUse],
) -> Vec<(&'a SiteUse, RangeInclusive<u32>)> {
    let counted: BTreeMap<UseKey<'_>, u32> = census.iter().map(|u| (key(u), u.count)).collect();
    run.iter()
        .filter_map(|u| {
            let seen = counted.get(&key(u)).copied().unwrap_or(0);
            (u.count > seen).then(|| (u, seen + 1..=u.count))
        })
        .collect()
}

/// The single-fault cases of a census (`uses`, `roles`), in census order, each once.
pub fn single_faults(uses: &[SiteUse], roles: &[String], kinds: &[FaultKind]) -> Vec<FaultPlan> {
    let mut seen = BTreeSet::new();
    let mut cases = Vec::new();
    for u in uses {
        for fault in faults_at(u, 1..=u.count, kinds, roles) {
            if seen.insert(format!("{fault:?}")) {
                cases.push(
                    FaultPlan {
                        faults: vec![fault],
                    }
                    .number_panics(),
                );
            }
        }
    }
    cases
}

/// The second faults that follow `first`, whose run reached `run`: at depth 1 at each use
/// it opened past `census`, at depth 2 at every use of it; never `first` itself.
pub fn second_faults(
    first: &Fault,
    census: &[SiteUse],
    run: &[SiteUse],
    roles: &[String],
    kinds: &[FaultKind],
    depth: u8,
) -> Vec<Fault> {
    let at: Vec<(&SiteUse, RangeInclusive<u32>)> = if depth >= 2 {
        run.iter().map(|u| (u, 1..=u.count)).collect()
    } else {
        opened(census, run)
    };
    at.into_iter()
        .flat_map(|(u, occurrences)| faults_at(u, occurrences, kinds, roles))
        .filter(|f| f != first)
        .collect()
}

fn too_many(level: &'static str, cases: u64, max: u64) -> Result<(), SimError> {
    if cases > max {
        return Err(SimError::TooManyCases {
            level,
            cases,
            at_least: false,
            max,
        });
    }
    Ok(())
}

impl Explore {
    /// Runs every exhaustive case of every scenario (the fault kinds are `swarm.kinds`;
    /// every case runs at `first_seed`; `seeds`, `shard` and the rest of `swarm` are not
    /// used): first the single faults, then the two-fault cases their runs call for.
    /// `level` hears each batch's name and size before it runs. Without `keep_going`, a
    /// scenario stops at its first failing case, in case order; after an interrupt the
    /// totals cover the cases that ran.
    pub fn run_exhaustive(
        &self,
        ex: &Exhaustive,
        hooks: &Hooks<'_>,
        level: &(dyn Fn(&'static str, u64) + Sync),
    ) -> Result<Vec<Exhausted>, SimError> {
        let kinds = &self.swarm.kinds;
        let mut contexts = Vec::new();
        // Every case runs at the first seed, so with `vary` the program is that seed's.
        for (s, (scenario, _)) in self.scenarios.iter().enumerate() {
            let params = self.params_at(s, self.first_seed);
            contexts.push(Sim::plan_context(&scenario.program(&params)?)?);
        }
        let singles: Vec<Vec<FaultPlan>> = contexts
            .iter()
            .map(|c| single_faults(&c.sites, &c.roles, kinds))
            .collect();
        let lens: Vec<u64> = singles.iter().map(|c| c.len() as u64).collect();
        let single_total: u64 = lens.iter().sum();
        too_many("the single faults", single_total, ex.max_cases)?;
        level("single faults", single_total);

        let case = |plan: &FaultPlan| {
            Sim::new(self.first_seed)
                .net(Sim::CENSUS_NET)
                .plan(plan.clone())
                .time_limit(self.time_limit)
        };
        // Each passing single fault's second faults, by (scenario, case). Each unordered
        // pair comes at most twice, so past twice the room the bound leaves, the pairs surely
        // exceed it: they are counted from there, no longer kept.
        let seconds = Mutex::new(BTreeMap::<(usize, u64), Vec<Fault>>::new());
        let room = ex.max_cases.saturating_sub(single_total).saturating_mul(2);
        let counted = AtomicU64::new(0);
        let run = |s: usize, j: u64| {
            let plan = &singles[s][j as usize];
            let (result, uses) = self.run_sim(s, &case(plan), Some(j + 1))?;
            if result.violations.is_empty() {
                let (ctx, first) = (&contexts[s], &plan.faults[0]);
                let next = second_faults(first, &ctx.sites, &uses, &ctx.roles, kinds, ex.depth);
                let n = next.len() as u64;
                if counted.fetch_add(n, Ordering::Relaxed).saturating_add(n) <= room {
                    lock(&seconds).insert((s, j), next);
                }
            }
            Ok(result)
        };
        let summaries = self.run_batch(&lens, self.fresh_summaries(), &run, hooks)?;
        let interrupted = hooks.interrupt.load(Ordering::Relaxed);
        let counted = counted.into_inner();
        if !interrupted && counted > room {
            return Err(SimError::TooManyCases {
                level: "the single faults and the pairs of faults",
                cases: single_total + counted.div_ceil(2),
                at_least: true,
                max: ex.max_cases,
            });
        }

        // The two-fault cases, each unordered pair once, in the order their first faults ran.
        let mut pairs: Vec<Vec<FaultPlan>> = vec![Vec::new(); self.scenarios.len()];
        if !interrupted {
            let mut seen: Vec<BTreeSet<[String; 2]>> = vec![BTreeSet::new(); pairs.len()];
            for ((s, j), next) in seconds.into_inner().unwrap_or_else(|p| p.into_inner()) {
                if !self.keep_going && summaries[s].violations > 0 {
                    continue;
                }
                let first = &singles[s][j as usize].faults[0];
                for second in next {
                    let mut k = [format!("{first:?}"), format!("{second:?}")];
                    k.sort();
                    if seen[s].insert(k) {
                        let faults = vec![first.clone(), second];
                        pairs[s].push(FaultPlan { faults }.number_panics());
                    }
                }
            }
        }
        let pair_lens: Vec<u64> = pairs.iter().map(|c| c.len() as u64).collect();
        let pair_total: u64 = pair_lens.iter().sum();
        let summaries = if pair_total == 0 {
            summaries
        } else {
            too_many(
                "the single faults and the pairs of faults",
                single_total + pair_total,
                ex.max_cases,
            )?;
            level("pairs of faults", pair_total);
            let run = |s: usize, j: u64| {
                let case_no = lens[s] + j + 1;
                let plan = &pairs[s][j as usize];
                self.run_sim(s, &case(plan), Some(case_no)).map(|(r, _)| r)
            };
            self.run_batch(&pair_lens, summaries, &run, hooks)?
        };
        Ok(summaries
            .into_iter()
            .zip(lens.iter().zip(&pair_lens))
            .map(|(summary, (&single, &pairs))| Exhausted {
                summary,
                single,
                pairs,
            })
            .collect())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(label: &str, role: &str, event: &'static str, count: u32) -> SiteUse {
        SiteUse {
            label: Some(label.into()),
            file: "x.rs".into(),
            line: 1,
            role: role.into(),
            event,
            count,
        }
    }

    fn roles() -> Vec<String> {
        vec!["A".into(), "B".into()]
    }

    #[test]
    fn every_occurrence_meets_every_kind_that_can_strike_it() {
        let uses = [at("m", "A", "send", 2), at("m", "B", "receive", 2)];
        let cases = single_faults(&uses, &roles(), &FaultKind::ALL);
        // A sends twice: 7 kinds each, disk twice (a write, a sync); B receives twice: crash,
        // panic, partition, pause, and disk twice.
        assert_eq!(cases.len(), 2 * 9 + 2 * 6);
        let at_b2 = cases
            .iter()
            .filter(|p| {
                matches!(&p.faults[0].trigger,
                    crate::Trigger::Site { role: Some(r), occurrence: 2, .. } if r == "B")
            })
            .count();
        assert_eq!(at_b2, 6);
        // A partition cuts the acting participant off from the others.
        assert!(cases.iter().any(|p| matches!(&p.faults[0].action,
            Action::Partition { groups, .. } if groups[0] == ["B"] && groups[1] == ["A"])));
    }

    #[test]
    fn one_participant_gets_no_partition_and_the_allowed_kinds_only() {
        let uses = [at("l", "A", "local", 1)];
        let only_a = vec!["A".to_string()];
        let kinds: Vec<FaultKind> = single_faults(&uses, &only_a, &FaultKind::ALL)
            .iter()
            .map(|p| p.faults[0].action.kind())
            .collect();
        assert_eq!(
            kinds,
            [
                FaultKind::Crash,
                FaultKind::Panic,
                FaultKind::Pause,
                FaultKind::Disk,
                FaultKind::Disk
            ]
        );
        assert!(single_faults(&uses, &only_a, &[FaultKind::Drop]).is_empty());
    }

    #[test]
    fn depth_one_follows_only_what_the_first_fault_opened() {
        let census = [at("m", "A", "send", 1)];
        let run = [at("m", "A", "send", 2), at("rescue", "B", "local", 1)];
        let first = single_faults(&census, &roles(), &[FaultKind::Crash])
            .remove(0)
            .faults
            .remove(0);
        let one = second_faults(&first, &census, &run, &roles(), &[FaultKind::Crash], 1);
        let occurrences: Vec<(String, u32)> = one
            .iter()
            .map(|f| match &f.trigger {
                crate::Trigger::Site {
                    site, occurrence, ..
                } => (site.to_string(), *occurrence),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            occurrences,
            [("m".to_string(), 2), ("rescue".to_string(), 1)]
        );
        // Depth 2 also strikes the census occurrence, but never repeats the first fault.
        let two = second_faults(&first, &census, &run, &roles(), &[FaultKind::Crash], 2);
        assert_eq!(two.len(), 2);
        assert!(!two.contains(&first));
    }
}
