//! The protocol-neutral MQTT source loop: connect, subscribe, decode every publish into `Ingest` items, drop redeliveries, ack after hand-off, reconnect forever.
//!
//! What differs between MQTT 3.1.1 and MQTT 5 (packets, options, reason codes) stays behind the
//! [`Connection`] and [`Client`] traits, implemented in `v311.rs` and `v5.rs`.

use super::{MqttConfig, MqttError, MqttProtocol, SourceStats};
use crate::backoff::Backoff;
use crate::backpressure::{BackpressurePolicy, DropOldestQueue, Forwarder};
use crate::dedup::Deduplicator;
use crate::ingest::Ingest;
use crate::route::{Command, Decoder};
use snn_engine::Timestamp;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, trace, warn};

/// Publishes read from the network but not yet decoded. Small on purpose: when the pipeline
/// is slow this fills, the event loop stops reading the socket, and TCP (QoS 0) or the broker's
/// inflight window (QoS 1) pushes back on publishers.
const PUBLISH_QUEUE: usize = 64;

/// Capacity of rumqttc's request channel (acks, subscribes). It must exceed the number of
/// unacknowledged publishes the broker may have in flight to us, or the decoder task could
/// block on an ack while the event loop blocks on the full publish queue. With MQTT 5 the
/// source announces a Receive Maximum below it, so the broker itself keeps to that bound.
pub(super) const REQUEST_CHANNEL: usize = 4096;

/// What one poll of a protocol's event loop amounts to for the source.
pub(super) enum Step<P> {
    /// The broker accepted the connection (the glue has logged what it said).
    Connected {
        /// Whether the broker resumed an existing session.
        session_present: bool,
    },
    /// The broker answered a subscription: per filter, in configured order, granted (`Ok`) or
    /// refused with the reason code and its meaning (`Err`).
    Subscribed(Vec<Result<(), String>>),
    /// An application message.
    Publish(P),
    /// Our DISCONNECT went out.
    DisconnectSent,
    /// Nothing the source acts on (pings, acks on their way out).
    Other,
    /// The connection could not be made or was lost; the text says why, reason codes spelled out.
    Failed(String),
}

/// One message as the decoder sees it, whatever the protocol.
pub(super) struct Message<'a> {
    /// The topic it was published to.
    pub topic: Cow<'a, str>,
    /// Its payload.
    pub payload: &'a [u8],
    /// Whether the broker marked it as a redelivery.
    pub dup: bool,
}

/// The client half of a protocol: what the decoder task needs to acknowledge publishes and send
/// Sparkplug commands, and what the source needs to (re)subscribe. Cheap to clone.
pub(super) trait Client: Clone + Send + Sync + 'static {
    /// The protocol's publish packet.
    type Publish: Send + 'static;
    /// Topic, payload and redelivery flag of `publish`.
    fn message(publish: &Self::Publish) -> Message<'_>;
    /// Acknowledges `publish` (a no-op for QoS 0); `Err` when the event loop is gone.
    fn ack(&self, publish: &Self::Publish) -> impl Future<Output = Result<(), String>> + Send;
    /// Publishes a command (Sparkplug rebirth request) at QoS 0, not retained.
    fn send_command(&self, command: Command) -> impl Future<Output = Result<(), String>> + Send;
    /// Queues one SUBSCRIBE for every configured filter, in configured order, without waiting.
    fn subscribe(&self);
    /// Queues a DISCONNECT; `false` when the event loop is gone.
    fn try_disconnect(&self) -> bool;
}

/// The event-loop half of a protocol.
pub(super) trait Connection: Send {
    /// The matching client half.
    type Client: Client;
    /// A client handle for this connection.
    fn client(&self) -> Self::Client;
    /// Polls the event loop once; reconnects on the next poll after a failure.
    fn poll(&mut self) -> impl Future<Output = Step<<Self::Client as Client>::Publish>> + Send;
}

