//! The plant simulator's OPC-UA server read by spikewatch's own OPC-UA source, end to end on 127.0.0.1: every
//! channel of two pumps over Basic256Sha256 SignAndEncrypt with a username, each value equal to what the
//! simulator produced for that time, and a restart of the server on the same port survived.

use connectors::mqtt::SourceStats;
use connectors::opcua::{MonitoredItemConfig, OpcUaConfig, SecurityMode, SecurityPolicy};
use connectors::simulator::opcua_server::{OpcUaServerConfig, OpcUaServerError, OpcUaUser, SimulatorOpcUaServer};
use connectors::simulator::{PlantSimulator, ServedKind, SimConfig};
use connectors::{Ingest, run_opcua_source};
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Hang guard only; nothing asserts on time.
const GUARD: Duration = Duration::from_secs(120);
const USER: &str = "operator";
const PASSWORD: &str = "correct horse";
/// Simulated seconds per real second: a one-second tick every 50 ms.
const TIME_SCALE: f64 = 20.0;
/// 2026-01-01T00:00:00Z, the first tick of the first server.
const START_US: i64 = 1_767_225_600_000_000;
/// The restarted server's plant starts a million simulated seconds later, so any sample at or
/// after it was served after the restart.
const RESTART_START_US: i64 = START_US + 1_000_000_000_000;

