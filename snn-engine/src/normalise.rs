//! Online per-feature normalisation: running mean and variance, clipped z-scores.

use serde::{Deserialize, Serialize};

/// Per-feature running mean and variance.
///
/// During warm-up the statistics are exact running moments (Welford 1962, in the
/// `var += (d * (x - mean') - var) / n` form); afterwards they follow an exponentially weighted
/// update (West 1979) with a small constant rate, fed only steps judged normal, so slow drift of
/// a healthy machine is tracked without learning a fault as normal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    count: u64,
    mean: Vec<f64>,
    var: Vec<f64>,
    z_clip: f64,
    std_floor_fraction: f64,
    std_floor_abs: f64,
    /// Per-feature resolution: the standard deviation used is never below it (see
    /// [`Normaliser::with_resolution`]).
    resolution: Vec<f64>,
}

impl Normaliser {
    /// `dims` features; z-scores clipped to `±z_clip`; the standard deviation used is at least
    /// `std_floor_abs + std_floor_fraction * |mean|`, so a constant feature does not turn a
    /// rounding-level change into a 6-sigma event.
    pub fn new(dims: usize, z_clip: f64, std_floor_fraction: f64, std_floor_abs: f64) -> Self {
        Normaliser {
            count: 0,
            mean: vec![0.0; dims],
            var: vec![0.0; dims],
            z_clip,
            std_floor_fraction,
            std_floor_abs,
            resolution: vec![0.0; dims],
        }
    }

    /// The same normaliser with the standard deviation of feature `i` floored at `resolution[i]`:
    /// the smallest change of that feature that means something. A level in dB has its own unit
    /// (a fraction of its mean means nothing there), and a steady one, measured to a fraction of a
    /// dB, would otherwise turn measurement noise into many-sigma departures.
    pub fn with_resolution(mut self, resolution: Vec<f64>) -> Self {
        assert_eq!(resolution.len(), self.mean.len(), "one resolution per feature");
        self.resolution = resolution;
        self
    }

    /// Observations folded in with exact (Welford) weighting so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact running update (warm-up).
    pub fn observe(&mut self, x: &[f64]) {
        self.count += 1;
        let rate = 1.0 / self.count as f64;
        self.observe_with_rate(x, rate);
    }

    /// Exponentially weighted update with `rate` in (0, 1] (monitoring, normal steps only).
    pub fn observe_slow(&mut self, x: &[f64], rate: f64) {
        if self.count == 0 {
            self.observe(x);
        } else {
            self.observe_with_rate(x, rate);
        }
    }

    fn observe_with_rate(&mut self, x: &[f64], rate: f64) {
        for ((m, v), &xi) in self.mean.iter_mut().zip(self.var.iter_mut()).zip(x) {
            let d = xi - *m;
            *m += rate * d;
            *v += rate * (d * (xi - *m) - *v);
            *v = v.max(0.0);
        }
    }

    /// Running mean of feature `i`.
    pub fn mean(&self, i: usize) -> f64 {
        self.mean[i]
    }

    /// Floored standard deviation of feature `i`.
    pub fn std(&self, i: usize) -> f64 {
        let floor = self.std_floor_abs + self.std_floor_fraction * self.mean[i].abs();
        self.var[i].sqrt().max(floor).max(self.resolution[i])
    }

    /// Clipped z-score of `x` for feature `i`.
    pub fn z(&self, i: usize, x: f64) -> f64 {
        ((x - self.mean[i]) / self.std(i)).clamp(-self.z_clip, self.z_clip)
    }

    /// Feature value at z-score `z` (the inverse of [`Normaliser::z`] inside the clip range).
    pub fn value_at(&self, i: usize, z: f64) -> f64 {
        self.mean[i] + z * self.std(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_batch_moments() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let mut n = Normaliser::new(1, 6.0, 0.0, 1e-12);
        for &x in &xs {
            n.observe(&[x]);
        }
        assert!((n.mean(0) - 5.0).abs() < 1e-12);
        assert!((n.std(0) - 2.0).abs() < 1e-12);
        assert_eq!(n.z(0, 9.0), 2.0);
        assert_eq!(n.value_at(0, 2.0), 9.0);
    }

    #[test]
    fn z_is_clipped_and_std_floored() {
        let mut n = Normaliser::new(2, 6.0, 0.01, 1e-9);
        for _ in 0..10 {
            n.observe(&[100.0, 0.0]);
        }
        // Constant feature: std floored at 1% of |mean| = 1.0.
        assert!((n.std(0) - 1.0).abs() < 1e-6);
        assert!((n.z(0, 101.0) - 1.0).abs() < 1e-6);
        assert_eq!(n.z(0, 1e9), 6.0);
        assert_eq!(n.z(1, -1.0), -6.0);
    }

    #[test]
    fn a_feature_s_resolution_floors_its_std() {
        let mut n = Normaliser::new(2, 6.0, 0.01, 1e-9).with_resolution(vec![0.0, 1.0]);
        for x in [-55.2, -54.8, -55.0, -55.1, -54.9] {
            n.observe(&[x, x]);
        }
        // Without a resolution: 1% of |mean| (0.55) over the spread (0.14); with one: 1 dB.
        assert!((n.std(0) - 0.55).abs() < 1e-6, "{}", n.std(0));
        assert_eq!(n.std(1), 1.0);
        assert!((n.z(1, -53.0) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn slow_update_tracks_drift_gradually() {
        let mut n = Normaliser::new(1, 6.0, 0.0, 1e-9);
        n.observe(&[0.0]);
        n.observe(&[0.0]);
        for _ in 0..100 {
            n.observe_slow(&[1.0], 0.01);
        }
        let m = n.mean(0);
        assert!(m > 0.6 && m < 0.7, "mean {m}");
    }
}
