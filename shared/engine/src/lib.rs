//! snapkb's use cases over the storage ports: projects, API keys and authentication, ingest
//! with the commit protocol, queries, compaction, versions and rollback, GC, export and import,
//! health and usage. No runtime, no cloud: hosts hand it stores, an embedder and a trigger for
//! background compaction.

mod access;
mod commit;
mod compact;
mod cpu;
mod embed;
mod embedders;
mod engine;
mod error;
mod export;
mod health;
mod import;
mod ingest;
mod keys;
pub mod layout;
mod oplog;
mod projects;
mod query;
mod query_vectors;
mod ratelimit;
mod records;
mod state;
mod status;
mod sync;
#[cfg(test)]
mod testing;
mod versions;
mod webhooks;

#[cfg(feature = "model")]
pub use crate::embedders::lazy_model::LazyMiniLm;
#[cfg(feature = "tokio")]
pub use crate::engine::TokioPause;
pub use crate::{
    compact::{CompactionReport, ShardCompaction},
    embed::MAX_EMBED_TEXT_BYTES,
    embedders::remote::{
        EmbedInput, EmbedRequest, EmbedResponse, EmbedUsage, EmbeddingItem, MAX_EMBED_TEXTS,
        RemoteEmbedder,
    },
    embedders::{EmbeddingHealth, InlineEmbedder, TextEmbedder},
    engine::{CompactionTrigger, Engine, NoCompactionTrigger, NoPause, Pause},
    error::EngineError,
    export::{
        ArchiveStream, EXPORT_FORMAT, EXPORT_FORMAT_VERSION, EXPORT_LINK_SECONDS, EXPORTS_PREFIX,
        ExportChunk, ExportHeader, ExportLink,
    },
    import::IMPORTS_PREFIX,
    ingest::{
        ChunkInput, DocumentInput, DocumentResult, DocumentStatus, IngestRequest, IngestResponse,
    },
    keys::{CreateKey, CreatedKey, KeyView},
    oplog::{Operation, OperationPage},
    projects::{CreateProject, ProjectStats},
    query::{
        ChunkView, DEFAULT_CANDIDATES, DocumentPage, DocumentView, Fusion, FusionMethod,
        FusionWeights, QueryHit, QueryMode, QueryRequest, QueryResponse,
    },
    ratelimit::{LocalRateLimiter, RateLimiter, RateStatus, TableRateLimiter},
    status::{Health, QueryHealth, QuotaUsage, RateUsage, Usage},
    versions::{GcReport, OPERATIONS_KEPT, SweepReport, VersionPage, VersionView},
    webhooks::{SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookDelivery, sign_webhook},
};
