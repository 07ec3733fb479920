//! Recorded data into `Sample`s: NAB and SKAB CSV files (sans-I/O parsers over `&str`, and a file opener).

use chrono::NaiveDateTime;
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tracing::debug;

/// Why a recording could not be read at all (bad rows are counted, not errors).
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The file could not be read.
    #[error("failed to read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The header names neither layout.
    #[error(
        "unrecognised csv header in `{source_name}`: {header:?} (expected NAB `timestamp,value` or SKAB `datetime;...`)"
    )]
    UnknownLayout { source_name: String, header: String },
    /// The file has no header line.
    #[error("`{0}` is empty")]
    Empty(String),
}

/// A recording decoded into samples, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// One `Scalar` sample per value cell.
    pub samples: Vec<Sample>,
    /// The channels found, in column order.
    pub channels: Vec<ChannelId>,
    /// Rows that failed to parse (bad timestamp, bad number, wrong cell count); they are skipped.
    pub bad_rows: usize,
}

/// Which recorded layout a header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLayout {
    /// Numenta Anomaly Benchmark: `timestamp,value`, one channel named `value`.
    Nab,
    /// Skoltech Anomaly Benchmark: `datetime;<sensor>;...[;anomaly;changepoint]`.
    Skab,
}

/// SKAB's label columns: ground truth for scoring, not sensor data.
const SKAB_LABELS: [&str; 2] = ["anomaly", "changepoint"];

/// NAB: `timestamp,value` header, timestamps "YYYY-MM-DD HH:MM:SS" (UTC) -> channel "value".
/// SKAB: `;`-separated with header `datetime;Accelerometer1RMS;...;anomaly;changepoint`, datetime
/// "YYYY-MM-DD HH:MM:SS" -> one Scalar Sample per sensor column (channel = column name), ignoring
/// the label columns `anomaly` and `changepoint`. The layout is detected from the header. Rows that
/// fail to parse are counted in [`Replay::bad_rows`], never a panic.
pub fn read_csv(path: &Path, asset: &AssetId) -> Result<Replay, ReplayError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io { path: path.to_owned(), source })?;
    parse_csv(&text, asset, &path.display().to_string())
}

/// Parses CSV text in either layout; `source_name` only appears in errors.
pub fn parse_csv(text: &str, asset: &AssetId, source_name: &str) -> Result<Replay, ReplayError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| ReplayError::Empty(source_name.to_owned()))?;
    let (layout, sep) = detect_layout(header)
        .ok_or_else(|| ReplayError::UnknownLayout { source_name: source_name.to_owned(), header: header.to_owned() })?;
    let columns: Vec<&str> = header.split(sep).map(|c| c.trim().trim_matches('"')).collect();
    // (column index, channel) of every sensor column.
    let sensors: Vec<(usize, ChannelId)> = match layout {
        CsvLayout::Nab => vec![(1, ChannelId::from("value"))],
        CsvLayout::Skab => columns
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, c)| !SKAB_LABELS.contains(c))
            .map(|(i, c)| (i, ChannelId::from(*c)))
            .collect(),
    };
    let mut replay =
        Replay { samples: Vec::new(), channels: sensors.iter().map(|(_, c)| c.clone()).collect(), bad_rows: 0 };
    let mut row = Vec::with_capacity(sensors.len());
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(sep).map(|c| c.trim().trim_matches('"')).collect();
        match parse_row(&cells, columns.len(), &sensors, &mut row) {
            Ok(t) => replay.samples.extend(row.drain(..).map(|(channel, v)| Sample {
                asset: asset.clone(),
                channel,
                t,
                reading: Reading::Scalar(v),
            })),
            Err(why) => {
                // Data rows start at line 2 (line 1 is the header); blank lines are not counted.
                debug!(source = source_name, row = n + 2, why, "skipping bad csv row");
                replay.bad_rows += 1;
            }
        }
    }
    Ok(replay)
}

/// Which layout `header` names, and its separator.
pub fn detect_layout(header: &str) -> Option<(CsvLayout, char)> {
    let header = header.strip_prefix('\u{feff}').unwrap_or(header).trim();
    let first = |sep: char| header.split(sep).next().map(|c| c.trim().trim_matches('"').to_ascii_lowercase());
    if first(';').as_deref() == Some("datetime") && header.contains(';') {
        return Some((CsvLayout::Skab, ';'));
    }
    let cols: Vec<String> = header.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
    if cols == ["timestamp", "value"] {
        return Some((CsvLayout::Nab, ','));
    }
    None
}

fn parse_row(
    cells: &[&str],
    width: usize,
    sensors: &[(usize, ChannelId)],
    out: &mut Vec<(ChannelId, f64)>,
) -> Result<Timestamp, &'static str> {
    out.clear();
    if cells.len() != width {
        return Err("wrong number of cells");
    }
    let t = parse_time(cells[0]).ok_or("bad timestamp")?;
    for (i, channel) in sensors {
        let v: f64 = cells[*i].parse().map_err(|_| "bad number")?;
        // Rust parses "nan" and "inf"; a recording with them has a broken row.
        if !v.is_finite() {
            return Err("non-finite number");
        }
        out.push((channel.clone(), v));
    }
    Ok(t)
}

