//! A proptest [`Strategy`] for fault plans, so users property-test their own choreographies
//! against faults and get shrunk counterexamples.
//!
//! ```
//! use proptest::prelude::*;
//! use rehearsal_sim::plan::{PlanContext, SiteUse};
//! use rehearsal_sim::{FaultKind, strategy::fault_plans};
//!
//! let ctx = PlanContext {
//!     roles: vec!["A".into(), "B".into()],
//!     sites: vec![SiteUse { label: Some("m".into()), file: "x.rs".into(), line: 1,
//!                           role: "A".into(), event: "send", count: 2 }],
//!     probe: None,
//! };
//! proptest!(|(plan in fault_plans(ctx.clone(), FaultKind::NETWORK.to_vec(), 3))| {
//!     prop_assert!(plan.faults.len() <= 3);
//! });
//! ```

use std::time::Duration;

use proptest::prelude::*;

use crate::plan::{Action, DiskOp, Fault, FaultKind, FaultPlan, PlanContext, SiteRef, Trigger};

/// Plans of up to `max_faults` faults of `kinds` over the participants and sites of `ctx`.
/// Shrinking drops faults, then moves toward earlier occurrences and shorter durations.
pub fn fault_plans(
    ctx: PlanContext,
    kinds: Vec<FaultKind>,
    max_faults: usize,
) -> impl Strategy<Value = FaultPlan> {
    let kinds = if kinds.is_empty() {
        FaultKind::NETWORK.to_vec()
    } else {
        kinds
    };
    let fault = (
        0..kinds.len(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0u64..2_000,
        any::<prop::sample::Index>(),
        any::<bool>(),
    );
    prop::collection::vec(fault, 0..=max_faults).prop_map(move |raw| {
        FaultPlan {
            faults: raw
                .into_iter()
                .filter_map(|(k, use_ix, occ_ix, ms, role_ix, flag)| {
                    let kind = kinds[k];
                    let pool: Vec<_> = ctx
                        .sites
                        .iter()
                        .filter(|u| !kind.on_frame() || u.event == "send")
                        .collect();
                    let role_at = |ix: &prop::sample::Index| -> Option<String> {
                        (!ctx.roles.is_empty())
                            .then(|| ctx.roles[ix.index(ctx.roles.len())].clone())
                    };
                    let trigger = if pool.is_empty() {
                        if kind.on_frame() {
                            return None;
                        }
                        Trigger::Time {
                            at: Duration::from_millis(ms),
                            role: role_at(&role_ix),
                        }
                    } else {
                        let u = pool[use_ix.index(pool.len())];
                        Trigger::Site {
                            site: u.label.clone().map(SiteRef::Label).unwrap_or_else(|| {
                                SiteRef::Line {
                                    file: u.file.clone(),
                                    line: u.line,
                                }
                            }),
                            role: Some(u.role.clone()),
                            occurrence: occ_ix.index(u.count.max(1) as usize) as u32 + 1,
                        }
                    };
                    let d = Duration::from_millis(ms.max(1));
                    let action = match kind {
                        FaultKind::Crash => Action::Crash {
                            restart_after: Some(Duration::from_millis(ms / 2)),
                        },
                        FaultKind::Panic => Action::Panic {
                            message: "injected panic".into(),
                        },
                        FaultKind::Delay => Action::Delay { by: d },
                        FaultKind::Drop => Action::Drop,
                        FaultKind::Duplicate => Action::Duplicate,
                        FaultKind::Partition => {
                            if ctx.roles.len() < 2 {
                                return None;
                            }
                            let cut = 1 + role_ix.index(ctx.roles.len() - 1);
                            Action::Partition {
                                groups: [ctx.roles[..cut].to_vec(), ctx.roles[cut..].to_vec()],
                                one_way: flag,
                                duration: d,
                            }
                        }
                        FaultKind::Pause => Action::Pause { duration: d },
                        FaultKind::Disk => Action::Disk {
                            op: if flag { DiskOp::Write } else { DiskOp::Sync },
                            count: 1,
                        },
                    };
                    Some(Fault { trigger, action })
                })
                .collect(),
        }
        .number_panics()
    })
}
