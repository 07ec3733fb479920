//! `AssetModel`: one asset's whole pipeline, from readings to scores and alerts.

mod config;
mod daily;
mod explain;

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, CpuBackend};
use crate::encoder::{DeltaEncoder, PopulationEncoder, rates_to_raster};
use crate::frontend::{FrontEnd, FrontEndParams, WindowParams};
use crate::lif::LifParams;
use crate::likelihood::AnomalyLikelihood;
use crate::limits::ConditionLimits;
use crate::network::best_of;
use crate::network::{Layer, LayerSpec};
use crate::normalise::Normaliser;
use crate::range::ScalarChecks;
use crate::rng::SplitMix64;
use crate::sample::{AssetId, ChannelId, Reading, Timestamp};
use crate::score::{AlertMachine, Transition};
use crate::sequence::SequenceMemory;
use crate::stdp::StdpParams;
pub use config::ModelConfig;
use daily::DailyCycle;
pub use explain::TIME_OF_DAY;

/// What a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// One value per reading.
    Scalar,
    /// A block of fast samples per reading (vibration, acoustic).
    Window,
    /// A motor's stator current as blocks of samples (1-25.6 kHz), successive blocks contiguous:
    /// a gateway streaming the waveform in chunks. Analysed for the supply frequency, the
    /// sidebands a broken rotor bar makes and the 5th and 7th harmonics
    /// (`frontend::motor_current`).
    MotorCurrent,
}

impl ChannelKind {
    /// True when the channel's readings are windows of samples rather than single values.
    pub fn takes_windows(self) -> bool {
        match self {
            ChannelKind::Scalar => false,
            ChannelKind::Window | ChannelKind::MotorCurrent => true,
        }
    }
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
    /// Anomaly score in `[0, 1]`: the log-likelihood of the recent raw score (0.5 at a tail
    /// probability of 1e-5, the default raise level); 0 until the model scores.
    pub score: f32,
    /// `score`, except that a step continuing an improbable stretch reports at most 0.3: only
    /// onsets stand out, which is what a detector scored per step (NAB) should report.
    pub onset: f32,
    /// The raw score in `[0, 1]`: novelty against the prototypes mixed with temporal surprise.
    pub raw: f32,
    /// 0..=100: 100 matches normal, 50 at the raise level, 0 at twice it (100 during warm-up).
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
    /// Anomaly score at that step.
    pub score: f32,
    /// The raise level it crossed.
    pub threshold: f32,
    /// Features furthest from the best-matching learned prototype, most deviant first, at most 8;
    /// first, when the alert is a condition-limit breach, the feature furthest above its limit.
    pub evidence: Vec<FeatureDeviation>,
}

/// One feature's departure from what the model expected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDeviation {
    /// The channel the feature comes from ([`TIME_OF_DAY`] for the hour of day).
    pub channel: ChannelId,
    /// `value`, `slope`, `lag_<k>` (scalar); `rms`, `crest`, `kurtosis`, `band_<lo>_<hi>_hz`,
    /// `envelope_ratio` (window); `rms`, `supply_hz`, `sideband_db`, `harmonics_db` (motor current);
    /// `hour` (channel `time_of_day`: the hour of day, UTC, when the model follows the daily cycle).
    pub feature: String,
    /// Latest value, in the feature's units.
    pub observed: f64,
    /// Value decoded from the best-matching prototype, in the feature's units; for a feature above
    /// its condition limit (listed first), its warm-up mean.
    pub expected: f64,
    /// `(observed - expected) / std`, with the feature's learned (floored) standard deviation (its
    /// warm-up one for a condition limit).
    pub deviation_sigma: f64,
}

/// Layout version of a serialised [`AssetModel`]; bump it whenever the model's state changes shape
/// or meaning, so an old checkpoint is refused by name instead of restoring a different model.
pub const STATE_VERSION: u32 = 7;

/// The version tag of a serialised model: written as [`STATE_VERSION`], read only if equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
struct StateVersion;

