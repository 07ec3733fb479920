//! Serves a running plant simulation over OPC-UA (async-opcua's server), paced against real time like the
//! MQTT publisher: one folder per asset under Objects, one variable per channel, as a PLC would.

use super::opcua_layout::{LayoutError, PLANT_NAMESPACE_URI, PlantLayout, SAMPLE_RATE_PROPERTY, ServedKind};
use super::{PlantSimulator, real_time_offset};
use crate::json::MAX_WINDOW_SAMPLES;
use crate::mqtt::shutdown_requested;
use crate::opcua::{MAX_CHUNK_COUNT, MAX_MESSAGE_BYTES, OpcUaConfig};
use ::opcua::crypto::SecurityPolicy;
use ::opcua::server::address_space::{AccessLevel, AddressSpace, Variable, VariableBuilder};
use ::opcua::server::diagnostics::NamespaceMetadata;
use ::opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
use ::opcua::server::{ANONYMOUS_USER_TOKEN_ID, ServerBuilder, ServerHandle, ServerUserToken, SubscriptionCache};
use ::opcua::types::{
    DataTypeId, DataValue, DateTime, MessageSecurityMode, NodeId, StatusCode, VariableTypeId, Variant,
};
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

/// How long stopping waits for the server to close its sessions before giving up on them.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's application URI; distinct from [`PLANT_NAMESPACE_URI`] (see there why).
const APPLICATION_URI: &str = "urn:spikewatch:plant-simulator";

/// Errors of the simulator's OPC-UA server.
#[derive(Debug, Error)]
pub enum OpcUaServerError {
    /// A setting is missing or out of range.
    #[error("invalid opcua server config: {0}")]
    InvalidConfig(String),
    /// The simulated plant cannot be served (see [`LayoutError`]).
    #[error("cannot serve the simulated plant over opcua: {0}")]
    Plant(#[from] LayoutError),
    /// The listen address could not be bound (in use, no permission, not local).
    #[error("failed to listen for opcua on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it failed.
        source: std::io::Error,
    },
    /// async-opcua refused the server configuration or the server failed while running.
    #[error("opcua server failed: {0}")]
    Server(String),
}

/// A username and password the server accepts. Passwords are only accepted on the Basic256Sha256
/// endpoints, where the client encrypts them with the server's certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct OpcUaUser {
    /// The username.
    pub username: String,
    /// The password (never printed by `Debug`).
    pub password: String,
}

impl fmt::Debug for OpcUaUser {
    // Hand-written so the password never lands in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpcUaUser").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl FromStr for OpcUaUser {
    type Err = String;

    /// Parses `username:password` (the password may itself hold `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((username, password)) if !username.is_empty() && !password.is_empty() => {
                Ok(OpcUaUser { username: username.into(), password: password.into() })
            }
            _ => Err("expected `username:password`, both non-empty".into()),
        }
    }
}

/// How the simulator's OPC-UA server listens, whom it lets in and how fast it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct OpcUaServerConfig {
    /// Where to listen (port 0 picks a free one; see [`SimulatorOpcUaServer::local_addr`]).
    pub listen: SocketAddr,
    /// Certificate store: the server's self-signed certificate (`own/cert.der`) and key
    /// (`private/private.pem`) are generated here on first start and reused after; client
    /// certificates land in `trusted/` or `rejected/`.
    pub pki_dir: PathBuf,
    /// Accept anonymous sessions.
    pub allow_anonymous: bool,
    /// Offer the unsecured endpoint (security policy None, anonymous only) besides Basic256Sha256
    /// Sign and SignAndEncrypt.
    pub allow_unsecured: bool,
    /// Username/password users, accepted on the Basic256Sha256 endpoints.
    pub users: Vec<OpcUaUser>,
    /// Trust every client certificate. Off: a client's first attempt lands its certificate in
    /// `<pki_dir>/rejected/`; move it to `trusted/` to let it in.
    pub trust_client_certs: bool,
    /// Simulated seconds per real second (1.0 = real time). Must be finite: an OPC-UA variable
    /// holds only its current value, so an unpaced server would overwrite values faster than any
    /// client samples them.
    pub time_scale: f64,
    /// Stop serving new ticks after this many simulated seconds (`None` = until stopped).
    pub duration_s: Option<f64>,
}

