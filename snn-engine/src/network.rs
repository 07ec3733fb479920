//! The network description and state: one layer of LIF neurons with plastic input weights,
//! lateral inhibition and recruitment. Hardware-neutral: backends run it (see `backend.rs`).

use serde::{Deserialize, Serialize};

use crate::lif::LifParams;
use crate::stdp::{StdpParams, normalise};

/// Everything a backend needs to know about the layer's structure and dynamics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    /// Input lines (all-to-all to the neurons).
    pub inputs: usize,
    /// Excitatory neurons.
    pub neurons: usize,
    /// Time steps per encoding window.
    pub steps_per_window: usize,
    /// Neuron dynamics.
    pub lif: LifParams,
    /// Plasticity at full learning rate.
    pub stdp: StdpParams,
    /// Potential subtracted from every other neuron when one fires (soft winner-take-all through
    /// an implicit inhibitory population, Diehl & Cook 2015).
    pub inhibition: f32,
    /// Target Euclidean norm of each neuron's input weights (normalisation).
    pub weight_norm: f32,
}

/// The layer's learned and dynamic state.
///
/// Only *recruited* neurons take part: a neuron starts unused and is recruited (its weights set
/// to the current input pattern) when nothing matches well during warm-up. This is the
/// neuron-recruitment step of growing networks (cf. Fritzke 1995, "A growing neural gas") and
/// avoids the long random-weight start of Diehl & Cook 2015, which a warm-up of a few hundred
/// windows cannot afford.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Structure and parameters.
    pub spec: LayerSpec,
    /// `weights[j * inputs + i]` from input `i` to neuron `j`, in `[0, w_max]`.
    pub weights: Vec<f32>,
    /// Whether neuron `j` has been recruited.
    pub used: Vec<bool>,
    /// Adaptive-threshold offsets.
    pub theta: Vec<f32>,
}

impl Layer {
    /// A layer with every neuron unused and zero weights.
    pub fn new(spec: LayerSpec) -> Self {
        Layer {
            weights: vec![0.0; spec.inputs * spec.neurons],
            used: vec![false; spec.neurons],
            theta: vec![0.0; spec.neurons],
            spec,
        }
    }

    /// Neuron `j`'s input weights (its prototype once recruited).
    pub fn row(&self, j: usize) -> &[f32] {
        &self.weights[j * self.spec.inputs..(j + 1) * self.spec.inputs]
    }

    /// Mutable access to neuron `j`'s input weights.
    pub fn row_mut(&mut self, j: usize) -> &mut [f32] {
        let n = self.spec.inputs;
        &mut self.weights[j * n..(j + 1) * n]
    }

    /// Number of recruited neurons.
    pub fn used_count(&self) -> usize {
        self.used.iter().filter(|&&u| u).count()
    }

    /// Cosine similarity in [0, 1] of `rates` with every neuron's weights (0 for unused neurons,
    /// and for all of them when `rates` is all zero).
    pub fn similarities(&self, rates: &[f32]) -> Vec<f32> {
        let norm_r = dot(rates, rates).sqrt();
        // Unused rows (most of the layer on a simple channel) score 0 whatever their weights,
        // so their norms are never computed.
        (0..self.spec.neurons)
            .map(|j| if !self.used[j] || norm_r <= 0.0 { 0.0 } else { cosine(rates, norm_r, self.row(j)) })
            .collect()
    }

    /// The recruited neuron with the highest similarity (see [`Self::similarities`]) and that
    /// similarity; `None` when no neuron is recruited or `rates` is all zero. Ties go to the
    /// lowest index.
    pub fn best_match(&self, rates: &[f32]) -> Option<(usize, f32)> {
        if dot(rates, rates) <= 0.0 {
            return None;
        }
        best_of(&self.used, &self.similarities(rates))
    }

    /// The same layer with `inputs` input lines: lines added last start with zero weights, lines
    /// removed from the end take their weights with them, and every recruited neuron's remaining
    /// weights are renormalised (a prototype keeps its shape over the lines it still has). Neurons
    /// keep their recruitment and threshold offsets.
    pub fn with_inputs(&self, inputs: usize) -> Layer {
        let mut layer = Layer::new(LayerSpec { inputs, ..self.spec });
        let kept = inputs.min(self.spec.inputs);
        let (norm, w_max) = (self.spec.weight_norm, self.spec.stdp.w_max);
        for j in 0..self.spec.neurons {
            let row = layer.row_mut(j);
            row[..kept].copy_from_slice(&self.row(j)[..kept]);
            if self.used[j] {
                normalise(row, norm, w_max);
            }
        }
        layer.used.clone_from(&self.used);
        layer.theta.clone_from(&self.theta);
        layer
    }

