//! Publishes `Sample`s over MQTT at QoS 1, paced against real time, and waits for every PubAck: the
//! transport of the plant simulator and of `spikewatch replay --publish`, in any [`PublishEncoding`].

pub mod encoding;

use crate::backoff::Backoff;
use crate::mqtt::{MqttConfig, MqttError, jitter_seed, shutdown_requested};
pub use encoding::{BinaryEncoding, JsonEncoding, Message, PublishEncoding, SparkplugEncoding, WillFn};
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use snn_engine::Sample;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{info, warn};

/// If no PubAck arrives for this long while some are outstanding, give up waiting (the broker
/// lost its session, so rumqttc discarded the unacknowledged publishes).
const ACK_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// After shutdown, how long outstanding PubAcks may still take.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// The latest offset a batch can be due at: about a century, far enough never to come, near
/// enough that adding it to the start instant cannot overflow the clock (which would panic).
pub(crate) const LATEST_DUE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The topic a sample is published on: `{topic_prefix}/{asset}/{channel}` (no prefix: `{asset}/{channel}`),
/// which `plant/{asset}/{channel}`-style topic patterns read back. An asset or channel holding `/`, `+`, `#`
/// or NUL cannot be one topic level and is refused by name.
pub fn sample_topic(topic_prefix: &str, sample: &Sample) -> Result<String, MqttError> {
    for (what, name) in [("asset", sample.asset.as_str()), ("channel", sample.channel.as_str())] {
        if name.is_empty() || name.contains(['/', '+', '#', '\0']) {
            return Err(MqttError::InvalidConfig(format!(
                "{what} `{name}` cannot be an mqtt topic level (empty, or holds `/`, `+`, `#` or NUL)"
            )));
        }
    }
    let prefix = topic_prefix.trim_end_matches('/');
    Ok(if prefix.is_empty() {
        format!("{}/{}", sample.asset, sample.channel)
    } else {
        format!("{prefix}/{}/{}", sample.asset, sample.channel)
    })
}

/// Publishes batches of samples as JSON ([`crate::json::encode_json`]) at QoS 1 to [`sample_topic`]:
/// [`publish_encoded`] with a [`JsonEncoding`].
pub async fn publish_samples(
    batches: impl IntoIterator<Item = (Duration, Vec<Sample>)>,
    mqtt: MqttConfig,
    topic_prefix: String,
    shutdown: watch::Receiver<bool>,
) -> Result<u64, MqttError> {
    publish_encoded(batches, mqtt, JsonEncoding::new(topic_prefix)?, shutdown).await
}

/// What the connection driver reports to the publishing loop.
enum SessionEvent {
    /// Session `n` (0 for the first CONNECT) was acknowledged.
    Connected(u64),
    /// A publish arrived on a subscription.
    Received { topic: String, payload: Vec<u8> },
    /// The connection failed; the driver retries after its backoff. For an encoding that
    /// [waits for a connection](PublishEncoding::waits_for_connection) the driver first waits for
    /// `held` to be answered (the loop publishes no more until the next connect).
    Lost { held: Option<oneshot::Sender<()>> },
    /// Publishes of a lost session that the driver discarded rather than send on the next one.
    Discarded(u64),
}

/// Why publishing stopped before the batches ran out.
enum Stop {
    Shutdown,
    EventLoopGone,
}

