//! Latency (time-to-first-spike) coding: the larger the value, the earlier its one spike.

use serde::{Deserialize, Serialize};

use super::SpikeRaster;

/// Time-to-first-spike coding (Thorpe, Delorme & Van Rullen 2001; Gollisch & Meister 2008 found
/// it in the retina): each input spikes at most once per window, and strong inputs spike first.
///
/// Contract: with `u = (x - lo) / (hi - lo)` clamped to `[0, 1]`, an input with `u > 0` spikes
/// once, at step `min(floor((1 - u) * steps), steps - 1)`, so `x >= hi` spikes at step 0 and a
/// value just above `lo` at the last step; `x <= lo` (and NaN) never spikes. The latency is
/// linear in the value (rather than Thorpe's logarithmic `tau * ln(u / (u - theta))`, which
/// crowds the large values into the first few steps of a short window) and non-increasing in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyEncoder {
    lo: f64,
    hi: f64,
    steps: usize,
}

impl LatencyEncoder {
    /// Values `[lo, hi]` (`lo < hi`) to spike times in a window of `steps >= 1` time steps.
    pub fn new(lo: f64, hi: f64, steps: usize) -> Self {
        debug_assert!(lo < hi && steps >= 1);
        LatencyEncoder { lo, hi, steps }
    }

    /// The time step of `x`'s spike, `None` when it does not spike (see the contract).
    pub fn spike_time(&self, x: f64) -> Option<usize> {
        let u = (x - self.lo) / (self.hi - self.lo);
        if u.is_nan() || u <= 0.0 {
            return None;
        }
        let late = (1.0 - u.min(1.0)) * self.steps as f64;
        Some((late.floor() as usize).min(self.steps - 1))
    }

    /// The window of `values`: input `i` spikes once, at [`Self::spike_time`], or not at all.
    pub fn encode(&self, values: &[f64]) -> SpikeRaster {
        let mut steps = vec![Vec::new(); self.steps];
        // Inputs in increasing order, so every step's list is sorted as `SpikeRaster` requires.
        for (i, &x) in values.iter().enumerate() {
            if let Some(t) = self.spike_time(x) {
                steps[t].push(i as u32);
            }
        }
        SpikeRaster::from_steps(values.len(), steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn larger_values_spike_earlier_within_the_window() {
        let e = LatencyEncoder::new(0.0, 1.0, 10);
        assert_eq!(e.spike_time(1.0), Some(0));
        assert_eq!(e.spike_time(5.0), Some(0));
        assert_eq!(e.spike_time(0.95), Some(0));
        assert_eq!(e.spike_time(0.5), Some(5));
        assert_eq!(e.spike_time(0.25), Some(7));
        assert_eq!(e.spike_time(1e-9), Some(9));
        assert_eq!(e.spike_time(0.0), None);
        assert_eq!(e.spike_time(-3.0), None);
        assert_eq!(e.spike_time(f64::NAN), None);
        assert_eq!(e.spike_time(f64::INFINITY), Some(0));
        let times: Vec<usize> = (1..=100).filter_map(|k| e.spike_time(f64::from(k) / 100.0)).collect();
        assert_eq!(times.len(), 100, "everything above lo spikes");
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "non-increasing: {times:?}");
        assert!(times.iter().all(|&t| t < 10));
    }

    #[test]
    fn one_spike_per_input_at_most() {
        let e = LatencyEncoder::new(-1.0, 1.0, 8);
        let values = [1.0, -1.0, 0.0, 0.9, f64::NAN, -0.5];
        let r = e.encode(&values);
        assert_eq!((r.inputs, r.spikes.len()), (6, 8));
        let steps: Vec<Vec<u32>> = r.spikes.iter().map(<[u32]>::to_vec).collect();
        // u: 1, 0, 0.5, 0.95, NaN, 0.25 -> steps 0, none, 4, 0, none, 6.
        let mut want = vec![Vec::new(); 8];
        want[0] = vec![0, 3];
        want[4] = vec![2];
        want[6] = vec![5];
        assert_eq!(steps, want);
        assert_eq!(r.count(), 4);
        assert_eq!(r, e.encode(&values), "deterministic");
    }

    #[test]
    fn a_one_step_window_spikes_everything_above_lo_at_once() {
        let e = LatencyEncoder::new(0.0, 1.0, 1);
        assert_eq!(e.encode(&[0.01, 0.0, 1.0]).spikes[0], [0, 2]);
    }
}
