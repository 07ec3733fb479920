//! Unit tests of the Sparkplug edge node: birth contents, aliases, seq wrap, rebirth requests, and a round trip through the host-side decoder.

use super::*;
use crate::sparkplug::{SparkplugDecoder, rebirth_command};
use snn_engine::{AssetId, ChannelId, Timestamp};

const NOW_MS: u64 = 1_700_000_100_000;

fn scalar(asset: &str, channel: &str, t_ms: i64, v: f64) -> Sample {
    Sample {
        asset: AssetId::from(asset),
        channel: ChannelId::from(channel),
        t: Timestamp::from_millis(t_ms),
        reading: Reading::Scalar(v),
    }
}

fn window(asset: &str, channel: &str, t_ms: i64, samples: Vec<f32>) -> Sample {
    Sample {
        asset: AssetId::from(asset),
        channel: ChannelId::from(channel),
        t: Timestamp::from_millis(t_ms),
        reading: Reading::Window { sample_rate_hz: 25_600.0, samples },
    }
}

fn tick(t_ms: i64, k: f32) -> Vec<Sample> {
    ["pump-1", "pump-2"]
        .iter()
        .flat_map(|a| [window(a, "vibration", t_ms, vec![k, -k, 0.5]), scalar(a, "temperature", t_ms, f64::from(k))])
        .collect()
}

fn decode(m: &EdgeMessage) -> Payload {
    decode_payload(&m.payload).unwrap()
}

#[test]
fn nbirth_has_seq_zero_bd_seq_and_the_rebirth_metric() {
    let mut node = EdgeNode::new("plant", "simulator").unwrap();
    let births = node.births(7, NOW_MS);
    assert_eq!(births.len(), 1, "no device is known before the first samples");
    assert_eq!(births[0].topic, "spBv1.0/plant/NBIRTH/simulator");
    let p = decode(&births[0]);
    assert_eq!(p.seq, Some(0));
    assert_eq!(p.timestamp, Some(NOW_MS));
    let names: Vec<_> = p.metrics.iter().map(|m| m.name.clone().unwrap()).collect();
    assert_eq!(names, [BD_SEQ_METRIC, REBIRTH_METRIC]);
    assert_eq!(p.metrics[0].value, Some(MetricValue::LongValue(7)));
    assert_eq!(p.metrics[0].datatype, Some(datatype::INT64));
    assert_eq!(p.metrics[1].value, Some(MetricValue::BooleanValue(false)));
    let death = decode(&node.death(7, NOW_MS));
    assert_eq!(node.death(7, NOW_MS).topic, "spBv1.0/plant/NDEATH/simulator");
    assert_eq!(death.seq, None, "NDEATH carries no seq");
    assert_eq!(death.metrics[0].value, Some(MetricValue::LongValue(7)));
}

#[test]
fn first_samples_birth_each_device_with_names_aliases_datatypes_and_values() {
    let mut node = EdgeNode::new("plant", "simulator").unwrap();
    node.births(0, NOW_MS);
    let out = node.data(&tick(1_000, 1.0), NOW_MS).unwrap();
    let topics: Vec<_> = out.iter().map(|m| m.topic.as_str()).collect();
    assert_eq!(topics, ["spBv1.0/plant/DBIRTH/simulator/pump-1", "spBv1.0/plant/DBIRTH/simulator/pump-2"]);
    let mut aliases = Vec::new();
    for (i, m) in out.iter().enumerate() {
        let p = decode(m);
        assert_eq!(p.seq, Some(i as u64 + 1));
        let vib = &p.metrics[0];
        assert_eq!(vib.name.as_deref(), Some("vibration"));
        assert_eq!(vib.datatype, Some(datatype::FLOAT_ARRAY));
        assert_eq!(vib.timestamp, Some(1_000));
        assert_eq!(vib.value, Some(MetricValue::BytesValue(float_array_bytes(&[1.0, -1.0, 0.5]))));
        assert_eq!(vib.properties, Some(sample_rate_properties(25_600.0)));
        let temp = &p.metrics[1];
        assert_eq!(temp.name.as_deref(), Some("temperature"));
        assert_eq!(temp.datatype, Some(datatype::DOUBLE));
        assert_eq!(temp.value, Some(MetricValue::DoubleValue(1.0)));
        aliases.extend(p.metrics.iter().map(|m| m.alias.unwrap()));
    }
    // Aliases are unique across the whole edge node, not only per device.
    assert_eq!(aliases, [1, 2, 3, 4]);
}

#[test]
fn data_goes_by_alias_only_and_seq_wraps_across_the_node() {
    let mut node = EdgeNode::new("g", "e").unwrap();
    node.births(0, NOW_MS);
    node.data(&tick(0, 0.0), NOW_MS).unwrap(); // two DBIRTHs: seq 1, 2
    let mut seqs = vec![0, 1, 2];
    for k in 1..200 {
        for m in node.data(&tick(k * 1000, k as f32), NOW_MS).unwrap() {
            assert!(m.topic.starts_with("spBv1.0/g/DDATA/e/pump-"), "{}", m.topic);
            let p = decode(&m);
            assert!(p.metrics.iter().all(|m| m.name.is_none() && m.alias.is_some() && m.datatype.is_none()));
            assert_eq!(p.metrics[1].value, Some(MetricValue::DoubleValue(f64::from(k as f32))));
            seqs.push(p.seq.unwrap());
        }
    }
    // 0, 1, 2, ..., 255, 0, 1, ...: every message after NBIRTH is the previous + 1 modulo 256.
    let expected: Vec<u64> = (0..seqs.len() as u64).map(|i| i % 256).collect();
    assert_eq!(seqs, expected);
}

