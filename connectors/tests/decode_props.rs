//! Property tests of the payload decoders: no input makes them panic, and encode -> decode round-trips.

use connectors::sparkplug::array::{double_array_bytes, float_array_bytes, sample_rate_properties};
use connectors::sparkplug::edge::EdgeNode;
use connectors::sparkplug::proto::{
    Metric, MetricValue, Payload, PropertySet, PropertyValue, PropertyValueKind, datatype,
};
use connectors::sparkplug::{SparkplugDecoder, encode_payload};
use connectors::{
    BinarySamples, Decoder, Ingest, JsonLayout, TimeFormat, TopicConfig, decode_binary, decode_json, decode_json_with,
    encode_binary_window, encode_json,
};
use proptest::prelude::*;
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};

fn ids() -> (AssetId, ChannelId) {
    (AssetId::from("pump-1"), ChannelId::from("vib"))
}

/// Timestamps anywhere a real gateway could send (years ~1700 to ~2240), in microseconds.
fn timestamps() -> impl Strategy<Value = Timestamp> {
    (-8_000_000_000_000_000i64..8_000_000_000_000_000).prop_map(Timestamp)
}

/// Where `encode_json`'s fractional milliseconds are exact: |t| < 2^42 ms (years ~1830 to ~2109).
fn json_timestamps() -> impl Strategy<Value = Timestamp> {
    (-(1i64 << 42) * 1000 + 1..(1i64 << 42) * 1000).prop_map(Timestamp)
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any::<f32>().prop_filter("finite", |v| v.is_finite())
}

fn sparkplug_topics() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("spBv1.0/g/NBIRTH/e".to_owned()),
        Just("spBv1.0/g/NDATA/e".to_owned()),
        Just("spBv1.0/g/NDEATH/e".to_owned()),
        Just("spBv1.0/g/DBIRTH/e/d".to_owned()),
        Just("spBv1.0/g/DDATA/e/d".to_owned()),
        Just("spBv1.0/g/DDEATH/e/d".to_owned()),
        "spBv1.0/[a-z/]{0,12}",
    ]
}

fn metric_values() -> impl Strategy<Value = (u32, MetricValue, f64)> {
    prop_oneof![
        finite_f32().prop_map(|v| (datatype::FLOAT, MetricValue::FloatValue(v), f64::from(v))),
        any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(|v| (
            datatype::DOUBLE,
            MetricValue::DoubleValue(v),
            v
        )),
        any::<i16>().prop_map(|v| (datatype::INT16, MetricValue::IntValue(v as u16 as u32), f64::from(v))),
        any::<i32>().prop_map(|v| (datatype::INT32, MetricValue::IntValue(v as u32), f64::from(v))),
        any::<i64>().prop_map(|v| (datatype::INT64, MetricValue::LongValue(v as u64), v as f64)),
        any::<bool>().prop_map(|v| (datatype::BOOLEAN, MetricValue::BooleanValue(v), f64::from(u8::from(v)))),
    ]
}