/// Writes the [`Client`] of a protocol's glue. rumqttc's 3.1.1 and MQTT 5 clients have methods of the
/// same names and meaning but different types and no common trait, so one macro writes both
/// instead of two copies. Takes the glue's struct name and, as imported in the glue's module,
/// rumqttc's client, publish, subscribe filter and QoS types, and how a topic becomes text.
macro_rules! rumqttc_client {
    ($name:ident, $client:ident, $publish:ident, $filter:ident, $qos:ident, $topic:path) => {
        /// rumqttc's client with the filters to subscribe to.
        #[derive(Clone)]
        pub(super) struct $name {
            client: $client,
            filters: Vec<$filter>,
        }

        impl super::source::Client for $name {
            type Publish = $publish;

            fn message(publish: &$publish) -> super::source::Message<'_> {
                super::source::Message { topic: $topic(&publish.topic), payload: &publish.payload, dup: publish.dup }
            }

            async fn ack(&self, publish: &$publish) -> Result<(), String> {
                self.client.ack(publish).await.map_err(|e| e.to_string())
            }

            async fn send_command(&self, command: crate::route::Command) -> Result<(), String> {
                let (topic, payload) = (command.topic, command.payload);
                self.client.publish(topic, $qos::AtMostOnce, false, payload).await.map_err(|e| e.to_string())
            }

            fn subscribe(&self) {
                if let Err(e) = self.client.try_subscribe_many(self.filters.clone()) {
                    tracing::warn!(error = %e, "failed to queue mqtt subscriptions");
                }
            }

            fn try_disconnect(&self) -> bool {
                self.client.try_disconnect().is_ok()
            }
        }
    };
}
pub(super) use rumqttc_client;

/// Connects, subscribes to every pattern's filter at the configured QoS, decodes each publish
/// and hands its [`Ingest`] items to `tx` under the configured [`BackpressurePolicy`]:
/// - `block`: awaiting the send on the bounded `tx` is the backpressure;
/// - `drop_oldest`: items go to a [`DropOldestQueue`] of `drop_oldest_capacity` that a task empties
///   into `tx`; while `tx` is full the oldest queued item is dropped and counted in
///   `stats.backpressure_dropped`.
///
/// Speaks MQTT 3.1.1 or MQTT 5 as `config.protocol` says; the behaviour is the same. With MQTT 5 a
/// persistent session (`clean_session = false`) is a clean start off with a Session Expiry
/// Interval of `session_expiry_s`, and the broker's reason codes are logged with their meaning.
///
/// With QoS 1 it uses manual acks and acknowledges a publish only after all its items were handed
/// on (to `tx`, or to the queue), so a crash before that makes the broker redeliver. QoS 1 is
/// at-least-once, so a reading can arrive twice (after a reconnect, or when the publisher resends);
/// repeats of a reading already handed on are dropped and counted in `stats.duplicates` (see
/// [`crate::dedup`]). Reconnects with capped exponential backoff and jitter forever,
/// resubscribing after each reconnect; a subscription the broker refuses (e.g. not authorized) is
/// retried with the same backoff.
///
/// Returns `Ok(())` when `shutdown` becomes true (or its sender is dropped) or when the receiver
/// of `tx` is dropped; `Err` only for configuration errors (bad URL, unreadable CA file).
pub async fn run_mqtt_source(
    config: MqttConfig,
    tx: mpsc::Sender<Ingest>,
    stats: Arc<SourceStats>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), MqttError> {
    let decoder = Decoder::new(config.routes()?, config.max_payload_bytes);
    let filters: Vec<String> = decoder.routes().iter().map(|r| r.filter()).collect();
    match config.protocol {
        MqttProtocol::V311 => {
            let connection = super::v311::Connection311::new(&config, filters.clone())?;
            run(connection, config, filters, decoder, tx, stats, shutdown).await
        }
        MqttProtocol::V5 => {
            let connection = super::v5::Connection5::new(&config, filters.clone())?;
            run(connection, config, filters, decoder, tx, stats, shutdown).await
        }
    }
}

