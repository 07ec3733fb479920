//! Sans-I/O conversion of OPC-UA data-change notifications (`DataValue`, `Variant`) into `Ingest` items.

use crate::ingest::{Ingest, RejectReason, Rejection};
use crate::json::MAX_WINDOW_SAMPLES;
use ::opcua::types::{DataValue, DateTime, NodeId, Variant};
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};

/// Where one monitored item's values go.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRoute {
    /// The monitored variable.
    pub node_id: NodeId,
    /// The node id as configured, used as the rejection source.
    pub source: String,
    /// The asset of its samples.
    pub asset: AssetId,
    /// The channel of its samples.
    pub channel: ChannelId,
    /// Sample rate for array values; arrays without it are rejected.
    pub sample_rate_hz: Option<f64>,
}

/// Turns one data-change notification into a sample or a rejection. The sample time is the
/// source timestamp (when the device measured it), else the server timestamp; a value with
/// neither, or with a bad status, is rejected as `Malformed`.
pub fn data_value_to_ingest(route: &ItemRoute, value: &DataValue) -> Ingest {
    let reject = |reason, detail: String| Ingest::Rejected(Rejection::new(reason, route.source.as_str(), detail));
    if let Some(status) = value.status
        && status.is_bad()
    {
        return reject(RejectReason::Malformed, format!("value has bad status {status}"));
    }
    let Some(t) = value.source_timestamp.as_ref().or(value.server_timestamp.as_ref()).map(to_timestamp) else {
        return reject(RejectReason::Malformed, "value has neither a source nor a server timestamp".into());
    };
    let Some(variant) = &value.value else {
        return reject(RejectReason::Malformed, "data change without a value".into());
    };
    match variant_to_reading(variant, route.sample_rate_hz) {
        Ok(reading) => {
            Ingest::Sample(Sample { asset: route.asset.clone(), channel: route.channel.clone(), t, reading })
        }
        Err((reason, detail)) => reject(reason, detail),
    }
}

/// Numeric scalars become `Reading::Scalar`; Float and Double arrays become `Reading::Window`
/// at `sample_rate_hz` (required for arrays). Strings, booleans and other types are `Malformed`;
/// NaN or infinite numbers are `NonFinite`.
pub fn variant_to_reading(variant: &Variant, sample_rate_hz: Option<f64>) -> Result<Reading, (RejectReason, String)> {
    let scalar = |v: f64| {
        if v.is_finite() {
            Ok(Reading::Scalar(v))
        } else {
            Err((RejectReason::NonFinite, format!("value {v} is not finite")))
        }
    };
    match variant {
        Variant::Double(v) => scalar(*v),
        Variant::Float(v) => scalar(f64::from(*v)),
        Variant::SByte(v) => scalar(f64::from(*v)),
        Variant::Byte(v) => scalar(f64::from(*v)),
        Variant::Int16(v) => scalar(f64::from(*v)),
        Variant::UInt16(v) => scalar(f64::from(*v)),
        Variant::Int32(v) => scalar(f64::from(*v)),
        Variant::UInt32(v) => scalar(f64::from(*v)),
        // Counters beyond 2^53 lose precision; that is still the closest reading.
        Variant::Int64(v) => scalar(*v as f64),
        Variant::UInt64(v) => scalar(*v as f64),
        Variant::Array(array) => {
            let Some(rate) = sample_rate_hz else {
                return Err((RejectReason::Malformed, "array value but the item has no `sample_rate_hz`".into()));
            };
            if array.values.is_empty() {
                return Err((RejectReason::Malformed, "empty array".into()));
            }
            if array.values.len() > MAX_WINDOW_SAMPLES {
                let detail = format!("{} samples in one array, at most {MAX_WINDOW_SAMPLES}", array.values.len());
                return Err((RejectReason::Oversized, detail));
            }
            let mut samples = Vec::with_capacity(array.values.len());
            for (i, v) in array.values.iter().enumerate() {
                // The engine's windows are f32 (as the MQTT decoder's): a Double array is narrowed.
                let x = match v {
                    Variant::Float(x) => *x,
                    Variant::Double(x) => *x as f32,
                    other => {
                        let detail = format!("array element {i} is {}, expected Float or Double", type_name(other));
                        return Err((RejectReason::Malformed, detail));
                    }
                };
                if !x.is_finite() {
                    return Err((RejectReason::NonFinite, format!("array element {i} is {x}")));
                }
                samples.push(x);
            }
            Ok(Reading::Window { sample_rate_hz: rate, samples })
        }
        other => Err((RejectReason::Malformed, format!("value is {}, expected a number", type_name(other)))),
    }
}

fn type_name(v: &Variant) -> String {
    match v {
        Variant::Array(_) => "an array".into(),
        _ => v.scalar_type_id().map_or_else(|| "empty".into(), |t| t.to_string()),
    }
}

