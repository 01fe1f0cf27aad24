//! Request handlers, one module per function group. Each is the few lines that differ between
//! routes: the [`Caller`](crate::caller::Caller) extractor has admitted the call and the body
//! extractor has parsed the request before a handler runs. Routes that only call the engine
//! and answer its result are [`json`] handlers written in the route table.

pub(crate) mod archive;
pub(crate) mod documents;
pub(crate) mod projects;
pub(crate) mod read;

use std::{pin::Pin, sync::Arc};

use axum::{
    Json,
    extract::{FromRequestParts, Query, State},
    http::{StatusCode, Uri, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use snapkb_core::Principal;
use snapkb_engine::{Engine, EngineError};

use crate::{
    AppState,
    caller::{Caller, Rated},
    problem::ApiError,
    send::{MaybeSend, send},
};

/// A handler's boxed future (`send`'s wrapper makes it `Send` on every target).
pub(crate) type Answer = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;

/// A handler that calls the engine as the admitted caller, on the project it was admitted to,
/// with the request's `input` (an extractor: a body, the path, query parameters, or `()`), and
/// answers the result as JSON with the caller's rate-limit headers.
pub(crate) fn json<I, T, F, Fut>(
    engine_call: F,
) -> impl Fn(State<AppState>, Caller, I) -> Answer + Clone + Send + Sync + 'static
where
    F: Fn(Arc<Engine>, Principal, String, I) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, EngineError>> + MaybeSend + 'static,
    T: Serialize + 'static,
    I: Send + 'static,
{
    move |State(state): State<AppState>, caller: Caller, input: I| {
        let engine_call = engine_call.clone();
        Box::pin(send(async move {
            let (principal, project, rate) = caller.into_parts();
            let out = engine_call(state.engine, principal, project, input).await?;
            Ok(Rated::new(rate, Json(out)).into_response())
        }))
    }
}

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
