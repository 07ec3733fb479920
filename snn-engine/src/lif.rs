//! Leaky integrate-and-fire neurons with a homeostatic adaptive threshold.

use serde::{Deserialize, Serialize};

/// Parameters of a discrete-time LIF neuron (Gerstner et al., *Neuronal Dynamics*, 2014, ch. 1),
/// with the adaptive threshold of Diehl & Cook 2015 (each spike raises the neuron's threshold
/// by `theta_plus`, which decays back with `theta_decay`; a neuron that wins too often becomes
/// harder to excite, so all neurons get used).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LifParams {
    /// Membrane decay per time step, `exp(-1 / tau_membrane_steps)`.
    pub decay: f32,
    /// Base firing threshold.
    pub threshold: f32,
    /// Potential after a spike (and at the start of every window).
    pub reset: f32,
    /// Threshold increment per spike.
    pub theta_plus: f32,
    /// Adaptive-threshold decay per time step, `exp(-1 / tau_theta_steps)`.
    pub theta_decay: f32,
}

/// Sub-threshold update: `v <- v * decay + input`; `theta` decays when `adapt`.
pub fn integrate(p: &LifParams, v: &mut f32, theta: &mut f32, input: f32, adapt: bool) {
    *v = *v * p.decay + input;
    if adapt {
        *theta *= p.theta_decay;
    }
}

/// How far `v` is above the neuron's threshold `threshold + theta` (>= 0 means it may fire).
pub fn margin(p: &LifParams, v: f32, theta: f32) -> f32 {
    v - (p.threshold + theta)
}

/// Emits a spike: `v` resets and (when `adapt`) `theta` grows by `theta_plus`.
pub fn fire(p: &LifParams, v: &mut f32, theta: &mut f32, adapt: bool) {
    *v = p.reset;
    if adapt {
        *theta += p.theta_plus;
    }
}

/// One time step of an isolated neuron: [`integrate`], then [`fire`] if the margin is >= 0.
/// Returns whether it fired.
pub fn lif_step(p: &LifParams, v: &mut f32, theta: &mut f32, input: f32, adapt: bool) -> bool {
    integrate(p, v, theta, input, adapt);
    let fires = margin(p, *v, *theta) >= 0.0;
    if fires {
        fire(p, v, theta, adapt);
    }
    fires
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> LifParams {
        LifParams { decay: 0.5, threshold: 1.0, reset: 0.0, theta_plus: 0.25, theta_decay: 1.0 }
    }

    #[test]
    fn integrates_and_leaks() {
        let p = params();
        let (mut v, mut th) = (0.0, 0.0);
        assert!(!lif_step(&p, &mut v, &mut th, 0.4, false));
        assert_eq!(v, 0.4);
        assert!(!lif_step(&p, &mut v, &mut th, 0.4, false));
        assert!((v - 0.6).abs() < 1e-6);
        // No input: the potential halves every step.
        assert!(!lif_step(&p, &mut v, &mut th, 0.0, false));
        assert!((v - 0.3).abs() < 1e-6);
    }

    #[test]
    fn fires_resets_and_adapts() {
        let p = params();
        let (mut v, mut th) = (0.0, 0.0);
        assert!(lif_step(&p, &mut v, &mut th, 1.0, true));
        assert_eq!(v, 0.0);
        assert_eq!(th, 0.25);
        // The raised threshold now blocks the same input.
        assert!(!lif_step(&p, &mut v, &mut th, 1.0, true));
        assert!(lif_step(&p, &mut v, &mut th, 1.0, true));
        assert_eq!(th, 0.5);
    }

    #[test]
    fn subthreshold_input_never_fires() {
        // Steady state of v = 0.5 v + 0.49 is 0.98 < 1.
        let p = params();
        let (mut v, mut th) = (0.0, 0.0);
        for _ in 0..100 {
            assert!(!lif_step(&p, &mut v, &mut th, 0.49, true));
        }
        assert!(v < 1.0 && v > 0.97);
    }

    #[test]
    fn theta_decays_when_adapting() {
        let p = LifParams { theta_decay: 0.5, ..params() };
        let (mut v, mut th) = (0.0, 1.0);
        lif_step(&p, &mut v, &mut th, 0.0, true);
        assert_eq!(th, 0.5);
        lif_step(&p, &mut v, &mut th, 0.0, false);
        assert_eq!(th, 0.5);
    }
}
