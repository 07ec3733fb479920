//! Capped exponential backoff with jitter for reconnect loops (sans-I/O: the caller sleeps).

use snn_engine::rng::SplitMix64;
use std::time::Duration;

/// Capped exponential backoff with "equal jitter": each delay is uniformly drawn from
/// `[d/2, d]` where `d = min(max, min * 2^attempt)`. Half the delay stays deterministic so
/// retries never hammer a broker, the other half spreads a fleet of clients reconnecting after
/// a broker restart (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015).
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// A backoff between `min` and `max` (`max` is raised to `min` if smaller); `seed` drives the jitter.
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        Backoff { min, max: max.max(min), attempt: 0, rng: SplitMix64::new(seed) }
    }

    /// The delay before the next attempt; grows until the cap.
    pub fn next_delay(&mut self) -> Duration {
        // 2^20 x min already exceeds any sane cap; stop the exponent there so it cannot overflow.
        let factor = 1u32 << self.attempt.min(20);
        let ceiling = self.min.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(self.rng.next_f64())
    }

    /// Call after a successful connection: the next failure starts from `min` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_jitters_and_resets() {
        let min = Duration::from_millis(500);
        let max = Duration::from_millis(30_000);
        let mut b = Backoff::new(min, max, 7);
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay()).collect();
        for (i, d) in delays.iter().enumerate() {
            let ceiling = min.saturating_mul(1 << i).min(max);
            assert!(*d >= ceiling / 2 && *d <= ceiling, "attempt {i}: {d:?} vs {ceiling:?}");
        }
        assert!(delays[11] >= max / 2, "capped delays stay near the cap");
        assert!(delays.iter().all(|d| *d <= max));
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert!(b.next_delay() <= min);
        // Many attempts must not overflow.
        for _ in 0..100 {
            assert!(b.next_delay() <= max);
        }
    }
}
