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

    /// Folds `value` into the range; true when it broke out of the range seen before it.
    pub fn observe(&mut self, value: f64) -> bool {
        let (lo, hi) = self.range.unwrap_or((value, value));
        let pad = self.margin * (hi - lo);
        let outside = self.margin > 0.0 && hi > lo && (value > hi + pad || value < lo - pad);
        self.range = Some((lo.min(value), hi.max(value)));
        outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_values_beyond_the_widened_range_then_learns_them() {
        let mut r = RangeBreakout::new(0.05);
        assert!(!r.observe(10.0), "the first value has no range to leave");
        assert!(!r.observe(20.0), "nor does the second: a point is not a range");
        assert!(!r.observe(20.5), "within 5% of the width 10");
        assert!(r.observe(21.1));
        assert!(!r.observe(21.1), "the range now includes it");
        assert!(r.observe(8.0));
        let mut off = RangeBreakout::new(0.0);
        assert!([1.0, 2.0, 100.0, -100.0].iter().all(|&v| !off.observe(v)));
    }
}
