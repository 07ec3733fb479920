//! Motor current signature analysis (MCSA) of a stator current streamed as contiguous windows:
//! RMS, supply frequency, broken-rotor-bar sidebands and the 5th and 7th harmonics.
//!
//! A broken rotor bar modulates the stator current and puts sidebands at `(1 ± 2s)·f` around the
//! supply frequency `f` (slip `s` of 1-3%, so 0.5-3 Hz from a 50 or 60 Hz carrier), about 50 dB
//! below the carrier on a healthy motor and 30 dB or less below it once bars break (Thomson &
//! Fenger, "Current signature analysis to detect induction motor faults", IEEE Industry
//! Applications Magazine 7(4), 2001). Telling a line 1 Hz from a carrier 50 dB stronger needs
//! about 0.1 Hz of resolution, so ten seconds of signal, while a gateway sends the current in
//! chunks of about a second. So the front-end keeps a stream across windows: each window is
//! mixed down by the tracked supply frequency to complex baseband, low-pass filtered and
//! decimated to about 50 Hz, and the last `history_seconds` of baseband are analysed together.
//!
//! A healthy motor's sideband estimate wanders: a load that hunts for a few seconds reads as a
//! burst several dB up for as long as it stays in the history. A broken bar's sidebands last. So
//! the level reported is the median of the estimates of the last `sideband_median_seconds`: a
//! burst that lifts the estimates for less than half that span does not move it, a lasting
//! sideband shows fully once it has lifted them for half of it. When the history restarts (a gap,
//! a new sample rate, a drive changing speed) the estimates go with it, so for about half the span
//! after the new history fills, the median filters less.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::fft::{Complex, fft_in_place};
use super::window::MAX_FFT_LEN;
use crate::sample::Timestamp;

/// Lowest sample rate accepted: the 7th harmonic of a 70 Hz supply (490 Hz) stays below Nyquist.
pub const MIN_SAMPLE_RATE_HZ: f64 = 1_000.0;
/// Highest sample rate accepted; it bounds the decimation filter (and so the state) to ~2,000 taps.
pub const MAX_SAMPLE_RATE_HZ: f64 = 25_600.0;
/// Shortest window accepted: four cycles of a 40 Hz supply, the least the per-window supply search
/// can locate a carrier in.
pub const MIN_WINDOW_SECONDS: f64 = 0.1;
/// Longest `sideband_median_seconds` accepted: with windows of at least [`MIN_WINDOW_SECONDS`],
/// the median never spans more than 3,001 estimates.
pub const MAX_SIDEBAND_MEDIAN_SECONDS: f64 = 300.0;
/// Value of a ratio in dB when there is nothing to measure (no carrier, or an empty sideband band
/// while the history is short): the floor 10·log10 of [`RATIO_FLOOR`].
pub const FLOOR_DB: f64 = -120.0;

/// The smallest change of a sideband or harmonic ratio that says anything about the motor, in dB.
/// On the simulator's healthy pumps, whose load hunts a little, the sideband level estimated over
/// 10 s wanders with a standard deviation of about 1 dB over an hour, the harmonics' by less than
/// 0.1 dB; severity scales for broken rotor bars go in steps of several dB (Thomson & Fenger 2001).
/// So a change smaller than this is measurement noise, however steady the reading has been.
pub const DB_RESOLUTION: f64 = 1.0;

