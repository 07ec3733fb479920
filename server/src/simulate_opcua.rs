//! The OPC-UA side of `spikewatch simulate`: the simulated plant served as an OPC-UA server (like a PLC), and
//! the spikewatch configuration that reads it.

use crate::config::{AssetConfig, ChannelConfig};
use anyhow::Context;
use connectors::OpcUaConfig;
use connectors::mqtt::MqttConfig;
use connectors::opcua::{SecurityMode, SecurityPolicy};
use connectors::simulator::opcua_server::{OpcUaServerConfig, OpcUaUser, SimulatorOpcUaServer};
use connectors::simulator::{PlantLayout, PlantSimulator, ServedKind};
use serde::Serialize;
use snn_engine::ChannelKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// How `spikewatch simulate` serves the plant over OPC-UA.
#[derive(Debug, Clone, clap::Args)]
pub struct OpcUaServeArgs {
    /// Serve the plant over OPC-UA on this address, e.g. 127.0.0.1:4855 (one folder per pump under
    /// Objects, one variable `ns=2;s=<asset>/<channel>` per channel); prints the matching spikewatch
    /// configuration on start.
    #[arg(long, value_name = "ADDR")]
    pub opcua_listen: Option<SocketAddr>,
    /// Where the OPC-UA server keeps its self-signed certificate (generated on first start, reused
    /// after) and the client certificates it has seen.
    #[arg(long, default_value = "simulator-pki", value_name = "DIR")]
    pub opcua_pki_dir: PathBuf,
    /// A user the OPC-UA server accepts on its Basic256Sha256 endpoints; repeatable.
    #[arg(long = "opcua-user", value_name = "USERNAME:PASSWORD")]
    pub opcua_users: Vec<OpcUaUser>,
    /// Admit only the --opcua-user users, over Basic256Sha256: no anonymous sessions, no unsecured endpoint.
    #[arg(long)]
    pub opcua_secure_only: bool,
}

impl OpcUaServeArgs {
    /// The server configuration these arguments ask for (`None` without `--opcua-listen`).
    pub fn server_config(&self, time_scale: f64, duration_s: Option<f64>) -> Option<OpcUaServerConfig> {
        let listen = self.opcua_listen?;
        Some(OpcUaServerConfig {
            listen,
            pki_dir: self.opcua_pki_dir.clone(),
            allow_anonymous: !self.opcua_secure_only,
            allow_unsecured: !self.opcua_secure_only,
            users: self.opcua_users.clone(),
            trust_client_certs: true,
            time_scale,
            duration_s,
        })
    }
}

/// Where `simulate` publishes over MQTT, as `client_id`: `None` for `--broker none`, which then needs `--opcua-listen`
/// (else nothing would be simulated).
pub fn mqtt_target(broker: String, client_id: String, opcua: &OpcUaServeArgs) -> anyhow::Result<Option<MqttConfig>> {
    if broker == "none" {
        anyhow::ensure!(opcua.opcua_listen.is_some(), "--broker none without --opcua-listen would simulate for nobody");
        return Ok(None);
    }
    let mqtt = MqttConfig { url: broker, client_id, ..MqttConfig::default() };
    mqtt.validate()?;
    Ok(Some(mqtt))
}

