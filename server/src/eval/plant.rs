//! `spikewatch eval plant`: the plant simulator's pumps through the model exactly as the server runs them
//! (one model per pump, every channel), beside the plain RMS alarm on the vibration channel: false alarms of
//! healthy pumps over a simulated hour (and which feature each of the model's named first), and how soon each kind
//! of fault is caught while it slowly grows.

use super::baseline::{RmsAlarm, rms};
use connectors::simulator::{FaultKind, FaultSpec, PlantSimulator, SimConfig};
use snn_engine::{AlertEvent, AssetModel, ChannelId, ChannelSpec, ModelConfig, Reading, Timestamp};
use std::collections::BTreeMap;
use std::io::Write;

/// The scenarios' shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol {
    /// Simulated seconds per scenario (one frame per second per pump).
    pub duration_s: f64,
    /// Pumps per scenario; in a fault scenario the first one fails.
    pub pumps: usize,
    /// When the fault appears.
    pub fault_start_s: f64,
    /// How long it takes to grow to full strength.
    pub fault_ramp_s: f64,
    /// Seed of the simulated plant (the model seed is the configuration's).
    pub plant_seed: u64,
    /// The pump channels the model watches (all of them when empty): a site with fewer sensors.
    pub channels: Vec<String>,
}

impl Default for Protocol {
    /// An hour of four pumps; the fault appears after 20 minutes, well after warm-up, and grows over
    /// 30 minutes: slow enough to show whether growth is taken for normal.
    fn default() -> Self {
        Protocol {
            duration_s: 3_600.0,
            pumps: 4,
            fault_start_s: 1_200.0,
            fault_ramp_s: 1_800.0,
            plant_seed: 42,
            channels: Vec::new(),
        }
    }
}

/// What the detectors made of one scenario's pumps.
#[derive(Debug, Clone)]
struct ScenarioRun {
    /// Per pump, the model's and the RMS alarm's outcome.
    pumps: Vec<[PumpRun; 2]>,
    /// For each of the model's false alarms, the feature its evidence names first (`channel.feature`).
    false_alarm_features: Vec<String>,
}

/// What one detector made of one pump.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct PumpRun {
    /// Alerts raised before the fault (on a healthy pump: all of them).
    false_alarms: usize,
    /// Seconds from the fault's start to the first alert after it.
    delay_s: Option<f64>,
}