/// Added to power ratios before `log10`, so no energy reads as [`FLOOR_DB`] rather than -inf.
const RATIO_FLOOR: f64 = 1e-12;
/// Baseband rate aimed at: the sideband band (±5 Hz) plus any carrier offset (up to
/// [`RETUNE_HZ`]) fits in its ±25 Hz with room to spare, and 10 s of history are 500 samples.
const BASEBAND_RATE_HZ: f64 = 50.0;
/// Cascaded boxcar (CIC, Hogenauer 1981) stages of the decimation filter. A boxcar as long as the
/// decimation factor has nulls exactly where aliases would land on the carrier; four stages
/// put every component that could alias into the sideband band at least ~100 dB down (the mirror
/// image of the carrier at -2f included), with less than 1 dB of droop at 5 Hz, which is undone.
const CIC_STAGES: usize = 4;
/// The local oscillator is retuned (and the history restarted) when the supply moves further than
/// this from it.
const RETUNE_HZ: f64 = 2.0;
/// The carrier is looked for this far from the local oscillator in baseband.
const CARRIER_SEARCH_HZ: f64 = RETUNE_HZ + 0.5;
/// Baseband samples needed before the baseband spectrum is used (0.32 s at 50 Hz).
const MIN_BASEBAND_SAMPLES: usize = 16;
/// Half-width of the 4-term Blackman-Harris main lobe, in bins of the unpadded window (Harris 1978).
const MAIN_LOBE_BINS: f64 = 4.0;
/// A supply line carrying less than this share of a window's energy is no supply at all: a
/// disconnected clamp reads noise, and noise against noise would read as the sidebands and
/// harmonics of a broken motor. Such a window reports [`FLOOR_DB`] for both; the fall of `rms`
/// and a wandering `supply_hz` are what show the sensor fault. A running motor's fundamental
/// carries well over 90% of its current's energy.
const MIN_SUPPLY_SHARE: f64 = 0.5;

/// How a motor-current channel is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MotorCurrentParams {
    /// Seconds of baseband the sideband spectrum is computed over; the resolution is about
    /// `1 / history_seconds` Hz.
    pub history_seconds: f64,
    /// Lowest supply frequency searched.
    pub supply_min_hz: f64,
    /// Highest supply frequency searched.
    pub supply_max_hz: f64,
    /// Sideband energy is measured from this offset from the carrier ...
    pub sideband_min_offset_hz: f64,
    /// ... to this one, on either side.
    pub sideband_max_offset_hz: f64,
    /// `sideband_db` is the median of the estimates made over this many seconds (0: each estimate
    /// as it is). Longer filters longer bursts and shows a new sideband later, after half of it.
    pub sideband_median_seconds: f64,
    /// A window whose timestamp is further than this from where the previous window ended starts
    /// a new history (a gap, an overlap, a gateway restart).
    pub max_timing_error_ms: f64,
}

impl Default for MotorCurrentParams {
    fn default() -> Self {
        MotorCurrentParams {
            history_seconds: 10.0,
            supply_min_hz: 40.0,
            supply_max_hz: 70.0,
            sideband_min_offset_hz: 0.5,
            sideband_max_offset_hz: 5.0,
            sideband_median_seconds: 30.0,
            max_timing_error_ms: 2.0,
        }
    }
}

impl MotorCurrentParams {
    /// Feature names, in output order.
    pub const FEATURE_NAMES: [&'static str; 4] = ["rms", "supply_hz", "sideband_db", "harmonics_db"];

    /// The smallest meaningful change of each feature, in its unit (0: none; see
    /// `Normaliser::with_resolution`). The ratios in dB are read to [`DB_RESOLUTION`].
    pub const FEATURE_RESOLUTION: [f64; 4] = [0.0, 0.0, DB_RESOLUTION, DB_RESOLUTION];

    /// Checks ranges and relations; the error names the offending field.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        let ok = |x: f64, lo: f64, hi: f64| x.is_finite() && x >= lo && x <= hi;
        if !ok(self.history_seconds, 1.0, 60.0) {
            return Err(("motor_current.history_seconds", "must be in 1..=60"));
        }
        if !ok(self.supply_min_hz, 10.0, 100.0) {
            return Err(("motor_current.supply_min_hz", "must be in 10..=100"));
        }
        if !ok(self.supply_max_hz, 10.0, 100.0) || self.supply_max_hz <= self.supply_min_hz {
            return Err(("motor_current.supply_max_hz", "must be in 10..=100 and above supply_min_hz"));
        }
        if !ok(self.sideband_min_offset_hz, 0.0, 10.0) || self.sideband_min_offset_hz <= 0.0 {
            return Err(("motor_current.sideband_min_offset_hz", "must be in (0, 10]"));
        }
        if !ok(self.sideband_max_offset_hz, 0.0, 10.0) || self.sideband_max_offset_hz <= self.sideband_min_offset_hz {
            return Err((
                "motor_current.sideband_max_offset_hz",
                "must be at most 10 and above sideband_min_offset_hz",
            ));
        }
        if !ok(self.sideband_median_seconds, 0.0, MAX_SIDEBAND_MEDIAN_SECONDS) {
            return Err(("motor_current.sideband_median_seconds", "must be in 0..=300"));
        }
        if !ok(self.max_timing_error_ms, 0.0, 1_000.0) {
            return Err(("motor_current.max_timing_error_ms", "must be in 0..=1000"));
        }
        Ok(())
    }
}

