//! The triplet learning rule end to end: a model configured with `"stdp_rule": "triplet"` runs
//! deterministically, learns, and still tells its normal signal from a scrambled one.

use snn_engine::rng::SplitMix64;
use snn_engine::stdp::StdpRuleKind;
use snn_engine::{
    AssetId, AssetModel, ChannelId, ChannelKind, ChannelSpec, ModelConfig, Phase, Reading, StepOutcome, Timestamp,
};

fn temp() -> ChannelId {
    ChannelId::from("temperature")
}

fn triplet() -> ModelConfig {
    let config: ModelConfig = serde_json::from_str(r#"{"stdp_rule": "triplet"}"#).unwrap();
    assert_eq!(config.stdp_rule, StdpRuleKind::Triplet);
    config
}

fn boiler(config: ModelConfig) -> AssetModel {
    let channels = vec![ChannelSpec { id: temp(), kind: ChannelKind::Scalar }];
    AssetModel::new(AssetId::from("boiler"), channels, config, 3).unwrap()
}

/// Steps `m` through `n` readings of a noisy sine from step `from` (as the model tests' boiler).
fn sine(m: &mut AssetModel, rng: &mut SplitMix64, from: u64, n: u64) -> Vec<StepOutcome> {
    (from..from + n)
        .map(|i| {
            let v = 50.0 + 5.0 * (i as f64 * 0.2).sin() + 0.2 * rng.next_gaussian();
            m.step(&temp(), Timestamp(i as i64 * 1_000_000), &Reading::Scalar(v))
        })
        .collect()
}

#[test]
fn a_triplet_model_is_deterministic_and_learns_something_else_than_the_pair_model() {
    let (mut a, mut b, mut pair) = (boiler(triplet()), boiler(triplet()), boiler(ModelConfig::default()));
    let oa = sine(&mut a, &mut SplitMix64::new(5), 0, 400);
    let ob = sine(&mut b, &mut SplitMix64::new(5), 0, 400);
    let op = sine(&mut pair, &mut SplitMix64::new(5), 0, 400);
    assert_eq!(oa, ob);
    assert!(a == b, "final states differ");
    assert_eq!(a.phase(), Phase::Monitoring);
    assert!(a.prototypes() > 0 && a.counters().output_spikes > 0, "{:?}", a.counters());
    assert!(oa.iter().all(|o| o.alert.is_none()), "normal running raised an alert");
    // The rule reaches the weights: the learned prototypes, and so the novelty scores, differ.
    assert!(oa.iter().zip(&op).any(|(t, p)| t.raw.to_bits() != p.raw.to_bits()));
    // The rule is part of the state: a restored triplet model resumes identically.
    let mut restored: AssetModel = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert!(restored == a);
    let (mut ra, mut rb) = (SplitMix64::new(6), SplitMix64::new(6));
    assert_eq!(sine(&mut a, &mut ra, 400, 20), sine(&mut restored, &mut rb, 400, 20));
}

#[test]
fn a_triplet_model_finds_familiar_values_in_an_unfamiliar_order_novel() {
    let mut m = boiler(triplet());
    let mut rng = SplitMix64::new(5);
    sine(&mut m, &mut rng, 0, 400);
    let normal: Vec<f32> = sine(&mut m, &mut rng, 400, 40).iter().map(|o| o.raw).collect();
    let scrambled: Vec<f32> = (440..460u64)
        .map(|i| {
            let v = if i % 2 == 0 { 54.0 } else { 46.0 };
            m.step(&temp(), Timestamp(i as i64 * 1_000_000), &Reading::Scalar(v)).raw
        })
        .collect();
    let mean = |x: &[f32]| x.iter().sum::<f32>() / x.len() as f32;
    assert!(mean(&scrambled) > 3.0 * mean(&normal), "normal {} scrambled {}", mean(&normal), mean(&scrambled));
}

/// The model tests' pump (`model/tests.rs`, `Plant`), cut down: shaft harmonics with a +/-20%
/// load cycle and noise on a vibration window, a temperature following the load, and from
/// `fault_from` a bearing outer-race fault (90 Hz impacts ringing at 3 kHz) growing over 30 ticks.
fn pump(rng: &mut SplitMix64, i: u64, fault_from: u64) -> [(ChannelId, Timestamp, Reading); 2] {
    const FS: f64 = 25_600.0;
    let tau = std::f64::consts::TAU;
    let load = 1.0 + 0.2 * (tau * i as f64 / 60.0).sin();
    let impact = if i >= fault_from { 1.5 * ((i - fault_from + 1) as f64 / 30.0).min(1.0) } else { 0.0 };
    let samples = (0..2048)
        .map(|n| {
            let t = i as f64 + n as f64 / FS;
            let shaft =
                (tau * 25.0 * t).sin() + 0.5 * (tau * 50.0 * t + 0.3).sin() + 0.3 * (tau * 75.0 * t + 1.1).sin();
            let since = (t * 90.0).fract() / 90.0;
            let ring = impact * (-since / 0.0008).exp() * (tau * 3_000.0 * since).sin();
            (load * shaft + 0.3 * rng.next_gaussian() + ring) as f32
        })
        .collect();
    let temperature = 60.0 + 2.0 * (load - 1.0) / 0.2 + 0.05 * rng.next_gaussian();
    let t_us = i as i64 * 1_000_000;
    [
        (ChannelId::from("vibration"), Timestamp(t_us), Reading::Window { sample_rate_hz: FS, samples }),
        (temp(), Timestamp(t_us + 500_000), Reading::Scalar(temperature)),
    ]
}

#[test]
fn a_triplet_model_detects_the_bearing_fault_without_false_alarms() {
    let channels = vec![
        ChannelSpec { id: ChannelId::from("vibration"), kind: ChannelKind::Window },
        ChannelSpec { id: temp(), kind: ChannelKind::Scalar },
    ];
    let mut m = AssetModel::new(AssetId::from("pump-1"), channels, triplet(), 2024).unwrap();
    let mut rng = SplitMix64::new(99);
    let fault_from = 120 + 450;
    let mut raised = Vec::new();
    for i in 0..fault_from + 60 {
        for (ch, t, r) in pump(&mut rng, i, fault_from) {
            if let Some(snn_engine::AlertEvent::Raised(_)) = m.step(&ch, t, &r).alert {
                raised.push(i);
            }
        }
    }
    let first = *raised.first().expect("the fault raises an alert");
    assert!((fault_from..fault_from + 40).contains(&first), "first alert at tick {first}, fault from {fault_from}");
}
