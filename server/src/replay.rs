//! `spikewatch replay`: runs a recording (CSV or Parquet windows) through the same models the server uses
//! and prints every alert, so an engineer can check the model on recorded data.

use crate::archive::read_windows;
use snn_engine::{
    AlertEvent, AlertReport, AssetId, AssetModel, ChannelKind, ChannelSpec, ModelConfig, Reading, Sample, Timestamp,
};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// What a replay found.
#[derive(Debug, Default, PartialEq)]
pub struct ReplaySummary {
    pub readings: usize,
    pub dropped: u64,
    pub bad_rows: usize,
    pub alerts_raised: usize,
}

/// Loads the recording: `.csv` (NAB or SKAB layout) as one asset named after the file (or `asset`), or a
/// Parquet window file with its own asset names.
pub fn load(path: &Path, asset: Option<&str>) -> anyhow::Result<(Vec<Sample>, usize)> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "csv" => {
            let name = asset.map(str::to_owned).unwrap_or_else(|| {
                path.file_stem().map_or_else(|| "replay".to_owned(), |s| s.to_string_lossy().into_owned())
            });
            let replay = connectors::replay::read_csv(path, &AssetId(name))?;
            Ok((replay.samples, replay.bad_rows))
        }
        "parquet" => {
            let mut samples = read_windows(path)?;
            if let Some(name) = asset {
                samples.iter_mut().for_each(|s| s.asset = AssetId::from(name));
            }
            Ok((samples, 0))
        }
        other => anyhow::bail!("cannot replay `{}`: expected a .csv or .parquet file, not `.{other}`", path.display()),
    }
}

/// Steps every sample through one model per asset (channels and their kinds taken from the recording) and
/// writes one line per alert to `out`.
pub fn run(samples: &[Sample], config: &ModelConfig, seed: u64, out: &mut impl Write) -> anyhow::Result<ReplaySummary> {
    let mut specs: BTreeMap<AssetId, Vec<ChannelSpec>> = BTreeMap::new();
    for s in samples {
        let channels = specs.entry(s.asset.clone()).or_default();
        if !channels.iter().any(|c| c.id == s.channel) {
            let kind =
                if matches!(s.reading, Reading::Window { .. }) { ChannelKind::Window } else { ChannelKind::Scalar };
            channels.push(ChannelSpec { id: s.channel.clone(), kind });
        }
    }
    let mut models = BTreeMap::new();
    for (asset, channels) in specs {
        models.insert(asset.clone(), AssetModel::new(asset, channels, config.clone(), seed)?);
    }

    let progress = indicatif::ProgressBar::new(samples.len() as u64);
    if !std::io::stderr().is_terminal() {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut summary = ReplaySummary { readings: samples.len(), ..ReplaySummary::default() };
    for (i, s) in samples.iter().enumerate() {
        let model = models.get_mut(&s.asset).expect("a model was built for every asset");
        match model.step(&s.channel, s.t, &s.reading).alert {
            Some(AlertEvent::Raised(report)) => {
                summary.alerts_raised += 1;
                progress.suspend(|| writeln!(out, "{}", describe_raised(&s.asset, &report)))?;
            }
            Some(AlertEvent::Resolved { t }) => {
                progress.suspend(|| writeln!(out, "{}  resolved  {}", time(t), s.asset))?;
            }
            None => {}
        }
        if i % 1024 == 0 {
            progress.set_position(i as u64);
        }
    }
    progress.finish_and_clear();
    summary.dropped = models.values().map(|m| m.counters().dropped).sum();
    Ok(summary)
}

fn time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(t.0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One line: when, which asset, how bad, and the features that moved most.
pub fn describe_raised(asset: &AssetId, report: &AlertReport) -> String {
    let evidence: Vec<String> = report
        .evidence
        .iter()
        .take(3)
        .map(|e| {
            format!(
                "{}.{} {:.3} (normal {:.3}, {:+.1}σ)",
                e.channel, e.feature, e.observed, e.expected, e.deviation_sigma
            )
        })
        .collect();
    format!(
        "{}  raised    {}  {}  score {:.3} > {:.3}  {}",
        time(report.t),
        asset,
        report.severity.as_str(),
        report.score,
        report.threshold,
        evidence.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_extension_is_refused_by_name() {
        let err = load(Path::new("recording.wav2"), None).unwrap_err();
        assert!(err.to_string().contains("expected a .csv or .parquet file"), "{err}");
    }

    #[test]
    fn a_csv_recording_runs_through_a_model_and_a_level_shift_is_reported() {
        let dir = std::env::temp_dir().join(format!("spikewatch-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("shift.csv");
        let mut csv = String::from("timestamp,value\n");
        for i in 0..1500u32 {
            // A wave with a little deterministic jitter, then a jump far outside it. Warm-up (120 rows) spans
            // about three periods, as it must span the normal cycle of any machine.
            let base = 50.0 + 5.0 * (f64::from(i) * 0.15).sin() + f64::from(i * 7919 % 13) * 0.05;
            let value = if i >= 1200 { base + 40.0 } else { base };
            let (h, m) = (i / 60, i % 60);
            csv.push_str(&format!("2024-01-{:02} {:02}:{:02}:00,{value:.3}\n", 1 + h / 24, h % 24, m));
        }
        std::fs::write(&path, csv).unwrap();
        let (samples, bad_rows) = load(&path, None).unwrap();
        assert_eq!((samples.len(), bad_rows), (1500, 0));
        let mut out = Vec::new();
        let summary = run(&samples, &ModelConfig::default(), 7, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(summary.alerts_raised >= 1, "no alert for a 40-unit jump:\n{text}");
        let first_raised = text.lines().find(|l| l.contains("raised")).unwrap();
        // RFC 3339 times sort as text: the first alert comes at or after the jump (row 1200 = 20:00).
        assert!(first_raised[..20] >= *"2024-01-01T20:00:00Z", "alert before the jump: {first_raised}");
        assert!(first_raised.contains("shift") && first_raised.contains("value."), "{first_raised}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
