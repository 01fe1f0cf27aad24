//! Queries (vector, keyword, hybrid; metadata filters) and document reads, against the
//! project's index at the version the manifest names right now (read-your-writes).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use snapkb_core::{Limits, Principal, Scope};
use snapkb_index::{
    DOCUMENT_BOOST, Filter, MAX_K, Metadata, RRF_K, rank_by_document, reciprocal_rank_fusion,
    weighted_score_fusion,
};

use crate::{
    Engine, EngineError,
    cpu::Deadline,
    error::{embed_error, too_many},
    query_vectors::Asker,
    state::{DOC_META_KEY, Hit, ProjectState, RowRef, user_metadata},
    sync::read,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueryMode {
    Vector,
    Keyword,
    Hybrid,
}

fn default_top_k() -> usize {
    10
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// Text to embed (vector mode), to match (keyword mode), or both (hybrid).
    pub text: Option<String>,
    /// A query vector of the project's dimensions (instead of embedding `text`).
    pub vector: Option<Vec<f32>>,
    /// Default: hybrid when there is text and a way to get a vector, else whichever applies.
    pub mode: Option<QueryMode>,
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Filter>,
    /// Search breadth (default: the project's `index.ef_search`).
    pub ef: Option<usize>,
    /// How hybrid mode merges its two lists (default: RRF, k = 20).
    pub fusion: Option<Fusion>,
    /// Document-aware ranking, in every mode: how much a passage is lifted by the other good
    /// passages of its document among the best 20 of its list (0 to 10; default 0.3, 0 turns it
    /// off). Only the order changes: each hit keeps its own similarity or BM25 score.
    pub document_boost: Option<f32>,
}

impl Default for QueryRequest {
    fn default() -> Self {
        Self {
            text: None,
            vector: None,
            mode: None,
            top_k: default_top_k(),
            filter: None,
            ef: None,
            fusion: None,
            document_boost: None,
        }
    }
}

/// How hybrid mode merges its vector and keyword lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Fusion {
    #[serde(default)]
    pub method: FusionMethod,
    /// RRF's constant in `weight / (k + rank)` (default 20): smaller favours the top of each
    /// list over agreement between them. Only for `rrf`.
    pub k: Option<f32>,
    /// Each list's weight (default 1 and 1).
    pub weights: Option<FusionWeights>,
    /// How many hits each list brings to the fusion, and to document-aware ranking in every
    /// mode (default: see [`DEFAULT_CANDIDATES`]).
    pub candidates: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Reciprocal-rank fusion: by rank alone.
    #[default]
    Rrf,
    /// Scores rescaled to 0..=1 within each list, weighted and summed.
    Weighted,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FusionWeights {
    pub vector: f32,
    pub keyword: f32,
}

/// Each list of a hybrid query brings at least this many hits, and 2 × `top_k` when that is
/// more, so that a passage ranked well by one list and middling by the other is still seen.
pub const DEFAULT_CANDIDATES: usize = 20;

/// The largest `document_boost` a query may set: past it a document's evidence outweighs any
/// passage's own rank many times over.
const MAX_DOCUMENT_BOOST: f32 = 10.0;

/// The largest RRF constant a query may set.
const MAX_RRF_K: f32 = 10_000.0;

/// A checked [`Fusion`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct FusionPlan {
    method: FusionMethod,
    rrf_k: f32,
    vector_weight: f32,
    keyword_weight: f32,
    candidates: usize,
}

