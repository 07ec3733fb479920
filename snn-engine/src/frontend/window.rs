//! Features of one block of fast samples (vibration, acoustic): RMS, crest factor, kurtosis,
//! log band energies and the envelope-spectrum ratio.

use serde::{Deserialize, Serialize};

use super::fft::{Complex, fft_in_place, hann};
use super::resonator_bank;

/// Longest window analysed; longer windows are truncated so one message has a bounded cost.
pub const MAX_FFT_LEN: usize = 1 << 16;

/// Upper edge of the envelope-spectrum band: bearing defect frequencies (BPFO, BPFI, BSF, FTF) of
/// industrial machines lie roughly between 10 Hz and a few hundred Hz (Randall & Antoni 2011).
const ENVELOPE_LOW_HZ: f64 = 10.0;
const ENVELOPE_HIGH_HZ: f64 = 500.0;

/// Floor added before `log10` so an empty band is a finite (very low) energy.
const LOG_FLOOR: f64 = 1e-12;

/// What measures the band energies of a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BandBank {
    /// A Hann-windowed FFT, its bins summed per band.
    #[default]
    Fft,
    /// Resonate-and-fire neurons' oscillators driven sample by sample (see
    /// [`resonator_bank::band_powers`]), the form a neuromorphic chip computes.
    Resonate,
}

/// How a window channel is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowParams {
    /// Lower edge of the lowest band; bands are log-spaced from here to Nyquist.
    pub band_min_hz: f64,
    /// Number of log-spaced bands.
    pub band_count: usize,
    /// What measures the band energies.
    pub band_bank: BandBank,
    /// The envelope is demodulated from this frequency up to Nyquist.
    pub envelope_band_min_hz: f64,
}

impl WindowParams {
    /// Features per window channel: rms, crest, kurtosis, the bands, the envelope ratio.
    pub fn feature_count(&self) -> usize {
        3 + self.band_count + 1
    }

    /// Feature names in output order, for a channel sampled at `sample_rate_hz`.
    pub fn feature_names(&self, sample_rate_hz: f64) -> Vec<String> {
        let mut names = vec!["rms".to_owned(), "crest".to_owned(), "kurtosis".to_owned()];
        let edges = self.band_edges(sample_rate_hz);
        for w in edges.windows(2) {
            names.push(format!("band_{:.0}_{:.0}_hz", w[0], w[1]));
        }
        names.push("envelope_ratio".to_owned());
        names
    }

    /// `band_count + 1` log-spaced edges from `band_min_hz` to Nyquist. When the lowest edge is
    /// at or above Nyquist the bands start one octave per band below Nyquist instead.
    pub fn band_edges(&self, sample_rate_hz: f64) -> Vec<f64> {
        let nyquist = sample_rate_hz / 2.0;
        let n = self.band_count;
        let lo = if self.band_min_hz < nyquist { self.band_min_hz } else { nyquist / 2f64.powi(n as i32) };
        let ratio = (nyquist / lo).powf(1.0 / n as f64);
        (0..=n).map(|i| if i == n { nyquist } else { lo * ratio.powi(i as i32) }).collect()
    }
}

