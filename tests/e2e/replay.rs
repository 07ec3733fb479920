//! `spikewatch replay --publish`: the real binary publishes a CSV and a WAV recording to a broker, and a
//! subscriber counts and decodes every message.

use super::*;
use connectors::{CsvOptions, WavOptions, decode_binary, decode_json, read_csv_with, read_wav};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use snn_engine::{AssetId, ChannelId, Sample};

/// Hang guard for every wait; not a timed assertion.
const GUARD: Duration = Duration::from_secs(60);

/// A generic CSV: two channels, a text column spikewatch ignores, and one unreadable row.
const CSV: &str = "time;temperature;current;status\n\
    2024-01-01T00:00:00Z;40.5;3.1;ok\n\
    2024-01-01T00:00:01Z;40.6;3.2;ok\n\
    not a time;40.7;3.3;ok\n\
    1704067202.5;40.7;3.3;ok\n\
    2024-01-01 00:00:04;40.8;3.4;ok\n";

/// A mono 16-bit WAV of `samples` at 1 kHz.
fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut out = b"RIFF".to_vec();
    out.extend((36 + data.len() as u32).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    // PCM, 1 channel, 1000 Hz, 2000 bytes/s, 2-byte frames, 16 bits.
    for field in [1u16, 1] {
        out.extend(field.to_le_bytes());
    }
    out.extend(1000u32.to_le_bytes());
    out.extend(2000u32.to_le_bytes());
    for field in [2u16, 16] {
        out.extend(field.to_le_bytes());
    }
    out.extend(b"data");
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out
}

/// Subscribes to `<prefix>/#` at QoS 1 and returns once the broker has acknowledged the subscription; the
/// task then collects `(topic, payload)` until `want` messages arrived.
async fn subscribe(url: &str, prefix: &str, want: usize) -> tokio::task::JoinHandle<Vec<(String, Vec<u8>)>> {
    let (host, port) = url.strip_prefix("mqtt://").and_then(|a| a.rsplit_once(':')).expect("mqtt://host:port");
    let mut options = MqttOptions::new(format!("{prefix}-sub"), host, port.parse().unwrap());
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    client.subscribe(format!("{prefix}/#"), QoS::AtLeastOnce).await.unwrap();
    tokio::time::timeout(GUARD, async {
        while !matches!(eventloop.poll().await.expect("subscriber connects"), Event::Incoming(Packet::SubAck(_))) {}
    })
    .await
    .expect("subscription acknowledged");
    tokio::spawn(async move {
        let mut received = Vec::new();
        while received.len() < want {
            match tokio::time::timeout(GUARD, eventloop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => received.push((p.topic, p.payload.to_vec())),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("subscriber lost its connection: {e}"),
                Err(_) => break,
            }
        }
        client.disconnect().await.ok();
        received
    })
}

