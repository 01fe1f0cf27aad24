//! Helpers for the engine's unit tests: an engine on the in-memory stores, projects of caller
//! vectors or of an embedder that hashes words, documents and queries.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use snapkb_core::{Config, EmbeddingConfig, Metric, Principal};
use snapkb_embed::{EmbedError, Embedded, Embedder, WordCounter};
use snapkb_store::{MemoryMetaStore, MemoryObjectStore};

use crate::{
    CreateProject, DocumentInput, Engine, IngestRequest, IngestResponse, InlineEmbedder,
    QueryRequest,
};

pub(crate) const DIMS: usize = 8;
const MINILM_DIMS: usize = 384;

pub(crate) fn engine() -> Engine {
    Engine::new(
        Arc::new(MemoryObjectStore::default()),
        Arc::new(MemoryMetaStore::default()),
        Config::default(),
    )
}

/// A deterministic stand-in for the model: each word adds to a hashed coordinate, and every
/// text embedded is counted.
#[derive(Debug, Default, Clone)]
pub(crate) struct HashingEmbedder {
    pub(crate) texts: Arc<AtomicUsize>,
}

impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        "sentence-transformers/all-MiniLM-L6-v2"
    }

    fn dims(&self) -> usize {
        MINILM_DIMS
    }

    fn embed(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        let vectors: Vec<Vec<f32>> = texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; MINILM_DIMS];
                v[0] = 1.0;
                for word in t.split_whitespace() {
                    let h = xxhash_rust::xxh3::xxh3_64(word.as_bytes()) as usize;
                    v[h % MINILM_DIMS] += 1.0;
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect();
        Ok(Embedded {
            pieces: texts.iter().map(|t| t.split_whitespace().count()).collect(),
            truncated: vec![false; texts.len()],
            vectors,
        })
    }
}

/// An engine whose projects embed text with a [`HashingEmbedder`], and that embedder.
pub(crate) fn engine_with_embedder() -> (Engine, HashingEmbedder) {
    let embedder = HashingEmbedder::default();
    let engine = engine().with_embedder(Arc::new(InlineEmbedder {
        embedder: embedder.clone(),
        counter: Arc::new(WordCounter),
    }));
    (engine, embedder)
}

/// A project of `DIMS`-dimensional caller vectors (or of the embedder's text, `embedded`).
pub(crate) async fn project(engine: &Engine, id: &str, embedded: bool) {
    let embedding = (!embedded).then_some(EmbeddingConfig {
        model: None,
        dims: DIMS as u32,
        metric: Metric::Cosine,
    });
    let request = CreateProject {
        id: id.into(),
        embedding,
        ..Default::default()
    };
    engine
        .create_project(&Principal::DeploymentAdmin, request)
        .await
        .unwrap();
}

pub(crate) fn vector(seed: u64) -> Vec<f32> {
    snapkb_index::synthetic::seeded_vector(seed, DIMS)
}

/// A document with a caller vector.
pub(crate) fn doc(id: &str, seed: u64) -> DocumentInput {
    DocumentInput {
        id: id.into(),
        text: Some(format!("document {id} about topic{seed}")),
        vector: Some(vector(seed)),
        ..Default::default()
    }
}

pub(crate) async fn ingest(
    engine: &Engine,
    project: &str,
    documents: Vec<DocumentInput>,
) -> IngestResponse {
    engine
        .ingest(
            &Principal::DeploymentAdmin,
            project,
            IngestRequest { documents },
        )
        .await
        .unwrap()
}

/// Ids of the `k` chunks nearest to `vector(seed)`.
pub(crate) async fn nearest(engine: &Engine, project: &str, seed: u64, k: usize) -> Vec<String> {
    let request = QueryRequest {
        vector: Some(vector(seed)),
        top_k: k,
        ..Default::default()
    };
    engine
        .query(&Principal::DeploymentAdmin, project, request)
        .await
        .unwrap()
        .results
        .into_iter()
        .map(|hit| hit.chunk_id)
        .collect()
}
