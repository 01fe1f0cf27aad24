//! Request handlers, one module per function group.

pub(crate) mod archive;
pub(crate) mod documents;
pub(crate) mod projects;
pub(crate) mod read;

use axum::{
    Json,
    extract::Query,
    http::{StatusCode, Uri},
    response::IntoResponse,
};
use serde::{Deserialize, de::DeserializeOwned};

use crate::problem::ApiError;

pub(crate) async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
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

/// Query-string parameters, with errors as problems naming the parameter.
pub(crate) fn params<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::invalid("query", e.body_text()))
}
