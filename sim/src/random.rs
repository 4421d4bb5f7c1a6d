//! Random fault plans: swarm testing with a fault budget and a final heal phase.
//!
//! Each seed draws, from a ChaCha generator seeded with it, a plan for one run: with swarm
//! testing on, first a random non-empty subset of the allowed fault kinds (so some seeds
//! hammer one kind and others mix), then up to `max_faults` faults of those kinds, each at a
//! site a participant really acts at (or at a time within the fault phase), with bounded
//! durations. At most `max_down` faults take a node down (crash, pause). Every fault ends,
//! so after the fault phase the network heals and every session must finish.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::plan::{Action, DiskOp, Fault, FaultKind, FaultPlan, PlanContext, SiteUse, Trigger};

/// How random plans are drawn.
#[derive(Clone, Debug)]
pub struct Swarm {
    /// The kinds plans may use.
    pub kinds: Vec<FaultKind>,
    /// Draw a random subset of `kinds` per seed.
    pub swarm: bool,
    /// Most faults in one plan.
    pub max_faults: usize,
    /// Most faults that take a node down (crash, pause) in one plan.
    pub max_down: usize,
    /// Time triggers fall within this phase; all faults end soon after it.
    pub fault_phase: Duration,
}

impl Default for Swarm {
    /// Network faults only, swarm on, at most 4 faults, one node down at a time, 2 s phase.
    fn default() -> Self {
        Swarm {
            kinds: FaultKind::NETWORK.to_vec(),
            swarm: true,
            max_faults: 4,
            max_down: 1,
            fault_phase: Duration::from_secs(2),
        }
    }
}

fn millis(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> Duration {
    // Log-uniform: short and long durations are both common.
    let (a, b) = ((lo.max(1)) as f64, (hi.max(lo + 1)) as f64);
    let x = (a.ln() + rng.r#gen::<f64>() * (b.ln() - a.ln())).exp();
    Duration::from_millis(x.round() as u64)
}

impl Swarm {
    /// The plan for `seed` over the participants and sites of `ctx`.
    pub fn plan(&self, seed: u64, ctx: &PlanContext) -> FaultPlan {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7377_6172_6d5f_706c);
        let mut kinds: Vec<FaultKind> = if self.swarm {
            self.kinds
                .iter()
                .copied()
                .filter(|_| rng.gen_bool(0.5))
                .collect()
        } else {
            self.kinds.clone()
        };
        if kinds.is_empty() {
            if let Some(k) = self.kinds.choose(&mut rng) {
                kinds.push(*k);
            }
        }
        let sends: Vec<&SiteUse> = ctx.sites.iter().filter(|u| u.event == "send").collect();
        let mut faults = Vec::new();
        let mut down = 0;
        let n = if kinds.is_empty() || self.max_faults == 0 {
            0
        } else {
            rng.gen_range(1..=self.max_faults)
        };
        for _ in 0..n {
            let Some(&kind) = kinds.choose(&mut rng) else {
                break;
            };
            let takes_down = kind.takes_down();
            if takes_down && down >= self.max_down {
                continue;
            }
            let pool: Vec<&SiteUse> = if kind.on_frame() {
                sends.clone()
            } else {
                ctx.sites.iter().collect()
            };
            let by_time = !kind.on_frame() && (pool.is_empty() || rng.gen_bool(0.25));
            let trigger = if by_time {
                let role = ctx.roles.choose(&mut rng).cloned();
                let at =
                    Duration::from_micros(rng.gen_range(0..=self.fault_phase.as_micros() as u64));
                Trigger::Time { at, role }
            } else {
                let Some(u) = pool.choose(&mut rng) else {
                    continue;
                };
                u.trigger(rng.gen_range(1..=u.count.max(1)))
            };
            let action = match kind {
                FaultKind::Crash => Action::Crash {
                    restart_after: Some(Duration::from_millis(rng.gen_range(0..=1_000))),
                },
                FaultKind::Panic => Action::Panic {
                    message: "injected panic".into(),
                },
                FaultKind::Delay => Action::Delay {
                    by: millis(&mut rng, 1, 2_000),
                },
                FaultKind::Drop => Action::Drop,
                FaultKind::Duplicate => Action::Duplicate,
                FaultKind::Partition => {
                    if ctx.roles.len() < 2 {
                        continue;
                    }
                    let mut roles = ctx.roles.clone();
                    roles.shuffle(&mut rng);
                    let cut = rng.gen_range(1..roles.len());
                    let second = roles.split_off(cut);
                    Action::Partition {
                        groups: [roles, second],
                        one_way: rng.gen_bool(0.3),
                        duration: millis(&mut rng, 10, 3_000),
                    }
                }
                FaultKind::Pause => Action::Pause {
                    duration: millis(&mut rng, 10, 2_000),
                },
                FaultKind::Disk => Action::Disk {
                    op: if rng.gen_bool(0.5) {
                        DiskOp::Write
                    } else {
                        DiskOp::Sync
                    },
                    count: rng.gen_range(1..=2),
                },
            };
            if takes_down {
                down += 1;
            }
            faults.push(Fault { trigger, action });
        }
        FaultPlan { faults }.number_panics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PlanContext {
        let use_ = |label: &str, role: &str, event: &'static str, count| SiteUse {
            label: Some(label.into()),
            file: "x.rs".into(),
            line: 1,
            role: role.into(),
            event,
            count,
        };
        PlanContext {
            roles: vec!["A".into(), "B".into(), "C".into()],
            sites: vec![
                use_("m", "A", "send", 3),
                use_("m", "B", "receive", 3),
                use_("l", "C", "local", 2),
            ],
            probe: None,
        }
    }

    #[test]
    fn plans_are_a_function_of_the_seed_and_respect_the_budget() {
        let swarm = Swarm {
            kinds: FaultKind::ALL.to_vec(),
            ..Swarm::default()
        };
        let mut kinds_seen = std::collections::BTreeSet::new();
        for seed in 0..500 {
            let plan = swarm.plan(seed, &ctx());
            assert_eq!(plan, swarm.plan(seed, &ctx()));
            assert!(!plan.faults.is_empty() && plan.faults.len() <= 4);
            let down = plan
                .faults
                .iter()
                .filter(|f| matches!(f.action.kind(), FaultKind::Crash | FaultKind::Pause))
                .count();
            assert!(down <= 1, "seed {seed}: {plan:?}");
            for f in &plan.faults {
                kinds_seen.insert(f.action.kind());
                if f.action.kind().on_frame() {
                    // Frame faults hit frames that are really sent.
                    assert!(matches!(&f.trigger, Trigger::Site { role: Some(r), .. } if r == "A"));
                }
            }
            // What the generator makes, the parser accepts.
            let again = FaultPlan::parse(&plan.to_toml(), "gen.toml", &ctx()).unwrap();
            assert_eq!(again, plan);
        }
        assert_eq!(kinds_seen.len(), FaultKind::ALL.len());
    }
}