/// Computes the window features into `out` (length `params.feature_count()`).
/// The caller guarantees finite samples, a positive rate and at least a handful of samples.
///
/// - `rms`: root mean square of the mean-removed signal (vibration sensors are AC coupled);
/// - `crest`: peak |x| over rms, which rises with impacts before rms does;
/// - `kurtosis`: fourth standardised moment (3 for Gaussian noise), the classic impulsiveness
///   indicator for bearing faults (Dyer & Stewart 1978);
/// - `band_*`: log10 of the mean-square power in each band, from a Hann-windowed,
///   zero-padded FFT normalised by the window power so the bands sum to the signal's variance
///   ([`BandBank::Fft`]), or from resonators on the same bands calibrated to the same scale
///   ([`BandBank::Resonate`]);
/// - `envelope_ratio`: the share of the envelope spectrum's energy between 10 and 500 Hz, where
///   the envelope is the magnitude of the analytic signal of the band above
///   `envelope_band_min_hz` (envelope analysis, Randall & Antoni 2011). Broadband noise gives a
///   flat envelope spectrum and a small ratio; periodic impacts exciting a resonance give lines
///   at the defect frequency and a large one.
pub fn window_features(sample_rate_hz: f64, samples: &[f32], params: &WindowParams, out: &mut [f64]) {
    debug_assert_eq!(out.len(), params.feature_count());
    let x: Vec<f64> = samples.iter().take(MAX_FFT_LEN).map(|&s| f64::from(s)).collect();
    let len = x.len();
    let mean = x.iter().sum::<f64>() / len as f64;
    let centred: Vec<f64> = x.iter().map(|v| v - mean).collect();

    let m2 = centred.iter().map(|v| v * v).sum::<f64>() / len as f64;
    let m4 = centred.iter().map(|v| (v * v) * (v * v)).sum::<f64>() / len as f64;
    let rms = m2.sqrt();
    let peak = centred.iter().fold(0.0f64, |p, v| p.max(v.abs()));
    out[0] = rms;
    out[1] = if rms > 0.0 { peak / rms } else { 0.0 };
    out[2] = if m2 > 0.0 { m4 / (m2 * m2) } else { 0.0 };

    let edges = params.band_edges(sample_rate_hz);
    let band_out = &mut out[3..3 + params.band_count];
    match params.band_bank {
        BandBank::Fft => fft_band_powers(&centred, sample_rate_hz, &edges, band_out),
        BandBank::Resonate => resonator_bank::band_powers(&centred, sample_rate_hz, &edges, band_out),
    }
    band_out.iter_mut().for_each(|b| *b = (*b + LOG_FLOOR).log10());

    out[3 + params.band_count] = envelope_ratio(&centred, sample_rate_hz, params.envelope_band_min_hz);
}

/// Mean-square power of `centred` in each band between consecutive `edges`, into `band_out`, from
/// the Hann-windowed spectrum.
fn fft_band_powers(centred: &[f64], sample_rate_hz: f64, edges: &[f64], band_out: &mut [f64]) {
    let len = centred.len();
    let band_count = band_out.len();
    let n_fft = len.next_power_of_two();
    let bin_hz = sample_rate_hz / n_fft as f64;
    let w = hann(len);
    let w_power: f64 = w.iter().map(|v| v * v).sum();
    let mut buf: Vec<Complex> = vec![(0.0, 0.0); n_fft];
    for (b, (v, wv)) in buf.iter_mut().zip(centred.iter().zip(&w)) {
        *b = (v * wv, 0.0);
    }
    fft_in_place(&mut buf, false);
    // One-sided power normalised (Parseval) so the sum over bins ~ variance of the signal.
    let scale = 2.0 / (n_fft as f64 * w_power);
    band_out.iter_mut().for_each(|b| *b = 0.0);
    for (k, c) in buf.iter().enumerate().take(n_fft / 2 + 1).skip(1) {
        let f = k as f64 * bin_hz;
        if let Some(band) = edges.windows(2).position(|e| f >= e[0] && f < e[1]) {
            band_out[band] += (c.0 * c.0 + c.1 * c.1) * scale;
        } else if k == n_fft / 2 && f >= edges[0] {
            // The Nyquist bin belongs to the top band.
            band_out[band_count - 1] += (c.0 * c.0 + c.1 * c.1) * scale;
        }
    }
}