/// Runs `spikewatch replay <args>` to completion and returns its stdout.
fn replay(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_spikewatch"))
        .arg("replay")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("spikewatch binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "replay failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn recordings_drive_a_broker(url: &str) {
    let runtime = runtime();
    let dir = temp_dir("replay-publish");
    let prefix = unique("replay");
    let csv = dir.join("line-3.csv");
    std::fs::write(&csv, CSV).unwrap();
    let wav = dir.join("fan.wav");
    let audio: Vec<i16> = (0..200).map(|i| ((f64::from(i) * 0.3).sin() * 12_000.0) as i16).collect();
    std::fs::write(&wav, wav_bytes(&audio)).unwrap();

    // What the recordings hold, read with the parsers the binary uses: 4 good rows x 2 channels, and 3
    // full windows of 64 samples.
    let start = "2024-01-01T00:00:00Z";
    let mut want: Vec<Sample> = read_csv_with(&csv, &AssetId::from("line-3"), &CsvOptions::default()).unwrap().samples;
    let wav_options = WavOptions { window_len: 64, start: Timestamp(1_704_067_200_000_000) };
    want.extend(read_wav(&wav, &AssetId::from("fan"), &wav_options).unwrap().samples);
    assert_eq!(want.len(), 8 + 3);

    let collector = runtime.block_on(subscribe(url, &prefix, want.len()));
    // The CSV paced at 100 x real time (its 4 s take 40 ms), the WAV as fast as possible.
    let csv_out = replay(&[csv.to_str().unwrap(), "--publish", url, "--topic-prefix", &prefix, "--speed", "100"]);
    assert!(csv_out.contains("published 8 messages"), "{csv_out}");
    assert!(csv_out.contains("1 unreadable rows, non-numeric columns ignored: status"), "{csv_out}");
    let wav_args = ["--publish", url, "--topic-prefix", &prefix, "--window-len", "64", "--start", start];
    let wav_out = replay(&[&[wav.to_str().unwrap()][..], &wav_args].concat());
    assert!(wav_out.contains("published 3 messages"), "{wav_out}");
    assert!(wav_out.contains("8 samples per channel after the last full window left out"), "{wav_out}");

    let received = runtime.block_on(async { tokio::time::timeout(GUARD, collector).await }).unwrap().unwrap();
    assert_eq!(received.len(), want.len(), "every published reading arrives");
    let mut got: Vec<Sample> = received
        .iter()
        .flat_map(|(topic, payload)| {
            let levels: Vec<&str> = topic.split('/').collect();
            assert_eq!((levels.len(), levels[0]), (3, prefix.as_str()), "{topic}");
            decode_json(&AssetId::from(levels[1]), &ChannelId::from(levels[2]), payload).unwrap()
        })
        .collect();
    // Compared as sets: the two recordings went out one after the other, but nothing here depends on order.
    let key = |s: &Sample| (s.asset.to_string(), s.t, s.channel.to_string());
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want, "the broker carried exactly the recorded readings");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn replay_publishes_recordings_to_the_embedded_broker() {
    let broker = start_embedded_broker(0).expect("embedded broker starts");
    recordings_drive_a_broker(&broker.url());
}

#[test]
fn replay_publishes_recordings_to_mosquitto() {
    let Ok(url) = std::env::var("SPIKEWATCH_TEST_MQTT_URL") else {
        eprintln!("skipped: SPIKEWATCH_TEST_MQTT_URL not set");
        return;
    };
    recordings_drive_a_broker(&url);
}

/// `--format binary`: the WAV's windows go out as `SWW1` on `<prefix>/<asset>/<channel>/binary`, the
/// topic `spikewatch simulate --format binary` documents, and decode to exactly the recorded windows.
#[test]
fn replay_publishes_windows_as_binary() {
    let broker = start_embedded_broker(0).expect("embedded broker starts");
    let url = broker.url();
    let runtime = runtime();
    let dir = temp_dir("replay-binary");
    let prefix = unique("replay-bin");
    let wav = dir.join("fan.wav");
    let audio: Vec<i16> = (0..200).map(|i| ((f64::from(i) * 0.7).cos() * 9_000.0) as i16).collect();
    std::fs::write(&wav, wav_bytes(&audio)).unwrap();
    let start = "2024-01-01T00:00:00Z";
    let wav_options = WavOptions { window_len: 64, start: Timestamp(1_704_067_200_000_000) };
    let want = read_wav(&wav, &AssetId::from("fan"), &wav_options).unwrap().samples;
    assert_eq!(want.len(), 3);

    let collector = runtime.block_on(subscribe(&url, &prefix, want.len()));
    let args =
        ["--publish", &url, "--topic-prefix", &prefix, "--window-len", "64", "--start", start, "--format", "binary"];
    let out = replay(&[&[wav.to_str().unwrap()][..], &args].concat());
    assert!(out.contains("published 3 messages"), "{out}");
    let received = runtime.block_on(async { tokio::time::timeout(GUARD, collector).await }).unwrap().unwrap();
    let got: Vec<Sample> = received
        .iter()
        .flat_map(|(topic, payload)| {
            let levels: Vec<&str> = topic.split('/').collect();
            assert_eq!((levels.len(), levels[0], levels[3]), (4, prefix.as_str(), "binary"), "{topic}");
            decode_binary(&AssetId::from(levels[1]), &ChannelId::from(levels[2]), payload).unwrap()
        })
        .collect();
    assert_eq!(got, want, "the broker carried exactly the recorded windows, in order");
    std::fs::remove_dir_all(dir).unwrap();
}
