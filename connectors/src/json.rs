//! JSON payloads published on a channel's topic: decode into `Sample`s and encode for publishing (sans-I/O).
//!
//! Accepted forms (one payload, one asset and channel, named by the topic):
//! - scalar `{"t": <epoch ms number | RFC 3339 string>, "value": 1.5}`
//! - window `{"t": ..., "sample_rate_hz": 25600, "samples": [..]}`
//! - batch  `[ {scalar or window}, ... ]`
//!
//! Unknown extra fields (`unit`, `quality`, ...) are ignored: gateways add them freely and they
//! carry nothing the engine uses. A payload is decoded all-or-nothing: one bad item rejects the
//! whole batch, so that an acknowledged message is never half-ingested.

use crate::ingest::RejectReason;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::sync::LazyLock;
use thiserror::Error;

/// More samples than this in one window is refused as oversized: 2^20 samples is 41 s at
/// 25.6 kHz, far beyond any sensible window, and bounds the memory one message can claim.
pub const MAX_WINDOW_SAMPLES: usize = 1 << 20;

/// More items than this in one batch is refused as oversized.
pub const MAX_BATCH_ITEMS: usize = 100_000;

/// Epoch times beyond ±10^17 µs (10^14 ms, year ~5138) are surely a unit mistake (µs or ns sent as ms).
pub(crate) const MAX_ABS_EPOCH_US: u64 = 100_000_000_000_000_000;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Not JSON (or not protobuf, or a bad binary window), wrong types, missing fields, empty window, bad timestamp.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// A NaN or infinite value.
    #[error("non-finite value in `{0}`")]
    NonFinite(String),
    /// Too many samples or batch items.
    #[error("oversized payload: {0}")]
    Oversized(String),
    /// A Sparkplug B sequence number skipped: messages of the edge node were lost.
    #[error("sequence gap: {0}")]
    SequenceGap(String),
}

impl DecodeError {
    /// The rejection reason this error maps to.
    pub fn reason(&self) -> RejectReason {
        match self {
            DecodeError::Malformed(_) => RejectReason::Malformed,
            DecodeError::NonFinite(_) => RejectReason::NonFinite,
            DecodeError::Oversized(_) => RejectReason::Oversized,
            DecodeError::SequenceGap(_) => RejectReason::SequenceGap,
        }
    }
}

pub(crate) fn malformed(msg: impl Into<String>) -> DecodeError {
    DecodeError::Malformed(msg.into())
}

/// Where each JSON item keeps its fields, as RFC 6901 pointers (`/data/v`), and how its time is
/// written. The default is the built-in layout `{"t", "value"}` / `{"t", "sample_rate_hz", "samples"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLayout {
    /// Pointer to the timestamp.
    pub time_pointer: String,
    /// Pointer to a scalar value.
    pub value_pointer: String,
    /// Pointer to a window's sample rate in Hz.
    pub sample_rate_pointer: String,
    /// Pointer to a window's array of samples.
    pub samples_pointer: String,
    /// How the timestamp is written.
    pub time_format: TimeFormat,
}

impl Default for JsonLayout {
    fn default() -> Self {
        JsonLayout {
            time_pointer: "/t".into(),
            value_pointer: "/value".into(),
            sample_rate_pointer: "/sample_rate_hz".into(),
            samples_pointer: "/samples".into(),
            time_format: TimeFormat::Auto,
        }
    }
}

impl JsonLayout {
    /// Checks that every pointer is an RFC 6901 JSON pointer: empty, or starting with `/`.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("time_pointer", &self.time_pointer),
            ("value_pointer", &self.value_pointer),
            ("sample_rate_pointer", &self.sample_rate_pointer),
            ("samples_pointer", &self.samples_pointer),
        ] {
            if !p.is_empty() && !p.starts_with('/') {
                return Err(format!("`{name}` = {p:?} is not a json pointer (it must start with `/`)"));
            }
        }
        Ok(())
    }
}

/// How a timestamp is written in a JSON payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// A number is epoch milliseconds (fractional allowed), a string is RFC 3339.
    #[default]
    Auto,
    /// An RFC 3339 string only.
    Rfc3339,
    /// Epoch seconds (a number, or a string holding one).
    EpochS,
    /// Epoch milliseconds.
    EpochMs,
    /// Epoch microseconds.
    EpochUs,
}

