//! Storage errors, shaped so callers can tell retryable from final.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    #[error("`{key}` does not exist")]
    NotFound { key: String },
    /// A conditional write's condition did not hold. For a transaction, `index` names the
    /// write whose condition failed when the backend says so.
    #[error("condition failed{}", index.map(|i| format!(" on write {i}")).unwrap_or_default())]
    ConditionFailed { index: Option<usize> },
    #[error("the request is invalid: {0}")]
    Invalid(String),
    /// The backend asked us to slow down; retry later.
    #[error("the storage backend is throttling requests")]
    Throttled,
    /// The backend could not be reached or failed in a way a retry may fix.
    #[error("the storage backend is unavailable: {0}")]
    Unavailable(String),
    /// Anything else; retrying will not help.
    #[error("storage error: {0}")]
    Backend(String),
}

/// What every port method returns.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Throttled | StoreError::Unavailable(_))
    }
}
