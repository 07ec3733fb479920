//! Sparkplug B (sans-I/O): for ingestion, topic parsing, the per-edge-node BIRTH/DATA/DEATH state machine and rebirth requests; the edge node the simulator publishes as is [`edge`].
//!
//! Topics are `spBv1.0/<group>/<type>/<edge node>[/<device>]`. A device's metrics become samples of
//! the asset named by the device id, an edge node's own metrics samples of the asset named by the
//! edge node id; the metric name is the channel. Numeric and boolean metrics become scalar
//! samples, `FloatArray` and `DoubleArray` metrics windows (see [`array`]); strings, bytes,
//! other arrays, datasets, templates, nulls and the `bdSeq` / `Node Control/*` /
//! `Device Control/*` bookkeeping metrics are skipped.
//!
//! State per edge node, as the Sparkplug 3.0 specification asks of a host application:
//! - NBIRTH records the metric aliases, datatypes, `bdSeq` and `seq`, and forgets every device;
//!   DBIRTH records a device's aliases; DDEATH forgets a device; NDEATH forgets the node, unless
//!   its `bdSeq` is not the one of the current birth (a stale will message of an old session).
//! - Every message after NBIRTH except NDEATH carries `seq` = previous + 1 modulo 256.
//! - A gap in `seq`, data from a node (or device) not born, or an alias not in the birth
//!   certificate rejects the message and forgets the node, and the decoder asks for a rebirth:
//!   an NCMD to `spBv1.0/<group>/NCMD/<edge node>` with `Node Control/Rebirth` = true, at most
//!   once every [`REBIRTH_RETRY`] per node.
//!
//! NCMD, DCMD and `STATE` messages (ours included) are ignored.

pub mod array;
pub mod edge;
pub mod proto;

use crate::json::{DecodeError, MAX_ABS_EPOCH_US, malformed};
use crate::route::Command;
use prost::Message;
use proto::{Metric, MetricValue, Payload, datatype};
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::collections::HashMap;
use std::time::Duration;

/// The topic namespace of Sparkplug B.
pub const NAMESPACE: &str = "spBv1.0";
/// The node control metric a host sets to `true` to ask an edge node to publish its births again.
pub const REBIRTH_METRIC: &str = "Node Control/Rebirth";
/// The shortest time between two rebirth requests to one edge node.
pub const REBIRTH_RETRY: Duration = Duration::from_secs(5);
/// Edge nodes tracked at most; more distinct nodes than this are refused instead of growing the map.
pub const MAX_EDGE_NODES: usize = 100_000;

/// The type of a Sparkplug message, the third topic level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// Edge node birth certificate.
    NBirth,
    /// Edge node data.
    NData,
    /// Edge node death certificate (usually the MQTT will).
    NDeath,
    /// Device birth certificate.
    DBirth,
    /// Device data.
    DData,
    /// Device death certificate.
    DDeath,
    /// A command to an edge node or a device (from a host: not data).
    Command,
}

impl MessageType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NBIRTH" => MessageType::NBirth,
            "NDATA" => MessageType::NData,
            "NDEATH" => MessageType::NDeath,
            "DBIRTH" => MessageType::DBirth,
            "DDATA" => MessageType::DData,
            "DDEATH" => MessageType::DDeath,
            "NCMD" | "DCMD" => MessageType::Command,
            _ => return None,
        })
    }

    fn is_device(self) -> bool {
        matches!(self, MessageType::DBirth | MessageType::DData | MessageType::DDeath)
    }
}

/// A parsed Sparkplug topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkplugTopic<'a> {
    /// The group id.
    pub group: &'a str,
    /// The message type.
    pub kind: MessageType,
    /// The edge node id.
    pub edge_node: &'a str,
    /// The device id, for DBIRTH/DDATA/DDEATH/DCMD.
    pub device: Option<&'a str>,
}

