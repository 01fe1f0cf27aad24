//! Request handlers, one module per function group. Each is the few lines that differ between
//! routes: the [`Caller`](crate::caller::Caller) extractor has admitted the call and the body
//! extractor has parsed the request before a handler runs.

pub(crate) mod archive;
pub(crate) mod documents;
pub(crate) mod projects;
pub(crate) mod read;

use axum::{
    Json,
    extract::{FromRequestParts, Query},
    http::{StatusCode, Uri, request::Parts},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::problem::ApiError;

/// `GET /healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Liveness {
    /// Always `ok`.
    status: &'static str,
}

pub(crate) async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such route",
    )
}

/// `?after=…&limit=…` on list routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageParams {
    pub(crate) after: Option<String>,
    pub(crate) limit: Option<usize>,
}

impl PageParams {
    pub(crate) fn limit(&self) -> usize {
        self.limit.unwrap_or(100)
    }
}

/// Query-string parameters, with errors as problems naming the parameter.
pub(crate) fn params<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::invalid("query", e.body_text()))
}

/// Query-string parameters as an extractor; place it after the `Caller`, so a caller without
/// access learns nothing from their validation.
#[derive(Debug)]
pub(crate) struct Params<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        params(&parts.uri).map(Params)
    }
}
