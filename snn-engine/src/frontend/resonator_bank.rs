//! Band powers of a window from a bank of resonate-and-fire neurons' oscillators: the
//! neuromorphic form of the FFT band energies, computed sample by sample.

use super::fft::hann;
use crate::resonate::{Resonator, decay_for_bandwidth};

/// Channels tiling each band side by side, each as wide (half power) as its share of the band.
/// Three make the passband flat to about ±0.5 dB; two leave ±1 dB.
pub const CHANNELS_PER_BAND: usize = 3;

/// Resonators in each channel's cascade, each driven by the complex state of the one before: the
/// gammatone filter of auditory models as four identical first-order stages (Holdsworth et al.
/// 1988), built from resonate-and-fire oscillators. One resonator alone is a Lorentzian whose
/// skirts fall 6 dB an octave: a tone two bands away still shows 12 dB under its own level, so a
/// strong shaft line would bury the bands where bearing faults ring. Four fall 24 dB an octave,
/// which keeps a tone about 27 dB down two bands away and far lower further out.
pub const CASCADE_ORDER: usize = 4;

/// Mean-square power of the mean-removed `centred` samples in each band between consecutive
/// `edges` (Hz, increasing, the last at most Nyquist), written to `out` (one per band), in the
/// units of the FFT bank (the bands of white noise sum to its variance).
///
/// Each band is tiled by [`CHANNELS_PER_BAND`] cascades of [`CASCADE_ORDER`] resonators started
/// at rest, centred on equal parts of the band, and driven by the window under a Hann taper (as
/// the FFT's): a window cut from a running machine starts and ends mid-swing, and the step from
/// rest to its first sample would ring every resonator, the slow low bands longest. The band's
/// power is the energy `|z|^2` its cascades' last resonators accumulate over the window, divided
/// by what white noise of unit variance would give them in expectation under the same taper
/// (start-up included, so short windows are not biased low), times the band's share
/// `bandwidth / Nyquist` of white noise's variance. White noise is thus measured without bias in
/// every band, and a tone with its power give or take the tiling's ripple (±0.5 dB), with some of
/// it (up to about -8 dB) in the neighbouring band when it lies near the edge, where the FFT's
/// bands are sharper.
pub fn band_powers(centred: &[f64], sample_rate_hz: f64, edges: &[f64], out: &mut [f64]) {
    debug_assert_eq!(out.len() + 1, edges.len());
    let taper = hann(centred.len());
    // taper_energy[k]: the taper's energy over its first k + 1 samples.
    let taper_energy: Vec<f64> = taper
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w * w;
            Some(*acc)
        })
        .collect();
    let mut bank = Cascades::default();
    // Per band: the white-noise expectation of the summed energy, per unit variance.
    let mut expected = Vec::with_capacity(out.len());
    for e in edges.windows(2) {
        let part = (e[1] - e[0]) / CHANNELS_PER_BAND as f64;
        let decay = decay_for_bandwidth(part, sample_rate_hz, CASCADE_ORDER as u32);
        for j in 0..CHANNELS_PER_BAND {
            bank.push(Resonator::new(e[0] + (j as f64 + 0.5) * part, sample_rate_hz, decay));
        }
        expected.push(CHANNELS_PER_BAND as f64 * white_noise_energy(1.0 - decay, &taper_energy));
    }
    let energy = bank.run(centred.iter().zip(&taper).map(|(v, w)| v * w));
    let nyquist = sample_rate_hz / 2.0;
    for (b, o) in out.iter_mut().enumerate() {
        let sum: f64 = energy[b * CHANNELS_PER_BAND..(b + 1) * CHANNELS_PER_BAND].iter().sum();
        *o = sum / expected[b] * (edges[b + 1] - edges[b]) / nyquist;
    }
}

/// Every channel's cascade of [`CASCADE_ORDER`] resonators, held stage by stage and channel by
/// channel (structure of arrays) so that one stage of every channel is one loop the compiler
/// vectorises; each update is [`Resonator::step`]'s, operation for operation, so the results are
/// the same bit for bit.
#[derive(Debug, Default)]
struct Cascades {
    /// Per channel, `(1 - decay) cos` and `(1 - decay) sin` of its phase step (every stage alike).
    rotate_re: Vec<f64>,
    rotate_im: Vec<f64>,
    /// Per stage, per channel, the state.
    re: [Vec<f64>; CASCADE_ORDER],
    im: [Vec<f64>; CASCADE_ORDER],
}

impl Cascades {
    /// Adds a channel whose every stage is `resonator` (at rest).
    fn push(&mut self, resonator: Resonator) {
        let (rotate_re, rotate_im) = resonator.rotation();
        self.rotate_re.push(rotate_re);
        self.rotate_im.push(rotate_im);
        for (re, im) in self.re.iter_mut().zip(self.im.iter_mut()) {
            re.push(0.0);
            im.push(0.0);
        }
    }

