//! Refusals by a private Mosquitto with its dynamic security plugin: bad credentials and a subscription the broker does not authorise are logged with their reason code and retried with backoff, not fatal, until an administrator fixes them; for MQTT 3.1.1 and MQTT 5.
//!
//! The test says it skipped when `mosquitto`, `mosquitto_ctrl` or the plugin is missing.

#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/mosquitto.rs"]
mod mosquitto;
#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/publish.rs"]
mod publish;
#[allow(dead_code, reason = "each test binary uses a part of the shared test helpers")]
#[path = "common/wait.rs"]
mod wait;

use connectors::{Ingest, MqttConfig, MqttProtocol, SourceStats, run_mqtt_source};
use mosquitto::{PrivateMosquitto, find_program};
use publish::publish_acknowledged;
use rumqttc::MqttOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use wait::{GUARD, wait_for};

/// Where Debian and source builds put Mosquitto's dynamic security plugin.
const PLUGIN_DIRS: [&str; 3] = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/local/lib"];

const ADMIN: (&str, &str) = ("admin", "admin-secret");
const SOURCE: (&str, &str) = ("spikewatch", "source-secret");
const PUBLISHER: (&str, &str) = ("gateway", "gateway-secret");

/// Everything logged in this test binary, as text without colours.
fn captured_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogWriter(sink.clone()))
            .init();
        log
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log lines that contain every one of `needles`.
fn log_lines_with(needles: &[&str]) -> usize {
    let log = captured_log().lock().unwrap();
    String::from_utf8_lossy(&log).lines().filter(|l| needles.iter().all(|n| l.contains(n))).count()
}

/// A broker that lets in only the clients its dynamic security plugin knows, with an administrator.
struct SecuredMosquitto {
    broker: PrivateMosquitto,
    ctrl: PathBuf,
}

impl SecuredMosquitto {
    fn start(tag: &str) -> Option<Self> {
        let (Some(binary), Some(ctrl)) = (find_program("mosquitto"), find_program("mosquitto_ctrl")) else {
            return None;
        };
        let plugin =
            PLUGIN_DIRS.iter().map(|d| Path::new(d).join("mosquitto_dynamic_security.so")).find(|p| p.is_file())?;
        let broker = PrivateMosquitto::start_with(binary, tag, |dir| {
            let file = dir.join("dynamic-security.json");
            let init = Command::new(&ctrl)
                .args(["dynsec", "init"])
                .arg(&file)
                .args([ADMIN.0, ADMIN.1])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(init.status.success(), "dynsec init failed: {}", String::from_utf8_lossy(&init.stderr));
            format!("allow_anonymous false\nplugin {}\nplugin_opt_config_file {}\n", plugin.display(), file.display())
        });
        Some(SecuredMosquitto { broker, ctrl })
    }

