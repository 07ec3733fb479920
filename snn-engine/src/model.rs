//! `AssetModel`: one asset's whole pipeline, from readings to scores and alerts.

mod config;
mod explain;

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, CpuBackend};
use crate::encoder::{DeltaEncoder, PopulationEncoder, rates_to_raster};
use crate::frontend::{FrontEnd, WindowParams};
use crate::lif::LifParams;
use crate::network::{Layer, LayerSpec};
use crate::normalise::Normaliser;
use crate::rng::SplitMix64;
use crate::sample::{AssetId, ChannelId, Reading, Timestamp};
use crate::score::{AlertMachine, Ewma, ScoreThreshold, Transition};
use crate::stdp::StdpParams;
pub use config::ModelConfig;

/// What a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// One value per reading.
    Scalar,
    /// A block of fast samples per reading.
    Window,
}

/// One channel of an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSpec {
    /// The channel's id.
    pub id: ChannelId,
    /// What it delivers.
    pub kind: ChannelKind,
}

/// Where the model is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Warm-up: learning fast, no alerts.
    Learning,
    /// Scoring, learning slowly from normal steps.
    Monitoring,
    /// An alert is open; nothing is learned.
    Alerting,
}

impl Phase {
    /// Lowercase name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Learning => "learning",
            Phase::Monitoring => "monitoring",
            Phase::Alerting => "alerting",
        }
    }
}

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Above the raise threshold.
    Warning,
    /// At least twice as far above the normal mean as the raise threshold.
    Critical,
}

impl Severity {
    /// Lowercase name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The result of one [`AssetModel::step`].
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// Smoothed anomaly score in `[0, 1]` (0 until the model scores).
    pub score: f32,
    /// 0..=100: 100 matches normal, ~50 at the alert threshold (100 during warm-up).
    pub health: f32,
    /// Phase after this step.
    pub phase: Phase,
    /// Input plus output spikes this step.
    pub spikes: u32,
    /// The reading was rejected and nothing changed but `counters().dropped`.
    pub dropped: bool,
    /// An alert opened or closed on this step.
    pub alert: Option<AlertEvent>,
}

/// A change of the alert state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AlertEvent {
    /// An alert opened.
    Raised(AlertReport),
    /// The open alert closed.
    Resolved {
        /// Time of the step that closed it.
        t: Timestamp,
    },
}

/// Why an alert was raised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertReport {
    /// Time of the step that raised it.
    pub t: Timestamp,
    /// How bad.
    pub severity: Severity,
    /// Smoothed score at that step.
    pub score: f32,
    /// The raise threshold it crossed.
    pub threshold: f32,
    /// Features furthest from the best-matching learned prototype, most deviant first, at most 8.
    pub evidence: Vec<FeatureDeviation>,
}

/// One feature's departure from what the model expected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDeviation {
    /// The channel the feature comes from.
    pub channel: ChannelId,
    /// `value`, `slope`, `rms`, `crest`, `kurtosis`, `band_<lo>_<hi>_hz`, `envelope_ratio`.
    pub feature: String,
    /// Latest value, in the feature's units.
    pub observed: f64,
    /// Value decoded from the best-matching prototype, in the feature's units.
    pub expected: f64,
    /// `(observed - expected) / std`, with the feature's learned (floored) standard deviation.
    pub deviation_sigma: f64,
}

/// Plain counters the server turns into metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Accepted steps (dropped readings are not steps).
    pub steps: u64,
    /// Spikes into the network.
    pub input_spikes: u64,
    /// Spikes out of the LIF layer.
    pub output_spikes: u64,
    /// Input spikes times fan-out.
    pub synaptic_events: u64,
    /// Rejected readings.
    pub dropped: u64,
}

/// Why a model could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// No channels were given.
    #[error("an asset model needs at least one channel")]
    NoChannels,
    /// Two channels share an id.
    #[error("channel `{0}` is listed twice")]
    DuplicateChannel(ChannelId),
    /// A config field is out of range.
    #[error("invalid model config `{field}`: {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Inputs per feature: the population code, then the delta encoder's UP and DOWN lines.
