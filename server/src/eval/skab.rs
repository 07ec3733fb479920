//! `spikewatch eval skab`: every SKAB run as one asset (one scalar channel per sensor), the first 400 rows
//! learning, every later row predicted by whether an alert is open; F1, FAR and MAR over all runs together.

use super::baseline::ZScoreBaseline;
use super::{RowOutcome, list_files, parse_time, run_scalar_rows, with_warmup};
use anyhow::Context;
use snn_engine::{ModelConfig, Timestamp};
use std::io::Write;
use std::path::Path;

/// Rows of each run that train the detector and are not scored.
pub const TRAIN_ROWS: usize = 400;

/// One SKAB run, read.
#[derive(Debug, Clone, PartialEq)]
pub struct SkabRun {
    /// `<group>/<n>.csv`.
    pub key: String,
    /// Sensor columns, in file order.
    pub channels: Vec<String>,
    /// Datetimes as written.
    pub stamps: Vec<String>,
    /// Parsed timestamps and one value per sensor.
    pub rows: Vec<(Timestamp, Vec<f64>)>,
    /// The `anomaly` label per row (all false when the file has no label column, as in `anomaly-free/`).
    pub labels: Vec<bool>,
}

/// Parses a `;`-separated SKAB file; any unreadable row is an error.
pub fn parse_skab(key: &str, text: &str) -> anyhow::Result<SkabRun> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> =
        lines.next().with_context(|| format!("`{key}` is empty"))?.split(';').map(str::trim).collect();
    anyhow::ensure!(header.first() == Some(&"datetime"), "`{key}`: header does not start with `datetime`");
    let anomaly = header.iter().position(|c| *c == "anomaly");
    let sensors: Vec<usize> = (1..header.len()).filter(|&i| !matches!(header[i], "anomaly" | "changepoint")).collect();
    let mut run = SkabRun {
        key: key.to_owned(),
        channels: sensors.iter().map(|&i| header[i].to_owned()).collect(),
        stamps: Vec::new(),
        rows: Vec::new(),
        labels: Vec::new(),
    };
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(';').map(str::trim).collect();
        anyhow::ensure!(
            cells.len() == header.len(),
            "`{key}` row {}: {} cells, expected {}",
            n + 2,
            cells.len(),
            header.len()
        );
        let t = parse_time(cells[0].trim()).with_context(|| format!("`{key}` row {}: bad datetime", n + 2))?;
        let values = sensors
            .iter()
            .map(|&i| {
                cells[i].parse::<f64>().with_context(|| format!("`{key}` row {}: bad number {:?}", n + 2, cells[i]))
            })
            .collect::<anyhow::Result<Vec<f64>>>()?;
        let label = match anomaly {
            Some(i) => cells[i].parse::<f64>().with_context(|| format!("`{key}` row {}: bad label", n + 2))? > 0.5,
            None => false,
        };
        run.stamps.push(cells[0].to_owned());
        run.rows.push((t, values));
        run.labels.push(label);
    }
    Ok(run)
}

/// Confusion counts of scored rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
}

