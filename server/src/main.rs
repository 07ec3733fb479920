//! The `spikewatch` binary: command line, logging and signal handling around the server's parts.

use anyhow::Context;
use clap::{Parser, Subcommand};
use connectors::PayloadFormat;
use connectors::simulator::{DEFAULT_SPARKPLUG_GROUP, DEFAULT_SPARKPLUG_NODE, SimPublish, publish_simulation_as};
use spikewatch::config::Config;
use spikewatch::{bench, demo, eval, replay, runtime, simulate_opcua};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::sync::watch;

/// spikewatch watches machines: it learns each asset's normal vibration, current and temperature with a
/// spiking neural network and raises an explained alert when the machine departs from it.
#[derive(Debug, Parser)]
#[command(name = "spikewatch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Try it with nothing installed: an embedded MQTT broker, a simulated plant with one failing pump,
    /// SQLite and a Parquet archive under --data-dir, and the dashboard on --http.
    Demo(demo::DemoArgs),
    /// Run in production: an external MQTT broker, Postgres (or SQLite), settings from --config and
    /// SPIKEWATCH__SECTION__KEY environment variables.
    Serve {
        /// TOML configuration file (see config/spikewatch.example.toml); without it, defaults and environment.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run a recording (.csv in NAB, SKAB or generic layout, a .parquet window file, or a .wav file) through
    /// the model and print every alert, or publish it to a broker with --publish; at full speed or --speed.
    Replay(replay::ReplayArgs),
    /// Run a public benchmark (nab, skab, cwru, femto) through the model and score it with its published
    /// protocol, beside plain baselines.
    Eval(eval::EvalArgs),
    /// Measure speed on one thread: `bench engine` prints samples/s, neuron updates/s and synaptic events/s.
    Bench(bench::BenchArgs),
    /// Publish the simulated plant to an existing MQTT broker and/or serve it over OPC-UA, to try a
    /// deployment end to end.
    #[command(after_long_help = SIMULATE_TOPICS_HELP)]
    Simulate {
        /// Broker URL, e.g. mqtt://127.0.0.1:1883; `none` to skip MQTT (then --opcua-listen is needed).
        #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
        broker: String,
        /// MQTT client id: give each simulator on one broker its own, or they keep taking over each
        /// other's connection.
        #[arg(long, default_value = "spikewatch-simulator")]
        client_id: String,
        /// Payload format: json (every sample on <prefix>/<asset>/<channel>), binary (SWW1 windows on
        /// <prefix>/<asset>/<channel>/binary, scalars as JSON on <prefix>/<asset>/<channel>) or sparkplug
        /// (a Sparkplug B edge node, one device per asset). Prints the matching `[mqtt] topics` at start.
        #[arg(long, default_value_t = PayloadFormat::Json)]
        format: PayloadFormat,
        /// Topic prefix of json and binary.
        #[arg(long, default_value = demo::TOPIC_PREFIX)]
        topic_prefix: String,
        /// Sparkplug group id: topics are spBv1.0/<group>/<NBIRTH|DBIRTH|DDATA|NDEATH>/<node>[/<asset>].
        #[arg(long, default_value = DEFAULT_SPARKPLUG_GROUP)]
        sparkplug_group: String,
        /// Sparkplug edge node id.
        #[arg(long, default_value = DEFAULT_SPARKPLUG_NODE)]
        sparkplug_node: String,
        /// Stop after this many simulated seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration_s: Option<f64>,
        #[command(flatten)]
        opcua: simulate_opcua::OpcUaServeArgs,
        #[command(flatten)]
        sim: demo::SimulationArgs,
    },
}

