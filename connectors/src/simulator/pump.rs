//! One simulated pump: its motor, bearing, impeller and housing, stepped one tick at a time.

use super::SimConfig;
use super::acoustic::{self, acoustic_window};
use super::bearing::{self, BEARING_6206, Resonance};
use super::fault::FaultKind;
use super::motor::InductionMotor;
use snn_engine::AssetId;
use snn_engine::rng::SplitMix64;
use std::f64::consts::TAU;

/// Structural resonance excited by each bearing impact, and its decay: 1 ms means the ring-down
/// is gone (< 1 %) within about 5 ms, before the next impact (7-11 ms later).
const HOUSING_RESONANCE: Resonance = Resonance { frequency_hz: 3_000.0, decay_s: 0.001 };
/// Peak impact acceleration at full severity, in g: 40x the broadband noise.
const IMPACT_PEAK_G: f64 = 2.0;
/// Broadband vibration noise (sensor + flow turbulence), g RMS.
const VIBRATION_NOISE_G: f64 = 0.05;
/// Mean of the load cycle (fraction of rated load).
const MEAN_LOAD: f64 = 0.85;
/// Thermal time constant of the bearing housing.
const THERMAL_TAU_S: f64 = 120.0;
/// Noise of the housing temperature reading, °C RMS: a PT100 transmitter averages its ADC over
/// the reading interval, leaving about a hundredth of a degree. (A noisier reading would, now and
/// then, fall outside the whole range a healthy pump has shown, which a detector must treat as
/// new, for no change of the machine.)
const TEMPERATURE_NOISE_C: f64 = 0.01;

/// A fault as one tick sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ActiveFault {
    pub kind: FaultKind,
    /// In `[0, 1]`.
    pub severity: f64,
}

/// What one pump yields per tick.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PumpReadings {
    /// Acceleration, g, at `vibration_rate_hz`, starting at the tick.
    pub vibration: Vec<f64>,
    /// Stator current, A, at 2 kHz, covering the whole tick.
    pub current: Vec<f64>,
    /// Bearing housing temperature, °C.
    pub temperature_c: f64,
    /// Sound pressure, Pa, at 48 kHz, starting at the tick.
    pub acoustic: Vec<f64>,
}

/// One pump's fixed character and slowly changing state.
#[derive(Debug, Clone)]
pub(super) struct Pump {
    pub id: AssetId,
    rng: SplitMix64,
    pub motor: InductionMotor,
    load_period_s: f64,
    load_phase: f64,
    harmonic_phase: [f64; 3],
    /// Relative harmonic amplitudes (g at full load): every machine is a little different.
    harmonic_g: [f64; 3],
    blade_phase: f64,
    temperature_c: f64,
    /// Shaft frequency of the latest tick.
    pub shaft_hz: f64,
}

/// Bearing temperature the housing settles to: 40 °C idle-ish baseline, 15 °C more at full
/// load, up to 8 °C more from the friction of a fully developed bearing defect.
fn equilibrium_temperature(load: f64, bearing_severity: f64) -> f64 {
    40.0 + 15.0 * load + 8.0 * bearing_severity
}

impl Pump {
    /// A pump with its character drawn from `rng`.
    pub fn new(id: AssetId, mut rng: SplitMix64) -> Self {
        let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.next_f64();
        // 1480 rpm nominal at the mean load; slip differs by a few rpm between motors.
        let shaft_hz = u(1474.0, 1486.0) / 60.0;
        let load_period_s = u(55.0, 65.0);
        let load_phase = u(0.0, TAU);
        let harmonic_phase = [u(0.0, TAU), u(0.0, TAU), u(0.0, TAU)];
        let harmonic_g = [u(0.25, 0.35), u(0.10, 0.14), u(0.04, 0.06)];
        let blade_phase = u(0.0, TAU);
        let motor = InductionMotor::new(shaft_hz, MEAN_LOAD, &mut rng);
        Pump {
            id,
            rng,
            motor,
            load_period_s,
            load_phase,
            harmonic_phase,
            harmonic_g,
            blade_phase,
            // Start at the equilibrium of the mean load so a healthy pump shows no warm-up drift.
            temperature_c: equilibrium_temperature(MEAN_LOAD, 0.0),
            shaft_hz,
        }
    }

