//! The MQTT source loop: connect, subscribe, decode every publish into `Ingest` items, drop redeliveries, ack after hand-off, reconnect forever.

use super::{MqttConfig, MqttError, SourceStats};
use crate::backoff::Backoff;
use crate::backpressure::{BackpressurePolicy, DropOldestQueue, Forwarder};
use crate::dedup::Deduplicator;
use crate::ingest::Ingest;
use crate::route::Decoder;
use rumqttc::{AsyncClient, Event, Packet, Publish, QoS, SubscribeFilter, SubscribeReasonCode};
use snn_engine::Timestamp;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, trace, warn};

/// Publishes read from the network but not yet decoded. Small on purpose: when the pipeline
/// is slow this fills, the event loop stops reading the socket, and TCP (QoS 0) or the broker's
/// inflight window (QoS 1) pushes back on publishers.
const PUBLISH_QUEUE: usize = 64;

/// Capacity of rumqttc's request channel (acks, subscribes). It must exceed the number of
/// unacknowledged publishes the broker may have in flight to us, or the decoder task could
/// block on an ack while the event loop blocks on the full publish queue.
const REQUEST_CHANNEL: usize = 4096;

/// Connects, subscribes to every pattern's filter at the configured QoS, decodes each publish
/// and hands its [`Ingest`] items to `tx` under the configured [`BackpressurePolicy`]:
/// - `block`: awaiting the send on the bounded `tx` is the backpressure;
/// - `drop_oldest`: items go to a [`DropOldestQueue`] of `drop_oldest_capacity` that a task empties
///   into `tx`; while `tx` is full the oldest queued item is dropped and counted in
///   `stats.backpressure_dropped`.
///
/// With QoS 1 it uses manual acks and acknowledges a publish only after all its items were handed
/// on (to `tx`, or to the queue), so a crash before that makes the broker redeliver. QoS 1 is
/// at-least-once, so a reading can arrive twice (after a reconnect, or when the publisher resends);
/// repeats of a reading already handed on are dropped and counted in `stats.duplicates` (see
/// [`crate::dedup`]). Reconnects with capped exponential backoff and jitter forever,
/// resubscribing after each reconnect.
///
/// Returns `Ok(())` when `shutdown` becomes true (or its sender is dropped) or when the receiver
/// of `tx` is dropped; `Err` only for configuration errors (bad URL, unreadable CA file).
pub async fn run_mqtt_source(
    config: MqttConfig,
    tx: mpsc::Sender<Ingest>,
    stats: Arc<SourceStats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), MqttError> {
    let mut options = config.mqtt_options()?;
    let decoder = Decoder::new(config.routes()?, config.max_payload_bytes);
    // Manual acks are a no-op for QoS 0 deliveries, so they can always be on.
    options.set_manual_acks(true);
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CHANNEL);
    let filters: Vec<SubscribeFilter> =
        decoder.routes().iter().map(|r| SubscribeFilter::new(r.filter(), config.qos())).collect();

    // The decoder runs in its own task so that the event loop keeps being polled (pings, acks,
    // reconnects) while a send to the pipeline waits.
    let (publish_tx, publish_rx) = mpsc::channel::<Publish>(PUBLISH_QUEUE);
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

    let mut backoff = Backoff::new(
        Duration::from_millis(config.reconnect_min_ms),
        Duration::from_millis(config.reconnect_max_ms),
        jitter_seed(&config.client_id),
    );
    info!(url = %config.url, client_id = %config.client_id, topics = ?config.topics, "starting mqtt source");
    loop {
        let event = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            () = pipeline.closed() => {
                info!("pipeline closed, stopping mqtt source");
                break;
            }
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                stats.connections.fetch_add(1, Ordering::Relaxed);
                backoff.reset();
                info!(url = %config.url, session_present = ack.session_present, "connected to mqtt broker");
                // Always resubscribe: the broker may have lost the session, or the configured
                // topics may have changed since the session was created.
                if let Err(e) = client.try_subscribe_many(filters.clone()) {
                    warn!(error = %e, "failed to queue mqtt subscriptions");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                for (code, filter) in ack.return_codes.iter().zip(&filters) {
                    match code {
                        SubscribeReasonCode::Failure => {
                            warn!(filter = %filter.path, "failed to subscribe to `{}`", filter.path)
                        }
                        SubscribeReasonCode::Success(qos) => debug!(filter = %filter.path, ?qos, "subscribed"),
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                stats.messages_received.fetch_add(1, Ordering::Relaxed);
                stats.bytes_received.fetch_add(publish.payload.len() as u64, Ordering::Relaxed);
                trace!(topic = %publish.topic, bytes = publish.payload.len(), "publish received");
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
            Ok(_) => {}
            Err(error) => {
                stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                let delay = backoff.next_delay();
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
    disconnect(&client, &mut eventloop).await;
    // Under `drop_oldest` the queued items were acknowledged already: hand them on before returning.
    if let Some(forwarder) = forwarder {
        forwarder.finish().await;
    }
    info!(url = %config.url, "mqtt source stopped");
    Ok(())
}

/// Sends DISCONNECT and polls briefly so it reaches the broker; a clean disconnect keeps the
/// persistent session without triggering the broker's "client vanished" handling.
async fn disconnect(client: &AsyncClient, eventloop: &mut rumqttc::EventLoop) {
    if client.try_disconnect().is_err() {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// Where decoded items go, by [`BackpressurePolicy`].
enum Handoff {
    /// Straight into the pipeline's queue, waiting for room.
    Block(mpsc::Sender<Ingest>),
    /// Into the source's own queue without waiting; a [`Forwarder`] empties it into the pipeline.
    DropOldest(Arc<DropOldestQueue<Ingest>>),
}

async fn decode_and_forward(
    mut publishes: mpsc::Receiver<Publish>,
    handoff: Handoff,
    client: AsyncClient,
    mut decoder: Decoder,
    stats: Arc<SourceStats>,
) {
    let mut dedup = Deduplicator::new();
    while let Some(publish) = publishes.recv().await {
        let decoded = decoder.decode(&publish.topic, &publish.payload, wall_clock());
        for item in decoded.items {
            if let Ingest::Sample(sample) = &item
                && dedup.is_duplicate(sample)
            {
                stats.duplicates.fetch_add(1, Ordering::Relaxed);
                trace!(topic = %publish.topic, dup = publish.dup, "dropping a redelivered reading");
                continue;
            }
            match &handoff {
                Handoff::Block(tx) => {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
                Handoff::DropOldest(queue) => queue.push_counted(item, &stats, &publish.topic),
            }
        }
        // Sparkplug rebirth requests: QoS 0 and not retained, as the specification asks of NCMD.
        for command in decoded.commands {
            info!(topic = %command.topic, "requesting a sparkplug rebirth");
            if let Err(e) = client.publish(command.topic, QoS::AtMostOnce, false, command.payload).await {
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
