//! Unit tests of the Sparkplug B state machine: births, aliases, seq wrap, gaps, deaths and rebirth requests.

use super::proto::PropertySet;
use super::*;
use crate::ingest::RejectReason;

const NOW: Timestamp = Timestamp(1_700_000_000_000_000);
const T_MS: u64 = 1_700_000_000_500;

fn metric(name: Option<&str>, alias: Option<u64>, datatype: Option<u32>, value: MetricValue) -> Metric {
    Metric { name: name.map(str::to_owned), alias, datatype, value: Some(value), ..Metric::default() }
}

fn payload(seq: Option<u64>, metrics: Vec<Metric>) -> Vec<u8> {
    encode_payload(&Payload { timestamp: Some(T_MS), metrics, seq, ..Payload::default() })
}

fn nbirth(seq: u64, bd_seq: u64) -> Vec<u8> {
    payload(
        Some(seq),
        vec![
            metric(Some("bdSeq"), None, Some(datatype::INT64), MetricValue::LongValue(bd_seq)),
            metric(Some(REBIRTH_METRIC), None, Some(datatype::BOOLEAN), MetricValue::BooleanValue(false)),
            metric(Some("uptime"), Some(1), Some(datatype::INT32), MetricValue::IntValue(5)),
        ],
    )
}

fn dbirth(seq: u64) -> Vec<u8> {
    payload(
        Some(seq),
        vec![
            metric(Some("temp"), Some(10), Some(datatype::FLOAT), MetricValue::FloatValue(20.5)),
            metric(Some("offset"), Some(11), Some(datatype::INT8), MetricValue::IntValue(0xFF)),
            metric(Some("serial"), Some(12), Some(12), MetricValue::StringValue("A1".into())),
        ],
    )
}

fn ddata(seq: u64, alias: u64, v: MetricValue) -> Vec<u8> {
    payload(Some(seq), vec![metric(None, Some(alias), None, v)])
}

fn samples(out: &SparkplugOutcome) -> Vec<(String, String, f64)> {
    let samples = out.samples.as_ref().unwrap_or_else(|e| panic!("rejected: {e}"));
    samples
        .iter()
        .map(|s| match s.reading {
            Reading::Scalar(v) => (s.asset.as_str().to_owned(), s.channel.as_str().to_owned(), v),
            Reading::Window { .. } => panic!("sparkplug metrics are scalars"),
        })
        .collect()
}

fn reason(out: &SparkplugOutcome) -> RejectReason {
    out.samples.as_ref().unwrap_err().reason()
}

fn is_rebirth(cmd: &Command, topic: &str) {
    assert_eq!(cmd.topic, topic);
    let p = decode_payload(&cmd.payload).unwrap();
    assert_eq!(p.metrics.len(), 1);
    assert_eq!(p.metrics[0].name.as_deref(), Some(REBIRTH_METRIC));
    assert_eq!(p.metrics[0].value, Some(MetricValue::BooleanValue(true)));
    assert_eq!(p.metrics[0].datatype, Some(datatype::BOOLEAN));
    assert_eq!(p.timestamp, Some(1_700_000_000_000));
}

const N: &str = "spBv1.0/g1/NBIRTH/edge1";
const D: &str = "spBv1.0/g1/DBIRTH/edge1/pump-1";
const DD: &str = "spBv1.0/g1/DDATA/edge1/pump-1";

#[test]
fn topics_parse() {
    let t = parse_topic("spBv1.0/g1/DDATA/edge1/pump-1").unwrap().unwrap();
    assert_eq!(t, SparkplugTopic { group: "g1", kind: MessageType::DData, edge_node: "edge1", device: Some("pump-1") });
    assert_eq!(parse_topic("spBv1.0/g1/NDATA/edge1").unwrap().unwrap().device, None);
    assert_eq!(parse_topic("spBv1.0/STATE/host1").unwrap(), None);
    assert_eq!(parse_topic("spBv1.0/g1/DCMD/edge1/pump-1").unwrap().unwrap().kind, MessageType::Command);
    for bad in [
        "spAv1.0/g1/NDATA/e",
        "spBv1.0/g1/NDATA",
        "spBv1.0/g1/NDATA/e/dev",
        "spBv1.0/g1/DDATA/e",
        "spBv1.0/g1/DDATA/e/d/x",
        "spBv1.0/g1/XDATA/e",
        "spBv1.0//NDATA/e",
        "spBv1.0/g1/DDATA/e/",
    ] {
        assert!(parse_topic(bad).is_err(), "{bad}");
    }
    let f = SparkplugFilter::parse("spBv1.0/g1/#").unwrap();
    assert_eq!(f.filter(), "spBv1.0/g1/#");
    assert!(f.matches("spBv1.0/g1/NDATA/e") && !f.matches("spBv1.0/g2/NDATA/e") && !f.matches("plant/g1/x"));
    assert!(SparkplugFilter::parse("spBv1.0/+/#").unwrap().matches("spBv1.0/any/NDATA/e"));
}

