//! Query latency and errors over a recent window, per project, kept in process memory: what
//! `GET /health` reports as p50/p99 and error rate (for this instance).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::sync::lock;

/// How far back health looks.
pub(crate) const HEALTH_WINDOW_MS: u64 = 5 * 60_000;
const MAX_SAMPLES: usize = 20_000;

/// One query: when (ms), how long (µs), whether it succeeded.
type Sample = (u64, u32, bool);

#[derive(Debug, Default)]
pub(crate) struct QueryMetrics {
    samples: Mutex<HashMap<String, VecDeque<Sample>>>,
}

/// Latency percentiles and error rate over the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct QuerySummary {
    pub(crate) queries: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) error_rate: f64,
}

impl QueryMetrics {
    pub(crate) fn record(&self, project: &str, at_ms: u64, micros: u64, ok: bool) {
        let mut samples = lock(&self.samples);
        let q = samples.entry(project.to_string()).or_default();
        q.push_back((at_ms, micros.min(u64::from(u32::MAX)) as u32, ok));
        while q.len() > MAX_SAMPLES || q.front().is_some_and(|s| s.0 + HEALTH_WINDOW_MS < at_ms) {
            q.pop_front();
        }
    }

    pub(crate) fn summary(&self, project: &str, now_ms: u64) -> QuerySummary {
        let samples = lock(&self.samples);
        let mut latencies: Vec<u32> = Vec::new();
        let mut errors = 0usize;
        for &(at, micros, ok) in samples.get(project).into_iter().flatten() {
            if at + HEALTH_WINDOW_MS >= now_ms {
                latencies.push(micros);
                errors += usize::from(!ok);
            }
        }
        latencies.sort_unstable();
        let pct = |p: f64| {
            if latencies.is_empty() {
                0.0
            } else {
                let i =
                    ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
                f64::from(latencies[i]) / 1000.0
            }
        };
        QuerySummary {
            queries: latencies.len(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            error_rate: if latencies.is_empty() {
                0.0
            } else {
                errors as f64 / latencies.len() as f64
            },
        }
    }

    pub(crate) fn forget(&self, project: &str) {
        lock(&self.samples).remove(project);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_error_rate_cover_only_the_window() {
        let m = QueryMetrics::default();
        m.record("p", 0, 50_000, false);
        for i in 1..=100u64 {
            m.record("p", HEALTH_WINDOW_MS + 1000, i * 1000, i % 10 != 0);
        }
        let s = m.summary("p", HEALTH_WINDOW_MS + 1000);
        assert_eq!(s.queries, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert!((s.error_rate - 0.1).abs() < 1e-9);
        assert_eq!(m.summary("other", 0).queries, 0);
    }
}
