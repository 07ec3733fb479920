//! The API driven in-process with `oneshot`, over a real (in-memory SQLite) alert store.

use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use snn_engine::{AlertReport, ChannelId, ChannelKind, FeatureDeviation, Severity};
use tower::ServiceExt;

/// The API over a real in-memory SQLite store and a real pipeline of two assets (idle: no source feeds it).
async fn state() -> AppState {
    let metrics = Arc::new(Metrics::new());
    let mut config = crate::config::Config::default();
    let channel = |id: &str, kind| crate::config::ChannelConfig { id: ChannelId::from(id), kind };
    config.assets = vec![
        crate::config::AssetConfig {
            id: AssetId::from("pump-1"),
            channels: vec![channel("vibration", ChannelKind::Window)],
        },
        crate::config::AssetConfig {
            id: AssetId::from("pump-2"),
            channels: vec![channel("vibration", ChannelKind::Window), channel("temperature", ChannelKind::Scalar)],
        },
    ];
    let pipeline = crate::pipeline::Pipeline::start(&config, metrics.clone()).unwrap();
    let state = AppState {
        store: AlertStore::connect("sqlite::memory:", 1).await.unwrap(),
        board: pipeline.board.clone(),
        rejects: pipeline.rejects.clone(),
        metrics,
        source_stats: Arc::new(SourceStats::default()),
        feedback: pipeline.feedback.clone(),
    };
    // The pipeline runs as long as the test does: its ingest queue is never closed.
    std::mem::forget(pipeline.ingest);
    std::mem::forget(pipeline.events);
    state
}

async fn call(state: &AppState, method: &str, uri: &str) -> (StatusCode, serde_json::Value) {
    let response = app(state.clone())
        .oneshot(Request::builder().method(method).uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, json)
}

async fn raise(state: &AppState, asset: &str, t: i64) -> i64 {
    let report = AlertReport {
        t: Timestamp(t),
        severity: Severity::Critical,
        score: 0.8,
        threshold: 0.3,
        evidence: vec![FeatureDeviation {
            channel: ChannelId::from("vibration"),
            feature: "kurtosis".into(),
            observed: 8.0,
            expected: 3.0,
            deviation_sigma: 9.0,
        }],
    };
    state.store.insert_alert(&AssetId::from(asset), &report, Some("asset=x/a.parquet")).await.unwrap()
}

