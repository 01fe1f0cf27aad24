//! Export: a portable archive of a project — its configuration, documents, chunks and vectors —
//! as JSON lines (a header line, then one line per chunk with its vector in base64
//! little-endian f32), so an import (import.rs) never re-embeds. Documented in docs/api.md.

use std::{pin::Pin, sync::Arc};

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use snapkb_core::{
    ChunkingConfig, CompactionConfig, EmbeddingConfig, IndexConfig, KeywordConfig, Principal,
    Project, Quotas, RateLimits, Scope,
};
use snapkb_index::Metadata;
use snapkb_store::DownloadLinks;

use crate::{
    Engine, EngineError,
    cpu::Deadline,
    state::{DocInfo, ProjectState, RowRef, user_metadata},
    sync::read,
};

pub const EXPORT_FORMAT: &str = "snapkb-export";
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// Where exports delivered by link are written (`exports/<project>/<ms>-<random>.snapkb.jsonl`);
/// the deployment's lifecycle rule removes them after a day.
pub const EXPORTS_PREFIX: &str = "exports/";

/// How long an export's download link works.
pub const EXPORT_LINK_SECONDS: u64 = 15 * 60;

/// A host's store for exports delivered by link.
#[derive(Clone)]
pub(crate) struct Downloads {
    pub(crate) links: Arc<dyn DownloadLinks>,
    pub(crate) by_default: bool,
}

/// An export written to an object, and a link to fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportLink {
    /// A plain `GET` of this URL (no API key) returns the archive, until `expires_at_ms`.
    pub url: String,
    /// When the link stops working (Unix milliseconds). The object itself is removed a day
    /// after it was written.
    pub expires_at_ms: u64,
    /// The archive's key in the deployment's bucket.
    pub object: String,
    /// The archive's size.
    pub bytes: u64,
}

/// How long one batch of an export may wait for its CPU slot and run.
const EXPORT_BATCH_DEADLINE_MS: u64 = 60 * 1000;

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
    /// Archives written before keyword settings: English.
    #[serde(default)]
    pub keyword: KeywordConfig,
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
    /// Title and heading path the chunk was embedded and indexed with (absent when none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub tags: Vec<String>,
    pub doc: ExportDocInfo,
    /// Little-endian f32, base64.
    pub vector: String,
}

/// An archive as it is written: its header line, then batches of chunk lines.
pub type ArchiveStream = Pin<Box<dyn Stream<Item = Result<Bytes, EngineError>> + Send>>;

/// Chunk lines encoded per CPU slot: each batch holds a slot briefly (other queries of the
/// project get theirs in between) and a few MiB of output at most.
const EXPORT_BATCH_ROWS: usize = 1_000;

impl Engine {
    /// The archive of a project at its current version, in memory (tests and small projects;
    /// the HTTP handler streams [`Engine::export_stream`]).
    pub async fn export(
        &self,
        principal: &Principal,
        project_id: &str,
    ) -> Result<Vec<u8>, EngineError> {
        let mut stream = self.export_stream(principal, project_id).await?;
        let mut out = Vec::new();
        while let Some(batch) = stream.next().await {
            out.extend_from_slice(&batch?);
        }
        Ok(out)
    }

    /// The archive of a project at its current version, encoded a batch at a time as the
    /// caller reads it, so an export costs the index it reads plus one batch, not the archive.
    pub async fn export_stream(
        &self,
        principal: &Principal,
        project_id: &str,
    ) -> Result<ArchiveStream, EngineError> {
        let project = self.authorize(principal, project_id, Scope::Export).await?;
        let slot = self.state(&project).await?;
        // A private copy at the same version (the bases are shared, the log segments read
        // again), so the O(N) encoding below holds no lock that writers or queries wait on.
        let manifest = read(&slot).manifest.clone();
        let private = Arc::new(self.load_state(manifest, Some(&slot)).await?);
        let header = header_line(&project, &private)?;
        let rows: Arc<Vec<RowRef>> = Arc::new(private.live_rows().collect());
        self.log_op(
            project_id,
            principal.actor(),
            "export",
            serde_json::json!({"version": private.version(), "chunks": rows.len()}),
        )
        .await?;
        let cpu = self.cpu.clone();
        let project_id = project_id.to_string();
        let batches = futures::stream::unfold(0usize, move |start| {
            let (cpu, project_id) = (cpu.clone(), project_id.clone());
            let (st, rows) = (private.clone(), rows.clone());
            async move {
                let end = rows.len().min(start + EXPORT_BATCH_ROWS);
                if start >= end {
                    return None;
                }
                let deadline = Deadline::after(EXPORT_BATCH_DEADLINE_MS);
                let batch = cpu
                    .run(&project_id, deadline, move || {
                        lines_of(&st, &rows[start..end])
                    })
                    .await;
                // After an error the stream ends: the archive is cut short, which an import
                // notices (the header's chunk count).
                let next = if batch.is_ok() { end } else { usize::MAX };
                Some((batch.map(Bytes::from), next))
            }
        });
        let header = futures::stream::once(std::future::ready(Ok(Bytes::from(header))));
        Ok(Box::pin(header.chain(batches)))
    }
}

