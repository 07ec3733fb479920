//! Anomaly likelihood: how improbable the recent raw score is against the score's own long-run
//! distribution, after Ahmad et al. 2017 ("Unsupervised real-time anomaly detection for streaming
//! data", the likelihood stage of HTM on the Numenta Anomaly Benchmark).
//!
//! A raw score is judged against its own history, not an absolute level, so a channel whose model
//! is always a little unsure does not alarm, and a very steady one notices small departures. The
//! short-term mean over a few steps keeps one odd step from raising an alert; the long-run
//! distribution (mean and standard deviation of those short-term means over a long sliding
//! window, re-estimated periodically) is what "usual" means.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Tail probability at or below which a step is "red" (very unlikely under normal behaviour).
pub const RED_TAIL: f64 = 1e-5;
/// Tail probability of the "yellow" level that continuing red steps are reported at.
pub const YELLOW_TAIL: f64 = 1e-3;

/// Parameters of [`AnomalyLikelihood`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LikelihoodParams {
    /// Raw scores averaged into the short-term mean.
    pub short_window: usize,
    /// Short-term means kept for the long-run distribution.
    pub long_window: usize,
    /// The long-run distribution is re-estimated every this many steps, and at every step while
    /// it holds fewer steps than this.
    pub reestimate_every: u64,
    /// Floor on the long-run standard deviation (absolute score units), so a very steady score
    /// cannot make the detector trigger-happy.
    pub std_floor: f64,
}

/// The likelihood of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Likelihood {
    /// Short-term mean of the raw score.
    pub short_mean: f64,
    /// `ln(tail) / ln(1e-10)`, clamped to [0, 1], of the short-term mean against every recent
    /// step (0.5 at a tail probability of 1e-5, 1 at 1e-10 or less): what is improbable *now*.
    pub log_likelihood: f32,
    /// `log_likelihood`, except that a red step directly after a red step reports the yellow
    /// level: only the onset of an improbable stretch stands out (HTM's filtered likelihood).
    pub onset: f32,
    /// The same against the steps judged normal only: whether a departure persists, however long
    /// it has lasted.
    pub versus_normal: f32,
}

/// Short-term mean of raw scores against their long-run distribution.
///
/// Two distributions are kept. One takes every step, as in HTM: a change that lasts becomes the
/// usual and stops looking improbable, so each *new* departure stands out; alerts are raised on
/// it. The other takes only steps judged normal: against it a lasting fault stays improbable, so
/// an alert stays open until the machine is back to its normal (or an operator says the new
/// behaviour is normal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyLikelihood {
    params: LikelihoodParams,
    short: VecDeque<f32>,
    recent: Distribution,
    normal: Distribution,
    previous_red: bool,
}

impl AnomalyLikelihood {
    /// An empty stage: until [`Self::record`] or [`Self::update`] have filled some history, every
    /// step is judged against mean 0 and the floored standard deviation.
    pub fn new(params: LikelihoodParams) -> Self {
        AnomalyLikelihood {
            params,
            short: VecDeque::with_capacity(params.short_window + 1),
            recent: Distribution::new(&params),
            normal: Distribution::new(&params),
            previous_red: false,
        }
    }

    /// Adds `raw` to both histories without judging it (warm-up), re-estimating them.
    pub fn record(&mut self, raw: f32) {
        let short_mean = self.push_short(raw);
        for d in [&mut self.recent, &mut self.normal] {
            d.push(short_mean, &self.params);
            d.estimate(&self.params);
        }
    }

    /// Judges `raw`, then adds it to the history of every step, and to the normal steps' history
    /// when `normal` (test, then train).
    pub fn update(&mut self, raw: f32, normal: bool) -> Likelihood {
        let short_mean = self.push_short(raw);
        let tail = self.recent.tail(short_mean);
        let log_likelihood = log_likelihood_of(tail);
        let red = tail <= RED_TAIL;
        let onset =
            if red && self.previous_red { log_likelihood.min(log_likelihood_of(YELLOW_TAIL)) } else { log_likelihood };
        self.previous_red = red;
        let versus_normal = log_likelihood_of(self.normal.tail(short_mean));
        self.recent.learn(short_mean, &self.params);
        if normal {
            self.normal.learn(short_mean, &self.params);
        }
        Likelihood { short_mean, log_likelihood, onset, versus_normal }
    }

    /// Operator feedback: the recent steps were normal, so the normal history becomes the recent
    /// one.
    pub fn accept_recent_as_normal(&mut self) {
        self.normal = self.recent.clone();
        self.previous_red = false;
    }

    /// Mean of the distribution of every recent step.
    pub fn mean(&self) -> f64 {
        self.recent.mean
    }

    /// Floored standard deviation of the distribution of every recent step.
    pub fn std(&self) -> f64 {
        self.recent.std
    }

    fn push_short(&mut self, raw: f32) -> f64 {
        self.short.push_back(raw);
        if self.short.len() > self.params.short_window {
            self.short.pop_front();
        }
        self.short.iter().map(|&x| f64::from(x)).sum::<f64>() / self.short.len() as f64
    }
}

/// A sliding history of short-term means and its mean and standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Distribution {
    history: VecDeque<f32>,
    mean: f64,
    std: f64,
    since_estimate: u64,
}

impl Distribution {
    fn new(params: &LikelihoodParams) -> Self {
        Distribution {
            history: VecDeque::with_capacity(params.long_window.min(65_536) + 1),
            mean: 0.0,
            std: params.std_floor,
            since_estimate: 0,
        }
    }

    /// Probability of a short-term mean at least `x` (one-sided: only high scores are anomalous).
    fn tail(&self, x: f64) -> f64 {
        upper_tail((x - self.mean) / self.std)
    }

