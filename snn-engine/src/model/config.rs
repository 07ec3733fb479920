//! `ModelConfig`: every tunable of the per-asset model, with units in the names, and its checks.

use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::score::{AlertMachine, Ewma, ScoreThreshold};

/// Tunables of [`super::AssetModel`]. Steps are model steps (one accepted reading each); time
/// steps (`*_time_steps`) are the network's simulation ticks inside one encoding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Steps of warm-up (learning fast, no alerts), counted from the first step at which every
    /// channel has been seen.
    pub warmup_steps: u32,
    /// The first steps of warm-up only learn the feature statistics, so the network is not
    /// trained on z-scores from a handful of samples.
    pub normaliser_warmup_steps: u32,
    /// The last steps of warm-up estimate the distribution of the normal score.
    pub threshold_warmup_steps: u32,
    /// Excitatory LIF neurons (the most prototypes of normal behaviour the model can hold).
    pub neurons: usize,
    /// Network time steps per model step (the encoding window T).
    pub window_time_steps: u32,

    /// Lower edge of the lowest spectral band of a window channel.
    pub band_min_hz: f64,
    /// Log-spaced spectral bands from `band_min_hz` to Nyquist.
    pub band_count: usize,
    /// The envelope is demodulated from this frequency up to Nyquist.
    pub envelope_band_min_hz: f64,

    /// Z-scores are clipped to this many standard deviations.
    pub z_clip_sigma: f64,
    /// A feature's standard deviation is at least this fraction of its |mean| ...
    pub std_floor_fraction_of_mean: f64,
    /// ... plus this absolute amount.
    pub std_floor_abs: f64,

    /// Gaussian receptive fields per feature, centres spread evenly over `±z_clip_sigma`.
    pub population_fields: usize,
    /// Receptive-field width in field spacings.
    pub population_width_spacings: f64,
    /// The delta encoder emits one spike per this many sigmas of change.
    pub delta_threshold_sigma: f64,

    /// Membrane time constant of the LIF neurons.
    pub membrane_tau_time_steps: f32,
    /// Base firing threshold. Weights are normalised so that a perfectly matching prototype
    /// receives about 0.5 per time step (see `AssetModel::new`).
    pub firing_threshold: f32,
    /// Potential removed from the other neurons when one fires (soft winner-take-all).
    pub lateral_inhibition: f32,
    /// Adaptive-threshold increment per output spike (homeostasis).
    pub theta_plus: f32,
    /// Adaptive-threshold decay time constant.
    pub theta_tau_time_steps: f32,

    /// STDP potentiation per pre-trace unit, in units of (weight norm / sqrt(inputs)); the
    /// default moves a winning prototype roughly 3% of the way to its input per window.
    pub stdp_rate: f32,
    /// Depression amplitude as a fraction of potentiation.
    pub stdp_depression_ratio: f32,
    /// Pre-synaptic trace time constant.
    pub stdp_tau_pre_time_steps: f32,
    /// Post-synaptic trace time constant.
    pub stdp_tau_post_time_steps: f32,
    /// Upper weight bound.
    pub weight_max: f32,
    /// During warm-up a neuron is recruited when no prototype has at least this cosine
    /// similarity with the input.
    pub recruit_below_cosine: f32,
    /// Learning-rate factor in monitoring (normal steps only) relative to warm-up.
    pub monitoring_learning_scale: f32,
    /// Rate of the slow updates of feature and score statistics on normal steps in monitoring.
    pub normal_adapt_rate: f64,

    /// EWMA weight of each new novelty value in the smoothed score.
    pub score_smoothing: f32,
    /// Raise threshold: normal mean + this many standard deviations of the smoothed score.
    pub threshold_high_sigma: f64,
    /// Resolve threshold: normal mean + this many standard deviations.
    pub threshold_low_sigma: f64,
    /// Floor on the standard deviation of the smoothed score (absolute score units).
    pub score_std_floor: f64,
    /// Consecutive steps above the high threshold before an alert is raised.
    pub raise_after: u32,
    /// Consecutive steps below the low threshold before an alert is resolved.
    pub resolve_after: u32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            warmup_steps: 240,
            normaliser_warmup_steps: 60,
            threshold_warmup_steps: 80,
            neurons: 64,
            window_time_steps: 20,
            band_min_hz: 100.0,
            band_count: 8,
            envelope_band_min_hz: 2_000.0,
            z_clip_sigma: 6.0,
            std_floor_fraction_of_mean: 0.01,
            std_floor_abs: 1e-9,
            population_fields: 9,
            population_width_spacings: 1.0,
            delta_threshold_sigma: 0.5,
            membrane_tau_time_steps: 10.0,
            firing_threshold: 1.0,
            lateral_inhibition: 0.5,
            theta_plus: 0.002,
            theta_tau_time_steps: 2_000.0,
            stdp_rate: 0.01,
            stdp_depression_ratio: 0.5,
            stdp_tau_pre_time_steps: 5.0,
            stdp_tau_post_time_steps: 5.0,
            weight_max: 0.5,
            recruit_below_cosine: 0.95,
            monitoring_learning_scale: 0.1,
            normal_adapt_rate: 0.002,
            score_smoothing: 0.2,
            threshold_high_sigma: 5.0,
            threshold_low_sigma: 2.0,
            score_std_floor: 0.02,
            raise_after: 3,
            resolve_after: 20,
        }
    }
}

