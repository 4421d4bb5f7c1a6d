//! The `effect-logged` oracle (replay): fed the draws of a run as they happen.

use std::collections::BTreeMap;

use rehearsal::{Participant, SessionId, Site};

/// Where a draw happened: on which node, in which session, by whom, at which place of its
/// effect log, and in which store batch its log entry went (`None`: no store).
#[derive(Clone, Copy, Debug)]
pub struct DrawAt {
    /// The node.
    pub node: u32,
    /// The session.
    pub session: SessionId,
    /// The participant.
    pub participant: Participant,
    /// Its place in the participant's effect log.
    pub index: u64,
    /// The store batch its log entry was committed in (numbered by
    /// [`CrashableStore::committed`](rehearsal::store::CrashableStore::committed)).
    pub batch: Option<u64>,
}

/// One draw: its site, its block, its value, the incarnation of the node that drew it and
/// the store batch its log entry went into.
#[derive(Debug)]
struct Drawn {
    site: Site,
    block: u64,
    value: Vec<u8>,
    by: (u32, u32),
    batch: Option<u64>,
}

/// The `effect-logged` oracle, fed the draws of a run (and the kills of its nodes) as they
/// happen.
///
/// A draw is keyed by its place in the participant's effect log, so a loop resumed from a
/// snapshot (which skips the draws of the iterations before it) is compared draw by draw.
/// A draw at a place an earlier run drew at must repeat that draw, unless the earlier one's
/// log entry is gone: it went into a store batch that the kill of its incarnation lost
/// (unsynced), or its node had no store. Drawing again is then right.
#[derive(Debug, Default)]
pub struct EffectLog {
    /// Per (session, participant): its draws by place in its effect log.
    draws: BTreeMap<(SessionId, Participant), BTreeMap<u64, Drawn>>,
    /// Per node: its current incarnation (kills so far).
    incarnation: BTreeMap<u32, u32>,
    /// Incarnations whose kill lost unsynced batches: the last batch that survived.
    kept: BTreeMap<(u32, u32), u64>,
    violations: Vec<String>,
}

impl EffectLog {
    /// Node `node` was killed; `kept`: when the kill lost unsynced store batches, the number
    /// of the last one that survived (`Some(0)` for a node without a store).
    pub fn killed(&mut self, node: u32, kept: Option<u64>) {
        let life = self.incarnation.entry(node).or_insert(0);
        if let Some(kept) = kept {
            self.kept.insert((node, *life), kept);
        }
        *life += 1;
    }

    /// A draw of `value` at `site` in block `epoch`, where `at` says.
    pub fn draw(&mut self, at: DrawAt, site: &Site, epoch: u64, value: &[u8]) {
        let by = (at.node, *self.incarnation.get(&at.node).unwrap_or(&0));
        let drawn = self.draws.entry((at.session, at.participant)).or_default();
        let now = Drawn {
            site: site.clone(),
            block: epoch,
            value: value.to_vec(),
            by,
            batch: at.batch,
        };
        let Some(before) = drawn.get(&at.index) else {
            drawn.insert(at.index, now);
            return;
        };
        let lost = self
            .kept
            .get(&before.by)
            .is_some_and(|kept| before.batch.is_none_or(|b| b > *kept));
        if lost {
            drawn.insert(at.index, now);
            return;
        }
        let problem = if before.site != *site || before.block != epoch {
            format!(
                "was at {} in an earlier run and at {site} when it ran again",
                before.site
            )
        } else if before.value != value {
            format!(
                "at {site} was {:02x?} in an earlier run and {value:02x?} when it ran again: a \
                 logged result was not used",
                before.value
            )
        } else {
            return;
        };
        if self.violations.len() < 10 {
            let (session, participant, index) = (at.session, at.participant, at.index);
            self.violations.push(format!(
                "effect-logged: in {session}, {participant}'s effect #{index} {problem}"
            ));
        }
    }

    /// What it found, taken out.
    pub fn take_violations(&mut self) -> Vec<String> {
        std::mem::take(&mut self.violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_that_differs_when_the_projection_runs_again_breaks_effect_logged() {
        let site = Site::caller(Some("dice"));
        let at = |index: u64, batch: u64| DrawAt {
            node: 1,
            session: SessionId(1),
            participant: Participant::role("Alice"),
            index,
            batch: Some(batch),
        };
        let mut log = EffectLog::default();
        log.draw(at(0, 1), &site, 0, &[4]);
        log.draw(at(0, 1), &site, 0, &[4]);
        log.draw(at(1, 2), &site, 0, &[6]);
        assert!(
            log.take_violations().is_empty(),
            "the same value, then a new draw"
        );
        // A loop resumed past its first iteration draws effect #1 first.
        log.draw(at(1, 3), &site, 0, &[6]);
        assert!(log.take_violations().is_empty());
        log.draw(at(1, 3), &site, 0, &[5]);
        let v = log.take_violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with("effect-logged: in s1, Alice's effect #1 at"),
            "{v:?}"
        );
        // A kill that kept every batch: the draws of the dead incarnation still bind.
        log.killed(1, None);
        log.draw(at(0, 1), &site, 0, &[3]);
        assert_eq!(log.take_violations().len(), 1);
        // A kill that lost the batches after 4: a draw logged in batch 5 may be drawn
        // again, one logged in batch 4 may not.
        log.draw(at(2, 4), &site, 0, &[8]);
        log.draw(at(3, 5), &site, 0, &[8]);
        log.killed(1, Some(4));
        log.draw(at(3, 5), &site, 0, &[9]);
        assert!(log.take_violations().is_empty());
        log.draw(at(2, 5), &site, 0, &[9]);
        assert_eq!(log.take_violations().len(), 1);
    }
}
