//! `spikewatch replay`: runs a recording (CSV, Parquet windows or WAV) through the same models the server
//! uses and prints every alert, so an engineer can check the model on recorded data; or, with `--publish`,
//! publishes it to an MQTT broker as the JSON (or `SWW1` binary window) payloads spikewatch ingests, so a
//! recording drives a real deployment. Either way at full speed or paced by the recording's own timestamps (`--speed`).

use crate::archive::read_windows;
use crate::config::Config;
use anyhow::Context;
use connectors::mqtt::MqttConfig;
use connectors::publish::{BinaryEncoding, JsonEncoding, publish_encoded};
use connectors::replay::pace;
use connectors::{CsvOptions, PayloadFormat, Replay, WavOptions};
use snn_engine::{
    AlertEvent, AlertReport, AssetId, AssetModel, ChannelKind, ChannelSpec, ModelConfig, Reading, Sample, Timestamp,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// `spikewatch replay`: what to read, and where the readings go.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The recording: .csv (NAB, SKAB or generic layout), .parquet (archive windows) or .wav (16-bit PCM or
    /// 32-bit float).
    pub file: PathBuf,
    /// Asset name for the recording (default: the file name for CSV and WAV, the file's own names for Parquet).
    #[arg(long)]
    pub asset: Option<String>,
    /// Take the [model] section and seed from this configuration file.
    #[arg(long, short, conflicts_with = "publish")]
    pub config: Option<PathBuf>,
    /// Generic CSV: the name of the time column (default: `timestamp` or `time`); naming one reads the file
    /// in the generic layout.
    #[arg(long, value_name = "NAME")]
    pub time_column: Option<String>,
    /// WAV: samples per window, per channel.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..))]
    pub window_len: u32,
    /// WAV: the time of the first sample, RFC 3339.
    #[arg(long, default_value = "1970-01-01T00:00:00Z", value_parser = parse_start, value_name = "TIME")]
    pub start: Timestamp,
    /// Time factor, pacing by the recording's own timestamps: 1 = real time, 10 = ten times faster
    /// (default: as fast as possible).
    #[arg(long, value_parser = parse_speed, value_name = "FACTOR")]
    pub speed: Option<f64>,
    /// Publish every reading to this broker (mqtt://host:port or mqtts://) instead of running a local model.
    #[arg(long, value_name = "URL")]
    pub publish: Option<String>,
    /// With --publish: messages go to <prefix>/<asset>/<channel>.
    #[arg(long, default_value = crate::demo::TOPIC_PREFIX)]
    pub topic_prefix: String,
    /// With --publish: json (every reading on <prefix>/<asset>/<channel>) or binary (windows as SWW1 on
    /// <prefix>/<asset>/<channel>/binary, scalars as JSON); the `[mqtt] topics` that read them are those of
    /// `spikewatch simulate --format` (docs/payloads.md).
    #[arg(long, default_value_t = PayloadFormat::Json, value_parser = parse_replay_format)]
    pub format: PayloadFormat,
}

/// `json` or `binary`: one message per reading, as `--publish` counts them. A Sparkplug edge node is
/// the simulator's (`spikewatch simulate --format sparkplug`).
fn parse_replay_format(s: &str) -> Result<PayloadFormat, String> {
    match s.parse::<PayloadFormat>()? {
        PayloadFormat::Sparkplug => {
            Err("replay publishes `json` or `binary`; Sparkplug B is `spikewatch simulate --format sparkplug`".into())
        }
        format => Ok(format),
    }
}

fn parse_start(s: &str) -> Result<Timestamp, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Timestamp(t.timestamp_micros()))
        .map_err(|e| format!("expected an RFC 3339 time such as 2024-01-01T00:00:00Z: {e}"))
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(speed),
        _ => Err(format!("expected a positive time factor such as 1 or 10, got `{s}`")),
    }
}

/// What a replay found.
#[derive(Debug, Default, PartialEq)]
pub struct ReplaySummary {
    pub readings: usize,
    pub dropped: u64,
    pub bad_rows: usize,
    pub alerts_raised: usize,
}

/// How to read a recording.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Asset name (default: the file stem for CSV and WAV; Parquet files name their own assets).
    pub asset: Option<String>,
    pub csv: CsvOptions,
    pub wav: WavOptions,
}

impl ReplayArgs {
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            asset: self.asset.clone(),
            csv: CsvOptions { time_column: self.time_column.clone() },
            wav: WavOptions { window_len: self.window_len as usize, start: self.start },
        }
    }
}

