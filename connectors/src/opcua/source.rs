//! The OPC-UA source loop: connect, subscribe to the configured items, forward every data change as `Ingest`, reconnect forever.

use super::convert::{ItemRoute, data_value_to_ingest};
use super::{MAX_CHUNK_COUNT, MAX_MESSAGE_BYTES, OpcUaConfig, OpcUaError};
use crate::backoff::Backoff;
use crate::backpressure::{DropOldestQueue, Forwarder};
use crate::ingest::Ingest;
use crate::json::MAX_WINDOW_SAMPLES;
use crate::mqtt::{SourceStats, jitter_seed, shutdown_requested};
use ::opcua::client::transport::TcpConnector;
use ::opcua::client::{
    Client, ClientBuilder, DataChangeCallback, IdentityToken, MonitoredItem, Session, SessionEventLoop,
};
use ::opcua::types::{
    AttributeId, DataChangeFilter, DataChangeTrigger, DataValue, DeadbandType, ExtensionObject,
    MonitoredItemCreateRequest, MonitoringMode, MonitoringParameters, QualifiedName, ReadValueId, StatusCode,
    TimestampsToReturn,
};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, trace, warn};

/// Data changes converted but not yet handed to the pipeline. async-opcua calls our callback
/// synchronously from its event loop, which must not block, and OPC-UA has no acknowledgement to
/// hold back; so when the pipeline stalls longer than this queue lasts, the oldest values are
/// dropped and counted, as the server's own per-item queues do (`discard_oldest`).
const NOTIFICATION_QUEUE: usize = 8192;

/// Upper bound on connecting (endpoint discovery, secure channel, session activation) and on
/// creating the subscription, so that a server that accepts TCP but never answers is retried.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the client reads the server state to detect a dead connection without a TCP error.
/// On a silent cut (no FIN or RST) each read waits out the 10 s request timeout, and the session
/// ends after 3 failed reads and an unanswered close: about 45 s (tests/opcua_e2e.rs measures it).
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Connects, creates one subscription with a monitored item per configured node, converts every
/// data change with [`data_value_to_ingest`] and sends the items to `tx` (through a bounded queue
/// that drops its oldest item when full, counted in `stats.backpressure_dropped`; see
/// `NOTIFICATION_QUEUE`). Every item's create status is checked: failures are logged and
/// counted in `stats.connection_errors` (the other items keep working). When the session breaks
/// (server restart, network loss, failed keep-alives), it reconnects with capped exponential
/// backoff and jitter and creates a fresh session and subscription; `stats.connections` counts
/// sessions whose subscription was created, `stats.connection_errors` failed attempts and lost
/// sessions. `stats.messages_received` counts data changes; `bytes_received` is not tracked.
///
/// Returns `Ok(())` when `shutdown` becomes true (or its sender is dropped) or when the receiver
/// of `tx` is dropped; `Err` only for configuration errors.
pub async fn run_opcua_source(
    config: OpcUaConfig,
    tx: mpsc::Sender<Ingest>,
    stats: Arc<SourceStats>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), OpcUaError> {
    config.validate()?;
    let routes: Arc<[ItemRoute]> = config.routes()?.into();
    let mut client = build_client(&config)?;
    let queue = Arc::new(DropOldestQueue::new(NOTIFICATION_QUEUE));
    let pipeline = tx.clone();
    let forwarder = Forwarder::spawn(queue.clone(), tx);
    let mut backoff = Backoff::new(
        Duration::from_millis(config.reconnect_min_ms),
        Duration::from_millis(config.reconnect_max_ms),
        jitter_seed(&config.application_name),
    );
    info!(url = %config.endpoint_url, policy = ?config.security_policy, items = routes.len(), "starting opcua source");
    loop {
        let ctx = SessionContext { config: &config, routes: &routes, queue: &queue, stats: &stats };
        let end = tokio::select! {
            biased;
            () = pipeline.closed() => {
                info!("pipeline closed, stopping opcua source");
                break;
            }
            end = run_session(&mut client, ctx, &mut backoff, &mut shutdown) => end,
        };
        let why = match end {
            SessionEnd::Shutdown => break,
            SessionEnd::Failed(why) => why,
        };
        stats.connection_errors.fetch_add(1, Ordering::Relaxed);
        let delay = backoff.next_delay();
        warn!(url = %config.endpoint_url, error = %why, delay_ms = delay.as_millis() as u64, "opcua session failed, retrying");
        tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            () = pipeline.closed() => break,
            () = tokio::time::sleep(delay) => {}
        }
    }
    forwarder.finish().await;
    info!(url = %config.endpoint_url, "opcua source stopped");
    Ok(())
}

