//! A synthetic induction-motor current and the motor-current front-end's tests.

use super::*;
use crate::rng::SplitMix64;
use crate::sample::Reading;

/// Sample rate of the synthetic current, as a typical MCSA gateway streams it.
pub(crate) const FS: f64 = 2_000.0;

/// A stator current: the fundamental at the supply frequency, the 5th and 7th harmonics, a pair of
/// broken-rotor-bar sidebands at `(1 ± 2s)·f` and Gaussian noise, generated sample by sample.
/// Parameters changed between windows are ramped linearly across the next window, as a real load
/// or supply changes smoothly: stepping them would modulate the current once a second and put
/// lines 1, 2, 3 Hz from the carrier, right where the sidebands are measured.
pub(crate) struct Motor {
    /// Supply frequency.
    pub supply_hz: f64,
    /// Peak amplitude of the fundamental, in A.
    pub amplitude: f64,
    /// Slip, a fraction.
    pub slip: f64,
    /// Level of each sideband relative to the fundamental, in dB; `None` for none at all.
    pub sideband_db: Option<f64>,
    /// Levels of the 5th and 7th harmonics relative to the fundamental, in dB.
    pub harmonics_db: [f64; 2],
    /// Standard deviation of the noise, in A.
    pub noise: f64,
    /// Sample rate.
    pub fs: f64,
    rng: SplitMix64,
    /// Phases in cycles: fundamental, lower and upper sideband.
    phases: [f64; 3],
    /// Amplitude, supply, slip and sideband amplitude at the end of the previous window.
    last: Option<[f64; 4]>,
    /// Samples generated so far (sets the timestamps).
    sample: u64,
}

impl Motor {
    /// A 10 A (peak 14.1 A) motor on a `supply_hz` supply at 2% slip, harmonics at -25 and
    /// -30 dB, noise of 50 mA, sidebands at `sideband_db`.
    pub(crate) fn new(seed: u64, supply_hz: f64, sideband_db: Option<f64>) -> Self {
        Motor {
            supply_hz,
            amplitude: 14.1,
            slip: 0.02,
            sideband_db,
            harmonics_db: [-25.0, -30.0],
            noise: 0.05,
            fs: FS,
            rng: SplitMix64::new(seed),
            phases: [0.0, 0.3, 0.7],
            last: None,
            sample: 0,
        }
    }

    /// Skips `seconds` of signal (a gap in the stream): the phases run on, no reading is made.
    pub(crate) fn skip(&mut self, seconds: f64) {
        let n = (seconds * self.fs).round() as u64;
        self.sample += n;
        let f = self.supply_hz;
        let t = n as f64 / self.fs;
        for (p, hz) in self.phases.iter_mut().zip([f, (1.0 - 2.0 * self.slip) * f, (1.0 + 2.0 * self.slip) * f]) {
            *p = (*p + hz * t).fract();
        }
    }

    /// The next `len` samples as a window, stamped with the time of its first sample.
    pub(crate) fn window(&mut self, len: usize) -> (Timestamp, Reading) {
        let fs = self.fs;
        let t = Timestamp((self.sample as f64 * 1e6 / fs).round() as i64);
        let tau = std::f64::consts::TAU;
        let now = [self.amplitude, self.supply_hz, self.slip, self.sideband_db.map_or(0.0, |db| 10f64.powf(db / 20.0))];
        let from = self.last.unwrap_or(now);
        let [h5, h7] = self.harmonics_db.map(|db| 10f64.powf(db / 20.0));
        let samples = (0..len)
            .map(|n| {
                let k = (n + 1) as f64 / len as f64;
                let [a, f, slip, sb] = [0, 1, 2, 3].map(|i| from[i] + k * (now[i] - from[i]));
                let [p, lower, upper] = self.phases;
                let x = a
                    * ((tau * p).sin()
                        + h5 * (tau * 5.0 * p + 0.4).sin()
                        + h7 * (tau * 7.0 * p + 1.3).sin()
                        + sb * ((tau * lower).sin() + (tau * upper).sin()))
                    + self.noise * self.rng.next_gaussian();
                let step = [f / fs, (1.0 - 2.0 * slip) * f / fs, (1.0 + 2.0 * slip) * f / fs];
                for (ph, s) in self.phases.iter_mut().zip(step) {
                    *ph = (*ph + s).fract();
                }
                x as f32
            })
            .collect();
        self.last = Some(now);
        self.sample += len as u64;
        (t, Reading::Window { sample_rate_hz: fs, samples })
    }
}

