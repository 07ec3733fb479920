//! Encoders: feature values in, spikes out. Each encoder is a small type with a stated contract.

pub mod circular;
pub mod delta;
pub mod latency;
pub mod phase;
pub mod population;
pub mod rank_order;
pub mod rate;

use serde::{Deserialize, Serialize};

pub use circular::CircularEncoder;
pub use delta::DeltaEncoder;
pub use latency::LatencyEncoder;
pub use phase::PhaseEncoder;
pub use population::PopulationEncoder;
pub use rank_order::RankOrderEncoder;
pub use rate::RateEncoder;

/// Input spikes of one encoding window: for each of `steps` time steps, the indices of the
/// input lines that spike, in increasing order. Hardware-neutral (an address-event list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpikeRaster {
    /// Number of input lines.
    pub inputs: usize,
    /// `spikes[t]` lists the inputs spiking at time step `t`.
    pub spikes: SpikeSteps,
}

impl SpikeRaster {
    /// A raster of `inputs` lines from per-step spike lists (each in increasing order).
    pub fn from_steps(inputs: usize, steps: Vec<Vec<u32>>) -> Self {
        SpikeRaster { inputs, spikes: SpikeSteps::from(steps) }
    }

    /// Total input spikes in the window.
    pub fn count(&self) -> u64 {
        self.spikes.events.len() as u64
    }
}

/// Per-time-step spike lists stored flat: all events in time order plus where each step starts.
///
/// One window is two allocations however many steps it has (a `Vec` per step made
/// `rates_to_raster` mostly malloc). Serialised as the list of per-step lists, as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Vec<u32>>", into = "Vec<Vec<u32>>")]
pub struct SpikeSteps {
    /// Input indices of every spike, step by step.
    events: Vec<u32>,
    /// Step `t`'s spikes are `events[starts[t]..starts[t + 1]]`; `starts[0] == 0`.
    starts: Vec<usize>,
}

impl Default for SpikeSteps {
    fn default() -> Self {
        SpikeSteps { events: Vec::new(), starts: vec![0] }
    }
}

impl SpikeSteps {
    /// No steps yet, with room for `steps` steps and `events` spikes.
    fn with_capacity(steps: usize, events: usize) -> Self {
        let mut starts = Vec::with_capacity(steps + 1);
        starts.push(0);
        SpikeSteps { events: Vec::with_capacity(events), starts }
    }

    /// Adds a spike of input `i` to the step being built.
    fn push(&mut self, i: u32) {
        self.events.push(i);
    }

    /// Adds one whole step: input `i` spikes where `fired[i]` is 1 (else 0). The flags are words
    /// rather than `bool`s because reading back bytes of the vector stores that wrote them was
    /// measurably slower.
    fn extend_step(&mut self, fired: &[u32]) {
        // Write every index and keep those that fired: no branch per input. The local slice keeps
        // the vector's pointer and length in registers.
        let start = self.events.len();
        self.events.resize(start + fired.len(), 0);
        let out = &mut self.events[start..];
        let mut kept = 0;
        for (i, &spikes) in fired.iter().enumerate() {
            out[kept] = i as u32;
            kept += spikes as usize;
        }
        self.events.truncate(start + kept);
        self.end_step();
    }

    /// Closes the step being built (possibly empty) and starts the next.
    fn end_step(&mut self) {
        self.starts.push(self.events.len());
    }

    /// Number of time steps.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether there are no time steps.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The spike list of every time step, in time order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        self.starts.windows(2).map(|s| &self.events[s[0]..s[1]])
    }
}

impl std::ops::Index<usize> for SpikeSteps {
    type Output = [u32];

    /// The inputs spiking at time step `t`.
    fn index(&self, t: usize) -> &[u32] {
        &self.events[self.starts[t]..self.starts[t + 1]]
    }
}

impl From<Vec<Vec<u32>>> for SpikeSteps {
    fn from(steps: Vec<Vec<u32>>) -> Self {
        let mut flat = SpikeSteps::with_capacity(steps.len(), steps.iter().map(Vec::len).sum());
        for step in steps {
            step.into_iter().for_each(|i| flat.push(i));
            flat.end_step();
        }
        flat
    }
}

impl From<SpikeSteps> for Vec<Vec<u32>> {
    fn from(steps: SpikeSteps) -> Self {
        steps.iter().map(<[u32]>::to_vec).collect()
    }
}

