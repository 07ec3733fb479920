//! A Sparkplug B edge node (sans-I/O): turns samples into NBIRTH / DBIRTH / DDATA / NDEATH payloads with aliases and sequence numbers, and recognises rebirth requests.
//!
//! One edge node `spBv1.0/<group>/…/<node>` publishes for every asset as a device (device id =
//! asset id, metric name = channel). What the node owes a Sparkplug host (Sparkplug B 3.0):
//! - NBIRTH after every (re)connect and on a rebirth request, with `seq` 0, the `bdSeq` of the
//!   MQTT session (the same number as in the NDEATH registered as that session's will) and the
//!   `Node Control/Rebirth` metric; then a DBIRTH of every device already known.
//! - A device is born (DBIRTH) the first time it has samples, declaring every metric it has with
//!   name, alias and datatype and its current value; a later batch that brings a new channel, or
//!   a channel whose reading changed kind (scalar / window), births the device again.
//! - DDATA carries metrics by alias only. Every message after NBIRTH (DBIRTH, DDATA) carries
//!   `seq` = previous + 1, wrapping from 255 to 0; NDEATH carries none.
//!
//! Scalars are `Double` metrics; windows are `FloatArray` metrics with their sample rate in the
//! `sample_rate_hz` property (see [`super::array`]), in the birth and in every DDATA. Metric
//! timestamps are the samples' times in whole milliseconds, as Sparkplug has no finer unit.

use super::array::{float_array_bytes, sample_rate_properties};
use super::proto::{Metric, MetricValue, Payload, datatype};
use super::{NAMESPACE, REBIRTH_METRIC, decode_payload, encode_payload};
use snn_engine::{Reading, Sample};
use std::collections::HashMap;
use thiserror::Error;

/// The name of the birth/death session number metric.
pub const BD_SEQ_METRIC: &str = "bdSeq";

/// One MQTT message of the edge node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeMessage {
    /// `spBv1.0/<group>/<type>/<node>[/<device>]`.
    pub topic: String,
    /// The protobuf payload.
    pub payload: Vec<u8>,
}

/// Why the edge node cannot publish something.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EdgeError {
    /// A group, edge node or device id cannot be one topic level.
    #[error("sparkplug {what} id `{id}` cannot be a topic level (empty, or holds `/`, `+`, `#` or NUL)")]
    InvalidId {
        /// `group`, `edge node` or `device`.
        what: &'static str,
        /// The id as given.
        id: String,
    },
    /// A sample is stamped before 1970, which a Sparkplug timestamp cannot express.
    #[error("sample of `{asset}/{channel}` at {t_us} µs is before the unix epoch")]
    BeforeEpoch {
        /// The asset.
        asset: String,
        /// The channel.
        channel: String,
        /// Its time in microseconds since the epoch.
        t_us: i64,
    },
}

fn check_id(what: &'static str, id: &str) -> Result<(), EdgeError> {
    if id.is_empty() || id.contains(['/', '+', '#', '\0']) {
        return Err(EdgeError::InvalidId { what, id: id.to_owned() });
    }
    Ok(())
}

/// One metric of a device as declared in its birth, with the value it last published.
#[derive(Debug, Clone)]
struct DeviceMetric {
    alias: u64,
    datatype: u32,
    last: Metric,
}

#[derive(Debug, Clone, Default)]
struct Device {
    /// Channel name -> metric, in birth order.
    metrics: Vec<(String, DeviceMetric)>,
}

/// The state of one Sparkplug edge node: its ids, the current `seq` and `bdSeq`, and the aliases
/// and last values of every device it has announced.
#[derive(Debug, Clone)]
pub struct EdgeNode {
    group: String,
    node: String,
    /// The `seq` of the last message sent.
    seq: u8,
    bd_seq: u64,
    next_alias: u64,
    /// Devices in the order they were first seen (births go out in this order).
    devices: Vec<(String, Device)>,
    index: HashMap<String, usize>,
}