fn inputs_per_feature(config: &ModelConfig) -> usize {
    config.population_fields + 2
}

/// One asset's model: front-ends, normaliser, encoders, a spiking layer, scoring and alerts.
///
/// Same inputs and seed give bit-identical outcomes. The seed only sets the fixed initial phase
/// of each input line's spike generator (see [`rates_to_raster`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetModel {
    asset: AssetId,
    channels: Vec<ChannelSpec>,
    config: ModelConfig,
    window_params: WindowParams,
    frontends: Vec<FrontEnd>,
    /// `offsets[c]..offsets[c + 1]` are channel `c`'s features.
    offsets: Vec<usize>,
    seen: Vec<bool>,
    /// Raw features, sample-and-hold.
    features: Vec<f64>,
    normaliser: Normaliser,
    population: PopulationEncoder,
    deltas: Vec<DeltaEncoder>,
    phases: Vec<f32>,
    layer: Layer,
    backend: CpuBackend,
    smoothing: Ewma,
    threshold: ScoreThreshold,
    alert: AlertMachine,
    /// Steps since every channel was first seen.
    ready_steps: u64,
    phase: Phase,
    counters: Counters,
    /// Score and health of the latest accepted step, repeated by dropped readings.
    last_score: f32,
    last_health: f32,
}

impl AssetModel {
    /// Builds a model for `asset` with `channels` (in feature order).
    pub fn new(asset: AssetId, channels: Vec<ChannelSpec>, config: ModelConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate()?;
        if channels.is_empty() {
            return Err(ModelError::NoChannels);
        }
        for (i, c) in channels.iter().enumerate() {
            if channels[..i].iter().any(|d| d.id == c.id) {
                return Err(ModelError::DuplicateChannel(c.id.clone()));
            }
        }
        let window_params = WindowParams {
            band_min_hz: config.band_min_hz,
            band_count: config.band_count,
            envelope_band_min_hz: config.envelope_band_min_hz,
        };
        let mut offsets = vec![0];
        for c in &channels {
            offsets.push(offsets.last().copied().unwrap_or(0) + FrontEnd::feature_count(c.kind, &window_params));
        }
        let n_features = *offsets.last().unwrap_or(&0);
        let n_inputs = n_features * inputs_per_feature(&config);
        let mut rng = SplitMix64::new(seed);
        let phases = (0..n_inputs).map(|_| rng.next_f64() as f32).collect();
        let decay = |tau: f32| (-1.0 / tau).exp();
        // Weight rows have Euclidean norm `weight_norm`, so a neuron's input current per time step
        // is `weight_norm * |rates| * cosine`. A population bump has squared norm ~
        // sqrt(pi) * width ~ 1.3-1.8 per feature, so this sets the current of a perfectly matching
        // neuron to ~0.5 per time step whatever the number of features.
        let weight_norm = 0.5 / (1.5 * n_features as f32).sqrt();
        // Scaled by 1/sqrt(inputs) so the relative weight change per window (~ a_plus * |rates| /
        // weight_norm) does not depend on the number of features either.
        let a_plus = config.stdp_rate * weight_norm / (n_inputs as f32).sqrt();
        let spec = LayerSpec {
            inputs: n_inputs,
            neurons: config.neurons,
            steps_per_window: config.window_time_steps as usize,
            lif: LifParams {
                decay: decay(config.membrane_tau_time_steps),
                threshold: config.firing_threshold,
                reset: 0.0,
                theta_plus: config.theta_plus,
                theta_decay: decay(config.theta_tau_time_steps),
            },
            stdp: StdpParams {
                a_plus,
                a_minus: a_plus * config.stdp_depression_ratio,
                pre_decay: decay(config.stdp_tau_pre_time_steps),
                post_decay: decay(config.stdp_tau_post_time_steps),
                w_max: config.weight_max,
            },
            inhibition: config.lateral_inhibition,
            weight_norm,
        };
        let (smoothing, threshold, alert) = config.score_stages();
        Ok(AssetModel {
            frontends: channels.iter().map(|c| FrontEnd::new(c.kind)).collect(),
            seen: vec![false; channels.len()],
            features: vec![0.0; n_features],
            normaliser: Normaliser::new(
                n_features,
                config.z_clip_sigma,
                config.std_floor_fraction_of_mean,
                config.std_floor_abs,
            ),
            population: PopulationEncoder::new(
                config.population_fields,
                -config.z_clip_sigma,
                config.z_clip_sigma,
                config.population_width_spacings,
            ),
            deltas: vec![DeltaEncoder::new(config.delta_threshold_sigma); n_features],
            phases,
            layer: Layer::new(spec),
            backend: CpuBackend,
            smoothing,
            threshold,
            alert,
            ready_steps: 0,
            phase: Phase::Learning,
            counters: Counters::default(),
            last_score: 0.0,
            last_health: 100.0,
            offsets,
            window_params,
            asset,
            channels,
            config,
        })
    }

