//! `spikewatch bench engine`: engine speed on one thread, without criterion, as a table: samples/s of a
//! scalar and of a 25.6 kHz vibration channel through the whole model (and windows/s of the vibration
//! channel with the resonator band bank), windows/s of a 2 kHz motor
//! current through its front-end alone and through the whole model, neuron updates/s and synaptic
//! events/s of the raw layer, and optionally samples/s over a recorded stream (the CSV that
//! `bench/run.sh` also feeds to River and Brian2, for a like-for-like comparison).
//!
//! The workload is the criterion bench's own (`snn-engine/benches/support/workload.rs`, included below),
//! so the two harnesses time the same thing.

#[path = "../../snn-engine/benches/support/workload.rs"]
mod workload;

use anyhow::Context;
use clap::{Args, Subcommand};
use snn_engine::frontend::BandBank;
use snn_engine::{AssetId, AssetModel, ChannelId, ChannelKind, ChannelSpec, Reading, Timestamp};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use workload::{Feed, LayerWorkload, WINDOW_SAMPLES};

/// `spikewatch bench <target>`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub target: BenchTarget,
}

/// What to benchmark.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchTarget {
    /// Engine speed on one thread: samples/s (scalar and 25.6 kHz vibration channels), neuron updates/s
    /// and synaptic events/s, and samples/s over --stream.
    Engine(EngineArgs),
}

/// `spikewatch bench engine [--stream FILE]`.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Scalar readings timed (after warm-up).
    #[arg(long, default_value_t = 500_000)]
    pub scalar_steps: u64,
    /// Vibration windows (2048 samples at 25.6 kHz) timed (after warm-up), with each band bank.
    #[arg(long, default_value_t = 5_000)]
    pub windows: u64,
    /// Motor-current windows (one second at 2 kHz) timed through the front-end alone and through
    /// the whole model (after warm-up).
    #[arg(long, default_value_t = 5_000)]
    pub motor_windows: u64,
    /// Windows of the raw layer timed, for each layer shape.
    #[arg(long, default_value_t = 50_000)]
    pub layer_windows: u64,
    /// Also time a recording (NAB or SKAB CSV, or a Parquet window file) through fresh models, from cold,
    /// as `spikewatch replay` steps it, with the model settings of the environment (`SPIKEWATCH__MODEL__*`,
    /// the defaults otherwise), so a setting's cost can be timed.
    #[arg(long)]
    pub stream: Option<PathBuf>,
    /// Passes over --stream (timestamps shifted forward on each pass, so time keeps increasing).
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
}

/// Steps past warm-up before timing, so alert thresholds and learning gates are in their steady state.
const EXTRA_WARMUP_STEPS: u64 = 200;

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// What was timed.
    pub name: String,
    /// Units of work done (samples, windows, neuron updates, synaptic events).
    pub work: u64,
    /// Wall-clock seconds on one thread.
    pub seconds: f64,
    /// Unit of the rate, `<work>/s`.
    pub unit: &'static str,
}

impl Measurement {
    /// Work per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 { self.work as f64 / self.seconds } else { f64::INFINITY }
    }
}

/// Runs `spikewatch bench`, printing to stdout.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.target {
        BenchTarget::Engine(engine_args) => {
            let mut stdout = std::io::stdout().lock();
            engine(engine_args, &mut stdout)?;
            Ok(())
        }
    }
}

