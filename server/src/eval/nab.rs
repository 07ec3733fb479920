//! `spikewatch eval nab`: every NAB file as its own asset (warm-up = the probationary period), per-row
//! results written as NAB-style CSVs, scored with the NAB v1.1 rules for spikewatch and a z-score baseline.

use super::baseline::ZScoreBaseline;
use super::nab_score::{self, LabelledFile, PROFILES, RawScore};
use super::{RowOutcome, parse_time, run_scalar_rows, with_warmup};
use anyhow::Context;
use snn_engine::{ModelConfig, Timestamp};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// One NAB data file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct NabFile {
    /// Path key as in the labels, e.g. `realKnownCause/machine_temperature_system_failure.csv`.
    pub key: String,
    /// Timestamps as written in the file.
    pub stamps: Vec<String>,
    /// Parsed timestamps and values.
    pub rows: Vec<(Timestamp, Vec<f64>)>,
}

/// Parses a NAB `timestamp,value` file; any unreadable row is an error (rows must line up with the labels).
pub fn parse_nab(key: &str, text: &str) -> anyhow::Result<NabFile> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().with_context(|| format!("`{key}` is empty"))?;
    anyhow::ensure!(header.trim().eq_ignore_ascii_case("timestamp,value"), "`{key}`: unexpected header {header:?}");
    let mut file = NabFile { key: key.to_owned(), stamps: Vec::new(), rows: Vec::new() };
    for (n, line) in lines.enumerate() {
        let (ts, v) = line.split_once(',').with_context(|| format!("`{key}` row {}: no comma", n + 2))?;
        let t = parse_time(ts.trim()).with_context(|| format!("`{key}` row {}: bad timestamp {ts:?}", n + 2))?;
        let v: f64 = v.trim().parse().with_context(|| format!("`{key}` row {}: bad value {v:?}", n + 2))?;
        file.stamps.push(ts.trim().to_owned());
        file.rows.push((t, vec![v]));
    }
    Ok(file)
}

