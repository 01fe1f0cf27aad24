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