    /// Load fraction: a smooth process cycle between 70 % and 100 %.
    fn load(&self, t_s: f64) -> f64 {
        MEAN_LOAD + 0.15 * (TAU * t_s / self.load_period_s + self.load_phase).sin()
    }

    /// The readings of the tick starting at `t_s`; the current window runs up to global current
    /// sample `current_end`.
    pub fn step(&mut self, t_s: f64, current_end: u64, fault: Option<ActiveFault>, config: &SimConfig) -> PumpReadings {
        // Tiny load noise (valve hunting, flow turbulence), kept inside the 70-100 % band.
        let load = (self.load(t_s) + 0.005 * self.rng.next_gaussian()).clamp(0.7, 1.0);
        let shaft_hz = self.motor.shaft_hz(load);
        self.shaft_hz = shaft_hz;
        let severity_of = |bearing: bool| fault.filter(|f| f.kind.is_bearing() == bearing).map_or(0.0, |f| f.severity);
        let (bearing_severity, broken_bar_severity) = (severity_of(true), severity_of(false));

        // One impact train for the tick, so the microphone hears the bursts the accelerometer feels.
        let vibration_s = config.window_len as f64 / config.vibration_rate_hz;
        let impacts = match fault {
            Some(f) if bearing_severity > 0.0 => bearing::impacts(
                f.kind,
                &BEARING_6206,
                shaft_hz,
                t_s - HOUSING_RESONANCE.ring_s().max(acoustic::ring_s()),
                t_s + vibration_s.max(acoustic::window_s()),
                &mut self.rng,
            ),
            _ => Vec::new(),
        };

        let mut vibration = self.vibration_window(t_s, load, shaft_hz, broken_bar_severity, config);
        HOUSING_RESONANCE.add_ring_downs(
            &mut vibration,
            t_s,
            config.vibration_rate_hz,
            &impacts,
            IMPACT_PEAK_G * bearing_severity * load.sqrt(),
        );
        let current =
            self.motor.current_window(current_end, load, broken_bar_severity, bearing_severity, &mut self.rng);
        let acoustic =
            acoustic_window(t_s, load, shaft_hz, self.blade_phase, &impacts, bearing_severity, &mut self.rng);

        let target = equilibrium_temperature(load, bearing_severity);
        self.temperature_c += (target - self.temperature_c) * (1.0 - (-config.tick_s / THERMAL_TAU_S).exp());
        let temperature_c = self.temperature_c + TEMPERATURE_NOISE_C * self.rng.next_gaussian();
        PumpReadings { vibration, current, temperature_c, acoustic }
    }

    /// Shaft harmonics 1x/2x/3x (unbalance, misalignment, looseness: the usual suspects of a
    /// healthy machine) scaled with load, the 1x pulsating with the torque of broken rotor bars,
    /// plus broadband noise.
    fn vibration_window(
        &mut self,
        t0: f64,
        load: f64,
        shaft_hz: f64,
        broken_bar_severity: f64,
        config: &SimConfig,
    ) -> Vec<f64> {
        let fs = config.vibration_rate_hz;
        let ripple = InductionMotor::torque_ripple(broken_bar_severity);
        let (pole_pass_hz, pole_pass_phase) = (self.motor.pole_pass_hz(load), self.motor.pole_pass_phase());
        (0..config.window_len)
            .map(|k| {
                let dt = k as f64 / fs;
                let t = t0 + dt;
                let torque = 1.0 + ripple * (TAU * pole_pass_hz * dt + pole_pass_phase).cos();
                let harmonics: f64 = (0..3)
                    .map(|h| {
                        let order = (h + 1) as f64;
                        let pulsation = if h == 0 { torque } else { 1.0 };
                        pulsation
                            * self.harmonic_g[h]
                            * load
                            * (TAU * order * shaft_hz * t + self.harmonic_phase[h]).sin()
                    })
                    .sum();
                harmonics + VIBRATION_NOISE_G * self.rng.next_gaussian()
            })
            .collect()
    }
}