    /// The asset this model watches.
    pub fn asset(&self) -> &AssetId {
        &self.asset
    }

    /// The channels, in feature order.
    pub fn channels(&self) -> &[ChannelSpec] {
        &self.channels
    }

    /// The configuration the model was built with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Current lifecycle phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Running counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Recruited neurons (learned prototypes) so far.
    pub fn prototypes(&self) -> usize {
        self.layer.used_count()
    }

    /// Current raise threshold of the smoothed score (meaningful once monitoring).
    pub fn threshold_high(&self) -> f32 {
        self.threshold.high()
    }

    /// Feed one reading of one channel. Never fails: an unknown channel, a reading of the wrong
    /// kind (scalar on a window channel or vice versa), a window with < 16 samples, or
    /// non-finite values are counted in `counters().dropped` and ignored (`outcome.dropped =
    /// true`, no other state changes).
    ///
    /// A dropped reading's outcome repeats the score and health of the latest accepted step.
    pub fn step(&mut self, channel: &ChannelId, t: Timestamp, reading: &Reading) -> StepOutcome {
        let outcome = self.step_inner(channel, t, reading);
        if !outcome.dropped {
            self.last_score = outcome.score;
            self.last_health = outcome.health;
        }
        outcome
    }

    fn step_inner(&mut self, channel: &ChannelId, t: Timestamp, reading: &Reading) -> StepOutcome {
        let Some(ci) = self.channels.iter().position(|c| &c.id == channel) else {
            return self.drop_reading();
        };
        if !self.frontends[ci].accepts(reading) {
            return self.drop_reading();
        }
        // Compute on copies so a reading whose features overflow leaves no trace.
        let range = self.offsets[ci]..self.offsets[ci + 1];
        let mut frontend = self.frontends[ci].clone();
        let mut new_features = vec![0.0; range.len()];
        frontend.compute(t, reading, &self.window_params, &mut new_features);
        if !new_features.iter().all(|f| f.is_finite()) {
            return self.drop_reading();
        }
        self.frontends[ci] = frontend;
        self.features[range].copy_from_slice(&new_features);
        self.seen[ci] = true;
        self.counters.steps += 1;

        let quiet = |phase| StepOutcome { score: 0.0, health: 100.0, phase, spikes: 0, dropped: false, alert: None };
        // Until every channel has reported, held "unknown" features would look novel.
        if !self.seen.iter().all(|&s| s) {
            return quiet(self.phase);
        }
        self.ready_steps += 1;

        let rates = self.encode();
        let raster = rates_to_raster(&rates, &self.phases, self.config.window_time_steps as usize);

        if self.ready_steps <= u64::from(self.config.normaliser_warmup_steps) {
            // Feature statistics only; the network idles (no neuron is recruited yet).
            let activity = self.backend.run_window(&mut self.layer, &raster, 0.0);
            let spikes = self.count(&activity);
            self.normaliser.observe(&self.features);
            return StepOutcome { spikes, ..quiet(Phase::Learning) };
        }

        // Test, then train: the score is computed before this step can teach the model.
        let best = self.layer.best_match(&rates);
        let novelty = 1.0 - best.map_or(0.0, |(_, c)| c);
        let score = self.smoothing.update(novelty).clamp(0.0, 1.0);

        match self.phase {
            Phase::Learning => {
                if best.is_none_or(|(_, c)| c < self.config.recruit_below_cosine) {
                    self.layer.recruit(&rates);
                }
                let activity = self.backend.run_window(&mut self.layer, &raster, 1.0);
                let spikes = self.count(&activity);
                self.normaliser.observe(&self.features);
                let warmup = u64::from(self.config.warmup_steps);
                if self.ready_steps + u64::from(self.config.threshold_warmup_steps) > warmup {
                    self.threshold.observe(score);
                }
                if self.ready_steps >= warmup {
                    self.phase = Phase::Monitoring;
                }
                StepOutcome { score, health: 100.0, phase: self.phase, spikes, dropped: false, alert: None }
            }
            Phase::Monitoring | Phase::Alerting => {
                let (high, low) = (self.threshold.high(), self.threshold.low());
                let alert = match self.alert.update(score, high, low) {
                    Some(Transition::Raise) => {
                        let severity =
                            if score > self.threshold.critical() { Severity::Critical } else { Severity::Warning };
                        let evidence = best.map(|(j, _)| self.evidence(j)).unwrap_or_default();
                        Some(AlertEvent::Raised(AlertReport { t, severity, score, threshold: high, evidence }))
                    }
                    Some(Transition::Resolve) => Some(AlertEvent::Resolved { t }),
                    None => None,
                };
                self.phase = if self.alert.is_open() { Phase::Alerting } else { Phase::Monitoring };
                // Plasticity is gated: only steps judged normal teach the model.
                let learn = self.phase == Phase::Monitoring && score < low;
                let rate = if learn { self.config.monitoring_learning_scale } else { 0.0 };
                let activity = self.backend.run_window(&mut self.layer, &raster, rate);
                let spikes = self.count(&activity);
                if learn {
                    self.normaliser.observe_slow(&self.features, self.config.normal_adapt_rate);
                }
                // The score statistics take every non-alerting step below the raise threshold:
                // gating them at the (lower) learning gate would truncate the distribution and
                // drag the thresholds down step after step.
                if self.phase == Phase::Monitoring && score < high {
                    self.threshold.observe_slow(score, self.config.normal_adapt_rate);
                }
                let health = self.threshold.health(score);
                StepOutcome { score, health, phase: self.phase, spikes, dropped: false, alert }
            }
        }
    }

