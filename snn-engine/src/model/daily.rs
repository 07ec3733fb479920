//! The time-of-day context: what is usual depends on the hour for many assets (a line that runs
//! by day and idles by night, a site's load following its shifts), so the network can see the
//! time of day beside the channels' features.

use serde::{Deserialize, Serialize};

use crate::encoder::CircularEncoder;
use crate::sample::Timestamp;

/// Seconds in a day; the clock is UTC, so a site's local day is the same cycle shifted.
const DAY_SECONDS: f64 = 86_400.0;
const DAY_MICROS: i64 = 86_400_000_000;
/// Hours of the day, of 24, that the frames the network learns from must have shown for the context
/// to stay on.
const MIN_HOURS_SEEN: u32 = 20;

/// The time of day as extra input lines of the network, taken on only when the part of the
/// warm-up that teaches the network spans a whole day.
///
/// Which hours are usual can be learned only from frames that have shown every hour: with fewer,
/// every later hour would look new. The network learns from the frames after the normaliser's
/// part of the warm-up, so the context starts off, and at the end of that part (before any neuron
/// is recruited) it switches on if the frames so far, at the rate they came, make the rest of the
/// warm-up last at least a day. At the last warm-up frame what came is checked: a rate that
/// changed (a backfill of old readings, a gateway that was offline most of the day) can have
/// promised a day that did not come, so unless those frames showed at least 20 of the day's 24
/// hours the context is dropped again, the prototypes keeping what they learned of the features.
/// Off, the model is the same as without it: no lines, no spikes, no cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct DailyCycle {
    /// `None` when configured with no fields.
    encoder: Option<CircularEncoder>,
    /// Time of the first frame.
    first_frame: Option<Timestamp>,
    /// Bit `h` set when a frame the network learned from came in hour `h` (UTC).
    hours_seen: u32,
    active: bool,
}

