//! all-MiniLM-L6-v2 as the engine's `TextEmbedder`, loaded on first use (so start-up — and a
//! function's cold start — stays fast, and a deployment of caller-vector projects never pays
//! for it) and run on tokio's blocking pool so embedding never stalls request threads.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::TextEmbedder;
use snapkb_embed::{
    EmbedError, Embedded, Embedder, MINILM_DIMS, MINILM_MODEL_ID, MiniLm, PieceCounter,
};
use tokio::sync::OnceCell;

pub struct LazyMiniLm {
    dir: PathBuf,
    model: OnceCell<Arc<MiniLm>>,
    counter: OnceCell<Arc<dyn PieceCounter>>,
}

impl std::fmt::Debug for LazyMiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyMiniLm")
            .field("dir", &self.dir)
            .finish()
    }
}

impl LazyMiniLm {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            model: OnceCell::new(),
            counter: OnceCell::new(),
        }
    }

    async fn model(&self) -> Result<Arc<MiniLm>, EmbedError> {
        self.model
            .get_or_try_init(|| async {
                let dir = self.dir.clone();
                let started = std::time::Instant::now();
                let model = tokio::task::spawn_blocking(move || MiniLm::load(&dir))
                    .await
                    .map_err(|e| EmbedError::Inference(e.to_string()))??;
                tracing::info!(dir = %self.dir.display(), ms = started.elapsed().as_millis() as u64, "embedding model loaded");
                Ok(Arc::new(model))
            })
            .await
            .cloned()
    }
}

#[async_trait::async_trait]
impl TextEmbedder for LazyMiniLm {
    fn model_id(&self) -> &str {
        MINILM_MODEL_ID
    }

    fn dims(&self) -> usize {
        MINILM_DIMS
    }

    async fn piece_counter(&self) -> Result<Arc<dyn PieceCounter>, EmbedError> {
        let model = self.model().await?;
        self.counter
            .get_or_try_init(|| async {
                Ok(Arc::new(model.piece_counter()) as Arc<dyn PieceCounter>)
            })
            .await
            .cloned()
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Embedded, EmbedError> {
        let model = self.model().await?;
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            model.embed(&refs)
        })
        .await
        .map_err(|e| EmbedError::Inference(e.to_string()))?
    }
}