/// Milliseconds since the Unix epoch by the wall clock (stamps Sparkplug payloads).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Publishes batches of samples encoded by `encoding` at QoS 1, each batch once its offset (from
/// the start of publishing; zero = at once) has passed, until the batches run out or shutdown.
/// Keeps polling the rumqttc event loop and retries the connection with backoff, registering the
/// encoding's will anew for every connection attempt, re-subscribing and publishing its
/// after-connect messages on every connect, and answering what arrives on its subscriptions. An
/// encoding that [waits for a connection](PublishEncoding::waits_for_connection) has its batches
/// held while the connection is down, so they follow the next connect's messages, and what a lost
/// connection left unacknowledged is dropped (counted in a warning) rather than sent ahead of them. Uses
/// `mqtt.url`, credentials, `ca_file`, `client_id`, `clean_session` and the reconnect settings.
///
/// Returns how many messages were published and acknowledged: on a normal end every QoS 1
/// publish has its PubAck before this returns (publishes a lost connection discarded are not
/// counted as published).
pub async fn publish_encoded(
    batches: impl IntoIterator<Item = (Duration, Vec<Sample>)>,
    mqtt: MqttConfig,
    mut encoding: impl PublishEncoding,
    mut shutdown: watch::Receiver<bool>,
) -> Result<u64, MqttError> {
    let mut options = mqtt.mqtt_options()?;
    options.set_manual_acks(false);
    let will = encoding.will();
    if let Some(will) = &will {
        options.set_last_will(will(0));
    }
    let (client, eventloop) = AsyncClient::new(options, 256);
    let backoff = Backoff::new(
        Duration::from_millis(mqtt.reconnect_min_ms),
        Duration::from_millis(mqtt.reconnect_max_ms),
        jitter_seed(&mqtt.client_id),
    );
    let (acks_tx, mut acks) = watch::channel(0u64);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let lost_session = if encoding.waits_for_connection() { LostSession::Discard } else { LostSession::Resend };
    let mut driver = tokio::spawn(drive(eventloop, acks_tx, events_tx, will, backoff, lost_session, mqtt.url.clone()));

    let started = Instant::now();
    let mut published = 0u64;
    let mut connected = !encoding.waits_for_connection();
    let mut stop = None;
    let mut failed = None;
    'batches: for (due, batch) in batches {
        let due = due.min(LATEST_DUE);
        // Until the batch is due (and, if the encoding asks, connected), answer the driver's
        // events; those that arrived meanwhile (a reconnect, a lost connection, a rebirth request)
        // come before this batch.
        loop {
            let event = match events.try_recv() {
                Ok(event) => Some(event),
                Err(mpsc::error::TryRecvError::Empty) if connected && Instant::now() >= started + due => break,
                Err(_) => tokio::select! {
                    biased;
                    () = shutdown_requested(&mut shutdown) => { stop = Some(Stop::Shutdown); break 'batches; }
                    event = events.recv() => event,
                    () = tokio::time::sleep_until(started + due), if connected => continue,
                },
            };
            let Some(event) = event else {
                stop = Some(Stop::EventLoopGone);
                break 'batches;
            };
            match &event {
                SessionEvent::Connected(_) => connected = true,
                // An encoding that must speak first on every connection (Sparkplug's births) holds
                // its batches until the next connect: queued now, rumqttc would send them on the
                // new connection ahead of the births, as data of no session.
                SessionEvent::Lost { held: Some(_) } => connected = false,
                _ => {}
            }
            let Some(event) = settle_lost_session(event, &mut published) else { continue };
            if let Err(s) = answer(event, &mut encoding, &client, &mut published, &mut shutdown).await {
                stop = Some(s);
                break 'batches;
            }
        }
        let messages = match encoding.encode(&batch, now_ms()) {
            Ok(messages) => messages,
            Err(e) => {
                failed = Some(e);
                break 'batches;
            }
        };
        if let Err(s) = send(&client, messages, &mut published, &mut shutdown).await {
            stop = Some(s);
            break 'batches;
        }
    }
    if let Some(Stop::EventLoopGone) = stop {
        warn!("mqtt event loop stopped, ending publishing");
    }
    let stopped = matches!(stop, Some(Stop::Shutdown));
    if connected && failed.is_none() && !matches!(stop, Some(Stop::EventLoopGone)) {
        // A goodbye (Sparkplug NDEATH) must not hold up a shutdown for long.
        for m in encoding.on_disconnect(now_ms()) {
            let sent =
                tokio::time::timeout(SHUTDOWN_GRACE, client.publish(m.topic, QoS::AtLeastOnce, false, m.payload));
            if matches!(sent.await, Ok(Ok(()))) {
                published += 1;
            }
        }
    }

    // Wait for the PubAcks: rumqttc retransmits unacknowledged publishes after a reconnect
    // (persistent session), so this normally completes; give up once none has arrived for
    // ACK_STALL_TIMEOUT (SHUTDOWN_GRACE after shutdown), however many reconnect attempts the
    // driver reports meanwhile. A lost connection's discarded publishes are not waited for.
    let mut stopped = stopped;
    let patience = |stopped: bool| if stopped { SHUTDOWN_GRACE } else { ACK_STALL_TIMEOUT };
    let (mut acked, mut deadline) = (*acks.borrow(), Instant::now() + patience(stopped));
    while *acks.borrow() < published {
        let expected = published;
        let arrived = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown), if !stopped => {
                stopped = true;
                deadline = deadline.min(Instant::now() + SHUTDOWN_GRACE);
                continue;
            }
            Some(event) = events.recv() => { settle_lost_session(event, &mut published); continue; }
            r = tokio::time::timeout_at(deadline, acks.wait_for(|n| *n >= expected)) => r.is_ok(),
        };
        if arrived {
            continue;
        }
        let now_acked = *acks.borrow();
        if stopped || now_acked == acked {
            warn!(published, acknowledged = now_acked, "gave up waiting for mqtt acknowledgements");
            break;
        }
        (acked, deadline) = (now_acked, Instant::now() + patience(stopped));
    }
    let acknowledged = (*acks.borrow()).min(published);
    if client.try_disconnect().is_ok() {
        // The driver ends once DISCONNECT is written; bounded in case the broker is gone.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut driver).await;
    }
    driver.abort();
    if let Some(e) = failed {
        return Err(e);
    }
    info!(published, acknowledged, "samples published");
    Ok(acknowledged)
}