#[test]
fn rebirth_repeats_every_birth_with_the_same_aliases_and_last_values() {
    let mut node = EdgeNode::new("g", "e").unwrap();
    node.births(0, NOW_MS);
    node.data(&tick(0, 0.0), NOW_MS).unwrap();
    node.data(&tick(1000, 3.0), NOW_MS).unwrap();
    let again = node.births(1, NOW_MS + 5);
    assert_eq!(again.len(), 3);
    assert_eq!(decode(&again[0]).metrics[0].value, Some(MetricValue::LongValue(1)));
    assert_eq!(node.bd_seq(), 1);
    let p = decode(&again[2]);
    assert_eq!(again[2].topic, "spBv1.0/g/DBIRTH/e/pump-2");
    assert_eq!(p.seq, Some(2));
    assert_eq!(p.metrics.iter().map(|m| m.alias.unwrap()).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(p.metrics[1].value, Some(MetricValue::DoubleValue(3.0)));
    assert_eq!(p.metrics[1].timestamp, Some(1000));
    // Data continues from the birth's seq.
    let next = node.data(&tick(2000, 4.0), NOW_MS).unwrap();
    assert_eq!(decode(&next[0]).seq, Some(3));
}

#[test]
fn a_new_channel_or_a_changed_kind_births_the_device_again() {
    let mut node = EdgeNode::new("g", "e").unwrap();
    node.births(0, NOW_MS);
    node.data(&[scalar("p", "a", 0, 1.0)], NOW_MS).unwrap();
    let out = node.data(&[scalar("p", "a", 1, 2.0), scalar("p", "b", 1, 3.0)], NOW_MS).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, "spBv1.0/g/DBIRTH/e/p");
    let names: Vec<_> = decode(&out[0]).metrics.iter().map(|m| (m.name.clone().unwrap(), m.alias.unwrap())).collect();
    assert_eq!(names, [("a".to_owned(), 1), ("b".to_owned(), 2)]);
    let out = node.data(&[window("p", "a", 2, vec![1.0])], NOW_MS).unwrap();
    assert_eq!(out[0].topic, "spBv1.0/g/DBIRTH/e/p");
    assert_eq!(decode(&out[0]).metrics[0].datatype, Some(datatype::FLOAT_ARRAY));
}

#[test]
fn rebirth_requests_are_recognised_and_nothing_else() {
    let node = EdgeNode::new("plant", "simulator").unwrap();
    assert_eq!(node.command_topic(), "spBv1.0/plant/NCMD/simulator");
    let cmd = rebirth_command("plant", "simulator", Timestamp(NOW_MS as i64 * 1000));
    assert!(node.is_rebirth_request(&cmd.topic, &cmd.payload));
    let other = rebirth_command("plant", "other", Timestamp(0));
    assert!(!node.is_rebirth_request(&other.topic, &other.payload));
    assert!(!node.is_rebirth_request(&cmd.topic, b"\xff\xff not protobuf"));
    let no = Payload {
        metrics: vec![Metric {
            name: Some(REBIRTH_METRIC.into()),
            value: Some(MetricValue::BooleanValue(false)),
            ..Metric::default()
        }],
        ..Payload::default()
    };
    assert!(!node.is_rebirth_request(&cmd.topic, &encode_payload(&no)));
}

#[test]
fn bad_ids_and_times_before_the_epoch_are_refused_without_changing_state() {
    for (group, node) in [("", "e"), ("g", "a/b"), ("g+", "e"), ("g", "#")] {
        assert!(matches!(EdgeNode::new(group, node), Err(EdgeError::InvalidId { .. })), "{group} {node}");
    }
    let mut node = EdgeNode::new("g", "e").unwrap();
    node.births(0, NOW_MS);
    let err = node.data(&[scalar("ok", "c", 0, 1.0), scalar("a/b", "c", 0, 1.0)], NOW_MS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sparkplug device id `a/b` cannot be a topic level (empty, or holds `/`, `+`, `#` or NUL)"
    );
    let err = node.data(&[scalar("p", "c", -1, 1.0)], NOW_MS).unwrap_err();
    assert!(matches!(err, EdgeError::BeforeEpoch { t_us: -1000, .. }), "{err}");
    // Nothing was announced: the next good batch is the first DBIRTH, seq 1.
    let out = node.data(&[scalar("ok", "c", 0, 1.0)], NOW_MS).unwrap();
    assert_eq!(out[0].topic, "spBv1.0/g/DBIRTH/e/ok");
    assert_eq!(decode(&out[0]).seq, Some(1));
}

#[test]
fn the_host_decoder_reads_back_exactly_what_was_published() {
    let mut node = EdgeNode::new("plant", "simulator").unwrap();
    let mut host = SparkplugDecoder::new();
    let now = Timestamp(NOW_MS as i64 * 1000);
    let mut sent = Vec::new();
    let mut received = Vec::new();
    let mut messages = node.births(0, NOW_MS);
    for k in 0..300 {
        let batch = tick(1_700_000_000_000 + k * 1000, k as f32 * 0.25);
        messages.extend(node.data(&batch, NOW_MS).unwrap());
        sent.extend(batch);
    }
    for m in &messages {
        let out = host.decode(&m.topic, &m.payload, now);
        assert_eq!(out.command, None, "{}", m.topic);
        received.extend(out.samples.unwrap());
    }
    assert_eq!(received, sent);
}