/// Feeds `windows` one-second windows of `motor` to `fe`; returns the features of each.
fn run(fe: &mut MotorCurrent, motor: &mut Motor, windows: usize) -> Vec<[f64; 4]> {
    (0..windows).map(|_| step(fe, motor.window(FS as usize))).collect()
}

fn step(fe: &mut MotorCurrent, (t, reading): (Timestamp, Reading)) -> [f64; 4] {
    let Reading::Window { sample_rate_hz, samples } = reading else { unreachable!("the motor makes windows") };
    let mut out = [0.0; 4];
    fe.compute(t, sample_rate_hz, &samples, &MotorCurrentParams::default(), &mut out);
    assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
    out
}

fn stream(fe: &MotorCurrent) -> &Stream {
    fe.stream.as_ref().expect("a window was analysed")
}

#[test]
fn supply_frequency_is_located_within_50_mhz_from_the_first_window() {
    for (supply, seed) in [(49.8, 1), (50.0, 2), (60.3, 3)] {
        let mut fe = MotorCurrent::default();
        let out = run(&mut fe, &mut Motor::new(seed, supply, Some(-45.0)), 12);
        for (i, f) in out.iter().enumerate() {
            assert!((f[1] - supply).abs() < 0.05, "{supply} Hz: window {i} reads {}", f[1]);
        }
        // On a full history the estimate is far better than the requirement.
        assert!((out[11][1] - supply).abs() < 0.005, "{supply} Hz: {}", out[11][1]);
        assert!((out[11][0] - 10.0).abs() < 0.1, "rms {}", out[11][0]);
    }
}

#[test]
fn sideband_energy_reads_the_injected_level() {
    for (supply, slip, level) in [(50.0, 0.02, -30.0), (50.0, 0.01, -45.0), (60.0, 0.015, -30.0), (60.0, 0.025, -45.0)]
    {
        let mut motor = Motor::new(7, supply, Some(level));
        motor.slip = slip;
        let out = run(&mut MotorCurrent::default(), &mut motor, 14);
        // Once the history is full (10 s) every estimate is close.
        for f in &out[10..] {
            assert!((f[2] - level).abs() < 3.0, "{supply} Hz, slip {slip}: injected {level} dB, read {}", f[2]);
        }
    }
    let healthy = run(&mut MotorCurrent::default(), &mut Motor::new(8, 50.0, None), 14);
    for f in &healthy[10..] {
        assert!(f[2] < -50.0, "no sidebands, read {}", f[2]);
    }
}

#[test]
fn other_sample_rates_read_the_same() {
    // Rates whose decimated baseband is not an exact 50 Hz put the carrier's mirror image and the
    // harmonics' aliases near, not on, the filter's nulls: they must still stay out of the band.
    for fs in [1_000.0, 1_024.0, 3_333.0, 10_000.0, 25_600.0] {
        for (supply, level) in [(49.8, Some(-40.0)), (60.3, None)] {
            let mut motor = Motor::new(15, supply, level);
            motor.fs = fs;
            let mut fe = MotorCurrent::default();
            let mut last = [0.0; 4];
            for _ in 0..11 {
                last = step(&mut fe, motor.window(fs as usize));
            }
            assert!((last[1] - supply).abs() < 0.005, "{fs} Hz: supply {supply} read {}", last[1]);
            match level {
                Some(l) => assert!((last[2] - l).abs() < 3.0, "{fs} Hz: sidebands {l} read {}", last[2]),
                None => assert!(last[2] < -50.0, "{fs} Hz: no sidebands, read {}", last[2]),
            }
        }
    }
}