/// Times the engine workload and writes the table (and notes on what was timed) to `out`.
pub fn engine(args: &EngineArgs, out: &mut impl Write) -> anyhow::Result<Vec<Measurement>> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();

    for (kind, steps) in [(ChannelKind::Scalar, args.scalar_steps), (ChannelKind::Window, args.windows)] {
        let (mut model, channel) = (workload::single_channel_model(kind), workload::channel_id(kind));
        let mut feed = if kind == ChannelKind::Scalar { Feed::scalar() } else { Feed::vibration() };
        let (seconds, events) = time_steps(&mut model, &channel, &mut feed, steps);
        let name =
            if kind == ChannelKind::Scalar { "scalar channel, model step" } else { "vibration 25.6 kHz, model step" };
        if kind == ChannelKind::Window {
            rows.push(Measurement { name: name.into(), work: steps, seconds, unit: "windows/s" });
        }
        let samples = if kind == ChannelKind::Window { steps * WINDOW_SAMPLES as u64 } else { steps };
        rows.push(Measurement { name: name.into(), work: samples, seconds, unit: "samples/s" });
        rows.push(Measurement { name: name.into(), work: events, seconds, unit: "synaptic events/s" });
        notes.push(format!(
            "{name}: phase {} after timing, {} of {} neurons recruited",
            model.phase().as_str(),
            model.prototypes(),
            model.config().neurons
        ));
    }

    rows.push(resonate_bank(args.windows));

    let (frontend_row, step_row, note) = motor_current(args.motor_windows);
    rows.extend([frontend_row, step_row]);
    notes.push(note);

    for kind in [ChannelKind::Scalar, ChannelKind::Window] {
        let mut layer = LayerWorkload::new(kind);
        let (inputs, neurons) = layer.shape();
        let start = Instant::now();
        let work = black_box(layer.run(args.layer_windows));
        let seconds = start.elapsed().as_secs_f64();
        let name = format!("layer {inputs}x{neurons}, CPU backend");
        rows.push(Measurement { name: name.clone(), work: work.neuron_updates, seconds, unit: "neuron updates/s" });
        rows.push(Measurement { name: name.clone(), work: work.synaptic_events, seconds, unit: "synaptic events/s" });
        let line_steps = (inputs * layer.steps_per_window()) as f64 * work.windows as f64;
        notes.push(format!(
            "{name}: {inputs} inputs, {neurons} neurons (all recruited), {} time steps per window, STDP on; \
             {:.3} input spikes per input line per time step",
            layer.steps_per_window(),
            if line_steps > 0.0 { work.input_spikes as f64 / line_steps } else { 0.0 },
        ));
    }

    if let Some(path) = &args.stream {
        let (measurement, note) = stream(path, args.repeat)?;
        rows.push(measurement);
        notes.push(note);
    }

    write_table(out, &rows, &notes)?;
    Ok(rows)
}

/// Warms `model` up past its warm-up on `feed`, then times `steps` steps of it: the seconds taken
/// and the synaptic events counted meanwhile.
fn time_steps(model: &mut AssetModel, channel: &ChannelId, feed: &mut Feed, steps: u64) -> (f64, u64) {
    workload::warm_up(model, channel, feed, EXTRA_WARMUP_STEPS);
    let before = model.counters().synaptic_events;
    let start = Instant::now();
    for _ in 0..steps {
        let (t, reading) = feed.next_reading();
        black_box(model.step(channel, t, reading));
    }
    (start.elapsed().as_secs_f64(), model.counters().synaptic_events - before)
}

/// Times the vibration windows through a warmed-up model whose bands a resonator bank measures.
fn resonate_bank(windows: u64) -> Measurement {
    let (mut model, channel) =
        (workload::vibration_model(BandBank::Resonate), workload::channel_id(ChannelKind::Window));
    let (seconds, _) = time_steps(&mut model, &channel, &mut Feed::vibration(), windows);
    Measurement {
        name: "vibration 25.6 kHz, resonate bank, model step".into(),
        work: windows,
        seconds,
        unit: "windows/s",
    }
}

