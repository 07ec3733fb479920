//! End-to-end tests of the OPC-UA source against a real async-opcua server run in-process on 127.0.0.1, including a server restart and a network cut.

use connectors::mqtt::SourceStats;
use connectors::opcua::{MonitoredItemConfig, OpcUaConfig, OpcUaError, SecurityMode, SecurityPolicy};
use connectors::{Ingest, RejectReason, run_opcua_source};
use opcua::server::address_space::Variable;
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
use opcua::server::{ServerBuilder, ServerUserToken};
use opcua::types::{DataValue, MessageSecurityMode, NodeId, Variant};
use snn_engine::Reading;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Distinct from the server's application URI: equal URIs land the namespace on index 1, which
/// belongs to the diagnostics node manager, and monitored items then fail (CRATES.md).
const NAMESPACE_URI: &str = "urn:spikewatch:test-plant";
/// Hang guard only; nothing asserts on time.
const GUARD: Duration = Duration::from_secs(120);
const USER: &str = "operator";
const PASSWORD: &str = "correct horse";

/// An async-opcua server on its own thread and runtime. Stopping it drops the runtime, which
/// closes the listener and every session socket, as a crashed or restarted server would.
struct TestServer {
    port: u16,
    namespace: u16,
    /// The last tick started: `base + tick` may already be published, nothing above it is.
    tick: Arc<AtomicU32>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on `port` (0 picks a free one). The scalar `Pump1.Temperature` is
    /// `base + n` at tick `n` (every 50 ms); `Pump1.Vibration` is a Float array; `Pump1.Label` is
    /// a String and `Pump1.Broken` a NaN Double, for rejections.
    fn start(port: u16, base: f64, pki_dir: PathBuf) -> TestServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let tick = Arc::new(AtomicU32::new(0));
        let ticks = tick.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(serve(port, base, pki_dir, ticks, ready_tx, stop_rx));
            rt.shutdown_timeout(Duration::from_secs(5));
        });
        let (port, namespace) = ready_rx.recv_timeout(GUARD).expect("test server starts");
        TestServer { port, namespace, tick, stop: Some(stop_tx), thread: Some(thread) }
    }

    fn node(&self, name: &str) -> String {
        format!("ns={};s={name}", self.namespace)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let thread = self.thread.take().unwrap();
        tokio::task::spawn_blocking(move || thread.join().expect("server thread")).await.unwrap();
    }
}

