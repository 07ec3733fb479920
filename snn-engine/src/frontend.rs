//! Front-ends: turn one channel's reading into a short vector of features (the model's senses).

pub mod fft;
pub mod motor_current;
pub mod resonator_bank;
pub mod window;

use serde::{Deserialize, Serialize};

use crate::model::ChannelKind;
use crate::sample::{Reading, Timestamp};
pub use motor_current::{MotorCurrent, MotorCurrentParams};
pub use window::{BandBank, WindowParams};

/// Windows shorter than this carry too little spectrum to analyse and are dropped.
pub const MIN_WINDOW_SAMPLES: usize = 16;

/// Parameters of every front-end of a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrontEndParams {
    /// Window channels' analysis.
    pub window: WindowParams,
    /// Previous values a scalar channel passes beside its value and slope (its short-term
    /// context, so a familiar value in an unfamiliar sequence looks new).
    pub scalar_lags: usize,
    /// Motor-current channels' analysis.
    pub motor_current: MotorCurrentParams,
}

/// Per-channel front-end state. Sample-and-hold: the features of a channel change only when
/// that channel is stepped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FrontEnd {
    /// `value`, `slope` (change per second since the previous reading of the channel) and the
    /// previous values, newest first (`lag_1`, `lag_2`, ...; the first value until there are
    /// enough).
    Scalar {
        /// The previous reading, for the slope.
        last: Option<(Timestamp, f64)>,
        /// Previous values, newest first.
        lags: Vec<f64>,
    },
    /// See [`window::window_features`].
    Window {
        /// Sample rate of the latest window, for naming bands.
        sample_rate_hz: Option<f64>,
    },
    /// `rms`, `supply_hz`, `sideband_db`, `harmonics_db` of a stator current streamed as
    /// contiguous windows; see [`MotorCurrent::compute`].
    MotorCurrent(Box<MotorCurrent>),
}

impl FrontEnd {
    /// A fresh front-end for a channel of `kind`.
    pub fn new(kind: ChannelKind) -> Self {
        match kind {
            ChannelKind::Scalar => FrontEnd::Scalar { last: None, lags: Vec::new() },
            ChannelKind::Window => FrontEnd::Window { sample_rate_hz: None },
            ChannelKind::MotorCurrent => FrontEnd::MotorCurrent(Box::default()),
        }
    }

    /// How many features this front-end produces.
    pub fn feature_count(kind: ChannelKind, params: &FrontEndParams) -> usize {
        match kind {
            ChannelKind::Scalar => 2 + params.scalar_lags,
            ChannelKind::Window => params.window.feature_count(),
            ChannelKind::MotorCurrent => MotorCurrentParams::FEATURE_NAMES.len(),
        }
    }

