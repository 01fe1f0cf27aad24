//! Import: a new project from an export archive (export.rs), read line by line as the body
//! arrives and committed in batches, so memory stays bounded by a batch whatever the archive's
//! size. Every line gets the checks an ingest gets. The project stays unseen until its last
//! batch is committed; an import that fails removes what it wrote, and one cut short by a
//! crash is removed by a sweep (`projects::ABANDONED_IMPORT_MS`).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use snapkb_core::{Action, Limits, Principal, Project, now_ms};
use snapkb_index::{Attributes, ChunkRecord};

use crate::{
    CreateProject, Engine, EngineError,
    commit::Change,
    export::{EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ExportChunk, ExportHeader},
    state::{DOC_META_KEY, DocInfo},
};

/// Archives imported from an object are read from under this prefix only.
pub const IMPORTS_PREFIX: &str = "imports/";

/// Bytes read from an import object at a time.
const IMPORT_READ_BYTES: u64 = 8 << 20;

/// Chunks per write-ahead segment when importing: what an import holds in memory at a time.
const IMPORT_BATCH: usize = 5_000;

/// The lines of a body as it arrives, numbered from 1; blank lines are skipped (but counted).
struct ArchiveLines<S> {
    body: S,
    buffer: Vec<u8>,
    start: usize,
    ended: bool,
    number: usize,
    max_line_bytes: usize,
}

impl<S, E> ArchiveLines<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn new(body: S, max_line_bytes: usize) -> Self {
        Self {
            body,
            buffer: Vec::new(),
            start: 0,
            ended: false,
            number: 0,
            max_line_bytes,
        }
    }

    /// The next non-blank line and its number; `None` at the end of the body.
    async fn next(&mut self) -> Result<Option<(usize, String)>, EngineError> {
        loop {
            let pending = &self.buffer[self.start..];
            let end = match pending.iter().position(|&b| b == b'\n') {
                Some(i) => Some(self.start + i),
                None if self.ended && !pending.is_empty() => Some(self.buffer.len()),
                None if self.ended => return Ok(None),
                None => None,
            };
            if let Some(end) = end {
                let raw = &self.buffer[self.start..end];
                self.number += 1;
                self.start = (end + 1).min(self.buffer.len());
                let line = std::str::from_utf8(raw)
                    .map_err(|e| {
                        EngineError::invalid(
                            format!("archive.line[{}]", self.number),
                            format!("not UTF-8 at byte {}", e.valid_up_to()),
                        )
                    })?
                    .trim_end_matches('\r')
                    .to_string();
                if self.start > (1 << 20) {
                    self.buffer.drain(..self.start);
                    self.start = 0;
                }
                if line.trim().is_empty() {
                    continue;
                }
                return Ok(Some((self.number, line)));
            }
            if pending.len() > self.max_line_bytes {
                return Err(EngineError::invalid(
                    format!("archive.line[{}]", self.number + 1),
                    format!("is longer than {} bytes", self.max_line_bytes),
                ));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(EngineError::invalid(
                        "archive",
                        format!("the body could not be read: {e}"),
                    ));
                }
                None => self.ended = true,
            }
        }
    }
}

/// What an import has seen so far, to check each line against: the vector size, every chunk
/// id (as a 64-bit hash: 16 bytes a chunk instead of the id itself), and each document's
/// record and chunk count.
/// The longest context a chunk may carry: six headings of at most
/// [`snapkb_embed::MAX_HEADING_BYTES`] and their separators, with room to spare.
const MAX_CONTEXT_BYTES: usize = 8 * snapkb_embed::MAX_HEADING_BYTES;

struct ImportCheck {
    dims: usize,
    limits: Limits,
    ids: HashSet<u64>,
    documents: HashMap<String, ((u64, String, u64), usize)>,
    /// The last chunk's attributes: the next chunk of the same document shares them when equal.
    last: Option<Arc<Attributes>>,
}