async fn serve(
    port: u16,
    base: f64,
    pki_dir: PathBuf,
    tick: Arc<AtomicU32>,
    ready: std::sync::mpsc::Sender<(u16, u16)>,
    stop: oneshot::Receiver<()>,
) {
    // Rebinding a just-closed port can briefly fail; SO_REUSEADDR (set by tokio) covers TIME_WAIT.
    let mut attempt = 0;
    let listener = loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => break l,
            Err(e) if attempt < 100 => {
                attempt += 1;
                eprintln!("rebinding port {port}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("failed to bind port {port}: {e}"),
        }
    };
    let port = listener.local_addr().unwrap().port();
    let secure_users = [USER];
    let (server, handle) = ServerBuilder::new_anonymous("spikewatch test server")
        .application_uri("urn:spikewatch:test-server")
        .product_uri("urn:spikewatch:test-server")
        .host("127.0.0.1")
        .port(port)
        .pki_dir(pki_dir)
        .create_sample_keypair(true)
        .trust_client_certs(true)
        .add_user_token(USER, ServerUserToken { user: USER.into(), pass: Some(PASSWORD.into()), ..Default::default() })
        .add_endpoint(
            "basic256sha256_sign",
            ("/", opcua::crypto::SecurityPolicy::Basic256Sha256, MessageSecurityMode::Sign, &secure_users[..]),
        )
        .add_endpoint(
            "basic256sha256_sign_encrypt",
            (
                "/",
                opcua::crypto::SecurityPolicy::Basic256Sha256,
                MessageSecurityMode::SignAndEncrypt,
                &secure_users[..],
            ),
        )
        .with_node_manager(simple_node_manager(
            NamespaceMetadata { namespace_uri: NAMESPACE_URI.into(), ..Default::default() },
            "plant",
        ))
        .build()
        .expect("test server config");
    let manager = handle.node_managers().get_of_type::<SimpleNodeManager>().unwrap();
    let ns = handle.get_namespace_index(NAMESPACE_URI).unwrap();
    assert!(ns >= 2, "namespace must not share the diagnostics index, got {ns}");
    let temperature = NodeId::new(ns, "Pump1.Temperature");
    let vibration = NodeId::new(ns, "Pump1.Vibration");
    {
        let mut space = manager.address_space().write();
        let added = space.add_variables(
            vec![
                Variable::new(&temperature, "Temperature", "Temperature", base),
                Variable::new(&vibration, "Vibration", "Vibration", vec![0.0f32; 4]),
                Variable::new(&NodeId::new(ns, "Pump1.Label"), "Label", "Label", "hot"),
                Variable::new(&NodeId::new(ns, "Pump1.Broken"), "Broken", "Broken", f64::NAN),
            ],
            &NodeId::objects_folder_id(),
        );
        assert!(added.iter().all(|a| *a), "variables added: {added:?}");
    }
    let subscriptions = handle.subscriptions().clone();
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(50));
        for n in 1u32.. {
            interval.tick().await;
            tick.store(n, Ordering::SeqCst);
            let x = f64::from(n);
            let window = Variant::from(vec![x as f32, 0.5, -0.5, 1.0]);
            manager
                .set_values(
                    &subscriptions,
                    [
                        (&temperature, None, DataValue::new_now(base + x)),
                        (&vibration, None, DataValue::new_now(window)),
                    ]
                    .into_iter(),
                )
                .unwrap();
        }
    });
    ready.send((port, ns)).unwrap();
    tokio::select! {
        r = server.run_with(listener) => panic!("test server stopped by itself: {r:?}"),
        _ = stop => {}
    }
    ticker.abort();
    handle.cancel();
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spikewatch-opcua-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn item(node_id: String, channel: &str, sample_rate_hz: Option<f64>) -> MonitoredItemConfig {
    MonitoredItemConfig {
        node_id,
        asset: "pump1".into(),
        channel: channel.into(),
        sampling_interval_ms: 50,
        queue_size: 10,
        deadband_abs: None,
        sample_rate_hz,
    }
}

fn config(server: &TestServer, pki_dir: PathBuf) -> OpcUaConfig {
    OpcUaConfig {
        endpoint_url: format!("opc.tcp://127.0.0.1:{}/", server.port),
        pki_dir,
        application_name: "spikewatch-test".into(),
        publishing_interval_ms: 50,
        items: vec![
            item(server.node("Pump1.Temperature"), "temperature", None),
            item(server.node("Pump1.Vibration"), "vibration", Some(1000.0)),
            item(server.node("Pump1.Label"), "label", None),
            item(server.node("Pump1.Broken"), "broken", None),
        ],
        reconnect_min_ms: 100,
        reconnect_max_ms: 1000,
        ..OpcUaConfig::default()
    }
}

/// What arrived so far, checked item by item.
#[derive(Default, Debug)]
struct Seen {
    max_temperature: Option<f64>,
    windows: usize,
    malformed_label: usize,
    non_finite_broken: usize,
    bad_missing: usize,
}

