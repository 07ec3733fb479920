//! Publishes `Sample`s over MQTT as JSON at QoS 1, paced against real time, and waits for every PubAck:
//! the transport of the plant simulator and of `spikewatch replay --publish`.

use crate::backoff::Backoff;
use crate::json::encode_json;
use crate::mqtt::{MqttConfig, MqttError, jitter_seed, shutdown_requested};
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use snn_engine::Sample;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

/// If no PubAck arrives for this long while some are outstanding, give up waiting (the broker
/// lost its session, so rumqttc discarded the unacknowledged publishes).
const ACK_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// After shutdown, how long outstanding PubAcks may still take.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

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

/// Publishes batches of samples as JSON ([`encode_json`]) at QoS 1 to [`sample_topic`], each batch once
/// its offset (from the start of publishing; zero = at once) has passed, until the batches run out or
/// shutdown. Keeps polling the rumqttc event loop and retries the connection with backoff. Uses `mqtt.url`,
/// credentials, `ca_file`, `client_id`, `clean_session` and the reconnect settings.
///
/// Returns how many messages were published and acknowledged: on a normal end every QoS 1
/// publish has its PubAck before this returns.
pub async fn publish_samples(
    batches: impl IntoIterator<Item = (Duration, Vec<Sample>)>,
    mqtt: MqttConfig,
    topic_prefix: String,
    mut shutdown: watch::Receiver<bool>,
) -> Result<u64, MqttError> {
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

    let started = Instant::now();
    let mut published = 0u64;
    let mut stopped = false;
    let mut failed = None;
    'batches: for (due, batch) in batches {
        if !due.is_zero() {
            tokio::select! {
                biased;
                () = shutdown_requested(&mut shutdown) => { stopped = true; break 'batches; }
                () = tokio::time::sleep_until(started + due) => {}
            }
        }
        for sample in batch {
            let topic = match sample_topic(&topic_prefix, &sample) {
                Ok(topic) => topic,
                Err(e) => {
                    failed = Some(e);
                    break 'batches;
                }
            };
            let sent = tokio::select! {
                biased;
                () = shutdown_requested(&mut shutdown) => { stopped = true; break 'batches; }
                sent = client.publish(topic, QoS::AtLeastOnce, false, encode_json(&sample)) => sent,
            };
            if let Err(e) = sent {
                warn!(error = %e, "mqtt event loop stopped, ending publishing");
                break 'batches;
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
    if let Some(e) = failed {
        return Err(e);
    }
    info!(published, acknowledged, "samples published");
    Ok(acknowledged)
}

/// Polls the event loop until DISCONNECT is sent or the client is dropped, counting PubAcks.
async fn drive(mut eventloop: EventLoop, acks: watch::Sender<u64>, mut backoff: Backoff, url: String) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => acks.send_modify(|n| *n += 1),
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                info!(%url, session_present = ack.session_present, "publisher connected");
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(rumqttc::ConnectionError::RequestsDone) => return,
            Err(error) => {
                let delay = backoff.next_delay();
                warn!(%url, %error, delay_ms = delay.as_millis() as u64, "publisher connection failed, retrying");
                tokio::time::sleep(delay).await;
            }
        }
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