async fn run<C: Connection>(
    mut connection: C,
    config: MqttConfig,
    filters: Vec<String>,
    decoder: Decoder,
    tx: mpsc::Sender<Ingest>,
    stats: Arc<SourceStats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), MqttError> {
    let client = connection.client();
    // The decoder runs in its own task so that the event loop keeps being polled (pings, acks,
    // reconnects) while a send to the pipeline waits.
    let (publish_tx, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
    // A clone only to notice when the pipeline goes away while no messages arrive.
    let pipeline = tx.clone();
    let (handoff, forwarder) = match config.backpressure {
        BackpressurePolicy::Block => (Handoff::Block(tx), None),
        BackpressurePolicy::DropOldest => {
            let queue = Arc::new(DropOldestQueue::new(config.drop_oldest_capacity));
            (Handoff::DropOldest(queue.clone()), Some(Forwarder::spawn(queue, tx)))
        }
    };
    let decoder = tokio::spawn(decode_and_forward(publish_rx, handoff, client.clone(), decoder, stats.clone()));

    let backoff = || {
        Backoff::new(
            Duration::from_millis(config.reconnect_min_ms),
            Duration::from_millis(config.reconnect_max_ms),
            jitter_seed(&config.client_id),
        )
    };
    let (mut reconnect, mut resubscribe) = (backoff(), backoff());
    // A refused subscription is asked again later by this task; the event loop is never interrupted
    // for it (rumqttc's poll must not be cancelled halfway through writing a packet).
    let mut resubscription: Option<PendingResubscription> = None;
    info!(url = %config.url, protocol = %config.protocol, client_id = %config.client_id, topics = ?config.topics, "starting mqtt source");
    loop {
        let step = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            () = pipeline.closed() => {
                info!("pipeline closed, stopping mqtt source");
                break;
            }
            step = connection.poll() => step,
        };
        match step {
            Step::Connected { session_present } => {
                stats.connections.fetch_add(1, Ordering::Relaxed);
                reconnect.reset();
                info!(url = %config.url, session_present, "connected to mqtt broker");
                // Always resubscribe: the broker may have lost the session, or the configured
                // topics may have changed since the session was created.
                resubscription = None;
                client.subscribe();
            }
            Step::Subscribed(grants) => {
                let mut refused = 0;
                for (grant, filter) in grants.iter().zip(&filters) {
                    match grant {
                        Ok(()) => debug!(%filter, "subscribed"),
                        Err(why) => {
                            refused += 1;
                            warn!(%filter, "failed to subscribe to `{filter}`: {why}");
                        }
                    }
                }
                if refused == 0 {
                    resubscribe.reset();
                    continue;
                }
                let delay = resubscribe.next_delay();
                warn!(url = %config.url, refused, delay_ms = delay.as_millis() as u64, "mqtt subscription refused, retrying");
                let client = client.clone();
                resubscription = Some(PendingResubscription(tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    client.subscribe();
                })));
            }
            Step::Publish(publish) => {
                let message = C::Client::message(&publish);
                stats.messages_received.fetch_add(1, Ordering::Relaxed);
                stats.bytes_received.fetch_add(message.payload.len() as u64, Ordering::Relaxed);
                trace!(topic = %message.topic, bytes = message.payload.len(), "publish received");
                let sent = tokio::select! {
                    biased;
                    () = shutdown_requested(&mut shutdown) => break,
                    sent = publish_tx.send(publish) => sent,
                };
                if sent.is_err() {
                    info!("pipeline closed, stopping mqtt source");
                    break;
                }
            }
            Step::DisconnectSent | Step::Other => {}
            Step::Failed(error) => {
                stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                let delay = reconnect.next_delay();
                warn!(url = %config.url, %error, delay_ms = delay.as_millis() as u64, "mqtt connection failed, retrying");
                tokio::select! {
                    biased;
                    () = shutdown_requested(&mut shutdown) => break,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    // Items already handed over stay handed over; publishes not yet acknowledged are
    // redelivered by the broker to the next session, so dropping the decoder loses nothing.
    decoder.abort();
    drop(resubscription);
    disconnect(&mut connection, &client).await;
    // Under `drop_oldest` the queued items were acknowledged already: hand them on before returning.
    if let Some(forwarder) = forwarder {
        forwarder.finish().await;
    }
    info!(url = %config.url, "mqtt source stopped");
    Ok(())
}

/// Sends DISCONNECT and polls briefly so it reaches the broker; a clean disconnect keeps the
/// persistent session without triggering the broker's "client vanished" handling.
async fn disconnect<C: Connection>(connection: &mut C, client: &C::Client) {
    if !client.try_disconnect() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while !matches!(connection.poll().await, Step::DisconnectSent | Step::Failed(_)) {}
    })
    .await;
}

