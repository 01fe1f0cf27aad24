//! The engine's errors: each variant is one thing a caller can act on, and shared/http maps
//! every variant to exactly one HTTP status.

use snapkb_core::{ConfigError, QuotaExceeded};
use snapkb_embed::{DocumentError, EmbedError};
use snapkb_index::{DecodeError, IndexError};
use snapkb_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    /// Missing or unknown credentials.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// A signed webhook whose signature or timestamp does not check out.
    #[error("webhook signature rejected: {0}")]
    BadSignature(String),
    /// The key sees the project but lacks the scope.
    #[error("this key lacks the `{scope}` scope")]
    Forbidden { scope: &'static str },
    /// Also returned for projects the key cannot see, so keys learn nothing about others.
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("`{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    Conflict(String),
    #[error("quota `{}` would be exceeded: limit {}, requested {}", .0.field, .0.limit, .0.requested)]
    Quota(QuotaExceeded),
    #[error("rate limit of {limit} requests per {window_seconds} s reached for this {scope}")]
    RateLimited {
        scope: &'static str,
        limit: u32,
        window_seconds: u32,
        retry_after: u64,
    },
    /// The embedding model cannot be used (files missing, failed to load).
    #[error("the embedding model is unavailable: {0}")]
    ModelUnavailable(String),
    /// A query was still searching at its deadline and was stopped.
    #[error("the query was stopped after {after_ms} ms; narrow its filter or retry")]
    Timeout { after_ms: u64 },
    /// The backend is overloaded or unreachable; retrying later can succeed.
    #[error("storage is unavailable, retry later: {0}")]
    Unavailable(String),
    /// Stored data failed validation: never served, always reported.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EngineError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        EngineError::NotFound { what: what.into() }
    }

    /// Whether the fault is the service's (5xx), not the caller's.
    pub fn is_server_error(&self) -> bool {
        match self {
            EngineError::ModelUnavailable(_)
            | EngineError::Unavailable(_)
            | EngineError::Corrupt(_)
            | EngineError::Internal(_) => true,
            EngineError::Unauthorized
            | EngineError::BadSignature(_)
            | EngineError::Forbidden { .. }
            | EngineError::NotFound { .. }
            | EngineError::Invalid { .. }
            | EngineError::Conflict(_)
            | EngineError::Quota(_)
            | EngineError::RateLimited { .. }
            // The cost of the caller's own query, not a fault: not logged as one.
            | EngineError::Timeout { .. } => false,
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Throttled | StoreError::Unavailable(_) => {
                EngineError::Unavailable(e.to_string())
            }
            StoreError::NotFound { key: what } => {
                EngineError::Corrupt(format!("a referenced object is missing: {what}"))
            }
            StoreError::ConditionFailed { .. }
            | StoreError::Invalid(_)
            | StoreError::Backend(_) => EngineError::Internal(e.to_string()),
        }
    }
}

impl From<ConfigError> for EngineError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid { field, reason } => EngineError::invalid(field, reason),
            ConfigError::Unknown(name) => EngineError::invalid(name, "unknown field"),
        }
    }
}

impl From<DecodeError> for EngineError {
    fn from(e: DecodeError) -> Self {
        EngineError::Corrupt(e.to_string())
    }
}

impl From<IndexError> for EngineError {
    fn from(e: IndexError) -> Self {
        EngineError::Internal(e.to_string())
    }
}

/// Errors in documents name the document's position in the request.
/// A count past its limit, as a 422 naming the field: "has 70 keys, at most 64 are allowed".
pub(crate) fn too_many(
    field: impl Into<String>,
    got: usize,
    what: &str,
    max: usize,
) -> EngineError {
    EngineError::invalid(
        field,
        format!("has {got} {what}, at most {max} are allowed"),
    )
}

pub(crate) fn document_error(index: usize, e: DocumentError) -> EngineError {
    let field = match &e {
        DocumentError::MissingField(f) | DocumentError::InvalidField { field: f, .. } => {
            format!("documents[{index}].{f}")
        }
        DocumentError::InvalidJson(_) => format!("documents[{index}]"),
        DocumentError::InvalidUtf8 { .. } => format!("documents[{index}].text"),
        DocumentError::UnsupportedType(_) | DocumentError::UnsupportedCharset(_) => {
            format!("documents[{index}].format")
        }
    };
    EngineError::invalid(field, e.to_string())
}

pub(crate) fn embed_error(field: &str, e: EmbedError) -> EngineError {
    match e {
        EmbedError::ModelMissing { .. }
        | EmbedError::ModelInvalid { .. }
        | EmbedError::Remote(_) => EngineError::ModelUnavailable(e.to_string()),
        EmbedError::Inference(reason) => EngineError::Internal(reason),
        EmbedError::CountMismatch { .. }
        | EmbedError::DimensionMismatch { .. }
        | EmbedError::NonFinite { .. }
        | EmbedError::ZeroVector { .. } => EngineError::invalid(field, e.to_string()),
    }
}
