//! Plain baselines scored beside spikewatch: a rolling z-score feeding the model's own likelihood and alert
//! stages, and the vibration RMS alarm (mean + 3σ of the learning windows, held 3).

use super::RowOutcome;
use snn_engine::ModelConfig;
use snn_engine::likelihood::AnomalyLikelihood;
use snn_engine::range::ScalarChecks;
use snn_engine::score::{AlertMachine, Transition};
use std::collections::VecDeque;

/// Rows of history each channel's z-score is taken against.
pub const ZSCORE_WINDOW: usize = 100;

/// A rolling z-score detector over rows of scalar channels: novelty `1 - exp(-max|z| / 3)` (z of each value
/// against the previous [`ZSCORE_WINDOW`] values of its channel; 1 when a value breaks out of its channel's range,
/// as in the model), then the same likelihood stage, alert levels and alert machine as the model (an open alert
/// held while a channel's level is off its band, as in the model), with the same warm-up schedule counted in rows.
#[derive(Debug, Clone)]
pub struct ZScoreBaseline {
    history: Vec<VecDeque<f64>>,
    scalars: Vec<ScalarChecks>,
    likelihood: AnomalyLikelihood,
    alert: AlertMachine,
    levels: (f32, f32),
    warmup_rows: u64,
    threshold_rows: u64,
    rows: u64,
}

impl ZScoreBaseline {
    /// A detector for `channels` scalars per row that learns for `warmup_rows` rows, estimating its threshold
    /// history over the last `threshold_rows` of them.
    pub fn new(channels: usize, warmup_rows: u64, threshold_rows: u64, config: &ModelConfig) -> Self {
        let (likelihood, alert) = config.score_stages();
        ZScoreBaseline {
            history: vec![VecDeque::with_capacity(ZSCORE_WINDOW + 1); channels],
            scalars: vec![ScalarChecks::new(config.range_breakout_margin, config.level_smoothing_readings); channels],
            likelihood,
            alert,
            levels: (config.alert_raise_level, config.alert_resolve_level),
            warmup_rows,
            threshold_rows: threshold_rows.min(warmup_rows),
            rows: 0,
        }
    }

    /// Feeds one row (one value per channel).
    pub fn step(&mut self, row: &[f64]) -> RowOutcome {
        let mut z_max: f64 = 0.0;
        for (h, &x) in self.history.iter_mut().zip(row) {
            if h.len() >= 2 {
                let n = h.len() as f64;
                let mean = h.iter().sum::<f64>() / n;
                let var = h.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let std = var.sqrt().max(1e-9 + 1e-3 * mean.abs());
                z_max = z_max.max(((x - mean) / std).abs());
            }
            h.push_back(x);
            if h.len() > ZSCORE_WINDOW {
                h.pop_front();
            }
        }
        let open = self.alert.is_open();
        let (mut breakout, mut level_off) = (false, false);
        for (checks, &x) in self.scalars.iter_mut().zip(row) {
            let verdict = checks.observe(x, !open);
            breakout |= verdict.out_of_range;
            level_off |= verdict.level_off;
        }
        self.rows += 1;
        let novelty = if breakout && self.rows > self.warmup_rows { 1.0 } else { (1.0 - (-z_max / 3.0).exp()) as f32 };
        if self.rows <= self.warmup_rows {
            if self.rows + self.threshold_rows > self.warmup_rows {
                self.likelihood.record(novelty);
            }
            return RowOutcome::default();
        }
        let judged = self.likelihood.update(novelty, !open);
        let (raise, resolve) = self.levels;
        let from_normal = if open && level_off { 1.0 } else { judged.versus_normal };
        let transition = self.alert.update(judged.log_likelihood, from_normal, raise, resolve);
        let raised = matches!(transition, Some(Transition::Raise));
        RowOutcome { score: f64::from(from_normal), onset: f64::from(judged.onset), raised, open: self.alert.is_open() }
    }
}