#[test]
fn birth_then_data_with_aliases() {
    let mut d = SparkplugDecoder::new();
    let out = d.decode(N, &nbirth(0, 3), NOW);
    // bdSeq and Node Control metrics are bookkeeping, not samples.
    assert_eq!(samples(&out), [("edge1".into(), "uptime".into(), 5.0)]);
    assert_eq!(out.command, None);
    assert_eq!(out.samples.as_ref().unwrap()[0].t, Timestamp(1_700_000_000_500_000));
    // The string metric is skipped; Int8 0xFF is -1.
    let out = d.decode(D, &dbirth(1), NOW);
    assert_eq!(samples(&out), [("pump-1".into(), "temp".into(), 20.5), ("pump-1".into(), "offset".into(), -1.0)]);
    let out = d.decode(DD, &ddata(2, 10, MetricValue::FloatValue(21.0)), NOW);
    assert_eq!(samples(&out), [("pump-1".into(), "temp".into(), 21.0)]);
    // Datatype comes from the birth certificate: alias 11 is Int8.
    let out = d.decode(DD, &ddata(3, 11, MetricValue::IntValue(0xFE)), NOW);
    assert_eq!(samples(&out), [("pump-1".into(), "offset".into(), -2.0)]);
    // A metric given by name with its own timestamp.
    let mut m = metric(Some("temp"), None, None, MetricValue::DoubleValue(22.0));
    m.timestamp = Some(1_700_000_000_999);
    let out = d.decode(DD, &payload(Some(4), vec![m]), NOW);
    assert_eq!(out.samples.as_ref().unwrap()[0].t, Timestamp(1_700_000_000_999_000));
    // Node data resolves against the node's own aliases.
    let out = d.decode("spBv1.0/g1/NDATA/edge1", &ddata(5, 1, MetricValue::IntValue(6)), NOW);
    assert_eq!(samples(&out), [("edge1".into(), "uptime".into(), 6.0)]);
}

#[test]
fn seq_wraps_from_255_to_0() {
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(254, 0), NOW).samples.unwrap();
    d.decode(D, &dbirth(255), NOW).samples.unwrap();
    let out = d.decode(DD, &ddata(0, 10, MetricValue::FloatValue(1.0)), NOW);
    assert_eq!(samples(&out).len(), 1);
    assert_eq!(reason(&d.decode(DD, &ddata(256, 10, MetricValue::FloatValue(1.0)), NOW)), RejectReason::Malformed);
}

#[test]
fn gap_rejects_forgets_the_node_and_requests_a_rebirth() {
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 0), NOW).samples.unwrap();
    d.decode(D, &dbirth(1), NOW).samples.unwrap();
    let out = d.decode(DD, &ddata(3, 10, MetricValue::FloatValue(1.0)), NOW);
    assert_eq!(reason(&out), RejectReason::SequenceGap);
    assert!(out.samples.as_ref().unwrap_err().to_string().contains("sent seq 3, expected 2"));
    is_rebirth(out.command.as_ref().unwrap(), "spBv1.0/g1/NCMD/edge1");
    // Until the rebirth, data is refused; the request is not repeated within REBIRTH_RETRY ...
    let out = d.decode(DD, &ddata(4, 10, MetricValue::FloatValue(1.0)), NOW);
    assert_eq!((reason(&out), out.command), (RejectReason::Malformed, None));
    // ... but is after it, in case the first one was lost.
    let later = Timestamp(NOW.0 + REBIRTH_RETRY.as_micros() as i64);
    assert!(d.decode(DD, &ddata(5, 10, MetricValue::FloatValue(1.0)), later).command.is_some());
    // The rebirth restores the flow, whatever seq the node restarts from.
    d.decode(N, &nbirth(0, 1), later).samples.unwrap();
    d.decode(D, &dbirth(1), later).samples.unwrap();
    assert_eq!(samples(&d.decode(DD, &ddata(2, 10, MetricValue::FloatValue(2.0)), later)).len(), 1);
}

