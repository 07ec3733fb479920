//! `ModelConfig`: every tunable of the per-asset model, with units in the names, and its checks.

use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::frontend::{BandBank, MotorCurrentParams};
use crate::likelihood::{AnomalyLikelihood, LikelihoodParams};
use crate::score::AlertMachine;
use crate::stdp::StdpRuleKind;

/// Tunables of [`super::AssetModel`]. Steps are model steps (one scored frame each: a reading of
/// every channel, see [`super::AssetModel::step`]); time steps (`*_time_steps`) are the network's
/// simulation ticks inside one encoding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Steps of warm-up (learning fast, no alerts), counted from the first step at which every
    /// channel has been seen.
    pub warmup_steps: u32,
    /// The first steps of warm-up only learn the feature statistics, so the network is not
    /// trained on z-scores from a handful of samples.
    pub normaliser_warmup_steps: u32,
    /// The last steps of warm-up fill the likelihood's history of the normal raw score.
    pub threshold_warmup_steps: u32,
    /// Excitatory LIF neurons (the most prototypes of normal behaviour the model can hold).
    pub neurons: usize,
    /// Network time steps per model step (the encoding window T).
    pub window_time_steps: u32,

    /// Previous values of a scalar channel passed to the network beside its value and slope.
    pub scalar_lags: usize,
    /// Fields of the time-of-day context (0: the model ignores the time of day). When the part of
    /// the warm-up the network learns from (after `normaliser_warmup_steps`) spans at least a day,
    /// the network also sees the time of day (UTC) as a bump on this many fields around the clock,
    /// so it learns what is usual at which hour (see `model::daily`).
    pub daily_cycle_fields: usize,
    /// Width of the time-of-day bump, in field spacings.
    pub daily_cycle_width_fields: f64,
    /// A scalar value further outside the range seen so far than this fraction of the range's
    /// width scores as fully anomalous; the level check (`level_smoothing_readings`) uses the same
    /// margin (0 turns both off).
    pub range_breakout_margin: f64,
    /// Readings of a scalar channel its level (a moving average) averages over. While an alert is
    /// open, a level outside the band it kept while no alert was open (widened by
    /// `range_breakout_margin`, so a margin of 0 turns this off too) keeps the alert open until the
    /// sensor is back to its usual level, the departure settles, or an operator says it is normal:
    /// a fault that shifts the mix of a quantised meter's readings shows only there. It never
    /// raises an alert (0 turns this off).
    pub level_smoothing_readings: u32,
    /// Upper limit on each feature of a window channel (vibration, acoustic), in standard deviations
    /// above its warm-up mean, fixed at the end of warm-up: a machine wearing slowly never looks
    /// improbable against its recent past, but it leaves the limits it kept while healthy (0 turns
    /// the limits off; see `limits`).
    pub condition_limit_sigmas: f64,
    /// Consecutive frames above a condition limit before it counts (a single loud frame does not),
    /// unless a feature is twice as far above its mean as its limit, which counts at once.
    pub condition_limit_hold_frames: u32,
    /// Lower edge of the lowest spectral band of a window channel.
    pub band_min_hz: f64,
    /// Log-spaced spectral bands from `band_min_hz` to Nyquist.
    pub band_count: usize,
    /// What measures a window's band energies: `"fft"` (a Hann-windowed FFT) or `"resonate"`
    /// (resonate-and-fire neurons' oscillators, three cascades of four per band, driven sample by
    /// sample; see `frontend::resonator_bank`). Both give the same features on the same scale; the
    /// FFT costs less (see the README's Evaluation).
    pub band_bank: BandBank,
    /// The envelope is demodulated from this frequency up to Nyquist.
    pub envelope_band_min_hz: f64,
    /// Analysis of motor-current channels (`[model.motor_current]`: history length, supply search
    /// range, sideband band and median span, timing tolerance).
    pub motor_current: MotorCurrentParams,

    /// Z-scores are clipped to this many standard deviations.
    pub z_clip_sigma: f64,
    /// A feature's standard deviation is at least this fraction of its |mean| ...
    pub std_floor_fraction_of_mean: f64,
    /// ... plus this absolute amount (and never below the feature's own resolution, where its
    /// front-end gives one: 1 dB for a motor current's sideband and harmonic levels).
    pub std_floor_abs: f64,

    /// Gaussian receptive fields per feature, centres spread evenly over `±z_clip_sigma`.
    pub population_fields: usize,
    /// Receptive-field width in field spacings.
    pub population_width_spacings: f64,
    /// The delta encoder emits one spike per this many sigmas of change.
    pub delta_threshold_sigma: f64,
    /// Most UP (or DOWN) spikes a feature's delta encoder sends per frame; its rates are its
    /// counts over this, so they do not depend on `window_time_steps`.
    pub delta_max_spikes: u32,

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
    /// Learning rule: `"pair"` (pair-based STDP) or `"triplet"` (Pfister & Gerstner 2006, whose
    /// potentiation grows with the neuron's recent firing rate; see `stdp::StdpRule`).
    pub stdp_rule: StdpRuleKind,
    /// Triplet rule only: time constant of the slow post-synaptic trace.
    pub stdp_tau_post_slow_time_steps: f32,
    /// Triplet rule only: the triplet potentiation amplitude as a fraction of the pair one.
    pub stdp_triplet_ratio: f32,
    /// Upper weight bound.
    pub weight_max: f32,
    /// A neuron is recruited (during warm-up, and on steps judged normal in monitoring) when no
    /// prototype has at least this cosine similarity with the input; when every neuron is in use,
    /// the longest-idle one in monitoring gives up its prototype.
    pub recruit_below_cosine: f32,
    /// In monitoring, a step judged normal recruits a neuron only if its best match is at least
    /// this similar (a variation of known behaviour, not a new pattern); 1 (the default) never.
    /// Lower values let a stream whose normal keeps showing new patterns (IT metrics: 0.7 scores
    /// 61.6 on NAB against 55.1) learn them, but a machine fault that grows slowly is then learned
    /// step by step as a variation of normal and never alerts.
    pub monitoring_recruit_above_cosine: f32,
    /// Learning-rate factor in monitoring (normal steps only) relative to warm-up.
    pub monitoring_learning_scale: f32,
    /// Rate of the slow updates of feature and score statistics on normal steps in monitoring.
    pub normal_adapt_rate: f64,

    /// Weight of temporal surprise (from the sequence memory) in the raw score, the rest being
    /// novelty; 0 turns the sequence memory off.
    pub surprise_weight: f32,
    /// Learning rate of the sequence memory's transition weights.
    pub sequence_learning_rate: f32,
    /// Judge the raw score by its anomaly likelihood (on) or by its short-term mean alone (off,
    /// for ablation: the alert levels then apply to the mean raw score).
    pub likelihood: bool,
    /// Raw scores averaged into the likelihood's short-term mean.
    pub likelihood_short_window: usize,
    /// Steps of history the long-run score distribution is estimated over.
    pub likelihood_long_window: usize,
    /// The long-run distribution is re-estimated every this many steps (at every step while it
    /// holds fewer steps than this).
    pub likelihood_reestimate_steps: u32,
    /// Floor on the long-run standard deviation of the raw score.
    pub likelihood_std_floor: f64,
    /// Raise level of the anomaly score (log-likelihood; 0.5 is a tail probability of 1e-5).
    pub alert_raise_level: f32,
    /// Resolve level (and the learning gate in monitoring); 0.3 is a tail probability of 1e-3.
    pub alert_resolve_level: f32,
    /// Frames that learn at the warm-up rate after an operator marks the current behaviour as
    /// normal (`AssetModel::accept_as_normal`).
    pub feedback_learning_steps: u32,
    /// Consecutive steps at or above the raise level before an alert is raised.
    pub raise_after: u32,
    /// An open alert whose departure has stopped being new (its recent likelihood below the resolve
    /// level) for this many steps is judged against recent behaviour rather than the normal one,
    /// so a lasting change of how the machine runs resolves instead of staying open for good.
    pub settle_steps: u32,
    /// Consecutive steps below the resolve level before an alert is resolved.
    pub resolve_after: u32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            warmup_steps: 120,
            normaliser_warmup_steps: 30,
            threshold_warmup_steps: 60,
            neurons: 64,
            window_time_steps: 20,
            scalar_lags: 3,
            daily_cycle_fields: 24,
            daily_cycle_width_fields: 0.7,
            range_breakout_margin: 0.1,
            level_smoothing_readings: 6,
            condition_limit_sigmas: 7.0,
            condition_limit_hold_frames: 3,
            band_min_hz: 100.0,
            band_count: 8,
            band_bank: BandBank::Fft,
            envelope_band_min_hz: 2_000.0,
            motor_current: MotorCurrentParams::default(),
            z_clip_sigma: 6.0,
            std_floor_fraction_of_mean: 0.01,
            std_floor_abs: 1e-9,
            population_fields: 9,
            population_width_spacings: 1.0,
            delta_threshold_sigma: 0.5,
            delta_max_spikes: 20,
            membrane_tau_time_steps: 10.0,
            firing_threshold: 1.0,
            lateral_inhibition: 0.5,
            theta_plus: 0.002,
            theta_tau_time_steps: 2_000.0,
            stdp_rate: 0.01,
            stdp_depression_ratio: 0.5,
            stdp_tau_pre_time_steps: 5.0,
            stdp_tau_post_time_steps: 5.0,
            stdp_rule: StdpRuleKind::Pair,
            stdp_tau_post_slow_time_steps: 20.0,
            stdp_triplet_ratio: 0.1,
            weight_max: 0.5,
            recruit_below_cosine: 0.95,
            monitoring_recruit_above_cosine: 1.0,
            monitoring_learning_scale: 0.1,
            normal_adapt_rate: 0.002,
            surprise_weight: 0.3,
            sequence_learning_rate: 0.05,
            likelihood: true,
            likelihood_short_window: 10,
            likelihood_long_window: 8640,
            likelihood_reestimate_steps: 100,
            likelihood_std_floor: 0.005,
            alert_raise_level: 0.5,
            alert_resolve_level: 0.3,
            settle_steps: 300,
            feedback_learning_steps: 60,
            raise_after: 1,
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
    /// The post-processing that turns a raw score into alerts (likelihood, then hysteresis), built
    /// from this configuration. The model uses it, and so does any baseline that must be judged by
    /// the same rules.
    pub fn score_stages(&self) -> (AnomalyLikelihood, AlertMachine) {
        let params = LikelihoodParams {
            short_window: self.likelihood_short_window,
            long_window: self.likelihood_long_window,
            reestimate_every: u64::from(self.likelihood_reestimate_steps),
            std_floor: self.likelihood_std_floor,
        };
        (AnomalyLikelihood::new(params), AlertMachine::new(self.raise_after, self.resolve_after, self.settle_steps))
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
        check(c.scalar_lags <= 64, "scalar_lags", "must be at most 64")?;
        check(
            c.range_breakout_margin.is_finite() && c.range_breakout_margin >= 0.0,
            "range_breakout_margin",
            "must be non-negative",
        )?;
        check(
            c.condition_limit_sigmas.is_finite() && c.condition_limit_sigmas >= 0.0,
            "condition_limit_sigmas",
            "must be non-negative",
        )?;
        check(c.condition_limit_hold_frames >= 1, "condition_limit_hold_frames", "must be at least 1")?;
        check(positive(c.band_min_hz), "band_min_hz", "must be positive")?;
        check((1..=64).contains(&c.band_count), "band_count", "must be in 1..=64")?;
        check(positive(c.envelope_band_min_hz), "envelope_band_min_hz", "must be positive")?;
        c.motor_current
            .validate()
            .map_err(|(field, reason)| ModelError::InvalidConfig { field, reason: reason.to_owned() })?;
        check(positive(c.z_clip_sigma), "z_clip_sigma", "must be positive")?;
        check(
            c.std_floor_fraction_of_mean.is_finite() && c.std_floor_fraction_of_mean >= 0.0,
            "std_floor_fraction_of_mean",
            "must be non-negative",
        )?;
        check(positive(c.std_floor_abs), "std_floor_abs", "must be positive")?;
        check((2..=64).contains(&c.population_fields), "population_fields", "must be in 2..=64")?;
        check(positive(c.population_width_spacings), "population_width_spacings", "must be positive")?;
        check(c.daily_cycle_fields <= 1440, "daily_cycle_fields", "must be at most 1440")?;
        check(positive(c.daily_cycle_width_fields), "daily_cycle_width_fields", "must be positive")?;
        check(positive(c.delta_threshold_sigma), "delta_threshold_sigma", "must be positive")?;
        check((1..=1000).contains(&c.delta_max_spikes), "delta_max_spikes", "must be in 1..=1000")?;
        check(c.level_smoothing_readings <= 10_000, "level_smoothing_readings", "must be at most 10000")?;
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
        check(positive(c.stdp_tau_post_slow_time_steps.into()), "stdp_tau_post_slow_time_steps", "must be positive")?;
        check(
            c.stdp_triplet_ratio.is_finite() && c.stdp_triplet_ratio >= 0.0,
            "stdp_triplet_ratio",
            "must be non-negative",
        )?;
        check(positive(c.weight_max.into()), "weight_max", "must be positive")?;
        check(fraction(c.recruit_below_cosine.into()), "recruit_below_cosine", "must be in (0, 1]")?;
        check(
            c.monitoring_recruit_above_cosine.is_finite() && (0.0..=1.0).contains(&c.monitoring_recruit_above_cosine),
            "monitoring_recruit_above_cosine",
            "must be in [0, 1]",
        )?;
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
        check(
            c.surprise_weight.is_finite() && (0.0..=1.0).contains(&c.surprise_weight),
            "surprise_weight",
            "must be in [0, 1]",
        )?;
        check(fraction(c.sequence_learning_rate.into()), "sequence_learning_rate", "must be in (0, 1]")?;
        check((1..=10_000).contains(&c.likelihood_short_window), "likelihood_short_window", "must be in 1..=10000")?;
        check(
            (c.likelihood_short_window..=1_000_000).contains(&c.likelihood_long_window),
            "likelihood_long_window",
            "must be in likelihood_short_window..=1000000",
        )?;
        check(c.likelihood_reestimate_steps >= 1, "likelihood_reestimate_steps", "must be at least 1")?;
        check(positive(c.likelihood_std_floor), "likelihood_std_floor", "must be positive")?;
        check(fraction(c.alert_raise_level.into()), "alert_raise_level", "must be in (0, 1]")?;
        check(
            c.alert_resolve_level.is_finite() && c.alert_resolve_level < c.alert_raise_level,
            "alert_resolve_level",
            "must be below alert_raise_level",
        )?;
        check(c.raise_after >= 1, "raise_after", "must be at least 1")?;
        check(c.resolve_after >= 1, "resolve_after", "must be at least 1")?;
        check(c.settle_steps >= 1, "settle_steps", "must be at least 1")?;
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
        assert_eq!(partial.warmup_steps, 120);
        assert!(serde_json::from_str::<ModelConfig>(r#"{"neuronz": 32}"#).is_err());
    }

    #[test]
    fn invalid_values_name_the_field() {
        let bad = ModelConfig { alert_resolve_level: 0.6, ..ModelConfig::default() };
        let err = bad.validate().unwrap_err();
        assert!(err.to_string().contains("alert_resolve_level"), "{err}");
        let bad = ModelConfig { warmup_steps: 90, ..ModelConfig::default() };
        assert!(bad.validate().is_err());
        let bad = ModelConfig { surprise_weight: f32::NAN, ..ModelConfig::default() };
        assert!(bad.validate().is_err());
        let bad = ModelConfig { stdp_tau_post_slow_time_steps: 0.0, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("stdp_tau_post_slow_time_steps"));
        let bad = ModelConfig { stdp_triplet_ratio: -0.1, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("stdp_triplet_ratio"));
        let bad = ModelConfig { delta_max_spikes: 0, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("delta_max_spikes"));
        let bad = ModelConfig { level_smoothing_readings: 10_001, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("level_smoothing_readings"));
        let bad = ModelConfig { daily_cycle_fields: 1441, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("daily_cycle_fields"));
        let bad = ModelConfig { daily_cycle_width_fields: 0.0, ..ModelConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("daily_cycle_width_fields"));
    }

    #[test]
    fn motor_current_parameters_default_per_field_and_are_checked() {
        let c: ModelConfig = serde_json::from_str(r#"{"motor_current": {"history_seconds": 20}}"#).unwrap();
        assert_eq!(c.motor_current.history_seconds, 20.0);
        assert_eq!(c.motor_current.supply_min_hz, 40.0);
        c.validate().unwrap();
        assert!(serde_json::from_str::<ModelConfig>(r#"{"motor_current": {"history_s": 20}}"#).is_err());
        let with = |p: MotorCurrentParams| ModelConfig { motor_current: p, ..ModelConfig::default() };
        let d = MotorCurrentParams::default();
        for (bad, field) in [
            (MotorCurrentParams { history_seconds: 0.5, ..d }, "motor_current.history_seconds"),
            (MotorCurrentParams { history_seconds: f64::NAN, ..d }, "motor_current.history_seconds"),
            (MotorCurrentParams { supply_max_hz: 40.0, ..d }, "motor_current.supply_max_hz"),
            (MotorCurrentParams { supply_min_hz: 5.0, ..d }, "motor_current.supply_min_hz"),
            (MotorCurrentParams { sideband_min_offset_hz: 0.0, ..d }, "motor_current.sideband_min_offset_hz"),
            (MotorCurrentParams { sideband_max_offset_hz: 0.4, ..d }, "motor_current.sideband_max_offset_hz"),
            (MotorCurrentParams { sideband_median_seconds: -1.0, ..d }, "motor_current.sideband_median_seconds"),
            (MotorCurrentParams { sideband_median_seconds: 301.0, ..d }, "motor_current.sideband_median_seconds"),
            (MotorCurrentParams { max_timing_error_ms: -1.0, ..d }, "motor_current.max_timing_error_ms"),
        ] {
            let err = with(bad).validate().unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn the_band_bank_is_named_in_lowercase_and_defaults_to_fft() {
        assert_eq!(ModelConfig::default().band_bank, BandBank::Fft);
        let c: ModelConfig = serde_json::from_str(r#"{"band_bank": "resonate"}"#).unwrap();
        assert_eq!(c.band_bank, BandBank::Resonate);
        c.validate().unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap()["band_bank"], "resonate");
        assert!(serde_json::from_str::<ModelConfig>(r#"{"band_bank": "wavelet"}"#).is_err());
    }

    #[test]
    fn the_stdp_rule_is_named_in_lowercase_and_defaults_to_pair() {
        assert_eq!(ModelConfig::default().stdp_rule, StdpRuleKind::Pair);
        let c: ModelConfig = serde_json::from_str(r#"{"stdp_rule": "triplet"}"#).unwrap();
        assert_eq!(c.stdp_rule, StdpRuleKind::Triplet);
        c.validate().unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap()["stdp_rule"], "triplet");
        assert!(serde_json::from_str::<ModelConfig>(r#"{"stdp_rule": "Triplet"}"#).is_err());
        assert!(serde_json::from_str::<ModelConfig>(r#"{"stdp_rule": "quadruplet"}"#).is_err());
    }
}