#[test]
fn windows_longer_than_the_longest_fft_are_analysed_whole() {
    // Three seconds at 25.6 kHz: the harmonics come from the first 65,536 samples, the baseband
    // takes every sample, so four such windows make a full ten-second history.
    let mut motor = Motor::new(16, 59.7, Some(-35.0));
    motor.fs = 25_600.0;
    let mut fe = MotorCurrent::default();
    let mut last = [0.0; 4];
    for _ in 0..4 {
        last = step(&mut fe, motor.window(76_800));
    }
    assert_eq!(stream(&fe).baseband_filled, stream(&fe).baseband.len());
    assert!((last[1] - 59.7).abs() < 0.005 && (last[2] + 35.0).abs() < 3.0, "{last:?}");
    let expected = 10.0 * (10f64.powf(-2.5) + 10f64.powf(-3.0)).log10();
    assert!((last[3] - expected).abs() < 0.5, "{last:?}");
}

#[test]
fn a_short_history_measures_only_what_it_resolves() {
    // Sidebands 1 Hz from the carrier hide in its main lobe for the first seconds: the estimate
    // starts low (the noise further out) and reaches the injected level once the lobe is narrower.
    let mut motor = Motor::new(9, 50.0, Some(-30.0));
    motor.slip = 0.01;
    let out = run(&mut MotorCurrent::default(), &mut motor, 10);
    assert!(out[0][2] < -50.0, "first second: {}", out[0][2]);
    assert!((out[9][2] + 30.0).abs() < 3.0, "tenth second: {}", out[9][2]);
}

#[test]
fn a_sideband_burst_is_filtered_and_a_lasting_sideband_shows() {
    // A healthy motor at -55 dB whose load hunts for 3 s (sidebands at -40 dB meanwhile), then,
    // a minute later, a broken bar: sidebands at -35 dB from then on.
    let run_with = |median_seconds: f64| {
        let params = MotorCurrentParams { sideband_median_seconds: median_seconds, ..Default::default() };
        let mut motor = Motor::new(17, 50.0, Some(-55.0));
        let mut fe = MotorCurrent::default();
        let mut out = Vec::new();
        for second in 0..150 {
            motor.sideband_db = Some(match second {
                60..63 => -40.0,
                120.. => -35.0,
                _ => -55.0,
            });
            let (t, Reading::Window { samples, .. }) = motor.window(FS as usize) else { unreachable!() };
            let mut f = [0.0; 4];
            fe.compute(t, FS, &samples, &params, &mut f);
            out.push(f[2]);
        }
        out
    };
    let raw = run_with(0.0);
    let median = run_with(30.0);
    let burst = 60..120;
    assert!(burst.clone().any(|s| raw[s] > -48.0), "the burst reaches the raw estimate");
    for s in burst {
        assert!((median[s] + 55.0).abs() < 2.0, "second {s}: the burst moved the median to {}", median[s]);
    }
    // The raw estimates read the bar fully about 6 s after it starts (the history's window
    // weighs its newest seconds little); half the span after that, the median is theirs.
    assert!((raw[127] + 35.0).abs() < 3.0, "raw estimate 7 s after: {}", raw[127]);
    assert!(median[127] < -50.0, "the median waits for half its span: {}", median[127]);
    for (s, level) in median.iter().enumerate().skip(142) {
        assert!((level + 35.0).abs() < 3.0, "second {s}: the lasting sideband reads {level}");
    }
    assert!(median[..10] == raw[..10], "while the history fills, the estimate is as it is");
}

#[test]
fn a_clock_that_lags_its_windows_cannot_pile_up_sideband_estimates() {
    // 0.1 s windows that all carry the same time, each within the 1 s timing tolerance of where
    // the previous one ended: the history continues, but a 1 s median keeps at most 11 estimates.
    let params =
        MotorCurrentParams { sideband_median_seconds: 1.0, max_timing_error_ms: 1_000.0, ..Default::default() };
    let mut motor = Motor::new(18, 50.0, Some(-40.0));
    let mut fe = MotorCurrent::default();
    let mut out = [0.0; 4];
    let mut t0 = None;
    for _ in 0..200 {
        let (t, Reading::Window { samples, .. }) = motor.window(FS as usize / 10) else { unreachable!() };
        fe.compute(*t0.get_or_insert(t), FS, &samples, &params, &mut out);
    }
    assert_eq!(stream(&fe).baseband_filled, stream(&fe).baseband.len(), "the history continued");
    assert_eq!(stream(&fe).sideband_estimates.len(), 11);
    assert!((out[2] + 40.0).abs() < 3.0, "{}", out[2]);
}

