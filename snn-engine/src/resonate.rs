//! Resonate-and-fire neurons: damped oscillators that respond to input at their own frequency and
//! spike at the crest of each large enough oscillation (Izhikevich 2001).
//!
//! The discrete form is the one Lava's Loihi 2 `RF` process uses (Frady et al. 2022, "Efficient
//! neuromorphic signal processing with resonator neurons"): the state `z = re + i im` is rotated by
//! the phase step `2 pi f / fs` and scaled by `1 - decay` every sample, then the input is added (a
//! sensor's to the real part). The parameters are hardware-neutral (frequency, decay per sample, threshold), so a
//! fixed-point backend can map them onto its own registers.

use serde::{Deserialize, Serialize};

/// The sub-threshold dynamics of a resonate-and-fire neuron: a damped complex oscillator, i.e. a
/// one-pole complex band-pass filter `z[n] = (1 - decay) e^{i 2 pi f / fs} z[n-1] + x[n]`.
///
/// Driven by `x[n] = a cos(2 pi f n / fs)` at its own frequency it settles to `|z| = a / (2 decay)`
/// (the positive-frequency half of the cosine, gain `1 / decay`); its squared gain falls to half at
/// `f ± bandwidth / 2` (see [`decay_for_bandwidth`]); left alone, `|z|` falls by `1 / e` every
/// `-1 / ln(1 - decay)` samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Resonator {
    /// `(1 - decay) cos(2 pi f / fs)`.
    rotate_re: f64,
    /// `(1 - decay) sin(2 pi f / fs)`.
    rotate_im: f64,
    re: f64,
    im: f64,
}

impl Resonator {
    /// A resonator at `frequency_hz` for input sampled at `sample_rate_hz`, losing the fraction
    /// `decay` (in (0, 1)) of its amplitude every sample; it starts at rest.
    pub fn new(frequency_hz: f64, sample_rate_hz: f64, decay: f64) -> Self {
        debug_assert!(decay > 0.0 && decay < 1.0, "decay {decay} outside (0, 1)");
        let (sin, cos) = (std::f64::consts::TAU * frequency_hz / sample_rate_hz).sin_cos();
        let keep = 1.0 - decay;
        Resonator { rotate_re: keep * cos, rotate_im: keep * sin, re: 0.0, im: 0.0 }
    }

    /// Advances one sample with complex input `x_re + i x_im` (a sensor drives the real part; a
    /// resonator of a cascade is driven by the state of the one before, as Lava's `RF` takes a
    /// real and an imaginary input).
    pub fn step(&mut self, x_re: f64, x_im: f64) {
        let re = self.rotate_re * self.re - self.rotate_im * self.im + x_re;
        self.im = self.rotate_im * self.re + self.rotate_re * self.im + x_im;
        self.re = re;
    }

    /// The per-sample rotation `(1 - decay) e^{i 2 pi f / fs}` as `(re, im)`.
    pub fn rotation(&self) -> (f64, f64) {
        (self.rotate_re, self.rotate_im)
    }

    /// The state `(re, im)`.
    pub fn state(&self) -> (f64, f64) {
        (self.re, self.im)
    }

    /// `|z|^2`, the oscillation's energy.
    pub fn energy(&self) -> f64 {
        self.re * self.re + self.im * self.im
    }

    /// Back to rest.
    pub fn reset(&mut self) {
        self.re = 0.0;
        self.im = 0.0;
    }
}

/// The per-sample decay that gives a cascade of `order` identical [`Resonator`]s (each driven by
/// the state of the one before) a squared-gain bandwidth (full width at half power) of
/// `bandwidth_hz` at `sample_rate_hz`.
///
/// With `r = 1 - decay`, half-width `phi = pi bandwidth / fs` in radians per sample and
/// `g = 2^(1 / order)`, half power means `|1 - r e^{i phi}|^2 = g (1 - r)^2`, i.e.
/// `r^2 - 2 b r + 1 = 0` with `b = (g - cos phi) / (g - 1)`, whose root in (0, 1) is taken. For a
/// single narrow resonator `decay ~ phi`.
pub fn decay_for_bandwidth(bandwidth_hz: f64, sample_rate_hz: f64, order: u32) -> f64 {
    let phi = (std::f64::consts::PI * bandwidth_hz / sample_rate_hz).min(std::f64::consts::PI);
    let g = 2f64.powf(1.0 / f64::from(order.max(1)));
    let b = (g - phi.cos()) / (g - 1.0);
    let r = b - (b * b - 1.0).sqrt();
    1.0 - r
}