impl Seen {
    fn record(&mut self, item: Ingest) {
        match item {
            Ingest::Sample(s) => {
                assert_eq!(s.asset.as_str(), "pump1");
                match (s.channel.as_str(), s.reading) {
                    ("temperature", Reading::Scalar(v)) => {
                        self.max_temperature = Some(self.max_temperature.map_or(v, |m| m.max(v)));
                    }
                    ("vibration", Reading::Window { sample_rate_hz, samples }) => {
                        assert_eq!(sample_rate_hz, 1000.0);
                        assert_eq!(samples.len(), 4);
                        assert_eq!(&samples[1..], &[0.5, -0.5, 1.0]);
                        self.windows += 1;
                    }
                    (channel, reading) => panic!("unexpected sample on `{channel}`: {reading:?}"),
                }
            }
            Ingest::Rejected(r) if r.source.ends_with("Pump1.Label") => {
                assert_eq!(r.reason, RejectReason::Malformed, "{r}");
                self.malformed_label += 1;
            }
            Ingest::Rejected(r) if r.source.ends_with("Pump1.Broken") => {
                assert_eq!(r.reason, RejectReason::NonFinite, "{r}");
                self.non_finite_broken += 1;
            }
            Ingest::Rejected(r) if r.source.ends_with("Pump1.Missing") => {
                assert_eq!(r.reason, RejectReason::Malformed, "{r}");
                assert!(r.detail.contains("BadNodeIdUnknown"), "{r}");
                self.bad_missing += 1;
            }
            Ingest::Rejected(r) => panic!("unexpected rejection: {r}"),
        }
    }
}

