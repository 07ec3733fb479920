//! Rank-order coding: which input is larger becomes which input spikes first.

use serde::{Deserialize, Serialize};

use super::SpikeRaster;

/// Rank-order coding (Thorpe & Gautrais 1998; Van Rullen & Thorpe 2001): only the order in which
/// the inputs fire carries information, one spike per input.
///
/// Contract: [`Self::ranks`] gives every input its rank, 0 for the largest value; equal values
/// take ranks in index order (the lower index spikes first), and NaN ranks as negative infinity
/// (last, in index order among such). [`Self::encode`] sends every input exactly once, rank `r`
/// of `n` at time step `floor(r * steps / n)`, so spike times never decrease with rank (and are
/// strictly increasing when `n <= steps`); inputs sharing a step are listed by index, as in every
/// [`SpikeRaster`], so the exact order is [`Self::ranks`]. The receiving side decodes with
/// Thorpe's desensitisation: the spike of rank `r` counts `modulation^r` (`0 < modulation < 1`),
/// so [`Self::decode`] is larger for larger inputs, and [`Self::activation`] (the weighted sum
/// a rank-order neuron computes) is largest when the weights are sorted like the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankOrderEncoder {
    modulation: f64,
}

impl RankOrderEncoder {
    /// A code decoded with weight `modulation^rank` (`0 < modulation < 1`).
    pub fn new(modulation: f64) -> Self {
        debug_assert!(modulation > 0.0 && modulation < 1.0);
        RankOrderEncoder { modulation }
    }

    /// The rank of every value (see the contract).
    pub fn ranks(values: &[f64]) -> Vec<u32> {
        let key = |i: usize| if values[i].is_nan() { f64::NEG_INFINITY } else { values[i] };
        let mut order: Vec<usize> = (0..values.len()).collect();
        // Largest first; the index breaks ties, so the order is total and deterministic.
        order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
        let mut ranks = vec![0; values.len()];
        for (r, i) in order.into_iter().enumerate() {
            ranks[i] = r as u32;
        }
        ranks
    }

    /// One spike per value over `steps >= 1` time steps, in rank order (see the contract).
    pub fn encode(values: &[f64], steps: usize) -> SpikeRaster {
        let n = values.len();
        debug_assert!(steps >= 1 || n == 0);
        let mut spikes = vec![Vec::new(); steps];
        for (i, r) in Self::ranks(values).into_iter().enumerate() {
            spikes[r as usize * steps / n].push(i as u32);
        }
        SpikeRaster::from_steps(n, spikes)
    }

    /// The decoding weight of every input, `modulation^rank`: 1 for the first spike.
    pub fn decode(&self, ranks: &[u32]) -> Vec<f64> {
        ranks.iter().map(|&r| self.modulation.powi(r as i32)).collect()
    }

    /// A rank-order neuron's activation: `sum_i weights[i] * modulation^ranks[i]`.
    pub fn activation(&self, weights: &[f64], ranks: &[u32]) -> f64 {
        weights.iter().zip(self.decode(ranks)).map(|(w, d)| w * d).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_magnitude_with_ties_to_the_lower_index() {
        assert_eq!(RankOrderEncoder::ranks(&[0.2, 0.9, -1.0, 0.5]), [2, 0, 3, 1]);
        assert_eq!(RankOrderEncoder::ranks(&[0.5, 0.7, 0.5, 0.5]), [1, 0, 2, 3]);
        assert_eq!(RankOrderEncoder::ranks(&[f64::NAN, 1.0, f64::NEG_INFINITY, f64::NAN]), [1, 0, 2, 3]);
        assert!(RankOrderEncoder::ranks(&[]).is_empty());
    }

    #[test]
    fn every_input_spikes_once_in_rank_order() {
        let values = [0.2, 0.9, -1.0, 0.5, 0.5];
        let r = RankOrderEncoder::encode(&values, 10);
        assert_eq!((r.inputs, r.spikes.len(), r.count()), (5, 10, 5));
        let time = |i: u32| (0..10).find(|&t| r.spikes[t].contains(&i)).unwrap();
        // Ranks 3, 0, 4, 1, 2 (the second 0.5 after the first) at steps 2r.
        assert_eq!((0..5).map(time).collect::<Vec<_>>(), [6, 0, 8, 2, 4]);
        // More inputs than steps: still one spike each, times non-decreasing with rank.
        let many: Vec<f64> = (0..7).map(|k| f64::from(k) * 0.1).collect();
        let r = RankOrderEncoder::encode(&many, 3);
        assert_eq!(r.count(), 7);
        assert_eq!(r.spikes[0], [4, 5, 6]);
        assert_eq!(r.spikes[1], [2, 3]);
        assert_eq!(r.spikes[2], [0, 1]);
        assert_eq!(RankOrderEncoder::encode(&many, 3), r, "deterministic");
    }

    #[test]
    fn the_decoded_code_preserves_order_and_prefers_matching_weights() {
        let code = RankOrderEncoder::new(0.8);
        let values = [0.3, 2.0, -0.5, 1.1, 0.7];
        let ranks = RankOrderEncoder::ranks(&values);
        let decoded = code.decode(&ranks);
        for a in 0..values.len() {
            for b in 0..values.len() {
                if values[a] > values[b] {
                    assert!(decoded[a] > decoded[b], "{} vs {}", values[a], values[b]);
                }
            }
        }
        assert_eq!(decoded[1], 1.0);
        // Thorpe's neuron: weights sorted like the input respond most among all their orderings.
        let sorted = [0.3, 0.9, 0.1, 0.7, 0.5]; // same order as `values`
        let best = code.activation(&sorted, &ranks);
        let mut perm = sorted;
        for k in 0..50 {
            perm.swap(k % 5, (k * 3 + 1) % 5);
            assert!(code.activation(&perm, &ranks) <= best + 1e-12, "{perm:?}");
        }
        let reversed = [0.7, 0.1, 0.9, 0.3, 0.5];
        assert!(code.activation(&reversed, &ranks) < best);
    }
}
