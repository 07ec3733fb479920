//! `spikewatch eval femto`: each run-to-failure bearing learned on the first 10% of its life, then the first
//! alert that stays open or recurs, against the plain RMS alarm on the horizontal accelerometer, with the evidence
//! of the alert the warning began with. Each bearing's per-snapshot trace goes to `OUT/femto/<bearing>.csv`, so a
//! warning can be looked at beside the signal.

use super::baseline::{RmsAlarm, rms};
use super::cwru::{Instant, WindowModel, instants};
use super::list_files;
use crate::archive::read_windows;
use crate::replay::describe_evidence;
use anyhow::Context;
use snn_engine::{ModelConfig, Reading, Timestamp};
use std::io::Write;
use std::path::Path;

/// Seconds between snapshots (the recorded clock is not trusted).
pub const SNAPSHOT_SECONDS: f64 = 10.0;
/// Fraction of the life used for learning.
pub const LEARN_FRACTION: f64 = 0.1;
/// An episode "recurs" when the next one is raised within this many snapshots (5 min) of its end.
pub const RECUR_SNAPSHOTS: usize = 30;

/// One alert episode: snapshot it was raised on, snapshot it resolved on (None: open at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    pub start: usize,
    pub end: Option<usize>,
}

/// Episodes from per-snapshot (raised, open-after) flags.
pub fn episodes(flags: &[(bool, bool)]) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    let mut open = false;
    for (k, &(raised, now_open)) in flags.iter().enumerate() {
        if raised {
            out.push(Episode { start: k, end: None });
        } else if open
            && !now_open
            && let Some(e) = out.last_mut()
        {
            e.end = Some(k);
        }
        open = now_open;
    }
    out
}

/// The first episode that stays open to the end or is followed by another within [`RECUR_SNAPSHOTS`], and
/// how many episodes came before it.
pub fn warning(eps: &[Episode]) -> Option<(usize, usize)> {
    eps.iter().enumerate().find_map(|(j, e)| {
        let persists = match e.end {
            None => true,
            Some(end) => eps.get(j + 1).is_some_and(|n| n.start <= end + RECUR_SNAPSHOTS),
        };
        persists.then_some((e.start, j))
    })
}

fn horizontal(channels: &[snn_engine::ChannelId]) -> usize {
    channels.iter().position(|c| c.as_str().to_ascii_lowercase().contains("horiz")).unwrap_or(0)
}

/// Runs every bearing under `dir`, writes each one's trace under `out` and prints the table.
pub fn run(dir: &Path, out: &Path, config: &ModelConfig, seed: u64, w: &mut impl Write) -> anyhow::Result<()> {
    let files = list_files(dir, "parquet")?;
    anyhow::ensure!(!files.is_empty(), "no .parquet bearings under `{}`", dir.display());
    writeln!(
        w,
        "FEMTO: learning on the first {:.0}% of life; warning = first episode open to the end or recurring within {RECUR_SNAPSHOTS} snapshots",
        LEARN_FRACTION * 100.0
    )?;
    writeln!(
        w,
        "{:<12} {:<11} {:>9} {:>10} {:>12} {:>10} {:>9}",
        "bearing", "detector", "warning", "% of life", "h before", "episodes", "before"
    )?;
    let bar = super::progress(files.len() as u64, "femto");
    for path in &files {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let (channels, snaps) = instants(read_windows(path)?);
        let n = snaps.len();
        anyhow::ensure!(n >= 20, "too few snapshots in `{}`", path.display());
        let learn = ((n as f64 * LEARN_FRACTION) as usize).max(2);
        let t0 = snaps[0].t.0;
        let at = |k: usize| Timestamp(t0 + (k as f64 * SNAPSHOT_SECONDS * 1e6) as i64);

        let mut model = WindowModel::new(&name, &channels, learn, config, seed)?;
        let mut scores = Vec::with_capacity(n);
        let mut reports = Vec::with_capacity(n);
        let model_flags: Vec<(bool, bool)> = snaps
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let (raised, open, score) = model.step(at(k), s);
                scores.push(score);
                let flags = (raised.is_some(), open);
                reports.push(raised);
                flags
            })
            .collect();

        let h = horizontal(&channels);
        let rms_of = |s: &Instant| match s.windows.get(h) {
            Some(Reading::Window { samples, .. }) => rms(samples),
            _ => 0.0,
        };
        let rms_values: Vec<f64> = snaps.iter().map(rms_of).collect();
        let mut alarm = RmsAlarm::new(&rms_values[..learn]);
        let rms_flags: Vec<(bool, bool)> = rms_values.iter().map(|&v| alarm.step(v)).collect();
        write_trace(&out.join("femto").join(format!("{name}.csv")), &scores, &model_flags, &rms_values, &rms_flags)?;

        let life_h = n as f64 * SNAPSHOT_SECONDS / 3600.0;
        for (det, flags, reports) in [("spikewatch", &model_flags, Some(&reports)), ("rms alarm", &rms_flags, None)] {
            let eps = episodes(flags);
            match warning(&eps) {
                Some((k, before)) => {
                    writeln!(
                        w,
                        "{:<12} {:<11} {:>9} {:>9.1}% {:>11.2}h {:>10} {:>9}",
                        name,
                        det,
                        k,
                        100.0 * k as f64 / n as f64,
                        (n - k) as f64 * SNAPSHOT_SECONDS / 3600.0,
                        eps.len(),
                        before
                    )?;
                    // What the warning's alert saw, so a step at the end of running in can be told from wear.
                    if let Some(report) = reports.and_then(|r| r[k].as_ref()) {
                        writeln!(w, "  {name}: {det}'s warning: {}", describe_evidence(report))?;
                    }
                }
                None => writeln!(
                    w,
                    "{:<12} {:<11} {:>9} {:>10} {:>12} {:>10} {:>9}",
                    name,
                    det,
                    "none",
                    "-",
                    "-",
                    eps.len(),
                    eps.len()
                )?,
            }
        }
        writeln!(
            w,
            "  {name}: {n} snapshots ({life_h:.2} h), channels {}, learning {learn}, model dropped {}",
            channels.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
            model.dropped()
        )?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// One row per snapshot: `snapshot,hours,anomaly_score,alert_open,rms_horizontal,rms_alarm_open`.
