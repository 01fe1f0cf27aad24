//! Ingest and delete: validate everything first (a bad document rejects the whole request,
//! nothing is written), plan against the current state (unchanged documents are skipped,
//! unchanged chunks keep their vectors), embed what is new, write one immutable WAL segment per
//! shard, and commit with one conditional transaction on the manifest version — re-planning and
//! retrying on a lost race, so callers never see a conflict. Writers in one process take turns
//! per project; only writers in different processes race.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use snapkb_core::{Action, Manifest, Principal, Project, Scope, check_quotas};
use snapkb_embed::{
    Chunk, ChunkConfig, DocumentRecord, Provided, SourceDocument, TextFormat, UpsertPlan,
    caller_chunks, chunk_document, plan_upsert, validate_document,
};
use snapkb_index::{Attributes, ChunkRecord, MetaValue, Metadata};
use snapkb_store::Item;

use crate::{
    Engine, EngineError,
    commit::Change,
    engine::StateSlot,
    error::{document_error, embed_error, too_many},
    state::{DOC_META_KEY, DocInfo},
    sync::read,
    webhooks::{WebhookDelivery, replayed},
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    pub documents: Vec<DocumentInput>,
}

/// One document. Give `text` (the project embeds it), or `text` with `vector` (one chunk with
/// your vector), or `chunks` (your own chunks, each with its vector).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    pub id: String,
    pub text: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "markdown")]
    pub format: Option<TextFormat>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub vector: Option<Vec<f32>>,
    pub chunks: Option<Vec<ChunkInput>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkInput {
    pub text: String,
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    Created,
    Updated,
    Unchanged,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentResult {
    pub id: String,
    pub status: DocumentStatus,
    /// The document's own version (1 for a new document, +1 per change).
    pub version: u64,
    pub chunks: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// The committed manifest version; a query that starts after this response sees it.
    pub version: u64,
    pub documents: Vec<DocumentResult>,
    /// Chunks embedded by the model in this request.
    pub embedded: usize,
    /// Chunks whose stored vectors were reused.
    pub reused: usize,
}

/// A validated document, chunked.
#[derive(Debug)]
struct Prepared {
    id: String,
    sha256: String,
    bytes: u64,
    metadata: Metadata,
    tags: Vec<String>,
    chunks: Vec<Chunk>,
    /// Caller vectors, one per chunk (absent for model-embedded documents).
    vectors: Option<Vec<Vec<f32>>>,
}

/// A document's plan with the chunk count and bytes of the version it replaces.
type DocumentPlan = (UpsertPlan, Option<u64>, u64);

/// Plans every document against the loaded state (under its read lock) and copies out the
/// vectors of chunks that are kept. Returns the manifest planned on.
fn plan_against(
    slot: &StateSlot,
    prepared: &[Prepared],
) -> (Manifest, Vec<DocumentPlan>, HashMap<String, Vec<f32>>) {
    let st = read(slot);
    let base = st.manifest.clone();
    let docs = st.documents();
    let plans: Vec<DocumentPlan> = prepared
        .iter()
        .map(|p| {
            let prev = docs.get(&p.id);
            let record = prev.map(|d| DocumentRecord {
                id: p.id.clone(),
                content_sha256: d.sha256.clone(),
                version: d.version,
                chunk_ids: d.chunk_ids(),
            });
            let plan = plan_upsert(record.as_ref(), &p.sha256, &p.chunks);
            (
                plan,
                prev.map(|d| d.chunks.len() as u64),
                prev.map_or(0, |d| d.bytes),
            )
        })
        .collect();
    let mut reused: HashMap<String, Vec<f32>> = HashMap::new();
    for (p, (plan, _, _)) in prepared.iter().zip(&plans) {
        if let UpsertPlan::Write { reuse, .. } = plan {
            for &i in reuse {
                let id = &p.chunks[i].id;
                if let Some(v) = st.find(id).and_then(|r| st.vector(r)) {
                    reused.insert(id.clone(), v.to_vec());
                }
            }
        }
    }
    (base, plans, reused)
}

fn to_meta(value: &Value) -> Option<MetaValue> {
    Some(match value {
        Value::Bool(b) => MetaValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => MetaValue::Int(i),
            None => MetaValue::Float(n.as_f64()?),
        },
        Value::String(s) => MetaValue::Text(s.clone()),
        Value::Array(items) => MetaValue::List(items.iter().map(to_meta).collect::<Option<_>>()?),
        Value::Null | Value::Object(_) => return None,
    })
}