/// Runs the healthy plant and one plant per fault kind under `protocol` and prints the table.
pub fn run(protocol: &Protocol, config: &ModelConfig, seed: u64, w: &mut impl Write) -> anyhow::Result<()> {
    let p = protocol;
    let watched: Vec<String> = watched_channels(p)?.iter().map(|c| c.id.as_str().to_owned()).collect();
    writeln!(
        w,
        "plant: {} simulated pumps for {:.0} min per scenario; a fault on pump 1 from {:.0} min, growing over {:.0} min",
        p.pumps,
        p.duration_s / 60.0,
        p.fault_start_s / 60.0,
        p.fault_ramp_s / 60.0
    )?;
    writeln!(w, "the model watches {}; the RMS alarm the vibration", watched.join(", "))?;
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
    let mut false_alarm_features = BTreeMap::<String, usize>::new();
    for kind in scenarios {
        let scenario = simulate(p, kind, config, seed)?;
        for feature in scenario.false_alarm_features {
            *false_alarm_features.entry(feature).or_default() += 1;
        }
        let runs = scenario.pumps;
        let healthy = if kind.is_some() { &runs[1..] } else { &runs[..] };
        healthy_hours += healthy_pump_hours(p, kind.is_some());
        for (d, detector) in ["spikewatch", "rms alarm"].into_iter().enumerate() {
            let false_alarms: usize = runs.iter().map(|r| r[d].false_alarms).sum();
            totals[d] += false_alarms;
            let (detected, delay) = match kind.map(|_| runs[0][d].delay_s) {
                None => ("-".to_owned(), "-".to_owned()),
                Some(None) => ("no".to_owned(), "-".to_owned()),
                Some(Some(s)) => ("yes".to_owned(), format!("{s:.0} s ({:.0}% grown)", 100.0 * s / p.fault_ramp_s)),
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
    if !false_alarm_features.is_empty() {
        writeln!(w, "{}", false_alarms_by_feature(&false_alarm_features))?;
    }
    Ok(())
}

/// `spikewatch false alarms by the feature named first: a.x 7, b.y 5`, most first (ties by name): what
/// to look at when a site's false alarms come from one sensor.
fn false_alarms_by_feature(counts: &BTreeMap<String, usize>) -> String {
    let mut by_count: Vec<(&String, &usize)> = counts.iter().collect();
    by_count.sort_by_key(|&(_, &n)| std::cmp::Reverse(n));
    let listed: Vec<String> = by_count.iter().map(|(feature, n)| format!("{feature} {n}")).collect();
    format!("spikewatch false alarms by the feature named first: {}", listed.join(", "))
}

/// Pump-hours of healthy running in one scenario: every pump's whole run, except the failing pump's
/// after its fault starts. Its alerts before the fault count as false alarms, so its hours before
/// the fault count as healthy too.
fn healthy_pump_hours(p: &Protocol, faulty: bool) -> f64 {
    let failing_s = if faulty { (p.duration_s - p.fault_start_s).clamp(0.0, p.duration_s) } else { 0.0 };
    (p.pumps as f64 * p.duration_s - failing_s) / 3_600.0
}

/// One scenario.
fn simulate(p: &Protocol, kind: Option<FaultKind>, config: &ModelConfig, seed: u64) -> anyhow::Result<ScenarioRun> {
    let sim_config = SimConfig {
        assets: p.pumps,
        seed: p.plant_seed,
        fault: kind.map(|kind| FaultSpec { asset_index: 0, kind, start_s: p.fault_start_s, ramp_s: p.fault_ramp_s }),
        ..SimConfig::default()
    };
    let tick_s = sim_config.tick_s;
    let mut sim = PlantSimulator::new(sim_config, Timestamp(0));
    let channels = watched_channels(p)?;
    // The RMS alarm reads the vibration channel whatever the model watches.
    let vibration = ChannelId::from("vibration");
    let mut models = sim
        .asset_ids()
        .into_iter()
        .map(|id| AssetModel::new(id, channels.clone(), config.clone(), seed))
        .collect::<Result<Vec<_>, _>>()?;
    // The RMS alarm learns over the model's warm-up, as the benchmarks' RMS alarms do.
    let learn = config.warmup_steps as usize;
    let mut rms_learning: Vec<Vec<f64>> = vec![Vec::new(); p.pumps];
    let mut alarms: Vec<Option<RmsAlarm>> = vec![None; p.pumps];
    let mut runs = vec![[PumpRun::default(); 2]; p.pumps];
    let mut false_alarm_features = Vec::new();
    let ticks = (p.duration_s / tick_s).round() as usize;
    for tick in 0..ticks {
        let t_s = tick as f64 * tick_s;
        let mut raised = vec![[false; 2]; p.pumps];
        // The feature the evidence of the model's alert names first, per pump that raised one.
        let mut named_first: Vec<Option<String>> = vec![None; p.pumps];
        for sample in sim.tick() {
            let Some(pump) = models.iter().position(|m| *m.asset() == sample.asset) else { continue };
            if channels.iter().any(|c| c.id == sample.channel) {
                let outcome = models[pump].step(&sample.channel, sample.t, &sample.reading);
                if let Some(AlertEvent::Raised(report)) = outcome.alert {
                    raised[pump][0] = true;
                    let first = report.evidence.first().map(|e| format!("{}.{}", e.channel, e.feature));
                    named_first[pump] = Some(first.unwrap_or_else(|| "(no evidence)".to_owned()));
                }
            }
            if let Reading::Window { samples, .. } = &sample.reading
                && sample.channel == vibration
            {
                let value = rms(samples);
                match &mut alarms[pump] {
                    Some(alarm) => raised[pump][1] |= alarm.step(value).0,
                    None => {
                        // Every warm-up window is learned, the last one included, and none is lost.
                        rms_learning[pump].push(value);
                        if tick + 1 >= learn {
                            alarms[pump] = Some(RmsAlarm::new(&rms_learning[pump]));
                        }
                    }
                }
            }
        }
        for (pump, detectors) in raised.iter().enumerate() {
            for (d, &r) in detectors.iter().enumerate() {
                let run = &mut runs[pump][d];
                let faulty = pump == 0 && kind.is_some() && t_s >= p.fault_start_s;
                match (r, faulty) {
                    (false, _) => {}
                    (true, false) => {
                        run.false_alarms += 1;
                        if d == 0 {
                            false_alarm_features.extend(named_first[pump].take());
                        }
                    }
                    (true, true) => _ = run.delay_s.get_or_insert(t_s - p.fault_start_s),
                }
            }
        }
    }
    Ok(ScenarioRun { pumps: runs, false_alarm_features })
}

/// The simulator's channels that `p` names (all of them when it names none); an unknown name is an error
/// that lists the known ones.
fn watched_channels(p: &Protocol) -> anyhow::Result<Vec<ChannelSpec>> {
    let all: Vec<ChannelSpec> =
        PlantSimulator::channels().into_iter().map(|(id, kind)| ChannelSpec { id, kind }).collect();
    if let Some(unknown) = p.channels.iter().find(|&name| !all.iter().any(|c| c.id.as_str() == name)) {
        let known: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        anyhow::bail!("the simulated pumps have no channel `{unknown}` (they have {})", known.join(", "));
    }
    Ok(all.into_iter().filter(|c| p.channels.is_empty() || p.channels.iter().any(|n| n == c.id.as_str())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_alarms_are_listed_by_feature_most_first() {
        let counts = BTreeMap::from([("a.x".to_owned(), 2), ("b.y".to_owned(), 5), ("c.z".to_owned(), 2)]);
        assert_eq!(
            false_alarms_by_feature(&counts),
            "spikewatch false alarms by the feature named first: b.y 5, a.x 2, c.z 2"
        );
    }

    #[test]
    fn healthy_hours_are_every_pump_until_its_fault() {
        let p = Protocol { duration_s: 3_600.0, pumps: 4, fault_start_s: 1_200.0, ..Protocol::default() };
        assert_eq!(healthy_pump_hours(&p, false), 4.0);
        // Three healthy pumps for the hour, and the failing one for its first 20 minutes.
        assert!((healthy_pump_hours(&p, true) - (3.0 + 1.0 / 3.0)).abs() < 1e-12);
        // A fault that never starts within the run leaves every pump healthy throughout.
        assert_eq!(healthy_pump_hours(&Protocol { fault_start_s: 7_200.0, ..p.clone() }, true), 4.0);
    }

    /// `pumps` pumps, warm-up 120 s, a fault from 150 s grown in 20 s, 230 s in all.
    fn fast_fault(pumps: usize) -> Protocol {
        Protocol {
            duration_s: 230.0,
            pumps,
            fault_start_s: 150.0,
            fault_ramp_s: 20.0,
            plant_seed: 3,
            ..Protocol::default()
        }
    }

    #[test]
    fn a_short_plant_catches_a_fast_bearing_fault_and_stays_quiet_on_healthy_pumps() {
        let p = fast_fault(2);
        let runs = simulate(&p, Some(FaultKind::OuterRace), &ModelConfig::default(), 7).unwrap().pumps;
        let [model, rms_alarm] = runs[0];
        let delay = model.delay_s.expect("the faulty pump alerts");
        assert!(delay < 60.0, "alert {delay} s after the fault started");
        assert_eq!(model.false_alarms + runs[1][0].false_alarms, 0, "{runs:?}");
        assert!(rms_alarm.delay_s.is_none_or(|d| d >= delay), "the RMS alarm is not faster: {runs:?}");

        let mut table = Vec::new();
        run(&Protocol { duration_s: 130.0, pumps: 1, ..p }, &ModelConfig::default(), 7, &mut table).unwrap();
        let text = String::from_utf8(table).unwrap();
        assert!(
            text.lines().last().unwrap().starts_with("plant false alarms per healthy pump-hour: spikewatch 0.000"),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| l.contains("spikewatch")).count(), 6, "{text}");
    }

    #[test]
    fn the_model_can_watch_a_subset_of_the_channels() {
        let subset = Protocol { channels: vec!["temperature".into(), "current".into()], ..Protocol::default() };
        let ids: Vec<String> = watched_channels(&subset).unwrap().iter().map(|c| c.id.as_str().to_owned()).collect();
        assert_eq!(ids, ["current", "temperature"], "in the simulator's order");
        assert_eq!(watched_channels(&Protocol::default()).unwrap().len(), PlantSimulator::channels().len());
        let typo = Protocol { channels: vec!["vibraton".into()], ..Protocol::default() };
        let err = watched_channels(&typo).unwrap_err().to_string();
        assert!(err.contains("`vibraton`") && err.contains("vibration, current, temperature, acoustic"), "{err}");

        // The temperature alone, against a fast bearing fault: the model, watching neither vibration nor
        // acoustics, catches it later than with every channel, if at all, while the RMS alarm still reads
        // the vibration; the table says what the model watched.
        let fast = fast_fault(1);
        let every = simulate(&fast, Some(FaultKind::OuterRace), &ModelConfig::default(), 7).unwrap().pumps;
        let alone = Protocol { channels: vec!["temperature".into()], ..fast.clone() };
        let [model, rms_alarm] =
            simulate(&alone, Some(FaultKind::OuterRace), &ModelConfig::default(), 7).unwrap().pumps[0];
        let with_every = every[0][0].delay_s.expect("with every channel the model catches it");
        assert!(model.delay_s.is_none_or(|d| d > with_every), "{model:?} against {with_every} s");
        assert_eq!(rms_alarm, every[0][1], "the RMS alarm reads the vibration whatever the model watches");
        assert!(rms_alarm.delay_s.is_some(), "{rms_alarm:?}");
        let mut table = Vec::new();
        run(&Protocol { duration_s: 130.0, ..alone }, &ModelConfig::default(), 7, &mut table).unwrap();
        let text = String::from_utf8(table).unwrap();
        assert!(text.contains("the model watches temperature; the RMS alarm the vibration"), "{text}");
    }
}