#[test]
fn harmonics_are_the_5th_and_7th_over_the_fundamental() {
    let out = run(&mut MotorCurrent::default(), &mut Motor::new(4, 50.0, None), 3);
    let expected = 10.0 * (10f64.powf(-2.5) + 10f64.powf(-3.0)).log10();
    for f in &out {
        assert!((f[3] - expected).abs() < 0.5, "read {} expected {expected}", f[3]);
    }
    let mut clean = Motor::new(4, 60.0, None);
    clean.harmonics_db = [-45.0, -200.0];
    let f = run(&mut MotorCurrent::default(), &mut clean, 1)[0];
    assert!((f[3] + 45.0).abs() < 0.5, "read {}", f[3]);
}

#[test]
fn a_slowly_drifting_supply_is_tracked_without_restarting() {
    // The supply drifts 0.1 Hz over a minute, as a grid does; the oscillator stays put.
    let mut motor = Motor::new(5, 50.0, Some(-45.0));
    let mut fe = MotorCurrent::default();
    run(&mut fe, &mut motor, 1);
    let lo = stream(&fe).lo_hz;
    for i in 1..60 {
        motor.supply_hz = 50.0 + 0.1 * i as f64 / 60.0;
        let f = run(&mut fe, &mut motor, 1)[0];
        if i >= 10 {
            assert!((f[1] - motor.supply_hz).abs() < 0.05, "second {i}: supply {} read {}", motor.supply_hz, f[1]);
            assert!((f[2] + 45.0).abs() < 3.0, "second {i}: sidebands {}", f[2]);
        }
    }
    assert_eq!(stream(&fe).lo_hz, lo);
    assert_eq!(stream(&fe).baseband_filled, stream(&fe).baseband.len());
}

#[test]
fn a_supply_that_moves_far_retunes_the_oscillator() {
    // A drive changes speed: the supply moves from 50 to 55 Hz; the history restarts at 55 Hz.
    let mut motor = Motor::new(6, 50.0, None);
    let mut fe = MotorCurrent::default();
    run(&mut fe, &mut motor, 12);
    motor.supply_hz = 55.0;
    let out = run(&mut fe, &mut motor, 12);
    assert!((stream(&fe).lo_hz - 55.0).abs() < 0.1, "oscillator at {}", stream(&fe).lo_hz);
    assert!((out[11][1] - 55.0).abs() < 0.005 && out[11][2] < -50.0, "{:?}", out[11]);
}

#[test]
fn a_gap_restarts_the_history_cleanly() {
    // After a gap the front-end gives exactly what a fresh one gives on the same windows.
    let mut motor = Motor::new(10, 50.0, Some(-30.0));
    let mut fe = MotorCurrent::default();
    run(&mut fe, &mut motor, 15);
    motor.skip(3.5);
    let windows: Vec<_> = (0..12).map(|_| motor.window(FS as usize)).collect();
    let mut fresh = MotorCurrent::default();
    for w in &windows {
        assert_eq!(step(&mut fe, w.clone()), step(&mut fresh, w.clone()));
    }
    assert_eq!(fe, fresh);
    assert!((stream(&fe).baseband_filled as f64 - 500.0).abs() < 1.0);

    // Windows that overlap, or arrive at another sample rate, restart it too.
    let (t, reading) = motor.window(FS as usize);
    step(&mut fe, (t, reading.clone()));
    let filled = stream(&fe).baseband_filled;
    step(&mut fe, (t, reading));
    assert!(stream(&fe).baseband_filled < filled, "an overlapping window continued the history");
    let (t, Reading::Window { samples, .. }) = motor.window(4_000) else { unreachable!() };
    let mut out = [0.0; 4];
    fe.compute(t, 4_000.0, &samples, &MotorCurrentParams::default(), &mut out);
    assert_eq!(stream(&fe).sample_rate_hz, 4_000.0);
    assert!(stream(&fe).baseband_filled < 60 && out.iter().all(|v| v.is_finite()));
}

