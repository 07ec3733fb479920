//! Alert evidence: which features moved, against the learned prototype, and by how much.

use super::{AssetModel, FeatureDeviation, inputs_per_feature};

/// At most this many features are reported per alert.
pub const MAX_EVIDENCE: usize = 8;

impl AssetModel {
    /// Evidence against prototype `j` (the best-matching neuron): for every feature, the
    /// expected value is decoded from the population segment of the prototype's weights (centre
    /// of mass of the receptive-field centres, a z-score) and mapped back to the feature's units
    /// with the normaliser; the deviation is in the feature's learned standard deviations.
    /// Sorted by |deviation| (ties: feature order), at most [`MAX_EVIDENCE`].
    pub(super) fn evidence(&self, j: usize) -> Vec<FeatureDeviation> {
        let stride = inputs_per_feature(&self.config);
        let fields = self.config.population_fields;
        let row = self.layer.row(j);
        let mut out = Vec::with_capacity(self.features.len());
        for (c, spec) in self.channels.iter().enumerate() {
            let names = self.frontends[c].feature_names(&self.frontend_params);
            for (k, name) in names.into_iter().enumerate() {
                let f = self.offsets[c] + k;
                let segment = &row[f * stride..f * stride + fields];
                let z = self.population.decode(segment).unwrap_or(0.0);
                let expected = self.normaliser.value_at(f, z);
                let observed = self.features[f];
                out.push(FeatureDeviation {
                    channel: spec.id.clone(),
                    feature: name,
                    observed,
                    expected,
                    deviation_sigma: (observed - expected) / self.normaliser.std(f),
                });
            }
        }
        // Stable sort keeps feature order among equal deviations.
        out.sort_by(|a, b| b.deviation_sigma.abs().total_cmp(&a.deviation_sigma.abs()));
        out.truncate(MAX_EVIDENCE);
        out
    }
}