/// [`load_with`] with default options: the samples and the count of unreadable rows.
pub fn load(path: &Path, asset: Option<&str>) -> anyhow::Result<(Vec<Sample>, usize)> {
    let replay = load_with(path, &LoadOptions { asset: asset.map(str::to_owned), ..LoadOptions::default() })?;
    Ok((replay.samples, replay.bad_rows))
}

/// Loads the recording: `.csv` (NAB, SKAB or generic layout) or `.wav` as one asset named after the file
/// (or `options.asset`), or a Parquet window file with its own asset names.
pub fn load_with(path: &Path, options: &LoadOptions) -> anyhow::Result<Replay> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let asset = || {
        AssetId(options.asset.clone().unwrap_or_else(|| {
            path.file_stem().map_or_else(|| "replay".to_owned(), |s| s.to_string_lossy().into_owned())
        }))
    };
    match extension.as_str() {
        "csv" => Ok(connectors::read_csv_with(path, &asset(), &options.csv)?),
        "wav" => Ok(connectors::read_wav(path, &asset(), &options.wav)?),
        "parquet" => {
            let mut samples = read_windows(path)?;
            if let Some(name) = &options.asset {
                samples.iter_mut().for_each(|s| s.asset = AssetId::from(name.as_str()));
            }
            Ok(Replay { samples, ..Replay::default() })
        }
        other => {
            anyhow::bail!("cannot replay `{}`: expected a .csv, .parquet or .wav file, not `.{other}`", path.display())
        }
    }
}

/// What the recording held besides its readings, for the closing line: unreadable rows and what was left out.
fn describe_leftovers(replay: &Replay) -> String {
    let mut text = format!("{} unreadable rows", replay.bad_rows);
    if !replay.ignored_columns.is_empty() {
        text.push_str(&format!(", non-numeric columns ignored: {}", replay.ignored_columns.join(", ")));
    }
    if replay.trailing_samples > 0 {
        text.push_str(&format!(
            ", {} samples per channel after the last full window left out",
            replay.trailing_samples
        ));
    }
    text
}

/// `spikewatch replay` without `--publish`: steps the recording through local models and prints every alert
/// and a summary to `out`.
pub fn run_locally(args: &ReplayArgs, out: &mut impl Write) -> anyhow::Result<ReplaySummary> {
    // Only [model] and the seed matter here: a replay needs no source, database or assets section.
    let config = Config::load_unvalidated(args.config.as_deref())?;
    config.model.validate().context("invalid [model] section")?;
    let replay = load_with(&args.file, &args.load_options())?;
    anyhow::ensure!(!replay.samples.is_empty(), "`{}` holds no readings", args.file.display());
    let mut summary = run_paced(&replay.samples, &config.model, config.pipeline.seed, args.speed, out)?;
    summary.bad_rows = replay.bad_rows;
    writeln!(
        out,
        "{} readings, {} alerts raised, {} readings dropped by the model, {}",
        summary.readings,
        summary.alerts_raised,
        summary.dropped,
        describe_leftovers(&replay)
    )?;
    Ok(summary)
}

/// `spikewatch replay --publish URL`: publishes every reading of the recording at QoS 1 as JSON to
/// `<topic prefix>/<asset>/<channel>` (with `--format binary`, windows as `SWW1` to `.../binary`), paced by `--speed`, and prints how many messages the broker
/// acknowledged. Fails if some were not (unless shut down first).
pub async fn publish(args: &ReplayArgs, out: &mut impl Write, shutdown: watch::Receiver<bool>) -> anyhow::Result<u64> {
    let url = args.publish.clone().context("`--publish` names no broker")?;
    let replay = load_with(&args.file, &args.load_options())?;
    anyhow::ensure!(!replay.samples.is_empty(), "`{}` holds no readings", args.file.display());
    // Refuse a name that cannot be a topic level before publishing anything.
    let mut checked = BTreeSet::new();
    for s in &replay.samples {
        if checked.insert((&s.asset, &s.channel)) {
            connectors::sample_topic(&args.topic_prefix, s)?;
        }
    }
    let mqtt = MqttConfig {
        url: url.clone(),
        client_id: format!("spikewatch-replay-{}", std::process::id()),
        ..MqttConfig::default()
    };
    mqtt.validate()?;
    let schedule = pace::schedule(&replay.samples, args.speed);
    let batches = schedule.into_iter().map(|(due, range)| (due, replay.samples[range].to_vec()));
    let total = replay.samples.len() as u64;
    tracing::info!(%url, prefix = %args.topic_prefix, format = %args.format, speed = ?args.speed, readings = total, "publishing recording");
    let prefix = args.topic_prefix.clone();
    let published = match args.format {
        PayloadFormat::Binary => publish_encoded(batches, mqtt, BinaryEncoding::new(prefix)?, shutdown.clone()).await?,
        PayloadFormat::Json => publish_encoded(batches, mqtt, JsonEncoding::new(prefix)?, shutdown.clone()).await?,
        PayloadFormat::Sparkplug => anyhow::bail!(parse_replay_format("sparkplug").unwrap_err()),
    };
    writeln!(out, "published {published} messages to {url}, {}", describe_leftovers(&replay))?;
    anyhow::ensure!(
        published == total || *shutdown.borrow(),
        "only {published} of {total} messages were published and acknowledged by {url}"
    );
    Ok(published)
}

