//! A seeded, reproducible plant simulator: centrifugal pumps driven by induction motors, with an
//! optional fault that starts small and grows (pure: time is an input).
//!
//! Each asset is a pump on a 4-pole 50 Hz induction motor (~1480 rpm, shaft ~24.7 Hz; slip, and
//! so speed, differs a little per motor and grows with load). Per tick it yields:
//!
//! - `vibration` (window, g, 25.6 kHz snapshot): shaft harmonics 1x/2x/3x scaled with load,
//!   broadband noise, and for a bearing defect the impacts at its defect frequency, each ringing
//!   a structural resonance near 3 kHz, so the fault shows in kurtosis, crest factor, the band
//!   around the resonance and the envelope spectrum, as on real machines (`bearing.rs`);
//! - `current` (window, A, 2 kHz, the whole tick, contiguous from tick to tick): the stator
//!   current at the supply frequency, its 5th and 7th harmonics, and the `(1 ± 2s) f` sidebands
//!   that broken rotor bars raise (`motor.rs`);
//! - `temperature` (scalar, °C): the bearing housing, lagging load and bearing friction;
//! - `acoustic` (window, Pa, 48 kHz snapshot): flow noise, the blade-pass tone, and the
//!   ultrasonic bursts of a bearing defect, which show earlier in its growth than the vibration
//!   impacts (`acoustic.rs`).

mod acoustic;
mod bearing;
mod fault;
mod motor;
mod opcua_layout;
#[cfg(feature = "opcua-server")]
pub mod opcua_server;
mod publish;
mod pump;

pub use acoustic::{ACOUSTIC_RATE_HZ, ACOUSTIC_WINDOW_LEN};
pub use bearing::{BEARING_6206, BearingGeometry};
pub use fault::{FaultKind, FaultSpec, UnknownFaultKind};
pub use motor::{CURRENT_RATE_HZ, POLE_PAIRS, SUPPLY_HZ};
pub use opcua_layout::{
    LayoutError, PLANT_NAMESPACE_URI, PlantLayout, SAMPLE_RATE_PROPERTY, ServedChannel, ServedKind,
};
pub use publish::{
    DEFAULT_SPARKPLUG_GROUP, DEFAULT_SPARKPLUG_NODE, SimPublish, publish_simulation, publish_simulation_as,
};

use crate::json::MAX_WINDOW_SAMPLES;
use pump::{ActiveFault, Pump, PumpReadings};
use snn_engine::frontend::MIN_WINDOW_SAMPLES;
use snn_engine::rng::SplitMix64;
use snn_engine::{AssetId, ChannelId, ChannelKind, Reading, Sample, Timestamp};

/// How the simulated plant looks.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of pumps.
    pub assets: usize,
    /// Seed of every random number the simulator draws.
    pub seed: u64,
    /// Asset ids are `{asset_prefix}{1..=assets}`.
    pub asset_prefix: String,
    /// An optional fault on one asset.
    pub fault: Option<FaultSpec>,
    /// Vibration sample rate.
    pub vibration_rate_hz: f64,
    /// Samples per vibration window.
    pub window_len: usize,
    /// Simulated seconds per tick: one reading of every channel per asset per tick.
    pub tick_s: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            assets: 3,
            seed: 42,
            asset_prefix: "pump-".into(),
            fault: None,
            vibration_rate_hz: 25_600.0,
            window_len: 2048,
            tick_s: 1.0,
        }
    }
}

/// A seeded, reproducible plant simulator; time is an input (the start) and advances by ticks.
#[derive(Debug, Clone)]
pub struct PlantSimulator {
    config: SimConfig,
    start: Timestamp,
    ticks: u64,
    pumps: Vec<Pump>,
}

