//! The manifest: the one small record that says what a project's index is at a version — per
//! shard, a base snapshot and the write-ahead segments committed after it — plus the counts
//! quotas are checked against. Every commit replaces it with a conditional write on its version,
//! and a copy is kept per version for rollback.

use serde::{Deserialize, Serialize};

use crate::CompactionConfig;

/// How a project's vectors are compared; fixed when the project is created.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine similarity (vectors are normalized).
    #[default]
    Cosine,
    /// Inner product of the vectors as given.
    Dot,
    /// Euclidean distance.
    L2,
}

/// What made a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Ingest,
    Delete,
    Compact,
    Rollback,
    Import,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Ingest => "ingest",
            Action::Delete => "delete",
            Action::Compact => "compact",
            Action::Rollback => "rollback",
            Action::Import => "import",
        }
    }
}

/// Compares with the wire name (`"rollback"`).
impl PartialEq<&str> for Action {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An immutable snapshot object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub key: String,
    /// The manifest version whose state it captures.
    pub version: u64,
    /// Rows in the snapshot, deleted rows included.
    pub rows: u64,
    pub bytes: u64,
}

/// An immutable write-ahead segment object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRef {
    pub key: String,
    /// The manifest version that committed it.
    pub version: u64,
    pub chunks: u64,
    pub tombstones: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardState {
    pub base: Option<SnapshotRef>,
    /// Oldest first; applied in order on top of `base`.
    pub wal: Vec<SegmentRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub project: String,
    pub version: u64,
    pub action: Action,
    pub committed_at: u64,
    pub model_id: String,
    pub dims: u32,
    pub metric: Metric,
    /// The project's keyword settings, which every instance builds its keyword indexes with
    /// (manifests written before them: English).
    #[serde(default)]
    pub keyword: crate::KeywordConfig,
    pub shards: Vec<ShardState>,
    /// Live documents, live chunks and bytes of document text.
    pub documents: u64,
    pub chunks: u64,
    pub bytes: u64,
    /// The project incarnation this manifest belongs to ([`crate::Project::generation`]).
    #[serde(default)]
    pub generation: String,
}

impl Manifest {
    pub fn wal_segments(&self) -> usize {
        self.shards.iter().map(|s| s.wal.len()).sum()
    }

    pub fn wal_chunks(&self) -> u64 {
        self.shards
            .iter()
            .flat_map(|s| &s.wal)
            .map(|w| w.chunks + w.tombstones)
            .sum()
    }

    /// Every object this version reads.
    pub fn objects(&self) -> impl Iterator<Item = &str> {
        self.shards.iter().flat_map(|s| {
            s.base
                .iter()
                .map(|b| b.key.as_str())
                .chain(s.wal.iter().map(|w| w.key.as_str()))
        })
    }

    /// Whether the log has grown past the project's compaction triggers.
    pub fn needs_compaction(&self, config: &CompactionConfig) -> bool {
        self.shards.iter().any(|s| {
            s.wal.len() > config.max_wal_segments as usize
                || s.wal.iter().map(|w| w.chunks + w.tombstones).sum::<u64>()
                    > u64::from(config.max_wal_chunks)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(key: &str, chunks: u64) -> SegmentRef {
        SegmentRef {
            key: key.into(),
            version: 1,
            chunks,
            tombstones: 0,
            bytes: 10,
        }
    }

    #[test]
    fn compaction_triggers_on_segment_count_or_chunk_count() {
        let mut m = Manifest {
            project: "p".into(),
            version: 3,
            action: Action::Ingest,
            committed_at: 0,
            model_id: "m".into(),
            dims: 4,
            metric: Metric::Cosine,
            keyword: crate::KeywordConfig::default(),
            shards: vec![ShardState {
                base: Some(SnapshotRef {
                    key: "base".into(),
                    version: 1,
                    rows: 5,
                    bytes: 100,
                }),
                wal: vec![segment("a", 5), segment("b", 5)],
            }],
            documents: 0,
            chunks: 0,
            bytes: 0,
            generation: String::new(),
        };
        let config = CompactionConfig {
            max_wal_segments: 2,
            max_wal_chunks: 10,
            ..Default::default()
        };
        assert!(!m.needs_compaction(&config));
        m.shards[0].wal.push(segment("c", 1));
        assert!(m.needs_compaction(&config));
        m.shards[0].wal = vec![segment("a", 11)];
        assert!(m.needs_compaction(&config));
        assert_eq!(m.objects().collect::<Vec<_>>(), vec!["base", "a"]);
    }
}