/// A retry of a refused subscription, waiting for its backoff delay; dropping it cancels the retry
/// (replaced by a newer one, or made moot by a reconnect, which subscribes anyway).
struct PendingResubscription(JoinHandle<()>);

impl Drop for PendingResubscription {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where decoded items go, by [`BackpressurePolicy`].
enum Handoff {
    /// Straight into the pipeline's queue, waiting for room.
    Block(mpsc::Sender<Ingest>),
    /// Into the source's own queue without waiting; a [`Forwarder`] empties it into the pipeline.
    DropOldest(Arc<DropOldestQueue<Ingest>>),
}

async fn decode_and_forward<C: Client>(
    mut publishes: mpsc::Receiver<C::Publish>,
    handoff: Handoff,
    client: C,
    mut decoder: Decoder,
    stats: Arc<SourceStats>,
) {
    let mut dedup = Deduplicator::new();
    while let Some(publish) = publishes.recv().await {
        let message = C::message(&publish);
        let decoded = decoder.decode(&message.topic, message.payload, wall_clock());
        for item in decoded.items {
            if let Ingest::Sample(sample) = &item
                && dedup.is_duplicate(sample)
            {
                stats.duplicates.fetch_add(1, Ordering::Relaxed);
                trace!(topic = %message.topic, dup = message.dup, "dropping a redelivered reading");
                continue;
            }
            match &handoff {
                Handoff::Block(tx) => {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
                Handoff::DropOldest(queue) => queue.push_counted(item, &stats, &message.topic),
            }
        }
        // Sparkplug rebirth requests: QoS 0 and not retained, as the specification asks of NCMD.
        for command in decoded.commands {
            info!(topic = %command.topic, "requesting a sparkplug rebirth");
            if let Err(e) = client.send_command(command).await {
                debug!(error = %e, "mqtt client closed before publishing a command");
                return;
            }
        }
        // Rejections and duplicates are acknowledged too: redelivering them cannot help.
        if let Err(e) = client.ack(&publish).await {
            debug!(error = %e, "mqtt client closed before ack");
            return;
        }
    }
}

/// Now, in microseconds since the epoch (0 if the clock is before 1970).
fn wall_clock() -> Timestamp {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    Timestamp(now.map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)))
}

/// Resolves when shutdown is requested: the flag is true, or its sender was dropped (the owner
/// went away, so nobody could ever request shutdown again).
pub(crate) async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Jitter only has to differ between clients and restarts, not be unpredictable.
pub(crate) fn jitter_seed(client_id: &str) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    client_id.bytes().fold(nanos ^ u64::from(std::process::id()), |h, b| h.rotate_left(5) ^ u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_resolves_on_true_or_dropped_sender() {
        let (tx, mut rx) = watch::channel(false);
        assert!(tokio::time::timeout(Duration::from_millis(20), shutdown_requested(&mut rx)).await.is_err());
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), shutdown_requested(&mut rx)).await.unwrap();
        let (tx, mut rx) = watch::channel(false);
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), shutdown_requested(&mut rx)).await.unwrap();
    }

    #[tokio::test]
    async fn stops_when_the_pipeline_goes_away() {
        let (tx, rx) = mpsc::channel(1);
        let (_stop, shutdown) = watch::channel(false);
        // Nothing listens on port 1: the source is stuck retrying until the receiver is dropped.
        let config = MqttConfig { url: "mqtt://127.0.0.1:1".into(), ..MqttConfig::default() };
        let task = tokio::spawn(run_mqtt_source(config, tx, Arc::default(), shutdown));
        drop(rx);
        tokio::time::timeout(Duration::from_secs(30), task).await.expect("source stops").unwrap().unwrap();
    }

    #[tokio::test]
    async fn config_errors_are_returned_not_retried() {
        let (tx, _rx) = mpsc::channel(1);
        let (_stop, shutdown) = watch::channel(false);
        let config = MqttConfig { url: "mqtt://".into(), ..MqttConfig::default() };
        let r = run_mqtt_source(config, tx, Arc::default(), shutdown).await;
        assert!(matches!(r, Err(MqttError::InvalidUrl { .. })));
    }
}
