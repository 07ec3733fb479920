//! End-to-end tests: the real `spikewatch` binary against a real MQTT broker and a real database.
//!
//! Each scenario runs against the embedded broker with SQLite, and again against Mosquitto and Postgres
//! when `SPIKEWATCH_TEST_MQTT_URL` and `SPIKEWATCH_TEST_DATABASE_URL` are set (CI sets both).

mod support;

use connectors::embedded_broker::{EmbeddedBroker, start_embedded_broker};
use connectors::mqtt::MqttConfig;
use connectors::simulator::{FaultKind, FaultSpec, PlantSimulator, SimConfig, publish_simulation};
use snn_engine::Timestamp;
use std::path::Path;
use std::time::Duration;
use support::{Server, free_port, temp_dir, unique, write_config};

/// Where a scenario gets its broker and database.
struct Services {
    mqtt_url: String,
    database_url: String,
    /// Kept alive for the test when the broker is embedded.
    _broker: Option<EmbeddedBroker>,
}

fn embedded_services(dir: &Path) -> Services {
    let broker = start_embedded_broker(0).expect("embedded broker starts");
    Services {
        mqtt_url: broker.url(),
        database_url: format!("sqlite://{}", dir.join("spikewatch.db").display()),
        _broker: Some(broker),
    }
}

