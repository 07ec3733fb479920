//! A seeded, reproducible plant simulator: pumps driven by induction motors, with an optional outer-race bearing fault (pure: time is an input).
//!
//! Each asset is a centrifugal pump on a 4-pole 50 Hz induction motor (~1480 rpm, shaft ~24.7 Hz;
//! slip, and so speed, varies slightly per asset and with load). Per tick it yields one vibration
//! window (acceleration in g), one motor current RMS (A) and one bearing temperature (°C).
//!
//! Vibration is the shaft harmonics 1x/2x/3x (unbalance, misalignment, looseness: the usual
//! suspects of a healthy machine) scaled with load, plus broadband Gaussian noise. The bearing
//! fault is the textbook outer-race defect: an impact each time a rolling element passes the
//! defect, at the ball-pass frequency of the outer race, each exciting a structural resonance
//! near 3 kHz that decays within a few ms (Randall & Antoni, "Rolling element bearing
//! diagnostics — a tutorial", MSSP 25, 2011). It shows in kurtosis, crest factor, the energy of
//! the band around the resonance and the envelope spectrum at BPFO, not in the low harmonics.

mod publish;

pub use publish::{
    DEFAULT_SPARKPLUG_GROUP, DEFAULT_SPARKPLUG_NODE, SimPublish, publish_simulation, publish_simulation_as,
};

use snn_engine::rng::SplitMix64;
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::f64::consts::TAU;

/// Bearing geometry of a 6206-class deep-groove ball bearing, typical for a motor of this size.
const BALLS: f64 = 9.0;
const BALL_DIAMETER_MM: f64 = 7.94;
const PITCH_DIAMETER_MM: f64 = 39.04;
const CONTACT_ANGLE_RAD: f64 = 0.0;

/// Ball-pass frequency of the outer race per shaft revolution:
/// `BPFO / f_shaft = (n/2) (1 - d/D cos φ)` (Randall & Antoni 2011, eq. 1). ≈ 3.585 here.
pub fn bpfo_per_shaft_hz() -> f64 {
    BALLS / 2.0 * (1.0 - BALL_DIAMETER_MM / PITCH_DIAMETER_MM * CONTACT_ANGLE_RAD.cos())
}

/// Structural resonance excited by each impact, and its decay time constant: 1 ms means the
/// ring-down is gone (< 1 %) within about 5 ms, well before the next impact (~11 ms later).
const RESONANCE_HZ: f64 = 3_000.0;
const RESONANCE_DECAY_S: f64 = 0.001;
/// Peak impact acceleration at full severity, in g: 40x the broadband noise.
const IMPACT_PEAK_G: f64 = 2.0;
/// Broadband vibration noise (sensor + flow turbulence), g RMS.
const VIBRATION_NOISE_G: f64 = 0.05;
/// Mean of the load cycle (fraction of rated load).
const MEAN_LOAD: f64 = 0.85;
/// Thermal time constant of the bearing housing.
const THERMAL_TAU_S: f64 = 120.0;

/// How the simulated plant looks.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of pumps.
    pub assets: usize,
    /// Seed of every random number the simulator draws.
    pub seed: u64,
    /// Asset ids are `{asset_prefix}{1..=assets}`.
    pub asset_prefix: String,
    /// An optional bearing fault on one asset.
    pub fault: Option<FaultSpec>,
    /// Vibration sample rate.
    pub vibration_rate_hz: f64,
    /// Samples per vibration window.
    pub window_len: usize,
    /// Simulated seconds per tick: one vibration window, one current RMS and one temperature
    /// reading per asset per tick.
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

/// An outer-race bearing fault that appears at `start_s` and grows linearly to full severity.
#[derive(Debug, Clone)]
pub struct FaultSpec {
    /// Which asset (0-based).
    pub asset_index: usize,
    /// Simulated seconds after the start when the fault appears.
    pub start_s: f64,
    /// Seconds over which its severity grows from 0 to 1.
    pub ramp_s: f64,
}

impl FaultSpec {
    /// Severity in `[0, 1]` at `t_s` simulated seconds.
    pub fn severity(&self, t_s: f64) -> f64 {
        if t_s < self.start_s {
            0.0
        } else if self.ramp_s <= 0.0 {
            1.0
        } else {
            ((t_s - self.start_s) / self.ramp_s).clamp(0.0, 1.0)
        }
    }
}

