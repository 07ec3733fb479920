//! Which OPC-UA variables serve a simulated plant (derived from its samples, whatever its channels) and the
//! spikewatch `[opcua]` configuration that reads them back. Sans-I/O.

use super::PlantSimulator;
use crate::json::MAX_WINDOW_SAMPLES;
use crate::opcua::{MonitoredItemConfig, OpcUaConfig};
use snn_engine::{AssetId, ChannelId, Reading, Sample};
use std::collections::HashSet;
use thiserror::Error;

/// Namespace URI of the simulated plant's variables. It differs from the server's application URI:
/// equal URIs would put the plant on namespace index 1, which belongs to async-opcua's diagnostics,
/// and no monitored item would ever deliver.
pub const PLANT_NAMESPACE_URI: &str = "urn:spikewatch:simulated-plant";

/// Name of the property that carries a window channel's sample rate.
pub const SAMPLE_RATE_PROPERTY: &str = "sample_rate_hz";

/// A plant the OPC-UA server cannot serve as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LayoutError {
    /// The simulator produced no samples (no assets).
    #[error("the simulated plant has no assets, so there is nothing to serve")]
    Empty,
    /// An asset or channel name cannot be one level of a `<asset>/<channel>` node id.
    #[error("{what} `{name}` cannot be part of an opcua node id `<asset>/<channel>` (empty, or holds `/`)")]
    BadName {
        /// `asset` or `channel`.
        what: &'static str,
        /// The offending name.
        name: String,
    },
    /// One tick held two readings of the same channel.
    #[error("asset `{asset}` channel `{channel}` appears twice in one tick")]
    Duplicate {
        /// The asset.
        asset: String,
        /// The channel.
        channel: String,
    },
    /// A window that spikewatch would refuse: empty, too long, or with an unusable sample rate.
    #[error("asset `{asset}` channel `{channel}`: {detail}")]
    BadWindow {
        /// The asset.
        asset: String,
        /// The channel.
        channel: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// What one served channel carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServedKind {
    /// A Double variable.
    Scalar,
    /// A Float array variable, with its sample rate in a property.
    Window {
        /// Sample rate of the windows (as the first tick produced them).
        sample_rate_hz: f64,
    },
}

/// One channel of one asset, served as one OPC-UA variable.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedChannel {
    /// The asset (one folder under Objects).
    pub asset: AssetId,
    /// The channel (one variable in the asset's folder).
    pub channel: ChannelId,
    /// Scalar or window.
    pub kind: ServedKind,
}

impl ServedChannel {
    /// The string identifier of the channel's variable: `<asset>/<channel>`.
    pub fn value_node(&self) -> String {
        format!("{}/{}", self.asset, self.channel)
    }

    /// The string identifier of a window channel's sample-rate property: `<asset>/<channel>/sample_rate_hz`.
    pub fn sample_rate_node(&self) -> Option<String> {
        matches!(self.kind, ServedKind::Window { .. })
            .then(|| format!("{}/{}/{SAMPLE_RATE_PROPERTY}", self.asset, self.channel))
    }
}

/// Every served channel, in the simulator's order (asset by asset).
#[derive(Debug, Clone, PartialEq)]
pub struct PlantLayout {
    /// One entry per asset and channel.
    pub channels: Vec<ServedChannel>,
}

impl PlantLayout {
    /// The layout of `sim`, read from the first tick of a copy (so `sim` itself is not advanced):
    /// it depends only on what the simulator produces, not on a fixed list of channel names.
    pub fn of(sim: &PlantSimulator) -> Result<PlantLayout, LayoutError> {
        PlantLayout::from_samples(&sim.clone().tick())
    }

    /// The layout of one tick's samples: scalars become Double variables, windows Float arrays.
    pub fn from_samples(samples: &[Sample]) -> Result<PlantLayout, LayoutError> {
        if samples.is_empty() {
            return Err(LayoutError::Empty);
        }
        let mut seen = HashSet::new();
        let mut channels = Vec::with_capacity(samples.len());
        for s in samples {
            for (what, name) in [("asset", s.asset.as_str()), ("channel", s.channel.as_str())] {
                if name.is_empty() || name.contains('/') {
                    return Err(LayoutError::BadName { what, name: name.to_owned() });
                }
            }
            if !seen.insert((s.asset.clone(), s.channel.clone())) {
                return Err(LayoutError::Duplicate { asset: s.asset.to_string(), channel: s.channel.to_string() });
            }
            let kind = match &s.reading {
                Reading::Scalar(_) => ServedKind::Scalar,
                Reading::Window { sample_rate_hz, samples } => {
                    let bad = |detail: String| LayoutError::BadWindow {
                        asset: s.asset.to_string(),
                        channel: s.channel.to_string(),
                        detail,
                    };
                    if !(sample_rate_hz.is_finite() && *sample_rate_hz > 0.0) {
                        return Err(bad(format!("sample rate {sample_rate_hz} is not a positive number")));
                    }
                    if samples.is_empty() || samples.len() > MAX_WINDOW_SAMPLES {
                        return Err(bad(format!("{} samples, expected 1 to {MAX_WINDOW_SAMPLES}", samples.len())));
                    }
                    ServedKind::Window { sample_rate_hz: *sample_rate_hz }
                }
            };
            channels.push(ServedChannel { asset: s.asset.clone(), channel: s.channel.clone(), kind });
        }
        Ok(PlantLayout { channels })
    }