/// Receives until `done` holds (bounded by the hang guard). `done` is also checked every 50 ms,
/// so it may wait on counters while nothing arrives.
async fn receive_until(rx: &mut mpsc::Receiver<Ingest>, seen: &mut Seen, done: impl Fn(&Seen) -> bool) {
    tokio::time::timeout(GUARD, async {
        while !done(seen) {
            tokio::select! {
                item = rx.recv() => seen.record(item.expect("source is running")),
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("hang guard: condition not reached, seen so far {seen:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_arrive_and_survive_a_server_restart() {
    let server_pki = temp_dir("restart-server");
    let server = TestServer::start(0, 1000.0, server_pki.clone());
    let port = server.port;
    let (tx, mut rx) = mpsc::channel(64);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    let source =
        tokio::spawn(run_opcua_source(config(&server, temp_dir("restart-client")), tx, stats.clone(), shutdown));

    let mut seen = Seen::default();
    receive_until(&mut rx, &mut seen, |s| {
        s.max_temperature.is_some_and(|t| t > 1001.0)
            && s.windows >= 2
            && s.malformed_label >= 1
            && s.non_finite_broken >= 1
    })
    .await;
    assert!(seen.max_temperature.unwrap() < 1_000_000.0);
    assert_eq!(stats.connections.load(Ordering::Relaxed), 1);
    assert!(stats.messages_received.load(Ordering::Relaxed) >= 5);

    // Restart on the same port: the second server publishes values from one million up, so any
    // such value was published after the restart and reached us through a new session.
    server.stop().await;
    let server = TestServer::start(port, 1_000_000.0, server_pki);
    assert_eq!(server.port, port);
    let mut after = Seen::default();
    receive_until(&mut rx, &mut after, |s| {
        s.max_temperature.is_some_and(|t| t > 1_000_001.0) && s.windows >= 1 && s.malformed_label >= 1
    })
    .await;
    assert!(stats.connections.load(Ordering::Relaxed) >= 2, "{stats:?}");
    assert!(stats.connection_errors.load(Ordering::Relaxed) >= 1, "{stats:?}");

    stop.send(true).unwrap();
    let result = tokio::time::timeout(GUARD, source).await.expect("source stops on shutdown").unwrap();
    assert!(result.is_ok(), "{result:?}");
    server.stop().await;
    remove_temp_dirs(&["restart-server", "restart-client"]);
}

fn remove_temp_dirs(names: &[&str]) {
    for name in names {
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("spikewatch-opcua-{}-{name}", std::process::id())),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic256sha256_with_username_delivers_values() {
    let server = TestServer::start(0, 5000.0, temp_dir("secure-server"));
    for mode in [SecurityMode::Sign, SecurityMode::SignAndEncrypt] {
        let (tx, mut rx) = mpsc::channel(64);
        let stats = Arc::new(SourceStats::default());
        let (stop, shutdown) = watch::channel(false);
        let config = OpcUaConfig {
            security_policy: SecurityPolicy::Basic256Sha256,
            security_mode: mode,
            username: Some(USER.into()),
            password: Some(PASSWORD.into()),
            // The test server's self-signed certificate is new on every run.
            trust_server_certs: true,
            ..config(&server, temp_dir(&format!("secure-client-{mode:?}")))
        };
        // A node the server does not have: async-opcua creates the item and reports a value with
        // status BadNodeIdUnknown, which is rejected. A node in namespace 1 (the diagnostics node
        // manager, the CRATES.md pitfall) fails at creation instead, which is counted. The other
        // items keep working either way.
        let mut config = config;
        config.items.push(item(server.node("Pump1.Missing"), "missing", None));
        config.items.push(item("ns=1;s=Pump1.Temperature".into(), "diagnostics", None));
        let source = tokio::spawn(run_opcua_source(config, tx, stats.clone(), shutdown));
        let mut seen = Seen::default();
        let failed_items = || stats.connection_errors.load(Ordering::Relaxed);
        // The failed item is counted while subscribing, which may finish just after the first values arrive.
        receive_until(&mut rx, &mut seen, |s| {
            s.max_temperature.is_some_and(|t| t > 5000.0) && s.windows >= 1 && s.bad_missing >= 1 && failed_items() >= 1
        })
        .await;
        assert_eq!(stats.connections.load(Ordering::Relaxed), 1, "{stats:?}");
        stop.send(true).unwrap();
        tokio::time::timeout(GUARD, source).await.expect("source stops").unwrap().unwrap();
    }
    server.stop().await;
    remove_temp_dirs(&["secure-server", "secure-client-Sign", "secure-client-SignAndEncrypt"]);
}

#[tokio::test]
async fn config_errors_are_returned_not_retried() {
    let (tx, _rx) = mpsc::channel(1);
    let (_stop, shutdown) = watch::channel(false);
    let config = OpcUaConfig { endpoint_url: "opc.tcp://127.0.0.1:1".into(), ..OpcUaConfig::default() };
    let r = tokio::time::timeout(GUARD, run_opcua_source(config, tx, Arc::default(), shutdown)).await.unwrap();
    assert!(matches!(r, Err(OpcUaError::InvalidConfig(_))), "{r:?}");
}

#[tokio::test]
async fn stops_when_the_pipeline_goes_away() {
    let (tx, rx) = mpsc::channel(1);
    let (_stop, shutdown) = watch::channel(false);
    // Nothing listens on port 1: the source keeps retrying until the receiver is dropped.
    let config = OpcUaConfig {
        endpoint_url: "opc.tcp://127.0.0.1:1/".into(),
        pki_dir: temp_dir("no-server"),
        items: vec![item("ns=2;s=Pump1.Temperature".into(), "temperature", None)],
        ..OpcUaConfig::default()
    };
    let stats = Arc::new(SourceStats::default());
    let task = tokio::spawn(run_opcua_source(config, tx, stats.clone(), shutdown));
    while stats.connection_errors.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(rx);
    tokio::time::timeout(GUARD, task).await.expect("source stops").unwrap().unwrap();
    assert_eq!(stats.connections.load(Ordering::Relaxed), 0);
    remove_temp_dirs(&["no-server"]);
}

/// The state of the link a [`CutProxy`] emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Bytes flow both ways.
    Up,
    /// A cut that both ends notice: live connections are closed, new ones closed on accept.
    Severed,
    /// A cut nobody is told about (a pulled cable, a dropping firewall): live connections stay
    /// open but nothing crosses them any more, even after the link is restored; new connections
    /// are accepted and never answered. Only the client's own keep-alive can notice it.
    Silent,
}

/// A TCP proxy between the source and the test server that can cut the network and restore it
/// while the server keeps running.
struct CutProxy {
    port: u16,
    link: watch::Sender<Link>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    async fn start(upstream_port: u16) -> CutProxy {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (link, watch_link) = watch::channel(Link::Up);
        let task = tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.expect("proxy accepts");
                let mut link = watch_link.clone();
                let state = *link.borrow_and_update();
                tokio::spawn(async move {
                    match state {
                        Link::Up => forward(client, upstream_port, &mut link).await,
                        Link::Severed => drop(client),
                        Link::Silent => hold_forever(client).await,
                    }
                });
            }
        });
        CutProxy { port, link, task }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards both ways until either side closes or the link goes down.
async fn forward(mut client: tokio::net::TcpStream, upstream_port: u16, link: &mut watch::Receiver<Link>) {
    let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await else { return };
    let cut = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
        cut = link.wait_for(|l| *l != Link::Up) => cut.map_or(Link::Severed, |l| *l),
    };
    if cut == Link::Silent {
        hold_forever((client, server)).await;
    }
}

/// Keeps sockets open without reading or writing them (until the test's runtime ends).
async fn hold_forever<T>(sockets: T) {
    std::future::pending::<()>().await;
    drop(sockets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_survive_a_network_cut_while_the_server_keeps_running() {
    let server = TestServer::start(0, 2000.0, temp_dir("cut-server"));
    let proxy = CutProxy::start(server.port).await;
    let (tx, mut rx) = mpsc::channel(64);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    // The source knows only the proxy's port; the server advertises its own.
    let config = OpcUaConfig {
        endpoint_url: format!("opc.tcp://127.0.0.1:{}/", proxy.port),
        ..config(&server, temp_dir("cut-client"))
    };
    let source = tokio::spawn(run_opcua_source(config, tx, stats.clone(), shutdown));
    let mut seen = Seen::default();
    receive_until(&mut rx, &mut seen, |s| s.max_temperature.is_some_and(|t| t > 2001.0)).await;
    assert_eq!(stats.connections.load(Ordering::Relaxed), 1, "{stats:?}");

    // The silent cut takes the longest: about 45 s until the failed keep-alives (5 s apart,
    // 10 s request timeout, 3 allowed) end the session, then a reconnect attempt stuck in the
    // blackhole until its 30 s setup timeout.
    for (cuts, link) in [(1, Link::Severed), (2, Link::Silent)] {
        let errors_before = stats.connection_errors.load(Ordering::Relaxed);
        proxy.set(link);
        // The lost session is noticed and counted, and reconnecting fails for as long as the
        // link is down (each failed attempt counted too).
        let lost = |_: &Seen| stats.connection_errors.load(Ordering::Relaxed) >= errors_before + 2;
        receive_until(&mut rx, &mut Seen::default(), lost).await;
        assert_eq!(stats.connections.load(Ordering::Relaxed), cuts, "no session while {link:?}: {stats:?}");

        // Anything above `base + tick` is published after the restore, so arriving proves a new session.
        let restored_at = 2000.0 + f64::from(server.tick.load(Ordering::SeqCst));
        proxy.set(Link::Up);
        let mut after = Seen::default();
        receive_until(&mut rx, &mut after, |s| s.max_temperature.is_some_and(|t| t > restored_at) && s.windows >= 1)
            .await;
        assert_eq!(stats.connections.load(Ordering::Relaxed), cuts + 1, "after {link:?}: {stats:?}");
    }

    stop.send(true).unwrap();
    let result = tokio::time::timeout(GUARD, source).await.expect("source stops on shutdown").unwrap();
    assert!(result.is_ok(), "{result:?}");
    drop(proxy);
    server.stop().await;
    remove_temp_dirs(&["cut-server", "cut-client"]);
}