/// Parses `spBv1.0/<group>/<type>/<edge node>[/<device>]`; `Ok(None)` for `spBv1.0/STATE/...`.
pub fn parse_topic(topic: &str) -> Result<Option<SparkplugTopic<'_>>, DecodeError> {
    let levels: Vec<&str> = topic.split('/').collect();
    if levels.first() != Some(&NAMESPACE) {
        return Err(malformed(format!("topic `{topic}` is not in the `{NAMESPACE}` namespace")));
    }
    if levels.get(1) == Some(&"STATE") {
        return Ok(None);
    }
    let bad = |why: &str| Err(malformed(format!("sparkplug topic `{topic}` {why}")));
    let (Some(group), Some(kind), Some(edge_node)) = (levels.get(1), levels.get(2), levels.get(3)) else {
        return bad("needs `spBv1.0/<group>/<type>/<edge node>[/<device>]`");
    };
    let Some(kind) = MessageType::parse(kind) else { return bad("has an unknown message type") };
    let device = levels.get(4).copied();
    let device_expected = kind.is_device() || (kind == MessageType::Command && levels[2] == "DCMD");
    if levels.len() > 5 || device.is_some() != device_expected {
        return bad("has the wrong number of levels for its message type");
    }
    if group.is_empty() || edge_node.is_empty() || device == Some("") {
        return bad("has an empty id");
    }
    Ok(Some(SparkplugTopic { group, kind, edge_node, device }))
}

/// The MQTT filter of a `format = "sparkplug"` topic entry: `spBv1.0/<group>/#` or `spBv1.0/+/#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkplugFilter {
    /// `None` for every group (`+`).
    group: Option<String>,
}

impl SparkplugFilter {
    /// Parses `spBv1.0/<group>/#` or `spBv1.0/+/#`.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let levels: Vec<&str> = pattern.split('/').collect();
        match levels.as_slice() {
            [NAMESPACE, "+", "#"] => Ok(SparkplugFilter { group: None }),
            [NAMESPACE, group, "#"] if !group.is_empty() && !group.contains(['+', '#', '\0']) => {
                Ok(SparkplugFilter { group: Some((*group).to_owned()) })
            }
            _ => Err(format!("a sparkplug pattern is `{NAMESPACE}/<group>/#` or `{NAMESPACE}/+/#`")),
        }
    }

    /// The MQTT subscription filter.
    pub fn filter(&self) -> String {
        format!("{NAMESPACE}/{}/#", self.group.as_deref().unwrap_or("+"))
    }

    /// Whether `topic` is under this filter.
    pub fn matches(&self, topic: &str) -> bool {
        let mut levels = topic.split('/');
        levels.next() == Some(NAMESPACE)
            && match (levels.next(), &self.group) {
                (Some(g), Some(want)) => g == want,
                (Some(_), None) => true,
                (None, _) => false,
            }
    }
}

/// What a birth certificate declared for one metric table (the node's, or one device's).
#[derive(Debug, Default)]
struct MetricTable {
    /// alias -> (name, datatype).
    by_alias: HashMap<u64, (String, u32)>,
    /// name -> datatype.
    datatypes: HashMap<String, u32>,
    /// name -> the sample rate an array metric declared in its birth (see [`array`]).
    sample_rates: HashMap<String, f64>,
}

/// What a DATA metric refers to, per its birth certificate.
struct Resolved<'m> {
    name: &'m str,
    datatype: u32,
    /// The array sample rate declared in the birth certificate, if any.
    birth_rate: Option<f64>,
}

impl MetricTable {
    fn from_birth(metrics: &[Metric]) -> Result<Self, DecodeError> {
        let mut table = MetricTable::default();
        for m in metrics {
            let name = m.name.clone().filter(|n| !n.is_empty());
            let name = name.ok_or_else(|| malformed("birth certificate metric without a name"))?;
            let datatype = m.datatype.unwrap_or(0);
            if let Some(alias) = m.alias
                && table.by_alias.insert(alias, (name.clone(), datatype)).is_some()
            {
                return Err(malformed(format!("birth certificate declares alias {alias} twice")));
            }
            if let Some(rate) = array::declared_sample_rate(m) {
                table.sample_rates.insert(name.clone(), rate);
            }
            table.datatypes.insert(name, datatype);
        }
        Ok(table)
    }

