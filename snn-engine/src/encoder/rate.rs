//! Rate coding: a value becomes a spike rate, the spikes spread deterministically over the window.

use serde::{Deserialize, Serialize};

use super::{SpikeRaster, rates_to_raster};

/// Rate (frequency) coding, the classic code of Adrian 1926 and of most converted and
/// STDP-trained networks (Diehl & Cook 2015 feed pixel intensities as rates).
///
/// Contract: `rate(x)` maps `[lo, hi]` linearly onto `[0, max_rate]` spikes per time step:
/// `max_rate * (x - lo) / (hi - lo)`, clamped, so values below `lo` give 0 and above `hi` give
/// `max_rate`; NaN gives 0 (the model drops non-finite readings before encoding; the clamp makes
/// the encoder total anyway). It is non-decreasing in `x`. `encode` places the spikes with
/// [`rates_to_raster`]'s phase accumulators rather than a Poisson draw, so input `i` spikes
/// exactly `floor(phases[i] + rate * steps)` times, the same way on every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateEncoder {
    lo: f64,
    hi: f64,
    max_rate: f32,
}

impl RateEncoder {
    /// Values `[lo, hi]` (`lo < hi`) to rates `[0, max_rate]` (`max_rate` in `[0, 1]`: at most one
    /// spike per time step).
    pub fn new(lo: f64, hi: f64, max_rate: f32) -> Self {
        debug_assert!(lo < hi && (0.0..=1.0).contains(&max_rate));
        RateEncoder { lo, hi, max_rate }
    }

    /// The rate of `x` in spikes per time step (see the contract).
    pub fn rate(&self, x: f64) -> f32 {
        let u = (x - self.lo) / (self.hi - self.lo);
        // `f64::clamp` passes NaN through; the contract says NaN is silence.
        if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) as f32 * self.max_rate }
    }

    /// Spikes of every value over `steps` time steps, input `i` starting at `phases[i]` in `[0, 1)`
    /// (one phase per value).
    pub fn encode(&self, values: &[f64], phases: &[f32], steps: usize) -> SpikeRaster {
        let rates: Vec<f32> = values.iter().map(|&x| self.rate(x)).collect();
        rates_to_raster(&rates, phases, steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(r: &SpikeRaster, i: u32) -> usize {
        r.spikes.iter().filter(|s| s.contains(&i)).count()
    }

    #[test]
    fn rates_are_linear_clamped_and_monotone() {
        let e = RateEncoder::new(-2.0, 2.0, 0.5);
        assert_eq!(e.rate(-2.0), 0.0);
        assert_eq!(e.rate(0.0), 0.25);
        assert_eq!(e.rate(2.0), 0.5);
        assert_eq!(e.rate(-100.0), 0.0);
        assert_eq!(e.rate(100.0), 0.5);
        assert_eq!(e.rate(f64::NAN), 0.0);
        assert_eq!(e.rate(f64::INFINITY), 0.5);
        let xs: Vec<f64> = (-30..=30).map(|k| f64::from(k) / 10.0).collect();
        let rates: Vec<f32> = xs.iter().map(|&x| e.rate(x)).collect();
        assert!(rates.windows(2).all(|w| w[0] <= w[1]), "{rates:?}");
        assert!(rates.iter().all(|r| (0.0..=0.5).contains(r)));
    }

    #[test]
    fn spike_counts_follow_the_rates_deterministically() {
        let e = RateEncoder::new(0.0, 10.0, 1.0);
        let values = [0.0, 2.5, 5.0, 10.0, 12.0, f64::NAN, 3.0];
        let phases = [0.0, 0.0, 0.5, 0.0, 0.0, 0.9, 0.95];
        let r = e.encode(&values, &phases, 20);
        assert_eq!(r.inputs, 7);
        assert_eq!(r.spikes.len(), 20);
        let counts: Vec<usize> = (0..7).map(|i| count(&r, i)).collect();
        // floor(phase + rate * 20): 0, 5, 10, 20, 20 (clamped), 0 (NaN), floor(0.95 + 6) = 6.
        assert_eq!(counts, [0, 5, 10, 20, 20, 0, 6]);
        assert_eq!(r, e.encode(&values, &phases, 20), "same inputs, same spikes");
        // Rate 0.25 from phase 0: every fourth step, the first at step 3.
        assert!(r.spikes[3].contains(&1) && !r.spikes[2].contains(&1));
    }

    #[test]
    fn more_value_never_means_fewer_spikes() {
        let e = RateEncoder::new(-1.0, 1.0, 0.75);
        let mut last = 0;
        for k in -15..=15 {
            let r = e.encode(&[f64::from(k) / 10.0], &[0.25], 40);
            assert!(r.count() >= last, "x = {}", f64::from(k) / 10.0);
            last = r.count();
        }
        assert_eq!(last, 30, "max_rate 0.75 over 40 steps from phase 0.25: floor(30.25)");
    }
}