/// What `spikewatch simulate --help` tells an integrator to put under `[mqtt]`.
const SIMULATE_TOPICS_HELP: &str = "\
What spikewatch needs under [mqtt] to read the simulator (default prefix and Sparkplug ids):
  --format json:       topics = [\"plant/{asset}/{channel}\"]
  --format binary:     topics = [\"plant/{asset}/{channel}\", { pattern = \"plant/{asset}/{channel}/binary\", format = \"binary\" }]
  --format sparkplug:  topics = [{ pattern = \"spBv1.0/plant/#\", format = \"sparkplug\" }]
With another --topic-prefix or --sparkplug-group, replace `plant` accordingly; the simulator prints the
exact line when it starts. See docs/payloads.md.";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rumqttd=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Replay(args) = &cli.command
        && args.publish.is_none()
    {
        replay::run_locally(args, &mut std::io::stdout().lock())?;
        return Ok(());
    }
    if let Command::Eval(args) = &cli.command {
        return eval::run(args);
    }
    if let Command::Bench(args) = &cli.command {
        return bench::run(args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_on_signal();
        match cli.command {
            Command::Demo(args) => demo::run_demo(args, shutdown).await,
            Command::Serve { config } => runtime::serve(Config::load(config.as_deref())?, shutdown, |_| {}).await,
            Command::Simulate {
                broker,
                client_id,
                format,
                topic_prefix,
                sparkplug_group,
                sparkplug_node,
                duration_s,
                opcua,
                sim,
            } => {
                let mqtt = simulate_opcua::mqtt_target(broker, client_id, &opcua)?;
                let plant = sim.simulator()?;
                // Both transports carry the same plant: a copy ticks the same values at the same times.
                let server =
                    simulate_opcua::start(&opcua, &plant, sim.time_scale, duration_s, &mut std::io::stdout()).await?;
                let publish = async {
                    let Some(mqtt) = mqtt else { return anyhow::Ok(()) };
                    let how = SimPublish {
                        format,
                        topic_prefix,
                        sparkplug_group,
                        sparkplug_node,
                        time_scale: sim.time_scale,
                        duration_s,
                    };
                    println!("publishing {format}; spikewatch reads it with, under [mqtt]:");
                    println!("  {}", how.subscriber_topics_toml());
                    let published = publish_simulation_as(plant, mqtt, how, shutdown.clone()).await?;
                    println!("published {published} messages");
                    Ok(())
                };
                let serve = async {
                    let Some(server) = server else { return anyhow::Ok(()) };
                    let ticks = server.run(shutdown.clone()).await?;
                    println!("served {ticks} ticks over opcua");
                    Ok(())
                };
                tokio::try_join!(publish, serve)?;
                Ok(())
            }
            Command::Replay(args) => {
                replay::publish(&args, &mut std::io::stdout(), shutdown).await?;
                Ok(())
            }
            Command::Eval(_) | Command::Bench(_) => unreachable!("handled above"),
        }
    })
}

/// A channel that turns true on Ctrl-C or SIGTERM.
fn shutdown_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate => {}
        }
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulate_help_shows_the_topics_the_simulator_prints_for_its_defaults() {
        for format in PayloadFormat::ALL {
            let how = SimPublish {
                format,
                sparkplug_group: DEFAULT_SPARKPLUG_GROUP.into(),
                sparkplug_node: DEFAULT_SPARKPLUG_NODE.into(),
                ..SimPublish::json(demo::TOPIC_PREFIX, 1.0, None)
            };
            let line = format!("--format {format}:");
            let help_line = SIMULATE_TOPICS_HELP.lines().find(|l| l.trim_start().starts_with(&line)).unwrap();
            assert_eq!(help_line.trim_start()[line.len()..].trim(), how.subscriber_topics_toml(), "{format}");
        }
    }

    #[test]
    fn simulate_parses_every_format_and_refuses_others() {
        let cli = Cli::try_parse_from(["spikewatch", "simulate", "--format", "sparkplug", "--sparkplug-group", "g1"])
            .unwrap();
        let Command::Simulate { format, sparkplug_group, sparkplug_node, .. } = cli.command else { panic!() };
        assert_eq!(
            (format, sparkplug_group.as_str(), sparkplug_node.as_str()),
            (PayloadFormat::Sparkplug, "g1", "simulator")
        );
        let err = Cli::try_parse_from(["spikewatch", "simulate", "--format", "xml"]).unwrap_err().to_string();
        assert!(err.contains("unknown payload format `xml`"), "{err}");
    }
}
