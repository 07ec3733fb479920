//! Population coding with Gaussian receptive fields: one value becomes a bump of rates.

use serde::{Deserialize, Serialize};

/// A population of `fields` neurons with Gaussian tuning curves whose centres are evenly spaced
/// over `[lo, hi]` (Bohte, Kok & La Poutré 2002; Pouget, Dayan & Zemel 2000).
///
/// Contract: `encode(x)` gives rate `exp(-(x - c_i)^2 / (2 sigma^2))` in `[0, 1]` for field `i`,
/// so the field whose centre is nearest `x` has the highest rate (1 exactly at its centre), and
/// `sigma` is `width * spacing`. `decode` inverts a (possibly learned, unnormalised) bump by its
/// centre of mass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationEncoder {
    centres: Vec<f64>,
    sigma: f64,
}

impl PopulationEncoder {
    /// `fields >= 2` centres over `[lo, hi]`, tuning width `width` field spacings.
    pub fn new(fields: usize, lo: f64, hi: f64, width: f64) -> Self {
        let spacing = (hi - lo) / (fields - 1) as f64;
        let centres = (0..fields).map(|i| lo + spacing * i as f64).collect();
        PopulationEncoder { centres, sigma: width * spacing }
    }

    /// Number of fields (rates produced per value).
    pub fn fields(&self) -> usize {
        self.centres.len()
    }

    /// Rates of every field for value `x`, written into `out` (length `fields()`).
    pub fn encode(&self, x: f64, out: &mut [f32]) {
        let k = -0.5 / (self.sigma * self.sigma);
        for (o, c) in out.iter_mut().zip(&self.centres) {
            *o = (k * (x - c) * (x - c)).exp() as f32;
        }
    }

    /// The value represented by `weights` over the fields (centre of mass); `None` if they are
    /// all zero.
    pub fn decode(&self, weights: &[f32]) -> Option<f64> {
        let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        if total <= 0.0 {
            return None;
        }
        let moment: f64 = weights.iter().zip(&self.centres).map(|(&w, c)| f64::from(w) * c).sum();
        Some(moment / total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_at_the_nearest_field() {
        let p = PopulationEncoder::new(9, -6.0, 6.0, 1.0);
        let mut out = [0.0f32; 9];
        for (x, expect) in [(-6.0, 0), (0.0, 4), (1.6, 5), (2.4, 6), (100.0, 8)] {
            p.encode(x, &mut out);
            let best = (0..9).max_by(|&a, &b| out[a].total_cmp(&out[b])).unwrap();
            assert_eq!(best, expect, "x = {x}");
            assert!(out.iter().all(|r| (0.0..=1.0).contains(r)));
        }
        p.encode(1.5, &mut out);
        assert_eq!(out[5], 1.0);
        // One spacing away: exp(-1/2).
        assert!((out[4] - (-0.5f32).exp()).abs() < 1e-6);
    }

    #[test]
    fn decode_inverts_encode_inside_the_range() {
        let p = PopulationEncoder::new(9, -6.0, 6.0, 1.0);
        let mut out = [0.0f32; 9];
        for x in [-2.0, -0.7, 0.0, 0.4, 2.2] {
            p.encode(x, &mut out);
            let d = p.decode(&out).unwrap();
            assert!((d - x).abs() < 0.05, "{x} decoded as {d}");
        }
        assert_eq!(p.decode(&[0.0; 9]), None);
    }
}
