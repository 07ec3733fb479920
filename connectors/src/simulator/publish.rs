//! Publishes a running simulation over MQTT (through [`crate::publish::publish_encoded`]) as JSON, binary windows or a Sparkplug B edge node, paced against real time, and says which `[mqtt] topics` read it back.

use super::{PlantSimulator, real_time_offset};
use crate::mqtt::{MqttConfig, MqttError};
use crate::publish::encoding::BINARY_TOPIC_LEVEL;
use crate::publish::{BinaryEncoding, JsonEncoding, SparkplugEncoding, publish_encoded};
use crate::route::{MappedTopic, PayloadFormat, TopicConfig};
use crate::sparkplug::NAMESPACE;
use tokio::sync::watch;
use tracing::info;

/// The Sparkplug group id the simulator publishes under unless told otherwise.
pub const DEFAULT_SPARKPLUG_GROUP: &str = "plant";
/// The Sparkplug edge node id of the simulator unless told otherwise.
pub const DEFAULT_SPARKPLUG_NODE: &str = "simulator";

/// How and where a simulation is published.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPublish {
    /// The payload format: `json` (every sample on `{prefix}/{asset}/{channel}`), `binary`
    /// (windows as `SWW1` on `{prefix}/{asset}/{channel}/binary`, scalars as JSON on
    /// `{prefix}/{asset}/{channel}`) or `sparkplug` (one edge node, a device per asset).
    pub format: PayloadFormat,
    /// The topic prefix of `json` and `binary`.
    pub topic_prefix: String,
    /// The Sparkplug group id.
    pub sparkplug_group: String,
    /// The Sparkplug edge node id.
    pub sparkplug_node: String,
    /// Simulated seconds per real second (1.0 = real time; `f64::INFINITY` = as fast as possible).
    pub time_scale: f64,
    /// Stop after this many simulated seconds (`None` = until shutdown); must be positive.
    pub duration_s: Option<f64>,
}

impl SimPublish {
    /// JSON under `topic_prefix`, the Sparkplug ids at their defaults.
    pub fn json(topic_prefix: impl Into<String>, time_scale: f64, duration_s: Option<f64>) -> Self {
        SimPublish {
            format: PayloadFormat::Json,
            topic_prefix: topic_prefix.into(),
            sparkplug_group: DEFAULT_SPARKPLUG_GROUP.into(),
            sparkplug_node: DEFAULT_SPARKPLUG_NODE.into(),
            time_scale,
            duration_s,
        }
    }

    /// The entries of `[mqtt] topics` with which spikewatch's MQTT source decodes everything
    /// this publishes (an entry for the scalars and one for the binary windows with `binary`).
    pub fn subscriber_topics(&self) -> Vec<TopicConfig> {
        let prefix = self.topic_prefix.trim_end_matches('/');
        let channel_pattern =
            if prefix.is_empty() { "{asset}/{channel}".to_owned() } else { format!("{prefix}/{{asset}}/{{channel}}") };
        let mapped =
            |pattern: String, format| TopicConfig::Mapped(MappedTopic { pattern, format, ..MappedTopic::default() });
        match self.format {
            PayloadFormat::Json => vec![TopicConfig::Pattern(channel_pattern)],
            PayloadFormat::Binary => vec![
                TopicConfig::Pattern(channel_pattern.clone()),
                mapped(format!("{channel_pattern}/{BINARY_TOPIC_LEVEL}"), PayloadFormat::Binary),
            ],
            PayloadFormat::Sparkplug => {
                vec![mapped(format!("{NAMESPACE}/{}/#", self.sparkplug_group), PayloadFormat::Sparkplug)]
            }
        }
    }

    /// [`Self::subscriber_topics`] as the line to put under `[mqtt]` in spikewatch's config file.
    pub fn subscriber_topics_toml(&self) -> String {
        let quoted = |s: &str| serde_json::to_string(s).expect("a string serialises");
        let entries: Vec<String> = self
            .subscriber_topics()
            .iter()
            .map(|t| match t {
                TopicConfig::Pattern(p) => quoted(p),
                TopicConfig::Mapped(m) => {
                    format!("{{ pattern = {}, format = {} }}", quoted(&m.pattern), quoted(m.format.as_str()))
                }
            })
            .collect();
        format!("topics = [{}]", entries.join(", "))
    }
}

/// Publishes the simulation as JSON ([`crate::json::encode_json`]) at QoS 1 to
/// `{topic_prefix}/{asset}/{channel}`: [`publish_simulation_as`] with [`SimPublish::json`].
pub async fn publish_simulation(
    sim: PlantSimulator,
    mqtt: MqttConfig,
    topic_prefix: String,
    time_scale: f64,
    duration_s: Option<f64>,
    shutdown: watch::Receiver<bool>,
) -> Result<u64, MqttError> {
    publish_simulation_as(sim, mqtt, SimPublish::json(topic_prefix, time_scale, duration_s), shutdown).await
}

