//! MQTT ingestion: typed config, connection options (TCP, or rustls TLS with an optional client certificate), the protocol-neutral source loop in `mqtt/source.rs` and its MQTT 3.1.1 and MQTT 5 client glue in `mqtt/v311.rs` and `mqtt/v5.rs`.

mod source;
mod v311;
mod v5;

pub use source::run_mqtt_source;
pub(crate) use source::{jitter_seed, shutdown_requested};

use crate::backpressure::BackpressurePolicy;
use crate::route::{Route, TopicConfig};
use crate::topic::TopicError;
use rumqttc::{MqttOptions, QoS, TlsConfiguration, Transport};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use thiserror::Error;

/// rumqttc's own packet limit. Kept far above `max_payload_bytes` so that a too-big message
/// reaches us and is rejected as `Oversized` and acknowledged, instead of rumqttc dropping the
/// connection and the broker redelivering the same message forever.
const MIN_TRANSPORT_PACKET_BYTES: usize = 16 * 1024 * 1024;

/// Errors of the MQTT connectors. Only configuration problems are returned from the run
/// functions; connection problems are retried with backoff.
#[derive(Debug, Error)]
pub enum MqttError {
    /// The broker URL could not be understood.
    #[error("invalid mqtt url `{url}`: {why}")]
    InvalidUrl { url: String, why: String },
    /// A topic pattern was refused.
    #[error("invalid mqtt topic pattern")]
    Topic(#[from] TopicError),
    /// Another setting is out of range.
    #[error("invalid mqtt config: {0}")]
    InvalidConfig(String),
    /// The CA file could not be read.
    #[error("failed to read ca file `{path}`")]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CA file has no usable certificate.
    #[error("invalid ca file `{path}`: {why}")]
    CaInvalid { path: PathBuf, why: String },
    /// The client certificate file could not be read.
    #[error("failed to read client certificate file `{path}`")]
    ClientCertFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The client certificate file has no usable certificate.
    #[error("invalid client certificate file `{path}`: {why}")]
    ClientCertInvalid { path: PathBuf, why: String },
    /// The client key file could not be read.
    #[error("failed to read client key file `{path}`")]
    ClientKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The client key file has no usable private key, or it does not belong to the certificate.
    #[error("invalid client key file `{path}`: {why}")]
    ClientKeyInvalid { path: PathBuf, why: String },
}

/// The MQTT protocol version the source speaks. The publisher (simulator, replay) always speaks 3.1.1,
/// which every MQTT 5 broker accepts as well.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MqttProtocol {
    /// MQTT 3.1.1 (protocol level 4), the default: what every broker speaks.
    #[default]
    V311,
    /// MQTT 5: session expiry, reason codes in CONNACK and SUBACK, server limits.
    V5,
}

impl MqttProtocol {
    /// The spelling used in the config file: `"3.1.1"` or `"5"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MqttProtocol::V311 => "3.1.1",
            MqttProtocol::V5 => "5",
        }
    }
}

