//! Embedding text through an HTTP endpoint, for hosts without the model (edge functions), in
//! OpenAI's embeddings shape (`{"input": [...], "model": …}` → `{"data": [{"index",
//! "embedding"}], …}`) — the shape `/v1/embed` serves, so an edge function can use another
//! snapkb deployment or any OpenAI-compatible server that runs all-MiniLM-L6-v2.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use snapkb_embed::{
    EmbedError, Embedded, MINILM_DIMS, MINILM_MAX_PIECES, MINILM_MODEL_ID, PieceCounter,
    WordCounter,
};
use snapkb_store::{Outbound, OutboundRequest};

use crate::TextEmbedder;

/// Texts per request to the endpoint (and most per `/v1/embed` call).
pub const MAX_EMBED_TEXTS: usize = 256;

/// all-MiniLM-L6-v2 behind an HTTP endpoint. Chunk sizes are measured with [`WordCounter`]
/// (the tokenizer stays with the model), so edge chunks can differ a little from native ones.
pub struct RemoteEmbedder {
    outbound: Arc<dyn Outbound>,
    url: String,
    token: Option<String>,
    model: String,
}

impl std::fmt::Debug for RemoteEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl RemoteEmbedder {
    pub fn new(
        outbound: Arc<dyn Outbound>,
        url: impl Into<String>,
        token: Option<String>,
        model: impl Into<String>,
    ) -> Self {
        Self {
            outbound,
            url: url.into(),
            token,
            model: model.into(),
        }
    }

    /// From `SNAPKB_EMBED_URL` / `_TOKEN` / `_MODEL`, when a URL is configured.
    pub fn from_config(outbound: Arc<dyn Outbound>, config: &snapkb_core::Config) -> Option<Self> {
        let url = config.embed_url.clone()?;
        Some(Self::new(
            outbound,
            url,
            config.embed_token.clone(),
            config.embed_model.clone(),
        ))
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = serde_json::to_vec(&EmbedRequest {
            input: EmbedInput::Many(texts.to_vec()),
            model: Some(self.model.clone()),
        })
        .map_err(|e| EmbedError::Remote(e.to_string()))?;
        let mut request = OutboundRequest::post_json(&self.url, body);
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .outbound
            .send(request)
            .await
            .map_err(|e| EmbedError::Remote(format!("{}: {e}", self.url)))?;
        if !(200..300).contains(&response.status) {
            let detail = String::from_utf8_lossy(&response.body);
            let detail: String = detail.chars().take(300).collect();
            return Err(EmbedError::Remote(format!(
                "{} answered {}: {detail}",
                self.url, response.status
            )));
        }
        let parsed: EmbedResponse = serde_json::from_slice(&response.body).map_err(|e| {
            EmbedError::Remote(format!("{} sent an unreadable answer: {e}", self.url))
        })?;
        if parsed.data.len() != texts.len() {
            return Err(EmbedError::Remote(format!(
                "{} sent {} vectors for {} texts",
                self.url,
                parsed.data.len(),
                texts.len()
            )));
        }
        let mut vectors = vec![Vec::new(); texts.len()];
        for item in parsed.data {
            let slot = vectors.get_mut(item.index).ok_or_else(|| {
                EmbedError::Remote(format!("{} sent index {}", self.url, item.index))
            })?;
            *slot = unit(item.embedding, item.index)?;
        }
        for (index, v) in vectors.iter().enumerate() {
            if v.len() != MINILM_DIMS {
                return Err(EmbedError::Remote(format!(
                    "{} sent a vector of {} dimensions for text {index}; all-MiniLM-L6-v2 has {MINILM_DIMS} (is SNAPKB_EMBED_MODEL that model?)",
                    self.url,
                    v.len()
                )));
            }
        }
        Ok(vectors)
    }
}

