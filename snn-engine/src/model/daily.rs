//! The time-of-day context: what is usual depends on the hour for many assets (a line that runs
//! by day and idles by night, a site's load following its shifts), so the network can see the
//! time of day beside the channels' features.

use serde::{Deserialize, Serialize};

use crate::encoder::CircularEncoder;
use crate::sample::Timestamp;

/// Seconds in a day; the clock is UTC, so a site's local day is the same cycle shifted.
const DAY_SECONDS: f64 = 86_400.0;

/// The time of day as extra input lines of the network, taken on only when the warm-up spans a
/// whole day.
///
/// Which hours are usual can be learned only from a warm-up that has seen every hour: with a
/// shorter one, every later hour would look new. So the context starts off, and at the end of the
/// normaliser's part of the warm-up (before any neuron is recruited) it switches on for good if the
/// frames so far, at the rate they came, make the whole warm-up span at least a day. Otherwise it
/// stays off, and the model is the same as without it: no lines, no spikes, no cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct DailyCycle {
    /// `None` when configured with no fields.
    encoder: Option<CircularEncoder>,
    /// Time of the first frame.
    first_frame: Option<Timestamp>,
    active: bool,
}

impl DailyCycle {
    /// A context of `fields` fields around the clock (0: never active), bumps `width` fields wide.
    pub(super) fn new(fields: usize, width: f64) -> Self {
        let encoder = (fields > 0).then(|| CircularEncoder::new(DAY_SECONDS, fields, width));
        DailyCycle { encoder, first_frame: None, active: false }
    }

    /// Input lines the context adds to the network: its fields when active, else none.
    pub(super) fn inputs(&self) -> usize {
        self.active_encoder().map_or(0, CircularEncoder::fields)
    }

    /// Whether the network sees the time of day.
    pub(super) fn is_active(&self) -> bool {
        self.active
    }

    fn active_encoder(&self) -> Option<&CircularEncoder> {
        self.encoder.as_ref().filter(|_| self.active)
    }

    /// Notes the time of frame number `frame` (counted from 1); returns true when this switches
    /// the context on, which happens only at `frame == decide_at`, and only when it has fields and
    /// `warmup_frames` frames at the rate seen so far span at least a day.
    pub(super) fn observe_frame(&mut self, t: Timestamp, frame: u64, decide_at: u64, warmup_frames: u64) -> bool {
        let first = *self.first_frame.get_or_insert(t);
        if frame != decide_at || frame < 2 || self.encoder.is_none() {
            return false;
        }
        let seconds_per_frame = t.seconds_since(first) / (frame - 1) as f64;
        self.active = seconds_per_frame * (warmup_frames.saturating_sub(1)) as f64 >= DAY_SECONDS;
        self.active
    }

    /// Appends the context's rates for a frame at `t` (nothing when inactive).
    pub(super) fn encode(&self, t: Timestamp, rates: &mut Vec<f32>) {
        if let Some(encoder) = self.active_encoder() {
            let start = rates.len();
            rates.resize(start + encoder.fields(), 0.0);
            encoder.encode(t.0 as f64 * 1e-6, &mut rates[start..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn switches_on_only_when_the_warm_up_spans_a_day() {
        // Frames every 5 minutes: 30 frames in, 600 warm-up frames make 50 hours.
        let every = HOUR / 12;
        let mut long = DailyCycle::new(24, 0.7);
        let switched: Vec<bool> =
            (1..=40).map(|f| long.observe_frame(Timestamp(f * every), f as u64, 30, 600)).collect();
        assert_eq!(switched.iter().filter(|&&s| s).count(), 1);
        assert!(switched[29] && long.is_active() && long.inputs() == 24);
        // 200 warm-up frames make 16.6 hours: off for good.
        let mut short = DailyCycle::new(24, 0.7);
        for f in 1..=40 {
            assert!(!short.observe_frame(Timestamp(f * every), f as u64, 30, 200));
        }
        assert_eq!(short.inputs(), 0);
        // No fields configured: never on, however long the warm-up.
        let mut off = DailyCycle::new(0, 0.7);
        for f in 1..=40 {
            assert!(!off.observe_frame(Timestamp(f * HOUR), f as u64, 30, 600));
        }
        assert!(!off.is_active());
    }

    #[test]
    fn encodes_the_hour_of_the_utc_day() {
        let mut c = DailyCycle::new(24, 0.7);
        for f in 1..=10 {
            c.observe_frame(Timestamp(f * HOUR), f as u64, 10, 100);
        }
        let at = |t: i64| {
            let mut r = vec![9.0];
            c.encode(Timestamp(t), &mut r);
            r
        };
        let three_am = at(3 * HOUR);
        assert_eq!(three_am.len(), 25, "appended after what was there");
        assert_eq!(three_am[0], 9.0);
        assert_eq!(three_am[1 + 3], 1.0, "field 3 is 03:00");
        assert_eq!(at(3 * HOUR + 24 * HOUR * 400), three_am, "the same hour on another day");
        let mut inactive = Vec::new();
        DailyCycle::new(24, 0.7).encode(Timestamp(3 * HOUR), &mut inactive);
        assert!(inactive.is_empty());
    }
}
