//! A private Mosquitto is stopped (SIGTERM, which saves its persistence file) and started again in the middle of a QoS 1 stream: every reading must reach the pipeline side exactly once, with the source speaking MQTT 3.1.1 and MQTT 5.
//!
//! Both ends keep persistent sessions (for MQTT 5: clean start off and a session expiry), so the broker redelivers what it had not seen acknowledged and
//! the publisher resends what it had not seen acknowledged; either can repeat a reading, which the
//! source must count as a duplicate instead of handing it on twice.

#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/mosquitto.rs"]
mod mosquitto;
#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/wait.rs"]
mod wait;

use connectors::{Ingest, MqttConfig, MqttProtocol, Rejection, SourceStats, run_mqtt_source};
use mosquitto::{PrivateMosquitto, find_program};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::timeout;
use wait::{GUARD, wait_for};

/// Readings published in all; the first half streams before the broker stops, the rest after.
const READINGS: i64 = 1000;

/// Reading `n` is published with time `BASE_MS + n`.
const BASE_MS: i64 = 1_700_000_000_000;

/// The broker stops once this many readings reached the pipeline side (well inside the first half).
const STOP_AFTER: usize = 100;

/// Everything the source handed on, as the pipeline would see it.
#[derive(Debug, Default)]
struct PipelineSide {
    /// Reading numbers, in arrival order.
    readings: Vec<i64>,
    /// Readiness probes that came through.
    probes: u64,
    rejections: Vec<Rejection>,
}

