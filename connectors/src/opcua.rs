//! OPC-UA ingestion: typed config, value conversion in `opcua/convert.rs` and the source loop in `opcua/source.rs`.

mod convert;
mod source;

pub use convert::{ItemRoute, data_value_to_ingest, variant_to_reading};
pub use source::run_opcua_source;

use ::opcua::types::{MessageSecurityMode, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use thiserror::Error;

/// Largest OPC-UA message spikewatch's client (and the simulator's server) accepts: one publish
/// response can carry several windows of up to `MAX_WINDOW_SAMPLES` Float samples (4 MiB each).
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Chunks per message: enough for `MAX_MESSAGE_BYTES` in the smallest chunk OPC-UA allows (8192
/// bytes, OPC UA Part 6, 7.1.2.3).
pub(crate) const MAX_CHUNK_COUNT: usize = MAX_MESSAGE_BYTES / 8192;

/// Errors of the OPC-UA source. Only configuration problems are returned from
/// [`run_opcua_source`]; connection problems are retried with backoff.
#[derive(Debug, Error)]
pub enum OpcUaError {
    /// A setting is missing or out of range.
    #[error("invalid opcua config: {0}")]
    InvalidConfig(String),
    /// A monitored item's node id could not be parsed.
    #[error("invalid opcua node id `{0}`, expected e.g. `ns=2;s=Pump1.Temperature`")]
    InvalidNodeId(String),
    /// async-opcua refused the client configuration (e.g. an unusable pki directory).
    #[error("invalid opcua client config: {0}")]
    Client(String),
}

/// The security policies the source supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SecurityPolicy {
    /// No signing, no encryption.
    #[serde(alias = "none")]
    None,
    /// RSA 2048+ / SHA-256 (OPC UA Part 7, `Basic256Sha256`).
    #[serde(alias = "basic256sha256")]
    Basic256Sha256,
}

/// The message security modes the source supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SecurityMode {
    /// Only valid with [`SecurityPolicy::None`].
    #[serde(alias = "none")]
    None,
    /// Messages are signed.
    #[serde(alias = "sign")]
    Sign,
    /// Messages are signed and encrypted.
    #[serde(alias = "sign_and_encrypt")]
    SignAndEncrypt,
}

impl SecurityPolicy {
    /// The async-opcua policy.
    pub fn to_opcua(self) -> ::opcua::crypto::SecurityPolicy {
        match self {
            SecurityPolicy::None => ::opcua::crypto::SecurityPolicy::None,
            SecurityPolicy::Basic256Sha256 => ::opcua::crypto::SecurityPolicy::Basic256Sha256,
        }
    }
}

impl SecurityMode {
    /// The async-opcua mode.
    pub fn to_opcua(self) -> MessageSecurityMode {
        match self {
            SecurityMode::None => MessageSecurityMode::None,
            SecurityMode::Sign => MessageSecurityMode::Sign,
            SecurityMode::SignAndEncrypt => MessageSecurityMode::SignAndEncrypt,
        }
    }
}

/// One server variable to monitor and where its values go.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitoredItemConfig {
    /// The variable, in OPC-UA string form, e.g. `ns=2;s=Pump1.Temperature`.
    pub node_id: String,
    /// The asset its samples belong to.
    pub asset: String,
    /// The channel of that asset.
    pub channel: String,
    /// How often the server samples the variable (0 asks for the fastest rate it supports).
    #[serde(default = "default_sampling_interval_ms")]
    pub sampling_interval_ms: u64,
    /// How many values the server queues between publishes (at least 1).
    #[serde(default = "default_queue_size")]
    pub queue_size: u32,
    /// Absolute deadband: the server reports only changes bigger than this.
    #[serde(default)]
    pub deadband_abs: Option<f64>,
    /// Sample rate of array values; an array from an item without it is rejected as `Malformed`.
    #[serde(default)]
    pub sample_rate_hz: Option<f64>,
}

fn default_sampling_interval_ms() -> u64 {
    100
}

fn default_queue_size() -> u32 {
    10
}

/// How to reach the OPC-UA server and what to monitor.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OpcUaConfig {
    /// `opc.tcp://host:port[/path]`. Sessions go to this host and port even when the server
    /// advertises another address (NAT, container port mapping, proxy).
    pub endpoint_url: String,
    /// `None` or `Basic256Sha256`.
    pub security_policy: SecurityPolicy,
    /// `None` (only with policy `None`), `Sign` or `SignAndEncrypt`.
    pub security_mode: SecurityMode,
    /// Username for username authentication; anonymous when absent.
    pub username: Option<String>,
    /// Password (never printed by `Debug`).
    pub password: Option<String>,
    /// Certificate store: `own/cert.der`, `private/private.pem` (created when missing for a
    /// secure policy), `trusted/` and `rejected/` server certificates.
    pub pki_dir: PathBuf,
    /// Our application name; the application URI is `urn:<application_name>`.
    pub application_name: String,
    /// Trust any server certificate. Off by default: copy the server's certificate into
    /// `<pki_dir>/trusted/` instead (its first rejection lands in `<pki_dir>/rejected/`).
    pub trust_server_certs: bool,
    /// How often the server sends queued values.
    pub publishing_interval_ms: u64,
    /// The variables to monitor.
    pub items: Vec<MonitoredItemConfig>,
    /// First reconnect delay.
    pub reconnect_min_ms: u64,
    /// Reconnect delay cap.
    pub reconnect_max_ms: u64,
}

