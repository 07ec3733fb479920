//! The induction motor that drives a pump: slip and shaft speed from load, and the stator current
//! waveform, with the sidebands broken rotor bars add.
//!
//! A 4-pole motor on a 50 Hz supply turns at `(1 - s) f / p`, the slip `s` growing with load
//! (the linear part of the torque-slip curve). A broken rotor bar makes the rotor asymmetric: the
//! backward-rotating field it induces shows in the stator current at `(1 - 2s) f`, and the speed
//! ripple it causes at `(1 + 2s) f`; torque pulsates at the pole-pass frequency `2 s f`
//! (Thomson & Fenger, "Current signature analysis to detect induction motor faults", IEEE IAS
//! Magazine 7(4), 2001). Sideband levels of about -30 dB below the fundamental mean a bar is
//! broken; a healthy rotor shows -55 dB or less, from manufacturing asymmetry.

use snn_engine::rng::SplitMix64;
use std::f64::consts::{SQRT_2, TAU};

/// Supply frequency.
pub const SUPPLY_HZ: f64 = 50.0;
/// Pole pairs of a 4-pole motor (synchronous speed 1500 rpm at 50 Hz).
pub const POLE_PAIRS: f64 = 2.0;
/// Sample rate of the stator current windows.
pub const CURRENT_RATE_HZ: f64 = 2_000.0;
/// Stator current (RMS) at full load.
const FULL_LOAD_CURRENT_A: f64 = 10.0;
/// Current clamp and acquisition noise, A RMS per sample.
const CURRENT_NOISE_A: f64 = 0.05;
/// Sidebands relative to the fundamental with every bar of the fault broken: `(1 - 2s) f` at
/// about -30 dB, `(1 + 2s) f` a little lower (the speed ripple is damped by the pump's inertia).
const BROKEN_BAR_LOWER_SIDEBAND: f64 = 0.03;
const BROKEN_BAR_UPPER_SIDEBAND: f64 = 0.022;
/// Depth of the torque pulsation at `2 s f` with the fault fully developed: a small effect on
/// the 1x vibration.
const BROKEN_BAR_TORQUE_RIPPLE: f64 = 0.08;
/// Extra current from the friction torque of a fully developed bearing defect.
const BEARING_FRICTION_CURRENT: f64 = 0.04;

/// One motor's fixed character and the state that keeps its current waveform continuous.
#[derive(Debug, Clone)]
pub struct InductionMotor {
    /// Slip at full load; slip is proportional to load below it.
    rated_slip: f64,
    /// Sideband level of the healthy rotor (manufacturing asymmetry), relative to the fundamental.
    asymmetry: f64,
    /// 5th and 7th supply harmonics (relative amplitude, phase): the non-sinusoidal winding
    /// distribution and a slightly distorted supply.
    harmonics: [(f64, f64); 2],
    /// Phase of the pole-pass frequency `2 s f`, integrated sample by sample so that a change of
    /// slip never breaks the waveform.
    pole_pass_phase: f64,
    /// Global index of the next current sample: window k+1 starts where window k ended.
    next_sample: u64,
    /// Fundamental amplitude at the end of the previous window, from which the next one ramps.
    last_amplitude_a: Option<f64>,
}

impl InductionMotor {
    /// A motor whose shaft turns at `shaft_hz` at load `load`, with the rest of its character
    /// drawn from `rng`.
    pub fn new(shaft_hz: f64, load: f64, rng: &mut SplitMix64) -> Self {
        let slip = 1.0 - shaft_hz * POLE_PAIRS / SUPPLY_HZ;
        let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.next_f64();
        let asymmetry_db = u(-60.0, -55.0);
        let harmonics = [(u(0.02, 0.04), u(0.0, TAU)), (u(0.01, 0.02), u(0.0, TAU))];
        InductionMotor {
            rated_slip: slip / load,
            asymmetry: 10f64.powf(asymmetry_db / 20.0),
            harmonics,
            pole_pass_phase: 0.0,
            next_sample: 0,
            last_amplitude_a: None,
        }
    }

    /// Slip at `load` (fraction of rated).
    pub fn slip(&self, load: f64) -> f64 {
        self.rated_slip * load
    }

    /// Shaft frequency at `load`: `(1 - s) f / p`.
    pub fn shaft_hz(&self, load: f64) -> f64 {
        (1.0 - self.slip(load)) * SUPPLY_HZ / POLE_PAIRS
    }

    /// Pole-pass frequency `2 s f` at `load`: the beat of a broken bar.
    pub fn pole_pass_hz(&self, load: f64) -> f64 {
        2.0 * self.slip(load) * SUPPLY_HZ
    }

    /// Phase of the pole-pass frequency at the start of the next current window.
    pub fn pole_pass_phase(&self) -> f64 {
        self.pole_pass_phase
    }