    /// Recruits the lowest-index unused neuron for `rates` (weights = the rates, normalised),
    /// returning its index, or `None` if every neuron is used.
    pub fn recruit(&mut self, rates: &[f32]) -> Option<usize> {
        let j = self.used.iter().position(|&u| !u)?;
        let (norm, w_max) = (self.spec.weight_norm, self.spec.stdp.w_max);
        let row = self.row_mut(j);
        row.copy_from_slice(rates);
        normalise(row, norm, w_max);
        self.used[j] = true;
        Some(j)
    }
}

/// The used neuron with the highest `similarity` (ties to the lowest index); `None` when none is
/// used.
pub fn best_of(used: &[bool], similarity: &[f32]) -> Option<(usize, f32)> {
    let mut best: Option<(usize, f32)> = None;
    for (j, &s) in similarity.iter().enumerate().filter(|&(j, _)| used[j]) {
        if best.is_none_or(|(_, c)| s > c) {
            best = Some((j, s));
        }
    }
    best
}

/// Cosine of `rates` (whose norm is `norm_r`) with `row`, clamped to [0, 1]; 0 for an all-zero row.
fn cosine(rates: &[f32], norm_r: f32, row: &[f32]) -> f32 {
    let (d, norm_sq) = dot_and_norm_sq(rates, row);
    let norm_w = norm_sq.sqrt();
    if norm_w <= 0.0 {
        return 0.0;
    }
    (d / (norm_r * norm_w)).clamp(0.0, 1.0)
}

/// `(dot(a, b), dot(b, b))` in one pass. Each sum keeps [`dot`]'s f64 accumulator, element order
/// and starting value (-0.0, as `Iterator::sum` starts), so both results are bit-identical to two
/// [`dot`] calls; the two independent chains of additions just overlap in the pipeline.
fn dot_and_norm_sq(a: &[f32], b: &[f32]) -> (f32, f32) {
    let (mut ab, mut bb) = (-0.0f64, -0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let y = f64::from(y);
        ab += f64::from(x) * y;
        bb += y * y;
    }
    (ab as f32, bb as f32)
}

