//! Rolling-element bearing physics: defect frequencies from the geometry, the impact train a
//! local defect produces, and the ring-down of the structure each impact excites.
//!
//! Kinematics after Randall & Antoni, "Rolling element bearing diagnostics — a tutorial",
//! MSSP 25 (2011), eqs. 1-4, with `n` rolling elements of diameter `d` on pitch diameter `D`,
//! contact angle `φ` and shaft frequency `fr` (stationary outer race).

use super::fault::FaultKind;
use snn_engine::rng::SplitMix64;
use std::f64::consts::TAU;

/// The geometry that sets a bearing's defect frequencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BearingGeometry {
    /// Number of rolling elements `n`.
    pub rolling_elements: f64,
    /// Rolling-element diameter `d`, mm.
    pub element_diameter_mm: f64,
    /// Pitch diameter `D`, mm.
    pub pitch_diameter_mm: f64,
    /// Contact angle `φ`, rad (0 for a deep-groove ball bearing under radial load).
    pub contact_angle_rad: f64,
}

/// A 6206-class deep-groove ball bearing, typical for a pump motor of this size.
pub const BEARING_6206: BearingGeometry = BearingGeometry {
    rolling_elements: 9.0,
    element_diameter_mm: 7.94,
    pitch_diameter_mm: 39.04,
    contact_angle_rad: 0.0,
};

impl BearingGeometry {
    /// `d/D cos φ`, the ratio every defect frequency depends on.
    fn ratio(&self) -> f64 {
        self.element_diameter_mm / self.pitch_diameter_mm * self.contact_angle_rad.cos()
    }

    /// Ball-pass frequency, outer race: `n/2 fr (1 - d/D cos φ)` (eq. 1).
    pub fn bpfo(&self, shaft_hz: f64) -> f64 {
        self.rolling_elements / 2.0 * shaft_hz * (1.0 - self.ratio())
    }

    /// Ball-pass frequency, inner race: `n/2 fr (1 + d/D cos φ)` (eq. 2).
    pub fn bpfi(&self, shaft_hz: f64) -> f64 {
        self.rolling_elements / 2.0 * shaft_hz * (1.0 + self.ratio())
    }

    /// Ball (roller) spin frequency: `D/(2d) fr (1 - (d/D cos φ)^2)` (eq. 4).
    pub fn bsf(&self, shaft_hz: f64) -> f64 {
        self.pitch_diameter_mm / (2.0 * self.element_diameter_mm) * shaft_hz * (1.0 - self.ratio().powi(2))
    }

    /// Fundamental train (cage) frequency: `fr/2 (1 - d/D cos φ)` (eq. 3).
    pub fn ftf(&self, shaft_hz: f64) -> f64 {
        shaft_hz / 2.0 * (1.0 - self.ratio())
    }
}

/// Depth of the load-zone modulation of a moving defect's impacts. A radially loaded bearing
/// carries most load on one side: a defect that travels (the inner race with the shaft, a ball
/// with the cage) strikes hard there and softly opposite, approximated as `1 + m cos θ`. Kept
/// below 1 so the impact train itself stays the strongest line of the envelope spectrum, as on
/// real machines with a little preload.
const LOAD_ZONE_DEPTH: f64 = 0.6;
/// Rolling elements slip, so impacts wander about 1 % of a period around their kinematic
/// position (Randall & Antoni 2011, §2.1): what makes the signal cyclostationary, not periodic.
const SLIP_JITTER: f64 = 0.01;
/// Impact-to-impact amplitude scatter (surface roughness, lubricant film).
const AMPLITUDE_SCATTER: f64 = 0.1;

/// One impact of a rolling element on a defect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impact {
    /// Simulated time of the impact, s.
    pub t_s: f64,
    /// Relative strength (about 1; the load zone and scatter make it vary).
    pub weight: f64,
}

