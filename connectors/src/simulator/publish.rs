//! Publishes a running simulation over MQTT as JSON at QoS 1, paced against real time, and waits for every PubAck.

use super::PlantSimulator;
use crate::backoff::Backoff;
use crate::json::encode_json;
use crate::mqtt::{MqttConfig, MqttError, jitter_seed, shutdown_requested};
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

/// If no PubAck arrives for this long while some are outstanding, give up waiting (the broker
/// lost its session, so rumqttc discarded the unacknowledged publishes).
const ACK_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// After shutdown, how long outstanding PubAcks may still take.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Publishes the simulation over MQTT as JSON ([`encode_json`]) at QoS 1 to
/// `{topic_prefix}/{asset}/{channel}`, pacing simulated time at `time_scale` × real time
/// (1.0 = real time; `f64::INFINITY` = as fast as possible), until `duration_s` of simulated time
/// (`None` = forever) or shutdown. Keeps polling the rumqttc event loop and retries the
/// connection with backoff. Uses `mqtt.url`, credentials, `ca_file`, `client_id`,
/// `clean_session` and the reconnect settings.
///
/// Returns how many messages were published and acknowledged: on a normal end every QoS 1
/// publish has its PubAck before this returns.
pub async fn publish_simulation(
    mut sim: PlantSimulator,
    mqtt: MqttConfig,
    topic_prefix: String,
    time_scale: f64,
    duration_s: Option<f64>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<u64, MqttError> {
    if time_scale.is_nan() || time_scale <= 0.0 {
        return Err(MqttError::InvalidConfig(format!("`time_scale` must be positive, got {time_scale}")));
    }
    if topic_prefix.contains(['+', '#', '\0']) {
        return Err(MqttError::InvalidConfig(format!("topic prefix `{topic_prefix}` must not contain wildcards")));
    }
    let mut options = mqtt.mqtt_options()?;
    options.set_manual_acks(false);
    let (client, eventloop) = AsyncClient::new(options, 256);
    let backoff = Backoff::new(
        Duration::from_millis(mqtt.reconnect_min_ms),
        Duration::from_millis(mqtt.reconnect_max_ms),
        jitter_seed(&mqtt.client_id),
    );
    let (acks_tx, mut acks) = watch::channel(0u64);
    let mut driver = tokio::spawn(drive(eventloop, acks_tx, backoff, mqtt.url.clone()));

    let prefix = topic_prefix.trim_end_matches('/');
    let topics: Vec<Vec<String>> = sim
        .asset_ids()
        .iter()
        .map(|a| {
            PlantSimulator::channels()
                .iter()
                .map(|(c, _)| if prefix.is_empty() { format!("{a}/{c}") } else { format!("{prefix}/{a}/{c}") })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut published = 0u64;
    let mut stopped = false;
    info!(url = %mqtt.url, prefix, time_scale, ?duration_s, "publishing plant simulation");
    'ticks: while duration_s.is_none_or(|d| sim.elapsed_s() < d - 1e-9) {
        if time_scale.is_finite() {
            let due = started + Duration::from_secs_f64(sim.elapsed_s() / time_scale);
            tokio::select! {
                biased;
                () = shutdown_requested(&mut shutdown) => { stopped = true; break 'ticks; }
                () = tokio::time::sleep_until(due) => {}
            }
        }
        // Samples come asset by asset, channel by channel, in the order `topics` was built.
        for (i, sample) in sim.tick().into_iter().enumerate() {
            let topic = &topics[i / 3][i % 3];
            let sent = tokio::select! {
                biased;
                () = shutdown_requested(&mut shutdown) => { stopped = true; break 'ticks; }
                sent = client.publish(topic.as_str(), QoS::AtLeastOnce, false, encode_json(&sample)) => sent,
            };
            if let Err(e) = sent {
                warn!(error = %e, "mqtt event loop stopped, ending simulation");
                break 'ticks;
            }
            published += 1;
        }
    }

    // Wait for the PubAcks: rumqttc retransmits unacknowledged publishes after a reconnect
    // (persistent session), so this normally completes; give up only if acks stop arriving.
    loop {
        let before = *acks.borrow();
        if before >= published {
            break;
        }
        let limit = if stopped { SHUTDOWN_GRACE } else { ACK_STALL_TIMEOUT };
        let waited = tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown), if !stopped => { stopped = true; continue; }
            r = tokio::time::timeout(limit, acks.wait_for(|n| *n >= published)) => r.is_ok(),
        };
        if waited {
            break;
        }
        if stopped || *acks.borrow() == before {
            warn!(published, acknowledged = *acks.borrow(), "gave up waiting for mqtt acknowledgements");
            break;
        }
    }
    let acknowledged = (*acks.borrow()).min(published);
    if client.try_disconnect().is_ok() {
        // The driver ends once DISCONNECT is written; bounded in case the broker is gone.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut driver).await;
    }
    driver.abort();
    info!(published, acknowledged, "plant simulation published");
    Ok(acknowledged)
}

/// Polls the event loop until DISCONNECT is sent or the client is dropped, counting PubAcks.
async fn drive(mut eventloop: EventLoop, acks: watch::Sender<u64>, mut backoff: Backoff, url: String) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => acks.send_modify(|n| *n += 1),
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                info!(%url, session_present = ack.session_present, "simulation publisher connected");
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(rumqttc::ConnectionError::RequestsDone) => return,
            Err(error) => {
                let delay = backoff.next_delay();
                warn!(%url, %error, delay_ms = delay.as_millis() as u64, "simulation publisher connection failed, retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}