/// "YYYY-MM-DD HH:MM:SS" (optionally with `T` and fractional seconds), read as UTC.
fn parse_time(s: &str) -> Option<Timestamp> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|dt| Timestamp(dt.and_utc().timestamp_micros()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAB: &str = "timestamp,value\n\
        2013-12-02 21:15:00,73.96732207\n\
        2013-12-02 21:20:00,74.935882\n\
        not a time,1.0\n\
        2013-12-02 21:30:00,abc\n\
        \n\
        2013-12-02 21:35:00,75.5\n";

    const SKAB: &str = "datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Volume Flow RateRMS;anomaly;changepoint\n\
        2020-03-09 10:14:33;0.027;0.040;0.77;32.0;0.0;0.0\n\
        2020-03-09 10:14:34;0.028;0.039;0.80;32.5;1.0;1.0\n\
        2020-03-09 10:14:35;0.028;0.039\n\
        2020-03-09 10:14:36;0.029;nan;0.81;32.1;0.0;0.0\n";

    fn asset() -> AssetId {
        AssetId::from("m1")
    }

    #[test]
    fn nab_rows_become_value_samples_and_bad_rows_are_counted() {
        let r = parse_csv(NAB, &asset(), "nab.csv").unwrap();
        assert_eq!(r.channels, vec![ChannelId::from("value")]);
        assert_eq!(r.bad_rows, 2);
        assert_eq!(r.samples.len(), 3);
        // 2013-12-02T21:15:00Z
        assert_eq!(r.samples[0].t, Timestamp::from_millis(1_386_018_900_000));
        assert_eq!(r.samples[0].reading, Reading::Scalar(73.96732207));
        assert_eq!(r.samples[2].t.seconds_since(r.samples[0].t), 20.0 * 60.0);
        assert!(r.samples.iter().all(|s| s.asset == asset() && s.channel.as_str() == "value"));
    }

    #[test]
    fn skab_rows_become_one_sample_per_sensor_without_labels() {
        let r = parse_csv(SKAB, &asset(), "skab.csv").unwrap();
        let names: Vec<&str> = r.channels.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["Accelerometer1RMS", "Accelerometer2RMS", "Current", "Volume Flow RateRMS"]);
        assert_eq!(r.bad_rows, 2, "short row and nan row");
        assert_eq!(r.samples.len(), 8);
        assert_eq!(r.samples[2].channel.as_str(), "Current");
        assert_eq!(r.samples[2].reading, Reading::Scalar(0.77));
        assert_eq!(r.samples[4].t.seconds_since(r.samples[0].t), 1.0);
        assert!(r.samples.iter().all(|s| !SKAB_LABELS.contains(&s.channel.as_str())));
    }

    #[test]
    fn skab_without_label_columns_and_layout_detection() {
        let r = parse_csv("datetime;Current\n2020-02-08 13:30:47;2.16\n", &asset(), "x").unwrap();
        assert_eq!(r.channels, vec![ChannelId::from("Current")]);
        assert_eq!(r.samples.len(), 1);
        assert_eq!(detect_layout("\u{feff}timestamp,value"), Some((CsvLayout::Nab, ',')));
        assert_eq!(detect_layout("time,value"), None);
        assert!(matches!(parse_csv("a;b\n1;2\n", &asset(), "x"), Err(ReplayError::UnknownLayout { .. })));
        assert!(matches!(parse_csv("\n\n", &asset(), "x"), Err(ReplayError::Empty(_))));
        let missing = read_csv(Path::new("/nonexistent/spikewatch.csv"), &asset()).unwrap_err();
        assert!(missing.to_string().starts_with("failed to read `/nonexistent/spikewatch.csv`"));
    }

    #[test]
    fn smoke_real_nab_and_skab_files_when_present() {
        let nab = Path::new("/work/shared/data/nab/data/realKnownCause/machine_temperature_system_failure.csv");
        if nab.exists() {
            let r = read_csv(nab, &asset()).unwrap();
            assert!(r.samples.len() > 20_000, "{} samples", r.samples.len());
            assert_eq!(r.bad_rows, 0);
            // The file repeats one hour (rows 10139-10150 re-run 02:00-02:55): kept in file order,
            // the server rejects the repeat as `timestamp_backwards`.
            let backwards = r.samples.windows(2).filter(|w| w[1].t <= w[0].t).count();
            assert!(backwards <= 1, "{backwards} backward steps");
        } else {
            println!("skipped: {} not found", nab.display());
        }
        let skab = Path::new("/work/shared/data/skab/anomaly-free/anomaly-free.csv");
        if skab.exists() {
            let r = read_csv(skab, &asset()).unwrap();
            assert_eq!(r.channels.len(), 8);
            assert_eq!(r.bad_rows, 0);
            assert_eq!(r.samples.len() % 8, 0);
        } else {
            println!("skipped: {} not found", skab.display());
        }
    }
}