impl PlantSimulator {
    /// A plant whose first tick is at `start`.
    ///
    /// # Panics
    /// If `tick_s` or `vibration_rate_hz` is not positive and finite, `window_len` is 0, a tick is
    /// too short to hold a current window the analysis accepts (16 samples at 2 kHz: 8 ms), a
    /// window would be longer than spikewatch accepts (`MAX_WINDOW_SAMPLES`: `window_len`, or a
    /// tick over 524 s of current), or the fault names an asset beyond `assets` or has a start or
    /// ramp that is not finite (or a negative ramp).
    pub fn new(config: SimConfig, start: Timestamp) -> Self {
        assert!(config.tick_s.is_finite() && config.tick_s > 0.0, "simulator `tick_s` must be positive");
        assert!(
            config.vibration_rate_hz.is_finite() && config.vibration_rate_hz > 0.0,
            "simulator `vibration_rate_hz` must be positive"
        );
        assert!(config.window_len > 0, "simulator `window_len` must be positive");
        assert!(
            config.tick_s * CURRENT_RATE_HZ >= MIN_WINDOW_SAMPLES as f64,
            "simulator `tick_s` must be at least {} s, to hold a current window",
            MIN_WINDOW_SAMPLES as f64 / CURRENT_RATE_HZ
        );
        assert!(
            config.window_len <= MAX_WINDOW_SAMPLES && config.tick_s * CURRENT_RATE_HZ <= MAX_WINDOW_SAMPLES as f64,
            "simulator `window_len` and `tick_s` × {CURRENT_RATE_HZ} Hz must be at most {MAX_WINDOW_SAMPLES} samples, \
             the longest window spikewatch accepts"
        );
        if let Some(f) = &config.fault {
            assert!(
                f.asset_index < config.assets,
                "simulator fault on asset index {} but the plant has {} assets",
                f.asset_index,
                config.assets
            );
            // A NaN would make every severity NaN, and with it every faulty sample.
            assert!(
                f.start_s.is_finite() && f.ramp_s.is_finite() && f.ramp_s >= 0.0,
                "simulator fault `start_s` must be finite and `ramp_s` finite and not negative"
            );
        }
        let mut root = SplitMix64::new(config.seed);
        let pumps = (0..config.assets)
            .map(|i| Pump::new(AssetId(format!("{}{}", config.asset_prefix, i + 1)), root.fork()))
            .collect();
        PlantSimulator { config, start, ticks: 0, pumps }
    }

    /// The asset ids, in order (`pump-1`, `pump-2`, ...).
    pub fn asset_ids(&self) -> Vec<AssetId> {
        self.pumps.iter().map(|p| p.id.clone()).collect()
    }

    /// The channels every asset has, in the order [`tick`](Self::tick) yields them, with their
    /// kind: vibration (window, g), current (motor current: the stator current waveform, A),
    /// temperature (scalar, °C), acoustic (window, Pa).
    pub fn channels() -> Vec<(ChannelId, ChannelKind)> {
        vec![
            (ChannelId::from("vibration"), ChannelKind::Window),
            (ChannelId::from("current"), ChannelKind::MotorCurrent),
            (ChannelId::from("temperature"), ChannelKind::Scalar),
            (ChannelId::from("acoustic"), ChannelKind::Window),
        ]
    }

    /// The configuration in use.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Simulated seconds elapsed (ticks taken × `tick_s`).
    pub fn elapsed_s(&self) -> f64 {
        self.ticks as f64 * self.config.tick_s
    }

    /// Advances `tick_s` of simulated time and returns every asset's samples for that tick (one
    /// per channel of [`channels`](Self::channels), in that order, per asset), all stamped at
    /// the tick's start.
    ///
    /// The current window holds the 2 kHz samples from the tick's start up to the next tick's:
    /// `round(k · tick_s · 2000)` up to `round((k+1) · tick_s · 2000)` for tick `k`, so successive
    /// windows join without gap or overlap (when `tick_s · 2000` is not whole, a window starts
    /// within half a sample of its timestamp).
    pub fn tick(&mut self) -> Vec<Sample> {
        let t_s = self.elapsed_s();
        let t = Timestamp(self.start.0 + (t_s * 1e6).round() as i64);
        let current_end = ((self.ticks + 1) as f64 * self.config.tick_s * CURRENT_RATE_HZ).round() as u64;
        let mut out = Vec::with_capacity(self.pumps.len() * 4);
        for (i, pump) in self.pumps.iter_mut().enumerate() {
            let fault = self
                .config
                .fault
                .as_ref()
                .filter(|f| f.asset_index == i)
                .map(|f| ActiveFault { kind: f.kind, severity: f.severity(t_s) });
            let PumpReadings { vibration, current, temperature_c, acoustic } =
                pump.step(t_s, current_end, fault, &self.config);
            let readings = [
                window(self.config.vibration_rate_hz, vibration),
                window(CURRENT_RATE_HZ, current),
                Reading::Scalar(temperature_c),
                window(ACOUSTIC_RATE_HZ, acoustic),
            ];
            for ((channel, _), reading) in Self::channels().into_iter().zip(readings) {
                out.push(Sample { asset: pump.id.clone(), channel, t, reading });
            }
        }
        self.ticks += 1;
        out
    }
}

/// The real time after which simulated second `sim_s` is due at `time_scale` simulated seconds
/// per real second (infinite: at once). Saturates at about a century, so a tiny time scale waits
/// rather than overflowing the clock.
pub(crate) fn real_time_offset(sim_s: f64, time_scale: f64) -> std::time::Duration {
    use crate::publish::LATEST_DUE;
    // `max` also turns a NaN (infinite over infinite) into 0: due at once.
    let real_s = (sim_s / time_scale).max(0.0);
    std::time::Duration::try_from_secs_f64(real_s).map_or(LATEST_DUE, |d| d.min(LATEST_DUE))
}

fn window(sample_rate_hz: f64, samples: Vec<f64>) -> Reading {
    Reading::Window { sample_rate_hz, samples: samples.into_iter().map(|v| v as f32).collect() }
}

#[cfg(test)]
mod tests;