/// The async-opcua client for `config`: its certificate store lives in `pki_dir` and a key pair
/// is generated there on first use of a secure policy. Its own reconnect logic is off (retry
/// limit 0): a broken session ends, and [`run_opcua_source`] builds a new one. Arrays up to
/// `MAX_WINDOW_SAMPLES` decode, the bound the MQTT decoders use: async-opcua's default stops at
/// 1000 elements, shorter than a typical vibration window, and a publish holding a longer array
/// fails to decode as a whole.
fn build_client(config: &OpcUaConfig) -> Result<Client, OpcUaError> {
    let secure = config.security_policy != super::SecurityPolicy::None;
    ClientBuilder::new()
        .application_name(config.application_name.as_str())
        .application_uri(format!("urn:{}", config.application_name))
        .product_uri("urn:spikewatch")
        .pki_dir(config.pki_dir.clone())
        .create_sample_keypair(secure)
        .trust_server_certs(config.trust_server_certs)
        .session_retry_limit(0)
        .keep_alive_interval(KEEP_ALIVE)
        .max_failed_keep_alive_count(3)
        .request_timeout(Duration::from_secs(10))
        .max_array_length(MAX_WINDOW_SAMPLES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_chunk_count(MAX_CHUNK_COUNT)
        .client()
        .map_err(|errors| OpcUaError::Client(errors.join("; ")))
}

/// Why a session ended.
enum SessionEnd {
    /// Shutdown was requested; the session was closed.
    Shutdown,
    /// Connecting failed or the session broke; retry after a delay.
    Failed(String),
}

/// What a session needs from the source, borrowed for its lifetime.
#[derive(Clone, Copy)]
struct SessionContext<'a> {
    config: &'a OpcUaConfig,
    routes: &'a Arc<[ItemRoute]>,
    queue: &'a Arc<DropOldestQueue<Ingest>>,
    stats: &'a Arc<SourceStats>,
}

/// Aborts the session's event loop task when the session future is dropped (pipeline gone).
struct AbortOnDrop(JoinHandle<StatusCode>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One session: connect, subscribe, then wait until it breaks or shutdown is requested.
async fn run_session(
    client: &mut Client,
    ctx: SessionContext<'_>,
    backoff: &mut Backoff,
    shutdown: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let url = ctx.config.endpoint_url.as_str();
    let identity = match (&ctx.config.username, &ctx.config.password) {
        (Some(user), password) => IdentityToken::new_user_name(user.as_str(), password.clone().unwrap_or_default()),
        (None, _) => IdentityToken::Anonymous,
    };
    let connect = tokio::time::timeout(SETUP_TIMEOUT, connect(client, ctx.config, identity));
    let (session, event_loop) = tokio::select! {
        biased;
        () = shutdown_requested(shutdown) => return SessionEnd::Shutdown,
        r = connect => match r {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return SessionEnd::Failed(format!("failed to connect to `{url}`: {e}")),
            Err(_) => return SessionEnd::Failed(format!("failed to connect to `{url}`: timed out")),
        },
    };
    // A broken connection ends the event loop instead of async-opcua retrying it: recreating
    // the session here is what lets us check every monitored item's status again.
    session.disable_reconnects();
    let mut event_loop = AbortOnDrop(event_loop.spawn());

    let setup = tokio::time::timeout(SETUP_TIMEOUT, async {
        if !session.wait_for_connection().await {
            return Err("session did not connect".to_owned());
        }
        subscribe(&session, ctx).await
    });
    let setup = tokio::select! {
        biased;
        () = shutdown_requested(shutdown) => {
            close(&session, &mut event_loop).await;
            return SessionEnd::Shutdown;
        }
        code = &mut event_loop.0 => return SessionEnd::Failed(format!("session to `{url}` ended during setup: {}", status(code))),
        r = setup => r,
    };
    match setup {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            close(&session, &mut event_loop).await;
            return SessionEnd::Failed(why);
        }
        Err(_) => {
            close(&session, &mut event_loop).await;
            return SessionEnd::Failed(format!("subscribing on `{url}` timed out"));
        }
    }
    ctx.stats.connections.fetch_add(1, Ordering::Relaxed);
    backoff.reset();
    info!(url, "opcua session established");

    tokio::select! {
        biased;
        () = shutdown_requested(shutdown) => {
            close(&session, &mut event_loop).await;
            SessionEnd::Shutdown
        }
        code = &mut event_loop.0 => SessionEnd::Failed(format!("session to `{url}` lost: {}", status(code))),
    }
}