/// True for a window this front-end can analyse: a sample rate in
/// [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`] and at least [`MIN_WINDOW_SECONDS`] long.
pub fn accepts(sample_rate_hz: f64, len: usize) -> bool {
    (MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sample_rate_hz)
        && len as f64 >= MIN_WINDOW_SECONDS * sample_rate_hz
}

/// The state a motor-current channel keeps between windows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MotorCurrent {
    /// The stream being analysed; `None` until the first window.
    stream: Option<Stream>,
}

/// One uninterrupted stretch of the current: the mixer, the decimation filter and the baseband
/// history. Every buffer but the sideband estimates (which the median's span bounds) is sized when
/// the stream starts and never grows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stream {
    sample_rate_hz: f64,
    /// Where the next window should start, in microseconds.
    expected_next_us: f64,
    /// Frequency of the local oscillator that mixes the supply down to baseband.
    lo_hz: f64,
    /// Oscillator phase at the next sample, in cycles in [0, 1).
    lo_phase: f64,
    /// Input samples per baseband sample.
    decimation: usize,
    /// Mixed input samples (ring), as long as the filter.
    taps: Vec<Complex>,
    /// Where the next mixed sample goes in `taps`.
    taps_head: usize,
    /// Mixed samples seen, up to `taps.len()`: outputs wait for a full filter.
    taps_filled: usize,
    /// Input samples since the last decimation instant.
    since_output: usize,
    /// Baseband samples (ring).
    baseband: Vec<Complex>,
    /// Where the next baseband sample goes.
    baseband_head: usize,
    /// Baseband samples held, up to `baseband.len()`.
    baseband_filled: usize,
    /// Sideband estimates made on a full history while the supply was present, as (time of the
    /// window in microseconds, dB), oldest first, over the last `sideband_median_seconds`.
    sideband_estimates: VecDeque<(i64, f64)>,
}

impl Stream {
    fn new(sample_rate_hz: f64, lo_hz: f64, params: &MotorCurrentParams) -> Self {
        let decimation = ((sample_rate_hz / BASEBAND_RATE_HZ).floor() as usize).max(1);
        let baseband_rate = sample_rate_hz / decimation as f64;
        let history = (params.history_seconds * baseband_rate).ceil() as usize;
        Stream {
            sample_rate_hz,
            expected_next_us: 0.0,
            lo_hz,
            lo_phase: 0.0,
            decimation,
            taps: vec![(0.0, 0.0); CIC_STAGES * (decimation - 1) + 1],
            taps_head: 0,
            taps_filled: 0,
            since_output: 0,
            baseband: vec![(0.0, 0.0); history],
            baseband_head: 0,
            baseband_filled: 0,
            sideband_estimates: VecDeque::new(),
        }
    }

    fn baseband_rate_hz(&self) -> f64 {
        self.sample_rate_hz / self.decimation as f64
    }