    /// The features of a channel of `kind` that rise as a machine wears, by index: energy,
    /// impulsiveness and envelope of a window; RMS, sidebands and harmonics of a motor current (not
    /// the supply frequency, which is the grid's). Scalars have no such direction.
    pub fn wear_features(kind: ChannelKind, params: &FrontEndParams) -> Vec<usize> {
        match kind {
            ChannelKind::Scalar => Vec::new(),
            ChannelKind::Window => (0..params.window.feature_count()).collect(),
            ChannelKind::MotorCurrent => MotorCurrentParams::FEATURE_NAMES
                .iter()
                .enumerate()
                .filter(|&(_, &name)| name != "supply_hz")
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The smallest meaningful change of each feature of a channel of `kind`, in the feature's unit
    /// (0: none), by index: the motor current's ratios in dB; nothing for the others.
    pub fn feature_resolution(kind: ChannelKind, params: &FrontEndParams) -> Vec<f64> {
        match kind {
            ChannelKind::MotorCurrent => MotorCurrentParams::FEATURE_RESOLUTION.to_vec(),
            ChannelKind::Scalar | ChannelKind::Window => vec![0.0; Self::feature_count(kind, params)],
        }
    }

    /// Feature names, in output order. Bands are named after the latest sample rate seen
    /// (25.6 kHz until a window arrives).
    pub fn feature_names(&self, params: &FrontEndParams) -> Vec<String> {
        match self {
            FrontEnd::Scalar { .. } => ["value".to_owned(), "slope".to_owned()]
                .into_iter()
                .chain((1..=params.scalar_lags).map(|k| format!("lag_{k}")))
                .collect(),
            FrontEnd::Window { sample_rate_hz } => params.window.feature_names(sample_rate_hz.unwrap_or(25_600.0)),
            FrontEnd::MotorCurrent(_) => MotorCurrentParams::FEATURE_NAMES.iter().map(|&n| n.to_owned()).collect(),
        }
    }

    /// True when `reading` is of this front-end's kind, finite, and (for a window) long enough;
    /// a motor current's window must also have a sample rate the analysis supports (see
    /// [`motor_current::accepts`]).
    pub fn accepts(&self, reading: &Reading) -> bool {
        let kind_ok = match (self, reading) {
            (FrontEnd::Scalar { .. }, Reading::Scalar(_)) => true,
            (FrontEnd::Window { .. }, Reading::Window { samples, .. }) => samples.len() >= MIN_WINDOW_SAMPLES,
            (FrontEnd::MotorCurrent(_), Reading::Window { sample_rate_hz, samples }) => {
                samples.len() >= MIN_WINDOW_SAMPLES && motor_current::accepts(*sample_rate_hz, samples.len())
            }
            _ => false,
        };
        kind_ok && reading.is_finite()
    }

    /// Computes the features of an accepted reading into `out`.
    ///
    /// A scalar's slope is 0 on its first reading and when the timestamp does not advance
    /// (duplicates or out-of-order deliveries must not produce infinite slopes).
    pub fn compute(&mut self, t: Timestamp, reading: &Reading, params: &FrontEndParams, out: &mut [f64]) {
        match (self, reading) {
            (FrontEnd::Scalar { last, lags }, Reading::Scalar(v)) => {
                let slope = match *last {
                    Some((t0, v0)) if t > t0 => (v - v0) / t.seconds_since(t0),
                    _ => 0.0,
                };
                out[0] = *v;
                out[1] = slope;
                for (k, o) in out[2..].iter_mut().enumerate() {
                    *o = lags.get(k).or(lags.last()).copied().unwrap_or(*v);
                }
                lags.insert(0, *v);
                lags.truncate(params.scalar_lags);
                *last = Some((t, *v));
            }
            (FrontEnd::Window { sample_rate_hz: rate }, Reading::Window { sample_rate_hz, samples }) => {
                window::window_features(*sample_rate_hz, samples, &params.window, out);
                *rate = Some(*sample_rate_hz);
            }
            (FrontEnd::MotorCurrent(state), Reading::Window { sample_rate_hz, samples }) => {
                state.compute(t, *sample_rate_hz, samples, &params.motor_current, out);
            }
            _ => debug_assert!(false, "compute called on a reading the front-end does not accept"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> FrontEndParams {
        FrontEndParams {
            window: WindowParams {
                band_min_hz: 100.0,
                band_count: 8,
                band_bank: BandBank::Fft,
                envelope_band_min_hz: 2_000.0,
            },
            scalar_lags: 2,
            motor_current: MotorCurrentParams::default(),
        }
    }

    #[test]
    fn wear_features_are_what_rises_with_wear() {
        let p = params();
        assert!(FrontEnd::wear_features(ChannelKind::Scalar, &p).is_empty());
        let window: Vec<usize> = (0..p.window.feature_count()).collect();
        assert_eq!(FrontEnd::wear_features(ChannelKind::Window, &p), window);
        // rms, sideband_db, harmonics_db; not supply_hz, which is the grid's.
        assert_eq!(FrontEnd::wear_features(ChannelKind::MotorCurrent, &p), [0, 2, 3]);
    }

    #[test]
    fn scalar_value_slope_per_second_and_previous_values() {
        let mut fe = FrontEnd::new(ChannelKind::Scalar);
        let mut out = [0.0; 4];
        fe.compute(Timestamp(0), &Reading::Scalar(10.0), &params(), &mut out);
        assert_eq!(out, [10.0, 0.0, 10.0, 10.0], "no history yet: the lags repeat the first value");
        fe.compute(Timestamp(2_000_000), &Reading::Scalar(14.0), &params(), &mut out);
        assert_eq!(out, [14.0, 2.0, 10.0, 10.0]);
        // A repeated timestamp gives slope 0, not infinity.
        fe.compute(Timestamp(2_000_000), &Reading::Scalar(20.0), &params(), &mut out);
        assert_eq!(out, [20.0, 0.0, 14.0, 10.0]);
        fe.compute(Timestamp(3_000_000), &Reading::Scalar(21.0), &params(), &mut out);
        assert_eq!(out, [21.0, 1.0, 20.0, 14.0]);
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
        // A motor current needs a supported rate and a tenth of a second at least.
        let m = FrontEnd::new(ChannelKind::MotorCurrent);
        let current = |rate: f64, n: usize| Reading::Window { sample_rate_hz: rate, samples: vec![0.5; n] };
        assert!(m.accepts(&current(2_000.0, 2_000)));
        assert!(m.accepts(&current(2_000.0, 200)));
        assert!(!m.accepts(&current(2_000.0, 199)), "shorter than 0.1 s");
        assert!(m.accepts(&current(1_000.0, 100)) && m.accepts(&current(25_600.0, 2_560)));
        assert!(!m.accepts(&current(999.0, 1_000)), "below 1 kHz the 7th harmonic is past Nyquist");
        assert!(!m.accepts(&current(25_601.0, 25_601)), "above 25.6 kHz");
        assert!(!m.accepts(&Reading::Scalar(1.0)));
        assert!(!m.accepts(&Reading::Window { sample_rate_hz: 2_000.0, samples: vec![f32::INFINITY; 2_000] }));
    }

    #[test]
    fn names_match_counts() {
        let p = params();
        for kind in [ChannelKind::Scalar, ChannelKind::Window, ChannelKind::MotorCurrent] {
            assert_eq!(FrontEnd::new(kind).feature_names(&p).len(), FrontEnd::feature_count(kind, &p));
        }
    }
}
