//! The one configuration tree: defaults, then a TOML file, then `SPIKEWATCH__SECTION__KEY` variables, then `validate()`.

use anyhow::{Context, bail};
use connectors::OpcUaConfig;
use connectors::mqtt::MqttConfig;
use serde::{Deserialize, Serialize};
use snn_engine::{AssetId, ChannelId, ChannelKind, ChannelSpec, ModelConfig};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Prefix of the environment variables that override the file, e.g. `SPIKEWATCH__DATABASE__URL`.
pub const ENV_PREFIX: &str = "SPIKEWATCH__";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    /// The MQTT source; absent when no `[mqtt]` section (or `SPIKEWATCH__MQTT__...` variable) is given.
    pub mqtt: Option<MqttConfig>,
    /// The OPC-UA source; absent when no `[opcua]` section is given.
    pub opcua: Option<OpcUaConfig>,
    pub database: DatabaseConfig,
    pub archive: ArchiveConfig,
    pub pipeline: PipelineConfig,
    pub model: ModelConfig,
    /// The machines spikewatch watches; a sample for any other asset is rejected as `unknown_asset`.
    pub assets: Vec<AssetConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the HTTP API, dashboard and `/metrics`.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user@host/db` in production, `sqlite://path/to/file.db` when nothing is installed.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveConfig {
    /// Root of the Parquet archive of raw windows (partitioned by asset and date below it).
    pub dir: PathBuf,
    /// How many of the most recent readings of each channel are archived with an alert.
    pub readings_per_channel: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Worker threads that step the asset models; assets are spread over them.
    pub workers: usize,
    /// Capacity of each bounded queue (ingest, per worker, alerts). A full queue makes the producer wait.
    pub queue_capacity: usize,
    /// Seed of every asset model, so that any alert can be replayed bit for bit.
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetConfig {
    pub id: AssetId,
    pub channels: Vec<ChannelConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub id: ChannelId,
    /// `window` for blocks of raw samples (vibration, acoustic), `scalar` for slow values,
    /// `motor_current` for a stator current streamed as contiguous blocks of samples (1-25.6 kHz),
    /// analysed for supply frequency, broken-rotor-bar sidebands and harmonics.
    pub kind: ChannelKind,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { listen: SocketAddr::from(([127, 0, 0, 1], 8080)) }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { url: "sqlite://spikewatch-data/spikewatch.db".into(), max_connections: 5 }
    }
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig { dir: "spikewatch-data/archive".into(), readings_per_channel: 8 }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { workers: 2, queue_capacity: 1024, seed: 7 }
    }
}

impl AssetConfig {
    pub fn channel_specs(&self) -> Vec<ChannelSpec> {
        self.channels.iter().map(|c| ChannelSpec { id: c.id.clone(), kind: c.kind }).collect()
    }
}