    fn push(&mut self, short_mean: f64, params: &LikelihoodParams) {
        self.history.push_back(short_mean as f32);
        if self.history.len() > params.long_window {
            self.history.pop_front();
        }
    }

    /// Adds a step, re-estimating every `reestimate_every` steps, and at every step while the
    /// history holds fewer than that. A short history is the last steps of a short warm-up, scored
    /// while the model learned at the warm-up rate, which follows the input more closely than
    /// monitoring does: an estimate of it left standing for `reestimate_every` steps judged the
    /// first minutes of monitoring (a load cycle's extremes, scored a little higher) against too
    /// narrow a distribution. Re-estimating a short history is cheap.
    fn learn(&mut self, short_mean: f64, params: &LikelihoodParams) {
        self.push(short_mean, params);
        self.since_estimate += 1;
        let young = (self.history.len() as u64) < params.reestimate_every;
        if young || self.since_estimate >= params.reestimate_every {
            self.estimate(params);
        }
    }

    /// Exact mean and standard deviation of the history (recomputed rather than tracked, so no
    /// rounding drift accumulates over months of steps).
    fn estimate(&mut self, params: &LikelihoodParams) {
        self.since_estimate = 0;
        let n = self.history.len();
        if n == 0 {
            return;
        }
        let mean = self.history.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        let var = self.history.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n as f64;
        self.mean = mean;
        self.std = var.sqrt().max(params.std_floor);
    }
}

/// `ln(tail) / ln(1e-10)` clamped to [0, 1].
pub fn log_likelihood_of(tail: f64) -> f32 {
    (tail.max(1e-300).ln() / 1e-10f64.ln()).clamp(0.0, 1.0) as f32
}

/// P(Z > z) for a standard normal Z.
pub fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function, Chebyshev fit with fractional error below 1.2e-7 everywhere
/// (Press et al., Numerical Recipes, `erfcc`). Written out because std has no stable `erfc`.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> LikelihoodParams {
        LikelihoodParams { short_window: 4, long_window: 1000, reestimate_every: 10, std_floor: 0.01 }
    }

    #[test]
    fn tail_matches_the_normal_distribution() {
        assert!((upper_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((upper_tail(1.0) - 0.158_655_25).abs() < 1e-7);
        assert!((upper_tail(-1.0) - 0.841_344_75).abs() < 1e-7);
        assert!((upper_tail(4.264_890_8) / 1e-5 - 1.0).abs() < 1e-5);
        assert!((log_likelihood_of(1e-5) - 0.5).abs() < 1e-6);
        assert_eq!(log_likelihood_of(1e-12), 1.0);
        assert_eq!(log_likelihood_of(1.0), 0.0);
    }

    #[test]
    fn a_jump_is_red_once_then_yellow_while_it_lasts() {
        let mut l = AnomalyLikelihood::new(params());
        for i in 0..500 {
            l.record(0.1 + 0.02 * ((i % 7) as f32 - 3.0) / 3.0);
        }
        assert!((l.mean() - 0.1).abs() < 0.01, "{}", l.mean());
        let quiet = l.update(0.1, true);
        assert!(quiet.log_likelihood < 0.2, "{quiet:?}");
        let mut onsets = Vec::new();
        for _ in 0..8 {
            let step = l.update(0.9, true);
            onsets.push(step.onset);
            assert!(step.onset <= step.log_likelihood);
        }
        let first_red = onsets.iter().position(|&o| o >= 0.5).expect("the jump goes red");
        assert!(first_red <= 1, "{onsets:?}");
        // Later steps of the same stretch are capped at the yellow level.
        assert!(onsets[first_red + 1..].iter().all(|&o| o <= log_likelihood_of(YELLOW_TAIL) + 1e-6), "{onsets:?}");
    }

    #[test]
    fn a_lasting_change_becomes_the_usual_but_stays_abnormal() {
        let mut l = AnomalyLikelihood::new(LikelihoodParams { long_window: 200, ..params() });
        for _ in 0..200 {
            l.record(0.1);
        }
        assert!(l.update(0.6, false).log_likelihood > 0.5);
        for _ in 0..400 {
            l.update(0.6, false);
        }
        // Against every recent step it is the usual now; against the normal steps it still is not.
        let last = l.update(0.6, false);
        assert!(last.log_likelihood < 0.1, "{last:?}");
        assert_eq!(last.versus_normal, 1.0);
    }

    #[test]
    fn a_short_history_is_reestimated_at_every_step_then_every_reestimate_every() {
        // 4 warm-up steps, re-estimating every 10: the history is short for the next 5 steps.
        let mut l = AnomalyLikelihood::new(params());
        for _ in 0..4 {
            l.record(0.1);
        }
        let recorded = l.mean();
        let means: Vec<f64> = (0..15)
            .map(|_| {
                l.update(0.3, true);
                l.mean()
            })
            .collect();
        // Each of the first 5 updates moves the estimate as the scores rise ...
        assert!(means[0] > recorded && means[..5].windows(2).all(|w| w[1] > w[0]), "{means:?}");
        // ... then, with 10 steps held, it stands until 10 more steps have come.
        assert!(means[5..14].iter().all(|&m| m == means[4]), "{means:?}");
        assert!(means[14] > means[4], "{means:?}");
    }

    #[test]
    fn same_scores_give_the_same_likelihoods() {
        let run = || {
            let mut l = AnomalyLikelihood::new(params());
            (0..300).map(|i| l.update(((i * 37) % 101) as f32 / 100.0, i % 3 > 0).versus_normal).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
