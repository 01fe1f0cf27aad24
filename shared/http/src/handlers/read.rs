//! The query function: queries (JSON or server-sent events), documents, health and usage.

use std::convert::Infallible;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
};
use serde::Serialize;
use snapkb_engine::{QueryMode, QueryRequest};

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