    /// Runs `mosquitto_ctrl dynsec <args>` as the administrator, as an operator would.
    fn dynsec(&self, args: &[&str]) {
        let port = self.broker.port.to_string();
        let out = Command::new(&self.ctrl)
            .args(["-h", "127.0.0.1", "-p", &port, "-u", ADMIN.0, "-P", ADMIN.1, "dynsec"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mosquitto_ctrl dynsec {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Publishes one reading as the gateway at QoS 1 and waits for its PubAck.
async fn publish_as_gateway(port: u16, topic: &str, t: i64) {
    let mut opts = MqttOptions::new(format!("gateway-{port}-{t}"), "127.0.0.1", port);
    opts.set_credentials(PUBLISHER.0, PUBLISHER.1);
    publish_acknowledged(opts, topic, format!(r#"{{"t": {t}, "value": 1}}"#).as_bytes()).await;
}

/// The log text of a refused connection and of a refused subscription, by protocol.
fn expected_refusals(protocol: MqttProtocol, filter: &str) -> (String, String) {
    match protocol {
        // Mosquitto answers a wrong password with "not authorized" in both versions.
        MqttProtocol::V311 => (
            "the broker refused the connection: not authorized (return code 5)".into(),
            format!("failed to subscribe to `{filter}`: the broker refused it (return code 0x80)"),
        ),
        MqttProtocol::V5 => (
            "the broker refused the connection: not authorized (reason code 0x87)".into(),
            format!("failed to subscribe to `{filter}`: not authorized (reason code 0x87)"),
        ),
    }
}

async fn refusals_are_logged_and_retried(protocol: MqttProtocol) {
    captured_log();
    let tag = format!("refusals-{protocol}");
    let Some(broker) = SecuredMosquitto::start(&tag) else {
        println!("skipped: mosquitto, mosquitto_ctrl or its dynamic security plugin is not installed");
        return;
    };
    let prefix = format!("swtest-{tag}-{}", std::process::id());
    let filter = format!("{prefix}/+/+");
    // The gateway may publish under the prefix; the source exists, but with another password and
    // without the right to subscribe (the plugin's default denies subscriptions).
    broker.dynsec(&["createRole", "gateway"]);
    broker.dynsec(&["addRoleACL", "gateway", "publishClientSend", &format!("{prefix}/#"), "allow"]);
    broker.dynsec(&["createClient", PUBLISHER.0, "-p", PUBLISHER.1]);
    broker.dynsec(&["addClientRole", PUBLISHER.0, "gateway"]);
    broker.dynsec(&["createClient", SOURCE.0, "-p", "not-the-configured-password"]);
    broker.dynsec(&["createRole", "reader"]);
    broker.dynsec(&["addRoleACL", "reader", "subscribePattern", &format!("{prefix}/#"), "allow"]);

    let url = broker.broker.url();
    let config = MqttConfig {
        url: url.clone(),
        protocol,
        client_id: format!("{prefix}-src"),
        username: Some(SOURCE.0.into()),
        password: Some(SOURCE.1.into()),
        topics: vec![format!("{prefix}/{{asset}}/{{channel}}").into()],
        reconnect_min_ms: 50,
        reconnect_max_ms: 200,
        ..MqttConfig::default()
    };
    let (tx, mut rx) = mpsc::channel(16);
    let stats = Arc::new(SourceStats::default());
    let (stop, shutdown) = watch::channel(false);
    let source = tokio::spawn(run_mqtt_source(config, tx, stats.clone(), shutdown));
    let (connection_refused, subscription_refused) = expected_refusals(protocol, &filter);

    // Wrong password: refused, explained, retried.
    wait_for("the refused connection was retried", || stats.connection_errors.load(Ordering::Relaxed) >= 3).await;
    wait_for("the refusal was logged with its reason code", || log_lines_with(&[&url, &connection_refused]) >= 1).await;
    assert_eq!(stats.connections.load(Ordering::Relaxed), 0);
    assert!(!source.is_finished(), "a refused connection stopped the source");

    // The operator fixes the password: the source gets in, and its subscription is refused, explained, retried.
    broker.dynsec(&["setClientPassword", SOURCE.0, SOURCE.1]);
    wait_for("the source connected", || stats.connections.load(Ordering::Relaxed) >= 1).await;
    wait_for("the refused subscription was retried", || log_lines_with(&[&subscription_refused]) >= 2).await;
    assert!(!source.is_finished(), "a refused subscription stopped the source");

    // The operator grants the subscription: the next retry succeeds and readings flow.
    broker.dynsec(&["addClientRole", SOURCE.0, "reader"]);
    let topic = format!("{prefix}/pump-1/temperature");
    let mut t = 0;
    let sample = timeout(GUARD, async {
        loop {
            t += 1;
            publish_as_gateway(broker.broker.port, &topic, t).await;
            if let Ok(Some(Ingest::Sample(s))) = timeout(Duration::from_millis(300), rx.recv()).await {
                return s;
            }
        }
    })
    .await
    .expect("a reading arrived once the subscription was granted");
    assert_eq!((sample.asset.as_str(), sample.channel.as_str()), ("pump-1", "temperature"));
    stop.send(true).unwrap();
    timeout(GUARD, source).await.expect("source stops").unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_refusals_are_logged_and_retried() {
    refusals_are_logged_and_retried(MqttProtocol::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_refusals_are_logged_and_retried_with_mqtt5() {
    refusals_are_logged_and_retried(MqttProtocol::V5).await;
}
