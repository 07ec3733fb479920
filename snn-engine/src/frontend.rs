//! Front-ends: turn one channel's reading into a short vector of features (the model's senses).

pub mod fft;
pub mod window;

use serde::{Deserialize, Serialize};

use crate::model::ChannelKind;
use crate::sample::{Reading, Timestamp};
pub use window::WindowParams;

/// Windows shorter than this carry too little spectrum to analyse and are dropped.
pub const MIN_WINDOW_SAMPLES: usize = 16;

/// Per-channel front-end state. Sample-and-hold: the features of a channel change only when
/// that channel is stepped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FrontEnd {
    /// `value` and `slope` (change per second since the previous reading of the channel).
    Scalar {
        /// The previous reading, for the slope.
        last: Option<(Timestamp, f64)>,
    },
    /// See [`window::window_features`].
    Window {
        /// Sample rate of the latest window, for naming bands.
        sample_rate_hz: Option<f64>,
    },
}

impl FrontEnd {
    /// A fresh front-end for a channel of `kind`.
    pub fn new(kind: ChannelKind) -> Self {
        match kind {
            ChannelKind::Scalar => FrontEnd::Scalar { last: None },
            ChannelKind::Window => FrontEnd::Window { sample_rate_hz: None },
        }
    }

    /// How many features this front-end produces.
    pub fn feature_count(kind: ChannelKind, params: &WindowParams) -> usize {
        match kind {
            ChannelKind::Scalar => 2,
            ChannelKind::Window => params.feature_count(),
        }
    }

    /// Feature names, in output order. Bands are named after the latest sample rate seen
    /// (25.6 kHz until a window arrives).
    pub fn feature_names(&self, params: &WindowParams) -> Vec<String> {
        match self {
            FrontEnd::Scalar { .. } => vec!["value".to_owned(), "slope".to_owned()],
            FrontEnd::Window { sample_rate_hz } => params.feature_names(sample_rate_hz.unwrap_or(25_600.0)),
        }
    }

    /// True when `reading` is of this front-end's kind, finite, and (for a window) long enough.
    pub fn accepts(&self, reading: &Reading) -> bool {
        let kind_ok = match (self, reading) {
            (FrontEnd::Scalar { .. }, Reading::Scalar(_)) => true,
            (FrontEnd::Window { .. }, Reading::Window { samples, .. }) => samples.len() >= MIN_WINDOW_SAMPLES,
            _ => false,
        };
        kind_ok && reading.is_finite()
    }

    /// Computes the features of an accepted reading into `out`.
    ///
    /// A scalar's slope is 0 on its first reading and when the timestamp does not advance
    /// (duplicates or out-of-order deliveries must not produce infinite slopes).
    pub fn compute(&mut self, t: Timestamp, reading: &Reading, params: &WindowParams, out: &mut [f64]) {
        match (self, reading) {
            (FrontEnd::Scalar { last }, Reading::Scalar(v)) => {
                let slope = match *last {
                    Some((t0, v0)) if t > t0 => (v - v0) / t.seconds_since(t0),
                    _ => 0.0,
                };
                out[0] = *v;
                out[1] = slope;
                *last = Some((t, *v));
            }
            (FrontEnd::Window { sample_rate_hz: rate }, Reading::Window { sample_rate_hz, samples }) => {
                window::window_features(*sample_rate_hz, samples, params, out);
                *rate = Some(*sample_rate_hz);
            }
            _ => debug_assert!(false, "compute called on a reading the front-end does not accept"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> WindowParams {
        WindowParams { band_min_hz: 100.0, band_count: 8, envelope_band_min_hz: 2_000.0 }
    }

    #[test]
    fn scalar_value_and_slope_per_second() {
        let mut fe = FrontEnd::new(ChannelKind::Scalar);
        let mut out = [0.0; 2];
        fe.compute(Timestamp(0), &Reading::Scalar(10.0), &params(), &mut out);
        assert_eq!(out, [10.0, 0.0]);
        fe.compute(Timestamp(2_000_000), &Reading::Scalar(14.0), &params(), &mut out);
        assert_eq!(out, [14.0, 2.0]);
        // A repeated timestamp gives slope 0, not infinity.
        fe.compute(Timestamp(2_000_000), &Reading::Scalar(20.0), &params(), &mut out);
        assert_eq!(out, [20.0, 0.0]);
    }

    #[test]
    fn accepts_only_matching_finite_long_enough_readings() {
        let s = FrontEnd::new(ChannelKind::Scalar);
        let w = FrontEnd::new(ChannelKind::Window);
        let win = |n: usize| Reading::Window { sample_rate_hz: 1_000.0, samples: vec![0.5; n] };
        assert!(s.accepts(&Reading::Scalar(1.0)));
        assert!(!s.accepts(&Reading::Scalar(f64::NAN)));
        assert!(!s.accepts(&win(32)));
        assert!(w.accepts(&win(16)));
        assert!(!w.accepts(&win(15)));
        assert!(!w.accepts(&Reading::Scalar(1.0)));
        assert!(!w.accepts(&Reading::Window { sample_rate_hz: 1_000.0, samples: vec![f32::NAN; 32] }));
    }

    #[test]
    fn names_match_counts() {
        let p = params();
        for kind in [ChannelKind::Scalar, ChannelKind::Window] {
            assert_eq!(FrontEnd::new(kind).feature_names(&p).len(), FrontEnd::feature_count(kind, &p));
        }
    }
}