proptest! {
    #[test]
    fn json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (a, c) = ids();
        let _ = decode_json(&a, &c, &bytes);
        let layout = JsonLayout { time_pointer: "/a/0".into(), time_format: TimeFormat::EpochS, ..JsonLayout::default() };
        let _ = decode_json_with(&layout, &a, &c, &bytes);
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}",:0-9.eE+\-a-z ]{0,64}"#) {
        let (a, c) = ids();
        let _ = decode_json(&a, &c, text.as_bytes());
    }

    #[test]
    fn binary_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let (a, c) = ids();
        let _ = decode_binary(&a, &c, &bytes);
        // The same bytes behind a valid magic and version reach the deeper checks.
        let mut framed = b"SWW1\x01".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = decode_binary(&a, &c, &framed);
    }

    #[test]
    fn sparkplug_never_panics(events in proptest::collection::vec((sparkplug_topics(), proptest::collection::vec(any::<u8>(), 0..64)), 0..16)) {
        let mut d = SparkplugDecoder::new();
        for (topic, payload) in events {
            let out = d.decode(&topic, &payload, Timestamp(0));
            prop_assert!(out.command.is_none() || out.samples.is_err());
        }
    }

    #[test]
    fn json_round_trips(t in json_timestamps(), v in any::<f64>().prop_filter("finite", |v| v.is_finite()),
                        window in proptest::collection::vec(finite_f32(), 1..64), rate in 0.001f64..1e6) {
        let (asset, channel) = ids();
        for reading in [Reading::Scalar(v), Reading::Window { sample_rate_hz: rate, samples: window.clone() }] {
            let s = Sample { asset: asset.clone(), channel: channel.clone(), t, reading };
            prop_assert_eq!(decode_json(&asset, &channel, &encode_json(&s)).unwrap(), vec![s]);
        }
    }

    #[test]
    fn binary_round_trips(t in timestamps(), rate in 0.001f64..1e6, f in proptest::collection::vec(finite_f32(), 1..256),
                          raw in proptest::collection::vec(any::<i16>(), 1..256), scale in 1e-6f32..1e3) {
        let (a, c) = ids();
        let back = decode_binary(&a, &c, &encode_binary_window(t, rate, BinarySamples::F32(&f))).unwrap();
        prop_assert_eq!(&back[0].reading, &Reading::Window { sample_rate_hz: rate, samples: f });
        prop_assert_eq!(back[0].t, t);
        let back = decode_binary(&a, &c, &encode_binary_window(t, rate, BinarySamples::I16 { scale, samples: &raw })).unwrap();
        let want: Vec<f32> = raw.iter().map(|s| f32::from(*s) * scale).collect();
        prop_assert_eq!(&back[0].reading, &Reading::Window { sample_rate_hz: rate, samples: want });
    }

    #[test]
    fn sparkplug_round_trips(values in proptest::collection::vec(metric_values(), 1..12), seq in any::<u8>(),
                             ms in 0u64..8_000_000_000_000) {
        let mut d = Decoder::new(vec![TopicConfig::Mapped(serde_json::from_str(r#"{"pattern": "spBv1.0/+/#", "format": "sparkplug"}"#).unwrap()).compile().unwrap()], 1 << 20);
        let names: Vec<String> = (0..values.len()).map(|i| format!("m{i}")).collect();
        let birth = values.iter().enumerate().map(|(i, (dt, v, _))| Metric {
            name: Some(names[i].clone()), alias: Some(i as u64 * 7), datatype: Some(*dt), value: Some(v.clone()), ..Metric::default()
        }).collect();
        let now = Timestamp(0);
        let nb = encode_payload(&Payload { timestamp: Some(ms), seq: Some(u64::from(seq)), ..Payload::default() });
        prop_assert!(d.decode("spBv1.0/g/NBIRTH/e", &nb, now).commands.is_empty());
        let db = encode_payload(&Payload { timestamp: Some(ms), seq: Some(u64::from(seq.wrapping_add(1))), metrics: birth, ..Payload::default() });
        prop_assert_eq!(d.decode("spBv1.0/g/DBIRTH/e/dev", &db, now).items.len(), values.len());
        // DATA by alias only, without datatypes: both come from the birth certificate.
        let data = values.iter().enumerate().map(|(i, (_, v, _))| Metric {
            alias: Some(i as u64 * 7), value: Some(v.clone()), ..Metric::default()
        }).collect();
        let dd = encode_payload(&Payload { timestamp: Some(ms), seq: Some(u64::from(seq.wrapping_add(2))), metrics: data, ..Payload::default() });
        let out = d.decode("spBv1.0/g/DDATA/e/dev", &dd, now);
        prop_assert!(out.commands.is_empty());
        let got: Vec<(String, f64, i64)> = out.items.iter().map(|i| match i {
            Ingest::Sample(Sample { channel, reading: Reading::Scalar(v), t, asset }) => {
                assert_eq!(asset.as_str(), "dev");
                (channel.as_str().to_owned(), *v, t.0)
            }
            other => panic!("expected a scalar sample, got {other:?}"),
        }).collect();
        let want: Vec<(String, f64, i64)> = values.iter().enumerate().map(|(i, (_, _, v))| (names[i].clone(), *v, ms as i64 * 1000)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn sparkplug_arrays_round_trip_as_windows(f in proptest::collection::vec(finite_f32(), 1..256), rate in 0.001f64..1e6,
                                              double in any::<bool>(), rate_in_birth in any::<bool>(), ms in 0u64..8_000_000_000_000) {
        let mut d = SparkplugDecoder::new();
        let (dt, bytes) = if double {
            (datatype::DOUBLE_ARRAY, double_array_bytes(&f.iter().map(|v| f64::from(*v)).collect::<Vec<_>>()))
        } else {
            (datatype::FLOAT_ARRAY, float_array_bytes(&f))
        };
        let props = Some(sample_rate_properties(rate));
        let birth = Metric { name: Some("vib".into()), alias: Some(3), datatype: Some(dt), properties: props.clone(),
                             value: Some(MetricValue::BytesValue(bytes.clone())), ..Metric::default() };
        let data = Metric { alias: Some(3), properties: if rate_in_birth { None } else { props },
                            value: Some(MetricValue::BytesValue(bytes)), ..Metric::default() };
        let now = Timestamp(0);
        let msg = |seq: u64, metrics| encode_payload(&Payload { timestamp: Some(ms), seq: Some(seq), metrics, ..Payload::default() });
        d.decode("spBv1.0/g/NBIRTH/e", &msg(0, vec![]), now).samples.unwrap();
        d.decode("spBv1.0/g/DBIRTH/e/dev", &msg(1, vec![birth]), now).samples.unwrap();
        let out = d.decode("spBv1.0/g/DDATA/e/dev", &msg(2, vec![data]), now).samples.unwrap();
        prop_assert_eq!(&out[0].reading, &Reading::Window { sample_rate_hz: rate, samples: f });
        prop_assert_eq!(out[0].t, Timestamp(ms as i64 * 1000));
    }

    #[test]
    fn sparkplug_arrays_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), dt in prop_oneof![Just(datatype::FLOAT_ARRAY), Just(datatype::DOUBLE_ARRAY), 22u32..35],
                                    rate in prop_oneof![any::<f64>().prop_map(PropertyValueKind::DoubleValue), any::<u32>().prop_map(PropertyValueKind::IntValue), ".{0,4}".prop_map(PropertyValueKind::StringValue)],
                                    with_rate in any::<bool>()) {
        let mut d = SparkplugDecoder::new();
        let properties = with_rate.then(|| PropertySet { keys: vec!["sample_rate_hz".into()], values: vec![PropertyValue { r#type: None, is_null: None, value: Some(rate) }] });
        let m = Metric { name: Some("a".into()), datatype: Some(dt), properties, value: Some(MetricValue::BytesValue(bytes)), ..Metric::default() };
        let nb = encode_payload(&Payload { timestamp: Some(1), seq: Some(0), metrics: vec![m], ..Payload::default() });
        let out = d.decode("spBv1.0/g/NBIRTH/e", &nb, Timestamp(0));
        // A bad array only rejects the message: the node stays born, nothing is requested.
        prop_assert!(out.command.is_none());
        if let Ok(samples) = out.samples {
            for s in samples {
                prop_assert!(s.reading.is_finite());
            }
        }
    }

    #[test]
    fn edge_node_output_decodes_to_the_samples_published(ticks in proptest::collection::vec(
            proptest::collection::vec((0usize..3, 0usize..3, finite_f32()), 1..8), 1..40),
            rebirth_at in 0usize..40) {
        let mut node = EdgeNode::new("g", "e").unwrap();
        let mut host = SparkplugDecoder::new();
        let mut sent = Vec::new();
        let mut got: Vec<Sample> = Vec::new();
        let now = Timestamp(0);
        let mut feed = |msgs: Vec<connectors::sparkplug::edge::EdgeMessage>, got: &mut Vec<Sample>| {
            for m in msgs {
                let out = host.decode(&m.topic, &m.payload, now);
                assert!(out.command.is_none(), "{}", m.topic);
                got.extend(out.samples.unwrap());
            }
        };
        feed(node.births(0, 1), &mut got);
        for (k, tick) in ticks.iter().enumerate() {
            if k == rebirth_at {
                feed(node.births(1, 2), &mut got);
            }
            // At most one reading per asset and channel per tick; each channel keeps its kind.
            let mut batch: Vec<Sample> = Vec::new();
            for (a, c, v) in tick {
                let (asset, channel) = (AssetId::from(format!("pump-{a}").as_str()), ChannelId::from(format!("c{c}").as_str()));
                if batch.iter().any(|s| s.asset == asset && s.channel == channel) {
                    continue;
                }
                let reading = match c {
                    0 => Reading::Window { sample_rate_hz: 100.0, samples: vec![*v, -*v] },
                    1 => Reading::Scalar(f64::from(*v)),
                    _ => Reading::Window { sample_rate_hz: 0.5, samples: vec![*v] },
                };
                batch.push(Sample { asset, channel, t: Timestamp::from_millis(1_000 * (k as i64 + 1)), reading });
            }
            feed(node.data(&batch, 3).unwrap(), &mut got);
            sent.extend(batch);
        }
        // Births repeat the last values of every metric: the source's deduplication drops them.
        let mut unique: Vec<Sample> = Vec::new();
        for s in got {
            if !unique.contains(&s) {
                unique.push(s);
            }
        }
        let key = |s: &Sample| (s.asset.to_string(), s.channel.to_string(), s.t);
        unique.sort_by_key(key);
        sent.sort_by_key(key);
        prop_assert_eq!(unique, sent);
    }
}

/// Runs a `decode_sparkplug` fuzz input (topic byte, length byte, payload, ...) as the target does.
fn run_fuzz_input(data: &[u8]) -> Vec<Result<Vec<Sample>, connectors::DecodeError>> {
    const TOPICS: [&str; 8] = [
        "spBv1.0/g/NBIRTH/e",
        "spBv1.0/g/NDATA/e",
        "spBv1.0/g/NDEATH/e",
        "spBv1.0/g/DBIRTH/e/d",
        "spBv1.0/g/DDATA/e/d",
        "spBv1.0/g/DDEATH/e/d",
        "spBv1.0/g/NCMD/e",
        "spBv1.0/STATE/h",
    ];
    let mut decoder = SparkplugDecoder::new();
    let mut out = Vec::new();
    let mut rest = data;
    while let [topic, len, tail @ ..] = rest {
        let (payload, tail) = tail.split_at(usize::from(*len).min(tail.len()));
        out.push(decoder.decode(TOPICS[usize::from(*topic) % TOPICS.len()], payload, Timestamp(0)).samples);
        rest = tail;
    }
    out
}

/// The committed seeds of the `decode_sparkplug` fuzz target reach the array decoding they are meant for.
#[test]
fn fuzz_seeds_reach_array_windows() {
    let seed = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/decode_sparkplug").join(name);
        run_fuzz_input(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    };
    let windows = |results: &[Result<Vec<Sample>, connectors::DecodeError>]| -> Vec<(f64, Vec<f32>)> {
        results
            .iter()
            .flat_map(|r| r.as_ref().unwrap().iter())
            .map(|s| match &s.reading {
                Reading::Window { sample_rate_hz, samples } => (*sample_rate_hz, samples.clone()),
                other => panic!("expected a window, got {other:?}"),
            })
            .collect()
    };
    assert_eq!(windows(&seed("float_array_window")), [(25_600.0, vec![1.5, -2.0, 0.25]), (25_600.0, vec![3.0, 4.0])]);
    assert_eq!(windows(&seed("double_array_rate_from_birth")), [(100.0, vec![0.5]), (100.0, vec![1.0, 2.0, 3.0])]);
    let without = seed("array_without_rate");
    let err = without[1].as_ref().unwrap_err();
    assert!(err.to_string().contains("no numeric `sample_rate_hz` property"), "{err}");
}