impl TimeFormat {
    /// Microseconds per unit of an epoch format (`Auto` numbers are milliseconds).
    fn micros_per_unit(self) -> Option<f64> {
        match self {
            TimeFormat::EpochS => Some(1e6),
            TimeFormat::Auto | TimeFormat::EpochMs => Some(1e3),
            TimeFormat::EpochUs => Some(1.0),
            TimeFormat::Rfc3339 => None,
        }
    }
}

static DEFAULT_LAYOUT: LazyLock<JsonLayout> = LazyLock::new(JsonLayout::default);

/// Decode one JSON payload published on a channel's topic. Accepted forms:
///  scalar  `{"t": <epoch ms number | RFC 3339 string>, "value": 1.5}`
///  window  `{"t": ..., "sample_rate_hz": 25600, "samples": [..]}`
///  batch   `[ {scalar or window}, ... ]`
///
/// Values may be given as the strings `"NaN"`/`"Infinity"`/`"-Infinity"` by some gateways: they
/// are decoded and the payload is rejected with [`RejectReason::NonFinite`].
pub fn decode_json(asset: &AssetId, channel: &ChannelId, payload: &[u8]) -> Result<Vec<Sample>, DecodeError> {
    decode_json_with(&DEFAULT_LAYOUT, asset, channel, payload)
}

/// [`decode_json`] with the fields of each item found through `layout`'s pointers. A top-level
/// array is still a batch of items; each item must be an object.
pub fn decode_json_with(
    layout: &JsonLayout,
    asset: &AssetId,
    channel: &ChannelId,
    payload: &[u8],
) -> Result<Vec<Sample>, DecodeError> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| malformed(format!("invalid json: {e}")))?;
    let sample = |item: &Value, at: &str| -> Result<Sample, DecodeError> {
        if !item.is_object() {
            return Err(malformed(format!("{at} is not an object")));
        }
        let (t, reading) = decode_item(item, layout, at)?;
        Ok(Sample { asset: asset.clone(), channel: channel.clone(), t, reading })
    };
    match &value {
        Value::Array(items) => {
            if items.len() > MAX_BATCH_ITEMS {
                return Err(DecodeError::Oversized(format!("{} batch items, at most {MAX_BATCH_ITEMS}", items.len())));
            }
            items.iter().enumerate().map(|(i, item)| sample(item, &format!("item {i}"))).collect()
        }
        Value::Object(_) => Ok(vec![sample(&value, "payload")?]),
        _ => Err(malformed("expected an object or an array of objects")),
    }
}

/// The name a pointer's field goes by in messages: `/value` is `value`, `/data/v` is `data/v`.
fn label(pointer: &str) -> &str {
    pointer.strip_prefix('/').unwrap_or(pointer)
}

fn decode_item(item: &Value, layout: &JsonLayout, at: &str) -> Result<(Timestamp, Reading), DecodeError> {
    let (t_name, v_name) = (label(&layout.time_pointer), label(&layout.value_pointer));
    let (rate_name, s_name) = (label(&layout.sample_rate_pointer), label(&layout.samples_pointer));
    let t = item.pointer(&layout.time_pointer).ok_or_else(|| malformed(format!("{at}: missing `{t_name}`")))?;
    let t = decode_time(t, layout.time_format, t_name, at)?;
    let reading = match (item.pointer(&layout.value_pointer), item.pointer(&layout.samples_pointer)) {
        (Some(_), Some(_)) => return Err(malformed(format!("{at}: both `{v_name}` and `{s_name}` given"))),
        (None, None) => return Err(malformed(format!("{at}: missing `{v_name}` or `{s_name}`"))),
        (Some(v), None) => {
            let v = number(v, v_name, at)?;
            if !v.is_finite() {
                return Err(DecodeError::NonFinite(v_name.into()));
            }
            Reading::Scalar(v)
        }
        (None, Some(samples)) => {
            let rate = item
                .pointer(&layout.sample_rate_pointer)
                .ok_or_else(|| malformed(format!("{at}: window without `{rate_name}`")))?;
            let rate = number(rate, rate_name, at)?;
            if !rate.is_finite() {
                return Err(DecodeError::NonFinite(rate_name.into()));
            }
            if rate <= 0.0 {
                return Err(malformed(format!("{at}: `{rate_name}` must be positive, got {rate}")));
            }
            let samples = samples.as_array().ok_or_else(|| malformed(format!("{at}: `{s_name}` is not an array")))?;
            if samples.is_empty() {
                return Err(malformed(format!("{at}: empty window")));
            }
            if samples.len() > MAX_WINDOW_SAMPLES {
                return Err(DecodeError::Oversized(format!(
                    "{} samples in one window, at most {MAX_WINDOW_SAMPLES}",
                    samples.len()
                )));
            }
            let mut out = Vec::with_capacity(samples.len());
            for (i, s) in samples.iter().enumerate() {
                let v = number(s, s_name, at)? as f32;
                // Checked after narrowing: 1e300 is finite as f64 but overflows f32 to infinity.
                if !v.is_finite() {
                    return Err(DecodeError::NonFinite(format!("{s_name}[{i}]")));
                }
                out.push(v);
            }
            Reading::Window { sample_rate_hz: rate, samples: out }
        }
    };
    Ok((t, reading))
}

