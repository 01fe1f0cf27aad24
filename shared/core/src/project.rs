//! Projects (tenants) and their configuration: which vectors they hold (a model, or the
//! caller's own of a given size), how documents are chunked, index parameters, quotas, rate
//! limits and when the write-ahead log is compacted. Defaults suit a small knowledge base.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Metric};

/// The model id of all-MiniLM-L6-v2 (same string the embed crate records).
pub(crate) const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub embedding: EmbeddingConfig,
    pub chunking: ChunkingConfig,
    /// How text becomes keyword terms; chosen at creation (projects made before it: English).
    #[serde(default)]
    pub keyword: KeywordConfig,
    pub index: IndexConfig,
    pub quotas: Quotas,
    pub rate_limits: RateLimits,
    pub compaction: CompactionConfig,
    pub created_at: u64,
    /// Secret for signed inbound webhooks (HMAC-SHA256), hex.
    pub webhook_secret: String,
    /// Which incarnation of the id this is: random, new each time a project is created, and
    /// carried by its manifest and its keys, so no cache or key of a deleted project with the
    /// same id is ever taken for this one. Empty for projects made before generations.
    #[serde(default)]
    pub generation: String,
    /// Set while the project's data is being removed; the id stays taken until it is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<u64>,
    /// Set while an import fills the project: until its last commit nobody sees it, and an
    /// import that never finishes is removed like a deleted project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importing_since: Option<u64>,
}

impl Project {
    /// Whether callers may see the project: not being deleted, not being imported.
    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none() && self.importing_since.is_none()
    }
}

/// Where vectors come from. With `model` set the project embeds text itself and callers may
/// still send vectors of the same size; without, every chunk must come with a vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub model: Option<String>,
    pub dims: u32,
    #[serde(default)]
    pub metric: Metric,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            model: Some(MINILM.into()),
            dims: 384,
            metric: Metric::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkingConfig {
    pub max_pieces: u32,
    pub overlap_pieces: u32,
}

/// No overlap by default: chunks end at sentence and paragraph boundaries inside sections, and
/// on the PostgreSQL dev set 254 / 0 ranked best in hybrid mode of 254 / 0, 254 / 16, 254 / 32
/// and 128 / 16, with 4 % fewer chunks than 254 / 32 (docs/retrieval.md). Projects keep what
/// they were created with.
impl Default for ChunkingConfig {
    fn default() -> Self {
        Self {
            max_pieces: 254,
            overlap_pieces: 0,
        }
    }
}

/// Keyword search settings, fixed when the project is created (its manifest records them, so
/// every instance builds the same index).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct KeywordConfig {
    pub stemmer: Stemmer,
}

/// How keyword search folds word forms together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stemmer {
    /// English: stop words dropped, Snowball stems (`vacuuming` finds `vacuumed`).
    #[default]
    English,
    /// Words as written (lowercased), none dropped: for text that is not English.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    pub m: u32,
    pub ef_construction: u32,
    /// Search breadth used when a query does not give one.
    pub ef_search: u32,
    /// Chunks are spread over this many shards by a hash of their id.
    pub shards: u32,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            shards: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    pub max_documents: u64,
    pub max_chunks: u64,
    /// Bytes of document text.
    pub max_bytes: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            max_documents: 1_000_000,
            max_chunks: 5_000_000,
            max_bytes: 10 << 30,
        }
    }
}

/// Fixed-window request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub window_seconds: u32,
    pub per_key: u32,
    pub per_project: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            window_seconds: 60,
            per_key: 60_000,
            per_project: 300_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionConfig {
    /// Compact when the write-ahead log has more segments than this…
    pub max_wal_segments: u32,
    /// …or more chunks than this.
    pub max_wal_chunks: u32,
    /// Rebuild the graph instead of inserting when this fraction of it is deleted.
    pub rebuild_deleted_fraction: f64,
    /// Manifest versions kept for rollback; older snapshots are garbage-collected.
    pub retain_versions: u32,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self {
            max_wal_segments: 64,
            max_wal_chunks: 20_000,
            rebuild_deleted_fraction: 0.2,
            retain_versions: 20,
        }
    }
}