#[tokio::test]
async fn assets_list_and_detail() {
    let state = state().await;
    state.board.update(&AssetId::from("pump-2"), |s| {
        s.phase = snn_engine::Phase::Monitoring;
        s.health = Some(97.26);
        s.last_sample_at = Some(Timestamp(1_700_000_000_000_000));
        s.samples = 12;
        s.held_open_by = vec![ChannelId::from("temperature")];
        s.follows_daily_cycle = true;
    });
    let (status, body) = call(&state, "GET", "/api/v1/assets").await;
    assert_eq!(status, StatusCode::OK);
    let assets = body["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2);
    assert_eq!(assets[0]["id"], "pump-1");
    assert_eq!(assets[0]["state"], "learning");
    assert!(assets[0]["health"].is_null());

    let (status, pump2) = call(&state, "GET", "/api/v1/assets/pump-2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pump2["state"], "monitoring");
    assert_eq!(pump2["health"].as_f64().unwrap(), 97.3);
    assert_eq!(pump2["last_sample_at"], "2023-11-14T22:13:20.000Z");
    assert_eq!(pump2["channels"], serde_json::json!(["vibration", "temperature"]));
    assert_eq!(pump2["held_open_by"], serde_json::json!(["temperature"]));
    assert_eq!(assets[0]["held_open_by"], serde_json::json!([]));
    assert_eq!(
        (pump2["follows_daily_cycle"].as_bool(), assets[0]["follows_daily_cycle"].as_bool()),
        (Some(true), Some(false))
    );

    let (status, err) = call(&state, "GET", "/api/v1/assets/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["code"], "not_found");
}

#[tokio::test]
async fn alerts_filter_and_acknowledge() {
    let state = state().await;
    let first = raise(&state, "pump-1", 1_000_000).await;
    let second = raise(&state, "pump-2", 2_000_000).await;

    let (status, body) = call(&state, "GET", "/api/v1/alerts").await;
    assert_eq!(status, StatusCode::OK);
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.iter().map(|a| a["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![second, first]);
    for field in ["id", "asset", "state", "severity", "opened_at", "evidence", "window_path"] {
        assert!(!alerts[0][field].is_null(), "alert lacks {field}");
    }
    assert_eq!(alerts[0]["evidence"][0]["feature"], "kurtosis");

    let (_, pump1) = call(&state, "GET", "/api/v1/alerts?asset=pump-1&state=open").await;
    assert_eq!(pump1["alerts"].as_array().unwrap().len(), 1);

    let (status, acked) = call(&state, "POST", &format!("/api/v1/alerts/{first}/ack")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acked["state"], "acknowledged");
    assert!(acked["acknowledged_at"].is_string());
    let (_, open) = call(&state, "GET", "/api/v1/alerts?state=open").await;
    assert_eq!(open["alerts"].as_array().unwrap().len(), 1);
    let (status, one) = call(&state, "GET", &format!("/api/v1/alerts/{first}")).await;
    assert_eq!((status, one["state"].as_str()), (StatusCode::OK, Some("acknowledged")));
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_stable_codes() {
    let state = state().await;
    for (method, uri, status, code) in [
        ("GET", "/api/v1/alerts?state=bogus", StatusCode::BAD_REQUEST, "bad_request"),
        ("GET", "/api/v1/alerts?limit=0", StatusCode::BAD_REQUEST, "bad_request"),
        ("GET", "/api/v1/alerts?limit=many", StatusCode::BAD_REQUEST, "bad_request"),
        ("GET", "/api/v1/alerts?colour=red", StatusCode::BAD_REQUEST, "bad_request"),
        ("POST", "/api/v1/alerts/abc/ack", StatusCode::BAD_REQUEST, "bad_request"),
        ("POST", "/api/v1/alerts/999/ack", StatusCode::NOT_FOUND, "not_found"),
        ("POST", "/api/v1/alerts/abc/normal", StatusCode::BAD_REQUEST, "bad_request"),
        ("POST", "/api/v1/alerts/999/normal", StatusCode::NOT_FOUND, "not_found"),
        ("GET", "/api/v1/alerts/999", StatusCode::NOT_FOUND, "not_found"),
        ("GET", "/api/v2/anything", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (got, body) = call(&state, method, uri).await;
        assert_eq!(got, status, "{method} {uri}: {body}");
        assert_eq!(body["error"]["code"], code, "{method} {uri}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn a_failed_database_is_a_503_without_internals() {
    let state = state().await;
    state.store.close().await;
    let (status, body) = call(&state, "GET", "/api/v1/alerts").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "unavailable");
    let text = body.to_string();
    assert!(!text.to_lowercase().contains("sqlite") && !text.contains("pool"), "internal detail leaked: {text}");
    let (status, health) = call(&state, "GET", "/healthz").await;
    assert_eq!((status, health["database"].as_str()), (StatusCode::OK, Some("unavailable")));
}

#[tokio::test]
async fn health_metrics_rejects_and_dashboard() {
    let state = state().await;
    let (status, health) = call(&state, "GET", "/healthz").await;
    assert_eq!(
        (status, health["status"].as_str(), health["database"].as_str()),
        (StatusCode::OK, Some("ok"), Some("ok"))
    );

    state.rejects.record(&connectors::ingest::Rejection::new(
        connectors::ingest::RejectReason::Malformed,
        "plant/pump-1/vibration",
        "expected value",
    ));
    let (_, rejects) = call(&state, "GET", "/api/v1/ingest/rejects").await;
    assert_eq!(rejects["rejects"][0]["reason"], "malformed");

    let (status, metrics) = call(&state, "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    assert!(text.contains("spikewatch_ingest_rejected_total{reason=\"malformed\"} 1"), "{text}");
    assert!(text.contains("spikewatch_assets{state=\"learning\"} 2"), "{text}");

    let (status, page) = call(&state, "GET", "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("<title>spikewatch</title>"));
}

#[tokio::test]
async fn marking_an_alert_normal_acknowledges_it_and_reaches_the_model() {
    let state = state().await;
    let id = raise(&state, "pump-2", 1_700_000_000_000_000).await;
    let (status, alert) = call(&state, "POST", &format!("/api/v1/alerts/{id}/normal")).await;
    assert_eq!((status, alert["state"].as_str()), (StatusCode::OK, Some("acknowledged")), "{alert}");

    // A resolved alert's behaviour is over: there is nothing left to accept.
    state.store.resolve_alert(id, Timestamp(1_700_000_001_000_000)).await.unwrap();
    let (status, body) = call(&state, "POST", &format!("/api/v1/alerts/{id}/normal")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");

    // An alert of an asset the pipeline does not run cannot teach any model.
    let orphan = raise(&state, "pump-9", 1_700_000_002_000_000).await;
    let (status, body) = call(&state, "POST", &format!("/api/v1/alerts/{orphan}/normal")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("pump-9"), "{body}");
}