impl EdgeNode {
    /// An edge node `node` of `group` that has published nothing yet.
    pub fn new(group: &str, node: &str) -> Result<Self, EdgeError> {
        check_id("group", group)?;
        check_id("edge node", node)?;
        Ok(EdgeNode {
            group: group.to_owned(),
            node: node.to_owned(),
            seq: 0,
            bd_seq: 0,
            next_alias: 1,
            devices: Vec::new(),
            index: HashMap::new(),
        })
    }

    /// The group id.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The edge node id.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn topic(&self, kind: &str, device: Option<&str>) -> String {
        match device {
            Some(d) => format!("{NAMESPACE}/{}/{kind}/{}/{d}", self.group, self.node),
            None => format!("{NAMESPACE}/{}/{kind}/{}", self.group, self.node),
        }
    }

    /// Where hosts send this node's commands (subscribe to it to hear rebirth requests).
    pub fn command_topic(&self) -> String {
        self.topic("NCMD", None)
    }

    /// The NDEATH of the MQTT session whose NBIRTH carries `bd_seq`: register it as that
    /// session's will, and publish it before a clean disconnect.
    pub fn death(&self, bd_seq: u64, now_ms: u64) -> EdgeMessage {
        let payload =
            Payload { timestamp: Some(now_ms), metrics: vec![bd_seq_metric(bd_seq, now_ms)], ..Payload::default() };
        EdgeMessage { topic: self.topic("NDEATH", None), payload: encode_payload(&payload) }
    }

    /// The NBIRTH of the session `bd_seq` and a DBIRTH of every device known, with their last
    /// values: what to publish after a (re)connect or a rebirth request.
    pub fn births(&mut self, bd_seq: u64, now_ms: u64) -> Vec<EdgeMessage> {
        self.bd_seq = bd_seq;
        self.seq = 0;
        let rebirth = Metric {
            name: Some(REBIRTH_METRIC.to_owned()),
            timestamp: Some(now_ms),
            datatype: Some(datatype::BOOLEAN),
            value: Some(MetricValue::BooleanValue(false)),
            ..Metric::default()
        };
        let nbirth = Payload {
            timestamp: Some(now_ms),
            metrics: vec![bd_seq_metric(bd_seq, now_ms), rebirth],
            seq: Some(0),
            ..Payload::default()
        };
        let mut out = vec![EdgeMessage { topic: self.topic("NBIRTH", None), payload: encode_payload(&nbirth) }];
        for i in 0..self.devices.len() {
            out.push(self.dbirth(i, now_ms));
        }
        out
    }

    /// The `bdSeq` of the current session (of the last [`Self::births`]).
    pub fn bd_seq(&self) -> u64 {
        self.bd_seq
    }

    fn next_seq(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(1);
        u64::from(self.seq)
    }

    fn dbirth(&mut self, device: usize, now_ms: u64) -> EdgeMessage {
        let (id, d) = &self.devices[device];
        let metrics = d
            .metrics
            .iter()
            .map(|(name, m)| Metric {
                name: Some(name.clone()),
                alias: Some(m.alias),
                datatype: Some(m.datatype),
                ..m.last.clone()
            })
            .collect();
        let topic = self.topic("DBIRTH", Some(id));
        let payload = Payload { timestamp: Some(now_ms), metrics, seq: Some(self.next_seq()), ..Payload::default() };
        EdgeMessage { topic, payload: encode_payload(&payload) }
    }

    /// The messages of one batch of samples: per device in order of first appearance in the
    /// batch, a DBIRTH when the device or one of its channels is new, else one DDATA with all of
    /// the device's metrics of the batch. Nothing is sent (and no state changes) on an error.
    pub fn data(&mut self, batch: &[Sample], now_ms: u64) -> Result<Vec<EdgeMessage>, EdgeError> {
        // Group by device, keeping first-appearance order; validate everything before mutating.
        let mut groups: Vec<(&str, Vec<(&str, Metric)>)> = Vec::new();
        for s in batch {
            check_id("device", s.asset.as_str())?;
            let metric = value_metric(s)?;
            let channel = s.channel.as_str();
            match groups.iter_mut().find(|(a, _)| *a == s.asset.as_str()) {
                Some((_, metrics)) => metrics.push((channel, metric)),
                None => groups.push((s.asset.as_str(), vec![(channel, metric)])),
            }
        }
        let mut out = Vec::with_capacity(groups.len());
        for (asset, metrics) in groups {
            let device = match self.index.get(asset) {
                Some(&i) => i,
                None => {
                    self.devices.push((asset.to_owned(), Device::default()));
                    self.index.insert(asset.to_owned(), self.devices.len() - 1);
                    self.devices.len() - 1
                }
            };
            let mut needs_birth = self.devices[device].1.metrics.is_empty();
            let mut ddata = Vec::with_capacity(metrics.len());
            for (channel, metric) in metrics {
                let kind = metric.datatype.expect("value_metric sets the datatype");
                let known = &mut self.devices[device].1.metrics;
                match known.iter_mut().find(|(name, _)| name == channel) {
                    Some((_, m)) if m.datatype == kind => {
                        ddata.push(Metric { alias: Some(m.alias), datatype: None, ..metric.clone() });
                        m.last = metric;
                    }
                    Some((_, m)) => {
                        // A channel that changed kind needs a new birth so hosts read it right.
                        m.datatype = kind;
                        m.last = metric;
                        needs_birth = true;
                    }
                    None => {
                        let alias = self.next_alias;
                        self.next_alias += 1;
                        known.push((channel.to_owned(), DeviceMetric { alias, datatype: kind, last: metric }));
                        needs_birth = true;
                    }
                }
            }
            if needs_birth {
                // The birth carries every metric's current value, this batch's included.
                out.push(self.dbirth(device, now_ms));
            } else {
                let topic = self.topic("DDATA", Some(&self.devices[device].0));
                let payload = Payload {
                    timestamp: Some(now_ms),
                    metrics: ddata,
                    seq: Some(self.next_seq()),
                    ..Payload::default()
                };
                out.push(EdgeMessage { topic, payload: encode_payload(&payload) });
            }
        }
        Ok(out)
    }

    /// Whether a message on `topic` asks this node to publish its births again: an NCMD to this
    /// node setting `Node Control/Rebirth` to true. Anything else (other topics, unreadable
    /// payloads, other commands) is not.
    pub fn is_rebirth_request(&self, topic: &str, payload: &[u8]) -> bool {
        if topic != self.command_topic() {
            return false;
        }
        let Ok(p) = decode_payload(payload) else { return false };
        p.metrics.iter().any(|m| {
            m.name.as_deref() == Some(REBIRTH_METRIC) && matches!(m.value, Some(MetricValue::BooleanValue(true)))
        })
    }
}

