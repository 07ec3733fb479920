//! The engine-speed workload, one file for both harnesses: the criterion bench
//! (`snn-engine/benches/engine.rs`) and `spikewatch bench engine` (`server/src/bench.rs`) include it,
//! so both time exactly the same models, readings and layer.
//!
//! Everything is deterministic (seeded [`SplitMix64`]) and prepared before timing: the timed loops only
//! step. Models are warmed past their warm-up first, so the monitoring-phase cost is what is measured.

// Each harness uses a part of this file.
#![allow(dead_code)]

use snn_engine::backend::{Backend, CpuBackend};
use snn_engine::encoder::{PopulationEncoder, SpikeRaster, rates_to_raster};
use snn_engine::frontend::{BandBank, FrontEnd, FrontEndParams, WindowParams};
use snn_engine::network::{Layer, LayerSpec};
use snn_engine::rng::SplitMix64;
use snn_engine::{AssetId, AssetModel, ChannelId, ChannelKind, ChannelSpec, ModelConfig, Phase, Reading, Timestamp};

/// Sample rate of the vibration channel (a typical IEPE accelerometer setting, as in the demo plant).
pub const VIBRATION_RATE_HZ: f64 = 25_600.0;
/// Samples per vibration window (80 ms at 25.6 kHz).
pub const WINDOW_SAMPLES: usize = 2048;
/// Sample rate of the motor-current channel (a typical MCSA gateway setting).
pub const MOTOR_RATE_HZ: f64 = 2_000.0;
/// Samples per motor-current window: one second, streamed back to back.
pub const MOTOR_WINDOW_SAMPLES: usize = 2_000;
/// Seed of every generator and model here (the server's default `pipeline.seed`).
pub const SEED: u64 = 7;

/// Scalar readings one second apart.
const SCALAR_PERIOD_US: i64 = 1_000_000;
/// Distinct prepared readings, cycled by the timed loops.
const SCALAR_VALUES: usize = 4096;
const VIBRATION_WINDOWS: usize = 32;
/// Whole seconds of motor current: every line of the current completes whole cycles in it, so the
/// cycled windows join without a discontinuity.
const MOTOR_WINDOWS: usize = 32;
/// Rasters cycled by the layer workload.
const LAYER_RASTERS: usize = 64;

/// The one channel of a single-channel bench model.
pub fn channel_id(kind: ChannelKind) -> ChannelId {
    match kind {
        ChannelKind::Scalar => ChannelId::from("temperature"),
        ChannelKind::Window => ChannelId::from("vibration"),
        ChannelKind::MotorCurrent => ChannelId::from("current"),
    }
}

/// A default-config model of one asset with one channel of `kind`.
pub fn single_channel_model(kind: ChannelKind) -> AssetModel {
    single_channel_model_with(kind, ModelConfig::default())
}

/// A model of one asset with one vibration channel whose bands `bank` measures (the rest default).
pub fn vibration_model(bank: BandBank) -> AssetModel {
    single_channel_model_with(ChannelKind::Window, ModelConfig { band_bank: bank, ..ModelConfig::default() })
}

fn single_channel_model_with(kind: ChannelKind, config: ModelConfig) -> AssetModel {
    let channels = vec![ChannelSpec { id: channel_id(kind), kind }];
    AssetModel::new(AssetId::from("bench"), channels, config, SEED).expect("the bench model config is valid")
}

/// A stream of prepared readings of one channel, cycled with ever-increasing timestamps.
#[derive(Debug, Clone)]
pub struct Feed {
    readings: Vec<Reading>,
    period_us: i64,
    next: usize,
    t_us: i64,
}

impl Feed {
    /// A temperature-like scalar: a slow cycle (period 288 readings) plus Gaussian noise.
    pub fn scalar() -> Self {
        let mut rng = SplitMix64::new(SEED);
        let readings = (0..SCALAR_VALUES)
            .map(|i| {
                let phase = std::f64::consts::TAU * i as f64 / 288.0;
                Reading::Scalar(70.0 + 3.0 * phase.sin() + 0.3 * rng.next_gaussian())
            })
            .collect();
        Feed { readings, period_us: SCALAR_PERIOD_US, next: 0, t_us: 1_767_225_600_000_000 }
    }

