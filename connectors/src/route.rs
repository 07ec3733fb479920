//! Topic entries of the MQTT config and the decoder they compile into: which payload format and JSON layout each topic uses (sans-I/O).
//!
//! An entry of `topics` is a plain pattern string (JSON in the built-in layout, as before), or a
//! table naming the pattern, the payload format and, for JSON, where each field is:
//!
//! ```toml
//! topics = [
//!     "plant/{asset}/{channel}",
//!     { pattern = "gw/{asset}/{channel}", time_pointer = "/ts", value_pointer = "/data/v", time_format = "epoch_s" },
//!     { pattern = "fast/{asset}/{channel}", format = "binary" },
//!     { pattern = "spBv1.0/plant1/#", format = "sparkplug" },
//! ]
//! ```
//!
//! The first entry whose pattern matches a topic decodes it.

use crate::binary::decode_binary;
use crate::ingest::{Ingest, RejectReason, Rejection};
use crate::json::{JsonLayout, TimeFormat, decode_json_with};
use crate::sparkplug::{SparkplugDecoder, SparkplugFilter};
use crate::topic::{TopicError, TopicPattern};
use serde::{Deserialize, Serialize};
use snn_engine::{AssetId, ChannelId, Timestamp};

/// One entry of `MqttConfig::topics`: a pattern string, or a table with a format and mapping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum TopicConfig {
    /// `"plant/{asset}/{channel}"`: JSON in the built-in layout.
    Pattern(String),
    /// `{ pattern = "...", format = "json" | "binary" | "sparkplug", ... }`.
    Mapped(MappedTopic),
}

impl From<String> for TopicConfig {
    fn from(pattern: String) -> Self {
        TopicConfig::Pattern(pattern)
    }
}

impl From<&str> for TopicConfig {
    fn from(pattern: &str) -> Self {
        TopicConfig::Pattern(pattern.to_owned())
    }
}

/// A topic entry with an explicit payload format and, for JSON, a field mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MappedTopic {
    /// `plant/{asset}/{channel}` for JSON and binary; `spBv1.0/<group>/#` (or `spBv1.0/+/#`) for Sparkplug.
    pub pattern: String,
    /// The payload format (default `json`).
    #[serde(default)]
    pub format: PayloadFormat,
    /// JSON pointer (RFC 6901) to the timestamp, default `/t`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_pointer: Option<String>,
    /// JSON pointer to a scalar value, default `/value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_pointer: Option<String>,
    /// JSON pointer to a window's sample rate in Hz, default `/sample_rate_hz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate_pointer: Option<String>,
    /// JSON pointer to a window's samples, default `/samples`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_pointer: Option<String>,
    /// How the JSON timestamp is written, default `auto` (epoch ms number or RFC 3339 string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_format: Option<TimeFormat>,
}

/// The payload format of a topic entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// JSON scalars, windows and batches (see [`crate::json`]).
    #[default]
    Json,
    /// The `SWW1` binary window (see [`crate::binary`]).
    Binary,
    /// Sparkplug B protobuf (see [`crate::sparkplug`]).
    Sparkplug,
}

impl PayloadFormat {
    /// Every format, in declaration order.
    pub const ALL: [PayloadFormat; 3] = [PayloadFormat::Json, PayloadFormat::Binary, PayloadFormat::Sparkplug];

    /// The name used in config files and on the command line: `json`, `binary` or `sparkplug`.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Json => "json",
            PayloadFormat::Binary => "binary",
            PayloadFormat::Sparkplug => "sparkplug",
        }
    }
}

impl std::fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PayloadFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PayloadFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown payload format `{s}`, expected `json`, `binary` or `sparkplug`"))
    }
}

impl TopicConfig {
    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        match self {
            TopicConfig::Pattern(p) => p,
            TopicConfig::Mapped(m) => &m.pattern,
        }
    }

    /// Parses the pattern and checks the mapping.
    pub fn compile(&self) -> Result<Route, TopicError> {
        let m = match self {
            TopicConfig::Pattern(p) => return Ok(Route::Json(TopicPattern::parse(p)?, JsonLayout::default())),
            TopicConfig::Mapped(m) => m,
        };
        let invalid = |why: String| TopicError::InvalidMapping { pattern: m.pattern.clone(), why };
        let has_json_fields = m.time_pointer.is_some()
            || m.value_pointer.is_some()
            || m.sample_rate_pointer.is_some()
            || m.samples_pointer.is_some()
            || m.time_format.is_some();
        if m.format != PayloadFormat::Json && has_json_fields {
            return Err(invalid("json pointers and `time_format` apply only to `format = \"json\"`".into()));
        }
        Ok(match m.format {
            PayloadFormat::Json => {
                let d = JsonLayout::default();
                let layout = JsonLayout {
                    time_pointer: m.time_pointer.clone().unwrap_or(d.time_pointer),
                    value_pointer: m.value_pointer.clone().unwrap_or(d.value_pointer),
                    sample_rate_pointer: m.sample_rate_pointer.clone().unwrap_or(d.sample_rate_pointer),
                    samples_pointer: m.samples_pointer.clone().unwrap_or(d.samples_pointer),
                    time_format: m.time_format.unwrap_or(d.time_format),
                };
                layout.validate().map_err(invalid)?;
                Route::Json(TopicPattern::parse(&m.pattern)?, layout)
            }
            PayloadFormat::Binary => Route::Binary(TopicPattern::parse(&m.pattern)?),
            PayloadFormat::Sparkplug => Route::Sparkplug(SparkplugFilter::parse(&m.pattern).map_err(invalid)?),
        })
    }
}

