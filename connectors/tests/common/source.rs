//! spikewatch's MQTT source run against a broker in a test: start it, publish probes until it is
//! subscribed, collect what it hands on, stop it.

use super::publish::publish_acknowledged;
use connectors::{Ingest, MqttConfig, Rejection, SourceStats, run_mqtt_source};
use rumqttc::MqttOptions;
use snn_engine::Sample;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Hang guard for every wait; not a timed assertion.
const GUARD: Duration = Duration::from_secs(60);

/// The shared Mosquitto of `SPIKEWATCH_TEST_MQTT_URL`; `None`, saying the test skipped, when unset.
pub fn mosquitto_url() -> Option<String> {
    let url = std::env::var("SPIKEWATCH_TEST_MQTT_URL").ok();
    if url.is_none() {
        println!("skipped: SPIKEWATCH_TEST_MQTT_URL not set");
    }
    url
}

/// A name no other test run uses (topics, client ids).
pub fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("swtest-{tag}-{}-{nanos}", std::process::id())
}

/// A running `run_mqtt_source` and the pipeline queue it feeds.
pub struct RunningSource {
    pub rx: mpsc::Receiver<Ingest>,
    pub stats: Arc<SourceStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), connectors::MqttError>>,
}

/// Starts the source with `config`; its pipeline queue holds `capacity` items (1 makes a stalled
/// pipeline bite at once).
pub fn spawn_source(config: MqttConfig, capacity: usize) -> RunningSource {
    let (tx, rx) = mpsc::channel(capacity);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(run_mqtt_source(config, tx, stats.clone(), shutdown));
    RunningSource { rx, stats, stop, task }
}

impl RunningSource {
    /// Shuts the source down and checks it ended cleanly.
    pub async fn stop(self) {
        self.stop.send(true).unwrap();
        timeout(GUARD, self.task).await.expect("source stops on shutdown").unwrap().unwrap();
    }

    /// The next item the source hands on.
    pub async fn next(&mut self) -> Ingest {
        timeout(GUARD, self.rx.recv()).await.expect("an item arrives").expect("source alive")
    }
}

/// Publishes one message at QoS 1 and waits for its PubAck.
pub async fn publish_raw(url: &str, client_id: &str, topic: &str, payload: &[u8]) {
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_max_packet_size(1 << 24, 1 << 24);
    publish_acknowledged(opts, topic, payload).await;
}

/// Publishes `probe` to `topic` until the source hands on a sample of asset `probe`: then it is
/// connected and subscribed.
pub async fn wait_until_subscribed(url: &str, prefix: &str, source: &mut RunningSource, topic: &str, probe: &[u8]) {
    timeout(GUARD, async {
        loop {
            publish_raw(url, &format!("{prefix}-probe"), topic, probe).await;
            if let Ok(Some(Ingest::Sample(s))) = timeout(Duration::from_millis(500), source.rx.recv()).await {
                assert_eq!(s.asset.as_str(), "probe");
                // Drain later probes that may still be in flight.
                while let Ok(Some(_)) = timeout(Duration::from_millis(300), source.rx.recv()).await {}
                return;
            }
        }
    })
    .await
    .expect("source subscribed");
}

/// Receives until `want` samples arrived; returns them and the rejections seen on the way.
pub async fn collect(source: &mut RunningSource, want: usize) -> (Vec<Sample>, Vec<Rejection>) {
    let mut samples = Vec::new();
    let mut rejections = Vec::new();
    timeout(GUARD, async {
        while samples.len() < want {
            match source.rx.recv().await.expect("source alive") {
                Ingest::Sample(s) => samples.push(s),
                Ingest::Rejected(r) => rejections.push(r),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {want} samples arrived", samples.len()));
    (samples, rejections)
}