fn plant(start_us: i64) -> PlantSimulator {
    PlantSimulator::new(SimConfig { assets: 2, ..SimConfig::default() }, Timestamp(start_us))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spikewatch-opcua-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn secure_server_config(listen: SocketAddr, pki_dir: PathBuf) -> OpcUaServerConfig {
    OpcUaServerConfig {
        listen,
        pki_dir,
        allow_anonymous: false,
        allow_unsecured: false,
        users: vec![OpcUaUser { username: USER.into(), password: PASSWORD.into() }],
        trust_client_certs: true,
        time_scale: TIME_SCALE,
        duration_s: None,
    }
}

/// Starts a server, retrying while the port of a just-stopped one is still being released.
async fn start_on(sim: PlantSimulator, config: OpcUaServerConfig) -> SimulatorOpcUaServer {
    for _ in 0..100 {
        match SimulatorOpcUaServer::start(sim.clone(), config.clone()).await {
            Ok(server) => return server,
            Err(OpcUaServerError::Bind { source, .. }) if source.kind() == std::io::ErrorKind::AddrInUse => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("server starts: {e}"),
        }
    }
    panic!("port {} stayed in use", config.listen)
}

/// What the simulator produced, tick by tick, from a copy of the served plant.
struct Expected {
    sim: PlantSimulator,
    readings: HashMap<(AssetId, ChannelId, Timestamp), Reading>,
    last_t: Option<Timestamp>,
}

impl Expected {
    fn new(sim: PlantSimulator) -> Expected {
        Expected { sim, readings: HashMap::new(), last_t: None }
    }

    /// The reading the simulator produced for this asset and channel at `t` (ticking the copy as far as needed).
    fn reading(&mut self, s: &Sample) -> &Reading {
        while self.last_t.is_none_or(|last| last < s.t) {
            let batch = self.sim.tick();
            for sample in batch {
                self.last_t = Some(sample.t);
                self.readings.insert((sample.asset, sample.channel, sample.t), sample.reading);
            }
        }
        self.readings
            .get(&(s.asset.clone(), s.channel.clone(), s.t))
            .unwrap_or_else(|| panic!("no simulated {}/{} at {:?}", s.asset, s.channel, s.t))
    }
}

/// Per channel: how many samples arrived, and whether their values changed.
#[derive(Debug, Default)]
struct Channel {
    samples: usize,
    first: Option<Reading>,
    changed: bool,
}

/// Every sample that arrived, checked against the simulator and the served layout; those from
/// `from` on are counted per channel.
struct Seen {
    kinds: HashMap<(AssetId, ChannelId), ServedKind>,
    from: Timestamp,
    channels: BTreeMap<(AssetId, ChannelId), Channel>,
    /// Values of the `sample_rate_hz` properties, when monitored as channels `<channel>.sample_rate_hz`.
    rates: HashMap<(AssetId, ChannelId), f64>,
}

impl Seen {
    fn new(server: &SimulatorOpcUaServer, from: Timestamp) -> Seen {
        let kinds = server.layout().channels.iter().map(|c| ((c.asset.clone(), c.channel.clone()), c.kind)).collect();
        Seen { kinds, from, channels: BTreeMap::new(), rates: HashMap::new() }
    }

    fn record(&mut self, sample: Sample, expected: &mut Expected) {
        if let Some(window) = sample.channel.as_str().strip_suffix(".sample_rate_hz") {
            let Reading::Scalar(rate) = sample.reading else { panic!("a sample rate is a scalar: {sample:?}") };
            self.rates.insert((sample.asset, window.into()), rate);
            return;
        }
        let key = (sample.asset.clone(), sample.channel.clone());
        let kind = self.kinds.get(&key).unwrap_or_else(|| panic!("sample of an unserved channel {key:?}"));
        let want = expected.reading(&sample);
        assert_eq!(&sample.reading, want, "{key:?} at {:?} differs from the simulator", sample.t);
        match (kind, &sample.reading) {
            (ServedKind::Scalar, Reading::Scalar(_)) => {}
            (ServedKind::Window { sample_rate_hz }, Reading::Window { sample_rate_hz: rate, samples }) => {
                assert_eq!(rate, sample_rate_hz, "{key:?}");
                let Reading::Window { samples: simulated, .. } = want else { unreachable!() };
                assert_eq!(samples.len(), simulated.len(), "{key:?}");
                assert!(!samples.is_empty());
            }
            (kind, reading) => panic!("{key:?} is served as {kind:?} but arrived as {reading:?}"),
        }
        if sample.t < self.from {
            return;
        }
        let channel = self.channels.entry(key).or_default();
        channel.samples += 1;
        match &channel.first {
            None => channel.first = Some(sample.reading),
            Some(first) => channel.changed |= *first != sample.reading,
        }
    }

    /// Every served channel delivered at least `n` samples and its value changed.
    fn every_channel_changed(&self, n: usize) -> bool {
        self.kinds.keys().all(|k| self.channels.get(k).is_some_and(|c| c.samples >= n && c.changed))
    }
}

/// Receives until `done` holds (bounded by the hang guard); samples at or after `split` are checked
/// against `after`, earlier ones against `before`.
async fn receive_until(
    rx: &mut mpsc::Receiver<Ingest>,
    seen: &mut Seen,
    expected: (&mut Expected, &mut Expected),
    split: Timestamp,
    done: impl Fn(&Seen) -> bool,
) {
    let (before, after) = expected;
    tokio::time::timeout(GUARD, async {
        while !done(seen) {
            match rx.recv().await.expect("source is running") {
                Ingest::Sample(s) if s.t >= split => seen.record(s, after),
                Ingest::Sample(s) => seen.record(s, before),
                Ingest::Rejected(r) => panic!("unexpected rejection: {r}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("hang guard: not every channel delivered, seen {:?}", seen.channels));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_arrives_over_sign_and_encrypt_and_survives_a_server_restart() {
    let server_pki = temp_dir("server");
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let sim = plant(START_US);
    let mut expected = Expected::new(sim.clone());
    let server = start_on(sim, secure_server_config(listen, server_pki.clone())).await;
    let port = server.local_addr().port();
    assert_eq!(server.layout().assets(), plant(START_US).asset_ids());

    // What an integrator does with the printed configuration: add the credentials and trust the
    // server's certificate (new on every run here, so trusted automatically).
    let generated = server.client_config();
    let config = OpcUaConfig {
        security_policy: SecurityPolicy::Basic256Sha256,
        security_mode: SecurityMode::SignAndEncrypt,
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        trust_server_certs: true,
        pki_dir: temp_dir("client"),
        publishing_interval_ms: 50,
        reconnect_min_ms: 100,
        reconnect_max_ms: 1000,
        ..generated.clone()
    };
    let (tx, mut rx) = mpsc::channel(256);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    let source = tokio::spawn(run_opcua_source(config, tx, stats.clone(), shutdown));

    let mut seen = Seen::new(&server, Timestamp(START_US));
    let mut unused = Expected::new(plant(RESTART_START_US));
    let split = Timestamp(RESTART_START_US);
    receive_until(&mut rx, &mut seen, (&mut expected, &mut unused), split, |s| s.every_channel_changed(3)).await;
    assert_eq!(stats.connections.load(Ordering::Relaxed), 1, "{stats:?}");
    let served = server.stats().ticks.load(Ordering::Relaxed);
    assert!(served >= 3, "{served} ticks served");

    // Stop the server and start a new one on the same port with a plant that starts later.
    assert!(server.stop().await.unwrap() >= served);
    let sim = plant(RESTART_START_US);
    let mut after_restart = Expected::new(sim.clone());
    let server = start_on(sim, secure_server_config(SocketAddr::new(listen.ip(), port), server_pki)).await;
    assert_eq!(server.local_addr().port(), port);
    assert_eq!(server.client_config().items, generated.items, "same node ids after a restart");
    let mut after = Seen::new(&server, split);
    receive_until(&mut rx, &mut after, (&mut expected, &mut after_restart), split, |s| s.every_channel_changed(2))
        .await;
    assert!(stats.connections.load(Ordering::Relaxed) >= 2, "{stats:?}");
    assert!(stats.connection_errors.load(Ordering::Relaxed) >= 1, "{stats:?}");

    stop.send(true).unwrap();
    tokio::time::timeout(GUARD, source).await.expect("source stops on shutdown").unwrap().unwrap();
    assert_eq!(server.stats().skipped.load(Ordering::Relaxed), 0);
    server.stop().await.unwrap();
    remove_temp_dirs(&["server", "client"]);
}

fn remove_temp_dirs(names: &[&str]) {
    for name in names {
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("spikewatch-opcua-sim-{}-{name}", std::process::id())),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_config_reads_an_open_server_as_printed_and_duration_ends_serving() {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let sim = plant(START_US);
    let mut expected = Expected::new(sim.clone());
    let open = OpcUaServerConfig {
        listen,
        pki_dir: temp_dir("open-server"),
        time_scale: TIME_SCALE,
        ..OpcUaServerConfig::default()
    };
    let server = start_on(sim.clone(), open.clone()).await;
    // A second server on the same port is refused by name.
    let taken = OpcUaServerConfig { listen: server.local_addr(), ..open.clone() };
    let err = SimulatorOpcUaServer::start(sim, taken).await.err().expect("the port is taken");
    assert!(matches!(err, OpcUaServerError::Bind { .. }), "{err}");

    // Security None and anonymous, exactly as generated (only the client's certificate store moves),
    // plus the sample-rate property of every window channel.
    let mut config = OpcUaConfig { pki_dir: temp_dir("open-client"), ..server.client_config() };
    assert_eq!(config.security_policy, SecurityPolicy::None);
    let windows: Vec<_> = server.layout().channels.iter().filter(|c| c.sample_rate_node().is_some()).cloned().collect();
    assert!(!windows.is_empty());
    for c in &windows {
        config.items.push(MonitoredItemConfig {
            node_id: format!("ns={};s={}", server.namespace_index(), c.sample_rate_node().unwrap()),
            asset: c.asset.to_string(),
            channel: format!("{}.sample_rate_hz", c.channel),
            ..config.items[0].clone()
        });
    }
    let (tx, mut rx) = mpsc::channel(256);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    let source = tokio::spawn(run_opcua_source(config, tx, stats.clone(), shutdown));
    let mut seen = Seen::new(&server, Timestamp(START_US));
    let mut unused = Expected::new(plant(RESTART_START_US));
    let split = Timestamp(RESTART_START_US);
    let rates_seen = |s: &Seen| windows.iter().all(|c| s.rates.contains_key(&(c.asset.clone(), c.channel.clone())));
    receive_until(&mut rx, &mut seen, (&mut expected, &mut unused), split, |s| {
        s.every_channel_changed(2) && rates_seen(s)
    })
    .await;
    for c in &windows {
        let ServedKind::Window { sample_rate_hz } = c.kind else { unreachable!() };
        assert_eq!(seen.rates[&(c.asset.clone(), c.channel.clone())], sample_rate_hz, "{c:?}");
    }
    stop.send(true).unwrap();
    tokio::time::timeout(GUARD, source).await.expect("source stops on shutdown").unwrap().unwrap();
    server.stop().await.unwrap();

    // With a duration, `run` returns by itself once that much simulated time was served: ticks at
    // 0, 1 and 2 simulated seconds.
    let timed = OpcUaServerConfig { duration_s: Some(3.0), ..open };
    let server = start_on(plant(START_US), timed).await;
    let (_keep, never) = watch::channel(false);
    let ticks = tokio::time::timeout(GUARD, server.run(never)).await.expect("duration ends serving").unwrap();
    assert_eq!(ticks, 3);
    remove_temp_dirs(&["open-server", "open-client"]);
}

#[tokio::test]
async fn bad_server_configs_and_plants_are_refused_before_listening() {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let unpaced = OpcUaServerConfig { listen, time_scale: f64::INFINITY, ..OpcUaServerConfig::default() };
    let err = SimulatorOpcUaServer::start(plant(START_US), unpaced).await.err().unwrap();
    assert!(matches!(err, OpcUaServerError::InvalidConfig(_)), "{err}");
    let empty = PlantSimulator::new(SimConfig { assets: 0, ..SimConfig::default() }, Timestamp(START_US));
    let err = SimulatorOpcUaServer::start(empty, OpcUaServerConfig { listen, ..OpcUaServerConfig::default() })
        .await
        .err()
        .unwrap();
    assert!(matches!(err, OpcUaServerError::Plant(_)), "{err}");
    assert!(err.to_string().contains("no assets"), "{err}");
}

/// Whether a source with `config` gets a value through: `true` at its first sample, `false` once two
/// attempts in a row failed without any session.
async fn admitted(config: OpcUaConfig) -> bool {
    let (tx, mut rx) = mpsc::channel(256);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    let source = tokio::spawn(run_opcua_source(config, tx, stats.clone(), shutdown));
    let outcome = tokio::time::timeout(GUARD, async {
        loop {
            tokio::select! {
                item = rx.recv() => match item.expect("source is running") {
                    Ingest::Sample(_) => return true,
                    Ingest::Rejected(r) => panic!("unexpected rejection: {r}"),
                },
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if stats.connection_errors.load(Ordering::Relaxed) >= 2 {
                        assert_eq!(stats.connections.load(Ordering::Relaxed), 0, "{stats:?}");
                        return false;
                    }
                }
            }
        }
    })
    .await
    .expect("hang guard: neither admitted nor refused");
    stop.send(true).unwrap();
    tokio::time::timeout(GUARD, source).await.expect("source stops on shutdown").unwrap().unwrap();
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_gets_in_follows_the_server_config() {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let client = |server: &SimulatorOpcUaServer, policy, mode, user: Option<(&str, &str)>, dir: &str| OpcUaConfig {
        security_policy: policy,
        security_mode: mode,
        username: user.map(|(u, _)| u.into()),
        password: user.map(|(_, p)| p.into()),
        trust_server_certs: true,
        pki_dir: temp_dir(dir),
        reconnect_min_ms: 100,
        reconnect_max_ms: 200,
        ..server.client_config()
    };
    let (b256, none) = (SecurityPolicy::Basic256Sha256, SecurityPolicy::None);

    // Open (the default) with a user as well: anonymous over Basic256Sha256 Sign, and the user.
    let open = OpcUaServerConfig {
        listen,
        pki_dir: temp_dir("who-open-server"),
        users: vec![OpcUaUser { username: USER.into(), password: PASSWORD.into() }],
        time_scale: TIME_SCALE,
        ..OpcUaServerConfig::default()
    };
    let server = start_on(plant(START_US), open).await;
    assert!(admitted(client(&server, b256, SecurityMode::Sign, None, "who-anonymous-sign")).await);
    assert!(admitted(client(&server, b256, SecurityMode::Sign, Some((USER, PASSWORD)), "who-user-sign")).await);
    server.stop().await.unwrap();

    // Secure only: anonymous, a wrong password and the unsecured endpoint are all refused.
    let server = start_on(plant(START_US), secure_server_config(listen, temp_dir("who-secure-server"))).await;
    let refused = [
        client(&server, b256, SecurityMode::SignAndEncrypt, None, "who-anonymous"),
        client(&server, b256, SecurityMode::SignAndEncrypt, Some((USER, "wrong")), "who-wrong-password"),
        client(&server, none, SecurityMode::None, None, "who-unsecured"),
    ];
    for config in refused {
        let what = format!("{:?} {:?} user {:?}", config.security_policy, config.security_mode, config.username);
        assert!(!admitted(config).await, "{what} was let in");
    }
    server.stop().await.unwrap();
    remove_temp_dirs(&[
        "who-open-server",
        "who-anonymous-sign",
        "who-user-sign",
        "who-secure-server",
        "who-anonymous",
        "who-wrong-password",
        "who-unsecured",
    ]);
}
