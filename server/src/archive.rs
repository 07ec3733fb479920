//! The Parquet archive of raw readings: the windows around each alert, in the layout of the benchmark data
//! (`asset`, `channel`, `start`, `sample_rate_hz`, `samples`, `label`), so pandas, polars and DuckDB read the
//! files as they are.
//!
//! Files live under `<root>/asset=<asset>/date=<YYYY-MM-DD>/` (Hive-style partitions) and are written to a
//! `.tmp` name first, then renamed, so a reader never sees half a file.

use arrow_array::builder::{Float32Builder, ListBuilder};
use arrow_array::{Array, Float64Array, ListArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to write `{path}`")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("failed to encode or decode Parquet file `{path}`")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("failed to build Arrow batch")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("`{path}` does not follow the window schema: {why}")]
    Schema { path: PathBuf, why: String },
}

/// The Arrow schema of every window file. A scalar reading is stored as a one-sample list with a null
/// `sample_rate_hz`.
pub fn window_schema() -> Schema {
    Schema::new(vec![
        Field::new("asset", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("start", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("sample_rate_hz", DataType::Float64, true),
        Field::new("samples", DataType::List(Arc::new(Field::new("item", DataType::Float32, true))), false),
        Field::new("label", DataType::Utf8, false),
    ])
}

/// Writes `samples` as one window file for `asset` at time `t` and returns its path relative to `root`.
pub fn write_window(
    root: &Path,
    asset: &AssetId,
    t: Timestamp,
    label: &str,
    samples: &[Sample],
) -> Result<PathBuf, ArchiveError> {
    let date = chrono::DateTime::from_timestamp_micros(t.0).unwrap_or_default().format("%Y-%m-%d");
    let safe_asset = file_safe(asset.as_str());
    let relative = PathBuf::from(format!("asset={safe_asset}/date={date}/{safe_asset}-{}.parquet", t.0));
    let path = root.join(&relative);
    let dir = path.parent().expect("window path has a parent");
    std::fs::create_dir_all(dir).map_err(|source| ArchiveError::Io { path: dir.to_owned(), source })?;

    let batch = to_batch(samples, label)?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|source| ArchiveError::Io { path: tmp.clone(), source })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("level 3 is valid")))
        .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
            "source".to_owned(),
            format!("spikewatch {} alert window", env!("CARGO_PKG_VERSION")),
        )]))
        .build();
    let parquet_err = |source| ArchiveError::Parquet { path: tmp.clone(), source };
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(parquet_err)?;
    writer.write(&batch).map_err(parquet_err)?;
    let file = writer.into_inner().map_err(parquet_err)?;
    file.sync_all().map_err(|source| ArchiveError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, &path).map_err(|source| ArchiveError::Io { path: path.clone(), source })?;
    Ok(relative)
}

fn to_batch(samples: &[Sample], label: &str) -> Result<RecordBatch, ArchiveError> {
    let mut values = ListBuilder::new(Float32Builder::new());
    let mut rates = Vec::with_capacity(samples.len());
    for s in samples {
        match &s.reading {
            Reading::Scalar(v) => {
                values.values().append_value(*v as f32);
                rates.push(None);
            }
            Reading::Window { sample_rate_hz, samples } => {
                values.values().append_slice(samples);
                rates.push(Some(*sample_rate_hz));
            }
        }
        values.append(true);
    }
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from_iter_values(samples.iter().map(|s| s.asset.as_str()))),
        Arc::new(StringArray::from_iter_values(samples.iter().map(|s| s.channel.as_str()))),
        Arc::new(TimestampMicrosecondArray::from_iter_values(samples.iter().map(|s| s.t.0)).with_timezone("UTC")),
        Arc::new(Float64Array::from(rates)),
        Arc::new(values.finish()),
        Arc::new(StringArray::from_iter_values(samples.iter().map(|_| label))),
    ];
    Ok(RecordBatch::try_new(Arc::new(window_schema()), columns)?)
}