/// Times one-second motor-current windows (2,000 samples at 2 kHz, back to back) through the
/// motor-current front-end alone, then through a warmed-up single-channel model.
fn motor_current(windows: u64) -> (Measurement, Measurement, String) {
    let (mut frontend, params) = workload::motor_current_frontend();
    let mut feed = Feed::motor_current();
    // A full history first (10 s), so the sideband spectrum has its steady-state size.
    workload::run_frontend(&mut frontend, &params, &mut feed, 12);
    let start = Instant::now();
    black_box(workload::run_frontend(&mut frontend, &params, &mut feed, windows));
    let seconds = start.elapsed().as_secs_f64();
    let name = "motor current 2 kHz, front-end";
    let frontend_row = Measurement { name: name.into(), work: windows, seconds, unit: "windows/s" };
    let per_window_us = if windows > 0 { seconds / windows as f64 * 1e6 } else { 0.0 };

    let kind = ChannelKind::MotorCurrent;
    let (mut model, channel) = (workload::single_channel_model(kind), workload::channel_id(kind));
    let (seconds, _) = time_steps(&mut model, &channel, &mut Feed::motor_current(), windows);
    let step_row =
        Measurement { name: "motor current 2 kHz, model step".into(), work: windows, seconds, unit: "windows/s" };
    let note = format!(
        "{name}: {per_window_us:.0} us per one-second window (supply, sidebands over a 10 s history, harmonics), \
         so one core keeps up with the front-ends of {:.0} motors streaming in real time",
        if per_window_us > 0.0 { 1e6 / per_window_us } else { 0.0 }
    );
    (frontend_row, step_row, note)
}

