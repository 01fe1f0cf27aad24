//! The query function: queries (JSON or server-sent events), documents, health and usage.

use std::convert::Infallible;

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, Uri, header},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
};
use snapkb_engine::QueryRequest;

use super::{PageParams, params};
use crate::{
    AppState, JsonBody,
    auth::{enter, rated},
    problem::ApiError,
};

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .any(|m| m.trim().starts_with("text/event-stream"))
        })
}

pub(crate) async fn query(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (principal, rate) = enter(&state, &headers, &project).await?;
    let request: QueryRequest = body.parse()?;
    let started = web_time::Instant::now();
    let result = state.engine.query(&principal, &project, request).await;
    let ok = !matches!(&result, Err(e) if is_server_error(e));
    state
        .engine
        .record_query(&project, started.elapsed().as_micros() as u64, ok);
    let response = result?;
    if wants_events(&headers) {
        // One `result` event per hit, best first, then `done` with the version read.
        let mut events: Vec<Result<Event, Infallible>> = response
            .results
            .iter()
            .filter_map(|hit| Event::default().event("result").json_data(hit).ok())
            .map(Ok)
            .collect();
        if let Ok(done) = Event::default()
            .event("done")
            .json_data(serde_json::json!({"version": response.version, "mode": response.mode, "count": response.results.len()}))
        {
            events.push(Ok(done));
        }
        return Ok(rated(Sse::new(futures::stream::iter(events)), rate));
    }
    Ok(rated(Json(response), rate))
}

fn is_server_error(e: &snapkb_engine::EngineError) -> bool {
    use snapkb_engine::EngineError as E;
    matches!(
        e,
        E::ModelUnavailable(_) | E::Unavailable(_) | E::Corrupt(_) | E::Internal(_)
    )
}

pub(crate) async fn list_documents(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let page: PageParams = params(&uri)?;
    let (principal, rate) = enter(&state, &headers, &project).await?;
    let docs = state
        .engine
        .list_documents(
            &principal,
            &project,
            page.after.as_deref(),
            page.limit.unwrap_or(100),
        )
        .await?;
    Ok(rated(Json(docs), rate))
}

pub(crate) async fn document(
    State(state): State<AppState>,
    Path((project, document)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (principal, rate) = enter(&state, &headers, &project).await?;
    let doc = state
        .engine
        .get_document(&principal, &project, &document)
        .await?;
    Ok(rated(Json(doc), rate))
}

pub(crate) async fn health(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (principal, rate) = enter(&state, &headers, &project).await?;
    let health = state.engine.health(&principal, &project).await?;
    Ok(rated(Json(health), rate))
}

pub(crate) async fn usage(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (principal, rate) = enter(&state, &headers, &project).await?;
    let usage = state.engine.usage(&principal, &project).await?;
    Ok(rated(Json(usage), rate).into_response())
}
