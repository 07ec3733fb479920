//! Float and Double array metrics as vibration windows: the packed little-endian values of Sparkplug B 3.0 `FloatArray` / `DoubleArray`, with the sample rate in a metric property (sans-I/O).
//!
//! Sparkplug B 3.0 carries an array metric in `bytes_value`, its elements packed little-endian
//! (4 bytes per `FloatArray` element, 8 per `DoubleArray`). An array alone has no time axis, so
//! a window also needs its sample rate: the number property [`SAMPLE_RATE_PROPERTY`] of the
//! metric, in the DATA message or, when absent there, in the metric's birth certificate. The
//! window starts at the metric's timestamp.

use super::proto::{Metric, MetricValue, PropertySet, PropertyValue, PropertyValueKind, datatype};
use crate::json::{DecodeError, MAX_WINDOW_SAMPLES, malformed};
use snn_engine::Reading;

/// The metric property that holds an array metric's sample rate in Hz.
pub const SAMPLE_RATE_PROPERTY: &str = "sample_rate_hz";

/// Whether `datatype` is an array this decoder reads as a window.
pub(crate) fn is_window_array(datatype: u32) -> bool {
    matches!(datatype, datatype::FLOAT_ARRAY | datatype::DOUBLE_ARRAY)
}

/// The [`SAMPLE_RATE_PROPERTY`] of a metric as written (not yet checked for range), `None`
/// when the metric has no such property or it is not a number.
pub(crate) fn declared_sample_rate(m: &Metric) -> Option<f64> {
    let props = m.properties.as_ref()?;
    let i = props.keys.iter().position(|k| k == SAMPLE_RATE_PROPERTY)?;
    let value = props.values.get(i)?;
    if value.is_null == Some(true) {
        return None;
    }
    match value.value {
        Some(PropertyValueKind::DoubleValue(v)) => Some(v),
        Some(PropertyValueKind::FloatValue(v)) => Some(f64::from(v)),
        Some(PropertyValueKind::IntValue(v)) => Some(f64::from(v)),
        Some(PropertyValueKind::LongValue(v)) => Some(v as f64),
        _ => None,
    }
}

/// The window of an array metric named `name`: its packed values and the sample rate of the
/// metric itself, else `birth_rate`. Refuses an array without a usable rate, with a byte count
/// that is not a whole number of elements, empty, longer than [`MAX_WINDOW_SAMPLES`], or
/// holding a NaN or infinite value (a double beyond the f32 range included).
pub(crate) fn window(m: &Metric, datatype: u32, name: &str, birth_rate: Option<f64>) -> Result<Reading, DecodeError> {
    let Some(MetricValue::BytesValue(bytes)) = &m.value else {
        return Err(malformed(format!("array metric `{name}` does not carry its values as bytes")));
    };
    let rate = declared_sample_rate(m).or(birth_rate).ok_or_else(|| {
        malformed(format!(
            "array metric `{name}` has no numeric `{SAMPLE_RATE_PROPERTY}` property (in its data or birth metric), \
             so it cannot be read as a window"
        ))
    })?;
    if !rate.is_finite() {
        return Err(DecodeError::NonFinite(format!("{name}.{SAMPLE_RATE_PROPERTY}")));
    }
    if rate <= 0.0 {
        return Err(malformed(format!(
            "array metric `{name}` has `{SAMPLE_RATE_PROPERTY}` = {rate}, it must be positive"
        )));
    }
    let width = if datatype == datatype::FLOAT_ARRAY { 4 } else { 8 };
    if bytes.len() % width != 0 {
        return Err(malformed(format!(
            "array metric `{name}` has {} bytes, not a whole number of {width}-byte elements",
            bytes.len()
        )));
    }
    let n = bytes.len() / width;
    if n == 0 {
        return Err(malformed(format!("array metric `{name}` is an empty window")));
    }
    if n > MAX_WINDOW_SAMPLES {
        return Err(DecodeError::Oversized(format!(
            "array metric `{name}` holds {n} samples, at most {MAX_WINDOW_SAMPLES}"
        )));
    }
    let samples: Vec<f32> = if width == 4 {
        bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("chunk of 4"))).collect()
    } else {
        bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")) as f32).collect()
    };
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(DecodeError::NonFinite(format!("{name}[{i}]")));
    }
    Ok(Reading::Window { sample_rate_hz: rate, samples })
}

/// The `bytes_value` of a `FloatArray`: the values packed little-endian.
pub fn float_array_bytes(samples: &[f32]) -> Vec<u8> {
    samples.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The `bytes_value` of a `DoubleArray`: the values packed little-endian.
pub fn double_array_bytes(samples: &[f64]) -> Vec<u8> {
    samples.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A property set holding only [`SAMPLE_RATE_PROPERTY`] = `sample_rate_hz` (a Double).
pub fn sample_rate_properties(sample_rate_hz: f64) -> PropertySet {
    PropertySet {
        keys: vec![SAMPLE_RATE_PROPERTY.to_owned()],
        values: vec![PropertyValue {
            r#type: Some(datatype::DOUBLE),
            is_null: None,
            value: Some(PropertyValueKind::DoubleValue(sample_rate_hz)),
        }],
    }
}