/// Mosquitto and Postgres from the environment, or None (the test then says it skipped).
fn external_services(runtime: &tokio::runtime::Runtime, tag: &str) -> Option<Services> {
    let (Ok(mqtt_url), Ok(admin_url)) =
        (std::env::var("SPIKEWATCH_TEST_MQTT_URL"), std::env::var("SPIKEWATCH_TEST_DATABASE_URL"))
    else {
        eprintln!("skipped: SPIKEWATCH_TEST_MQTT_URL and SPIKEWATCH_TEST_DATABASE_URL not set");
        return None;
    };
    let database_url = runtime.block_on(spikewatch::testing::fresh_postgres_database(&admin_url, tag));
    Some(Services { mqtt_url, database_url, _broker: None })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

const ASSETS: [&str; 3] = ["pump-1", "pump-2", "pump-3"];

/// Simulated seconds published per real second. Fast, but paced like a (sped-up) plant rather than a
/// dump: a broker drops QoS 1 messages once a slow subscriber's queue passes its limit (Mosquitto's
/// `max_queued_messages`, 1000 by default), which is the broker doing as configured, not spikewatch
/// losing data.
const PUBLISH_TIME_SCALE: f64 = 40.0;

/// A `serve` configuration for the three simulated pumps, under a topic root of its own.
fn serve_config(dir: &Path, services: &Services, http_port: u16, topic_root: &str, client_id: &str) -> String {
    // Every channel the simulator publishes, declared with its kind as an operator would write it.
    let channels: Vec<String> = PlantSimulator::channels()
        .into_iter()
        .map(|(id, kind)| format!("{{ id = \"{id}\", kind = {} }}", serde_json::to_value(kind).unwrap()))
        .collect();
    let assets: String =
        ASSETS.iter().map(|id| format!("[[assets]]\nid = \"{id}\"\nchannels = [{}]\n", channels.join(", "))).collect();
    format!(
        "[http]\nlisten = \"127.0.0.1:{http_port}\"\n\
         [mqtt]\nurl = \"{}\"\nclient_id = \"{client_id}\"\ntopics = [\"{topic_root}/{{asset}}/{{channel}}\"]\nmax_payload_bytes = 262144\n\
         [database]\nurl = \"{}\"\n\
         [archive]\ndir = \"{}\"\n\n{assets}",
        services.mqtt_url,
        services.database_url,
        dir.join("archive").display()
    )
}

/// Publishes a normal stream for every pump, with a bearing fault growing on pump-3 from 150 s on, and
/// asserts that exactly pump-3 gets an alert, in the API and in the database, with a readable Parquet window.
fn faulty_asset_alerts_alone(services: Services, runtime: &tokio::runtime::Runtime, dir: &Path) {
    let http_port = free_port();
    let topic_root = unique("plant");
    let config = write_config(dir, &serve_config(dir, &services, http_port, &topic_root, &unique("spikewatch")));
    let mut server = Server::start(&["serve", "--config", config.to_str().unwrap()], format!("127.0.0.1:{http_port}"));

    let sim = PlantSimulator::new(
        SimConfig {
            assets: 3,
            seed: 11,
            fault: Some(FaultSpec { asset_index: 2, kind: FaultKind::OuterRace, start_s: 150.0, ramp_s: 90.0 }),
            ..SimConfig::default()
        },
        Timestamp::from_millis(1_767_225_600_000),
    );
    let publisher =
        MqttConfig { url: services.mqtt_url.clone(), client_id: unique("simulator"), ..MqttConfig::default() };
    let (_stop, never) = tokio::sync::watch::channel(false);
    let published = runtime
        .block_on(publish_simulation(sim, publisher, topic_root, PUBLISH_TIME_SCALE, Some(360.0), never))
        .expect("simulation is published");
    assert!(published as usize >= 3 * PlantSimulator::channels().len() * 300, "only {published} messages published");

    // Wait until every published reading has been processed (QoS 1: each arrives once).
    server.wait_for("every reading to be processed", Duration::from_secs(300), |s| {
        let assets = s.get_json("/api/v1/assets");
        let processed: u64 = assets["assets"].as_array().unwrap().iter().map(|a| a["samples"].as_u64().unwrap()).sum();
        assert!(processed <= published, "{processed} readings processed, only {published} published");
        (processed == published).then_some(())
    });
    assert_eq!(server.metric("spikewatch_pipeline_samples_processed_total"), published as f64);

    let alerts = server.get_json("/api/v1/alerts");
    let alerts = alerts["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "the failing pump raised no alert");
    for alert in alerts {
        assert_eq!(alert["asset"], "pump-3", "a healthy pump raised an alert: {alert}");
        assert!(alert["evidence"].as_array().is_some_and(|e| !e.is_empty()), "alert without evidence: {alert}");
    }
    let assets = server.get_json("/api/v1/assets");
    for asset in assets["assets"].as_array().unwrap() {
        let health = asset["health"].as_f64().unwrap();
        match asset["id"].as_str().unwrap() {
            "pump-3" => assert!(asset["open_alert"].is_i64() || asset["state"] != "learning", "{asset}"),
            _ => assert!(asset["state"] == "monitoring" && health > 50.0, "healthy pump looks unwell: {asset}"),
        }
    }

    // The database holds the same alerts.
    let stored: Vec<(String, String)> = runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&services.database_url).await.unwrap();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT asset, severity FROM alerts ORDER BY id").fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    });
    assert_eq!(stored.len(), alerts.len());
    assert!(stored.iter().all(|(asset, _)| asset == "pump-3"), "{stored:?}");

    // The raw window around the first alert is archived and reads back.
    let first = alerts.last().unwrap();
    let window_path = dir.join("archive").join(first["window_path"].as_str().expect("alert has a window file"));
    let window = spikewatch::archive::read_windows(&window_path).expect("window file reads");
    assert!(window.iter().all(|s| s.asset.as_str() == "pump-3"));
    assert!(window.iter().any(|s| s.channel.as_str() == "vibration"), "no vibration in the archived window");

    // The operator's page, rendered by a real browser, shows every pump and the open alert with its button.
    let id = first["id"].as_i64().unwrap();
    if let Some(dom) = support::render_in_chromium(&format!("http://{}/", server.http)) {
        for asset in ASSETS {
            assert!(dom.contains(&format!("data-asset=\"{asset}\"")), "{asset} missing from the dashboard:\n{dom}");
        }
        for button in ["data-alert", "data-ack", "data-normal"] {
            assert!(dom.contains(&format!("{button}=\"{id}\"")), "{button} missing:\n{dom}");
        }
        assert!(dom.contains("3 assets"), "summary line missing:\n{dom}");
        assert!(dom.contains("<span id=\"error\"></span>"), "the page reports an error:\n{dom}");
    }

    // Acknowledge through the API; it sticks.
    let (status, body) = server.try_request("POST", &format!("/api/v1/alerts/{id}/ack")).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_ne!(server.get_json(&format!("/api/v1/alerts/{id}"))["state"], "open");

    // The operator says the pump's behaviour is normal: its model learns it, and the alert resolves.
    let (status, body) = server.try_request("POST", &format!("/api/v1/alerts/{id}/normal")).unwrap();
    assert_eq!(status, 200, "{body}");
    server.wait_for("the model to resolve the alert marked normal", Duration::from_secs(30), |s| {
        (s.get_json(&format!("/api/v1/alerts/{id}"))["state"] == "resolved").then_some(())
    });
    let pump = server.get_json("/api/v1/assets/pump-3");
    assert_eq!(pump["state"], "monitoring", "{pump}");

    let (status, _) = server.stop("TERM");
    assert!(status.success(), "spikewatch did not exit cleanly: {status}");
}

#[test]
fn embedded_broker_and_sqlite_alert_only_the_faulty_pump() {
    let dir = temp_dir("fault-sqlite");
    faulty_asset_alerts_alone(embedded_services(&dir), &runtime(), &dir);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mosquitto_and_postgres_alert_only_the_faulty_pump() {
    let runtime = runtime();
    let Some(services) = external_services(&runtime, "fault") else { return };
    let dir = temp_dir("fault-postgres");
    faulty_asset_alerts_alone(services, &runtime, &dir);
    std::fs::remove_dir_all(dir).unwrap();
}

mod bad_input;
mod demo;
mod replay;