    /// The name and datatype of a DATA metric: its own name wins, else its alias.
    fn resolve<'m>(&'m self, m: &'m Metric) -> Result<Resolved<'m>, DecodeError> {
        let (name, born_type) = match (&m.name, m.alias) {
            (Some(name), _) if !name.is_empty() => (name.as_str(), self.datatypes.get(name).copied()),
            (_, Some(alias)) => {
                let (name, t) =
                    self.by_alias.get(&alias).ok_or_else(|| malformed(format!("unknown metric alias {alias}")))?;
                (name.as_str(), Some(*t))
            }
            _ => return Err(malformed("metric has neither a name nor an alias")),
        };
        let datatype = m.datatype.or(born_type).unwrap_or(0);
        Ok(Resolved { name, datatype, birth_rate: self.sample_rates.get(name).copied() })
    }
}

#[derive(Debug)]
struct Birth {
    seq: u8,
    bd_seq: Option<u64>,
    node: MetricTable,
    devices: HashMap<String, MetricTable>,
}

#[derive(Debug, Default)]
struct NodeState {
    /// `None` until an NBIRTH, and again after NDEATH or any inconsistency.
    birth: Option<Birth>,
    /// When a rebirth was last requested (for [`REBIRTH_RETRY`]).
    rebirth_requested_at: Option<Timestamp>,
}

/// The result of decoding one Sparkplug message.
#[derive(Debug, Clone, PartialEq)]
pub struct SparkplugOutcome {
    /// The samples carried (none for deaths and commands), or why the message was rejected.
    pub samples: Result<Vec<Sample>, DecodeError>,
    /// A rebirth request to publish.
    pub command: Option<Command>,
}

/// Sparkplug B host-side state for every edge node seen; decode messages with [`Self::decode`].
#[derive(Debug, Default)]
pub struct SparkplugDecoder {
    nodes: HashMap<(String, String), NodeState>,
}

impl SparkplugDecoder {
    /// An empty decoder: every edge node is unborn.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode one message received on a Sparkplug `topic`. `now` (wall clock) stamps and paces
    /// rebirth requests.
    pub fn decode(&mut self, topic: &str, payload: &[u8], now: Timestamp) -> SparkplugOutcome {
        let done = |samples| SparkplugOutcome { samples, command: None };
        let topic = match parse_topic(topic) {
            Ok(Some(t)) if t.kind != MessageType::Command => t,
            Ok(_) => return done(Ok(Vec::new())),
            Err(e) => return done(Err(e)),
        };
        let key = (topic.group.to_owned(), topic.edge_node.to_owned());
        if !self.nodes.contains_key(&key) && self.nodes.len() >= MAX_EDGE_NODES {
            return done(Err(DecodeError::Oversized(format!("more than {MAX_EDGE_NODES} sparkplug edge nodes"))));
        }
        let node = self.nodes.entry(key).or_default();
        let result = decode_payload(payload).map_err(Failure::Rebirth).and_then(|p| apply(node, &topic, &p));
        match result {
            Ok(samples) => done(Ok(samples)),
            Err(Failure::Reject(e)) => done(Err(e)),
            Err(Failure::Rebirth(e)) => {
                // Whatever went wrong, the host's picture of this node can no longer be trusted.
                node.birth = None;
                let due = node
                    .rebirth_requested_at
                    .is_none_or(|at| now.0.saturating_sub(at.0) >= REBIRTH_RETRY.as_micros() as i64);
                let command = due.then(|| {
                    node.rebirth_requested_at = Some(now);
                    rebirth_command(topic.group, topic.edge_node, now)
                });
                SparkplugOutcome { samples: Err(e), command }
            }
        }
    }
}

