//! What a source hands the pipeline: a decoded sample, or a counted, explained rejection.

use snn_engine::Sample;
use std::fmt;

/// What a source hands the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingest {
    /// A decoded, finite reading.
    Sample(Sample),
    /// A message that could not become a sample; the server counts these per reason.
    Rejected(Rejection),
}

/// Why and where a message was turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The bounded reason, safe to use as a metric label.
    pub reason: RejectReason,
    /// Where the message came from, e.g. the MQTT topic or the file name. Not a metric label.
    pub source: String,
    /// Human-readable explanation for logs.
    pub detail: String,
}

impl Rejection {
    /// Builds a rejection from its parts.
    pub fn new(reason: RejectReason, source: impl Into<String>, detail: impl Into<String>) -> Self {
        Rejection { reason, source: source.into(), detail: detail.into() }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected message from `{}` ({}): {}", self.source, self.reason.as_str(), self.detail)
    }
}

/// The closed set of reasons a message is rejected. One enum for every source and the server, so
/// that the `reason` metric label has a fixed, documented set of values.
///
/// `UnknownAsset`, `UnknownChannel` and `TimestampBackwards` are detected by the server, which
/// knows the configured assets and the last timestamp per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Not valid JSON, wrong types, missing fields, empty window, unparsable timestamp.
    Malformed,
    /// Payload bigger than the configured limit, or a window with absurdly many samples.
    Oversized,
    /// A NaN or infinite value (some gateways send the strings `"NaN"`, `"Infinity"`).
    NonFinite,
    /// The topic matched none of the configured patterns.
    UnknownTopic,
    /// The asset is not configured on the server.
    UnknownAsset,
    /// The channel is not configured for the asset.
    UnknownChannel,
    /// The sample is older than the last one accepted on its channel.
    TimestampBackwards,
    /// A Sparkplug B edge node skipped a sequence number (messages were lost); a rebirth is requested.
    SequenceGap,
}

impl RejectReason {
    /// Every reason, in declaration order (for pre-registering metric label values).
    pub const ALL: [RejectReason; 8] = [
        RejectReason::Malformed,
        RejectReason::Oversized,
        RejectReason::NonFinite,
        RejectReason::UnknownTopic,
        RejectReason::UnknownAsset,
        RejectReason::UnknownChannel,
        RejectReason::TimestampBackwards,
        RejectReason::SequenceGap,
    ];

    /// The snake_case label value, e.g. `"non_finite"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Oversized => "oversized",
            RejectReason::NonFinite => "non_finite",
            RejectReason::UnknownTopic => "unknown_topic",
            RejectReason::UnknownAsset => "unknown_asset",
            RejectReason::UnknownChannel => "unknown_channel",
            RejectReason::TimestampBackwards => "timestamp_backwards",
            RejectReason::SequenceGap => "sequence_gap",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn labels_are_unique_snake_case_and_cover_all() {
        let labels: HashSet<_> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), RejectReason::ALL.len());
        for l in &labels {
            assert!(l.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{l}");
        }
        assert_eq!(RejectReason::NonFinite.as_str(), "non_finite");
        assert_eq!(RejectReason::TimestampBackwards.to_string(), "timestamp_backwards");
    }
}