impl Engine {
    fn prepare(
        &self,
        project: &Project,
        index: usize,
        input: DocumentInput,
        counter: Option<&dyn snapkb_embed::PieceCounter>,
    ) -> Result<Prepared, EngineError> {
        let field = |f: &str| format!("documents[{index}].{f}");
        if input.metadata.keys().any(|k| k.starts_with(DOC_META_KEY)) {
            return Err(EngineError::invalid(
                field("metadata"),
                format!("keys starting with `{DOC_META_KEY}` are reserved"),
            ));
        }
        let source = SourceDocument {
            id: input.id.clone(),
            text: input.text.clone().unwrap_or_default(),
            format: input.format.unwrap_or(TextFormat::Plain),
            metadata: input.metadata.clone(),
            tags: input.tags.clone(),
        };
        validate_document(&source).map_err(|e| document_error(index, e))?;
        self.check_attributes(index, &input)?;
        let metadata: Metadata = input
            .metadata
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), to_meta(v)?)))
            .collect();
        let provided = Provided {
            dims: project.embedding.dims as usize,
        };
        let (chunks, vectors) = match (input.vector, input.chunks) {
            (Some(_), Some(_)) => {
                return Err(EngineError::invalid(
                    field("vector"),
                    "give `vector` or `chunks`, not both",
                ));
            }
            (Some(vector), None) => {
                let vectors = vec![vector];
                provided
                    .check(&vectors, 1)
                    .map_err(|e| embed_error(&field("vector"), e))?;
                (
                    caller_chunks(&source.id, &[source.text.as_str()]),
                    Some(vectors),
                )
            }
            (None, Some(chunks)) => {
                self.check_chunk_count(index, "chunks", chunks.len())?;
                if input.text.is_some() {
                    return Err(EngineError::invalid(
                        field("text"),
                        "give `text` or `chunks`, not both",
                    ));
                }
                if chunks.is_empty() {
                    return Err(EngineError::invalid(
                        field("chunks"),
                        "must hold at least one chunk",
                    ));
                }
                let vectors: Vec<Vec<f32>> = chunks.iter().map(|c| c.vector.clone()).collect();
                provided
                    .check(&vectors, chunks.len())
                    .map_err(|e| embed_error(&field("chunks"), e))?;
                let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
                (caller_chunks(&source.id, &texts), Some(vectors))
            }
            (None, None) => {
                let Some(counter) = counter else {
                    return Err(EngineError::invalid(
                        field("vector"),
                        "this project has no embedding model: send `vector` or `chunks` with vectors",
                    ));
                };
                if source.text.trim().is_empty() {
                    return Err(EngineError::invalid(field("text"), "must not be empty"));
                }
                let config = ChunkConfig {
                    max_pieces: project.chunking.max_pieces as usize,
                    overlap_pieces: project.chunking.overlap_pieces as usize,
                };
                let chunks = chunk_document(&source, counter, config);
                if chunks.is_empty() {
                    return Err(EngineError::invalid(field("text"), "has no text to index"));
                }
                self.check_chunk_count(index, "text", chunks.len())?;
                (chunks, None)
            }
        };
        let mut hash = Sha256::new();
        hash.update(source.content_sha256().as_bytes());
        for (i, c) in chunks.iter().enumerate() {
            hash.update(c.sha256.as_bytes());
            if let Some(v) = vectors.as_ref().and_then(|v| v.get(i)) {
                for x in v {
                    hash.update(x.to_le_bytes());
                }
            }
        }
        Ok(Prepared {
            id: source.id,
            sha256: hex::encode(hash.finalize()),
            bytes: chunks
                .iter()
                .map(|c| c.text.len() as u64)
                .sum::<u64>()
                .max(source.text.len() as u64),
            metadata,
            tags: source.tags,
            chunks,
            vectors,
        })
    }

    /// Checks a document's metadata and tags against the deployment's limits.
    fn check_attributes(&self, index: usize, input: &DocumentInput) -> Result<(), EngineError> {
        let limits = &self.config.limits;
        let field = |f: &str| format!("documents[{index}].{f}");
        if input.metadata.len() > limits.max_metadata_keys {
            let keys = input.metadata.len();
            return Err(too_many(
                field("metadata"),
                keys,
                "keys",
                limits.max_metadata_keys,
            ));
        }
        let metadata_bytes = serde_json::to_vec(&input.metadata)
            .map_err(|e| EngineError::invalid(field("metadata"), e.to_string()))?
            .len();
        if metadata_bytes > limits.max_metadata_bytes {
            return Err(EngineError::invalid(
                field("metadata"),
                format!(
                    "is {metadata_bytes} bytes as JSON, at most {} are allowed",
                    limits.max_metadata_bytes
                ),
            ));
        }
        if input.tags.len() > limits.max_tags {
            let tags = input.tags.len();
            return Err(too_many(field("tags"), tags, "tags", limits.max_tags));
        }
        Ok(())
    }

    fn check_chunk_count(&self, index: usize, at: &str, chunks: usize) -> Result<(), EngineError> {
        let max = self.config.limits.max_chunks_per_document;
        if chunks > max {
            return Err(EngineError::invalid(
                format!("documents[{index}].{at}"),
                format!("makes {chunks} chunks, at most {max} per document are allowed"),
            ));
        }
        Ok(())
    }

    /// Adds or replaces documents; returns the committed version.
    pub async fn ingest(
        &self,
        principal: &Principal,
        project_id: &str,
        request: IngestRequest,
    ) -> Result<IngestResponse, EngineError> {
        self.ingest_claiming(principal, project_id, request, None)
            .await
    }

    /// Ingests a signed webhook's delivery; the delivery is claimed with what it commits, so
    /// a replay is refused and a delivery refused for any other reason can be sent again.
    pub async fn ingest_webhook(
        &self,
        delivery: WebhookDelivery,
        request: IngestRequest,
    ) -> Result<IngestResponse, EngineError> {
        let WebhookDelivery {
            principal,
            project,
            claim,
        } = delivery;
        self.ingest_claiming(&principal, &project, request, Some(claim))
            .await
    }

    async fn ingest_claiming(
        &self,
        principal: &Principal,
        project_id: &str,
        request: IngestRequest,
        claim: Option<Item>,
    ) -> Result<IngestResponse, EngineError> {
        let project = self.authorize(principal, project_id, Scope::Write).await?;
        if request.documents.is_empty() {
            return Err(EngineError::invalid(
                "documents",
                "must hold at least one document",
            ));
        }
        if request.documents.len() > self.config.max_batch_documents {
            return Err(EngineError::invalid(
                "documents",
                format!(
                    "at most {} documents per request",
                    self.config.max_batch_documents
                ),
            ));
        }
        let needs_model = request
            .documents
            .iter()
            .any(|d| d.vector.is_none() && d.chunks.is_none());
        let counter = match (&self.embedder, needs_model && project.model_id().is_some()) {
            (Some(e), true) => Some(
                e.piece_counter()
                    .await
                    .map_err(|e| embed_error("text", e))?,
            ),
            _ => None,
        };
        let mut seen = HashSet::new();
        let mut prepared = Vec::with_capacity(request.documents.len());
        for (i, doc) in request.documents.into_iter().enumerate() {
            if !seen.insert(doc.id.clone()) {
                return Err(EngineError::invalid(
                    format!("documents[{i}].id"),
                    format!("`{}` appears twice in this request", doc.id),
                ));
            }
            prepared.push(self.prepare(&project, i, doc, counter.as_deref())?);
        }
        let mut embedded: HashMap<String, Vec<f32>> = HashMap::new();
        let mut embedded_count = 0;
        if needs_model {
            // Embed before taking the writers' turn, so concurrent requests embed in parallel;
            // under the turn only what a racing update changed is left to embed.
            let slot = self.state(&project).await?;
            let (_, plans, reused) = plan_against(&slot, &prepared);
            embedded_count += self
                .embed_missing(&prepared, &plans, &reused, &mut embedded)
                .await?;
        }
        let mut attempts = self.commit_attempts(project_id).await;
        while attempts.next().await {
            let slot = self.state(&project).await?;
            let (base, plans, reused) = plan_against(&slot, &prepared);
            embedded_count += self
                .embed_missing(&prepared, &plans, &reused, &mut embedded)
                .await?;
            // Build the change.
            let mut change = Change {
                documents: base.documents,
                chunks: base.chunks,
                bytes: base.bytes,
                ..Change::default()
            };
            let mut results = Vec::with_capacity(prepared.len());
            let mut reused_count = 0;
            for (p, (plan, prev_chunks, prev_bytes)) in prepared.iter().zip(&plans) {
                match plan {
                    UpsertPlan::Unchanged { version } => results.push(DocumentResult {
                        id: p.id.clone(),
                        status: DocumentStatus::Unchanged,
                        version: *version,
                        chunks: p.chunks.len(),
                    }),
                    UpsertPlan::Write {
                        version,
                        created,
                        reuse,
                        tombstone,
                        ..
                    } => {
                        change.tombstones.extend(tombstone.iter().cloned());
                        // One value for all the document's chunks: stored once per segment.
                        let mut metadata = p.metadata.clone();
                        DocInfo {
                            version: *version,
                            sha256: p.sha256.clone(),
                            bytes: p.bytes,
                            ordinal: 0,
                        }
                        .write(&mut metadata);
                        let attributes = Attributes::new(metadata, p.tags.clone());
                        for (i, c) in p.chunks.iter().enumerate() {
                            let vector = match &p.vectors {
                                Some(v) => v[i].clone(),
                                None => match reused.get(&c.id).or_else(|| embedded.get(&c.id)) {
                                    Some(v) => v.clone(),
                                    None => {
                                        return Err(EngineError::Internal(format!(
                                            "no vector for chunk {}",
                                            c.id
                                        )));
                                    }
                                },
                            };
                            change.rows.push((
                                ChunkRecord {
                                    id: c.id.clone(),
                                    document_id: p.id.clone(),
                                    text: c.text.clone(),
                                    context: c.context.clone(),
                                    ordinal: i as u32,
                                    attributes: attributes.clone(),
                                },
                                vector,
                            ));
                        }
                        reused_count += reuse.len();
                        change.documents += u64::from(*created);
                        change.chunks =
                            change.chunks + p.chunks.len() as u64 - prev_chunks.unwrap_or(0);
                        change.bytes = change.bytes + p.bytes - prev_bytes;
                        results.push(DocumentResult {
                            id: p.id.clone(),
                            status: if *created {
                                DocumentStatus::Created
                            } else {
                                DocumentStatus::Updated
                            },
                            version: *version,
                            chunks: p.chunks.len(),
                        });
                    }
                }
            }
            if change.rows.is_empty() && change.tombstones.is_empty() {
                if let Some(claim) = &claim {
                    self.claim_delivery(claim.clone()).await?;
                }
                return Ok(IngestResponse {
                    version: base.version,
                    documents: results,
                    embedded: embedded_count,
                    reused: 0,
                });
            }
            check_quotas(
                &project.quotas,
                change.documents,
                change.chunks,
                change.bytes,
            )
            .map_err(EngineError::Quota)?;
            let detail = serde_json::json!({
                "documents": results.iter().filter(|r| r.status != DocumentStatus::Unchanged).count(),
                "chunks": change.rows.len(),
                "tombstones": change.tombstones.len(),
            });
            change.claim = claim.clone();
            if let Some(version) = self
                .commit_change(&base, change, Action::Ingest, principal.actor(), detail)
                .await?
            {
                return Ok(IngestResponse {
                    version,
                    documents: results,
                    embedded: embedded_count,
                    reused: reused_count,
                });
            }
            if let Some(claim) = &claim
                && self.meta.get(&claim.pk, &claim.sk).await?.is_some()
            {
                return Err(replayed());
            }
        }
        Err(attempts.exhausted())
    }

    /// Removes a document (tombstones its chunks).
    pub async fn delete_document(
        &self,
        principal: &Principal,
        project_id: &str,
        document: &str,
    ) -> Result<IngestResponse, EngineError> {
        let project = self.authorize(principal, project_id, Scope::Write).await?;
        let mut attempts = self.commit_attempts(project_id).await;
        while attempts.next().await {
            let slot = self.state(&project).await?;
            let (base, doc) = {
                let st = read(&slot);
                let base = st.manifest.clone();
                let doc = st.documents().get(document).cloned();
                (base, doc)
            };
            let doc =
                doc.ok_or_else(|| EngineError::not_found(format!("document `{document}`")))?;
            let change = Change {
                rows: Vec::new(),
                tombstones: doc.chunks.keys().cloned().collect(),
                documents: base.documents.saturating_sub(1),
                chunks: base.chunks.saturating_sub(doc.chunks.len() as u64),
                bytes: base.bytes.saturating_sub(doc.bytes),
                claim: None,
            };
            let detail = serde_json::json!({"document": document, "tombstones": doc.chunks.len()});
            if let Some(version) = self
                .commit_change(&base, change, Action::Delete, principal.actor(), detail)
                .await?
            {
                return Ok(IngestResponse {
                    version,
                    documents: vec![DocumentResult {
                        id: document.to_string(),
                        status: DocumentStatus::Deleted,
                        version: doc.version,
                        chunks: doc.chunks.len(),
                    }],
                    embedded: 0,
                    reused: 0,
                });
            }
        }
        Err(attempts.exhausted())
    }

    /// Embeds the chunks `plans` write that have neither a caller vector, a reused vector nor
    /// an embedding from an earlier attempt; returns how many it embedded.
    async fn embed_missing(
        &self,
        prepared: &[Prepared],
        plans: &[DocumentPlan],
        reused: &HashMap<String, Vec<f32>>,
        embedded: &mut HashMap<String, Vec<f32>>,
    ) -> Result<usize, EngineError> {
        let mut to_embed: Vec<(String, String)> = Vec::new();
        for (p, (plan, _, _)) in prepared.iter().zip(plans) {
            if let (UpsertPlan::Write { embed, reuse, .. }, None) = (plan, &p.vectors) {
                for &i in embed.iter().chain(reuse) {
                    let c = &p.chunks[i];
                    if !embedded.contains_key(&c.id) && !reused.contains_key(&c.id) {
                        to_embed.push((c.id.clone(), c.text.clone()));
                    }
                }
            }
        }
        if to_embed.is_empty() {
            return Ok(0);
        }
        let embedder = self.embedder.as_ref().ok_or_else(|| {
            EngineError::ModelUnavailable("no embedding model is configured".into())
        })?;
        for batch in to_embed.chunks(64) {
            let texts = batch.iter().map(|(_, t)| t.clone()).collect();
            let out = embedder
                .embed(texts)
                .await
                .map_err(|e| embed_error("text", e))?;
            for ((id, _), v) in batch.iter().zip(out.vectors) {
                embedded.insert(id.clone(), v);
            }
        }
        Ok(to_embed.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use snapkb_core::Principal;
    use snapkb_embed::TextFormat;

    use crate::{
        DocumentInput, DocumentStatus, EngineError, IngestRequest,
        testing::{doc, engine, engine_with_embedder, ingest, project},
    };

    fn markdown(id: &str, last_section: &str) -> DocumentInput {
        let text = format!(
            "# Leave\n\nEveryone gets twenty eight days of paid leave every year.\n\n\
             # Travel\n\nTrains are booked through the office and paid by the company.\n\n\
             # Equipment\n\n{last_section}\n"
        );
        DocumentInput {
            id: id.into(),
            text: Some(text),
            format: Some(TextFormat::Markdown),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_changed_document_embeds_only_the_chunks_that_changed() {
        let (engine, embedder) = engine_with_embedder();
        project(&engine, "p", true).await;
        let first = ingest(
            &engine,
            "p",
            vec![markdown("h", "Laptops are replaced every three years.")],
        )
        .await;
        let chunks = first.documents[0].chunks;
        assert!(chunks >= 3, "one chunk per section at least: {chunks}");
        assert_eq!((first.embedded, first.reused), (chunks, 0));
        let before = embedder.texts.load(Ordering::SeqCst);
        let second = ingest(
            &engine,
            "p",
            vec![markdown("h", "Phones are replaced every two years.")],
        )
        .await;
        assert_eq!(second.documents[0].status, DocumentStatus::Updated);
        assert_eq!(second.documents[0].chunks, chunks);
        assert!(second.embedded >= 1 && second.reused >= 1, "{second:?}");
        assert_eq!(second.embedded + second.reused, chunks);
        assert_eq!(
            embedder.texts.load(Ordering::SeqCst) - before,
            second.embedded,
            "the model saw only the changed chunks"
        );
        assert!(second.version > first.version);
    }

    #[tokio::test]
    async fn an_unchanged_document_commits_nothing() {
        let engine = engine();
        project(&engine, "p", false).await;
        let first = ingest(&engine, "p", vec![doc("a", 1), doc("b", 2)]).await;
        let again = ingest(&engine, "p", vec![doc("a", 1)]).await;
        assert_eq!(again.version, first.version);
        assert_eq!(again.documents[0].status, DocumentStatus::Unchanged);
    }

    #[tokio::test]
    async fn one_bad_document_rejects_the_whole_batch_and_writes_nothing() {
        let engine = engine();
        project(&engine, "p", false).await;
        let before = ingest(&engine, "p", vec![doc("a", 1)]).await.version;
        let mut bad = doc("c", 3);
        bad.vector = Some(vec![1.0; 3]);
        let err = engine
            .ingest(
                &Principal::DeploymentAdmin,
                "p",
                IngestRequest {
                    documents: vec![doc("b", 2), bad],
                },
            )
            .await
            .unwrap_err();
        let EngineError::Invalid { field, .. } = err else {
            panic!("expected a 422, got {err}");
        };
        assert!(field.starts_with("documents[1]"), "{field}");
        assert_eq!(engine.read_version("p").await, before);
        let page = engine
            .list_documents(&Principal::DeploymentAdmin, "p", None, 10)
            .await
            .unwrap();
        let ids: Vec<&str> = page.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
    }

    #[tokio::test]
    async fn deleting_a_document_tombstones_its_chunks_in_a_new_version() {
        let engine = engine();
        project(&engine, "p", false).await;
        ingest(&engine, "p", vec![doc("a", 1), doc("b", 2)]).await;
        let deleted = engine
            .delete_document(&Principal::DeploymentAdmin, "p", "a")
            .await
            .unwrap();
        assert_eq!(deleted.documents[0].status, DocumentStatus::Deleted);
        let hits = crate::testing::nearest(&engine, "p", 1, 10).await;
        assert!(hits.iter().all(|id| !id.starts_with("a")), "{hits:?}");
        let err = engine
            .delete_document(&Principal::DeploymentAdmin, "p", "a")
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::NotFound { .. }), "{err}");
    }
}