impl TryFrom<u32> for StateVersion {
    type Error = String;

    fn try_from(v: u32) -> Result<Self, String> {
        if v == STATE_VERSION {
            Ok(StateVersion)
        } else {
            Err(format!("model state version {v} cannot be restored by this build (it reads version {STATE_VERSION})"))
        }
    }
}

impl From<StateVersion> for u32 {
    fn from(_: StateVersion) -> u32 {
        STATE_VERSION
    }
}

/// The scores of [`StepOutcome`] that a dropped reading repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct LastScores {
    score: f32,
    onset: f32,
    raw: f32,
    health: f32,
}

/// Plain counters the server turns into metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Accepted readings (dropped readings are not counted).
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
    /// A channel takes the name alert evidence gives the time of day ([`TIME_OF_DAY`]).
    #[error("channel name `{0}` is reserved for the time of day in alert evidence")]
    ReservedChannel(ChannelId),
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
    /// Serialised first, so a checkpoint from another layout fails with a message that says so.
    version: StateVersion,
    asset: AssetId,
    channels: Vec<ChannelSpec>,
    config: ModelConfig,
    frontend_params: FrontEndParams,
    frontends: Vec<FrontEnd>,
    /// `offsets[c]..offsets[c + 1]` are channel `c`'s features.
    offsets: Vec<usize>,
    /// Channels that have reported at least once.
    seen: Vec<bool>,
    /// Channels that have reported since the last scored frame.
    fresh: Vec<bool>,
    /// Per channel, the range of its values and the band of its level (scalar channels only).
    scalars: Vec<ScalarChecks>,
    /// Per channel, whether its level was off its band at its latest reading while the alert now
    /// open was open (false for readings from before it).
    level_off: Vec<bool>,
    /// A scalar value left its channel's range (by more than the margin) in the current frame.
    breakout: bool,
    /// Fixed upper limits on the features that rise with wear (`FrontEnd::wear_features`).
    limits: ConditionLimits,
    /// Raw features, sample-and-hold.
    features: Vec<f64>,
    normaliser: Normaliser,
    population: PopulationEncoder,
    deltas: Vec<DeltaEncoder>,
    /// Start phase of each input line's spike generator (the time-of-day lines last).
    phases: Vec<f32>,
    /// The time-of-day context, whose lines follow the features' when it is active.
    daily: DailyCycle,
    layer: Layer,
    backend: CpuBackend,
    sequence: SequenceMemory,
    likelihood: AnomalyLikelihood,
    alert: AlertMachine,
    /// Frames scored since every channel was first seen.
    ready_steps: u64,
    /// Frames left of learning granted by operator feedback (see [`AssetModel::accept_as_normal`]).
    rewarded_steps: u32,
    /// Per neuron, the frame at which it last matched an input best.
    last_win: Vec<u64>,
    phase: Phase,
    counters: Counters,
    /// The latest accepted step's scores, repeated by dropped readings.
    last: LastScores,
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
            if c.id.as_str() == TIME_OF_DAY {
                return Err(ModelError::ReservedChannel(c.id.clone()));
            }
        }
        let frontend_params = FrontEndParams {
            window: WindowParams {
                band_min_hz: config.band_min_hz,
                band_count: config.band_count,
                band_bank: config.band_bank,
                envelope_band_min_hz: config.envelope_band_min_hz,
            },
            scalar_lags: config.scalar_lags,
            motor_current: config.motor_current,
        };
        let mut offsets = vec![0];
        for c in &channels {
            offsets.push(offsets.last().copied().unwrap_or(0) + FrontEnd::feature_count(c.kind, &frontend_params));
        }
        let n_features = *offsets.last().unwrap_or(&0);
        let n_inputs = n_features * inputs_per_feature(&config);
        let mut rng = SplitMix64::new(seed);
        let phases = (0..n_inputs + config.daily_cycle_fields).map(|_| rng.next_f64() as f32).collect();
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
                rule: config
                    .stdp_rule
                    .rule(decay(config.stdp_tau_post_slow_time_steps), a_plus * config.stdp_triplet_ratio),
            },
            inhibition: config.lateral_inhibition,
            weight_norm,
        };
        let (likelihood, alert) = config.score_stages();
        let wear_features = channels
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                let first = offsets[i];
                FrontEnd::wear_features(c.kind, &frontend_params).into_iter().map(move |k| first + k)
            })
            .collect();
        let resolution = channels.iter().flat_map(|c| FrontEnd::feature_resolution(c.kind, &frontend_params)).collect();
        let normaliser =
            Normaliser::new(n_features, config.z_clip_sigma, config.std_floor_fraction_of_mean, config.std_floor_abs);
        // A breach clears as an alert resolves: after `resolve_after` frames back inside. The
        // limits gather their statistics as the normaliser does, over frames of their own, without
        // the features' resolution: a limit is already many of the warm-up's standard deviations
        // away and held for frames, and floored it would put a motor's broken bar later.
        let limits = ConditionLimits::new(
            wear_features,
            config.condition_limit_sigmas,
            config.condition_limit_hold_frames,
            config.resolve_after,
            normaliser.clone(),
        );
        let normaliser = normaliser.with_resolution(resolution);
        Ok(AssetModel {
            version: StateVersion,
            frontends: channels.iter().map(|c| FrontEnd::new(c.kind)).collect(),
            seen: vec![false; channels.len()],
            fresh: vec![false; channels.len()],
            scalars: vec![
                ScalarChecks::new(config.range_breakout_margin, config.level_smoothing_readings);
                channels.len()
            ],
            level_off: vec![false; channels.len()],
            breakout: false,
            limits,
            features: vec![0.0; n_features],
            normaliser,
            population: PopulationEncoder::new(
                config.population_fields,
                -config.z_clip_sigma,
                config.z_clip_sigma,
                config.population_width_spacings,
            ),
            deltas: vec![DeltaEncoder::new(config.delta_threshold_sigma); n_features],
            phases,
            daily: DailyCycle::new(config.daily_cycle_fields, config.daily_cycle_width_fields),
            layer: Layer::new(spec),
            backend: CpuBackend,
            sequence: SequenceMemory::new(config.neurons),
            likelihood,
            alert,
            ready_steps: 0,
            rewarded_steps: 0,
            last_win: vec![0; config.neurons],
            phase: Phase::Learning,
            counters: Counters::default(),
            last: LastScores { score: 0.0, onset: 0.0, raw: 0.0, health: 100.0 },
            offsets,
            frontend_params,
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

    /// The score at which an alert is raised.
    pub fn raise_level(&self) -> f32 {
        self.config.alert_raise_level
    }

    /// Operator feedback, "this is normal": the open alert (if any) resolves at `t`, the current
    /// behaviour joins what the model holds as normal, and the next `feedback_learning_steps`
    /// frames raise nothing and teach the model as warm-up does (full-rate STDP, new prototypes
    /// where nothing matches, replacing the longest-idle one when the layer is full): the
    /// feedback is the reward that lets what was judged anomalous teach the model. The condition
    /// limits widen at once to take in the present features (and over the feedback frames, to
    /// take in their spread). Ignored during warm-up, which learns everything anyway.
    pub fn accept_as_normal(&mut self, t: Timestamp) -> Option<AlertEvent> {
        if self.phase == Phase::Learning {
            return None;
        }
        self.likelihood.accept_recent_as_normal();
        // The present is inside the condition limits from now on, even when no feedback frames
        // follow (`feedback_learning_steps = 0`): a breach left open would raise again at once.
        self.limits.accept(&self.features);
        // Likewise each scalar's range and level band, which learned nothing while the alert was open.
        for (ci, c) in self.channels.iter().enumerate() {
            if c.kind == ChannelKind::Scalar {
                self.scalars[ci].accept(self.features[self.offsets[ci]]);
            }
        }
        self.level_off.fill(false);
        self.rewarded_steps = self.config.feedback_learning_steps;
        let was_open = self.alert.close();
        self.phase = Phase::Monitoring;
        was_open.then_some(AlertEvent::Resolved { t })
    }

    /// Feed one reading of one channel. Never fails: an unknown channel, a reading of the wrong
    /// kind (scalar on a window channel or vice versa), a window with < 16 samples, or
    /// non-finite values are counted in `counters().dropped` and ignored (`outcome.dropped =
    /// true`, no other state changes).
    ///
    /// The model judges frames, not single readings: a frame is complete, and is scored and
    /// learned from, when every channel has reported since the last frame (or when a channel
    /// reports again first, so a silent slow channel cannot stall a fast one). So an asset whose
    /// channels report together is judged once per instant, however many channels it has. Until
    /// then, and for a dropped reading, the outcome repeats the latest scores and health.
    pub fn step(&mut self, channel: &ChannelId, t: Timestamp, reading: &Reading) -> StepOutcome {
        let outcome = self.step_inner(channel, t, reading);
        if !outcome.dropped {
            let StepOutcome { score, onset, raw, health, .. } = outcome;
            self.last = LastScores { score, onset, raw, health };
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
        frontend.compute(t, reading, &self.frontend_params, &mut new_features);
        if !new_features.iter().all(|f| f.is_finite()) {
            return self.drop_reading();
        }
        self.frontends[ci] = frontend;
        if self.channels[ci].kind == ChannelKind::Scalar {
            let alerting = self.phase == Phase::Alerting;
            let verdict = self.scalars[ci].observe(new_features[0], !alerting);
            self.breakout |= verdict.out_of_range;
            self.level_off[ci] = alerting && verdict.level_off;
        }
        self.features[range].copy_from_slice(&new_features);
        self.seen[ci] = true;
        self.counters.steps += 1;
        let repeat = std::mem::replace(&mut self.fresh[ci], true);

        // Until every channel has reported, held "unknown" features would look novel.
        if !self.seen.iter().all(|&s| s) {
            return StepOutcome::quiet(self.phase);
        }
        if !repeat && !self.fresh.iter().all(|&f| f) {
            return self.held(false);
        }
        self.fresh.fill(false);
        let breakout = std::mem::take(&mut self.breakout);
        self.ready_steps += 1;
        let decide_at = u64::from(self.config.normaliser_warmup_steps);
        if self.daily.observe_frame(t, self.ready_steps, decide_at, u64::from(self.config.warmup_steps)) {
            // The time-of-day lines come or go, last in the layer (see `DailyCycle`).
            let inputs = self.features.len() * inputs_per_feature(&self.config) + self.daily.inputs();
            self.layer = self.layer.with_inputs(inputs);
        }

        let rates = self.encode(t);
        let raster = rates_to_raster(&rates, &self.phases[..rates.len()], self.config.window_time_steps as usize);

        if self.ready_steps <= decide_at {
            // Feature statistics only; the network idles (no neuron is recruited yet).
            let activity = self.backend.run_window(&mut self.layer, &raster, 0.0);
            let spikes = self.count(&activity);
            self.normaliser.observe(&self.features);
            return StepOutcome { spikes, ..StepOutcome::quiet(Phase::Learning) };
        }

        // Test, then train: the score is computed before this step can teach the model.
        let similarity = self.layer.similarities(&rates);
        let best = best_of(&self.layer.used, &similarity);
        if let Some((j, _)) = best {
            self.last_win[j] = self.ready_steps;
        }
        let novelty = 1.0 - best.map_or(0.0, |(_, c)| c);
        let surprise = self.sequence.surprise(&self.layer, &rates);
        let w = self.config.surprise_weight;
        let mixed = ((1.0 - w) * novelty + w * surprise).clamp(0.0, 1.0);
        // A value outside anything its sensor has reported is fully anomalous (see `range`).
        let raw = if breakout && self.phase != Phase::Learning { 1.0 } else { mixed };

        if self.phase == Phase::Learning {
            if best.is_none_or(|(_, c)| c < self.config.recruit_below_cosine) {
                self.layer.recruit(&rates);
            }
            let activity = self.backend.run_window(&mut self.layer, &raster, 1.0);
            let spikes = self.count(&activity);
            self.normaliser.observe(&self.features);
            // The limits learn from the settled part of warm-up only: a front-end's first readings
            // (a motor current's sidebands before its history resolves them) are not the machine.
            self.limits.observe(&self.features);
            if let Some((j, _)) = best {
                self.sequence.advance(j, self.config.sequence_learning_rate);
            }
            let warmup = u64::from(self.config.warmup_steps);
            if self.ready_steps + u64::from(self.config.threshold_warmup_steps) > warmup {
                self.likelihood.record(raw);
            }
            if self.ready_steps >= warmup {
                self.phase = Phase::Monitoring;
                self.limits.fix();
            }
            return StepOutcome { raw, spikes, ..StepOutcome::quiet(self.phase) };
        }

        let judged = self.likelihood.update(raw, self.phase != Phase::Alerting);
        // `score` says how far from normal the asset is (it stays high while a fault lasts);
        // `opening` whether this is a new departure (what raises an alert).
        let (mut score, mut opening, onset) = if self.config.likelihood {
            (judged.versus_normal, judged.log_likelihood, judged.onset)
        } else {
            let mean = judged.short_mean as f32;
            (mean, mean, mean)
        };
        // A machine above its condition limits is as far from normal as it gets, however long it
        // has run like that: a breach raises an alert and keeps it open (it cannot settle), as a
        // vibration-severity alarm does, until the machine is back inside or an operator says this
        // is normal, which widens the limits to the new condition while it teaches the model.
        // For a while after an operator said the current behaviour is normal, it raises nothing.
        let rewarded = self.rewarded_steps > 0;
        self.rewarded_steps = self.rewarded_steps.saturating_sub(1);
        let exceeded = if rewarded {
            self.limits.accept(&self.features);
            None
        } else {
            self.limits.check(&self.features)
        };
        if exceeded.is_some() {
            (score, opening) = (1.0, 1.0);
        }
        // An open alert stays open while a scalar's level is off the band it kept while no alert was open,
        // even when its readings, one by one, look familiar (see `LevelBand`). Only the judgement
        // against normal is held: the likelihood's history of every step is left alone, so the
        // next departure still stands out as new.
        if self.phase == Phase::Alerting && self.level_off.iter().any(|&off| off) {
            score = 1.0;
        }
        let (raise, resolve) = (self.config.alert_raise_level, self.config.alert_resolve_level);
        let alert = match self.alert.update(if rewarded { 0.0 } else { opening }, score, raise, resolve) {
            Some(Transition::Raise) => {
                let severity = if opening >= (2.0 * raise).min(1.0) { Severity::Critical } else { Severity::Warning };
                let evidence = self.evidence(t, best.map(|(j, _)| j), exceeded);
                Some(AlertEvent::Raised(AlertReport { t, severity, score: opening, threshold: raise, evidence }))
            }
            Some(Transition::Resolve) => {
                self.level_off.fill(false);
                Some(AlertEvent::Resolved { t })
            }
            None => None,
        };
        self.phase = if self.alert.is_open() { Phase::Alerting } else { Phase::Monitoring };
        // Plasticity is gated: only steps judged normal teach the model, or, for a while after an
        // operator said so, whatever the asset now does, at the warm-up rate.
        let learn = self.phase == Phase::Monitoring && (rewarded || score < resolve);
        // A step judged normal that no prototype quite matches, but that is close to one, is a
        // variation of normal the model has not seen yet. A wholly new pattern is not taken on
        // trust: the likelihood's short-term mean needs a few steps to judge it, and a fault's first
        // steps must not become prototypes. By default (`monitoring_recruit_above_cosine` = 1) only
        // operator feedback recruits in monitoring, and then any pattern.
        let teachable = |c: f32| {
            c < self.config.recruit_below_cosine && (rewarded || c >= self.config.monitoring_recruit_above_cosine)
        };
        if learn && best.is_none_or(|(_, c)| teachable(c)) {
            self.recruit_or_replace_stalest(&rates);
        }
        let rate = match (learn, rewarded) {
            (false, _) => 0.0,
            (true, true) => 1.0,
            (true, false) => self.config.monitoring_learning_scale,
        };
        let activity = self.backend.run_window(&mut self.layer, &raster, rate);
        let spikes = self.count(&activity);
        if learn {
            self.normaliser.observe_slow(&self.features, self.config.normal_adapt_rate);
        }
        if let Some((j, _)) = best {
            self.sequence.advance(j, rate * self.config.sequence_learning_rate);
        }
        let health = (100.0 - 50.0 * score / raise).clamp(0.0, 100.0);
        StepOutcome { score, onset, raw, health, phase: self.phase, spikes, dropped: false, alert }
    }

    /// Whether the network also sees the time of day (its warm-up spanned a day; see
    /// `ModelConfig::daily_cycle_fields`).
    pub fn follows_daily_cycle(&self) -> bool {
        self.daily.is_active()
    }

    /// The scalar channels whose level, off the band it kept while no alert was open, holds the open
    /// alert open (see `LevelBand`); empty when no alert is open or nothing holds it. An operator
    /// seeing an alert that does not resolve is told which sensor has not come back.
    pub fn held_open_by(&self) -> Vec<ChannelId> {
        if self.phase != Phase::Alerting {
            return Vec::new();
        }
        self.channels.iter().zip(&self.level_off).filter(|&(_, &off)| off).map(|(c, _)| c.id.clone()).collect()
    }

    /// Recruits a neuron for `rates`; when every neuron is in use, the one that has gone longest
    /// without winning gives up its prototype (the behaviour it stood for is the oldest news).
    fn recruit_or_replace_stalest(&mut self, rates: &[f32]) {
        if self.layer.used.iter().all(|&u| u) {
            let stalest = (0..self.layer.used.len()).min_by_key(|&j| self.last_win[j]).unwrap_or(0);
            self.layer.used[stalest] = false;
        }
        if let Some(j) = self.layer.recruit(rates) {
            self.last_win[j] = self.ready_steps;
        }
    }

    /// The input rate vector of a frame at `t`: per feature, the population code of its z-score,
    /// then the delta encoder's UP and DOWN spike counts as rates (count / `delta_max_spikes`);
    /// then, when active, the time of day.
    fn encode(&mut self, t: Timestamp) -> Vec<f32> {
        let stride = inputs_per_feature(&self.config);
        let fields = self.config.population_fields;
        let max_spikes = self.config.delta_max_spikes;
        let mut rates = vec![0.0f32; self.features.len() * stride];
        rates.reserve(self.daily.inputs());
        for (f, chunk) in rates.chunks_exact_mut(stride).enumerate() {
            let z = self.normaliser.z(f, self.features[f]);
            self.population.encode(z, &mut chunk[..fields]);
            let (up, down) = self.deltas[f].encode(z, max_spikes);
            chunk[fields] = up as f32 / max_spikes as f32;
            chunk[fields + 1] = down as f32 / max_spikes as f32;
        }
        self.daily.encode(t, &mut rates);
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
        self.held(true)
    }

    /// An outcome that repeats the latest scores (a dropped reading, or a frame still filling).
    fn held(&self, dropped: bool) -> StepOutcome {
        let LastScores { score, onset, raw, health } = self.last;
        StepOutcome { score, onset, raw, health, phase: self.phase, spikes: 0, dropped, alert: None }
    }
}

impl StepOutcome {
    /// An accepted step that scored nothing (not every channel seen yet, or warm-up).
    fn quiet(phase: Phase) -> Self {
        StepOutcome { score: 0.0, onset: 0.0, raw: 0.0, health: 100.0, phase, spikes: 0, dropped: false, alert: None }
    }
}

#[cfg(test)]
mod tests;