/// Fields a PATCH may change. The vector space (model, dims, metric) and shard count are fixed
/// at creation: changing them would need re-embedding or re-sharding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub quotas: Option<Quotas>,
    pub rate_limits: Option<RateLimits>,
    pub compaction: Option<CompactionConfig>,
    pub chunking: Option<ChunkingConfig>,
    pub ef_search: Option<u32>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Ids that name a route under `/v1/projects/` (`POST /v1/projects/import`): a project with one
/// of them could be created but never read or deleted.
pub const RESERVED_PROJECT_IDS: &[&str] = &["import"];

/// Project ids appear in URLs and object keys: 1–63 of `a-z 0-9 -`, starting with a letter or
/// digit, and not one of [`RESERVED_PROJECT_IDS`].
pub fn validate_project_id(id: &str) -> Result<(), ConfigError> {
    if RESERVED_PROJECT_IDS.contains(&id) {
        return Err(invalid(
            "id",
            format!("`{id}` is reserved (it names a route under /v1/projects/)"),
        ));
    }
    let ok = !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "id",
            "must be 1 to 63 characters of a-z, 0-9 and `-`, not starting with `-`",
        ))
    }
}

impl Project {
    /// Checks every field a caller can set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_project_id(&self.id)?;
        if self.name.is_empty() || self.name.len() > 200 {
            return Err(invalid("name", "must be 1 to 200 bytes"));
        }
        let e = &self.embedding;
        if !(1..=4096).contains(&e.dims) {
            return Err(invalid("embedding.dims", "must be 1 to 4096"));
        }
        if let Some(model) = &e.model {
            if model != MINILM && model != "all-MiniLM-L6-v2" {
                return Err(invalid(
                    "embedding.model",
                    format!(
                        "unknown model `{model}`; use all-MiniLM-L6-v2 or null for your own vectors"
                    ),
                ));
            }
            if e.dims != 384 {
                return Err(invalid(
                    "embedding.dims",
                    "all-MiniLM-L6-v2 makes 384-dimensional vectors",
                ));
            }
        }
        let c = &self.chunking;
        if !(16..=510).contains(&c.max_pieces) || c.overlap_pieces >= c.max_pieces / 2 {
            return Err(invalid(
                "chunking",
                "max_pieces must be 16 to 510 and overlap_pieces less than half of it",
            ));
        }
        let i = &self.index;
        if !(4..=64).contains(&i.m) {
            return Err(invalid("index.m", "must be 4 to 64"));
        }
        if !(i.m..=2000).contains(&i.ef_construction) {
            return Err(invalid("index.ef_construction", "must be m to 2000"));
        }
        if !(1..=4096).contains(&i.ef_search) {
            return Err(invalid("index.ef_search", "must be 1 to 4096"));
        }
        if !(1..=64).contains(&i.shards) {
            return Err(invalid("index.shards", "must be 1 to 64"));
        }
        let r = &self.rate_limits;
        if !(1..=3600).contains(&r.window_seconds) || r.per_key == 0 || r.per_project == 0 {
            return Err(invalid(
                "rate_limits",
                "window_seconds must be 1 to 3600 and the limits at least 1",
            ));
        }
        let k = &self.compaction;
        if k.max_wal_segments == 0
            || k.max_wal_chunks == 0
            || !(0.01..=0.9).contains(&k.rebuild_deleted_fraction)
            || k.retain_versions == 0
        {
            return Err(invalid(
                "compaction",
                "segment and chunk limits and retain_versions must be at least 1, rebuild_deleted_fraction 0.01 to 0.9",
            ));
        }
        Ok(())
    }

    /// Applies a patch, validating the result.
    pub fn patched(&self, patch: ProjectPatch) -> Result<Project, ConfigError> {
        let mut p = self.clone();
        if let Some(name) = patch.name {
            p.name = name;
        }
        if let Some(q) = patch.quotas {
            p.quotas = q;
        }
        if let Some(r) = patch.rate_limits {
            p.rate_limits = r;
        }
        if let Some(c) = patch.compaction {
            p.compaction = c;
        }
        if let Some(c) = patch.chunking {
            p.chunking = c;
        }
        if let Some(ef) = patch.ef_search {
            p.index.ef_search = ef;
        }
        p.validate()?;
        Ok(p)
    }

    /// The first setting `updated` loosens relative to `self`, by its field name: a higher
    /// quota or rate limit, a different rate window, compaction that runs more often or keeps
    /// more versions. A project's own admin keys may only tighten these; loosening them is the
    /// deployment admin's, since they are what keeps one tenant from using up the deployment.
    pub fn loosened(&self, updated: &Project) -> Option<&'static str> {
        let (q, u) = (&self.quotas, &updated.quotas);
        let (r, v) = (&self.rate_limits, &updated.rate_limits);
        let (c, d) = (&self.compaction, &updated.compaction);
        [
            ("quotas.max_documents", u.max_documents > q.max_documents),
            ("quotas.max_chunks", u.max_chunks > q.max_chunks),
            ("quotas.max_bytes", u.max_bytes > q.max_bytes),
            (
                "rate_limits.window_seconds",
                v.window_seconds != r.window_seconds,
            ),
            ("rate_limits.per_key", v.per_key > r.per_key),
            ("rate_limits.per_project", v.per_project > r.per_project),
            (
                "compaction.max_wal_segments",
                d.max_wal_segments < c.max_wal_segments,
            ),
            (
                "compaction.max_wal_chunks",
                d.max_wal_chunks < c.max_wal_chunks,
            ),
            (
                "compaction.rebuild_deleted_fraction",
                d.rebuild_deleted_fraction < c.rebuild_deleted_fraction,
            ),
            (
                "compaction.retain_versions",
                d.retain_versions > c.retain_versions,
            ),
        ]
        .into_iter()
        .find_map(|(field, loosened)| loosened.then_some(field))
    }

    /// The canonical model id (`None` for caller vectors).
    pub fn model_id(&self) -> Option<&str> {
        self.embedding.model.as_ref().map(|_| MINILM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            id: "docs".into(),
            name: "Docs".into(),
            embedding: EmbeddingConfig::default(),
            chunking: ChunkingConfig::default(),
            keyword: KeywordConfig::default(),
            index: IndexConfig::default(),
            quotas: Quotas::default(),
            rate_limits: RateLimits::default(),
            compaction: CompactionConfig::default(),
            created_at: 0,
            webhook_secret: String::new(),
            generation: String::new(),
            importing_since: None,
            deleted_at: None,
        }
    }

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        project().validate().unwrap();
        let mut p = project();
        p.embedding.dims = 0;
        assert!(matches!(
            p.validate(),
            Err(ConfigError::Invalid {
                field: "embedding.dims",
                ..
            })
        ));
        let mut p = project();
        p.id = "Bad_Id".into();
        assert!(matches!(
            p.validate(),
            Err(ConfigError::Invalid { field: "id", .. })
        ));
        let mut p = project();
        p.embedding = EmbeddingConfig {
            model: None,
            dims: 768,
            metric: Metric::Dot,
        };
        p.validate().unwrap();
    }

    #[test]
    fn patches_change_only_mutable_fields_and_are_validated() {
        let p = project();
        let patched = p
            .patched(ProjectPatch {
                name: Some("Renamed".into()),
                ef_search: Some(128),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(patched.name, "Renamed");
        assert_eq!(patched.index.ef_search, 128);
        assert_eq!(patched.embedding, p.embedding);
        assert!(
            p.patched(ProjectPatch {
                ef_search: Some(0),
                ..Default::default()
            })
            .is_err()
        );
    }
}
