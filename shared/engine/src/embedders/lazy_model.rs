//! all-MiniLM-L6-v2 as the engine's `TextEmbedder`, loaded on first use (so start-up — and a
//! function's cold start — stays fast, and a deployment of caller-vector projects never pays
//! for it) and run on tokio's blocking pool so embedding never stalls request threads.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use crate::{TextEmbedder, embedders::EmbeddingHealth};
use snapkb_embed::{
    EmbedError, Embedded, Embedder, MINILM_DIMS, MINILM_MODEL_ID, MiniLm, PieceCounter,
};
use tokio::sync::OnceCell;

pub struct LazyMiniLm {
    dir: PathBuf,
    model: OnceCell<Arc<MiniLm>>,
    counter: OnceCell<Arc<dyn PieceCounter>>,
    stats: Arc<Counters>,
}

/// Running totals behind [`EmbeddingHealth`].
#[derive(Debug, Default)]
struct Counters {
    load_micros: AtomicU64,
    calls: AtomicU64,
    texts: AtomicU64,
    pieces: AtomicU64,
    busy_micros: AtomicU64,
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
            stats: Arc::default(),
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
                self.stats
                    .load_micros
                    .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
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
        let stats = self.stats.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let started = Instant::now();
            let out = model.embed(&refs)?;
            stats
                .busy_micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            stats.calls.fetch_add(1, Ordering::Relaxed);
            stats
                .texts
                .fetch_add(out.vectors.len() as u64, Ordering::Relaxed);
            stats
                .pieces
                .fetch_add(out.pieces.iter().sum::<usize>() as u64, Ordering::Relaxed);
            Ok(out)
        })
        .await
        .map_err(|e| EmbedError::Inference(e.to_string()))?
    }

    fn stats(&self) -> Option<EmbeddingHealth> {
        let s = &self.stats;
        let calls = s.calls.load(Ordering::Relaxed);
        let texts = s.texts.load(Ordering::Relaxed);
        let busy_ms = s.busy_micros.load(Ordering::Relaxed) as f64 / 1e3;
        Some(EmbeddingHealth {
            model: self.model_id().to_string(),
            model_load_ms: s.load_micros.load(Ordering::Relaxed) as f64 / 1e3,
            calls,
            texts,
            pieces: s.pieces.load(Ordering::Relaxed),
            busy_ms,
            texts_per_s: if busy_ms > 0.0 {
                texts as f64 / (busy_ms / 1e3)
            } else {
                0.0
            },
            mean_call_ms: if calls > 0 {
                busy_ms / calls as f64
            } else {
                0.0
            },
        })
    }
}
