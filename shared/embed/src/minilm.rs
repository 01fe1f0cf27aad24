//! all-MiniLM-L6-v2 on the CPU with candle: BERT forward pass, attention-masked mean pooling and
//! L2 normalization, as sentence-transformers configures this model; tokenization by the
//! `tokenizers` crate from the model's own tokenizer.json.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::{
    EmbedError, Embedded, Embedder, MINILM_DIMS, MINILM_MAX_PIECES, MINILM_MODEL_ID, PieceCounter,
};

/// Environment variable naming the model directory.
pub const MODEL_DIR_ENV: &str = "SNAPKB_MODEL_DIR";

/// `$SNAPKB_MODEL_DIR`, or `models/all-MiniLM-L6-v2` (where infra/dev/fetch-model.sh puts it).
pub fn default_model_dir() -> PathBuf {
    std::env::var_os(MODEL_DIR_ENV)
        .map_or_else(|| PathBuf::from("models/all-MiniLM-L6-v2"), PathBuf::from)
}

/// Texts embedded together; sorted by length first, so padding stays small.
const BATCH: usize = 32;

/// The loaded model.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    counter: TokenizerCounter,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("model_id", &MINILM_MODEL_ID)
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
    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let invalid = |reason: String| EmbedError::ModelInvalid {
            dir: dir.display().to_string(),
            reason,
        };
        let weights = read(dir, "model.safetensors")?;
        let config: Config = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|e| invalid(format!("config.json: {e}")))?;
        let tokenizer_json = read(dir, "tokenizer.json")?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| invalid(format!("model.safetensors: {e}")))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| invalid(format!("model.safetensors: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_json)
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        // tokenizer.json carries its own padding settings; counting must see no padding and no
        // truncation.
        let mut plain = tokenizer.clone();
        plain.with_padding(None);
        plain
            .with_truncation(None)
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        let counter = TokenizerCounter::new(plain);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MINILM_MAX_PIECES,
                ..Default::default()
            }))
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        Ok(Self {
            model,
            tokenizer,
            device,
            counter,
        })
    }

    /// Counts word pieces with this model's tokenizer (for chunking).
    pub fn piece_counter(&self) -> TokenizerCounter {
        self.counter.clone()
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        let fail = |e: &dyn std::fmt::Display| EmbedError::Inference(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| fail(&e))?;
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let rows = encodings.len();
        let mut ids = Vec::with_capacity(rows * len);
        let mut mask = Vec::with_capacity(rows * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (rows, len), &self.device).map_err(|e| fail(&e))?;
        let mask = Tensor::from_vec(mask, (rows, len), &self.device).map_err(|e| fail(&e))?;
        let types = ids.zeros_like().map_err(|e| fail(&e))?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(|e| fail(&e))?;
        // Mean over real tokens only: zero the padding, divide by each row's token count.
        let mask = mask
            .to_dtype(DType::F32)
            .map_err(|e| fail(&e))?
            .unsqueeze(2)
            .map_err(|e| fail(&e))?;
        let summed = hidden
            .broadcast_mul(&mask)
            .and_then(|t| t.sum(1))
            .map_err(|e| fail(&e))?;
        let counts = mask.sum(1).map_err(|e| fail(&e))?;
        let pooled = summed.broadcast_div(&counts).map_err(|e| fail(&e))?;
        let norms = pooled
            .sqr()
            .and_then(|t| t.sum_keepdim(1))
            .and_then(|t| t.sqrt())
            .map_err(|e| fail(&e))?;
        let unit = pooled.broadcast_div(&norms).map_err(|e| fail(&e))?;
        let vectors: Vec<Vec<f32>> = unit.to_vec2().map_err(|e| fail(&e))?;
        Ok(Embedded {
            vectors,
            pieces: encodings
                .iter()
                .map(|e| e.get_attention_mask().iter().filter(|&&m| m == 1).count())
                .collect(),
            truncated: encodings
                .iter()
                .map(|e| !e.get_overflowing().is_empty())
                .collect(),
        })
    }
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        MINILM_MODEL_ID
    }

    fn dims(&self) -> usize {
        MINILM_DIMS
    }

    fn embed(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = Embedded {
            vectors: vec![Vec::new(); texts.len()],
            pieces: vec![0; texts.len()],
            truncated: vec![false; texts.len()],
        };
        for group in order.chunks(BATCH) {
            let batch: Vec<&str> = group.iter().map(|&i| texts[i]).collect();
            let done = self.embed_batch(&batch)?;
            for (k, &i) in group.iter().enumerate() {
                out.vectors[i] = done.vectors[k].clone();
                out.pieces[i] = done.pieces[k];
                out.truncated[i] = done.truncated[k];
            }
        }
        Ok(out)
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
