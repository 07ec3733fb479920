//! The alert sink: archives the raw window of each new alert to Parquet and writes the alert to the store.
//!
//! Events are handled one at a time, in order. A failing database is retried with backoff, holding the
//! queue (and so, upstream, the pipeline and the broker) rather than dropping an alert; only at shutdown,
//! after a grace period, is an alert that still cannot be stored given up, and then it is logged in full.

use crate::metrics::Metrics;
use crate::pipeline::status::StatusBoard;
use crate::pipeline::worker::PipelineEvent;
use crate::store::{AlertStore, StoreError};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long a store operation is retried once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

pub struct AlertSink {
    pub store: AlertStore,
    pub archive_dir: PathBuf,
    pub metrics: Arc<Metrics>,
    pub board: Arc<StatusBoard>,
    pub shutdown: watch::Receiver<bool>,
}

impl AlertSink {
    /// Runs until the pipeline closes the event queue.
    pub async fn run(mut self, mut events: mpsc::Receiver<PipelineEvent>) {
        match self.store.unresolved_alerts().await {
            Ok(open) => {
                for (asset, id) in open {
                    self.board.update(&asset, |s| s.open_alert = Some(id));
                }
            }
            Err(err) => tracing::warn!(error = %err, "failed to load unresolved alerts"),
        }
        let depth = self.metrics.queue_depth.with_label_values(&["alerts"]);
        while let Some(event) = events.recv().await {
            depth.set(events.len() as i64);
            match event {
                PipelineEvent::Raised { asset, report, window } => {
                    let window_path = self.archive(&asset, &report, window).await;
                    let store = self.store.clone();
                    let inserted = self
                        .retry("insert_alert", || store.insert_alert(&asset, &report, window_path.as_deref()))
                        .await;
                    match inserted {
                        Some(id) => {
                            self.metrics.alerts_raised.with_label_values(&[report.severity.as_str()]).inc();
                            self.board.update(&asset, |s| s.open_alert = Some(id));
                        }
                        None => tracing::error!(
                            asset = %asset,
                            report = %serde_json::to_string(&report).unwrap_or_default(),
                            "alert could not be stored before shutdown"
                        ),
                    }
                }
                PipelineEvent::Resolved { asset, t } => {
                    let Some(id) = self.board.get(&asset).and_then(|s| s.open_alert) else { continue };
                    let store = self.store.clone();
                    if self.retry("resolve_alert", || store.resolve_alert(id, t)).await.is_some() {
                        self.metrics.alerts_resolved.inc();
                        self.board.update(&asset, |s| s.open_alert = None);
                    }
                }
            }
        }
        depth.set(0);
    }

    /// Writes the window file; an archive failure is counted and logged, and the alert is stored without it.
    async fn archive(
        &self,
        asset: &snn_engine::AssetId,
        report: &snn_engine::AlertReport,
        window: Vec<snn_engine::Sample>,
    ) -> Option<String> {
        let (dir, asset_owned, t) = (self.archive_dir.clone(), asset.clone(), report.t);
        let written =
            tokio::task::spawn_blocking(move || crate::archive::write_window(&dir, &asset_owned, t, "alert", &window))
                .await;
        match written {
            Ok(Ok(path)) => {
                self.metrics.archive_windows.inc();
                Some(path.to_string_lossy().into_owned())
            }
            Ok(Err(err)) => {
                self.metrics.archive_errors.inc();
                tracing::error!(asset = %asset, error = %err, "failed to archive alert window");
                None
            }
            Err(join) => {
                self.metrics.archive_errors.inc();
                tracing::error!(asset = %asset, error = %join, "archive task failed");
                None
            }
        }
    }

    /// Runs `op` until it succeeds; None if shutdown began and the grace period ran out first.
    async fn retry<T, F, Fut>(&mut self, op_name: &'static str, mut op: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut delay = RETRY_MIN;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            match op().await {
                Ok(value) => return Some(value),
                Err(err) => {
                    self.metrics.store_errors.with_label_values(&[op_name]).inc();
                    tracing::warn!(op = op_name, error = %err, retry_in_ms = delay.as_millis() as u64, "database operation failed");
                }
            }
            if *self.shutdown.borrow() {
                let deadline = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + SHUTDOWN_GRACE);
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                // A closed shutdown channel disables this branch instead of spinning.
                Ok(()) = self.shutdown.changed() => {}
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    }
}