    /// Mixes `samples` (less `mean`) down by the oscillator, filters and decimates them into the
    /// history. Removing each window's mean keeps a sensor's DC offset out of the baseband
    /// altogether, so a silent or disconnected sensor reads as no carrier at all.
    fn push(&mut self, samples: &[f32], mean: f64) {
        let kernel = cic_kernel(self.decimation, CIC_STAGES);
        let fs = self.sample_rate_hz;
        // A complex rotator, restarted from the exact phase every window so rounding cannot build up.
        let (s, c) = (-std::f64::consts::TAU * self.lo_phase).sin_cos();
        let mut osc = (c, s);
        let (s, c) = (-std::f64::consts::TAU * self.lo_hz / fs).sin_cos();
        let step = (c, s);
        let n_taps = self.taps.len();
        for &x in samples {
            let x = f64::from(x) - mean;
            self.taps[self.taps_head] = (x * osc.0, x * osc.1);
            self.taps_head = (self.taps_head + 1) % n_taps;
            self.taps_filled = (self.taps_filled + 1).min(n_taps);
            osc = (osc.0 * step.0 - osc.1 * step.1, osc.0 * step.1 + osc.1 * step.0);
            self.since_output += 1;
            if self.since_output == self.decimation {
                self.since_output = 0;
                if self.taps_filled == n_taps {
                    let y = self.filter_output(&kernel);
                    let len = self.baseband.len();
                    self.baseband[self.baseband_head] = y;
                    self.baseband_head = (self.baseband_head + 1) % len;
                    self.baseband_filled = (self.baseband_filled + 1).min(len);
                }
            }
        }
        self.lo_phase = (self.lo_phase + samples.len() as f64 * self.lo_hz / fs).rem_euclid(1.0);
    }

    /// The filter's output at the newest mixed sample.
    fn filter_output(&self, kernel: &[f64]) -> Complex {
        debug_assert_eq!(kernel.len(), self.taps.len());
        // Oldest to newest; the kernel is symmetric, so its orientation does not matter.
        let (oldest, newest) = (&self.taps[self.taps_head..], &self.taps[..self.taps_head]);
        let mut acc = (0.0, 0.0);
        for (h, v) in kernel.iter().zip(oldest.iter().chain(newest)) {
            acc.0 += h * v.0;
            acc.1 += h * v.1;
        }
        acc
    }

    /// Power gain of the decimation filter at baseband frequency `f_hz`, for undoing its droop.
    fn filter_power_gain(&self, f_hz: f64) -> f64 {
        let m = self.decimation as f64;
        let x = std::f64::consts::PI * f_hz / self.sample_rate_hz;
        let gain = if x.abs() < 1e-12 { 1.0 } else { (m * x).sin() / (m * x.sin()) };
        gain.powi(2 * CIC_STAGES as i32)
    }

    /// Locates the carrier in the baseband spectrum and measures the sidebands around it:
    /// `(supply_hz, sideband_db)`, or `None` while the history is too short to say anything.
    fn sidebands(&self, params: &MotorCurrentParams) -> Option<(f64, f64)> {
        let n = self.baseband_filled;
        if n < MIN_BASEBAND_SAMPLES {
            return None;
        }
        let len = self.baseband.len();
        let n_fft = len.next_power_of_two();
        let oldest = (self.baseband_head + len - n) % len;
        let window = blackman_harris(n);
        let mut buf: Vec<Complex> = vec![(0.0, 0.0); n_fft];
        for (i, (b, w)) in buf.iter_mut().zip(&window).enumerate() {
            let v = self.baseband[(oldest + i) % len];
            *b = (v.0 * w, v.1 * w);
        }
        fft_in_place(&mut buf, false);
        let rate = self.baseband_rate_hz();
        let bin_hz = rate / n_fft as f64;
        let freq = |k: usize| if k < n_fft / 2 { k as f64 * bin_hz } else { (k as f64 - n_fft as f64) * bin_hz };
        // Only the bins near the carrier are ever used; the filter's droop is undone on them.
        let power = |k: usize| {
            let (re, im) = buf[k % n_fft];
            (re * re + im * im) / self.filter_power_gain(freq(k % n_fft))
        };
        let reach = (CARRIER_SEARCH_HZ / bin_hz).ceil() as usize;
        // Bins as signed offsets from 0 Hz, mapped into the FFT's layout.
        let at = |j: isize| j.rem_euclid(n_fft as isize) as usize;
        let peak =
            (-(reach as isize)..=reach as isize).max_by(|&a, &b| power(at(a)).total_cmp(&power(at(b)))).unwrap_or(0);
        let delta = gaussian_peak_offset(power(at(peak - 1)), power(at(peak)), power(at(peak + 1)));
        let carrier_hz = (peak as f64 + delta) * bin_hz;

        let lobe_hz = MAIN_LOBE_BINS * rate / n as f64;
        let lo = params.sideband_min_offset_hz.max(lobe_hz);
        let hi = params.sideband_max_offset_hz;
        let span = ((hi + lobe_hz) / bin_hz).ceil() as isize + 1;
        let (mut carrier, mut lower, mut upper) = (0.0, 0.0, 0.0);
        for j in peak - span..=peak + span {
            let offset = j as f64 * bin_hz - carrier_hz;
            let p = power(at(j));
            if offset.abs() < lobe_hz {
                carrier += p;
            } else if (lo..=hi).contains(&offset) {
                upper += p;
            } else if (lo..=hi).contains(&-offset) {
                lower += p;
            }
        }
        if carrier <= 0.0 {
            // No carrier at all (a silent channel): nothing to locate or compare against.
            return Some((self.lo_hz, FLOOR_DB));
        }
        Some((self.lo_hz + carrier_hz, ratio_db(f64::max(lower, upper), carrier)))
    }