fn bd_seq_metric(bd_seq: u64, now_ms: u64) -> Metric {
    Metric {
        name: Some(BD_SEQ_METRIC.to_owned()),
        timestamp: Some(now_ms),
        datatype: Some(datatype::INT64),
        value: Some(MetricValue::LongValue(bd_seq)),
        ..Metric::default()
    }
}

/// A sample as a metric without name or alias: its timestamp, datatype, value and, for a
/// window, the sample rate property.
fn value_metric(s: &Sample) -> Result<Metric, EdgeError> {
    let ms = u64::try_from(s.t.0.div_euclid(1000)).map_err(|_| EdgeError::BeforeEpoch {
        asset: s.asset.to_string(),
        channel: s.channel.to_string(),
        t_us: s.t.0,
    })?;
    Ok(match &s.reading {
        Reading::Scalar(v) => Metric {
            timestamp: Some(ms),
            datatype: Some(datatype::DOUBLE),
            value: Some(MetricValue::DoubleValue(*v)),
            ..Metric::default()
        },
        Reading::Window { sample_rate_hz, samples } => Metric {
            timestamp: Some(ms),
            datatype: Some(datatype::FLOAT_ARRAY),
            properties: Some(sample_rate_properties(*sample_rate_hz)),
            value: Some(MetricValue::BytesValue(float_array_bytes(samples))),
            ..Metric::default()
        },
    })
}

#[cfg(test)]
mod tests;