/// The impacts of a bearing defect of `kind` between `from_s` and `to_s` on a shaft turning at
/// `shaft_hz`, with their load-zone weights and random slip. Empty for a fault that is not a
/// bearing's.
///
/// - outer race: at BPFO, constant weight (the defect sits still in the load zone);
/// - inner race: at BPFI, weighted by the shaft angle (the defect turns through the load zone),
///   so the envelope spectrum shows BPFI with sidebands at ±fr;
/// - ball: at 2×BSF (the defect strikes both races once per spin), weighted by the cage angle
///   (the cage carries the ball through the load zone), sidebands at ±FTF.
pub fn impacts(
    kind: FaultKind,
    geometry: &BearingGeometry,
    shaft_hz: f64,
    from_s: f64,
    to_s: f64,
    rng: &mut SplitMix64,
) -> Vec<Impact> {
    let (rate_hz, modulation_hz) = match kind {
        FaultKind::OuterRace => (geometry.bpfo(shaft_hz), None),
        FaultKind::InnerRace => (geometry.bpfi(shaft_hz), Some(shaft_hz)),
        FaultKind::Ball => (2.0 * geometry.bsf(shaft_hz), Some(geometry.ftf(shaft_hz))),
        FaultKind::BrokenRotorBar => return Vec::new(),
    };
    let period = 1.0 / rate_hz;
    let first = (from_s / period).floor() as i64;
    let last = (to_s / period).ceil() as i64;
    (first..=last)
        .map(|k| {
            let t_s = k as f64 * period + SLIP_JITTER * period * rng.next_gaussian();
            let load_zone = modulation_hz.map_or(1.0, |f| 1.0 + LOAD_ZONE_DEPTH * (TAU * f * t_s).cos());
            Impact { t_s, weight: load_zone * (1.0 + AMPLITUDE_SCATTER * rng.next_gaussian()) }
        })
        .collect()
}

/// A lightly damped structural mode an impact sets ringing: `exp(-t/decay) sin(2π f t)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resonance {
    /// Natural frequency, Hz.
    pub frequency_hz: f64,
    /// Decay time constant, s.
    pub decay_s: f64,
}

impl Resonance {
    /// How long before a window an impact can start and still ring into it (10 decay
    /// constants: below 5e-5 of its peak).
    pub fn ring_s(&self) -> f64 {
        10.0 * self.decay_s
    }