/// Steps every reading of `path` through fresh models (one per asset) configured as the environment says
/// (`SPIKEWATCH__MODEL__*`, `SPIKEWATCH__PIPELINE__SEED`; the defaults otherwise), `repeat` times over.
fn stream(path: &Path, repeat: u32) -> anyhow::Result<(Measurement, String)> {
    let (samples, bad_rows) = crate::replay::load(path, None)?;
    anyhow::ensure!(!samples.is_empty(), "`{}` holds no readings", path.display());
    // One model per asset, channels in order of first appearance, as `spikewatch replay` builds them.
    let mut specs: BTreeMap<AssetId, Vec<ChannelSpec>> = BTreeMap::new();
    for s in &samples {
        let channels = specs.entry(s.asset.clone()).or_default();
        if !channels.iter().any(|c| c.id == s.channel) {
            let kind =
                if matches!(s.reading, Reading::Window { .. }) { ChannelKind::Window } else { ChannelKind::Scalar };
            channels.push(ChannelSpec { id: s.channel.clone(), kind });
        }
    }
    let config = crate::config::Config::load_unvalidated(None)?;
    let mut models = Vec::new();
    let mut index = BTreeMap::new();
    for (asset, channels) in specs {
        index.insert(asset.clone(), models.len());
        models.push(AssetModel::new(asset, channels, config.model.clone(), config.pipeline.seed)?);
    }
    let owner: Vec<usize> = samples.iter().map(|s| index[&s.asset]).collect();
    // Each pass starts one median reading interval after the previous pass ended.
    let (first, last) = samples.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s.t.0), hi.max(s.t.0)));
    let shift = last - first + median_interval_us(&samples);
    let values_per_pass: u64 = samples
        .iter()
        .map(|s| match &s.reading {
            Reading::Scalar(_) => 1,
            Reading::Window { samples, .. } => samples.len() as u64,
        })
        .sum();

    let start = Instant::now();
    for pass in 0..i64::from(repeat) {
        for (s, &m) in samples.iter().zip(&owner) {
            black_box(models[m].step(&s.channel, Timestamp(s.t.0 + pass * shift), &s.reading));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let file = path.file_name().map_or_else(|| path.display().to_string(), |f| f.to_string_lossy().into_owned());
    let dropped: u64 = models.iter().map(|m| m.counters().dropped).sum();
    let note = format!(
        "stream {file}: {} readings x {repeat} passes from cold (warm-up included), {} models, \
         {dropped} readings dropped by the model, {bad_rows} unreadable rows",
        samples.len(),
        models.len()
    );
    let measurement = Measurement {
        name: format!("stream {file} x{repeat}"),
        work: values_per_pass * u64::from(repeat),
        seconds,
        unit: "samples/s",
    };
    Ok((measurement, note))
}

/// The median gap between consecutive readings (1 s when there are too few to tell).
fn median_interval_us(samples: &[snn_engine::Sample]) -> i64 {
    let mut gaps: Vec<i64> = samples.windows(2).map(|w| w[1].t.0 - w[0].t.0).filter(|&g| g > 0).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied().unwrap_or(1_000_000)
}

/// The table: a title line, a header, one line per measurement, then the notes.
fn write_table(out: &mut impl Write, rows: &[Measurement], notes: &[String]) -> anyhow::Result<()> {
    let build = if cfg!(debug_assertions) { "debug build: not representative, use --release" } else { "release build" };
    writeln!(
        out,
        "spikewatch bench engine: one thread, default model config, seed {} (--stream: as the environment \
         configures it), {build}",
        workload::SEED
    )?;
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max("measurement".len());
    writeln!(out, "{:<width$}  {:>14}  {:>9}  {:>14}  unit", "measurement", "work", "seconds", "rate")?;
    for r in rows {
        writeln!(out, "{:<width$}  {:>14}  {:>9.3}  {:>14.0}  {}", r.name, r.work, r.seconds, r.rate(), r.unit)?;
    }
    for n in notes {
        writeln!(out, "note: {n}")?;
    }
    out.flush().context("failed to write the bench table")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> EngineArgs {
        EngineArgs { scalar_steps: 50, windows: 3, motor_windows: 3, layer_windows: 4, stream: None, repeat: 2 }
    }

    #[test]
    fn engine_table_has_every_row_in_its_unit() {
        let mut out = Vec::new();
        let rows = engine(&tiny(), &mut out).unwrap();
        let units: Vec<&str> = rows.iter().map(|r| r.unit).collect();
        assert_eq!(
            units,
            [
                "samples/s",
                "synaptic events/s",
                "windows/s",
                "samples/s",
                "synaptic events/s",
                "windows/s",
                "windows/s",
                "windows/s",
                "neuron updates/s",
                "synaptic events/s",
                "neuron updates/s",
                "synaptic events/s",
            ]
        );
        assert_eq!(rows[0].work, 50, "one sample per scalar step");
        assert_eq!((rows[2].work, rows[3].work), (3, 3 * 2048), "windows and their samples");
        let config = snn_engine::ModelConfig::default();
        let per_window = (config.neurons * config.window_time_steps as usize) as u64;
        assert_eq!(rows[5].work, 3, "vibration windows through the resonator bank");
        assert!(rows[5].name.contains("resonate bank"));
        assert_eq!((rows[6].work, rows[7].work), (3, 3), "motor-current windows, front-end and model step");
        assert!(rows[6].name.contains("front-end") && rows[7].name.contains("model step"));
        assert_eq!(rows[8].work, 4 * per_window, "neurons x time steps x windows");
        assert!(rows[9].work > 0 && rows[9].work % config.neurons as u64 == 0, "input spikes x fan-out");

        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("spikewatch bench engine: one thread"), "{text}");
        assert!(lines[1].starts_with("measurement") && lines[1].ends_with("unit"), "{text}");
        for (line, row) in lines[2..2 + rows.len()].iter().zip(&rows) {
            assert!(line.starts_with(&row.name) && line.ends_with(row.unit), "{line}");
            let numbers: Vec<&str> = line[row.name.len()..line.len() - row.unit.len()].split_whitespace().collect();
            assert_eq!(numbers.len(), 3, "work, seconds, rate: {line}");
            assert!(numbers.iter().all(|n| n.parse::<f64>().is_ok()), "{line}");
        }
        assert!(lines[2 + rows.len()..].iter().all(|l| l.starts_with("note: ")), "{text}");
    }

    #[test]
    fn stream_rows_count_every_reading_of_every_pass() {
        let dir = std::env::temp_dir().join(format!("spikewatch-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("tiny.csv");
        let mut text = String::from("timestamp,value\n");
        for i in 0..30 {
            text.push_str(&format!("2014-01-01 00:{i:02}:00,{}\n", 20.0 + f64::from(i % 7)));
        }
        std::fs::write(&csv, text).unwrap();
        let mut out = Vec::new();
        let rows = engine(&EngineArgs { stream: Some(csv), ..tiny() }, &mut out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let last = rows.last().unwrap();
        assert_eq!((last.name.as_str(), last.work, last.unit), ("stream tiny.csv x2", 60, "samples/s"));
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("note: stream tiny.csv: 30 readings x 2 passes"), "{text}");
    }
}
