//! Spike-timing-dependent plasticity with exponential traces (pair-based, or triplet as an
//! option), and weight normalisation.

use serde::{Deserialize, Serialize};

/// Pair-based STDP in its trace form (Morrison, Diesmann & Gerstner 2008, "Phenomenological
/// models of synaptic plasticity based on spike timing", section 4.1), additive with hard
/// bounds, used as in Diehl & Cook 2015 together with per-neuron weight normalisation:
///
/// - every presynaptic spike adds 1 to its trace `x_i`, every postsynaptic spike 1 to `y_j`;
///   traces decay by `pre_decay` / `post_decay` per time step;
/// - on a post spike of `j`: `w_ji += a_plus * x_i` (pre before post potentiates);
/// - on a pre spike of `i`: `w_ji -= a_minus * y_j` (post before pre depresses);
/// - weights are clipped to `[0, w_max]`.
///
/// With `a_minus * tau_post < a_plus * tau_pre` the net change of a neuron that fires is
/// proportional to each input's rate; normalising the row afterwards then moves the
/// weights towards the input pattern, so a neuron's weights become a prototype of what it wins.
///
/// [`StdpRule::Triplet`] adds Pfister & Gerstner's post-post-pre term to the potentiation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StdpParams {
    /// Potentiation per unit of pre-trace at a post spike.
    pub a_plus: f32,
    /// Depression per unit of post-trace at a pre spike.
    pub a_minus: f32,
    /// Pre-trace decay per time step, `exp(-1 / tau_pre_steps)`.
    pub pre_decay: f32,
    /// Post-trace decay per time step, `exp(-1 / tau_post_steps)`.
    pub post_decay: f32,
    /// Upper weight bound.
    pub w_max: f32,
    /// Pair-based (the default; checkpoints without the field restore as pair-based) or triplet.
    #[serde(default)]
    pub rule: StdpRule,
}

/// Which learning rule [`StdpParams`] describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdpRule {
    /// Pair-based: potentiation `a_plus * x_i` at a post spike.
    #[default]
    Pair,
    /// The minimal all-to-all triplet rule of Pfister & Gerstner 2006 ("Triplets of spikes in a
    /// model of spike timing-dependent plasticity", J. Neurosci. 26(38); their minimal model,
    /// with `A3- = 0`, so no slow pre-trace): each neuron keeps a second, slow post-trace `o2_j` (decay
    /// `post_slow_decay` per time step, +1 per post spike), and a post spike potentiates by
    /// `(a_plus + a3_plus * o2_j) * x_i`, with `o2_j` read just before the spike's own increment.
    /// Depression stays the pair term `a_minus * y_j`. Potentiation so grows with the neuron's
    /// recent firing rate: the frequency dependence of cortical plasticity (Sjöström, Turrigiano &
    /// Nelson 2001) that the pair rule misses; with `a3_plus = 0` it is the pair rule.
    Triplet {
        /// Slow post-trace decay per time step, `exp(-1 / tau_post_slow_steps)`.
        post_slow_decay: f32,
        /// Extra potentiation per unit of pre-trace and of slow post-trace at a post spike.
        a3_plus: f32,
    },
}

impl StdpRule {
    /// The kind of rule, as configured.
    pub fn kind(&self) -> StdpRuleKind {
        match self {
            StdpRule::Pair => StdpRuleKind::Pair,
            StdpRule::Triplet { .. } => StdpRuleKind::Triplet,
        }
    }
}

/// The name of a learning rule in configuration: `"pair"` or `"triplet"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdpRuleKind {
    /// [`StdpRule::Pair`].
    #[default]
    Pair,
    /// [`StdpRule::Triplet`].
    Triplet,
}

impl StdpRuleKind {
    /// The rule of this kind; the triplet rule gets `post_slow_decay` and `a3_plus` (the pair
    /// rule needs neither).
    pub fn rule(self, post_slow_decay: f32, a3_plus: f32) -> StdpRule {
        match self {
            StdpRuleKind::Pair => StdpRule::Pair,
            StdpRuleKind::Triplet => StdpRule::Triplet { post_slow_decay, a3_plus },
        }
    }
}

/// The potentiation amplitude of a post spike under the triplet rule: `a_plus + a3_plus * o2`,
/// where `o2` is the neuron's slow post-trace from before the spike (see [`StdpRule::Triplet`]).
pub fn triplet_amplitude(a_plus: f32, a3_plus: f32, post_slow: f32) -> f32 {
    a_plus + a3_plus * post_slow
}

/// On a post spike: potentiate every synapse of the row by its pre-trace (synapses whose trace is
/// not positive are left exactly as they are).
pub fn potentiate(row: &mut [f32], pre_trace: &[f32], a_plus: f32, w_max: f32) {
    for (w, &x) in row.iter_mut().zip(pre_trace) {
        // Computed for every synapse and then selected, so the loop has no branch and vectorises.
        let potentiated = (*w + a_plus * x).min(w_max);
        *w = if x > 0.0 { potentiated } else { *w };
    }
}