fn check(ok: bool, field: &'static str, reason: &str) -> Result<(), ModelError> {
    if ok { Ok(()) } else { Err(ModelError::InvalidConfig { field, reason: reason.to_owned() }) }
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

fn fraction(x: f64) -> bool {
    x.is_finite() && x > 0.0 && x <= 1.0
}

impl ModelConfig {
    /// The post-processing that turns a raw score into alerts (smoothing, adaptive threshold, hysteresis),
    /// built from this configuration. The model uses it, and so does any baseline that must be judged by
    /// the same rules.
    pub fn score_stages(&self) -> (Ewma, ScoreThreshold, AlertMachine) {
        (
            Ewma::new(self.score_smoothing),
            ScoreThreshold::new(self.threshold_high_sigma, self.threshold_low_sigma, self.score_std_floor),
            AlertMachine::new(self.raise_after, self.resolve_after),
        )
    }

    /// Checks ranges and relations between fields.
    pub fn validate(&self) -> Result<(), ModelError> {
        let c = self;
        check(c.warmup_steps > 0, "warmup_steps", "must be positive")?;
        check(
            u64::from(c.normaliser_warmup_steps) + u64::from(c.threshold_warmup_steps) < u64::from(c.warmup_steps),
            "warmup_steps",
            "must exceed normaliser_warmup_steps + threshold_warmup_steps",
        )?;
        check(c.normaliser_warmup_steps >= 2, "normaliser_warmup_steps", "must be at least 2")?;
        check(c.threshold_warmup_steps >= 2, "threshold_warmup_steps", "must be at least 2")?;
        check((1..=4096).contains(&c.neurons), "neurons", "must be in 1..=4096")?;
        check((1..=1000).contains(&c.window_time_steps), "window_time_steps", "must be in 1..=1000")?;
        check(positive(c.band_min_hz), "band_min_hz", "must be positive")?;
        check((1..=64).contains(&c.band_count), "band_count", "must be in 1..=64")?;
        check(positive(c.envelope_band_min_hz), "envelope_band_min_hz", "must be positive")?;
        check(positive(c.z_clip_sigma), "z_clip_sigma", "must be positive")?;
        check(
            c.std_floor_fraction_of_mean.is_finite() && c.std_floor_fraction_of_mean >= 0.0,
            "std_floor_fraction_of_mean",
            "must be non-negative",
        )?;
        check(positive(c.std_floor_abs), "std_floor_abs", "must be positive")?;
        check((2..=64).contains(&c.population_fields), "population_fields", "must be in 2..=64")?;
        check(positive(c.population_width_spacings), "population_width_spacings", "must be positive")?;
        check(positive(c.delta_threshold_sigma), "delta_threshold_sigma", "must be positive")?;
        check(positive(c.membrane_tau_time_steps.into()), "membrane_tau_time_steps", "must be positive")?;
        check(positive(c.firing_threshold.into()), "firing_threshold", "must be positive")?;
        check(
            c.lateral_inhibition.is_finite() && c.lateral_inhibition >= 0.0,
            "lateral_inhibition",
            "must be non-negative",
        )?;
        check(c.theta_plus.is_finite() && c.theta_plus >= 0.0, "theta_plus", "must be non-negative")?;
        check(positive(c.theta_tau_time_steps.into()), "theta_tau_time_steps", "must be positive")?;
        check(positive(c.stdp_rate.into()), "stdp_rate", "must be positive")?;
        check(
            c.stdp_depression_ratio.is_finite() && c.stdp_depression_ratio >= 0.0,
            "stdp_depression_ratio",
            "must be non-negative",
        )?;
        check(positive(c.stdp_tau_pre_time_steps.into()), "stdp_tau_pre_time_steps", "must be positive")?;
        check(positive(c.stdp_tau_post_time_steps.into()), "stdp_tau_post_time_steps", "must be positive")?;
        check(positive(c.weight_max.into()), "weight_max", "must be positive")?;
        check(fraction(c.recruit_below_cosine.into()), "recruit_below_cosine", "must be in (0, 1]")?;
        check(
            c.monitoring_learning_scale.is_finite() && c.monitoring_learning_scale >= 0.0,
            "monitoring_learning_scale",
            "must be non-negative",
        )?;
        check(
            c.normal_adapt_rate.is_finite() && (0.0..1.0).contains(&c.normal_adapt_rate),
            "normal_adapt_rate",
            "must be in [0, 1)",
        )?;
        check(fraction(c.score_smoothing.into()), "score_smoothing", "must be in (0, 1]")?;
        check(positive(c.threshold_high_sigma), "threshold_high_sigma", "must be positive")?;
        check(
            c.threshold_low_sigma.is_finite() && c.threshold_low_sigma < c.threshold_high_sigma,
            "threshold_low_sigma",
            "must be below threshold_high_sigma",
        )?;
        check(positive(c.score_std_floor), "score_std_floor", "must be positive")?;
        check(c.raise_after >= 1, "raise_after", "must be at least 1")?;
        check(c.resolve_after >= 1, "resolve_after", "must be at least 1")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_serde() {
        let c = ModelConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<ModelConfig>(&json).unwrap(), c);
        // Partial configs fill in defaults; unknown fields are rejected.
        let partial: ModelConfig = serde_json::from_str(r#"{"neurons": 32}"#).unwrap();
        assert_eq!(partial.neurons, 32);
        assert_eq!(partial.warmup_steps, 240);
        assert!(serde_json::from_str::<ModelConfig>(r#"{"neuronz": 32}"#).is_err());
    }

    #[test]
    fn invalid_values_name_the_field() {
        let bad = ModelConfig { threshold_low_sigma: 5.0, ..ModelConfig::default() };
        let err = bad.validate().unwrap_err();
        assert!(err.to_string().contains("threshold_low_sigma"), "{err}");
        let bad = ModelConfig { warmup_steps: 100, ..ModelConfig::default() };
        assert!(bad.validate().is_err());
        let bad = ModelConfig { score_smoothing: f32::NAN, ..ModelConfig::default() };
        assert!(bad.validate().is_err());
    }
}