fn write_trace(
    path: &Path,
    scores: &[f32],
    model_flags: &[(bool, bool)],
    rms_values: &[f64],
    rms_flags: &[(bool, bool)],
) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("failed to create `{}`", parent.display()))?;
    }
    let mut csv = String::from("snapshot,hours,anomaly_score,alert_open,rms_horizontal,rms_alarm_open\n");
    for (k, (((score, (_, open)), rms), (_, rms_open))) in
        scores.iter().zip(model_flags).zip(rms_values).zip(rms_flags).enumerate()
    {
        let hours = k as f64 * SNAPSHOT_SECONDS / 3600.0;
        csv += &format!("{k},{hours:.4},{score:.6},{},{rms:.6},{}\n", u8::from(*open), u8::from(*rms_open));
    }
    std::fs::write(path, csv).with_context(|| format!("failed to write `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_and_the_warning_rule() {
        // raised at 2 (resolved 4), raised at 50 (resolved 52), raised at 60 (still open).
        let mut flags = vec![(false, false); 70];
        for (a, b) in [(2, 4), (50, 52), (60, 70)] {
            flags[a..b].iter_mut().for_each(|f| f.1 = true);
            flags[a].0 = true;
        }
        let eps = episodes(&flags);
        assert_eq!(
            eps,
            [
                Episode { start: 2, end: Some(4) },
                Episode { start: 50, end: Some(52) },
                Episode { start: 60, end: None }
            ]
        );
        // The first episode does not recur within 30 snapshots; the second does (60 <= 52 + 30).
        assert_eq!(warning(&eps), Some((50, 1)));
        assert_eq!(warning(&eps[..1]), None);
    }

    /// 0.1 s of noise at 25.6 kHz (a xorshift stream from `seed`), plus a 3 kHz tone of `tone_g`.
    fn snapshot(seed: u64, tone_g: f32) -> Reading {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let samples = (0..2560)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let noise = (x >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
                let tone = (std::f32::consts::TAU * 3_000.0 * i as f32 / 25_600.0).sin();
                0.4 * noise + tone_g * tone
            })
            .collect();
        Reading::Window { sample_rate_hz: 25_600.0, samples }
    }

    #[test]
    fn a_bearing_s_warning_comes_with_what_moved() {
        // 150 snapshots (learned on the first 10%); from snapshot 100 a 3 kHz tone grows on the
        // horizontal accelerometer only.
        let root = std::env::temp_dir().join(format!("spikewatch-femto-test-{}", std::process::id()));
        let dir = root.join("bearings");
        std::fs::create_dir_all(&dir).unwrap();
        let asset = snn_engine::AssetId::from("bearing_test");
        let mut samples = Vec::new();
        for k in 0..150u64 {
            let tone = if k >= 100 { 0.02 * (k - 99) as f32 } else { 0.0 };
            for (c, (channel, tone)) in [("acc_horizontal_g", tone), ("acc_vertical_g", 0.0)].into_iter().enumerate() {
                samples.push(snn_engine::Sample {
                    asset: asset.clone(),
                    channel: snn_engine::ChannelId::from(channel),
                    t: Timestamp(k as i64 * 10_000_000),
                    reading: snapshot(2 * k + c as u64, tone),
                });
            }
        }
        let written = crate::archive::write_window(&root, &asset, Timestamp(0), "run_to_failure", &samples).unwrap();
        std::fs::rename(root.join(written), dir.join("bearing_test.parquet")).unwrap();

        let mut out = Vec::new();
        run(&dir, &root.join("out"), &ModelConfig::default(), 7, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        std::fs::remove_dir_all(&root).ok();
        let row: Vec<&str> = text
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|words| words.starts_with(&["bearing_test", "spikewatch"]))
            .unwrap();
        let warned_at: usize = row[2].parse().unwrap_or_else(|_| panic!("no warning: {text}"));
        assert!(warned_at >= 100, "warned before the tone: {text}");
        let evidence = text.lines().find_map(|l| l.strip_prefix("  bearing_test: spikewatch's warning: ")).unwrap();
        assert!(
            evidence.split("; ").all(|e| e.starts_with("acc_horizontal_g.")),
            "the tone is on the horizontal channel alone: {evidence}"
        );
    }
}