/// Dot product in f32 with an f64 accumulator (so the result does not depend on input length
/// rounding quirks more than necessary; still fully deterministic).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum::<f64>() as f32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn spec(inputs: usize, neurons: usize) -> LayerSpec {
        LayerSpec {
            inputs,
            neurons,
            steps_per_window: 20,
            lif: LifParams { decay: 0.9, threshold: 1.0, reset: 0.0, theta_plus: 0.0, theta_decay: 1.0 },
            stdp: StdpParams {
                a_plus: 0.01,
                a_minus: 0.005,
                pre_decay: 0.8,
                post_decay: 0.8,
                w_max: 1.0,
                rule: crate::stdp::StdpRule::Pair,
            },
            inhibition: 0.5,
            weight_norm: 1.0,
        }
    }

    #[test]
    fn recruitment_stores_the_normalised_pattern() {
        let mut l = Layer::new(spec(4, 2));
        assert_eq!(l.best_match(&[1.0, 0.0, 0.0, 1.0]), None);
        assert_eq!(l.recruit(&[1.0, 0.0, 0.0, 1.0]), Some(0));
        let h = 0.5f32.sqrt();
        assert_eq!(l.row(0), &[h, 0.0, 0.0, h]);
        assert_eq!(l.recruit(&[0.0, 1.0, 1.0, 0.0]), Some(1));
        assert_eq!(l.recruit(&[1.0; 4]), None);
        assert_eq!(l.used_count(), 2);
        let (j, c) = l.best_match(&[0.9, 0.1, 0.0, 1.0]).unwrap();
        assert_eq!(j, 0);
        assert!(c > 0.99);
        let (j, c) = l.best_match(&[0.0, 1.0, 1.0, 0.0]).unwrap();
        assert_eq!((j, c), (1, 1.0));
    }

    #[test]
    fn resizing_the_inputs_keeps_each_prototype_on_the_lines_it_still_has() {
        let mut l = Layer::new(spec(4, 3));
        l.recruit(&[3.0, 4.0, 0.0, 0.0]);
        l.recruit(&[0.0, 0.0, 1.0, 1.0]);
        l.theta[1] = 0.25;
        let grown = l.with_inputs(6);
        assert_eq!((grown.spec.inputs, grown.used.clone(), grown.theta.clone()), (6, l.used.clone(), l.theta.clone()));
        assert_eq!(grown.row(0), &[0.6, 0.8, 0.0, 0.0, 0.0, 0.0], "zero weights on the new lines");
        let shrunk = l.with_inputs(3);
        assert_eq!(shrunk.row(0), &[0.6, 0.8, 0.0]);
        assert!(
            (shrunk.row(1)[2] - 1.0).abs() < 1e-6 && shrunk.row(1)[..2] == [0.0, 0.0],
            "renormalised over the lines it kept"
        );
        assert_eq!(shrunk.row(2), &[0.0; 3], "an unused neuron stays empty");
        assert_eq!(shrunk.best_match(&[0.0, 0.0, 2.0]).map(|(j, _)| j), Some(1));
    }

    #[test]
    fn one_pass_dot_and_norm_match_dot_bit_for_bit() {
        // Signed zeros and cancellation included: the fused sums must round exactly as `dot` does.
        let a = [-0.0, 0.3, -1.7, 1e-8, 0.0, 2.5, -0.0];
        let b = [0.0, -0.0, 0.9, 3.3, -1e-9, 0.1, 0.0];
        for (a, b) in [(&a[..], &b[..]), (&b[..], &a[..]), (&a[..1], &b[..1]), (&a[..0], &b[..0])] {
            let (d, n) = dot_and_norm_sq(a, b);
            assert_eq!(d.to_bits(), dot(a, b).to_bits(), "{a:?} . {b:?}");
            assert_eq!(n.to_bits(), dot(b, b).to_bits(), "|{b:?}|^2");
        }
    }

    #[test]
    fn similarities_match_the_all_rows_reference_bit_for_bit() {
        // The loop `similarities` replaced: every row's norm, then the cosine of the used ones.
        fn reference(l: &Layer, rates: &[f32]) -> Vec<u32> {
            let norm_r = dot(rates, rates).sqrt();
            (0..l.spec.neurons)
                .map(|j| {
                    let row = l.row(j);
                    let norm_w = dot(row, row).sqrt();
                    if !l.used[j] || norm_r <= 0.0 || norm_w <= 0.0 {
                        return 0.0f32;
                    }
                    (dot(rates, row) / (norm_r * norm_w)).clamp(0.0, 1.0)
                })
                .map(f32::to_bits)
                .collect()
        }
        let mut rng = crate::rng::SplitMix64::new(23);
        let mut l = Layer::new(spec(40, 12));
        for j in 0..12 {
            let rates: Vec<f32> = (0..40).map(|_| (rng.next_f64() * 2.0 - 0.5).max(0.0) as f32).collect();
            l.recruit(&rates);
            l.used[j] = j % 3 != 1;
        }
        for _ in 0..200 {
            let rates: Vec<f32> = (0..40).map(|_| (rng.next_f64() * 2.0 - 1.0) as f32).collect();
            let got: Vec<u32> = l.similarities(&rates).into_iter().map(f32::to_bits).collect();
            assert_eq!(got, reference(&l, &rates));
        }
    }

    #[test]
    fn unused_and_zero_rows_have_zero_similarity() {
        let mut l = Layer::new(spec(3, 3));
        l.recruit(&[1.0, 0.0, 0.0]);
        l.weights[6] = 1.0; // neuron 2 has weights but is not recruited
        assert_eq!(l.similarities(&[1.0, 0.0, 0.0]), vec![1.0, 0.0, 0.0]);
        assert_eq!(l.similarities(&[0.0; 3]), vec![0.0; 3]);
        l.used[1] = true; // recruited with an all-zero row
        assert_eq!(l.similarities(&[0.0, 1.0, 0.0]), vec![0.0; 3]);
    }
}