/// A pipeline slower than the publisher (about a millisecond per item), so that when the broker
/// stops it holds a backlog for the source, inflight and queued, that its persistence must keep.
fn consume_slowly(mut rx: mpsc::Receiver<Ingest>) -> Arc<Mutex<PipelineSide>> {
    let side = Arc::new(Mutex::new(PipelineSide::default()));
    let sink = side.clone();
    tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            {
                let mut side = sink.lock().unwrap();
                match item {
                    Ingest::Sample(s) if s.asset.as_str() == "probe" => side.probes += 1,
                    Ingest::Sample(s) => side.readings.push(s.t.as_millis() - BASE_MS),
                    Ingest::Rejected(r) => side.rejections.push(r),
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    side
}

/// A QoS 1 publisher with a persistent session: rumqttc resends its unacknowledged publishes after
/// a reconnect, so the readings it published while the broker was down are not lost on its side.
struct Publisher {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
}

impl Publisher {
    fn connect(port: u16, client_id: &str) -> Self {
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_clean_session(false);
        // Room for every publish: a publish made while the broker is down waits in this channel.
        let (client, mut eventloop) = AsyncClient::new(opts, 2 * READINGS as usize);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    // The broker is down: keep polling, which reconnects and resends.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        Publisher { client, acked }
    }

    async fn publish(&self, topic: &str, t: i64, value: i64) {
        let payload = format!(r#"{{"t": {t}, "value": {value}}}"#);
        self.client.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reading_arrives_exactly_once_across_a_mosquitto_restart() {
    every_reading_arrives_exactly_once_across_a_restart(MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reading_arrives_exactly_once_across_a_mosquitto_restart_with_mqtt5() {
    every_reading_arrives_exactly_once_across_a_restart(MqttProtocol::V5).await;
}

async fn every_reading_arrives_exactly_once_across_a_restart(protocol: MqttProtocol) {
    let Some(binary) = find_program("mosquitto") else {
        println!("skipped: mosquitto is not installed");
        return;
    };
    let tag = format!("restart-{protocol}");
    let mut broker = PrivateMosquitto::start(binary, &tag);
    let prefix = format!("swtest-{tag}-{}", std::process::id());

    // Stable client id, persistent session, QoS 1: the defaults, spelled out because they are the point.
    let config = MqttConfig {
        url: broker.url(),
        protocol,
        client_id: format!("{prefix}-src"),
        clean_session: false,
        session_expiry_s: 3600,
        qos: 1,
        topics: vec![format!("{prefix}/{{asset}}/{{channel}}").into()],
        reconnect_min_ms: 50,
        reconnect_max_ms: 200,
        ..MqttConfig::default()
    };
    let (tx, rx) = mpsc::channel(64);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    let source = tokio::spawn(run_mqtt_source(config, tx, stats.clone(), shutdown));
    let side = consume_slowly(rx);
    let publisher = Arc::new(Publisher::connect(broker.port, &format!("{prefix}-pub")));

    // Probes (each with its own time, so none is a duplicate) until one comes through: subscribed.
    let mut probes_published = 0;
    timeout(GUARD, async {
        while side.lock().unwrap().probes == 0 {
            probes_published += 1;
            publisher.publish(&format!("{prefix}/probe/ready"), probes_published, 0).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("source subscribed");

    // The first half is published at once and backs up in the broker; the second half is published
    // only once the broker is down, so it is queued by the publisher and sent after the restart.
    let topic = format!("{prefix}/pump-1/temperature");
    let broker_down = Arc::new(Notify::new());
    let publishing = tokio::spawn({
        let (publisher, broker_down) = (publisher.clone(), broker_down.clone());
        async move {
            for n in 0..READINGS {
                if n == READINGS / 2 {
                    broker_down.notified().await;
                }
                publisher.publish(&topic, BASE_MS + n, n).await;
            }
        }
    });

    wait_for("some readings arrived", || side.lock().unwrap().readings.len() >= STOP_AFTER).await;
    broker.terminate();
    let seen_before_restart = side.lock().unwrap().readings.len();
    broker_down.notify_one();
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.run();

    timeout(GUARD, publishing).await.expect("publishing finishes").unwrap();
    let published = probes_published as u64 + READINGS as u64;
    wait_for("the publisher saw every publish acknowledged", || publisher.acked.load(Ordering::Relaxed) >= published)
        .await;
    wait_for("every reading reached the pipeline side", || {
        let side = side.lock().unwrap();
        side.readings.len() >= READINGS as usize
    })
    .await;
    // Each delivery is either handed on or counted as a duplicate; wait until all are accounted for.
    wait_for("every delivery is accounted for", || accounted_for(&side.lock().unwrap(), &stats)).await;
    stop.send(true).unwrap();
    timeout(GUARD, source).await.expect("source stops").unwrap().unwrap();

    let side = side.lock().unwrap();
    println!(
        "mqtt {protocol}: {seen_before_restart} readings before the restart, {} deliveries, {} duplicates dropped by the source",
        stats.messages_received.load(Ordering::Relaxed),
        stats.duplicates.load(Ordering::Relaxed),
    );
    assert!(side.rejections.is_empty(), "{:?}", side.rejections);
    let mut readings = side.readings.clone();
    readings.sort_unstable();
    readings.dedup();
    assert_eq!(readings.len(), side.readings.len(), "a reading reached the pipeline side twice");
    assert_eq!(readings, (0..READINGS).collect::<Vec<_>>(), "a reading was lost; see {}", broker.log().display());
    assert!(stats.connections.load(Ordering::Relaxed) >= 2, "the source never reconnected");
    assert!(stats.connection_errors.load(Ordering::Relaxed) >= 1, "the source never noticed the broker stop");
    assert!(accounted_for(&side, &stats), "deliveries changed after the source stopped");
    assert_eq!(stats.backpressure_dropped.load(Ordering::Relaxed), 0, "`block` never drops");
}

/// True when every publish the source received was handed on once or counted as a duplicate.
fn accounted_for(side: &PipelineSide, stats: &SourceStats) -> bool {
    let handed_on = side.probes + side.readings.len() as u64 + side.rejections.len() as u64;
    handed_on + stats.duplicates.load(Ordering::Relaxed) == stats.messages_received.load(Ordering::Relaxed)
}
