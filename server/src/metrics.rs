//! Every Prometheus metric spikewatch exports, declared in one place.
//!
//! Names follow `spikewatch_<subsystem>_<name>_<unit>`; labels are bounded (a reason, a severity, a queue),
//! never an asset id.

use connectors::ingest::RejectReason;
use connectors::mqtt::SourceStats;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

pub struct Metrics {
    registry: Registry,
    pub messages_received: IntCounter,
    pub bytes_received: IntCounter,
    pub source_connections: IntCounter,
    pub source_connection_errors: IntCounter,
    pub backpressure_dropped: IntCounter,
    pub duplicates: IntCounter,
    pub rejected: IntCounterVec,
    pub samples_processed: IntCounter,
    pub spikes: IntCounter,
    pub synaptic_events: IntCounter,
    pub alerts_raised: IntCounterVec,
    pub alerts_resolved: IntCounter,
    pub queue_depth: IntGaugeVec,
    pub step_duration: Histogram,
    pub assets: IntGaugeVec,
    pub store_errors: IntCounterVec,
    pub archive_windows: IntCounter,
    pub archive_errors: IntCounter,
    /// Last values read from the connector's atomics, so that scrapes add only what is new.
    source_seen: Mutex<[u64; 6]>,
}

/// Every metric name this module declares; the Grafana dashboards may use only these (checked by a test).
pub const METRIC_NAMES: &[&str] = &[
    "spikewatch_ingest_messages_received_total",
    "spikewatch_ingest_received_bytes_total",
    "spikewatch_ingest_connections_total",
    "spikewatch_ingest_connection_errors_total",
    "spikewatch_ingest_backpressure_dropped_total",
    "spikewatch_ingest_duplicates_total",
    "spikewatch_ingest_rejected_total",
    "spikewatch_pipeline_samples_processed_total",
    "spikewatch_engine_spikes_total",
    "spikewatch_engine_synaptic_events_total",
    "spikewatch_alerts_raised_total",
    "spikewatch_alerts_resolved_total",
    "spikewatch_pipeline_queue_depth",
    "spikewatch_engine_step_duration_seconds",
    "spikewatch_assets",
    "spikewatch_store_errors_total",
    "spikewatch_archive_windows_written_total",
    "spikewatch_archive_errors_total",
];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let step_duration = Histogram::with_opts(
            HistogramOpts::new(
                "spikewatch_engine_step_duration_seconds",
                "Time to step one asset model on one reading",
            )
            .buckets(vec![1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]),
        )
        .expect("valid metric");
        registry.register(Box::new(step_duration.clone())).expect("unique metric");

        let metrics = Metrics {
            messages_received: counter("spikewatch_ingest_messages_received_total", "Messages received from sources"),
            bytes_received: counter("spikewatch_ingest_received_bytes_total", "Payload bytes received from sources"),
            source_connections: counter("spikewatch_ingest_connections_total", "Successful connections to sources"),
            source_connection_errors: counter(
                "spikewatch_ingest_connection_errors_total",
                "Failed or lost connections to sources",
            ),
            backpressure_dropped: counter(
                "spikewatch_ingest_backpressure_dropped_total",
                "Inputs a source discarded, oldest first, because the pipeline fell behind",
            ),
            duplicates: counter(
                "spikewatch_ingest_duplicates_total",
                "Redelivered readings a source recognised and did not hand on again",
            ),
            rejected: counter_vec("spikewatch_ingest_rejected_total", "Inputs rejected, by reason", &["reason"]),
            samples_processed: counter(
                "spikewatch_pipeline_samples_processed_total",
                "Samples stepped through a model",
            ),
            spikes: counter("spikewatch_engine_spikes_total", "Spikes emitted by encoders and neurons"),
            synaptic_events: counter("spikewatch_engine_synaptic_events_total", "Synaptic events delivered"),
            alerts_raised: counter_vec("spikewatch_alerts_raised_total", "Alerts raised, by severity", &["severity"]),
            alerts_resolved: counter("spikewatch_alerts_resolved_total", "Alerts resolved by the model"),
            queue_depth: gauge_vec("spikewatch_pipeline_queue_depth", "Items waiting in a pipeline queue", &["queue"]),
            step_duration,
            assets: gauge_vec("spikewatch_assets", "Assets by state", &["state"]),
            store_errors: counter_vec("spikewatch_store_errors_total", "Failed database operations", &["op"]),
            archive_windows: counter("spikewatch_archive_windows_written_total", "Parquet window files written"),
            archive_errors: counter("spikewatch_archive_errors_total", "Parquet window files that failed to write"),
            registry,
            source_seen: Mutex::new([0; 6]),
        };
        // Pre-create every bounded label value so dashboards see zeros rather than gaps.
        for reason in RejectReason::ALL {
            metrics.rejected.with_label_values(&[reason.as_str()]);
        }
        for severity in ["warning", "critical"] {
            metrics.alerts_raised.with_label_values(&[severity]);
        }
        metrics
    }

    /// Adds what the connector counted since the last call.
    pub fn absorb_source_stats(&self, stats: &SourceStats) {
        let now = [
            stats.messages_received.load(Ordering::Relaxed),
            stats.bytes_received.load(Ordering::Relaxed),
            stats.connections.load(Ordering::Relaxed),
            stats.connection_errors.load(Ordering::Relaxed),
            stats.backpressure_dropped.load(Ordering::Relaxed),
            stats.duplicates.load(Ordering::Relaxed),
        ];
        let mut seen = self.source_seen.lock().expect("metrics lock");
        let targets = [
            &self.messages_received,
            &self.bytes_received,
            &self.source_connections,
            &self.source_connection_errors,
            &self.backpressure_dropped,
            &self.duplicates,
        ];
        for ((counter, now), seen) in targets.into_iter().zip(now).zip(seen.iter_mut()) {
            counter.inc_by(now.saturating_sub(*seen));
            *seen = now;
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_name_is_exported_and_nothing_else() {
        let metrics = Metrics::new();
        metrics.queue_depth.with_label_values(&["ingest"]).set(0);
        metrics.assets.with_label_values(&["learning"]).set(0);
        metrics.store_errors.with_label_values(&["insert_alert"]).inc();
        metrics.step_duration.observe(0.001);
        let exported: Vec<String> = metrics.registry.gather().iter().map(|f| f.name().to_owned()).collect();
        for name in METRIC_NAMES {
            assert!(exported.iter().any(|e| e == name), "{name} is declared but not exported");
        }
        for name in &exported {
            assert!(METRIC_NAMES.contains(&name.as_str()), "{name} is exported but not declared");
            assert!(name.starts_with("spikewatch_"));
        }
    }

    #[test]
    fn source_stats_are_added_once() {
        let metrics = Metrics::new();
        let stats = SourceStats::default();
        stats.messages_received.store(5, Ordering::Relaxed);
        metrics.absorb_source_stats(&stats);
        metrics.absorb_source_stats(&stats);
        assert_eq!(metrics.messages_received.get(), 5);
        stats.messages_received.store(7, Ordering::Relaxed);
        stats.backpressure_dropped.store(3, Ordering::Relaxed);
        stats.duplicates.store(2, Ordering::Relaxed);
        metrics.absorb_source_stats(&stats);
        metrics.absorb_source_stats(&stats);
        assert_eq!(metrics.messages_received.get(), 7);
        assert_eq!((metrics.backpressure_dropped.get(), metrics.duplicates.get()), (3, 2));
        let text = metrics.render();
        assert!(text.contains("spikewatch_ingest_backpressure_dropped_total 3"), "{text}");
        assert!(text.contains("spikewatch_ingest_duplicates_total 2"), "{text}");
        assert!(metrics.render().contains("spikewatch_ingest_rejected_total{reason=\"non_finite\"} 0"));
    }

    #[test]
    fn dashboards_use_only_declared_metrics() {
        let dashboard = include_str!("../../dashboards/grafana/spikewatch.json");
        let mut used = 0;
        for (start, _) in dashboard.match_indices("spikewatch_") {
            let name: String = dashboard[start..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(&name);
            if name == "spikewatch_" {
                continue;
            }
            assert!(METRIC_NAMES.contains(&base), "the dashboard uses `{name}`, which is not declared");
            used += 1;
        }
        assert!(used >= 10, "the dashboard shows only {used} metrics");
    }
}