#[test]
fn data_before_birth_and_unknown_aliases_are_rejected_with_a_rebirth() {
    let mut d = SparkplugDecoder::new();
    let out = d.decode(DD, &ddata(0, 10, MetricValue::FloatValue(1.0)), NOW);
    assert_eq!(reason(&out), RejectReason::Malformed);
    is_rebirth(out.command.as_ref().unwrap(), "spBv1.0/g1/NCMD/edge1");
    // Node born, device not: DDATA is still refused.
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 0), NOW).samples.unwrap();
    let out = d.decode(DD, &ddata(1, 10, MetricValue::FloatValue(1.0)), NOW);
    assert!(out.samples.as_ref().unwrap_err().to_string().contains("before its DBIRTH"));
    assert!(out.command.is_some());
    // An alias the birth did not declare.
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 0), NOW).samples.unwrap();
    d.decode(D, &dbirth(1), NOW).samples.unwrap();
    let out = d.decode(DD, &ddata(2, 99, MetricValue::FloatValue(1.0)), NOW);
    assert!(out.samples.as_ref().unwrap_err().to_string().contains("unknown metric alias 99"));
    assert!(out.command.is_some());
    // Garbage is malformed and also asks for a rebirth (its seq is unknown).
    let mut d = SparkplugDecoder::new();
    let out = d.decode(DD, b"\xff\xff\xff", NOW);
    assert_eq!(reason(&out), RejectReason::Malformed);
    assert!(out.command.is_some());
}

#[test]
fn bad_values_reject_without_forgetting_the_node() {
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 0), NOW).samples.unwrap();
    d.decode(D, &dbirth(1), NOW).samples.unwrap();
    let out = d.decode(DD, &ddata(2, 10, MetricValue::FloatValue(f32::NAN)), NOW);
    assert_eq!((reason(&out), out.command), (RejectReason::NonFinite, None));
    let no_time = encode_payload(&Payload {
        seq: Some(3),
        metrics: vec![metric(None, Some(10), None, MetricValue::FloatValue(1.0))],
        ..Payload::default()
    });
    let out = d.decode(DD, &no_time, NOW);
    assert_eq!((reason(&out), out.command), (RejectReason::Malformed, None));
    assert_eq!(samples(&d.decode(DD, &ddata(4, 10, MetricValue::FloatValue(3.0)), NOW)).len(), 1);
    // Nulls, text and properties carry no measurement.
    let mut null = metric(None, Some(10), None, MetricValue::FloatValue(1.0));
    null.is_null = Some(true);
    null.properties = Some(PropertySet { keys: vec!["engUnit".into()], values: vec![] });
    assert!(samples(&d.decode(DD, &payload(Some(5), vec![null]), NOW)).is_empty());
}

#[test]
fn death_clears_state() {
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 7), NOW).samples.unwrap();
    d.decode(D, &dbirth(1), NOW).samples.unwrap();
    // DDEATH forgets the device (and counts in the sequence).
    assert!(samples(&d.decode("spBv1.0/g1/DDEATH/edge1/pump-1", &payload(Some(2), vec![]), NOW)).is_empty());
    assert!(d.decode(DD, &ddata(3, 10, MetricValue::FloatValue(1.0)), NOW).samples.is_err());
    // A stale NDEATH (bdSeq of an older session) is ignored; the current one clears the node.
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 7), NOW).samples.unwrap();
    let death =
        |bd| payload(None, vec![metric(Some("bdSeq"), None, Some(datatype::INT64), MetricValue::LongValue(bd))]);
    assert!(samples(&d.decode("spBv1.0/g1/NDEATH/edge1", &death(6), NOW)).is_empty());
    d.decode(D, &dbirth(1), NOW).samples.unwrap();
    assert!(samples(&d.decode("spBv1.0/g1/NDEATH/edge1", &death(7), NOW)).is_empty());
    let out = d.decode(DD, &ddata(2, 10, MetricValue::FloatValue(1.0)), NOW);
    assert_eq!(reason(&out), RejectReason::Malformed);
    assert!(out.command.is_some());
}

