//! Pair-based spike-timing-dependent plasticity with exponential traces, and weight normalisation.

use serde::{Deserialize, Serialize};

/// Pair-based STDP in its trace form (Morrison, Diesmann & Gerstner 2008, "Phenomenological
/// models of synaptic plasticity based on spike timing", section 4.1), additive with hard
/// bounds, used as in Diehl & Cook 2015 together with per-neuron weight normalisation:
///
/// - every presynaptic spike adds 1 to its trace `x_i`, every postsynaptic spike 1 to `y_j`;
///   traces decay by `pre_decay` / `post_decay` per time step;
/// - on a post spike of `j`: `w_ji += a_plus * x_i` (pre before post potentiates);
/// - on a pre spike of `i`: `w_ji -= a_minus * y_j` (post before pre depresses);
/// - weights are clipped to `[0, w_max]`.
///
/// With `a_minus * tau_post < a_plus * tau_pre` the net change of a neuron that fires is
/// proportional to each input's rate; normalising the row afterwards then moves the
/// weights towards the input pattern, so a neuron's weights become a prototype of what it wins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StdpParams {
    /// Potentiation per unit of pre-trace at a post spike.
    pub a_plus: f32,
    /// Depression per unit of post-trace at a pre spike.
    pub a_minus: f32,
    /// Pre-trace decay per time step, `exp(-1 / tau_pre_steps)`.
    pub pre_decay: f32,
    /// Post-trace decay per time step, `exp(-1 / tau_post_steps)`.
    pub post_decay: f32,
    /// Upper weight bound.
    pub w_max: f32,
}

/// On a post spike: potentiate every synapse of the row by its pre-trace (synapses whose trace is
/// not positive are left exactly as they are).
pub fn potentiate(row: &mut [f32], pre_trace: &[f32], a_plus: f32, w_max: f32) {
    for (w, &x) in row.iter_mut().zip(pre_trace) {
        // Computed for every synapse and then selected, so the loop has no branch and vectorises.
        let potentiated = (*w + a_plus * x).min(w_max);
        *w = if x > 0.0 { potentiated } else { *w };
    }
}

/// On a pre spike: depress one synapse by the post-trace of its neuron.
pub fn depress(w: &mut f32, post_trace: f32, a_minus: f32) {
    *w = (*w - a_minus * post_trace).max(0.0);
}

/// Scales the row to Euclidean norm `target`, then re-applies the bounds `[0, w_max]` (the bounds
/// win if they conflict). An all-zero row is left alone.
///
/// Diehl & Cook 2015 normalise the sum (L1); the Euclidean norm (as in Oja 1982) makes a
/// neuron's input current proportional to the cosine similarity between its weights and the
/// input, so the neuron that fires first is the best-matching prototype, not the peakiest one.
pub fn normalise(row: &mut [f32], target: f32, w_max: f32) {
    let norm = row.iter().map(|&w| f64::from(w) * f64::from(w)).sum::<f64>().sqrt() as f32;
    if norm > 0.0 {
        let k = target / norm;
        for w in row.iter_mut() {
            *w = (*w * k).clamp(0.0, w_max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn potentiation_scales_with_the_pre_trace_and_respects_w_max() {
        let mut row = [0.1, 0.1, 0.95];
        potentiate(&mut row, &[1.0, 0.0, 1.0], 0.1, 1.0);
        assert!((row[0] - 0.2).abs() < 1e-6);
        assert_eq!(row[1], 0.1);
        assert_eq!(row[2], 1.0);
    }

    #[test]
    fn depression_stops_at_zero() {
        let mut w = 0.05;
        depress(&mut w, 1.0, 0.02);
        assert!((w - 0.03).abs() < 1e-6);
        depress(&mut w, 10.0, 0.02);
        assert_eq!(w, 0.0);
    }

    #[test]
    fn normalise_sets_the_norm() {
        let mut row = [3.0, 0.0, 4.0];
        normalise(&mut row, 1.0, 1.0);
        assert_eq!(row, [0.6, 0.0, 0.8]);
        let mut capped = [3.0, 0.0, 4.0];
        normalise(&mut capped, 2.0, 1.5);
        assert_eq!(capped, [1.2, 0.0, 1.5]);
        let mut zero = [0.0; 3];
        normalise(&mut zero, 1.0, 1.0);
        assert_eq!(zero, [0.0; 3]);
    }

    #[test]
    fn random_updates_keep_weights_in_bounds() {
        // A hand-rolled property test: arbitrary traces and rates never leave [0, w_max].
        let mut rng = SplitMix64::new(11);
        let w_max = 0.3;
        let mut row: Vec<f32> = (0..32).map(|_| (rng.next_f64() * 0.3) as f32).collect();
        for _ in 0..2_000 {
            let trace: Vec<f32> = (0..32).map(|_| (rng.next_f64() * 5.0) as f32).collect();
            match rng.next_u64() % 3 {
                0 => potentiate(&mut row, &trace, (rng.next_f64() * 0.5) as f32, w_max),
                1 => {
                    let i = (rng.next_u64() % 32) as usize;
                    depress(&mut row[i], trace[i], (rng.next_f64() * 0.5) as f32);
                }
                _ => normalise(&mut row, (rng.next_f64() * 4.0) as f32, w_max),
            }
            assert!(row.iter().all(|w| (0.0..=w_max).contains(w)), "{row:?}");
        }
    }
}