/// Publishes the simulation over MQTT at QoS 1 in `how.format`, pacing simulated time at
/// `how.time_scale` × real time, until `how.duration_s` of simulated time or shutdown. Keeps
/// polling the rumqttc event loop and retries the connection with backoff. Uses `mqtt.url`,
/// credentials, `ca_file`, `client_id`, `clean_session` and the reconnect settings; Sparkplug
/// always uses a clean session, as the specification asks of an edge node.
///
/// Returns how many messages were published and acknowledged: on a normal end every QoS 1
/// publish has its PubAck before this returns.
pub async fn publish_simulation_as(
    mut sim: PlantSimulator,
    mut mqtt: MqttConfig,
    how: SimPublish,
    shutdown: watch::Receiver<bool>,
) -> Result<u64, MqttError> {
    let SimPublish { format, topic_prefix, time_scale, duration_s, .. } = how.clone();
    if time_scale.is_nan() || time_scale <= 0.0 {
        return Err(MqttError::InvalidConfig(format!("`time_scale` must be positive, got {time_scale}")));
    }
    if let Some(d) = duration_s
        && (d.is_nan() || d <= 0.0)
    {
        // A NaN would never end, a duration of 0 or less would publish nothing.
        return Err(MqttError::InvalidConfig(format!("`duration_s` must be positive, got {d}")));
    }
    info!(
        url = %mqtt.url, %format, time_scale, ?duration_s, subscriber = how.subscriber_topics_toml(),
        "publishing plant simulation"
    );
    let ticks = std::iter::from_fn(move || {
        if duration_s.is_some_and(|d| sim.elapsed_s() >= d - 1e-9) {
            return None;
        }
        Some((real_time_offset(sim.elapsed_s(), time_scale), sim.tick()))
    });
    match format {
        PayloadFormat::Json => publish_encoded(ticks, mqtt, JsonEncoding::new(topic_prefix)?, shutdown).await,
        PayloadFormat::Binary => publish_encoded(ticks, mqtt, BinaryEncoding::new(topic_prefix)?, shutdown).await,
        PayloadFormat::Sparkplug => {
            let encoding = SparkplugEncoding::new(&how.sparkplug_group, &how.sparkplug_node)?;
            mqtt.clean_session = true;
            publish_encoded(ticks, mqtt, encoding, shutdown).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_time_scale_or_duration_that_is_not_positive_is_refused_before_connecting() {
        use crate::simulator::SimConfig;
        use snn_engine::Timestamp;
        let sim = PlantSimulator::new(SimConfig { assets: 1, ..SimConfig::default() }, Timestamp(0));
        // Nothing listens on port 1: the refusal comes before any connection attempt.
        let mqtt = MqttConfig { url: "mqtt://127.0.0.1:1".into(), ..MqttConfig::default() };
        for (time_scale, duration_s) in
            [(0.0, None), (f64::NAN, None), (1.0, Some(f64::NAN)), (1.0, Some(0.0)), (1.0, Some(-5.0))]
        {
            let how = SimPublish::json("plant", time_scale, duration_s);
            let (_stop, shutdown) = watch::channel(false);
            let result = publish_simulation_as(sim.clone(), mqtt.clone(), how, shutdown).await;
            assert!(matches!(result, Err(MqttError::InvalidConfig(_))), "{time_scale} {duration_s:?}: {result:?}");
        }
    }

    #[test]
    fn subscriber_topics_name_every_topic_published_and_parse_as_toml() {
        let mut how = SimPublish::json("plant/", 1.0, None);
        assert_eq!(how.subscriber_topics_toml(), r#"topics = ["plant/{asset}/{channel}"]"#);
        how.format = PayloadFormat::Binary;
        assert_eq!(
            how.subscriber_topics_toml(),
            r#"topics = ["plant/{asset}/{channel}", { pattern = "plant/{asset}/{channel}/binary", format = "binary" }]"#
        );
        how.format = PayloadFormat::Sparkplug;
        assert_eq!(how.subscriber_topics_toml(), r#"topics = [{ pattern = "spBv1.0/plant/#", format = "sparkplug" }]"#);
        for format in PayloadFormat::ALL {
            for prefix in ["", "site \"a\"/b"] {
                let how = SimPublish { format, topic_prefix: prefix.into(), ..SimPublish::json("", 1.0, None) };
                #[derive(serde::Deserialize)]
                struct Mqtt {
                    topics: Vec<TopicConfig>,
                }
                let parsed: Mqtt = toml::from_str(&how.subscriber_topics_toml()).unwrap();
                assert_eq!(parsed.topics, how.subscriber_topics(), "{format} {prefix}");
                assert!(parsed.topics.iter().all(|t| t.compile().is_ok()), "{format} {prefix}");
            }
        }
    }
}