    /// Adds the ring-down of every impact, `peak × weight` at its start, to the window
    /// `samples` that starts at `t0_s` and is sampled at `rate_hz`.
    pub fn add_ring_downs(&self, samples: &mut [f64], t0_s: f64, rate_hz: f64, impacts: &[Impact], peak: f64) {
        if peak == 0.0 {
            return;
        }
        for impact in impacts {
            let first = ((impact.t_s - t0_s) * rate_hz).ceil().max(0.0) as usize;
            let end = (((impact.t_s + self.ring_s() - t0_s) * rate_hz).ceil().max(0.0) as usize).min(samples.len());
            let amplitude = peak * impact.weight;
            for (idx, s) in samples.iter_mut().enumerate().take(end).skip(first) {
                let dt = t0_s + idx as f64 / rate_hz - impact.t_s;
                *s += amplitude * (-dt / self.decay_s).exp() * (TAU * self.frequency_hz * dt).sin();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FR: f64 = 1480.0 / 60.0;

    #[test]
    fn the_6206_gives_the_textbook_defect_frequencies() {
        let g = BEARING_6206;
        let r = 7.94 / 39.04;
        // Per shaft revolution, the closed forms and the values tabulated for this bearing.
        assert!((g.bpfo(1.0) - 4.5 * (1.0 - r)).abs() < 1e-12);
        assert!((g.bpfo(1.0) - 3.585).abs() < 0.001, "{}", g.bpfo(1.0));
        assert!((g.bpfi(1.0) - 5.415).abs() < 0.001, "{}", g.bpfi(1.0));
        assert!((g.bsf(1.0) - 2.357).abs() < 0.001, "{}", g.bsf(1.0));
        assert!((g.ftf(1.0) - 0.398).abs() < 0.001, "{}", g.ftf(1.0));
        // The classic relations: the two ball passes sum to n·fr; the cage turns at under half
        // the shaft speed; BPFO is n·FTF (each ball passes a point of the outer race once per
        // cage revolution).
        assert!((g.bpfo(FR) + g.bpfi(FR) - 9.0 * FR).abs() < 1e-9);
        assert!(g.ftf(FR) < FR / 2.0);
        assert!((g.bpfo(FR) - 9.0 * g.ftf(FR)).abs() < 1e-9);
        // Everything scales with shaft speed.
        assert!((g.bpfi(2.0 * FR) - 2.0 * g.bpfi(FR)).abs() < 1e-9);
    }

    #[test]
    fn an_angular_contact_shifts_the_frequencies_the_way_the_closed_forms_say() {
        let g = BearingGeometry { contact_angle_rad: 40f64.to_radians(), ..BEARING_6206 };
        let r = 7.94 / 39.04 * 40f64.to_radians().cos();
        assert!((g.bpfi(FR) - 4.5 * FR * (1.0 + r)).abs() < 1e-9);
        assert!((g.bsf(FR) - 39.04 / (2.0 * 7.94) * FR * (1.0 - r * r)).abs() < 1e-9);
        assert!(g.bpfo(FR) > BEARING_6206.bpfo(FR), "a contact angle brings BPFO towards n/2 fr");
    }

    #[test]
    fn impacts_come_at_the_defect_rate_with_about_one_percent_jitter() {
        let mut rng = SplitMix64::new(7);
        for (kind, rate) in [
            (FaultKind::OuterRace, BEARING_6206.bpfo(FR)),
            (FaultKind::InnerRace, BEARING_6206.bpfi(FR)),
            (FaultKind::Ball, 2.0 * BEARING_6206.bsf(FR)),
        ] {
            let imp = impacts(kind, &BEARING_6206, FR, 0.0, 10.0, &mut rng);
            let mean_gap = (imp.last().unwrap().t_s - imp[0].t_s) / (imp.len() - 1) as f64;
            assert!((mean_gap * rate - 1.0).abs() < 1e-3, "{kind}: {mean_gap} vs {}", 1.0 / rate);
            let gaps: Vec<f64> = imp.windows(2).map(|w| (w[1].t_s - w[0].t_s) * rate - 1.0).collect();
            let sd = (gaps.iter().map(|g| g * g).sum::<f64>() / gaps.len() as f64).sqrt();
            // Independent jitter of 1 % on both ends of a gap: sqrt(2) %.
            assert!((0.01..0.02).contains(&sd), "{kind}: gap scatter {sd}");
        }
        assert!(impacts(FaultKind::BrokenRotorBar, &BEARING_6206, FR, 0.0, 10.0, &mut rng).is_empty());
    }

    #[test]
    fn only_moving_defects_are_modulated_by_the_load_zone() {
        let mut rng = SplitMix64::new(8);
        let spread = |imp: &[Impact]| {
            let max = imp.iter().map(|i| i.weight).fold(f64::MIN, f64::max);
            let min = imp.iter().map(|i| i.weight).fold(f64::MAX, f64::min);
            max - min
        };
        let outer = impacts(FaultKind::OuterRace, &BEARING_6206, FR, 0.0, 2.0, &mut rng);
        let inner = impacts(FaultKind::InnerRace, &BEARING_6206, FR, 0.0, 2.0, &mut rng);
        assert!(spread(&outer) < 0.8, "outer race {}", spread(&outer));
        assert!(spread(&inner) > 1.0, "inner race {}", spread(&inner));
    }

    #[test]
    fn a_ring_down_starts_at_the_impact_and_decays() {
        let res = Resonance { frequency_hz: 3_000.0, decay_s: 0.001 };
        let fs = 25_600.0;
        let mut x = vec![0.0; 512];
        res.add_ring_downs(&mut x, 0.0, fs, &[Impact { t_s: 0.001, weight: 1.0 }], 2.0);
        let start = (0.001 * fs).ceil() as usize;
        assert!(x[..start].iter().all(|&v| v == 0.0));
        let early = x[start..start + 26].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let late = x[start + 128..start + 154].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(early > 1.0 && early <= 2.0, "{early}");
        assert!(late < early * 0.02, "{late} after 5 ms vs {early}");
    }
}