/// A resonate-and-fire neuron: a [`Resonator`] that spikes once per oscillation, at the crest of
/// its real part, when that crest reaches `threshold`.
///
/// Spike rule (as Lava's `RF`): the imaginary part crosses zero upwards (the phase passes 0, where
/// the real part peaks) while the real part is at or above `threshold`. The phase passes 0 once per
/// free oscillation, so the neuron fires at most once per cycle and its spikes lock to the phase
/// of the input at its frequency. The state is not reset by a spike: the amplitude is what the
/// neuron has integrated about its frequency, and keeping it (as Lava's `RF` does) makes the spike
/// train follow that amplitude instead of restarting it each cycle; [`Self::reset`] returns the
/// neuron to rest between unrelated inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResonateAndFire {
    resonator: Resonator,
    threshold: f64,
}

impl ResonateAndFire {
    /// A neuron at `frequency_hz` (input sampled at `sample_rate_hz`) with `decay` per sample and
    /// firing `threshold` on the real part.
    pub fn new(frequency_hz: f64, sample_rate_hz: f64, decay: f64, threshold: f64) -> Self {
        ResonateAndFire { resonator: Resonator::new(frequency_hz, sample_rate_hz, decay), threshold }
    }

    /// Advances one sample with input `x`; true when the neuron spikes.
    pub fn step(&mut self, x: f64) -> bool {
        let (_, im_before) = self.resonator.state();
        self.resonator.step(x, 0.0);
        let (re, im) = self.resonator.state();
        im_before < 0.0 && im >= 0.0 && re >= self.threshold
    }

    /// The oscillator underneath.
    pub fn resonator(&self) -> &Resonator {
        &self.resonator
    }

