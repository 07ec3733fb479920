//! `spikewatch eval`: runs the public benchmarks (NAB, SKAB, CWRU, FEMTO) through the model exactly as the
//! server runs it, scores spikewatch and plain baselines with each benchmark's published protocol, and
//! prints the figures.

pub mod baseline;
pub mod cwru;
pub mod femto;
pub mod nab;
pub mod nab_score;
pub mod plant;
pub mod skab;

use anyhow::Context;
use clap::{Args, ValueEnum};
use snn_engine::{AlertEvent, AssetId, AssetModel, ChannelId, ChannelKind, ChannelSpec, ModelConfig, Phase, Reading};
use snn_engine::{Timestamp, model::ModelError};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Which benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Benchmark {
    /// Numenta Anomaly Benchmark (the `nab` folder: `data/`, `labels/`).
    Nab,
    /// Skoltech Anomaly Benchmark (`<group>/<n>.csv`).
    Skab,
    /// Case Western Reserve bearing data (Parquet windows).
    Cwru,
    /// FEMTO/PRONOSTIA run-to-failure bearings (Parquet windows).
    Femto,
    /// The plant simulator: healthy pumps and slowly growing faults of every kind (needs no data).
    Plant,
}

/// `spikewatch eval <benchmark> --data DIR [--out OUT]` (`spikewatch eval plant` needs no data).
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// The benchmark.
    #[arg(value_enum)]
    pub benchmark: Benchmark,
    /// The benchmark's data folder (every benchmark but `plant`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where per-row results are written (NAB, SKAB, FEMTO); default: a temporary folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A spikewatch config file whose `[model]` section (and `pipeline.seed`) replace the defaults;
    /// `SPIKEWATCH__MODEL__*` environment variables apply on top, as for the server.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed of the simulated plant (`plant` only; the model's seed is `pipeline.seed`) [default: 42].
    #[arg(long)]
    pub plant_seed: Option<u64>,
    /// The pump channels the model watches (`plant` only; comma-separated; default: all of vibration,
    /// current, temperature, acoustic), to see what a site with fewer sensors gets.
    #[arg(long, value_delimiter = ',')]
    pub plant_channels: Vec<String>,
    /// Parts of the model to turn off, to show what each is worth (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub ablate: Vec<Part>,
}

/// A part of the model that `--ablate` can turn off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// The sequence memory and the temporal surprise it gives (the raw score is novelty alone).
    Surprise,
    /// The anomaly likelihood (the alert levels apply to the short-term mean raw score).
    Likelihood,
    /// The range-breakout check (a value outside its sensor's range scores 1) and the level check that shares
    /// its margin (an open alert held while a sensor's level is off its band).
    Range,
    /// The time-of-day context (taken on when the warm-up spans a day).
    Daily,
}

/// `config` with the `parts` turned off.
pub fn ablated(config: &ModelConfig, parts: &[Part]) -> ModelConfig {
    let mut c = config.clone();
    for part in parts {
        match part {
            Part::Surprise => c.surprise_weight = 0.0,
            Part::Likelihood => c.likelihood = false,
            Part::Range => c.range_breakout_margin = 0.0,
            Part::Daily => c.daily_cycle_fields = 0,
        }
    }
    c
}

/// An option given to a benchmark it does not apply to is an error, not silently ignored: a user who
/// asks for fewer sensors on NAB, or points the simulated plant at a data folder, would otherwise read
/// figures that are not what they asked for.
fn check_options(args: &EvalArgs) -> anyhow::Result<()> {
    let plant = args.benchmark == Benchmark::Plant;
    anyhow::ensure!(
        plant || (args.plant_seed.is_none() && args.plant_channels.is_empty()),
        "--plant-seed and --plant-channels apply to `eval plant` only"
    );
    anyhow::ensure!(!plant || args.data.is_none(), "`eval plant` simulates its data: it takes no --data");
    Ok(())
}

/// Runs one benchmark with the default model configuration and seed, printing its table to stdout.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    check_options(args)?;
    let config = crate::config::Config::load_unvalidated(args.config.as_deref())?;
    config.model.validate().context("invalid [model] section")?;
    let (model, seed) = (ablated(&config.model, &args.ablate), config.pipeline.seed);
    if !args.ablate.is_empty() {
        eprintln!("ablated: {:?}", args.ablate);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("spikewatch-eval-{:?}", args.benchmark).to_lowercase()));
    let started = std::time::Instant::now();
    let mut stdout = std::io::stdout().lock();
    let data = || args.data.as_deref().context("--data is required for this benchmark");
    match args.benchmark {
        Benchmark::Nab => nab::run(data()?, &out, &model, seed, &mut stdout)?,
        Benchmark::Skab => skab::run(data()?, &out, &model, seed, &mut stdout)?,
        Benchmark::Cwru => cwru::run(data()?, &model, seed, &mut stdout)?,
        Benchmark::Femto => femto::run(data()?, &out, &model, seed, &mut stdout)?,
        Benchmark::Plant => {
            let protocol = plant::Protocol {
                plant_seed: args.plant_seed.unwrap_or(plant::Protocol::default().plant_seed),
                channels: args.plant_channels.clone(),
                ..plant::Protocol::default()
            };
            plant::run(&protocol, &model, seed, &mut stdout)?
        }
    }
    eprintln!("eval took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// What a detector made of one row (all channels of one instant).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RowOutcome {
    /// Anomaly score in [0, 1] (the log-likelihood; 0.5 at the default raise level), 0 while learning.
    pub score: f64,
    /// The score with continuing improbable stretches capped (only onsets stand out).
    pub onset: f64,
    /// An alert was raised on this row.
    pub raised: bool,
    /// An alert is open after this row.
    pub open: bool,
}

