//! The acoustic-emission microphone on the bearing housing: flow noise, the impeller's
//! blade-pass tone and, once a bearing defect starts, short ultrasonic bursts.
//!
//! Acoustic emission is the classic earliest indicator of a bearing defect: the elastic waves
//! released as a crack grows and as rolling elements strike the first sub-surface damage are
//! measurable before the defect is large enough to shake the housing (Mba & Rao, "Development of
//! acoustic emission technology for condition monitoring and diagnosis of rotating machines",
//! Shock and Vibration Digest 38, 2006). The simulator makes the burst strength grow with the
//! square root of severity while the vibration impacts grow linearly, so bursts show first.

use super::bearing::{Impact, Resonance};
use snn_engine::rng::SplitMix64;
use std::f64::consts::TAU;

/// Sample rate of the acoustic windows.
pub const ACOUSTIC_RATE_HZ: f64 = 48_000.0;
/// Samples per acoustic window (about 43 ms, a snapshot at the start of each tick).
pub const ACOUSTIC_WINDOW_LEN: usize = 2048;
/// Impeller vanes: the blade-pass tone is at this many times the shaft frequency.
const IMPELLER_VANES: f64 = 6.0;
/// Flow turbulence and sensor noise at full load, Pa RMS.
const FLOW_NOISE_PA: f64 = 0.05;
/// Blade-pass tone amplitude at full load, Pa (pressure pulsation grows with the square of flow).
const BLADE_PASS_PA: f64 = 0.08;
/// Peak of one burst with the defect fully developed, Pa: 40x the flow noise (the background of
/// an AE sensor is quiet; the bursts are what it is for).
const BURST_PEAK_PA: f64 = 2.0;
/// The ultrasonic band the bursts ring in: ~20 kHz, decay 0.15 ms (about 19-21 kHz at -3 dB,
/// 18-22 kHz at -10 dB).
const BURST_BAND: Resonance = Resonance { frequency_hz: 20_000.0, decay_s: 0.000_15 };

/// How far before a window an impact can start and still be heard in it, s.
pub fn ring_s() -> f64 {
    BURST_BAND.ring_s()
}

/// Length of an acoustic window, s.
pub fn window_s() -> f64 {
    ACOUSTIC_WINDOW_LEN as f64 / ACOUSTIC_RATE_HZ
}

/// One acoustic window (Pa) starting at `t0_s`: noise and blade-pass tone scaled with `load`,
/// and a burst at each bearing `impact` with strength `sqrt(bearing_severity)`.
pub fn acoustic_window(
    t0_s: f64,
    load: f64,
    shaft_hz: f64,
    blade_phase: f64,
    impacts: &[Impact],
    bearing_severity: f64,
    rng: &mut SplitMix64,
) -> Vec<f64> {
    let blade_hz = IMPELLER_VANES * shaft_hz;
    let mut samples: Vec<f64> = (0..ACOUSTIC_WINDOW_LEN)
        .map(|k| {
            let t = t0_s + k as f64 / ACOUSTIC_RATE_HZ;
            BLADE_PASS_PA * load * load * (TAU * blade_hz * t + blade_phase).sin()
                + FLOW_NOISE_PA * load * rng.next_gaussian()
        })
        .collect();
    let peak = BURST_PEAK_PA * bearing_severity.max(0.0).sqrt();
    BURST_BAND.add_ring_downs(&mut samples, t0_s, ACOUSTIC_RATE_HZ, impacts, peak);
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_window_is_noise_and_the_blade_pass_tone() {
        let mut rng = SplitMix64::new(1);
        let x = acoustic_window(3.0, 0.9, 24.6, 0.3, &[], 0.0, &mut rng);
        assert_eq!(x.len(), ACOUSTIC_WINDOW_LEN);
        let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
        let expected = ((FLOW_NOISE_PA * 0.9).powi(2) + (BLADE_PASS_PA * 0.81).powi(2) / 2.0).sqrt();
        assert!((rms / expected - 1.0).abs() < 0.1, "{rms} vs {expected}");
    }

    #[test]
    fn bursts_ring_in_the_ultrasonic_band_at_the_impacts() {
        let mut rng = SplitMix64::new(2);
        let impact = Impact { t_s: 3.01, weight: 1.0 };
        let quiet = acoustic_window(3.0, 0.9, 24.6, 0.3, &[], 0.0, &mut SplitMix64::new(2));
        let loud = acoustic_window(3.0, 0.9, 24.6, 0.3, &[impact], 0.25, &mut rng);
        // Same seed: the difference is the burst alone.
        let burst: Vec<f64> = loud.iter().zip(&quiet).map(|(a, b)| a - b).collect();
        let at = (0.01 * ACOUSTIC_RATE_HZ).ceil() as usize;
        assert!(burst[..at].iter().all(|&v| v == 0.0));
        let peak = burst.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // sqrt(0.25) x 2 Pa, less the ring-down before the sample nearest the crest (2.4 samples a cycle).
        assert!((0.6..=1.0).contains(&peak), "{peak}");
        // Zero crossings give the ring frequency: about 20 kHz.
        let ring = &burst[at..at + 72];
        let crossings = ring.windows(2).filter(|w| w[0].signum() != w[1].signum()).count();
        let hz = crossings as f64 / 2.0 / (72.0 / ACOUSTIC_RATE_HZ);
        assert!((18_000.0..22_000.0).contains(&hz), "{hz}");
    }
}
