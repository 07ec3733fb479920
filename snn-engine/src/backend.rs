//! Backends run the layer for one encoding window; `CpuBackend` is the f32 reference.

use serde::{Deserialize, Serialize};

use crate::encoder::SpikeRaster;
use crate::lif::{LifParams, fire, integrate, margin};
use crate::network::Layer;
use crate::stdp::{StdpRule, depress, normalise, potentiate, triplet_amplitude};

/// What happened in the layer during one window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowActivity {
    /// Output spikes per neuron.
    pub spike_counts: Vec<u32>,
    /// Time step of each neuron's first spike.
    pub first_spike: Vec<Option<u32>>,
    /// Input spikes delivered.
    pub input_spikes: u64,
    /// Output spikes emitted.
    pub output_spikes: u64,
    /// Synaptic events: each input spike times its fan-out (all neurons, as hardware routes it).
    pub synaptic_events: u64,
    /// The neuron with most spikes (ties: earliest first spike, then lowest index); `None` when
    /// nothing fired.
    pub winner: Option<usize>,
}

/// Something that can run a [`Layer`] over a window of input spikes: the CPU reference here,
/// emulated neuromorphic hardware later. Every backend must give the same winner for the same
/// input when its non-idealities are off.
pub trait Backend {
    /// Runs `layer` over `input`. `learning_rate` scales the layer's STDP amplitudes; `0.0`
    /// freezes the weights and the adaptive thresholds (inference only).
    fn run_window(&mut self, layer: &mut Layer, input: &SpikeRaster, learning_rate: f32) -> WindowActivity;
}

/// Event-driven f32 simulation on the CPU, fully deterministic (fixed iteration order).
///
/// Per time step: traces decay; each input spike adds its weights to the currents of every
/// recruited neuron, bumps its pre-trace and (when learning) depresses its synapses onto
/// neurons with a post-trace; then every recruited neuron integrates. Of the neurons at or
/// above threshold, only the one furthest above it fires (ties: lowest index): inhibition is
/// modelled as instantaneous, so near-identical prototypes cannot all fire in the same time
/// step and all learn the same input. The spiking neuron potentiates its row by the pre-traces,
/// bumps its post-trace and inhibits every other neuron by `inhibition`. Membrane potentials
/// and traces start from rest every window (each window is one presentation, as in Diehl &
/// Cook 2015); after the window the rows of neurons that fired are renormalised.
///
/// Under [`StdpRule::Triplet`] each recruited neuron also keeps the slow post-trace, which decays
/// with the others and scales the spiking neuron's potentiation (read before its own increment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn run_window(&mut self, layer: &mut Layer, input: &SpikeRaster, learning_rate: f32) -> WindowActivity {
        let spec = layer.spec;
        let (n_in, k) = (spec.inputs, spec.neurons);
        debug_assert_eq!(input.inputs, n_in);
        let learn = learning_rate > 0.0;
        let a_plus = spec.stdp.a_plus * learning_rate;
        let a_minus = spec.stdp.a_minus * learning_rate;
        // The triplet term's slow post-trace decay and amplitude; `None` under the pair rule,
        // whose loop is then exactly what it was.
        let triplet = match spec.stdp.rule {
            StdpRule::Pair => None,
            StdpRule::Triplet { post_slow_decay, a3_plus } => Some((post_slow_decay, a3_plus * learning_rate)),
        };
        let mut live = live_neurons(layer);
        let mut pre = vec![0.0f32; n_in];
        let mut act =
            WindowActivity { spike_counts: vec![0; k], first_spike: vec![None; k], ..WindowActivity::default() };

        for (t, spikes) in input.spikes.iter().enumerate() {
            pre.iter_mut().for_each(|x| *x *= spec.stdp.pre_decay);
            live.iter_mut().for_each(|n| n.post *= spec.stdp.post_decay);
            if let Some((decay, _)) = triplet {
                live.iter_mut().for_each(|n| n.post_slow *= decay);
            }
            for &i in spikes {
                pre[i as usize] += 1.0;
            }
            deliver(&mut layer.weights, n_in, &mut live, spikes, learn.then_some(a_minus));
            act.input_spikes += spikes.len() as u64;
            act.synaptic_events += spikes.len() as u64 * k as u64;

            let Some(s) = integrate_and_select(&spec.lif, &mut live, &mut layer.theta, learn) else { continue };
            let j = live[s].j;
            fire(&spec.lif, &mut live[s].v, &mut layer.theta[j], learn);
            act.spike_counts[j] += 1;
            act.first_spike[j].get_or_insert(t as u32);
            act.output_spikes += 1;
            live[s].post += 1.0;
            // Triplet: the slow trace from before this spike sets the amplitude, then counts it.
            let amplitude = match triplet {
                None => a_plus,
                Some((_, a3_plus)) => {
                    let amplitude = triplet_amplitude(a_plus, a3_plus, live[s].post_slow);
                    live[s].post_slow += 1.0;
                    amplitude
                }
            };
            if learn {
                potentiate(layer.row_mut(j), &pre, amplitude, spec.stdp.w_max);
            }
            for (o, n) in live.iter_mut().enumerate() {
                if o != s {
                    n.v -= spec.inhibition;
                }
            }
        }

        if learn {
            for n in &live {
                if act.spike_counts[n.j] > 0 {
                    normalise(layer.row_mut(n.j), spec.weight_norm, spec.stdp.w_max);
                }
            }
        }
        act.winner = winner(&act.spike_counts, &act.first_spike);
        act
    }
}

