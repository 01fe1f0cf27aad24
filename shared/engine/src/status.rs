//! Health (counts, index state, recent query latency and errors, a verdict with reasons) and
//! usage (rate-limit windows, quota use) of a project.

use serde::{Deserialize, Serialize};
use snapkb_core::{Principal, Scope, now_ms};

use crate::{Engine, EngineError, health::HEALTH_WINDOW_MS, ratelimit::RateStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// `healthy` or `degraded`.
    pub status: String,
    pub reasons: Vec<String>,
    pub version: u64,
    pub documents: u64,
    pub chunks: u64,
    pub wal_segments: u64,
    pub wal_chunks: u64,
    pub queries: QueryHealth,
    /// This process's embedding model (absent when it has none measured here).
    pub embedding: Option<crate::EmbeddingHealth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueryHealth {
    pub window_seconds: u64,
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub error_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateUsage {
    pub limit: u32,
    pub remaining: u32,
    pub reset_seconds: u64,
}

impl From<RateStatus> for RateUsage {
    fn from(s: RateStatus) -> Self {
        Self {
            limit: s.limit,
            remaining: s.remaining,
            reset_seconds: s.reset_after,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuotaUsage {
    pub used: u64,
    pub limit: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub rate_limit_key: Option<RateUsage>,
    pub rate_limit_project: RateUsage,
    pub documents: QuotaUsage,
    pub chunks: QuotaUsage,
    pub bytes: QuotaUsage,
}

/// Error rate above which a project is reported degraded (with at least 20 queries).
const DEGRADED_ERROR_RATE: f64 = 0.05;
/// p99 above which a project is reported degraded.
const DEGRADED_P99_MS: f64 = 1000.0;

impl Engine {
    /// Records one query's outcome for health reporting.
    pub fn record_query(&self, project: &str, micros: u64, ok: bool) {
        self.metrics.record(project, now_ms(), micros, ok);
    }

    pub async fn health(
        &self,
        principal: &Principal,
        project: &str,
    ) -> Result<Health, EngineError> {
        let config = self.authorize(principal, project, Scope::Read).await?;
        let m = self.read_manifest(project).await?;
        let q = self.metrics.summary(project, now_ms());
        let mut reasons = Vec::new();
        let c = &config.compaction;
        if m.wal_segments() as u64 > 2 * u64::from(c.max_wal_segments)
            || m.wal_chunks() > 2 * u64::from(c.max_wal_chunks)
        {
            reasons.push(format!(
                "compaction is behind: {} segments, {} chunks in the write-ahead log",
                m.wal_segments(),
                m.wal_chunks()
            ));
        }
        if q.queries >= 20 && q.error_rate > DEGRADED_ERROR_RATE {
            reasons.push(format!(
                "{:.1}% of recent queries failed",
                q.error_rate * 100.0
            ));
        }
        if q.p99_ms > DEGRADED_P99_MS {
            reasons.push(format!("query p99 is {:.0} ms", q.p99_ms));
        }
        Ok(Health {
            status: if reasons.is_empty() {
                "healthy"
            } else {
                "degraded"
            }
            .into(),
            reasons,
            version: m.version,
            documents: m.documents,
            chunks: m.chunks,
            wal_segments: m.wal_segments() as u64,
            wal_chunks: m.wal_chunks(),
            queries: QueryHealth {
                window_seconds: HEALTH_WINDOW_MS / 1000,
                count: q.queries,
                p50_ms: q.p50_ms,
                p99_ms: q.p99_ms,
                error_rate: q.error_rate,
            },
            embedding: self.embedder.as_ref().and_then(|e| e.stats()),
        })
    }

    pub async fn usage(&self, principal: &Principal, project: &str) -> Result<Usage, EngineError> {
        let config = self.authorize(principal, project, Scope::Read).await?;
        let m = self.read_manifest(project).await?;
        let (key, project_rate) = self.access.rate_usage(principal, project).await?;
        Ok(Usage {
            rate_limit_key: key.map(RateUsage::from),
            rate_limit_project: project_rate.into(),
            documents: QuotaUsage {
                used: m.documents,
                limit: config.quotas.max_documents,
            },
            chunks: QuotaUsage {
                used: m.chunks,
                limit: config.quotas.max_chunks,
            },
            bytes: QuotaUsage {
                used: m.bytes,
                limit: config.quotas.max_bytes,
            },
        })
    }
}
