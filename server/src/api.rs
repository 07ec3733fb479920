//! The HTTP API (JSON, versioned under `/api/v1`), the operator dashboard and `/metrics`.

mod dashboard;
mod error;

use crate::metrics::Metrics;
use crate::pipeline::Feedback;
use crate::pipeline::rejects::RejectLog;
use crate::pipeline::status::{AssetStatus, StatusBoard};
use crate::store::{AlertFilter, AlertRecord, AlertState, AlertStore};
use axum::Json;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use connectors::mqtt::SourceStats;
pub use error::ApiError;
use serde::{Deserialize, Serialize};
use snn_engine::{AssetId, Timestamp};
use std::sync::Arc;

/// Everything the handlers read.
#[derive(Clone)]
pub struct AppState {
    pub store: AlertStore,
    pub board: Arc<StatusBoard>,
    pub metrics: Arc<Metrics>,
    pub rejects: Arc<RejectLog>,
    pub source_stats: Arc<SourceStats>,
    pub feedback: Feedback,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/assets", get(list_assets))
        .route("/api/v1/assets/{id}", get(get_asset))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{id}", get(get_alert))
        .route("/api/v1/alerts/{id}/ack", post(ack_alert))
        .route("/api/v1/alerts/{id}/normal", post(mark_normal))
        .route("/api/v1/ingest/rejects", get(list_rejects))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

#[derive(Debug, Serialize)]
pub struct AssetView {
    pub id: AssetId,
    /// `learning`, `monitoring` or `alerting`.
    pub state: &'static str,
    /// 0..=100; null until the model has scored a reading.
    pub health: Option<f32>,
    pub score: Option<f32>,
    pub channels: Vec<String>,
    pub last_sample_at: Option<String>,
    pub samples: u64,
    pub open_alert: Option<i64>,
    /// Channels whose level, off its usual band, keeps the open alert open.
    pub held_open_by: Vec<String>,
    /// The model also judges by the time of day (its warm-up spanned a day).
    pub follows_daily_cycle: bool,
}

impl From<AssetStatus> for AssetView {
    fn from(s: AssetStatus) -> Self {
        AssetView {
            id: s.asset,
            state: s.phase.as_str(),
            health: s.health.map(|h| (h * 10.0).round() / 10.0),
            score: s.score,
            channels: s.channels.into_iter().map(|c| c.0).collect(),
            last_sample_at: s.last_sample_at.map(rfc3339),
            samples: s.samples,
            open_alert: s.open_alert,
            held_open_by: s.held_open_by.into_iter().map(|c| c.0).collect(),
            follows_daily_cycle: s.follows_daily_cycle,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub asset: AssetId,
    pub state: AlertState,
    pub severity: String,
    pub score: f64,
    pub threshold: f64,
    pub opened_at: String,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    /// The channels and features that moved, most deviant first.
    pub evidence: serde_json::Value,
    /// Parquet file with the raw readings around the alert, relative to the archive directory.
    pub window_path: Option<String>,
}

impl From<AlertRecord> for AlertView {
    fn from(a: AlertRecord) -> Self {
        AlertView {
            id: a.id,
            asset: a.asset,
            state: a.state,
            severity: a.severity,
            score: a.score,
            threshold: a.threshold,
            opened_at: rfc3339(a.opened_at),
            acknowledged_at: a.acknowledged_at.map(rfc3339),
            resolved_at: a.resolved_at.map(rfc3339),
            evidence: a.evidence,
            window_path: a.window_path,
        }
    }
}

fn rfc3339(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(t.0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let database = if state.store.ping().await { "ok" } else { "unavailable" };
    Json(serde_json::json!({ "status": "ok", "database": database }))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.absorb_source_stats(&state.source_stats);
    for (phase, count) in state.board.count_by_phase() {
        state.metrics.assets.with_label_values(&[phase.as_str()]).set(count);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

async fn list_assets(State(state): State<AppState>) -> Json<serde_json::Value> {
    let assets: Vec<AssetView> = state.board.all().into_iter().map(AssetView::from).collect();
    Json(serde_json::json!({ "assets": assets }))
}

async fn get_asset(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AssetView>, ApiError> {
    let Path(id) = path?;
    let status = state.board.get(&AssetId(id.clone())).ok_or_else(|| ApiError::NotFound(format!("no asset `{id}`")))?;
    Ok(Json(status.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertQuery {
    state: Option<String>,
    asset: Option<String>,
    limit: Option<i64>,
}

const MAX_LIMIT: i64 = 1000;

async fn list_alerts(
    State(state): State<AppState>,
    query: Result<Query<AlertQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query?;
    let filter = AlertFilter {
        state: query
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .transpose()
            .map_err(ApiError::BadRequest)?,
        asset: query.asset.filter(|a| !a.is_empty()).map(AssetId),
        limit: match query.limit {
            None => 100,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(n) => return Err(ApiError::BadRequest(format!("limit {n} is out of range 1..={MAX_LIMIT}"))),
        },
    };
    let alerts: Vec<AlertView> = state.store.list_alerts(&filter).await?.into_iter().map(AlertView::from).collect();
    Ok(Json(serde_json::json!({ "alerts": alerts })))
}

fn alert_id(path: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let Path(raw) = path?;
    raw.parse().map_err(|_| ApiError::BadRequest(format!("alert id `{raw}` is not a number")))
}

async fn get_alert(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AlertView>, ApiError> {
    let id = alert_id(path)?;
    let alert = state.store.get_alert(id).await?.ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    Ok(Json(alert.into()))
}

async fn ack_alert(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AlertView>, ApiError> {
    let id = alert_id(path)?;
    let now = Timestamp(chrono::Utc::now().timestamp_micros());
    let alert =
        state.store.acknowledge_alert(id, now).await?.ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    tracing::info!(alert = id, asset = %alert.asset, "alert acknowledged");
    Ok(Json(alert.into()))
}

/// The operator says the behaviour behind an open (or acknowledged) alert is normal: the alert is
/// acknowledged, and the asset's model learns its current behaviour and resolves the alert (through the
/// alert sink, a moment later).
async fn mark_normal(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AlertView>, ApiError> {
    let id = alert_id(path)?;
    let alert = state.store.get_alert(id).await?.ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    if alert.resolved_at.is_some() {
        return Err(ApiError::Conflict(format!("alert {id} is resolved: the behaviour it describes is over")));
    }
    // Acknowledged first: the model's resolution, which follows the feedback, must find the alert settled.
    let now = Timestamp(chrono::Utc::now().timestamp_micros());
    let alert =
        state.store.acknowledge_alert(id, now).await?.ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    state.feedback.accept_as_normal(&alert.asset, now).await.map_err(|e| ApiError::Conflict(e.to_string()))?;
    tracing::info!(alert = id, asset = %alert.asset, "alert marked normal");
    Ok(Json(alert.into()))
}

async fn list_rejects(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "rejects": state.rejects.recent() }))
}

#[cfg(test)]
mod tests;