/// Turns rates in `[0, 1]` (spikes per time step) into a deterministic spike raster over `steps`
/// time steps with a phase accumulator per input (integrate-and-fire / sigma-delta modulation):
/// `acc += rate` every step and a spike is emitted when `acc >= 1`. Input `i` starts at
/// `phases[i]` in `[0, 1)`, fixed per input, so inputs at the same rate do not all spike in
/// lock-step; the count is exactly `floor(phases[i] + rate * steps)`.
pub fn rates_to_raster(rates: &[f32], phases: &[f32], steps: usize) -> SpikeRaster {
    debug_assert_eq!(rates.len(), phases.len());
    // Clamped once rather than every step (same values).
    let rates: Vec<f32> = rates.iter().map(|r| r.clamp(0.0, 1.0)).collect();
    let mut acc: Vec<f32> = phases.to_vec();
    let mut fired = vec![0u32; rates.len()];
    let mut spikes = SpikeSteps::with_capacity(steps, expected_spikes(&rates, phases, steps));
    for _ in 0..steps {
        // Two passes: the accumulator updates vectorise; only the gathering of indices is serial.
        for ((a, &r), f) in acc.iter_mut().zip(&rates).zip(fired.iter_mut()) {
            *f = u32::from(advance(a, r));
        }
        spikes.extend_step(&fired);
    }
    SpikeRaster { inputs: rates.len(), spikes }
}

/// One time step of one input's phase accumulator: adds `rate`; at 1 or more, takes 1 off and
/// spikes. Branch-free (spikes are too irregular to predict); subtracting +0.0 when it does not
/// spike leaves the accumulator bit for bit as it is.
fn advance(acc: &mut f32, rate: f32) -> bool {
    *acc += rate;
    let spikes = *acc >= 1.0;
    *acc -= if spikes { 1.0 } else { 0.0 };
    spikes
}

/// About how many spikes [`rates_to_raster`] emits for clamped `rates` (a capacity hint only: the
/// f32 accumulators may round one spike either way, and non-finite values count as none).
fn expected_spikes(rates: &[f32], phases: &[f32], steps: usize) -> usize {
    let total: f64 = rates
        .iter()
        .zip(phases)
        .map(|(&r, &p)| f64::from(p) + f64::from(r) * steps as f64)
        .filter(|x| x.is_finite())
        .sum();
    // One spare per input absorbs the rounding; an input spikes at most once per step.
    (total as usize).saturating_add(rates.len()).min(rates.len() * steps)
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

    #[test]
    fn flat_steps_keep_empty_steps_and_serialise_as_lists() {
        let steps = vec![vec![1, 4], vec![], vec![0]];
        let r = SpikeRaster::from_steps(5, steps.clone());
        assert_eq!(r.spikes.len(), 3);
        assert_eq!(r.count(), 3);
        assert!(r.spikes[1].is_empty());
        assert_eq!(r.spikes.iter().map(<[u32]>::to_vec).collect::<Vec<_>>(), steps);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"inputs":5,"spikes":[[1,4],[],[0]]}"#);
        assert_eq!(serde_json::from_str::<SpikeRaster>(&json).unwrap(), r);
        assert!(SpikeRaster::default().spikes.is_empty());
    }

    #[test]
    fn matches_the_per_step_reference_including_odd_rates_and_phases() {
        // The allocation-per-step loop `rates_to_raster` replaced.
        fn reference(rates: &[f32], phases: &[f32], steps: usize) -> Vec<Vec<u32>> {
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
            spikes
        }
        let odd = [0.0, -0.0, -0.5, 1.0, 1.5, 0.999_999_94, f32::NAN, f32::INFINITY, -3.0, 2.5, 1e-30];
        let mut rng = crate::rng::SplitMix64::new(17);
        for case in 0..200 {
            let n = 1 + case % 150;
            let pick = |rng: &mut crate::rng::SplitMix64| {
                if rng.next_u64().is_multiple_of(5) {
                    odd[(rng.next_u64() % odd.len() as u64) as usize]
                } else {
                    rng.next_f64() as f32
                }
            };
            let rates: Vec<f32> = (0..n).map(|_| pick(&mut rng)).collect();
            let phases: Vec<f32> = (0..n).map(|_| pick(&mut rng)).collect();
            let steps = case % 41;
            let got = rates_to_raster(&rates, &phases, steps);
            assert_eq!(Vec::<Vec<u32>>::from(got.spikes), reference(&rates, &phases, steps), "case {case}");
        }
    }
}
