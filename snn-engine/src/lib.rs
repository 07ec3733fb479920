//! snn-engine: everything numeric in spikewatch, pure and deterministic.
//!
//! Data flow of one [`AssetModel::step`]: front-end features ([`frontend`]) -> online z-scores
//! ([`normalise`]) -> spikes ([`encoder`]) -> a layer of LIF neurons with STDP and lateral
//! inhibition ([`network`], run by a [`backend::Backend`]) -> novelty against the learned
//! prototypes and surprise against the usual order of states ([`sequence`]) -> anomaly
//! likelihood ([`likelihood`]) -> alert state machine ([`score`]).
//!
//! Architecture invariant: nothing here reads a clock, spawns a thread, touches a file or draws
//! from a global RNG (`clippy.toml` bans them); the only randomness is [`rng::SplitMix64`],
//! seeded by the caller.
//!
//! Architecture invariant: same channels, config, seed and readings give bit-identical outcomes
//! and state; results never depend on hash-map order.
//!
//! Architecture invariant: stepping never fails; a bad reading is counted in
//! [`Counters::dropped`] and leaves every other piece of state untouched.
//!
//! Architecture invariant: the network ([`network::Layer`]) is plain data; a
//! [`backend::Backend`] runs it, so other backends (emulated hardware) can share it.

pub mod backend;
pub mod encoder;
pub mod frontend;
pub mod lif;
pub mod likelihood;
pub mod limits;
pub mod model;
pub mod network;
pub mod normalise;
pub mod range;
pub mod resonate;
pub mod rng;
pub mod sample;
pub mod score;
pub mod sequence;
pub mod stdp;

pub use backend::{Backend, CpuBackend};
pub use model::{
    AlertEvent, AlertReport, AssetModel, ChannelKind, ChannelSpec, Counters, FeatureDeviation, ModelConfig, ModelError,
    Phase, STATE_VERSION, Severity, StepOutcome,
};
pub use sample::{AssetId, ChannelId, Reading, Sample, Timestamp};
