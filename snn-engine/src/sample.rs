//! The unit of data that flows from every source into the engine: one reading of one channel of one asset.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A machine being watched (a pump, a motor, a gearbox). Free-form, as the plant names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(pub String);

/// One sensor of an asset (`vibration`, `current`, `temperature`, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelId(pub String);

/// Microseconds since the Unix epoch, UTC. The engine never reads a clock: time is an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(1000))
    }
    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }
    /// Seconds from `earlier` to `self` (negative when `self` is before it).
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 * 1e-6
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
string_newtype!(AssetId);
string_newtype!(ChannelId);

/// What a channel delivered at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reading {
    /// A slow value: temperature, pressure, flow, current RMS.
    Scalar(f64),
    /// A block of raw samples from a fast sensor (vibration, acoustic, motor current);
    /// the reading's timestamp is the time of the first sample.
    Window { sample_rate_hz: f64, samples: Vec<f32> },
}

impl Reading {
    /// True when every number in the reading is finite (and a window's rate is positive).
    pub fn is_finite(&self) -> bool {
        match self {
            Reading::Scalar(v) => v.is_finite(),
            Reading::Window { sample_rate_hz, samples } => {
                sample_rate_hz.is_finite() && *sample_rate_hz > 0.0 && samples.iter().all(|s| s.is_finite())
            }
        }
    }
}

/// One reading of one channel of one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub asset: AssetId,
    pub channel: ChannelId,
    pub t: Timestamp,
    pub reading: Reading,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_millis_round_trip_and_floor() {
        assert_eq!(Timestamp::from_millis(1_700_000_000_123).as_millis(), 1_700_000_000_123);
        assert_eq!(Timestamp(-1).as_millis(), -1);
        assert_eq!(Timestamp(2_500_000).seconds_since(Timestamp(500_000)), 2.0);
    }

    #[test]
    fn finiteness_covers_every_value() {
        assert!(Reading::Scalar(1.0).is_finite());
        assert!(!Reading::Scalar(f64::NAN).is_finite());
        let w = |rate: f64, s: Vec<f32>| Reading::Window { sample_rate_hz: rate, samples: s };
        assert!(w(25_600.0, vec![0.0, 1.0]).is_finite());
        assert!(!w(25_600.0, vec![0.0, f32::INFINITY]).is_finite());
        assert!(!w(0.0, vec![0.0]).is_finite());
    }
}
