//! Phase coding: a value's binary digits as spikes at the phases of a repeating cycle.

use serde::{Deserialize, Serialize};

use super::SpikeRaster;

/// Phase coding with weighted spikes (Kim, Kim, Huh, Lee & Choi 2018, "Deep neural networks
/// with weighted spikes", Neurocomputing 311), after the phase-of-firing codes found against
/// hippocampal and cortical oscillations (O'Keefe & Recce 1993).
///
/// Contract: a global oscillation has a cycle of `bits` time steps; time step `t` is at phase
/// `p = t % bits`, and a spike at phase `p` stands for `2^-(1 + p)` (1/2 at phase 0, 1/4 at phase
/// 1, ...). The value is scaled to `u = (x - lo) / (hi - lo)`, clamped to `[0, 1]` (NaN counts as
/// `lo`), quantised to the level `min(floor(u * 2^bits), 2^bits - 1)`, and input `i` spikes at
/// phase `p` of every cycle when bit `bits - 1 - p` of its level is set (most significant bit
/// first). So one cycle carries the level exactly, [`Self::decode`] inverts it to within one
/// level `(hi - lo) / 2^bits` below `x`, larger values carry larger levels, and a window of
/// `steps` time steps repeats the cycle (a last partial cycle sends the leading bits only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseEncoder {
    lo: f64,
    hi: f64,
    bits: u32,
}

impl PhaseEncoder {
    /// Values `[lo, hi]` (`lo < hi`) quantised to `bits` bits (`1..=16`), one per phase.
    pub fn new(lo: f64, hi: f64, bits: u32) -> Self {
        debug_assert!(lo < hi && (1..=16).contains(&bits));
        PhaseEncoder { lo, hi, bits }
    }

    /// Time steps per oscillation cycle (the number of phases).
    pub fn cycle_steps(&self) -> usize {
        self.bits as usize
    }

    /// The weight of a spike at phase `p` of the cycle, `2^-(1 + p)`.
    pub fn phase_weight(p: usize) -> f64 {
        0.5f64.powi(p as i32 + 1)
    }

    /// The quantisation level of `x`, in `0..2^bits` (see the contract).
    pub fn level(&self, x: f64) -> u32 {
        let u = (x - self.lo) / (self.hi - self.lo);
        let u = if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) };
        let top = (1u32 << self.bits) - 1;
        ((u * f64::from(1u32 << self.bits)).floor() as u32).min(top)
    }

    /// Spikes of every value over `steps` time steps.
    pub fn encode(&self, values: &[f64], steps: usize) -> SpikeRaster {
        let levels: Vec<u32> = values.iter().map(|&x| self.level(x)).collect();
        let spikes = (0..steps)
            .map(|t| {
                let bit = self.bits - 1 - (t % self.cycle_steps()) as u32;
                (0..levels.len() as u32).filter(|&i| (levels[i as usize] >> bit) & 1 == 1).collect()
            })
            .collect();
        SpikeRaster::from_steps(values.len(), spikes)
    }

    /// The value input `i` of `raster` carries: the weighted sum of its spikes over the whole
    /// cycles of the window, averaged per cycle, scaled back to `[lo, hi]`. `None` when the
    /// window is shorter than one cycle.
    pub fn decode(&self, raster: &SpikeRaster, i: u32) -> Option<f64> {
        let k = self.cycle_steps();
        let cycles = raster.spikes.len() / k;
        if cycles == 0 {
            return None;
        }
        let sum: f64 =
            (0..cycles * k).filter(|&t| raster.spikes[t].contains(&i)).map(|t| Self::phase_weight(t % k)).sum();
        Some(self.lo + sum / cycles as f64 * (self.hi - self.lo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_bits_most_significant_first() {
        let e = PhaseEncoder::new(0.0, 1.0, 4);
        // 0.6875 = 0b1011 / 16: spikes at phases 0, 2 and 3 of each cycle.
        let r = e.encode(&[0.6875], 8);
        let at: Vec<usize> = (0..8).filter(|&t| r.spikes[t].contains(&0)).collect();
        assert_eq!(at, [0, 2, 3, 4, 6, 7]);
        assert_eq!(e.level(0.6875), 11);
        assert_eq!(e.decode(&r, 0), Some(0.6875));
        assert_eq!(PhaseEncoder::phase_weight(0), 0.5);
        assert_eq!(PhaseEncoder::phase_weight(3), 0.0625);
    }

    #[test]
    fn edges_clamp_and_nan_is_lo() {
        let e = PhaseEncoder::new(-2.0, 2.0, 3);
        assert_eq!(e.level(-2.0), 0);
        assert_eq!(e.level(-9.0), 0);
        assert_eq!(e.level(f64::NAN), 0);
        assert_eq!(e.level(2.0), 7, "hi is the top level, not an overflow to 0");
        assert_eq!(e.level(1e300), 7);
        let r = e.encode(&[-2.0, f64::NAN, 2.0], 6);
        assert_eq!(r.count(), 6, "lo and NaN are silent, hi spikes at every phase");
        assert!(r.spikes.iter().all(|s| s == [2]));
        assert_eq!(e.decode(&r, 0), Some(-2.0));
        assert_eq!(e.decode(&r, 2), Some(1.5), "the top level is one level below hi");
        assert_eq!(e.decode(&e.encode(&[1.0], 2), 0), None, "shorter than a cycle");
    }

    #[test]
    fn decode_inverts_encode_to_within_one_level_and_preserves_order() {
        let e = PhaseEncoder::new(10.0, 20.0, 6);
        let step = 10.0 / 64.0;
        let xs: Vec<f64> = (0..=200).map(|k| 10.0 + f64::from(k) * 0.0499).collect();
        let r = e.encode(&xs, 15); // two whole cycles and a partial one
        let mut last = f64::NEG_INFINITY;
        for (i, &x) in xs.iter().enumerate() {
            let d = e.decode(&r, i as u32).unwrap();
            assert!(d <= x + 1e-12 && x - d < step + 1e-12, "{x} decoded as {d}");
            assert!(d >= last, "order lost at {x}");
            last = d;
        }
        // The partial cycle repeats the leading phases of the first.
        for i in 0..xs.len() as u32 {
            for p in 0..3 {
                assert_eq!(r.spikes[12 + p].contains(&i), r.spikes[p].contains(&i));
            }
        }
    }
}
