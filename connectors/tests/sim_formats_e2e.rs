//! The simulator publishes binary windows and as a Sparkplug B edge node through a real Mosquitto (`SPIKEWATCH_TEST_MQTT_URL`) into `run_mqtt_source` configured with the documented `[mqtt] topics`: every sample arrives, a late host gets a rebirth, an abruptly dropped simulator is declared dead by its will, and after a lost connection no data comes before the new birth.

use connectors::sparkplug::proto::{MetricValue, Payload};
use connectors::sparkplug::{decode_payload, encode_payload};
use connectors::{Ingest, MqttConfig, PayloadFormat, PlantSimulator, SimConfig, SimPublish, publish_simulation_as};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use snn_engine::{Sample, Timestamp};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/publish.rs"]
mod publish;
#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/source.rs"]
mod source;
use source::{RunningSource, collect, mosquitto_url, spawn_source, unique, wait_until_subscribed};

/// Hang guard for every wait; not a timed assertion.
const GUARD: Duration = Duration::from_secs(60);
const SIM_START_MS: i64 = 1_700_000_000_000;

fn sim_config() -> SimConfig {
    // Two pumps with short windows keep the test light; the path is the same as for 2048 samples.
    SimConfig { assets: 2, seed: 11, window_len: 128, ..SimConfig::default() }
}

fn simulator() -> PlantSimulator {
    PlantSimulator::new(sim_config(), Timestamp::from_millis(SIM_START_MS))
}

/// What the simulator produces for `ticks` ticks, keyed like the received samples.
fn expected(ticks: usize) -> HashMap<(String, String, Timestamp), Sample> {
    let mut sim = simulator();
    (0..ticks).flat_map(|_| sim.tick()).map(|s| ((s.asset.to_string(), s.channel.to_string(), s.t), s)).collect()
}

fn how(format: PayloadFormat, prefix: &str, time_scale: f64, duration_s: Option<f64>) -> SimPublish {
    SimPublish {
        format,
        topic_prefix: prefix.to_owned(),
        sparkplug_group: format!("{prefix}-g"),
        sparkplug_node: "simulator".into(),
        time_scale,
        duration_s,
    }
}

fn publisher_config(url: &str, client_id: String) -> MqttConfig {
    MqttConfig { url: url.to_owned(), client_id, reconnect_min_ms: 50, reconnect_max_ms: 500, ..MqttConfig::default() }
}

/// spikewatch's MQTT source with exactly the `topics` the simulator documents for `how`.
fn source_for(url: &str, prefix: &str, how: &SimPublish) -> RunningSource {
    let config = MqttConfig {
        url: url.to_owned(),
        client_id: format!("{prefix}-src"),
        clean_session: true,
        topics: how.subscriber_topics(),
        reconnect_min_ms: 50,
        reconnect_max_ms: 500,
        ..MqttConfig::default()
    };
    spawn_source(config, 64)
}

