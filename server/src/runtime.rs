//! `spikewatch serve`: wires the store, the pipeline, the MQTT source, the alert sink and the HTTP server
//! together, and shuts them down in order (sources first, so every accepted sample is processed and every
//! alert stored before the process exits).

use crate::alerts::AlertSink;
use crate::api::{AppState, app};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::store::AlertStore;
use anyhow::Context;
use connectors::mqtt::{SourceStats, run_mqtt_source};
use connectors::run_opcua_source;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Runs the server until `shutdown` turns true. `on_listening` is told the HTTP address once it accepts
/// connections (the port may have been 0).
pub async fn serve(
    config: Config,
    shutdown: watch::Receiver<bool>,
    on_listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let store = AlertStore::connect(&config.database.url, config.database.max_connections)
        .await
        .context("failed to open the alert store")?;
    std::fs::create_dir_all(&config.archive.dir)
        .with_context(|| format!("failed to create archive directory `{}`", config.archive.dir.display()))?;
    let metrics = Arc::new(Metrics::new());
    let pipeline = Pipeline::start(&config, metrics.clone())?;
    let source_stats = Arc::new(SourceStats::default());

    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("failed to listen on `{}`", config.http.listen))?;
    let http_addr = listener.local_addr().context("failed to read the HTTP address")?;
    let state = AppState {
        store: store.clone(),
        board: pipeline.board.clone(),
        metrics: metrics.clone(),
        rejects: pipeline.rejects.clone(),
        source_stats: source_stats.clone(),
        feedback: pipeline.feedback.clone(),
    };
    // The API stays up while the pipeline drains and stops last.
    let (http_stop, mut http_stopped) = watch::channel(false);
    let http = tokio::spawn(async move {
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async move {
                let _ = http_stopped.wait_for(|stop| *stop).await;
            })
            .await
    });

    let sink = AlertSink {
        store: store.clone(),
        archive_dir: config.archive.dir.clone(),
        metrics,
        board: pipeline.board.clone(),
        shutdown: shutdown.clone(),
    };
    let sink = tokio::spawn(sink.run(pipeline.events));
    // Every source holds a clone of the ingest sender; the pipeline drains once all have returned.
    let mut sources = tokio::task::JoinSet::new();
    if let Some(mqtt) = config.mqtt.clone() {
        let (ingest, stats, shutdown) = (pipeline.ingest.clone(), source_stats.clone(), shutdown.clone());
        sources
            .spawn(async move { run_mqtt_source(mqtt, ingest, stats, shutdown).await.context("MQTT source failed") });
    }
    if let Some(opcua) = config.opcua.clone() {
        let (ingest, stats, shutdown) = (pipeline.ingest.clone(), source_stats.clone(), shutdown.clone());
        sources.spawn(
            async move { run_opcua_source(opcua, ingest, stats, shutdown).await.context("OPC-UA source failed") },
        );
    }
    drop(pipeline.ingest);
    tracing::info!(
        http = %http_addr,
        mqtt = config.mqtt.as_ref().map_or("off", |m| m.url.as_str()),
        opcua = config.opcua.as_ref().map_or("off", |o| o.endpoint_url.as_str()),
        assets = config.assets.len(),
        "spikewatch is running"
    );
    on_listening(http_addr);

    // Sources return at shutdown (or at once on a configuration error); when the last one has dropped
    // its sender the pipeline drains, which closes the alert queue, which ends the sink.
    let mut source_result = Ok(());
    while let Some(joined) = sources.join_next().await {
        let result = joined.context("source task failed").and_then(|r| r);
        if let Err(err) = &result {
            tracing::error!(error = %format!("{err:#}"), "a source stopped");
        }
        source_result = source_result.and(result);
    }
    pipeline.handle.join().await;
    sink.await.context("alert sink task failed")?;
    let _ = http_stop.send(true);
    http.await.context("HTTP task failed")?.context("HTTP server failed")?;
    store.close().await;
    source_result?;
    tracing::info!("spikewatch stopped");
    Ok(())
}