impl Config {
    /// Defaults, overlaid by the TOML file (if any), overlaid by the process environment, then validated.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let config = Config::load_unvalidated(path)?;
        config.validate()?;
        Ok(config)
    }

    /// [`Config::load`] without the final validation, for commands that use only part of the
    /// configuration (`spikewatch eval` needs `[model]`, not a source); they validate what they use.
    pub fn load_unvalidated(path: Option<&Path>) -> anyhow::Result<Config> {
        let text = match path {
            Some(p) => {
                std::fs::read_to_string(p).with_context(|| format!("failed to read config file `{}`", p.display()))?
            }
            None => String::new(),
        };
        let origin = path.map_or_else(|| "<defaults>".to_owned(), |p| p.display().to_string());
        Config::parse_sources(&text, std::env::vars(), &origin)
    }

    /// [`Config::load`] without touching the file system or the real environment (used by tests).
    pub fn from_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        origin: &str,
    ) -> anyhow::Result<Config> {
        let config = Config::parse_sources(toml_text, env, origin)?;
        config.validate()?;
        Ok(config)
    }

    fn parse_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        origin: &str,
    ) -> anyhow::Result<Config> {
        let mut tree: toml::Table =
            toml::from_str(toml_text).with_context(|| format!("failed to parse config `{origin}`"))?;
        for (key, value) in env {
            if let Some(path) = key.strip_prefix(ENV_PREFIX) {
                apply_env_override(&mut tree, path, &value)
                    .with_context(|| format!("failed to apply environment variable `{key}`"))?;
            }
        }
        toml::Value::Table(tree).try_into().with_context(|| format!("invalid config `{origin}`"))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(mqtt) = &self.mqtt {
            mqtt.validate().context("invalid [mqtt] section")?;
        }
        if let Some(opcua) = &self.opcua {
            opcua.validate().context("invalid [opcua] section")?;
        }
        self.model.validate().context("invalid [model] section")?;
        let url = &self.database.url;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:")) {
            bail!("database.url `{url}` must start with `postgres://` or `sqlite:`");
        }
        if self.database.max_connections == 0 {
            bail!("database.max_connections must be at least 1");
        }
        if self.pipeline.workers == 0 || self.pipeline.queue_capacity == 0 {
            bail!("pipeline.workers and pipeline.queue_capacity must be at least 1");
        }
        if self.archive.readings_per_channel == 0 {
            bail!("archive.readings_per_channel must be at least 1");
        }
        let mut seen = BTreeSet::new();
        for asset in &self.assets {
            if asset.id.as_str().is_empty() || asset.id.as_str().contains(['/', '+', '#']) {
                bail!("asset id `{}` must be non-empty and free of `/`, `+` and `#`", asset.id);
            }
            if !seen.insert(&asset.id) {
                bail!("asset `{}` is declared twice", asset.id);
            }
            if asset.channels.is_empty() {
                bail!("asset `{}` has no channels", asset.id);
            }
            let mut channels = BTreeSet::new();
            for c in &asset.channels {
                if !channels.insert(&c.id) {
                    bail!("channel `{}` of asset `{}` is declared twice", c.id, asset.id);
                }
            }
        }
        if self.mqtt.is_none() && self.opcua.is_none() {
            bail!("no source configured: add an [mqtt] or an [opcua] section");
        }
        Ok(())
    }
}

