//! Errors as `application/problem+json` (RFC 9457): one exhaustive mapping from engine errors
//! to HTTP statuses, a `field` member naming what to fix, and nothing internal leaked.

use axum::{
    http::{HeaderName, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use snapkb_engine::EngineError;

const PROBLEM_BASE: &str = "https://snapkb.dev/problems/";

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<Box<str>>,
    pub headers: Vec<(HeaderName, String)>,
    /// What went wrong inside, for the operator's log ([`log_server_errors`]); never sent.
    internal: Option<Box<str>>,
}

/// An RFC 9457 problem; `field` names what to fix.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Problem {
    /// A URL naming the kind of problem.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// An internal error's detail, carried on the response from the handler to the log layer.
#[derive(Debug, Clone)]
struct InternalDetail(Box<str>);

/// The router's last layer: every server error whose cause was kept from the caller is logged
/// here, once, with the route it happened on.
pub(crate) async fn log_server_errors(uri: Uri, response: Response) -> Response {
    if let Some(InternalDetail(detail)) = response.extensions().get::<InternalDetail>() {
        tracing::error!(status = response.status().as_u16(), path = %uri.path(), error = %detail, "request failed");
    }
    response
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            field: None,
            headers: Vec::new(),
            internal: None,
        }
    }

    /// Keeps `detail` out of the answer and in the operator's log.
    fn logged(mut self, detail: String) -> Self {
        self.internal = Some(detail.into_boxed_str());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into().into_boxed_str());
        self
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "A field is invalid",
            detail,
        )
        .with_field(field)
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "The request body cannot be read",
            detail,
        )
    }
}

/// A 503 the caller may retry in a second (`Retry-After: 1`).
fn retry_shortly(kind: &'static str, title: &'static str, detail: String) -> ApiError {
    let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, kind, title, detail);
    err.headers.push((header::RETRY_AFTER, "1".into()));
    err
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let detail = e.to_string();
        match e {
            EngineError::Unauthorized => {
                let mut err = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Missing or invalid API key",
                    detail,
                );
                err.headers
                    .push((header::WWW_AUTHENTICATE, "Bearer".into()));
                err
            }
            EngineError::BadSignature(_) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad-signature",
                "The webhook signature was rejected",
                detail,
            )
            .with_field("x-snapkb-signature"),
            EngineError::Forbidden { .. } => ApiError::new(
                StatusCode::FORBIDDEN,
                "missing-scope",
                "The key lacks a scope",
                detail,
            ),
            EngineError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
            }
            EngineError::Invalid { field, .. } => ApiError::invalid(field, detail),
            EngineError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            EngineError::Quota(q) => ApiError::new(
                StatusCode::FORBIDDEN,
                "quota-exceeded",
                "A quota would be exceeded",
                detail,
            )
            .with_field(q.field),
            EngineError::RateLimited {
                limit, retry_after, ..
            } => {
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Rate limit reached",
                    detail,
                );
                err.headers
                    .push((header::RETRY_AFTER, retry_after.to_string()));
                err.headers.push((
                    HeaderName::from_static("ratelimit-limit"),
                    limit.to_string(),
                ));
                err.headers
                    .push((HeaderName::from_static("ratelimit-remaining"), "0".into()));
                err.headers.push((
                    HeaderName::from_static("ratelimit-reset"),
                    retry_after.to_string(),
                ));
                err
            }
            EngineError::ModelUnavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "model-unavailable",
                "The embedding model is unavailable",
                detail,
            ),
            EngineError::Timeout { .. } => {
                retry_shortly("timeout", "The query took too long", detail)
            }
            EngineError::Unavailable(_) => {
                retry_shortly("unavailable", "Storage is unavailable; retry", detail)
            }
            EngineError::Corrupt(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt",
                "Stored data failed validation",
                "stored data failed validation; the operator has been told",
            )
            .logged(detail),
            EngineError::Internal(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "an internal error occurred",
            )
            .logged(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("{PROBLEM_BASE}{}", self.kind),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.field.map(String::from),
        };
        // A problem of strings and numbers always serializes.
        let mut response =
            (self.status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        if let Some(detail) = self.internal {
            response.extensions_mut().insert(InternalDetail(detail));
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        response
    }
}
