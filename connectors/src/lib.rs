//! Sources that turn the outside world into `snn_engine::Sample`s: MQTT ingestion, payload decoders, recording
//! replay (CSV, WAV), the plant simulator, and the MQTT publisher that drives a deployment with them.
//!
//! Connectors know nothing about spiking networks, storage or HTTP. They take typed config,
//! hand [`ingest::Ingest`] items to a bounded channel (awaiting the send is the backpressure,
//! unless a source's [`backpressure::BackpressurePolicy`] says to drop the oldest instead),
//! recognise redelivered readings ([`dedup`]), keep plain atomic counters ([`mqtt::SourceStats`])
//! that the server turns into metrics, and never install a logger or a metrics registry.
//!
//! Architecture invariant: payload decoding ([`json`], [`binary`], [`sparkplug`], [`route`],
//! [`topic`], [`replay`] parsers) and duplicate detection ([`dedup`]) are sans-I/O and
//! unit-tested; only [`mqtt`], [`publish`] (with [`simulator::publish_simulation`] over it) and
//! [`embedded_broker`] touch the network.
//! The [`opcua`] source touches the network as well; its value conversion
//! ([`opcua::data_value_to_ingest`]) is sans-I/O and unit-tested. So does the simulator's OPC-UA
//! server (`simulator::opcua_server`, behind the `opcua-server` feature); the address space it
//! serves and the matching client configuration ([`simulator::PlantLayout`]) are sans-I/O.

pub mod backoff;
pub mod backpressure;
pub mod binary;
pub mod dedup;
pub mod embedded_broker;
pub mod ingest;
pub mod json;
pub mod mqtt;
pub mod opcua;
pub mod publish;
pub mod replay;
pub mod route;
pub mod simulator;
pub mod sparkplug;
pub mod topic;

pub use crate::opcua::{MonitoredItemConfig, OpcUaConfig, OpcUaError, run_opcua_source};
pub use backpressure::{BackpressurePolicy, DropOldestQueue};
pub use binary::{BinarySamples, decode_binary, encode_binary, encode_binary_window};
pub use embedded_broker::{BrokerError, EmbeddedBroker, start_embedded_broker};
pub use ingest::{Ingest, RejectReason, Rejection};
pub use json::{DecodeError, JsonLayout, TimeFormat, decode_json, decode_json_with, encode_json};
pub use mqtt::{MqttConfig, MqttError, MqttProtocol, SourceStats, run_mqtt_source};
pub use publish::{publish_encoded, publish_samples, sample_topic};
pub use replay::{CsvLayout, CsvOptions, Replay, ReplayError, WavOptions, read_csv, read_csv_with, read_wav};
pub use route::{Command, Decoded, Decoder, MappedTopic, PayloadFormat, Route, TopicConfig};
pub use simulator::{
    FaultKind, FaultSpec, PlantSimulator, SimConfig, SimPublish, publish_simulation, publish_simulation_as,
};
pub use sparkplug::SparkplugDecoder;
pub use topic::{TopicError, TopicPattern};
