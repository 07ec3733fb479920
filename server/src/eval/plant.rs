//! `spikewatch eval plant`: the plant simulator's pumps through the model exactly as the server runs them
//! (one model per pump, every channel), beside the plain RMS alarm on the vibration channel: false alarms of
//! healthy pumps over a simulated hour, and how soon each kind of fault is caught while it slowly grows.

use super::baseline::{RmsAlarm, rms};
use connectors::simulator::{FaultKind, FaultSpec, PlantSimulator, SimConfig};
use snn_engine::{AlertEvent, AssetModel, ChannelSpec, ModelConfig, Reading, Timestamp};
use std::io::Write;

/// Simulated seconds per scenario (one frame per second per pump).
pub const DURATION_S: f64 = 3_600.0;
/// Pumps per scenario; in a fault scenario the first one fails.
pub const PUMPS: usize = 4;
/// The fault appears well after warm-up, once the models have run healthy for a while.
pub const FAULT_START_S: f64 = 1_200.0;
/// It grows to full strength over 30 minutes: slow enough to test that growth is not taken for normal.
pub const FAULT_RAMP_S: f64 = 1_800.0;
/// Seed of the simulated plant (the model seed is the configuration's).
pub const PLANT_SEED: u64 = 42;

/// What one detector made of one pump.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct PumpRun {
    /// Alerts raised before the fault (on a healthy pump: all of them).
    false_alarms: usize,
    /// Seconds from the fault's start to the first alert after it.
    delay_s: Option<f64>,
}

/// Runs the healthy plant and one plant per fault kind and prints the table.
pub fn run(config: &ModelConfig, seed: u64, w: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        w,
        "plant: {PUMPS} simulated pumps for {:.0} min per scenario; a fault on pump 1 from {:.0} min, growing over {:.0} min",
        DURATION_S / 60.0,
        FAULT_START_S / 60.0,
        FAULT_RAMP_S / 60.0
    )?;
    writeln!(
        w,
        "{:<18} {:<11} {:>14} {:>16} {:>12} {:>20}",
        "scenario", "detector", "healthy pumps", "false alarms", "detected", "delay"
    )?;
    let faults = [FaultKind::OuterRace, FaultKind::InnerRace, FaultKind::Ball, FaultKind::BrokenRotorBar];
    let scenarios: Vec<Option<FaultKind>> = std::iter::once(None).chain(faults.map(Some)).collect();
    let bar = super::progress(scenarios.len() as u64, "plant");
    let mut healthy_hours = 0.0;
    let mut totals = [0usize; 2];
    for kind in scenarios {
        let runs = simulate(kind, config, seed)?;
        let healthy = if kind.is_some() { &runs[1..] } else { &runs[..] };
        healthy_hours += healthy.len() as f64 * DURATION_S / 3_600.0;
        for (d, detector) in ["spikewatch", "rms alarm"].into_iter().enumerate() {
            let false_alarms: usize = runs.iter().map(|r| r[d].false_alarms).sum();
            totals[d] += false_alarms;
            let (detected, delay) = match kind.map(|_| runs[0][d].delay_s) {
                None => ("-".to_owned(), "-".to_owned()),
                Some(None) => ("no".to_owned(), "-".to_owned()),
                Some(Some(s)) => ("yes".to_owned(), format!("{s:.0} s ({:.0}% grown)", 100.0 * s / FAULT_RAMP_S)),
            };
            let name = kind.map_or("healthy".to_owned(), |k| k.to_string());
            writeln!(
                w,
                "{name:<18} {detector:<11} {:>14} {false_alarms:>16} {detected:>12} {delay:>20}",
                healthy.len()
            )?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    writeln!(
        w,
        "plant false alarms per healthy pump-hour: spikewatch {:.3} rms alarm {:.3} ({healthy_hours:.0} pump-hours)",
        totals[0] as f64 / healthy_hours,
        totals[1] as f64 / healthy_hours
    )?;
    Ok(())
}

/// One scenario: per pump, the model's and the RMS alarm's outcome.
fn simulate(kind: Option<FaultKind>, config: &ModelConfig, seed: u64) -> anyhow::Result<Vec<[PumpRun; 2]>> {
    let sim_config = SimConfig {
        assets: PUMPS,
        seed: PLANT_SEED,
        fault: kind.map(|kind| FaultSpec { asset_index: 0, kind, start_s: FAULT_START_S, ramp_s: FAULT_RAMP_S }),
        ..SimConfig::default()
    };
    let tick_s = sim_config.tick_s;
    let mut sim = PlantSimulator::new(sim_config, Timestamp(0));
    let channels: Vec<ChannelSpec> =
        PlantSimulator::channels().into_iter().map(|(id, kind)| ChannelSpec { id, kind }).collect();
    let vibration = channels.iter().find(|c| c.id.as_str() == "vibration").map(|c| c.id.clone());
    let mut models = sim
        .asset_ids()
        .into_iter()
        .map(|id| AssetModel::new(id, channels.clone(), config.clone(), seed))
        .collect::<Result<Vec<_>, _>>()?;
    // The RMS alarm learns over the model's warm-up, as the benchmarks' RMS alarms do.
    let learn = config.warmup_steps as usize;
    let mut rms_learning: Vec<Vec<f64>> = vec![Vec::new(); PUMPS];
    let mut alarms: Vec<Option<RmsAlarm>> = vec![None; PUMPS];
    let mut runs = vec![[PumpRun::default(); 2]; PUMPS];
    let ticks = (DURATION_S / tick_s).round() as usize;
    for tick in 0..ticks {
        let t_s = tick as f64 * tick_s;
        let mut raised = [[false; 2]; PUMPS];
        for sample in sim.tick() {
            let Some(p) = models.iter().position(|m| *m.asset() == sample.asset) else { continue };
            let outcome = models[p].step(&sample.channel, sample.t, &sample.reading);
            raised[p][0] |= matches!(outcome.alert, Some(AlertEvent::Raised(_)));
            if let (Some(v), Reading::Window { samples, .. }) = (&vibration, &sample.reading)
                && sample.channel == *v
            {
                let value = rms(samples);
                match &mut alarms[p] {
                    Some(alarm) => raised[p][1] |= alarm.step(value).0,
                    None if tick + 1 < learn => rms_learning[p].push(value),
                    None => alarms[p] = Some(RmsAlarm::new(&rms_learning[p])),
                }
            }
        }
        for (p, pump) in raised.iter().enumerate() {
            for (d, &r) in pump.iter().enumerate() {
                let run = &mut runs[p][d];
                let faulty = p == 0 && kind.is_some() && t_s >= FAULT_START_S;
                match (r, faulty) {
                    (false, _) => {}
                    (true, false) => run.false_alarms += 1,
                    (true, true) => _ = run.delay_s.get_or_insert(t_s - FAULT_START_S),
                }
            }
        }
    }
    Ok(runs)
}