impl Engine {
    /// Writes the archive of a project to an object as it is encoded, in parts of the store's
    /// smallest part size (so an export costs one part in memory, whatever its size), and
    /// answers with a short-lived link to it. For hosts that cannot stream large responses.
    pub async fn export_link(
        &self,
        principal: &Principal,
        project_id: &str,
    ) -> Result<ExportLink, EngineError> {
        let links = match &self.downloads {
            Some(d) => d.links.clone(),
            None => {
                return Err(EngineError::invalid(
                    "delivery",
                    "this deployment streams exports; it has no store for download links",
                ));
            }
        };
        let mut archive = self.export_stream(principal, project_id).await?;
        let object = format!(
            "{EXPORTS_PREFIX}{project_id}/{:013}-{}.snapkb.jsonl",
            snapkb_core::now_ms(),
            snapkb_core::random_hex(8)
        );
        let upload = links.start_upload(&object).await?;
        let written = async {
            let part_bytes = links.min_part_bytes();
            let (mut tags, mut part, mut bytes) = (Vec::new(), Vec::new(), 0u64);
            loop {
                let next = archive.next().await.transpose()?;
                if let Some(batch) = &next {
                    bytes += batch.len() as u64;
                    part.extend_from_slice(batch);
                }
                // Every part but the last is at least the store's smallest part.
                let last = next.is_none();
                if part.len() >= part_bytes || (last && (!part.is_empty() || tags.is_empty())) {
                    let number = tags.len() as i32 + 1;
                    let body = Bytes::from(std::mem::take(&mut part));
                    tags.push(links.upload_part(&object, &upload, number, body).await?);
                }
                if last {
                    break;
                }
            }
            links.finish_upload(&object, &upload, tags).await?;
            Ok::<_, EngineError>(bytes)
        }
        .await;
        let bytes = match written {
            Ok(bytes) => bytes,
            Err(e) => {
                if let Err(abort) = links.abort_upload(&object, &upload).await {
                    tracing::warn!(object, error = %abort, "an unfinished export upload was left; the bucket's lifecycle rule removes it");
                }
                return Err(e);
            }
        };
        let valid_for = std::time::Duration::from_secs(EXPORT_LINK_SECONDS);
        let url = links.download_url(&object, valid_for).await?;
        Ok(ExportLink {
            url,
            expires_at_ms: snapkb_core::now_ms() + EXPORT_LINK_SECONDS * 1000,
            object,
            bytes,
        })
    }
}

/// The header line of an archive of a loaded index.
fn header_line(project: &Project, st: &ProjectState) -> Result<Vec<u8>, EngineError> {
    let header = ExportHeader {
        format: EXPORT_FORMAT.into(),
        format_version: EXPORT_FORMAT_VERSION,
        source_project: project.id.clone(),
        version: st.version(),
        name: project.name.clone(),
        embedding: project.embedding.clone(),
        chunking: project.chunking,
        keyword: project.keyword,
        index: project.index,
        quotas: project.quotas,
        rate_limits: project.rate_limits,
        compaction: project.compaction,
        documents: st.manifest.documents,
        chunks: st.manifest.chunks,
    };
    let mut out = serde_json::to_vec(&header).map_err(|e| EngineError::Internal(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// One line per chunk of `rows`.
fn lines_of(st: &ProjectState, rows: &[RowRef]) -> Result<Vec<u8>, EngineError> {
    let mut out = Vec::new();
    for &row in rows {
        let (Some(r), Some(v)) = (st.record(row), st.vector(row)) else {
            continue;
        };
        let info = DocInfo::of(&r)?;
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let line = ExportChunk {
            id: r.id,
            document_id: r.document_id,
            text: r.text,
            context: r.context,
            metadata: user_metadata(&r.attributes.metadata),
            tags: r.attributes.tags.clone(),
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