/// The window state of one recruited neuron. Unused neurons never receive current, fire or learn,
/// so the time-step loops visit only these (typically ~8 of 64 neurons on a scalar channel).
#[derive(Debug, Clone, Copy)]
struct Live {
    /// The neuron's index in the layer.
    j: usize,
    /// Membrane potential.
    v: f32,
    /// Input current of the current time step.
    current: f32,
    /// Post-synaptic STDP trace.
    post: f32,
    /// Slow post-synaptic trace of the triplet rule (`o2`); stays 0 under the pair rule.
    post_slow: f32,
}

/// The recruited neurons in increasing index order (the order every loop must keep: the firing
/// tie-break prefers the lowest index), at rest.
fn live_neurons(layer: &Layer) -> Vec<Live> {
    let reset = layer.spec.lif.reset;
    (0..layer.spec.neurons)
        .filter(|&j| layer.used[j])
        .map(|j| Live { j, v: reset, current: 0.0, post: 0.0, post_slow: 0.0 })
        .collect()
}

/// Sets each live neuron's current to the sum of its weights from this step's `spikes` and, with
/// `depression = Some(a_minus)`, then depresses each of those synapses by the neuron's post-trace
/// (post before pre: the current reads the weights from before the depression).
///
/// Neuron-major: a neuron's current still adds its weights in spike order from 0.0, so every f32
/// sum is bit-identical to the input-major loop; neurons are independent, so the order in which
/// they are visited does not matter. Neurons go in batches of [`LANES`] whose sums interleave:
/// one neuron's chain of dependent additions is what limits this loop.
fn deliver(weights: &mut [f32], n_in: usize, live: &mut [Live], spikes: &[u32], depression: Option<f32>) {
    for first in (0..live.len()).step_by(LANES) {
        // A short last batch repeats its last neuron, which is summed again to the same value.
        let batch = std::array::from_fn(|l| (first + l).min(live.len() - 1));
        sum_batch(weights, n_in, live, &batch, spikes);
    }
    let Some(a_minus) = depression else { return };
    for n in live.iter().filter(|n| n.post > 0.0) {
        let row = &mut weights[n.j * n_in..(n.j + 1) * n_in];
        for &i in spikes {
            depress(&mut row[i as usize], n.post, a_minus);
        }
    }
}