/// A JSON number, or one of the strings some gateways use for IEEE specials.
fn number(v: &Value, field: &str, at: &str) -> Result<f64, DecodeError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| malformed(format!("{at}: `{field}` is out of range"))),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" | "+Infinity" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(malformed(format!("{at}: `{field}` is a string, not a number"))),
        },
        _ => Err(malformed(format!("{at}: `{field}` is not a number"))),
    }
}

fn decode_time(v: &Value, format: TimeFormat, field: &str, at: &str) -> Result<Timestamp, DecodeError> {
    let out_of_range = |shown: &dyn std::fmt::Display| malformed(format!("{at}: `{field}` = {shown} is out of range"));
    let rfc3339 = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|dt| Timestamp(dt.timestamp_micros()))
            .map_err(|e| malformed(format!("{at}: `{field}` = {s:?} is not RFC 3339: {e}")))
    };
    let epoch = |micros_per_unit: f64, n: &serde_json::Number| {
        if let Some(i) = n.as_i64() {
            // Exact integer path: `micros_per_unit` is 1, 1e3 or 1e6.
            let micros = i.checked_mul(micros_per_unit as i64).filter(|m| m.unsigned_abs() <= MAX_ABS_EPOCH_US);
            return micros.map(Timestamp).ok_or_else(|| out_of_range(n));
        }
        let micros = n.as_f64().map(|f| f * micros_per_unit).filter(|m| m.is_finite() && m.abs() <= 1e17);
        // Fractional units keep microsecond precision (what encode_json writes).
        micros.map(|m| Timestamp(m.round() as i64)).ok_or_else(|| out_of_range(n))
    };
    match (format, v) {
        (TimeFormat::Auto | TimeFormat::Rfc3339, Value::String(s)) => rfc3339(s),
        (TimeFormat::Rfc3339, _) => Err(malformed(format!("{at}: `{field}` must be an RFC 3339 string"))),
        (_, Value::Number(n)) => epoch(format.micros_per_unit().unwrap_or(1e3), n),
        (TimeFormat::EpochS | TimeFormat::EpochMs | TimeFormat::EpochUs, Value::String(s)) => {
            let n: serde_json::Number =
                s.trim().parse().map_err(|_| malformed(format!("{at}: `{field}` = {s:?} is not a number")))?;
            epoch(format.micros_per_unit().unwrap_or(1e3), &n)
        }
        (TimeFormat::Auto, _) => {
            Err(malformed(format!("{at}: `{field}` must be epoch milliseconds or an RFC 3339 string")))
        }
        _ => Err(malformed(format!("{at}: `{field}` must be a number of epoch units"))),
    }
}