/// A client subscribed (QoS 1) to `filters` that forwards what it receives.
async fn watch_topics(url: &str, client_id: &str, filters: &[String]) -> mpsc::UnboundedReceiver<rumqttc::Publish> {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_max_packet_size(1 << 24, 1 << 24);
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    for f in filters {
        client.subscribe(f, QoS::AtLeastOnce).await.unwrap();
    }
    timeout(GUARD, async {
        let mut acked = 0;
        while acked < filters.len() {
            if let Ok(Event::Incoming(Packet::SubAck(_))) = eventloop.poll().await {
                acked += 1;
            }
        }
    })
    .await
    .expect("watcher subscribed");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _client = client;
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event
                && tx.send(p).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Every sample is one the simulator produced, bit-identical, and each arrived once: `ticks`
/// readings of every asset and channel.
fn assert_exactly(samples: &[Sample], want: &HashMap<(String, String, Timestamp), Sample>, ticks: usize) {
    let mut per_channel: HashMap<(String, String), usize> = HashMap::new();
    let mut seen = HashMap::new();
    for s in samples {
        let key = (s.asset.to_string(), s.channel.to_string(), s.t);
        assert_eq!(want.get(&key), Some(s), "unexpected sample {key:?}");
        assert!(seen.insert(key.clone(), ()).is_none(), "duplicate sample {key:?}");
        *per_channel.entry((key.0, key.1)).or_default() += 1;
    }
    let channels: std::collections::HashSet<_> = want.keys().map(|(a, c, _)| (a.clone(), c.clone())).collect();
    assert_eq!(per_channel.len(), channels.len());
    assert!(per_channel.values().all(|n| *n == ticks), "{per_channel:?}");
}

fn bd_seq(p: &rumqttc::Publish) -> u64 {
    let payload = decode_payload(&p.payload).unwrap();
    let m = payload.metrics.iter().find(|m| m.name.as_deref() == Some("bdSeq")).expect("bdSeq metric");
    match m.value {
        Some(MetricValue::LongValue(v)) => v,
        ref other => panic!("bdSeq is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_windows_and_json_scalars_arrive_exactly_once() {
    let Some(url) = mosquitto_url() else { return };
    let prefix = unique("bin");
    let ticks = 5;
    let how = how(PayloadFormat::Binary, &prefix, f64::INFINITY, Some(ticks as f64));
    let mut source = source_for(&url, &prefix, &how);
    wait_until_subscribed(&url, &prefix, &mut source, &format!("{prefix}/probe/ready"), br#"{"t": 0, "value": 0}"#)
        .await;

    let publisher = publisher_config(&url, format!("{prefix}-pub"));
    let (_stop, shutdown) = watch::channel(false);
    let published = timeout(GUARD, publish_simulation_as(simulator(), publisher, how, shutdown))
        .await
        .expect("publishing finishes")
        .unwrap();
    let want = expected(ticks);
    assert_eq!(published as usize, want.len(), "one message per sample, every one acknowledged");
    let (samples, rejections) = collect(&mut source, want.len()).await;
    assert!(rejections.is_empty(), "{rejections:?}");
    assert!(samples.iter().any(|s| matches!(s.reading, snn_engine::Reading::Window { .. })));
    assert!(samples.iter().any(|s| matches!(s.reading, snn_engine::Reading::Scalar(_))));
    assert_exactly(&samples, &want, ticks);
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparkplug_edge_node_delivers_every_sample_and_dies_cleanly() {
    let Some(url) = mosquitto_url() else { return };
    let prefix = unique("spb");
    let ticks = 5;
    let how = how(PayloadFormat::Sparkplug, &prefix, f64::INFINITY, Some(ticks as f64));
    let group = how.sparkplug_group.clone();
    let mut source = source_for(&url, &prefix, &how);
    // Another edge node's birth, with one metric, shows that the source is subscribed.
    let probe = Payload {
        timestamp: Some(1),
        seq: Some(0),
        metrics: vec![connectors::sparkplug::proto::Metric {
            name: Some("ready".into()),
            value: Some(MetricValue::DoubleValue(1.0)),
            ..Default::default()
        }],
        ..Payload::default()
    };
    let probe_topic = format!("spBv1.0/{group}/NBIRTH/probe");
    wait_until_subscribed(&url, &prefix, &mut source, &probe_topic, &encode_payload(&probe)).await;
    let filters = [format!("spBv1.0/{group}/NBIRTH/simulator"), format!("spBv1.0/{group}/NDEATH/simulator")];
    let mut lifecycle = watch_topics(&url, &format!("{prefix}-watch"), &filters).await;

    let publisher = publisher_config(&url, format!("{prefix}-pub"));
    let (_stop, shutdown) = watch::channel(false);
    let published = timeout(GUARD, publish_simulation_as(simulator(), publisher, how, shutdown))
        .await
        .expect("publishing finishes")
        .unwrap();
    // NBIRTH, a DBIRTH per pump (carrying the first tick), a DDATA per pump per later tick, NDEATH.
    let assets = sim_config().assets;
    assert_eq!(published as usize, 1 + assets * ticks + 1);
    let want = expected(ticks);
    let (samples, rejections) = collect(&mut source, want.len()).await;
    assert!(rejections.is_empty(), "{rejections:?}");
    assert_exactly(&samples, &want, ticks);

    let birth = timeout(GUARD, lifecycle.recv()).await.unwrap().unwrap();
    assert!(birth.topic.contains("/NBIRTH/"), "{}", birth.topic);
    let death = timeout(GUARD, lifecycle.recv()).await.unwrap().unwrap();
    assert!(death.topic.contains("/NDEATH/"), "{}", death.topic);
    assert_eq!(bd_seq(&death), bd_seq(&birth), "the goodbye NDEATH names the session of the birth");
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_joins_late_asks_for_a_rebirth_and_then_reads_the_data() {
    let Some(url) = mosquitto_url() else { return };
    let prefix = unique("spb-late");
    // 20 ticks per second for at most 60 s: plenty of time for the late host; stopped below.
    let how = how(PayloadFormat::Sparkplug, &prefix, 20.0, Some(1200.0));
    let group = how.sparkplug_group.clone();
    let filters = [format!("spBv1.0/{group}/NBIRTH/simulator"), format!("spBv1.0/{group}/DDATA/simulator/#")];
    let mut traffic = watch_topics(&url, &format!("{prefix}-watch"), &filters).await;
    let publisher = publisher_config(&url, format!("{prefix}-pub"));
    let (stop_pub, shutdown) = watch::channel(false);
    let running = tokio::spawn(publish_simulation_as(simulator(), publisher, how.clone(), shutdown));

    // Wait until the births are over and data flows: a host subscribing now has missed them.
    let mut nbirths = 0;
    timeout(GUARD, async {
        loop {
            let p = traffic.recv().await.unwrap();
            if p.topic.contains("/NBIRTH/") {
                nbirths += 1;
            } else {
                return;
            }
        }
    })
    .await
    .expect("data flows");
    assert_eq!(nbirths, 1);

    let mut source = source_for(&url, &prefix, &how);
    // The first data it sees cannot be resolved: rejected (and a rebirth requested) ...
    let first = source.next().await;
    assert!(
        matches!(&first, Ingest::Rejected(r) if r.detail.contains("before its NBIRTH")),
        "expected a rejection of data before the birth, got {first:?}"
    );
    // ... after which the simulator is born again and the samples arrive, as simulated.
    let want = expected(1200);
    let mut got = 0;
    timeout(GUARD, async {
        while got < 24 {
            match source.next().await {
                Ingest::Sample(s) => {
                    let key = (s.asset.to_string(), s.channel.to_string(), s.t);
                    assert_eq!(want.get(&key), Some(&s), "unexpected sample {key:?}");
                    got += 1;
                }
                // Data still in flight before the rebirth is refused the same way.
                Ingest::Rejected(r) => assert!(r.detail.contains("before its NBIRTH"), "{r:?}"),
            }
        }
    })
    .await
    .expect("samples arrive after the rebirth");
    let rebirth = timeout(GUARD, async {
        loop {
            let p = traffic.recv().await.unwrap();
            if p.topic.contains("/NBIRTH/") {
                return p;
            }
        }
    })
    .await
    .expect("the simulator published a second NBIRTH");
    assert_eq!(bd_seq(&rebirth), 0, "a rebirth keeps the session's bdSeq");

    stop_pub.send(true).unwrap();
    timeout(GUARD, running).await.expect("publisher stops on shutdown").unwrap().unwrap();
    source.stop().await;
}

/// A TCP proxy to the broker whose connections can be stalled (they stay open but carry nothing,
/// as over a dead route) and cut at once, as if the process on the other side had died: the broker
/// sees the socket close without an MQTT DISCONNECT.
struct CuttableProxy {
    port: u16,
    cut: watch::Sender<u64>,
    stalled: watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(broker_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, cuts) = watch::channel(0u64);
        let (stalled, stalls) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut cuts = cuts.clone();
                cuts.borrow_and_update();
                let stalls = stalls.clone();
                tokio::spawn(async move {
                    let Ok(broker) = TcpStream::connect(("127.0.0.1", broker_port)).await else { return };
                    let ((client_rx, client_tx), (broker_rx, broker_tx)) = (client.into_split(), broker.into_split());
                    tokio::select! {
                        () = pump(client_rx, broker_tx, stalls.clone()) => {}
                        () = pump(broker_rx, client_tx, stalls) => {}
                        _ = cuts.changed() => {}
                    }
                    // Both sockets are dropped here: closed without any MQTT goodbye.
                });
            }
        });
        CuttableProxy { port, cut, stalled }
    }

    fn stall_all(&self) {
        self.stalled.send_replace(true);
    }

    /// Closes every link; new links carry data again.
    fn cut_all(&self) {
        self.stalled.send_replace(false);
        self.cut.send_modify(|n| *n += 1);
    }
}

/// Copies one direction of a link until either side closes; while stalled, what arrives is dropped.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, stalls: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !*stalls.borrow() && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abruptly_dropped_simulator_is_declared_dead_by_its_will() {
    let Some(url) = mosquitto_url() else { return };
    let broker_port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = CuttableProxy::start(broker_port).await;
    let prefix = unique("spb-will");
    let how = how(PayloadFormat::Sparkplug, &prefix, 20.0, Some(1200.0));
    let group = how.sparkplug_group.clone();
    let filters = [format!("spBv1.0/{group}/NBIRTH/simulator"), format!("spBv1.0/{group}/NDEATH/simulator")];
    let mut lifecycle = watch_topics(&url, &format!("{prefix}-watch"), &filters).await;
    let next = async |rx: &mut mpsc::UnboundedReceiver<rumqttc::Publish>| {
        let p = timeout(GUARD, rx.recv()).await.expect("a lifecycle message").unwrap();
        let kind = p.topic.split('/').nth(2).unwrap().to_owned();
        (kind, bd_seq(&p))
    };

    let publisher = publisher_config(&format!("mqtt://127.0.0.1:{}", proxy.port), format!("{prefix}-pub"));
    let (stop_pub, shutdown) = watch::channel(false);
    let running = tokio::spawn(publish_simulation_as(simulator(), publisher, how, shutdown));
    assert_eq!(next(&mut lifecycle).await, ("NBIRTH".into(), 0));

    proxy.cut_all();
    // The broker publishes the will of the lost session, and the simulator reconnects as a new
    // session and is born again (the reconnect waits at least 25 ms, but the order is the broker's).
    let mut after_cut = [next(&mut lifecycle).await, next(&mut lifecycle).await];
    after_cut.sort();
    assert_eq!(after_cut, [("NBIRTH".into(), 1), ("NDEATH".into(), 0)]);
    // ... and a clean stop says goodbye with that session's NDEATH.
    stop_pub.send(true).unwrap();
    timeout(GUARD, running).await.expect("publisher stops on shutdown").unwrap().unwrap();
    assert_eq!(next(&mut lifecycle).await, ("NDEATH".into(), 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_connection_no_data_reaches_the_host_before_the_new_birth() {
    let Some(url) = mosquitto_url() else { return };
    let broker_port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = CuttableProxy::start(broker_port).await;
    let prefix = unique("spb-order");
    // 200 ticks per second: ticks come due while the simulator reconnects, which is what this is about.
    let how = how(PayloadFormat::Sparkplug, &prefix, 200.0, Some(1200.0));
    let group = how.sparkplug_group.clone();
    let mut births =
        watch_topics(&url, &format!("{prefix}-watch"), &[format!("spBv1.0/{group}/NBIRTH/simulator")]).await;
    let mut source = source_for(&url, &prefix, &how);
    let publisher = publisher_config(&format!("mqtt://127.0.0.1:{}", proxy.port), format!("{prefix}-pub"));
    let (stop_pub, shutdown) = watch::channel(false);
    let running = tokio::spawn(publish_simulation_as(simulator(), publisher, how, shutdown));
    // Samples flow: the source is subscribed and has the simulator's birth.
    timeout(GUARD, async { while !matches!(source.next().await, Ingest::Sample(_)) {} }).await.expect("samples flow");

    // A stalled link first, so the simulator has data in flight (never acknowledged) when the link
    // is cut: MQTT would send it again first thing on the next connection, ahead of the new birth.
    proxy.stall_all();
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut_all();
    let reborn = timeout(GUARD, async {
        loop {
            let p = births.recv().await.unwrap();
            if bd_seq(&p) == 1 {
                return;
            }
        }
    });
    reborn.await.expect("the simulator reconnects and is born again");
    // Whatever the simulator produced while it was away must come after its new birth: data
    // between the will (NDEATH) and the next NBIRTH belongs to no session, a host refuses it.
    let per_tick = sim_config().assets * PlantSimulator::channels().len();
    let mut samples = 0;
    let mut rejections = Vec::new();
    while samples < 40 * per_tick {
        match source.next().await {
            Ingest::Sample(_) => samples += 1,
            Ingest::Rejected(r) => rejections.push(r.detail),
        }
    }
    assert!(rejections.is_empty(), "{rejections:#?}");
    // The run (6 s) ends by itself: what the dead session left unacknowledged was dropped, so the
    // publisher does not wait out its 60 s acknowledgement stall for PubAcks that cannot come.
    let acknowledged = timeout(Duration::from_secs(30), running)
        .await
        .expect("the publisher ends without waiting for the lost session's acknowledgements")
        .unwrap()
        .unwrap();
    assert!(acknowledged > 0);
    drop(stop_pub);
    source.stop().await;
}
