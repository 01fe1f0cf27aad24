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
use snapkb_core::Principal;
use snapkb_engine::{EmbedRequest, QueryRequest};

use super::{PageParams, params};
use crate::{
    AppState, JsonBody,
    auth::{enter, principal, rated},
    problem::ApiError,
    send::send,
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

pub(crate) fn query(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
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
    })
}

fn is_server_error(e: &snapkb_engine::EngineError) -> bool {
    use snapkb_engine::EngineError as E;
    matches!(
        e,
        E::ModelUnavailable(_) | E::Unavailable(_) | E::Corrupt(_) | E::Internal(_)
    )
}

pub(crate) fn list_documents(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
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
    })
}

pub(crate) fn document(
    State(state): State<AppState>,
    Path((project, document)): Path<(String, String)>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let doc = state
            .engine
            .get_document(&principal, &project, &document)
            .await?;
        Ok(rated(Json(doc), rate))
    })
}

pub(crate) fn health(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let health = state.engine.health(&principal, &project).await?;
        Ok(rated(Json(health), rate))
    })
}

pub(crate) fn usage(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let (principal, rate) = enter(&state, &headers, &project).await?;
        let usage = state.engine.usage(&principal, &project).await?;
        Ok(rated(Json(usage), rate).into_response())
    })
}

/// `POST /v1/embed`: a project key's calls count against its project's rate limits.
pub(crate) fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonBody,
) -> impl Future<Output = Result<Response, ApiError>> + Send {
    send(async move {
        let principal = principal(&state, &headers).await?;
        let request: EmbedRequest = body.parse()?;
        let rate = match &principal {
            Principal::Key(key) => Some(state.engine.check_rate(&principal, &key.project).await?),
            Principal::DeploymentAdmin => None,
        };
        let response = state.engine.embed_texts(&principal, request).await?;
        Ok(match rate {
            Some(rate) => rated(Json(response), rate),
            None => Json(response).into_response(),
        })
    })
}