    /// A healthy rotating machine at 25.6 kHz: shaft rate (29.95 Hz) with two harmonics, a gear-mesh
    /// tone, and broadband noise; 2048-sample windows back to back.
    pub fn vibration() -> Self {
        let mut rng = SplitMix64::new(SEED);
        let dt = 1.0 / VIBRATION_RATE_HZ;
        let readings = (0..VIBRATION_WINDOWS)
            .map(|w| {
                let samples = (0..WINDOW_SAMPLES)
                    .map(|n| {
                        let t = (w * WINDOW_SAMPLES + n) as f64 * dt;
                        let shaft = |h: f64| (std::f64::consts::TAU * 29.95 * h * t).sin();
                        let mesh = (std::f64::consts::TAU * 29.95 * 23.0 * t).sin();
                        (0.5 * shaft(1.0)
                            + 0.2 * shaft(2.0)
                            + 0.1 * shaft(3.0)
                            + 0.05 * mesh
                            + 0.05 * rng.next_gaussian()) as f32
                    })
                    .collect();
                Reading::Window { sample_rate_hz: VIBRATION_RATE_HZ, samples }
            })
            .collect();
        let period_us = (WINDOW_SAMPLES as f64 / VIBRATION_RATE_HZ * 1e6).round() as i64;
        Feed { readings, period_us, next: 0, t_us: 1_767_225_600_000_000 }
    }

    /// A healthy induction motor's stator current at 2 kHz: 10 A rms at 50 Hz, 5th and 7th
    /// harmonics, broken-rotor-bar sidebands at 2% slip 55 dB down, and noise; one-second windows
    /// back to back (the contiguous stream a motor-current channel expects).
    pub fn motor_current() -> Self {
        let mut rng = SplitMix64::new(SEED);
        let dt = 1.0 / MOTOR_RATE_HZ;
        let tone = |hz: f64, t: f64| (std::f64::consts::TAU * hz * t).sin();
        let sideband = 14.1 * 10f64.powf(-55.0 / 20.0);
        let readings = (0..MOTOR_WINDOWS)
            .map(|w| {
                let samples = (0..MOTOR_WINDOW_SAMPLES)
                    .map(|n| {
                        let t = (w * MOTOR_WINDOW_SAMPLES + n) as f64 * dt;
                        (14.1 * tone(50.0, t)
                            + 0.8 * tone(250.0, t)
                            + 0.45 * tone(350.0, t)
                            + sideband * (tone(48.0, t) + tone(52.0, t))
                            + 0.05 * rng.next_gaussian()) as f32
                    })
                    .collect();
                Reading::Window { sample_rate_hz: MOTOR_RATE_HZ, samples }
            })
            .collect();
        let period_us = (MOTOR_WINDOW_SAMPLES as f64 / MOTOR_RATE_HZ * 1e6).round() as i64;
        Feed { readings, period_us, next: 0, t_us: 1_767_225_600_000_000 }
    }

    /// The next reading and its time.
    pub fn next_reading(&mut self) -> (Timestamp, &Reading) {
        let i = self.next;
        self.next = (self.next + 1) % self.readings.len();
        self.t_us += self.period_us;
        (Timestamp(self.t_us), &self.readings[i])
    }
}

/// Steps `model` from `feed` until it has left warm-up, then `extra` steps more; returns the steps taken.
///
/// Panics if the model is still learning after four times its configured warm-up (a broken config).
pub fn warm_up(model: &mut AssetModel, channel: &ChannelId, feed: &mut Feed, extra: u64) -> u64 {
    let limit = 4 * u64::from(model.config().warmup_steps) + 1_000;
    let mut steps = 0;
    while model.phase() == Phase::Learning {
        assert!(steps < limit, "the bench model is still learning after {steps} steps");
        let (t, reading) = feed.next_reading();
        model.step(channel, t, reading);
        steps += 1;
    }
    for _ in 0..extra {
        let (t, reading) = feed.next_reading();
        model.step(channel, t, reading);
    }
    steps + extra
}

/// A motor-current front-end alone, with the default model's parameters (no encoding, no network).
pub fn motor_current_frontend() -> (FrontEnd, FrontEndParams) {
    let c = ModelConfig::default();
    let params = FrontEndParams {
        window: WindowParams {
            band_min_hz: c.band_min_hz,
            band_count: c.band_count,
            band_bank: c.band_bank,
            envelope_band_min_hz: c.envelope_band_min_hz,
        },
        scalar_lags: c.scalar_lags,
        motor_current: c.motor_current,
    };
    (FrontEnd::new(ChannelKind::MotorCurrent), params)
}

/// Runs `frontend` on the next `windows` readings of `feed` (features into a scratch buffer).
pub fn run_frontend(frontend: &mut FrontEnd, params: &FrontEndParams, feed: &mut Feed, windows: u64) -> f64 {
    let mut out = [0.0; 4];
    let mut acc = 0.0;
    for _ in 0..windows {
        let (t, reading) = feed.next_reading();
        frontend.compute(t, reading, params, &mut out);
        acc += out[2];
    }
    // Returned so the work cannot be optimised away.
    acc
}

/// What one pass of the [`LayerWorkload`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerWork {
    /// Windows run.
    pub windows: u64,
    /// Neurons times time steps: every neuron is recruited, so each one integrates every time step.
    pub neuron_updates: u64,
    /// As the engine counts them: input spikes times fan-out.
    pub synaptic_events: u64,
    /// Input spikes delivered.
    pub input_spikes: u64,
    /// Output spikes emitted.
    pub output_spikes: u64,
}

