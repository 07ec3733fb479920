//! Pacing a replay by the recording's own timestamps: when each reading is due, at a time factor.
//!
//! Pure arithmetic, so it is tested without a clock; the callers sleep until each batch is due.

use snn_engine::{Sample, Timestamp};
use std::ops::Range;
use std::time::Duration;

/// How long after the start of playback a reading recorded at `t` is due, when the first reading was
/// recorded at `first` and the recording plays `speed` times faster than real time (1 = real time, 10 =
/// ten times faster). `None`, infinity or a non-positive or NaN speed mean as fast as possible: always
/// zero. A reading recorded before `first` (a recording that steps back in time) is due at once.
pub fn due(first: Timestamp, t: Timestamp, speed: Option<f64>) -> Duration {
    match speed {
        Some(speed) if speed.is_finite() && speed > 0.0 => {
            let recorded_us = t.0.saturating_sub(first.0).max(0);
            Duration::try_from_secs_f64(recorded_us as f64 / 1e6 / speed).unwrap_or(Duration::MAX)
        }
        _ => Duration::ZERO,
    }
}

/// The playback schedule of `samples`, in file order: runs of consecutive samples with the same timestamp
/// form one batch (the readings of one instant), due together at [`due`] measured from the first sample.
pub fn schedule(samples: &[Sample], speed: Option<f64>) -> Vec<(Duration, Range<usize>)> {
    let Some(first) = samples.first().map(|s| s.t) else { return Vec::new() };
    let mut batches = Vec::new();
    let mut start = 0;
    for (i, sample) in samples.iter().enumerate().skip(1) {
        if sample.t != samples[start].t {
            batches.push((due(first, samples[start].t, speed), start..i));
            start = i;
        }
    }
    batches.push((due(first, samples[start].t, speed), start..samples.len()));
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use snn_engine::{AssetId, ChannelId, Reading};

    fn at(seconds: f64, channel: &str) -> Sample {
        Sample {
            asset: AssetId::from("m"),
            channel: ChannelId::from(channel),
            t: Timestamp(1_700_000_000_000_000 + (seconds * 1e6) as i64),
            reading: Reading::Scalar(seconds),
        }
    }

    #[test]
    fn due_scales_recorded_time_by_the_speed() {
        let first = Timestamp::from_millis(1_000);
        let five_minutes_later = Timestamp::from_millis(1_000 + 300_000);
        assert_eq!(due(first, five_minutes_later, Some(1.0)), Duration::from_secs(300));
        assert_eq!(due(first, five_minutes_later, Some(10.0)), Duration::from_secs(30));
        assert_eq!(due(first, five_minutes_later, Some(0.5)), Duration::from_secs(600));
        assert_eq!(due(first, first, Some(10.0)), Duration::ZERO);
        for fastest in [None, Some(f64::INFINITY), Some(0.0), Some(-2.0), Some(f64::NAN)] {
            assert_eq!(due(first, five_minutes_later, fastest), Duration::ZERO, "{fastest:?}");
        }
        assert_eq!(due(five_minutes_later, first, Some(1.0)), Duration::ZERO, "earlier than the first: at once");
        assert_eq!(due(Timestamp(i64::MIN), Timestamp(i64::MAX), Some(1e-300)), Duration::MAX);
    }

    #[test]
    fn schedule_batches_equal_timestamps_and_keeps_file_order() {
        let samples =
            [at(0.0, "a"), at(0.0, "b"), at(1.5, "a"), at(1.5, "b"), at(4.0, "a"), at(3.0, "a"), at(3.0, "b")];
        assert_eq!(
            schedule(&samples, Some(2.0)),
            vec![
                (Duration::ZERO, 0..2),
                (Duration::from_millis(750), 2..4),
                (Duration::from_secs(2), 4..5),
                // Back in time: due earlier than the batch before it, so played at once after it.
                (Duration::from_millis(1_500), 5..7),
            ]
        );
        let fastest = schedule(&samples, None);
        assert_eq!(fastest.len(), 4);
        assert!(fastest.iter().all(|(d, _)| d.is_zero()));
        assert!(schedule(&[], Some(1.0)).is_empty());
    }
}