/// A compiled topic entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// JSON with a layout.
    Json(TopicPattern, JsonLayout),
    /// `SWW1` binary windows.
    Binary(TopicPattern),
    /// Sparkplug B.
    Sparkplug(SparkplugFilter),
}

impl Route {
    /// The MQTT subscription filter.
    pub fn filter(&self) -> String {
        match self {
            Route::Json(p, _) | Route::Binary(p) => p.filter(),
            Route::Sparkplug(f) => f.filter(),
        }
    }
}

/// The route a topic matched, with the asset and channel it names.
enum Hit<'r> {
    Json(&'r JsonLayout, AssetId, ChannelId),
    Binary(AssetId, ChannelId),
    Sparkplug,
}

/// A message the source must publish on behalf of a decoder (a Sparkplug rebirth request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Where to publish.
    pub topic: String,
    /// What to publish.
    pub payload: Vec<u8>,
}

/// What one publish turned into.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// The samples it carries, or one rejection saying why it carries none.
    pub items: Vec<Ingest>,
    /// Messages to publish in response (QoS 0, not retained).
    pub commands: Vec<Command>,
}

/// Decodes publishes by topic with the configured routes, keeping Sparkplug state (sans-I/O).
#[derive(Debug)]
pub struct Decoder {
    routes: Vec<Route>,
    max_payload_bytes: usize,
    sparkplug: SparkplugDecoder,
}

impl Decoder {
    /// A decoder trying `routes` in order; larger payloads are rejected as oversized.
    pub fn new(routes: Vec<Route>, max_payload_bytes: usize) -> Self {
        Decoder { routes, max_payload_bytes, sparkplug: SparkplugDecoder::new() }
    }