    /// Drives every channel with `input`, sample by sample; returns each channel's summed `|z|^2`
    /// at the end of its cascade.
    fn run(&mut self, input: impl Iterator<Item = f64>) -> Vec<f64> {
        let n = self.rotate_re.len();
        let (mut in_re, in_im) = (vec![0.0; n], vec![0.0; n]);
        let mut energy = vec![0.0; n];
        for x in input {
            in_re.fill(x);
            // Stage 0 is driven by the sample, each later stage by the state of the one before.
            step_stage(&self.rotate_re, &self.rotate_im, &mut self.re[0], &mut self.im[0], &in_re, &in_im);
            for s in 1..CASCADE_ORDER {
                let (done_re, rest_re) = self.re.split_at_mut(s);
                let (done_im, rest_im) = self.im.split_at_mut(s);
                step_stage(
                    &self.rotate_re,
                    &self.rotate_im,
                    &mut rest_re[0],
                    &mut rest_im[0],
                    &done_re[s - 1],
                    &done_im[s - 1],
                );
            }
            let (re, im) = (&self.re[CASCADE_ORDER - 1], &self.im[CASCADE_ORDER - 1]);
            for ((e, r), i) in energy.iter_mut().zip(re).zip(im) {
                *e += r * r + i * i;
            }
        }
        energy
    }
}

/// One [`Resonator::step`] of every channel of a stage.
fn step_stage(rotate_re: &[f64], rotate_im: &[f64], re: &mut [f64], im: &mut [f64], x_re: &[f64], x_im: &[f64]) {
    // Every slice cut to one length, so the loop needs no bounds checks and vectorises.
    let n = re.len();
    let (rotate_re, rotate_im, im, x_re, x_im) =
        (&rotate_re[..n], &rotate_im[..n], &mut im[..n], &x_re[..n], &x_im[..n]);
    for c in 0..n {
        let r = rotate_re[c] * re[c] - rotate_im[c] * im[c] + x_re[c];
        im[c] = rotate_im[c] * re[c] + rotate_re[c] * im[c] + x_im[c];
        re[c] = r;
    }
}

/// Expected `sum over n < len of |z[n]|^2` at the end of a cascade of [`CASCADE_ORDER`]
/// resonators with per-sample gain `r`, started at rest and driven by white noise of unit variance
/// under a taper `w` whose energy over its first `k + 1` samples is `taper_energy[k]`:
/// `sum over n, m <= n of |h[n - m]|^2 w[m]^2 = sum over j < len of |h[j]|^2 taper_energy[len - 1 - j]`,
/// where `|h[j]| = C(j + order - 1, order - 1) r^j` is the cascade's impulse response (whatever its
/// frequency).
fn white_noise_energy(r: f64, taper_energy: &[f64]) -> f64 {
    let len = taper_energy.len();
    let mut h = 1.0f64; // |h[j]|
    let mut sum = 0.0;
    for j in 0..len {
        let term = h * h * taper_energy[len - 1 - j];
        sum += term;
        // The impulse response has peaked and what is left no longer counts.
        if j >= CASCADE_ORDER && term < 1e-16 * sum {
            break;
        }
        h *= r * ((j + CASCADE_ORDER) as f64 / (j + 1) as f64);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn white_noise_energy_matches_a_simulated_impulse_response() {
        for (r, len) in [(0.9, 1), (0.9, 7), (0.995, 2_048), (0.3, 100)] {
            // The impulse response of the cascade, then the sum it stands for, directly.
            let mut chain = [Resonator::new(1_000.0, 25_600.0, 1.0 - r); CASCADE_ORDER];
            let mut h2 = Vec::new();
            for i in 0..len {
                let (mut re, mut im) = (if i == 0 { 1.0 } else { 0.0 }, 0.0);
                for c in chain.iter_mut() {
                    c.step(re, im);
                    (re, im) = c.state();
                }
                h2.push(re * re + im * im);
            }
            // An untapered window: every sample has weight 1, so sample j of the response
            // reaches the len - j outputs from j on.
            let direct: f64 = (0..len).map(|j| (len - j) as f64 * h2[j]).sum();
            let flat: Vec<f64> = (1..=len).map(|k| k as f64).collect();
            let closed = white_noise_energy(r, &flat);
            assert!((closed / direct - 1.0).abs() < 1e-9, "r {r}, len {len}: {closed} vs {direct}");
        }
    }

    #[test]
    fn the_cascades_are_chains_of_resonators_bit_for_bit() {
        let fs = 25_600.0;
        let channels =
            [Resonator::new(150.0, fs, 0.003), Resonator::new(3_000.0, fs, 0.05), Resonator::new(11_000.0, fs, 0.3)];
        let mut bank = Cascades::default();
        channels.iter().for_each(|&r| bank.push(r));
        let mut rng = SplitMix64::new(2);
        let x: Vec<f64> = (0..3_000).map(|_| rng.next_gaussian()).collect();
        let energy = bank.run(x.iter().copied());
        for (c, r) in channels.iter().enumerate() {
            let mut chain = [*r; CASCADE_ORDER];
            let mut sum = 0.0;
            for &v in &x {
                let (mut re, mut im) = (v, 0.0);
                for stage in chain.iter_mut() {
                    stage.step(re, im);
                    (re, im) = stage.state();
                }
                sum += re * re + im * im;
            }
            assert_eq!(energy[c].to_bits(), sum.to_bits(), "channel {c}");
        }
    }

    #[test]
    fn white_noise_gives_each_band_its_share_of_the_variance() {
        let fs = 25_600.0;
        let edges = [100.0, 400.0, 1_600.0, 6_400.0, 12_800.0];
        let mut rng = SplitMix64::new(11);
        let x: Vec<f64> = (0..1 << 16).map(|_| 2.0 * rng.next_gaussian()).collect();
        let mut out = [0.0; 4];
        band_powers(&x, fs, &edges, &mut out);
        for (b, p) in out.iter().enumerate() {
            let expected = 4.0 * (edges[b + 1] - edges[b]) / 12_800.0;
            assert!((p / expected - 1.0).abs() < 0.1, "band {b}: {p} vs {expected}");
        }
    }
}
