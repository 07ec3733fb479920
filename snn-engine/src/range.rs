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
/// moving average over the channel's readings) leaves its band while such a fault lasts, which is
/// what keeps the alert open until the sensor is back to normal (see `AssetModel::step`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelBand {
    /// Readings the level averages over (0: no level is kept).
    readings: u32,
    level: Option<f64>,
    /// Readings taken into the level so far (counted up to `readings`).
    seen: u32,
    band: RangeBreakout,
}

impl LevelBand {
    /// A band flagging a level further outside it than `margin` times its width; the level
    /// averages over about `readings` readings (0 turns the check off).
    pub fn new(margin: f64, readings: u32) -> Self {
        LevelBand { readings, level: None, seen: 0, band: RangeBreakout::new(margin) }
    }

    /// Takes `value` into the level and returns true when the level is outside the band. With
    /// `learn` the level then joins the band, as [`RangeBreakout::observe`] does, once the level
    /// has averaged a full `readings` (a first reading alone would widen the band by the spread of
    /// single readings, which is wider than a level's).
    pub fn observe(&mut self, value: f64, learn: bool) -> bool {
        if self.readings == 0 {
            return false;
        }
        self.seen = self.seen.saturating_add(1).min(self.readings);
        // Until `readings` have arrived, the plain mean of those seen; then the moving average.
        // Written as a weighted sum so two huge finite values cannot overflow.
        let alpha = 1.0 / f64::from(self.seen);
        let level = self.level.map_or(value, |l| (1.0 - alpha) * l + alpha * value);
        self.level = Some(level);
        let settled = self.seen >= self.readings;
        settled && self.band.observe(level, learn)
    }

    /// Widens the band to take in the present level (an operator said this is normal), once the
    /// level has averaged its full `readings`.
    pub fn accept(&mut self) {
        if let Some(level) = self.level.filter(|_| self.seen >= self.readings) {
            self.band.observe(level, true);
        }
    }
}

/// What one reading of a scalar channel showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScalarVerdict {
    /// The reading broke out of the channel's range.
    pub out_of_range: bool,
    /// The channel's level is off its band (see [`LevelBand`]).
    pub level_off: bool,
}

/// A scalar channel's range and level band, learning together: what is seen while an alert is
/// open teaches neither (what is judged anomalous does not teach the model), so an excursion
/// stays out of range, and a shifted level off its band, until it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalarChecks {
    range: RangeBreakout,
    level: LevelBand,
}

impl ScalarChecks {
    /// Checks widened by `margin` times their width (0 turns both off), the level averaging over
    /// `level_readings` readings (0 turns the level check off).
    pub fn new(margin: f64, level_readings: u32) -> Self {
        ScalarChecks { range: RangeBreakout::new(margin), level: LevelBand::new(margin, level_readings) }
    }

    /// Checks `value`, learning from it with `learn` (false while an alert is open).
    pub fn observe(&mut self, value: f64, learn: bool) -> ScalarVerdict {
        ScalarVerdict { out_of_range: self.range.observe(value, learn), level_off: self.level.observe(value, learn) }
    }

    /// Takes the present into the range and the level band (an operator said this is normal).
    pub fn accept(&mut self, value: f64) {
        self.range.observe(value, true);
        self.level.accept();
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
    fn a_shift_in_the_mix_of_familiar_values_takes_the_level_off_its_band() {
        // A quantised meter: mostly 32 while healthy, mostly 31 after, every reading a familiar one.
        let healthy = [32.0, 33.0, 32.0, 31.0, 32.0, 32.0, 33.0, 32.0, 31.0, 32.0];
        let faulty = [31.0, 31.0, 32.0, 31.0, 31.0, 31.0, 32.0, 31.0, 31.0, 31.0];
        // Every possible first reading: an odd one (31 or 33) must not widen the band for good.
        for start in 0..healthy.len() {
            let mut checks = ScalarChecks::new(0.1, 6);
            let mut run = |values: &[f64], learn: bool| -> Vec<ScalarVerdict> {
                values.iter().map(|&v| checks.observe(v, learn)).collect()
            };
            let learning: Vec<f64> = healthy.iter().cycle().skip(start).take(250).copied().collect();
            let verdicts = run(&learning, true);
            let inside = ScalarVerdict::default();
            assert!(verdicts[50..].iter().all(|v| *v == inside), "start {start}: the healthy mix stays inside");
            // The fault, with an alert open (so nothing of it is learned).
            let verdicts = run(&faulty, false);
            assert!(verdicts.iter().all(|v| !v.out_of_range), "every reading is one the meter gave while healthy");
            assert!(verdicts[5..].iter().all(|v| v.level_off), "start {start}: a lasting shift is off: {verdicts:?}");
            // Back to the healthy mix, the level returns into its band.
            let back: Vec<f64> = healthy.iter().cycle().take(30).copied().collect();
            assert!(run(&back, false)[20..].iter().all(|v| !v.level_off), "start {start}");
            // Stuck again, then accepted as normal: the present level joins the band.
            run(&faulty, false);
            checks.accept(31.0);
            assert_eq!(checks.observe(31.0, false), inside, "start {start}");
        }
    }

    #[test]
    fn the_level_check_is_off_at_zero_readings_and_with_the_range_margin() {
        // Learned on a steady mix, then a lasting step inside the values' range: only a check with
        // both a level and a margin finds the level off.
        let level_off = |margin: f64, readings: u32| {
            let mut checks = ScalarChecks::new(margin, readings);
            (0..300).for_each(|i| _ = checks.observe(f64::from(i % 3), true));
            let step: Vec<ScalarVerdict> = (0..20).map(|_| checks.observe(0.0, false)).collect();
            step.iter().all(|v| !v.out_of_range) && step[10..].iter().all(|v| v.level_off)
        };
        assert!(level_off(0.1, 6));
        assert!(!level_off(0.1, 0));
        assert!(!level_off(0.0, 6));
    }

    #[test]
    fn huge_finite_readings_keep_a_finite_level() {
        let mut band = LevelBand::new(0.1, 6);
        for v in [f64::MAX, -f64::MAX, f64::MAX, f64::MAX, -f64::MAX, f64::MAX, -f64::MAX, f64::MAX] {
            band.observe(v, true);
        }
        assert!(band.level.is_some_and(f64::is_finite), "{:?}", band.level);
    }
}