#[test]
fn nodes_are_independent_and_commands_ignored() {
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 0), NOW).samples.unwrap();
    d.decode("spBv1.0/g2/NBIRTH/edge1", &nbirth(100, 0), NOW).samples.unwrap();
    let n1 = d.decode("spBv1.0/g1/NDATA/edge1", &ddata(1, 1, MetricValue::IntValue(1)), NOW);
    let n2 = d.decode("spBv1.0/g2/NDATA/edge1", &ddata(101, 1, MetricValue::IntValue(2)), NOW);
    assert_eq!((samples(&n1)[0].2, samples(&n2)[0].2), (1.0, 2.0));
    let cmd = rebirth_command("g1", "edge1", NOW);
    let out = d.decode(&cmd.topic, &cmd.payload, NOW);
    assert_eq!(out, SparkplugOutcome { samples: Ok(vec![]), command: None });
    assert_eq!(d.decode("spBv1.0/STATE/host", b"ONLINE", NOW).samples, Ok(vec![]));
    // Commands do not advance the sequence.
    assert!(d.decode("spBv1.0/g1/NDATA/edge1", &ddata(2, 1, MetricValue::IntValue(1)), NOW).samples.is_ok());
}

fn array_metric(name: Option<&str>, alias: Option<u64>, datatype: u32, bytes: Vec<u8>, rate: Option<f64>) -> Metric {
    Metric {
        properties: rate.map(array::sample_rate_properties),
        ..metric(name, alias, Some(datatype), MetricValue::BytesValue(bytes))
    }
}

fn window_of(out: &SparkplugOutcome) -> (f64, Vec<f32>) {
    match &out.samples.as_ref().unwrap_or_else(|e| panic!("rejected: {e}"))[..] {
        [Sample { reading: Reading::Window { sample_rate_hz, samples }, t, .. }] => {
            assert_eq!(*t, Timestamp(1_700_000_000_500_000));
            (*sample_rate_hz, samples.clone())
        }
        other => panic!("expected one window, got {other:?}"),
    }
}

#[test]
fn float_and_double_arrays_are_windows_with_the_rate_of_their_data_or_birth_metric() {
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 0), NOW).samples.unwrap();
    let birth = payload(
        Some(1),
        vec![
            array_metric(
                Some("vib"),
                Some(20),
                datatype::FLOAT_ARRAY,
                array::float_array_bytes(&[1.5, -2.0]),
                Some(25_600.0),
            ),
            array_metric(Some("acc"), Some(21), datatype::DOUBLE_ARRAY, array::double_array_bytes(&[0.25]), None),
        ],
    );
    // A birth array without a rate rejects the birth (all-or-nothing) but keeps the birth.
    let out = d.decode(D, &birth, NOW);
    assert_eq!((reason(&out), out.command.clone()), (RejectReason::Malformed, None));
    let err = out.samples.unwrap_err().to_string();
    assert!(err.contains("array metric `acc` has no numeric `sample_rate_hz` property"), "{err}");
    // DDATA by alias: the rate comes from the birth when the data metric has none.
    let data = |seq, bytes| payload(Some(seq), vec![array_metric(None, Some(20), datatype::FLOAT_ARRAY, bytes, None)]);
    assert_eq!(window_of(&d.decode(DD, &data(2, array::float_array_bytes(&[3.0])), NOW)), (25_600.0, vec![3.0]));
    // Its own rate wins; doubles are read into f32 samples.
    let own = payload(
        Some(3),
        vec![array_metric(None, Some(21), datatype::DOUBLE_ARRAY, array::double_array_bytes(&[0.5, 1e-3]), Some(50.0))],
    );
    assert_eq!(window_of(&d.decode(DD, &own, NOW)), (50.0, vec![0.5, 1e-3]));
    // An integer-typed rate property is read as well.
    let mut int_rate = array_metric(None, Some(20), datatype::FLOAT_ARRAY, array::float_array_bytes(&[1.0]), None);
    int_rate.properties = Some(PropertySet {
        keys: vec![array::SAMPLE_RATE_PROPERTY.into()],
        values: vec![proto::PropertyValue {
            r#type: Some(7),
            is_null: None,
            value: Some(proto::PropertyValueKind::IntValue(1000)),
        }],
    });
    assert_eq!(window_of(&d.decode(DD, &payload(Some(4), vec![int_rate]), NOW)), (1000.0, vec![1.0]));
}