    /// Relative depth of the torque (and so 1x vibration) pulsation at `2 s f`.
    pub fn torque_ripple(broken_bar_severity: f64) -> f64 {
        BROKEN_BAR_TORQUE_RIPPLE * broken_bar_severity
    }

    /// The stator current (A) from the end of the previous window up to global sample
    /// `end_sample` (exclusive), at 2 kHz. The fundamental's amplitude ramps from the previous
    /// window's to this `load`'s, and every phase runs on, so successive windows join into one
    /// continuous signal.
    pub fn current_window(
        &mut self,
        end_sample: u64,
        load: f64,
        broken_bar_severity: f64,
        bearing_severity: f64,
        rng: &mut SplitMix64,
    ) -> Vec<f64> {
        let n = end_sample.saturating_sub(self.next_sample) as usize;
        let amplitude = SQRT_2 * FULL_LOAD_CURRENT_A * load * (1.0 + BEARING_FRICTION_CURRENT * bearing_severity);
        let from = self.last_amplitude_a.unwrap_or(amplitude);
        let lower = self.asymmetry + BROKEN_BAR_LOWER_SIDEBAND * broken_bar_severity;
        let upper = 0.7 * self.asymmetry + BROKEN_BAR_UPPER_SIDEBAND * broken_bar_severity;
        let pole_pass_step = TAU * self.pole_pass_hz(load) / CURRENT_RATE_HZ;
        let out = (0..n)
            .map(|j| {
                let index = self.next_sample + j as u64;
                // Supply phase from the exact sample index: 40 samples per cycle, no drift.
                let cycle = (index as f64 * SUPPLY_HZ / CURRENT_RATE_HZ).fract();
                let theta = TAU * cycle;
                let psi = self.pole_pass_phase + pole_pass_step * j as f64;
                let a = from + (amplitude - from) * j as f64 / n as f64;
                let [(h5, p5), (h7, p7)] = self.harmonics;
                a * (theta.sin()
                    + lower * (theta - psi).sin()
                    + upper * (theta + psi).sin()
                    + h5 * (5.0 * theta + p5).sin()
                    + h7 * (7.0 * theta + p7).sin())
                    + CURRENT_NOISE_A * rng.next_gaussian()
            })
            .collect();
        self.pole_pass_phase = (self.pole_pass_phase + pole_pass_step * n as f64).rem_euclid(TAU);
        self.next_sample = self.next_sample.max(end_sample);
        self.last_amplitude_a = Some(amplitude);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn motor() -> InductionMotor {
        InductionMotor::new(1480.0 / 60.0, 0.85, &mut SplitMix64::new(3))
    }

    #[test]
    fn speed_falls_and_slip_grows_with_load() {
        let m = motor();
        assert!((m.shaft_hz(0.85) - 1480.0 / 60.0).abs() < 1e-9);
        assert!((m.slip(0.85) - (1.0 - 1480.0 / 1500.0)).abs() < 1e-12);
        assert!(m.shaft_hz(1.0) < m.shaft_hz(0.7));
        assert!(m.shaft_hz(1.0) < SUPPLY_HZ / POLE_PAIRS);
        assert!((m.pole_pass_hz(0.85) - 2.0 * m.slip(0.85) * 50.0).abs() < 1e-12);
    }

    #[test]
    fn rms_follows_load_and_a_bearing_defect_adds_a_few_percent() {
        let mut m = motor();
        let mut rng = SplitMix64::new(4);
        let rms = |x: &[f64]| (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
        let half = rms(&m.current_window(2_000, 0.5, 0.0, 0.0, &mut rng));
        let full = rms(&m.current_window(4_000, 1.0, 0.0, 0.0, &mut rng));
        let steady = rms(&m.current_window(6_000, 1.0, 0.0, 0.0, &mut rng));
        m.current_window(8_000, 1.0, 0.0, 1.0, &mut rng); // ramps to the worn amplitude
        let worn = rms(&m.current_window(10_000, 1.0, 0.0, 1.0, &mut rng));
        assert!((half - 5.0).abs() < 0.05, "{half}");
        assert!((steady - 10.0).abs() < 0.05, "{steady}");
        assert!(full > half && full < steady, "the window after a load step ramps: {full}");
        assert!((worn / steady - 1.04).abs() < 0.01, "{worn} vs {steady}");
    }

    #[test]
    fn a_window_ends_where_asked_and_the_next_picks_up_from_there() {
        let mut m = motor();
        let mut rng = SplitMix64::new(5);
        assert_eq!(m.current_window(2_000, 0.8, 0.0, 0.0, &mut rng).len(), 2_000);
        assert_eq!(m.current_window(2_500, 0.8, 0.0, 0.0, &mut rng).len(), 500);
        // Asking for an end already passed gives nothing rather than going back in time.
        assert!(m.current_window(2_400, 0.8, 0.0, 0.0, &mut rng).is_empty());
        assert_eq!(m.current_window(3_000, 0.8, 0.0, 0.0, &mut rng).len(), 500);
    }
}
