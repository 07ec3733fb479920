//! Range breakout: a sensor reporting far outside anything it has reported before.
//!
//! Numenta's NAB detector flags a value beyond the range seen so far (widened by a margin) as
//! fully anomalous, whatever the model makes of it; on NAB that alone is worth more than any
//! other single part of a detector, because a learned model judges an unseen level by its
//! nearest familiar pattern and can find it only mildly odd.

use serde::{Deserialize, Serialize};

/// The lowest and highest value seen so far on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeBreakout {
    margin: f64,
    range: Option<(f64, f64)>,
}

impl RangeBreakout {
    /// A check that flags values further outside the range than `margin` times its width
    /// (`margin` 0 turns it off).
    pub fn new(margin: f64) -> Self {
        RangeBreakout { margin, range: None }
    }

    /// True when `value` broke out of the range seen so far. With `learn` it then joins the range;
    /// without (while an alert is open: what is judged anomalous does not teach the model), the
    /// range stays as it was, so an excursion stays out of range until it ends.
    pub fn observe(&mut self, value: f64, learn: bool) -> bool {
        let (lo, hi) = self.range.unwrap_or((value, value));
        let pad = self.margin * (hi - lo);
        let outside = self.margin > 0.0 && hi > lo && (value > hi + pad || value < lo - pad);
        if learn {
            self.range = Some((lo.min(value), hi.max(value)));
        }
        outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_values_beyond_the_widened_range_then_learns_them() {
        let mut r = RangeBreakout::new(0.05);
        assert!(!r.observe(10.0, true), "the first value has no range to leave");
        assert!(!r.observe(20.0, true), "nor does the second: a point is not a range");
        assert!(!r.observe(20.5, true), "within 5% of the width 10");
        assert!(r.observe(21.1, true));
        assert!(!r.observe(21.1, true), "the range now includes it");
        assert!(r.observe(8.0, true));
        assert!(r.observe(30.0, false) && r.observe(30.0, false), "not learning, the range stays as it was");
        let mut off = RangeBreakout::new(0.0);
        assert!([1.0, 2.0, 100.0, -100.0].iter().all(|&v| !off.observe(v, true)));
    }
}
