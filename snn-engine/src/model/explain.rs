//! Alert evidence: which features moved, against the learned prototype or the condition limits,
//! and by how much.

use super::{AssetModel, FeatureDeviation, inputs_per_feature};
use crate::limits::LimitExceeded;
use crate::sample::{ChannelId, Timestamp};

/// The `channel` of the time-of-day evidence (feature `hour`).
pub const TIME_OF_DAY: &str = "time_of_day";

/// At most this many features are reported per alert.
pub const MAX_EVIDENCE: usize = 8;

impl AssetModel {
    /// Evidence for an alert. When a condition limit was exceeded, that feature comes first,
    /// against its warm-up mean in warm-up standard deviations. The rest is against prototype
    /// `best` (the best-matching neuron): for every feature, the expected value is decoded from
    /// the population segment of the prototype's weights (centre of mass of the receptive-field
    /// centres, a z-score) and mapped back to the feature's units with the normaliser; the
    /// deviation is in the feature's learned standard deviations. When the network sees the time of
    /// day, one more entry (channel [`TIME_OF_DAY`], feature `hour`) sets the hour of `t` (UTC)
    /// against the nearest hour the prototype stands for, apart in widths of the time-of-day bump
    /// (0 at one of its hours): an asset doing at 10:00 what it does at night is told as such.
    /// Sorted by |deviation| (ties: feature order), at most [`MAX_EVIDENCE`] in all.
    pub(super) fn evidence(
        &self,
        t: Timestamp,
        best: Option<usize>,
        exceeded: Option<LimitExceeded>,
    ) -> Vec<FeatureDeviation> {
        let stride = inputs_per_feature(&self.config);
        let fields = self.config.population_fields;
        let mut out = Vec::with_capacity(self.features.len());
        let mut limit_first = None;
        for (c, spec) in self.channels.iter().enumerate() {
            let names = self.frontends[c].feature_names(&self.frontend_params);
            for (k, name) in names.into_iter().enumerate() {
                let f = self.offsets[c] + k;
                let observed = self.features[f];
                if let Some(e) = exceeded.filter(|e| e.feature == f) {
                    limit_first = Some(FeatureDeviation {
                        channel: spec.id.clone(),
                        feature: name,
                        observed,
                        expected: e.mean,
                        deviation_sigma: e.sigmas,
                    });
                    continue;
                }
                let Some(j) = best else { continue };
                let segment = &self.layer.row(j)[f * stride..f * stride + fields];
                let z = self.population.decode(segment).unwrap_or(0.0);
                let expected = self.normaliser.value_at(f, z);
                out.push(FeatureDeviation {
                    channel: spec.id.clone(),
                    feature: name,
                    observed,
                    expected,
                    deviation_sigma: (observed - expected) / self.normaliser.std(f),
                });
            }
        }
        if let Some((now, usual, widths)) = best.and_then(|j| self.daily.hour_deviation(t, self.layer.row(j))) {
            out.push(FeatureDeviation {
                channel: ChannelId::from(TIME_OF_DAY),
                feature: "hour".to_owned(),
                observed: now,
                expected: usual,
                deviation_sigma: widths,
            });
        }
        // Stable sort keeps feature order among equal deviations.
        out.sort_by(|a, b| b.deviation_sigma.abs().total_cmp(&a.deviation_sigma.abs()));
        out.splice(0..0, limit_first);
        out.truncate(MAX_EVIDENCE);
        out
    }
}
