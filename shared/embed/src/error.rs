//! Errors of the embedders and of document parsing, each naming what the caller must fix.

use thiserror::Error;

/// Errors from loading a model or computing or checking vectors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmbedError {
    #[error(
        "model file {file} is missing from {dir}; run infra/dev/fetch-model.sh (or set SNAPKB_MODEL_DIR)"
    )]
    ModelMissing { dir: String, file: &'static str },
    #[error("model files in {dir} cannot be used: {reason}")]
    ModelInvalid { dir: String, reason: String },
    #[error("embedding failed: {0}")]
    Inference(String),
    /// A remote embedding endpoint could not be reached or refused the request.
    #[error("the embedding endpoint failed: {0}")]
    Remote(String),
    #[error("expected {expected} vectors, one per text, got {got}")]
    CountMismatch { expected: usize, got: usize },
    #[error("vector {index} has {got} dimensions, the project uses {expected}")]
    DimensionMismatch {
        index: usize,
        expected: usize,
        got: usize,
    },
    #[error("vector {index} component {position} is not a finite number")]
    NonFinite { index: usize, position: usize },
    #[error("vector {index} is all zeros and has no direction")]
    ZeroVector { index: usize },
}

/// Errors from reading a document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentError {
    #[error(
        "unsupported content type `{0}`; use text/plain, text/markdown, text/html or application/json"
    )]
    UnsupportedType(String),
    #[error("unsupported charset `{0}`; documents must be UTF-8")]
    UnsupportedCharset(String),
    #[error("the document is not valid UTF-8 (first invalid byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("invalid JSON document: {0}")]
    InvalidJson(String),
    #[error("field `{0}` is required")]
    MissingField(&'static str),
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
}