/// Reads `labels/combined_windows.json`: path key -> `[start, end]` limits as timestamps.
pub fn read_windows(path: &Path) -> anyhow::Result<BTreeMap<String, Vec<(i64, i64)>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    let raw: BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(&text).with_context(|| format!("failed to parse `{}`", path.display()))?;
    raw.into_iter()
        .map(|(k, ws)| {
            let limits = ws
                .iter()
                .map(|[a, b]| match (parse_time(a.trim()), parse_time(b.trim())) {
                    (Some(a), Some(b)) => Ok((a.0, b.0)),
                    _ => anyhow::bail!("`{k}`: bad window [{a}, {b}]"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((k, limits))
        })
        .collect()
}

/// The per-row results of every detector on one file.
struct FileResult {
    labels: LabelledFile,
    detectors: Vec<Vec<RowOutcome>>,
}

/// Detector names, in the order of `FileResult::detectors`. Each is swept on its rows' `onset`: "spikewatch"
/// on the model's onset score (what `OUT/` holds), "spikewatch (score)" on the unfiltered anomaly score,
/// "spikewatch (alerts)" on the 0/1 alert flag (a check: its swept score can only match or beat its
/// own-alert score).
const DETECTORS: [&str; 4] = ["spikewatch", "spikewatch (score)", "spikewatch (alerts)", "zscore baseline"];

/// Runs the whole corpus under `dir` (the `nab` folder), writes `out/<category>/<file>.csv` and prints the
/// table; the last line is `nab standard: swept X own_alerts Y`.
pub fn run(dir: &Path, out: &Path, config: &ModelConfig, seed: u64, w: &mut impl Write) -> anyhow::Result<()> {
    let windows = read_windows(&dir.join("labels").join("combined_windows.json"))?;
    let mut files = Vec::with_capacity(windows.len());
    for key in windows.keys() {
        let path = dir.join("data").join(key);
        let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read `{}`", path.display()))?;
        files.push(parse_nab(key, &text)?);
    }
    let total: usize = files.iter().map(|f| f.rows.len()).sum();
    let bar = super::progress(total as u64, "nab");
    let mut results = Vec::with_capacity(files.len());
    for file in &files {
        let n = file.rows.len();
        let times: Vec<i64> = file.rows.iter().map(|r| r.0.0).collect();
        let labels = LabelledFile::from_limits(&times, &windows[&file.key]);
        let probation = nab_score::probationary_length(n) as u32;
        let cfg = with_warmup(config, probation);
        let model = run_scalar_rows(&file.key, &["value".to_owned()], &file.rows, &cfg, seed)
            .with_context(|| format!("model for `{}`", file.key))?;
        let mut z = ZScoreBaseline::new(1, u64::from(probation), u64::from(cfg.threshold_warmup_steps), &cfg);
        let zscore: Vec<RowOutcome> = file.rows.iter().map(|(_, v)| z.step(v)).collect();
        write_rows(out, file, &model)?;
        let unfiltered = model.iter().map(|o| RowOutcome { onset: o.score, ..*o }).collect();
        let alerts = model.iter().map(|o| RowOutcome { onset: f64::from(u8::from(o.raised)), ..*o }).collect();
        results.push(FileResult { labels, detectors: vec![model, unfiltered, alerts, zscore] });
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    report(&results, total, w)
}

fn write_rows(out: &Path, file: &NabFile, rows: &[RowOutcome]) -> anyhow::Result<()> {
    let path = out.join(&file.key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("failed to create `{}`", parent.display()))?;
    }
    let mut text = String::with_capacity(rows.len() * 40);
    text.push_str("timestamp,anomaly_score,alert_raised\n");
    for (stamp, o) in file.stamps.iter().zip(rows) {
        text.push_str(&format!("{stamp},{:.6},{}\n", o.onset, u8::from(o.raised)));
    }
    std::fs::write(&path, text).with_context(|| format!("failed to write `{}`", path.display()))
}

fn report(results: &[FileResult], rows: usize, w: &mut impl Write) -> anyhow::Result<()> {
    let labels: Vec<LabelledFile> = results.iter().map(|r| r.labels.clone()).collect();
    let windows: usize = labels.iter().map(|l| l.windows.len()).sum();
    writeln!(w, "NAB v1.1: {} files, {rows} rows, {windows} windows", results.len())?;
    writeln!(
        w,
        "{:<20} {:<14} {:>8} {:>10} {:>11} {:>6} {:>6} {:>8}",
        "detector", "profile", "swept", "threshold", "own_alerts", "TP", "FN", "FP rows"
    )?;
    let mut last = (0.0, 0.0);
    for (d, name) in DETECTORS.iter().enumerate() {
        let scores: Vec<Vec<f64>> = results.iter().map(|r| r.detectors[d].iter().map(|o| o.onset).collect()).collect();
        for profile in &PROFILES {
            let swept = nab_score::sweep(&labels, &scores, profile);
            let mut own = RawScore::default();
            for (r, l) in results.iter().zip(&labels) {
                let alerts: Vec<bool> = r.detectors[d].iter().map(|o| o.raised).collect();
                own += nab_score::score_detections(l, &alerts, profile);
            }
            let (null, perfect) = (nab_score::null_score(&labels, profile), nab_score::perfect_score(&labels, profile));
            let own_norm = nab_score::normalise(own.score, null, perfect);
            writeln!(
                w,
                "{:<20} {:<14} {:>8.1} {:>10.4} {:>11.1} {:>6} {:>6} {:>8}",
                name,
                profile.name,
                swept.normalised,
                swept.threshold,
                own_norm,
                own.tp_windows,
                own.fn_windows,
                own.fp_rows
            )?;
            if d == 0 && profile.name == "standard" {
                last = (swept.normalised, own_norm);
            }
        }
    }
    writeln!(w, "nab standard: swept {:.1} own_alerts {:.1}", last.0, last.1)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny generated NAB corpus: a noisy sine with a level jump inside the labelled window.
    fn fixture(dir: &Path) {
        let data = dir.join("data").join("synthetic");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(dir.join("labels")).unwrap();
        let mut csv = String::from("timestamp,value\n");
        let start = parse_time("2020-01-01 00:00:00").unwrap();
        for i in 0..2000i64 {
            let t = super::super::format_time(Timestamp(start.0 + i * 300_000_000));
            let v = (i as f64 * 0.3).sin() + if (1500..1600).contains(&i) { 8.0 } else { 0.0 };
            csv.push_str(&format!("{t},{v}\n"));
        }
        std::fs::write(data.join("jump.csv"), csv).unwrap();
        let json = r#"{"synthetic/jump.csv": [["2020-01-06 04:00:00.000000", "2020-01-06 14:00:00.000000"]]}"#;
        std::fs::write(dir.join("labels").join("combined_windows.json"), json).unwrap();
    }

    #[test]
    fn a_generated_corpus_runs_end_to_end() {
        let dir = std::env::temp_dir().join(format!("spikewatch-nab-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        fixture(&dir);
        let mut out = Vec::new();
        run(&dir, &dir.join("out"), &ModelConfig::default(), 7, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().last().unwrap().starts_with("nab standard: swept "), "{text}");
        let written = std::fs::read_to_string(dir.join("out").join("synthetic").join("jump.csv")).unwrap();
        let mut lines = written.lines();
        assert_eq!(lines.next(), Some("timestamp,anomaly_score,alert_raised"));
        assert_eq!(lines.count(), 2000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_rows_are_errors() {
        assert!(parse_nab("x.csv", "timestamp,value\n2020-01-01 00:00:00,abc\n").is_err());
        let f = parse_nab("x.csv", "timestamp,value\n2020-01-01 00:00:00,1.5\n").unwrap();
        assert_eq!(f.rows[0].1, vec![1.5]);
    }

    #[test]
    fn the_real_corpus_if_present() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nab/labels/combined_windows.json");
        if !dir.exists() {
            println!("skipped: no NAB data at {}", dir.display());
            return;
        }
        let windows = read_windows(&dir).unwrap();
        assert_eq!(windows.len(), 58);
        assert_eq!(windows.values().map(Vec::len).sum::<usize>(), 116);
    }
}
