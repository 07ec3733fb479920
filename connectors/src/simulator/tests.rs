//! The plant as an analyst sees it: through spectra, envelope spectra and statistics of the
//! published windows, the way the faults are diagnosed on real machines.

use super::*;
use snn_engine::frontend::fft::{Complex, fft_in_place, hann};

const START_MS: i64 = 1_700_000_000_000;

fn window_of(sample: &Sample) -> &[f32] {
    match &sample.reading {
        Reading::Window { samples, .. } => samples,
        other => panic!("expected a window, got {other:?}"),
    }
}

fn scalar_of(sample: &Sample) -> f64 {
    match sample.reading {
        Reading::Scalar(v) => v,
        ref other => panic!("expected a scalar, got {other:?}"),
    }
}

fn kurtosis(x: &[f32]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let m2 = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let m4 = x.iter().map(|&v| (v as f64 - mean).powi(4)).sum::<f64>() / n;
    m4 / (m2 * m2)
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Index of channel `name` within an asset's samples of a tick.
fn channel(name: &str) -> usize {
    PlantSimulator::channels().iter().position(|(c, _)| c.as_str() == name).unwrap()
}

/// The sample of asset `a`, channel `name` in one tick's samples.
fn pick<'a>(tick: &'a [Sample], a: usize, name: &str) -> &'a Sample {
    let s = &tick[PlantSimulator::channels().len() * a + channel(name)];
    assert_eq!(s.channel.as_str(), name);
    s
}

fn run(config: SimConfig, ticks: usize) -> Vec<Vec<Sample>> {
    let mut sim = PlantSimulator::new(config, Timestamp::from_millis(START_MS));
    (0..ticks).map(|_| sim.tick()).collect()
}

fn fault(asset_index: usize, kind: FaultKind, start_s: f64, ramp_s: f64) -> Option<FaultSpec> {
    Some(FaultSpec { asset_index, kind, start_s, ramp_s })
}

/// One-sided magnitude spectrum (amplitude of a sine reads as its amplitude) of `x` sampled at
/// `rate_hz`, Hann-windowed and zero-padded to a power of two; returns the bin width too.
fn amplitude_spectrum(x: &[f64], rate_hz: f64) -> (f64, Vec<f64>) {
    let n = x.len().next_power_of_two();
    let w = hann(x.len());
    let gain: f64 = w.iter().sum::<f64>() / 2.0;
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let mut buf: Vec<Complex> = vec![(0.0, 0.0); n];
    for (b, (v, wv)) in buf.iter_mut().zip(x.iter().zip(&w)) {
        *b = ((v - mean) * wv, 0.0);
    }
    fft_in_place(&mut buf, false);
    (rate_hz / n as f64, buf[..n / 2].iter().map(|c| c.0.hypot(c.1) / gain).collect())
}

/// Envelope spectrum: band-pass `lo_hz..hi_hz` (an ideal FFT filter keeping the positive
/// frequencies, doubled: the analytic signal), its magnitude, then its amplitude spectrum.
fn envelope_spectrum(x: &[f32], rate_hz: f64, lo_hz: f64, hi_hz: f64) -> (f64, Vec<f64>) {
    let n = x.len().next_power_of_two();
    let bin_hz = rate_hz / n as f64;
    let mut buf: Vec<Complex> = vec![(0.0, 0.0); n];
    for (b, &v) in buf.iter_mut().zip(x) {
        *b = (v as f64, 0.0);
    }
    fft_in_place(&mut buf, false);
    for (k, c) in buf.iter_mut().enumerate() {
        let f = k as f64 * bin_hz;
        *c = if k < n / 2 && (lo_hz..=hi_hz).contains(&f) { (2.0 * c.0, 2.0 * c.1) } else { (0.0, 0.0) };
    }
    fft_in_place(&mut buf, true);
    let envelope: Vec<f64> = buf[..x.len()].iter().map(|c| c.0.hypot(c.1)).collect();
    amplitude_spectrum(&envelope, rate_hz)
}

