//! Rejected input: counted per reason, logged at a bounded rate, and the latest kept for inspection.

use crate::metrics::Metrics;
use connectors::ingest::{RejectReason, Rejection};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many recent rejections `GET /api/v1/ingest/rejects` can show.
const KEPT: usize = 100;
/// At most one log line per reason in this interval; the rest are summed into the next line.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize)]
pub struct RejectView {
    pub reason: &'static str,
    pub source: String,
    pub detail: String,
    /// Wall-clock time of the rejection, RFC 3339.
    pub at: String,
}

pub struct RejectLog {
    metrics: Arc<Metrics>,
    recent: Mutex<VecDeque<RejectView>>,
    /// Per reason (index into `RejectReason::ALL`): when it was last logged and how many were not logged since.
    throttle: Mutex<[(Option<Instant>, u64); RejectReason::ALL.len()]>,
}

impl RejectLog {
    pub fn new(metrics: Arc<Metrics>) -> RejectLog {
        RejectLog {
            metrics,
            recent: Mutex::new(VecDeque::with_capacity(KEPT)),
            throttle: Mutex::new([(None, 0); RejectReason::ALL.len()]),
        }
    }

    pub fn record(&self, rejection: &Rejection) {
        self.metrics.rejected.with_label_values(&[rejection.reason.as_str()]).inc();
        {
            let mut recent = self.recent.lock().expect("reject log lock");
            if recent.len() == KEPT {
                recent.pop_front();
            }
            recent.push_back(RejectView {
                reason: rejection.reason.as_str(),
                source: rejection.source.clone(),
                detail: rejection.detail.clone(),
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
        }
        let index = RejectReason::ALL.iter().position(|r| *r == rejection.reason).expect("ALL lists every reason");
        let mut throttle = self.throttle.lock().expect("reject log lock");
        let (last, suppressed) = &mut throttle[index];
        if last.is_none_or(|t| t.elapsed() >= LOG_INTERVAL) {
            tracing::warn!(reason = rejection.reason.as_str(), source = %rejection.source, suppressed = *suppressed, "{}", rejection.detail);
            *last = Some(Instant::now());
            *suppressed = 0;
        } else {
            *suppressed += 1;
        }
    }

    /// The most recent rejections, newest first.
    pub fn recent(&self) -> Vec<RejectView> {
        self.recent.lock().expect("reject log lock").iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_is_counted_and_the_newest_are_kept() {
        let metrics = Arc::new(Metrics::new());
        let log = RejectLog::new(metrics.clone());
        for i in 0..(KEPT + 5) {
            log.record(&Rejection::new(RejectReason::Malformed, format!("t/{i}"), "bad json"));
        }
        log.record(&Rejection::new(RejectReason::NonFinite, "t/x", "NaN"));
        assert_eq!(metrics.rejected.with_label_values(&["malformed"]).get(), (KEPT + 5) as u64);
        assert_eq!(metrics.rejected.with_label_values(&["non_finite"]).get(), 1);
        let recent = log.recent();
        assert_eq!(recent.len(), KEPT);
        assert_eq!((recent[0].reason, recent[0].source.as_str()), ("non_finite", "t/x"));
        assert_eq!(recent[1].source, format!("t/{}", KEPT + 4));
    }
}
