//! Sequence memory: plastic synapses from each neuron to the neurons that usually win next.
//!
//! The layer's winner is the learned state the asset is in; these K x K weights learn the usual
//! order of states. `weights[a * k + b]` estimates P(next winner = b | winner = a) (a Hebbian
//! update with decay, so every row sums to at most 1). Surprise is how badly the predicted input
//! matches the actual one: 1 - cosine(input, sum_b P(b | previous) * prototype_b). Predicting a
//! pattern rather than asking "did the predicted neuron win" keeps two nearly identical
//! prototypes that take turns from looking surprising.

use serde::{Deserialize, Serialize};

use crate::network::{Layer, dot};

/// Transition weights between successive winners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceMemory {
    neurons: usize,
    weights: Vec<f32>,
    previous: Option<usize>,
}

/// A row must hold at least this much probability mass before it predicts anything; until then a
/// state has been seen too rarely to have a usual successor.
const MIN_ROW_MASS: f32 = 0.5;

impl SequenceMemory {
    /// An empty memory for a layer of `neurons`.
    pub fn new(neurons: usize) -> Self {
        SequenceMemory { neurons, weights: vec![0.0; neurons * neurons], previous: None }
    }

    /// Surprise in [0, 1] of the input `rates` to `layer` (whose neurons these transitions link);
    /// 0 when the previous state has no usual successor yet.
    pub fn surprise(&self, layer: &Layer, rates: &[f32]) -> f32 {
        let Some(a) = self.previous else { return 0.0 };
        let row = &self.weights[a * self.neurons..(a + 1) * self.neurons];
        if row.iter().sum::<f32>() < MIN_ROW_MASS {
            return 0.0;
        }
        let mut predicted = vec![0.0f32; rates.len()];
        for (b, &p) in row.iter().enumerate().filter(|&(_, &p)| p > 0.0) {
            for (x, &w) in predicted.iter_mut().zip(layer.row(b)) {
                *x += p * w;
            }
        }
        let norms = dot(&predicted, &predicted).sqrt() * dot(rates, rates).sqrt();
        if norms <= 0.0 {
            return 0.0;
        }
        (1.0 - dot(&predicted, rates) / norms).clamp(0.0, 1.0)
    }

    /// Moves to `winner`; with `rate` > 0 the transition from the previous winner is learned
    /// (`row = (1 - rate) * row + rate * onehot(winner)`).
    pub fn advance(&mut self, winner: usize, rate: f32) {
        if let Some(a) = self.previous.filter(|_| rate > 0.0) {
            let row = &mut self.weights[a * self.neurons..(a + 1) * self.neurons];
            for w in row.iter_mut() {
                *w *= 1.0 - rate;
            }
            row[winner] += rate;
        }
        self.previous = Some(winner);
    }

    /// P(next = b | current = a) as learned so far (unnormalised row weight).
    pub fn transition(&self, a: usize, b: usize) -> f32 {
        self.weights[a * self.neurons + b]
    }

    /// All transition weights, row-major (`[a * neurons + b]`).
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer of three neurons whose prototypes are the unit vectors, and the input matching `j`.
    fn layer() -> Layer {
        let mut l = Layer::new(crate::network::tests::spec(3, 3));
        for j in 0..3 {
            l.recruit(&at(j));
        }
        l
    }

    fn at(j: usize) -> [f32; 3] {
        let mut s = [0.0; 3];
        s[j] = 1.0;
        s
    }

    #[test]
    fn learns_a_cycle_and_is_surprised_by_a_skip() {
        let mut m = SequenceMemory::new(3);
        let l = layer();
        assert_eq!(m.surprise(&l, &at(0)), 0.0, "no expectation before any state");
        for i in 0..90 {
            m.advance(i % 3, 0.1);
        }
        // The last winner was 2; the cycle continues with 0.
        assert!(m.transition(2, 0) > 0.9);
        assert!(m.surprise(&l, &at(0)) < 0.1, "{}", m.surprise(&l, &at(0)));
        assert!(m.surprise(&l, &at(1)) > 0.9, "{}", m.surprise(&l, &at(1)));
    }

    #[test]
    fn rarely_seen_states_predict_nothing_and_rate_zero_does_not_learn() {
        let mut m = SequenceMemory::new(3);
        m.advance(0, 0.1);
        m.advance(1, 0.1);
        m.advance(0, 0.1);
        assert_eq!(m.surprise(&layer(), &at(2)), 0.0, "row mass 0.1 is below the minimum");
        let before = m.clone();
        m.advance(2, 0.0);
        assert_eq!(m.weights, before.weights);
        assert_eq!(m.previous, Some(2));
    }
}