/// Why a message was rejected: a bad value only rejects it, a broken picture of the node also
/// forgets the node and asks for a rebirth.
enum Failure {
    Reject(DecodeError),
    Rebirth(DecodeError),
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Self {
        Failure::Rebirth(e)
    }
}

/// Applies one decoded payload to its node's state.
fn apply(node: &mut NodeState, topic: &SparkplugTopic<'_>, p: &Payload) -> Result<Vec<Sample>, Failure> {
    let node_asset = || AssetId::from(topic.edge_node);
    match topic.kind {
        MessageType::NBirth => {
            let seq = sequence(p)?;
            let table = MetricTable::from_birth(&p.metrics)?;
            node.rebirth_requested_at = None;
            let birth = node.birth.insert(Birth { seq, bd_seq: bd_seq(p), node: table, devices: HashMap::new() });
            return samples(p, &node_asset(), |m| birth.node.resolve(m));
        }
        MessageType::NDeath => {
            // A will message from an older session must not kill the current one.
            let stale =
                matches!((&node.birth, bd_seq(p)), (Some(b), Some(d)) if b.bd_seq.is_some_and(|born| born != d));
            if !stale {
                node.birth = None;
            }
            return Ok(Vec::new());
        }
        _ => {}
    }
    let birth = node
        .birth
        .as_mut()
        .ok_or_else(|| malformed(format!("data from edge node `{}` before its NBIRTH", topic.edge_node)))?;
    let seq = sequence(p)?;
    let expected = birth.seq.wrapping_add(1);
    if seq != expected {
        return Err(Failure::Rebirth(DecodeError::SequenceGap(format!(
            "edge node `{}` sent seq {seq}, expected {expected}",
            topic.edge_node
        ))));
    }
    birth.seq = seq;
    let device = topic.device.unwrap_or_default();
    match topic.kind {
        MessageType::NData => samples(p, &node_asset(), |m| birth.node.resolve(m)),
        MessageType::DBirth => {
            let table = MetricTable::from_birth(&p.metrics)?;
            let table = birth.devices.entry(device.to_owned()).insert_entry(table).into_mut();
            samples(p, &AssetId::from(device), |m| table.resolve(m))
        }
        MessageType::DData => {
            let table = birth.devices.get(device).ok_or_else(|| {
                malformed(format!("data from device `{device}` of `{}` before its DBIRTH", topic.edge_node))
            })?;
            samples(p, &AssetId::from(device), |m| table.resolve(m))
        }
        MessageType::DDeath => {
            birth.devices.remove(device);
            Ok(Vec::new())
        }
        MessageType::NBirth | MessageType::NDeath | MessageType::Command => unreachable!("handled above"),
    }
}

fn sequence(p: &Payload) -> Result<u8, DecodeError> {
    let seq = p.seq.ok_or_else(|| malformed("sparkplug payload without `seq`"))?;
    u8::try_from(seq).map_err(|_| malformed(format!("sparkplug `seq` = {seq} is above 255")))
}

fn bd_seq(p: &Payload) -> Option<u64> {
    p.metrics.iter().find(|m| m.name.as_deref() == Some("bdSeq")).and_then(|m| match m.value {
        Some(MetricValue::LongValue(v)) => Some(v),
        Some(MetricValue::IntValue(v)) => Some(u64::from(v)),
        _ => None,
    })
}

/// The samples of a payload's metrics (all-or-nothing), names resolved by `resolve`. An
/// unresolvable metric asks for a rebirth; a bad value or timestamp only rejects the message.
fn samples<'p>(
    p: &'p Payload,
    asset: &AssetId,
    resolve: impl Fn(&'p Metric) -> Result<Resolved<'p>, DecodeError>,
) -> Result<Vec<Sample>, Failure> {
    samples_of(p, asset, |m| resolve(m).map_err(Failure::Rebirth))
}