#[test]
fn timestamp_jitter_within_the_tolerance_continues_the_history() {
    let mut motor = Motor::new(11, 50.0, None);
    let mut fe = MotorCurrent::default();
    for i in 0..12 {
        let (t, r) = motor.window(FS as usize);
        let jitter = if i % 2 == 0 { 900 } else { -900 };
        step(&mut fe, (Timestamp(t.0 + jitter), r));
    }
    assert_eq!(stream(&fe).baseband_filled, stream(&fe).baseband.len());
}

#[test]
fn same_input_same_features_bit_for_bit_and_state_round_trips() {
    let (mut a, mut b) = (MotorCurrent::default(), MotorCurrent::default());
    let oa = run(&mut a, &mut Motor::new(12, 49.9, Some(-40.0)), 15);
    let ob = run(&mut b, &mut Motor::new(12, 49.9, Some(-40.0)), 15);
    let bits = |o: &[[f64; 4]]| o.iter().flat_map(|f| f.map(f64::to_bits)).collect::<Vec<_>>();
    assert_eq!(bits(&oa), bits(&ob));
    let mut restored: MotorCurrent = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(restored, a);
    let mut motor = Motor::new(13, 49.9, Some(-40.0));
    let w = motor.window(FS as usize);
    assert_eq!(step(&mut a, w.clone()).map(f64::to_bits), step(&mut restored, w).map(f64::to_bits));
}

#[test]
fn buffers_keep_their_size_whatever_the_window_length() {
    let mut motor = Motor::new(14, 50.0, None);
    let mut fe = MotorCurrent::default();
    run(&mut fe, &mut motor, 1);
    let sizes = |fe: &MotorCurrent| (stream(fe).taps.len(), stream(fe).baseband.len());
    let first = sizes(&fe);
    assert_eq!(first, (4 * 39 + 1, 500));
    for len in [200, 2_000, 7_000, 333] {
        for _ in 0..5 {
            step(&mut fe, motor.window(len));
        }
        assert_eq!(sizes(&fe), first);
    }
}

#[test]
fn a_clamp_reading_only_noise_shows_no_sidebands_or_harmonics() {
    // A healthy motor, then the clamp comes off and the gateway streams its ADC noise.
    let mut fe = MotorCurrent::default();
    let mut motor = Motor::new(8, 50.0, Some(-55.0));
    let healthy = run(&mut fe, &mut motor, 12);
    assert!(healthy[11][2] > -60.0 && healthy[11][3] > -35.0, "{:?}", healthy[11]);
    (motor.amplitude, motor.noise) = (0.0, 0.02);
    let off = run(&mut fe, &mut motor, 12);
    for out in &off[1..] {
        assert!(out[0] < 0.05, "rms falls to the noise: {out:?}");
        assert_eq!((out[2], out[3]), (FLOOR_DB, FLOOR_DB), "noise is not a broken bar: {out:?}");
    }
}

#[test]
fn silence_and_a_dc_offset_give_finite_floors() {
    let mut fe = MotorCurrent::default();
    let mut out = [0.0; 4];
    for (i, level) in [0.0f32, 0.0, 3.0].into_iter().enumerate() {
        fe.compute(Timestamp(i as i64 * 1_000_000), FS, &[level; 2_000], &MotorCurrentParams::default(), &mut out);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], 55.0, "a silent channel keeps the middle of the search range");
        assert_eq!((out[2], out[3]), (FLOOR_DB, FLOOR_DB), "{out:?}");
    }
}

#[test]
fn the_decimation_filter_has_unit_gain_and_the_expected_length() {
    for (m, stages) in [(1, 4), (2, 1), (40, 4), (512, 4)] {
        let h = cic_kernel(m, stages);
        assert_eq!(h.len(), stages * (m - 1) + 1);
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(h.iter().zip(h.iter().rev()).all(|(a, b)| (a - b).abs() < 1e-15), "symmetric");
    }
    let triangle = [1.0, 2.0, 3.0, 2.0, 1.0].map(|v: f64| v / 9.0);
    assert!(cic_kernel(3, 2).iter().zip(triangle).all(|(a, b)| (a - b).abs() < 1e-15), "{:?}", cic_kernel(3, 2));
}