impl ImportCheck {
    /// Line `n` as a row to write, or the 422 naming what is wrong with it.
    fn row(&mut self, n: usize, line: &str) -> Result<(ChunkRecord, Vec<f32>), EngineError> {
        let field = format!("archive.line[{n}]");
        let invalid =
            |at: &str, reason: String| EngineError::invalid(format!("{field}{at}"), reason);
        let chunk: ExportChunk =
            serde_json::from_str(line).map_err(|e| invalid("", e.to_string()))?;
        let raw = B64
            .decode(&chunk.vector)
            .map_err(|e| invalid(".vector", e.to_string()))?;
        if raw.len() != self.dims * 4 {
            return Err(invalid(
                ".vector",
                format!("must hold {} f32 values", self.dims),
            ));
        }
        let vector: Vec<f32> = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if vector.iter().any(|x| !x.is_finite()) {
            return Err(invalid(
                ".vector",
                "holds a value that is not finite".into(),
            ));
        }
        if chunk.document_id.is_empty() || !chunk.id.starts_with(&format!("{}#", chunk.document_id))
        {
            return Err(invalid(".id", "must be `{document_id}#…`".into()));
        }
        if !self
            .ids
            .insert(xxhash_rust::xxh3::xxh3_64(chunk.id.as_bytes()))
        {
            return Err(invalid(".id", "appears twice".into()));
        }
        snapkb_embed::check_id(&chunk.document_id)
            .map_err(|e| invalid(".document_id", e.to_string()))?;
        self.check_attributes(&chunk)
            .map_err(|(at, reason)| invalid(at, reason))?;
        // Every chunk of a document must tell the same version, hash and size: the counts
        // derived from them later must add up.
        let record = (chunk.doc.version, chunk.doc.sha256.clone(), chunk.doc.bytes);
        let (seen, count) = self
            .documents
            .entry(chunk.document_id.clone())
            .or_insert((record.clone(), 0));
        *count += 1;
        if *seen != record {
            return Err(invalid(
                ".doc",
                "disagrees with another chunk of the same document".into(),
            ));
        }
        if *count > self.limits.max_chunks_per_document {
            let max = self.limits.max_chunks_per_document;
            return Err(invalid(
                ".document_id",
                format!("has more than {max} chunks"),
            ));
        }
        if chunk.context.len() > MAX_CONTEXT_BYTES {
            return Err(invalid(
                ".context",
                format!("is longer than {MAX_CONTEXT_BYTES} bytes"),
            ));
        }
        let mut metadata = chunk.metadata;
        DocInfo {
            version: chunk.doc.version,
            sha256: chunk.doc.sha256,
            bytes: chunk.doc.bytes,
            ordinal: chunk.doc.ordinal,
        }
        .write(&mut metadata);
        let attributes = match self.last.take() {
            Some(last) if last.metadata == metadata && last.tags == chunk.tags => last,
            _ => Attributes::new(metadata, chunk.tags),
        };
        self.last = Some(attributes.clone());
        let record = ChunkRecord {
            id: chunk.id,
            document_id: chunk.document_id,
            text: chunk.text,
            context: chunk.context,
            ordinal: chunk.doc.ordinal,
            attributes,
        };
        Ok((record, vector))
    }

    /// A chunk's metadata and tags against the limits ingest applies: `(field, reason)`.
    fn check_attributes(&self, chunk: &ExportChunk) -> Result<(), (&'static str, String)> {
        let limits = &self.limits;
        if chunk.metadata.keys().any(|k| k.starts_with(DOC_META_KEY)) {
            return Err((".metadata", "uses a reserved key".into()));
        }
        let metadata_bytes = serde_json::to_vec(&chunk.metadata)
            .map_err(|e| (".metadata", e.to_string()))?
            .len();
        if chunk.metadata.len() > limits.max_metadata_keys
            || metadata_bytes > limits.max_metadata_bytes
        {
            let (keys, bytes) = (limits.max_metadata_keys, limits.max_metadata_bytes);
            return Err((
                ".metadata",
                format!("at most {keys} keys and {bytes} bytes are allowed"),
            ));
        }
        if chunk.tags.len() > limits.max_tags
            || chunk.tags.iter().any(|t| t.is_empty() || t.len() > 128)
        {
            let max = limits.max_tags;
            return Err((
                ".tags",
                format!("at most {max} tags of 1 to 128 bytes are allowed"),
            ));
        }
        Ok(())
    }

    /// Documents seen and their bytes: what the last commit records.
    fn totals(&self) -> (u64, u64) {
        let bytes = self.documents.values().map(|((_, _, b), _)| *b).sum();
        (self.documents.len() as u64, bytes)
    }
}

