//! Circular population coding: a position on a cycle (the time of day) as a bump of rates on
//! fields placed around the cycle.

use serde::{Deserialize, Serialize};

/// A population of `fields` neurons with Gaussian tuning curves whose centres are evenly spaced
/// around a cycle of length `period`, so the code wraps: the end of the cycle is next to its start
/// (23:59 next to 00:00), which a code over an interval cannot say.
///
/// Contract: field `k` has its centre at `k * period / fields`; `encode(x)` gives field `k` the rate
/// `exp(-d^2 / (2 width^2))` in `[0, 1]`, where `d` is the distance from `x` to that centre around
/// the cycle, the shorter way, in field spacings. So `x` and `x + period` encode the same, the
/// field centred on `x` has rate 1, and rates fall off the same way on both sides, across the wrap
/// too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CircularEncoder {
    period: f64,
    fields: usize,
    width: f64,
}

impl CircularEncoder {
    /// `fields >= 1` centres around a cycle of length `period > 0`, tuning width `width > 0` field
    /// spacings.
    pub fn new(period: f64, fields: usize, width: f64) -> Self {
        debug_assert!(period > 0.0 && fields >= 1 && width > 0.0);
        CircularEncoder { period, fields, width }
    }

    /// Number of fields (rates produced per position).
    pub fn fields(&self) -> usize {
        self.fields
    }

    /// Tuning width in field spacings.
    pub fn width_fields(&self) -> f64 {
        self.width
    }

    /// Rates of every field for position `x` (any real number; taken modulo the period), written
    /// into `out` (length `fields()`).
    pub fn encode(&self, x: f64, out: &mut [f32]) {
        let n = self.fields as f64;
        let position = x.rem_euclid(self.period) / self.period * n;
        let k = -0.5 / (self.width * self.width);
        for (i, o) in out.iter_mut().enumerate() {
            let d = (position - i as f64).abs();
            let d = d.min(n - d);
            *o = (k * d * d).exp() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(e: &CircularEncoder, x: f64) -> Vec<f32> {
        let mut out = vec![0.0; e.fields()];
        e.encode(x, &mut out);
        out
    }

    #[test]
    fn the_field_at_a_centre_is_one_and_neighbours_fall_off_symmetrically() {
        let e = CircularEncoder::new(24.0, 24, 0.7);
        let r = rates(&e, 5.0);
        assert_eq!(r[5], 1.0);
        assert_eq!(r[4], r[6]);
        assert!(r[4] < 1.0 && r[3] < r[4], "{r:?}");
        let expected = (-0.5f64 / 0.49).exp() as f32;
        assert!((r[4] - expected).abs() < 1e-6, "{} vs {expected}", r[4]);
    }

    #[test]
    fn the_code_wraps_around_the_cycle() {
        let e = CircularEncoder::new(86_400.0, 24, 0.7);
        // Just before midnight is nearer 00:00 than 22:00, and a day later encodes the same.
        let r = rates(&e, 86_400.0 - 60.0);
        assert!(r[0] > r[22], "{r:?}");
        assert_eq!(rates(&e, 3_600.0 * 7.5), rates(&e, 3_600.0 * 7.5 + 86_400.0 * 3.0));
        assert_eq!(rates(&e, -3_600.0), rates(&e, 86_400.0 - 3_600.0));
        // Half-way between two fields, both get the same rate.
        let mid = rates(&e, 1_800.0);
        assert!((mid[0] - mid[1]).abs() < 1e-6, "{mid:?}");
        let wrap = rates(&e, 86_400.0 - 1_800.0);
        assert!((wrap[23] - wrap[0]).abs() < 1e-6, "{wrap:?}");
    }

    #[test]
    fn distinct_hours_get_distinct_codes() {
        let e = CircularEncoder::new(86_400.0, 24, 0.7);
        let cosine = |a: &[f32], b: &[f32]| {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            dot / (a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt())
        };
        let (nine, ten, three) = (rates(&e, 9.0 * 3600.0), rates(&e, 10.0 * 3600.0), rates(&e, 15.0 * 3600.0));
        assert!(cosine(&nine, &ten) < 0.8, "an hour apart is already a different context");
        assert!(cosine(&nine, &three) < 1e-6, "six hours apart share nothing");
    }
}
