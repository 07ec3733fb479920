//! The pipeline runtime: sources -> router -> worker threads (one model per asset) -> alert sink.
//!
//! Every queue is bounded; a full queue makes its producer wait, which in the end holds back the MQTT
//! connection and lets the broker buffer (QoS 1), instead of growing memory or dropping data.

pub mod rejects;
pub mod status;
pub mod worker;

use crate::config::Config;
use crate::metrics::Metrics;
use anyhow::Context;
use connectors::ingest::{Ingest, RejectReason, Rejection};
use rejects::RejectLog;
use snn_engine::{AssetId, AssetModel, Timestamp};
use status::StatusBoard;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use worker::{AssetSlot, PipelineEvent, WorkItem, Worker};

/// A running pipeline. Drop every clone of `ingest` to stop it: the router and the worker threads drain their
/// queues and exit, and `events` closes after the last alert.
pub struct Pipeline {
    pub ingest: mpsc::Sender<Ingest>,
    pub events: mpsc::Receiver<PipelineEvent>,
    pub board: Arc<StatusBoard>,
    pub rejects: Arc<RejectLog>,
    pub feedback: Feedback,
    pub handle: PipelineHandle,
}

/// Operators' feedback into the running models. It holds the worker queues weakly, so it never keeps a
/// stopping pipeline alive.
#[derive(Clone)]
pub struct Feedback {
    routes: Arc<BTreeMap<AssetId, usize>>,
    workers: Vec<mpsc::WeakSender<WorkItem>>,
}

/// Why feedback could not be delivered.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error("asset `{0}` is not configured")]
    UnknownAsset(AssetId),
    #[error("the pipeline is stopping")]
    Stopped,
}

impl Feedback {
    /// Tells `asset`'s model that its current behaviour is normal (see `AssetModel::accept_as_normal`); an
    /// alert that closes is resolved through the alert sink. Queued behind the readings already waiting.
    pub async fn accept_as_normal(&self, asset: &AssetId, t: Timestamp) -> Result<(), FeedbackError> {
        let shard = *self.routes.get(asset).ok_or_else(|| FeedbackError::UnknownAsset(asset.clone()))?;
        let worker = self.workers[shard].upgrade().ok_or(FeedbackError::Stopped)?;
        worker.send(WorkItem::AcceptAsNormal { asset: asset.clone(), t }).await.map_err(|_| FeedbackError::Stopped)
    }
}

impl Pipeline {
    pub fn start(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Pipeline> {
        let capacity = config.pipeline.queue_capacity;
        let board = Arc::new(StatusBoard::new(
            config.assets.iter().map(|a| (a.id.clone(), a.channels.iter().map(|c| c.id.clone()).collect())),
        ));
        let rejects = Arc::new(RejectLog::new(metrics.clone()));
        let (events_tx, events) = mpsc::channel(capacity);

        // Assets are dealt to workers in configuration order, so placement is the same on every start.
        let mut slots: Vec<BTreeMap<AssetId, AssetSlot>> =
            (0..config.pipeline.workers).map(|_| BTreeMap::new()).collect();
        let mut routes = BTreeMap::new();
        for (index, asset) in config.assets.iter().enumerate() {
            let shard = index % config.pipeline.workers;
            let model =
                AssetModel::new(asset.id.clone(), asset.channel_specs(), config.model.clone(), config.pipeline.seed)
                    .with_context(|| format!("failed to build the model of asset `{}`", asset.id))?;
            slots[shard].insert(asset.id.clone(), AssetSlot::new(model, config.archive.readings_per_channel));
            routes.insert(asset.id.clone(), shard);
        }

        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for (index, slots) in slots.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(capacity);
            let worker = Worker {
                name: format!("worker-{index}"),
                slots,
                metrics: metrics.clone(),
                rejects: rejects.clone(),
                board: board.clone(),
                events: events_tx.clone(),
            };
            let handle = std::thread::Builder::new()
                .name(worker.name.clone())
                .spawn(move || worker.run(rx))
                .context("failed to start a pipeline worker thread")?;
            senders.push(tx);
            workers.push(handle);
        }

        let feedback = Feedback {
            routes: Arc::new(routes.clone()),
            workers: senders.iter().map(mpsc::Sender::downgrade).collect(),
        };
        let (ingest, ingest_rx) = mpsc::channel(capacity);
        let router = tokio::spawn(route(ingest_rx, routes, senders, rejects.clone(), metrics));
        Ok(Pipeline { ingest, events, board, rejects, feedback, handle: PipelineHandle { router, workers } })
    }
}

/// Waits for the router and the worker threads to finish, once every ingest sender was dropped.
pub struct PipelineHandle {
    router: tokio::task::JoinHandle<()>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl PipelineHandle {
    pub async fn join(self) {
        let _ = self.router.await;
        let workers = self.workers;
        let _ = tokio::task::spawn_blocking(move || workers.into_iter().for_each(|h| drop(h.join()))).await;
    }
}

/// Sends each sample to the worker that owns its asset; counts and drops what cannot be processed.
async fn route(
    mut rx: mpsc::Receiver<Ingest>,
    routes: BTreeMap<AssetId, usize>,
    workers: Vec<mpsc::Sender<WorkItem>>,
    rejects: Arc<RejectLog>,
    metrics: Arc<Metrics>,
) {
    let depth = metrics.queue_depth.with_label_values(&["ingest"]);
    while let Some(item) = rx.recv().await {
        depth.set(rx.len() as i64);
        let sample = match item {
            Ingest::Sample(sample) => sample,
            Ingest::Rejected(rejection) => {
                rejects.record(&rejection);
                continue;
            }
        };
        let source = || format!("{}/{}", sample.asset, sample.channel);
        let Some(&shard) = routes.get(&sample.asset) else {
            rejects.record(&Rejection::new(RejectReason::UnknownAsset, source(), "asset is not configured"));
            continue;
        };
        if !sample.reading.is_finite() {
            rejects.record(&Rejection::new(RejectReason::NonFinite, source(), "reading holds NaN or infinite values"));
            continue;
        }
        if workers[shard].send(WorkItem::Sample(sample)).await.is_err() {
            tracing::error!("pipeline worker stopped; routing ends");
            break;
        }
    }
}
