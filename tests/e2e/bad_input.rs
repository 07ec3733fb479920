//! Bad input never crashes the server and never vanishes: every kind is counted by reason, listed, and the
//! readings around it are processed.

use super::*;
use support::publish_raw;

fn bad_input_is_counted_and_the_stream_goes_on(services: Services, runtime: &tokio::runtime::Runtime, dir: &Path) {
    let http_port = free_port();
    let root = unique("plant");
    let config = write_config(dir, &serve_config(dir, &services, http_port, &root, &unique("spikewatch")));
    let mut server = Server::start(&["serve", "--config", config.to_str().unwrap()], format!("127.0.0.1:{http_port}"));

    let topic = |asset: &str, channel: &str| format!("{root}/{asset}/{channel}");
    let json = |t: u64, value: &str| format!("{{\"t\": {t}, \"value\": {value}}}").into_bytes();
    let messages = vec![
        (topic("pump-1", "temperature"), json(2_000, "40.0")),
        (topic("pump-1", "temperature"), b"{\"t\": 2500, \"value\":".to_vec()), // malformed JSON
        (topic("pump-1", "vibration"), vec![b' '; 300_000]),                    // over max_payload_bytes
        (topic("pump-1", "temperature"), json(3_000, "\"NaN\"")),               // non-finite
        (topic("pump-9", "temperature"), json(3_000, "1.0")),                   // unknown asset
        (topic("pump-1", "pressure"), json(3_000, "1.0")),                      // unknown channel
        (topic("pump-1", "temperature"), json(1_000, "40.0")),                  // timestamp backwards
        (topic("pump-1", "vibration"), json(3_000, "1.0")),                     // a scalar on a window channel
        (topic("pump-1", "temperature"), json(4_000, "41.0")),
    ];
    runtime.block_on(publish_raw(&services.mqtt_url, &messages));

    let rejected =
        |s: &Server, reason: &str| s.metric(&format!("spikewatch_ingest_rejected_total{{reason=\"{reason}\"}}"));
    server.wait_for("both good readings and every bad one", Duration::from_secs(60), |s| {
        let processed = s.metric("spikewatch_pipeline_samples_processed_total");
        let total: f64 =
            ["malformed", "oversized", "non_finite", "unknown_asset", "unknown_channel", "timestamp_backwards"]
                .iter()
                .map(|r| rejected(s, r))
                .sum();
        (processed == 2.0 && total == 7.0).then_some(())
    });
    for (reason, count) in [
        ("malformed", 2.0),
        ("oversized", 1.0),
        ("non_finite", 1.0),
        ("unknown_asset", 1.0),
        ("unknown_channel", 1.0),
        ("timestamp_backwards", 1.0),
    ] {
        assert_eq!(rejected(&server, reason), count, "reason {reason}");
    }
    let rejects = server.get_json("/api/v1/ingest/rejects");
    let rejects = rejects["rejects"].as_array().unwrap();
    assert_eq!(rejects.len(), 7);
    assert!(rejects.iter().any(|r| r["reason"] == "unknown_asset" && r["source"].as_str().unwrap().contains("pump-9")));
    let pump = server.get_json("/api/v1/assets/pump-1");
    assert_eq!(pump["samples"], 2);
    assert_eq!(pump["last_sample_at"], "1970-01-01T00:00:04.000Z");

    let (status, _) = server.stop("TERM");
    assert!(status.success(), "spikewatch did not exit cleanly: {status}");
}

#[test]
fn embedded_broker_bad_input_is_counted_and_the_stream_goes_on() {
    let dir = temp_dir("bad-sqlite");
    bad_input_is_counted_and_the_stream_goes_on(embedded_services(&dir), &runtime(), &dir);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mosquitto_bad_input_is_counted_and_the_stream_goes_on() {
    let runtime = runtime();
    let Some(services) = external_services(&runtime, "bad") else { return };
    let dir = temp_dir("bad-postgres");
    bad_input_is_counted_and_the_stream_goes_on(services, &runtime, &dir);
    std::fs::remove_dir_all(dir).unwrap();
}
