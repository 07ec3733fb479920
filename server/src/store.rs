//! The alert store: one implementation over sqlx's `Any` driver, so Postgres and SQLite run the same queries.
//!
//! Each database has its own migrations folder (`migrations/postgres`, `migrations/sqlite`) with the same
//! tables. Times are stored as microseconds since the epoch (`BIGINT`), which both databases and the `Any`
//! driver carry without conversion.

use serde::Serialize;
use snn_engine::{AlertReport, AssetId, Timestamp};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to connect to database `{url}`")]
    Connect { url: String, source: sqlx::Error },
    #[error("failed to run migrations on database `{url}`")]
    Migrate { url: String, source: sqlx::migrate::MigrateError },
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    #[error("failed to encode alert evidence")]
    Evidence(#[from] serde_json::Error),
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

impl FromStr for AlertState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(AlertState::Open),
            "acknowledged" => Ok(AlertState::Acknowledged),
            "resolved" => Ok(AlertState::Resolved),
            other => Err(format!("unknown alert state `{other}`: expected open, acknowledged or resolved")),
        }
    }
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: i64,
    pub asset: AssetId,
    pub state: AlertState,
    pub severity: String,
    pub score: f64,
    pub threshold: f64,
    pub opened_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// The evidence JSON as the engine reported it.
    pub evidence: serde_json::Value,
    pub window_path: Option<String>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub state: Option<AlertState>,
    pub asset: Option<AssetId>,
    pub limit: i64,
}

#[derive(Clone)]
pub struct AlertStore {
    pool: AnyPool,
}

const ALERT_COLUMNS: &str =
    "id, asset, state, severity, score, threshold, opened_at, acknowledged_at, resolved_at, evidence, window_path";

impl AlertStore {
    /// Connects (creating an SQLite file if needed) and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<AlertStore, StoreError> {
        install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let connect_url = if is_sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        // An in-memory SQLite database exists once per connection: keep exactly one.
        let max = if is_sqlite && url.contains(":memory:") { 1 } else { max_connections };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&connect_url)
            .await
            .map_err(|source| StoreError::Connect { url: redact(url), source })?;
        let migrator =
            if is_sqlite { sqlx::migrate!("../migrations/sqlite") } else { sqlx::migrate!("../migrations/postgres") };
        migrator.run(&pool).await.map_err(|source| StoreError::Migrate { url: redact(url), source })?;
        Ok(AlertStore { pool })
    }

    /// Closes every connection; later calls fail with [`StoreError::Query`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Records an asset the first time it is seen; later calls change nothing.
    pub async fn ensure_asset(&self, asset: &AssetId, seen_at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO assets (id, first_seen_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(asset.as_str())
            .bind(seen_at.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a newly raised alert in state `open` and returns its id.
    pub async fn insert_alert(
        &self,
        asset: &AssetId,
        report: &AlertReport,
        window_path: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.ensure_asset(asset, report.t).await?;
        let evidence = serde_json::to_string(&report.evidence)?;
        let row = sqlx::query(
            "INSERT INTO alerts (asset, state, severity, score, threshold, opened_at, evidence, window_path) \
             VALUES ($1, 'open', $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(asset.as_str())
        .bind(report.severity.as_str())
        .bind(f64::from(report.score))
        .bind(f64::from(report.threshold))
        .bind(report.t.0)
        .bind(evidence)
        .bind(window_path)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Marks an alert resolved at `t` (whether or not it was acknowledged). Returns false if it does not exist
    /// or was already resolved.
    pub async fn resolve_alert(&self, id: i64, t: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE id = $2 AND state <> 'resolved'")
                .bind(t.0)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An operator has seen the alert. An open alert becomes `acknowledged`; a resolved one stays resolved but
    /// records the acknowledgement. Acknowledging twice keeps the first time. Returns the alert, or None if
    /// there is no such alert.
    pub async fn acknowledge_alert(&self, id: i64, t: Timestamp) -> Result<Option<AlertRecord>, StoreError> {
        sqlx::query(
            "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, $1), \
             state = CASE WHEN state = 'open' THEN 'acknowledged' ELSE state END WHERE id = $2",
        )
        .bind(t.0)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.get_alert(id).await
    }

    pub async fn get_alert(&self, id: i64) -> Result<Option<AlertRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(alert_from_row).transpose()
    }

    /// Alerts matching the filter, newest first.
    pub async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>, StoreError> {
        // Both filters are optional; `$1 IS NULL OR ...` keeps one statement for every combination.
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts \
             WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR asset = $2) \
             ORDER BY opened_at DESC, id DESC LIMIT $3"
        ))
        .bind(filter.state.map(AlertState::as_str))
        .bind(filter.asset.as_ref().map(AssetId::as_str))
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// Ids of the alerts not yet resolved, per asset (used to carry open alerts across a restart).
    pub async fn unresolved_alerts(&self) -> Result<Vec<(AssetId, i64)>, StoreError> {
        let rows = sqlx::query("SELECT asset, id FROM alerts WHERE state <> 'resolved' ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((AssetId(r.try_get(0)?), r.try_get(1)?))).collect()
    }
}

fn alert_from_row(row: &sqlx::any::AnyRow) -> Result<AlertRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let evidence: String = row.try_get("evidence")?;
    Ok(AlertRecord {
        id: row.try_get("id")?,
        asset: AssetId(row.try_get("asset")?),
        state: state.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))?,
        severity: row.try_get("severity")?,
        score: row.try_get("score")?,
        threshold: row.try_get("threshold")?,
        opened_at: Timestamp(row.try_get("opened_at")?),
        acknowledged_at: row.try_get::<Option<i64>, _>("acknowledged_at")?.map(Timestamp),
        resolved_at: row.try_get::<Option<i64>, _>("resolved_at")?.map(Timestamp),
        evidence: serde_json::from_str(&evidence)?,
        window_path: row.try_get("window_path")?,
    })
}

/// The URL without its password, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