/// On a pre spike: depress one synapse by the post-trace of its neuron.
pub fn depress(w: &mut f32, post_trace: f32, a_minus: f32) {
    *w = (*w - a_minus * post_trace).max(0.0);
}

/// Scales the row to Euclidean norm `target`, then re-applies the bounds `[0, w_max]` (the bounds
/// win if they conflict). An all-zero row is left alone.
///
/// Diehl & Cook 2015 normalise the sum (L1); the Euclidean norm (as in Oja 1982) makes a
/// neuron's input current proportional to the cosine similarity between its weights and the
/// input, so the neuron that fires first is the best-matching prototype, not the peakiest one.
pub fn normalise(row: &mut [f32], target: f32, w_max: f32) {
    let norm = row.iter().map(|&w| f64::from(w) * f64::from(w)).sum::<f64>().sqrt() as f32;
    if norm > 0.0 {
        let k = target / norm;
        for w in row.iter_mut() {
            *w = (*w * k).clamp(0.0, w_max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn potentiation_scales_with_the_pre_trace_and_respects_w_max() {
        let mut row = [0.1, 0.1, 0.95];
        potentiate(&mut row, &[1.0, 0.0, 1.0], 0.1, 1.0);
        assert!((row[0] - 0.2).abs() < 1e-6);
        assert_eq!(row[1], 0.1);
        assert_eq!(row[2], 1.0);
    }

    #[test]
    fn depression_stops_at_zero() {
        let mut w = 0.05;
        depress(&mut w, 1.0, 0.02);
        assert!((w - 0.03).abs() < 1e-6);
        depress(&mut w, 10.0, 0.02);
        assert_eq!(w, 0.0);
    }

    #[test]
    fn normalise_sets_the_norm() {
        let mut row = [3.0, 0.0, 4.0];
        normalise(&mut row, 1.0, 1.0);
        assert_eq!(row, [0.6, 0.0, 0.8]);
        let mut capped = [3.0, 0.0, 4.0];
        normalise(&mut capped, 2.0, 1.5);
        assert_eq!(capped, [1.2, 0.0, 1.5]);
        let mut zero = [0.0; 3];
        normalise(&mut zero, 1.0, 1.0);
        assert_eq!(zero, [0.0; 3]);
    }

    #[test]
    fn random_updates_keep_weights_in_bounds() {
        // A hand-rolled property test: arbitrary traces and rates never leave [0, w_max].
        let mut rng = SplitMix64::new(11);
        let w_max = 0.3;
        let mut row: Vec<f32> = (0..32).map(|_| (rng.next_f64() * 0.3) as f32).collect();
        for _ in 0..2_000 {
            let trace: Vec<f32> = (0..32).map(|_| (rng.next_f64() * 5.0) as f32).collect();
            match rng.next_u64() % 3 {
                0 => potentiate(&mut row, &trace, (rng.next_f64() * 0.5) as f32, w_max),
                1 => {
                    let i = (rng.next_u64() % 32) as usize;
                    depress(&mut row[i], trace[i], (rng.next_f64() * 0.5) as f32);
                }
                _ => normalise(&mut row, (rng.next_f64() * 4.0) as f32, w_max),
            }
            assert!(row.iter().all(|w| (0.0..=w_max).contains(w)), "{row:?}");
        }
    }

    #[test]
    fn rule_kinds_build_their_rules_and_old_params_restore_as_pair() {
        assert_eq!(StdpRuleKind::Pair.rule(0.9, 0.1), StdpRule::Pair);
        let t = StdpRuleKind::Triplet.rule(0.9, 0.1);
        assert_eq!(t, StdpRule::Triplet { post_slow_decay: 0.9, a3_plus: 0.1 });
        assert_eq!(t.kind(), StdpRuleKind::Triplet);
        assert_eq!(StdpRule::default().kind(), StdpRuleKind::Pair);
        // Parameters saved before the rule existed have no `rule` field.
        let old = r#"{"a_plus":0.01,"a_minus":0.005,"pre_decay":0.8,"post_decay":0.8,"w_max":1.0}"#;
        assert_eq!(serde_json::from_str::<StdpParams>(old).unwrap().rule, StdpRule::Pair);
        let p = StdpParams { a_plus: 0.01, a_minus: 0.005, pre_decay: 0.8, post_decay: 0.8, w_max: 1.0, rule: t };
        assert_eq!(serde_json::from_str::<StdpParams>(&serde_json::to_string(&p).unwrap()).unwrap(), p);
    }

    #[test]
    fn triplet_amplitude_adds_the_slow_trace_term() {
        assert_eq!(triplet_amplitude(0.01, 0.02, 0.0), 0.01);
        assert!((triplet_amplitude(0.01, 0.02, 2.5) - 0.06).abs() < 1e-7);
        assert_eq!(triplet_amplitude(0.01, 0.0, 7.0), 0.01, "no triplet term: the pair amplitude");
    }
}
