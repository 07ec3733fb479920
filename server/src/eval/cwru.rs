//! `spikewatch eval cwru`: learn on the first half of the normal windows, stream the second half (every alert
//! there is a false alarm), then each seeded-fault file (detection and delay), beside the plain RMS alarm.

use super::baseline::{RmsAlarm, rms};
use super::{list_files, with_warmup};
use crate::archive::read_windows;
use anyhow::Context;
use snn_engine::{
    AlertEvent, AlertReport, AssetId, AssetModel, ChannelId, ChannelKind, ChannelSpec, ModelConfig, Phase, Reading,
};
use snn_engine::{Sample, Timestamp};
use std::io::Write;
use std::path::Path;

/// One instant: every channel's window starting at the same time.
#[derive(Debug, Clone, PartialEq)]
pub struct Instant {
    /// Start of the windows.
    pub t: Timestamp,
    /// One window per channel, in channel order.
    pub windows: Vec<Reading>,
}

/// A window file grouped into instants: the k-th window of each channel forms instant k (clock values are not
/// trusted for grouping). Returns the channel names (first-seen order) and the instants.
pub fn instants(samples: Vec<Sample>) -> (Vec<ChannelId>, Vec<Instant>) {
    let mut channels: Vec<ChannelId> = Vec::new();
    let mut per_channel: Vec<Vec<(Timestamp, Reading)>> = Vec::new();
    for s in samples {
        let c = match channels.iter().position(|c| *c == s.channel) {
            Some(c) => c,
            None => {
                channels.push(s.channel.clone());
                per_channel.push(Vec::new());
                channels.len() - 1
            }
        };
        per_channel[c].push((s.t, s.reading));
    }
    let n = per_channel.iter().map(Vec::len).min().unwrap_or(0);
    let mut iters: Vec<_> = per_channel.into_iter().map(Vec::into_iter).collect();
    let out = (0..n)
        .map(|_| {
            let mut t = None;
            let windows = iters
                .iter_mut()
                .filter_map(|it| it.next())
                .map(|(tt, r)| {
                    t.get_or_insert(tt);
                    r
                })
                .collect();
            Instant { t: t.unwrap_or(Timestamp(0)), windows }
        })
        .collect();
    (channels, out)
}

/// Seconds covered by one window.
pub fn window_seconds(r: &Reading) -> f64 {
    match r {
        Reading::Window { sample_rate_hz, samples } => samples.len() as f64 / sample_rate_hz,
        Reading::Scalar(_) => 0.0,
    }
}

/// RMS of an instant's first channel (the alarm's sensor).
pub fn first_rms(i: &Instant) -> f64 {
    match i.windows.first() {
        Some(Reading::Window { samples, .. }) => rms(samples),
        _ => 0.0,
    }
}

/// A model over window channels, stepped one instant at a time.
pub struct WindowModel {
    model: AssetModel,
    channels: Vec<ChannelId>,
}

impl WindowModel {
    /// A model for `channels` that monitors from instant `learn` on.
    pub fn new(
        asset: &str,
        channels: &[ChannelId],
        learn: usize,
        config: &ModelConfig,
        seed: u64,
    ) -> anyhow::Result<Self> {
        // One frame per instant (all channels' windows): monitoring starts with instant `learn`.
        let cfg = with_warmup(config, learn.max(2) as u32);
        let specs = channels.iter().map(|id| ChannelSpec { id: id.clone(), kind: ChannelKind::Window }).collect();
        Ok(WindowModel { model: AssetModel::new(AssetId::from(asset), specs, cfg, seed)?, channels: channels.to_vec() })
    }

    /// Steps every window of `instant` at time `t`; returns (the alert raised, if one was, alert open
    /// after it, last score).
    pub fn step(&mut self, t: Timestamp, instant: &Instant) -> (Option<AlertReport>, bool, f32) {
        let mut raised = None;
        let mut score = 0.0;
        for (c, r) in self.channels.iter().zip(&instant.windows) {
            let o = self.model.step(c, t, r);
            if let Some(AlertEvent::Raised(report)) = o.alert {
                raised = Some(report);
            }
            score = o.score;
        }
        (raised, self.model.phase() == Phase::Alerting, score)
    }

    /// Readings the model dropped.
    pub fn dropped(&self) -> u64 {
        self.model.counters().dropped
    }
}

/// Outcome of one detector on one fault file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultRun {
    /// Alerts raised while streaming the second half of the normal data.
    pub false_alarms: usize,
    /// Normal windows with an alert open.
    pub normal_windows_open: usize,
    /// An alert was still open when the fault started.
    pub open_at_fault: bool,
    /// Windows from the fault's start to the first raised alert, counting the raising window (1 = first window).
    pub delay_windows: Option<usize>,
}

