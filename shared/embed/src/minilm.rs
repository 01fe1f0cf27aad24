//! all-MiniLM-L6-v2 on the CPU: our BERT forward pass (`bert`), attention-masked mean pooling
//! and L2 normalization as sentence-transformers configures this model, tokenization by the
//! `tokenizers` crate from the model's own tokenizer.json, and texts spread over the cores one
//! whole sequence per core.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokenizers::{Tokenizer, TruncationParams};

use crate::{
    EmbedError, Embedded, Embedder, MINILM_DIMS, MINILM_INT8_MODEL_ID, MINILM_MAX_PIECES,
    MINILM_MODEL_ID, PieceCounter,
    bert::{Bert, BertConfig, Scratch},
};

pub use crate::bert::Precision;

/// Environment variable naming the model directory.
pub const MODEL_DIR_ENV: &str = "SNAPKB_MODEL_DIR";
/// Environment variable capping the threads one embedding call uses (default: every core).
pub const EMBED_THREADS_ENV: &str = "SNAPKB_EMBED_THREADS";

/// `$SNAPKB_MODEL_DIR`, or `models/all-MiniLM-L6-v2` (where infra/dev/fetch-model.sh puts it).
pub fn default_model_dir() -> PathBuf {
    std::env::var_os(MODEL_DIR_ENV)
        .map_or_else(|| PathBuf::from("models/all-MiniLM-L6-v2"), PathBuf::from)
}

/// `$SNAPKB_EMBED_THREADS` if set to a positive number, else the cores this process may use.
pub fn default_embed_threads() -> usize {
    std::env::var(EMBED_THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The loaded model.
pub struct MiniLm {
    bert: Bert,
    precision: Precision,
    tokenizer: Tokenizer,
    counter: TokenizerCounter,
    threads: usize,
    /// Buffers of finished calls, reused by the next (at most one per thread).
    scratch: Mutex<Vec<Scratch>>,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("model_id", &self.model_id())
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

fn read(dir: &Path, file: &'static str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| {
        let dir = dir.display().to_string();
        if e.kind() == std::io::ErrorKind::NotFound {
            EmbedError::ModelMissing { dir, file }
        } else {
            EmbedError::ModelInvalid {
                dir,
                reason: format!("{file}: {e}"),
            }
        }
    })
}

impl MiniLm {
    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from `dir`, exact (f32).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Self::load_with(dir, Precision::F32, default_embed_threads())
    }

    /// Loads the model at `precision` (int8 quantizes the same weights at load), using up to
    /// `threads` threads per call.
    pub fn load_with(dir: &Path, precision: Precision, threads: usize) -> Result<Self, EmbedError> {
        let invalid = |reason: String| EmbedError::ModelInvalid {
            dir: dir.display().to_string(),
            reason,
        };
        let weights = read(dir, "model.safetensors")?;
        let config: BertConfig = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|e| invalid(format!("config.json: {e}")))?;
        let tokenizer_json = read(dir, "tokenizer.json")?;
        let bert = Bert::load(&weights, config, precision)
            .map_err(|e| invalid(format!("model.safetensors: {e}")))?;
        drop(weights);
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_json)
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        // tokenizer.json carries its own padding settings; sequences run one at a time and
        // unpadded, and counting must see no truncation either.
        tokenizer.with_padding(None);
        // Checked once here so no token id can fall outside the embedding table later.
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > bert.vocab_size() {
            return Err(invalid(format!(
                "tokenizer.json has {vocab} tokens, the model's embedding table {}",
                bert.vocab_size()
            )));
        }
        let mut plain = tokenizer.clone();
        plain
            .with_truncation(None)
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        let counter = TokenizerCounter::new(plain);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MINILM_MAX_PIECES.min(bert.max_tokens()),
                ..Default::default()
            }))
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        Ok(Self {
            bert,
            precision,
            tokenizer,
            counter,
            threads: threads.max(1),
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Counts word pieces with this model's tokenizer (for chunking).
    pub fn piece_counter(&self) -> TokenizerCounter {
        self.counter.clone()
    }

    fn take_scratch(&self) -> Scratch {
        self.scratch
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default()
    }

    fn return_scratch(&self, scratch: Scratch) {
        if let Ok(mut pool) = self.scratch.lock()
            && pool.len() < self.threads
        {
            pool.push(scratch);
        }
    }
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        match self.precision {
            Precision::F32 => MINILM_MODEL_ID,
            Precision::Int8 => MINILM_INT8_MODEL_ID,
        }
    }

    fn dims(&self) -> usize {
        MINILM_DIMS
    }

    fn embed(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Inference(e.to_string()))?;
        // Longest first, so the last sequence a worker picks up is a short one.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let next = AtomicUsize::new(0);
        // One worker: takes texts until none are left, with its own buffers.
        let work = || {
            let mut scratch = self.take_scratch();
            let mut done = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                done.push((i, self.bert.embed(encodings[i].get_ids(), &mut scratch)));
            }
            self.return_scratch(scratch);
            done
        };
        let workers = self.threads.min(texts.len()).max(1);
        let results: Vec<(usize, Vec<f32>)> = if workers == 1 {
            work()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
                handles
                    .into_iter()
                    .map(|h| h.join())
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|_| EmbedError::Inference("an embedding worker failed".into()))?
            .into_iter()
            .flatten()
            .collect()
        };
        let mut vectors = vec![Vec::new(); texts.len()];
        for (i, v) in results {
            vectors[i] = v;
        }
        Ok(Embedded {
            vectors,
            pieces: encodings.iter().map(|e| e.get_ids().len()).collect(),
            truncated: encodings
                .iter()
                .map(|e| !e.get_overflowing().is_empty())
                .collect(),
        })
    }
}

/// Exact word-piece counts from the model's tokenizer. BERT's pre-tokenizer never joins text
/// across whitespace, so a text's count is the sum of its whitespace-separated words' counts;
/// each distinct word is tokenized once and remembered, which makes chunking fast.
#[derive(Clone)]
pub struct TokenizerCounter {
    tokenizer: Arc<Tokenizer>,
    cache: Arc<Mutex<HashMap<String, usize>>>,
}

impl std::fmt::Debug for TokenizerCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenizerCounter")
    }
}

/// Distinct words remembered before the cache starts over.
const CACHE_WORDS: usize = 200_000;

impl TokenizerCounter {
    fn new(tokenizer: Tokenizer) -> Self {
        Self {
            tokenizer: Arc::new(tokenizer),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn count_word(&self, word: &str) -> usize {
        if let Some(&n) = self.cache.lock().ok().as_ref().and_then(|c| c.get(word)) {
            return n;
        }
        let n = self
            .tokenizer
            .encode(word, false)
            .map(|e| e.get_ids().len())
            .unwrap_or(word.chars().count());
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_WORDS {
                cache.clear();
            }
            cache.insert(word.to_string(), n);
        }
        n
    }
}

impl PieceCounter for TokenizerCounter {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().map(|w| self.count_word(w)).sum()
    }
}