/// The raw layer run by the CPU backend, without front-end, encoders or scoring: the layer the default
/// model builds for one channel of a kind, with every neuron recruited (so neuron updates are real),
/// fed population-coded rasters near its prototypes, learning at the monitoring-phase rate.
#[derive(Debug, Clone)]
pub struct LayerWorkload {
    layer: Layer,
    rasters: Vec<SpikeRaster>,
    learning_rate: f32,
    backend: CpuBackend,
}

impl LayerWorkload {
    /// The layer of a default model with one channel of `kind`.
    pub fn new(kind: ChannelKind) -> Self {
        let config = ModelConfig::default();
        let spec = model_layer_spec(&single_channel_model(kind));
        let fields = config.population_fields;
        let stride = fields + 2;
        assert_eq!(spec.inputs % stride, 0, "inputs are {stride} lines per feature");
        let features = spec.inputs / stride;
        let encoder =
            PopulationEncoder::new(fields, -config.z_clip_sigma, config.z_clip_sigma, config.population_width_spacings);
        let mut rng = SplitMix64::new(SEED);
        // A rate vector as the model encodes one step: per feature a population bump at z, then the
        // delta encoder's UP and DOWN lines (one spike per window now and then).
        let rates_at = |zs: &[f64], rng: &mut SplitMix64| {
            let mut rates = vec![0.0f32; spec.inputs];
            for (chunk, &z) in rates.chunks_exact_mut(stride).zip(zs) {
                encoder.encode(z, &mut chunk[..fields]);
                if rng.next_f64() < 0.2 {
                    chunk[fields + usize::from(z < 0.0)] = 1.0 / spec.steps_per_window as f32;
                }
            }
            rates
        };
        let prototypes: Vec<Vec<f64>> =
            (0..spec.neurons).map(|_| (0..features).map(|_| 1.5 * rng.next_gaussian()).collect()).collect();
        let mut layer = Layer::new(spec);
        for p in &prototypes {
            let rates = rates_at(p, &mut rng);
            layer.recruit(&rates).expect("one prototype per neuron");
        }
        let phases: Vec<f32> = (0..spec.inputs).map(|_| rng.next_f64() as f32).collect();
        let rasters = (0..LAYER_RASTERS)
            .map(|r| {
                let near: Vec<f64> =
                    prototypes[r % prototypes.len()].iter().map(|z| z + 0.3 * rng.next_gaussian()).collect();
                rates_to_raster(&rates_at(&near, &mut rng), &phases, spec.steps_per_window)
            })
            .collect();
        LayerWorkload { layer, rasters, learning_rate: config.monitoring_learning_scale, backend: CpuBackend }
    }

    /// Input lines and neurons of the layer.
    pub fn shape(&self) -> (usize, usize) {
        (self.layer.spec.inputs, self.layer.spec.neurons)
    }

    /// Prepared rasters: [`Self::run`] of this many windows is one pass over them all.
    pub fn raster_count(&self) -> usize {
        self.rasters.len()
    }

    /// Time steps per window.
    pub fn steps_per_window(&self) -> usize {
        self.layer.spec.steps_per_window
    }

    /// Runs window `i` (the prepared rasters cycle).
    pub fn run_window(&mut self, i: usize) -> LayerWork {
        let raster = &self.rasters[i % self.rasters.len()];
        let act = self.backend.run_window(&mut self.layer, raster, self.learning_rate);
        let spec = &self.layer.spec;
        LayerWork {
            windows: 1,
            neuron_updates: (spec.neurons * raster.spikes.len()) as u64,
            synaptic_events: act.synaptic_events,
            input_spikes: act.input_spikes,
            output_spikes: act.output_spikes,
        }
    }

    /// Runs `windows` windows and adds up what they did.
    pub fn run(&mut self, windows: u64) -> LayerWork {
        let mut total = LayerWork::default();
        for i in 0..windows {
            let w = self.run_window(i as usize);
            total.windows += w.windows;
            total.neuron_updates += w.neuron_updates;
            total.synaptic_events += w.synaptic_events;
            total.input_spikes += w.input_spikes;
            total.output_spikes += w.output_spikes;
        }
        total
    }
}

/// The spec of the layer `model` built, read back from its serialised state (the model keeps its layer
/// private; going through serde means the bench never re-derives the model's sizing rules).
fn model_layer_spec(model: &AssetModel) -> LayerSpec {
    let state = serde_json::to_value(model).expect("a model serialises");
    let spec = state.get("layer").and_then(|l| l.get("spec")).expect("the model's state holds `layer.spec`");
    serde_json::from_value(spec.clone()).expect("`layer.spec` is a LayerSpec")
}