/// Share of the envelope spectrum's AC energy between 10 and 500 Hz (see `window_features`).
fn envelope_ratio(centred: &[f64], sample_rate_hz: f64, band_min_hz: f64) -> f64 {
    let len = centred.len();
    let n_fft = len.next_power_of_two();
    let bin_hz = sample_rate_hz / n_fft as f64;
    let mut buf: Vec<Complex> = vec![(0.0, 0.0); n_fft];
    for (b, &v) in buf.iter_mut().zip(centred) {
        *b = (v, 0.0);
    }
    fft_in_place(&mut buf, false);
    // Analytic signal of the high band: keep positive frequencies >= band_min_hz, doubled.
    for (k, c) in buf.iter_mut().enumerate() {
        let keep = k > 0 && k < n_fft / 2 && k as f64 * bin_hz >= band_min_hz;
        *c = if keep { (2.0 * c.0, 2.0 * c.1) } else { (0.0, 0.0) };
    }
    fft_in_place(&mut buf, true);
    let env: Vec<f64> = buf[..len].iter().map(|c| c.0.hypot(c.1)).collect();
    let env_mean = env.iter().sum::<f64>() / len as f64;
    let w = hann(len);
    let mut spec: Vec<Complex> = vec![(0.0, 0.0); n_fft];
    for (s, (e, wv)) in spec.iter_mut().zip(env.iter().zip(&w)) {
        *s = ((e - env_mean) * wv, 0.0);
    }
    fft_in_place(&mut spec, false);
    let (mut low, mut total) = (0.0, 0.0);
    for (k, c) in spec.iter().enumerate().take(n_fft / 2 + 1).skip(1) {
        let p = c.0 * c.0 + c.1 * c.1;
        total += p;
        let f = k as f64 * bin_hz;
        if (ENVELOPE_LOW_HZ..=ENVELOPE_HIGH_HZ).contains(&f) {
            low += p;
        }
    }
    if total > 0.0 { low / total } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    const FS: f64 = 25_600.0;

    fn params() -> WindowParams {
        WindowParams { band_min_hz: 100.0, band_count: 8, band_bank: BandBank::Fft, envelope_band_min_hz: 2_000.0 }
    }

    fn features(samples: &[f32]) -> Vec<f64> {
        let p = params();
        let mut out = vec![0.0; p.feature_count()];
        window_features(FS, samples, &p, &mut out);
        out
    }

    #[test]
    fn band_edges_are_log_spaced_up_to_nyquist() {
        let e = params().band_edges(FS);
        assert_eq!(e.len(), 9);
        assert_eq!(e[0], 100.0);
        assert_eq!(e[8], 12_800.0);
        let r0 = e[1] / e[0];
        for w in e.windows(2) {
            assert!((w[1] / w[0] - r0).abs() < 1e-9);
        }
        let names = params().feature_names(FS);
        assert_eq!(names.len(), params().feature_count());
        assert_eq!(names[3], "band_100_183_hz");
        assert_eq!(names[11], "envelope_ratio");
    }

    #[test]
    fn sine_energy_lands_in_the_right_band() {
        // 3 kHz sine of amplitude 1: variance 0.5, all of it in the band holding 3 kHz.
        let samples: Vec<f32> =
            (0..2048).map(|i| (std::f64::consts::TAU * 3_000.0 * i as f64 / FS).sin() as f32).collect();
        let f = features(&samples);
        let edges = params().band_edges(FS);
        let band = edges.windows(2).position(|e| 3_000.0 >= e[0] && 3_000.0 < e[1]).unwrap();
        let bands = &f[3..11];
        let best = (0..8).max_by(|&a, &b| bands[a].total_cmp(&bands[b])).unwrap();
        assert_eq!(best, band);
        assert!((10f64.powf(bands[band]) - 0.5).abs() < 0.05, "band power {}", bands[band]);
        for (i, b) in bands.iter().enumerate() {
            if i != band && i + 1 != band && i != band + 1 {
                assert!(*b < bands[band] - 3.0, "band {i} leaks: {b}");
            }
        }
        assert!((f[0] - 0.5f64.sqrt()).abs() < 1e-3, "rms {}", f[0]);
        assert!((f[1] - 2f64.sqrt()).abs() < 0.01, "crest {}", f[1]);
        assert!((f[2] - 1.5).abs() < 0.01, "kurtosis {}", f[2]);
    }

    #[test]
    fn impacts_raise_kurtosis_crest_and_envelope_ratio() {
        let mut rng = SplitMix64::new(3);
        let noise: Vec<f32> = (0..2048).map(|_| (0.3 * rng.next_gaussian()) as f32).collect();
        let mut faulty = noise.clone();
        // Impacts at 90 Hz, each ringing a 3 kHz resonance that decays in ~1 ms.
        let period = FS / 90.0;
        let mut start = 0.0;
        while (start as usize) < faulty.len() {
            for k in 0..200 {
                let i = start as usize + k;
                if i >= faulty.len() {
                    break;
                }
                let t = k as f64 / FS;
                faulty[i] += (2.0 * (-t / 0.001).exp() * (std::f64::consts::TAU * 3_000.0 * t).sin()) as f32;
            }
            start += period;
        }
        let a = features(&noise);
        let b = features(&faulty);
        assert!((a[2] - 3.0).abs() < 0.4, "noise kurtosis {}", a[2]);
        assert!(b[2] > a[2] + 1.0, "kurtosis {} -> {}", a[2], b[2]);
        assert!(b[1] > a[1], "crest {} -> {}", a[1], b[1]);
        assert!(b[11] > 2.0 * a[11], "envelope ratio {} -> {}", a[11], b[11]);
    }

    fn banded(bank: BandBank, samples: &[f32]) -> Vec<f64> {
        let p = WindowParams { band_bank: bank, ..params() };
        let mut out = vec![0.0; p.feature_count()];
        window_features(FS, samples, &p, &mut out);
        out[3..11].to_vec()
    }

    fn tone(hz: f64, amplitude: f64, n: usize) -> Vec<f32> {
        (0..n).map(|i| (amplitude * (std::f64::consts::TAU * hz * i as f64 / FS).sin()) as f32).collect()
    }

    /// The geometric centre of each band.
    fn centres() -> Vec<f64> {
        params().band_edges(FS).windows(2).map(|e| (e[0] * e[1]).sqrt()).collect()
    }

    #[test]
    fn a_tone_in_each_band_is_loudest_in_that_band_with_either_bank() {
        for bank in [BandBank::Fft, BandBank::Resonate] {
            for (k, hz) in centres().into_iter().enumerate() {
                let bands = banded(bank, &tone(hz, 1.0, 2048));
                let best = (0..8).max_by(|&a, &b| bands[a].total_cmp(&bands[b])).unwrap();
                assert_eq!(best, k, "{bank:?}, {hz:.0} Hz: {bands:?}");
                // Variance 0.5, measured within 1.5 dB.
                assert!((bands[k] - 0.5f64.log10()).abs() < 0.15, "{bank:?}, {hz:.0} Hz: {}", bands[k]);
            }
        }
    }

    #[test]
    fn the_resonator_bank_agrees_with_the_fft_bank() {
        let mut rng = SplitMix64::new(5);
        let noise: Vec<f32> = (0..16_384).map(|_| (0.3 * rng.next_gaussian()) as f32).collect();
        // Broadband noise, long and short, and under a strong shaft line below the lowest band
        // (which neither bank may let in): every band within 0.1 (±1 dB).
        let shaft: Vec<f32> = tone(30.0, 1.0, 2048).iter().zip(&noise).map(|(a, b)| a + b).collect();
        for (name, signal) in
            [("noise, 16384 samples", noise.clone()), ("noise, 2048 samples", noise[..2048].to_vec()), ("shaft", shaft)]
        {
            let (fft, rf) = (banded(BandBank::Fft, &signal), banded(BandBank::Resonate, &signal));
            for (k, (a, b)) in fft.iter().zip(&rf).enumerate() {
                assert!((a - b).abs() < 0.1, "{name}, band {k}: fft {a:.3}, resonate {b:.3}");
            }
        }
        // Noise with tones in bands 2 and 6: the tones' bands and the bands clear of their
        // neighbours agree within 0.1; a tone's neighbours also get some of it from the resonators
        // (see `resonator_bank::band_powers`), so they are not compared.
        let c = centres();
        let mix: Vec<f32> = noise
            .iter()
            .zip(tone(c[2], 0.5, 16_384).iter().zip(tone(c[6], 0.2, 16_384)))
            .map(|(n, (a, b))| n + a + b)
            .collect();
        let (fft, rf) = (banded(BandBank::Fft, &mix), banded(BandBank::Resonate, &mix));
        for k in [0, 2, 4, 6] {
            assert!((fft[k] - rf[k]).abs() < 0.1, "mix, band {k}: fft {:.3}, resonate {:.3}", fft[k], rf[k]);
        }
    }

    #[test]
    fn the_resonator_bank_keeps_a_tone_out_of_the_other_bands() {
        for (k, hz) in centres().into_iter().enumerate() {
            let bands = banded(BandBank::Resonate, &tone(hz, 1.0, 2048));
            for (i, b) in bands.iter().enumerate() {
                // Neighbours at least 15 dB down, the rest at least 25 dB.
                let down = if i.abs_diff(k) == 1 { 1.5 } else { 2.5 };
                assert!(i == k || *b < bands[k] - down, "{hz:.0} Hz, band {i}: {b:.2} against {:.2}", bands[k]);
            }
        }
    }

    #[test]
    fn silence_is_finite() {
        let f = features(&[0.0; 64]);
        assert!(f.iter().all(|v| v.is_finite()));
        assert_eq!(f[0], 0.0);
        assert!(banded(BandBank::Resonate, &[0.0; 64]).iter().all(|v| v.is_finite()));
    }
}
