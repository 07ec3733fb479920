//! End-to-end MQTT tests: the simulator publishes through a broker (embedded rumqttd, and a real Mosquitto when `SPIKEWATCH_TEST_MQTT_URL` is set) into `run_mqtt_source`, which speaks MQTT 3.1.1 or, against Mosquitto, MQTT 5.

#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/publish.rs"]
mod publish;
#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/source.rs"]
mod source;

use connectors::{
    BackpressurePolicy, Ingest, MqttConfig, MqttProtocol, PlantSimulator, RejectReason, SimConfig, SourceStats,
    publish_simulation, start_embedded_broker,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use snn_engine::{Sample, Timestamp};
use source::{RunningSource, collect, mosquitto_url, publish_raw, spawn_source, unique};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

/// Hang guard for every wait; not a timed assertion.
const GUARD: Duration = Duration::from_secs(60);

fn sim_config() -> SimConfig {
    // Short windows keep the test light; the path is the same as for 2048 samples.
    SimConfig { assets: 2, seed: 7, window_len: 256, ..SimConfig::default() }
}

const SIM_START_MS: i64 = 1_700_000_000_000;

fn source_config(url: &str, prefix: &str, protocol: MqttProtocol) -> MqttConfig {
    MqttConfig {
        url: url.to_owned(),
        protocol,
        client_id: format!("{prefix}-src"),
        topics: vec![format!("{prefix}/{{asset}}/{{channel}}").into()],
        reconnect_min_ms: 50,
        reconnect_max_ms: 500,
        ..MqttConfig::default()
    }
}

/// Publishes JSON probes until one comes through: then the source is connected and subscribed.
async fn wait_until_subscribed(url: &str, prefix: &str, source: &mut RunningSource) {
    let probe_topic = format!("{prefix}/probe/ready");
    source::wait_until_subscribed(url, prefix, source, &probe_topic, br#"{"t": 0, "value": 0}"#).await;
}

/// What the simulator produces for `ticks` ticks, keyed like the received samples.
fn expected(ticks: usize) -> HashMap<(String, String, Timestamp), Sample> {
    let mut sim = PlantSimulator::new(sim_config(), Timestamp::from_millis(SIM_START_MS));
    (0..ticks).flat_map(|_| sim.tick()).map(|s| ((s.asset.to_string(), s.channel.to_string(), s.t), s)).collect()
}

async fn simulation_flows_through(url: &str, tag: &str, protocol: MqttProtocol) {
    let prefix = unique(tag);
    let mut source = spawn_source(source_config(url, &prefix, protocol), 16);
    wait_until_subscribed(url, &prefix, &mut source).await;

    // A malformed message first: it must come out as a rejection and not stop the stream.
    publish_raw(url, &format!("{prefix}-bad"), &format!("{prefix}/pump-1/vibration"), b"{not json").await;

    let ticks = 3;
    let sim = PlantSimulator::new(sim_config(), Timestamp::from_millis(SIM_START_MS));
    let publisher = MqttConfig { url: url.to_owned(), client_id: format!("{prefix}-pub"), ..MqttConfig::default() };
    let (_stop_pub, pub_shutdown) = watch::channel(false);
    let published = timeout(
        GUARD,
        publish_simulation(sim, publisher, prefix.clone(), f64::INFINITY, Some(ticks as f64), pub_shutdown),
    )
    .await
    .expect("publishing finishes")
    .unwrap();
    let want = expected(ticks);
    assert_eq!(published as usize, want.len(), "every published message acknowledged");

    let (samples, rejections) = collect(&mut source, want.len()).await;
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!(rejections[0].reason, RejectReason::Malformed);
    assert_eq!(rejections[0].source, format!("{prefix}/pump-1/vibration"));
    // Every sample arrives exactly once and bit-identical to what the simulator produced.
    let mut seen = HashMap::new();
    for s in samples {
        let key = (s.asset.to_string(), s.channel.to_string(), s.t);
        assert_eq!(want.get(&key), Some(&s), "unexpected sample {key:?}");
        assert!(seen.insert(key, ()).is_none(), "duplicate sample");
    }
    assert_eq!(seen.len(), want.len());
    assert!(source.stats.messages_received.load(Ordering::Relaxed) >= want.len() as u64 + 2);
    assert!(source.stats.bytes_received.load(Ordering::Relaxed) > 0);
    assert!(source.stats.connections.load(Ordering::Relaxed) >= 1);
    source.stop().await;
    forget_session(url, &format!("{prefix}-src")).await;
}

/// Connects once with a clean session so a real broker drops the test's persistent session.
async fn forget_session(url: &str, client_id: &str) {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    let _ = timeout(Duration::from_secs(5), async {
        while !matches!(eventloop.poll().await, Ok(Event::Incoming(Packet::ConnAck(_))) | Err(_)) {}
    })
    .await;
    client.disconnect().await.ok();
    let _ = timeout(Duration::from_secs(2), eventloop.poll()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_end_to_end() {
    let broker = start_embedded_broker(0).unwrap();
    simulation_flows_through(&broker.url(), "embedded", MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_end_to_end() {
    let Some(url) = mosquitto_url() else { return };
    simulation_flows_through(&url, "mosquitto", MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_end_to_end_with_mqtt5() {
    let Some(url) = mosquitto_url() else { return };
    simulation_flows_through(&url, "mosquitto5", MqttProtocol::V5).await;
}

/// A subscriber to `filter` that forwards the publishes it receives.
async fn watch_topic(url: &str, client_id: &str, filter: &str) -> mpsc::Receiver<rumqttc::Publish> {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let (client, mut eventloop) = AsyncClient::new(MqttOptions::new(client_id, "127.0.0.1", port), 10);
    client.subscribe(filter, QoS::AtMostOnce).await.unwrap();
    timeout(GUARD, async { while !matches!(eventloop.poll().await, Ok(Event::Incoming(Packet::SubAck(_)))) {} })
        .await
        .expect("watcher subscribed");
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let _client = client;
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event
                && tx.send(p).await.is_err()
            {
                return;
            }
        }
    });
    rx
}

async fn sparkplug_gap_publishes_a_rebirth(url: &str, tag: &str, protocol: MqttProtocol) {
    use connectors::sparkplug::proto::{Metric, MetricValue, Payload};
    use connectors::sparkplug::{REBIRTH_METRIC, decode_payload, encode_payload};

    let prefix = unique(tag);
    let group = format!("{prefix}-g");
    let sparkplug: connectors::TopicConfig =
        serde_json::from_value(serde_json::json!({"pattern": format!("spBv1.0/{group}/#"), "format": "sparkplug"}))
            .unwrap();
    let mut config = source_config(url, &prefix, protocol);
    config.topics.push(sparkplug);
    let mut source = spawn_source(config, 16);
    wait_until_subscribed(url, &prefix, &mut source).await;
    let mut ncmd = watch_topic(url, &format!("{prefix}-watch"), &format!("spBv1.0/{group}/NCMD/#")).await;
    let payload = |seq: u64| {
        let m = Metric { name: Some("temp".into()), value: Some(MetricValue::DoubleValue(1.5)), ..Metric::default() };
        encode_payload(&Payload {
            timestamp: Some(1_700_000_000_000),
            seq: Some(seq),
            metrics: vec![m],
            ..Payload::default()
        })
    };
    let expect_rebirth = async |ncmd: &mut mpsc::Receiver<rumqttc::Publish>| {
        let p = timeout(GUARD, ncmd.recv()).await.expect("a rebirth request is published").unwrap();
        assert_eq!(p.topic, format!("spBv1.0/{group}/NCMD/edge1"));
        let m = &decode_payload(&p.payload).unwrap().metrics[0];
        assert_eq!((m.name.as_deref(), &m.value), (Some(REBIRTH_METRIC), &Some(MetricValue::BooleanValue(true))));
    };
    let next = async |source: &mut RunningSource| timeout(GUARD, source.rx.recv()).await.unwrap().unwrap();
    let client = format!("{prefix}-edge");

    // Data before any birth: rejected, and the edge node is asked to rebirth.
    publish_raw(url, &client, &format!("spBv1.0/{group}/NDATA/edge1"), &payload(3)).await;
    assert!(matches!(next(&mut source).await, Ingest::Rejected(r) if r.reason == RejectReason::Malformed));
    expect_rebirth(&mut ncmd).await;
    // The birth is accepted; a skipped seq is a gap and asks again.
    publish_raw(url, &client, &format!("spBv1.0/{group}/NBIRTH/edge1"), &payload(0)).await;
    assert!(matches!(next(&mut source).await, Ingest::Sample(s) if s.asset.as_str() == "edge1"));
    publish_raw(url, &client, &format!("spBv1.0/{group}/NDATA/edge1"), &payload(2)).await;
    assert!(matches!(next(&mut source).await, Ingest::Rejected(r) if r.reason == RejectReason::SequenceGap));
    expect_rebirth(&mut ncmd).await;
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_sparkplug_rebirth() {
    let broker = start_embedded_broker(0).unwrap();
    sparkplug_gap_publishes_a_rebirth(&broker.url(), "sp-embedded", MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_sparkplug_rebirth() {
    let Some(url) = mosquitto_url() else { return };
    sparkplug_gap_publishes_a_rebirth(&url, "sp-mosquitto", MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_sparkplug_rebirth_with_mqtt5() {
    let Some(url) = mosquitto_url() else { return };
    sparkplug_gap_publishes_a_rebirth(&url, "sp-mosquitto5", MqttProtocol::V5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_retries_until_broker_starts_and_keeps_its_session() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let prefix = unique("retry");
    let config = source_config(&url, &prefix, MqttProtocol::V311);
    let mut source = spawn_source(config.clone(), 16);
    // Nothing listens yet: the source must count failures and keep retrying.
    timeout(GUARD, async {
        while source.stats.connection_errors.load(Ordering::Relaxed) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("connection errors counted");
    let broker = start_embedded_broker(port).unwrap();
    assert_eq!(broker.url(), url);
    wait_until_subscribed(&url, &prefix, &mut source).await;
    source.stop().await;

    // Published while the source is down: kept by the persistent session (QoS 1, clean_session false).
    let topic = format!("{prefix}/pump-9/current");
    for ms in 1..=3 {
        publish_raw(&url, &format!("{prefix}-late"), &topic, format!(r#"{{"t": {ms}, "value": {ms}}}"#).as_bytes())
            .await;
    }
    let mut source = spawn_source(config, 16);
    let (samples, rejections) = collect(&mut source, 3).await;
    assert!(rejections.is_empty(), "{rejections:?}");
    let times: Vec<i64> = samples.iter().map(|s| s.t.as_millis()).collect();
    assert_eq!(times, [1, 2, 3]);
    source.stop().await;
}

/// Publishes `{"t": n, "value": n}` for every n in `times` from one client at QoS 1 and waits for
/// every PubAck, so all of them are with the broker before it returns.
async fn publish_numbered(url: &str, client_id: &str, topic: &str, times: std::ops::RangeInclusive<i64>) {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let count = times.clone().count();
    let (client, mut eventloop) = AsyncClient::new(MqttOptions::new(client_id, "127.0.0.1", port), count + 10);
    for n in times {
        client.publish(topic, QoS::AtLeastOnce, false, format!(r#"{{"t": {n}, "value": {n}}}"#)).await.unwrap();
    }
    let mut acked = 0;
    timeout(GUARD, async {
        while acked < count {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("every numbered publish acknowledged");
    client.disconnect().await.ok();
    let _ = timeout(Duration::from_secs(2), eventloop.poll()).await;
}

/// Readings published while the pipeline stalls and nobody reads `source.rx`.
const STALLED_READINGS: i64 = 100;

/// The source's own queue under `drop_oldest` in the stall tests.
const DROP_OLDEST_CAPACITY: usize = 8;

/// Subscribes a source with a one-slot pipeline queue under `backpressure`, publishes
/// `STALLED_READINGS` numbered readings while nobody reads the pipeline queue, waits until
/// `stalled_until` says the source has done what it will do, then reads the pipeline queue until the
/// last reading arrives. Returns the reading times in arrival order and the source's counters.
async fn stall_then_drain(
    url: &str,
    tag: &str,
    protocol: MqttProtocol,
    backpressure: BackpressurePolicy,
    stalled_until: impl Fn(&SourceStats) -> bool,
) -> (Vec<i64>, Arc<SourceStats>) {
    let prefix = unique(tag);
    let config = MqttConfig {
        backpressure,
        drop_oldest_capacity: DROP_OLDEST_CAPACITY,
        ..source_config(url, &prefix, protocol)
    };
    let mut source = spawn_source(config, 1);
    wait_until_subscribed(url, &prefix, &mut source).await;
    publish_numbered(url, &format!("{prefix}-pub"), &format!("{prefix}/pump-1/temperature"), 1..=STALLED_READINGS)
        .await;
    timeout(GUARD, async {
        while !stalled_until(&source.stats) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the source reached the stalled state");
    let mut times = Vec::new();
    timeout(GUARD, async {
        while times.last() != Some(&STALLED_READINGS) {
            match source.rx.recv().await.expect("source alive") {
                Ingest::Sample(s) if s.asset.as_str() == "pump-1" => times.push(s.t.as_millis()),
                Ingest::Sample(_) => {}
                Ingest::Rejected(r) => panic!("unexpected rejection {r}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the newest reading never arrived; got {times:?}"));
    let stats = source.stats.clone();
    source.stop().await;
    forget_session(url, &format!("{prefix}-src")).await;
    (times, stats)
}

async fn drop_oldest_keeps_the_newest(url: &str, tag: &str, protocol: MqttProtocol) {
    // Room for the source's queue and the pipeline's single slot; everything older is dropped.
    let kept_at_most = DROP_OLDEST_CAPACITY + 1;
    let must_drop = STALLED_READINGS as u64 - kept_at_most as u64;
    let (times, stats) = stall_then_drain(url, tag, protocol, BackpressurePolicy::DropOldest, |stats| {
        stats.backpressure_dropped.load(Ordering::Relaxed) >= must_drop
    })
    .await;
    let dropped = stats.backpressure_dropped.load(Ordering::Relaxed);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "out of order or repeated: {times:?}");
    assert!(times.len() <= kept_at_most, "memory is bounded, yet {} readings were kept: {times:?}", times.len());
    let newest: Vec<i64> = (STALLED_READINGS - DROP_OLDEST_CAPACITY as i64 + 1..=STALLED_READINGS).collect();
    assert!(times.ends_with(&newest), "the newest readings were not kept: {times:?}");
    assert_eq!(times.len() as u64 + dropped, STALLED_READINGS as u64, "every reading kept or counted as dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_drop_oldest_keeps_the_newest_readings_while_the_pipeline_stalls() {
    let broker = start_embedded_broker(0).unwrap();
    drop_oldest_keeps_the_newest(&broker.url(), "drop-embedded", MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_drop_oldest_keeps_the_newest_readings_while_the_pipeline_stalls() {
    let Some(url) = mosquitto_url() else { return };
    drop_oldest_keeps_the_newest(&url, "drop-mosquitto", MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_drop_oldest_keeps_the_newest_readings_while_the_pipeline_stalls_with_mqtt5() {
    let Some(url) = mosquitto_url() else { return };
    drop_oldest_keeps_the_newest(&url, "drop-mosquitto5", MqttProtocol::V5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_loses_nothing_while_the_pipeline_stalls() {
    let broker = start_embedded_broker(0).unwrap();
    // Nothing to wait for: under `block` the source just stops reading, and the broker keeps the rest.
    let (times, stats) =
        stall_then_drain(&broker.url(), "block-embedded", MqttProtocol::V311, BackpressurePolicy::Block, |_| true)
            .await;
    assert_eq!(times, (1..=STALLED_READINGS).collect::<Vec<_>>());
    assert_eq!(stats.backpressure_dropped.load(Ordering::Relaxed), 0);
}

/// The source stops (spikewatch restarts), readings are published meanwhile, and the source starts
/// again with the same client id: its persistent session kept them, so they arrive.
async fn published_while_the_source_is_down_arrive(url: &str, tag: &str, protocol: MqttProtocol) {
    let prefix = unique(tag);
    let config = MqttConfig { session_expiry_s: 600, ..source_config(url, &prefix, protocol) };
    let mut source = spawn_source(config.clone(), 16);
    wait_until_subscribed(url, &prefix, &mut source).await;
    source.stop().await;

    publish_numbered(url, &format!("{prefix}-pub"), &format!("{prefix}/pump-7/pressure"), 1..=20).await;
    let mut source = spawn_source(config, 16);
    let mut times = Vec::new();
    timeout(GUARD, async {
        while times.len() < 20 {
            match source.rx.recv().await.expect("source alive") {
                Ingest::Sample(s) if s.asset.as_str() == "pump-7" => times.push(s.t.as_millis()),
                // A readiness probe still on its way when the source stopped.
                Ingest::Sample(_) => {}
                Ingest::Rejected(r) => panic!("unexpected rejection {r}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of 20 readings arrived: {times:?}", times.len()));
    assert_eq!(times, (1..=20).collect::<Vec<_>>());
    assert!(source.stats.connections.load(Ordering::Relaxed) >= 1);
    source.stop().await;
    forget_session(url, &format!("{prefix}-src")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_keeps_what_is_published_while_the_source_is_down() {
    let Some(url) = mosquitto_url() else { return };
    published_while_the_source_is_down_arrive(&url, "down-mosquitto", MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_keeps_what_is_published_while_the_source_is_down_with_mqtt5() {
    let Some(url) = mosquitto_url() else { return };
    published_while_the_source_is_down_arrive(&url, "down-mosquitto5", MqttProtocol::V5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_assigns_a_client_id_to_an_mqtt5_source_without_one() {
    let Some(url) = mosquitto_url() else { return };
    let prefix = unique("assigned-id");
    // Without a client id there is no session to come back to, so it must be a clean one.
    let config =
        MqttConfig { client_id: String::new(), clean_session: true, ..source_config(&url, &prefix, MqttProtocol::V5) };
    config.validate().unwrap();
    let mut source = spawn_source(config, 16);
    wait_until_subscribed(&url, &prefix, &mut source).await;
    assert_eq!(source.stats.connection_errors.load(Ordering::Relaxed), 0, "the empty client id was refused");
    source.stop().await;
}