    /// The routes, in order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Turns one publish into what the pipeline receives. `now` is the wall clock (it stamps and
    /// paces Sparkplug rebirth requests).
    pub fn decode(&mut self, topic: &str, payload: &[u8], now: Timestamp) -> Decoded {
        let reject = |reason, detail: String| Decoded {
            items: vec![Ingest::Rejected(Rejection::new(reason, topic, detail))],
            commands: Vec::new(),
        };
        if payload.len() > self.max_payload_bytes {
            return reject(
                RejectReason::Oversized,
                format!("payload of {} bytes exceeds `max_payload_bytes` = {}", payload.len(), self.max_payload_bytes),
            );
        }
        let hit = self.routes.iter().find_map(|route| match route {
            Route::Json(p, layout) => p.extract(topic).map(|(a, c)| Hit::Json(layout, a, c)),
            Route::Binary(p) => p.extract(topic).map(|(a, c)| Hit::Binary(a, c)),
            Route::Sparkplug(f) => f.matches(topic).then_some(Hit::Sparkplug),
        });
        let result = match hit {
            None => return reject(RejectReason::UnknownTopic, "topic matches no configured pattern".into()),
            Some(Hit::Json(layout, asset, channel)) => decode_json_with(layout, &asset, &channel, payload),
            Some(Hit::Binary(asset, channel)) => decode_binary(&asset, &channel, payload),
            Some(Hit::Sparkplug) => {
                let out = self.sparkplug.decode(topic, payload, now);
                let commands = out.command.into_iter().collect();
                return match out.samples {
                    Ok(samples) => Decoded { items: samples.into_iter().map(Ingest::Sample).collect(), commands },
                    Err(e) => Decoded { commands, ..reject(e.reason(), e.to_string()) },
                };
            }
        };
        match result {
            Ok(samples) => Decoded { items: samples.into_iter().map(Ingest::Sample).collect(), commands: Vec::new() },
            Err(e) => reject(e.reason(), e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::{BinarySamples, encode_binary_window};
    use snn_engine::Reading;

    fn decoder(topics: &[TopicConfig], max_payload_bytes: usize) -> Decoder {
        Decoder::new(topics.iter().map(|t| t.compile().unwrap()).collect(), max_payload_bytes)
    }

    fn mapped(json: &str) -> TopicConfig {
        serde_json::from_str(json).unwrap()
    }

    fn reason(d: &Decoded) -> Option<RejectReason> {
        match d.items.as_slice() {
            [Ingest::Rejected(r)] => Some(r.reason),
            _ => None,
        }
    }

    fn sample(d: &Decoded, i: usize) -> &snn_engine::Sample {
        match &d.items[i] {
            Ingest::Sample(s) => s,
            other => panic!("expected a sample, got {other:?}"),
        }
    }

    #[test]
    fn publish_becomes_samples_or_one_rejection() {
        let mut d = decoder(&["plant/{asset}/{channel}".into(), "site/{asset}/s/{channel}".into()], 1024);
        let now = Timestamp(0);
        let out = d.decode("site/m1/s/temp", br#"[{"t":1,"value":1},{"t":2,"value":2}]"#, now);
        assert_eq!(out.items.len(), 2);
        assert!(out.commands.is_empty());
        assert_eq!((sample(&out, 1).asset.as_str(), sample(&out, 1).channel.as_str()), ("m1", "temp"));
        assert_eq!(sample(&out, 1).reading, Reading::Scalar(2.0));
        assert_eq!(reason(&d.decode("other/m1/temp", br#"{"t":1,"value":1}"#, now)), Some(RejectReason::UnknownTopic));
        assert_eq!(reason(&d.decode("plant/m1/temp", b"{", now)), Some(RejectReason::Malformed));
        assert_eq!(reason(&d.decode("plant/m1/temp", br#"{"t":1,"value":"NaN"}"#, now)), Some(RejectReason::NonFinite));
        let mut small = decoder(&["plant/{asset}/{channel}".into()], 5);
        let big = small.decode("plant/m1/temp", br#"{"t":1,"value":1}"#, now);
        assert_eq!(reason(&big), Some(RejectReason::Oversized));
        let Ingest::Rejected(r) = &big.items[0] else { unreachable!() };
        assert_eq!(r.source, "plant/m1/temp");
    }

    #[test]
    fn mapped_json_binary_and_sparkplug_routes() {
        let topics = [
            mapped(
                r#"{"pattern": "gw/{asset}/{channel}", "time_pointer": "/ts", "value_pointer": "/data/v", "time_format": "epoch_s"}"#,
            ),
            mapped(r#"{"pattern": "fast/{asset}/{channel}", "format": "binary"}"#),
            mapped(r#"{"pattern": "spBv1.0/+/#", "format": "sparkplug"}"#),
        ];
        let mut d = decoder(&topics, 1 << 20);
        let now = Timestamp(1_700_000_000_000_000);
        let out = d.decode("gw/p1/temp", br#"{"ts": 1700000000, "data": {"v": 21.5, "unit": "C"}}"#, now);
        assert_eq!(sample(&out, 0).t, Timestamp(1_700_000_000_000_000));
        assert_eq!(sample(&out, 0).reading, Reading::Scalar(21.5));
        // The built-in layout does not apply to a mapped topic.
        assert_eq!(reason(&d.decode("gw/p1/temp", br#"{"t": 1, "value": 1}"#, now)), Some(RejectReason::Malformed));
        let bin = encode_binary_window(Timestamp(7), 100.0, BinarySamples::F32(&[1.0, 2.0]));
        let out = d.decode("fast/p1/vib", &bin, now);
        assert_eq!(sample(&out, 0).reading, Reading::Window { sample_rate_hz: 100.0, samples: vec![1.0, 2.0] });
        assert_eq!(reason(&d.decode("fast/p1/vib", b"{}", now)), Some(RejectReason::Malformed));
        // Sparkplug data before any birth: rejected, and a rebirth is requested.
        let out = d.decode("spBv1.0/g1/NDATA/edge1", &[], now);
        assert_eq!(reason(&out), Some(RejectReason::Malformed));
        assert_eq!(out.commands.len(), 1);
        assert_eq!(out.commands[0].topic, "spBv1.0/g1/NCMD/edge1");
        // Our own command comes back through the `#` subscription and is ignored.
        let echo = d.decode("spBv1.0/g1/NCMD/edge1", &out.commands[0].payload, now);
        assert_eq!(echo, Decoded::default());
    }

    #[test]
    fn payload_formats_parse_and_print_as_in_config_files() {
        for f in PayloadFormat::ALL {
            assert_eq!(f.to_string().parse::<PayloadFormat>(), Ok(f));
            let toml_name: PayloadFormat = serde_json::from_str(&format!("\"{f}\"")).unwrap();
            assert_eq!(toml_name, f);
        }
        assert_eq!(
            "Binary".parse::<PayloadFormat>().unwrap_err(),
            "unknown payload format `Binary`, expected `json`, `binary` or `sparkplug`"
        );
    }

    #[test]
    fn bad_mappings_are_refused() {
        for bad in [
            r#"{"pattern": "gw/{asset}/{channel}", "value_pointer": "data/v"}"#,
            r#"{"pattern": "gw/{asset}/{channel}", "format": "binary", "time_format": "epoch_s"}"#,
            r#"{"pattern": "gw/{asset}/{channel}", "format": "sparkplug"}"#,
            r#"{"pattern": "spBv1.0/g/+", "format": "sparkplug"}"#,
            r#"{"pattern": "gw/{asset}", "format": "binary"}"#,
        ] {
            assert!(mapped(bad).compile().is_err(), "{bad}");
        }
        let err = mapped(r#"{"pattern": "gw/{asset}/{channel}", "value_pointer": "v"}"#).compile().unwrap_err();
        assert_eq!(
            err.to_string(),
            "topic `gw/{asset}/{channel}` has an invalid payload mapping: `value_pointer` = \"v\" is not a json pointer (it must start with `/`)"
        );
    }
}
