//! How a publisher turns batches of samples into MQTT messages: JSON, binary windows with JSON scalars, or a Sparkplug B edge node (sans-I/O).
//!
//! Each encoding also says what it owes the broker besides data: a will, subscriptions, and
//! messages after a connect, on a received command and before a clean disconnect (Sparkplug
//! needs all of them; JSON and binary none).

use crate::binary::encode_binary;
use crate::json::encode_json;
use crate::mqtt::MqttError;
use crate::sparkplug::edge::{EdgeMessage, EdgeNode};
use rumqttc::{LastWill, QoS};
use snn_engine::Sample;
use std::sync::Arc;

/// The topic level appended to a channel's topic for its binary windows:
/// `{prefix}/{asset}/{channel}/binary`.
pub const BINARY_TOPIC_LEVEL: &str = "binary";

/// One MQTT message to publish (QoS 1, not retained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
}

impl From<EdgeMessage> for Message {
    fn from(m: EdgeMessage) -> Self {
        Message { topic: m.topic, payload: m.payload }
    }
}

/// The will of each MQTT session, by session number (0 for the first CONNECT, then one more per
/// reconnect attempt).
pub type WillFn = Arc<dyn Fn(u64) -> LastWill + Send + Sync>;

/// How batches of samples become MQTT messages, and what else the publisher must do.
pub trait PublishEncoding: Send {
    /// The will to register with each CONNECT, `None` for no will.
    fn will(&self) -> Option<WillFn> {
        None
    }

    /// Whether nothing may be published before a connection is acknowledged (its
    /// [`Self::on_connected`] messages must come first): batches wait while the connection is
    /// down, and go out after the next connect's messages.
    fn waits_for_connection(&self) -> bool {
        false
    }

    /// Topics to subscribe to (QoS 1) after every connect.
    fn subscriptions(&self) -> Vec<String> {
        Vec::new()
    }

    /// Messages to publish once session `session` is connected.
    fn on_connected(&mut self, _session: u64, _now_ms: u64) -> Vec<Message> {
        Vec::new()
    }

    /// Messages in answer to a publish received on one of [`Self::subscriptions`].
    fn on_message(&mut self, _topic: &str, _payload: &[u8], _now_ms: u64) -> Vec<Message> {
        Vec::new()
    }

    /// The messages of one batch of samples.
    fn encode(&mut self, batch: &[Sample], now_ms: u64) -> Result<Vec<Message>, MqttError>;

    /// Messages to publish before a clean disconnect.
    fn on_disconnect(&mut self, _now_ms: u64) -> Vec<Message> {
        Vec::new()
    }
}

fn checked_prefix(topic_prefix: String) -> Result<String, MqttError> {
    if topic_prefix.contains(['+', '#', '\0']) {
        return Err(MqttError::InvalidConfig(format!("topic prefix `{topic_prefix}` must not contain wildcards")));
    }
    Ok(topic_prefix)
}

/// Every sample as JSON ([`encode_json`]) on [`super::sample_topic`] `{prefix}/{asset}/{channel}`.
#[derive(Debug, Clone)]
pub struct JsonEncoding {
    topic_prefix: String,
}

impl JsonEncoding {
    /// JSON under `topic_prefix`, which must hold no wildcard.
    pub fn new(topic_prefix: String) -> Result<Self, MqttError> {
        Ok(JsonEncoding { topic_prefix: checked_prefix(topic_prefix)? })
    }
}

impl PublishEncoding for JsonEncoding {
    fn encode(&mut self, batch: &[Sample], _now_ms: u64) -> Result<Vec<Message>, MqttError> {
        batch
            .iter()
            .map(|s| Ok(Message { topic: super::sample_topic(&self.topic_prefix, s)?, payload: encode_json(s) }))
            .collect()
    }
}

/// Windows as `SWW1` binary ([`encode_binary`]) on `{prefix}/{asset}/{channel}/binary`, scalars
/// (which the binary format cannot carry) as JSON on `{prefix}/{asset}/{channel}`.
#[derive(Debug, Clone)]
pub struct BinaryEncoding {
    topic_prefix: String,
}

impl BinaryEncoding {
    /// Binary windows and JSON scalars under `topic_prefix`, which must hold no wildcard.
    pub fn new(topic_prefix: String) -> Result<Self, MqttError> {
        Ok(BinaryEncoding { topic_prefix: checked_prefix(topic_prefix)? })
    }
}

impl PublishEncoding for BinaryEncoding {
    fn encode(&mut self, batch: &[Sample], _now_ms: u64) -> Result<Vec<Message>, MqttError> {
        batch
            .iter()
            .map(|s| {
                let topic = super::sample_topic(&self.topic_prefix, s)?;
                Ok(match encode_binary(s) {
                    Some(payload) => Message { topic: format!("{topic}/{BINARY_TOPIC_LEVEL}"), payload },
                    None => Message { topic, payload: encode_json(s) },
                })
            })
            .collect()
    }
}

/// A Sparkplug B edge node ([`EdgeNode`]): NDEATH as the will of every session, NBIRTH and
/// DBIRTHs after every connect and on a rebirth request, DDATA per batch, NDEATH before a clean
/// disconnect. Session `n` has `bdSeq` = `n` modulo 256.
#[derive(Debug, Clone)]
pub struct SparkplugEncoding {
    node: EdgeNode,
    connected: bool,
}

