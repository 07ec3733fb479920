//! What fails on a simulated pump, when, and how fast it grows.

use std::fmt;
use std::str::FromStr;

/// What fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultKind {
    /// A spall on the stationary outer race: impacts at BPFO, constant strength.
    #[default]
    OuterRace,
    /// A spall on the inner race, which turns with the shaft: impacts at BPFI, modulated at the
    /// shaft frequency as the defect passes through the load zone.
    InnerRace,
    /// A spall on one rolling element: impacts at twice the ball spin frequency, modulated at the
    /// cage frequency.
    Ball,
    /// Cracked or broken rotor bars of the induction motor: current sidebands at `(1 ± 2s) f`
    /// and a torque pulsation at the pole-pass frequency `2 s f`.
    BrokenRotorBar,
}

impl FaultKind {
    /// Every kind, in the order the command line lists them.
    pub const ALL: [FaultKind; 4] =
        [FaultKind::OuterRace, FaultKind::InnerRace, FaultKind::Ball, FaultKind::BrokenRotorBar];

    /// The kind's name on the command line (`outer-race`, `inner-race`, `ball`, `broken-rotor-bar`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::OuterRace => "outer-race",
            FaultKind::InnerRace => "inner-race",
            FaultKind::Ball => "ball",
            FaultKind::BrokenRotorBar => "broken-rotor-bar",
        }
    }

    /// True for the faults of the bearing (impacts), false for the motor's.
    pub fn is_bearing(self) -> bool {
        !matches!(self, FaultKind::BrokenRotorBar)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault kind name that is not one of [`FaultKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFaultKind(pub String);

impl fmt::Display for UnknownFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
        write!(f, "unknown fault kind `{}` (expected one of {})", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownFaultKind {}

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| UnknownFaultKind(s.to_owned()))
    }
}

/// A fault of `kind` on one asset that appears at `start_s` and grows linearly to full severity
/// over `ramp_s` (faults start small and grow).
#[derive(Debug, Clone)]
pub struct FaultSpec {
    /// Which asset (0-based).
    pub asset_index: usize,
    /// What fails.
    pub kind: FaultKind,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused_with_the_choices() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.to_string().parse::<FaultKind>(), Ok(kind));
        }
        assert_eq!(FaultKind::default(), FaultKind::OuterRace);
        assert_eq!("broken-rotor-bar".parse::<FaultKind>(), Ok(FaultKind::BrokenRotorBar));
        let err = "Outer-Race".parse::<FaultKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown fault kind `Outer-Race` (expected one of outer-race, inner-race, ball, broken-rotor-bar)"
        );
        assert!("".parse::<FaultKind>().is_err());
    }

    #[test]
    fn severity_is_zero_before_the_start_then_ramps_to_one() {
        let f = FaultSpec { asset_index: 0, kind: FaultKind::Ball, start_s: 10.0, ramp_s: 20.0 };
        assert_eq!(f.severity(9.9), 0.0);
        assert_eq!(f.severity(10.0), 0.0);
        assert_eq!(f.severity(20.0), 0.5);
        assert_eq!(f.severity(30.0), 1.0);
        assert_eq!(f.severity(1e9), 1.0);
        let sudden = FaultSpec { ramp_s: 0.0, ..f };
        assert_eq!(sudden.severity(10.0), 1.0);
    }
}