/// Runs one detector through normal-second-half then fault. `step(t, instant)` returns (raised, open after it).
fn stream(
    normal: &[Instant],
    fault: &[Instant],
    spacing: i64,
    mut step: impl FnMut(Timestamp, &Instant) -> (bool, bool),
) -> FaultRun {
    let mut r = FaultRun::default();
    let mut open = false;
    for i in normal {
        let (raised, o) = step(i.t, i);
        r.false_alarms += usize::from(raised);
        r.normal_windows_open += usize::from(o);
        open = o;
    }
    r.open_at_fault = open;
    // The fault is re-timed to continue right after the normal stream.
    let base = normal.last().map_or(0, |i| i.t.0 + spacing);
    let first = fault.first().map_or(0, |i| i.t.0);
    for (k, i) in fault.iter().enumerate() {
        let (raised, _) = step(Timestamp(base + i.t.0 - first), i);
        if raised && r.delay_windows.is_none() {
            r.delay_windows = Some(k + 1);
        }
    }
    r
}

/// Runs the protocol on every fault file under `dir` and prints the table.
pub fn run(dir: &Path, config: &ModelConfig, seed: u64, w: &mut impl Write) -> anyhow::Result<()> {
    let files = list_files(dir, "parquet")?;
    let normal_path = files
        .iter()
        .find(|p| p.file_stem().is_some_and(|s| s.to_string_lossy().starts_with("normal")))
        .context("no normal_*.parquet file")?;
    let (channels, normal) = instants(read_windows(normal_path)?);
    anyhow::ensure!(normal.len() >= 4, "too few normal windows in `{}`", normal_path.display());
    let learn = normal.len() / 2;
    let seconds = window_seconds(&normal[0].windows[0]);
    let spacing = normal.get(1).map_or(1, |i| i.t.0 - normal[0].t.0).max(1);
    writeln!(
        w,
        "CWRU: {} normal windows of {:.4} s ({} channels: {}), learning on {learn}",
        normal.len(),
        seconds,
        channels.len(),
        channels.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
    )?;
    writeln!(
        w,
        "{:<28} {:<11} {:>12} {:>12} {:>9} {:>14}",
        "fault", "detector", "false alarms", "open normal", "detected", "delay"
    )?;
    let faults: Vec<_> = files.iter().filter(|p| *p != normal_path).collect();
    let bar = super::progress(faults.len() as u64, "cwru");
    for path in faults {
        let (fault_channels, fault) = instants(read_windows(path)?);
        anyhow::ensure!(fault_channels == channels, "`{}` has other channels than the normal file", path.display());
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut model = WindowModel::new("cwru", &channels, learn, config, seed)?;
        for i in &normal[..learn] {
            model.step(i.t, i);
        }
        let sw = stream(&normal[learn..], &fault, spacing, |t, i| {
            let (r, o, _) = model.step(t, i);
            (r.is_some(), o)
        });
        let learning: Vec<f64> = normal[..learn].iter().map(first_rms).collect();
        let mut alarm = RmsAlarm::new(&learning);
        let base = stream(&normal[learn..], &fault, spacing, |_, i| alarm.step(first_rms(i)));
        for (det, r) in [("spikewatch", sw), ("rms alarm", base)] {
            let delay = r.delay_windows.map_or("missed".to_owned(), |d| format!("{d} win {:.3} s", d as f64 * seconds));
            writeln!(
                w,
                "{:<28} {:<11} {:>12} {:>12} {:>9} {:>14}",
                name,
                det,
                r.false_alarms,
                r.normal_windows_open,
                if r.delay_windows.is_some() || r.open_at_fault { "yes" } else { "no" },
                if r.open_at_fault { format!("open before; {delay}") } else { delay }
            )?;
        }
        if model.dropped() > 0 {
            writeln!(w, "  (model dropped {} readings)", model.dropped())?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(amp: f32, k: usize) -> Reading {
        let samples = (0..1024).map(|n| amp * ((n + k * 7) as f32 * 0.37).sin()).collect();
        Reading::Window { sample_rate_hz: 12_000.0, samples }
    }

    #[test]
    fn windows_group_by_position_per_channel() {
        let s = |c: &str, t: i64| Sample {
            asset: AssetId::from("a"),
            channel: ChannelId::from(c),
            t: Timestamp(t),
            reading: window(1.0, 0),
        };
        let (channels, inst) = instants(vec![s("x", 0), s("y", 5), s("x", 10), s("y", 999), s("x", 20)]);
        assert_eq!(channels.len(), 2);
        assert_eq!(inst.len(), 2);
        assert_eq!(inst[1].t, Timestamp(10));
    }

    #[test]
    fn the_rms_alarm_detects_a_loud_fault_after_three_windows() {
        let normal: Vec<Instant> = (0..40)
            .map(|k| Instant { t: Timestamp(k as i64 * 100), windows: vec![window(1.0 + 0.01 * (k % 3) as f32, k)] })
            .collect();
        let fault: Vec<Instant> =
            (0..10).map(|k| Instant { t: Timestamp(k as i64 * 100), windows: vec![window(5.0, k)] }).collect();
        let mut alarm = RmsAlarm::new(&normal[..20].iter().map(first_rms).collect::<Vec<_>>());
        let r = stream(&normal[20..], &fault, 100, |_, i| alarm.step(first_rms(i)));
        assert_eq!(r.false_alarms, 0);
        assert_eq!(r.delay_windows, Some(3));
    }
}