/// OPC-UA `DateTime` (100 ns ticks since 1601) to microseconds since the Unix epoch.
fn to_timestamp(t: &DateTime) -> Timestamp {
    Timestamp(t.as_chrono().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::opcua::types::{Array, StatusCode, VariantScalarTypeId};

    fn route(rate: Option<f64>) -> ItemRoute {
        ItemRoute {
            node_id: NodeId::new(2, "Pump1.Temperature"),
            source: "ns=2;s=Pump1.Temperature".into(),
            asset: "pump1".into(),
            channel: "temperature".into(),
            sample_rate_hz: rate,
        }
    }

    fn reason(i: &Ingest) -> Option<RejectReason> {
        match i {
            Ingest::Rejected(r) => Some(r.reason),
            Ingest::Sample(_) => None,
        }
    }

    fn array(values: Vec<Variant>, ty: VariantScalarTypeId) -> Variant {
        Variant::Array(Box::new(Array::new(ty, values).unwrap()))
    }

    #[test]
    fn numbers_become_scalars_and_bad_values_are_rejected() {
        assert_eq!(variant_to_reading(&Variant::Double(1.5), None), Ok(Reading::Scalar(1.5)));
        assert_eq!(variant_to_reading(&Variant::Float(0.25), None), Ok(Reading::Scalar(0.25)));
        assert_eq!(variant_to_reading(&Variant::Int32(-7), None), Ok(Reading::Scalar(-7.0)));
        assert_eq!(variant_to_reading(&Variant::UInt64(42), None), Ok(Reading::Scalar(42.0)));
        for bad in [Variant::Double(f64::NAN), Variant::Double(f64::INFINITY), Variant::Float(f32::NEG_INFINITY)] {
            assert_eq!(variant_to_reading(&bad, None).unwrap_err().0, RejectReason::NonFinite, "{bad:?}");
        }
        for bad in [Variant::from("12.5"), Variant::Boolean(true), Variant::Empty] {
            let (reason, detail) = variant_to_reading(&bad, None).unwrap_err();
            assert_eq!(reason, RejectReason::Malformed, "{bad:?}");
            assert!(detail.contains("expected a number"), "{detail}");
        }
    }

    #[test]
    fn float_and_double_arrays_become_windows_at_the_configured_rate() {
        let floats = array(vec![Variant::Float(1.0), Variant::Float(-2.0)], VariantScalarTypeId::Float);
        let r = variant_to_reading(&floats, Some(1000.0)).unwrap();
        assert_eq!(r, Reading::Window { sample_rate_hz: 1000.0, samples: vec![1.0, -2.0] });
        let doubles = array(vec![Variant::Double(0.5)], VariantScalarTypeId::Double);
        let r = variant_to_reading(&doubles, Some(50.0)).unwrap();
        assert_eq!(r, Reading::Window { sample_rate_hz: 50.0, samples: vec![0.5] });
        assert_eq!(variant_to_reading(&floats, None).unwrap_err().0, RejectReason::Malformed);
        let nan = array(vec![Variant::Float(1.0), Variant::Float(f32::NAN)], VariantScalarTypeId::Float);
        assert_eq!(variant_to_reading(&nan, Some(10.0)).unwrap_err().0, RejectReason::NonFinite);
        let strings = array(vec![Variant::from("a")], VariantScalarTypeId::String);
        assert_eq!(variant_to_reading(&strings, Some(10.0)).unwrap_err().0, RejectReason::Malformed);
        let empty = array(vec![], VariantScalarTypeId::Float);
        assert_eq!(variant_to_reading(&empty, Some(10.0)).unwrap_err().0, RejectReason::Malformed);
    }

    #[test]
    fn data_values_use_the_source_timestamp_then_the_server_timestamp() {
        let src = DateTime::from(chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap());
        let srv = DateTime::from(chrono::DateTime::from_timestamp_micros(1_700_000_001_000_000).unwrap());
        let mut dv = DataValue::new_at(3.0, srv);
        dv.source_timestamp = Some(src);
        let Ingest::Sample(s) = data_value_to_ingest(&route(None), &dv) else { panic!("expected a sample") };
        assert_eq!(s.t, Timestamp(1_700_000_000_123_456));
        assert_eq!((s.asset.as_str(), s.channel.as_str()), ("pump1", "temperature"));
        assert_eq!(s.reading, Reading::Scalar(3.0));
        dv.source_timestamp = None;
        let Ingest::Sample(s) = data_value_to_ingest(&route(None), &dv) else { panic!("expected a sample") };
        assert_eq!(s.t, Timestamp(1_700_000_001_000_000));

        dv.server_timestamp = None;
        assert_eq!(reason(&data_value_to_ingest(&route(None), &dv)), Some(RejectReason::Malformed));
        let nan = DataValue::new_at(f64::NAN, srv);
        let rejected = data_value_to_ingest(&route(None), &nan);
        assert_eq!(reason(&rejected), Some(RejectReason::NonFinite));
        let Ingest::Rejected(r) = rejected else { unreachable!() };
        assert_eq!(r.source, "ns=2;s=Pump1.Temperature");
        let mut bad = DataValue::new_at(1.0, srv);
        bad.status = Some(StatusCode::BadSensorFailure);
        assert_eq!(reason(&data_value_to_ingest(&route(None), &bad)), Some(RejectReason::Malformed));
        let text = DataValue::new_at("hot", srv);
        assert_eq!(reason(&data_value_to_ingest(&route(None), &text)), Some(RejectReason::Malformed));
    }
}
