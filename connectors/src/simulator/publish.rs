//! Publishes a running simulation over MQTT (through [`crate::publish::publish_samples`]), paced against real time.

use super::PlantSimulator;
use crate::mqtt::{MqttConfig, MqttError};
use crate::publish::publish_samples;
use std::time::Duration;
use tokio::sync::watch;
use tracing::info;

/// Publishes the simulation over MQTT as JSON ([`crate::json::encode_json`]) at QoS 1 to
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
    shutdown: watch::Receiver<bool>,
) -> Result<u64, MqttError> {
    if time_scale.is_nan() || time_scale <= 0.0 {
        return Err(MqttError::InvalidConfig(format!("`time_scale` must be positive, got {time_scale}")));
    }
    info!(url = %mqtt.url, prefix = topic_prefix, time_scale, ?duration_s, "publishing plant simulation");
    let ticks = std::iter::from_fn(move || {
        if duration_s.is_some_and(|d| sim.elapsed_s() >= d - 1e-9) {
            return None;
        }
        let due =
            if time_scale.is_finite() { Duration::from_secs_f64(sim.elapsed_s() / time_scale) } else { Duration::ZERO };
        Some((due, sim.tick()))
    });
    publish_samples(ticks, mqtt, topic_prefix, shutdown).await
}