impl Confusion {
    /// Adds one row's prediction against its label.
    pub fn add(&mut self, predicted: bool, label: bool) {
        match (predicted, label) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, false) => self.tn += 1,
            (false, true) => self.fn_ += 1,
        }
    }

    /// SKAB's F1: `TP / (TP + (FP + FN) / 2)`.
    pub fn f1(&self) -> f64 {
        ratio(self.tp as f64, self.tp as f64 + (self.fp + self.fn_) as f64 / 2.0)
    }

    /// False alarm rate `FP / (FP + TN)`, in percent.
    pub fn far_percent(&self) -> f64 {
        100.0 * ratio(self.fp as f64, (self.fp + self.tn) as f64)
    }

    /// Missed alarm rate `FN / (FN + TP)`, in percent.
    pub fn mar_percent(&self) -> f64 {
        100.0 * ratio(self.fn_ as f64, (self.fn_ + self.tp) as f64)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// All runs `dir/<group>/<n>.csv`, groups and runs in order.
pub fn read_runs(dir: &Path) -> anyhow::Result<Vec<SkabRun>> {
    let mut groups: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list `{}`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    let mut runs = Vec::new();
    for group in groups {
        let name = group.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for file in list_files(&group, "csv")? {
            let key =
                format!("{name}/{}", file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("failed to read `{}`", file.display()))?;
            runs.push(parse_skab(&key, &text)?);
        }
    }
    anyhow::ensure!(!runs.is_empty(), "no `<group>/<n>.csv` runs under `{}`", dir.display());
    Ok(runs)
}

/// Runs every run under `dir`, writes `out/<group>/<n>.csv` and prints F1/FAR/MAR; the last line is
/// `skab F1 X FAR Y% MAR Z%` for spikewatch.
pub fn run(dir: &Path, out: &Path, config: &ModelConfig, seed: u64, w: &mut impl Write) -> anyhow::Result<()> {
    let runs = read_runs(dir)?;
    let total: usize = runs.iter().map(|r| r.rows.len()).sum();
    let bar = super::progress(total as u64, "skab");
    let (mut model_c, mut z_c) = (Confusion::default(), Confusion::default());
    let mut alerts = 0;
    for run in &runs {
        // The model scores one frame per row (every channel reports at the row's time): monitoring starts with
        // row TRAIN_ROWS.
        let cfg = with_warmup(config, TRAIN_ROWS as u32);
        let model = run_scalar_rows(&run.key, &run.channels, &run.rows, &cfg, seed)
            .with_context(|| format!("model for `{}`", run.key))?;
        let mut z = ZScoreBaseline::new(
            run.channels.len(),
            TRAIN_ROWS as u64,
            u64::from(config.threshold_warmup_steps),
            config,
        );
        let zscore: Vec<RowOutcome> = run.rows.iter().map(|(_, v)| z.step(v)).collect();
        for i in TRAIN_ROWS..run.rows.len() {
            model_c.add(model[i].open, run.labels[i]);
            z_c.add(zscore[i].open, run.labels[i]);
        }
        alerts += model.iter().filter(|o| o.raised).count();
        write_rows(out, run, &model)?;
        bar.inc(run.rows.len() as u64);
    }
    bar.finish_and_clear();
    writeln!(
        w,
        "SKAB: {} runs, {total} rows ({} scored), spikewatch raised {alerts} alerts",
        runs.len(),
        model_c.tp + model_c.fp + model_c.tn + model_c.fn_
    )?;
    writeln!(
        w,
        "{:<18} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "detector", "F1", "FAR%", "MAR%", "TP", "FP", "TN", "FN"
    )?;
    for (name, c) in [("spikewatch", model_c), ("zscore baseline", z_c)] {
        writeln!(
            w,
            "{:<18} {:>6.2} {:>8.2} {:>8.2} {:>8} {:>8} {:>8} {:>8}",
            name,
            c.f1(),
            c.far_percent(),
            c.mar_percent(),
            c.tp,
            c.fp,
            c.tn,
            c.fn_
        )?;
    }
    writeln!(w, "skab F1 {:.2} FAR {:.2}% MAR {:.2}%", model_c.f1(), model_c.far_percent(), model_c.mar_percent())?;
    Ok(())
}

fn write_rows(out: &Path, run: &SkabRun, rows: &[RowOutcome]) -> anyhow::Result<()> {
    let path = out.join(&run.key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("failed to create `{}`", parent.display()))?;
    }
    let mut text = String::from("datetime,anomaly_score,alert_open\n");
    for (stamp, o) in run.stamps.iter().zip(rows) {
        text.push_str(&format!("{stamp},{:.6},{}\n", o.score, u8::from(o.open)));
    }
    std::fs::write(&path, text).with_context(|| format!("failed to write `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_far_and_mar_on_a_tiny_case() {
        let mut c = Confusion::default();
        // predicted, label: 3 TP, 1 FP, 4 TN, 2 FN.
        for (p, l) in [
            (true, true),
            (true, true),
            (true, true),
            (true, false),
            (false, false),
            (false, false),
            (false, false),
            (false, false),
            (false, true),
            (false, true),
        ] {
            c.add(p, l);
        }
        assert_eq!(c, Confusion { tp: 3, fp: 1, tn: 4, fn_: 2 });
        assert!((c.f1() - 3.0 / 4.5).abs() < 1e-12);
        assert!((c.far_percent() - 20.0).abs() < 1e-12);
        assert!((c.mar_percent() - 40.0).abs() < 1e-12);
        assert_eq!(Confusion::default().f1(), 0.0);
    }

    #[test]
    fn runs_with_and_without_label_columns_parse() {
        let labelled = "datetime;A;B;anomaly;changepoint\n2020-03-09 10:14:33;1.0;2.0;0.0;0.0\n2020-03-09 10:14:34;1.5;2.5;1.0;1.0\n";
        let r = parse_skab("valve1/0.csv", labelled).unwrap();
        assert_eq!(r.channels, ["A", "B"]);
        assert_eq!(r.labels, [false, true]);
        assert_eq!(r.rows[1].1, vec![1.5, 2.5]);
        let free = parse_skab("anomaly-free/a.csv", "datetime;A\n2020-02-08 13:30:47;0.2\n").unwrap();
        assert_eq!(free.labels, [false]);
        assert!(parse_skab("x", "datetime;A\n2020-02-08 13:30:47;oops\n").is_err());
    }

    #[test]
    fn a_generated_run_is_scored() {
        let dir = std::env::temp_dir().join(format!("spikewatch-skab-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("g")).unwrap();
        let mut csv = String::from("datetime;A;B;anomaly;changepoint\n");
        let start = parse_time("2020-03-09 10:00:00").unwrap();
        for i in 0..700i64 {
            let t = super::super::format_time(Timestamp(start.0 + i * 1_000_000));
            let fault = (550..650).contains(&i);
            let a = (i as f64 * 0.2).sin() + if fault { 6.0 } else { 0.0 };
            csv.push_str(&format!("{t};{a};{};{};0\n", (i as f64 * 0.05).cos(), u8::from(fault)));
        }
        std::fs::write(dir.join("g").join("0.csv"), csv).unwrap();
        let mut out = Vec::new();
        run(&dir, &dir.join("out"), &ModelConfig::default(), 7, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().last().unwrap().starts_with("skab F1 "), "{text}");
        let written = std::fs::read_to_string(dir.join("out").join("g").join("0.csv")).unwrap();
        assert_eq!(written.lines().count(), 701);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