/// Asks the server for its endpoints, picks the one with the configured policy and mode, and
/// opens a session to it at `endpoint_url` itself. async-opcua's `connect_to_matching_endpoint`
/// keeps the port the server advertises (it only swaps the host), which a server behind NAT, a
/// container port mapping or a TCP proxy cannot be reached on; the path must match anyway.
async fn connect(
    client: &mut Client,
    config: &OpcUaConfig,
    identity: IdentityToken,
) -> Result<(Arc<Session>, SessionEventLoop<TcpConnector>), ::opcua::types::Error> {
    let url = config.endpoint_url.as_str();
    let policy = config.security_policy.to_opcua();
    let mode = config.security_mode.to_opcua();
    let endpoints = client.get_server_endpoints_from_url(url).await?;
    let mut endpoint = Client::find_matching_endpoint(&endpoints, url, policy, mode).ok_or_else(|| {
        ::opcua::types::Error::new(
            StatusCode::BadTcpEndpointUrlInvalid,
            format!("the server offers no endpoint with policy {policy} and mode {mode} at `{url}`"),
        )
    })?;
    endpoint.endpoint_url = url.into();
    client.connect_to_endpoint_directly(endpoint, identity)
}

fn status(joined: Result<StatusCode, tokio::task::JoinError>) -> String {
    match joined {
        Ok(code) => code.to_string(),
        Err(e) => format!("event loop task failed: {e}"),
    }
}

/// Closes the session (deleting its subscription on the server) and waits briefly for the event loop.
async fn close(session: &Session, event_loop: &mut AbortOnDrop) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if let Err(e) = session.disconnect().await {
            debug!(error = %e, "opcua disconnect failed");
        }
        let _ = (&mut event_loop.0).await;
    })
    .await;
}

/// Creates the subscription and its monitored items; the client handle of item `i` is `i + 1`.
/// An error only when the subscription itself cannot be created; failed items are logged and counted.
async fn subscribe(session: &Session, ctx: SessionContext<'_>) -> Result<(), String> {
    let routes = ctx.routes.clone();
    let queue = ctx.queue.clone();
    let stats = ctx.stats.clone();
    let callback = DataChangeCallback::new(move |value: DataValue, item: &MonitoredItem| {
        let Some(route) = (item.client_handle() as usize).checked_sub(1).and_then(|i| routes.get(i)) else {
            debug!(handle = item.client_handle(), "data change for an unknown opcua client handle");
            return;
        };
        stats.messages_received.fetch_add(1, Ordering::Relaxed);
        trace!(node = %route.source, "opcua data change");
        queue.push_counted(data_value_to_ingest(route, &value), &stats, &route.source);
    });
    let publishing = Duration::from_millis(ctx.config.publishing_interval_ms);
    // lifetime 60 and keep-alive 10 publishing intervals: the usual 3:1 ratio with margin.
    let subscription_id = session
        .create_subscription(publishing, 60, 10, 0, 0, true, callback)
        .await
        .map_err(|e| format!("failed to create opcua subscription: {e}"))?;

    let requests: Vec<MonitoredItemCreateRequest> = ctx
        .config
        .items
        .iter()
        .zip(ctx.routes.iter())
        .enumerate()
        .map(|(i, (item, route))| {
            let filter = match item.deadband_abs {
                Some(deadband) => ExtensionObject::from_message(DataChangeFilter {
                    trigger: DataChangeTrigger::StatusValue,
                    deadband_type: DeadbandType::Absolute as u32,
                    deadband_value: deadband,
                }),
                None => ExtensionObject::null(),
            };
            MonitoredItemCreateRequest {
                item_to_monitor: ReadValueId {
                    node_id: route.node_id.clone(),
                    attribute_id: AttributeId::Value as u32,
                    index_range: Default::default(),
                    data_encoding: QualifiedName::null(),
                },
                monitoring_mode: MonitoringMode::Reporting,
                requested_parameters: MonitoringParameters {
                    client_handle: i as u32 + 1,
                    sampling_interval: item.sampling_interval_ms as f64,
                    filter,
                    queue_size: item.queue_size,
                    discard_oldest: true,
                },
            }
        })
        .collect();
    let results = session
        .create_monitored_items(subscription_id, TimestampsToReturn::Both, requests)
        .await
        .map_err(|e| format!("failed to create opcua monitored items: {e}"))?;
    let mut failed = 0;
    for (result, route) in results.iter().zip(ctx.routes.iter()) {
        let code = result.result.status_code;
        if code.is_good() {
            debug!(node = %route.source, sampling_ms = result.result.revised_sampling_interval, "monitoring opcua node");
        } else {
            failed += 1;
            warn!(node = %route.source, status = %code, "failed to monitor opcua node `{}`: {code}", route.source);
        }
    }
    if failed > 0 {
        ctx.stats.connection_errors.fetch_add(failed, Ordering::Relaxed);
    }
    if results.len() != ctx.routes.len() {
        warn!(
            expected = ctx.routes.len(),
            got = results.len(),
            "opcua server answered for a different number of items"
        );
    }
    Ok(())
}
