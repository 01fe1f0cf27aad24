//! snapkb's HTTP API: one axum [`Router`] whose routes ([`ROUTES`]) are split into function
//! groups so each serverless function mounts only its own. API keys as `Authorization: Bearer`
//! or `X-API-Key`; keys never reach other projects (404); fixed-window rate limits with
//! `RateLimit-*` headers; errors as `application/problem+json` naming the field.

mod auth;
mod body;
mod handlers;
mod openapi;
mod problem;
mod routes;
mod send;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{delete, get, post},
};
use snapkb_engine::Engine;

pub use crate::{
    body::{JsonBody, parse_json},
    openapi::openapi_document,
    problem::ApiError,
    routes::{Group, ROUTES, Route},
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

/// A router with the routes of `groups` (plus `/healthz` and `/openapi.json`).
pub fn router(engine: Arc<Engine>, groups: &[Group]) -> Router {
    use handlers::{archive, documents, projects, read};
    let state = AppState { engine };
    let mut app = Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/openapi.json", get(openapi::serve));
    for group in groups {
        app = match group {
            Group::Keys => app
                .route("/v1/projects", post(projects::create).get(projects::list))
                .route(
                    "/v1/projects/{project}",
                    get(projects::show)
                        .patch(projects::update)
                        .delete(projects::remove),
                )
                .route(
                    "/v1/projects/{project}/keys",
                    post(projects::create_key).get(projects::list_keys),
                )
                .route(
                    "/v1/projects/{project}/keys/{key}",
                    delete(projects::revoke_key),
                )
                .route(
                    "/v1/projects/{project}/keys/{key}/rotate",
                    post(projects::rotate_key),
                )
                .route(
                    "/v1/projects/{project}/operations",
                    get(projects::operations),
                ),
            Group::Ingest => app
                .route("/v1/projects/{project}/documents", post(documents::ingest))
                .route(
                    "/v1/projects/{project}/documents/{document}",
                    delete(documents::remove),
                )
                .route(
                    "/v1/projects/{project}/hooks/ingest",
                    post(documents::webhook),
                ),
            Group::Query => app
                .route(
                    "/v1/projects/{project}/documents",
                    get(read::list_documents),
                )
                .route(
                    "/v1/projects/{project}/documents/{document}",
                    get(read::document),
                )
                .route("/v1/projects/{project}/query", post(read::query))
                .route("/v1/embed", post(read::embed))
                .route("/v1/projects/{project}/health", get(read::health))
                .route("/v1/projects/{project}/usage", get(read::usage)),
            Group::Export => app
                .route("/v1/projects/{project}/export", post(archive::export))
                .route("/v1/projects/import", post(archive::import))
                .route("/v1/projects/{project}/versions", get(archive::versions))
                .route("/v1/projects/{project}/rollback", post(archive::rollback))
                .route("/v1/projects/{project}/compact", post(archive::compact)),
        };
    }
    // Bodies are read by `body::read_body` with the configured limits (and drained when too
    // large, so clients read the 413); axum's own limit would cut them off first.
    app.fallback(handlers::not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Every group on one router (`snapkb serve`).
pub fn full_router(engine: Arc<Engine>) -> Router {
    router(engine, &Group::ALL)
}