impl Engine {
    /// Creates project `new_id` from a whole archive in memory ([`Engine::import_stream`]).
    pub async fn import(
        &self,
        principal: &Principal,
        new_id: &str,
        archive: &[u8],
    ) -> Result<(Project, u64), EngineError> {
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(
            Bytes::copy_from_slice(archive),
        )]);
        self.import_stream(principal, new_id, body).await
    }

    /// Creates project `new_id` from an archive already in the deployment's object store under
    /// `imports/` (uploaded there by whoever runs the deployment: larger than any request a
    /// host takes), read in ranges as it is imported.
    pub async fn import_object(
        &self,
        principal: &Principal,
        new_id: &str,
        object: &str,
    ) -> Result<(Project, u64), EngineError> {
        self.require_deployment_admin(principal)?;
        let name = object.strip_prefix(IMPORTS_PREFIX).unwrap_or_default();
        if name.is_empty() || object.split('/').any(|part| part == "..") {
            return Err(EngineError::invalid(
                "object",
                format!("must be the key of an archive under {IMPORTS_PREFIX}"),
            ));
        }
        let size = self
            .objects
            .head(object)
            .await?
            .ok_or_else(|| EngineError::invalid("object", format!("no object {object}")))?
            .size;
        let objects = self.objects.clone();
        let key = object.to_string();
        let ranges = futures::stream::unfold(0u64, move |at| {
            let (objects, key) = (objects.clone(), key.clone());
            async move {
                if at >= size {
                    return None;
                }
                let end = size.min(at + IMPORT_READ_BYTES);
                match objects.get_range(&key, at..end).await {
                    Ok(piece) => Some((Ok(piece), end)),
                    // The import stops at the first error and removes what it wrote.
                    Err(e) => Some((Err(e.to_string()), size)),
                }
            }
        });
        self.import_stream(principal, new_id, Box::pin(ranges))
            .await
    }

    /// Creates project `new_id` from an archive read from `body` as it arrives (the caller
    /// bounds the body's total size). Lines are checked and committed in batches; the project
    /// is seen by nobody until the last one, and removed again if any line or write fails.
    pub async fn import_stream<S, E>(
        &self,
        principal: &Principal,
        new_id: &str,
        body: S,
    ) -> Result<(Project, u64), EngineError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.require_deployment_admin(principal)?;
        // One line is one chunk: never larger than an ingest request could carry.
        let mut lines = ArchiveLines::new(body, self.config.max_body_bytes);
        let (_, first) = lines
            .next()
            .await?
            .ok_or_else(|| EngineError::invalid("archive", "is empty"))?;
        let header: ExportHeader = serde_json::from_str(&first)
            .map_err(|e| EngineError::invalid("archive.header", e.to_string()))?;
        if header.format != EXPORT_FORMAT || header.format_version != EXPORT_FORMAT_VERSION {
            return Err(EngineError::invalid(
                "archive.header.format",
                format!("expected {EXPORT_FORMAT} version {EXPORT_FORMAT_VERSION}"),
            ));
        }
        let mut check = ImportCheck {
            dims: header.embedding.dims as usize,
            limits: self.config.limits,
            ids: HashSet::new(),
            documents: HashMap::new(),
            last: None,
        };
        let (project, _) = self
            .create_project_item(
                principal,
                CreateProject {
                    id: new_id.to_string(),
                    name: Some(header.name.clone()),
                    embedding: Some(header.embedding.clone()),
                    chunking: Some(header.chunking),
                    keyword: Some(header.keyword),
                    index: Some(header.index),
                    quotas: Some(header.quotas),
                    rate_limits: Some(header.rate_limits),
                    compaction: Some(header.compaction),
                },
                Some(now_ms()),
            )
            .await?;
        let written = async {
            let mut batch = Vec::new();
            let mut chunks = 0u64;
            while let Some((n, line)) = lines.next().await? {
                batch.push(check.row(n, &line)?);
                if batch.len() == IMPORT_BATCH {
                    chunks += batch.len() as u64;
                    let rows = std::mem::take(&mut batch);
                    self.import_batch(&project, rows, chunks, None, principal)
                        .await?;
                }
            }
            chunks += batch.len() as u64;
            // An export cut short (a dropped connection, a failed batch) ends early: its
            // header still says how many chunks the whole archive holds.
            if chunks != header.chunks {
                return Err(EngineError::invalid(
                    "archive",
                    format!(
                        "holds {chunks} chunks where its header says {}: it is incomplete",
                        header.chunks
                    ),
                ));
            }
            self.import_batch(&project, batch, chunks, Some(check.totals()), principal)
                .await
        }
        .await;
        let finished = match written {
            Ok(version) => self.finish_import(new_id).await.map(|p| (p, version)),
            Err(e) => Err(e),
        };
        // Unseen projects are not compacted while they fill; a big import asks for it now.
        if let Ok((p, _)) = &finished
            && self
                .read_manifest(new_id)
                .await
                .is_ok_and(|m| m.needs_compaction(&p.compaction))
        {
            self.compaction.request(new_id, false);
        }
        if finished.is_err() {
            // Nobody has seen it; what was written goes now (or with a later sweep).
            let _ = self.remove_project(new_id).await;
        }
        finished
    }

    /// Commits one batch of an import; `chunks` counts every row so far, and the last batch
    /// carries the documents and bytes (`totals`), which until then stay 0.
    async fn import_batch(
        &self,
        project: &Project,
        rows: Vec<(ChunkRecord, Vec<f32>)>,
        chunks: u64,
        totals: Option<(u64, u64)>,
        principal: &Principal,
    ) -> Result<u64, EngineError> {
        let base = self.read_manifest(&project.id).await?;
        let (documents, bytes) = totals.unwrap_or_default();
        let change = Change {
            rows,
            tombstones: Vec::new(),
            documents,
            chunks,
            bytes,
            claim: None,
        };
        let detail = serde_json::json!({ "chunks": chunks });
        self.commit_change(&base, change, Action::Import, principal.actor(), detail)
            .await?
            .ok_or_else(|| EngineError::Conflict("the project changed during import".into()))
    }
}
