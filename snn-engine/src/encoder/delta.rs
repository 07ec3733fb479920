//! Delta (send-on-delta) encoder: UP and DOWN spikes whenever a value moves by a threshold.

use serde::{Deserialize, Serialize};

/// Send-on-delta / sigma-delta encoding as in neuromorphic sensors (the DVS pixel; see also
/// Corradi & Indiveri 2015 for ADC-less delta modulators).
///
/// Contract: the encoder keeps a reference level. For an input `x`, it emits one UP spike per
/// whole `threshold` that `x` lies above the reference (one DOWN spike per threshold below), at
/// most `max_spikes` per call, and moves the reference by `threshold` per spike emitted. The
/// residue `x - reference` is carried to the next call, so slow drifts eventually produce
/// spikes and capped bursts continue on the next call. The first input only sets the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaEncoder {
    threshold: f64,
    reference: Option<f64>,
}

impl DeltaEncoder {
    /// An encoder that spikes once per `threshold` of change (`threshold > 0`).
    pub fn new(threshold: f64) -> Self {
        DeltaEncoder { threshold, reference: None }
    }

    /// Encodes `x`, returning `(up, down)` spike counts (one of them is zero).
    pub fn encode(&mut self, x: f64, max_spikes: u32) -> (u32, u32) {
        let Some(reference) = self.reference.as_mut() else {
            self.reference = Some(x);
            return (0, 0);
        };
        let crossings = ((x - *reference).abs() / self.threshold).floor();
        let n = crossings.min(f64::from(max_spikes)) as u32;
        if x >= *reference {
            *reference += f64::from(n) * self.threshold;
            (n, 0)
        } else {
            *reference -= f64::from(n) * self.threshold;
            (0, n)
        }
    }

    /// The residue `x - reference` that has not yet been sent (0 before the first input).
    pub fn residue(&self, x: f64) -> f64 {
        self.reference.map_or(0.0, |r| x - r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spike_per_threshold_with_residue_carried() {
        let mut d = DeltaEncoder::new(0.5);
        assert_eq!(d.encode(1.0, 10), (0, 0));
        assert_eq!(d.encode(2.3, 10), (2, 0));
        assert!((d.residue(2.3) - 0.3).abs() < 1e-12);
        // +0.3 more: residue 0.6 crosses one more threshold.
        assert_eq!(d.encode(2.6, 10), (1, 0));
        assert!((d.residue(2.6) - 0.1).abs() < 1e-12);
        // Reference is 2.5 now; 1.55 below it is three whole thresholds.
        assert_eq!(d.encode(0.95, 10), (0, 3));
        assert!((d.residue(0.95) + 0.05).abs() < 1e-12);
    }

    #[test]
    fn bursts_are_capped_and_finish_later() {
        let mut d = DeltaEncoder::new(1.0);
        d.encode(0.0, 4);
        assert_eq!(d.encode(10.0, 4), (4, 0));
        assert_eq!(d.encode(10.0, 4), (4, 0));
        assert_eq!(d.encode(10.0, 4), (2, 0));
        assert_eq!(d.encode(10.0, 4), (0, 0));
        assert_eq!(d.residue(10.0), 0.0);
    }

    #[test]
    fn small_changes_do_not_spike() {
        let mut d = DeltaEncoder::new(1.0);
        d.encode(0.0, 4);
        for x in [0.3, -0.4, 0.9, -0.99] {
            assert_eq!(d.encode(x, 4), (0, 0));
        }
    }
}