impl SparkplugEncoding {
    /// The edge node `node` of `group`.
    pub fn new(group: &str, node: &str) -> Result<Self, MqttError> {
        let node = EdgeNode::new(group, node).map_err(|e| MqttError::InvalidConfig(e.to_string()))?;
        Ok(SparkplugEncoding { node, connected: false })
    }
}

/// The `bdSeq` of session `session`: Sparkplug keeps it in 0-255.
fn bd_seq(session: u64) -> u64 {
    session % 256
}

fn messages(out: Vec<EdgeMessage>) -> Vec<Message> {
    out.into_iter().map(Message::from).collect()
}

impl PublishEncoding for SparkplugEncoding {
    fn will(&self) -> Option<WillFn> {
        let node = self.node.clone();
        Some(Arc::new(move |session| {
            // The will's timestamp is when it was registered: the broker sends it unchanged.
            let death = node.death(bd_seq(session), crate::publish::now_ms());
            LastWill::new(death.topic, death.payload, QoS::AtLeastOnce, false)
        }))
    }

    fn waits_for_connection(&self) -> bool {
        true
    }

    fn subscriptions(&self) -> Vec<String> {
        vec![self.node.command_topic()]
    }

    fn on_connected(&mut self, session: u64, now_ms: u64) -> Vec<Message> {
        self.connected = true;
        messages(self.node.births(bd_seq(session), now_ms))
    }

    fn on_message(&mut self, topic: &str, payload: &[u8], now_ms: u64) -> Vec<Message> {
        if !self.node.is_rebirth_request(topic, payload) {
            return Vec::new();
        }
        tracing::info!(topic, "sparkplug rebirth requested, publishing births again");
        let bd_seq = self.node.bd_seq();
        messages(self.node.births(bd_seq, now_ms))
    }

    fn encode(&mut self, batch: &[Sample], now_ms: u64) -> Result<Vec<Message>, MqttError> {
        let out = self.node.data(batch, now_ms).map_err(|e| MqttError::InvalidConfig(e.to_string()))?;
        Ok(messages(out))
    }

    fn on_disconnect(&mut self, now_ms: u64) -> Vec<Message> {
        if !self.connected {
            return Vec::new();
        }
        vec![self.node.death(self.node.bd_seq(), now_ms).into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snn_engine::{AssetId, ChannelId, Reading, Timestamp};

    fn sample(channel: &str, reading: Reading) -> Sample {
        Sample { asset: AssetId::from("p1"), channel: ChannelId::from(channel), t: Timestamp(1_000), reading }
    }

    #[test]
    fn binary_sends_windows_as_sww1_on_their_own_level_and_scalars_as_json() {
        let window = sample("vib", Reading::Window { sample_rate_hz: 10.0, samples: vec![1.0] });
        let scalar = sample("temp", Reading::Scalar(2.5));
        let out = BinaryEncoding::new("plant".into()).unwrap().encode(&[window.clone(), scalar.clone()], 0).unwrap();
        assert_eq!(out[0].topic, "plant/p1/vib/binary");
        assert_eq!(out[0].payload, encode_binary(&window).unwrap());
        assert_eq!(out[1].topic, "plant/p1/temp");
        assert_eq!(out[1].payload, encode_json(&scalar));
        let json = JsonEncoding::new("plant".into()).unwrap().encode(std::slice::from_ref(&window), 0).unwrap();
        assert_eq!(json, [Message { topic: "plant/p1/vib".into(), payload: encode_json(&window) }]);
        assert!(BinaryEncoding::new("a/+".into()).is_err());
        assert!(JsonEncoding::new("#".into()).is_err());
        let bad = sample("a/b", Reading::Scalar(1.0));
        assert!(BinaryEncoding::new("plant".into()).unwrap().encode(&[bad], 0).is_err());
    }

    #[test]
    fn sparkplug_will_and_births_share_the_session_bd_seq() {
        let mut enc = SparkplugEncoding::new("plant", "simulator").unwrap();
        assert!(enc.on_disconnect(0).is_empty(), "no NDEATH from a node that never connected");
        let will = enc.will().unwrap()(257);
        assert_eq!(will.topic, "spBv1.0/plant/NDEATH/simulator");
        let death = crate::sparkplug::decode_payload(&will.message).unwrap();
        assert_eq!(death.metrics[0].value, Some(crate::sparkplug::proto::MetricValue::LongValue(1)));
        let births = enc.on_connected(257, 5);
        let birth = crate::sparkplug::decode_payload(&births[0].payload).unwrap();
        assert_eq!(birth.metrics[0].value, Some(crate::sparkplug::proto::MetricValue::LongValue(1)));
        assert_eq!(enc.subscriptions(), ["spBv1.0/plant/NCMD/simulator"]);
        assert_eq!(enc.on_disconnect(9)[0].payload, enc.node.death(1, 9).payload);
        assert!(matches!(SparkplugEncoding::new("a/b", "n"), Err(MqttError::InvalidConfig(_))));
    }
}
