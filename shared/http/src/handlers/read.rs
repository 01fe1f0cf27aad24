//! The query function: queries (JSON or server-sent events), documents, health and usage.

use std::convert::Infallible;

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, header},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
};
use serde::Serialize;
use snapkb_engine::{EmbedRequest, QueryMode, QueryRequest};

use super::{PageParams, Params};
use crate::{AppState, JsonBody, caller::Caller, problem::ApiError, send::send};

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .any(|m| m.trim().starts_with("text/event-stream"))
        })
}

/// The last event of a streamed query.
#[derive(Debug, Serialize)]
struct QueryDone {
    version: u64,
    mode: QueryMode,
    count: usize,
}

pub(crate) fn query(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<QueryRequest>,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let project = caller.project();
        let started = web_time::Instant::now();
        let result = engine.query(&caller.principal, project, request).await;
        let ok = !matches!(&result, Err(e) if e.is_server_error());
        engine.record_query(project, started.elapsed().as_micros() as u64, ok);
        let response = result?;
        if !wants_events(&headers) {
            return Ok(caller.rated(Json(response)).into_response());
        }
        // One `result` event per hit, best first, then `done` with the version read.
        let done = QueryDone {
            version: response.version,
            mode: response.mode,
            count: response.results.len(),
        };
        let events: Vec<Result<Event, Infallible>> = response
            .results
            .iter()
            .filter_map(|hit| Event::default().event("result").json_data(hit).ok())
            .chain(Event::default().event("done").json_data(done).ok())
            .map(Ok)
            .collect();
        Ok(caller
            .rated(Sse::new(futures::stream::iter(events)))
            .into_response())
    })
}

pub(crate) fn list_documents(
    State(state): State<AppState>,
    caller: Caller,
    Params(page): Params<PageParams>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let (principal, project) = (&caller.principal, caller.project());
        let docs = state
            .engine
            .list_documents(principal, project, page.after.as_deref(), page.limit())
            .await?;
        Ok(caller.rated(Json(docs)))
    })
}

pub(crate) fn document(
    State(state): State<AppState>,
    caller: Caller,
    Path((_, document)): Path<(String, String)>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let engine = &state.engine;
        let doc = engine
            .get_document(&caller.principal, caller.project(), &document)
            .await?;
        Ok(caller.rated(Json(doc)))
    })
}

pub(crate) fn health(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let health = state
            .engine
            .health(&caller.principal, caller.project())
            .await?;
        Ok(caller.rated(Json(health)))
    })
}

pub(crate) fn usage(
    State(state): State<AppState>,
    caller: Caller,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let usage = state
            .engine
            .usage(&caller.principal, caller.project())
            .await?;
        Ok(caller.rated(Json(usage)))
    })
}

/// `POST /v1/embed`: a project key's calls count against its project's rate limits.
pub(crate) fn embed(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<EmbedRequest>,
) -> impl Future<Output = Result<impl IntoResponse, ApiError>> + Send {
    send(async move {
        let response = state.engine.embed_texts(&caller.principal, request).await?;
        Ok(caller.rated(Json(response)))
    })
}
