//! snn-engine: everything numeric in spikewatch, pure and deterministic.

pub mod sample;

pub use sample::{AssetId, ChannelId, Reading, Sample, Timestamp};