/// `config` with warm-up set to `warmup_steps` and its normaliser and likelihood phases scaled in proportion, so
/// every benchmark keeps the default schedule's shape whatever its training length.
pub fn with_warmup(config: &ModelConfig, warmup_steps: u32) -> ModelConfig {
    let mut c = config.clone();
    c.warmup_steps = warmup_steps.max(8);
    let scale = |part: u32| (u64::from(part) * u64::from(c.warmup_steps) / u64::from(config.warmup_steps)) as u32;
    c.normaliser_warmup_steps = scale(config.normaliser_warmup_steps).max(2);
    c.threshold_warmup_steps =
        scale(config.threshold_warmup_steps).max(2).min(c.warmup_steps - c.normaliser_warmup_steps - 1);
    c
}

/// Steps rows of scalar channels through one model, as the server would (one step per value, the values of
/// a row in column order at the row's timestamp); a row is judged after all its channels stepped.
pub fn run_scalar_rows(
    asset: &str,
    channels: &[String],
    rows: &[(Timestamp, Vec<f64>)],
    config: &ModelConfig,
    seed: u64,
) -> Result<Vec<RowOutcome>, ModelError> {
    let ids: Vec<ChannelId> = channels.iter().map(|c| ChannelId::from(c.as_str())).collect();
    let specs = ids.iter().map(|id| ChannelSpec { id: id.clone(), kind: ChannelKind::Scalar }).collect();
    let mut model = AssetModel::new(AssetId::from(asset), specs, config.clone(), seed)?;
    let mut out = Vec::with_capacity(rows.len());
    for (t, values) in rows {
        let mut raised = false;
        let mut last = None;
        for (id, &v) in ids.iter().zip(values) {
            let o = model.step(id, *t, &Reading::Scalar(v));
            raised |= matches!(o.alert, Some(AlertEvent::Raised(_)));
            last = Some(o);
        }
        let (score, onset, open) =
            last.map_or((0.0, 0.0, false), |o| (f64::from(o.score), f64::from(o.onset), o.phase == Phase::Alerting));
        out.push(RowOutcome { score, onset, raised, open });
    }
    Ok(out)
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if std::io::stderr().is_terminal() {
        if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta})") {
            bar.set_style(style);
        }
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_message(what.to_owned());
    bar
}

/// The benchmarks' "YYYY-MM-DD HH:MM:SS[.ffffff]" times, read as replay reads them.
pub use connectors::replay::parse_time;

/// Formats a timestamp as "YYYY-MM-DD HH:MM:SS".
pub fn format_time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(t.0).unwrap_or_default().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Files under `dir` with extension `ext`, sorted by name (numerically when the stems are numbers).
pub fn list_files(dir: &std::path::Path, ext: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)))
        .collect();
    let key = |p: &PathBuf| {
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        (stem.parse::<u64>().unwrap_or(u64::MAX), stem)
    };
    files.sort_by_key(key);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_overrides_stay_valid() {
        let base = ModelConfig::default();
        for w in [10, 100, 141, 169, 750, 3193] {
            let c = with_warmup(&base, w);
            c.validate().unwrap_or_else(|e| panic!("warm-up {w}: {e}"));
            assert_eq!(c.warmup_steps, w);
        }
        // The schedule keeps its shape: a quarter learns the statistics, the last half fills the likelihood.
        let c = with_warmup(&base, 480);
        assert_eq!((c.normaliser_warmup_steps, c.threshold_warmup_steps), (120, 240));
    }

    /// `spikewatch eval ARGS` as the command line parses it.
    fn eval_args(args: &[&str]) -> EvalArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            eval: EvalArgs,
        }
        <Cli as clap::Parser>::parse_from(std::iter::once("eval").chain(args.iter().copied())).eval
    }

    #[test]
    fn options_for_another_benchmark_are_refused_by_name() {
        for args in
            [&["nab", "--data", "d", "--plant-channels", "current"][..], &["skab", "--data", "d", "--plant-seed", "43"]]
        {
            let e = check_options(&eval_args(args)).unwrap_err().to_string();
            assert!(e.contains("--plant-seed and --plant-channels apply to `eval plant` only"), "{args:?}: {e}");
        }
        let e = check_options(&eval_args(&["plant", "--data", "d"])).unwrap_err().to_string();
        assert!(e.contains("takes no --data"), "{e}");
        for args in [&["plant", "--plant-seed", "43", "--plant-channels", "current"][..], &["nab", "--data", "d"]] {
            check_options(&eval_args(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
        assert_eq!(plant::Protocol::default().plant_seed, 42, "the --plant-seed help names the default");
    }

    #[test]
    fn times_round_trip() {
        let t = parse_time("2014-04-10 07:15:00.000000").unwrap();
        assert_eq!(format_time(t), "2014-04-10 07:15:00");
        assert_eq!(parse_time("2014-04-10 07:15:00"), Some(t));
        assert!(parse_time("yesterday").is_none());
    }
}