impl Default for OpcUaServerConfig {
    fn default() -> Self {
        OpcUaServerConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4855),
            pki_dir: "simulator-pki".into(),
            allow_anonymous: true,
            allow_unsecured: true,
            users: Vec::new(),
            trust_client_certs: true,
            time_scale: 1.0,
            duration_s: None,
        }
    }
}

impl OpcUaServerConfig {
    /// Checks every field; [`SimulatorOpcUaServer::start`] calls it first.
    pub fn validate(&self) -> Result<(), OpcUaServerError> {
        let invalid = |m: String| Err(OpcUaServerError::InvalidConfig(m));
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return invalid(format!("`time_scale` must be positive and finite, got {}", self.time_scale));
        }
        if let Some(d) = self.duration_s
            && !(d.is_finite() && d > 0.0)
        {
            return invalid(format!("`duration_s` must be positive and finite, got {d}"));
        }
        if !self.allow_anonymous && self.users.is_empty() {
            return invalid("anonymous access is off and no user is configured: nobody could connect".into());
        }
        if self.allow_unsecured && !self.allow_anonymous {
            return invalid("the unsecured endpoint only admits anonymous sessions, which are off".into());
        }
        let mut names = HashSet::new();
        for user in &self.users {
            if user.username.is_empty() || user.password.is_empty() {
                return invalid("every user needs a non-empty username and password".into());
            }
            if !names.insert(user.username.as_str()) {
                return invalid(format!("user `{}` is configured twice", user.username));
            }
        }
        Ok(())
    }
}

/// Counters of a running server.
#[derive(Debug, Default)]
pub struct ServeStats {
    /// Ticks whose values were set on the variables (the first one at start).
    pub ticks: AtomicU64,
    /// Samples not served: their asset and channel were not in the first tick, or their kind
    /// (scalar or window) changed since.
    pub skipped: AtomicU64,
}

/// The simulator's OPC-UA server, running on the current tokio runtime.
pub struct SimulatorOpcUaServer {
    local_addr: SocketAddr,
    endpoint_url: String,
    namespace: u16,
    layout: PlantLayout,
    stats: Arc<ServeStats>,
    handle: ServerHandle,
    server: JoinHandle<Result<(), String>>,
    ticker: JoinHandle<()>,
}

/// The variables of one served channel.
struct ChannelNodes {
    value: NodeId,
    /// The sample-rate property of a window channel.
    sample_rate: Option<NodeId>,
}

impl SimulatorOpcUaServer {
    /// Listens on `config.listen`, builds the address space from `sim`'s first tick (one folder
    /// `ns=<plant>;s=<asset>` per asset under Objects; a variable `ns=<plant>;s=<asset>/<channel>`
    /// per channel: scalars as Double, windows as Float arrays with a `sample_rate_hz` property),
    /// then serves a tick every `tick_s / time_scale` real seconds. Every value carries the
    /// sample's time as its source timestamp (a window's start). Endpoints: Basic256Sha256 Sign
    /// and SignAndEncrypt, plus None when `allow_unsecured`.
    pub async fn start(mut sim: PlantSimulator, config: OpcUaServerConfig) -> Result<Self, OpcUaServerError> {
        config.validate()?;
        let first = sim.tick();
        let layout = PlantLayout::from_samples(&first)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| OpcUaServerError::Bind { addr: config.listen, source })?;
        let local_addr =
            listener.local_addr().map_err(|source| OpcUaServerError::Bind { addr: config.listen, source })?;
        // Clients dial `endpoint_url`; a wildcard listen address is reachable on loopback.
        let host = if local_addr.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { local_addr.ip() };
        let endpoint_url = format!("opc.tcp://{}/", SocketAddr::new(host, local_addr.port()));