/// Neurons summed side by side by [`sum_batch`]: enough independent chains to hide the latency of
/// an f32 addition, few enough for registers.
const LANES: usize = 8;

/// Sets the current of the live neurons at positions `batch` to their sums over `spikes`.
fn sum_batch(weights: &[f32], n_in: usize, live: &mut [Live], batch: &[usize; LANES], spikes: &[u32]) {
    let rows: [&[f32]; LANES] = std::array::from_fn(|l| {
        let j = live[batch[l]].j;
        &weights[j * n_in..(j + 1) * n_in]
    });
    let mut sums = [0.0f32; LANES];
    for &i in spikes {
        for (sum, row) in sums.iter_mut().zip(&rows) {
            *sum += row[i as usize];
        }
    }
    for (&s, &sum) in batch.iter().zip(&sums) {
        live[s].current = sum;
    }
}

/// Integrates every live neuron and returns the position in `live` of the one furthest at or
/// above its threshold (ties: the first, i.e. the lowest index), if any.
fn integrate_and_select(lif: &LifParams, live: &mut [Live], theta: &mut [f32], adapt: bool) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (s, n) in live.iter_mut().enumerate() {
        integrate(lif, &mut n.v, &mut theta[n.j], n.current, adapt);
        let m = margin(lif, n.v, theta[n.j]);
        if m >= 0.0 && best.is_none_or(|(_, b)| m > b) {
            best = Some((s, m));
        }
    }
    best.map(|(s, _)| s)
}

