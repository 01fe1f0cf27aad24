//! Export and import: a portable archive of a project — its configuration, documents, chunks
//! and vectors — as JSON lines (a header line, then one line per chunk with its vector in
//! base64 little-endian f32), so an import never re-embeds. Documented in docs/api.md.

use std::collections::{HashMap, HashSet};

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use serde::{Deserialize, Serialize};
use snapkb_core::{
    Action, ChunkingConfig, CompactionConfig, EmbeddingConfig, IndexConfig, Principal, Project,
    Quotas, RateLimits, Scope,
};
use snapkb_index::{ChunkRecord, Metadata};

use crate::{
    CreateProject, Engine, EngineError,
    commit::Change,
    cpu::Deadline,
    state::{DocInfo, ProjectState, user_metadata},
    sync::read,
};

pub const EXPORT_FORMAT: &str = "snapkb-export";
pub const EXPORT_FORMAT_VERSION: u32 = 1;
/// Chunks per write-ahead segment when importing.
const IMPORT_BATCH: usize = 50_000;

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

    /// Creates project `new_id` from an archive. Everything is validated before the project is
    /// created; the project stays unseen until its last batch is committed, and if a write
    /// fails what was written is removed (after a crash, by a sweep a day later).
    pub async fn import(
        &self,
        principal: &Principal,
        new_id: &str,
        archive: &[u8],
    ) -> Result<(Project, u64), EngineError> {
        self.require_deployment_admin(principal)?;
        let text = std::str::from_utf8(archive).map_err(|e| {
            EngineError::invalid("archive", format!("not UTF-8 at byte {}", e.valid_up_to()))
        })?;
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, first) = lines
            .next()
            .ok_or_else(|| EngineError::invalid("archive", "is empty"))?;
        let header: ExportHeader = serde_json::from_str(first)
            .map_err(|e| EngineError::invalid("archive.header", e.to_string()))?;
        if header.format != EXPORT_FORMAT || header.format_version != EXPORT_FORMAT_VERSION {
            return Err(EngineError::invalid(
                "archive.header.format",
                format!("expected {EXPORT_FORMAT} version {EXPORT_FORMAT_VERSION}"),
            ));
        }
        let dims = header.embedding.dims as usize;
        let mut rows: Vec<(ChunkRecord, Vec<f32>)> = Vec::new();
        let mut ids = HashSet::new();
        let mut docs: HashMap<String, ((u64, String, u64), usize)> = HashMap::new();
        for (n, line) in lines {
            let field = format!("archive.line[{}]", n + 1);
            let chunk: ExportChunk = serde_json::from_str(line)
                .map_err(|e| EngineError::invalid(&field, e.to_string()))?;
            let raw = B64
                .decode(&chunk.vector)
                .map_err(|e| EngineError::invalid(format!("{field}.vector"), e.to_string()))?;
            if raw.len() != dims * 4 {
                return Err(EngineError::invalid(
                    format!("{field}.vector"),
                    format!("must hold {dims} f32 values"),
                ));
            }
            let vector: Vec<f32> = raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if vector.iter().any(|x| !x.is_finite()) {
                return Err(EngineError::invalid(
                    format!("{field}.vector"),
                    "holds a value that is not finite",
                ));
            }
            if !chunk.id.starts_with(&format!("{}#", chunk.document_id))
                || chunk.document_id.is_empty()
            {
                return Err(EngineError::invalid(
                    format!("{field}.id"),
                    "must be `{document_id}#…`",
                ));
            }
            if !ids.insert(chunk.id.clone()) {
                return Err(EngineError::invalid(format!("{field}.id"), "appears twice"));
            }
            snapkb_embed::check_id(&chunk.document_id)
                .map_err(|e| EngineError::invalid(format!("{field}.document_id"), e.to_string()))?;
            self.check_imported_attributes(&field, &chunk)?;
            // Every chunk of a document must tell the same version, hash and size: the
            // counts derived from them later must add up.
            let doc = (chunk.doc.version, chunk.doc.sha256.clone(), chunk.doc.bytes);
            let (seen, count) = docs
                .entry(chunk.document_id.clone())
                .or_insert((doc.clone(), 0));
            *count += 1;
            if *seen != doc {
                return Err(EngineError::invalid(
                    format!("{field}.doc"),
                    "disagrees with another chunk of the same document",
                ));
            }
            if *count > self.config.limits.max_chunks_per_document {
                return Err(EngineError::invalid(
                    format!("{field}.document_id"),
                    format!(
                        "has more than {} chunks",
                        self.config.limits.max_chunks_per_document
                    ),
                ));
            }
            let mut metadata = chunk.metadata;
            if metadata
                .keys()
                .any(|k| k.starts_with(crate::state::DOC_META_KEY))
            {
                return Err(EngineError::invalid(
                    format!("{field}.metadata"),
                    "uses a reserved key",
                ));
            }
            DocInfo {
                version: chunk.doc.version,
                sha256: chunk.doc.sha256,
                bytes: chunk.doc.bytes,
                ordinal: chunk.doc.ordinal,
            }
            .write(&mut metadata);
            rows.push((
                ChunkRecord {
                    id: chunk.id,
                    document_id: chunk.document_id,
                    text: chunk.text,
                    metadata,
                    tags: chunk.tags,
                },
                vector,
            ));
        }
        let (project, _) = self
            .create_project_item(
                principal,
                CreateProject {
                    id: new_id.to_string(),
                    name: Some(header.name.clone()),
                    embedding: Some(header.embedding.clone()),
                    chunking: Some(header.chunking),
                    index: Some(header.index),
                    quotas: Some(header.quotas),
                    rate_limits: Some(header.rate_limits),
                    compaction: Some(header.compaction),
                },
                Some(snapkb_core::now_ms()),
            )
            .await?;
        let result = self
            .import_rows(
                &project,
                rows,
                docs.len() as u64,
                docs.values().map(|((_, _, bytes), _)| bytes).sum(),
                principal,
            )
            .await;
        let finished = match result {
            Ok(version) => self.finish_import(new_id).await.map(|p| (p, version)),
            Err(e) => Err(e),
        };
        if finished.is_err() {
            // Nobody has seen it; what was written goes now (or with a later sweep).
            let _ = self.remove_project(new_id).await;
        }
        finished
    }

    /// An imported chunk's metadata and tags against the limits ingest applies.
    fn check_imported_attributes(
        &self,
        field: &str,
        chunk: &ExportChunk,
    ) -> Result<(), EngineError> {
        let limits = &self.config.limits;
        let metadata_bytes = serde_json::to_vec(&chunk.metadata)
            .map_err(|e| EngineError::invalid(format!("{field}.metadata"), e.to_string()))?
            .len();
        if chunk.metadata.len() > limits.max_metadata_keys
            || metadata_bytes > limits.max_metadata_bytes
        {
            return Err(EngineError::invalid(
                format!("{field}.metadata"),
                format!(
                    "at most {} keys and {} bytes are allowed",
                    limits.max_metadata_keys, limits.max_metadata_bytes
                ),
            ));
        }
        if chunk.tags.len() > limits.max_tags
            || chunk.tags.iter().any(|t| t.is_empty() || t.len() > 128)
        {
            return Err(EngineError::invalid(
                format!("{field}.tags"),
                format!(
                    "at most {} tags of 1 to 128 bytes are allowed",
                    limits.max_tags
                ),
            ));
        }
        Ok(())
    }

    async fn import_rows(
        &self,
        project: &Project,
        rows: Vec<(ChunkRecord, Vec<f32>)>,
        documents: u64,
        bytes: u64,
        principal: &Principal,
    ) -> Result<u64, EngineError> {
        let mut version = self.read_manifest(&project.id).await?.version;
        let total = rows.len() as u64;
        let mut done = 0u64;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<_> = rows.by_ref().take(IMPORT_BATCH).collect();
            done += batch.len() as u64;
            let last = done == total;
            let base = self.read_manifest(&project.id).await?;
            let change = Change {
                rows: batch,
                tombstones: Vec::new(),
                // Counts land with the last batch; until then the project is new and unseen.
                documents: if last { documents } else { 0 },
                chunks: done,
                bytes: if last { bytes } else { 0 },
                claim: None,
            };
            version = self
                .commit_change(
                    &base,
                    change,
                    Action::Import,
                    principal.actor(),
                    serde_json::json!({"chunks": done}),
                )
                .await?
                .ok_or_else(|| EngineError::Conflict("the project changed during import".into()))?;
        }
        Ok(version)
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