#[test]
fn bad_arrays_are_rejected_by_reason_without_forgetting_the_node() {
    let mut d = SparkplugDecoder::new();
    d.decode(N, &nbirth(0, 0), NOW).samples.unwrap();
    let birth = payload(
        Some(1),
        vec![
            array_metric(Some("vib"), Some(20), datatype::FLOAT_ARRAY, array::float_array_bytes(&[1.0]), Some(100.0)),
            array_metric(Some("raw"), Some(22), datatype::DOUBLE_ARRAY, array::double_array_bytes(&[1.0]), None),
        ],
    );
    assert!(d.decode(D, &birth, NOW).samples.is_err(), "raw has no rate anywhere");
    let f32s = array::float_array_bytes;
    let too_many = vec![0u8; (crate::json::MAX_WINDOW_SAMPLES + 1) * 4];
    let cases: Vec<(Metric, RejectReason, &str)> = vec![
        (
            array_metric(None, Some(22), datatype::DOUBLE_ARRAY, array::double_array_bytes(&[1.0]), None),
            RejectReason::Malformed,
            "no numeric `sample_rate_hz`",
        ),
        (
            array_metric(None, Some(20), datatype::FLOAT_ARRAY, vec![0, 0, 128], None),
            RejectReason::Malformed,
            "not a whole number of 4-byte elements",
        ),
        (array_metric(None, Some(20), datatype::FLOAT_ARRAY, vec![], None), RejectReason::Malformed, "empty window"),
        (
            array_metric(None, Some(20), datatype::FLOAT_ARRAY, too_many, None),
            RejectReason::Oversized,
            "at most 1048576",
        ),
        (
            array_metric(None, Some(20), datatype::FLOAT_ARRAY, f32s(&[1.0, f32::INFINITY]), None),
            RejectReason::NonFinite,
            "vib[1]",
        ),
        (
            array_metric(None, Some(22), datatype::DOUBLE_ARRAY, array::double_array_bytes(&[1e300]), Some(1.0)),
            RejectReason::NonFinite,
            "raw[0]",
        ),
        (
            array_metric(None, Some(20), datatype::FLOAT_ARRAY, f32s(&[1.0]), Some(0.0)),
            RejectReason::Malformed,
            "must be positive",
        ),
        (
            array_metric(None, Some(20), datatype::FLOAT_ARRAY, f32s(&[1.0]), Some(-5.0)),
            RejectReason::Malformed,
            "must be positive",
        ),
        (
            array_metric(None, Some(20), datatype::FLOAT_ARRAY, f32s(&[1.0]), Some(f64::NAN)),
            RejectReason::NonFinite,
            "vib.sample_rate_hz",
        ),
        (
            metric(None, Some(20), None, MetricValue::FloatValue(1.0)),
            RejectReason::Malformed,
            "does not carry its values as bytes",
        ),
    ];
    for (seq, (m, want, detail)) in (2..).zip(cases) {
        let out = d.decode(DD, &payload(Some(seq), vec![m]), NOW);
        let err = out.samples.as_ref().unwrap_err().to_string();
        assert_eq!((out.samples.unwrap_err().reason(), out.command), (want, None), "{err}");
        assert!(err.contains(detail), "{err} does not say {detail}");
    }
    // The node is still born: good data after all of that is read.
    let good = payload(Some(12), vec![array_metric(None, Some(20), datatype::FLOAT_ARRAY, f32s(&[4.0]), None)]);
    assert_eq!(window_of(&d.decode(DD, &good, NOW)), (100.0, vec![4.0]));
    // Other arrays carry no window and are skipped, like bytes.
    let ints =
        payload(Some(13), vec![metric(Some("codes"), None, Some(24), MetricValue::BytesValue(vec![1, 0, 0, 0]))]);
    assert_eq!(d.decode(DD, &ints, NOW).samples, Ok(vec![]));
}