/// One pump's fixed character and slowly changing state.
#[derive(Debug, Clone)]
struct Pump {
    id: AssetId,
    rng: SplitMix64,
    /// Shaft frequency at 85 % load.
    base_shaft_hz: f64,
    load_period_s: f64,
    load_phase: f64,
    harmonic_phase: [f64; 3],
    /// Relative harmonic amplitudes (g at full load): every machine is a little different.
    harmonic_g: [f64; 3],
    temperature_c: f64,
    faulty: bool,
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
    /// If `tick_s` or `vibration_rate_hz` is not positive and finite, or `window_len` is 0.
    pub fn new(config: SimConfig, start: Timestamp) -> Self {
        assert!(config.tick_s.is_finite() && config.tick_s > 0.0, "simulator `tick_s` must be positive");
        assert!(
            config.vibration_rate_hz.is_finite() && config.vibration_rate_hz > 0.0,
            "simulator `vibration_rate_hz` must be positive"
        );
        assert!(config.window_len > 0, "simulator `window_len` must be positive");
        let mut root = SplitMix64::new(config.seed);
        let pumps = (0..config.assets)
            .map(|i| {
                let mut rng = root.fork();
                let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.next_f64();
                // 1480 rpm nominal; slip differs by a few rpm between motors.
                let base_shaft_hz = u(1474.0, 1486.0) / 60.0;
                let load_period_s = u(55.0, 65.0);
                let load_phase = u(0.0, TAU);
                let harmonic_phase = [u(0.0, TAU), u(0.0, TAU), u(0.0, TAU)];
                let harmonic_g = [u(0.25, 0.35), u(0.10, 0.14), u(0.04, 0.06)];
                let mut pump = Pump {
                    id: AssetId(format!("{}{}", config.asset_prefix, i + 1)),
                    rng,
                    base_shaft_hz,
                    load_period_s,
                    load_phase,
                    harmonic_phase,
                    harmonic_g,
                    temperature_c: 0.0,
                    faulty: config.fault.as_ref().is_some_and(|f| f.asset_index == i),
                };
                // Start at the equilibrium of the mean load so a healthy pump shows no warm-up drift.
                pump.temperature_c = equilibrium_temperature(MEAN_LOAD, 0.0);
                pump
            })
            .collect();
        PlantSimulator { config, start, ticks: 0, pumps }
    }

    /// The asset ids, in order (`pump-1`, `pump-2`, ...).
    pub fn asset_ids(&self) -> Vec<AssetId> {
        self.pumps.iter().map(|p| p.id.clone()).collect()
    }

