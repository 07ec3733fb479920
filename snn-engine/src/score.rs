//! From raw novelty to alerts: smoothing, an adaptive threshold, and the alert state machine.

use serde::{Deserialize, Serialize};

/// Exponentially weighted moving average; the first value initialises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    alpha: f32,
    value: Option<f32>,
}

impl Ewma {
    /// Weight `alpha` in (0, 1] on each new value.
    pub fn new(alpha: f32) -> Self {
        Ewma { alpha, value: None }
    }

    /// Folds in `x` and returns the smoothed value.
    pub fn update(&mut self, x: f32) -> f32 {
        let v = match self.value {
            None => x,
            Some(v) => v + self.alpha * (x - v),
        };
        self.value = Some(v);
        v
    }
}

/// The distribution of the smoothed score on normal steps, and the thresholds derived from it.
///
/// Estimated exactly (Welford) over the last part of warm-up, then tracked with a slow
/// exponentially weighted update on steps judged normal, so a healthy machine's drift moves the
/// thresholds but a fault does not. The spirit is HTM's anomaly likelihood (Ahmad et al. 2017,
/// "Unsupervised real-time anomaly detection for streaming data"): judge a score against the
/// score's own recent distribution rather than an absolute level. The standard deviation is
/// floored so a very steady score cannot make the detector trigger-happy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreThreshold {
    count: u64,
    mean: f64,
    var: f64,
    k_high: f64,
    k_low: f64,
    std_floor: f64,
}

impl ScoreThreshold {
    /// Thresholds at `mean + k_high * std` (raise) and `mean + k_low * std` (resolve), with
    /// `std >= std_floor`.
    pub fn new(k_high: f64, k_low: f64, std_floor: f64) -> Self {
        ScoreThreshold { count: 0, mean: 0.0, var: 0.0, k_high, k_low, std_floor }
    }

    /// Scores observed exactly so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact running update (warm-up).
    pub fn observe(&mut self, x: f32) {
        self.count += 1;
        self.update(f64::from(x), 1.0 / self.count as f64);
    }

    /// Slow exponentially weighted update (monitoring, normal steps).
    pub fn observe_slow(&mut self, x: f32, rate: f64) {
        if self.count == 0 {
            self.observe(x);
        } else {
            self.update(f64::from(x), rate);
        }
    }

    fn update(&mut self, x: f64, rate: f64) {
        let d = x - self.mean;
        self.mean += rate * d;
        self.var = (self.var + rate * (d * (x - self.mean) - self.var)).max(0.0);
    }

    /// Mean smoothed score on normal steps.
    pub fn mean(&self) -> f32 {
        self.mean as f32
    }

    /// Floored standard deviation.
    pub fn std(&self) -> f64 {
        self.var.sqrt().max(self.std_floor)
    }

    /// Raise threshold.
    pub fn high(&self) -> f32 {
        (self.mean + self.k_high * self.std()) as f32
    }

    /// Resolve threshold (and the gate for learning in monitoring).
    pub fn low(&self) -> f32 {
        (self.mean + self.k_low * self.std()) as f32
    }

    /// Above this an alert is critical: twice as far above the mean as the raise threshold.
    pub fn critical(&self) -> f32 {
        (self.mean + 2.0 * self.k_high * self.std()) as f32
    }

    /// 100 at or below the normal mean, 50 at the raise threshold, 0 at the critical level,
    /// linear in between.
    pub fn health(&self, score: f32) -> f32 {
        let span = self.high() - self.mean();
        if span <= 0.0 {
            return 100.0;
        }
        (100.0 - 50.0 * (score - self.mean()) / span).clamp(0.0, 100.0)
    }
}

/// A change of the alert state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The alert opened.
    Raise,
    /// The alert closed.
    Resolve,
}

/// Alert state with hysteresis: opens after `raise_after` consecutive steps above the high
/// threshold and closes after `resolve_after` consecutive steps below the low threshold
/// (the open / still-open / resolved cycle of DESIGN.md; cf. rumqttc's explicit state machine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMachine {
    raise_after: u32,
    resolve_after: u32,
    open: bool,
    run: u32,
}

impl AlertMachine {
    /// A closed alert.
    pub fn new(raise_after: u32, resolve_after: u32) -> Self {
        AlertMachine { raise_after, resolve_after, open: false, run: 0 }
    }

    /// Whether an alert is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Feeds one smoothed score.
    pub fn update(&mut self, score: f32, high: f32, low: f32) -> Option<Transition> {
        if !self.open {
            self.run = if score > high { self.run + 1 } else { 0 };
            if self.run >= self.raise_after {
                self.open = true;
                self.run = 0;
                return Some(Transition::Raise);
            }
        } else {
            self.run = if score < low { self.run + 1 } else { 0 };
            if self.run >= self.resolve_after {
                self.open = false;
                self.run = 0;
                return Some(Transition::Resolve);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_smooths() {
        let mut e = Ewma::new(0.5);
        assert_eq!(e.update(1.0), 1.0);
        assert_eq!(e.update(0.0), 0.5);
        assert_eq!(e.update(0.0), 0.25);
    }

    #[test]
    fn thresholds_follow_the_distribution_with_a_floor() {
        let mut t = ScoreThreshold::new(4.0, 2.0, 0.01);
        for x in [0.1, 0.3, 0.1, 0.3] {
            t.observe(x);
        }
        assert!((t.mean() - 0.2).abs() < 1e-6);
        assert!((t.high() - 0.6).abs() < 1e-6);
        assert!((t.low() - 0.4).abs() < 1e-6);
        assert!((t.critical() - 1.0).abs() < 1e-6);
        assert_eq!(t.health(0.1), 100.0);
        assert!((t.health(0.6) - 50.0).abs() < 1e-3);
        assert_eq!(t.health(1.5), 0.0);

        let mut flat = ScoreThreshold::new(4.0, 2.0, 0.01);
        for _ in 0..10 {
            flat.observe(0.2);
        }
        assert!((flat.high() - 0.24).abs() < 1e-6, "floored: {}", flat.high());
    }

    #[test]
    fn alerts_need_consecutive_steps_and_have_hysteresis() {
        let mut m = AlertMachine::new(3, 2);
        let (high, low) = (0.5, 0.3);
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.4, high, low), None); // the run is broken
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.6, high, low), Some(Transition::Raise));
        assert!(m.is_open());
        // Between low and high: still open.
        for _ in 0..10 {
            assert_eq!(m.update(0.4, high, low), None);
        }
        assert_eq!(m.update(0.2, high, low), None);
        assert_eq!(m.update(0.2, high, low), Some(Transition::Resolve));
        assert!(!m.is_open());
    }
}