/// Steps every sample through one model per asset (channels and their kinds taken from the recording) and
/// writes one line per alert to `out`, as fast as possible.
pub fn run(samples: &[Sample], config: &ModelConfig, seed: u64, out: &mut impl Write) -> anyhow::Result<ReplaySummary> {
    run_paced(samples, config, seed, None, out)
}

/// [`run`], paced by the recording's timestamps at `speed` × real time (`None`: as fast as possible).
pub fn run_paced(
    samples: &[Sample],
    config: &ModelConfig,
    seed: u64,
    speed: Option<f64>,
    out: &mut impl Write,
) -> anyhow::Result<ReplaySummary> {
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
    let (started, first) = (std::time::Instant::now(), samples.first().map_or(Timestamp(0), |s| s.t));
    for (i, s) in samples.iter().enumerate() {
        if let Some(wait) = pace::due(first, s.t, speed).checked_sub(started.elapsed()).filter(|w| !w.is_zero()) {
            std::thread::sleep(wait);
        }
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
    format!(
        "{}  raised    {}  {}  score {:.3} > {:.3}  {}",
        time(report.t),
        asset,
        report.severity.as_str(),
        report.score,
        report.threshold,
        describe_evidence(report)
    )
}

/// The first three entries of the alert's evidence (a breached limit first, then the features furthest
/// from the matched prototype), each as `channel.feature observed (normal expected, ±N)`: N in the
/// feature's learned standard deviations (in context widths for the hour of day).
pub fn describe_evidence(report: &AlertReport) -> String {
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
    evidence.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_extension_is_refused_by_name() {
        let err = load(Path::new("recording.wav2"), None).unwrap_err();
        assert!(err.to_string().contains("expected a .csv, .parquet or .wav file"), "{err}");
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        replay: ReplayArgs,
    }

    fn parse(args: &[&str]) -> Result<ReplayArgs, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("replay").chain(args.iter().copied())).map(|cli| cli.replay)
    }

    #[test]
    fn flags_have_deterministic_defaults_and_bad_values_are_refused() {
        let args = parse(&["x.wav"]).unwrap();
        assert_eq!((args.window_len, args.start, args.speed), (2048, Timestamp(0), None));
        assert_eq!((args.publish, args.topic_prefix.as_str(), args.format), (None, "plant", PayloadFormat::Json));
        assert_eq!(parse(&["x", "--format", "binary"]).unwrap().format, PayloadFormat::Binary);
        let sparkplug = parse(&["x", "--format", "sparkplug"]).unwrap_err().to_string();
        assert!(sparkplug.contains("replay publishes `json` or `binary`"), "{sparkplug}");
        let args =
            parse(&["x.csv", "--speed", "2.5", "--start", "2024-01-01T01:00:00+01:00", "--time-column", "ts"]).unwrap();
        assert_eq!(args.speed, Some(2.5));
        assert_eq!(args.start, Timestamp(1_704_067_200_000_000));
        assert_eq!(args.load_options().csv.time_column.as_deref(), Some("ts"));
        for bad in [
            &["x", "--speed", "0"][..],
            &["x", "--speed", "fast"],
            &["x", "--window-len", "0"],
            &["x", "--start", "yesterday"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let both = parse(&["x", "--config", "c.toml", "--publish", "mqtt://h:1883"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn a_generic_csv_runs_locally_paced_and_names_what_it_left_out() {
        let dir = std::env::temp_dir().join(format!("spikewatch-replay-generic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("press.csv");
        // Three instants 10 ms apart, played 10 x faster: the pacing sleeps, but nothing here times it.
        let csv = "timestamp;force;mode\n0.00;1.5;auto\n0.01;1.6;auto\nbad;1;auto\n0.02;1.7;auto\n";
        std::fs::write(&path, csv).unwrap();
        let args = parse(&[path.to_str().unwrap(), "--speed", "10"]).unwrap();
        let mut out = Vec::new();
        let summary = run_locally(&args, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!((summary.readings, summary.bad_rows, summary.alerts_raised), (3, 1, 0));
        assert_eq!(
            text,
            "3 readings, 0 alerts raised, 0 readings dropped by the model, 1 unreadable rows, non-numeric columns ignored: mode\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
