//! How the engine gets vectors for text: an async embedder, so a host can run the model off its
//! request threads (tokio's blocking pool on servers) or inline (wasm, tests). The embedders
//! live here: inline, the lazily loaded local model, and a remote endpoint.

#[cfg(feature = "model")]
pub(crate) mod lazy_model;
pub(crate) mod remote;

use std::sync::Arc;

use snapkb_embed::{EmbedError, Embedded, Embedder, PieceCounter};
use snapkb_store::MaybeSendSync;

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait TextEmbedder: MaybeSendSync {
    fn model_id(&self) -> &str;
    fn dims(&self) -> usize;
    /// The counter chunks are measured with (the model's tokenizer).
    async fn piece_counter(&self) -> Result<Arc<dyn PieceCounter>, EmbedError>;
    async fn embed(&self, texts: Vec<String>) -> Result<Embedded, EmbedError>;
    /// What this process's model has done so far, for health (`None` when it is not measured
    /// here, e.g. a remote endpoint or an inline test embedder).
    fn stats(&self) -> Option<EmbeddingHealth> {
        None
    }
}

/// The embedding model's work in this process since it started: what `GET /health` reports so an
/// operator sees what ingest and text queries spend on the model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EmbeddingHealth {
    pub model: String,
    /// How long loading the model took (0 until it is first used).
    pub model_load_ms: f64,
    /// Calls to the model, texts embedded, and word pieces read.
    pub calls: u64,
    pub texts: u64,
    pub pieces: u64,
    /// Wall-clock milliseconds spent in the model.
    pub busy_ms: f64,
    /// Texts per second of model time.
    pub texts_per_s: f64,
    /// Mean milliseconds per call.
    pub mean_call_ms: f64,
}

/// Runs an [`Embedder`] on the calling task.
pub struct InlineEmbedder<E> {
    pub embedder: E,
    pub counter: Arc<dyn PieceCounter>,
}

impl<E> std::fmt::Debug for InlineEmbedder<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InlineEmbedder")
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl<E: Embedder + 'static> TextEmbedder for InlineEmbedder<E> {
    fn model_id(&self) -> &str {
        self.embedder.model_id()
    }

    fn dims(&self) -> usize {
        self.embedder.dims()
    }

    async fn piece_counter(&self) -> Result<Arc<dyn PieceCounter>, EmbedError> {
        Ok(self.counter.clone())
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Embedded, EmbedError> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.embedder.embed(&refs)
    }
}
