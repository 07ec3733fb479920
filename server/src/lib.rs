//! spikewatch, the server: configuration, the pipeline runtime, storage, the Parquet archive, the HTTP API
//! and metrics. The binary in `main.rs` is a thin command line over these parts.

pub mod alerts;
pub mod api;
pub mod archive;
pub mod bench;
pub mod config;
pub mod demo;
pub mod eval;
pub mod metrics;
pub mod pipeline;
pub mod replay;
pub mod runtime;
pub mod simulate_opcua;
pub mod store;
#[doc(hidden)]
pub mod testing;
