//! Encoders: feature values in, spikes out. Each encoder is a small type with a stated contract.

pub mod delta;
pub mod population;

use serde::{Deserialize, Serialize};

pub use delta::DeltaEncoder;
pub use population::PopulationEncoder;

/// Input spikes of one encoding window: for each of `steps` time steps, the indices of the
/// input lines that spike, in increasing order. Hardware-neutral (an address-event list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpikeRaster {
    /// Number of input lines.
    pub inputs: usize,
    /// `spikes[t]` lists the inputs spiking at time step `t`.
    pub spikes: Vec<Vec<u32>>,
}

impl SpikeRaster {
    /// Total input spikes in the window.
    pub fn count(&self) -> u64 {
        self.spikes.iter().map(|s| s.len() as u64).sum()
    }
}

/// Turns rates in `[0, 1]` (spikes per time step) into a deterministic spike raster over `steps`
/// time steps with a phase accumulator per input (integrate-and-fire / sigma-delta modulation):
/// `acc += rate` every step and a spike is emitted when `acc >= 1`. Input `i` starts at
/// `phases[i]` in `[0, 1)`, fixed per input, so inputs at the same rate do not all spike in
/// lock-step; the count is exactly `floor(phases[i] + rate * steps)`.
pub fn rates_to_raster(rates: &[f32], phases: &[f32], steps: usize) -> SpikeRaster {
    debug_assert_eq!(rates.len(), phases.len());
    let mut acc: Vec<f32> = phases.to_vec();
    let mut spikes = Vec::with_capacity(steps);
    for _ in 0..steps {
        let mut now = Vec::new();
        for (i, (a, &r)) in acc.iter_mut().zip(rates).enumerate() {
            *a += r.clamp(0.0, 1.0);
            if *a >= 1.0 {
                *a -= 1.0;
                now.push(i as u32);
            }
        }
        spikes.push(now);
    }
    SpikeRaster { inputs: rates.len(), spikes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raster_counts_follow_rates_and_phases() {
        let rates = [0.0, 0.25, 0.5, 1.0, 0.3];
        let phases = [0.9, 0.0, 0.5, 0.0, 0.95];
        let r = rates_to_raster(&rates, &phases, 20);
        let count = |i: u32| r.spikes.iter().filter(|s| s.contains(&i)).count();
        assert_eq!(count(0), 0);
        assert_eq!(count(1), 5);
        assert_eq!(count(2), 10);
        assert_eq!(count(3), 20);
        assert_eq!(count(4), 6); // floor(0.95 + 6.0)
        assert_eq!(r.count(), 41);
        // Rate 0.25 from phase 0 spikes every 4th step, first at step 3.
        assert!(r.spikes[3].contains(&1) && !r.spikes[2].contains(&1));
    }
}