impl FusionPlan {
    fn of(fusion: Option<&Fusion>, top_k: usize) -> Result<Self, EngineError> {
        let fusion = fusion.cloned().unwrap_or_default();
        let rrf_k = fusion.k.unwrap_or(RRF_K);
        if !(0.0..=MAX_RRF_K).contains(&rrf_k) {
            return Err(EngineError::invalid(
                "fusion.k",
                format!("must be 0 to {MAX_RRF_K}, got {rrf_k}"),
            ));
        }
        if fusion.k.is_some() && fusion.method != FusionMethod::Rrf {
            return Err(EngineError::invalid(
                "fusion.k",
                "is RRF's constant; `weighted` fusion has none",
            ));
        }
        let weights = fusion.weights.unwrap_or(FusionWeights {
            vector: 1.0,
            keyword: 1.0,
        });
        for (field, w) in [
            ("fusion.weights.vector", weights.vector),
            ("fusion.weights.keyword", weights.keyword),
        ] {
            if !w.is_finite() || w < 0.0 {
                return Err(EngineError::invalid(
                    field,
                    format!("must be a number ≥ 0, got {w}"),
                ));
            }
        }
        if weights.vector + weights.keyword <= 0.0 {
            return Err(EngineError::invalid(
                "fusion.weights",
                "at least one weight must be above 0",
            ));
        }
        let candidates = fusion
            .candidates
            .unwrap_or_else(|| (2 * top_k).clamp(DEFAULT_CANDIDATES, MAX_K));
        if candidates < top_k || candidates > MAX_K {
            return Err(EngineError::invalid(
                "fusion.candidates",
                format!("must be `top_k` ({top_k}) to {MAX_K}, got {candidates}"),
            ));
        }
        Ok(Self {
            method: fusion.method,
            rrf_k,
            vector_weight: weights.vector,
            keyword_weight: weights.keyword,
            candidates,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueryHit {
    pub chunk_id: String,
    pub document_id: String,
    pub text: String,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    pub tags: Vec<String>,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueryResponse {
    /// The manifest version the results were read at.
    pub version: u64,
    pub mode: QueryMode,
    pub results: Vec<QueryHit>,
}

/// A stored document as callers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub id: String,
    pub version: u64,
    pub content_sha256: String,
    pub bytes: u64,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    pub tags: Vec<String>,
    pub chunk_count: usize,
    /// Present when one document is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<ChunkView>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChunkView {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentPage {
    pub version: u64,
    pub documents: Vec<DocumentView>,
    /// Pass as `after` for the next page.
    pub next: Option<String>,
}

/// A filter's shape against the deployment's limits, and no reserved fields.
fn check_filter(filter: &Filter, limits: &Limits) -> Result<(), EngineError> {
    let (clauses, depth) = filter.size();
    if clauses > limits.max_filter_clauses {
        let max = limits.max_filter_clauses;
        return Err(too_many("filter", clauses, "clauses", max));
    }
    if depth > limits.max_filter_depth {
        return Err(EngineError::invalid(
            "filter",
            format!(
                "nests {depth} levels deep, at most {} are allowed",
                limits.max_filter_depth
            ),
        ));
    }
    check_clauses(filter, limits)
}

fn check_clauses(filter: &Filter, limits: &Limits) -> Result<(), EngineError> {
    let field = match filter {
        Filter::In { field, values } => {
            if values.len() > limits.max_filter_values {
                return Err(EngineError::invalid(
                    "filter",
                    format!(
                        "an `in` clause on `{field}` has {} values, at most {} are allowed",
                        values.len(),
                        limits.max_filter_values
                    ),
                ));
            }
            field
        }
        Filter::Eq { field, .. }
        | Filter::Ne { field, .. }
        | Filter::Range { field, .. }
        | Filter::Exists { field } => field,
        Filter::And(fs) | Filter::Or(fs) => {
            return fs.iter().try_for_each(|f| check_clauses(f, limits));
        }
        Filter::Not(f) => return check_clauses(f, limits),
    };
    if field.starts_with(DOC_META_KEY) {
        return Err(EngineError::invalid(
            "filter",
            format!("fields starting with `{DOC_META_KEY}` are reserved"),
        ));
    }
    Ok(())
}

impl Engine {
    pub async fn query(
        &self,
        principal: &Principal,
        project_id: &str,
        request: QueryRequest,
    ) -> Result<QueryResponse, EngineError> {
        let project = self.authorize(principal, project_id, Scope::Read).await?;
        let k = request.top_k;
        if k == 0 || k > MAX_K {
            return Err(EngineError::invalid(
                "top_k",
                format!("must be 1 to {MAX_K}, got {k}"),
            ));
        }
        let ef = request.ef.unwrap_or(project.index.ef_search as usize);
        if ef == 0 || ef > 10_000 {
            return Err(EngineError::invalid("ef", "must be 1 to 10000"));
        }
        if let Some(f) = &request.filter {
            check_filter(f, &self.config.limits)?;
        }
        let fusion = FusionPlan::of(request.fusion.as_ref(), k)?;
        let document_boost = request.document_boost.unwrap_or(DOCUMENT_BOOST);
        if !(0.0..=MAX_DOCUMENT_BOOST).contains(&document_boost) {
            return Err(EngineError::invalid(
                "document_boost",
                format!("must be 0 to {MAX_DOCUMENT_BOOST}, got {document_boost}"),
            ));
        }
        let text = request.text.as_deref().filter(|t| !t.trim().is_empty());
        let can_embed = project.model_id().is_some() && self.embedder.is_some();
        let mode = match request.mode {
            Some(m) => m,
            None if request.vector.is_some() && text.is_some() => QueryMode::Hybrid,
            None if request.vector.is_some() => QueryMode::Vector,
            // A project with a model is searched by meaning too; a deployment that cannot
            // embed says so (below) rather than quietly searching by keyword only.
            None if text.is_some() && project.model_id().is_some() => QueryMode::Hybrid,
            None if text.is_some() => QueryMode::Keyword,
            None => return Err(EngineError::invalid("text", "give `text` or `vector`")),
        };
        if matches!(mode, QueryMode::Keyword | QueryMode::Hybrid) && text.is_none() {
            return Err(EngineError::invalid(
                "text",
                "keyword and hybrid queries need `text`",
            ));
        }
        let vector = match (mode, request.vector) {
            (QueryMode::Keyword, _) => None,
            (_, Some(v)) => {
                if v.len() != project.embedding.dims as usize {
                    return Err(EngineError::invalid(
                        "vector",
                        format!(
                            "has {} dimensions, the project uses {}",
                            v.len(),
                            project.embedding.dims
                        ),
                    ));
                }
                Some(v)
            }
            (_, None) => {
                let text =
                    text.ok_or_else(|| EngineError::invalid("text", "give `text` or `vector`"))?;
                if project.model_id().is_some() && !can_embed {
                    return Err(EngineError::invalid(
                        "text",
                        "this deployment cannot embed text (no model and no SNAPKB_EMBED_URL): send a query `vector`, or set `mode` to `keyword`",
                    ));
                }
                if !can_embed {
                    return Err(EngineError::invalid(
                        "vector",
                        "this project has no embedding model: send a query `vector`, or use mode `keyword`",
                    ));
                }
                let asker = Asker {
                    project: project_id,
                    generation: &project.generation,
                };
                self.query_vector(asker, text).await?
            }
        };
        let slot = self.state(&project).await?;
        let search = Search {
            mode,
            k,
            ef,
            fusion,
            document_boost,
            vector,
            text: text.map(str::to_string),
            filter: request.filter,
        };
        let deadline = Deadline::after(self.config.limits.query_deadline_ms as u64);
        self.cpu
            .run(project_id, deadline, move || {
                search.run(&read(&slot), &deadline)
            })
            .await
    }

    /// The vector of a query text: from this process's cache when the project asked it
    /// before, else from the embedder (and then kept).
    async fn query_vector(
        &self,
        asker: Asker<'_>,
        text: &str,
    ) -> Result<Option<Vec<f32>>, EngineError> {
        let embedder = self
            .embedder
            .as_ref()
            .ok_or_else(|| EngineError::ModelUnavailable("no model".into()))?;
        let model = embedder.model_id();
        if let Some(v) = self.query_vectors.get(asker, model, text) {
            return Ok(Some(v));
        }
        let out = embedder
            .embed(vec![text.to_string()])
            .await
            .map_err(|e| embed_error("text", e))?;
        let vector = out.vectors.into_iter().next();
        if let Some(v) = &vector {
            self.query_vectors.put(asker, model, text, v);
        }
        Ok(vector)
    }

    /// Documents in id order, `limit` per page after `after`.
    pub async fn list_documents(
        &self,
        principal: &Principal,
        project_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DocumentPage, EngineError> {
        let project = self.authorize(principal, project_id, Scope::Read).await?;
        let limit = limit.clamp(1, 1000);
        let slot = self.state(&project).await?;
        let st = read(&slot);
        let version = st.version();
        let docs = st.documents();
        let mut ids: Vec<&String> = docs
            .keys()
            .filter(|id| after.is_none_or(|a| id.as_str() > a))
            .collect();
        ids.sort();
        let next = (ids.len() > limit).then(|| ids[limit - 1].clone());
        let documents = ids
            .into_iter()
            .take(limit)
            .map(|id| view(id, &docs[id], None))
            .collect();
        Ok(DocumentPage {
            version,
            documents,
            next,
        })
    }

    pub async fn get_document(
        &self,
        principal: &Principal,
        project_id: &str,
        document: &str,
    ) -> Result<DocumentView, EngineError> {
        let project = self.authorize(principal, project_id, Scope::Read).await?;
        let slot = self.state(&project).await?;
        let st = read(&slot);
        let doc = st
            .documents()
            .get(document)
            .cloned()
            .ok_or_else(|| EngineError::not_found(format!("document `{document}`")))?;
        let mut texts: HashMap<String, String> = HashMap::new();
        for id in doc.chunks.keys() {
            if let Some(r) = st.find(id).and_then(|row: RowRef| st.record(row)) {
                texts.insert(id.clone(), r.text);
            }
        }
        let chunks = doc
            .chunk_ids()
            .into_iter()
            .map(|id| ChunkView {
                text: texts.remove(&id).unwrap_or_default(),
                id,
            })
            .collect();
        Ok(view(document, &doc, Some(chunks)))
    }
}

/// A checked query, ready to run against a loaded index.
#[derive(Debug)]
struct Search {
    mode: QueryMode,
    k: usize,
    ef: usize,
    fusion: FusionPlan,
    document_boost: f32,
    vector: Option<Vec<f32>>,
    text: Option<String>,
    filter: Option<Filter>,
}

impl Search {
    fn run(&self, st: &ProjectState, deadline: &Deadline) -> Result<QueryResponse, EngineError> {
        let (mode, k, ef) = (self.mode, self.k, self.ef);
        let filter = self.filter.as_ref();
        let fusion = self.fusion;
        // Document-aware ranking needs a list deeper than `top_k` to see a document's other
        // passages, as fusion does.
        let candidates = if mode == QueryMode::Hybrid || self.document_boost > 0.0 {
            fusion.candidates
        } else {
            k
        };
        let allowed = st.allowed(filter, deadline)?;
        let vector_hits = match &self.vector {
            Some(v) => st.vector_search(v, candidates, ef.max(candidates), &allowed)?,
            None => Vec::new(),
        };
        let keyword_hits = match (mode, &self.text) {
            (QueryMode::Keyword | QueryMode::Hybrid, Some(t)) => {
                st.keyword_search(t, candidates, &allowed)?
            }
            _ => Vec::new(),
        };
        let (vector_hits, keyword_hits) = (
            self.by_document(st, vector_hits),
            self.by_document(st, keyword_hits),
        );
        let hits: Vec<Hit> = match mode {
            QueryMode::Vector => vector_hits,
            QueryMode::Keyword => keyword_hits,
            QueryMode::Hybrid => {
                let (vw, kw) = (fusion.vector_weight, fusion.keyword_weight);
                let fused = match fusion.method {
                    FusionMethod::Rrf => reciprocal_rank_fusion(
                        &[
                            (vw, vector_hits.iter().map(|h| h.row).collect()),
                            (kw, keyword_hits.iter().map(|h| h.row).collect()),
                        ],
                        fusion.rrf_k,
                        k,
                    ),
                    FusionMethod::Weighted => weighted_score_fusion(
                        &[
                            (vw, vector_hits.iter().map(|h| (h.row, h.score)).collect()),
                            (kw, keyword_hits.iter().map(|h| (h.row, h.score)).collect()),
                        ],
                        k,
                    ),
                };
                fused
                    .into_iter()
                    .map(|(row, score)| Hit { row, score })
                    .collect()
            }
        };
        let results = hits
            .into_iter()
            .take(k)
            .filter_map(|h| {
                let r = st.record(h.row)?;
                Some(QueryHit {
                    chunk_id: r.id,
                    document_id: r.document_id,
                    text: r.text,
                    metadata: user_metadata(&r.attributes.metadata),
                    tags: r.attributes.tags.clone(),
                    score: h.score,
                })
            })
            .collect();
        Ok(QueryResponse {
            version: st.version(),
            mode,
            results,
        })
    }

    /// One list in document-aware order (see [`rank_by_document`]).
    fn by_document(&self, st: &ProjectState, hits: Vec<Hit>) -> Vec<Hit> {
        let list = hits.into_iter().map(|h| (h.row, h.score)).collect();
        rank_by_document(list, |row| st.document_id(*row), self.document_boost)
            .into_iter()
            .map(|(row, score)| Hit { row, score })
            .collect()
    }
}

fn view(id: &str, d: &crate::state::DocState, chunks: Option<Vec<ChunkView>>) -> DocumentView {
    DocumentView {
        id: id.to_string(),
        version: d.version,
        content_sha256: d.sha256.clone(),
        bytes: d.bytes,
        metadata: d.metadata.clone(),
        tags: d.tags.clone(),
        chunk_count: d.chunks.len(),
        chunks,
    }
}
