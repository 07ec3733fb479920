//! snn-engine: everything numeric in spikewatch, pure and deterministic.
//!
//! Data flow of one [`AssetModel::step`]: front-end features ([`frontend`]) -> online z-scores
//! ([`normalise`]) -> spikes ([`encoder`]) -> a layer of LIF neurons with STDP and lateral
//! inhibition ([`network`], run by a [`backend::Backend`]) -> novelty against the learned
//! prototypes -> smoothed score, adaptive threshold and alert state machine ([`score`]).

pub mod backend;
pub mod encoder;
pub mod frontend;
pub mod lif;
pub mod model;
pub mod network;
pub mod normalise;
pub mod rng;
pub mod sample;
pub mod score;
pub mod stdp;

pub use backend::{Backend, CpuBackend};
pub use model::{
    AlertEvent, AlertReport, AssetModel, ChannelKind, ChannelSpec, Counters, FeatureDeviation, ModelConfig, ModelError,
    Phase, Severity, StepOutcome,
};
pub use sample::{AssetId, ChannelId, Reading, Sample, Timestamp};