/// Frequency of the largest bin between `lo_hz` and `hi_hz`, and its value.
fn peak_between(spectrum: &(f64, Vec<f64>), lo_hz: f64, hi_hz: f64) -> (f64, f64) {
    let (bin_hz, mag) = spectrum;
    let (lo, hi) = ((lo_hz / bin_hz).ceil() as usize, (hi_hz / bin_hz).floor() as usize);
    let k = (lo..=hi).max_by(|&a, &b| mag[a].total_cmp(&mag[b])).unwrap();
    (k as f64 * bin_hz, mag[k])
}

fn median_between(spectrum: &(f64, Vec<f64>), lo_hz: f64, hi_hz: f64) -> f64 {
    let (bin_hz, mag) = spectrum;
    let mut v: Vec<f64> = mag[(lo_hz / bin_hz).ceil() as usize..=(hi_hz / bin_hz).floor() as usize].to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Energy of the lines within `half_width_hz` of `f_hz` (sums bins, so a line smeared over a few
/// bins by a drifting speed still counts whole).
fn energy_around(spectrum: &(f64, Vec<f64>), f_hz: f64, half_width_hz: f64) -> f64 {
    let (bin_hz, mag) = spectrum;
    let lo = ((f_hz - half_width_hz) / bin_hz).ceil() as usize;
    let hi = ((f_hz + half_width_hz) / bin_hz).floor() as usize;
    mag[lo..=hi].iter().map(|m| m * m).sum()
}

#[test]
fn same_seed_same_samples_different_seed_different_samples() {
    for kind in FaultKind::ALL {
        let config = SimConfig { fault: fault(1, kind, 1.0, 2.0), ..SimConfig::default() };
        let a = run(config.clone(), 5);
        let b = run(config.clone(), 5);
        assert_eq!(a, b, "{kind}");
        let c = run(SimConfig { seed: 43, ..config }, 5);
        assert_ne!(a, c, "{kind}");
    }
}

#[test]
fn ticks_carry_every_asset_and_channel_with_advancing_time() {
    let mut sim = PlantSimulator::new(SimConfig::default(), Timestamp::from_millis(1_000));
    let ids: Vec<String> = sim.asset_ids().iter().map(|a| a.to_string()).collect();
    assert_eq!(ids, ["pump-1", "pump-2", "pump-3"]);
    let first = sim.tick();
    let second = sim.tick();
    assert_eq!(first.len(), 3 * 4);
    assert!(first.iter().all(|s| s.t == Timestamp::from_millis(1_000) && s.reading.is_finite()));
    assert!(second.iter().all(|s| s.t == Timestamp::from_millis(2_000)));
    for (s, (id, kind)) in first.iter().zip(PlantSimulator::channels().into_iter().cycle()) {
        assert_eq!(s.channel, id);
        match (s.channel.as_str(), &s.reading) {
            ("vibration", Reading::Window { sample_rate_hz, samples }) => {
                assert_eq!((*sample_rate_hz, samples.len()), (25_600.0, 2048));
            }
            ("current", Reading::Window { sample_rate_hz, samples }) => {
                assert_eq!((*sample_rate_hz, samples.len()), (CURRENT_RATE_HZ, 2000), "one second at 2 kHz");
                let a = rms(samples);
                assert!((6.5..10.5).contains(&a), "{a} A RMS");
            }
            ("temperature", Reading::Scalar(c)) => assert!((49.0..57.0).contains(c), "{c}"),
            ("acoustic", Reading::Window { sample_rate_hz, samples }) => {
                assert_eq!((*sample_rate_hz, samples.len()), (ACOUSTIC_RATE_HZ, ACOUSTIC_WINDOW_LEN));
            }
            other => panic!("unexpected {other:?}"),
        }
        let is_window = matches!(s.reading, Reading::Window { .. });
        assert_eq!(is_window, kind.takes_windows(), "{id}");
    }
}

#[test]
#[should_panic(expected = "must be at least 0.008 s, to hold a current window")]
fn a_tick_too_short_for_a_current_window_is_refused() {
    PlantSimulator::new(SimConfig { tick_s: 0.005, ..SimConfig::default() }, Timestamp(0));
}

#[test]
fn fault_raises_kurtosis_while_healthy_assets_stay_stationary() {
    let config = SimConfig { fault: fault(0, FaultKind::OuterRace, 30.0, 30.0), ..SimConfig::default() };
    let ticks = run(config, 120);
    let vib = |a: usize, range: std::ops::Range<usize>| -> Vec<&[f32]> {
        range.map(|t| window_of(pick(&ticks[t], a, "vibration"))).collect()
    };
    let mean = |a: usize, name: &str, range: std::ops::Range<usize>| -> f64 {
        let n = range.len() as f64;
        range
            .map(|t| {
                let s = pick(&ticks[t], a, name);
                if name == "current" { rms(window_of(s)) } else { scalar_of(s) }
            })
            .sum::<f64>()
            / n
    };
    let mean_kurtosis = |ws: Vec<&[f32]>| ws.iter().map(|w| kurtosis(w)).sum::<f64>() / ws.len() as f64;

    let faulty_before = mean_kurtosis(vib(0, 0..30));
    let faulty_after = mean_kurtosis(vib(0, 60..120));
    let healthy = mean_kurtosis(vib(1, 60..120));
    assert!(faulty_before < 3.0 && healthy < 3.0, "healthy kurtosis {faulty_before} {healthy}");
    assert!(faulty_after > 6.0 && faulty_after > 2.5 * healthy, "faulty kurtosis {faulty_after} vs {healthy}");
    // Temperature (lagging, tau 120 s) and current rise with the fault.
    // Spans of one minute, about one load cycle each, so the load cycle averages out.
    let (t_before, t_after) = (mean(0, "temperature", 0..60), mean(0, "temperature", 60..120));
    assert!(t_after > t_before + 1.5, "faulty temperature {t_before} -> {t_after}");
    let c_faulty = mean(0, "current", 60..120) / mean(0, "current", 0..60);
    assert!(c_faulty > 1.02, "faulty current ratio {c_faulty}");
    eprintln!(
        "kurtosis healthy {healthy:.2} faulty before {faulty_before:.2} after {faulty_after:.2}; temp {t_before:.2} -> {t_after:.2}; current x{c_faulty:.3}"
    );

    // Healthy pumps: no drift. Compare two one-minute spans (about one load cycle each).
    for a in [1, 2] {
        let r1: f64 = vib(a, 0..60).iter().map(|w| rms(w)).sum::<f64>() / 60.0;
        let r2: f64 = vib(a, 60..120).iter().map(|w| rms(w)).sum::<f64>() / 60.0;
        assert!((r1 / r2 - 1.0).abs() < 0.1, "asset {a} vibration rms {r1} vs {r2}");
        let (t1, t2) = (mean(a, "temperature", 0..60), mean(a, "temperature", 60..120));
        assert!((t1 - t2).abs() < 1.0, "asset {a} temperature {t1} vs {t2}");
        let (c1, c2) = (mean(a, "current", 0..60), mean(a, "current", 60..120));
        assert!((c1 - c2).abs() < 0.3, "asset {a} current {c1} vs {c2}");
    }
}

/// The envelope spectrum (band 2-4 kHz around the housing resonance) of one long vibration
/// window of a pump with a fully developed bearing fault of `kind`, and its shaft frequency.
fn bearing_envelope(kind: FaultKind) -> ((f64, Vec<f64>), f64) {
    // 2.56 s windows: 0.39 Hz resolution, fine enough to tell the defect frequencies apart.
    let config =
        SimConfig { assets: 1, seed: 5, fault: fault(0, kind, 0.0, 0.0), window_len: 1 << 16, ..SimConfig::default() };
    let mut sim = PlantSimulator::new(config, Timestamp::from_millis(START_MS));
    let tick = sim.tick();
    let shaft_hz = sim.pumps[0].shaft_hz;
    (envelope_spectrum(window_of(pick(&tick, 0, "vibration")), 25_600.0, 2_000.0, 4_000.0), shaft_hz)
}

#[test]
fn each_bearing_fault_shows_its_defect_frequency_in_the_envelope_spectrum() {
    let g = BEARING_6206;
    for (kind, defect) in [
        (FaultKind::OuterRace, BearingGeometry::bpfo as fn(&BearingGeometry, f64) -> f64),
        (FaultKind::InnerRace, BearingGeometry::bpfi),
        (FaultKind::Ball, |g: &BearingGeometry, fr: f64| 2.0 * g.bsf(fr)),
    ] {
        let (spectrum, fr) = bearing_envelope(kind);
        let expected = defect(&g, fr);
        let (found, height) = peak_between(&spectrum, 10.0, 500.0);
        let floor = median_between(&spectrum, 10.0, 500.0);
        eprintln!("{kind}: peak {found:.2} Hz (expected {expected:.2}), {:.1}x the median", height / floor);
        assert!(
            (found / expected - 1.0).abs() < 0.02,
            "{kind}: largest envelope line at {found} Hz, expected {expected}"
        );
        assert!(height > 10.0 * floor, "{kind}: the line stands {} x above the floor", height / floor);
    }
}

#[test]
fn an_inner_race_fault_has_shaft_sidebands_and_an_outer_race_fault_has_none() {
    let sidebands = |kind: FaultKind, defect: fn(&BearingGeometry, f64) -> f64| {
        let (spectrum, fr) = bearing_envelope(kind);
        let f = defect(&BEARING_6206, fr);
        let (_, main) = peak_between(&spectrum, f - 1.0, f + 1.0);
        let (_, lower) = peak_between(&spectrum, f - fr - 1.0, f - fr + 1.0);
        let (_, upper) = peak_between(&spectrum, f + fr - 1.0, f + fr + 1.0);
        let floor = median_between(&spectrum, 10.0, 500.0);
        eprintln!(
            "{kind}: sidebands {:.2} {:.2} of the line, line {:.1}x the floor",
            lower / main,
            upper / main,
            main / floor
        );
        (lower / main, upper / main, floor / main)
    };
    let (lower, upper, floor) = sidebands(FaultKind::InnerRace, BearingGeometry::bpfi);
    assert!(lower > 0.15 && upper > 0.15, "inner race sidebands at ±fr: {lower} {upper}");
    assert!(lower > 5.0 * floor && upper > 5.0 * floor, "sidebands stand out of the floor ({floor})");
    let (lower, upper, _) = sidebands(FaultKind::OuterRace, BearingGeometry::bpfo);
    assert!(lower < 0.1 && upper < 0.1, "a stationary defect has no ±fr sidebands: {lower} {upper}");
}

/// The current of asset `a` over `ticks` one-second ticks joined into one signal, and the mean
/// slip over that time.
fn joined_current(config: SimConfig, a: usize, ticks: usize) -> (Vec<f64>, f64) {
    let mut sim = PlantSimulator::new(config, Timestamp::from_millis(START_MS));
    let mut current = Vec::new();
    let mut slip = 0.0;
    for _ in 0..ticks {
        let tick = sim.tick();
        current.extend(window_of(pick(&tick, a, "current")).iter().map(|&v| v as f64));
        slip += 1.0 - sim.pumps[a].shaft_hz * POLE_PAIRS / SUPPLY_HZ;
    }
    (current, slip / ticks as f64)
}

#[test]
fn broken_rotor_bars_raise_the_slip_sidebands_and_a_healthy_rotor_does_not() {
    let config =
        SimConfig { assets: 2, seed: 9, fault: fault(0, FaultKind::BrokenRotorBar, 0.0, 0.0), ..SimConfig::default() };
    for (a, (lower_db, upper_db)) in [(0, (-33.0..-27.0, -36.0..-30.0)), (1, (-100.0..-50.0, -100.0..-50.0))] {
        // 16.4 s: 0.06 Hz lines, well apart from the 50 Hz fundamental.
        let (current, slip) = joined_current(config.clone(), a, 17);
        let spectrum = amplitude_spectrum(&current[..1 << 15], CURRENT_RATE_HZ);
        let fundamental = energy_around(&spectrum, SUPPLY_HZ, 0.2);
        let level_db = |f: f64| 10.0 * (energy_around(&spectrum, f, 0.25) / fundamental).log10();
        let (lower, upper) = (level_db((1.0 - 2.0 * slip) * SUPPLY_HZ), level_db((1.0 + 2.0 * slip) * SUPPLY_HZ));
        eprintln!("asset {a}: slip {slip:.4}, sidebands {lower:.1} dB {upper:.1} dB");
        assert!(lower_db.contains(&lower), "asset {a}: (1 - 2s) f at {lower} dB");
        assert!(upper_db.contains(&upper), "asset {a}: (1 + 2s) f at {upper} dB");
        // The fault is in the rotor, not the supply: the fundamental stays where it was.
        let (f, _) = peak_between(&spectrum, 40.0, 60.0);
        assert!((f - SUPPLY_HZ).abs() < 0.1, "{f}");
    }
}

#[test]
fn a_broken_bar_makes_the_shaft_vibration_pulsate_at_the_pole_pass_frequency() {
    // The 1x amplitude tick by tick (10 per second), of a motor with a broken bar and of the same
    // motor healthy: same seed, same load and noise, so their ratio is the torque pulsation alone.
    let one_x = |fault_spec: Option<FaultSpec>| -> (Vec<f64>, f64) {
        let config = SimConfig { assets: 1, seed: 4, fault: fault_spec, tick_s: 0.1, ..SimConfig::default() };
        let mut sim = PlantSimulator::new(config, Timestamp::from_millis(START_MS));
        let mut pole_pass_hz = 0.0;
        let amplitudes = (0..256)
            .map(|_| {
                let tick = sim.tick();
                let w: Vec<f64> = window_of(pick(&tick, 0, "vibration")).iter().map(|&v| v as f64).collect();
                let fr = sim.pumps[0].shaft_hz;
                pole_pass_hz += 2.0 * (1.0 - fr * POLE_PAIRS / SUPPLY_HZ) * SUPPLY_HZ / 256.0;
                peak_between(&amplitude_spectrum(&w, 25_600.0), fr - 10.0, fr + 10.0).1
            })
            .collect();
        (amplitudes, pole_pass_hz)
    };
    let (healthy, pole_pass_hz) = one_x(None);
    let (faulty, _) = one_x(fault(0, FaultKind::BrokenRotorBar, 0.0, 0.0));
    let ratio: Vec<f64> = faulty.iter().zip(&healthy).map(|(f, h)| f / h).collect();
    let spectrum = amplitude_spectrum(&ratio, 10.0);
    let (f, depth) = peak_between(&spectrum, 0.2, 4.9);
    eprintln!("1x pulsation: {depth:.3} deep at {f:.2} Hz, pole pass {pole_pass_hz:.2} Hz");
    assert!((f - pole_pass_hz).abs() < 0.1, "pulsation at {f} Hz, pole pass {pole_pass_hz} Hz");
    assert!((0.03..0.15).contains(&depth), "a small effect: {depth}");
}

#[test]
fn current_windows_join_into_one_continuous_waveform() {
    // 0.2513 s ticks: 502.6 samples, so windows are 503 or 502 long and no window holds a whole
    // number of supply cycles; a window that restarted its phases would jump at the join.
    let config =
        SimConfig { tick_s: 0.2513, fault: fault(0, FaultKind::BrokenRotorBar, 0.0, 0.0), ..SimConfig::default() };
    let mut sim = PlantSimulator::new(config, Timestamp::from_millis(START_MS));
    let windows: Vec<Vec<f32>> = (0..8).map(|_| window_of(pick(&sim.tick(), 0, "current")).to_vec()).collect();
    let lengths: Vec<usize> = windows.iter().map(Vec::len).collect();
    assert_eq!(lengths.iter().sum::<usize>(), (8.0f64 * 0.2513 * CURRENT_RATE_HZ).round() as usize);
    assert!(lengths.iter().all(|&n| n == 502 || n == 503), "{lengths:?}");
    let steps = |x: &[f32]| x.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    let largest_inside = windows.iter().map(|w| steps(w)).fold(0.0f32, f32::max);
    for pair in windows.windows(2) {
        let join = (pair[1][0] - pair[0][pair[0].len() - 1]).abs();
        assert!(join <= largest_inside, "a jump of {join} A at a join, at most {largest_inside} A inside a window");
    }
    // The joined waveform is one 50 Hz sine: projected on 50 Hz over 2 s (100 whole cycles) it
    // keeps its full amplitude; phases restarting at every join would cancel most of it.
    let joined: Vec<f64> = windows.concat()[..4_000].iter().map(|&v| f64::from(v)).collect();
    let (re, im) = joined.iter().enumerate().fold((0.0, 0.0), |(re, im), (k, v)| {
        let theta = std::f64::consts::TAU * SUPPLY_HZ * k as f64 / CURRENT_RATE_HZ;
        (re + v * theta.cos(), im + v * theta.sin())
    });
    let amplitude = 2.0 * re.hypot(im) / joined.len() as f64;
    let rms_a = (joined.iter().map(|v| v * v).sum::<f64>() / joined.len() as f64).sqrt();
    assert!(amplitude > 0.98 * rms_a * std::f64::consts::SQRT_2, "{amplitude} A at 50 Hz, {rms_a} A RMS");
}

#[test]
fn acoustic_bursts_show_at_a_smaller_severity_than_vibration_kurtosis() {
    // The fault grows from 0 to 1 over 100 s; pump-2 is the healthy reference.
    let config =
        SimConfig { assets: 2, seed: 6, fault: fault(0, FaultKind::OuterRace, 0.0, 100.0), ..SimConfig::default() };
    let ticks = run(config, 100);
    let kurt =
        |a: usize, name: &str| -> Vec<f64> { ticks.iter().map(|t| kurtosis(window_of(pick(t, a, name)))).collect() };
    // The severity (= tick / 100) from which the 5-tick mean kurtosis stays above the healthy
    // pump's mean + 1.
    let onset = |name: &str| -> Option<f64> {
        let healthy = kurt(1, name);
        let baseline = healthy.iter().sum::<f64>() / healthy.len() as f64;
        let faulty = kurt(0, name);
        let smooth: Vec<f64> = faulty.windows(5).map(|w| w.iter().sum::<f64>() / 5.0).collect();
        let first = (0..smooth.len()).find(|&i| smooth[i..].iter().all(|&k| k > baseline + 1.0))?;
        Some((first + 4) as f64 / 100.0)
    };
    let acoustic = onset("acoustic").expect("acoustic bursts show");
    let vibration = onset("vibration").expect("vibration impacts show");
    eprintln!("kurtosis onset: acoustic at severity {acoustic:.2}, vibration at {vibration:.2}");
    assert!(acoustic < vibration, "acoustic {acoustic} vs vibration {vibration}");
    // And the acoustic channel of a healthy pump stays near Gaussian (no bursts).
    let healthy = kurt(1, "acoustic");
    assert!(healthy.iter().all(|&k| k < 4.0), "{healthy:?}");
}

#[test]
fn real_time_offsets_scale_and_saturate_instead_of_overflowing() {
    use crate::publish::LATEST_DUE;
    use std::time::Duration;
    assert_eq!(real_time_offset(10.0, 1.0), Duration::from_secs(10));
    assert_eq!(real_time_offset(10.0, 4.0), Duration::from_millis(2_500));
    assert_eq!(real_time_offset(10.0, f64::INFINITY), Duration::ZERO);
    assert_eq!(real_time_offset(f64::INFINITY, f64::INFINITY), Duration::ZERO);
    // A positive but tiny time scale: a wait beyond any clock, not a panic.
    assert_eq!(real_time_offset(1.0, 1e-300), LATEST_DUE);
    assert!(tokio::time::Instant::now().checked_add(LATEST_DUE).is_some());
}

#[test]
#[should_panic(expected = "fault on asset index 3 but the plant has 3 assets")]
fn a_fault_on_an_asset_the_plant_lacks_is_refused() {
    PlantSimulator::new(SimConfig { fault: fault(3, FaultKind::Ball, 0.0, 1.0), ..SimConfig::default() }, Timestamp(0));
}

#[test]
fn a_fault_timing_that_is_not_a_number_is_refused() {
    for (start_s, ramp_s) in [(f64::NAN, 1.0), (0.0, f64::NAN), (f64::INFINITY, 1.0), (0.0, -1.0)] {
        let config = SimConfig { fault: fault(0, FaultKind::Ball, start_s, ramp_s), ..SimConfig::default() };
        let refused = std::panic::catch_unwind(|| PlantSimulator::new(config, Timestamp(0)));
        assert!(refused.is_err(), "start {start_s} ramp {ramp_s}");
    }
}

#[test]
#[should_panic(expected = "the longest window spikewatch accepts")]
fn a_tick_whose_current_window_spikewatch_would_refuse_is_refused() {
    PlantSimulator::new(SimConfig { tick_s: 600.0, ..SimConfig::default() }, Timestamp(0));
}
