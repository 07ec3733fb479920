//! Decode throughput of the payload formats on one core: `cargo bench -p connectors --bench decode`.
//!
//! Plain `std` timing (no criterion) to keep the build lean: each case decodes a fixed number
//! of prepared messages once to warm up, then again timed, and prints messages/s and samples/s.
//! Figures are per core: the MQTT source decodes on one task.

use connectors::sparkplug::array::{float_array_bytes, sample_rate_properties};
use connectors::sparkplug::proto::{Metric, MetricValue, Payload, datatype};
use connectors::sparkplug::{SparkplugDecoder, encode_payload};
use connectors::{BinarySamples, decode_binary, decode_json, encode_binary_window, encode_json};
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::hint::black_box;
use std::time::Instant;

const WINDOW: usize = 2048;
const METRICS: usize = 10;

/// Runs `decode` over `messages` once untimed and `rounds` times timed; prints the rates.
fn bench(name: &str, rounds: usize, messages: usize, mut decode: impl FnMut(usize) -> usize) {
    let mut samples = 0;
    for i in 0..messages {
        samples += decode(i);
    }
    let samples_per_round = samples;
    let start = Instant::now();
    for _ in 0..rounds {
        for i in 0..messages {
            black_box(decode(i));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = (rounds * messages) as f64;
    println!(
        "{name:<34} {:>12.0} messages/s {:>14.0} samples/s  ({} messages in {secs:.3} s)",
        n / secs,
        (rounds * samples_per_round) as f64 / secs,
        rounds * messages
    );
}

fn main() {
    let (asset, channel) = (AssetId::from("pump-1"), ChannelId::from("vibration"));
    let t = Timestamp::from_millis(1_700_000_000_000);
    let window: Vec<f32> = (0..WINDOW).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
    let sample = |reading| Sample { asset: asset.clone(), channel: channel.clone(), t, reading };

    let scalar = encode_json(&sample(Reading::Scalar(21.375)));
    bench("json scalar", 10, 20_000, |_| decode_json(&asset, &channel, &scalar).unwrap().len());

    let json_window = encode_json(&sample(Reading::Window { sample_rate_hz: 25_600.0, samples: window.clone() }));
    bench("json window (2048 samples)", 10, 200, |_| {
        match &decode_json(&asset, &channel, &json_window).unwrap()[0].reading {
            Reading::Window { samples, .. } => samples.len(),
            Reading::Scalar(_) => 1,
        }
    });

    let binary = encode_binary_window(t, 25_600.0, BinarySamples::F32(&window));
    bench("binary f32 window (2048 samples)", 10, 5_000, |_| {
        match &decode_binary(&asset, &channel, &binary).unwrap()[0].reading {
            Reading::Window { samples, .. } => samples.len(),
            Reading::Scalar(_) => 1,
        }
    });
    let raw: Vec<i16> = window.iter().map(|v| (v * 1000.0) as i16).collect();
    let binary16 = encode_binary_window(t, 25_600.0, BinarySamples::I16 { scale: 0.001, samples: &raw });
    bench("binary i16 window (2048 samples)", 10, 5_000, |_| {
        match &decode_binary(&asset, &channel, &binary16).unwrap()[0].reading {
            Reading::Window { samples, .. } => samples.len(),
            Reading::Scalar(_) => 1,
        }
    });

    // Sparkplug: a device born with 10 aliased float metrics, then DDATA by alias, seq cycling 0-255.
    let ms = 1_700_000_000_000u64;
    let metric = |i: usize, named: bool| Metric {
        name: named.then(|| format!("sensor-{i}")),
        alias: Some(i as u64),
        datatype: named.then_some(datatype::FLOAT),
        value: Some(MetricValue::FloatValue(i as f32 * 1.5)),
        ..Metric::default()
    };
    let payload = |seq: u8, named: bool| {
        let metrics = (0..METRICS).map(|i| metric(i, named)).collect();
        encode_payload(&Payload { timestamp: Some(ms), seq: Some(u64::from(seq)), metrics, ..Payload::default() })
    };
    let ddata: Vec<Vec<u8>> = (0..=255u8).map(|seq| payload(seq, false)).collect();
    let mut decoder = SparkplugDecoder::new();
    let now = Timestamp(0);
    decoder.decode("spBv1.0/g/NBIRTH/edge", &payload(0, true), now).samples.unwrap();
    decoder.decode("spBv1.0/g/DBIRTH/edge/pump-1", &payload(1, true), now).samples.unwrap();
    // Message i carries seq (i + 2) mod 256; 25 600 is a multiple of 256, so every round continues the sequence.
    bench("sparkplug ddata (10 metrics)", 10, 25_600, |i| {
        let out = decoder.decode("spBv1.0/g/DDATA/edge/pump-1", &ddata[(i + 2) % 256], now);
        out.samples.expect("in-sequence ddata decodes").len()
    });

    // Sparkplug windows: a FloatArray metric of 2048 samples per DDATA, its rate in the metric property.
    let array = |seq: u8, named: bool| {
        let m = Metric {
            name: named.then(|| "vibration".to_owned()),
            alias: Some(100),
            datatype: named.then_some(datatype::FLOAT_ARRAY),
            properties: Some(sample_rate_properties(25_600.0)),
            value: Some(MetricValue::BytesValue(float_array_bytes(&window))),
            ..Metric::default()
        };
        encode_payload(&Payload {
            timestamp: Some(ms),
            seq: Some(u64::from(seq)),
            metrics: vec![m],
            ..Payload::default()
        })
    };
    let windows: Vec<Vec<u8>> = (0..=255u8).map(|seq| array(seq, false)).collect();
    decoder.decode("spBv1.0/g/NBIRTH/edge2", &payload(0, true), now).samples.unwrap();
    decoder.decode("spBv1.0/g/DBIRTH/edge2/pump-1", &array(1, true), now).samples.unwrap();
    // 5 120 is a multiple of 256 as well.
    bench("sparkplug FloatArray window (2048)", 10, 5_120, |i| {
        let out = decoder.decode("spBv1.0/g/DDATA/edge2/pump-1", &windows[(i + 2) % 256], now);
        match &out.samples.expect("in-sequence ddata decodes")[0].reading {
            Reading::Window { samples, .. } => samples.len(),
            Reading::Scalar(_) => 1,
        }
    });
}