        let (server, handle) = server_builder(&config, host, local_addr.port())
            .build()
            .map_err(|e| OpcUaServerError::Server(format!("refused configuration: {e}")))?;
        let manager = handle
            .node_managers()
            .get_of_type::<SimpleNodeManager>()
            .ok_or_else(|| OpcUaServerError::Server("the plant node manager is missing".into()))?;
        let namespace = handle
            .get_namespace_index(PLANT_NAMESPACE_URI)
            .ok_or_else(|| OpcUaServerError::Server("the plant namespace is missing".into()))?;
        let nodes = {
            let mut space = manager.address_space().write();
            add_plant(&mut space, namespace, &layout, &first)?
        };
        let stats = Arc::new(ServeStats::default());
        stats.ticks.store(1, Ordering::Relaxed);
        let first_t = first.first().map(|s| s.t).unwrap_or(Timestamp(0));
        let ticker = tokio::spawn(serve_ticks(Ticker {
            sim,
            first_t,
            started: Instant::now(),
            time_scale: config.time_scale,
            duration_s: config.duration_s,
            nodes,
            manager,
            subscriptions: handle.subscriptions().clone(),
            stats: stats.clone(),
        }));
        let server = tokio::spawn(server.run_with(listener));
        info!(
            %endpoint_url, namespace, channels = layout.channels.len(), time_scale = config.time_scale,
            "serving the plant simulation over opcua"
        );
        Ok(SimulatorOpcUaServer { local_addr, endpoint_url, namespace, layout, stats, handle, server, ticker })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `opc.tcp://host:port/` for clients (loopback when listening on a wildcard address).
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// Namespace index of the plant's variables.
    pub fn namespace_index(&self) -> u16 {
        self.namespace
    }

    /// What is served.
    pub fn layout(&self) -> &PlantLayout {
        &self.layout
    }

    /// Counters of ticks served and samples skipped.
    pub fn stats(&self) -> &Arc<ServeStats> {
        &self.stats
    }

    /// The spikewatch `[opcua]` configuration that monitors every served channel (security None,
    /// anonymous; see [`PlantLayout::client_config`]).
    pub fn client_config(&self) -> OpcUaConfig {
        self.layout.client_config(&self.endpoint_url, self.namespace)
    }

    /// Serves until `shutdown` turns true (or its sender is dropped) or `duration_s` of simulated
    /// time has been served, then stops. Returns how many ticks were served.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<u64, OpcUaServerError> {
        tokio::select! {
            () = shutdown_requested(&mut shutdown) => {}
            _ = &mut self.ticker => info!("simulated duration served"),
            end = &mut self.server => {
                self.ticker.abort();
                return Err(OpcUaServerError::Server(match end {
                    Ok(Ok(())) => "stopped by itself".into(),
                    Ok(Err(e)) => e,
                    Err(e) => format!("server task failed: {e}"),
                }));
            }
        }
        self.stop().await
    }

    /// Stops ticking, closes every session and the listener, and waits for the server to end
    /// (at most 10 s). Returns how many ticks were served.
    pub async fn stop(self) -> Result<u64, OpcUaServerError> {
        self.ticker.abort();
        self.handle.cancel();
        let ticks = self.stats.ticks.load(Ordering::Relaxed);
        match tokio::time::timeout(STOP_TIMEOUT, self.server).await {
            Ok(Ok(Ok(()))) => {
                info!(ticks, "opcua server stopped");
                Ok(ticks)
            }
            Ok(Ok(Err(e))) => Err(OpcUaServerError::Server(e)),
            Ok(Err(e)) => Err(OpcUaServerError::Server(format!("server task failed: {e}"))),
            Err(_) => {
                warn!("opcua server sessions did not close within {STOP_TIMEOUT:?}");
                Ok(ticks)
            }
        }
    }
}