/// Handles one driver event: subscribe and publish the after-connect messages on a connect,
/// publish the encoding's answer to a received message.
async fn answer(
    event: SessionEvent,
    encoding: &mut impl PublishEncoding,
    client: &AsyncClient,
    published: &mut u64,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Stop> {
    let messages = match event {
        SessionEvent::Connected(session) => {
            for topic in encoding.subscriptions() {
                client.subscribe(topic, QoS::AtLeastOnce).await.map_err(|_| Stop::EventLoopGone)?;
            }
            encoding.on_connected(session, now_ms())
        }
        SessionEvent::Received { topic, payload } => encoding.on_message(&topic, &payload, now_ms()),
        SessionEvent::Lost { .. } | SessionEvent::Discarded(_) => Vec::new(),
    };
    send(client, messages, published, shutdown).await
}

/// Handles what concerns a lost session, returning any other event: lets the driver go on once
/// batches are held, and stops waiting for the PubAcks of publishes the driver discarded.
fn settle_lost_session(event: SessionEvent, published: &mut u64) -> Option<SessionEvent> {
    match event {
        SessionEvent::Lost { held: Some(held) } => {
            let _ = held.send(());
            None
        }
        SessionEvent::Discarded(n) => {
            warn!(discarded = n, "publishes of a lost session dropped: they cannot follow the new births");
            *published = published.saturating_sub(n);
            None
        }
        event => Some(event),
    }
}

/// Queues `messages` for publishing at QoS 1, counting them in `published`.
async fn send(
    client: &AsyncClient,
    messages: Vec<Message>,
    published: &mut u64,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), Stop> {
    for m in messages {
        let sent = tokio::select! {
            biased;
            () = shutdown_requested(shutdown) => return Err(Stop::Shutdown),
            sent = client.publish(m.topic, QoS::AtLeastOnce, false, m.payload) => sent,
        };
        sent.map_err(|_| Stop::EventLoopGone)?;
        *published += 1;
    }
    Ok(())
}

/// What happens to the unacknowledged publishes of a lost connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LostSession {
    /// Send them again first thing on the next connection, as MQTT's persistent sessions mean.
    Resend,
    /// Drop them: they belong to a session that ended (Sparkplug data after its node's death),
    /// and sent ahead of the next connection's births they would reach hosts as data of no session.
    Discard,
}

