//! What the API knows about each asset right now, written by the workers and the alert sink.

use serde::Serialize;
use snn_engine::{AssetId, ChannelId, Phase, Timestamp};
use std::collections::BTreeMap;
use std::sync::RwLock;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetStatus {
    pub asset: AssetId,
    pub channels: Vec<ChannelId>,
    pub phase: Phase,
    /// 0..=100, 100 when the asset behaves as learned; None until the model has scored a reading.
    pub health: Option<f32>,
    /// The model's anomaly score in [0, 1] (0.5 at the raise level).
    pub score: Option<f32>,
    pub last_sample_at: Option<Timestamp>,
    pub samples: u64,
    /// The alert this asset has open (or acknowledged) in the store, if any.
    pub open_alert: Option<i64>,
    /// Scalar channels whose level, off its usual band, keeps the open alert open.
    pub held_open_by: Vec<ChannelId>,
    /// The model also judges by the time of day (its warm-up spanned a day).
    pub follows_daily_cycle: bool,
}

/// Every configured asset's status, in asset order.
pub struct StatusBoard {
    assets: RwLock<BTreeMap<AssetId, AssetStatus>>,
}

impl StatusBoard {
    pub fn new(assets: impl IntoIterator<Item = (AssetId, Vec<ChannelId>)>) -> StatusBoard {
        let assets = assets
            .into_iter()
            .map(|(asset, channels)| {
                let status = AssetStatus {
                    asset: asset.clone(),
                    channels,
                    phase: Phase::Learning,
                    health: None,
                    score: None,
                    last_sample_at: None,
                    samples: 0,
                    open_alert: None,
                    held_open_by: Vec::new(),
                    follows_daily_cycle: false,
                };
                (asset, status)
            })
            .collect();
        StatusBoard { assets: RwLock::new(assets) }
    }

    pub fn all(&self) -> Vec<AssetStatus> {
        self.assets.read().expect("status lock").values().cloned().collect()
    }

    pub fn get(&self, asset: &AssetId) -> Option<AssetStatus> {
        self.assets.read().expect("status lock").get(asset).cloned()
    }

    /// Applies `f` to the asset's status; does nothing for an unknown asset.
    pub fn update(&self, asset: &AssetId, f: impl FnOnce(&mut AssetStatus)) {
        if let Some(status) = self.assets.write().expect("status lock").get_mut(asset) {
            f(status);
        }
    }

    /// How many assets are in each phase, for the `spikewatch_assets` gauge.
    pub fn count_by_phase(&self) -> [(Phase, i64); 3] {
        let mut counts = [(Phase::Learning, 0), (Phase::Monitoring, 0), (Phase::Alerting, 0)];
        for status in self.assets.read().expect("status lock").values() {
            if let Some(slot) = counts.iter_mut().find(|(p, _)| *p == status.phase) {
                slot.1 += 1;
            }
        }
        counts
    }
}