fn samples_of<'p>(
    p: &'p Payload,
    asset: &AssetId,
    resolve: impl Fn(&'p Metric) -> Result<Resolved<'p>, Failure>,
) -> Result<Vec<Sample>, Failure> {
    let reject = |e: DecodeError| Failure::Reject(e);
    let mut out = Vec::with_capacity(p.metrics.len());
    for m in &p.metrics {
        let Resolved { name, datatype, birth_rate } = resolve(m)?;
        if name == "bdSeq" || name.starts_with("Node Control/") || name.starts_with("Device Control/") {
            continue;
        }
        let Some(reading) = reading(m, datatype, name, birth_rate).map_err(reject)? else { continue };
        let ms = m.timestamp.or(p.timestamp);
        let ms = ms.ok_or_else(|| reject(malformed(format!("metric `{name}` has no timestamp"))))?;
        let micros = ms.checked_mul(1000).filter(|us| *us <= MAX_ABS_EPOCH_US);
        let micros =
            micros.ok_or_else(|| reject(malformed(format!("metric `{name}` timestamp {ms} ms is out of range"))))?;
        out.push(Sample { asset: asset.clone(), channel: ChannelId::from(name), t: Timestamp(micros as i64), reading });
    }
    Ok(out)
}

/// A metric's value as a reading, `None` when it carries no measurement (null, text, bytes, ...).
fn reading(m: &Metric, datatype: u32, name: &str, birth_rate: Option<f64>) -> Result<Option<Reading>, DecodeError> {
    if m.is_null == Some(true) {
        return Ok(None);
    }
    if array::is_window_array(datatype) {
        return array::window(m, datatype, name, birth_rate).map(Some);
    }
    let v = match m.value {
        // Signed types travel as two's complement in the low bits of the unsigned field.
        Some(MetricValue::IntValue(v)) => match datatype {
            datatype::INT8 => f64::from(v as u8 as i8),
            datatype::INT16 => f64::from(v as u16 as i16),
            datatype::INT32 => f64::from(v as i32),
            _ => f64::from(v),
        },
        Some(MetricValue::LongValue(v)) => match datatype {
            datatype::DATETIME => return Ok(None),
            datatype::INT64 => v as i64 as f64,
            _ => v as f64,
        },
        Some(MetricValue::FloatValue(v)) => f64::from(v),
        Some(MetricValue::DoubleValue(v)) => v,
        Some(MetricValue::BooleanValue(b)) => f64::from(u8::from(b)),
        _ => return Ok(None),
    };
    if !v.is_finite() {
        return Err(DecodeError::NonFinite(name.to_owned()));
    }
    Ok(Some(Reading::Scalar(v)))
}

/// The NCMD asking `edge_node` of `group` to publish its NBIRTH and DBIRTHs again.
pub fn rebirth_command(group: &str, edge_node: &str, now: Timestamp) -> Command {
    let ms = now.0.div_euclid(1000).max(0) as u64;
    let payload = Payload {
        timestamp: Some(ms),
        metrics: vec![Metric {
            name: Some(REBIRTH_METRIC.to_owned()),
            timestamp: Some(ms),
            datatype: Some(datatype::BOOLEAN),
            value: Some(MetricValue::BooleanValue(true)),
            ..Metric::default()
        }],
        ..Payload::default()
    };
    Command { topic: format!("{NAMESPACE}/{group}/NCMD/{edge_node}"), payload: payload.encode_to_vec() }
}

/// Encode a payload to protobuf bytes (for publishers, tests and benchmarks).
pub fn encode_payload(payload: &Payload) -> Vec<u8> {
    payload.encode_to_vec()
}

/// Decode protobuf bytes into a payload.
pub fn decode_payload(bytes: &[u8]) -> Result<Payload, DecodeError> {
    Payload::decode(bytes).map_err(|e| malformed(format!("invalid sparkplug b protobuf: {e}")))
}

#[cfg(test)]
mod tests;