/// Scales a vector to unit length, refusing non-finite and zero vectors.
fn unit(mut v: Vec<f32>, index: usize) -> Result<Vec<f32>, EmbedError> {
    if let Some(position) = v.iter().position(|x| !x.is_finite()) {
        return Err(EmbedError::NonFinite { index, position });
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return Err(EmbedError::ZeroVector { index });
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Ok(v)
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl TextEmbedder for RemoteEmbedder {
    fn model_id(&self) -> &str {
        MINILM_MODEL_ID
    }

    fn dims(&self) -> usize {
        MINILM_DIMS
    }

    async fn piece_counter(&self) -> Result<Arc<dyn PieceCounter>, EmbedError> {
        Ok(Arc::new(WordCounter))
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Embedded, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(MAX_EMBED_TEXTS) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        // The model adds [CLS] and [SEP] and reads at most MINILM_MAX_PIECES pieces.
        let counted: Vec<usize> = texts.iter().map(|t| WordCounter.count(t) + 2).collect();
        Ok(Embedded {
            vectors,
            pieces: counted.iter().map(|&n| n.min(MINILM_MAX_PIECES)).collect(),
            truncated: counted.iter().map(|&n| n > MINILM_MAX_PIECES).collect(),
        })
    }
}

/// `POST /v1/embed`: OpenAI's embeddings request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    /// One text or up to 256 texts.
    pub input: EmbedInput,
    /// all-MiniLM-L6-v2 (the only model snapkb runs); any other name is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EmbedInput {
    One(String),
    Many(Vec<String>),
}

/// OpenAI's embeddings response.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmbedResponse {
    #[serde(default)]
    pub object: String,
    pub data: Vec<EmbeddingItem>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub usage: EmbedUsage,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmbeddingItem {
    #[serde(default)]
    pub object: String,
    pub index: usize,
    pub embedding: Vec<f32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmbedUsage {
    #[serde(default)]
    pub prompt_tokens: usize,
    #[serde(default)]
    pub total_tokens: usize,
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use snapkb_store::{OutboundError, OutboundResponse};

    use super::*;
    use crate::{EngineError, error::embed_error};

    /// Answers like an embeddings server: vector i is `[i+1, 1, 0, …]` (unnormalized), in
    /// reverse order; or a canned status. Records each request's text count.
    pub(crate) struct FakeServer {
        dims: usize,
        status: u16,
        pub(crate) calls: Mutex<Vec<usize>>,
    }

    #[async_trait::async_trait]
    impl Outbound for FakeServer {
        async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            let texts = body["input"].as_array().unwrap().len();
            assert_eq!(body["model"], "all-MiniLM-L6-v2");
            assert!(
                request
                    .headers
                    .contains(&("authorization".into(), "Bearer sk_read".into()))
            );
            self.calls.lock().unwrap().push(texts);
            let data: Vec<serde_json::Value> = (0..texts)
                .rev()
                .map(|i| {
                    let mut v = vec![0.0f32; self.dims];
                    v[0] = (i + 1) as f32;
                    v[1] = 1.0;
                    serde_json::json!({ "index": i, "embedding": v })
                })
                .collect();
            Ok(OutboundResponse {
                status: self.status,
                headers: Vec::new(),
                body: serde_json::to_vec(&serde_json::json!({ "data": data, "model": "m" }))
                    .unwrap()
                    .into(),
            })
        }
    }

    pub(crate) fn remote(dims: usize, status: u16) -> (RemoteEmbedder, Arc<FakeServer>) {
        let server = Arc::new(FakeServer {
            dims,
            status,
            calls: Mutex::new(Vec::new()),
        });
        let embedder = RemoteEmbedder::new(
            server.clone(),
            "https://kb.example/v1/embed",
            Some("sk_read".into()),
            "all-MiniLM-L6-v2",
        );
        (embedder, server)
    }

    pub(crate) fn texts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("text {i}")).collect()
    }

    #[tokio::test]
    async fn remote_vectors_come_back_in_input_order_at_unit_length_in_batches() {
        let (embedder, server) = remote(MINILM_DIMS, 200);
        let out = embedder.embed(texts(300)).await.unwrap();
        assert_eq!(*server.calls.lock().unwrap(), vec![256, 44]);
        assert_eq!(out.vectors.len(), 300);
        for (i, v) in out.vectors.iter().take(256).enumerate() {
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
            let expected = (i + 1) as f32 / (((i + 1) * (i + 1) + 1) as f32).sqrt();
            assert!((v[0] - expected).abs() < 1e-5, "vector {i} is text {i}'s");
        }
        assert_eq!(out.pieces[0], 4, "[CLS] text 0 [SEP]");
        assert!(!out.truncated[0]);
    }

    #[tokio::test]
    async fn a_wrong_dimension_or_a_failed_status_is_a_remote_error_naming_the_endpoint() {
        let (embedder, _) = remote(768, 200);
        let err = embedder.embed(texts(1)).await.unwrap_err();
        assert!(
            matches!(&err, EmbedError::Remote(m) if m.contains("768") && m.contains("kb.example")),
            "{err}"
        );
        let (embedder, _) = remote(MINILM_DIMS, 401);
        let err = embedder.embed(texts(1)).await.unwrap_err();
        assert!(
            matches!(&err, EmbedError::Remote(m) if m.contains("401")),
            "{err}"
        );
        assert!(matches!(
            embed_error("text", err),
            EngineError::ModelUnavailable(_)
        ));
    }
}