impl fmt::Display for MqttProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MqttProtocol {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MqttProtocol {
    // Hand-written so that `protocol = 5` (a number, which is also what the environment variable
    // `SPIKEWATCH__MQTT__PROTOCOL=5` becomes) is accepted as well as `protocol = "5"`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = MqttProtocol;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"the mqtt protocol version "3.1.1" or "5""#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MqttProtocol, E> {
                match v {
                    "3.1.1" => Ok(MqttProtocol::V311),
                    "5" | "5.0" => Ok(MqttProtocol::V5),
                    _ => Err(E::custom(format!(r#"unsupported mqtt protocol `{v}`, expected "3.1.1" or "5""#))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<MqttProtocol, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<MqttProtocol, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<MqttProtocol, E> {
                self.visit_str(&v.to_string())
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A day: how long an MQTT 5 broker keeps the session (subscriptions and queued QoS 1 messages)
/// after spikewatch disconnects, unless `session_expiry_s` says otherwise.
pub const DEFAULT_SESSION_EXPIRY_S: u32 = 24 * 60 * 60;

/// How to reach the broker and what to subscribe to.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// `mqtt://host:port` (or `tcp://`) for plain TCP, `mqtts://host:port` (or `ssl://`) for TLS.
    pub url: String,
    /// `"3.1.1"` (default) or `"5"`: the MQTT version the source speaks.
    pub protocol: MqttProtocol,
    /// MQTT client id; must be unique per broker, and stable for a persistent session.
    pub client_id: String,
    /// Optional username.
    pub username: Option<String>,
    /// Optional password (never printed by `Debug`).
    pub password: Option<String>,
    /// PEM CA bundle used as the only trust root for `mqtts://`. Required for TLS: point it at
    /// the system bundle (e.g. `/etc/ssl/certs/ca-certificates.crt`) for a publicly signed broker.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain (leaf first) for brokers that require client certificates
    /// (mutual TLS, e.g. Mosquitto's `require_certificate true`). Needs `mqtts://` and
    /// `client_key_file`.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file` (PKCS#8, PKCS#1 RSA or SEC1 EC), unencrypted.
    pub client_key_file: Option<PathBuf>,
    /// Topic entries: patterns such as `plant/{asset}/{channel}` (JSON in the built-in layout), or
    /// tables `{ pattern, format, time_pointer, ... }` (see [`TopicConfig`]).
    pub topics: Vec<TopicConfig>,
    /// Subscription QoS, 0 or 1.
    pub qos: u8,
    /// `false` keeps a persistent session so QoS 1 messages published while we restart are kept
    /// (with MQTT 5: clean start off).
    pub clean_session: bool,
    /// MQTT 5 only: how long the broker keeps the persistent session after a disconnect, in seconds
    /// (default a day; `4294967295` never expires). `0` ends the session at every disconnect, so it is
    /// refused together with `clean_session = false`. MQTT 3.1.1 has no such field: there the broker's
    /// own setting (Mosquitto's `persistent_client_expiration`) decides.
    pub session_expiry_s: u32,
    /// MQTT keep-alive in seconds (0 disables it, otherwise at least 1; with protocol 5 at least 5).
    pub keep_alive_s: u64,
    /// Larger payloads are rejected as `Oversized`. With protocol 5 the source also announces a
    /// Maximum Packet Size of 8 times this (at least 16 MiB), and the broker discards bigger
    /// messages instead of delivering them.
    pub max_payload_bytes: usize,
    /// First reconnect delay.
    pub reconnect_min_ms: u64,
    /// Reconnect delay cap.
    pub reconnect_max_ms: u64,
    /// What to do while the pipeline's queue is full: `block` (wait; unacknowledged QoS 1 messages
    /// stay with the broker) or `drop_oldest` (acknowledge at once, keep the newest items, count drops).
    pub backpressure: BackpressurePolicy,
    /// Items the source itself holds for the pipeline under `drop_oldest`; beyond it the oldest is dropped.
    pub drop_oldest_capacity: usize,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: "mqtt://127.0.0.1:1883".into(),
            protocol: MqttProtocol::V311,
            client_id: "spikewatch".into(),
            username: None,
            password: None,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            topics: vec!["plant/{asset}/{channel}".into()],
            qos: 1,
            clean_session: false,
            session_expiry_s: DEFAULT_SESSION_EXPIRY_S,
            keep_alive_s: 30,
            max_payload_bytes: 1024 * 1024,
            reconnect_min_ms: 500,
            reconnect_max_ms: 30_000,
            backpressure: BackpressurePolicy::Block,
            drop_oldest_capacity: 1024,
        }
    }
}

impl fmt::Debug for MqttConfig {
    // Hand-written so the password never lands in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttConfig")
            .field("url", &self.url)
            .field("protocol", &self.protocol)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("client_cert_file", &self.client_cert_file)
            .field("client_key_file", &self.client_key_file)
            .field("topics", &self.topics)
            .field("qos", &self.qos)
            .field("clean_session", &self.clean_session)
            .field("session_expiry_s", &self.session_expiry_s)
            .field("keep_alive_s", &self.keep_alive_s)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("reconnect_min_ms", &self.reconnect_min_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .field("backpressure", &self.backpressure)
            .field("drop_oldest_capacity", &self.drop_oldest_capacity)
            .finish()
    }
}

/// A parsed broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP (IPv6 without brackets).
    pub host: String,
    /// TCP port (default 1883, or 8883 for TLS).
    pub port: u16,
    /// Whether to use TLS.
    pub tls: bool,
}

impl BrokerUrl {
    /// Parses `mqtt://`, `tcp://`, `mqtts://` or `ssl://` URLs with an optional port.
    pub fn parse(url: &str) -> Result<Self, MqttError> {
        let bad = |why: &str| MqttError::InvalidUrl { url: url.to_owned(), why: why.to_owned() };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("expected scheme://host[:port]"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(bad("scheme must be mqtt, tcp, mqtts or ssl")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('@') {
            return Err(bad("credentials in the url are not supported, use `username` and `password`"));
        }
        if authority.contains(['/', '?', '#']) {
            return Err(bad("paths and query strings are not supported"));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[` in ipv6 host"))?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(|| bad("expected `:port` after `]`"))?)),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("port must be 1-65535"))?,
        };
        Ok(BrokerUrl { host: host.to_owned(), port, tls })
    }
}

impl MqttConfig {
    /// Checks every field; the run functions call it first.
    pub fn validate(&self) -> Result<(), MqttError> {
        let url = BrokerUrl::parse(&self.url)?;
        let invalid = |m: String| Err(MqttError::InvalidConfig(m));
        if url.tls && self.ca_file.is_none() {
            return invalid(format!("`ca_file` is required for the tls url `{}`", self.url));
        }
        match (&self.client_cert_file, &self.client_key_file) {
            (Some(_), None) => return invalid("`client_cert_file` is set without `client_key_file`".into()),
            (None, Some(_)) => return invalid("`client_key_file` is set without `client_cert_file`".into()),
            (Some(_), Some(_)) if !url.tls => {
                return invalid(format!("a client certificate needs an `mqtts://` url, got `{}`", self.url));
            }
            _ => {}
        }
        if self.client_id.is_empty() && !self.clean_session {
            return invalid("an empty `client_id` needs `clean_session = true`".into());
        }
        if self.password.is_some() && self.username.is_none() {
            return invalid("`password` is set without `username`".into());
        }
        if self.topics.is_empty() {
            return invalid("`topics` is empty".into());
        }
        self.routes()?;
        if self.qos > 1 {
            return invalid(format!("`qos` must be 0 or 1, got {}", self.qos));
        }
        if self.max_payload_bytes == 0 {
            return invalid("`max_payload_bytes` must be positive".into());
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return invalid(format!(
                "need 0 < `reconnect_min_ms` ({}) <= `reconnect_max_ms` ({})",
                self.reconnect_min_ms, self.reconnect_max_ms
            ));
        }
        if self.drop_oldest_capacity == 0 {
            return invalid("`drop_oldest_capacity` must be positive".into());
        }
        if self.keep_alive_s > u64::from(u16::MAX) {
            return invalid(format!("`keep_alive_s` must be at most 65535, got {}", self.keep_alive_s));
        }
        if self.protocol == MqttProtocol::V5 {
            // rumqttc's MQTT 5 client cannot switch keep-alive off and needs at least 5 seconds.
            if self.keep_alive_s < 5 {
                return invalid(format!(
                    "`keep_alive_s` must be at least 5 with protocol 5, got {}",
                    self.keep_alive_s
                ));
            }
            if self.session_expiry_s == 0 && !self.clean_session {
                return invalid(
                    "`session_expiry_s = 0` ends the session at every disconnect, so `clean_session = false` \
                     would keep nothing: set `session_expiry_s` above 0 or `clean_session = true`"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// The compiled topic entries, in configured order.
    pub fn routes(&self) -> Result<Vec<Route>, MqttError> {
        Ok(self.topics.iter().map(TopicConfig::compile).collect::<Result<_, _>>()?)
    }

    /// The subscription QoS.
    pub fn qos(&self) -> QoS {
        if self.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce }
    }

    /// rumqttc MQTT 3.1.1 options for this config (TCP or TLS transport, credentials, session, limits).
    /// Reads the CA file and the client certificate and key, so errors here are configuration errors.
    pub fn mqtt_options(&self) -> Result<MqttOptions, MqttError> {
        let url = self.validated_url()?;
        let mut opts = MqttOptions::new(self.client_id.clone(), url.host.clone(), url.port);
        opts.set_keep_alive(Duration::from_secs(self.keep_alive_s.max(1)));
        if self.keep_alive_s == 0 {
            opts.set_keep_alive(Duration::ZERO);
        }
        opts.set_clean_session(self.clean_session);
        let packet_limit = self.packet_limit();
        opts.set_max_packet_size(packet_limit, packet_limit);
        if let Some((user, password)) = self.credentials() {
            opts.set_credentials(user, password);
        }
        opts.set_transport(self.transport(&url)?);
        Ok(opts)
    }

    /// The broker address, once every field is checked.
    fn validated_url(&self) -> Result<BrokerUrl, MqttError> {
        self.validate()?;
        BrokerUrl::parse(&self.url)
    }

    /// The largest packet accepted from the broker: far above `max_payload_bytes` (see
    /// [`MIN_TRANSPORT_PACKET_BYTES`]).
    fn packet_limit(&self) -> usize {
        self.max_payload_bytes.saturating_mul(8).max(MIN_TRANSPORT_PACKET_BYTES)
    }

    /// Username and password (empty when only a username is set).
    fn credentials(&self) -> Option<(String, String)> {
        self.username.clone().map(|user| (user, self.password.clone().unwrap_or_default()))
    }

    /// TCP, or TLS with the configured CA and optional client certificate.
    fn transport(&self, url: &BrokerUrl) -> Result<Transport, MqttError> {
        if !url.tls {
            return Ok(Transport::tcp());
        }
        let ca = self.ca_file.as_ref().expect("validate() requires ca_file for tls");
        let client_auth = self.client_cert_file.as_deref().zip(self.client_key_file.as_deref());
        Ok(Transport::tls_with_config(tls_config(ca, client_auth)?))
    }
}

/// A rustls client config trusting only the CAs in `ca_path`, using the ring provider, and
/// presenting the certificate chain and key of `client_auth` (cert file, key file) when given.
fn tls_config(ca_path: &PathBuf, client_auth: Option<(&Path, &Path)>) -> Result<TlsConfiguration, MqttError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    // The workspace builds rustls without a default provider (aws-lc-sys is slow to build);
    // whoever installs first wins, and a second install is harmless, so the error is ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(ca_path).map_err(|source| MqttError::CaFile { path: ca_path.clone(), source })?;
    let invalid = |why: String| MqttError::CaInvalid { path: ca_path.clone(), why };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| invalid(format!("bad pem: {e}")))?;
        roots.add(cert).map_err(|e| invalid(format!("unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(invalid("no certificate found".into()));
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let Some((cert_path, key_path)) = client_auth else {
        return Ok(TlsConfiguration::Rustls(Arc::new(builder.with_no_client_auth())));
    };
    let pem =
        std::fs::read(cert_path).map_err(|source| MqttError::ClientCertFile { path: cert_path.to_owned(), source })?;
    let invalid_cert = |why: String| MqttError::ClientCertInvalid { path: cert_path.to_owned(), why };
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid_cert(format!("bad pem: {e}")))?;
    if chain.is_empty() {
        return Err(invalid_cert("no certificate found".into()));
    }
    let pem =
        std::fs::read(key_path).map_err(|source| MqttError::ClientKeyFile { path: key_path.to_owned(), source })?;
    let invalid_key = |why: String| MqttError::ClientKeyInvalid { path: key_path.to_owned(), why };
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => invalid_key("no unencrypted private key found".into()),
        e => invalid_key(format!("bad pem: {e}")),
    })?;
    // rustls checks that the key is usable and belongs to the leaf certificate.
    let config = builder
        .with_client_auth_cert(chain, key)
        .map_err(|e| invalid_key(format!("unusable with the certificate in `{}`: {e}", cert_path.display())))?;
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}

/// Counters the server turns into metrics (plain atomics). Shared by the MQTT and OPC-UA sources.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Publishes received (including rejected ones).
    pub messages_received: AtomicU64,
    /// Payload bytes received.
    pub bytes_received: AtomicU64,
    /// Successful connections (ConnAck received).
    pub connections: AtomicU64,
    /// Failed connection attempts and dropped connections.
    pub connection_errors: AtomicU64,
    /// Items discarded, oldest first, because the pipeline fell behind (MQTT `drop_oldest`, and
    /// the OPC-UA notification queue, which cannot hold back the server).
    pub backpressure_dropped: AtomicU64,
    /// Redelivered readings recognised and not handed on again (see [`crate::dedup`]).
    pub duplicates: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_match_the_documented_values() {
        let c = MqttConfig::default();
        c.validate().unwrap();
        assert_eq!(c.url, "mqtt://127.0.0.1:1883");
        assert_eq!(c.qos, 1);
        assert!(!c.clean_session);
        assert_eq!(c.max_payload_bytes, 1 << 20);
        assert_eq!((c.reconnect_min_ms, c.reconnect_max_ms), (500, 30_000));
        assert_eq!((c.backpressure, c.drop_oldest_capacity), (BackpressurePolicy::Block, 1024));
        let opts = c.mqtt_options().unwrap();
        assert_eq!(opts.broker_address(), ("127.0.0.1".to_owned(), 1883));
        assert!(!opts.clean_session());
    }

    #[test]
    fn config_deserialises_with_defaults_and_refuses_unknown_fields() {
        let c: MqttConfig = serde_json::from_str(r#"{"url": "mqtt://broker:1999", "qos": 0}"#).unwrap();
        assert_eq!(c.url, "mqtt://broker:1999");
        assert_eq!(c.qos, 0);
        assert_eq!(c.backpressure, BackpressurePolicy::Block);
        let c: MqttConfig =
            serde_json::from_str(r#"{"backpressure": "drop_oldest", "drop_oldest_capacity": 8}"#).unwrap();
        assert_eq!((c.backpressure, c.drop_oldest_capacity), (BackpressurePolicy::DropOldest, 8));
        assert_eq!(c.topics, vec![TopicConfig::from("plant/{asset}/{channel}")]);
        assert!(serde_json::from_str::<MqttConfig>(r#"{"uri": "x"}"#).is_err());
    }

    fn mapped(json: &str) -> TopicConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn topics_are_strings_or_mapped_tables() {
        let json = r#"{"topics": [
            "plant/{asset}/{channel}",
            {"pattern": "gw/{asset}/{channel}", "time_pointer": "/ts", "value_pointer": "/data/v", "time_format": "epoch_s"},
            {"pattern": "fast/{asset}/{channel}", "format": "binary"},
            {"pattern": "spBv1.0/plant1/#", "format": "sparkplug"}
        ]}"#;
        let c: MqttConfig = serde_json::from_str(json).unwrap();
        c.validate().unwrap();
        assert_eq!(c.topics[0], TopicConfig::Pattern("plant/{asset}/{channel}".into()));
        let TopicConfig::Mapped(m) = &c.topics[1] else { panic!("expected a mapped topic") };
        assert_eq!((m.time_pointer.as_deref(), m.time_format), (Some("/ts"), Some(crate::TimeFormat::EpochS)));
        let filters: Vec<String> = c.routes().unwrap().iter().map(Route::filter).collect();
        assert_eq!(filters, ["plant/+/+", "gw/+/+", "fast/+/+", "spBv1.0/plant1/#"]);
        // A typo in a mapped entry is refused, not ignored.
        let typo = r#"{"topics": [{"pattern": "gw/{asset}/{channel}", "time_ptr": "/ts"}]}"#;
        assert!(serde_json::from_str::<MqttConfig>(typo).is_err());
        let bad_format = r#"{"topics": [{"pattern": "gw/{asset}/{channel}", "format": "xml"}]}"#;
        assert!(serde_json::from_str::<MqttConfig>(bad_format).is_err());
    }

    #[test]
    fn the_commented_topic_example_of_the_example_config_parses() {
        let text = include_str!("../../config/spikewatch.example.toml");
        let start = text.find("# topics = [").expect("the example config shows mapped topics");
        let mut block = String::new();
        for line in text[start..].lines() {
            let line = line.trim_start_matches('#').trim_start();
            block.push_str(line);
            block.push('\n');
            if line == "]" {
                break;
            }
        }
        let c: MqttConfig = toml::from_str(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        c.validate().unwrap();
        assert_eq!(c.topics.len(), 4);
        assert!(matches!(c.routes().unwrap()[3], Route::Sparkplug(_)));
    }

    #[test]
    fn urls_parse_with_default_ports() {
        let u = BrokerUrl::parse("mqtt://localhost").unwrap();
        assert_eq!(u, BrokerUrl { host: "localhost".into(), port: 1883, tls: false });
        let u = BrokerUrl::parse("mqtts://broker.example:8884/").unwrap();
        assert_eq!(u, BrokerUrl { host: "broker.example".into(), port: 8884, tls: true });
        assert_eq!(BrokerUrl::parse("ssl://h").unwrap().port, 8883);
        assert_eq!(BrokerUrl::parse("tcp://[::1]:1884").unwrap().host, "::1");
        for bad in
            ["localhost:1883", "http://h", "mqtt://", "mqtt://h:0", "mqtt://h:99999", "mqtt://u:p@h", "mqtt://h/x"]
        {
            assert!(matches!(BrokerUrl::parse(bad), Err(MqttError::InvalidUrl { .. })), "{bad}");
        }
    }

    #[test]
    fn bad_configs_are_refused() {
        let ok = MqttConfig::default();
        let cases = [
            MqttConfig { qos: 2, ..ok.clone() },
            MqttConfig { topics: vec![], ..ok.clone() },
            MqttConfig { topics: vec!["plant/{asset}".into()], ..ok.clone() },
            MqttConfig {
                topics: vec![mapped(r#"{"pattern": "plant/{asset}/{channel}", "time_pointer": "ts"}"#)],
                ..ok.clone()
            },
            MqttConfig {
                topics: vec![mapped(
                    r#"{"pattern": "plant/{asset}/{channel}", "format": "binary", "value_pointer": "/v"}"#,
                )],
                ..ok.clone()
            },
            MqttConfig {
                topics: vec![mapped(r#"{"pattern": "plant/{asset}/{channel}", "format": "sparkplug"}"#)],
                ..ok.clone()
            },
            MqttConfig { topics: vec![mapped(r#"{"pattern": "spBv1.0/+/#", "format": "binary"}"#)], ..ok.clone() },
            MqttConfig { reconnect_min_ms: 5000, reconnect_max_ms: 100, ..ok.clone() },
            MqttConfig { max_payload_bytes: 0, ..ok.clone() },
            MqttConfig { backpressure: BackpressurePolicy::DropOldest, drop_oldest_capacity: 0, ..ok.clone() },
            MqttConfig { url: "mqtts://h".into(), ..ok.clone() },
            MqttConfig { password: Some("x".into()), ..ok.clone() },
            MqttConfig { url: "nope".into(), ..ok.clone() },
        ];
        for c in cases {
            assert!(c.validate().is_err(), "{c:?}");
        }
        let missing_ca =
            MqttConfig { url: "mqtts://h".into(), ca_file: Some("/nonexistent/ca.pem".into()), ..ok.clone() };
        let err = missing_ca.mqtt_options().unwrap_err();
        assert_eq!(err.to_string(), "failed to read ca file `/nonexistent/ca.pem`");
    }

    #[test]
    fn tls_options_load_a_pem_ca_and_reject_garbage() {
        let dir = std::env::temp_dir().join(format!("spikewatch-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let c = MqttConfig { url: "mqtts://h".into(), ca_file: Some(garbage), ..MqttConfig::default() };
        assert!(matches!(c.mqtt_options(), Err(MqttError::CaInvalid { .. })));
        // A system bundle, when the machine has one, is a valid CA file.
        let system = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
        if system.exists() {
            let c = MqttConfig { url: "mqtts://h".into(), ca_file: Some(system), ..MqttConfig::default() };
            let opts = c.mqtt_options().unwrap();
            assert!(matches!(opts.transport(), Transport::Tls(_)));
        } else {
            println!("skipped: no system ca bundle to load");
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_commented_tls_keys_of_the_example_config_parse() {
        let text = include_str!("../../config/spikewatch.example.toml");
        let mut block = String::from("url = \"mqtts://broker.example\"\n");
        for key in ["ca_file", "client_cert_file", "client_key_file"] {
            let line = text.lines().find(|l| l.starts_with(&format!("# {key} = "))).expect(key);
            block.push_str(line.trim_start_matches("# "));
            block.push('\n');
        }
        let c: MqttConfig = toml::from_str(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        c.validate().unwrap();
        assert!(c.client_cert_file.is_some() && c.client_key_file.is_some());
    }

    #[test]
    fn client_certificate_settings_are_validated() {
        let tls = MqttConfig {
            url: "mqtts://h".into(),
            ca_file: Some("/etc/ssl/certs/ca-certificates.crt".into()),
            ..MqttConfig::default()
        };
        let both = MqttConfig {
            client_cert_file: Some("/nonexistent/client.pem".into()),
            client_key_file: Some("/nonexistent/client.key".into()),
            ..tls.clone()
        };
        both.validate().unwrap();
        let cases = [
            (
                MqttConfig { client_key_file: None, ..both.clone() },
                "`client_cert_file` is set without `client_key_file`",
            ),
            (
                MqttConfig { client_cert_file: None, ..both.clone() },
                "`client_key_file` is set without `client_cert_file`",
            ),
            (
                MqttConfig { url: "mqtt://h".into(), ..both.clone() },
                "a client certificate needs an `mqtts://` url, got `mqtt://h`",
            ),
        ];
        for (c, message) in cases {
            assert_eq!(c.validate().unwrap_err().to_string(), format!("invalid mqtt config: {message}"));
        }

        // Unreadable and unusable files are refused when the options are built, naming the file.
        if !tls.ca_file.as_ref().unwrap().exists() {
            println!("skipped: no system ca bundle to build tls options with");
            return;
        }
        let dir = std::env::temp_dir().join(format!("spikewatch-client-cert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not pem").unwrap();
        // Any certificate will do to get as far as the key: the first of the system bundle.
        let cert = dir.join("cert.pem");
        let bundle = std::fs::read_to_string(tls.ca_file.as_ref().unwrap()).unwrap();
        let end = bundle.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
        std::fs::write(&cert, &bundle[bundle.find("-----BEGIN").unwrap()..end]).unwrap();
        let err = both.mqtt_options().unwrap_err();
        assert_eq!(err.to_string(), "failed to read client certificate file `/nonexistent/client.pem`");
        let with = |cert: &PathBuf, key: &str| MqttConfig {
            client_cert_file: Some(cert.clone()),
            client_key_file: Some(key.into()),
            ..tls.clone()
        };
        let err = with(&garbage, "/nonexistent/client.key").mqtt_options().unwrap_err();
        assert!(matches!(err, MqttError::ClientCertInvalid { .. }), "{err}");
        assert!(err.to_string().starts_with(&format!("invalid client certificate file `{}`", garbage.display())));
        let err = with(&cert, "/nonexistent/client.key").mqtt_options().unwrap_err();
        assert_eq!(err.to_string(), "failed to read client key file `/nonexistent/client.key`");
        let err = with(&cert, garbage.to_str().unwrap()).mqtt_options().unwrap_err();
        assert!(matches!(err, MqttError::ClientKeyInvalid { .. }), "{err}");
        assert!(err.to_string().starts_with(&format!("invalid client key file `{}`", garbage.display())), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn protocol_is_3_1_1_by_default_and_5_on_request() {
        assert_eq!(MqttConfig::default().protocol, MqttProtocol::V311);
        for (json, protocol) in [
            (r#"{"protocol": "3.1.1"}"#, MqttProtocol::V311),
            (r#"{"protocol": "5"}"#, MqttProtocol::V5),
            // What `SPIKEWATCH__MQTT__PROTOCOL=5` turns into.
            (r#"{"protocol": 5}"#, MqttProtocol::V5),
        ] {
            let c: MqttConfig = serde_json::from_str(json).unwrap();
            assert_eq!(c.protocol, protocol, "{json}");
            c.validate().unwrap();
        }
        let c: MqttConfig = toml::from_str("protocol = \"5\"\nsession_expiry_s = 3600").unwrap();
        assert_eq!((c.protocol, c.session_expiry_s), (MqttProtocol::V5, 3600));
        assert_eq!(serde_json::to_value(MqttProtocol::V5).unwrap(), serde_json::json!("5"));
        for bad in [r#"{"protocol": "3"}"#, r#"{"protocol": "v5"}"#, r#"{"protocol": 4}"#, r#"{"protocol": true}"#] {
            let err = serde_json::from_str::<MqttConfig>(bad).unwrap_err().to_string();
            assert!(err.contains(r#""3.1.1" or "5""#), "{bad}: {err}");
        }
    }

    #[test]
    fn protocol_5_settings_are_validated() {
        let v5 = MqttConfig { protocol: MqttProtocol::V5, ..MqttConfig::default() };
        assert_eq!(v5.session_expiry_s, DEFAULT_SESSION_EXPIRY_S);
        let cases = [
            (
                MqttConfig { session_expiry_s: 0, ..v5.clone() },
                "`session_expiry_s = 0` ends the session at every disconnect, so `clean_session = false` would keep \
                 nothing: set `session_expiry_s` above 0 or `clean_session = true`",
            ),
            (MqttConfig { keep_alive_s: 0, ..v5.clone() }, "`keep_alive_s` must be at least 5 with protocol 5, got 0"),
            (MqttConfig { keep_alive_s: 4, ..v5.clone() }, "`keep_alive_s` must be at least 5 with protocol 5, got 4"),
        ];
        for (c, message) in cases {
            assert_eq!(c.validate().unwrap_err().to_string(), format!("invalid mqtt config: {message}"));
        }
        // A clean session may expire at once; 3.1.1 ignores the expiry and allows keep-alive 0.
        MqttConfig { session_expiry_s: 0, clean_session: true, ..v5.clone() }.validate().unwrap();
        MqttConfig { session_expiry_s: 0, keep_alive_s: 0, ..MqttConfig::default() }.validate().unwrap();
        // The 3.1.1 options are refused for the same reasons the 5 options are.
        let bad_url = MqttConfig { url: "mqtt://".into(), ..v5 };
        assert!(matches!(bad_url.mqtt5_options(), Err(MqttError::InvalidUrl { .. })));
    }

    #[test]
    fn the_protocol_keys_of_the_example_config_parse() {
        let text = include_str!("../../config/spikewatch.example.toml");
        let mut block = String::new();
        for key in ["protocol", "session_expiry_s"] {
            let line = text.lines().find(|l| l.starts_with(&format!("{key} = "))).expect(key);
            block.push_str(line);
            block.push('\n');
        }
        let c: MqttConfig = toml::from_str(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        assert_eq!((c.protocol, c.session_expiry_s), (MqttProtocol::V311, DEFAULT_SESSION_EXPIRY_S));
        let commented = text.lines().find(|l| l.starts_with("# protocol = ")).expect("the example shows protocol 5");
        let c: MqttConfig = toml::from_str(commented.trim_start_matches("# ")).unwrap();
        assert_eq!(c.protocol, MqttProtocol::V5);
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = MqttConfig { username: Some("u".into()), password: Some("hunter2".into()), ..MqttConfig::default() };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && s.contains("<redacted>"), "{s}");
    }
}
