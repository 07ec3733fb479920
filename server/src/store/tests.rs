//! One suite for the alert store, run on every database: SQLite always, Postgres when
//! `SPIKEWATCH_TEST_DATABASE_URL` names a server (each run gets a fresh database there).

use super::*;
use crate::testing::fresh_postgres_database;
use snn_engine::{ChannelId, FeatureDeviation, Severity};

fn report(t: i64, severity: Severity) -> AlertReport {
    AlertReport {
        t: Timestamp(t),
        severity,
        score: 0.75,
        threshold: 0.25,
        evidence: vec![FeatureDeviation {
            channel: ChannelId::from("vibration"),
            feature: "kurtosis".into(),
            observed: 9.5,
            expected: 3.0,
            deviation_sigma: 12.5,
        }],
    }
}

async fn alert_store_suite(store: AlertStore) {
    let pump = AssetId::from("pump-1");
    let fan = AssetId::from("fan-2");
    assert!(store.ping().await);
    assert!(store.list_alerts(&AlertFilter { limit: 10, ..Default::default() }).await.unwrap().is_empty());

    let first = store.insert_alert(&pump, &report(1_000, Severity::Warning), Some("pump-1/a.parquet")).await.unwrap();
    let second = store.insert_alert(&fan, &report(2_000, Severity::Critical), None).await.unwrap();
    assert_ne!(first, second);

    let stored = store.get_alert(first).await.unwrap().expect("inserted alert is found");
    assert_eq!(stored.asset, pump);
    assert_eq!(stored.state, AlertState::Open);
    assert_eq!(stored.severity, "warning");
    assert_eq!(stored.opened_at, Timestamp(1_000));
    assert_eq!(stored.window_path.as_deref(), Some("pump-1/a.parquet"));
    assert_eq!(stored.evidence[0]["feature"], "kurtosis");
    assert_eq!(stored.evidence[0]["deviation_sigma"], 12.5);
    assert!(store.get_alert(first + second + 100).await.unwrap().is_none());

    // Newest first; filters by state and asset combine.
    let all = store.list_alerts(&AlertFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), vec![second, first]);
    let pump_only = AlertFilter { asset: Some(pump.clone()), limit: 10, ..Default::default() };
    assert_eq!(store.list_alerts(&pump_only).await.unwrap().len(), 1);
    let limited = store.list_alerts(&AlertFilter { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(limited.len(), 1);

    // Acknowledge: open -> acknowledged, idempotent, first time kept.
    let acked = store.acknowledge_alert(first, Timestamp(1_500)).await.unwrap().unwrap();
    assert_eq!((acked.state, acked.acknowledged_at), (AlertState::Acknowledged, Some(Timestamp(1_500))));
    let again = store.acknowledge_alert(first, Timestamp(1_700)).await.unwrap().unwrap();
    assert_eq!(again.acknowledged_at, Some(Timestamp(1_500)));
    assert!(store.acknowledge_alert(first + second + 100, Timestamp(1)).await.unwrap().is_none());

    // Resolve: only once; an acknowledged alert resolves too.
    assert!(store.resolve_alert(first, Timestamp(3_000)).await.unwrap());
    assert!(!store.resolve_alert(first, Timestamp(4_000)).await.unwrap());
    let resolved = store.get_alert(first).await.unwrap().unwrap();
    assert_eq!((resolved.state, resolved.resolved_at), (AlertState::Resolved, Some(Timestamp(3_000))));
    let acked_after = store.acknowledge_alert(first, Timestamp(5_000)).await.unwrap().unwrap();
    assert_eq!(acked_after.state, AlertState::Resolved);

    let open = AlertFilter { state: Some(AlertState::Open), limit: 10, ..Default::default() };
    assert_eq!(store.list_alerts(&open).await.unwrap().iter().map(|a| a.id).collect::<Vec<_>>(), vec![second]);
    assert_eq!(store.unresolved_alerts().await.unwrap(), vec![(fan.clone(), second)]);

    // Assets are recorded once, whatever the number of alerts.
    store.ensure_asset(&fan, Timestamp(9)).await.unwrap();
    store.ensure_asset(&fan, Timestamp(10)).await.unwrap();
}

#[tokio::test]
async fn sqlite_store_passes_the_suite() {
    let dir = std::env::temp_dir().join(format!("spikewatch-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/alerts.db", dir.display());
    let _ = std::fs::remove_file(dir.join("alerts.db"));
    alert_store_suite(AlertStore::connect(&url, 2).await.unwrap()).await;
    // Reconnecting to the same file finds the schema already migrated and the rows kept.
    let again = AlertStore::connect(&url, 2).await.unwrap();
    assert_eq!(again.list_alerts(&AlertFilter { limit: 10, ..Default::default() }).await.unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn in_memory_sqlite_store_passes_the_suite() {
    alert_store_suite(AlertStore::connect("sqlite::memory:", 5).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_store_passes_the_suite() {
    let Ok(admin_url) = std::env::var("SPIKEWATCH_TEST_DATABASE_URL") else {
        eprintln!("skipped: SPIKEWATCH_TEST_DATABASE_URL not set");
        return;
    };
    let url = fresh_postgres_database(&admin_url, "store").await;
    alert_store_suite(AlertStore::connect(&url, 2).await.unwrap()).await;
}

#[tokio::test]
async fn unreachable_database_is_a_clear_connect_error() {
    let err = AlertStore::connect("postgres://spikewatch:secret@127.0.0.1:1/none", 1).await.err().expect("must fail");
    let text = err.to_string();
    assert!(text.contains("failed to connect to database"), "{text}");
    assert!(!text.contains("secret"), "password leaked: {text}");
}

#[test]
fn redact_hides_only_the_password() {
    assert_eq!(redact("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
    assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
}