    /// Records `estimate`, made at `t_us`, and returns the median of the estimates of the last
    /// `sideband_median_seconds`. While the history is still filling (after a start or a
    /// restart), its estimates cover less of the band (see [`MotorCurrent::compute`]) and would
    /// drag the median down, so they are returned as they are and not recorded.
    ///
    /// A span holds at most one estimate per [`MIN_WINDOW_SECONDS`]: a gateway clock that lags its
    /// windows (each accepted within `max_timing_error_ms`) must not let the estimates pile up.
    fn sideband_median(&mut self, t_us: i64, estimate: f64, params: &MotorCurrentParams) -> f64 {
        if self.baseband_filled < self.baseband.len() {
            return estimate;
        }
        let span_us = (params.sideband_median_seconds * 1e6) as i64;
        let most = (params.sideband_median_seconds / MIN_WINDOW_SECONDS) as usize + 1;
        self.sideband_estimates.push_back((t_us, estimate));
        while self.sideband_estimates.len() > most
            || self.sideband_estimates.front().is_some_and(|&(t, _)| t_us - t > span_us)
        {
            self.sideband_estimates.pop_front();
        }
        median(&self.sideband_estimates)
    }
}

/// The median of the estimates' values (the mean of the middle two for an even count); the
/// caller never passes none.
fn median(estimates: &VecDeque<(i64, f64)>) -> f64 {
    let mut v: Vec<f64> = estimates.iter().map(|&(_, db)| db).collect();
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

impl MotorCurrent {
    /// Computes the features of one window of the current (the caller checked [`accepts`]) into
    /// `out` (length 4, in the order of [`MotorCurrentParams::FEATURE_NAMES`]):
    ///
    /// - `rms`: root mean square of the window (mean removed), in the current's units (A);
    /// - `supply_hz`: the supply frequency, located in the baseband spectrum of the history (to
    ///   a few mHz on a 10 s history); from this window alone while the history is shorter than
    ///   16 baseband samples;
    /// - `sideband_db`: energy between `sideband_min_offset_hz` and `sideband_max_offset_hz`
    ///   from the carrier, on the stronger side, relative to the carrier's, in dB (a pair of
    ///   sidebands each 40 dB below the carrier reads -40). The carrier's own leakage (its
    ///   Blackman-Harris main lobe, 4 bins of `1 / history` Hz) is left out, so while the
    ///   history is short the band starts further out: the estimate covers what the history
    ///   can resolve (4-5 Hz after one second, from 0.5 Hz after eight) and reads [`FLOOR_DB`]
    ///   when it resolves nothing yet. Once the history is full, the median of the estimates of
    ///   the last `sideband_median_seconds`;
    /// - `harmonics_db`: energy of the 5th and 7th harmonics relative to the fundamental, in dB,
    ///   from this window (its first [`MAX_FFT_LEN`] samples when longer; a harmonic whose main
    ///   lobe reaches past Nyquist counts as nothing).
    ///
    /// The history restarts (and so the sideband estimate starts short again) when the sample
    /// rate changes, when a window does not start where the previous one ended (within
    /// `max_timing_error_ms`), and when the supply moves more than 2 Hz from the oscillator.
    pub fn compute(
        &mut self,
        t: Timestamp,
        sample_rate_hz: f64,
        samples: &[f32],
        params: &MotorCurrentParams,
        out: &mut [f64],
    ) {
        debug_assert_eq!(out.len(), MotorCurrentParams::FEATURE_NAMES.len());
        let len = samples.len();
        let mean = samples.iter().map(|&s| f64::from(s)).sum::<f64>() / len as f64;
        let variance = samples.iter().map(|&s| (f64::from(s) - mean).powi(2)).sum::<f64>() / len as f64;
        out[0] = variance.sqrt();

        let spectrum = RawSpectrum::new(sample_rate_hz, samples, mean);
        // A silent channel has no supply to find: it keeps the oscillator where it was (the middle
        // of the search range at first), so silence neither retunes nor moves `supply_hz`.
        let coarse_hz = spectrum.peak_hz(params.supply_min_hz, params.supply_max_hz).unwrap_or_else(|| {
            self.stream.as_ref().map_or(0.5 * (params.supply_min_hz + params.supply_max_hz), |s| s.lo_hz)
        });

        let t_us = t.0 as f64;
        let continues = self.stream.as_ref().is_some_and(|s| {
            s.sample_rate_hz == sample_rate_hz
                && (t_us - s.expected_next_us).abs() <= params.max_timing_error_ms * 1_000.0
                && (coarse_hz - s.lo_hz).abs() <= RETUNE_HZ
        });
        if !continues {
            self.stream = None;
        }
        let stream = self.stream.get_or_insert_with(|| Stream::new(sample_rate_hz, coarse_hz, params));
        stream.push(samples, mean);
        stream.expected_next_us = t_us + len as f64 * 1e6 / sample_rate_hz;

        let (supply_hz, sideband_db) = stream.sidebands(params).unwrap_or((coarse_hz, FLOOR_DB));
        out[1] = supply_hz;
        if spectrum.share_of_line(coarse_hz) >= MIN_SUPPLY_SHARE {
            out[2] = stream.sideband_median(t.0, sideband_db, params);
            out[3] = spectrum.harmonics_db(supply_hz);
        } else {
            out[2] = FLOOR_DB;
            out[3] = FLOOR_DB;
        }
    }
}

/// The Blackman-Harris-windowed power spectrum of one window (mean removed, at most
/// [`MAX_FFT_LEN`] samples), zero-padded to a power of two.
struct RawSpectrum {
    power: Vec<f64>,
    bin_hz: f64,
    /// Half-width of a line's main lobe, in bins of the padded spectrum.
    lobe_bins: f64,
}

impl RawSpectrum {
    fn new(sample_rate_hz: f64, samples: &[f32], mean: f64) -> Self {
        let x = &samples[..samples.len().min(MAX_FFT_LEN)];
        let n_fft = x.len().next_power_of_two();
        let window = blackman_harris(x.len());
        let mut buf: Vec<Complex> = vec![(0.0, 0.0); n_fft];
        for (b, (&v, w)) in buf.iter_mut().zip(x.iter().zip(&window)) {
            *b = ((f64::from(v) - mean) * w, 0.0);
        }
        fft_in_place(&mut buf, false);
        let power = buf[..=n_fft / 2].iter().map(|c| c.0 * c.0 + c.1 * c.1).collect();
        RawSpectrum {
            power,
            bin_hz: sample_rate_hz / n_fft as f64,
            lobe_bins: MAIN_LOBE_BINS * n_fft as f64 / x.len() as f64,
        }
    }

    /// The strongest line between `lo_hz` and `hi_hz`, interpolated between bins; `None` when
    /// there is no energy there at all.
    fn peak_hz(&self, lo_hz: f64, hi_hz: f64) -> Option<f64> {
        let last = self.power.len() - 2;
        let first = ((lo_hz / self.bin_hz).floor() as usize).clamp(1, last);
        let end = ((hi_hz / self.bin_hz).ceil() as usize).clamp(first, last);
        let k = (first..=end).max_by(|&a, &b| self.power[a].total_cmp(&self.power[b])).unwrap_or(first);
        if self.power[k] <= 0.0 {
            return None;
        }
        let delta = gaussian_peak_offset(self.power[k - 1], self.power[k], self.power[k + 1]);
        Some(((k as f64 + delta) * self.bin_hz).clamp(lo_hz, hi_hz))
    }

    /// Energy of the line at `f_hz` (its main lobe, plus a bin for the frequency's uncertainty);
    /// 0 when the lobe reaches past Nyquist.
    fn line_energy(&self, f_hz: f64) -> f64 {
        let centre = f_hz / self.bin_hz;
        let reach = self.lobe_bins + 1.0;
        let (lo, hi) = ((centre - reach).ceil().max(1.0) as usize, (centre + reach).floor() as usize);
        if hi >= self.power.len() {
            return 0.0;
        }
        self.power[lo..=hi].iter().sum()
    }

    /// The share of the window's energy in the line at `f_hz` (0 for an empty window).
    fn share_of_line(&self, f_hz: f64) -> f64 {
        let total: f64 = self.power[1..].iter().sum();
        if total > 0.0 { self.line_energy(f_hz) / total } else { 0.0 }
    }

    /// 5th plus 7th harmonic over the fundamental at `supply_hz`, in dB.
    fn harmonics_db(&self, supply_hz: f64) -> f64 {
        let fundamental = self.line_energy(supply_hz);
        ratio_db(self.line_energy(5.0 * supply_hz) + self.line_energy(7.0 * supply_hz), fundamental)
    }
}

/// `10·log10(num / den)`, [`FLOOR_DB`] at the least and when `den` is 0.
fn ratio_db(num: f64, den: f64) -> f64 {
    if den > 0.0 { (10.0 * (num / den + RATIO_FLOOR).log10()).max(FLOOR_DB) } else { FLOOR_DB }
}

/// Offset in bins (within ±0.5) of a spectral peak from its strongest bin `b`, given the powers of
/// its neighbours: the vertex of a parabola through the log powers, exact for a Gaussian lobe and
/// close for a Blackman-Harris one (Gasior & Gonzalez 2004).
fn gaussian_peak_offset(a: f64, b: f64, c: f64) -> f64 {
    let (la, lb, lc) = ((a + f64::MIN_POSITIVE).ln(), (b + f64::MIN_POSITIVE).ln(), (c + f64::MIN_POSITIVE).ln());
    let curvature = la - 2.0 * lb + lc;
    if curvature < 0.0 { (0.5 * (la - lc) / curvature).clamp(-0.5, 0.5) } else { 0.0 }
}

/// The 4-term Blackman-Harris window of length `n` (periodic form; -92 dB sidelobes, main lobe
/// ±4 bins; Harris, "On the use of windows for harmonic analysis with the DFT", Proc. IEEE 1978).
/// Low sidelobes matter here: the sidebands sit 50 dB under a carrier a few bins away.
fn blackman_harris(n: usize) -> Vec<f64> {
    const A: [f64; 4] = [0.35875, 0.48829, 0.14128, 0.01168];
    (0..n)
        .map(|i| {
            let c = (std::f64::consts::TAU * i as f64 / n as f64).cos();
            // cos 2x and cos 3x from cos x (Chebyshev), one trigonometric call per sample.
            let c2 = 2.0 * c * c - 1.0;
            let c3 = (4.0 * c * c - 3.0) * c;
            A[0] - A[1] * c + A[2] * c2 - A[3] * c3
        })
        .collect()
}

/// Impulse response of `stages` cascaded boxcars of length `m`, normalised to unit DC gain:
/// `stages·(m-1)+1` taps, built with running sums.
fn cic_kernel(m: usize, stages: usize) -> Vec<f64> {
    let len = stages * (m - 1) + 1;
    let mut h = vec![0.0; len];
    h[0] = 1.0;
    let mut filled = 1;
    let mut next = vec![0.0; len];
    for _ in 0..stages {
        let new_len = filled + m - 1;
        let mut running = 0.0;
        for (i, out) in next.iter_mut().enumerate().take(new_len) {
            running += if i < filled { h[i] } else { 0.0 };
            if i >= m {
                running -= h[i - m];
            }
            *out = running / m as f64;
        }
        std::mem::swap(&mut h, &mut next);
        filled = new_len;
    }
    h
}

/// Synthetic currents and the front-end's tests; the whole-model tests use the same motor.
#[cfg(test)]
pub(crate) mod tests;
