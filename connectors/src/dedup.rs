//! Recognises redelivered readings (QoS 1 is at-least-once) so a source hands each one on only once.
//!
//! After a broker restart or a lost connection, the broker redelivers every message whose
//! acknowledgement it had not received, and a publisher resends every message whose acknowledgement
//! it had not received; both can arrive after many newer readings. A reading is a duplicate when its
//! asset, channel, timestamp and value equal those of one of the last [`REMEMBERED_READINGS`]
//! readings handed on (of any channel). Anything else, even if older than the newest reading of its
//! channel, is handed on, and the server rejects it as `timestamp_backwards`: a gateway with a wrong
//! clock stays visible as an error instead of hiding among duplicates.
//!
//! Forgetting is always safe: the server never steps a reading that is not newer than the last one
//! of its channel, so a duplicate older than the window is rejected there instead of counted here.

use snn_engine::{Reading, Sample};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// Readings remembered (about 24 bytes each). A redelivery arrives at most this many readings
/// after the original when it comes from the source's own read-ahead (the pipeline queue, 1024 by
/// default, plus the publish queue and what rumqttc has read) and, for a publisher resending after
/// its own reconnect, while other publishers keep streaming, for a few seconds of traffic.
pub const REMEMBERED_READINGS: usize = 65_536;

/// The identities of the readings recently handed on, oldest first.
#[derive(Debug)]
pub struct Deduplicator {
    order: VecDeque<u64>,
    seen: HashSet<u64>,
    capacity: usize,
}

impl Default for Deduplicator {
    fn default() -> Self {
        Self::with_capacity(REMEMBERED_READINGS)
    }
}

impl Deduplicator {
    /// Remembers the last [`REMEMBERED_READINGS`] readings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers the last `capacity` readings (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Deduplicator { order: VecDeque::new(), seen: HashSet::new(), capacity }
    }

    /// True when `sample` repeats a remembered reading; otherwise it is remembered (the caller then
    /// hands it on) and the oldest remembered reading may be forgotten.
    pub fn is_duplicate(&mut self, sample: &Sample) -> bool {
        let id = identity(sample);
        if !self.seen.insert(id) {
            return true;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        false
    }
}

/// A 64-bit digest of asset, channel, timestamp and value. Two different readings collide with a
/// chance of about 2^-64 per remembered reading, so a genuine reading is mistaken for a duplicate
/// far less often than once in the life of any deployment. `DefaultHasher::new` has fixed keys,
/// so identities do not depend on the process.
fn identity(sample: &Sample) -> u64 {
    let mut h = DefaultHasher::new();
    sample.asset.as_str().hash(&mut h);
    sample.channel.as_str().hash(&mut h);
    sample.t.hash(&mut h);
    reading_fingerprint(&sample.reading).hash(&mut h);
    h.finish()
}

/// FNV-1a over the reading's bits: one multiply per sample, cheaper than SipHash over a window.
fn reading_fingerprint(reading: &Reading) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mix = |h: u64, word: u64| (h ^ word).wrapping_mul(PRIME);
    let basis = 0xcbf2_9ce4_8422_2325;
    match reading {
        Reading::Scalar(v) => mix(mix(basis, 0), v.to_bits()),
        Reading::Window { sample_rate_hz, samples } => {
            let h = mix(mix(mix(basis, 1), sample_rate_hz.to_bits()), samples.len() as u64);
            samples.iter().fold(h, |h, s| mix(h, u64::from(s.to_bits())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snn_engine::Timestamp;

    fn scalar(asset: &str, channel: &str, ms: i64, value: f64) -> Sample {
        Sample {
            asset: asset.into(),
            channel: channel.into(),
            t: Timestamp::from_millis(ms),
            reading: Reading::Scalar(value),
        }
    }

    #[test]
    fn a_redelivered_reading_is_a_duplicate_even_after_newer_ones() {
        let mut d = Deduplicator::new();
        for ms in 1..=5 {
            assert!(!d.is_duplicate(&scalar("p1", "temp", ms, ms as f64)));
        }
        assert!(d.is_duplicate(&scalar("p1", "temp", 5, 5.0)), "the newest again");
        assert!(d.is_duplicate(&scalar("p1", "temp", 2, 2.0)), "an older one again");
        assert!(!d.is_duplicate(&scalar("p1", "temp", 6, 6.0)));
    }

    #[test]
    fn backwards_or_conflicting_readings_are_left_for_the_server_to_reject() {
        let mut d = Deduplicator::new();
        assert!(!d.is_duplicate(&scalar("p1", "temp", 10, 1.0)));
        assert!(!d.is_duplicate(&scalar("p1", "temp", 20, 2.0)));
        assert!(!d.is_duplicate(&scalar("p1", "temp", 15, 1.5)), "never seen: backwards, not a duplicate");
        assert!(!d.is_duplicate(&scalar("p1", "temp", 20, 9.0)), "same time, other value");
    }

    #[test]
    fn channels_and_assets_are_told_apart() {
        let mut d = Deduplicator::new();
        assert!(!d.is_duplicate(&scalar("p1", "temp", 1, 1.0)));
        assert!(!d.is_duplicate(&scalar("p1", "current", 1, 1.0)));
        assert!(!d.is_duplicate(&scalar("p2", "temp", 1, 1.0)));
        // Hashing marks where each name ends, so moving a character from one to the other is another key.
        assert!(!d.is_duplicate(&scalar("p1t", "emp", 1, 1.0)));
        assert!(d.is_duplicate(&scalar("p2", "temp", 1, 1.0)));
    }

    #[test]
    fn windows_compare_every_sample() {
        let window = |samples: Vec<f32>| Sample {
            asset: "p1".into(),
            channel: "vib".into(),
            t: Timestamp::from_millis(1),
            reading: Reading::Window { sample_rate_hz: 1000.0, samples },
        };
        let mut d = Deduplicator::new();
        assert!(!d.is_duplicate(&window(vec![0.5, 1.0, -1.0])));
        assert!(d.is_duplicate(&window(vec![0.5, 1.0, -1.0])));
        assert!(!d.is_duplicate(&window(vec![0.5, 1.0, -2.0])));
        assert!(!d.is_duplicate(&window(vec![0.5, 1.0])));
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_is_forgotten_first() {
        let mut d = Deduplicator::with_capacity(4);
        for ms in 0..10 {
            assert!(!d.is_duplicate(&scalar("p1", &format!("c{}", ms % 3), ms, 0.0)));
        }
        assert_eq!((d.order.len(), d.seen.len()), (4, 4));
        assert!(!d.is_duplicate(&scalar("p1", "c2", 5, 0.0)), "forgotten: five readings ago");
        assert!(d.is_duplicate(&scalar("p1", "c0", 9, 0.0)), "still remembered");
    }
}
