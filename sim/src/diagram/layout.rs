//! Where a diagram's things go: a column per lifeline, a row per trace event.
//!
//! Events at the same simulated instant sit one small step apart; the space between two
//! instants grows with the logarithm of the gap and is capped, so long idle stretches (a
//! restart delay, a partition) cost a few pixels and a labelled break instead of a
//! screenful. Coordinates are whole pixels, so the page's bytes depend only on the trace.

use crate::trace::TraceEvent;

pub(super) const LEFT: i64 = 96;
pub(super) const HEAD: i64 = 58;
pub(super) const TOP: i64 = 16;
pub(super) const ROW_SAME: i64 = 16;
pub(super) const ROW_NEXT: i64 = 18;
pub(super) const GAP_MAX: i64 = 34;
/// Gaps at least this long (microseconds) get a labelled break line.
pub(super) const BREAK_US: u64 = 50_000;

/// Where things go: a row per event, a column per lifeline.
pub(super) struct Layout {
    /// The y coordinate of each event's row.
    pub(super) ys: Vec<i64>,
    /// The width of a lifeline's column.
    pub(super) col: i64,
    /// The diagram's width.
    pub(super) width: i64,
    /// The diagram's height.
    pub(super) height: i64,
    /// (y, gap in microseconds) for each break line.
    pub(super) breaks: Vec<(i64, u64)>,
}

impl Layout {
    /// Rows for `events` and columns for `lifelines` lifelines.
    pub(super) fn of(events: &[TraceEvent], lifelines: usize) -> Layout {
        let col = if lifelines <= 6 { 170 } else { 118 };
        let mut ys = Vec::with_capacity(events.len());
        let mut breaks = Vec::new();
        let mut y = TOP;
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                let gap = e.t_us.saturating_sub(events[i - 1].t_us);
                if gap == 0 {
                    y += ROW_SAME;
                } else {
                    // log2 of the gap in tenths of a millisecond, scaled and capped.
                    let log = 64 - (gap / 100 + 1).leading_zeros() as i64;
                    let extra = (log * 3).min(GAP_MAX);
                    if gap >= BREAK_US {
                        breaks.push((y + (ROW_NEXT + extra) / 2, gap));
                    }
                    y += ROW_NEXT + extra;
                }
            }
            ys.push(y);
        }
        Layout {
            ys,
            col,
            width: LEFT + col * lifelines.max(1) as i64 + 40,
            height: y + 40,
            breaks,
        }
    }

    /// The x coordinate of a lifeline.
    pub(super) fn x(&self, lifeline: usize) -> i64 {
        LEFT + self.col * lifeline as i64 + self.col / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t_us: u64) -> TraceEvent {
        TraceEvent {
            t_us,
            node: 0,
            kind: "local",
            session: None,
            from: Some("A".into()),
            to: None,
            lane: None,
            seq: None,
            site: None,
            bytes: None,
            detail: None,
            payload: None,
            epoch: None,
        }
    }

    #[test]
    fn long_gaps_are_compressed_and_marked() {
        let events = vec![ev(0), ev(0), ev(1_000), ev(10_000_000)];
        let l = Layout::of(&events, 1);
        assert_eq!(l.ys[1] - l.ys[0], ROW_SAME);
        assert!(l.ys[2] - l.ys[1] > ROW_NEXT, "a gap adds space: {:?}", l.ys);
        assert!(l.ys[3] - l.ys[2] <= ROW_NEXT + GAP_MAX, "{:?}", l.ys);
        assert_eq!(l.breaks.len(), 1, "only the long gap is a break");
    }
}
