//! `POST /v1/embed`: this deployment's model for other functions (edge hosts without the
//! model) and for callers, in OpenAI's embeddings shape.

use snapkb_core::{Principal, Scope};
use snapkb_embed::MINILM_MODEL_ID;

use crate::{
    EmbedInput, EmbedRequest, EmbedResponse, EmbedUsage, EmbeddingItem, Engine, EngineError,
    MAX_EMBED_TEXTS, error::embed_error,
};

/// Longest text `/v1/embed` accepts; the model reads the first 256 word pieces anyway.
pub const MAX_EMBED_TEXT_BYTES: usize = 64 << 10;

impl Engine {
    /// Embeds texts with this deployment's model for any key with read scope (counted against
    /// its project's rate limits by the caller) or the deployment admin.
    pub async fn embed_texts(
        &self,
        principal: &Principal,
        request: EmbedRequest,
    ) -> Result<EmbedResponse, EngineError> {
        if let Principal::Key(key) = principal
            && !key.allows(Scope::Read)
        {
            return Err(EngineError::Forbidden {
                scope: Scope::Read.as_str(),
            });
        }
        if let Some(model) = &request.model
            && model != "all-MiniLM-L6-v2"
            && model != MINILM_MODEL_ID
        {
            return Err(EngineError::invalid(
                "model",
                format!("unknown model `{model}`; this deployment runs all-MiniLM-L6-v2"),
            ));
        }
        let texts = match request.input {
            EmbedInput::One(text) => vec![text],
            EmbedInput::Many(texts) => texts,
        };
        if texts.is_empty() || texts.len() > MAX_EMBED_TEXTS {
            return Err(EngineError::invalid(
                "input",
                format!("give 1 to {MAX_EMBED_TEXTS} texts, got {}", texts.len()),
            ));
        }
        for (i, text) in texts.iter().enumerate() {
            if text.trim().is_empty() {
                return Err(EngineError::invalid(format!("input[{i}]"), "is empty"));
            }
            if text.len() > MAX_EMBED_TEXT_BYTES {
                return Err(EngineError::invalid(
                    format!("input[{i}]"),
                    format!("is over {MAX_EMBED_TEXT_BYTES} bytes"),
                ));
            }
        }
        let embedder = self.embedder.as_ref().ok_or_else(|| {
            EngineError::invalid(
                "input",
                "this deployment cannot embed text: it has no model and no SNAPKB_EMBED_URL",
            )
        })?;
        let out = embedder
            .embed(texts)
            .await
            .map_err(|e| embed_error("input", e))?;
        let tokens = out.pieces.iter().sum();
        Ok(EmbedResponse {
            object: "list".into(),
            data: out
                .vectors
                .into_iter()
                .enumerate()
                .map(|(index, embedding)| EmbeddingItem {
                    object: "embedding".into(),
                    index,
                    embedding,
                })
                .collect(),
            model: "all-MiniLM-L6-v2".into(),
            usage: EmbedUsage {
                prompt_tokens: tokens,
                total_tokens: tokens,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use snapkb_embed::MINILM_DIMS;
    use snapkb_store::{MemoryMetaStore, MemoryObjectStore};

    use super::*;
    use crate::embedders::remote::tests::{remote, texts};

    #[tokio::test]
    async fn embed_texts_checks_the_model_and_the_texts() {
        let engine = Engine::new(
            Arc::new(MemoryObjectStore::default()),
            Arc::new(MemoryMetaStore::default()),
            snapkb_core::Config::default(),
        );
        let request = |input: EmbedInput, model: Option<&str>| EmbedRequest {
            input,
            model: model.map(str::to_string),
        };
        let admin = Principal::DeploymentAdmin;
        let field = |r: Result<EmbedResponse, EngineError>| match r {
            Err(EngineError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        // No model and no embedding URL.
        assert_eq!(
            field(
                engine
                    .embed_texts(&admin, request(EmbedInput::One("a".into()), None))
                    .await
            ),
            "input"
        );
        let (embedder, _) = remote(MINILM_DIMS, 200);
        let engine = engine.with_embedder(Arc::new(embedder));
        let ok = engine
            .embed_texts(
                &admin,
                request(EmbedInput::Many(texts(3)), Some("all-MiniLM-L6-v2")),
            )
            .await
            .unwrap();
        assert_eq!(ok.data.len(), 3);
        assert_eq!(ok.data[2].index, 2);
        assert_eq!(ok.usage.total_tokens, 12);
        let cases = [
            (
                request(EmbedInput::One("a".into()), Some("ada-002")),
                "model",
            ),
            (request(EmbedInput::Many(Vec::new()), None), "input"),
            (request(EmbedInput::Many(texts(257)), None), "input"),
            (
                request(EmbedInput::Many(vec!["a".into(), "  ".into()]), None),
                "input[1]",
            ),
            (
                request(EmbedInput::One("x".repeat(MAX_EMBED_TEXT_BYTES + 1)), None),
                "input[0]",
            ),
        ];
        for (bad, expected) in cases {
            assert_eq!(field(engine.embed_texts(&admin, bad).await), expected);
        }
    }
}