/// A number as `serde_json` writes it, or the gateway string for IEEE specials (JSON has no NaN).
#[derive(Serialize)]
#[serde(untagged)]
enum WireNum<T> {
    Num(T),
    Special(&'static str),
}

fn wire<T: Into<f64> + Copy>(v: T) -> WireNum<T> {
    let f: f64 = v.into();
    if f.is_nan() {
        WireNum::Special("NaN")
    } else if f == f64::INFINITY {
        WireNum::Special("Infinity")
    } else if f == f64::NEG_INFINITY {
        WireNum::Special("-Infinity")
    } else {
        WireNum::Num(v)
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum WireTime {
    Ms(i64),
    /// Sub-millisecond timestamps as fractional ms; exact while |t| < 2^42 ms (years ~1830 to
    /// ~2109), where the f64 spacing is at most 0.49 µs. Beyond, the microseconds may be 1 off
    /// (found by the property test in `tests/decode_props.rs`).
    FractionalMs(f64),
}

#[derive(Serialize)]
struct WireScalar {
    t: WireTime,
    value: WireNum<f64>,
}

#[derive(Serialize)]
struct WireWindow {
    t: WireTime,
    sample_rate_hz: WireNum<f64>,
    samples: Vec<WireNum<f32>>,
}

/// Encode one sample as the JSON [`decode_json`] accepts, with `t` in epoch milliseconds
/// (fractional when the timestamp has microseconds). Non-finite values become the strings
/// `"NaN"`/`"Infinity"`/`"-Infinity"`.
pub fn encode_json(sample: &Sample) -> Vec<u8> {
    let micros = sample.t.0;
    let t =
        if micros % 1000 == 0 { WireTime::Ms(micros / 1000) } else { WireTime::FractionalMs(micros as f64 / 1000.0) };
    let out = match &sample.reading {
        Reading::Scalar(v) => serde_json::to_vec(&WireScalar { t, value: wire(*v) }),
        Reading::Window { sample_rate_hz, samples } => serde_json::to_vec(&WireWindow {
            t,
            sample_rate_hz: wire(*sample_rate_hz),
            samples: samples.iter().map(|s| wire(*s)).collect(),
        }),
    };
    // Serialising plain structs of numbers and static strings into a Vec cannot fail.
    out.expect("serialising a sample to json cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(payload: &str) -> Result<Vec<Sample>, DecodeError> {
        decode_json(&AssetId::from("pump-1"), &ChannelId::from("vib"), payload.as_bytes())
    }

    fn reason(payload: &str) -> RejectReason {
        decode(payload).unwrap_err().reason()
    }

    #[test]
    fn scalar_with_epoch_ms() {
        let s = decode(r#"{"t": 1700000000123, "value": 1.5, "unit": "A"}"#).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].asset.as_str(), "pump-1");
        assert_eq!(s[0].channel.as_str(), "vib");
        assert_eq!(s[0].t, Timestamp::from_millis(1_700_000_000_123));
        assert_eq!(s[0].reading, Reading::Scalar(1.5));
        // Fractional ms keep microseconds; integers are accepted as values.
        let s = decode(r#"{"t": 1700000000123.25, "value": 2}"#).unwrap();
        assert_eq!(s[0].t, Timestamp(1_700_000_000_123_250));
        assert_eq!(s[0].reading, Reading::Scalar(2.0));
    }

    #[test]
    fn scalar_with_rfc3339() {
        let s = decode(r#"{"t": "2023-11-14T22:13:20.5+01:00", "value": -3.25}"#).unwrap();
        // 2023-11-14T21:13:20.5Z
        assert_eq!(s[0].t, Timestamp(1_699_996_400_500_000));
        let z = decode(r#"{"t": "1970-01-01T00:00:01Z", "value": 0}"#).unwrap();
        assert_eq!(z[0].t, Timestamp(1_000_000));
        assert_eq!(reason(r#"{"t": "yesterday", "value": 0}"#), RejectReason::Malformed);
        assert_eq!(reason(r#"{"t": "2023-11-14 22:13:20", "value": 0}"#), RejectReason::Malformed);
    }

    #[test]
    fn window_and_batch() {
        let s = decode(r#"{"t": 1000, "sample_rate_hz": 25600, "samples": [0.5, -1, 2.25]}"#).unwrap();
        assert_eq!(s[0].reading, Reading::Window { sample_rate_hz: 25600.0, samples: vec![0.5, -1.0, 2.25] });
        let b =
            decode(r#"[{"t": 1000, "value": 1}, {"t": "1970-01-01T00:00:02Z", "sample_rate_hz": 10, "samples": [1]}]"#)
                .unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].t, Timestamp::from_millis(1000));
        assert_eq!(b[1].t, Timestamp::from_millis(2000));
        assert!(matches!(b[1].reading, Reading::Window { .. }));
        assert!(decode("[]").unwrap().is_empty());
    }

    #[test]
    fn malformed_wrong_types_and_missing_fields() {
        for bad in [
            "",
            "not json",
            "{\"t\": 1, \"value\": 1",
            "42",
            "\"text\"",
            "[1, 2]",
            r#"{"value": 1}"#,
            r#"{"t": 1}"#,
            r#"{"t": 1, "value": "1.5"}"#,
            r#"{"t": 1, "value": null}"#,
            r#"{"t": 1, "value": [1]}"#,
            r#"{"t": true, "value": 1}"#,
            r#"{"t": 1e300, "value": 1}"#,
            r#"{"t": 1, "value": 1, "samples": [1], "sample_rate_hz": 1}"#,
            r#"{"t": 1, "samples": [1]}"#,
            r#"{"t": 1, "samples": [1], "sample_rate_hz": 0}"#,
            r#"{"t": 1, "samples": [1], "sample_rate_hz": "fast"}"#,
            r#"{"t": 1, "samples": "1,2", "sample_rate_hz": 10}"#,
            r#"{"t": 1, "samples": [1, "x"], "sample_rate_hz": 10}"#,
            r#"[{"t": 1, "value": 1}, {"t": 2}]"#,
        ] {
            assert_eq!(reason(bad), RejectReason::Malformed, "{bad}");
        }
        let msg = decode(r#"[{"t": 1, "value": 1}, {"t": 2}]"#).unwrap_err().to_string();
        assert!(msg.contains("item 1") && msg.contains("missing `value` or `samples`"), "{msg}");
    }

    #[test]
    fn empty_window_is_malformed() {
        let e = decode(r#"{"t": 1, "sample_rate_hz": 25600, "samples": []}"#).unwrap_err();
        assert_eq!(e.reason(), RejectReason::Malformed);
        assert!(e.to_string().contains("empty window"));
    }

    #[test]
    fn nan_and_infinity_strings_are_non_finite() {
        for bad in [
            r#"{"t": 1, "value": "NaN"}"#,
            r#"{"t": 1, "value": "Infinity"}"#,
            r#"{"t": 1, "value": "-Infinity"}"#,
            r#"{"t": 1, "sample_rate_hz": 10, "samples": [1, "NaN", 2]}"#,
            r#"{"t": 1, "sample_rate_hz": "Infinity", "samples": [1]}"#,
            r#"{"t": 1, "sample_rate_hz": 10, "samples": [1e300]}"#,
            r#"[{"t": 1, "value": 1}, {"t": 2, "value": "NaN"}]"#,
        ] {
            assert_eq!(reason(bad), RejectReason::NonFinite, "{bad}");
        }
        assert_eq!(
            decode(r#"{"t": 1, "sample_rate_hz": 10, "samples": [1, "NaN"]}"#).unwrap_err().to_string(),
            "non-finite value in `samples[1]`"
        );
    }

    #[test]
    fn oversized_window_is_refused() {
        let mut p = String::from(r#"{"t": 1, "sample_rate_hz": 10, "samples": ["#);
        p.push_str(&vec!["0"; MAX_WINDOW_SAMPLES + 1].join(","));
        p.push_str("]}");
        assert_eq!(reason(&p), RejectReason::Oversized);
    }

    fn layout(time: &str, value: &str, format: TimeFormat) -> JsonLayout {
        JsonLayout {
            time_pointer: time.into(),
            value_pointer: value.into(),
            time_format: format,
            sample_rate_pointer: "/meta/fs".into(),
            samples_pointer: "/data/raw".into(),
        }
    }

    fn decode_with(l: &JsonLayout, payload: &str) -> Result<Vec<Sample>, DecodeError> {
        decode_json_with(l, &AssetId::from("pump-1"), &ChannelId::from("vib"), payload.as_bytes())
    }

    #[test]
    fn mapped_layouts_follow_json_pointers() {
        let l = layout("/ts", "/data/v", TimeFormat::EpochS);
        let s = decode_with(&l, r#"{"ts": 1700000000, "data": {"v": 1.5}}"#).unwrap();
        assert_eq!((s[0].t, &s[0].reading), (Timestamp(1_700_000_000_000_000), &Reading::Scalar(1.5)));
        let s = decode_with(&l, r#"{"ts": 1700000000.25, "meta": {"fs": 10}, "data": {"raw": [1, 2]}}"#).unwrap();
        assert_eq!(s[0].t, Timestamp(1_700_000_000_250_000));
        assert_eq!(s[0].reading, Reading::Window { sample_rate_hz: 10.0, samples: vec![1.0, 2.0] });
        // Batches, array indices and escaped keys (`~1` is `/`) in pointers.
        let l = layout("/time", "/vals/0/m~1s", TimeFormat::EpochUs);
        let s = decode_with(&l, r#"[{"time": 5, "vals": [{"m/s": 2}]}, {"time": "6", "vals": [{"m/s": 3}]}]"#).unwrap();
        assert_eq!((s[0].t, s[1].t), (Timestamp(5), Timestamp(6)));
        assert_eq!(s[1].reading, Reading::Scalar(3.0));
        // Errors name the mapped field.
        let e = decode_with(&layout("/ts", "/data/v", TimeFormat::EpochMs), r#"{"ts": 1}"#).unwrap_err();
        assert_eq!(e.to_string(), "malformed payload: payload: missing `data/v` or `data/raw`");
        let e = decode_with(&layout("/ts", "/data/v", TimeFormat::EpochMs), r#"{"ts": 1, "data": {"v": "NaN"}}"#);
        assert_eq!(e.unwrap_err(), DecodeError::NonFinite("data/v".into()));
    }

    #[test]
    fn time_formats() {
        let t = |format, json: &str| {
            decode_with(&layout("/t", "/v", format), &format!(r#"{{"t": {json}, "v": 0}}"#)).map(|s| s[0].t)
        };
        assert_eq!(t(TimeFormat::EpochS, "2"), Ok(Timestamp(2_000_000)));
        assert_eq!(t(TimeFormat::EpochS, "-1.5"), Ok(Timestamp(-1_500_000)));
        assert_eq!(t(TimeFormat::EpochMs, "\"1700000000123\""), Ok(Timestamp(1_700_000_000_123_000)));
        assert_eq!(t(TimeFormat::EpochUs, "1700000000123456"), Ok(Timestamp(1_700_000_000_123_456)));
        assert_eq!(t(TimeFormat::Rfc3339, "\"1970-01-01T00:00:01Z\""), Ok(Timestamp(1_000_000)));
        assert_eq!(t(TimeFormat::Auto, "1500"), Ok(Timestamp(1_500_000)));
        assert_eq!(t(TimeFormat::Auto, "\"1970-01-01T00:00:01Z\""), Ok(Timestamp(1_000_000)));
        for (format, bad) in [
            (TimeFormat::Rfc3339, "1000"),
            (TimeFormat::EpochS, "\"1970-01-01T00:00:01Z\""),
            (TimeFormat::EpochS, "100000000000000"),
            (TimeFormat::EpochS, "9223372036854775807"),
            (TimeFormat::EpochMs, "true"),
            (TimeFormat::EpochUs, "1e300"),
            (TimeFormat::Auto, "null"),
        ] {
            assert_eq!(t(format, bad).unwrap_err().reason(), RejectReason::Malformed, "{format:?} {bad}");
        }
    }

    #[test]
    fn layout_pointers_are_validated() {
        assert_eq!(JsonLayout::default().validate(), Ok(()));
        assert!(layout("ts", "/v", TimeFormat::Auto).validate().unwrap_err().contains("`time_pointer`"));
        assert_eq!(layout("", "/v", TimeFormat::Auto).validate(), Ok(()));
    }

    #[test]
    fn encode_decode_round_trip() {
        let asset = AssetId::from("pump-2");
        let channel = ChannelId::from("vibration");
        let samples = [
            Sample {
                asset: asset.clone(),
                channel: channel.clone(),
                t: Timestamp::from_millis(1_700_000_000_000),
                reading: Reading::Scalar(std::f64::consts::PI),
            },
            Sample {
                asset: asset.clone(),
                channel: channel.clone(),
                t: Timestamp(1_700_000_000_123_457),
                reading: Reading::Scalar(-1e-12),
            },
            // Needs serde_json's `float_roundtrip`: the default parser lands 1 ulp off here.
            Sample {
                asset: asset.clone(),
                channel: channel.clone(),
                t: Timestamp(0),
                reading: Reading::Scalar(52.663817817918876),
            },
            Sample {
                asset: asset.clone(),
                channel: channel.clone(),
                t: Timestamp(-5_000),
                reading: Reading::Window {
                    sample_rate_hz: 25_600.0,
                    samples: vec![0.1, -3.4e38, 1.17e-38, 0.0, 123.456],
                },
            },
        ];
        for s in &samples {
            let bytes = encode_json(s);
            let back = decode_json(&asset, &channel, &bytes).unwrap();
            assert_eq!(back, vec![s.clone()], "{}", String::from_utf8_lossy(&bytes));
        }
        let text = String::from_utf8(encode_json(&samples[0])).unwrap();
        assert_eq!(text, r#"{"t":1700000000000,"value":3.141592653589793}"#);
        // Non-finite values survive encoding as gateway strings and are refused on decode.
        let nan = Sample { reading: Reading::Scalar(f64::NAN), ..samples[0].clone() };
        let bytes = encode_json(&nan);
        assert_eq!(String::from_utf8_lossy(&bytes), r#"{"t":1700000000000,"value":"NaN"}"#);
        assert_eq!(decode_json(&asset, &channel, &bytes).unwrap_err().reason(), RejectReason::NonFinite);
    }
}