/// The plain vibration alarm: a window alarms when its RMS exceeds mean + 3σ of the learning windows' RMS;
/// the alarm is raised after 3 alarming windows in a row and resolved after 3 quiet ones.
#[derive(Debug, Clone)]
pub struct RmsAlarm {
    limit: f64,
    above: u32,
    below: u32,
    open: bool,
}

/// Consecutive windows that raise or resolve the RMS alarm.
pub const RMS_HOLD: u32 = 3;

impl RmsAlarm {
    /// An alarm whose limit is the mean + 3σ of `learning` RMS values.
    pub fn new(learning: &[f64]) -> Self {
        let n = learning.len().max(1) as f64;
        let mean = learning.iter().sum::<f64>() / n;
        let var = learning.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        RmsAlarm { limit: mean + 3.0 * var.sqrt(), above: 0, below: 0, open: false }
    }

    /// The alarm limit.
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// Feeds one window's RMS; returns (raised on this window, open after it).
    pub fn step(&mut self, rms: f64) -> (bool, bool) {
        if rms > self.limit {
            self.above += 1;
            self.below = 0;
        } else {
            self.below += 1;
            self.above = 0;
        }
        let mut raised = false;
        if !self.open && self.above >= RMS_HOLD {
            self.open = true;
            raised = true;
        } else if self.open && self.below >= RMS_HOLD {
            self.open = false;
        }
        (raised, self.open)
    }
}

/// Root mean square of a window.
pub fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zscore_baseline_alerts_on_a_step_change_after_warm_up() {
        let mut b = ZScoreBaseline::new(1, 200, 80, &ModelConfig::default());
        let mut raised = Vec::new();
        for i in 0..400 {
            let x = if i < 300 { (i as f64 * 0.7).sin() } else { 50.0 };
            if b.step(&[x]).raised {
                raised.push(i);
            }
        }
        assert!(!raised.is_empty() && raised[0] >= 300, "{raised:?}");
    }

    #[test]
    fn the_zscore_baseline_holds_an_alert_while_a_level_is_off_its_band() {
        // A meter quantised to whole units (mostly 32 while healthy, always 31 once stuck) beside a
        // smooth sensor; an excursion of the sensor opens an alert while the meter is stuck. Judged 250
        // rows later, before the departure could settle (`settle_steps`, 300).
        let meter = |i: usize| [32.0, 33.0, 32.0, 31.0, 32.0, 32.0, 33.0, 32.0, 31.0, 32.0][i % 10];
        let open_at_end = |readings: u32| {
            let config = ModelConfig { level_smoothing_readings: readings, ..ModelConfig::default() };
            let mut b = ZScoreBaseline::new(2, 200, 80, &config);
            let mut last = RowOutcome::default();
            for i in 0..650 {
                let sensor = if (400..403).contains(&i) { 50.0 } else { (i as f64 * 0.7).sin() };
                let flow = if i < 400 { meter(i) } else { 31.0 };
                last = b.step(&[flow, sensor]);
                if i == 402 {
                    assert!(last.open, "the excursion opens an alert");
                }
            }
            last.open
        };
        assert!(open_at_end(6), "held while the meter's level is off its band");
        assert!(!open_at_end(0), "without the level check the alert resolves");
    }

    #[test]
    fn the_rms_alarm_needs_three_windows_to_raise_and_to_resolve() {
        let mut a = RmsAlarm::new(&[1.0, 1.1, 0.9, 1.0]);
        assert!((rms(&[3.0, -3.0]) - 3.0).abs() < 1e-12);
        let steps: Vec<(bool, bool)> = [5.0, 5.0, 5.0, 1.0, 1.0, 1.0].iter().map(|&r| a.step(r)).collect();
        assert_eq!(steps.iter().map(|s| s.0).collect::<Vec<_>>(), [false, false, true, false, false, false]);
        assert_eq!(steps.iter().map(|s| s.1).collect::<Vec<_>>(), [false, false, true, true, true, false]);
    }
}