/// Sets `a__b__c` (case-insensitive) in the tree. The value is read as a TOML value when it parses as one
/// (numbers, booleans, arrays) and as a plain string otherwise, so `SPIKEWATCH__DATABASE__URL=postgres://...` just works.
fn apply_env_override(tree: &mut toml::Table, path: &str, raw: &str) -> anyhow::Result<()> {
    let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
    if keys.iter().any(|k| k.is_empty()) {
        bail!("empty key segment");
    }
    let (last, parents) = keys.split_last().expect("split yields at least one segment");
    let mut table = tree;
    for key in parents {
        let entry = table.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().with_context(|| format!("`{key}` is not a section"))?;
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    table.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snn_engine::frontend::BandBank;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_example_config_parses_and_validates() {
        let text = include_str!("../../config/spikewatch.example.toml");
        let config = Config::from_sources(text, Vec::new(), "example").expect("example config is valid");
        assert!(!config.assets.is_empty());
        assert!(config.database.url.starts_with("postgres://"));
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        let text = "[database]\nurl = \"sqlite://a.db\"\n[mqtt]\n";
        let config = Config::from_sources(
            text,
            env(&[
                ("SPIKEWATCH__DATABASE__URL", "postgres://postgres@127.0.0.1/x"),
                ("SPIKEWATCH__PIPELINE__WORKERS", "4"),
                ("SPIKEWATCH__HTTP__LISTEN", "0.0.0.0:9000"),
                ("UNRELATED", "1"),
            ]),
            "t",
        )
        .unwrap();
        assert_eq!(config.database.url, "postgres://postgres@127.0.0.1/x");
        assert_eq!(config.pipeline.workers, 4);
        assert_eq!(config.http.listen.port(), 9000);
        assert_eq!(config.archive, ArchiveConfig::default());
        assert_eq!(config.mqtt, Some(MqttConfig::default()));
        assert_eq!(config.opcua, None);
    }

    #[test]
    fn a_server_without_any_source_is_refused() {
        let err = Config::from_sources("", Vec::new(), "t").unwrap_err();
        assert!(format!("{err:#}").contains("no source configured"), "{err:#}");
        let only_opcua = "[opcua]\nendpoint_url = \"opc.tcp://127.0.0.1:4840\"\n\
                          items = [{ node_id = \"ns=2;s=T\", asset = \"p1\", channel = \"temperature\" }]\n";
        let config = Config::from_sources(only_opcua, Vec::new(), "t").unwrap();
        assert!(config.mqtt.is_none() && config.opcua.is_some());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_culprit_named() {
        let err = Config::from_sources("[http]\nlisten_addr = \"x\"\n", Vec::new(), "t").unwrap_err();
        assert!(format!("{err:#}").contains("listen_addr"), "{err:#}");
        let err = Config::from_sources("", env(&[("SPIKEWATCH__DATABASE__URL", "mysql://x")]), "t").unwrap_err();
        assert!(format!("{err:#}").contains("mysql://x"), "{err:#}");
        let err = Config::from_sources("", env(&[("SPIKEWATCH__PIPELINE__WORKERS", "0")]), "t").unwrap_err();
        assert!(format!("{err:#}").contains("workers"), "{err:#}");
    }

    #[test]
    fn duplicate_assets_and_channels_are_refused() {
        let asset = "[[assets]]\nid = \"p1\"\nchannels = [{ id = \"v\", kind = \"window\" }]\n";
        let err = Config::from_sources(&format!("{asset}{asset}"), Vec::new(), "t").unwrap_err();
        assert!(format!("{err:#}").contains("declared twice"));
        let twice = "[[assets]]\nid = \"p1\"\nchannels = [{ id = \"v\", kind = \"window\" }, { id = \"v\", kind = \"scalar\" }]\n";
        assert!(Config::from_sources(twice, Vec::new(), "t").is_err());
        let slash = "[[assets]]\nid = \"a/b\"\nchannels = [{ id = \"v\", kind = \"window\" }]\n";
        assert!(Config::from_sources(slash, Vec::new(), "t").is_err());
    }

    #[test]
    fn channel_kinds_parse_and_an_unknown_kind_is_named_with_the_valid_ones() {
        let asset = |kind: &str| {
            format!(
                "[mqtt]\n[[assets]]\nid = \"m1\"\nchannels = [{{ id = \"current\", kind = \"{kind}\" }}, \
                 {{ id = \"temperature\", kind = \"scalar\" }}]\n"
            )
        };
        let config = Config::from_sources(&asset("motor_current"), Vec::new(), "t").unwrap();
        let specs = config.assets[0].channel_specs();
        assert_eq!(specs[0].kind, ChannelKind::MotorCurrent);
        assert_eq!(specs[1].kind, ChannelKind::Scalar);
        assert_eq!(
            Config::from_sources(&asset("window"), Vec::new(), "t").unwrap().assets[0].channels[0].kind,
            ChannelKind::Window
        );
        for bad in ["motorcurrent", "MotorCurrent", "current"] {
            let err = format!("{:#}", Config::from_sources(&asset(bad), Vec::new(), "t").unwrap_err());
            assert!(err.contains(&format!("unknown variant `{bad}`")), "{err}");
            assert!(err.contains("motor_current") && err.contains("window") && err.contains("scalar"), "{err}");
        }
        // The motor-current analysis is tuned under [model.motor_current]; an unknown key is named.
        let tuned = format!("{}[model.motor_current]\nhistory_seconds = 20\n", asset("motor_current"));
        assert_eq!(Config::from_sources(&tuned, Vec::new(), "t").unwrap().model.motor_current.history_seconds, 20.0);
        let typo = format!("{}[model.motor_current]\nhistory_s = 20\n", asset("motor_current"));
        assert!(format!("{:#}", Config::from_sources(&typo, Vec::new(), "t").unwrap_err()).contains("history_s"));
        let out_of_range = format!("{}[model.motor_current]\nhistory_seconds = 0.5\n", asset("motor_current"));
        let err = format!("{:#}", Config::from_sources(&out_of_range, Vec::new(), "t").unwrap_err());
        assert!(err.contains("motor_current.history_seconds"), "{err}");
    }

    #[test]
    fn the_band_bank_is_chosen_in_the_model_section_or_the_environment() {
        let asset = "[mqtt]\n[[assets]]\nid = \"p1\"\nchannels = [{ id = \"v\", kind = \"window\" }]\n";
        assert_eq!(Config::from_sources(asset, Vec::new(), "t").unwrap().model.band_bank, BandBank::Fft);
        let file = format!("{asset}[model]\nband_bank = \"resonate\"\n");
        assert_eq!(Config::from_sources(&file, Vec::new(), "t").unwrap().model.band_bank, BandBank::Resonate);
        let from_env = Config::from_sources(asset, env(&[("SPIKEWATCH__MODEL__BAND_BANK", "resonate")]), "t").unwrap();
        assert_eq!(from_env.model.band_bank, BandBank::Resonate);
        let err = Config::from_sources(asset, env(&[("SPIKEWATCH__MODEL__BAND_BANK", "wavelet")]), "t").unwrap_err();
        assert!(format!("{err:#}").contains("unknown variant `wavelet`"), "{err:#}");
    }
}
