//! snapkb's domain: projects and their configuration, API keys and scopes, the manifest that
//! names a project's committed index state, typed configuration, and the policies (quotas, rate
//! windows) that every entry point applies the same way. Plain data and pure functions: no I/O.

mod config;
mod keys;
mod manifest;
mod policy;
mod project;
mod time;

pub use crate::{
    config::{Config, ConfigError, HostSettings, Limits},
    keys::{
        ApiKey, KeyToken, Principal, Scope, generate_secret, hash_secret, new_key_id, parse_token,
        random_hex, random_u64, secrets_match,
    },
    manifest::{Action, Manifest, Metric, SegmentRef, ShardState, SnapshotRef},
    policy::{QuotaExceeded, RateWindow, check_quotas},
    project::{
        ChunkingConfig, CompactionConfig, EmbeddingConfig, IndexConfig, KeywordConfig, Project,
        ProjectPatch, Quotas, RESERVED_PROJECT_IDS, RateLimits, Stemmer, validate_project_id,
    },
    time::now_ms,
};