    /// The input rate vector: per feature, the population code of its z-score, then the delta
    /// encoder's UP and DOWN spike counts as rates (count / T).
    fn encode(&mut self) -> Vec<f32> {
        let stride = inputs_per_feature(&self.config);
        let fields = self.config.population_fields;
        let t = self.config.window_time_steps;
        let mut rates = vec![0.0f32; self.features.len() * stride];
        for (f, chunk) in rates.chunks_exact_mut(stride).enumerate() {
            let z = self.normaliser.z(f, self.features[f]);
            self.population.encode(z, &mut chunk[..fields]);
            let (up, down) = self.deltas[f].encode(z, t);
            chunk[fields] = up as f32 / t as f32;
            chunk[fields + 1] = down as f32 / t as f32;
        }
        rates
    }

    fn count(&mut self, activity: &crate::backend::WindowActivity) -> u32 {
        self.counters.input_spikes += activity.input_spikes;
        self.counters.output_spikes += activity.output_spikes;
        self.counters.synaptic_events += activity.synaptic_events;
        u32::try_from(activity.input_spikes + activity.output_spikes).unwrap_or(u32::MAX)
    }

    fn drop_reading(&mut self) -> StepOutcome {
        self.counters.dropped += 1;
        StepOutcome {
            score: self.last_score,
            health: self.last_health,
            phase: self.phase,
            spikes: 0,
            dropped: true,
            alert: None,
        }
    }
}

#[cfg(test)]
mod tests;