    /// The channels every asset has, and their kind (`"window"` or `"scalar"`): vibration
    /// (window, g), current (scalar, A RMS), temperature (scalar, °C).
    pub fn channels() -> [(ChannelId, &'static str); 3] {
        [
            (ChannelId::from("vibration"), "window"),
            (ChannelId::from("current"), "scalar"),
            (ChannelId::from("temperature"), "scalar"),
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

    /// Advances `tick_s` of simulated time and returns every asset's samples for that tick
    /// (vibration, current, temperature per asset, all stamped at the tick's start).
    pub fn tick(&mut self) -> Vec<Sample> {
        let t_s = self.elapsed_s();
        let t = Timestamp(self.start.0 + (t_s * 1e6).round() as i64);
        let severity_of = |faulty: bool| match (&self.config.fault, faulty) {
            (Some(f), true) => f.severity(t_s),
            _ => 0.0,
        };
        let mut out = Vec::with_capacity(self.pumps.len() * 3);
        for pump in &mut self.pumps {
            let severity = severity_of(pump.faulty);
            let (vibration, current, temperature) = pump.step(t_s, severity, &self.config);
            let [vib, cur, temp] = Self::channels().map(|(c, _)| c);
            out.push(Sample { asset: pump.id.clone(), channel: vib, t, reading: vibration });
            out.push(Sample { asset: pump.id.clone(), channel: cur, t, reading: Reading::Scalar(current) });
            out.push(Sample { asset: pump.id.clone(), channel: temp, t, reading: Reading::Scalar(temperature) });
        }
        self.ticks += 1;
        out
    }
}

/// Bearing temperature the housing settles to: 40 °C idle-ish baseline, 15 °C more at full
/// load, up to 8 °C more from the friction of a fully developed defect.
fn equilibrium_temperature(load: f64, severity: f64) -> f64 {
    40.0 + 15.0 * load + 8.0 * severity
}

impl Pump {
    /// Load fraction: a smooth process cycle between 70 % and 100 %.
    fn load(&self, t_s: f64) -> f64 {
        MEAN_LOAD + 0.15 * (TAU * t_s / self.load_period_s + self.load_phase).sin()
    }

    fn step(&mut self, t_s: f64, severity: f64, config: &SimConfig) -> (Reading, f64, f64) {
        // Tiny load noise (valve hunting, flow turbulence), kept inside the 70-100 % band.
        let load = (self.load(t_s) + 0.005 * self.rng.next_gaussian()).clamp(0.7, 1.0);
        // Induction motor slip grows with load: about 0.4 % speed change over the load range.
        let shaft_hz = self.base_shaft_hz * (1.0 - 0.004 * (load - MEAN_LOAD) / 0.15);
        let vibration = self.vibration_window(t_s, load, shaft_hz, severity, config);

        // A damaged bearing adds friction torque: a few percent more current at full severity.
        let current = 10.0 * load * (1.0 + 0.04 * severity) + 0.05 * self.rng.next_gaussian();

        let target = equilibrium_temperature(load, severity);
        self.temperature_c += (target - self.temperature_c) * (1.0 - (-config.tick_s / THERMAL_TAU_S).exp());
        let temperature = self.temperature_c + 0.05 * self.rng.next_gaussian();
        (vibration, current, temperature)
    }

    fn vibration_window(&mut self, t0: f64, load: f64, shaft_hz: f64, severity: f64, config: &SimConfig) -> Reading {
        let fs = config.vibration_rate_hz;
        let n = config.window_len;
        let mut samples: Vec<f64> = (0..n)
            .map(|k| {
                let t = t0 + k as f64 / fs;
                let harmonics: f64 = (0..3)
                    .map(|h| {
                        let order = (h + 1) as f64;
                        self.harmonic_g[h] * load * (TAU * order * shaft_hz * t + self.harmonic_phase[h]).sin()
                    })
                    .sum();
                harmonics + VIBRATION_NOISE_G * self.rng.next_gaussian()
            })
            .collect();
        if severity > 0.0 {
            self.add_bearing_impacts(&mut samples, t0, fs, shaft_hz * bpfo_per_shaft_hz(), severity * load.sqrt());
        }
        Reading::Window { sample_rate_hz: fs, samples: samples.into_iter().map(|v| v as f32).collect() }
    }

    /// Adds decaying resonance bursts at each ball pass of the outer-race defect.
    fn add_bearing_impacts(&mut self, samples: &mut [f64], t0: f64, fs: f64, bpfo_hz: f64, strength: f64) {
        let period = 1.0 / bpfo_hz;
        let window_end = t0 + samples.len() as f64 / fs;
        // Impacts that started up to 10 decay constants before the window still ring into it.
        let first = ((t0 - 10.0 * RESONANCE_DECAY_S) / period).floor() as i64;
        let last = (window_end / period).ceil() as i64;
        for k in first..=last {
            // Rolling elements slip a little, so impacts wander ~1 % of a period (Randall &
            // Antoni 2011, §2.1): this is what makes the signal cyclostationary, not periodic.
            let start = k as f64 * period + 0.01 * period * self.rng.next_gaussian();
            let amplitude = IMPACT_PEAK_G * strength * (1.0 + 0.1 * self.rng.next_gaussian());
            let first_idx = (((start - t0) * fs).ceil().max(0.0)) as usize;
            let ring_end = (((start + 10.0 * RESONANCE_DECAY_S - t0) * fs).ceil().max(0.0) as usize).min(samples.len());
            for (idx, s) in samples.iter_mut().enumerate().take(ring_end).skip(first_idx) {
                let dt = t0 + idx as f64 / fs - start;
                *s += amplitude * (-dt / RESONANCE_DECAY_S).exp() * (TAU * RESONANCE_HZ * dt).sin();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(sample: &Sample) -> &[f32] {
        match &sample.reading {
            Reading::Window { samples, .. } => samples,
            other => panic!("expected a window, got {other:?}"),
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

    /// Per asset index, per channel index, the values over `ticks` ticks.
    fn run(config: SimConfig, ticks: usize) -> Vec<Vec<Sample>> {
        let mut sim = PlantSimulator::new(config, Timestamp::from_millis(1_700_000_000_000));
        (0..ticks).map(|_| sim.tick()).collect()
    }

    #[test]
    fn geometry_gives_the_textbook_bpfo() {
        assert!((bpfo_per_shaft_hz() - 3.585).abs() < 0.01, "{}", bpfo_per_shaft_hz());
    }

    #[test]
    fn same_seed_same_samples_different_seed_different_samples() {
        let config =
            SimConfig { fault: Some(FaultSpec { asset_index: 1, start_s: 1.0, ramp_s: 2.0 }), ..SimConfig::default() };
        let a = run(config.clone(), 5);
        let b = run(config.clone(), 5);
        assert_eq!(a, b);
        let c = run(SimConfig { seed: 43, ..config }, 5);
        assert_ne!(a, c);
    }

    #[test]
    fn ticks_carry_every_asset_and_channel_with_advancing_time() {
        let mut sim = PlantSimulator::new(SimConfig::default(), Timestamp::from_millis(1_000));
        let ids: Vec<String> = sim.asset_ids().iter().map(|a| a.to_string()).collect();
        assert_eq!(ids, ["pump-1", "pump-2", "pump-3"]);
        let first = sim.tick();
        let second = sim.tick();
        assert_eq!(first.len(), 9);
        assert!(first.iter().all(|s| s.t == Timestamp::from_millis(1_000) && s.reading.is_finite()));
        assert!(second.iter().all(|s| s.t == Timestamp::from_millis(2_000)));
        assert_eq!(window(&first[0]).len(), 2048);
        for s in &first {
            match (s.channel.as_str(), &s.reading) {
                ("vibration", Reading::Window { sample_rate_hz, .. }) => assert_eq!(*sample_rate_hz, 25_600.0),
                ("current", Reading::Scalar(a)) => assert!((6.5..10.5).contains(a), "{a}"),
                ("temperature", Reading::Scalar(c)) => assert!((49.0..57.0).contains(c), "{c}"),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn fault_raises_kurtosis_while_healthy_assets_stay_stationary() {
        let config = SimConfig {
            fault: Some(FaultSpec { asset_index: 0, start_s: 30.0, ramp_s: 30.0 }),
            ..SimConfig::default()
        };
        let ticks = run(config, 120);
        // Samples per tick: asset a, channel c at index 3a + c.
        let vib = |a: usize, range: std::ops::Range<usize>| -> Vec<&[f32]> {
            range.map(|t| window(&ticks[t][3 * a])).collect()
        };
        let scalar = |a: usize, c: usize, range: std::ops::Range<usize>| -> f64 {
            let n = range.len() as f64;
            range
                .map(|t| match ticks[t][3 * a + c].reading {
                    Reading::Scalar(v) => v,
                    _ => unreachable!(),
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
        let (t_before, t_after) = (scalar(0, 2, 0..60), scalar(0, 2, 60..120));
        assert!(t_after > t_before + 1.5, "faulty temperature {t_before} -> {t_after}");
        let c_faulty = scalar(0, 1, 60..120) / scalar(0, 1, 0..60);
        assert!(c_faulty > 1.02, "faulty current ratio {c_faulty}");
        eprintln!(
            "kurtosis healthy {healthy:.2} faulty before {faulty_before:.2} after {faulty_after:.2}; temp {t_before:.2} -> {t_after:.2}; current x{c_faulty:.3}"
        );

        // Healthy pumps: no drift. Compare two one-minute spans (about one load cycle each).
        for a in [1, 2] {
            let r1: f64 = vib(a, 0..60).iter().map(|w| rms(w)).sum::<f64>() / 60.0;
            let r2: f64 = vib(a, 60..120).iter().map(|w| rms(w)).sum::<f64>() / 60.0;
            assert!((r1 / r2 - 1.0).abs() < 0.1, "asset {a} vibration rms {r1} vs {r2}");
            let (t1, t2) = (scalar(a, 2, 0..60), scalar(a, 2, 60..120));
            assert!((t1 - t2).abs() < 1.0, "asset {a} temperature {t1} vs {t2}");
            let (c1, c2) = (scalar(a, 1, 0..60), scalar(a, 1, 60..120));
            assert!((c1 - c2).abs() < 0.3, "asset {a} current {c1} vs {c2}");
        }
    }
}
