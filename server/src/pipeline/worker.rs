//! A worker thread: owns the models of its share of the assets and steps them, one reading at a time.
//!
//! Engine steps are CPU work, so they run here on plain OS threads fed by bounded queues, never inside an
//! async task.

use super::rejects::RejectLog;
use super::status::StatusBoard;
use crate::metrics::Metrics;
use connectors::ingest::{RejectReason, Rejection};
use snn_engine::{AlertEvent, AlertReport, AssetId, AssetModel, ChannelId, Reading, Sample, Timestamp};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// What a worker is asked to do.
#[derive(Debug)]
pub enum WorkItem {
    /// Step the asset's model with this reading.
    Sample(Sample),
    /// An operator said the asset's current behaviour is normal.
    AcceptAsNormal { asset: AssetId, t: Timestamp },
}

/// What the workers tell the alert sink.
#[derive(Debug)]
pub enum PipelineEvent {
    Raised { asset: AssetId, report: AlertReport, window: Vec<Sample> },
    Resolved { asset: AssetId, t: Timestamp },
}

/// One asset's model and the state around it.
pub struct AssetSlot {
    model: AssetModel,
    last_t: BTreeMap<ChannelId, Timestamp>,
    /// The most recent readings of every channel, archived when an alert is raised.
    recent: VecDeque<Sample>,
    recent_capacity: usize,
}

impl AssetSlot {
    pub fn new(model: AssetModel, readings_per_channel: usize) -> AssetSlot {
        let recent_capacity = readings_per_channel * model.channels().len();
        AssetSlot { model, last_t: BTreeMap::new(), recent: VecDeque::with_capacity(recent_capacity), recent_capacity }
    }
}

pub struct Worker {
    pub name: String,
    pub slots: BTreeMap<AssetId, AssetSlot>,
    pub metrics: Arc<Metrics>,
    pub rejects: Arc<RejectLog>,
    pub board: Arc<StatusBoard>,
    pub events: mpsc::Sender<PipelineEvent>,
}

impl Worker {
    /// Does every item from `rx` until the queue closes.
    pub fn run(mut self, mut rx: mpsc::Receiver<WorkItem>) {
        let depth = self.metrics.queue_depth.with_label_values(&[&self.name]);
        while let Some(item) = rx.blocking_recv() {
            depth.set(rx.len() as i64);
            match item {
                WorkItem::Sample(sample) => {
                    if let Err(rejection) = self.process(sample) {
                        self.rejects.record(&rejection);
                    }
                }
                WorkItem::AcceptAsNormal { asset, t } => self.accept_as_normal(asset, t),
            }
        }
        depth.set(0);
    }

    /// Passes an operator's "this is normal" to the asset's model; an alert it closes is resolved.
    fn accept_as_normal(&mut self, asset: AssetId, t: Timestamp) {
        let Some(slot) = self.slots.get_mut(&asset) else { return };
        let resolved = slot.model.accept_as_normal(t);
        tracing::info!(asset = %asset, "operator feedback: current behaviour is normal");
        self.board.update(&asset, |status| status.phase = slot.model.phase());
        if let Some(AlertEvent::Resolved { t }) = resolved {
            self.send(PipelineEvent::Resolved { asset, t });
        }
    }

    fn send(&self, event: PipelineEvent) {
        // A full alert queue makes this worker wait: alerts are never dropped.
        if self.events.blocking_send(event).is_err() {
            tracing::error!("alert sink stopped; an alert event was not delivered");
        }
    }

    fn process(&mut self, sample: Sample) -> Result<(), Rejection> {
        let source = || format!("{}/{}", sample.asset, sample.channel);
        // The router only sends samples of configured assets.
        let slot = self.slots.get_mut(&sample.asset).expect("router sends only this worker's assets");
        let kind = slot.model.channels().iter().find(|c| c.id == sample.channel).map(|c| c.kind);
        match (kind, &sample.reading) {
            (None, _) => {
                return Err(Rejection::new(
                    RejectReason::UnknownChannel,
                    source(),
                    "channel is not configured for this asset",
                ));
            }
            (Some(kind), reading) if kind.takes_windows() != matches!(reading, Reading::Window { .. }) => {
                return Err(Rejection::new(
                    RejectReason::Malformed,
                    source(),
                    "reading does not match the channel's kind",
                ));
            }
            _ => {}
        }
        if let Some(last) = slot.last_t.get(&sample.channel).filter(|last| sample.t <= **last) {
            let detail = format!("timestamp {} is not after the previous reading's {}", sample.t.0, last.0);
            return Err(Rejection::new(RejectReason::TimestampBackwards, source(), detail));
        }
        slot.last_t.insert(sample.channel.clone(), sample.t);

        let started = Instant::now();
        let outcome = slot.model.step(&sample.channel, sample.t, &sample.reading);
        self.metrics.step_duration.observe(started.elapsed().as_secs_f64());
        if outcome.dropped {
            return Err(Rejection::new(RejectReason::Malformed, source(), "the model could not use this reading"));
        }
        self.metrics.samples_processed.inc();
        self.metrics.spikes.inc_by(u64::from(outcome.spikes));

        if slot.recent.len() == slot.recent_capacity {
            slot.recent.pop_front();
        }
        let (asset, t) = (sample.asset.clone(), sample.t);
        slot.recent.push_back(sample);

        let (held_open_by, follows_daily_cycle) = (slot.model.held_open_by(), slot.model.follows_daily_cycle());
        self.board.update(&asset, |status| {
            status.phase = outcome.phase;
            status.health = Some(outcome.health);
            status.score = Some(outcome.score);
            status.held_open_by = held_open_by;
            status.follows_daily_cycle = follows_daily_cycle;
            status.last_sample_at = Some(t);
            status.samples += 1;
        });
        let event = match outcome.alert {
            Some(AlertEvent::Raised(report)) => {
                tracing::info!(asset = %asset, severity = report.severity.as_str(), score = report.score, "alert raised");
                PipelineEvent::Raised { asset, report, window: slot.recent.iter().cloned().collect() }
            }
            Some(AlertEvent::Resolved { t }) => {
                tracing::info!(asset = %asset, "alert resolved");
                PipelineEvent::Resolved { asset, t }
            }
            None => return Ok(()),
        };
        self.send(event);
        Ok(())
    }
}