/// Starts the OPC-UA server when `--opcua-listen` is given, and prints the spikewatch configuration
/// that reads it to `out`.
pub async fn start(
    args: &OpcUaServeArgs,
    sim: &PlantSimulator,
    time_scale: f64,
    duration_s: Option<f64>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<Option<SimulatorOpcUaServer>> {
    let Some(config) = args.server_config(time_scale, duration_s) else { return Ok(None) };
    let server = SimulatorOpcUaServer::start(sim.clone(), config).await.context("failed to start the opcua server")?;
    let client = secured(server.client_config(), args.opcua_users.first());
    let text = spikewatch_config(&client, server.layout(), &args.opcua_pki_dir)?;
    out.write_all(text.as_bytes()).context("failed to print the spikewatch configuration")?;
    out.flush().context("failed to print the spikewatch configuration")?;
    Ok(Some(server))
}

/// The client configuration for a server with users: Basic256Sha256 SignAndEncrypt as the first user.
/// The password is left for the integrator to fill in, so it is not echoed to a terminal or a log.
fn secured(config: OpcUaConfig, user: Option<&OpcUaUser>) -> OpcUaConfig {
    match user {
        Some(user) => OpcUaConfig {
            security_policy: SecurityPolicy::Basic256Sha256,
            security_mode: SecurityMode::SignAndEncrypt,
            username: Some(user.username.clone()),
            ..config
        },
        None => config,
    }
}

/// The `[opcua]` section and the `[[assets]]` declarations that let `spikewatch serve` watch the served
/// plant, as TOML with a comment on what the integrator still has to do.
pub fn spikewatch_config(client: &OpcUaConfig, layout: &PlantLayout, server_pki_dir: &Path) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Fragment<'a> {
        opcua: &'a OpcUaConfig,
        assets: Vec<AssetConfig>,
    }
    let declared = PlantSimulator::channels();
    let assets = layout
        .assets()
        .into_iter()
        .map(|asset| AssetConfig {
            channels: layout
                .channels
                .iter()
                .filter(|c| c.asset == asset)
                .map(|c| ChannelConfig {
                    id: c.channel.clone(),
                    // The simulator declares how each channel is analysed (its stator current is a
                    // motor current, not just any window); what it serves tells the rest.
                    kind: declared.iter().find(|(id, _)| *id == c.channel).map(|&(_, kind)| kind).unwrap_or(
                        match c.kind {
                            ServedKind::Scalar => ChannelKind::Scalar,
                            ServedKind::Window { .. } => ChannelKind::Window,
                        },
                    ),
                })
                .collect(),
            id: asset,
        })
        .collect();
    let body = toml::to_string(&Fragment { opcua: client, assets }).context("failed to write the configuration")?;
    let mut text = String::from("# spikewatch configuration for this simulated plant (add it to spikewatch.toml):\n");
    if client.username.is_some() {
        text.push_str("# set `password` for the user below. The simulator's certificate is ");
        text.push_str(&format!("{}/own/cert.der: after the\n", server_pki_dir.display()));
        text.push_str("# first attempt, move it from <pki_dir>/rejected/ to <pki_dir>/trusted/ (or set trust_server_certs = true).\n");
    }
    text.push_str(&body);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use snn_engine::{Reading, Sample, Timestamp};

    fn layout() -> PlantLayout {
        let sample = |asset: &str, channel: &str, reading| Sample {
            asset: asset.into(),
            channel: channel.into(),
            t: Timestamp(0),
            reading,
        };
        let window = || Reading::Window { sample_rate_hz: 25_600.0, samples: vec![0.0; 8] };
        PlantLayout::from_samples(&[
            sample("pump-1", "vibration", window()),
            sample("pump-1", "temperature", Reading::Scalar(50.0)),
            sample("pump-2", "vibration", window()),
            sample("pump-2", "temperature", Reading::Scalar(51.0)),
        ])
        .unwrap()
    }

    #[test]
    fn the_printed_configuration_is_what_spikewatch_reads_back() {
        let layout = layout();
        for user in [None, Some(OpcUaUser { username: "operator".into(), password: "secret".into() })] {
            let client = secured(layout.client_config("opc.tcp://127.0.0.1:4855/", 2), user.as_ref());
            let text = spikewatch_config(&client, &layout, Path::new("simulator-pki")).unwrap();
            assert!(!text.contains("secret"), "{text}");
            let mut parsed = Config::from_sources(&text, Vec::new(), "printed").unwrap();
            let mut expected = client.clone();
            if user.is_some() {
                assert!(text.contains("simulator-pki/own/cert.der"), "{text}");
                assert_eq!(parsed.opcua.as_ref().unwrap().security_mode, SecurityMode::SignAndEncrypt);
                // What the integrator adds by hand.
                parsed.opcua.as_mut().unwrap().password = Some("secret".into());
                expected.password = Some("secret".into());
            }
            parsed.validate().unwrap();
            assert_eq!(parsed.opcua, Some(expected));
            let declared: Vec<(String, Vec<(String, ChannelKind)>)> = parsed
                .assets
                .iter()
                .map(|a| (a.id.to_string(), a.channels.iter().map(|c| (c.id.to_string(), c.kind)).collect()))
                .collect();
            let channels =
                vec![("vibration".to_string(), ChannelKind::Window), ("temperature".into(), ChannelKind::Scalar)];
            assert_eq!(declared, [("pump-1".to_string(), channels.clone()), ("pump-2".into(), channels)]);
        }
    }

    #[test]
    fn broker_none_needs_an_opcua_listen_address() {
        let args = OpcUaServeArgs {
            opcua_listen: None,
            opcua_pki_dir: "pki".into(),
            opcua_users: vec![],
            opcua_secure_only: false,
        };
        let err = mqtt_target("none".into(), "sim".into(), &args).unwrap_err();
        assert!(err.to_string().contains("--broker none without --opcua-listen"), "{err}");
        assert!(mqtt_target("http://broker".into(), "sim".into(), &args).is_err());
        let mqtt = mqtt_target("mqtt://127.0.0.1:1883".into(), "sim-2".into(), &args).unwrap().unwrap();
        assert_eq!((mqtt.url.as_str(), mqtt.client_id.as_str()), ("mqtt://127.0.0.1:1883", "sim-2"));
        let serving = OpcUaServeArgs { opcua_listen: Some("127.0.0.1:4855".parse().unwrap()), ..args };
        assert!(mqtt_target("none".into(), "sim".into(), &serving).unwrap().is_none());
    }

    #[test]
    fn server_config_follows_the_flags() {
        let args = OpcUaServeArgs {
            opcua_listen: None,
            opcua_pki_dir: "pki".into(),
            opcua_users: vec!["operator:secret".parse().unwrap()],
            opcua_secure_only: true,
        };
        assert_eq!(args.server_config(1.0, None), None);
        let args = OpcUaServeArgs { opcua_listen: Some("127.0.0.1:4855".parse().unwrap()), ..args };
        let config = args.server_config(10.0, Some(60.0)).unwrap();
        assert!(!config.allow_anonymous && !config.allow_unsecured);
        assert_eq!((config.time_scale, config.duration_s), (10.0, Some(60.0)));
        config.validate().unwrap();
        let open = OpcUaServeArgs { opcua_secure_only: false, opcua_users: vec![], ..args };
        let config = open.server_config(1.0, None).unwrap();
        assert!(config.allow_anonymous && config.allow_unsecured);
    }
}
