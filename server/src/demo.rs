//! `spikewatch demo` and `spikewatch simulate`: the plant simulator publishing over MQTT, with (demo) an
//! embedded broker, SQLite and a local archive, so a new user sees the whole path with nothing installed.

use crate::config::{AssetConfig, ChannelConfig, Config};
use anyhow::Context;
use connectors::embedded_broker::start_embedded_broker;
use connectors::mqtt::MqttConfig;
use connectors::simulator::{FaultKind, FaultSpec, PlantSimulator, SimConfig, publish_simulation};
use snn_engine::Timestamp;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::watch;

/// Topic layout the simulator publishes and the demo subscribes to.
pub const TOPIC_PREFIX: &str = "plant";

#[derive(Debug, Clone, clap::Args)]
pub struct SimulationArgs {
    /// How many simulated pumps.
    #[arg(long, default_value_t = 4)]
    pub assets: usize,
    /// Which pump (1-based) develops a fault; 0 for none.
    #[arg(long, default_value_t = 0)]
    pub fault_asset: usize,
    /// What fails: outer-race, inner-race or ball (bearing defects: vibration impacts and
    /// acoustic bursts), or broken-rotor-bar (motor current sidebands).
    #[arg(long, default_value_t = FaultKind::OuterRace)]
    pub fault_kind: FaultKind,
    /// Simulated seconds after the start at which the fault begins.
    #[arg(long, default_value_t = 150.0)]
    pub fault_start_s: f64,
    /// Simulated seconds over which the fault grows to full strength.
    #[arg(long, default_value_t = 90.0)]
    pub fault_ramp_s: f64,
    /// Simulated seconds per real second (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Seed of the simulation; the same seed gives the same plant.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl SimulationArgs {
    pub fn simulator(&self) -> anyhow::Result<PlantSimulator> {
        anyhow::ensure!(self.assets >= 1, "--assets must be at least 1");
        anyhow::ensure!(
            self.fault_asset <= self.assets,
            "--fault-asset {} is beyond --assets {}",
            self.fault_asset,
            self.assets
        );
        anyhow::ensure!(self.time_scale > 0.0, "--time-scale must be positive");
        anyhow::ensure!(self.fault_start_s.is_finite(), "--fault-start-s must be a finite number of seconds");
        anyhow::ensure!(
            self.fault_ramp_s.is_finite() && self.fault_ramp_s >= 0.0,
            "--fault-ramp-s must be a finite number of seconds, 0 or more"
        );
        let config = SimConfig {
            assets: self.assets,
            seed: self.seed,
            fault: (self.fault_asset > 0).then(|| FaultSpec {
                asset_index: self.fault_asset - 1,
                kind: self.fault_kind,
                start_s: self.fault_start_s,
                ramp_s: self.fault_ramp_s,
            }),
            ..SimConfig::default()
        };
        Ok(PlantSimulator::new(config, Timestamp(chrono::Utc::now().timestamp_micros())))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Address of the dashboard and API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Where the SQLite database and the Parquet archive go.
    #[arg(long, default_value = "spikewatch-data")]
    pub data_dir: PathBuf,
    /// Port of the embedded MQTT broker (0 picks a free one).
    #[arg(long, default_value_t = 1884)]
    pub mqtt_port: u16,
    #[command(flatten)]
    pub sim: SimulationArgs,
}

/// The configuration the demo runs with: every simulated pump declared, local storage.
pub fn demo_config(args: &DemoArgs, broker_url: String, sim: &PlantSimulator) -> Config {
    let channels: Vec<ChannelConfig> =
        PlantSimulator::channels().into_iter().map(|(id, kind)| ChannelConfig { id, kind }).collect();
    let mut config = Config::default();
    config.http.listen = args.http;
    config.mqtt = Some(MqttConfig {
        url: broker_url,
        client_id: "spikewatch-demo".into(),
        topics: vec![format!("{TOPIC_PREFIX}/{{asset}}/{{channel}}").into()],
        ..MqttConfig::default()
    });
    config.database.url = format!("sqlite://{}", args.data_dir.join("spikewatch.db").display());
    config.archive.dir = args.data_dir.join("archive");
    config.assets = sim.asset_ids().into_iter().map(|id| AssetConfig { id, channels: channels.clone() }).collect();
    config
}

pub async fn run_demo(mut args: DemoArgs, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    if args.sim.fault_asset == 0 {
        args.sim.fault_asset = args.sim.assets; // the demo always shows a fault, on the last pump
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("failed to create data directory `{}`", args.data_dir.display()))?;
    let broker = start_embedded_broker(args.mqtt_port).context("failed to start the embedded MQTT broker")?;
    let sim = args.sim.simulator()?;
    let config = demo_config(&args, broker.url(), &sim);
    config.validate()?;

    let publisher_mqtt =
        MqttConfig { url: broker.url(), client_id: "spikewatch-simulator".into(), ..MqttConfig::default() };
    let publisher = tokio::spawn(publish_simulation(
        sim,
        publisher_mqtt,
        TOPIC_PREFIX.to_owned(),
        args.sim.time_scale,
        None,
        shutdown.clone(),
    ));
    let fault = format!("pump-{}", args.sim.fault_asset);
    let fault_kind = args.sim.fault_kind;
    let data_dir = args.data_dir.clone();
    let broker_url = broker.url();
    let fault_at = args.sim.fault_start_s / args.sim.time_scale;
    crate::runtime::serve(config, shutdown, move |http| {
        println!("spikewatch demo is running");
        println!("  dashboard    http://{http}/");
        println!("  API          http://{http}/api/v1/assets   http://{http}/api/v1/alerts");
        println!("  metrics      http://{http}/metrics");
        println!("  MQTT broker  {broker_url}   (topics {TOPIC_PREFIX}/<asset>/<channel>)");
        println!("  data         {}", data_dir.display());
        println!("The models learn normal behaviour first; {fault} starts to fail ({fault_kind}) about {fault_at:.0} s from now.");
        println!("Press Ctrl-C to stop.");
    })
    .await?;
    let published = publisher.await.context("simulator task failed")?.context("simulator failed")?;
    tracing::info!(published, "simulator stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use snn_engine::{AlertEvent, AssetModel};

    #[derive(Debug, Parser)]
    struct Demo {
        #[command(flatten)]
        args: DemoArgs,
    }

    fn args(extra: &[&str]) -> DemoArgs {
        Demo::try_parse_from(["demo"].iter().chain(extra)).unwrap().args
    }

    #[test]
    fn fault_kind_defaults_to_outer_race_and_unknown_kinds_are_refused() {
        assert_eq!(args(&[]).sim.fault_kind, FaultKind::OuterRace);
        assert_eq!(args(&["--fault-kind", "broken-rotor-bar"]).sim.fault_kind, FaultKind::BrokenRotorBar);
        let err = Demo::try_parse_from(["demo", "--fault-kind", "rotor"]).unwrap_err().to_string();
        assert!(err.contains("unknown fault kind `rotor`") && err.contains("inner-race"), "{err}");
    }

    #[test]
    fn fault_timings_that_are_not_numbers_are_refused_not_simulated() {
        let cases = [
            ("--fault-start-s=NaN", "--fault-start-s must be"),
            ("--fault-start-s=inf", "--fault-start-s must be"),
            ("--fault-ramp-s=NaN", "--fault-ramp-s must be"),
            ("--fault-ramp-s=-0.5", "--fault-ramp-s must be"),
        ];
        for (flag, expected) in cases {
            let err = args(&["--fault-asset", "1", flag]).sim.simulator().unwrap_err().to_string();
            assert!(err.contains(expected), "{flag}: {err}");
        }
        assert!(args(&["--fault-asset", "1", "--fault-ramp-s", "0"]).sim.simulator().is_ok());
    }

    /// The demo's plant through the models the demo configures, without the broker: ten simulated
    /// minutes in which only the failing pump may alert, and it must.
    #[test]
    fn the_demo_plant_alerts_on_the_failing_pump_only() {
        let mut args = args(&["--assets", "4", "--fault-asset", "4"]);
        args.sim.time_scale = 1.0;
        let mut sim = args.sim.simulator().unwrap();
        let config = demo_config(&args, "mqtt://127.0.0.1:1".into(), &sim);
        config.validate().unwrap();
        let mut models: Vec<AssetModel> = config
            .assets
            .iter()
            .map(|a| {
                AssetModel::new(a.id.clone(), a.channel_specs(), config.model.clone(), config.pipeline.seed).unwrap()
            })
            .collect();
        let mut first_alert: Vec<Option<f64>> = vec![None; models.len()];
        for _ in 0..600 {
            let t_s = sim.elapsed_s();
            for sample in sim.tick() {
                let i = models.iter().position(|m| m.asset() == &sample.asset).unwrap();
                let outcome = models[i].step(&sample.channel, sample.t, &sample.reading);
                assert!(!outcome.dropped, "{} {} rejected", sample.asset, sample.channel);
                if let (Some(AlertEvent::Raised(report)), None) = (&outcome.alert, first_alert[i]) {
                    first_alert[i] = Some(t_s);
                    let moved: Vec<String> =
                        report.evidence.iter().map(|e| format!("{}/{}", e.channel, e.feature)).collect();
                    eprintln!("{} alerts at {t_s} s: {}", sample.asset, moved.join(", "));
                }
            }
        }
        assert_eq!(first_alert[..3], [None, None, None], "a healthy pump alerted");
        let fault_at = first_alert[3].expect("the failing pump alerts");
        assert!(fault_at > args.sim.fault_start_s, "pump-4 alerted at {fault_at} s, before its fault");
    }
}