/// Polls the event loop until DISCONNECT is sent or the client is dropped, counting PubAcks and
/// reporting connects and received publishes. Before each reconnect attempt it registers the will
/// of the next session, so a will always names the session it belongs to.
async fn drive(
    mut eventloop: EventLoop,
    acks: watch::Sender<u64>,
    events: mpsc::UnboundedSender<SessionEvent>,
    will: Option<WillFn>,
    mut backoff: Backoff,
    lost_session: LostSession,
    url: String,
) {
    let mut session = 0u64;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => acks.send_modify(|n| *n += 1),
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                info!(%url, session_present = ack.session_present, "publisher connected");
                let _ = events.send(SessionEvent::Connected(session));
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let _ = events.send(SessionEvent::Received { topic: p.topic, payload: p.payload.to_vec() });
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(rumqttc::ConnectionError::RequestsDone) => return,
            Err(error) => {
                let delay = backoff.next_delay();
                warn!(%url, %error, delay_ms = delay.as_millis() as u64, "publisher connection failed, retrying");
                let retry_at = tokio::time::Instant::now() + delay;
                if lost_session == LostSession::Discard {
                    discard_lost_session(&mut eventloop, &events).await;
                } else {
                    let _ = events.send(SessionEvent::Lost { held: None });
                }
                session += 1;
                if let Some(will) = &will {
                    eventloop.mqtt_options.set_last_will(will(session));
                }
                tokio::time::sleep_until(retry_at).await;
            }
        }
    }
}

/// Tells the publishing loop the connection is lost, waits until it holds its batches, then drops
/// every publish of the lost session: those in flight and those the loop queued before it heard of
/// the loss (rumqttc's `clean` moved both into `pending`, and would send them before anything else).
async fn discard_lost_session(eventloop: &mut EventLoop, events: &mpsc::UnboundedSender<SessionEvent>) {
    let (held_tx, mut held) = oneshot::channel();
    let _ = events.send(SessionEvent::Lost { held: Some(held_tx) });
    loop {
        // Draining the request channel also frees a loop that waits for room in it.
        eventloop.clean();
        tokio::select! {
            _ = &mut held => break,
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    eventloop.clean();
    let before = eventloop.pending.len();
    eventloop.pending.retain(|r| !matches!(r, rumqttc::Request::Publish(_)));
    let discarded = (before - eventloop.pending.len()) as u64;
    if discarded > 0 {
        let _ = events.send(SessionEvent::Discarded(discarded));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snn_engine::{AssetId, ChannelId, Reading, Timestamp};

    #[test]
    fn topics_are_prefix_asset_channel_and_bad_levels_are_refused() {
        let sample = |asset: &str, channel: &str| Sample {
            asset: AssetId::from(asset),
            channel: ChannelId::from(channel),
            t: Timestamp(0),
            reading: Reading::Scalar(1.0),
        };
        assert_eq!(sample_topic("plant", &sample("pump-1", "vibration")).unwrap(), "plant/pump-1/vibration");
        assert_eq!(sample_topic("site/a/", &sample("p", "Flow Rate")).unwrap(), "site/a/p/Flow Rate");
        assert_eq!(sample_topic("", &sample("p", "c")).unwrap(), "p/c");
        let err = sample_topic("plant", &sample("p", "a/b")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid mqtt config: channel `a/b` cannot be an mqtt topic level (empty, or holds `/`, `+`, `#` or NUL)"
        );
        assert!(sample_topic("plant", &sample("#", "c")).is_err());
    }
}