impl Default for OpcUaConfig {
    fn default() -> Self {
        OpcUaConfig {
            endpoint_url: "opc.tcp://127.0.0.1:4840".into(),
            security_policy: SecurityPolicy::None,
            security_mode: SecurityMode::None,
            username: None,
            password: None,
            pki_dir: "pki".into(),
            application_name: "spikewatch".into(),
            trust_server_certs: false,
            publishing_interval_ms: 100,
            items: Vec::new(),
            reconnect_min_ms: 500,
            reconnect_max_ms: 30_000,
        }
    }
}

impl fmt::Debug for OpcUaConfig {
    // Hand-written so the password never lands in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpcUaConfig")
            .field("endpoint_url", &self.endpoint_url)
            .field("security_policy", &self.security_policy)
            .field("security_mode", &self.security_mode)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pki_dir", &self.pki_dir)
            .field("application_name", &self.application_name)
            .field("trust_server_certs", &self.trust_server_certs)
            .field("publishing_interval_ms", &self.publishing_interval_ms)
            .field("items", &self.items)
            .field("reconnect_min_ms", &self.reconnect_min_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .finish()
    }
}

impl OpcUaConfig {
    /// Checks every field; [`run_opcua_source`] calls it first.
    pub fn validate(&self) -> Result<(), OpcUaError> {
        let invalid = |m: String| Err(OpcUaError::InvalidConfig(m));
        let Some(rest) = self.endpoint_url.strip_prefix("opc.tcp://") else {
            return invalid(format!("`endpoint_url` `{}` must start with `opc.tcp://`", self.endpoint_url));
        };
        if rest.is_empty() || rest.starts_with([':', '/']) {
            return invalid(format!("`endpoint_url` `{}` has no host", self.endpoint_url));
        }
        match (self.security_policy, self.security_mode) {
            (SecurityPolicy::None, SecurityMode::None) => {}
            (SecurityPolicy::None, mode) => {
                return invalid(format!("`security_mode` {mode:?} needs a `security_policy` other than None"));
            }
            (policy, SecurityMode::None) => {
                return invalid(format!("`security_policy` {policy:?} needs `security_mode` Sign or SignAndEncrypt"));
            }
            _ => {}
        }
        if self.password.is_some() && self.username.is_none() {
            return invalid("`password` is set without `username`".into());
        }
        if self.username.as_deref() == Some("") {
            return invalid("`username` is empty".into());
        }
        if self.application_name.is_empty() {
            return invalid("`application_name` is empty".into());
        }
        if self.publishing_interval_ms == 0 {
            return invalid("`publishing_interval_ms` must be positive".into());
        }
        if self.items.is_empty() {
            return invalid("`items` is empty".into());
        }
        let mut targets = HashSet::new();
        for item in &self.items {
            parse_node_id(&item.node_id)?;
            if item.asset.is_empty() || item.channel.is_empty() {
                return invalid(format!("item `{}` needs a non-empty `asset` and `channel`", item.node_id));
            }
            if !targets.insert((&item.asset, &item.channel)) {
                return invalid(format!("two items feed asset `{}` channel `{}`", item.asset, item.channel));
            }
            if item.queue_size == 0 {
                return invalid(format!("item `{}` needs `queue_size` >= 1", item.node_id));
            }
            if item.deadband_abs.is_some_and(|d| !(d.is_finite() && d >= 0.0)) {
                return invalid(format!("item `{}` needs a finite `deadband_abs` >= 0", item.node_id));
            }
            if item.sample_rate_hz.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
                return invalid(format!("item `{}` needs a finite `sample_rate_hz` > 0", item.node_id));
            }
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return invalid(format!(
                "need 0 < `reconnect_min_ms` ({}) <= `reconnect_max_ms` ({})",
                self.reconnect_min_ms, self.reconnect_max_ms
            ));
        }
        Ok(())
    }

    /// Where each item's values go, in configured order (the index + 1 is the client handle).
    pub fn routes(&self) -> Result<Vec<ItemRoute>, OpcUaError> {
        self.items
            .iter()
            .map(|i| {
                Ok(ItemRoute {
                    node_id: parse_node_id(&i.node_id)?,
                    source: i.node_id.clone(),
                    asset: i.asset.as_str().into(),
                    channel: i.channel.as_str().into(),
                    sample_rate_hz: i.sample_rate_hz,
                })
            })
            .collect()
    }
}

