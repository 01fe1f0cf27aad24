//! snapkb's HTTP API: one axum [`Router`] whose routes ([`ROUTES`]) are split into function
//! groups so each serverless function mounts only its own. API keys as `Authorization: Bearer`
//! or `X-API-Key`; keys never reach other projects (404); fixed-window rate limits with
//! `RateLimit-*` headers; errors as `application/problem+json` naming the field.

mod body;
mod caller;
mod handlers;
mod openapi;
mod problem;
mod routes;
mod send;

use std::sync::Arc;

use axum::{Extension, Router, extract::DefaultBodyLimit, middleware};
use snapkb_engine::Engine;

pub use crate::{
    body::{JsonBody, parse_json},
    caller::Access,
    handlers::{
        archive::{ImportResponse, RollbackRequest, RollbackResponse},
        projects::{KeyList, ProjectList, ProjectResponse},
    },
    problem::ApiError,
    routes::{Group, ROUTES, Route, Schema},
};

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
}

// SAFETY: WebAssembly builds without the `atomics` feature have exactly one thread, so the
// engine (whose storage ports hold JS or host handles that are not `Send`) can never be
// reached from another thread. axum asks for `Send + Sync` state regardless of target.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl Send for AppState {}
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl Sync for AppState {}

/// A router with the routes of `groups` (plus those every function mounts: `/healthz` and
/// `/openapi.json`), built from [`ROUTES`]. Each route's [`Access`] rule rides on its
/// requests, where the `Caller` extractor enforces it.
pub fn router(engine: Arc<Engine>, groups: &[Group]) -> Router {
    let mut app = Router::new();
    for route in ROUTES {
        if route.group.is_some_and(|g| !groups.contains(&g)) {
            continue;
        }
        let handler = (route.handler)(route.method_filter()).layer(Extension(route.scope));
        app = app.route(route.path, handler);
    }
    // Bodies are read by `body::read_body` with the configured limits (and drained when too
    // large, so clients read the 413); axum's own limit would cut them off first.
    app.fallback(handlers::not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::map_response(problem::log_server_errors))
        .with_state(AppState { engine })
}

/// The OpenAPI 3.1 document of every route, generated from [`ROUTES`] and the request and
/// response types they name.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::document(ROUTES)
}

/// `GET /openapi.json`.
async fn serve_openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi_document())
}

/// Every group on one router (`snapkb serve`).
pub fn full_router(engine: Arc<Engine>) -> Router {
    router(engine, &Group::ALL)
}