/// Reads a window file (ours, or the benchmark data's) back into samples, in file order.
pub fn read_windows(path: &Path) -> Result<Vec<Sample>, ArchiveError> {
    let file = File::open(path).map_err(|source| ArchiveError::Io { path: path.to_owned(), source })?;
    let parquet_err = |source| ArchiveError::Parquet { path: path.to_owned(), source };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?.build().map_err(parquet_err)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ArchiveError::Parquet { path: path.to_owned(), source: e.into() })?;
        let schema_err = |why: &str| ArchiveError::Schema { path: path.to_owned(), why: why.to_owned() };
        let column = |name: &str| batch.column_by_name(name).ok_or_else(|| schema_err(&format!("no `{name}` column")));
        let asset = column("asset")?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| schema_err("`asset` is not a string"))?;
        let channel = column("channel")?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| schema_err("`channel` is not a string"))?;
        let start = column("start")?
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| schema_err("`start` is not timestamp[us]"))?;
        let rate = column("sample_rate_hz")?
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| schema_err("`sample_rate_hz` is not float64"))?;
        let lists = column("samples")?
            .as_any()
            .downcast_ref::<ListArray>()
            .ok_or_else(|| schema_err("`samples` is not a list"))?;
        for row in 0..batch.num_rows() {
            let list = lists.value(row);
            let values = list
                .as_any()
                .downcast_ref::<arrow_array::Float32Array>()
                .ok_or_else(|| schema_err("`samples` items are not float32"))?;
            let reading = if rate.is_null(row) {
                Reading::Scalar(f64::from(values.value(0)))
            } else {
                Reading::Window { sample_rate_hz: rate.value(row), samples: values.values().to_vec() }
            };
            out.push(Sample {
                asset: AssetId::from(asset.value(row)),
                channel: ChannelId::from(channel.value(row)),
                t: Timestamp(start.value(row)),
                reading,
            });
        }
    }
    Ok(out)
}

/// Keeps letters, digits, `.`, `_` and `-`; anything else becomes `_`, so an asset id is always a safe folder name.
fn file_safe(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(channel: &str, t: i64, reading: Reading) -> Sample {
        Sample { asset: AssetId::from("pump 1"), channel: ChannelId::from(channel), t: Timestamp(t), reading }
    }

    #[test]
    fn a_window_file_reads_back_exactly_and_no_temporary_is_left() {
        let root = std::env::temp_dir().join(format!("spikewatch-archive-{}", std::process::id()));
        let samples = vec![
            sample(
                "vibration",
                1_700_000_000_000_000,
                Reading::Window { sample_rate_hz: 25_600.0, samples: vec![0.5, -1.25, 3.0] },
            ),
            sample("temperature", 1_700_000_000_500_000, Reading::Scalar(41.5)),
        ];
        let relative =
            write_window(&root, &AssetId::from("pump 1"), Timestamp(1_700_000_000_000_000), "alert", &samples).unwrap();
        assert_eq!(relative, PathBuf::from("asset=pump_1/date=2023-11-14/pump_1-1700000000000000.parquet"));
        assert_eq!(read_windows(&root.join(&relative)).unwrap(), samples);
        let leftovers: Vec<_> = std::fs::read_dir(root.join(relative.parent().unwrap()))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_benchmark_window_files_read_when_present() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cwru/normal_0_97.parquet");
        if !path.exists() {
            eprintln!("skipped: {} not present", path.display());
            return;
        }
        let windows = read_windows(&path).unwrap();
        assert!(!windows.is_empty());
        assert!(
            matches!(&windows[0].reading, Reading::Window { sample_rate_hz, samples } if *sample_rate_hz == 48_000.0 && !samples.is_empty())
        );
    }

    #[test]
    fn a_file_of_another_shape_is_a_schema_error() {
        let root = std::env::temp_dir().join(format!("spikewatch-archive-bad-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let path = root.join("other.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Float64Array::from(vec![1.0]))]).unwrap();
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let err = read_windows(&path).unwrap_err();
        assert!(err.to_string().contains("no `asset` column"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