impl DailyCycle {
    /// A context of `fields` fields around the clock (0: never active), bumps `width` fields wide.
    pub(super) fn new(fields: usize, width: f64) -> Self {
        let encoder = (fields > 0).then(|| CircularEncoder::new(DAY_SECONDS, fields, width));
        DailyCycle { encoder, first_frame: None, hours_seen: 0, active: false }
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

    /// Notes the time of frame number `frame` (counted from 1) of a warm-up of `warmup_frames`
    /// whose network learns after frame `decide_at`; returns true when this switches the context
    /// on or off. It switches on only at `frame == decide_at`, when it has fields and the frames
    /// after it, at the rate seen so far, will span at least a day; and off only at the last
    /// warm-up frame, when the frames after `decide_at` showed fewer than [`MIN_HOURS_SEEN`] hours
    /// of the day.
    pub(super) fn observe_frame(&mut self, t: Timestamp, frame: u64, decide_at: u64, warmup_frames: u64) -> bool {
        let first = *self.first_frame.get_or_insert(t);
        if frame == decide_at && frame >= 2 && self.encoder.is_some() {
            let seconds_per_frame = t.seconds_since(first) / (frame - 1) as f64;
            self.active = seconds_per_frame * warmup_frames.saturating_sub(decide_at) as f64 >= DAY_SECONDS;
            return self.active;
        }
        if !self.active || frame <= decide_at || frame > warmup_frames {
            return false;
        }
        self.hours_seen |= 1 << hour_of_day(t) as u32;
        self.active = frame < warmup_frames || self.hours_seen.count_ones() >= MIN_HOURS_SEEN;
        !self.active
    }

    /// The time-of-day evidence of an alert at `t` against `prototype` (a neuron's whole weight row,
    /// the context's lines last): the hour now, the nearest hour the prototype stands for, and how
    /// far apart they are (now minus usual, the shorter way round the clock) in widths of the
    /// bump. A prototype stands for the hours whose field weighs at least half its heaviest; when
    /// the hour now is one of them, it is its own usual hour, 0 apart. `None` when inactive or the
    /// prototype has no time-of-day weights.
    pub(super) fn hour_deviation(&self, t: Timestamp, prototype: &[f32]) -> Option<(f64, f64, f64)> {
        let encoder = self.active_encoder()?;
        let n = encoder.fields();
        let lines = &prototype[prototype.len() - n..];
        let heaviest = lines.iter().copied().fold(0.0f32, f32::max);
        if heaviest <= 0.0 {
            return None;
        }
        let hours_per_field = 24.0 / n as f64;
        let now = hour_of_day(t);
        let position = now / hours_per_field;
        let usual = |k: usize| lines[k] >= 0.5 * heaviest;
        if usual(position.round() as usize % n) {
            return Some((now, now, 0.0));
        }
        let half = n as f64 / 2.0;
        let (k, apart) = (0..n)
            .filter(|&k| usual(k))
            .map(|k| (k, (position - k as f64 + half).rem_euclid(n as f64) - half))
            .min_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
        Some((now, k as f64 * hours_per_field, apart / encoder.width_fields()))
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

/// The hour of the UTC day at `t`, in `[0, 24)`.
fn hour_of_day(t: Timestamp) -> f64 {
    t.0.rem_euclid(DAY_MICROS) as f64 / 3.6e9
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    /// The frames at which a context fed frames `1..=frames` at `times(frame)` switches, deciding
    /// at frame 30 of a warm-up of `warmup`.
    fn switches(c: &mut DailyCycle, warmup: u64, frames: u64, times: impl Fn(i64) -> i64) -> Vec<u64> {
        (1..=frames).filter(|&f| c.observe_frame(Timestamp(times(f as i64)), f, 30, warmup)).collect()
    }

    #[test]
    fn switches_on_only_when_the_learning_part_of_the_warm_up_spans_a_day() {
        // Frames every 5 minutes: the 570 after frame 30 of a 600-frame warm-up make 47.5 hours.
        let every_5_min = |f: i64| f * HOUR / 12;
        let mut long = DailyCycle::new(24, 0.7);
        assert_eq!(switches(&mut long, 600, 700, every_5_min), [30]);
        assert!(long.is_active() && long.inputs() == 24);
        // 300 frames make 25 hours in all, but the 270 the network learns from only 22.5: off.
        let mut short = DailyCycle::new(24, 0.7);
        assert_eq!(switches(&mut short, 300, 400, every_5_min), Vec::<u64>::new());
        assert_eq!(short.inputs(), 0);
        // No fields configured: never on, however long the warm-up.
        let mut off = DailyCycle::new(0, 0.7);
        assert_eq!(switches(&mut off, 600, 700, |f| f * HOUR), Vec::<u64>::new());
        assert!(!off.is_active());
    }

    #[test]
    fn a_day_promised_by_the_first_frames_and_not_delivered_switches_it_off_at_the_end_of_warm_up() {
        // A backfill of hourly readings, then one a minute: the first 30 frames promise 570 hours,
        // the 570 frames that follow take 9.5.
        let backfill = |f: i64| if f <= 30 { f * HOUR } else { 30 * HOUR + (f - 30) * HOUR / 60 };
        let mut c = DailyCycle::new(24, 0.7);
        assert_eq!(switches(&mut c, 600, 700, backfill), [30, 600]);
        assert!(!c.is_active() && c.inputs() == 0);
        // Frames every 10 minutes, then a gateway offline for 23 hours, then one every 10 seconds:
        // more than a day has passed, but it showed the network three hours of it.
        let offline = |f: i64| if f <= 30 { f * HOUR / 6 } else { 28 * HOUR + (f - 30) * HOUR / 360 };
        assert_eq!(switches(&mut DailyCycle::new(24, 0.7), 600, 700, offline), [30, 600]);
        // The same rates the other way round promise too little: it never switches on.
        let slow_later = |f: i64| if f <= 30 { f * HOUR / 60 } else { HOUR / 2 + (f - 30) * HOUR };
        assert_eq!(switches(&mut DailyCycle::new(24, 0.7), 600, 700, slow_later), Vec::<u64>::new());
    }

    #[test]
    fn an_hour_off_the_prototype_s_hours_is_told_in_widths_of_the_bump() {
        let mut c = DailyCycle::new(24, 0.7);
        switches(&mut c, 100, 40, |f| f * HOUR);
        // A prototype of the working day: the time-of-day lines heavy from 08:00 to 17:00, after
        // two features' worth of other weights.
        let mut row = vec![0.3; 22];
        row.extend((0..24).map(|h| if (8..18).contains(&h) { 0.2 } else { 0.01 }));
        let at = |h: f64| c.hour_deviation(Timestamp((h * HOUR as f64) as i64), &row).unwrap();
        assert_eq!(at(10.5), (10.5, 10.5, 0.0), "a usual hour is its own");
        let (now, usual, widths) = at(3.0);
        assert_eq!((now, usual), (3.0, 8.0), "03:00 is nearest 08:00");
        assert!((widths - -5.0 / 0.7).abs() < 1e-9, "{widths}");
        let (_, usual, widths) = at(21.0);
        assert_eq!(usual, 17.0);
        assert!((widths - 4.0 / 0.7).abs() < 1e-9, "{widths}");
        row[22..].fill(0.0);
        assert_eq!(c.hour_deviation(Timestamp(0), &row), None, "no time-of-day weights");
    }

    #[test]
    fn encodes_the_hour_of_the_utc_day() {
        let mut c = DailyCycle::new(24, 0.7);
        assert_eq!(switches(&mut c, 100, 40, |f| f * HOUR), [30]);
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