/// Parses `ns=2;s=Pump1.Temperature`, `i=2258`, `ns=3;g=...` and `ns=1;b=...`.
pub fn parse_node_id(s: &str) -> Result<NodeId, OpcUaError> {
    NodeId::from_str(s.trim()).map_err(|_| OpcUaError::InvalidNodeId(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(node_id: &str, channel: &str) -> MonitoredItemConfig {
        MonitoredItemConfig {
            node_id: node_id.into(),
            asset: "pump1".into(),
            channel: channel.into(),
            sampling_interval_ms: 100,
            queue_size: 10,
            deadband_abs: None,
            sample_rate_hz: None,
        }
    }

    fn ok() -> OpcUaConfig {
        OpcUaConfig { items: vec![item("ns=2;s=Pump1.Temperature", "temperature")], ..OpcUaConfig::default() }
    }

    #[test]
    fn config_deserialises_with_defaults_and_refuses_unknown_fields() {
        let c: OpcUaConfig = serde_json::from_str(
            r#"{"endpoint_url": "opc.tcp://plc:4840", "security_policy": "Basic256Sha256",
                "security_mode": "SignAndEncrypt", "username": "u", "password": "p",
                "items": [{"node_id": "ns=2;s=Pump1.Vib", "asset": "pump1", "channel": "vib",
                           "sample_rate_hz": 1000.0, "deadband_abs": 0.5}]}"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.security_policy, SecurityPolicy::Basic256Sha256);
        assert_eq!(c.items[0].sampling_interval_ms, 100);
        assert_eq!(c.items[0].queue_size, 10);
        assert_eq!((c.reconnect_min_ms, c.reconnect_max_ms), (500, 30_000));
        let routes = c.routes().unwrap();
        assert_eq!(routes[0].node_id, NodeId::new(2, "Pump1.Vib"));
        assert_eq!(routes[0].sample_rate_hz, Some(1000.0));
        assert!(serde_json::from_str::<OpcUaConfig>(r#"{"url": "x"}"#).is_err());
        let bad_item = r#"{"items": [{"node_id": "i=1", "asset": "a", "channel": "c", "rate": 1}]}"#;
        assert!(serde_json::from_str::<OpcUaConfig>(bad_item).is_err());
        assert!(serde_json::from_str::<OpcUaConfig>(r#"{"security_policy": "Basic128Rsa15"}"#).is_err());
    }

    #[test]
    fn bad_configs_are_refused() {
        let ok = ok();
        ok.validate().unwrap();
        let with_item = |i: MonitoredItemConfig| OpcUaConfig { items: vec![i], ..ok.clone() };
        let cases = [
            OpcUaConfig { endpoint_url: "http://plc:4840".into(), ..ok.clone() },
            OpcUaConfig { endpoint_url: "opc.tcp://".into(), ..ok.clone() },
            OpcUaConfig { security_mode: SecurityMode::Sign, ..ok.clone() },
            OpcUaConfig { security_policy: SecurityPolicy::Basic256Sha256, ..ok.clone() },
            OpcUaConfig { password: Some("p".into()), ..ok.clone() },
            OpcUaConfig { items: vec![], ..ok.clone() },
            OpcUaConfig { items: vec![item("ns=2;s=A", "c"), item("ns=2;s=B", "c")], ..ok.clone() },
            OpcUaConfig { reconnect_min_ms: 5000, reconnect_max_ms: 100, ..ok.clone() },
            OpcUaConfig { publishing_interval_ms: 0, ..ok.clone() },
            with_item(MonitoredItemConfig { queue_size: 0, ..item("ns=2;s=A", "c") }),
            with_item(MonitoredItemConfig { deadband_abs: Some(f64::NAN), ..item("ns=2;s=A", "c") }),
            with_item(MonitoredItemConfig { sample_rate_hz: Some(0.0), ..item("ns=2;s=A", "c") }),
            with_item(MonitoredItemConfig { asset: String::new(), ..item("ns=2;s=A", "c") }),
        ];
        for c in cases {
            assert!(matches!(c.validate(), Err(OpcUaError::InvalidConfig(_))), "{c:?}");
        }
        let err = with_item(item("Pump1.Temperature", "c")).validate().unwrap_err();
        assert!(matches!(err, OpcUaError::InvalidNodeId(_)), "{err}");
        assert!(err.to_string().starts_with("invalid opcua node id `Pump1.Temperature`"), "{err}");
        let secure = OpcUaConfig {
            security_policy: SecurityPolicy::Basic256Sha256,
            security_mode: SecurityMode::Sign,
            ..ok.clone()
        };
        secure.validate().unwrap();
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = OpcUaConfig { username: Some("u".into()), password: Some("hunter2".into()), ..ok() };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && s.contains("<redacted>"), "{s}");
    }
}
