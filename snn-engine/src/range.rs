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

/// The smoothed level of one scalar channel and the band that level has kept.
///
/// A valve that sticks half-shut moves a flow meter's *average*, not its readings: each reading
/// is a value the meter gave while healthy, only the mix changes. The level (an exponential
/// moving average) leaves its band while such a fault lasts, which is what keeps the alert open
/// until the sensor is back to normal (see `AssetModel::step`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelBand {
    /// Weight of the newest value in the level (0: no level is kept).
    alpha: f64,
    level: Option<f64>,
    band: RangeBreakout,
}

impl LevelBand {
    /// A band flagging a level further outside it than `margin` times its width; the level
    /// averages over about `frames` values (0 turns the check off).
    pub fn new(margin: f64, frames: u32) -> Self {
        let alpha = if frames == 0 { 0.0 } else { 1.0 / f64::from(frames) };
        LevelBand { alpha, level: None, band: RangeBreakout::new(margin) }
    }

    /// Takes `value` into the level and returns true when the level is outside the band. With
    /// `learn` the level then joins the band, as [`RangeBreakout::observe`] does.
    pub fn observe(&mut self, value: f64, learn: bool) -> bool {
        if self.alpha == 0.0 {
            return false;
        }
        let level = self.level.map_or(value, |l| l + self.alpha * (value - l));
        self.level = Some(level);
        self.band.observe(level, learn)
    }

    /// Widens the band to take in the present level (an operator said this is normal).
    pub fn accept(&mut self) {
        if let Some(level) = self.level {
            self.band.observe(level, true);
        }
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

    #[test]
    fn a_shift_in_the_mix_of_familiar_values_moves_the_level_out_of_its_band() {
        // A quantised meter: mostly 32 while healthy, mostly 31 after, every reading a familiar one.
        let healthy = [32.0, 33.0, 32.0, 31.0, 32.0, 32.0, 33.0, 32.0, 31.0, 32.0];
        let faulty = [31.0, 31.0, 32.0, 31.0, 31.0, 31.0, 32.0, 31.0, 31.0, 31.0];
        let (mut values, mut levels) = (RangeBreakout::new(0.1), LevelBand::new(0.1, 6));
        for &v in healthy.iter().cycle().take(50) {
            values.observe(v, true);
            levels.observe(v, true);
        }
        for &v in healthy.iter().cycle().take(200) {
            assert!(!values.observe(v, true) && !levels.observe(v, true), "the healthy mix stays inside");
        }
        let mut values_out = false;
        let level_out: Vec<bool> = faulty
            .iter()
            .map(|&v| {
                values_out |= values.observe(v, false);
                levels.observe(v, false)
            })
            .collect();
        assert!(!values_out, "every reading is one the meter gave while healthy");
        assert!(level_out[5..].iter().all(|&o| o), "a lasting shift does: {level_out:?}");
        // Back to the healthy mix, the level returns into its band.
        let back: Vec<bool> = healthy.iter().cycle().take(30).map(|&v| levels.observe(v, false)).collect();
        assert!(back[20..].iter().all(|&o| !o), "{back:?}");
        // Accepted as normal, the present level joins the band.
        for &v in &faulty {
            levels.observe(v, false);
        }
        levels.accept();
        assert!(!levels.observe(31.0, false));
        let mut off = LevelBand::new(0.1, 0);
        assert!([1.0, 2.0, 100.0, -100.0].iter().all(|&v| !off.observe(v, true)));
    }
}