    /// Back to rest.
    pub fn reset(&mut self) {
        self.resonator.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    const FS: f64 = 25_600.0;

    fn tone(hz: f64, amplitude: f64, n: usize) -> impl Iterator<Item = f64> {
        (0..n).map(move |i| amplitude * (TAU * hz * i as f64 / FS).cos())
    }

    fn spikes(neuron: &mut ResonateAndFire, input: impl Iterator<Item = f64>) -> usize {
        input.filter(|&x| neuron.step(x)).count()
    }

    #[test]
    fn fires_on_a_tone_at_its_frequency_and_not_at_half_or_double() {
        // decay 0.01: |z| settles near a / 0.02 = 50 a at resonance; threshold at half of that.
        let make = || ResonateAndFire::new(1_000.0, FS, 0.01, 25.0);
        let n = 25_600; // one second: 1000 cycles at resonance
        let on = spikes(&mut make(), tone(1_000.0, 1.0, n));
        assert!(on > 900, "resonant tone: {on} spikes");
        assert!(on <= 1_000, "at most one spike per cycle: {on}");
        assert_eq!(spikes(&mut make(), tone(500.0, 1.0, n)), 0, "half the frequency");
        assert_eq!(spikes(&mut make(), tone(2_000.0, 1.0, n)), 0, "double the frequency");
        // The same tone too weak to reach threshold.
        assert_eq!(spikes(&mut make(), tone(1_000.0, 0.4, n)), 0, "below threshold");
    }

    #[test]
    fn steady_state_amplitude_matches_the_analytic_gain() {
        // Complex input a e^{i w n} gives |z| = a / |1 - r e^{i (theta - w)}|; a real cosine is two
        // such halves of amplitude a / 2, the one at -w far from resonance.
        let gain = |decay: f64, f0: f64, f: f64| {
            let r = 1.0 - decay;
            let d = TAU * (f0 - f) / FS;
            1.0 / (1.0 - 2.0 * r * d.cos() + r * r).sqrt()
        };
        for (decay, f) in [(0.01, 1_000.0), (0.01, 1_100.0), (0.002, 1_000.0), (0.05, 800.0)] {
            let mut r = Resonator::new(1_000.0, FS, decay);
            // Settle for 40 time constants, then take the mean energy over whole cycles of both lines.
            let n_settle = (40.0 / decay) as usize;
            tone(f, 2.0, n_settle).for_each(|x| r.step(x, 0.0));
            let span = 25_600;
            let mean = (n_settle..n_settle + span)
                .map(|i| {
                    r.step(2.0 * (TAU * f * i as f64 / FS).cos(), 0.0);
                    r.energy()
                })
                .sum::<f64>()
                / span as f64;
            let expected = gain(decay, 1_000.0, f).powi(2) + gain(decay, 1_000.0, -f).powi(2);
            assert!((mean / expected - 1.0).abs() < 0.02, "decay {decay}, {f} Hz: {mean} vs {expected}");
        }
    }

    #[test]
    fn free_oscillation_decays_with_its_time_constant() {
        let decay = 0.004;
        let mut r = Resonator::new(1_600.0, FS, decay);
        r.step(1.0, 0.0);
        let tau = -1.0 / (1.0 - decay).ln(); // ~249.5 samples
        let start = r.energy().sqrt();
        for _ in 0..tau.round() as usize {
            r.step(0.0, 0.0);
        }
        let ratio = r.energy().sqrt() / start;
        assert!((ratio - (-1.0f64).exp()).abs() < 0.002, "after tau: {ratio}");
        // And it oscillates at its frequency: a quarter period (4 samples of 16) turns the phase by pi / 2.
        let (re, im) = r.state();
        for _ in 0..4 {
            r.step(0.0, 0.0);
        }
        let (re2, im2) = r.state();
        let turned = im2.atan2(re2) - im.atan2(re);
        let turned = (turned + TAU) % TAU;
        assert!((turned - std::f64::consts::FRAC_PI_2).abs() < 1e-9, "turned {turned}");
    }

    #[test]
    fn bandwidth_sets_the_half_power_points_of_a_cascade() {
        for order in [1, 2, 4] {
            for (bw, f0) in [(100.0, 1_000.0), (2_000.0, 6_000.0), (20.0, 150.0)] {
                let decay = decay_for_bandwidth(bw, FS, order);
                // Measured, not from the formula: a tone through `order` resonators in a chain.
                let measure = |f: f64| {
                    let mut chain = vec![Resonator::new(f0, FS, decay); order as usize];
                    let settle = (60.0 * f64::from(order) / decay) as usize;
                    let mut energy = 0.0;
                    for i in 0..settle + 25_600 {
                        let phase = TAU * f * i as f64 / FS;
                        let (mut re, mut im) = (phase.cos(), phase.sin());
                        for r in chain.iter_mut() {
                            r.step(re, im);
                            (re, im) = r.state();
                        }
                        if i >= settle {
                            energy += re * re + im * im;
                        }
                    }
                    energy
                };
                let (peak, upper, lower) = (measure(f0), measure(f0 + bw / 2.0), measure(f0 - bw / 2.0));
                assert!((upper / peak - 0.5).abs() < 0.01, "order {order}, bandwidth {bw}: {}", upper / peak);
                assert!((lower / peak - 0.5).abs() < 0.01, "order {order}, bandwidth {bw}: {}", lower / peak);
            }
        }
        // A single narrow resonator: decay ~ pi bandwidth / fs.
        let d = decay_for_bandwidth(10.0, FS, 1);
        assert!((d / (std::f64::consts::PI * 10.0 / FS) - 1.0).abs() < 1e-3, "{d}");
    }

    #[test]
    fn same_input_same_spikes_and_reset_returns_to_rest() {
        let input: Vec<f64> = tone(1_000.0, 1.0, 4_000).zip(tone(1_370.0, 0.7, 4_000)).map(|(a, b)| a + b).collect();
        let run = |n: &mut ResonateAndFire| input.iter().map(|&x| n.step(x)).collect::<Vec<bool>>();
        let mut a = ResonateAndFire::new(1_000.0, FS, 0.01, 20.0);
        let mut b = a;
        let first = run(&mut a);
        assert_eq!(first, run(&mut b));
        assert!(first.iter().any(|&s| s));
        assert_eq!(a, b, "bit-identical state");
        a.reset();
        assert_eq!(a.resonator().state(), (0.0, 0.0));
        assert_eq!(run(&mut a), first, "a reset neuron repeats itself");
    }
}
