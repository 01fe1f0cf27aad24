//! Export: a portable archive of a project — its configuration, documents, chunks and vectors —
//! as JSON lines (a header line, then one line per chunk with its vector in base64
//! little-endian f32), so an import (import.rs) never re-embeds. Documented in docs/api.md.

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use serde::{Deserialize, Serialize};
use snapkb_core::{
    ChunkingConfig, CompactionConfig, EmbeddingConfig, IndexConfig, Principal, Project, Quotas,
    RateLimits, Scope,
};
use snapkb_index::Metadata;

use crate::{
    Engine, EngineError,
    cpu::Deadline,
    state::{DocInfo, ProjectState, user_metadata},
    sync::read,
};

pub const EXPORT_FORMAT: &str = "snapkb-export";
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// How long building an export may take (it runs off the async workers, in a CPU slot).
const EXPORT_DEADLINE_MS: u64 = 10 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    pub format: String,
    pub format_version: u32,
    pub source_project: String,
    pub version: u64,
    pub name: String,
    pub embedding: EmbeddingConfig,
    pub chunking: ChunkingConfig,
    pub index: IndexConfig,
    pub quotas: Quotas,
    pub rate_limits: RateLimits,
    pub compaction: CompactionConfig,
    pub documents: u64,
    pub chunks: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportDocInfo {
    pub version: u64,
    pub sha256: String,
    pub bytes: u64,
    pub ordinal: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportChunk {
    pub id: String,
    pub document_id: String,
    pub text: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub tags: Vec<String>,
    pub doc: ExportDocInfo,
    /// Little-endian f32, base64.
    pub vector: String,
}

impl Engine {
    /// The archive of a project at its current version.
    pub async fn export(
        &self,
        principal: &Principal,
        project_id: &str,
    ) -> Result<Vec<u8>, EngineError> {
        let project = self.authorize(principal, project_id, Scope::Export).await?;
        let slot = self.state(&project).await?;
        // A private copy at the same version (the bases are shared, the log segments read
        // again), so the O(N) encoding below holds no lock that writers or queries wait on.
        let manifest = read(&slot).manifest.clone();
        let private = self.load_state(manifest, Some(&slot)).await?;
        let deadline = Deadline::after(EXPORT_DEADLINE_MS);
        let exported = project.clone();
        let out = self
            .cpu
            .run(project_id, deadline, move || {
                archive_of(&exported, &private)
            })
            .await?;
        self.log_op(
            project_id,
            principal.actor(),
            "export",
            serde_json::json!({"bytes": out.len()}),
        )
        .await?;
        Ok(out)
    }
}

/// The archive of a loaded index: a header line, then one line per live chunk.
fn archive_of(project: &Project, st: &ProjectState) -> Result<Vec<u8>, EngineError> {
    let header = ExportHeader {
        format: EXPORT_FORMAT.into(),
        format_version: EXPORT_FORMAT_VERSION,
        source_project: project.id.clone(),
        version: st.version(),
        name: project.name.clone(),
        embedding: project.embedding.clone(),
        chunking: project.chunking,
        index: project.index,
        quotas: project.quotas,
        rate_limits: project.rate_limits,
        compaction: project.compaction,
        documents: st.manifest.documents,
        chunks: st.manifest.chunks,
    };
    let mut out = serde_json::to_vec(&header).map_err(|e| EngineError::Internal(e.to_string()))?;
    out.push(b'\n');
    for row in st.live_rows() {
        let (Some(r), Some(v)) = (st.record(row), st.vector(row)) else {
            continue;
        };
        let info = DocInfo::read(&r.metadata).ok_or_else(|| {
            EngineError::Corrupt(format!("chunk {} has no document record", r.id))
        })?;
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let line = ExportChunk {
            id: r.id,
            document_id: r.document_id,
            text: r.text,
            metadata: user_metadata(r.metadata),
            tags: r.tags,
            doc: ExportDocInfo {
                version: info.version,
                sha256: info.sha256,
                bytes: info.bytes,
                ordinal: info.ordinal,
            },
            vector: B64.encode(bytes),
        };
        serde_json::to_writer(&mut out, &line).map_err(|e| EngineError::Internal(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}