/// The async-opcua server: endpoints, users, certificate and limits. Windows can be long
/// (spikewatch accepts up to `MAX_WINDOW_SAMPLES`), so array and message limits are raised
/// from async-opcua's defaults (1000 elements, 320 KiB), as the spikewatch client's are.
fn server_builder(config: &OpcUaServerConfig, host: IpAddr, port: u16) -> ServerBuilder {
    let mut builder = ServerBuilder::new()
        .application_name("spikewatch plant simulator")
        .application_uri(APPLICATION_URI)
        .product_uri(APPLICATION_URI)
        .host(host.to_string())
        .port(port)
        .pki_dir(config.pki_dir.clone())
        .create_sample_keypair(true)
        .trust_client_certs(config.trust_client_certs)
        .discovery_urls(vec!["/".into()])
        .max_array_length(MAX_WINDOW_SAMPLES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_chunk_count(MAX_CHUNK_COUNT)
        .with_node_manager(simple_node_manager(
            NamespaceMetadata { namespace_uri: PLANT_NAMESPACE_URI.into(), ..Default::default() },
            "plant",
        ));
    // Sampling interval 0 must stay 0: async-opcua compares source timestamps (simulated time)
    // against the sampling interval and re-stamps values that come "too early", which would
    // corrupt the sample times at a high time scale.
    builder.limits_mut().subscriptions.min_sampling_interval_ms = 0.0;
    let mut secure_tokens: Vec<String> = Vec::new();
    if config.allow_anonymous {
        secure_tokens.push(ANONYMOUS_USER_TOKEN_ID.into());
    }
    for (i, user) in config.users.iter().enumerate() {
        let id = format!("user-{i}");
        builder = builder.add_user_token(
            &id,
            ServerUserToken { user: user.username.clone(), pass: Some(user.password.clone()), ..Default::default() },
        );
        secure_tokens.push(id);
    }
    let tokens: Vec<&str> = secure_tokens.iter().map(String::as_str).collect();
    builder = builder
        .add_endpoint(
            "basic256sha256_sign",
            ("/", SecurityPolicy::Basic256Sha256, MessageSecurityMode::Sign, &tokens[..]),
        )
        .add_endpoint(
            "basic256sha256_sign_encrypt",
            ("/", SecurityPolicy::Basic256Sha256, MessageSecurityMode::SignAndEncrypt, &tokens[..]),
        );
    if config.allow_unsecured {
        builder = builder.add_endpoint(
            "none",
            ("/", SecurityPolicy::None, MessageSecurityMode::None, &[ANONYMOUS_USER_TOKEN_ID][..]),
        );
    }
    builder
}

/// Adds a folder per asset under Objects and a variable per channel, holding the first tick's values.
fn add_plant(
    space: &mut AddressSpace,
    ns: u16,
    layout: &PlantLayout,
    first: &[Sample],
) -> Result<HashMap<(AssetId, ChannelId), ChannelNodes>, OpcUaServerError> {
    let refused = |what: String| OpcUaServerError::Server(format!("failed to add {what} to the address space"));
    for asset in layout.assets() {
        let folder = NodeId::new(ns, asset.as_str());
        if !space.add_folder(&folder, asset.as_str(), asset.as_str(), &NodeId::objects_folder_id()) {
            return Err(refused(format!("folder `{asset}`")));
        }
    }
    let now = DateTime::now();
    let mut nodes = HashMap::with_capacity(layout.channels.len());
    // The layout was built from `first`, so they pair up one to one.
    for (channel, sample) in layout.channels.iter().zip(first) {
        let value = NodeId::new(ns, channel.value_node());
        let name = channel.channel.as_str();
        let mut variable = match channel.kind {
            ServedKind::Scalar => Variable::new_data_value(&value, name, name, DataTypeId::Double, None, None, 0.0),
            // Value rank 1 with an array dimension of 0: a one-dimensional array of any length.
            ServedKind::Window { .. } => {
                Variable::new_data_value(&value, name, name, DataTypeId::Float, Some(1), Some(0), Vec::<f32>::new())
            }
        };
        let (initial, rate) = data_values(&sample.reading, sample.t, now);
        variable.set_data_value(initial);
        let folder = NodeId::new(ns, channel.asset.as_str());
        if !space.add_variables(vec![variable], &folder).iter().all(|added| *added) {
            return Err(refused(format!("variable `{}`", channel.value_node())));
        }
        let sample_rate = match (channel.sample_rate_node(), rate) {
            (Some(id), Some(rate)) => {
                let id = NodeId::new(ns, id);
                let added = VariableBuilder::new(&id, SAMPLE_RATE_PROPERTY, SAMPLE_RATE_PROPERTY)
                    .data_type(DataTypeId::Double)
                    .value_rank(-1)
                    .value(0.0)
                    .access_level(AccessLevel::CURRENT_READ)
                    .user_access_level(AccessLevel::CURRENT_READ)
                    .has_type_definition(VariableTypeId::PropertyType)
                    .property_of(value.clone())
                    .insert(space);
                if !added {
                    return Err(refused(format!("property `{id}`")));
                }
                if let Some(::opcua::server::address_space::NodeType::Variable(v)) = space.find_mut(&id) {
                    v.set_data_value(rate);
                }
                Some(id)
            }
            _ => None,
        };
        nodes.insert((channel.asset.clone(), channel.channel.clone()), ChannelNodes { value, sample_rate });
    }
    Ok(nodes)
}

/// The value of a reading as served, stamped with the sample's time as the source timestamp, and
/// for a window the value of its sample-rate property.
fn data_values(reading: &Reading, t: Timestamp, now: DateTime) -> (DataValue, Option<DataValue>) {
    let stamped = |value: Variant| DataValue {
        value: Some(value),
        status: Some(StatusCode::Good),
        source_timestamp: Some(to_date_time(t)),
        source_picoseconds: None,
        server_timestamp: Some(now),
        server_picoseconds: None,
    };
    match reading {
        Reading::Scalar(v) => (stamped(Variant::Double(*v)), None),
        Reading::Window { sample_rate_hz, samples } => {
            (stamped(Variant::from(samples.clone())), Some(stamped(Variant::Double(*sample_rate_hz))))
        }
    }
}

/// Microseconds since the Unix epoch to an OPC-UA `DateTime` (exact: it counts 100 ns ticks).
/// Outside chrono's range (beyond ±262,000 years) it clamps to the Unix epoch.
fn to_date_time(t: Timestamp) -> DateTime {
    DateTime::from(chrono::DateTime::from_timestamp_micros(t.0).unwrap_or_default())
}

/// Everything the pacing task owns.
struct Ticker {
    sim: PlantSimulator,
    first_t: Timestamp,
    started: Instant,
    time_scale: f64,
    duration_s: Option<f64>,
    nodes: HashMap<(AssetId, ChannelId), ChannelNodes>,
    manager: Arc<SimpleNodeManager>,
    subscriptions: Arc<SubscriptionCache>,
    stats: Arc<ServeStats>,
}

/// Serves tick after tick, each once its simulated offset from the first tick, divided by the time
/// scale, has passed in real time (like `publish_simulation`). Ends after `duration_s`.
async fn serve_ticks(mut t: Ticker) {
    let mut warned = HashSet::new();
    loop {
        let batch = t.sim.tick();
        let Some(tick_t) = batch.first().map(|s| s.t) else {
            warn!("the simulator produced an empty tick, nothing more to serve");
            return;
        };
        let elapsed_s = (tick_t.0 - t.first_t.0) as f64 / 1e6;
        if t.duration_s.is_some_and(|d| elapsed_s >= d - 1e-9) {
            return;
        }
        tokio::time::sleep_until(t.started + real_time_offset(elapsed_s, t.time_scale)).await;
        let now = DateTime::now();
        let mut values: Vec<(&NodeId, DataValue)> = Vec::with_capacity(batch.len() * 2);
        for sample in &batch {
            let nodes = t.nodes.get(&(sample.asset.clone(), sample.channel.clone()));
            let (value, rate) = data_values(&sample.reading, sample.t, now);
            match (nodes, rate) {
                (Some(ChannelNodes { value: id, sample_rate: None }), None) => values.push((id, value)),
                (Some(ChannelNodes { value: id, sample_rate: Some(rate_id) }), Some(rate)) => {
                    values.push((id, value));
                    values.push((rate_id, rate));
                }
                _ => {
                    t.stats.skipped.fetch_add(1, Ordering::Relaxed);
                    if warned.insert((sample.asset.clone(), sample.channel.clone())) {
                        warn!(
                            asset = %sample.asset, channel = %sample.channel,
                            "not served over opcua: the channel was not in the first tick or changed kind"
                        );
                    }
                }
            }
        }
        if let Err(status) = t.manager.set_values(&t.subscriptions, values.into_iter().map(|(id, v)| (id, None, v))) {
            warn!(%status, "failed to set the simulated values");
        }
        t.stats.ticks.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_parse_from_name_colon_password() {
        let user: OpcUaUser = "operator:pa:ss".parse().unwrap();
        assert_eq!((user.username.as_str(), user.password.as_str()), ("operator", "pa:ss"));
        for bad in ["operator", ":secret", "operator:", ""] {
            assert!(bad.parse::<OpcUaUser>().is_err(), "{bad}");
        }
        let shown = format!("{user:?}");
        assert!(shown.contains("operator") && !shown.contains("pa:ss"), "{shown}");
    }

    #[test]
    fn bad_server_configs_are_refused() {
        let ok = OpcUaServerConfig::default();
        ok.validate().unwrap();
        let user = |name: &str| OpcUaUser { username: name.into(), password: "secret".into() };
        let cases = [
            OpcUaServerConfig { time_scale: 0.0, ..ok.clone() },
            OpcUaServerConfig { time_scale: f64::INFINITY, ..ok.clone() },
            OpcUaServerConfig { time_scale: f64::NAN, ..ok.clone() },
            OpcUaServerConfig { duration_s: Some(0.0), ..ok.clone() },
            OpcUaServerConfig { duration_s: Some(f64::NAN), ..ok.clone() },
            OpcUaServerConfig { allow_anonymous: false, allow_unsecured: false, ..ok.clone() },
            OpcUaServerConfig { allow_anonymous: false, users: vec![user("a")], ..ok.clone() },
            OpcUaServerConfig { users: vec![user("a"), user("a")], ..ok.clone() },
            OpcUaServerConfig {
                users: vec![OpcUaUser { username: "a".into(), password: String::new() }],
                ..ok.clone()
            },
        ];
        for c in cases {
            assert!(matches!(c.validate(), Err(OpcUaServerError::InvalidConfig(_))), "{c:?}");
        }
        let secure_only =
            OpcUaServerConfig { allow_anonymous: false, allow_unsecured: false, users: vec![user("a")], ..ok.clone() };
        secure_only.validate().unwrap();
    }

    #[test]
    fn values_carry_the_sample_time_as_source_timestamp() {
        let t = Timestamp(1_700_000_000_123_456);
        let now = DateTime::now();
        let (value, rate) = data_values(&Reading::Scalar(2.5), t, now);
        assert_eq!(value.value, Some(Variant::Double(2.5)));
        assert_eq!(value.source_timestamp.unwrap().as_chrono().timestamp_micros(), t.0);
        assert_eq!(value.server_timestamp, Some(now));
        assert!(rate.is_none());
        let window = Reading::Window { sample_rate_hz: 1000.0, samples: vec![1.0, -0.5] };
        let (value, rate) = data_values(&window, t, now);
        assert_eq!(value.value, Some(Variant::from(vec![1.0f32, -0.5])));
        assert_eq!(rate.unwrap().value, Some(Variant::Double(1000.0)));
    }
}