/// Most spikes; ties broken by the earliest first spike, then the lowest index.
fn winner(counts: &[u32], first: &[Option<u32>]) -> Option<usize> {
    (0..counts.len())
        .filter(|&j| counts[j] > 0)
        .min_by_key(|&j| (std::cmp::Reverse(counts[j]), first[j].unwrap_or(u32::MAX), j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::rates_to_raster;
    use crate::network::{LayerSpec, dot};

    /// The network tests' layer, with a lower firing threshold so a few input spikes make a neuron fire.
    fn spec(inputs: usize, neurons: usize) -> LayerSpec {
        let mut spec = crate::network::tests::spec(inputs, neurons);
        spec.lif.threshold = 0.6;
        spec
    }

    fn raster(per_step: Vec<Vec<u32>>, inputs: usize) -> SpikeRaster {
        SpikeRaster::from_steps(inputs, per_step)
    }

    #[test]
    fn winner_tie_breaks() {
        assert_eq!(winner(&[0, 0], &[None, None]), None);
        assert_eq!(winner(&[2, 3, 3], &[Some(0), Some(5), Some(2)]), Some(2));
        assert_eq!(winner(&[3, 3], &[Some(1), Some(1)]), Some(0));
    }

    #[test]
    fn matching_neuron_wins_and_counts_are_kept() {
        let mut layer = Layer::new(spec(4, 3));
        layer.recruit(&[1.0, 1.0, 0.0, 0.0]);
        layer.recruit(&[0.0, 0.0, 1.0, 1.0]);
        let input = rates_to_raster(&[0.0, 0.0, 1.0, 1.0], &[0.0; 4], 20);
        let act = CpuBackend.run_window(&mut layer, &input, 0.0);
        assert_eq!(act.winner, Some(1));
        assert_eq!(act.spike_counts[0], 0);
        assert_eq!(act.spike_counts[2], 0, "unused neurons stay silent");
        assert_eq!(act.input_spikes, 40);
        assert_eq!(act.synaptic_events, 120);
        assert_eq!(act.output_spikes, u64::from(act.spike_counts[1]));
    }

    #[test]
    fn pre_before_post_potentiates_post_before_pre_depresses() {
        // One neuron, three inputs; input 0 drives it to fire at step 0.
        let mut s = spec(3, 1);
        s.lif.threshold = 0.5;
        let mut layer = Layer::new(s);
        layer.weights = vec![0.6, 0.2, 0.2];
        crate::stdp::normalise(&mut layer.weights, 1.0, 1.0);
        let w0 = layer.weights.clone();
        layer.used[0] = true;
        // Step 0: inputs 0 and 1 (pre at/before post); step 2: input 2 (after the post spike).
        let input = raster(vec![vec![0, 1], vec![], vec![2]], 3);
        let mut plain = layer.clone();
        let act = CpuBackend.run_window(&mut plain, &input, 0.0);
        assert_eq!(act.spike_counts[0], 1);
        assert_eq!(plain.weights, layer.weights, "no learning at rate 0");

        // Normalisation keeps the norm, so the STDP signs show as relative changes.
        CpuBackend.run_window(&mut layer, &input, 1.0);
        assert!(layer.weights[1] > w0[1], "pre-before-post potentiates: {:?}", layer.weights);
        assert!(layer.weights[2] < w0[2], "post-before-pre depresses: {:?}", layer.weights);
        assert!((dot(&layer.weights, &layer.weights) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn learning_moves_the_winner_towards_its_input_and_keeps_bounds() {
        let mut s = spec(6, 1);
        s.stdp.a_plus = 0.05;
        s.stdp.a_minus = 0.02;
        s.stdp.w_max = 0.8;
        let mut layer = Layer::new(s);
        layer.recruit(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        let target = [1.0, 0.8, 0.6, 0.1, 0.0, 0.0];
        let before = dot(layer.row(0), &target) / dot(layer.row(0), layer.row(0)).sqrt();
        let input = rates_to_raster(&target, &[0.5; 6], 20);
        for _ in 0..30 {
            CpuBackend.run_window(&mut layer, &input, 1.0);
            assert!(layer.weights.iter().all(|w| (0.0..=0.8).contains(w)));
        }
        let after = dot(layer.row(0), &target) / dot(layer.row(0), layer.row(0)).sqrt();
        assert!(after > before + 0.1, "cosine-ish {before} -> {after}");
        // An input that never spikes is never potentiated and fades under normalisation.
        assert!(layer.row(0)[5] < 0.02, "{:?}", layer.row(0));
    }

    /// The input-major loop `run_window` replaced, kept as the oracle of its bit-identity.
    fn reference_run_window(layer: &mut Layer, input: &SpikeRaster, learning_rate: f32) -> WindowActivity {
        let spec = layer.spec;
        let (n_in, k) = (spec.inputs, spec.neurons);
        let learn = learning_rate > 0.0;
        let a_plus = spec.stdp.a_plus * learning_rate;
        let a_minus = spec.stdp.a_minus * learning_rate;
        let active: Vec<usize> = (0..k).filter(|&j| layer.used[j]).collect();
        let mut v = vec![spec.lif.reset; k];
        let mut current = vec![0.0f32; k];
        let mut pre = vec![0.0f32; n_in];
        let mut post = vec![0.0f32; k];
        let mut act =
            WindowActivity { spike_counts: vec![0; k], first_spike: vec![None; k], ..WindowActivity::default() };
        for (t, spikes) in input.spikes.iter().enumerate() {
            pre.iter_mut().for_each(|x| *x *= spec.stdp.pre_decay);
            post.iter_mut().for_each(|y| *y *= spec.stdp.post_decay);
            current.iter_mut().for_each(|c| *c = 0.0);
            for &i in spikes {
                let i = i as usize;
                pre[i] += 1.0;
                for &j in &active {
                    let w = &mut layer.weights[j * n_in + i];
                    current[j] += *w;
                    if learn && post[j] > 0.0 {
                        depress(w, post[j], a_minus);
                    }
                }
            }
            act.input_spikes += spikes.len() as u64;
            act.synaptic_events += spikes.len() as u64 * k as u64;
            let mut best: Option<(usize, f32)> = None;
            for &j in &active {
                integrate(&spec.lif, &mut v[j], &mut layer.theta[j], current[j], learn);
                let m = margin(&spec.lif, v[j], layer.theta[j]);
                if m >= 0.0 && best.is_none_or(|(_, b)| m > b) {
                    best = Some((j, m));
                }
            }
            if let Some((j, _)) = best {
                fire(&spec.lif, &mut v[j], &mut layer.theta[j], learn);
                act.spike_counts[j] += 1;
                act.first_spike[j].get_or_insert(t as u32);
                act.output_spikes += 1;
                post[j] += 1.0;
                if learn {
                    potentiate(&mut layer.weights[j * n_in..(j + 1) * n_in], &pre, a_plus, spec.stdp.w_max);
                }
                for &o in &active {
                    if o != j {
                        v[o] -= spec.inhibition;
                    }
                }
            }
        }
        if learn {
            for &j in &active {
                if act.spike_counts[j] > 0 {
                    normalise(layer.row_mut(j), spec.weight_norm, spec.stdp.w_max);
                }
            }
        }
        act.winner = winner(&act.spike_counts, &act.first_spike);
        act
    }

    fn bits(xs: &[f32]) -> Vec<u32> {
        xs.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn matches_the_input_major_reference_bit_for_bit() {
        // Random partly recruited layers (more neurons than one batch of lanes), random rasters,
        // learning on and off, over many windows so learned state feeds back.
        let mut rng = crate::rng::SplitMix64::new(5);
        for case in 0..12 {
            let (inputs, neurons) = (5 + case * 7, 3 + case * 2);
            let mut s = spec(inputs, neurons);
            s.lif.theta_plus = 0.05;
            s.lif.theta_decay = 0.99;
            s.stdp.a_plus = 0.05;
            s.stdp.a_minus = 0.03;
            s.stdp.w_max = 0.7;
            let mut layer = Layer::new(s);
            for j in 0..neurons {
                let rates: Vec<f32> = (0..inputs).map(|_| rng.next_f64() as f32).collect();
                layer.recruit(&rates);
                // Holes: unused neurons, with weights, between recruited ones.
                layer.used[j] = !rng.next_u64().is_multiple_of(4);
            }
            let mut reference = layer.clone();
            let mut output_spikes = 0;
            let phases: Vec<f32> = (0..inputs).map(|_| rng.next_f64() as f32).collect();
            for window in 0..40 {
                let rates: Vec<f32> = (0..inputs).map(|_| (rng.next_f64() * 0.8) as f32).collect();
                let input = rates_to_raster(&rates, &phases, 20);
                let rate = [0.0, 1.0, 0.3][window % 3];
                let got = CpuBackend.run_window(&mut layer, &input, rate);
                let want = reference_run_window(&mut reference, &input, rate);
                assert_eq!(got, want, "case {case}, window {window}");
                assert_eq!(bits(&layer.weights), bits(&reference.weights), "case {case}, window {window}");
                assert_eq!(bits(&layer.theta), bits(&reference.theta), "case {case}, window {window}");
                output_spikes += got.output_spikes;
            }
            assert!(output_spikes > 0 || layer.used_count() == 0, "case {case} never fired");
        }
    }

    /// One neuron; a driver input at `w_max` makes it fire at every driver spike (every `period`
    /// steps over 40), and a probe input spiking with the driver is potentiated by each post spike.
    /// Returns the probe's weight gain before renormalisation.
    fn probe_gain(rule: StdpRule, period: usize) -> f32 {
        let mut s = spec(2, 1);
        // Small steps, so the probe stays far below w_max; nothing is depressed, so only
        // potentiation shows.
        s.stdp.a_plus = 0.001;
        s.stdp.a_minus = 0.0;
        s.stdp.rule = rule;
        let mut layer = Layer::new(s);
        layer.weights = vec![1.0, 0.1];
        layer.used[0] = true;
        let steps = (0..40).map(|t| if t % period == 0 { vec![0, 1] } else { vec![] }).collect();
        let act = CpuBackend.run_window(&mut layer, &raster(steps, 2), 1.0);
        assert_eq!(act.spike_counts[0] as usize, 40 / period, "the neuron follows the driver");
        // The driver stays clipped at w_max, and renormalisation (a shrink here) keeps the ratio.
        let gain = layer.weights[1] / layer.weights[0] - 0.1;
        assert!(gain < 0.5, "the probe must stay unclipped: {gain}");
        gain
    }

    #[test]
    fn triplet_potentiation_grows_with_the_post_rate() {
        let triplet = StdpRule::Triplet { post_slow_decay: (-1.0f32 / 20.0).exp(), a3_plus: 0.001 };
        let (pair_low, triplet_low) = (probe_gain(StdpRule::Pair, 10), probe_gain(triplet, 10));
        let (pair_high, triplet_high) = (probe_gain(StdpRule::Pair, 2), probe_gain(triplet, 2));
        assert!(pair_low > 0.0 && triplet_low > pair_low, "low rate: pair {pair_low}, triplet {triplet_low}");
        assert!(triplet_high > pair_high, "high rate: pair {pair_high}, triplet {triplet_high}");
        // The point of the rule: at the same pair amplitudes, the extra potentiation grows with
        // the post rate (the slow trace sums ~1 / (1 - e^(-period / 20)) earlier spikes).
        let (boost_low, boost_high) = (triplet_low / pair_low, triplet_high / pair_high);
        assert!(boost_high > 2.0 * boost_low, "boost {boost_low} at 4 spikes, {boost_high} at 20 spikes");
        assert!(boost_high > 4.0, "{boost_high}");
        // A single post spike has no earlier post spike to pair with: both rules agree exactly.
        assert_eq!(probe_gain(triplet, 40).to_bits(), probe_gain(StdpRule::Pair, 40).to_bits());
    }

    #[test]
    fn triplet_without_its_term_is_the_pair_rule_bit_for_bit() {
        let mut rng = crate::rng::SplitMix64::new(9);
        for case in 0..6 {
            let (inputs, neurons) = (8 + case * 5, 4 + case * 3);
            let mut s = spec(inputs, neurons);
            s.lif.theta_plus = 0.05;
            s.stdp.a_plus = 0.05;
            s.stdp.a_minus = 0.03;
            let mut pair = Layer::new(s);
            for _ in 0..neurons {
                let rates: Vec<f32> = (0..inputs).map(|_| rng.next_f64() as f32).collect();
                pair.recruit(&rates);
            }
            let mut triplet = pair.clone();
            triplet.spec.stdp.rule = StdpRule::Triplet { post_slow_decay: 0.9, a3_plus: 0.0 };
            let mut strong = pair.clone();
            strong.spec.stdp.rule = StdpRule::Triplet { post_slow_decay: 0.9, a3_plus: 0.05 };
            let phases: Vec<f32> = (0..inputs).map(|_| rng.next_f64() as f32).collect();
            for window in 0..20 {
                let rates: Vec<f32> = (0..inputs).map(|_| (rng.next_f64() * 0.8) as f32).collect();
                let input = rates_to_raster(&rates, &phases, 20);
                let rate = [1.0, 0.0, 0.3][window % 3];
                let want = CpuBackend.run_window(&mut pair, &input, rate);
                assert_eq!(CpuBackend.run_window(&mut triplet, &input, rate), want, "case {case}");
                assert_eq!(bits(&triplet.weights), bits(&pair.weights), "case {case}, window {window}");
                assert_eq!(bits(&triplet.theta), bits(&pair.theta));
                CpuBackend.run_window(&mut strong, &input, rate);
                assert!(strong.weights.iter().all(|w| (0.0..=s.stdp.w_max).contains(w)));
            }
            assert_ne!(bits(&strong.weights), bits(&pair.weights), "case {case}: the triplet term did nothing");
        }
    }
}