    /// The assets, in order of first appearance.
    pub fn assets(&self) -> Vec<AssetId> {
        let mut assets: Vec<AssetId> = Vec::new();
        for c in &self.channels {
            if !assets.contains(&c.asset) {
                assets.push(c.asset.clone());
            }
        }
        assets
    }

    /// The spikewatch `[opcua]` configuration that monitors every served channel at `endpoint_url`
    /// (`opc.tcp://host:port/`), whose plant namespace has index `namespace`: one item per channel
    /// (`ns=<namespace>;s=<asset>/<channel>` to that asset and channel, windows at their sample
    /// rate), security None and anonymous. Items ask for sampling interval 0, so every tick the
    /// server publishes reaches the client with its own source timestamp.
    pub fn client_config(&self, endpoint_url: &str, namespace: u16) -> OpcUaConfig {
        let items = self
            .channels
            .iter()
            .map(|c| MonitoredItemConfig {
                node_id: format!("ns={namespace};s={}", c.value_node()),
                asset: c.asset.to_string(),
                channel: c.channel.to_string(),
                sampling_interval_ms: 0,
                queue_size: 10,
                deadband_abs: None,
                sample_rate_hz: match c.kind {
                    ServedKind::Scalar => None,
                    ServedKind::Window { sample_rate_hz } => Some(sample_rate_hz),
                },
            })
            .collect();
        OpcUaConfig { endpoint_url: endpoint_url.to_owned(), items, ..OpcUaConfig::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::SimConfig;
    use snn_engine::Timestamp;

    fn sample(asset: &str, channel: &str, reading: Reading) -> Sample {
        Sample { asset: asset.into(), channel: channel.into(), t: Timestamp(0), reading }
    }

    fn window(rate: f64, n: usize) -> Reading {
        Reading::Window { sample_rate_hz: rate, samples: vec![0.5; n] }
    }

    #[test]
    fn the_simulators_layout_has_every_asset_and_channel_of_a_tick() {
        let sim = PlantSimulator::new(SimConfig { assets: 2, ..SimConfig::default() }, Timestamp(0));
        let layout = PlantLayout::of(&sim).unwrap();
        let first = sim.clone().tick();
        assert_eq!(layout.channels.len(), first.len());
        for (c, s) in layout.channels.iter().zip(&first) {
            assert_eq!((&c.asset, &c.channel), (&s.asset, &s.channel));
            match (&c.kind, &s.reading) {
                (ServedKind::Scalar, Reading::Scalar(_)) => {}
                (ServedKind::Window { sample_rate_hz }, Reading::Window { sample_rate_hz: rate, .. }) => {
                    assert_eq!(sample_rate_hz, rate)
                }
                other => panic!("kind does not match the reading: {other:?}"),
            }
        }
        assert_eq!(layout.assets(), sim.asset_ids());
        // Taking the layout does not advance the simulator.
        assert_eq!(sim.clone().tick(), first);
    }

    #[test]
    fn client_config_monitors_every_channel_and_validates() {
        let layout = PlantLayout::from_samples(&[
            sample("pump-1", "vibration", window(25_600.0, 4)),
            sample("pump-1", "temperature", Reading::Scalar(50.0)),
            sample("pump-2", "vibration", window(25_600.0, 4)),
        ])
        .unwrap();
        let config = layout.client_config("opc.tcp://127.0.0.1:4855/", 2);
        config.validate().unwrap();
        assert_eq!(config.endpoint_url, "opc.tcp://127.0.0.1:4855/");
        let items: Vec<_> = config
            .items
            .iter()
            .map(|i| (i.node_id.as_str(), i.asset.as_str(), i.channel.as_str(), i.sample_rate_hz))
            .collect();
        assert_eq!(
            items,
            [
                ("ns=2;s=pump-1/vibration", "pump-1", "vibration", Some(25_600.0)),
                ("ns=2;s=pump-1/temperature", "pump-1", "temperature", None),
                ("ns=2;s=pump-2/vibration", "pump-2", "vibration", Some(25_600.0)),
            ]
        );
        let routes = config.routes().unwrap();
        assert_eq!(routes[0].node_id, ::opcua::types::NodeId::new(2, "pump-1/vibration"));
        assert_eq!(layout.channels[0].sample_rate_node().as_deref(), Some("pump-1/vibration/sample_rate_hz"));
        assert_eq!(layout.channels[1].sample_rate_node(), None);
        assert_eq!(layout.assets(), [AssetId::from("pump-1"), AssetId::from("pump-2")]);
    }

    #[test]
    fn plants_that_cannot_be_served_are_refused_by_name() {
        assert_eq!(PlantLayout::from_samples(&[]), Err(LayoutError::Empty));
        let cases = [
            (vec![sample("pump/1", "vibration", Reading::Scalar(1.0))], "asset `pump/1`"),
            (vec![sample("pump-1", "", Reading::Scalar(1.0))], "channel ``"),
            (vec![sample("p", "c", Reading::Scalar(1.0)), sample("p", "c", Reading::Scalar(2.0))], "appears twice"),
            (vec![sample("p", "c", window(0.0, 4))], "sample rate 0"),
            (vec![sample("p", "c", window(f64::NAN, 4))], "sample rate NaN"),
            (vec![sample("p", "c", window(100.0, 0))], "0 samples"),
            (vec![sample("p", "c", window(100.0, MAX_WINDOW_SAMPLES + 1))], "samples, expected 1 to"),
        ];
        for (samples, expected) in cases {
            let err = PlantLayout::from_samples(&samples).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
